//! Boots the daemon in-process against the test mail servers, the way `musaid run` does, and
//! reads what it wrote and sent.

use super::config::{ConfigBuilder, ALWAYS};
use super::servers::{self, send_smtp, send_smtp_via, MailServer};
use chrono::{Timelike, Utc};
use musaid::config::Config;
use musaid::ingest::Pipeline;
use musaid::rules::RuleSet;
use musaid::store::{Store, TaskFilter, TaskRow};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Three fresh mailboxes: the inbox musaid watches, an owner and a VA.
pub struct People {
    pub inbox: String,
    pub owner: String,
    pub va: String,
}

impl People {
    pub fn new(tag: &str) -> People {
        People {
            inbox: servers::unique_user(&format!("{tag}-tasks")),
            owner: servers::unique_user(&format!("{tag}-owner")),
            va: servers::unique_user(&format!("{tag}-va")),
        }
    }
}

/// The desk of `people` on `server`: musaid reads `people.inbox` (everything in it on the
/// first start) and sends as it; one contract `acme`, the owner's and the VA's, in UTC and
/// open around the clock. State in `state`.
pub fn config(server: &MailServer, people: &People, state: &Path) -> ConfigBuilder {
    ConfigBuilder::new(state)
        .address(&people.inbox)
        .imap(server, &people.inbox)
        .smtp(server, &people.inbox)
        .contract("acme", |c| {
            c.owners(&[&people.owner])
                .vas(&[&people.va])
                .timezone("UTC")
                .windows(&[ALWAYS])
        })
}

/// The pipeline `musaid run` builds from `config`, as if it were `DIR/musaid.toml`.
pub fn pipeline(config: &ConfigBuilder, dir: &Path) -> Pipeline {
    let config: Config = config.load(&dir.join("musaid.toml"));
    let rules = RuleSet::load(&config.daemon.rules_dir).unwrap_or_else(|e| panic!("rules: {e}"));
    Pipeline::new(config, rules).unwrap_or_else(|e| panic!("{e:#}"))
}

/// A daemon running in this process.
pub struct Daemon {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub state: PathBuf,
}

impl Daemon {
    pub fn start(p: Pipeline) -> Daemon {
        // The daemon's log, shown with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "musaid=debug".into()))
            .try_init();
        let state = p.config.daemon.state_dir.clone();
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(musaid::daemon::run(p, rx));
        Daemon {
            stop,
            handle,
            state,
        }
    }

    /// Stop as SIGTERM does, and wait for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        match tokio::time::timeout(Duration::from_secs(20), self.handle).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the daemon did not stop cleanly: {other:?}"),
        }
    }
}

/// Wait until the daemon has connected and synced its mailbox once.
pub async fn connected(state: &Path) {
    let ok = eventually(Duration::from_secs(15), || {
        Store::open_existing(state)
            .ok()
            .flatten()
            .and_then(|s| {
                musaid::store::meta_get(s.conn(), "last_sync")
                    .ok()
                    .flatten()
            })
            .is_some()
    })
    .await;
    assert!(ok, "the daemon did not connect within 15 s");
}

pub fn tasks(state: &Path) -> Vec<TaskRow> {
    Store::open_existing(state)
        .ok()
        .flatten()
        .and_then(|s| s.tasks(&TaskFilter::default()).ok())
        .unwrap_or_default()
}

/// Count rows of a query on the daemon's database.
pub fn count(state: &Path, sql: &str) -> i64 {
    Store::open_existing(state)
        .ok()
        .flatten()
        .and_then(|s| s.conn().query_row(sql, [], |r| r.get(0)).ok())
        .unwrap_or(-1)
}

