//! What the fault tests share: `musaid run` as a subprocess, its database read without
//! disturbing it, what arrived in a mailbox, and one test's world of private servers.

use crate::support::config::ConfigBuilder;
use crate::support::daemon::{config, header, mailbox, request, People};
use crate::support::servers::{send_smtp_via, MailServer, PrivateMailServer};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn full() -> bool {
    std::env::var("MUSAID_FAULTS").is_ok_and(|v| v == "full")
}

/// `short` in CI, `full` with `MUSAID_FAULTS=full`.
pub fn scale<T>(short: T, full_: T) -> T {
    if full() {
        full_
    } else {
        short
    }
}

/// A [`PrivateMailServer`] of this test's own. Two instances starting at once may pick the
/// same free port (each script run locks only its own directory): start them one at a time,
/// and try again on a clash with another test binary.
pub fn private_servers() -> PrivateMailServer {
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
pub struct Musaid {
    pub child: Option<Child>,
    pub config: PathBuf,
    pub log: PathBuf,
    pub starts: u32,
    /// Where the current process's lines begin in the log.
    pub log_from: usize,
    /// Environment variables each process is started with.
    pub env: Vec<(String, String)>,
}

impl Musaid {
    pub fn start(config: &Path, log: &Path) -> Musaid {
        Musaid::start_with(config, log, &[])
    }

    /// [`Musaid::start`] with these environment variables, for each process.
    pub fn start_with(config: &Path, log: &Path, env: &[(&str, &str)]) -> Musaid {
        let mut m = Musaid {
            child: None,
            config: config.to_path_buf(),
            log: log.to_path_buf(),
            starts: 0,
            log_from: 0,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        m.spawn();
        m
    }

    pub fn spawn(&mut self) {
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
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("musaid run");
        self.child = Some(child);
        self.starts += 1;
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Has it exited on its own? Its status then.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// SIGTERM, and its exit status (None when it did not stop within 30 s; then SIGKILL).
    pub fn term(&mut self) -> Option<ExitStatus> {
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for a failing assertion.
    pub fn tail(&self) -> String {
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

pub fn db_file(state: &Path) -> PathBuf {
    state.join(musaid::store::DB_FILE)
}

/// A read-only connection: the test never writes (or migrates) the daemon's database.
pub fn open_ro(path: &Path) -> Option<rusqlite::Connection> {
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
pub fn scalar(state: &Path, sql: &str) -> i64 {
    open_ro(&db_file(state))
        .and_then(|c| c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).ok())
        .flatten()
        .unwrap_or(-1)
}

pub fn strings(state: &Path, sql: &str) -> Vec<String> {
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
pub fn problems(path: &Path) -> Vec<String> {
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
pub fn wait_for(max: Duration, mut f: impl FnMut() -> bool) -> bool {
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

pub fn connected(state: &Path) -> bool {
    wait_for(Duration::from_secs(30), || {
        !strings(state, "SELECT value FROM meta WHERE key = 'last_sync'").is_empty()
    })
}

pub const TASKS: &str = "SELECT count(*) FROM tasks";
pub const UNSENT: &str = "SELECT count(*) FROM outbox WHERE status <> 'sent'";

/// At least `requests` tasks, and no mail left to send.
pub fn all_done(state: &Path, requests: usize) -> bool {
    scalar(state, TASKS) >= requests as i64 && scalar(state, UNSENT) == 0
}

// --- what arrived in a mailbox ---------------------------------------------------------

/// Our mail in a mailbox, by kind (`ack`, `notify`, …): for each task, how often each of our
/// Message-IDs (`musaid.TASK.KIND.NONCE@…`) arrived, and every copy's Date header.
#[derive(Default, Debug)]
pub struct Received {
    pub by_task: BTreeMap<i64, BTreeMap<String, usize>>,
    pub dates: Vec<(String, Option<DateTime<Utc>>)>,
    pub total: usize,
}

impl Received {
    pub fn distinct(&self) -> usize {
        self.by_task.values().map(BTreeMap::len).sum()
    }

    /// Copies beyond the first of the same Message-ID: a resend after a crash between the
    /// server's 250 and our commit (at-least-once delivery, recognisable by its ID).
    pub fn resends(&self) -> usize {
        self.by_task
            .values()
            .flat_map(BTreeMap::values)
            .map(|n| n - 1)
            .sum()
    }

    /// Tasks that got more than one *different* mail of this kind: a real duplicate.
    pub fn duplicated_tasks(&self) -> Vec<(i64, Vec<String>)> {
        self.by_task
            .iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(t, ids)| (*t, ids.keys().cloned().collect()))
            .collect()
    }
}

pub async fn received(server: &MailServer, user: &str, kind: &str) -> Received {
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
pub async fn settled(
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

/// Sending limits above what a test sends (a daily ack limit per sender, mails per recipient
/// an hour), so none is held back; the crash storm sends more and sets its own.
pub fn ack_limit(c: ConfigBuilder) -> ConfigBuilder {
    c.policy("acks_per_sender_per_day", 1000)
        .policy("mails_per_recipient_per_hour", 1000)
}

/// What one fault test runs in: private mail servers, three fresh mailboxes, and a temporary
/// directory for the daemon's config, state and log.
pub struct World {
    pub private: PrivateMailServer,
    pub people: People,
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
}

impl World {
    pub fn new(name: &str) -> World {
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

    pub fn server(&self) -> &MailServer {
        &self.private.server
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("musaid.toml")
    }

    /// Write the usual config changed by `change`, and start `musaid run` on it.
    pub fn start(&self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Musaid {
        change(config(self.server(), &self.people, &self.state)).write(&self.config());
        Musaid::start(&self.config(), &self.dir.path().join("musaid.log"))
    }

    /// [`World::start`], then wait for the daemon's first sync.
    pub fn start_synced(&self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Musaid {
        let d = self.start(change);
        assert!(connected(&self.state), "no first sync:\n{}", d.tail());
        d
    }

    /// The owner mails a request to the inbox through Postfix; its Message-ID. A temporary
    /// refusal (4xx) is tried again, as a mail client does: just after Dovecot comes back,
    /// Postfix's first AUTH can fail with "454 Connection lost to authentication server".
    pub fn request(&self, subject: &str, body: &str) -> String {
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
pub fn send_steadily(
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
