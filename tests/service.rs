//! Running musaid as a service, through the command line: init, status, backup, completions,
//! the man page, journal-friendly logs, and no secret in any output.

mod support;

use musaid::store::{meta_set, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::cli::fixture;
use support::config::ConfigBuilder;

fn musaid() -> Command {
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

fn run(args: &[&str]) -> Output {
    musaid().args(args).output().expect("run musaid")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How musaid logs in to a server in these tests.
enum Login {
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
fn desk(imap_port: u16, imap: &Login, smtp: &Login) -> ConfigBuilder {
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
fn config(dir: &Path, imap_port: u16, imap: &Login, smtp: &Login) -> PathBuf {
    desk(imap_port, imap, smtp).write(&dir.join("musaid.toml"))
}

fn plain_config(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("imap.pass"), "x\n").expect("password file");
    config(dir, 1, &Login::File, &Login::File)
}

/// A loopback port where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn init_writes_a_config_that_passes_check_and_never_overwrites() {
    let tmp = tempfile::tempdir().expect("temp");
    let dir = tmp.path().join("etc-musaid");
    let d = dir.to_str().expect("utf-8 path");
    let out = run(&["init", d]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("musaid check"), "{said}");
    assert!(said.contains("credentials"), "{said}");
    let config = dir.join("musaid.toml");
    let written = std::fs::read_to_string(&config).expect("musaid.toml");
    assert!(written.contains("tasks@example.com"));
    assert!(written.contains("[contracts.acme]") && written.contains("[policy]"));
    assert!(dir.join("rules/10-bookkeeping.toml").is_file());

    // The passwords arrive as systemd credentials.
    let creds = dir.join("credentials");
    std::fs::create_dir(&creds).expect("credentials dir");
    std::fs::write(creds.join("imap.pass"), "secret\n").expect("imap.pass");
    std::fs::write(creds.join("smtp.pass"), "secret\n").expect("smtp.pass");
    let check = musaid()
        .args(["check", "--config"])
        .arg(&config)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .expect("check");
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("OK"), "{}", text(&check));

    // A second init changes nothing and says why.
    std::fs::write(&config, "# edited by the sysadmin\n").expect("edit");
    let again = run(&["init", d]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("Refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read_to_string(&config).expect("read"),
        "# edited by the sysadmin\n"
    );
}

fn status(config: &Path, extra: &[&str]) -> Output {
    musaid()
        .arg("status")
        .arg("--config")
        .arg(config)
        .args(extra)
        .output()
        .expect("status")
}

#[test]
fn status_is_a_monitoring_check_on_the_last_sync() {
    let tmp = tempfile::tempdir().expect("temp");
    let config = plain_config(tmp.path());

    // No database yet: never synced, exit 1.
    let out = status(&config, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("never synced"), "{}", text(&out));

    // A database, but no sync recorded: still never synced.
    let store = Store::open(&tmp.path().join("state")).expect("store");
    let out = status(&config, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["healthy"], false);
    assert!(v["problem"]
        .as_str()
        .is_some_and(|p| p.contains("never synced")));
    assert_eq!(v["last_sync"], Value::Null);

    // A sync two minutes ago: healthy, exit 0.
    let now = chrono::Utc::now().timestamp();
    meta_set(store.conn(), "last_sync", &(now - 120).to_string()).expect("meta");
    meta_set(
        store.conn(),
        "last_error",
        "2026-11-27T09:00:00+00:00 IMAP session failed: connection refused",
    )
    .expect("meta");
    let out = status(&config, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["healthy"], true);
    assert_eq!(v["problem"], Value::Null);
    assert!(v["last_sync"]
        .as_str()
        .is_some_and(|t| t.ends_with("+00:00")));
    let age = v["last_sync_age_seconds"].as_i64().expect("age");
    assert!((120..180).contains(&age), "{age}");
    assert_eq!(v["max_age_seconds"], 900);
    assert_eq!(v["last_error"]["at"], "2026-11-27T09:00:00+00:00");
    assert_eq!(
        v["last_error"]["message"],
        "IMAP session failed: connection refused"
    );
    for key in [
        "pending",
        "due_now",
        "waiting_for_window",
        "retrying",
        "failed",
    ] {
        assert_eq!(v["outbox"][key], 0, "outbox.{key}");
    }
    assert_eq!(v["tasks_open"], 0);
    assert_eq!(v["quarantined"], 0);
    assert_eq!(v["messages"], 0);
    assert_eq!(v["windows"][0]["contract"], "acme");
    assert_eq!(v["windows"][0]["timezone"], "Asia/Riyadh");
    assert!(v["windows"][0]["next_open"]
        .as_str()
        .is_some_and(|t| t.ends_with("+03:00")));

    // The same sync is too old for a one-minute limit.
    let out = status(&config, &["--max-age", "1m"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("longer than --max-age 1m"),
        "{}",
        text(&out)
    );
    let out = status(&config, &["--max-age", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn status_counts_open_tasks() {
    let tmp = tempfile::tempdir().expect("temp");
    let config = plain_config(tmp.path());
    let ingest = musaid()
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .arg(fixture("request-ar-gmail.eml"))
        .output()
        .expect("ingest");
    assert!(ingest.status.success(), "{}", text(&ingest));
    let out = status(&config, &["--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["tasks_open"], 1);
    assert_eq!(v["messages"], 1);
}

#[test]
fn backup_copies_a_live_database_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().expect("temp");
    let config = plain_config(tmp.path());
    let ingest = musaid()
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .arg(fixture("request-ar-gmail.eml"))
        .output()
        .expect("ingest");
    assert!(ingest.status.success(), "{}", text(&ingest));

    // Another connection (the daemon) is in the middle of a write while the backup runs.
    let mut daemon = Store::open(&tmp.path().join("state")).expect("store");
    let tx = daemon.transaction().expect("tx");
    meta_set(&tx, "last_sync", "1").expect("write in progress");

    let dest = tmp.path().join("backup.db");
    let out = musaid()
        .arg("--config")
        .arg(&config)
        .arg("backup")
        .arg(&dest)
        .output()
        .expect("backup");
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("backup.db") && said.contains("1 task(s)"),
        "{said}"
    );
    drop(tx);

    let copy = rusqlite::Connection::open(&dest).expect("open the copy");
    let tasks: i64 = copy
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .expect("count");
    let original: i64 = daemon
        .conn()
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .expect("count");
    assert_eq!(tasks, original);
    assert_eq!(tasks, 1);
    // The uncommitted write is not in the copy.
    let synced: Option<String> = musaid::store::meta_get(&copy, "last_sync").expect("meta");
    assert_eq!(synced, None);

    let before = std::fs::read(&dest).expect("read");
    let again = musaid()
        .arg("--config")
        .arg(&config)
        .arg("backup")
        .arg(&dest)
        .output()
        .expect("backup");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again).contains("Refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read(&dest).expect("read"), before);
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("musaid") && script.contains("status") && script.contains("max-age"),
            "{shell}: {script}"
        );
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    let man = run(&["man"]);
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH musaid 1"), "{page}");
    assert!(page.contains("status"), "{page}");
    assert!(page.contains("CREDENTIALS_DIRECTORY"), "{page}");

    let dir = tempfile::tempdir().expect("temp");
    let out = musaid()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .expect("man --out");
    assert!(out.status.success(), "{}", text(&out));
    let status_page =
        std::fs::read_to_string(dir.path().join("musaid-status.1")).expect("musaid-status.1");
    assert!(status_page.contains("max\\-age"), "{status_page}");
    assert!(dir.path().join("musaid.1").is_file());
}

/// Run `musaid ARGS` for up to `limit`, then stop it; all of its output.
fn run_for(mut cmd: Command, limit: Duration) -> String {
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
fn refusing_imap_server() -> (u16, Arc<Mutex<Vec<String>>>) {
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

#[test]
fn no_secret_in_any_output_even_at_trace() {
    const FILE_SECRET: &str = "FileSecret-4f1d9a";
    const COMMAND_SECRET: &str = "CommandSecret-8be27c";
    const TOKEN_SECRET: &str = "TokenSecret-19c3e5";
    let tmp = tempfile::tempdir().expect("temp");
    std::fs::write(tmp.path().join("imap.pass"), format!("{FILE_SECRET}\n")).expect("pass");
    let (refusing, server_saw) = refusing_imap_server();
    let setups = [
        // Nothing listens: the daemon retries with backoff.
        (
            closed_port(),
            Login::File,
            Login::Command(format!("printf %s {COMMAND_SECRET}")),
        ),
        // A server that refuses the token, and an SMTP password command that fails.
        (
            refusing,
            Login::XOAuth2(format!("echo {TOKEN_SECRET}")),
            Login::Command(format!("echo {COMMAND_SECRET}; exit 3")),
        ),
        // A server that refuses the password from a command.
        (
            refusing,
            Login::Command(format!("printf %s {COMMAND_SECRET}")),
            Login::File,
        ),
    ];
    for (i, (port, imap, smtp)) in setups.iter().enumerate() {
        let dir = tmp.path().join(format!("setup{i}"));
        std::fs::create_dir(&dir).expect("dir");
        std::fs::copy(tmp.path().join("imap.pass"), dir.join("imap.pass")).expect("copy");
        let config = config(&dir, *port, imap, smtp);
        let mut outputs = Vec::new();
        let mut check = musaid();
        check
            .arg("check")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "trace");
        outputs.push(("check", run_for(check, Duration::from_secs(10))));
        for format in ["text", "json", "journal"] {
            let mut daemon = musaid();
            daemon
                .args(["run", "--log-format", format, "--config"])
                .arg(&config)
                .env("RUST_LOG", "trace");
            outputs.push(("run", run_for(daemon, Duration::from_secs(2))));
        }
        let mut st = musaid();
        st.args(["status", "--json", "--config"]).arg(&config);
        outputs.push(("status", run_for(st, Duration::from_secs(10))));
        assert!(
            outputs[0].1.contains("OK"),
            "setup {i}: check failed: {}",
            outputs[0].1
        );
        for (what, out) in &outputs {
            for secret in [FILE_SECRET, COMMAND_SECRET, TOKEN_SECRET] {
                assert!(
                    !out.contains(secret),
                    "setup {i}: `musaid {what}` printed a secret:\n{out}"
                );
            }
        }
    }
    // Once the daemon logs in, the refusing server shows that the secrets were really used.
    let saw = server_saw.lock().map(|l| l.len()).unwrap_or(0);
    println!("the refusing IMAP server received {saw} line(s)");
}

#[test]
fn journal_lines_have_a_priority_and_no_timestamp() {
    let tmp = tempfile::tempdir().expect("temp");
    let config = plain_config(tmp.path());
    let mut cmd = musaid();
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("JOURNAL_STREAM", "8:12345")
        .env("RUST_LOG", "debug");
    let out = run_for(cmd, Duration::from_secs(2));
    let timestamp = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}").expect("regex");
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let p = l.strip_prefix('<').and_then(|r| r.chars().next());
        assert!(
            p.is_some_and(|c| ('0'..='7').contains(&c)) && l.get(2..3) == Some(">"),
            "no <N> priority: {l}\n{out}"
        );
        assert!(!timestamp.is_match(l), "timestamp in a journal line: {l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<7>") && l.contains("loading the configuration")),
        "{out}"
    );

    // --log-format text under the journal still has timestamps; json is one object a line.
    let mut cmd = musaid();
    cmd.args(["run", "--log-format", "text", "--config"])
        .arg(&config)
        .env("JOURNAL_STREAM", "8:12345")
        .env("RUST_LOG", "debug");
    let out = run_for(cmd, Duration::from_secs(2));
    let line = out
        .lines()
        .find(|l| l.contains("loading the configuration"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(timestamp.is_match(line) && !line.starts_with('<'), "{line}");

    let mut cmd = musaid();
    cmd.args([
        "run",
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "--config",
    ])
    .arg(&config);
    let out = run_for(cmd, Duration::from_secs(2));
    let event: Value = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "loading the configuration")
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(event["level"], "DEBUG");
    assert!(event["timestamp"].is_string());
}

#[test]
fn a_second_daemon_on_the_same_state_directory_is_refused() {
    let tmp = tempfile::tempdir().expect("temp");
    let config = plain_config(tmp.path());
    // The first one keeps trying its (unreachable) IMAP server, holding the state directory.
    let mut first = musaid()
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn musaid");
    let lock = tmp.path().join("state/musaid.lock");
    let pid = first.id().to_string();
    let start = Instant::now();
    while std::fs::read_to_string(&lock).map_or(true, |l| l.trim() != pid)
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }

    // The second one's server is a real listener: the refusal comes before any login (the
    // daemon logs in while its rules compile, but not when the directory is held).
    let (port, seen) = refusing_imap_server();
    let same_state = desk(port, &Login::File, &Login::File).write(&tmp.path().join("second.toml"));
    let second = run(&["run", "--config", same_state.to_str().unwrap_or_default()]);
    let config_arg = config.to_str().unwrap_or_default();
    let running: Value =
        serde_json::from_slice(&run(&["status", "--json", "--config", config_arg]).stdout)
            .expect("status json");
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(
        running["daemon"]["pid"].as_u64(),
        Some(u64::from(first.id()))
    );
    let gone: Value =
        serde_json::from_slice(&run(&["status", "--json", "--config", config_arg]).stdout)
            .expect("status json");
    assert!(gone["daemon"].is_null(), "{gone}");
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let said = text(&second);
    assert!(said.contains("already running"), "{said}");
    assert!(said.contains(&format!("(pid {pid})")), "{said}");
    let sent = seen.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        sent.is_empty(),
        "the refused daemon talked to IMAP: {sent:?}"
    );

    // Once the first is gone (killed: the kernel drops its lock), the next one starts.
    let mut cmd = musaid();
    cmd.args(["run", "--config"]).arg(&config);
    let out = run_for(cmd, Duration::from_secs(2));
    assert!(!out.contains("already running"), "{out}");
    assert!(out.contains("musaid started"), "{out}");
}

#[test]
fn a_password_that_is_not_ascii_goes_as_sasl_plain_never_in_login_or_the_log() {
    use base64::Engine as _;
    const PASSWORD: &str = "كلمة-سر-٢٠٢٦";
    let tmp = tempfile::tempdir().expect("temp");
    std::fs::write(tmp.path().join("imap.pass"), format!("{PASSWORD}\n")).expect("pass");
    let (port, server_saw) = refusing_imap_server();
    let config = config(tmp.path(), port, &Login::File, &Login::File);
    let mut cmd = musaid();
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "trace");
    let out = run_for(cmd, Duration::from_secs(2));

    let saw = server_saw.lock().map(|l| l.clone()).unwrap_or_default();
    let asked = saw
        .iter()
        .position(|l| l.ends_with(" AUTHENTICATE PLAIN"))
        .unwrap_or_else(|| panic!("no AUTHENTICATE PLAIN: {saw:?}"));
    assert!(!saw.iter().any(|l| l.contains(" LOGIN ")), "{saw:?}");
    // RFC 4616: authorization identity (none), user, password, in UTF-8.
    let answer = saw.get(asked + 1).map(String::as_str).unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(answer.trim())
        .expect("base64");
    assert_eq!(
        String::from_utf8_lossy(&decoded),
        format!("\0tasks@va.example\0{PASSWORD}")
    );
    assert!(out.contains("IMAP login as tasks@va.example"), "{out}");
    assert!(
        !out.contains(PASSWORD) && !out.contains(answer.trim()),
        "{out}"
    );
}
