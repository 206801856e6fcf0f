//! `musaid run` booted the way the systemd unit boots it: NOTIFY_SOCKET, WATCHDOG_USEC and a
//! credentials directory. We listen on the socket as systemd would.

use crate::support::config::{ConfigBuilder, ALWAYS};
use crate::support::servers;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Read notifications until one contains `what` (or `max` passes); returns all read.
fn until(sock: &UnixDatagram, what: &str, max: Duration) -> Vec<String> {
    let deadline = Instant::now() + max;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let _ = sock.set_read_timeout(Some(left));
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).to_string();
                let done = msg.contains(what);
                got.push(msg);
                if done {
                    return got;
                }
            }
            Err(_) => break,
        }
    }
    got
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// The config the unit would use: state under `dir`, the IMAP password a credential.
fn config(server: &servers::MailServer, dir: &Path) -> ConfigBuilder {
    let inbox = servers::unique_user("notify");
    ConfigBuilder::new(dir.join("state"))
        .address(&inbox)
        .imap_set("port", server.imap_port)
        .imap_set("user", &inbox)
        .imap_set("password_credential", "imap.pass")
        .contract("acme", |c| {
            c.owners(&["boss@example.test"])
                .vas(&["va@example.test"])
                .timezone("UTC")
                .windows(&[ALWAYS])
        })
}

/// A systemd credentials directory under `dir` holding the IMAP password as `imap.pass`.
fn credentials(server: &servers::MailServer, dir: &Path) -> std::path::PathBuf {
    let creds = dir.join("credentials");
    std::fs::create_dir(&creds).expect("mkdir");
    std::fs::write(creds.join("imap.pass"), format!("{}\n", server.password)).expect("cred");
    creds
}

#[test]
fn ready_watchdog_reload_and_stopping_reach_systemd() {
    let server = servers::mailserver();
    let dir = tempfile::tempdir().expect("tmp");
    let creds = credentials(server, dir.path());
    let desk = config(server, dir.path());
    let cfg = desk.write(&dir.path().join("musaid.toml"));
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");

    let mut child = Command::new(env!("CARGO_BIN_EXE_musaid"))
        .args(["run"])
        .env("MUSAID_CONFIG", &cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "2000000")
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("JOURNAL_STREAM", "8:1234")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("musaid run");
    let pid = child.id();

    let got = until(&sock, "READY=1", Duration::from_secs(10));
    assert!(got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    let got = until(&sock, "WATCHDOG=1", Duration::from_secs(5));
    assert!(
        got.iter().any(|m| m.contains("WATCHDOG=1")),
        "watchdog pings: {got:?}"
    );

    // A broken rule file: the reload is refused and the running set kept.
    desk.clone().daemon_set("bogus", 1).write(&cfg);
    kill(pid, "-HUP");
    let got = until(&sock, "READY=1", Duration::from_secs(5));
    let reloading = got.iter().find(|m| m.contains("RELOADING=1")).cloned();
    assert!(
        reloading
            .as_deref()
            .is_some_and(|m| m.contains("MONOTONIC_USEC=")),
        "{got:?}"
    );
    assert!(got.last().is_some_and(|m| m.contains("READY=1")), "{got:?}");
    // Still alive and pinging.
    let got = until(&sock, "WATCHDOG=1", Duration::from_secs(5));
    assert!(got.iter().any(|m| m.contains("WATCHDOG=1")), "{got:?}");
    assert!(
        child.try_wait().expect("wait").is_none(),
        "a broken reload must not stop it"
    );

    // One that moves the database elsewhere: refused too (a restart moves it).
    let elsewhere = dir.path().join("elsewhere");
    desk.clone().daemon_set("state_dir", &elsewhere).write(&cfg);
    kill(pid, "-HUP");
    let got = until(&sock, "READY=1", Duration::from_secs(5));
    assert!(got.iter().any(|m| m.contains("RELOADING=1")), "{got:?}");

    // A good config reloads.
    desk.write(&cfg);
    kill(pid, "-HUP");
    let got = until(&sock, "READY=1", Duration::from_secs(5));
    assert!(got.iter().any(|m| m.contains("RELOADING=1")), "{got:?}");

    kill(pid, "-TERM");
    let got = until(&sock, "STOPPING=1", Duration::from_secs(10));
    assert!(got.iter().any(|m| m.contains("STOPPING=1")), "{got:?}");
    let out = child.wait_with_output().expect("exit");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stderr);
    // The refused reload named the file and line, in journald's format.
    assert!(
        log.lines()
            .any(|l| l.starts_with("<3>") && l.contains("musaid.toml:") && l.contains("bogus")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("<3>") && l.contains("daemon.state_dir cannot change")),
        "{log}"
    );
    assert!(!elsewhere.exists(), "nothing was opened in the new place");
    assert!(log.contains("configuration reloaded"), "{log}");
    // The password never reaches the log.
    assert!(!log.contains(&server.password) || server.password.len() < 4);
}

/// A reload while the daemon waits to reconnect (the fix for what made its sessions fail) is
/// tried at once, not after the rest of a wait that has grown to seconds or minutes.
#[test]
fn a_reload_during_the_reconnect_backoff_connects_at_once() {
    let server = servers::mailserver();
    let dir = tempfile::tempdir().expect("tmp");
    let creds = credentials(server, dir.path());
    let good = config(server, dir.path());
    // A loopback port where nothing listens: every connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let cfg = good
        .clone()
        .imap_set("port", closed)
        .write(&dir.path().join("musaid.toml"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_musaid"))
        .args(["run"])
        .env("MUSAID_CONFIG", &cfg)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("RUST_LOG", "musaid=debug")
        .env_remove("JOURNAL_STREAM")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("musaid run");
    let pid = child.id();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let wait_for = |what: &str, times: usize, max: Duration| -> bool {
        let deadline = Instant::now() + max;
        let mut seen = 0;
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(what) {
                seen += 1;
                if seen == times {
                    return true;
                }
            }
        }
        false
    };
    // The first failure, then three more (1, 2 and 4 s apart): the next wait is 8 s (±25 %).
    assert!(wait_for("IMAP session failed", 1, Duration::from_secs(10)));
    assert!(wait_for("IMAP still failing", 3, Duration::from_secs(15)));
    std::thread::sleep(Duration::from_millis(300));

    good.write(&cfg);
    kill(pid, "-HUP");
    let fixed = Instant::now();
    let connected = wait_for("IMAP connected", 1, Duration::from_secs(5));
    let took = fixed.elapsed();
    kill(pid, "-TERM");
    let status = child.wait().expect("exit");
    assert!(connected, "no connection within 5 s of the reload");
    assert!(
        took < Duration::from_secs(3),
        "connected {took:?} after the reload: it waited out the backoff"
    );
    assert!(status.success(), "exit status {status:?}");
}
