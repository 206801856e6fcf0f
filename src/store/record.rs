//! One message's record and all its effects, written in the caller's transaction.

use crate::commands::Command;
use crate::decide::{Decision, NewTask, TaskUpdate};
use crate::mail::Message;
use crate::model::{Reason, TaskStatus};
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Transaction};

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file fed by `musaid ingest`.
    File(String),
    Imap {
        mailbox: String,
        uidvalidity: u32,
        uid: u32,
    },
}

/// What recording a message produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub message_row: i64,
    pub task_id: Option<i64>,
}

/// What is known of a message that is recorded without being parsed (oversized, unparseable).
pub struct Unparsed<'a> {
    pub message_id: &'a str,
    pub size: usize,
}

/// Write the message row and every effect of `decision`. The caller commits.
///
/// `msg` is None for messages that were never parsed (oversized, unparseable); `raw` is kept
/// for quarantined messages (its first 256 KiB, [`super::quarantine::KEPT`]).
pub fn record(
    tx: &Transaction<'_>,
    source: &Source,
    msg: Result<&Message, Unparsed<'_>>,
    raw: Option<&[u8]>,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let ts = now.timestamp();
    let (message_id, sender, subject, size) = match &msg {
        Ok(m) => (
            m.message_id.as_str(),
            m.from_email(),
            m.subject.as_str(),
            m.size,
        ),
        Err(u) => (u.message_id, String::new(), "", u.size),
    };
    let task_id = match decision {
        Decision::CreateTask(t) => Some(create_task(tx, t, message_id, ts)?),
        Decision::UpdateTask(u) => Some(update_task(tx, u, message_id, ts)?),
        // The message row names the first task; each task's events name the message.
        Decision::UpdateTasks(us) => {
            let mut first = None;
            for u in us {
                let id = update_task(tx, u, message_id, ts)?;
                first.get_or_insert(id);
            }
            first
        }
        Decision::Duplicate { task } => *task,
        Decision::Ignore { .. } | Decision::Quarantine { .. } | Decision::Answer(_) => None,
    };
    let (mailbox, uidvalidity, uid, file) = match source {
        Source::File(f) => (None, None, None, Some(f.as_str())),
        Source::Imap {
            mailbox,
            uidvalidity,
            uid,
        } => (Some(mailbox.as_str()), Some(*uidvalidity), Some(*uid), None),
    };
    tx.prepare_cached(
        "INSERT INTO messages (mailbox, uidvalidity, uid, message_id, sender, subject, size, \
         decision, reason, task_id, source, recorded_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        mailbox,
        uidvalidity,
        uid,
        message_id,
        sender,
        subject,
        size as i64,
        decision.kind(),
        decision.reason().map(Reason::as_str),
        task_id,
        file,
        ts
    ])
    .context("Cannot record the message")?;
    let message_row = tx.last_insert_rowid();
    if let Decision::Quarantine { reason, detail } = decision {
        tx.execute(
            "INSERT INTO quarantine (message_row, reason, detail, raw, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                message_row,
                reason.as_str(),
                detail,
                raw.map(super::quarantine::capped),
                ts
            ],
        )
        .context("Cannot record the quarantined message")?;
    }
    Ok(Recorded {
        message_row,
        task_id,
    })
}

pub(crate) fn create_task(
    tx: &Transaction<'_>,
    t: &NewTask,
    message_id: &str,
    ts: i64,
) -> Result<i64> {
    let c = &t.classification;
    let tags = serde_json::to_string(&c.tags)?;
    tx.prepare_cached(
        "INSERT INTO tasks (contract, status, category, priority, assignee, requester, \
         original_from, original_subject, original_date, subject, note, rule, tags, original_key, \
         message_id, created_at, due_at, updated_at, ack_skipped) \
         VALUES (?1, 'open', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?15, ?17)",
    )?
    .execute(params![
            t.contract,
            c.category,
            c.priority.as_str(),
            t.assignee,
            t.requester,
            t.original_from,
            t.original_subject,
            t.original_date,
            t.subject,
            t.note,
            c.rule,
            tags,
            t.original_key,
            message_id,
            ts,
            t.due_at.map(|d| d.timestamp()),
            (!t.acknowledge).then_some(TOO_OLD_TO_ACK),
        ],
    )
    .context("Cannot create the task")?;
    // The `created` event is the row itself (`tasks show`), and the request's Message-ID
    // joins the thread through its `messages` row.
    Ok(tx.last_insert_rowid())
}

fn update_task(tx: &Transaction<'_>, u: &TaskUpdate, message_id: &str, ts: i64) -> Result<i64> {
    let id = u.task.id;
    let actor = u.actor.as_str();
    let event = |kind| Event::new(id, ts, actor, kind, message_id);
    if !u.note.is_empty() {
        event("note").note(Some(&u.note)).record(tx)?;
    }
    let mut status = current_status(tx, id)?;
    for (i, cmd) in u.apply.iter().enumerate() {
        match cmd {
            Command::Status(to) => {
                set_status(tx, id, status, *to, ts)?;
                waiting_clock(tx, id, status, *to, ts)?;
                event("status").status(status, *to).record(tx)?;
                status = *to;
            }
            Command::Priority(p) => {
                tx.execute(
                    "UPDATE tasks SET priority = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, p.as_str(), ts],
                )?;
                let note = format!("priority {p}");
                event("priority").note(Some(&note)).record(tx)?;
            }
            // Placed in the contract's zone by `decide`: see the due moves below.
            Command::Due(_) => {}
            Command::Assign(a) => {
                tx.execute(
                    "UPDATE tasks SET assignee = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, a, ts],
                )?;
                let note = format!("assigned to {a}");
                event("assign").note(Some(&note)).record(tx)?;
            }
            Command::Time(minutes) => {
                event("time").minutes(*minutes).record(tx)?;
            }
            // The mail it queues is the event's detail (`outbox::effects`).
            Command::Send => event("send").record(tx)?,
            Command::Merge(from) => {
                let merge = super::merge::Merge {
                    from: *from,
                    into: id,
                    actor,
                    message_id,
                    at: ts,
                };
                super::merge::fold(tx, &merge)?;
            }
            // Answered by mail (`outbox::effects`); nothing about the task changes.
            Command::Ask(_) => {}
            Command::Unknown { .. } => {}
        }
        for m in u.due_moves.iter().filter(|m| m.after == i) {
            set_due(tx, id, m.at.timestamp(), ts)?;
            event("due").note(Some(&m.note)).record(tx)?;
        }
    }
    for r in &u.refused {
        let note = format!("{}: {}", r.command.line.trim(), r.why);
        event("refused").note(Some(&note)).record(tx)?;
    }
    Ok(id)
}

