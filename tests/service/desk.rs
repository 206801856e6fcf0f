//! The desk these tests run musaid on: a config beside its state, musaid run as systemd runs
//! it (none of the service's environment inherited), and IMAP servers that answer nothing or
//! refuse every login.

use crate::support::config::ConfigBuilder;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn musaid() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musaid"));
    for var in [
        "MUSAID_CONFIG",
        "RUST_LOG",
        "JOURNAL_STREAM",
        "CREDENTIALS_DIRECTORY",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
    ] {
        c.env_remove(var);
    }
    c
}

pub fn run(args: &[&str]) -> Output {
    musaid().args(args).output().expect("run musaid")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How musaid logs in to a server in these tests.
pub enum Login {
    /// The password in `imap.pass` beside the config.
    File,
    /// The password a command prints.
    Command(String),
    /// An OAuth2 token a command prints.
    XOAuth2(String),
}

fn login(c: ConfigBuilder, section: &str, how: &Login) -> ConfigBuilder {
    match how {
        Login::File => c.set(section, "password_file", "imap.pass"),
        Login::Command(command) => c.set(section, "password_command", command),
        Login::XOAuth2(command) => {
            c.set(section, "auth", "xoauth2")
                .set(section, "oauth2_token_command", command)
        }
    }
}

/// A config whose state lives beside it; the IMAP server is the loopback port `imap_port`, the
/// SMTP server port 1.
pub fn desk(imap_port: u16, imap: &Login, smtp: &Login) -> ConfigBuilder {
    let c = ConfigBuilder::new("state")
        .imap_set("port", imap_port)
        .imap_set("user", "tasks@va.example")
        .imap_set("poll_interval", "1s")
        .smtp_set("host", "127.0.0.1")
        .smtp_set("port", 1)
        .smtp_set("tls", "none")
        .smtp_set("user", "tasks@va.example")
        .smtp_set("from", "Desk <tasks@va.example>")
        .contract("acme", |c| {
            c.owners(&["boss@acme.example"])
                .vas(&["sara@va.example"])
                .timezone("Asia/Riyadh")
                .windows(&["Sun-Thu 08:00-17:00"])
                .language("ar")
        });
    login(login(c, "imap", imap), "smtp", smtp)
}

/// [`desk`] written as `dir/musaid.toml`; its path.
pub fn config(dir: &Path, imap_port: u16, imap: &Login, smtp: &Login) -> PathBuf {
    desk(imap_port, imap, smtp).write(&dir.join("musaid.toml"))
}

pub fn plain_config(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("imap.pass"), "x\n").expect("password file");
    config(dir, 1, &Login::File, &Login::File)
}

/// A loopback port where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Run `musaid ARGS` for up to `limit`, then stop it; all of its output.
pub fn run_for(mut cmd: Command, limit: Duration) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn musaid");
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    text(&out)
}

/// A loopback IMAP server that refuses every login; what it was sent, line by line.
pub fn refusing_imap_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = log.clone();
            std::thread::spawn(move || serve_refusals(stream, &log));
        }
    });
    (port, seen)
}

fn serve_refusals(stream: std::net::TcpStream, log: &Mutex<Vec<String>>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let caps = "IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 IDLE";
    let _ = write!(out, "* OK [CAPABILITY {caps}] fake ready\r\n");
    let mut lines = BufReader::new(stream).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Ok(mut l) = log.lock() {
            l.push(line.clone());
        }
        let mut words = line.split_whitespace();
        let tag = words.next().unwrap_or("*").to_string();
        let reply = match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("CAPABILITY") => format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"),
            Some("LOGOUT") => format!("* BYE\r\n{tag} OK bye\r\n"),
            Some("AUTHENTICATE") if words.nth(1).is_none() => {
                // No initial response: ask for it, then refuse.
                let _ = write!(out, "+ \r\n");
                if let Some(Ok(resp)) = lines.next() {
                    if let Ok(mut l) = log.lock() {
                        l.push(resp);
                    }
                }
                format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
            }
            _ => format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
