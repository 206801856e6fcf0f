//! Crashes: SIGKILL at random instants while mail arrives, and kill -9 during a backlog;
//! nothing is lost, nothing duplicated, every ack sent once and inside a window.

use super::world::*;
use crate::support::config::ConfigBuilder;
use crate::support::daemon::{
    config, delivered, eventually, noise, request_with_files, send_requests, tasks, File, People,
};
use crate::support::servers::{self, mailserver};
use chrono::{Timelike, Utc};
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

// --- crash storm ----------------------------------------------------------------------

/// Open for the first 40 seconds of every minute (UTC), so "outside a window" is checkable
/// on every ack.
fn every_minute(c: ConfigBuilder) -> ConfigBuilder {
    c.contract("acme", |c| c.cron_window("0 * * * * *", "40s"))
}
const WINDOW_SECONDS: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_storm_sigkill_at_random_instants_loses_nothing_and_acks_once_inside_windows() {
    let n: usize = scale(200, 2000);
    let kills: usize = scale(5, 20);
    let pace = Duration::from_millis(100);
    let seed: u64 = std::env::var("MUSAID_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let world = World::new("storm");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut d = world.start_synced(|c| {
        every_minute(c)
            .policy("acks_per_sender_per_day", 100000)
            .policy("mails_per_recipient_per_hour", 100000)
    });

    let started = Instant::now();
    let sender = send_steadily(server, people, n, pace, "Please see to it.");
    // One kill at a random instant in each of `kills` equal slots of the sending time (and a
    // little after it): spread out, but random within its slot.
    let span = pace * n as u32 + Duration::from_secs(5);
    let slot = span / kills as u32;
    let mut kills_in_window = 0;
    for k in 0..kills {
        let at = slot * k as u32 + slot.mul_f64(rng.random_range(0.15..0.95));
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        d.kill9();
        if Utc::now().second() < WINDOW_SECONDS {
            kills_in_window += 1;
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..500)));
        d.spawn();
    }
    let ids = sender.join().expect("the sender thread");
    let sent_in = started.elapsed();

    // The last daemon runs until every request is a task and every mail has gone (acks wait
    // for the next window: at most 20 s), then stops as systemd stops it.
    let done = wait_for(Duration::from_secs(scale(150, 900)), || all_done(state, n));
    let finished_in = started.elapsed();
    let status = d.term();
    assert!(
        done,
        "after {} kills: {} of {n} tasks, {} mails unsent\n{}",
        kills,
        scalar(state, TASKS),
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        d.tail()
    );

    // Every request is exactly one task.
    let tasks = strings(state, "SELECT message_id FROM tasks");
    let distinct: BTreeSet<String> = tasks.iter().cloned().collect();
    let expected: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(tasks.len(), n, "one task per request, no more");
    assert_eq!(distinct, expected, "the tasks are the requests");
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM (SELECT task_id FROM outbox WHERE kind = 'ack' \
             GROUP BY task_id HAVING count(*) <> 1)"
        ),
        0,
        "one ack queued per task"
    );

    // Every ack went out inside a window: its send time in the outbox and its Date header
    // fall in seconds 0–40 of a minute. The window is [0 s, 40 s); the 1 s of slack is for
    // the moments between the sender's window check and the clock reading (the Date is
    // stamped when the mail is built, `sent_at` when the server has said 250), both
    // truncated to whole seconds.
    let late: Vec<String> = strings(
        state,
        "SELECT message_id || ' ' || sent_at FROM outbox WHERE kind = 'ack' \
         AND (sent_at IS NULL OR sent_at % 60 > 40)",
    );
    assert!(late.is_empty(), "acks sent outside a window: {late:?}");

    let acks = settled(server, &people.owner, "ack", n, Duration::from_secs(120)).await;
    let notes = settled(server, &people.va, "notify", n, Duration::from_secs(60)).await;
    let outside: Vec<_> = acks
        .dates
        .iter()
        .filter(|(_, d)| !d.is_some_and(|d| d.second() <= WINDOW_SECONDS))
        .collect();
    eprintln!(
        "FAULTS crash storm: seed {seed}, {n} requests in {:.0?}, {} daemon starts, {kills} \
         SIGKILLs ({kills_in_window} while a window was open), done after {:.0?}; acks: {} \
         distinct, {} copies, {} resends with the same Message-ID; VA notifications: {} \
         distinct, {} resends; acks dated outside a window: {}",
        sent_in,
        d.starts,
        finished_in,
        acks.distinct(),
        acks.total,
        acks.resends(),
        notes.distinct(),
        notes.resends(),
        outside.len()
    );
    assert_eq!(
        acks.duplicated_tasks(),
        vec![],
        "two different acks for a task"
    );
    assert_eq!(acks.by_task.len(), n, "every task's ack arrived");
    assert_eq!(
        notes.duplicated_tasks(),
        vec![],
        "two different notifications"
    );
    assert_eq!(notes.by_task.len(), n, "every task's notification arrived");
    assert!(outside.is_empty(), "ack Date outside a window: {outside:?}");
    // A resend needs a kill between the server's 250 and the commit: at most one per kill.
    assert!(
        acks.resends() + notes.resends() <= kills,
        "more resends than kills"
    );
    assert_eq!(problems(&db_file(state)), Vec::<String>::new());
}

