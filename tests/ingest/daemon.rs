//! Requests becoming tasks through the daemon, against real Dovecot and Postfix: within two
//! seconds by IDLE, a backlog exactly once (large mail a few megabytes at a time), no
//! duplicate after a UIDVALIDITY change, an oversized message recorded but never loaded and
//! its owner told.

use crate::support::daemon::{
    config, connected, count, delivered, eventually, header, mailbox, pipeline, request,
    send_requests, tasks, Daemon, People,
};
use crate::support::servers::{self, mailserver, send_smtp, MailServer};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_through_smtp_becomes_a_task_within_two_seconds() {
    let server = mailserver();
    let people = People::new("idle");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state);
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;

    let (id, raw) = request(
        &people.owner,
        &people.inbox,
        "Invoice for October",
        "Please send it.",
    );
    let sent = Instant::now();
    send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
    let ok = eventually(Duration::from_secs(2), || {
        tasks(&state).iter().any(|t| t.message_id == id)
    })
    .await;
    let took = sent.elapsed();
    d.stop().await;
    assert!(ok, "no task within 2 s of SMTP acceptance (IDLE)");
    let t = tasks(&state);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].requester, people.owner);
    assert_eq!(t[0].category, "bookkeeping");
    eprintln!("SMTP acceptance to task: {took:?}");
}

