//! `musaid status`: is the daemon keeping up? Last sync and its age, the backlog, the next
//! response windows and the last error, from the database; healthy or not for monitoring.

use crate::config::units::format_duration;
use crate::config::Config;
use crate::output;
use crate::store::meta_get;
use crate::windows;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The default of `--max-age`: a sync older than this makes the status unhealthy.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Facts read from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Unix seconds of the last sync (meta `last_sync`, or the newest `sync_state` progress).
    pub last_sync: Option<i64>,
    /// Meta `last_error`: `RFC3339 text`.
    pub last_error: Option<String>,
    pub messages: i64,
    pub tasks_open: i64,
    pub quarantined: i64,
    pub outbox: Backlog,
    /// The files kept under `STATE/attachments/`.
    pub attachments: crate::store::attachments::Usage,
}

/// The outbox, by what its pending mail waits for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Every mail not yet sent.
    pub pending: i64,
    /// Pending and due: the sender should take it now.
    pub due_now: i64,
    /// Pending acknowledgements and done notices waiting for a response window to open.
    pub waiting_for_window: i64,
    /// Pending after a temporary failure (attempts > 0), retried with backoff.
    pub retrying: i64,
    /// Refused for good by the server (recorded on the task).
    pub failed: i64,
}

fn count(conn: &Connection, sql: &str, now: i64) -> Result<i64> {
    // Every query takes ?1 = now, used or not, so one helper serves them all.
    let mut stmt = conn.prepare(sql)?;
    let n = if stmt.parameter_count() == 0 {
        stmt.query_row([], |r| r.get(0))?
    } else {
        stmt.query_row(params![now], |r| r.get(0))?
    };
    Ok(n)
}

/// Read the facts at `now` (Unix seconds).
pub fn read(conn: &Connection, now: i64) -> Result<Facts> {
    let meta_sync = meta_get(conn, "last_sync")?.and_then(|v| v.trim().parse::<i64>().ok());
    let progress: Option<i64> = conn
        .query_row("SELECT max(synced_at) FROM sync_state", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(Facts {
        last_sync: meta_sync.max(progress),
        last_error: meta_get(conn, "last_error")?.filter(|e| !e.trim().is_empty()),
        messages: count(conn, "SELECT count(*) FROM messages", now)?,
        tasks_open: count(
            conn,
            "SELECT count(*) FROM tasks WHERE status IN ('open', 'in_progress', 'waiting')",
            now,
        )?,
        quarantined: count(conn, "SELECT count(*) FROM quarantine", now)?,
        outbox: Backlog {
            pending: count(conn, "SELECT count(*) FROM outbox WHERE status = 'pending'", now)?,
            due_now: count(
                conn,
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= ?1",
                now,
            )?,
            waiting_for_window: count(
                conn,
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND windowed = 1 AND not_before > ?1",
                now,
            )?,
            retrying: count(
                conn,
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0",
                now,
            )?,
            failed: count(conn, "SELECT count(*) FROM outbox WHERE status = 'failed'", now)?,
        },
        attachments: crate::store::attachments::usage(conn)?,
    })
}

/// The last error as stored: when, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    pub at: Option<String>,
    pub message: String,
}

/// One contract's response windows at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowState {
    pub contract: String,
    pub timezone: String,
    pub open_now: bool,
    /// When the open window closes (null when closed).
    pub closes_at: Option<String>,
    /// The next opening after now (null when the contract never opens).
    pub next_open: Option<String>,
}

/// What `musaid status --json` prints (field names in docs/commands.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// False when the last sync is missing or older than `max_age_seconds` (exit code 1).
    pub healthy: bool,
    /// Why it is not healthy (null when healthy).
    pub problem: Option<String>,
    pub database: String,
    pub last_sync: Option<String>,
    pub last_sync_age_seconds: Option<i64>,
    pub max_age_seconds: u64,
    pub last_error: Option<LastError>,
    pub messages: i64,
    pub tasks_open: i64,
    pub quarantined: i64,
    pub outbox: Backlog,
    /// The files kept under `STATE/attachments/`: how many, and their bytes.
    pub attachments: crate::store::attachments::Usage,
    pub windows: Vec<WindowState>,
    /// The daemon holding the state directory (null when none runs on it).
    pub daemon: Option<crate::daemon::Holder>,
}

