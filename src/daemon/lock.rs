//! One daemon per state directory: an exclusive lock on `STATE/musaid.lock`, which holds the
//! daemon's pid, and the look `musaid status` takes at it.

use anyhow::{Context as _, Result};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

/// The file in the state directory that one running daemon holds locked.
pub const LOCK_FILE: &str = "musaid.lock";

/// A daemon's claim on its state directory: an exclusive lock on `STATE/musaid.lock`, which
/// holds its pid, until the process ends, however it ends (the kernel drops the lock). Two
/// daemons on one database would each send the same acknowledgement and summary.
pub struct StateLock {
    _file: std::fs::File,
}

/// How long a starting daemon waits for the state directory's lock before it gives up: `musaid
/// status` looks at the lock for an instant, which must not stop a daemon starting just then.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

/// The daemon holding a state directory, as `musaid status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// Its process id, as it wrote it in the lock file (null if unreadable).
    pub pid: Option<u32>,
}

/// Which daemon, if any, holds `state_dir` now. Looks without waiting, and without taking
/// anything a starting daemon would need for longer than an instant.
pub fn holder(state_dir: &Path) -> Result<Option<Holder>> {
    let path = state_dir.join(LOCK_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("Cannot open {}", path.display())),
    };
    match file.try_lock_shared() {
        // Nobody holds it (dropping the file lets go at once).
        Ok(()) => Ok(None),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(Holder {
            pid: pid_in(&mut file),
        })),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("Cannot look at {}", path.display()))
        }
    }
}

/// The pid the holder of a lock file wrote in it, if it is readable.
fn pid_in(file: &mut std::fs::File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Claim `state_dir` for this process, or say which process has it.
pub fn lock_state_dir(state_dir: &Path) -> Result<StateLock> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("Cannot create state directory {}", state_dir.display()))?;
    let path = state_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // A pid file: readable, so `musaid status` can tell who holds it.
        .mode(0o644)
        .open(&path)
        .with_context(|| format!("Cannot open {}", path.display()))?;
    let since = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if since.elapsed() < LOCK_PATIENCE => {
                // Start-up only: nothing else runs yet that this could hold up.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = pid_in(&mut file)
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                anyhow::bail!(
                    "Another musaid is already running on {}{pid}; stop it first \
                     (systemctl stop musaid), or give this one its own daemon.state_dir",
                    state_dir.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("Cannot lock {}", path.display()))
            }
        }
    }
    file.set_len(0)
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .with_context(|| format!("Cannot write {}", path.display()))?;
    Ok(StateLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_daemon_per_state_directory_and_the_refusal_names_the_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        assert_eq!(holder(&state).ok(), Some(None), "no lock file yet");
        let first = lock_state_dir(&state).expect("the first claims it");
        let pid = std::process::id().to_string();
        let held = holder(&state).ok().flatten().and_then(|h| h.pid);
        assert_eq!(held, Some(std::process::id()));
        assert_eq!(
            std::fs::read_to_string(state.join(LOCK_FILE))
                .ok()
                .as_deref(),
            Some(format!("{pid}\n").as_str())
        );
        let refused = lock_state_dir(&state).err().map(|e| format!("{e:#}"));
        let refused = refused.expect("a second daemon is refused");
        assert!(refused.contains("already running"), "{refused}");
        assert!(refused.contains(&format!("(pid {pid})")), "{refused}");
        // Gone (however it ended): nobody holds it, and the next one starts.
        drop(first);
        assert_eq!(holder(&state).ok(), Some(None));
        assert!(lock_state_dir(&state).is_ok());
    }
}
