//! Helpers for tests against the private mail servers of `scripts/mailserver`.
//!
//! `mailserver()` starts Dovecot and Postfix once per test binary (the script is
//! idempotent and locked, so parallel binaries share one instance) and returns
//! their ports. Every address `@example.test` is a mailbox with the password
//! `secret`: give each test its own [`unique_user`] and tests never see each
//! other's mail, even across runs.

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use musaid::config::{
    After, AuthMethod, FirstSync, ImapConfig, SecretSource, ServerLogin, TlsMode,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The test servers' mail domain: every address in it is a mailbox.
pub const DOMAIN: &str = "example.test";

/// What `scripts/mailserver env` printed.
#[derive(Debug, Clone)]
pub struct MailServer {
    pub imap_port: u16,
    pub imaps_port: u16,
    /// SMTP with AUTH (checked by Dovecot).
    pub smtp_port: u16,
    /// SMTP without AUTH for loopback clients; works while Dovecot is down.
    pub smtp_relay_port: u16,
    pub lmtp_port: u16,
    pub dir: PathBuf,
    pub domain: String,
    pub password: String,
    pub password_file: PathBuf,
    /// The password that is not ASCII, taken by addresses `utf8-…@example.test`.
    pub password_utf8: String,
    /// The private CA that signed the IMAPS certificate (for localhost and 127.0.0.1).
    pub tls_ca: PathBuf,
}

/// Start the servers (once per test binary) and return where they listen.
/// Panics with the script's output when they cannot start: a test that needs
/// them cannot do anything useful without them.
pub fn mailserver() -> &'static MailServer {
    static SERVER: OnceLock<MailServer> = OnceLock::new();
    SERVER.get_or_init(
        || match run_script(None, &["start"]).and_then(|out| parse_env(&out)) {
            Ok(s) => s,
            Err(e) => panic!("scripts/mailserver start failed: {e:#}"),
        },
    )
}

/// A second pair of servers of its own, in a temporary directory, for tests
/// that stop and restart them (fault tests); stopped and removed on drop.
pub struct PrivateMailServer {
    pub server: MailServer,
    dir: tempfile::TempDir,
}

impl PrivateMailServer {
    pub fn start() -> Result<PrivateMailServer> {
        let dir = tempfile::Builder::new().prefix("musaid-ms-").tempdir()?;
        let out = match run_script(Some(dir.path()), &["start"]) {
            Ok(out) => out,
            Err(e) => {
                // Half started (a port taken meanwhile): stop what runs before the directory goes.
                let _ = run_script(Some(dir.path()), &["stop"]);
                return Err(e);
            }
        };
        Ok(PrivateMailServer {
            server: parse_env(&out)?,
            dir,
        })
    }

    /// Run `scripts/mailserver COMMAND` (restart-dovecot, stop-postfix, …) on this instance.
    pub fn run(&self, command: &str) -> Result<()> {
        run_script(Some(self.dir.path()), &[command]).map(|_| ())
    }
}

impl Drop for PrivateMailServer {
    fn drop(&mut self) {
        if let Err(e) = run_script(Some(self.dir.path()), &["stop"]) {
            eprintln!("Could not stop the private mail servers: {e:#}");
        }
    }
}

/// Run `scripts/mailserver ARGS…` on the shared servers (e.g.
/// `["bump-uidvalidity", address]`); its standard output.
pub fn mailserver_command(args: &[&str]) -> Result<String> {
    mailserver();
    run_script(None, args)
}

fn run_script(dir: Option<&std::path::Path>, args: &[&str]) -> Result<String> {
    let command = args.join(" ");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver");
    let mut cmd = std::process::Command::new(script);
    cmd.args(args).stdin(std::process::Stdio::null());
    if let Some(dir) = dir {
        cmd.env("MUSAID_MAILSERVER_DIR", dir);
    }
    let out = cmd
        .output()
        .with_context(|| format!("Could not run {script}"))?;
    if !out.status.success() {
        bail!(
            "{script} {command}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("Non-UTF-8 output from scripts/mailserver")
}

/// The `KEY=value` lines of `scripts/mailserver env`.
fn parse_env(text: &str) -> Result<MailServer> {
    let env: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    let get = |k: &str| -> Result<String> {
        env.get(k)
            .map(|v| v.to_string())
            .with_context(|| format!("{k} missing from the env output:\n{text}"))
    };
    let port = |k: &str| -> Result<u16> {
        get(k)?
            .parse()
            .with_context(|| format!("{k} is not a port"))
    };
    Ok(MailServer {
        imap_port: port("MUSAID_IMAP_PORT")?,
        imaps_port: port("MUSAID_IMAPS_PORT")?,
        smtp_port: port("MUSAID_SMTP_PORT")?,
        smtp_relay_port: port("MUSAID_SMTP_RELAY_PORT")?,
        lmtp_port: port("MUSAID_LMTP_PORT")?,
        dir: get("MUSAID_MAILSERVER_DIR")?.into(),
        domain: get("MUSAID_MAIL_DOMAIN")?,
        password: get("MUSAID_MAIL_PASSWORD")?,
        password_file: get("MUSAID_MAIL_PASSWORD_FILE")?.into(),
        password_utf8: get("MUSAID_MAIL_PASSWORD_UTF8")?,
        tls_ca: get("MUSAID_TLS_CA")?.into(),
    })
}

/// A fresh address `@example.test` no other test (or earlier run) uses: `tag.PID.N@example.test`.
pub fn unique_user(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}.{}.{n}.{nanos}@{DOMAIN}", std::process::id())
}

/// An [`ImapConfig`] for `user` on the plaintext loopback port, password from the
/// server's password file, INBOX, `after = keep`.
pub fn imap_config(user: &str) -> ImapConfig {
    imap_config_for(mailserver(), user)
}

/// [`imap_config`] for the servers `s` (e.g. a [`PrivateMailServer`]).
pub fn imap_config_for(s: &MailServer, user: &str) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port: s.imap_port,
        tls: TlsMode::None,
        login: ServerLogin {
            user: Some(user.to_string()),
            auth: AuthMethod::Password,
            password: SecretSource::File(s.password_file.clone()),
            oauth2_token_command: None,
        },
        ca_file: None,
        mailbox: "INBOX".into(),
        after: After::Keep,
        idle: true,
        poll_interval: Duration::from_secs(60),
        first_sync: FirstSync::New,
        timeout: musaid::imap::COMMAND_TIMEOUT,
    }
}

