//! Running musaid as a service, through the command line: init, status, backup, completions,
//! the man page, journal-friendly logs, one daemon per state directory, and `check --connect`.

use super::desk::{desk, musaid, plain_config, refusing_imap_server, run, run_for, text, Login};
use crate::support::cli::fixture;
use crate::support::config::ConfigBuilder;
use crate::support::daemon::{config, People};
use crate::support::servers::mailserver;
use musaid::store::{meta_set, Store};
use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

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
    // The key is there, commented: until it is set, check says what that trusts.
    assert!(written.contains("# trusted_authserv_id = "), "{written}");
    let warned = String::from_utf8_lossy(&check.stderr);
    assert!(
        warned.contains("trusted_authserv_id is not set"),
        "{warned}"
    );

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
fn check_connect_logs_in_as_the_daemon_would_and_says_what_fails() {
    let server = mailserver();
    let people = People::new("check");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state).imap_set("after", "move:Processed");
    let check = |desk: &ConfigBuilder| {
        let config = desk.write(&dir.path().join("musaid.toml"));
        std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .args(["check", "--connect", "--config"])
            .arg(&config)
            .env_remove("MUSAID_CONFIG")
            .output()
            .expect("musaid check")
    };

    let out = check(&desk);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imap = format!(
        "IMAP 127.0.0.1:{}: logged in as {}; INBOX: 0 message(s)",
        server.imap_port, people.inbox
    );
    assert!(said.contains(&imap), "{said}");
    assert!(
        said.contains("move:Processed\": no such folder yet"),
        "{said}"
    );
    let smtp = format!(
        "SMTP 127.0.0.1:{}: connected and logged in as {}",
        server.smtp_port, people.inbox
    );
    assert!(said.contains(&smtp), "{said}");
    assert!(!state.exists(), "a check writes nothing");

    // A wrong password: exit 1, the server named, the password not shown.
    std::fs::write(dir.path().join("wrong"), "not-the-password\n").expect("password");
    let wrong = desk
        .imap_set("password_file", dir.path().join("wrong"))
        .smtp_set("password_file", dir.path().join("wrong"));
    let out = check(&wrong);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("IMAP login as {}", people.inbox)),
        "{err}"
    );
    assert!(err.contains("SMTP 127.0.0.1:"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
}

#[test]
fn recurring_lists_the_entries_and_check_names_their_errors() {
    use crate::support::cli::{json, musaid, Desk};
    let rules = tempfile::tempdir().expect("rules dir");
    let entry = "[[recurring]]\nname = \"monthly-invoices\"\ncontract = \"acme\"\n\
                 cron = \"0 0 9 1 * *\"\nsubject = \"Send the monthly invoices\"\n\
                 assign = \"sara@va.example\"\ndue = \"2 business days\"\n";
    std::fs::write(rules.path().join("50-recurring.toml"), entry).expect("write");
    let rules_dir = rules.path().display().to_string();
    let d = Desk::new(|c| {
        c.daemon_set("rules_dir", rules_dir.as_str())
            .contract("acme", |c| {
                c.timezone("Asia/Riyadh").windows(&["Sun-Thu 08:00-16:00"])
            })
    });
    let out = musaid(&d, &["recurring", "--json", "--next", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v[0]["name"], "monthly-invoices");
    assert_eq!(v[0]["timezone"], "Asia/Riyadh");
    assert_eq!(v[0]["due"], "2 business days");
    let next: Vec<&str> = v[0]["next"]
        .as_array()
        .expect("next")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(next.len(), 2);
    assert!(
        next.iter().all(|t| t.contains("-01T09:00:00+03:00")),
        "{next:?}"
    );
    let text = musaid(&d, &["recurring"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("monthly-invoices"));

    // A VA who is not the contract's, and a cron of five fields: both with file:line.
    let broken = entry
        .replace("sara@va.example", "mallory@evil.test")
        .replace("0 0 9 1 * *", "0 9 1 * *");
    std::fs::write(rules.path().join("50-recurring.toml"), &broken).expect("write");
    let out = musaid(&d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("50-recurring.toml:4: recurring `monthly-invoices`: cron"),
        "{err}"
    );
    std::fs::write(
        rules.path().join("50-recurring.toml"),
        entry.replace("sara@va.example", "mallory@evil.test"),
    )
    .expect("write");
    let out = musaid(&d, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("50-recurring.toml:6: recurring `monthly-invoices`: mallory@evil.test is not a VA of contract acme"),
        "{err}"
    );
}

#[test]
fn check_warns_of_what_the_config_takes_on_trust_and_still_succeeds() {
    use crate::support::cli::{musaid as on, riyadh_office, Desk};
    let trusting = Desk::new(riyadh_office);
    let out = on(&trusting, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: [policy] trusted_authserv_id is not set"),
        "{err}"
    );
    assert!(err.contains("cancel or reassign tasks"), "{err}");
    assert!(err.contains("docs/security.md"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));

    let careful = Desk::new(|c| riyadh_office(c).policy("trusted_authserv_id", "mx.va.example"));
    let out = on(&careful, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let open = Desk::new(|c| {
        riyadh_office(c)
            .policy("trusted_authserv_id", "mx.va.example")
            .policy("unknown_senders", "task")
            .contract("acme", |c| c.owners(&["*"]))
    });
    let out = on(&open, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("trusted_authserv_id"), "{err}");
    assert!(err.contains("unknown_senders = \"task\""), "{err}");
    assert!(err.contains("[contracts.acme] owners = \"*\""), "{err}");
    assert_eq!(
        err.matches("every forged sender gets an acknowledgement")
            .count(),
        2,
        "{err}"
    );
}
