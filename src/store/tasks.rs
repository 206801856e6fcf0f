//! Reading tasks and their events; changing a task by hand (`musaid tasks set`).

use super::record::{set_due, set_status, waiting_clock, Event};
use super::Store;
use crate::model::{Priority, TaskStatus};
use anyhow::{Context as _, Result};
use rusqlite::{params, OptionalExtension, Row};

/// A task as stored. Times are Unix seconds (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub contract: String,
    pub status: TaskStatus,
    pub category: String,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub requester: String,
    pub original_from: Option<String>,
    pub original_subject: Option<String>,
    pub original_date: Option<String>,
    pub subject: String,
    pub note: String,
    pub rule: Option<String>,
    pub tags: Vec<String>,
    pub message_id: String,
    pub created_at: i64,
    pub acked_at: Option<i64>,
    pub due_at: Option<i64>,
    pub done_at: Option<i64>,
    pub updated_at: i64,
    /// For a `merged` task: the task it was folded into.
    pub merged_into: Option<i64>,
    pub waiting_since: Option<i64>,
    /// The `[[recurring]]` entry that made it.
    pub recurring: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: Option<String>,
    /// Minutes logged by a `time` event; negative for a correction.
    pub minutes: Option<i32>,
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub contract: Option<String>,
}

const TASK_COLUMNS: &str = "id, contract, status, category, priority, assignee, requester, \
    original_from, original_subject, original_date, subject, note, rule, tags, message_id, \
    created_at, acked_at, due_at, done_at, updated_at, merged_into, waiting_since, recurring";

fn task_row(r: &Row<'_>) -> rusqlite::Result<TaskRow> {
    let status: String = r.get(2)?;
    let priority: String = r.get(4)?;
    let tags: String = r.get(13)?;
    Ok(TaskRow {
        id: r.get(0)?,
        contract: r.get(1)?,
        // The CHECK constraints keep these parseable.
        status: status.parse().unwrap_or(TaskStatus::Open),
        category: r.get(3)?,
        priority: priority.parse().unwrap_or_default(),
        assignee: r.get(5)?,
        requester: r.get(6)?,
        original_from: r.get(7)?,
        original_subject: r.get(8)?,
        original_date: r.get(9)?,
        subject: r.get(10)?,
        note: r.get(11)?,
        rule: r.get(12)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        message_id: r.get(14)?,
        created_at: r.get(15)?,
        acked_at: r.get(16)?,
        due_at: r.get(17)?,
        done_at: r.get(18)?,
        updated_at: r.get(19)?,
        merged_into: r.get(20)?,
        waiting_since: r.get(21)?,
        recurring: r.get(22)?,
    })
}

/// A quarantined (or oversized) message, for `tasks list --quarantine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: i64,
    pub at: i64,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    pub detail: String,
    pub source: Option<String>,
}

