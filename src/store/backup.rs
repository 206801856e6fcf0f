//! `musaid backup`: a consistent copy of the database with SQLite's online backup API, safe
//! while the daemon runs (one read transaction copies a snapshot; the daemon writes on).

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
}

impl Store {
    /// Copy the database to `dest`, a new file (readable by the owner only); an existing
    /// `dest` is never overwritten.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupReport> {
        if dest.symlink_metadata().is_ok() {
            bail!(
                "Refusing to overwrite {}; choose a new file name",
                dest.display()
            );
        }
        // create_new claims the name atomically; SQLite takes an empty file as a new database.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .with_context(|| format!("Cannot create {}", dest.display()))?;
        let result = copy_into(self.conn(), dest);
        if result.is_err() {
            // Leave no half-written file that a later restore could mistake for a backup.
            let _ = std::fs::remove_file(dest);
        }
        result
    }
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
}
