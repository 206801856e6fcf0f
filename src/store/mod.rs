//! SQLite: schema and migrations, and the one function that writes a message's effects.
//!
//! WAL mode, STRICT tables, explicit column lists. Times are Unix seconds (UTC).

pub mod attachments;
pub mod backup;
pub mod hours;
mod merge;
pub mod notices;
pub mod quarantine;
pub mod record;
pub mod recurring;
mod schema;
pub mod sync;
mod tasks;

pub use record::{record, Recorded, Source};
pub use tasks::{done_since, events_of, open_tasks, task_of};
pub use tasks::{EventRow, QuarantineRow, TaskFilter, TaskRow};

use crate::decide::{TaskRef, ThreadLookup};
use crate::model::TaskStatus;
use anyhow::{Context as _, Result};
use chrono::DateTime;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside the state directory.
pub const DB_FILE: &str = "musaid.db";

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating when missing) `STATE/musaid.db` and bring its schema up to date.
    pub fn open(state_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("Cannot create state directory {}", state_dir.display()))?;
        let path = state_dir.join(DB_FILE);
        let mut conn = Connection::open(&path)
            .with_context(|| format!("Cannot open database {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement of a message's record is reused from here (rusqlite keeps 16).
        conn.set_prepared_statement_cache_capacity(64);
        // The bundled SQLite has STAT4, which re-plans a cached statement whenever a bound value
        // on an indexed column changes (a full re-prepare on every Message-ID lookup); the
        // query planner stability guarantee keeps each cached plan.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        enable_wal(&conn).with_context(|| format!("Cannot open database {}", path.display()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)
            .with_context(|| format!("Cannot migrate database {}", path.display()))?;
        Ok(Store { conn, path })
    }

    /// Open an existing database without writing to it (dry runs, `tasks list`).
    pub fn open_existing(state_dir: &Path) -> Result<Option<Store>> {
        if !state_dir.join(DB_FILE).exists() {
            return Ok(None);
        }
        Store::open(state_dir).map(Some)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Leave WAL checkpoints to [`Store::checkpoint`] calls on another connection: for the
    /// daemon's recorder, whose thread is the bottleneck of a backlog.
    pub fn no_auto_checkpoint(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .context("Cannot turn automatic checkpoints off")
    }

    /// Make every commit of this connection durable before it returns (`synchronous =
    /// FULL`: the write-ahead log is synced), not only across a crash of the process. For the
    /// recorder when `imap.after` moves mail away: a move that followed a commit lost to a
    /// power cut would take a request out of the watched mailbox unrecorded.
    pub fn durable_commits(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .context("Cannot make commits durable")
    }

    /// Make every commit so far durable, whichever connection made it: sync the write-ahead
    /// log to disk (commits under `synchronous = NORMAL` reach the disk only at checkpoints).
    /// For the sender before it sends: no ack may go out for a task a power cut could undo,
    /// or the request, fetched again, would be acknowledged twice.
    pub fn sync_log(&self) -> Result<()> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        match std::fs::File::open(&wal) {
            Ok(f) => f
                .sync_data()
                .with_context(|| format!("Cannot sync {} to disk", wal.display())),
            // No log: everything is in the database file, synced by the last checkpoint.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("Cannot open {}", wal.display())),
        }
    }

    /// Stop checking foreign keys and `CHECK` constraints on this connection: for the
    /// daemon's recorder, whose thread is the bottleneck of a backlog. Its inserts name the
    /// task they created or found in the same transaction (each foreign key check is one more
    /// B-tree search), and write statuses, priorities and decisions from musaid's own types.
    /// SQLite checks a column against an `IN (…)` list of more than two values by building a
    /// temporary B-tree, with a page cache of its own, at every insert: three per request
    /// here, about a tenth of a backlog's CPU with the example rules, and half of it for a
    /// desk without rules, whose freed page caches went back to the system and were faulted
    /// in again at every insert. Other connections (the commands, the sender) keep every
    /// check.
    pub fn trust_own_writes(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "foreign_keys", "OFF")
            .context("Cannot turn foreign key checks off")?;
        self.conn
            .pragma_update(None, "ignore_check_constraints", "ON")
            .context("Cannot turn CHECK constraints off")
    }

    /// Copy what the write-ahead log holds into the database, as far as readers allow,
    /// without waiting for any lock (`PRAGMA wal_checkpoint(PASSIVE)`).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .context("Cannot checkpoint the database")
    }

    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context("Cannot begin a database transaction")
    }
}