/// Poll `f` every 50 ms until it holds or `max` passes.
pub async fn eventually(max: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + max;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A plain request as a mail client writes it, dated now.
pub fn request(from: &str, to: &str, subject: &str, body: &str) -> (String, Vec<u8>) {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "req.{}.{n}.{}@client.example",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let raw = format!(
        "From: Owner <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        date = Utc::now().to_rfc2822(),
        body = body.replace('\n', "\r\n"),
    );
    (id, raw.into_bytes())
}

/// `n` bytes that do not compress, the same for the same `seed`: a file's content.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A file for [`with_files`]: its name as the mail client writes it, its type, its bytes.
pub struct File<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// A `multipart/mixed` message as a mail client writes it, dated now: `head` (its header
/// lines, each ending in CRLF, without MIME ones), the text `body`, then each file base64;
/// a file of type `message/rfc822` goes as a forwarded message, as it is.
pub fn with_files(head: &str, body: &str, files: &[File<'_>]) -> Vec<u8> {
    use base64::Engine as _;
    let boundary = format!("b{}", Utc::now().timestamp_micros());
    let mut raw = format!(
        "{head}Date: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {text}\r\n",
        date = Utc::now().to_rfc2822(),
        text = body.replace('\n', "\r\n"),
    )
    .into_bytes();
    for f in files {
        if f.content_type == "message/rfc822" {
            raw.extend(
                format!(
                    "--{boundary}\r\nContent-Type: message/rfc822\r\n\
                     Content-Disposition: attachment\r\n\r\n"
                )
                .as_bytes(),
            );
            raw.extend(f.bytes);
            raw.extend(b"\r\n");
            continue;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(f.bytes);
        raw.extend(
            format!(
                "--{boundary}\r\nContent-Type: {ct}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n",
                ct = f.content_type,
                name = f.name
            )
            .as_bytes(),
        );
        for line in b64.as_bytes().chunks(76) {
            raw.extend(line);
            raw.extend(b"\r\n");
        }
    }
    raw.extend(format!("--{boundary}--\r\n").as_bytes());
    raw
}

/// A request from `from` to `to` carrying `files` ([`with_files`]); its Message-ID.
pub fn request_with_files(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    files: &[File<'_>],
) -> (String, Vec<u8>) {
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "files.{}.{n}.{}@client.example",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let head = format!(
        "From: Owner <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n"
    );
    (id, with_files(&head, body, files))
}

/// `n` requests from the owner to the inbox through SMTP, one after the other, with the
/// subjects `subject` gives; their Message-IDs.
pub fn send_requests(
    people: &People,
    n: usize,
    subject: impl Fn(usize) -> String,
    body: &str,
) -> BTreeSet<String> {
    (0..n)
        .map(|i| {
            let (id, raw) = request(&people.owner, &people.inbox, &subject(i), body);
            send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
            id
        })
        .collect()
}

/// Wait (up to 30 s) until `folder` holds `n` messages.
pub async fn delivered(s: &mut musaid::imap::ImapSession, folder: &str, n: u32) -> bool {
    for _ in 0..600 {
        if s.message_count(folder).await.unwrap_or(0) >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Every message in `user`'s INBOX on `server`, raw.
pub async fn mailbox(server: &MailServer, user: &str) -> Vec<Vec<u8>> {
    let cfg = servers::imap_config_for(server, user);
    let Ok(mut s) = musaid::imap::connect(&cfg).await else {
        return Vec::new();
    };
    if s.select("INBOX").await.is_err() {
        return Vec::new();
    }
    let uids = s.uid_search_after(0).await.unwrap_or_default();
    let bodies = s.fetch_bodies(&uids).await.unwrap_or_default();
    let _ = s.logout().await;
    bodies.into_iter().map(|(_, b)| b).collect()
}

/// The value of a header in raw mail (first occurrence, unfolded).
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// Whether `mail` is an acknowledgement (its Subject says the request was received).
pub fn is_ack(mail: &[u8]) -> bool {
    header(mail, "Subject").is_some_and(|s| s.contains("Received"))
}

/// The acknowledgements in `owner`'s mailbox.
pub async fn acks_to(server: &MailServer, owner: &str) -> Vec<Vec<u8>> {
    mailbox(server, owner)
        .await
        .into_iter()
        .filter(|m| is_ack(m))
        .collect()
}

/// A cron pattern (with seconds) for the time of day `secs` from now, in UTC: a window or a
/// summary due in a moment, whatever the calendar says.
pub fn cron_in(secs: i64) -> String {
    let t = Utc::now() + chrono::Duration::seconds(secs);
    format!("{} {} {} * * *", t.second(), t.minute(), t.hour())
}

/// `user`'s mail that `pick` accepts, read every 100 ms until there is some or about `max`
/// has passed.
pub async fn mail_within(
    server: &MailServer,
    user: &str,
    max: Duration,
    pick: impl Fn(&[u8]) -> bool,
) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for _ in 0..max.as_millis() / 100 {
        found = mailbox(server, user).await;
        found.retain(|m| pick(m));
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// What one test runs in: three fresh mailboxes on `server`, and a temporary directory for
/// the daemon's state.
pub struct World<'s> {
    pub server: &'s MailServer,
    pub people: People,
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
}

impl<'s> World<'s> {
    pub fn new(server: &'s MailServer, name: &str) -> World<'s> {
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        World {
            server,
            people: People::new(name),
            dir,
            state,
        }
    }

    /// The desk's config ([`config`]).
    pub fn config(&self) -> ConfigBuilder {
        config(self.server, &self.people, &self.state)
    }

    /// The daemon on [`World::config`] changed by `change`, once it has synced the inbox.
    pub async fn start(&self, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Daemon {
        self.run(&change(self.config())).await
    }

    /// The daemon on `config`, once it has synced the inbox.
    pub async fn run(&self, config: &ConfigBuilder) -> Daemon {
        let d = Daemon::start(pipeline(config, self.dir.path()));
        connected(&self.state).await;
        d
    }

    /// The owner mails a request to the inbox; its Message-ID.
    pub fn request(&self, subject: &str, body: &str) -> String {
        let (owner, inbox) = (&self.people.owner, &self.people.inbox);
        let (id, raw) = request(owner, inbox, subject, body);
        send_smtp_via(self.server, owner, inbox, &raw).expect("smtp");
        id
    }
}
