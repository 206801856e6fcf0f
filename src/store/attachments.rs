//! The files of a task's mail: stored under `STATE/attachments/` by their SHA-256 (identical
//! files once), listed per task in the `attachments` table, purged after
//! `policy.attachments_keep`.
//!
//! A file is written to a temporary name in the directory ([`Files::stage`]); before the
//! transaction that names it commits, the staged files are synced, renamed, and the directory
//! synced ([`Files::settle`], once for a batch): a crash leaves no row without its file, only
//! perhaps a file without a row, which [`sweep`] removes. Every writer writes its files while
//! it holds the database's write lock (inside its transaction), and [`sweep`] deletes under it
//! too, so a sweep never takes a file that a transaction in flight is about to name
//! (docs/design.md#attachments).

use super::Store;
use crate::decide::Role;
use crate::mail::{Attachment, Content, Message};
use anyhow::{bail, Context as _, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The directory inside the state directory.
pub const DIR: &str = "attachments";

/// Temporary files start with this; a sweep removes any left by a crash.
const TEMP_PREFIX: &str = ".tmp.";

/// The attachments directory of a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    dir: PathBuf,
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Files {
    pub fn new(state_dir: &Path) -> Files {
        Files {
            dir: state_dir.join(DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the file with this SHA-256 lives; an error for anything but 64 hex digits, so
    /// no value read from the database becomes a path elsewhere.
    pub fn path(&self, sha256: &str) -> Result<PathBuf> {
        if !is_sha256(sha256) {
            bail!("`{sha256}` is not a SHA-256 in hex");
        }
        Ok(self.dir.join(sha256))
    }

    /// Store `bytes` as the file named `sha256` (their hash) unless it is there already:
    /// [`Files::stage`] and [`Files::settle`] at once. Whether a new file was made.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<bool> {
        let staged = self.stage(sha256, bytes.len(), &mut |f| f.write_all(bytes))?;
        let made = staged.is_some();
        self.settle(staged.as_slice())?;
        Ok(made)
    }

    /// Write the file named `sha256`, of `size` bytes, to a temporary name unless it is there
    /// already; `write` writes its bytes. Nothing is synced yet: [`Files::settle`] the staged
    /// files before the transaction that names them commits.
    pub fn stage(
        &self,
        sha256: &str,
        size: usize,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<Option<Staged>> {
        let path = self.path(sha256)?;
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == size as u64 => return Ok(None),
            _ => {}
        }
        self.create_dir()?;
        let nonce: u64 = rand::random();
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{sha256}.{}.{nonce:016x}",
            std::process::id()
        ));
        let written = (|| -> std::io::Result<()> {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, &f);
            write(&mut out)?;
            out.flush()?;
            drop(out);
            start_writeback(&f);
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e).with_context(|| format!("Cannot store {}", path.display()));
        }
        Ok(Some(Staged { temp, path }))
    }

    /// Make staged files durable under their names: each synced, renamed, then the directory
    /// synced once. Call before the transaction that names them commits.
    pub fn settle(&self, staged: &[Staged]) -> Result<()> {
        if staged.is_empty() {
            return Ok(());
        }
        let mut named = Vec::with_capacity(staged.len());
        let settled = staged
            .iter()
            .try_for_each(|s| {
                std::fs::File::open(&s.temp)
                    .and_then(|f| f.sync_data())
                    .and_then(|()| std::fs::rename(&s.temp, &s.path))
                    .with_context(|| format!("Cannot store {}", s.path.display()))?;
                named.push(&s.path);
                Ok(())
            })
            .and_then(|()| sync_dir(&self.dir));
        if settled.is_err() {
            // No name whose entry may not be on disk stays for a later transaction to trust:
            // these files are new, and the transaction that would name them fails.
            for path in named {
                let _ = std::fs::remove_file(path);
            }
        }
        settled
    }

    /// The directory, made (readable by the owner only) when missing, and its own name synced.
    fn create_dir(&self) -> Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("Cannot create {}", self.dir.display()))?;
        match self.dir.parent() {
            Some(parent) => sync_dir(parent),
            None => Ok(()),
        }
    }

    /// The bytes of the file `sha256`, checked against it.
    pub fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path(sha256)?;
        let bytes =
            std::fs::read(&path).with_context(|| format!("Cannot read {}", path.display()))?;
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            bail!(
                "{} is damaged: its SHA-256 is {actual}; restore it from a backup",
                path.display()
            );
        }
        Ok(bytes)
    }
}