// --- kill -9 during a backlog ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ingest_loses_nothing_and_duplicates_nothing() {
    let server = mailserver();
    let people = People::new("kill9");
    let n: usize = 300;
    send_requests(&people, n, |i| format!("Request {i}"), "Body.");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(
        delivered(&mut s, "INBOX", n as u32).await,
        "backlog not delivered"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let config = config(server, &people, &state)
        .imap_set("after", "move:Processed")
        .write(&dir.path().join("musaid.toml"));
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("musaid run")
    };
    // Kill it three times in the middle of the backlog, then let it finish.
    for round in 0..3 {
        let mut child = spawn();
        let target = (round + 1) * 40;
        eventually(Duration::from_secs(30), || tasks(&state).len() >= target).await;
        child.kill().expect("kill -9");
        let _ = child.wait();
    }
    let mut child = spawn();
    let ok = eventually(Duration::from_secs(60), || tasks(&state).len() >= n).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok,
        "only {} of {n} tasks after restarts",
        tasks(&state).len()
    );
    let t = tasks(&state);
    let distinct: BTreeSet<_> = t.iter().map(|t| t.message_id.clone()).collect();
    assert_eq!(t.len(), n, "no duplicate tasks");
    assert_eq!(distinct.len(), n);
    // Every message was moved exactly once: nothing left, nothing lost.
    let inbox = s.message_count("INBOX").await.expect("count");
    let processed = s.message_count("Processed").await.expect("count");
    assert_eq!((inbox as usize, processed as usize), (0, n));
}

// --- kill -9 during a backlog with files ---------------------------------------------------

/// The names in the attachments directory, and their contents' hashes.
fn files_on_disk(state: &std::path::Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(state.join("attachments"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        musaid::store::attachments::sha256_hex(&bytes),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_backlog_with_files_leaves_every_file_stored_once_and_named() {
    let server = mailserver();
    let people = People::new("kill9files");
    let n: usize = 150;
    // Each request carries a file of its own and the letterhead every request shares.
    let letterhead = noise(30_000, 9999);
    let mut own = Vec::new();
    for i in 0..n {
        let mine = noise(20_000, i as u64);
        let (_, raw) = request_with_files(
            &people.owner,
            &people.inbox,
            &format!("Scan {i}"),
            "Please file it.",
            &[
                File {
                    name: &format!("scan-{i}.pdf"),
                    content_type: "application/pdf",
                    bytes: &mine,
                },
                File {
                    name: "letterhead.png",
                    content_type: "image/png",
                    bytes: &letterhead,
                },
            ],
        );
        servers::send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
        own.push(musaid::store::attachments::sha256_hex(&mine));
    }
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(
        delivered(&mut s, "INBOX", n as u32).await,
        "backlog not delivered"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let config = config(server, &people, &state).write(&dir.path().join("musaid.toml"));
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("musaid run")
    };
    // Kill it three times in the middle of the backlog.
    let mut at_kills = Vec::new();
    for round in 0..3 {
        let mut child = spawn();
        let target = (round + 1) * 30;
        eventually(Duration::from_secs(30), || tasks(&state).len() >= target).await;
        child.kill().expect("kill -9");
        let _ = child.wait();
        at_kills.push(tasks(&state).len());
    }
    println!("FAULTS kill -9 with files: tasks at the kills {at_kills:?} of {n}");
    assert!(
        at_kills.iter().any(|&t| t < n),
        "every kill came after the backlog: {at_kills:?}"
    );
    // What a crash between storing a file and committing its record leaves, made sure of.
    let files = state.join("attachments");
    std::fs::write(
        files.join(musaid::store::attachments::sha256_hex(b"orphan")),
        b"orphan",
    )
    .expect("an orphan");
    std::fs::write(files.join(".tmp.half-written"), b"half").expect("a temporary file");
    let mut child = spawn();
    let ok = eventually(Duration::from_secs(60), || tasks(&state).len() >= n).await;
    let c = musaid::store::Store::open(&state).expect("db");
    let rows = |sql: &str| -> Vec<(String, i64)> {
        c.conn()
            .prepare(sql)
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
            })
            .unwrap_or_default()
    };
    let named = rows("SELECT sha256, count(*) FROM attachments GROUP BY sha256 ORDER BY sha256");
    let per_message = rows(
        "SELECT message_id, count(*) FROM attachments GROUP BY message_id HAVING count(*) <> 2",
    );
    let on_disk = files_on_disk(&state);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok,
        "only {} of {n} tasks after restarts",
        tasks(&state).len()
    );
    assert_eq!(tasks(&state).len(), n, "no duplicate tasks");
    assert!(
        per_message.is_empty(),
        "files recorded twice or not at all: {per_message:?}"
    );
    // Each file on disk once, under its own hash, and named by the records: a scan by its
    // task only, the letterhead by every task; no orphan, no temporary file left.
    let letterhead = musaid::store::attachments::sha256_hex(&letterhead);
    let mut want: Vec<(String, i64)> = own.iter().map(|s| (s.clone(), 1)).collect();
    want.push((letterhead, n as i64));
    want.sort();
    assert_eq!(named, want);
    let names: Vec<String> = on_disk.iter().map(|(name, _)| name.clone()).collect();
    let hashes: Vec<String> = on_disk.iter().map(|(_, h)| h.clone()).collect();
    let named_files: Vec<String> = want.into_iter().map(|(s, _)| s).collect();
    assert_eq!(names, named_files, "exactly the files the records name");
    assert_eq!(hashes, named_files, "each file's bytes are its name's");
}
