//! The IMAP protocol layer against a real Dovecot (and Postfix to deliver),
//! started by `scripts/mailserver`.

use crate::support::servers::{
    self, imap_config, mailserver, raw_message, send_smtp, unique_user, wait_for_mail,
};
use anyhow::{bail, Context, Result};
use musaid::config::TlsMode;
use musaid::imap::{self, IdleOutcome, MoveOutcome, ServerCapabilities};
use std::time::{Duration, Instant};

const DELIVERY: Duration = Duration::from_secs(10);

/// The header names a delivery may put above the message as sent.
fn only_trace_headers(prefix: &[u8]) -> bool {
    let text = String::from_utf8_lossy(prefix);
    text.split("\r\n").filter(|l| !l.is_empty()).all(|line| {
        line.starts_with([' ', '\t'])
            || ["return-path:", "received:", "delivered-to:"]
                .iter()
                .any(|h| line.to_ascii_lowercase().starts_with(h))
    })
}

fn flags_of(flags: &[(u32, Vec<String>)], uid: u32) -> Vec<String> {
    flags
        .iter()
        .find(|(u, _)| *u == uid)
        .map(|(_, f)| f.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn login_and_select_give_capabilities_and_a_stable_uidvalidity() -> Result<()> {
    let user = unique_user("login");
    let mut s = imap::connect(&imap_config(&user)).await?;
    let caps = s.capabilities();
    assert!(caps.idle && caps.move_cmd && caps.uidplus, "{caps:?}");

    let first = s.select("INBOX").await?;
    assert!(first.uid_validity > 0);
    assert_eq!(first.exists, 0);
    assert_eq!(first.uid_next, Some(1));

    // A NO answer is an error naming the mailbox; the session stays usable.
    let err = match s.select("No such folder").await {
        Ok(m) => bail!("selected a missing folder: {m:?}"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("SELECT \"No such folder\" at 127.0.0.1:"),
        "{err}"
    );
    assert!(s.is_usable());
    s.noop().await?;
    s.logout().await?;

    let mut again = imap::connect(&imap_config(&user)).await?;
    let second = again.select("INBOX").await?;
    assert_eq!(second.uid_validity, first.uid_validity);
    again.logout().await
}

#[tokio::test]
async fn delivered_mail_is_found_by_uid_and_fetched_byte_equal_without_setting_seen() -> Result<()>
{
    let user = unique_user("fetch");
    let owner = unique_user("owner");
    let raw = raw_message(
        &owner,
        &user,
        "Invoice for November",
        "Please pay the invoice.\n.a line starting with a dot\nفاتورة شهر نوفمبر",
    );
    send_smtp(&owner, &user, &raw)?;

    let mut s = imap::connect(&imap_config(&user)).await?;
    s.select("INBOX").await?;
    let uids = wait_for_mail(&mut s, 0, DELIVERY).await?;
    assert_eq!(uids.len(), 1, "{uids:?}");
    let uid = uids[0];
    // `UID n+1:*` matches the last message even when none is newer: filtered out.
    assert_eq!(s.uid_search_after(uid).await?, Vec::<u32>::new());
    assert_eq!(s.uid_search_after(uid - 1).await?, vec![uid]);

    let today = chrono::Local::now().date_naive();
    assert_eq!(s.uid_search_since(today).await?, vec![uid]);
    let tomorrow = today.succ_opt().context("No tomorrow")?;
    assert_eq!(s.uid_search_since(tomorrow).await?, Vec::<u32>::new());

    let bodies = s.fetch_bodies(&[uid]).await?;
    assert_eq!(bodies.len(), 1);
    let (got_uid, body) = &bodies[0];
    assert_eq!(*got_uid, uid);
    assert!(body.ends_with(&raw), "{}", String::from_utf8_lossy(body));
    let prefix = &body[..body.len() - raw.len()];
    assert!(
        only_trace_headers(prefix),
        "{}",
        String::from_utf8_lossy(prefix)
    );

    let sizes = s.fetch_sizes(&[uid]).await?;
    assert_eq!(sizes, vec![(uid, u32::try_from(body.len())?)]);

    let flags = s.fetch_flags(&[uid]).await?;
    assert!(
        !flags_of(&flags, uid).contains(&"\\Seen".to_string()),
        "{flags:?}"
    );

    s.mark_seen(&[uid]).await?;
    let flags = s.fetch_flags(&[uid]).await?;
    assert!(
        flags_of(&flags, uid).contains(&"\\Seen".to_string()),
        "{flags:?}"
    );

    // UIDs that do not exist are simply absent.
    assert_eq!(s.fetch_bodies(&[uid + 100]).await?.len(), 0);
    s.logout().await
}

#[tokio::test]
async fn fetched_mail_carries_its_arrival_time_not_its_date_header() -> Result<()> {
    let user = unique_user("arrival");
    let owner = unique_user("owner");
    // Dated weeks before the test runs, as a request sent long ago and delivered now.
    let raw = raw_message(&owner, &user, "Delivered late", "Please.");
    send_smtp(&owner, &user, &raw)?;

    let mut s = imap::connect(&imap_config(&user)).await?;
    s.select("INBOX").await?;
    let uids = wait_for_mail(&mut s, 0, DELIVERY).await?;
    let mail = s.fetch_mail(&uids).await?;
    assert_eq!(mail.len(), 1);
    assert!(mail[0].raw.ends_with(&raw));
    let arrived = mail[0].internal_date.context("No INTERNALDATE")?;
    let off = (chrono::Utc::now() - arrived).num_seconds().abs();
    assert!(off < 60, "arrived {arrived}, {off} s from now");
    s.logout().await
}

#[tokio::test]
async fn wrong_password_is_a_clear_error() -> Result<()> {
    let user = unique_user("wrongpw");
    let dir = tempfile::tempdir()?;
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "not-the-password\n")?;
    let mut cfg = imap_config(&user);
    cfg.login.password = musaid::config::SecretSource::File(pass);

    let err = match imap::connect(&cfg).await {
        Ok(_) => bail!("a wrong password logged in"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(&format!("IMAP login as {user}")), "{err}");
    assert!(err.contains("Authentication failed"), "{err}");
    assert!(
        !err.contains("not-the-password"),
        "the password leaked: {err}"
    );
    Ok(())
}

#[tokio::test]
async fn idle_reports_new_mail_within_two_seconds_and_times_out_by_the_clock() -> Result<()> {
    let user = unique_user("idle");
    let owner = unique_user("owner");
    let mut s = imap::connect(&imap_config(&user)).await?;
    s.select("INBOX").await?;

    let started = Instant::now();
    assert_eq!(
        s.idle_wait(Duration::from_millis(500)).await?,
        IdleOutcome::Timeout
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    let raw = raw_message(&owner, &user, "Ping", "new mail while idling");
    let sender = std::thread::spawn(move || -> Result<Instant> {
        std::thread::sleep(Duration::from_millis(300));
        send_smtp(&owner, &user, &raw)?;
        Ok(Instant::now())
    });
    let outcome = s.idle_wait(Duration::from_secs(20)).await?;
    let woke = Instant::now();
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
    assert_eq!(outcome, IdleOutcome::NewData);
    assert!(
        woke.duration_since(sent) < Duration::from_secs(2),
        "{:?}",
        woke - sent
    );

    // The session is usable after IDLE and the mail is there.
    assert_eq!(s.uid_search_after(0).await?.len(), 1);
    s.logout().await
}

#[tokio::test]
async fn move_to_moves_exactly_that_uid_into_a_created_folder() -> Result<()> {
    let user = unique_user("move");
    let owner = unique_user("owner");
    for i in 1..=3 {
        let raw = raw_message(&owner, &user, &format!("Request {i}"), "text");
        send_smtp(&owner, &user, &raw)?;
    }
    let mut s = imap::connect(&imap_config(&user)).await?;
    s.select("INBOX").await?;
    let deadline = Instant::now() + DELIVERY;
    let mut uids = Vec::new();
    while uids.len() < 3 && Instant::now() < deadline {
        uids = wait_for_mail(&mut s, 0, DELIVERY).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(uids.len(), 3, "{uids:?}");

    s.create_if_missing("Processed").await?;
    s.create_if_missing("Processed").await?; // exists now: no error
    assert_eq!(
        s.move_to(&[uids[1]], "Processed").await?,
        MoveOutcome::Moved
    );

    assert_eq!(s.message_count("INBOX").await?, 2);
    assert_eq!(s.message_count("Processed").await?, 1);
    assert_eq!(s.uid_search_after(0).await?, vec![uids[0], uids[2]]);

    s.select("Processed").await?;
    let moved = s.uid_search_after(0).await?;
    let bodies = s.fetch_bodies(&moved).await?;
    assert_eq!(bodies.len(), 1);
    let text = String::from_utf8_lossy(&bodies[0].1);
    assert!(text.contains("Subject: Request 2"), "{text}");
    s.logout().await
}

#[tokio::test]
async fn without_move_a_copy_and_uid_expunge_remove_only_that_uid() -> Result<()> {
    let user = unique_user("uidplus");
    let mut s = imap::connect(&imap_config(&user)).await?;
    let a = raw_message(&user, &user, "Deleted by someone else", "a");
    let b = raw_message(&user, &user, "Ours to move", "b");
    s.append("INBOX", &a, &["\\Deleted"]).await?;
    s.append("INBOX", &b, &[]).await?;
    s.create_if_missing("Processed").await?;
    s.select("INBOX").await?;
    let uids = s.uid_search_after(0).await?;
    assert_eq!(uids.len(), 2, "{uids:?}");

    s.assume_capabilities(ServerCapabilities {
        idle: true,
        move_cmd: false,
        uidplus: true,
    });
    assert_eq!(
        s.move_to(&[uids[1]], "Processed").await?,
        MoveOutcome::Moved
    );
    // The other \Deleted message survives: no plain EXPUNGE.
    assert_eq!(s.uid_search_after(0).await?, vec![uids[0]]);
    assert_eq!(s.message_count("Processed").await?, 1);

    // Neither MOVE nor UIDPLUS: copied and flagged, nothing expunged.
    s.assume_capabilities(ServerCapabilities::default());
    let c = raw_message(&user, &user, "No UIDPLUS", "c");
    s.append("INBOX", &c, &[]).await?;
    s.noop().await?;
    let c_uid = *s
        .uid_search_after(uids[1])
        .await?
        .last()
        .context("appended mail missing")?;
    assert_eq!(
        s.move_to(&[c_uid], "Processed").await?,
        MoveOutcome::CopiedAndFlagged
    );
    assert_eq!(s.uid_search_after(0).await?, vec![uids[0], c_uid]);
    let flags = s.fetch_flags(&[c_uid]).await?;
    assert!(
        flags_of(&flags, c_uid).contains(&"\\Deleted".to_string()),
        "{flags:?}"
    );
    assert_eq!(s.message_count("Processed").await?, 2);
    s.logout().await
}

#[tokio::test]
async fn plaintext_to_a_non_loopback_host_is_refused_before_connecting() -> Result<()> {
    for host in ["192.0.2.1", "imap.example.test", "10.0.0.1"] {
        let mut cfg = imap_config("tasks@example.test");
        cfg.host = host.into();
        // Unreadable secrets are not even looked at: the refusal comes first.
        cfg.login.password = musaid::config::SecretSource::File("/nonexistent".into());
        let started = Instant::now();
        let err = match imap::connect(&cfg).await {
            Ok(_) => bail!("plaintext to {host} was allowed"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(&format!("Refusing plaintext IMAP to {host}")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_millis(200));
    }
    Ok(())
}

#[tokio::test]
async fn implicit_tls_and_starttls_verify_the_certificate() -> Result<()> {
    let server = mailserver();
    let user = unique_user("tls");

    // Implicit TLS with the private CA, by IP and by name.
    for host in ["127.0.0.1", "localhost"] {
        let mut cfg = imap_config(&user);
        cfg.host = host.into();
        cfg.port = server.imaps_port;
        cfg.tls = TlsMode::Implicit;
        cfg.ca_file = Some(server.tls_ca.clone());
        let mut s = imap::connect(&cfg)
            .await
            .with_context(|| format!("implicit TLS to {host}"))?;
        s.select("INBOX").await?;
        s.logout().await?;
    }

    // STARTTLS on the plain port.
    let mut cfg = imap_config(&user);
    cfg.tls = TlsMode::StartTls;
    cfg.ca_file = Some(server.tls_ca.clone());
    let mut s = imap::connect(&cfg).await.context("STARTTLS")?;
    s.select("INBOX").await?;
    s.logout().await?;

    // Without the private CA the certificate is not trusted.
    for (tls, port) in [
        (TlsMode::Implicit, server.imaps_port),
        (TlsMode::StartTls, server.imap_port),
    ] {
        let mut cfg = imap_config(&user);
        cfg.tls = tls;
        cfg.port = port;
        let err = match imap::connect(&cfg).await {
            Ok(_) => bail!("{tls:?} accepted a certificate from an unknown CA"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("TLS with 127.0.0.1 failed"), "{err}");
        assert!(err.contains("UnknownIssuer"), "{err}");
    }

    Ok(())
}

#[tokio::test]
async fn a_dovecot_restart_ends_idle_with_an_error_and_a_reconnect_finds_mail_queued_meanwhile(
) -> Result<()> {
    let private = servers::PrivateMailServer::start()?;
    let server = private.server.clone();
    let user = unique_user("restart");
    let owner = unique_user("owner");
    let cfg = servers::imap_config_for(&server, &user);

    let mut s = imap::connect(&cfg).await?;
    let before = s.select("INBOX").await?;

    // Restart Dovecot while we idle: IDLE must fail promptly, not hang.
    let restarter = std::thread::spawn({
        let dir = server.dir.clone();
        move || -> Result<()> {
            std::thread::sleep(Duration::from_millis(300));
            run_script_in(&dir, "restart-dovecot")
        }
    });
    let started = Instant::now();
    let idle = s.idle_wait(Duration::from_secs(30)).await;
    restarter
        .join()
        .map_err(|_| anyhow::anyhow!("restart thread panicked"))??;
    assert!(idle.is_err(), "IDLE survived a server restart: {idle:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(!s.is_usable());
    let err = format!(
        "{:#}",
        s.noop()
            .await
            .err()
            .context("a broken session answered NOOP")?
    );
    assert!(err.contains("broken") && err.contains("reconnect"), "{err}");

    // Dovecot down: connecting fails clearly, Postfix keeps the mail.
    private.run("stop-dovecot")?;
    let err = match imap::connect(&cfg).await {
        Ok(_) => bail!("connected to a stopped Dovecot"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains(&format!(
            "Could not connect to 127.0.0.1:{}",
            server.imap_port
        )),
        "{err}"
    );
    let raw = raw_message(&owner, &user, "Sent while the IMAP server was down", "kept");
    servers::send_smtp_relay(&server, &owner, &user, &raw)?;

    // Back up: the queued mail arrives and the mailbox kept its UIDVALIDITY.
    private.run("start-dovecot")?;
    let mut s = imap::connect(&cfg).await?;
    let after = s.select("INBOX").await?;
    assert_eq!(after.uid_validity, before.uid_validity);
    let uids = wait_for_mail(&mut s, 0, Duration::from_secs(20)).await?;
    let bodies = s.fetch_bodies(&uids).await?;
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].1.ends_with(&raw));
    s.logout().await
}

fn run_script_in(dir: &std::path::Path, command: &str) -> Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver");
    let status = std::process::Command::new(script)
        .arg(command)
        .env("MUSAID_MAILSERVER_DIR", dir)
        .stdin(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        bail!("{script} {command}: {status}");
    }
    Ok(())
}

#[tokio::test]
async fn a_password_that_is_not_ascii_logs_in() -> Result<()> {
    // Sent as SASL PLAIN (UTF-8), not in LOGIN's 7-bit quoted strings.
    let server = mailserver();
    let user = unique_user("utf8-pw");
    let dir = tempfile::tempdir()?;
    let pass = dir.path().join("pass");
    std::fs::write(&pass, format!("{}\n", server.password_utf8))?;
    let mut cfg = imap_config(&user);
    cfg.login.password = musaid::config::SecretSource::File(pass.clone());
    let mut s = imap::connect(&cfg).await?;
    s.select("INBOX").await?;
    s.logout().await?;

    // A wrong one is refused like any wrong password, and not shown.
    std::fs::write(&pass, "كلمة-خطأ\n")?;
    let err = match imap::connect(&cfg).await {
        Ok(_) => bail!("a wrong password logged in"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains(&format!("IMAP login as {user}")), "{err}");
    assert!(!err.contains("كلمة-خطأ"), "the password leaked: {err}");
    Ok(())
}

#[tokio::test]
async fn xoauth2_logs_in_with_the_token_the_command_prints() -> Result<()> {
    // The test Dovecot checks XOAUTH2 bearer tokens like passwords.
    let user = unique_user("oauth");
    let with_token = |cmd: &str| {
        let mut cfg = imap_config(&user);
        cfg.login.auth = musaid::config::AuthMethod::XOAuth2;
        cfg.login.password = musaid::config::SecretSource::None;
        cfg.login.oauth2_token_command = Some(cmd.to_string());
        cfg
    };

    let mut s = imap::connect(&with_token("printf '%s\\n' secret")).await?;
    s.select("INBOX").await?;
    s.logout().await?;

    let started = Instant::now();
    let err = match imap::connect(&with_token("echo expired-token")).await {
        Ok(_) => bail!("a wrong token logged in"),
        Err(e) => format!("{e:#}"),
    };
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.contains(&format!("IMAP login as {user}")), "{err}");
    assert!(!err.contains("expired-token"), "the token leaked: {err}");

    let err = match imap::connect(&with_token("exit 7")).await {
        Ok(_) => bail!("a failing token command logged in"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("The OAuth2 token command failed"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_large_message_is_fetched_whole_and_its_size_known_first() -> Result<()> {
    let user = unique_user("large");
    let mut s = imap::connect(&imap_config(&user)).await?;
    // 8 MB of base64-like lines: the size a scanned PDF attachment brings.
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    let body = line.repeat(8 * 1024 * 1024 / line.len());
    let raw = raw_message(&user, &user, "Scan", &body);
    s.append("INBOX", &raw, &[]).await?;
    s.select("INBOX").await?;
    let uids = s.uid_search_after(0).await?;
    assert_eq!(uids.len(), 1);

    let sizes = s.fetch_sizes(&uids).await?;
    assert_eq!(sizes, vec![(uids[0], u32::try_from(raw.len())?)]);
    let started = Instant::now();
    let bodies = s.fetch_bodies(&uids).await?;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].1 == raw,
        "the fetched message differs from the appended one"
    );
    s.logout().await
}

#[tokio::test]
async fn a_uidvalidity_change_ends_the_old_session_and_shows_on_the_next_select() -> Result<()> {
    let user = unique_user("uidvalidity");
    let mut old = imap::connect(&imap_config(&user)).await?;
    let raw = raw_message(&user, &user, "Before the migration", "x");
    old.append("INBOX", &raw, &[]).await?;
    let before = old.select("INBOX").await?;

    let printed = servers::mailserver_command(&["bump-uidvalidity", &user])?;
    let bumped: u32 = printed
        .trim()
        .parse()
        .context("bump-uidvalidity printed no number")?;
    assert_eq!(bumped, before.uid_validity + 1);

    // Dovecot answers the old session's next command with BYE: an error, not a hang.
    let err = format!(
        "{:#}",
        old.noop().await.err().context("NOOP survived the change")?
    );
    assert!(err.contains("closed the connection (BYE"), "{err}");
    assert!(!old.is_usable());

    let mut new = imap::connect(&imap_config(&user)).await?;
    let after = new.select("INBOX").await?;
    assert_eq!(after.uid_validity, bumped);
    assert_eq!(after.exists, 1);
    let uids = new.uid_search_after(0).await?;
    let bodies = new.fetch_bodies(&uids).await?;
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].1 == raw);
    new.logout().await
}
