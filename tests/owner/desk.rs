//! One test's desk: fresh mailboxes, a state directory, the config written to a file so the
//! command line reads it beside the daemon, and the mail the owner and the VA write.

use crate::support::config::ConfigBuilder;
use crate::support::daemon::{
    config, connected, count, eventually, mailbox, pipeline, Daemon, People,
};
use crate::support::servers::{mailserver, send_smtp, MailServer};
use chrono::Utc;
use musaid::mail::Message;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Desk {
    pub server: &'static MailServer,
    pub people: People,
    pub dir: tempfile::TempDir,
    pub state: PathBuf,
    pub config: ConfigBuilder,
    pub file: PathBuf,
}

impl Desk {
    /// The desk of [`config`] (contract `acme`, UTC, always open) changed by `change`.
    pub fn new(name: &str, change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Desk {
        let server = mailserver();
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        let people = People::new(name);
        let config = change(config(server, &people, &state));
        let file = config.write(&dir.path().join("musaid.toml"));
        Desk {
            server,
            people,
            dir,
            state,
            config,
            file,
        }
    }

    /// The same desk with its config changed by `change`, which may use its people.
    pub fn with(mut self, change: impl FnOnce(ConfigBuilder, &People) -> ConfigBuilder) -> Desk {
        self.config = change(self.config, &self.people);
        self.file = self.config.write(&self.file);
        self
    }

    pub async fn start(&self) -> Daemon {
        let d = Daemon::start(pipeline(&self.config, self.dir.path()));
        connected(&self.state).await;
        d
    }

    /// `musaid ARGS…` on the desk's config, which must succeed; its output.
    pub fn musaid(&self, args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&self.file)
            .args(args)
            .env_remove("MUSAID_CONFIG")
            .output()
            .expect("run musaid");
        assert!(
            out.status.success(),
            "musaid {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `musaid ARGS… --json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_slice(&self.musaid(&args).stdout).expect("JSON")
    }

    /// The owner's request; waits until it is task number `n`; its Message-ID.
    pub async fn request(&self, subject: &str, body: &str, n: i64) -> String {
        let id = send(&self.people.owner, &self.people.inbox, subject, None, body);
        until(&self.state, "SELECT count(*) FROM tasks", n).await;
        id
    }

    /// The VA's reply to task `task` (by its tag); waits until it is recorded.
    pub async fn va(&self, task: i64, body: &str) {
        let before = count(&self.state, "SELECT count(*) FROM messages");
        let subject = format!("Re: [#{task}] the task");
        send(&self.people.va, &self.people.inbox, &subject, None, body);
        until(&self.state, "SELECT count(*) FROM messages", before + 1).await;
    }
}

/// Send a message as a mail client writes it; with `in_reply_to`, a reply to that one. Its
/// Message-ID.
pub fn send(from: &str, to: &str, subject: &str, in_reply_to: Option<&str>, body: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "owner.{}.{n}.{}@client.example",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let thread = in_reply_to
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n{thread}Date: {}\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        Utc::now().to_rfc2822(),
        body.replace('\n', "\r\n"),
    );
    send_smtp(from, to, raw.as_bytes()).expect("smtp");
    id
}

/// `user`'s mail, parsed (subjects and bodies decoded).
pub async fn inbox(server: &MailServer, user: &str) -> Vec<Message> {
    mailbox(server, user)
        .await
        .iter()
        .filter_map(|raw| musaid::mail::parse(raw).ok())
        .collect()
}

/// `user`'s mail whose subject starts with `prefix`, read every 100 ms until there is one (or
/// what there is after about 10 s).
pub async fn mail_starting(server: &MailServer, user: &str, prefix: &str) -> Vec<Message> {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = inbox(server, user).await;
        found.retain(|m| m.subject.starts_with(prefix));
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// Wait until `sql` answers `want` on the daemon's database.
pub async fn until(state: &Path, sql: &str, want: i64) {
    let ok = eventually(Duration::from_secs(10), || count(state, sql) == want).await;
    assert!(ok, "{sql}: {} after 10 s, not {want}", count(state, sql));
}

/// Wait until nothing that may go now waits in the outbox: what was due has been sent.
pub async fn sent_all(state: &Path) {
    let due = "SELECT count(*) FROM outbox WHERE status = 'pending' \
               AND not_before <= strftime('%s', 'now')";
    until(state, due, 0).await;
}
