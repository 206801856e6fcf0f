//! No secret in any output: passwords from files, commands and OAuth2 token commands never
//! reach a log line at `trace`, the database, the JSON, the mail or `musaid check`; a
//! password that is not ASCII goes as SASL PLAIN, never in LOGIN.

use super::desk::{closed_port, config, musaid, refusing_imap_server, run_for, Login};
use crate::support::daemon::{count, eventually, mailbox, World};
use crate::support::servers::mailserver;
use std::time::Duration;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_database_the_json_or_the_mail() {
    let world = World::new(mailserver(), "nopw");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    // The IMAP password comes from a command, the SMTP one from a file.
    let desk = world.config().unset("imap", "password_file").imap_set(
        "password_command",
        format!("cat {}", server.password_file.display()),
    );
    let config = desk.write(&world.dir.path().join("musaid.toml"));
    let d = world.run(&desk).await;
    world.request("Invoice", "Please.");
    assert!(
        eventually(Duration::from_secs(10), || {
            count(state, "SELECT count(*) FROM outbox WHERE status = 'sent'") == 2
        })
        .await
    );
    d.stop().await;
    let secret = server.password.as_bytes();
    let contains = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret);
    for entry in std::fs::read_dir(state).expect("state dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert!(!contains(&bytes), "{} holds the password", path.display());
        }
    }
    for args in [
        &["tasks", "list", "--json"][..],
        &["tasks", "show", "1", "--json"],
        &["outbox", "--all", "--json"],
        &["status", "--json"],
        &["check"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("musaid");
        assert!(
            !contains(&out.stdout) && !contains(&out.stderr),
            "{args:?} printed the password"
        );
    }
    for who in [&people.owner, &people.va] {
        for m in mailbox(server, who).await {
            assert!(!contains(&m), "mail to {who} holds the password");
        }
    }
}
