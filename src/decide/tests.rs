//! Rights from the roster: who may change a task, and to whom it may be assigned.

use super::*;
use crate::config::load_str;
use std::path::Path;

const CONFIG: &str =
    "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
    [contracts.acme]\nowners = [\"boss@acme.example\"]\n\
    vas = [\"sara@va.example\", \"ali@va.example\"]\n\
    timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n";

/// A store that knows one task, #1 of acme, whose thread holds `<n1@va.example>`.
struct OneTask(TaskRef);

impl ThreadLookup for OneTask {
    fn seen_message(&self, _: &str) -> anyhow::Result<Option<Option<i64>>> {
        Ok(None)
    }
    fn task_by_thread(&self, ids: &[String]) -> anyhow::Result<Option<TaskRef>> {
        Ok(ids
            .iter()
            .any(|i| i == "n1@va.example")
            .then(|| self.0.clone()))
    }
    fn task_by_id(&self, id: i64) -> anyhow::Result<Option<TaskRef>> {
        Ok((id == self.0.id).then(|| self.0.clone()))
    }
    fn task_by_original(&self, _: &str, _: &str) -> anyhow::Result<Option<i64>> {
        Ok(None)
    }
}

fn task(assignee: &str) -> OneTask {
    OneTask(TaskRef {
        id: 1,
        contract: "acme".into(),
        status: TaskStatus::Open,
        requester: "boss@acme.example".into(),
        assignee: Some(assignee.into()),
        due_at: None,
        waiting_since: None,
    })
}

fn reply(config: &str, from: &str, body: &str, history: &OneTask) -> TaskUpdate {
    let config = load_str(config, Path::new("musaid.toml")).expect("config");
    let raw = format!(
        "From: {from}\r\nTo: tasks@va.example\r\nSubject: Re: [#1] New task\r\n\
         Message-ID: <r{}@example.test>\r\nIn-Reply-To: <n1@va.example>\r\n\
         Date: Sun, 6 Dec 2026 08:00:00 +0300\r\n\r\n{body}\r\n",
        body.len()
    );
    let msg = crate::mail::parse(raw.as_bytes()).expect("parse");
    let ctx = Context {
        config: &config,
        rules: &RuleSet::default(),
        now: Utc::now(),
        arrived: None,
    };
    match decide(&msg, &ctx, history).expect("decide") {
        Decision::UpdateTask(u) => *u,
        other => panic!("not an update: {other:?}"),
    }
}

#[test]
fn a_va_may_assign_only_to_a_va_of_the_contract() {
    let to_stranger = reply(
        CONFIG,
        "sara@va.example",
        "#assign mallory@evil.test",
        &task("sara@va.example"),
    );
    assert!(to_stranger.apply.is_empty(), "{:?}", to_stranger.apply);
    assert!(to_stranger.refused[0]
        .why
        .contains("not a VA of contract acme"));

    let to_ali = reply(
        CONFIG,
        "sara@va.example",
        "#assign ali@va.example",
        &task("sara@va.example"),
    );
    assert_eq!(to_ali.apply, [Command::Assign("ali@va.example".into())]);
}

#[test]
fn an_assignee_outside_the_roster_steers_nothing() {
    // However the task came to name mallory (an older release, a hand edit), mallory's
    // #cancel is refused: rights come from `vas` alone.
    let u = reply(
        CONFIG,
        "mallory@evil.test",
        "#cancel",
        &task("mallory@evil.test"),
    );
    assert_eq!(u.role, Role::Stranger);
    assert!(u.apply.is_empty());

    // A VA removed from `vas` loses the tasks assigned to them with the next message.
    let without_sara = CONFIG.replace("\"sara@va.example\", ", "");
    let u = reply(
        &without_sara,
        "sara@va.example",
        "#done",
        &task("sara@va.example"),
    );
    assert_eq!(u.role, Role::Stranger);
    assert!(u.apply.is_empty());
    let u = reply(CONFIG, "sara@va.example", "#done", &task("sara@va.example"));
    assert_eq!(u.apply, [Command::Status(TaskStatus::Done)]);
}

#[test]
fn an_owner_may_cancel_but_not_close() {
    let u = reply(
        CONFIG,
        "boss@acme.example",
        "#done\n#cancel",
        &task("sara@va.example"),
    );
    assert_eq!(u.role, Role::Owner);
    assert_eq!(u.apply, [Command::Status(TaskStatus::Cancelled)]);
    assert_eq!(u.refused.len(), 1);
}

#[test]
fn send_is_a_vas_command() {
    let va = reply(
        CONFIG,
        "sara@va.example",
        "The draft.\n#إرسال",
        &task("sara@va.example"),
    );
    assert_eq!(va.apply, [Command::Send]);
    assert_eq!(va.note, "The draft.");
    let owner = reply(
        CONFIG,
        "boss@acme.example",
        "#send",
        &task("sara@va.example"),
    );
    assert!(owner.apply.is_empty());
    assert!(owner.refused[0].why.contains("only the contract's VAs"));
}

/// Whether a request from the owner, with `date` as its Date header (none if `None`) and
/// `arrived` as its arrival time, is acknowledged at `now` (`ack_max_age` is 3 days).
fn acknowledged(
    date: Option<DateTime<Utc>>,
    arrived: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let config = load_str(CONFIG, Path::new("musaid.toml")).expect("config");
    let date = date
        .map(|d| format!("Date: {}\r\n", d.to_rfc2822()))
        .unwrap_or_default();
    let raw = format!(
        "From: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\nSubject: Book a flight\r\n\
         Message-ID: <r1@acme.example>\r\n{date}\r\nPlease.\r\n"
    );
    let msg = crate::mail::parse(raw.as_bytes()).expect("parses");
    let ctx = Context {
        config: &config,
        rules: &RuleSet::default(),
        now,
        arrived,
    };
    match decide(&msg, &ctx, &NoHistory) {
        Ok(Decision::CreateTask(t)) => t.acknowledge,
        other => panic!("not a new task: {other:?}"),
    }
}

#[test]
fn a_requests_age_counts_from_its_arrival_not_its_date_header() {
    let (now, days) = (Utc::now(), chrono::Duration::days);
    let month_ago = Some(now - days(30));
    assert!(acknowledged(month_ago, Some(now), now), "arrived now");
    assert!(!acknowledged(month_ago, Some(now - days(4)), now));
    assert!(!acknowledged(Some(now), Some(now - days(4)), now));
}

#[test]
fn without_an_arrival_time_the_date_header_counts_and_no_date_is_never_too_old() {
    let (now, days) = (Utc::now(), chrono::Duration::days);
    assert!(!acknowledged(Some(now - days(30)), None, now));
    assert!(acknowledged(Some(now - days(1)), None, now));
    assert!(acknowledged(None, None, now), "no date at all");
    assert!(acknowledged(Some(now + days(30)), None, now));
}
