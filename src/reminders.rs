//! Due-time notices: the assignee's `reminder` before a task's due time, the `overdue` notice
//! when it passes, and the `escalation` to the contract's `escalate_to` once it has been
//! overdue for `escalate_after`. Pure: which notice is due when, for a task, its contract and
//! `now` (docs/mail.md#reminders). Each is sent once per task and due time; the daemon's
//! scheduler stores what went (`store::reminders`).

use crate::config::{Contract, Policy};
use crate::model::TaskStatus;
use crate::windows;
use chrono::{DateTime, TimeZone, Utc};

pub mod send;

/// One of the notices about a task's due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Notice {
    Reminder,
    Overdue,
    Escalation,
}

impl Notice {
    pub const ALL: [Notice; 3] = [Notice::Reminder, Notice::Overdue, Notice::Escalation];

    /// Its name in the store and its outbox kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Reminder => "reminder",
            Notice::Overdue => "overdue",
            Notice::Escalation => "escalation",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// What a task's notices depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueTask {
    pub status: TaskStatus,
    pub due_at: i64,
    pub has_assignee: bool,
}

/// When `notice` is due for a task due at `due`, if it is ever sent: no escalation without
/// `escalate_to`, no reminder or overdue notice without an assignee.
pub fn instant(
    notice: Notice,
    task: &DueTask,
    c: &Contract,
    policy: &Policy,
) -> Option<DateTime<Utc>> {
    let due = Utc.timestamp_opt(task.due_at, 0).single()?;
    match notice {
        Notice::Reminder if task.has_assignee => {
            windows::before(&c.calendar, policy.remind_before, due)
        }
        Notice::Overdue if task.has_assignee => Some(due),
        Notice::Escalation if !c.escalate_to.is_empty() => {
            windows::due_at(&c.calendar, c.escalate_after, due)
        }
        _ => None,
    }
}

/// The notices due at `now` that were not `sent` for this due time. Only tasks open or in
/// progress get any (a waiting task's clock is stopped). A reminder whose due time has passed
/// is no longer sent: the overdue notice says more.
pub fn due(
    task: &DueTask,
    c: &Contract,
    policy: &Policy,
    sent: &[Notice],
    now: DateTime<Utc>,
) -> Vec<Notice> {
    if !matches!(task.status, TaskStatus::Open | TaskStatus::InProgress) {
        return Vec::new();
    }
    Notice::ALL
        .into_iter()
        .filter(|n| !sent.contains(n))
        .filter(|n| *n != Notice::Reminder || now.timestamp() < task.due_at)
        .filter(|n| instant(*n, task, c, policy).is_some_and(|t| t <= now))
        .collect()
}

