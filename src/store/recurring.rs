//! Recurring tasks in the database: one `recurring_runs` row per occurrence made, keyed by
//! (entry, instant) and written in the transaction that creates its task, so that no
//! occurrence makes two tasks whatever crashes (docs/design.md#exactly-once).

use super::record::create_task;
use super::{meta_get, meta_set};
use crate::decide::NewTask;
use anyhow::{Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// The instant of the entry's latest occurrence made, or, before its first, when the daemon
/// first saw the entry (recorded now when it never did): occurrences after it are due.
pub fn recurring_since(tx: &Transaction<'_>, name: &str, now: i64) -> Result<i64> {
    let last: Option<i64> = tx
        .query_row(
            "SELECT max(at) FROM recurring_runs WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if let Some(last) = last {
        return Ok(last);
    }
    let key = format!("recurring_since.{name}");
    if let Some(since) = meta_get(tx, &key)?.and_then(|v| v.parse().ok()) {
        return Ok(since);
    }
    meta_set(tx, &key, &now.to_string())?;
    Ok(now)
}

/// Create the task of occurrence `at` of entry `name`, once: None when it exists already.
pub fn create_recurring(
    tx: &Transaction<'_>,
    t: &NewTask,
    name: &str,
    at: i64,
    late: bool,
    ts: i64,
) -> Result<Option<i64>> {
    if made(tx, name, at)? {
        return Ok(None);
    }
    let message_id = format!("recurring.{at}.{name}");
    let id = create_task(tx, t, &message_id, ts)?;
    tx.prepare_cached("UPDATE tasks SET recurring = ?2 WHERE id = ?1")?
        .execute(params![id, name])?;
    tx.prepare_cached(
        "INSERT INTO recurring_runs (name, at, task_id, late, made_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![name, at, id, i64::from(late), ts])
    .with_context(|| format!("Cannot record occurrence {at} of recurring `{name}`"))?;
    Ok(Some(id))
}

fn made(conn: &Connection, name: &str, at: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM recurring_runs WHERE name = ?1 AND at = ?2")?
        .query_row(params![name, at], |_| Ok(()))
        .optional()?
        .is_some())
}
