//! `musaid backup`: a consistent copy of the database with SQLite's online backup API, safe
//! while the daemon runs (one read transaction copies a snapshot; the daemon writes on), and
//! of the attachment files that copy names, into `DEST.attachments/`.

use super::attachments::Files;
use super::Store;
use anyhow::{bail, Context as _, Result};
use rusqlite::backup::Backup;
use rusqlite::Connection;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub tasks: i64,
    pub messages: i64,
    pub schema_version: i64,
    /// Where the attachment files went, how many and how many bytes.
    pub attachments_dir: std::path::PathBuf,
    pub attachment_files: usize,
    pub attachment_bytes: u64,
    /// Files the copy names that were gone by the time they were copied (purged meanwhile):
    /// marked purged in the copy.
    pub attachments_missing: usize,
}

/// Where `musaid backup DEST` puts the attachment files: `DEST.attachments/`.
pub fn attachments_dir(dest: &Path) -> std::path::PathBuf {
    let mut name = dest.as_os_str().to_os_string();
    name.push(".attachments");
    name.into()
}

impl Store {
    /// Copy the database to `dest`, a new file (readable by the owner only), and the
    /// attachment files it names to the new directory `dest.attachments`; an existing `dest`
    /// (or directory) is never overwritten.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupReport> {
        let files_dest = attachments_dir(dest);
        for path in [dest, files_dest.as_path()] {
            if path.symlink_metadata().is_ok() {
                bail!(
                    "Refusing to overwrite {}; choose a new file name",
                    path.display()
                );
            }
        }
        // create_new claims the name atomically; SQLite takes an empty file as a new database.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .with_context(|| format!("Cannot create {}", dest.display()))?;
        let state_dir = self.path().parent().unwrap_or(Path::new("."));
        let result = copy_into(self.conn(), dest).and_then(|report| {
            let copied = copy_files(dest, &Files::new(state_dir), &files_dest)?;
            Ok(BackupReport {
                attachments_dir: files_dest.clone(),
                attachment_files: copied.files,
                attachment_bytes: copied.bytes,
                attachments_missing: copied.missing,
                ..report
            })
        });
        if result.is_err() {
            // Leave nothing half-written that a later restore could mistake for a backup.
            let _ = std::fs::remove_file(dest);
            let _ = std::fs::remove_dir_all(&files_dest);
        }
        result
    }
}

#[derive(Debug, Default)]
struct Copied {
    files: usize,
    bytes: u64,
    missing: usize,
}

/// Copy every file the database copy at `db` names (not purged) from `from` into the new
/// directory `to`, each synced; a file gone meanwhile is marked purged in the copy.
fn copy_files(db: &Path, from: &Files, to: &Path) -> Result<Copied> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(to)
        .with_context(|| format!("Cannot create {}", to.display()))?;
    let copy = Connection::open(db).with_context(|| format!("Cannot open {}", db.display()))?;
    let wanted: Vec<String> = copy
        .prepare("SELECT DISTINCT sha256 FROM attachments WHERE purged_at IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut done = Copied::default();
    for sha in &wanted {
        let source = from.path(sha)?;
        let target = to.join(sha);
        match std::fs::copy(&source, &target) {
            Ok(bytes) => {
                std::fs::File::open(&target)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("Cannot sync {}", target.display()))?;
                done.files += 1;
                done.bytes += bytes;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                copy.execute(
                    "UPDATE attachments SET purged_at = strftime('%s', 'now') \
                     WHERE sha256 = ?1 AND purged_at IS NULL",
                    [sha],
                )?;
                done.missing += 1;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("Cannot copy {} to {}", source.display(), target.display())
                })
            }
        }
    }
    std::fs::File::open(to)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("Cannot sync {}", to.display()))?;
    Ok(done)
}