fn current_status(tx: &Transaction<'_>, id: i64) -> Result<TaskStatus> {
    let s: String = tx.query_row("SELECT status FROM tasks WHERE id = ?1", params![id], |r| {
        r.get(0)
    })?;
    s.parse().map_err(anyhow::Error::msg)
}

/// Change a task's status, keeping `done_at` true to it.
pub(crate) fn set_status(
    tx: &Transaction<'_>,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    ts: i64,
) -> Result<()> {
    let done_at = match (from.is_closed(), to.is_closed()) {
        (_, true) if from == to => "done_at",
        (_, true) => "?3",
        (true, false) => "NULL",
        (false, false) => "done_at",
    };
    tx.execute(
        &format!(
            "UPDATE tasks SET status = ?2, done_at = {done_at}, updated_at = ?3 WHERE id = ?1"
        ),
        params![id, to.as_str(), ts],
    )?;
    Ok(())
}

/// Start a task's waiting clock when it enters `waiting`, clear it when it leaves
/// (docs/commands.md#the-waiting-clock). The due time moves separately ([`set_due`]).
pub(crate) fn waiting_clock(
    tx: &Transaction<'_>,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    ts: i64,
) -> Result<()> {
    let since = match (from == TaskStatus::Waiting, to == TaskStatus::Waiting) {
        (false, true) => Some(ts),
        (true, false) => None,
        _ => return Ok(()),
    };
    tx.prepare_cached("UPDATE tasks SET waiting_since = ?2 WHERE id = ?1")?
        .execute(params![id, since])
        .context("Cannot record the waiting clock")?;
    Ok(())
}

/// Set a task's due time.
pub(crate) fn set_due(tx: &Transaction<'_>, id: i64, due: i64, ts: i64) -> Result<()> {
    tx.prepare_cached("UPDATE tasks SET due_at = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, due, ts])
        .context("Cannot set the due time")?;
    Ok(())
}

/// Why a request older than `policy.ack_max_age` got no acknowledgement.
pub const TOO_OLD_TO_ACK: &str =
    "older than policy.ack_max_age: no acknowledgement, no notification";

/// Record why a new task's acknowledgement was not sent (`tasks show` lists it as an
/// `ack_skipped` event). Call in the transaction that created it.
pub(crate) fn ack_skipped(tx: &Transaction<'_>, task: i64, why: &str) -> Result<()> {
    tx.prepare_cached("UPDATE tasks SET ack_skipped = ?2 WHERE id = ?1")?
        .execute(params![task, why])
        .context("Cannot record the skipped acknowledgement")?;
    Ok(())
}

/// Add mail we send to a task's thread (mail we receive is found through `messages`).
pub(crate) fn add_to_thread(tx: &Transaction<'_>, message_id: &str, task: i64) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO thread (message_id, task_id) VALUES (?1, ?2)")?
        .execute(params![message_id, task])?;
    Ok(())
}

/// One row of a task's audit log: who did what, when, and the message that caused it (none
/// for a command-line change).
pub(crate) struct Event<'a> {
    task: i64,
    at: i64,
    actor: &'a str,
    kind: &'a str,
    message_id: &'a str,
    from: Option<TaskStatus>,
    to: Option<TaskStatus>,
    note: Option<&'a str>,
    minutes: Option<i32>,
}

impl<'a> Event<'a> {
    pub(crate) fn new(
        task: i64,
        at: i64,
        actor: &'a str,
        kind: &'a str,
        message_id: &'a str,
    ) -> Self {
        Event {
            task,
            at,
            actor,
            kind,
            message_id,
            from: None,
            to: None,
            note: None,
            minutes: None,
        }
    }

    pub(crate) fn status(self, from: TaskStatus, to: TaskStatus) -> Self {
        Event {
            from: Some(from),
            to: Some(to),
            ..self
        }
    }

    pub(crate) fn note(self, note: Option<&'a str>) -> Self {
        Event { note, ..self }
    }

    pub(crate) fn minutes(self, minutes: i32) -> Self {
        Event {
            minutes: Some(minutes),
            ..self
        }
    }

    pub(crate) fn record(&self, tx: &Transaction<'_>) -> Result<()> {
        tx.prepare_cached(
            "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note, minutes, message_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            self.task,
            self.at,
            self.actor,
            self.kind,
            self.from.map(TaskStatus::as_str),
            self.to.map(TaskStatus::as_str),
            self.note,
            self.minutes,
            Some(self.message_id).filter(|m| !m.is_empty())
        ])
        .context("Cannot record the task event")?;
        Ok(())
    }
}
