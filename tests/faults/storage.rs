//! The state directory under stress: a backup loop while a backlog is ingested, and a full
//! disk; nothing is corrupted and no mail is lost or sent twice.

use super::world::*;
use crate::support::servers;
use chrono::{Timelike, Utc};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// --- backups while the daemon writes ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_loop_during_a_backlog_loses_nothing_and_every_copy_is_sound() {
    let n: usize = 300;
    let world = World::new("backup");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut ids = BTreeSet::new();
    for i in 0..n {
        ids.insert(world.request(&format!("Request {i}"), "x"));
    }
    let mut s = musaid::imap::connect(&servers::imap_config_for(server, &people.inbox))
        .await
        .expect("imap");
    let mut delivered = 0;
    for _ in 0..600 {
        delivered = s.message_count("INBOX").await.unwrap_or(0);
        if delivered as usize >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered as usize, n, "Postfix did not deliver the backlog");

    let backups = world.dir.path().join("backups");
    std::fs::create_dir_all(&backups).expect("mkdir");
    let mut d = world.start(ack_limit);
    let started = Instant::now();
    // `musaid backup` to a new file, again and again, until the daemon is done.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let looper = {
        let (stop, config, backups, state) = (
            stop.clone(),
            world.config(),
            backups.clone(),
            state.to_path_buf(),
        );
        std::thread::spawn(move || {
            let mut runs = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if !db_file(&state).exists() {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let dest = backups.join(format!("b{i:04}.db"));
                let t = Instant::now();
                let mut c = Command::new(env!("CARGO_BIN_EXE_musaid"))
                    .arg("--config")
                    .arg(&config)
                    .arg("backup")
                    .arg(&dest)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("musaid backup");
                let status = loop {
                    if let Ok(Some(s)) = c.try_wait() {
                        break Some(s);
                    }
                    if t.elapsed() > Duration::from_secs(60) {
                        let _ = c.kill();
                        let _ = c.wait();
                        break None;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                };
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                runs.push((dest, status, t.elapsed(), err));
                i += 1;
                // As a tight backup job would: one after another, with a breath between.
                std::thread::sleep(Duration::from_millis(150));
            }
            runs
        })
    };
    let done = wait_for(Duration::from_secs(180), || all_done(state, n));
    let took = started.elapsed();
    // One more backup after the end, so the last copy must hold everything.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let runs = looper.join().expect("backup loop");
    let status = d.term();
    assert!(
        done,
        "{} of {n} tasks, {} unsent, with backups running\n{}",
        scalar(state, TASKS),
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let tasks = strings(state, "SELECT message_id FROM tasks");
    assert_eq!(tasks.len(), n);
    assert_eq!(tasks.into_iter().collect::<BTreeSet<_>>(), ids);
    assert_eq!(scalar(state, "SELECT count(*) FROM messages"), n as i64);

    let failed: Vec<_> = runs
        .iter()
        .filter(|(_, s, _, _)| !s.is_some_and(|s| s.success()))
        .map(|(p, s, t, e)| format!("{}: {s:?} after {t:.1?}: {e}", p.display()))
        .collect();
    let mut counts = Vec::new();
    let mut while_sending = 0;
    for (path, _, _, _) in runs
        .iter()
        .filter(|(_, s, _, _)| s.is_some_and(|s| s.success()))
    {
        assert_eq!(problems(path), Vec::<String>::new(), "{}", path.display());
        let c = open_ro(path).expect("backup opens");
        let tasks: i64 = c
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
            .expect("tasks in the backup");
        counts.push(tasks);
        let unsent: i64 = c
            .query_row(UNSENT, [], |r| r.get(0))
            .expect("outbox in the backup");
        if unsent > 0 {
            while_sending += 1;
        }
    }
    let slowest = runs.iter().map(|(_, _, t, _)| *t).max().unwrap_or_default();
    let mid = counts.iter().filter(|c| **c < n as i64).count();
    eprintln!(
        "FAULTS backups: {n} requests ingested and {} mails sent in {took:.1?} while {} \
         backups ran ({mid} taken mid-ingest, {while_sending} while mail was going out, slowest {slowest:.1?}, {} failed)",
        2 * n,
        runs.len(),
        failed.len(),
    );
    assert!(failed.is_empty(), "backups failed: {failed:#?}");
    assert!(runs.len() >= 3, "the loop hardly ran: {}", runs.len());
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "a later backup holds fewer tasks: {counts:?}"
    );
    assert_eq!(
        counts.last().copied(),
        Some(n as i64),
        "the last copy holds everything"
    );
    assert_eq!(problems(&db_file(state)), Vec::<String>::new());
}

// --- the state directory's disk full ------------------------------------------------