/// A task's events, the oldest first, its `created` event (and any `ack_skipped`) included.
pub fn events_of(conn: &rusqlite::Connection, task: i64) -> Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(
        // A task's `created` event and any `ack_skipped` one are its row's (schema 6).
        "SELECT at, actor, kind, from_status, to_status, note, minutes, message_id FROM ( \
             SELECT 0 AS o, created_at AS at, requester AS actor, 'created' AS kind, \
             NULL AS from_status, 'open' AS to_status, nullif(note, '') AS note, \
             NULL AS minutes, nullif(message_id, '') AS message_id FROM tasks WHERE id = ?1 \
             UNION ALL SELECT 1, created_at, 'musaid', 'ack_skipped', NULL, NULL, ack_skipped, \
             NULL, NULL FROM tasks WHERE id = ?1 AND ack_skipped IS NOT NULL \
             UNION ALL SELECT 1 + id, at, actor, kind, from_status, to_status, note, minutes, \
             message_id FROM events WHERE task_id = ?1) ORDER BY o",
    )?;
    let rows = stmt
        .query_map(params![task], |r| {
            Ok(EventRow {
                at: r.get(0)?,
                actor: r.get(1)?,
                kind: r.get(2)?,
                from_status: r.get(3)?,
                to_status: r.get(4)?,
                note: r.get(5)?,
                minutes: r.get(6)?,
                message_id: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One task as stored, read in any transaction.
pub fn task_of(conn: &rusqlite::Connection, id: i64) -> Result<Option<TaskRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"))?
        .query_row(params![id], task_row)
        .optional()?)
}

/// A contract's tasks still open (`open`, `in_progress`, `waiting`), by number.
pub fn open_tasks(conn: &rusqlite::Connection, contract: &str) -> Result<Vec<TaskRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks \
         WHERE contract = ?1 AND status IN ('open', 'in_progress', 'waiting') ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(params![contract], task_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A contract's tasks done at or after `since` (Unix seconds), the latest first.
pub fn done_since(conn: &rusqlite::Connection, contract: &str, since: i64) -> Result<Vec<TaskRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks \
         WHERE contract = ?1 AND status = 'done' AND done_at >= ?2 ORDER BY done_at DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map(params![contract, since], task_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

impl Store {
    pub fn tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRow>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR contract = ?2) ORDER BY id"
        ))?;
        let rows = stmt
            .query_map(
                params![filter.status.map(TaskStatus::as_str), filter.contract],
                task_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Tasks still being worked on (open, in progress or waiting), in id order: the agenda's
    /// and the due-time notices' material. Their `note` is left empty: the scheduler reads
    /// them whenever it wakes, and a desk's notes (a request's text each) would hold tens of
    /// megabytes at once for nothing (docs/performance.md#what-bounds-memory).
    pub fn working_tasks(&self) -> Result<Vec<TaskRow>> {
        let columns = TASK_COLUMNS.replace(" note,", " '' AS note,");
        debug_assert_ne!(columns, TASK_COLUMNS);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {columns} FROM tasks \
             WHERE status IN ('open', 'in_progress', 'waiting') ORDER BY id"
        ))?;
        let rows = stmt
            .query_map([], task_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn task(&self, id: i64) -> Result<Option<TaskRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"),
                params![id],
                task_row,
            )
            .optional()?)
    }

    pub fn events(&self, task: i64) -> Result<Vec<EventRow>> {
        events_of(&self.conn, task)
    }

    pub fn quarantined(&self) -> Result<Vec<QuarantineRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT q.id, q.at, m.message_id, m.sender, m.subject, q.reason, q.detail, \
             COALESCE(m.source, m.mailbox || ' UID ' || m.uid) \
             FROM quarantine q JOIN messages m ON m.id = q.message_row ORDER BY q.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(QuarantineRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    message_id: r.get(2)?,
                    sender: r.get(3)?,
                    subject: r.get(4)?,
                    reason: r.get(5)?,
                    detail: r.get(6)?,
                    source: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Change a task's status by hand, with an event naming `actor`. `also` runs in the same
    /// transaction, given the status the task had (to queue the mail the change causes).
    pub fn set_task_status(
        &mut self,
        id: i64,
        to: TaskStatus,
        note: Option<&str>,
        actor: &str,
        now: i64,
        also: &dyn Fn(&rusqlite::Transaction<'_>, TaskStatus) -> Result<()>,
    ) -> Result<TaskRow> {
        let tx = self.transaction()?;
        let from: Option<String> = tx
            .query_row("SELECT status FROM tasks WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        let from: TaskStatus = from
            .with_context(|| format!("No task #{id}"))?
            .parse()
            .map_err(anyhow::Error::msg)?;
        set_status(&tx, id, from, to, now)?;
        Event::new(id, now, actor, "status", "")
            .status(from, to)
            .note(note)
            .record(&tx)?;
        // `also` still sees when a task leaving `waiting` entered it (to move its due time).
        also(&tx, from)?;
        waiting_clock(&tx, id, from, to, now)?;
        let row = tx.query_row(
            &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"),
            params![id],
            task_row,
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// A task's due time and when it entered `waiting`, in a transaction that changes it.
    pub fn due_clock(
        tx: &rusqlite::Transaction<'_>,
        id: i64,
    ) -> Result<(Option<i64>, Option<i64>)> {
        Ok(tx.query_row(
            "SELECT due_at, waiting_since FROM tasks WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Move a task's due time, with a `due` event naming `actor`.
    pub fn move_due(
        tx: &rusqlite::Transaction<'_>,
        id: i64,
        due: i64,
        note: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        set_due(tx, id, due, now)?;
        Event::new(id, now, actor, "due", "")
            .note(Some(note))
            .record(tx)
    }
}