fn last_error(text: &str) -> LastError {
    match text.split_once(' ') {
        Some((at, rest)) if DateTime::parse_from_rfc3339(at).is_ok() => LastError {
            at: Some(at.to_string()),
            message: rest.trim().to_string(),
        },
        _ => LastError {
            at: None,
            message: text.trim().to_string(),
        },
    }
}

/// Put the status together. `facts` is None when there is no database yet.
pub fn build(
    cfg: &Config,
    database: &Path,
    facts: Option<&Facts>,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Status {
    let empty = Facts::default();
    let f = facts.unwrap_or(&empty);
    let age = f.last_sync.map(|t| now.timestamp() - t);
    let limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    let problem = match (facts, age) {
        (None, _) => Some(format!(
            "never synced: no database at {} (has the daemon started?)",
            database.display()
        )),
        (Some(_), None) => Some("never synced: the daemon has not completed a sync yet".into()),
        (Some(_), Some(a)) if a > limit => Some(format!(
            "the last sync was {} ago, longer than --max-age {}",
            format_duration(Duration::from_secs(a.unsigned_abs())),
            format_duration(max_age)
        )),
        _ => None,
    };
    let windows = cfg
        .contracts
        .values()
        .map(|c| {
            let tz = c.timezone;
            let open_now = windows::is_open(c, now);
            let next = if open_now {
                windows::next_openings(c, now, 1).into_iter().next()
            } else {
                windows::next_open(c, now)
            };
            WindowState {
                contract: c.name.clone(),
                timezone: tz.name().to_string(),
                open_now,
                closes_at: windows::next_close(c, now)
                    .filter(|_| open_now)
                    .map(|t| t.with_timezone(&tz).to_rfc3339()),
                next_open: next.map(|t| t.with_timezone(&tz).to_rfc3339()),
            }
        })
        .collect();
    Status {
        healthy: problem.is_none(),
        problem,
        database: database.display().to_string(),
        last_sync: f.last_sync.and_then(|t| output::rfc3339(t, chrono_tz::UTC)),
        last_sync_age_seconds: age,
        max_age_seconds: max_age.as_secs(),
        last_error: f.last_error.as_deref().map(last_error),
        messages: f.messages,
        tasks_open: f.tasks_open,
        quarantined: f.quarantined,
        outbox: f.outbox.clone(),
        attachments: f.attachments,
        windows,
        daemon: None,
    }
}

impl Status {
    /// With the daemon that holds the state directory, if one does ([`crate::daemon::holder`]).
    pub fn with_daemon(self, daemon: Option<crate::daemon::Holder>) -> Status {
        Status { daemon, ..self }
    }
}

/// The readable form.
pub fn render(s: &Status) -> String {
    let mut o = String::new();
    let field = |o: &mut String, k: &str, v: &str| {
        let _ = writeln!(o, "{k:<13}{v}");
    };
    let health = match &s.problem {
        None => "OK".to_string(),
        Some(p) => format!("PROBLEM: {p}"),
    };
    field(&mut o, "Health", &health);
    let daemon = match &s.daemon {
        Some(crate::daemon::Holder { pid: Some(pid) }) => format!("running (pid {pid})"),
        Some(_) => "running".to_string(),
        None => "not running on this state directory".to_string(),
    };
    field(&mut o, "Daemon", &daemon);
    let sync = match (&s.last_sync, s.last_sync_age_seconds) {
        (Some(t), Some(a)) => format!(
            "{t} ({} ago)",
            format_duration(Duration::from_secs(a.max(0).unsigned_abs()))
        ),
        _ => "never".to_string(),
    };
    field(&mut o, "Last sync", &sync);
    let err = match &s.last_error {
        Some(e) => match &e.at {
            Some(at) => format!("{at} {}", e.message),
            None => e.message.clone(),
        },
        None => "none".to_string(),
    };
    field(&mut o, "Last error", &err);
    field(
        &mut o,
        "Messages",
        &format!("{} recorded, {} quarantined", s.messages, s.quarantined),
    );
    field(&mut o, "Open tasks", &s.tasks_open.to_string());
    let b = &s.outbox;
    field(
        &mut o,
        "Outbox",
        &format!(
            "{} pending: {} due now, {} waiting for a window, {} retrying; {} failed",
            b.pending, b.due_now, b.waiting_for_window, b.retrying, b.failed
        ),
    );
    field(
        &mut o,
        "Attachments",
        &format!(
            "{} files, {}",
            s.attachments.files,
            crate::mail::attachments::human_size(u64::try_from(s.attachments.bytes).unwrap_or(0))
        ),
    );
    for w in &s.windows {
        let state = match (&w.closes_at, &w.next_open) {
            (Some(c), _) if w.open_now => format!("open until {c}"),
            (_, Some(n)) => format!("closed, opens {n}"),
            _ => "closed, no window ahead".to_string(),
        };
        field(
            &mut o,
            "Window",
            &format!("{} ({}): {state}", w.contract, w.timezone),
        );
    }
    field(&mut o, "Database", &s.database);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{meta_set, Store};
    use chrono::TimeZone;

    fn config(dir: &Path) -> Config {
        crate::config::test_desk(dir, "")
    }

    #[test]
    fn healthy_only_with_a_recent_sync() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        // Thursday 2026-11-26 09:00 Riyadh (06:00 UTC).
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 6, 0, 0).unwrap();
        let db = dir.path().join("musaid.db");
        let none = build(&cfg, &db, None, now, DEFAULT_MAX_AGE);
        assert!(!none.healthy);
        assert!(none.problem.unwrap().contains("never synced"));

        let mut facts = Facts::default();
        let never = build(&cfg, &db, Some(&facts), now, DEFAULT_MAX_AGE);
        assert!(!never.healthy);
        assert_eq!(never.last_sync, None);

        facts.last_sync = Some(now.timestamp() - 60);
        let fresh = build(&cfg, &db, Some(&facts), now, DEFAULT_MAX_AGE);
        assert!(fresh.healthy, "{fresh:?}");
        assert_eq!(fresh.last_sync_age_seconds, Some(60));
        assert_eq!(
            fresh.last_sync.as_deref(),
            Some("2026-11-26T05:59:00+00:00")
        );

        facts.last_sync = Some(now.timestamp() - 16 * 60);
        let stale = build(&cfg, &db, Some(&facts), now, DEFAULT_MAX_AGE);
        assert!(!stale.healthy);
        assert!(stale.problem.unwrap().contains("16m ago"));
        let lenient = build(&cfg, &db, Some(&facts), now, Duration::from_secs(3600));
        assert!(lenient.healthy);
    }

    #[test]
    fn windows_show_the_next_opening_in_the_contract_zone() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        // Thursday 2026-11-26 09:00 Riyadh: open until 10:00; next opening Sunday 08:00.
        let open = Utc.with_ymd_and_hms(2026, 11, 26, 6, 0, 0).unwrap();
        let s = build(
            &cfg,
            Path::new("x"),
            Some(&Facts::default()),
            open,
            DEFAULT_MAX_AGE,
        );
        let w = &s.windows[0];
        assert!(w.open_now);
        assert_eq!(w.closes_at.as_deref(), Some("2026-11-26T10:00:00+03:00"));
        assert_eq!(w.next_open.as_deref(), Some("2026-11-29T08:00:00+03:00"));
        // Friday: closed; the next opening is Sunday 08:00.
        let closed = Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap();
        let s = build(
            &cfg,
            Path::new("x"),
            Some(&Facts::default()),
            closed,
            DEFAULT_MAX_AGE,
        );
        let w = &s.windows[0];
        assert!(!w.open_now);
        assert_eq!(w.closes_at, None);
        assert_eq!(w.next_open.as_deref(), Some("2026-11-29T08:00:00+03:00"));
        assert!(render(&s).contains("acme (Asia/Riyadh): closed, opens 2026-11-29T08:00:00+03:00"));
        assert!(render(&s).contains("Daemon       not running on this state directory"));
        let held = s.with_daemon(Some(crate::daemon::Holder { pid: Some(4242) }));
        assert!(render(&held).contains("Daemon       running (pid 4242)"));
    }

    #[test]
    fn facts_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.conn();
        let now = 1_800_000_000;
        assert_eq!(read(conn, now).unwrap(), Facts::default());
        meta_set(conn, "last_sync", &(now - 5).to_string()).unwrap();
        meta_set(
            conn,
            "last_error",
            "2026-11-27T10:00:00+00:00 IMAP session failed: refused",
        )
        .unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO outbox (kind, recipient, message_id, subject, body_text, windowed, not_before, status, attempts, created_at) VALUES
             ('ack', 'a@x', 'm1', 's', 'b', 1, {later}, 'pending', 0, {now}),
             ('notify', 'a@x', 'm2', 's', 'b', 0, {now}, 'pending', 2, {now}),
             ('notify', 'a@x', 'm3', 's', 'b', 0, {now}, 'failed', 5, {now}),
             ('notify', 'a@x', 'm4', 's', 'b', 0, {now}, 'sent', 1, {now});",
            later = now + 3600
        ))
        .unwrap();
        let f = read(conn, now).unwrap();
        assert_eq!(f.last_sync, Some(now - 5));
        assert_eq!(
            f.outbox,
            Backlog {
                pending: 2,
                due_now: 1,
                waiting_for_window: 1,
                retrying: 1,
                failed: 1
            }
        );
        assert_eq!(f.attachments, Default::default());
        conn.execute_batch(
            "INSERT INTO tasks (id, contract, status, category, priority, requester, subject, note,
                 message_id, created_at, updated_at)
             VALUES (1, 'acme', 'open', 'general', 'normal', 'b@x', 's', '', 'm@x', 0, 0);
             INSERT INTO attachments (task_id, idx, filename, content_type, size, sha256, sender,
                 role, at, message_id, purged_at) VALUES
             (1, 1, 'a.pdf', 'application/pdf', 2000, 'aa', 'b@x', 'owner', 0, 'm@x', NULL),
             (1, 2, 'again.pdf', 'application/pdf', 2000, 'aa', 'b@x', 'owner', 0, 'm@x', NULL),
             (1, 3, 'b.png', 'image/png', 500, 'bb', 'b@x', 'owner', 0, 'm@x', NULL),
             (1, 4, 'gone.png', 'image/png', 900, 'cc', 'b@x', 'owner', 0, 'm@x', 5);",
        )
        .unwrap();
        let with_files = read(conn, now).unwrap();
        assert_eq!(
            with_files.attachments,
            crate::store::attachments::Usage {
                files: 2,
                bytes: 2500
            }
        );
        let cfg = config(dir.path());
        let s = build(
            &cfg,
            Path::new("x"),
            Some(&with_files),
            Utc.timestamp_opt(now, 0).unwrap(),
            DEFAULT_MAX_AGE,
        );
        assert!(
            render(&s).contains("Attachments  2 files, 2.5 KB"),
            "{}",
            render(&s)
        );
        let e = last_error(f.last_error.as_deref().unwrap());
        assert_eq!(e.at.as_deref(), Some("2026-11-27T10:00:00+00:00"));
        assert_eq!(e.message, "IMAP session failed: refused");
        assert_eq!(last_error("odd").at, None);
    }
}
