//! Fault tests: the real `musaid run` binary against private Dovecot and Postfix instances
//! while things break — SIGKILL at random instants, Dovecot killed, Postfix stopped, a backup
//! loop on the database, a full disk under the state directory.
//!
//! The short form (the default, run in CI) scales every figure down; `MUSAID_FAULTS=full`
//! runs the figures of the issue (2,000 requests, 20 kills, a 3-minute Postfix outage, …).
//! `MUSAID_FAULTS_SEED=N` replays the kill instants of a crash storm. Each test prints a
//! `FAULTS …` line with its counts (`cargo test --test faults -- --nocapture`).

mod support;

use chrono::{DateTime, Timelike, Utc};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::config::ConfigBuilder;
use support::daemon::{config, header, mailbox, request, People};
use support::servers::{
    self as common, send_smtp_relay, send_smtp_via, MailServer, PrivateMailServer,
};

fn full() -> bool {
    std::env::var("MUSAID_FAULTS").is_ok_and(|v| v == "full")
}

/// `short` in CI, `full` with `MUSAID_FAULTS=full`.
fn scale<T>(short: T, full_: T) -> T {
    if full() {
        full_
    } else {
        short
    }
}

/// A [`PrivateMailServer`] of this test's own. Two instances starting at once may pick the
/// same free port (each script run locks only its own directory): start them one at a time,
/// and try again on a clash with another test binary.
fn private_servers() -> PrivateMailServer {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = None;
    for _ in 0..3 {
        match PrivateMailServer::start() {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
    }
    panic!("private mail servers: {last:?}");
}

// --- the daemon as a subprocess ----------------------------------------------------------

/// `musaid run` as systemd runs it, its log appended to one file across restarts.
struct Musaid {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    starts: u32,
    /// Where the current process's lines begin in the log.
    log_from: usize,
}

impl Musaid {
    fn start(config: &Path, log: &Path) -> Musaid {
        let mut m = Musaid {
            child: None,
            config: config.to_path_buf(),
            log: log.to_path_buf(),
            starts: 0,
            log_from: 0,
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "a daemon is already running");
        self.log_from = self.log_text().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("RUST_LOG", "musaid=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("musaid run");
        self.child = Some(child);
        self.starts += 1;
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Has it exited on its own? Its status then.
    fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// SIGTERM, and its exit status (None when it did not stop within 30 s; then SIGKILL).
    fn term(&mut self) -> Option<ExitStatus> {
        // Stop a running daemon, not one still starting: a SIGTERM before its handler is
        // installed kills it outright (the last one may be respawned just as the work is done).
        self.child.as_ref()?;
        wait_for(Duration::from_secs(30), || {
            self.log_text()
                .get(self.log_from..)
                .is_some_and(|t| t.contains("musaid started"))
        });
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for a failing assertion.
    fn tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Musaid {
    fn drop(&mut self) {
        self.kill9();
        // MUSAID_FAULTS_LOGS=DIR keeps every daemon log (they live in temporary directories).
        if let Some(keep) = std::env::var_os("MUSAID_FAULTS_LOGS") {
            let name = self
                .log
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&self.log, Path::new(&keep).join(format!("{name}.log")));
        }
    }
}

// --- reading the daemon's database without disturbing it --------------------------------

fn db_file(state: &Path) -> PathBuf {
    state.join(musaid::store::DB_FILE)
}

/// A read-only connection: the test never writes (or migrates) the daemon's database.
fn open_ro(path: &Path) -> Option<rusqlite::Connection> {
    if !path.exists() {
        return None;
    }
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    c.busy_timeout(Duration::from_secs(10)).ok()?;
    Some(c)
}

/// One number from the daemon's database, or -1 when it cannot be read (yet).
fn scalar(state: &Path, sql: &str) -> i64 {
    open_ro(&db_file(state))
        .and_then(|c| c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).ok())
        .flatten()
        .unwrap_or(-1)
}

fn strings(state: &Path, sql: &str) -> Vec<String> {
    let Some(c) = open_ro(&db_file(state)) else {
        return Vec::new();
    };
    let Ok(mut stmt) = c.prepare(sql) else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .unwrap_or_default()
}

/// `PRAGMA integrity_check` and `foreign_key_check` of a database file: empty when sound.
fn problems(path: &Path) -> Vec<String> {
    let Some(c) = open_ro(path) else {
        return vec![format!("{} cannot be opened", path.display())];
    };
    let mut out = Vec::new();
    match c.prepare("PRAGMA integrity_check") {
        Ok(mut s) => match s.query_map([], |r| r.get::<_, String>(0)) {
            Ok(rows) => out.extend(rows.flatten().filter(|r| r != "ok")),
            Err(e) => out.push(format!("integrity_check: {e}")),
        },
        Err(e) => out.push(format!("integrity_check: {e}")),
    }
    match c.prepare("PRAGMA foreign_key_check") {
        Ok(mut s) => match s.query_map([], |r| r.get::<_, String>(0)) {
            Ok(rows) => out.extend(rows.flatten().map(|t| format!("foreign key in {t}"))),
            Err(e) => out.push(format!("foreign_key_check: {e}")),
        },
        Err(e) => out.push(format!("foreign_key_check: {e}")),
    }
    out
}

/// Poll `f` every 100 ms until it holds or `max` passes.
fn wait_for(max: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + max;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn connected(state: &Path) -> bool {
    wait_for(Duration::from_secs(30), || {
        !strings(state, "SELECT value FROM meta WHERE key = 'last_sync'").is_empty()
    })
}

const TASKS: &str = "SELECT count(*) FROM tasks";
const UNSENT: &str = "SELECT count(*) FROM outbox WHERE status <> 'sent'";

/// At least `requests` tasks, and no mail left to send.
fn all_done(state: &Path, requests: usize) -> bool {
    scalar(state, TASKS) >= requests as i64 && scalar(state, UNSENT) == 0
}

// --- what arrived in a mailbox ---------------------------------------------------------

/// Our mail in a mailbox, by kind (`ack`, `notify`, …): for each task, how often each of our
/// Message-IDs (`musaid.TASK.KIND.NONCE@…`) arrived, and every copy's Date header.
#[derive(Default, Debug)]
struct Received {
    by_task: BTreeMap<i64, BTreeMap<String, usize>>,
    dates: Vec<(String, Option<DateTime<Utc>>)>,
    total: usize,
}

impl Received {
    fn distinct(&self) -> usize {
        self.by_task.values().map(BTreeMap::len).sum()
    }

    /// Copies beyond the first of the same Message-ID: a resend after a crash between the
    /// server's 250 and our commit (at-least-once delivery, recognisable by its ID).
    fn resends(&self) -> usize {
        self.by_task
            .values()
            .flat_map(BTreeMap::values)
            .map(|n| n - 1)
            .sum()
    }

    /// Tasks that got more than one *different* mail of this kind: a real duplicate.
    fn duplicated_tasks(&self) -> Vec<(i64, Vec<String>)> {
        self.by_task
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(t, ids)| (*t, ids.keys().cloned().collect()))
            .collect()
    }
}

async fn received(server: &MailServer, user: &str, kind: &str) -> Received {
    let mut r = Received::default();
    for m in mailbox(server, user).await {
        let Some(mid) = header(&m, "Message-ID") else {
            continue;
        };
        let id = mid.trim_matches(|c| c == '<' || c == '>').to_string();
        let mut parts = id.split('.');
        let (Some("musaid"), Some(task), Some(k)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if k != kind {
            continue;
        }
        let Ok(task) = task.parse::<i64>() else {
            continue;
        };
        *r.by_task
            .entry(task)
            .or_default()
            .entry(id.clone())
            .or_default() += 1;
        let date = header(&m, "Date")
            .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
            .map(|d| d.with_timezone(&Utc));
        r.dates.push((id, date));
        r.total += 1;
    }
    r
}

/// Read `user`'s mail of `kind` until `want` distinct mails are there and a second look a
/// moment later finds nothing more (a late resend would show up by then).
async fn settled(
    server: &MailServer,
    user: &str,
    kind: &str,
    want: usize,
    max: Duration,
) -> Received {
    let deadline = Instant::now() + max;
    let mut last = received(server, user, kind).await;
    loop {
        if last.distinct() >= want || Instant::now() >= deadline {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let again = received(server, user, kind).await;
            if again.total == last.total || Instant::now() >= deadline {
                return again;
            }
            last = again;
            continue;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        last = received(server, user, kind).await;
    }
}

// --- one test's world --------------------------------------------------------------------

/// A daily ack limit per sender above what a test sends, so none is held back (the crash
/// storm sends more and sets its own).
fn ack_limit(c: ConfigBuilder) -> ConfigBuilder {
    c.policy("acks_per_sender_per_day", 1000)
}

/// What one fault test runs in: private mail servers, three fresh mailboxes, and a temporary
/// directory for the daemon's config, state and log.
struct World {
    private: PrivateMailServer,
    people: People,
    dir: tempfile::TempDir,
    state: PathBuf,
}

impl World {
    fn new(name: &str) -> World {
        let private = private_servers();
        let people = People::new(name);
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        World {
            private,
            people,
            dir,
            state,
        }
    }

    fn server(&self) -> &MailServer {
        &self.private.server
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("musaid.toml")
    }

    /// Write the usual config changed by `change`, and start `musaid run` on it.
    fn start(&self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Musaid {
        change(config(self.server(), &self.people, &self.state)).write(&self.config());
        Musaid::start(&self.config(), &self.dir.path().join("musaid.log"))
    }

    /// [`World::start`], then wait for the daemon's first sync.
    fn start_synced(&self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Musaid {
        let d = self.start(change);
        assert!(connected(&self.state), "no first sync:\n{}", d.tail());
        d
    }

    /// The owner mails a request to the inbox through Postfix; its Message-ID. A temporary
    /// refusal (4xx) is tried again, as a mail client does: just after Dovecot comes back,
    /// Postfix's first AUTH can fail with "454 Connection lost to authentication server".
    fn request(&self, subject: &str, body: &str) -> String {
        let (owner, inbox) = (&self.people.owner, &self.people.inbox);
        let (id, raw) = request(owner, inbox, subject, body);
        let mut tries = 0;
        loop {
            match send_smtp_via(self.server(), owner, inbox, &raw) {
                Ok(()) => return id,
                Err(e) if tries < 20 && e.to_string().contains(", got 4") => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("smtp: {e:#}"),
            }
        }
    }
}

/// Send `n` requests from the owner, one every `pace`, from a thread of its own; their
/// Message-IDs.
fn send_steadily(
    server: &MailServer,
    people: &People,
    n: usize,
    pace: Duration,
    body: &'static str,
) -> std::thread::JoinHandle<Vec<String>> {
    let server = server.clone();
    let (owner, inbox) = (people.owner.clone(), people.inbox.clone());
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let at = start + pace * i as u32;
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (id, raw) = request(&owner, &inbox, &format!("Request {i}"), body);
            send_smtp_via(&server, &owner, &inbox, &raw)
                .unwrap_or_else(|e| panic!("request {i} through Postfix: {e:#}"));
            ids.push(id);
        }
        ids
    })
}

// --- 1. crash storm ----------------------------------------------------------------------

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
    let mut d = world.start_synced(|c| every_minute(c).policy("acks_per_sender_per_day", 100000));

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

// --- 2. Dovecot killed -------------------------------------------------------------------

/// Every live process of the Dovecot instance in `dir`: its master (from the pid file) and
/// the master's descendants.
fn dovecot_processes(dir: &Path) -> Vec<u32> {
    let Some(master) = std::fs::read_to_string(dir.join("run/master.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let mut parent_of = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let mut f = rest.split_whitespace();
        let (Some(state), Some(ppid)) = (f.next(), f.next().and_then(|p| p.parse::<u32>().ok()))
        else {
            continue;
        };
        if state != "Z" && state != "X" {
            parent_of.insert(pid, ppid);
        }
    }
    if !parent_of.contains_key(&master) {
        return Vec::new();
    }
    let mut family = vec![master];
    let mut i = 0;
    while let Some(&p) = family.get(i) {
        family.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| **pp == p)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    family
}

/// Running (not gone, not a zombie waiting for a parent that never reaps it).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .unwrap_or("X");
        state != "Z" && state != "X"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_killed_9_the_daemon_reconnects_and_takes_everything_once() {
    let during: usize = scale(20, 200);
    let outage = Duration::from_secs(scale(5, 60));
    let world = World::new("dovekill");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut d = world.start_synced(ack_limit);

    let mut ids = BTreeSet::new();
    for i in 0..5 {
        ids.insert(world.request(&format!("Before {i}"), "x"));
    }
    assert!(wait_for(Duration::from_secs(20), || scalar(state, TASKS) == 5));
    // Their acks delivered first: mail in Postfix's hands when Dovecot dies may be delivered
    // twice (LMTP saved it, the answer was lost), which is the mail server's doing, not ours.
    let before = settled(server, &people.owner, "ack", 5, Duration::from_secs(30)).await;
    assert_eq!(before.total, 5);
    let _ = settled(server, &people.va, "notify", 5, Duration::from_secs(30)).await;

    // kill -9 the master and every child at once: no BYE, no clean shutdown. The master is
    // stopped first so that it starts no new process while the family is listed.
    let master = dovecot_processes(&server.dir);
    let master = *master.first().expect("no Dovecot master found");
    let _ = Command::new("kill")
        .args(["-STOP", &master.to_string()])
        .status();
    let pids = dovecot_processes(&server.dir);
    assert!(pids.len() > 1, "no Dovecot processes found: {pids:?}");
    // A child may end on its own meanwhile, so kill's status says little; `alive` decides.
    let _ = Command::new("kill")
        .arg("-9")
        .args(pids.iter().map(u32::to_string))
        .status();
    assert!(
        wait_for(Duration::from_secs(5), || !pids.iter().any(|p| alive(*p))),
        "Dovecot survived kill -9"
    );
    let down = Instant::now();
    // Mail keeps arriving through the relay port; Postfix queues it.
    for i in 0..during {
        let (id, raw) = request(&people.owner, &people.inbox, &format!("During {i}"), "y");
        send_smtp_relay(server, &people.owner, &people.inbox, &raw).expect("relay");
        ids.insert(id);
    }
    if let Some(rest) = outage.checked_sub(down.elapsed()) {
        std::thread::sleep(rest);
    }
    assert_eq!(
        scalar(state, TASKS),
        5,
        "nothing can arrive while IMAP is down"
    );
    world.private.run("start-dovecot").expect("start dovecot");
    let up = Instant::now();
    for i in 0..5 {
        ids.insert(world.request(&format!("After {i}"), "z"));
    }
    let total = ids.len();
    // The daemon's reconnect backoff is at most about as long as the outage was.
    let ok = wait_for(outage * 2 + Duration::from_secs(60), || {
        all_done(state, total)
    });
    let took = up.elapsed();
    let alive = d.exited().is_none();
    let status = d.term();
    assert!(
        ok,
        "{} of {total} tasks, {} unsent\n{}",
        scalar(state, TASKS),
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(alive, "the daemon must survive the outage");
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let tasks = strings(state, "SELECT message_id FROM tasks");
    assert_eq!(tasks.len(), total, "no duplicate task");
    assert_eq!(tasks.into_iter().collect::<BTreeSet<_>>(), ids);
    let log = d.log_text();
    assert!(
        log.contains("IMAP connection restored"),
        "the same daemon reconnected"
    );
    let acks = settled(server, &people.owner, "ack", total, Duration::from_secs(60)).await;
    eprintln!(
        "FAULTS dovecot kill -9: {} processes killed, {during} requests during a {:.0?} \
         outage, all {total} tasks {:.1?} after Dovecot returned; acks {} distinct, {} resends",
        pids.len(),
        outage,
        took,
        acks.distinct(),
        acks.resends()
    );
    let pflog = std::fs::read_to_string(server.dir.join("postfix.log")).unwrap_or_default();
    for (id, copies) in acks.by_task.values().flatten() {
        if *copies > 1 {
            let lines: Vec<&str> = pflog.lines().filter(|l| l.contains(id.as_str())).collect();
            eprintln!("{id} arrived {copies} times; Postfix: {lines:#?}");
        }
    }
    assert_eq!(acks.by_task.len(), total);
    assert_eq!(acks.duplicated_tasks(), vec![]);
    assert_eq!(acks.resends(), 0, "no crash here, so no resend");
    assert_eq!(problems(&db_file(state)), Vec::<String>::new());
}

// --- 3. Postfix stopped ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_stopped_acks_wait_in_the_outbox_and_go_out_once_when_it_returns() {
    let n: usize = scale(10, 50);
    let outage = Duration::from_secs(scale(20, 180));
    let world = World::new("pfstop");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut d = world.start_synced(ack_limit);

    world.private.run("stop-postfix").expect("stop postfix");
    let down = Instant::now();
    // The requests reach the mailbox another way (Dovecot is up).
    let mut s = musaid::imap::connect(&common::imap_config_for(server, &people.inbox))
        .await
        .expect("imap");
    for i in 0..n {
        let (_, raw) = request(&people.owner, &people.inbox, &format!("Request {i}"), "x");
        s.append("INBOX", &raw, &[]).await.expect("append");
    }
    let _ = s.logout().await;
    assert!(wait_for(Duration::from_secs(20), || scalar(state, TASKS) == n as i64));
    // Each mail was tried, failed, and waits for its retry.
    let waiting = "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0";
    assert!(
        wait_for(Duration::from_secs(20), || scalar(state, waiting)
            == 2 * n as i64),
        "{} of {} mails tried and pending\n{}",
        scalar(state, waiting),
        2 * n,
        d.tail()
    );
    if let Some(rest) = outage.checked_sub(down.elapsed()) {
        std::thread::sleep(rest);
    }
    let attempts = scalar(state, "SELECT max(attempts) FROM outbox");
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM outbox WHERE status <> 'pending'"
        ),
        0
    );
    assert_eq!(scalar(state, waiting), 2 * n as i64);
    world.private.run("start-postfix").expect("start postfix");
    let up = Instant::now();
    // Retries back off (5 s doubling, up to an hour), but while the server is down the sender
    // tries to connect every 30 s, and once it answers every waiting mail is due at once.
    let ok = wait_for(Duration::from_secs(75), || scalar(state, UNSENT) == 0);
    let took = up.elapsed();
    let status = d.term();
    assert!(
        ok,
        "{} mails still unsent\n{}",
        scalar(state, UNSENT),
        d.tail()
    );
    assert!(status.is_some_and(|s| s.success()), "SIGTERM: {status:?}");
    let acks = settled(server, &people.owner, "ack", n, Duration::from_secs(60)).await;
    let notes = settled(server, &people.va, "notify", n, Duration::from_secs(60)).await;
    eprintln!(
        "FAULTS postfix stopped: {n} requests, outage {:.0?}, up to {attempts} tries per mail \
         during it, all {} mails sent {:.1?} after Postfix returned; acks {} ({} copies), \
         notifications {} ({} copies)",
        outage,
        2 * n,
        took,
        acks.distinct(),
        acks.total,
        notes.distinct(),
        notes.total
    );
    assert_eq!((acks.by_task.len(), acks.total), (n, n), "each ack once");
    assert_eq!(
        (notes.by_task.len(), notes.total),
        (n, n),
        "each notification once"
    );
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM tasks WHERE acked_at IS NOT NULL"
        ),
        n as i64
    );
}

// --- 4. backups while the daemon writes ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_loop_during_a_backlog_loses_nothing_and_every_copy_is_sound() {
    let n: usize = 300;
    let world = World::new("backup");
    let (server, people, state) = (world.server(), &world.people, world.state.as_path());
    let mut ids = BTreeSet::new();
    for i in 0..n {
        ids.insert(world.request(&format!("Request {i}"), "x"));
    }
    let mut s = musaid::imap::connect(&common::imap_config_for(server, &people.inbox))
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

// --- 5. the state directory's disk full ------------------------------------------------

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