/// The next instant after `now` at which one of the task's unsent notices falls due.
pub fn next(
    task: &DueTask,
    c: &Contract,
    policy: &Policy,
    sent: &[Notice],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !matches!(task.status, TaskStatus::Open | TaskStatus::InProgress) {
        return None;
    }
    Notice::ALL
        .into_iter()
        .filter(|n| !sent.contains(n))
        .filter_map(|n| instant(n, task, c, policy))
        .filter(|t| *t > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::windows::DueSpec;
    use std::path::Path;

    fn contract(extra: &str) -> (Contract, Policy) {
        let text = format!(
            "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\n\
             [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
             timezone = \"Europe/London\"\nwindows = [\"Mon-Fri 09:00-17:00\"]\n{extra}"
        );
        let cfg =
            load_str(&text, Path::new("/etc/musaid/musaid.toml")).unwrap_or_else(|e| panic!("{e}"));
        (cfg.contracts["acme"].clone(), cfg.policy)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn task(due: &str) -> DueTask {
        DueTask {
            status: TaskStatus::Open,
            due_at: at(due).timestamp(),
            has_assignee: true,
        }
    }

    #[test]
    fn two_business_hours_before_count_back_through_windows_and_nights() {
        let (c, p) = contract("");
        assert_eq!(p.remind_before, DueSpec::BusinessHours(2));
        // Due Tuesday 10:00 (winter, GMT): one hour on Tuesday, one on Monday until 17:00.
        let t = task("2026-12-08T10:00:00Z");
        assert_eq!(
            instant(Notice::Reminder, &t, &c, &p),
            Some(at("2026-12-07T16:00:00Z"))
        );
        // Due Monday 10:00 after the spring change (BST): back to Friday 16:00 GMT.
        let t = task("2026-03-30T09:00:00Z");
        assert_eq!(
            instant(Notice::Reminder, &t, &c, &p),
            Some(at("2026-03-27T16:00:00Z"))
        );
        // Due outside a window (Saturday): the last two hours of Friday.
        let t = task("2026-12-12T12:00:00Z");
        assert_eq!(
            instant(Notice::Reminder, &t, &c, &p),
            Some(at("2026-12-11T15:00:00Z"))
        );
        assert_eq!(
            instant(Notice::Overdue, &t, &c, &p),
            Some(at("2026-12-12T12:00:00Z"))
        );
        assert_eq!(
            instant(Notice::Escalation, &t, &c, &p),
            None,
            "no escalate_to"
        );
    }

    #[test]
    fn wall_and_business_day_spans_and_the_escalation() {
        let (c, p) = contract(
            "escalate_to = [\"Lead@va.example\"]\nescalate_after = \"1 business day\"\n\
             [policy]\nremind_before = \"2m\"\n",
        );
        assert_eq!(c.escalate_to, vec!["lead@va.example".to_string()]);
        let t = task("2026-12-08T10:00:00Z");
        assert_eq!(
            instant(Notice::Reminder, &t, &c, &p),
            Some(at("2026-12-08T09:58:00Z"))
        );
        // One business day after Tuesday 10:00: Wednesday's close.
        assert_eq!(
            instant(Notice::Escalation, &t, &c, &p),
            Some(at("2026-12-09T17:00:00Z"))
        );
        let (c, p) = contract("[policy]\nremind_before = \"1 business day\"\n");
        // Due Monday: the business day before is Friday, from its opening.
        let t = task("2026-12-14T12:00:00Z");
        assert_eq!(
            instant(Notice::Reminder, &t, &c, &p),
            Some(at("2026-12-11T09:00:00Z"))
        );
    }

    #[test]
    fn each_notice_is_due_once_in_order_and_only_for_working_tasks() {
        let (c, p) =
            contract("escalate_to = [\"lead@va.example\"]\n[policy]\nremind_before = \"2m\"\n");
        let t = task("2026-12-08T10:00:00Z");
        assert!(due(&t, &c, &p, &[], at("2026-12-08T09:57:59Z")).is_empty());
        assert_eq!(
            next(&t, &c, &p, &[], at("2026-12-08T09:57:59Z")),
            Some(at("2026-12-08T09:58:00Z"))
        );
        assert_eq!(
            due(&t, &c, &p, &[], at("2026-12-08T09:58:00Z")),
            vec![Notice::Reminder]
        );
        let sent = [Notice::Reminder];
        assert!(due(&t, &c, &p, &sent, at("2026-12-08T09:59:00Z")).is_empty());
        assert_eq!(
            next(&t, &c, &p, &sent, at("2026-12-08T09:59:00Z")),
            Some(at("2026-12-08T10:00:00Z"))
        );
        assert_eq!(
            due(&t, &c, &p, &sent, at("2026-12-08T10:00:00Z")),
            vec![Notice::Overdue]
        );
        // The daemon was down through the due time: no late reminder, the overdue notice only.
        assert_eq!(
            due(&t, &c, &p, &[], at("2026-12-08T10:05:00Z")),
            vec![Notice::Overdue]
        );
        let sent = [Notice::Reminder, Notice::Overdue];
        assert_eq!(
            due(&t, &c, &p, &sent, at("2026-12-09T17:00:00Z")),
            vec![Notice::Escalation]
        );
        assert_eq!(
            next(&t, &c, &p, &Notice::ALL, at("2026-12-09T17:00:00Z")),
            None
        );
        for status in [TaskStatus::Waiting, TaskStatus::Done, TaskStatus::Cancelled] {
            let t = DueTask { status, ..t };
            assert!(due(&t, &c, &p, &[], at("2026-12-10T10:00:00Z")).is_empty());
            assert_eq!(next(&t, &c, &p, &[], at("2026-12-08T09:00:00Z")), None);
        }
        let unassigned = DueTask {
            has_assignee: false,
            ..t
        };
        assert_eq!(
            due(&unassigned, &c, &p, &[], at("2026-12-10T10:00:00Z")),
            vec![Notice::Escalation]
        );
    }
}