/// A small tmpfs, unmounted on drop (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Fill the file system under `path` with a junk file until a write fails.
fn fill(path: &Path) -> u64 {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path).expect("junk");
    let chunk = vec![0x55u8; 16 * 1024];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // The last partial chunk: fill byte by byte to the very end.
    while f.write_all(&chunk[..1]).is_ok() {
        written += 1;
    }
    let _ = f.sync_all();
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_the_state_directory_corrupts_nothing_and_loses_no_mail() {
    let full_for = Duration::from_secs(scale(5, 30));
    let world = World::new("diskfull");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    // Declared after the world and before the daemon, so it is unmounted after the daemon is
    // gone and before the directory is removed.
    let _mount = match Tmpfs::mount(state, "3M") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({e}); the disk-full test needs root");
            return;
        }
    };
    // The acks of the first requests fall due while the disk is full: the window opens 20 s
    // after the start, and the disk is filled well before that.
    let opens = Utc::now() + chrono::Duration::seconds(20);
    let cron = format!(
        "{} {} {} * * *",
        opens.second(),
        opens.minute(),
        opens.hour()
    );
    let mut d =
        world.start_synced(|c| ack_limit(c).contract("acme", |c| c.cron_window(&cron, "1h")));
    let mut ids = BTreeSet::new();
    let send = |ids: &mut BTreeSet<String>, i: usize| {
        // A few kilobytes, so the database must grow.
        let body = format!(
            "Request {i}.\n{}",
            "Some details of the request. ".repeat(100)
        );
        ids.insert(world.request(&format!("Request {i}"), &body));
    };
    for i in 0..5 {
        send(&mut ids, i);
    }
    // Tasks made, the VA told; the acks wait for the window.
    assert!(wait_for(Duration::from_secs(20), || scalar(state, TASKS)
        == 5
        && scalar(state, UNSENT) == 5));

    let junk = state.join("junk");
    let filled = fill(&junk);
    assert!(
        Utc::now() + chrono::Duration::seconds(3) < opens,
        "too slow: the disk was filled after the window opened"
    );
    let log_before = d.log_text().len();
    let full_error = |d: &Musaid| {
        d.log_text()
            .get(log_before..)
            .is_some_and(|t| t.contains("database or disk is full"))
    };
    // Requests until the daemon's writes fail.
    let mut i = 5;
    let failed_at = Instant::now();
    while !full_error(&d) && i < 200 && failed_at.elapsed() < Duration::from_secs(60) {
        send(&mut ids, i);
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        full_error(&d),
        "the daemon never hit the full disk ({i} requests)\n{}",
        d.tail()
    );
    // A few more while it is full, then leave it full a while.
    for _ in 0..5 {
        send(&mut ids, i);
        i += 1;
    }
    // Full until a while after the window opened: the acks are due on a full disk.
    if let Ok(wait) = (opens - Utc::now()).to_std() {
        std::thread::sleep(wait);
    }
    std::thread::sleep(full_for);
    let during = d.exited();
    assert!(
        !during.is_some_and(|s| s.success()),
        "the daemon exited 0 on a full disk"
    );
    let tasks_while_full = scalar(state, TASKS);
    assert_eq!(
        problems(&db_file(state)),
        Vec::<String>::new(),
        "while full"
    );

    std::fs::remove_file(&junk).expect("free the space");
    let freed = Instant::now();
    if during.is_some() {
        d.spawn();
    }
    let total = ids.len();
    let ok = wait_for(Duration::from_secs(scale(120, 300)), || {
        all_done(state, total)
    });
    let took = freed.elapsed();
    let status = d.term();
    assert!(
        ok,
        "{} of {total} tasks, {} unsent after the space came back\n{}",
        scalar(state, TASKS),
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let tasks = strings(state, "SELECT message_id FROM tasks");
    assert_eq!(tasks.len(), total, "no duplicate task");
    assert_eq!(tasks.into_iter().collect::<BTreeSet<_>>(), ids);
    assert_eq!(problems(&db_file(state)), Vec::<String>::new());
    let acks = settled(server, &people.owner, "ack", total, Duration::from_secs(60)).await;
    let notes = settled(server, &people.va, "notify", total, Duration::from_secs(60)).await;
    // How often the sender had mail accepted that it could not record (it then sends nothing
    // until it can).
    let unrecorded = d
        .log_text()
        .matches("was sent but cannot be recorded")
        .count();
    eprintln!(
        "FAULTS disk full: {filled} junk bytes, {total} requests ({} tasks while full), the \
         daemon {} and had everything {took:.1?} after the space came back; {unrecorded} \
         mails sent but not recordable at first; acks {} distinct, {} resends; \
         notifications {} distinct, {} resends",
        tasks_while_full,
        match during {
            None => "kept retrying".to_string(),
            Some(s) => format!("exited ({s})"),
        },
        acks.distinct(),
        acks.resends(),
        notes.distinct(),
        notes.resends()
    );
    assert_eq!(acks.by_task.len(), total);
    assert_eq!(acks.duplicated_tasks(), vec![]);
    assert_eq!(notes.duplicated_tasks(), vec![]);
    assert_eq!(
        acks.resends() + notes.resends(),
        0,
        "a full disk must not make mail go out twice"
    );
}