/// Once Postfix has delivered the requests `ids` to the inbox, a daemon's first start takes
/// them as a backlog: exactly one task each. The daemon is stopped; its temporary directory,
/// state directory and an IMAP session on the inbox are returned.
async fn ingest_backlog(
    server: &MailServer,
    people: &People,
    ids: &BTreeSet<String>,
    within: Duration,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    musaid::imap::ImapSession,
) {
    let n = ids.len();
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    let delivered_all = delivered(&mut s, "INBOX", u32::try_from(n).unwrap_or(u32::MAX)).await;
    assert!(delivered_all, "Postfix did not deliver the backlog");

    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, people, &state);
    let d = Daemon::start(pipeline(&desk, dir.path()));
    let ok = eventually(within, || tasks(&state).len() >= n).await;
    // Give it a moment to (wrongly) do more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.stop().await;
    assert!(ok, "only {} of {n} tasks", tasks(&state).len());
    let got: Vec<String> = tasks(&state).into_iter().map(|t| t.message_id).collect();
    assert_eq!(got.len(), n, "exactly one task per message");
    assert_eq!(&got.into_iter().collect::<BTreeSet<_>>(), ids);
    (dir, state, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_500_is_ingested_exactly_once() {
    let server = mailserver();
    let people = People::new("backlog");
    let ids = send_requests(&people, 500, |i| format!("Request {i}"), "Details inside.");
    let (_dir, state, mut s) = ingest_backlog(server, &people, &ids, Duration::from_secs(60)).await;
    assert_eq!(count(&state, "SELECT count(*) FROM messages"), 500);
    // Nothing was deleted or moved (after = keep).
    assert_eq!(s.message_count("INBOX").await.expect("count"), 500);
}

/// A request with a scanned document attached: `size` bytes of PDF, base64 in the message.
fn with_attachment(from: &str, to: &str, subject: &str, size: usize) -> (String, Vec<u8>) {
    use base64::Engine as _;
    let (id, raw) = request(from, to, subject, "Please pay the attached invoice.");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a header and a body");
    let head = head.replace(
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: multipart/mixed; boundary=\"b1\"",
    );
    let pdf: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(pdf);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    let raw = format!(
        "{head}\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    );
    (id, raw.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_large_mail_is_ingested_exactly_once_a_few_megabytes_at_a_time() {
    let server = mailserver();
    let people = People::new("large");
    let mut ids = BTreeSet::new();
    // 1.5 MB each in the mailbox: fetched two or so at a time, not all ten at once.
    for i in 0..10 {
        let subject = format!("Scanned invoice {i}");
        let (id, raw) = with_attachment(&people.owner, &people.inbox, &subject, 1_100_000);
        send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
        ids.insert(id);
    }
    let (_dir, state, _) = ingest_backlog(server, &people, &ids, Duration::from_secs(30)).await;
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM messages WHERE size > 1400000 AND decision = 'create_task'"
        ),
        10
    );
    assert_eq!(count(&state, "SELECT max(last_uid) FROM sync_state"), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uidvalidity_change_duplicates_no_task() {
    let server = mailserver();
    let people = People::new("uidv");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    s.create_if_missing("Requests").await.expect("create");
    let mut raws: Vec<Vec<u8>> = Vec::new();
    for i in 0..5 {
        let (_, raw) = request(
            &people.owner,
            &people.inbox,
            &format!("Request {i}"),
            "Body.",
        );
        s.append("Requests", &raw, &[]).await.expect("append");
        raws.push(raw);
    }
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state).imap_set("mailbox", "Requests");
    let d = Daemon::start(pipeline(&desk, dir.path()));
    assert!(eventually(Duration::from_secs(10), || tasks(&state).len() == 5).await);
    d.stop().await;
    let before = count(&state, "SELECT uidvalidity FROM sync_state LIMIT 1");

    // The server gives the folder a new UIDVALIDITY (as a migration or a rebuilt index
    // does); the same messages are there again, and one new one.
    let _ = raws;
    let (id6, raw) = request(&people.owner, &people.inbox, "A new one", "Body.");
    s.append("Requests", &raw, &[]).await.expect("append");
    let out =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver"))
            .args(["bump-uidvalidity", &people.inbox, "Requests"])
            .env("MUSAID_MAILSERVER_DIR", &server.dir)
            .output()
            .expect("bump-uidvalidity");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let d = Daemon::start(pipeline(&desk, dir.path()));
    let reread =
        format!("SELECT count(*) FROM sync_state WHERE uidvalidity <> {before} AND last_uid >= 6");
    let ok = eventually(Duration::from_secs(10), || count(&state, &reread) == 1).await;
    d.stop().await;
    assert!(ok, "the refilled folder was not read");
    let t = tasks(&state);
    assert_eq!(t.len(), 6, "five old requests, one new: no duplicates");
    assert!(t.iter().any(|t| t.message_id == id6));
    assert_eq!(
        count(&state, "SELECT count(*) FROM messages"),
        6,
        "the re-read records nothing twice"
    );
}

/// Under `first_sync = "new"`, what was in the mailbox before the first start never becomes
/// a task, not even when a UIDVALIDITY change makes musaid read the mailbox again (it goes by
/// the server's arrival time, INTERNALDATE); what it recorded is not recorded twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uidvalidity_change_keeps_to_first_sync() {
    let server = mailserver();
    let people = People::new("uidvnew");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    s.create_if_missing("Requests").await.expect("create");
    let append = |subject: String| {
        let (id, raw) = request(&people.owner, &people.inbox, &subject, "Body.");
        (id, raw)
    };
    for i in 0..3 {
        let (_, raw) = append(format!("Old {i}"));
        s.append("Requests", &raw, &[]).await.expect("append");
    }
    // INTERNALDATE counts whole seconds, and mail of the first start's own second is kept:
    // start in the next one.
    let second = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let appended = second();
    assert!(eventually(Duration::from_secs(3), || second() > appended).await);
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state)
        .imap_set("mailbox", "Requests")
        .imap_set("first_sync", "new");
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;
    let mut want = BTreeSet::new();
    for i in 0..2 {
        let (id, raw) = append(format!("New {i}"));
        s.append("Requests", &raw, &[]).await.expect("append");
        want.insert(id);
    }
    assert!(eventually(Duration::from_secs(10), || tasks(&state).len() == 2).await);
    d.stop().await;
    let before = count(&state, "SELECT uidvalidity FROM sync_state LIMIT 1");

    let (id, raw) = append("After the change".to_string());
    s.append("Requests", &raw, &[]).await.expect("append");
    want.insert(id);
    let out =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mailserver"))
            .args(["bump-uidvalidity", &people.inbox, "Requests"])
            .env("MUSAID_MAILSERVER_DIR", &server.dir)
            .output()
            .expect("bump-uidvalidity");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let d = Daemon::start(pipeline(&desk, dir.path()));
    let reread =
        format!("SELECT count(*) FROM sync_state WHERE uidvalidity <> {before} AND last_uid >= 6");
    let ok = eventually(Duration::from_secs(10), || count(&state, &reread) == 1).await;
    d.stop().await;
    assert!(ok, "the refilled folder was not read");
    let got: BTreeSet<String> = tasks(&state).into_iter().map(|t| t.message_id).collect();
    assert_eq!(got, want, "the old mail stays out, the new mail once");
    assert_eq!(count(&state, "SELECT count(*) FROM messages"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_recorded_never_loaded_and_its_owner_told_once() {
    let server = mailserver();
    let people = People::new("big");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state).policy("max_message_size", "20KB");
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;
    let big = "x".repeat(200) + "\n";
    let (big_id, raw) = request(&people.owner, &people.inbox, "Scans", &big.repeat(300));
    send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
    let (small_id, raw) = request(&people.owner, &people.inbox, "Small", "ok");
    send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
    // A stranger's large mail is recorded the same way, and nobody is written to.
    let (_, raw) = request(
        "nobody@elsewhere.test",
        &people.inbox,
        "Spam",
        &big.repeat(300),
    );
    servers::send_smtp_relay(server, "nobody@elsewhere.test", &people.inbox, &raw).expect("smtp");
    let ok = eventually(Duration::from_secs(10), || {
        count(&state, "SELECT count(*) FROM messages") == 3
    })
    .await;
    // The owner hears of the large one: a notice, not an ack, in reply to it.
    let mut told = Vec::new();
    for _ in 0..100 {
        told = mailbox(server, &people.owner)
            .await
            .into_iter()
            .filter(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Too large to read")))
            .collect();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.stop().await;
    assert!(ok);
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM quarantine WHERE reason = 'oversized' AND raw IS NULL"
        ),
        2
    );
    let t = tasks(&state);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].message_id, small_id);
    assert_eq!(told.len(), 1, "one notice to the owner");
    let notice = &told[0];
    assert_eq!(
        header(notice, "In-Reply-To").as_deref(),
        Some(format!("<{big_id}>").as_str())
    );
    let text = String::from_utf8_lossy(notice);
    assert!(text.contains("Scans") && text.contains("20 KB"), "{text}");
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM outbox WHERE kind = 'error' AND recipient = 'nobody@elsewhere.test'"
        ),
        0,
        "no backscatter to strangers"
    );

    // Started again, nothing is recorded or told twice.
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.stop().await;
    assert_eq!(count(&state, "SELECT count(*) FROM messages"), 3);
    assert_eq!(
        count(&state, "SELECT count(*) FROM outbox WHERE kind = 'error'"),
        1
    );
}
