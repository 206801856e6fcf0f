//! Shared by the summary tests: a config, a fresh store, and rows inserted with plain SQL.

use super::config::{ConfigBuilder, ContractBuilder, Raw};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use musaid::config::{Config, Contract};
use musaid::store::Store;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: Store,
    builder: ConfigBuilder,
}

impl Env {
    pub fn contract(&self) -> &Contract {
        self.config.contracts.get("acme").expect("contract acme")
    }
    pub fn conn(&self) -> &Connection {
        self.store.conn()
    }
    pub fn state(&self) -> PathBuf {
        self.config.daemon.state_dir.clone()
    }
    /// The config written out as `musaid.toml`, for the command line; its path.
    pub fn config_file(&self) -> PathBuf {
        self.builder.write(&self.dir.path().join("musaid.toml"))
    }
}

/// A config with one contract `acme` (owner boss@acme.example, VAs sara@ and ali@va.example),
/// made by `contract`, and a fresh store.
pub fn env(contract: impl FnOnce(ContractBuilder) -> ContractBuilder) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let builder = ConfigBuilder::new(dir.path().join("state"))
        .imap_set("user", "tasks@va.example")
        .imap_set("password_file", "imap.pass")
        .contract("acme", |c| {
            contract(
                c.owners(&["boss@acme.example"])
                    .vas(&["sara@va.example", "ali@va.example"]),
            )
        });
    let config = builder.load(&dir.path().join("musaid.toml"));
    let store = Store::open(&config.daemon.state_dir).expect("store");
    Env {
        dir,
        config,
        store,
        builder,
    }
}

/// The usual contract: Riyadh, two windows a day Sun-Thu, weekly summary on Thursday 17:00.
pub fn riyadh(language: &str) -> impl FnOnce(ContractBuilder) -> ContractBuilder + '_ {
    move |c| {
        c.timezone("Asia/Riyadh")
            .windows(&["Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00"])
            .language(language)
            .summary(
                "0 0 17 * * Thu",
                &["boss@acme.example", "accounts@acme.example"],
            )
            .set("rate", Raw(r#"{ per_hour = 12.5, currency = "USD" }"#))
    }
}

/// A local time in Riyadh (UTC+3, no DST).
pub fn ry(day: u32, h: u32, m: u32) -> i64 {
    let d = NaiveDate::from_ymd_opt(2026, 11, day)
        .expect("date")
        .and_hms_opt(h, m, 0)
        .expect("time");
    chrono_tz::Asia::Riyadh
        .from_local_datetime(&d)
        .single()
        .expect("local")
        .timestamp()
}

pub fn utc(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().expect("instant")
}

pub struct T<'a> {
    pub id: i64,
    pub created: i64,
    pub category: &'a str,
    pub assignee: Option<&'a str>,
    pub subject: &'a str,
    pub original_subject: Option<&'a str>,
    pub acked: Option<i64>,
    pub due: Option<i64>,
}

pub fn task(conn: &Connection, t: T<'_>) {
    conn.execute(
        "INSERT INTO tasks (id, contract, status, category, priority, assignee, requester, \
         original_subject, subject, note, message_id, created_at, acked_at, due_at, updated_at) \
         VALUES (?1, 'acme', 'open', ?2, 'normal', ?3, 'boss@acme.example', ?4, ?5, '', ?6, ?7, ?8, ?9, ?7)",
        params![
            t.id,
            t.category,
            t.assignee,
            t.original_subject,
            t.subject,
            format!("<req-{}@acme.example>", t.id),
            t.created,
            t.acked,
            t.due
        ],
    )
    .expect("insert task");
    conn.execute(
        "INSERT INTO events (task_id, at, actor, kind, to_status) VALUES (?1, ?2, 'boss@acme.example', 'created', 'open')",
        params![t.id, t.created],
    )
    .expect("insert created event");
}

/// A status change: the event, and the task's current status and done_at kept true.
pub fn status(conn: &Connection, id: i64, at: i64, to: &str, actor: &str) {
    let from: String = conn
        .query_row("SELECT status FROM tasks WHERE id = ?1", params![id], |r| {
            r.get(0)
        })
        .expect("task");
    conn.execute(
        "INSERT INTO events (task_id, at, actor, kind, from_status, to_status) VALUES (?1, ?2, ?3, 'status', ?4, ?5)",
        params![id, at, actor, from, to],
    )
    .expect("insert status event");
    let closed = matches!(to, "done" | "cancelled");
    conn.execute(
        "UPDATE tasks SET status = ?2, done_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, to, closed.then_some(at), at],
    )
    .expect("update task");
}

pub fn time(conn: &Connection, id: i64, at: i64, minutes: i64, actor: &str) {
    conn.execute(
        "INSERT INTO events (task_id, at, actor, kind, minutes) VALUES (?1, ?2, ?3, 'time', ?4)",
        params![id, at, actor, minutes],
    )
    .expect("insert time event");
}

