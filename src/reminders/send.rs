//! Queueing the due-time notices that are due: the daemon's scheduler calls [`run_due`] and
//! sleeps until [`next_due`]. What was sent is stored per task, kind and due time
//! (`store::notices`) in the transaction that queues it: once across restarts and crashes.

use super::{DueTask, Notice};
use crate::config::{Config, Contract};
use crate::ingest::Pipeline;
use crate::outbox::{self, Draft, Kind};
use crate::store::{notices, Store, TaskRow};
use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Transaction;
use serde_json::json;

fn due_task(t: &TaskRow) -> Option<DueTask> {
    Some(DueTask {
        status: t.status,
        due_at: t.due_at?,
        has_assignee: t.assignee.is_some(),
    })
}

fn kind(n: Notice) -> Kind {
    match n {
        Notice::Reminder => Kind::Reminder,
        Notice::Overdue => Kind::Overdue,
        Notice::Escalation => Kind::Escalation,
    }
}

/// Queue `notice` about `t`: to the assignee, or for an escalation to each of `escalate_to`.
fn queue(
    tx: &Transaction<'_>,
    p: &Pipeline,
    c: &Contract,
    t: &TaskRow,
    notice: Notice,
    now: DateTime<Utc>,
) -> Result<()> {
    let cfg = &p.config;
    let due = t.due_at.and_then(|d| Utc.timestamp_opt(d, 0).single());
    let ctx = json!({
        "task": {
            "id": t.id,
            "title": outbox::title(t.original_subject.as_deref(), &t.subject),
            "contract": t.contract,
            "due": outbox::local(c, due),
            "assignee": t.assignee,
            "requester": t.requester,
        },
        "desk": outbox::desk(cfg),
    });
    let recipients = match notice {
        Notice::Escalation => c.escalate_to.clone(),
        _ => t.assignee.iter().cloned().collect(),
    };
    let rendered = p.templates.render(notice.as_str(), c.language, &ctx)?;
    for to in recipients {
        let draft = Draft {
            kind: kind(notice),
            task_id: Some(t.id),
            contract: Some(c.name.clone()),
            recipient: to,
            rendered: rendered.clone(),
            in_reply_to: Some(t.message_id.clone()),
            references: vec![t.message_id.clone()],
            reply_to: Some(cfg.daemon.address.clone()),
            windowed: false,
            not_before: now,
        };
        outbox::enqueue(tx, cfg, &draft, now)?;
    }
    Ok(())
}

/// Queue every notice due at `now`, one transaction per task. Returns how many were queued.
pub fn run_due(store: &mut Store, p: &Pipeline, now: DateTime<Utc>) -> Result<usize> {
    let cfg = &p.config;
    let mut queued = 0;
    for t in store.working_tasks()? {
        let (Some(dt), Some(c)) = (due_task(&t), cfg.contracts.get(&t.contract)) else {
            continue;
        };
        let sent = notices::sent(store.conn(), t.id, dt.due_at)?;
        let due = super::due(&dt, c, &cfg.policy, &sent, now);
        if due.is_empty() {
            continue;
        }
        let tx = store.transaction()?;
        for n in due {
            // Recorded first: a notice another process queued meanwhile is not queued again.
            if notices::mark_sent(&tx, t.id, n, dt.due_at, now)? {
                queue(&tx, p, c, &t, n, now)?;
                queued += 1;
            }
        }
        tx.commit()
            .with_context(|| format!("Cannot record the notices of task #{}", t.id))?;
    }
    Ok(queued)
}

/// The next instant after `now` at which a notice falls due.
pub fn next_due(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    let mut next = None;
    for t in store.working_tasks()? {
        let (Some(dt), Some(c)) = (due_task(&t), cfg.contracts.get(&t.contract)) else {
            continue;
        };
        let sent = notices::sent(store.conn(), t.id, dt.due_at)?;
        if let Some(at) = super::next(&dt, c, &cfg.policy, &sent, now) {
            next = Some(next.map_or(at, |n: DateTime<Utc>| n.min(at)));
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;
    use crate::store::Source;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn set_due(store: &Store, due: DateTime<Utc>) {
        store
            .conn()
            .execute(
                "UPDATE tasks SET due_at = ?1 WHERE id = 1",
                [due.timestamp()],
            )
            .unwrap();
    }

    #[test]
    fn each_notice_goes_once_per_due_time_and_a_new_due_time_re_arms_it() {
        let dir = tempfile::tempdir().unwrap();
        let p =
            Pipeline::new(crate::config::test_desk(dir.path(), ""), RuleSet::default()).unwrap();
        let mut store = Store::open(&p.config.daemon.state_dir).unwrap();
        let now = at("2026-12-06T05:00:00Z");
        let raw = b"From: boss@acme.example\r\nTo: tasks@va.example\r\nSubject: Call the bank\r\n\
                    Message-ID: <r1@acme.example>\r\n\r\nPlease.\r\n";
        let o = p
            .ingest_one(&mut store, &Source::File("r1".into()), raw, Some(now), now)
            .unwrap();
        assert_eq!(o.task_id, Some(1));

        let due = at("2026-12-06T06:30:00Z");
        set_due(&store, due);
        // Past the due time: the overdue notice, once however often the scheduler wakes.
        let after = due + chrono::Duration::seconds(1);
        assert_eq!(run_due(&mut store, &p, after).unwrap(), 1);
        assert_eq!(run_due(&mut store, &p, after).unwrap(), 0);
        assert_eq!(
            run_due(&mut store, &p, after + chrono::Duration::hours(1)).unwrap(),
            0
        );

        // `#due` moves it: the new due time's notices are armed again.
        let later = at("2026-12-07T06:30:00Z");
        set_due(&store, later);
        assert_eq!(
            run_due(&mut store, &p, later + chrono::Duration::seconds(1)).unwrap(),
            1
        );
        let kinds: Vec<String> = store
            .conn()
            .prepare("SELECT kind FROM outbox WHERE task_id = 1 AND kind IN ('reminder','overdue') ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kinds, ["overdue", "overdue"]);
    }
}