/// A file written to its temporary name, to sync and rename ([`Files::settle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    temp: PathBuf,
    path: PathBuf,
}

/// Start writing the file's data to disk now, without waiting: when the batch's files are
/// synced one after the other, the first sync finds the others on their way, and the file
/// system commits them together instead of one journal commit per file.
fn start_writeback(f: &std::fs::File) {
    use std::os::fd::AsRawFd as _;
    // SAFETY: a plain syscall on an open file descriptor; a failure only loses the head start.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("Cannot sync directory {}", dir.display()))
}

/// One file of a task, as listed by `tasks show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRow {
    pub id: i64,
    pub task_id: i64,
    /// 1, 2, …: its place among the task's files, for `musaid tasks attachment ID INDEX`.
    pub index: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Who sent it (the From address).
    pub sender: String,
    /// `owner`, `va` or `stranger`, as the message was decided.
    pub role: String,
    /// When it was recorded (Unix seconds).
    pub at: i64,
    pub message_id: String,
    /// When `attachments_keep` purged its file (the row stays).
    pub purged_at: Option<i64>,
}

const COLUMNS: &str = "a.id, a.task_id, a.idx, a.filename, a.content_type, a.size, a.sha256, \
    a.sender, a.role, a.at, a.message_id, a.purged_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.get(0)?,
        task_id: r.get(1)?,
        index: r.get(2)?,
        filename: r.get(3)?,
        content_type: r.get(4)?,
        size: r.get(5)?,
        sha256: r.get(6)?,
        sender: r.get(7)?,
        role: r.get(8)?,
        at: r.get(9)?,
        message_id: r.get(10)?,
        purged_at: r.get(11)?,
    })
}

fn rows(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<AttachmentRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(p, row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The role's name in the `attachments` table.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Va => "va",
        Role::Stranger => "stranger",
    }
}

/// Store every file of `msg` (parsed from `raw`) for task `task`, sent by someone in `role`,
/// and number them after the task's others. Call inside the message's transaction; returns
/// the files it staged, to [`Files::settle`] before the commit.
pub fn keep(
    tx: &Transaction<'_>,
    files: &Files,
    raw: &[u8],
    msg: &Message,
    task: i64,
    role: Role,
    now: i64,
) -> Result<Vec<Staged>> {
    let mut staged = Vec::new();
    if msg.attachments.is_empty() {
        return Ok(staged);
    }
    let mut next: i64 = tx
        .prepare_cached("SELECT coalesce(max(idx), 0) + 1 FROM attachments WHERE task_id = ?1")?
        .query_row(params![task], |r| r.get(0))?;
    let sender = msg.from_email();
    let mut seen = std::collections::BTreeSet::new();
    for a in &msg.attachments {
        if matches!(a.content, Content::Released) {
            continue; // never for a message in hand
        }
        if seen.insert(a.sha256.as_str()) {
            staged.extend(stage(files, raw, a)?);
        }
        tx.prepare_cached(
            "INSERT INTO attachments (task_id, idx, filename, content_type, size, sha256, \
             sender, role, at, message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            task,
            next,
            a.filename,
            a.content_type,
            a.size as i64,
            a.sha256,
            sender,
            role_name(role),
            now,
            msg.message_id
        ])
        .context("Cannot record the attachment")?;
        next += 1;
    }
    Ok(staged)
}