/// An acknowledgement in the outbox, sent at `sent`.
pub fn ack_sent(conn: &Connection, id: i64, sent: i64) {
    conn.execute(
        "INSERT INTO outbox (task_id, contract, kind, recipient, message_id, subject, body_text, \
         windowed, not_before, status, created_at, sent_at) \
         VALUES (?1, 'acme', 'ack', 'boss@acme.example', ?2, 'ack', 'ack', 1, ?3, 'sent', ?3, ?3)",
        params![id, format!("<ack-{id}-{sent}@va.example>"), sent],
    )
    .expect("insert ack");
}

/// The week of the golden summaries: Thursday 2026-11-19 17:00 to Thursday 2026-11-26 17:00
/// (Riyadh), with the week before it for "what changed".
pub fn golden_week(conn: &Connection) {
    // The previous week.
    task(
        conn,
        T {
            id: 1,
            created: ry(16, 9, 0),
            category: "bookkeeping",
            assignee: Some("sara@va.example"),
            subject: "Invoice from the supplier",
            original_subject: None,
            acked: Some(ry(16, 9, 1)),
            due: None,
        },
    );
    ack_sent(conn, 1, ry(16, 9, 1));
    time(conn, 1, ry(17, 16, 0), 30, "sara@va.example");
    status(conn, 1, ry(17, 16, 30), "done", "sara@va.example");
    task(
        conn,
        T {
            id: 2,
            created: ry(18, 16, 10),
            category: "scheduling",
            assignee: Some("sara@va.example"),
            subject: "Fwd: Book the venue",
            original_subject: Some("Book the venue"),
            acked: Some(ry(18, 16, 11)),
            due: Some(ry(25, 17, 0)),
        },
    );
    ack_sent(conn, 2, ry(18, 16, 11));
    status(conn, 2, ry(19, 8, 30), "in_progress", "sara@va.example");

    // This week.
    task(
        conn,
        T {
            id: 3,
            created: ry(22, 7, 30),
            category: "bookkeeping",
            assignee: Some("sara@va.example"),
            subject: "Fwd: Monthly receipts",
            original_subject: Some("Monthly receipts"),
            acked: Some(ry(22, 8, 0)),
            due: None,
        },
    );
    ack_sent(conn, 3, ry(22, 8, 0));
    time(conn, 3, ry(23, 9, 10), 120, "sara@va.example");
    status(conn, 3, ry(23, 9, 15), "done", "sara@va.example");
    task(
        conn,
        T {
            id: 4,
            created: ry(23, 9, 40),
            category: "website",
            assignee: Some("ali@va.example"),
            subject: "تحديث صفحة الأسعار في الموقع",
            original_subject: None,
            acked: Some(ry(23, 9, 41)),
            due: Some(ry(30, 17, 0)),
        },
    );
    ack_sent(conn, 4, ry(23, 9, 41));
    status(conn, 4, ry(23, 16, 5), "in_progress", "ali@va.example");
    time(conn, 4, ry(24, 9, 0), 90, "ali@va.example");
    task(
        conn,
        T {
            id: 5,
            created: ry(24, 16, 20),
            category: "general",
            assignee: None,
            subject: "Call the bank",
            original_subject: None,
            acked: Some(ry(24, 16, 25)),
            due: None,
        },
    );
    ack_sent(conn, 5, ry(24, 16, 25));
    status(conn, 5, ry(25, 8, 5), "cancelled", "boss@acme.example");
    task(
        conn,
        T {
            id: 6,
            created: ry(25, 13, 0),
            category: "bookkeeping",
            assignee: Some("sara@va.example"),
            subject: "Reconcile | November <accounts>",
            original_subject: None,
            acked: Some(ry(25, 16, 0)),
            due: None,
        },
    );
    ack_sent(conn, 6, ry(25, 16, 0));
    status(conn, 6, ry(26, 9, 0), "done", "sara@va.example");
    status(conn, 6, ry(26, 9, 30), "open", "boss@acme.example");
    time(conn, 6, ry(26, 16, 40), 45, "sara@va.example");
    status(conn, 6, ry(26, 16, 45), "done", "sara@va.example");
    task(
        conn,
        T {
            id: 7,
            created: ry(26, 16, 59),
            category: "general",
            assignee: Some("sara@va.example"),
            subject: "Late request",
            original_subject: None,
            acked: None,
            due: None,
        },
    );
    // After the period: not counted.
    task(
        conn,
        T {
            id: 8,
            created: ry(26, 17, 0),
            category: "general",
            assignee: Some("sara@va.example"),
            subject: "Too late for this week",
            original_subject: None,
            acked: None,
            due: None,
        },
    );
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/summary")
        .join(name)
}

/// Compare with a golden file; a mismatch (or a missing file) writes `NAME.failed` and fails.
pub fn golden(name: &str, actual: &str) {
    let path = fixture(name);
    let failed = fixture(&format!("{name}.failed"));
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {
            let _ = std::fs::remove_file(&failed);
        }
        Ok(_) | Err(_) => {
            std::fs::write(&failed, actual).expect("write .failed");
            panic!(
                "{} differs from the output; compare with {} and copy it over if it is right",
                path.display(),
                failed.display()
            );
        }
    }
}