/// A small message with CRLF line ends, its own Message-ID and Date (so the
/// server adds nothing but trace headers), and a UTF-8 8bit body. Dated now, so that no
/// age limit ever holds it back.
pub fn raw_message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let msg = format!(
        "From: <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <test.{}.{n}@example.test>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {}\r\n",
        std::process::id(),
        body.replace("\r\n", "\n").replace('\n', "\r\n"),
        date = chrono::Utc::now().to_rfc2822(),
    );
    msg.into_bytes()
}

/// Send `raw` from `from` to `to` through the test Postfix: plain SMTP on
/// loopback with AUTH PLAIN as `from`. Blocking; returns once Postfix queued it
/// (delivery to Dovecot follows within milliseconds).
pub fn send_smtp(from: &str, to: &str, raw: &[u8]) -> Result<()> {
    send_smtp_via(mailserver(), from, to, raw)
}

/// [`send_smtp`] through the servers `s` (e.g. a [`PrivateMailServer`]).
pub fn send_smtp_via(s: &MailServer, from: &str, to: &str, raw: &[u8]) -> Result<()> {
    smtp_transaction(s.smtp_port, Some((from, &s.password)), from, to, raw)
}

/// Send without AUTH through the relay port of `s` (works while Dovecot is down).
pub fn send_smtp_relay(s: &MailServer, from: &str, to: &str, raw: &[u8]) -> Result<()> {
    smtp_transaction(s.smtp_relay_port, None, from, to, raw)
}

fn smtp_transaction(
    port: u16,
    auth: Option<(&str, &str)>,
    from: &str,
    to: &str,
    raw: &[u8],
) -> Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("Could not connect to SMTP port {port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;

    let mut expect = |code: &str, after: &str| -> Result<()> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                bail!("SMTP server closed the connection after {after}");
            }
            if !line.starts_with(code) {
                bail!(
                    "SMTP after {after}: expected {code}, got {}",
                    line.trim_end()
                );
            }
            // "250-" continues a multi-line reply, "250 " ends it.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    };
    expect("220", "connecting")?;
    writer.write_all(b"EHLO test.example.test\r\n")?;
    expect("250", "EHLO")?;
    if let Some((user, password)) = auth {
        let plain =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        writer.write_all(format!("AUTH PLAIN {plain}\r\n").as_bytes())?;
        expect("235", "AUTH PLAIN")?;
    }
    writer.write_all(format!("MAIL FROM:<{from}>\r\n").as_bytes())?;
    expect("250", "MAIL FROM")?;
    writer.write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())?;
    expect("250", "RCPT TO")?;
    writer.write_all(b"DATA\r\n")?;
    expect("354", "DATA")?;
    writer.write_all(&dot_stuff(raw))?;
    writer.write_all(b".\r\n")?;
    expect("250", "the message")?;
    writer.write_all(b"QUIT\r\n")?;
    Ok(())
}

/// CRLF line ends, a dot doubled at the start of a line, and a final CRLF.
fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Poll (NOOP + UID SEARCH) until a UID above `last_uid` shows up in the
/// selected mailbox; the new UIDs, or an error after `max`.
pub async fn wait_for_mail(
    session: &mut musaid::imap::ImapSession,
    last_uid: u32,
    max: Duration,
) -> Result<Vec<u32>> {
    let deadline = tokio::time::Instant::now() + max;
    loop {
        session.noop().await?;
        let uids = session.uid_search_after(last_uid).await?;
        if !uids.is_empty() {
            return Ok(uids);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("No mail above UID {last_uid} within {}s", max.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
