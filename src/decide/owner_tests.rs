//! Questions by mail, `#merge` and `#time` corrections: who may, and what is refused.

use super::*;
use crate::commands::Query;
use crate::config::load_str;
use std::collections::BTreeMap;
use std::path::Path;

const CONFIG: &str =
    "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
    [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
    timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n\
    [contracts.globex]\nowners = [\"ceo@globex.example\"]\nvas = [\"sara@va.example\"]\n\
    timezone = \"UTC\"\nwindows = [\"Mon-Fri 09:00-17:00\"]\n";

/// A store with tasks by number, each with its contract and the minutes logged on it; task
/// 15's thread holds `<n15@va.example>`; task 9 was merged into 15.
struct Desk {
    tasks: BTreeMap<i64, (&'static str, i64)>,
}

impl Desk {
    fn new() -> Desk {
        Desk {
            tasks: BTreeMap::from([(12, ("acme", 0)), (15, ("acme", 30)), (20, ("globex", 0))]),
        }
    }

    fn task(&self, id: i64) -> Option<TaskRef> {
        // The store answers for merged task 9 with task 15.
        let id = if id == 9 { 15 } else { id };
        self.tasks.get(&id).map(|(contract, _)| TaskRef {
            id,
            contract: contract.to_string(),
            status: TaskStatus::Open,
            requester: "boss@acme.example".into(),
            assignee: Some("sara@va.example".into()),
            due_at: None,
            waiting_since: None,
        })
    }
}

impl ThreadLookup for Desk {
    fn seen_message(&self, _: &str) -> anyhow::Result<Option<Option<i64>>> {
        Ok(None)
    }
    fn task_by_thread(&self, ids: &[String]) -> anyhow::Result<Option<TaskRef>> {
        Ok(ids
            .iter()
            .any(|i| i == "n15@va.example")
            .then(|| self.task(15))
            .flatten())
    }
    fn task_by_id(&self, id: i64) -> anyhow::Result<Option<TaskRef>> {
        Ok(self.task(id))
    }
    fn task_by_original(&self, _: &str, _: &str) -> anyhow::Result<Option<i64>> {
        Ok(None)
    }
    fn time_logged(&self, task: i64) -> anyhow::Result<Option<i64>> {
        Ok(self.tasks.get(&task).map(|t| t.1))
    }
}

fn decision(from: &str, subject: &str, in_reply_to: Option<&str>, body: &str) -> Decision {
    let config = load_str(CONFIG, Path::new("musaid.toml")).expect("config");
    let thread = in_reply_to
        .map(|id| format!("In-Reply-To: <{id}>\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "From: {from}\r\nTo: tasks@va.example\r\nSubject: {subject}\r\n{thread}\
         Message-ID: <m{}@example.test>\r\nDate: Sun, 6 Dec 2026 08:00:00 +0300\r\n\r\n{body}\r\n",
        body.len()
    );
    let msg = crate::mail::parse(raw.as_bytes()).expect("parse");
    let ctx = Context {
        config: &config,
        rules: &RuleSet::default(),
        now: Utc::now(),
        arrived: None,
    };
    decide(&msg, &ctx, &Desk::new()).expect("decide")
}

fn reply(from: &str, body: &str) -> TaskUpdate {
    match decision(from, "Re: [#15] Invoice", Some("n15@va.example"), body) {
        Decision::UpdateTask(u) => *u,
        other => panic!("not an update: {other:?}"),
    }
}

#[test]
fn an_owners_status_outside_a_thread_is_answered_and_never_a_task() {
    let d = decision(
        "boss@acme.example",
        "status please",
        None,
        "#status\n\nThanks, Omar",
    );
    let Decision::Answer(q) = &d else {
        panic!("not answered: {d:?}");
    };
    assert_eq!(
        (q.contract.as_str(), q.asker.as_str()),
        ("acme", "boss@acme.example")
    );
    assert_eq!(q.asked, [Query::Status]);
    // SPEC's five decisions: a question is `ignore`, with no reason.
    assert_eq!((d.kind(), d.reason()), ("ignore", None));

    // In the subject alone, in Arabic, both questions at once.
    let Decision::Answer(q) = decision("ceo@globex.example", "#الحالة", None, "#ساعات")
    else {
        panic!("not answered");
    };
    assert_eq!(q.contract, "globex");
    assert_eq!(q.asked, [Query::Status, Query::Hours]);
}

#[test]
fn a_request_that_is_more_than_a_question_is_a_request() {
    for body in [
        "Please pay the invoice.",
        "#status\n#done",
        "#status\n#urgent",
    ] {
        let d = decision("boss@acme.example", "Invoice", None, body);
        assert_eq!(d.kind(), "create_task", "{body}");
    }
}

#[test]
fn strangers_and_vas_outside_a_thread_get_no_answer() {
    let d = decision("mallory@evil.test", "#status", None, "#status");
    assert_eq!(
        d,
        Decision::Ignore {
            reason: Reason::UnknownSender
        }
    );
    let d = decision("sara@va.example", "#hours", None, "#hours");
    assert!(!matches!(d, Decision::Answer(_)), "{d:?}");
}

#[test]
fn inside_a_thread_owners_and_vas_may_ask_and_strangers_may_not() {
    let u = reply("boss@acme.example", "#status");
    assert_eq!(u.apply, [Command::Ask(Query::Status)]);
    assert!(u.note.is_empty());
    let u = reply("sara@va.example", "#hours");
    assert_eq!(u.apply, [Command::Ask(Query::Hours)]);
    let u = reply("mallory@evil.test", "#status");
    assert!(u.apply.is_empty());
    assert_eq!(u.refused.len(), 1);
}

#[test]
fn a_va_merges_a_task_of_the_same_contract_only() {
    assert_eq!(
        reply("sara@va.example", "#merge 12").apply,
        [Command::Merge(12)]
    );
    assert_eq!(
        reply("sara@va.example", "#دمج 12").apply,
        [Command::Merge(12)]
    );
    for (body, why) in [
        ("#merge 15", "cannot be merged into itself"),
        ("#merge 20", "belongs to another contract"),
        ("#merge 9", "already merged into #15"),
        ("#merge 404", "there is no task #404"),
    ] {
        let u = reply("sara@va.example", body);
        assert!(u.apply.is_empty(), "{body}: {:?}", u.apply);
        assert!(
            u.refused[0].why.contains(why),
            "{body}: {}",
            u.refused[0].why
        );
    }
    let u = reply("boss@acme.example", "#merge 12");
    assert!(u.apply.is_empty(), "an owner may not merge");
    assert!(u.refused[0].why.contains("only the contract's VAs"));
}

#[test]
fn a_correction_may_not_take_a_tasks_time_below_zero() {
    // Task 15 has 30 minutes logged.
    assert_eq!(
        reply("sara@va.example", "#time -15m").apply,
        [Command::Time(-15)]
    );
    let u = reply("sara@va.example", "#time -45m");
    assert!(u.apply.is_empty());
    assert!(
        u.refused[0].why.contains("30m logged"),
        "{}",
        u.refused[0].why
    );
    // Entries of one reply count in order: +1h then -1h15m is fine, the other way round not.
    let u = reply("sara@va.example", "#time 1h\n#time -1h15m");
    assert_eq!(u.apply, [Command::Time(60), Command::Time(-75)]);
    let u = reply("sara@va.example", "#time -1h15m\n#time 1h");
    assert_eq!(u.apply, [Command::Time(60)]);
    assert_eq!(u.refused.len(), 1);
}

/// Who hears that a message was not read, from its header alone.
fn told(config: &str, header: &str) -> Option<String> {
    let config = load_str(config, Path::new("musaid.toml")).expect("config");
    let msg = crate::mail::parse(header.as_bytes()).expect("parse");
    unread_owner(&msg, &config).map(|c| c.name.clone())
}

#[test]
fn only_an_owner_whose_mail_is_believed_hears_that_it_was_not_read() {
    let header = |from: &str, extra: &str| {
        format!(
            "From: {from}\r\nTo: tasks@va.example\r\nSubject: Scans\r\n{extra}\
             Message-ID: <big@example.test>\r\n\r\n"
        )
    };
    assert_eq!(
        told(CONFIG, &header("Boss <boss@acme.example>", "")).as_deref(),
        Some("acme")
    );
    assert_eq!(
        told(CONFIG, &header("ceo@globex.example", "")).as_deref(),
        Some("globex")
    );
    // Strangers and VAs get nothing back (no backscatter), automatic mail neither.
    assert_eq!(told(CONFIG, &header("mallory@evil.test", "")), None);
    assert_eq!(told(CONFIG, &header("sara@va.example", "")), None);
    assert_eq!(
        told(
            CONFIG,
            &header("boss@acme.example", "Auto-Submitted: auto-replied\r\n")
        ),
        None
    );
    // With trusted_authserv_id, the owner's address must be vouched for by our MX.
    let trusted = CONFIG.replace(
        "[contracts.acme]",
        "[policy]\ntrusted_authserv_id = \"mx.va.example\"\n[contracts.acme]",
    );
    assert_eq!(told(&trusted, &header("boss@acme.example", "")), None);
    let passed = "Authentication-Results: mx.va.example; dmarc=pass header.from=acme.example\r\n";
    assert_eq!(
        told(&trusted, &header("boss@acme.example", passed)).as_deref(),
        Some("acme")
    );
}
