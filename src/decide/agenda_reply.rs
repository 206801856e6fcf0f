//! A VA's reply to their agenda: one update per task tagged at the start of a line
//! (docs/commands.md#replying-to-the-agenda).

use super::{update, TaskUpdate, ThreadLookup, Trust};
use crate::commands;
use crate::config::Config;
use crate::mail::Message;

/// A reply to the agenda of its writer (the In-Reply-To/References name it): one update per
/// task tagged at the start of a line, each with that line's commands. Only the contract's
/// VAs change a task; the others are refused. Tags of tasks that do not exist are skipped.
pub(super) fn agenda_reply(
    msg: &Message,
    from: &str,
    trust: Trust<'_>,
    cfg: &Config,
    history: &dyn ThreadLookup,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<Vec<TaskUpdate>>> {
    let mut ids: Vec<String> = msg.in_reply_to.clone();
    ids.extend(msg.references.iter().cloned());
    if ids.is_empty() || history.agenda_of(&ids)?.as_deref() != Some(from) {
        return Ok(None);
    }
    let mut updates = Vec::new();
    for (id, text) in commands::tagged_lines(&msg.new_text) {
        if let Some(task) = history.task_by_id(id)? {
            let mut u = update(&text, from, task, trust, cfg, history, now)?;
            u.via_agenda = true;
            updates.push(u);
        }
    }
    Ok(Some(updates))
}

#[cfg(test)]
mod tests {
    use super::super::{decide, Context, Decision, Role, TaskRef};
    use super::*;
    use crate::config::load_str;
    use crate::model::TaskStatus;
    use crate::rules::RuleSet;
    use chrono::Utc;
    use std::path::Path;

    /// Task 1 of acme (Sara's contract), task 2 of beta (Ali's); agenda `ag@va.example` went
    /// to Sara.
    struct Desk;

    impl ThreadLookup for Desk {
        fn seen_message(&self, _: &str) -> anyhow::Result<Option<Option<i64>>> {
            Ok(None)
        }
        fn task_by_thread(&self, _: &[String]) -> anyhow::Result<Option<TaskRef>> {
            Ok(None)
        }
        fn task_by_id(&self, id: i64) -> anyhow::Result<Option<TaskRef>> {
            let contract = match id {
                1 => "acme",
                2 => "beta",
                _ => return Ok(None),
            };
            Ok(Some(TaskRef {
                id,
                contract: contract.into(),
                status: TaskStatus::Open,
                requester: format!("boss@{contract}.example"),
                assignee: None,
                due_at: None,
                waiting_since: None,
            }))
        }
        fn task_by_original(&self, _: &str, _: &str) -> anyhow::Result<Option<i64>> {
            Ok(None)
        }
        fn agenda_of(&self, ids: &[String]) -> anyhow::Result<Option<String>> {
            Ok(ids
                .iter()
                .any(|i| i == "ag@va.example")
                .then(|| "sara@va.example".to_string()))
        }
    }

    fn decision(from: &str, body: &str) -> Decision {
        let config = load_str(
            "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
             [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
             timezone = \"UTC\"\nwindows = [\"Mon-Sun 00:00-24:00\"]\n\
             [contracts.beta]\nowners = [\"boss@beta.example\"]\nvas = [\"ali@va.example\"]\n\
             timezone = \"UTC\"\nwindows = [\"Mon-Sun 00:00-24:00\"]\n",
            Path::new("musaid.toml"),
        )
        .expect("config");
        let raw = format!(
            "From: {from}\r\nTo: tasks@va.example\r\nSubject: Re: Your agenda\r\n\
             Message-ID: <r@va.example>\r\nIn-Reply-To: <ag@va.example>\r\n\
             Date: Sun, 6 Dec 2026 08:00:00 +0300\r\n\r\n{body}\r\n"
        );
        let msg = crate::mail::parse(raw.as_bytes()).expect("parse");
        let ctx = Context {
            config: &config,
            rules: &RuleSet::default(),
            now: Utc::now(),
            arrived: None,
        };
        decide(&msg, &ctx, &Desk).expect("decide")
    }

    #[test]
    fn each_tagged_line_updates_its_task_and_foreign_tasks_are_refused() {
        let Decision::UpdateTasks(us) = decision(
            "sara@va.example",
            "Morning\n[#1] #done\n[#2] #done\n[#9] #wip",
        ) else {
            panic!("an agenda reply");
        };
        assert_eq!(us.len(), 2, "task 9 does not exist");
        assert_eq!((us[0].task.id, us[0].role), (1, Role::Va));
        assert_eq!(
            us[0].apply,
            [crate::commands::Command::Status(TaskStatus::Done)]
        );
        assert!(us[0].note.is_empty(), "{:?}", us[0].note);
        assert_eq!((us[1].task.id, us[1].role), (2, Role::Stranger));
        assert!(us[1].apply.is_empty() && us[1].refused.len() == 1);
        assert!(
            us.iter().all(|u| u.via_agenda),
            "refusals get the error mail"
        );
        assert_eq!(
            decision("sara@va.example", "[#1] #done").kind(),
            "update_task"
        );
    }

    #[test]
    fn only_the_va_the_agenda_went_to_replies_to_it() {
        assert!(!matches!(
            decision("ali@va.example", "[#2] #done"),
            Decision::UpdateTasks(_)
        ));
    }
}