/// Stage one file of a message, its bytes checked against its size.
fn stage(files: &Files, raw: &[u8], a: &Attachment) -> Result<Option<Staged>> {
    files.stage(&a.sha256, a.size, &mut |out| {
        let mut counted = Counted { out, n: 0 };
        a.write_to(raw, &mut counted)?;
        if counted.n == a.size {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "{} bytes instead of {}",
                counted.n, a.size
            )))
        }
    })
}

/// A writer that counts what goes through it.
struct Counted<'w> {
    out: &'w mut dyn std::io::Write,
    n: usize,
}

impl std::io::Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.n += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Forget the bytes of `msg`'s files once they are stored: the message itself stays.
pub fn release(msg: &mut Message) {
    for a in &mut msg.attachments {
        a.content = Content::Released;
    }
}

/// Every file of task `task`, by index.
pub fn of_task(conn: &Connection, task: i64) -> Result<Vec<AttachmentRow>> {
    rows(
        conn,
        &format!("SELECT {COLUMNS} FROM attachments a WHERE a.task_id = ?1 ORDER BY a.idx"),
        params![task],
    )
}

/// File `index` of task `task`.
pub fn one(conn: &Connection, task: i64, index: i64) -> Result<Option<AttachmentRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.task_id = ?1 AND a.idx = ?2"
        ))?
        .query_row(params![task, index], row)
        .optional()?)
}

/// The files that came with message `message_id` in task `task`'s thread, by index.
pub fn of_message(conn: &Connection, task: i64, message_id: &str) -> Result<Vec<AttachmentRow>> {
    rows(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.task_id = ?1 AND a.message_id = ?2 \
             AND a.purged_at IS NULL ORDER BY a.idx"
        ),
        params![task, message_id],
    )
}

/// The files VAs sent in task `task`'s thread that no mail to `recipient` has carried or
/// listed yet, by index: what the owner's done notice or `#send` mail takes.
pub fn from_vas_not_sent_to(
    conn: &Connection,
    task: i64,
    recipient: &str,
) -> Result<Vec<AttachmentRow>> {
    rows(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM attachments a WHERE a.task_id = ?1 AND a.role = 'va' \
             AND a.purged_at IS NULL AND NOT EXISTS (SELECT 1 FROM outbox_attachments oa \
             JOIN outbox o ON o.id = oa.outbox_id \
             WHERE oa.attachment_id = a.id AND o.recipient = ?2) ORDER BY a.idx"
        ),
        params![task, recipient],
    )
}

/// Record that outbox row `outbox_id` carries (`true`) or lists (`false`) each file.
pub fn link(tx: &Transaction<'_>, outbox_id: i64, files: &[(i64, bool)]) -> Result<()> {
    for (attachment, carried) in files {
        tx.prepare_cached(
            "INSERT INTO outbox_attachments (outbox_id, attachment_id, carried) \
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![outbox_id, attachment, carried])
        .context("Cannot record a mail's attachment")?;
    }
    Ok(())
}

/// The files outbox row `outbox_id` carries, in their order.
pub fn carried_by(conn: &Connection, outbox_id: i64) -> Result<Vec<AttachmentRow>> {
    rows(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM outbox_attachments oa JOIN attachments a \
             ON a.id = oa.attachment_id WHERE oa.outbox_id = ?1 AND oa.carried = 1 \
             ORDER BY a.task_id, a.idx"
        ),
        params![outbox_id],
    )
}

/// Move task `from`'s files to task `into` (a merge), numbered after `into`'s own. Returns
/// how many moved.
pub fn move_to(tx: &Transaction<'_>, from: i64, into: i64) -> Result<usize> {
    let base: i64 = tx.query_row(
        "SELECT coalesce(max(idx), 0) FROM attachments WHERE task_id = ?1",
        params![into],
        |r| r.get(0),
    )?;
    // Two steps, so no new index meets an old one of the same task on the way.
    tx.execute(
        "UPDATE attachments SET idx = -idx WHERE task_id = ?1",
        params![from],
    )?;
    let moved = tx.execute(
        "UPDATE attachments SET task_id = ?2, idx = ?3 - idx WHERE task_id = ?1",
        params![from, into, base],
    )?;
    Ok(moved)
}

