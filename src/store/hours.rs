//! Time entries (`#time` events): a task's, a contract's over a period, and their sums.
//! Read by `musaid hours`, `musaid tasks time`, the retainer's balance and its alerts.

use anyhow::{Context as _, Result};
use rusqlite::{params, Connection};

/// One `#time` entry, with what an invoice line needs of its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeEntry {
    pub task: i64,
    pub contract: String,
    /// When it was recorded (Unix seconds).
    pub at: i64,
    /// Who logged it.
    pub va: String,
    /// Negative for a correction (`#time -15m`).
    pub minutes: i32,
    pub subject: String,
    pub original_subject: Option<String>,
    pub category: String,
    pub message_id: Option<String>,
}

const ENTRY: &str = "SELECT e.task_id, t.contract, e.at, e.actor, e.minutes, t.subject, \
    t.original_subject, t.category, e.message_id \
    FROM events e JOIN tasks t ON t.id = e.task_id WHERE e.kind = 'time'";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimeEntry> {
    Ok(TimeEntry {
        task: r.get(0)?,
        contract: r.get(1)?,
        at: r.get(2)?,
        va: r.get(3)?,
        minutes: r.get::<_, Option<i32>>(4)?.unwrap_or(0),
        subject: r.get(5)?,
        original_subject: r.get(6)?,
        category: r.get(7)?,
        message_id: r.get(8)?,
    })
}

/// A contract's entries recorded in `[from, to)` (Unix seconds), in the order they were made.
pub fn entries(conn: &Connection, contract: &str, from: i64, to: i64) -> Result<Vec<TimeEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{ENTRY} AND t.contract = ?1 AND e.at >= ?2 AND e.at < ?3 ORDER BY e.at, e.id"
    ))?;
    let rows = stmt
        .query_map(params![contract, from, to], entry)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("Cannot read the time entries of contract {contract}"))?;
    Ok(rows)
}

/// A task's entries, in the order they were made.
pub fn task_entries(conn: &Connection, task: i64) -> Result<Vec<TimeEntry>> {
    let mut stmt =
        conn.prepare_cached(&format!("{ENTRY} AND e.task_id = ?1 ORDER BY e.at, e.id"))?;
    let rows = stmt
        .query_map(params![task], entry)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("Cannot read the time entries of task #{task}"))?;
    Ok(rows)
}

/// The minutes a contract's entries of `[from, to)` add up to.
pub fn minutes_logged(conn: &Connection, contract: &str, from: i64, to: i64) -> Result<i64> {
    let total: Option<i64> = conn
        .prepare_cached(
            "SELECT sum(e.minutes) FROM events e JOIN tasks t ON t.id = e.task_id \
             WHERE e.kind = 'time' AND t.contract = ?1 AND e.at >= ?2 AND e.at < ?3",
        )?
        .query_row(params![contract, from, to], |r| r.get(0))
        .with_context(|| format!("Cannot add up the time of contract {contract}"))?;
    Ok(total.unwrap_or(0))
}

/// The minutes logged on a task, corrections taken off.
pub fn task_minutes(conn: &Connection, task: i64) -> Result<i64> {
    let total: Option<i64> = conn
        .prepare_cached("SELECT sum(minutes) FROM events WHERE task_id = ?1 AND kind = 'time'")?
        .query_row(params![task], |r| r.get(0))
        .with_context(|| format!("Cannot add up the time of task #{task}"))?;
    Ok(total.unwrap_or(0))
}