/// How long a connection waits for another's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Put the database in write-ahead-log mode (once per file; then it stays). The switch needs
/// the file to itself, and SQLite answers BUSY at once, without the busy handler, while another
/// process has it open: a daemon starting on a new database while `musaid status` (or a
/// second command) opens it too would fail to start. So wait for the others, as for a lock.
fn enable_wal(conn: &Connection) -> Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let mode = conn
            .pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
            .and_then(|mode| {
                if mode.eq_ignore_ascii_case("wal") {
                    return Ok(mode);
                }
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            });
        match mode {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                anyhow::bail!("the database cannot use a write-ahead log (journal mode {mode})")
            }
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // Up to date (the common case): no write lock, so `musaid backup`, `status` and the like
    // open the database while the daemon is in the middle of a write.
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if usize::try_from(version).is_ok_and(|v| v == schema::MIGRATIONS.len()) {
        return Ok(());
    }
    // A migration may rebuild a table that others reference (SQLite's way to change a
    // constraint), which needs foreign keys off; they are all checked before the commit.
    // The pragma is a no-op inside a transaction, so it is set around it.
    let enforced: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_in_transaction(conn);
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    migrated
}

fn migrate_in_transaction(conn: &mut Connection) -> Result<()> {
    // Take the write lock first, then read the version again: two processes opening a new
    // database at once (the daemon and `musaid status`) must not both migrate it.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > schema::MIGRATIONS.len() {
        anyhow::bail!(
            "The database is at schema version {version}, newer than this musaid knows ({}); \
             run the newer musaid or restore a backup",
            schema::MIGRATIONS.len()
        );
    }
    if version == schema::MIGRATIONS.len() {
        return Ok(());
    }
    let orphans_before = orphans(&tx)?;
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)
            .with_context(|| format!("Migration {} failed", i + 1))?;
    }
    // Rows that already pointed nowhere are not the migrations' doing, and stay.
    let made = orphans(&tx)? - orphans_before;
    if made > 0 {
        anyhow::bail!("{made} row(s) would point at rows that do not exist; nothing was changed");
    }
    tx.pragma_update(None, "user_version", schema::MIGRATIONS.len() as i64)?;
    tx.commit()?;
    Ok(())
}

/// Rows whose foreign key names a row that does not exist.
fn orphans(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?,
    )
}

/// [`ThreadLookup`] over a connection or an open transaction.
pub struct History<'c>(pub &'c Connection);