/// What the files take: how many distinct files are kept, and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub files: i64,
    pub bytes: i64,
}

/// The files kept (not purged), each once.
pub fn usage(conn: &Connection) -> Result<Usage> {
    Ok(conn.query_row(
        "SELECT count(*), coalesce(sum(size), 0) FROM (SELECT max(size) AS size FROM attachments \
         WHERE purged_at IS NULL GROUP BY sha256)",
        [],
        |r| {
            Ok(Usage {
                files: r.get(0)?,
                bytes: r.get(1)?,
            })
        },
    )?)
}

/// Mark purged the files of tasks that ended (done, cancelled, merged) at or before `before`
/// (Unix seconds). Returns how many rows were marked; [`sweep`] then removes the files no
/// other row still needs.
pub fn purge_ended(tx: &Transaction<'_>, before: i64, now: i64) -> Result<usize> {
    tx.execute(
        "UPDATE attachments SET purged_at = ?2 WHERE purged_at IS NULL AND task_id IN \
         (SELECT id FROM tasks WHERE status NOT IN ('open', 'in_progress', 'waiting') \
         AND done_at IS NOT NULL AND done_at <= ?1)",
        params![before, now],
    )
    .context("Cannot mark purged attachments")
}

/// What a purge did: rows marked purged, and what the sweep after it removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub rows: usize,
    pub swept: Swept,
}

/// The `meta` key of the last purge's time (Unix seconds).
const LAST_PURGE: &str = "attachments_purged_at";

/// How often [`purge_if_due`] purges.
pub const PURGE_EVERY: i64 = 86400;

/// Once a day: mark purged the files of tasks that ended more than `keep` before `now`, then
/// [`sweep`]. None when the last purge was less than a day ago.
pub fn purge_if_due(
    store: &mut Store,
    files: &Files,
    keep: std::time::Duration,
    now: i64,
) -> Result<Option<Purged>> {
    let last = super::meta_get(store.conn(), LAST_PURGE)?.and_then(|v| v.parse::<i64>().ok());
    if last.is_some_and(|t| now - t < PURGE_EVERY && t <= now) {
        return Ok(None);
    }
    let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let tx = store.transaction()?;
    let rows = purge_ended(&tx, now.saturating_sub(keep), now)?;
    super::meta_set(&tx, LAST_PURGE, &now.to_string())?;
    tx.commit().context("Cannot commit the purge")?;
    let swept = sweep(store, files)?;
    Ok(Some(Purged { rows, swept }))
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub files: usize,
    pub bytes: u64,
}

/// Remove every file of the directory that no row (not purged) names, and temporary files
/// left by a crash: under the database's write lock, so that no writer is between storing a
/// file and committing its row.
pub fn sweep(store: &mut Store, files: &Files) -> Result<Swept> {
    let tx = store.transaction()?;
    let mut swept = Swept::default();
    let entries = match std::fs::read_dir(files.dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
        Err(e) => return Err(e).with_context(|| format!("Cannot read {}", files.dir().display())),
    };
    let mut wanted = tx.prepare_cached(
        "SELECT 1 FROM attachments WHERE sha256 = ?1 AND purged_at IS NULL LIMIT 1",
    )?;
    for entry in entries {
        let entry = entry.with_context(|| format!("Cannot read {}", files.dir().display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue; // not ours
        };
        let unwanted = if name.starts_with(TEMP_PREFIX) {
            true
        } else if is_sha256(name) {
            !wanted.exists(params![name])?
        } else {
            false // not ours: left alone
        };
        if unwanted {
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(entry.path())
                .with_context(|| format!("Cannot remove {}", entry.path().display()))?;
            swept.files += 1;
            swept.bytes += bytes;
        }
    }
    drop(wanted);
    tx.commit()?;
    Ok(swept)
}

#[cfg(test)]
mod tests;