fn copy_into(src: &Connection, dest: &Path) -> Result<BackupReport> {
    let mut dst = Connection::open(dest)
        .with_context(|| format!("Cannot open {} as a database", dest.display()))?;
    {
        let backup = Backup::new(src, &mut dst).context("Cannot start the backup")?;
        // All pages in one step, under one read transaction: a consistent snapshot that (in
        // WAL mode) never blocks the daemon. Copying in small steps instead restarts the copy
        // whenever the daemon commits between two steps, so a busy daemon (one commit per
        // mail sent) kept a backup of a few megabytes going for seconds, or for ever.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match backup.step(-1).context("The backup failed")? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() >= deadline => {
                    bail!("The backup did not finish within 60 s: the database stays locked")
                }
                // Busy or locked (a migration, say): wait and try again.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    let report = BackupReport {
        attachments_dir: std::path::PathBuf::new(),
        attachment_files: 0,
        attachment_bytes: 0,
        attachments_missing: 0,
        bytes: 0,
        tasks: dst.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))?,
        messages: dst.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?,
        schema_version: dst.pragma_query_value(None, "user_version", |r| r.get(0))?,
    };
    let check: String = dst
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .context("Cannot check the copy")?;
    if check != "ok" {
        bail!(
            "The copy in {} fails its integrity check: {check}",
            dest.display()
        );
    }
    drop(dst);
    let bytes = std::fs::metadata(dest)
        .with_context(|| format!("Cannot read {}", dest.display()))?
        .len();
    Ok(BackupReport { bytes, ..report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state")).unwrap();
        super::super::meta_set(store.conn(), "last_sync", "42").unwrap();
        let dest = dir.path().join("copy.db");
        let r = store.backup_to(&dest).unwrap();
        assert_eq!(r.tasks, 0);
        assert!(r.schema_version >= 1);
        assert!(r.bytes > 0);
        let copy = Connection::open(&dest).unwrap();
        assert_eq!(
            super::super::meta_get(&copy, "last_sync")
                .unwrap()
                .as_deref(),
            Some("42")
        );
        let err = store.backup_to(&dest).unwrap_err().to_string();
        assert!(err.contains("Refusing to overwrite"), "{err}");
    }

    #[test]
    fn the_files_the_copy_names_are_copied_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = Store::open(&state).unwrap();
        let files = Files::new(&state);
        let kept = crate::store::attachments::sha256_hex(b"kept");
        let gone = crate::store::attachments::sha256_hex(b"gone");
        files.put(&kept, b"kept").unwrap();
        store
            .conn()
            .execute_batch(&format!(
                "INSERT INTO tasks (id, contract, status, category, priority, requester, subject,
                     note, message_id, created_at, updated_at)
                 VALUES (1, 'acme', 'open', 'general', 'normal', 'b@x', 's', '', 'm@x', 0, 0);
                 INSERT INTO attachments (task_id, idx, filename, content_type, size, sha256,
                     sender, role, at, message_id) VALUES
                 (1, 1, 'kept.pdf', 'application/pdf', 4, '{kept}', 'b@x', 'owner', 0, 'm@x'),
                 (1, 2, 'gone.pdf', 'application/pdf', 4, '{gone}', 'b@x', 'owner', 0, 'm@x');"
            ))
            .unwrap();
        let dest = dir.path().join("copy.db");
        let r = store.backup_to(&dest).unwrap();
        assert_eq!(r.attachments_dir, dir.path().join("copy.db.attachments"));
        assert_eq!((r.attachment_files, r.attachment_bytes), (1, 4));
        assert_eq!(r.attachments_missing, 1);
        assert_eq!(
            std::fs::read(r.attachments_dir.join(&kept)).unwrap(),
            b"kept"
        );
        let copy = Connection::open(&dest).unwrap();
        let purged: Vec<bool> = copy
            .prepare("SELECT purged_at IS NOT NULL FROM attachments ORDER BY idx")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            purged,
            [false, true],
            "the missing file is purged in the copy only"
        );
        // A second backup to a new name; the directory of the first is not overwritten.
        std::fs::remove_file(&dest).unwrap();
        let err = store.backup_to(&dest).unwrap_err().to_string();
        assert!(err.contains("copy.db.attachments"), "{err}");
    }
}