fn task_ref(row: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRef> {
    let status: String = row.get(2)?;
    Ok(TaskRef {
        id: row.get(0)?,
        contract: row.get(1)?,
        status: status.parse().unwrap_or(TaskStatus::Open),
        requester: row.get(3)?,
        assignee: row.get(4)?,
        due_at: row
            .get::<_, Option<i64>>(5)?
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        waiting_since: row
            .get::<_, Option<i64>>(6)?
            .and_then(|t| DateTime::from_timestamp(t, 0)),
    })
}

const TASK_REF_COLUMNS: &str = "id, contract, status, requester, assignee, due_at, waiting_since";

impl ThreadLookup for History<'_> {
    fn seen_message(&self, message_id: &str) -> Result<Option<Option<i64>>> {
        let found = self
            .0
            .prepare_cached(
                "SELECT task_id FROM messages WHERE message_id = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row(params![message_id], |r| r.get::<_, Option<i64>>(0))
            .optional()?;
        Ok(found)
    }

    fn task_by_thread(&self, message_ids: &[String]) -> Result<Option<TaskRef>> {
        let mut stmt = self.0.prepare_cached(&format!(
            // Mail we sent is in `thread`; mail we received, in `messages` with its task.
            "SELECT {TASK_REF_COLUMNS} FROM tasks WHERE id = coalesce( \
             (SELECT task_id FROM thread WHERE message_id = ?1), \
             (SELECT task_id FROM messages WHERE message_id = ?1 AND task_id IS NOT NULL \
              ORDER BY id LIMIT 1))"
        ))?;
        // The nearest parent first: In-Reply-To, then References from the newest.
        for id in message_ids {
            if let Some(t) = stmt.query_row(params![id], task_ref).optional()? {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    fn task_by_id(&self, id: i64) -> Result<Option<TaskRef>> {
        Ok(self
            .0
            .query_row(
                // A merged task answers for the one it was merged into (`[#12]` after `#merge 12`).
                &format!(
                    "SELECT {TASK_REF_COLUMNS} FROM tasks \
                     WHERE id = coalesce((SELECT merged_into FROM tasks WHERE id = ?1), ?1)"
                ),
                params![id],
                task_ref,
            )
            .optional()?)
    }

    fn time_logged(&self, task: i64) -> Result<Option<i64>> {
        hours::task_minutes(self.0, task).map(Some)
    }

    fn task_by_original(&self, contract: &str, key: &str) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached(
                // A merged task's duplicates belong to the task it was merged into.
                "SELECT coalesce(merged_into, id) FROM tasks WHERE contract = ?1 AND original_key = ?2 \
                 ORDER BY id LIMIT 1",
            )?
            .query_row(params![contract, key], |r| r.get(0))
            .optional()?)
    }

    fn agenda_of(&self, message_ids: &[String]) -> Result<Option<String>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT recipient FROM outbox WHERE message_id = ?1 AND kind = 'agenda'",
        )?;
        for id in message_ids {
            if let Some(va) = stmt
                .query_row(params![id], |r| r.get::<_, String>(0))
                .optional()?
            {
                return Ok(Some(va));
            }
        }
        Ok(None)
    }
}

/// Whether `e` is the database's own failure (a full disk, an I/O error, a lock held too long,
/// a read-only or damaged file), which any message would meet, rather than one that a
/// particular message's content caused (a constraint, a value out of range, a bug).
pub fn is_database_failure(e: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode as C;
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _)) if matches!(
                f.code,
                C::DiskFull
                    | C::SystemIoFailure
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::OutOfMemory
                    | C::ReadOnly
                    | C::OperationInterrupted
                    | C::DatabaseCorrupt
                    | C::NotADatabase
                    | C::CannotOpen
                    | C::FileLockingProtocolFailed
                    | C::PermissionDenied
            )
        ) || cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// Small persistent facts (`meta` table).
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

impl Store {
    /// Remember the last error for `musaid status`: `RFC 3339 time, space, text`.
    pub fn record_error(&self, text: &str) -> Result<()> {
        let now = chrono::Utc::now().to_rfc3339();
        meta_set(&self.conn, "last_error", &format!("{now} {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_opening_a_new_database_at_once_all_get_it_in_wal_mode() {
        // The daemon's first start and a `musaid status` (or two commands) at the same moment.
        for _ in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let openers: Vec<_> = (0..3)
                .map(|_| {
                    let state = dir.path().to_path_buf();
                    std::thread::spawn(move || Store::open(&state).map(|_| ()))
                })
                .collect();
            for opener in openers {
                let opened = opener.join().unwrap();
                assert!(opened.is_ok(), "{opened:?}");
            }
            let store = Store::open(dir.path()).unwrap();
            let mode: String = store
                .conn()
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }
}
