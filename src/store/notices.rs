//! What the scheduler's timed mail remembers: the due-time notices sent per task and due time
//! (`notices_sent`), when each VA's agenda last went (`meta`), and since when tasks wait.

use super::meta_get;
use crate::reminders::Notice;
use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;

/// The notices already sent for `task` and its due time `due_at`.
pub fn sent(conn: &Connection, task: i64, due_at: i64) -> Result<Vec<Notice>> {
    let mut stmt =
        conn.prepare_cached("SELECT kind FROM notices_sent WHERE task_id = ?1 AND due_at = ?2")?;
    let kinds = stmt
        .query_map(params![task, due_at], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(kinds.iter().filter_map(|k| Notice::parse(k)).collect())
}

/// Record `notice` as sent for `task` at due time `due_at`, in the transaction that queues it.
/// False when it was already recorded (another process got there first).
pub fn mark_sent(
    conn: &Connection,
    task: i64,
    notice: Notice,
    due_at: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO notices_sent (task_id, kind, due_at, sent_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![task, notice.as_str(), due_at, now.timestamp()])
        .with_context(|| format!("Cannot record the {} of task #{task}", notice.as_str()))?;
    Ok(n == 1)
}

/// When each task last became `waiting` (its last status event to `waiting`), by task id.
pub fn waiting_since(conn: &Connection) -> Result<BTreeMap<i64, i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.task_id, max(e.at) FROM events e JOIN tasks t ON t.id = e.task_id \
         WHERE t.status = 'waiting' AND e.to_status = 'waiting' GROUP BY e.task_id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<BTreeMap<i64, i64>>>()?;
    Ok(rows)
}

/// `meta` key prefix: `agenda_last:<va>` holds `<local day> <RFC 3339 instant>` of the VA's
/// last agenda (the day it was for, and when it was made).
pub const AGENDA_KEY: &str = "agenda_last:";

/// The local day and instant of `va`'s last agenda.
pub fn last_agenda(conn: &Connection, va: &str) -> Result<Option<(NaiveDate, DateTime<Utc>)>> {
    let Some(v) = meta_get(conn, &format!("{AGENDA_KEY}{va}"))? else {
        return Ok(None);
    };
    let mut parts = v.split_whitespace();
    let day = parts.next().and_then(|d| d.parse::<NaiveDate>().ok());
    let at = parts
        .next()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(day.zip(at))
}

/// Record `va`'s agenda for local `day` as made at `at`.
pub fn set_last_agenda(
    conn: &Connection,
    va: &str,
    day: NaiveDate,
    at: DateTime<Utc>,
) -> Result<()> {
    super::meta_set(
        conn,
        &format!("{AGENDA_KEY}{va}"),
        &format!("{day} {}", at.to_rfc3339()),
    )
}
