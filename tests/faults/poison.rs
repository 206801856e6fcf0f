//! Poison messages: one the database keeps refusing, one the server will not send, leaves out
//! of its answer or hangs on. Each is tried alone three times and quarantined; the mail around
//! it becomes tasks, and nothing leaves the server.

use crate::support::daemon::{
    config, connected, count, delivered, eventually, pipeline, request, tasks, Daemon, People,
};
use crate::support::servers::{self, mailserver, send_smtp};
use crate::world::{scalar, strings, wait_for, Musaid};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Three requests through SMTP, `middle` the second one's subject; their Message-IDs in order.
fn send_three(people: &People, middle: &str) -> Vec<String> {
    ["Book a flight", middle, "Pay the invoice"]
        .iter()
        .map(|subject| {
            let (id, raw) = request(&people.owner, &people.inbox, subject, "Thanks.");
            send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
            id
        })
        .collect()
}

/// A message the database keeps refusing (here a trigger, as a constraint or a bug would) is
/// tried three times, then quarantined with its bytes, and the mail after it becomes tasks:
/// one poison message never blocks the inbox, and is not retried in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_recorded_is_quarantined_and_blocks_nothing() {
    let server = mailserver();
    let people = People::new("poison");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let store = musaid::store::Store::open(&state).expect("store");
    store
        .conn()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON tasks WHEN NEW.subject LIKE '%poison%' \
             BEGIN SELECT RAISE(ABORT, 'this task is refused'); END;",
        )
        .expect("trigger");
    drop(store);
    let desk = config(server, &people, &state);
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;

    let ids = send_three(&people, "The poison pill");
    // Three attempts, 1 s and 2 s apart, then the quarantine after 4 s (each ±25 %).
    let ok = eventually(Duration::from_secs(30), || {
        count(&state, "SELECT count(*) FROM messages") == 3
    })
    .await;
    d.stop().await;
    assert!(ok, "the messages after the poisoned one were not recorded");
    let got: BTreeSet<String> = tasks(&state).into_iter().map(|t| t.message_id).collect();
    let want: BTreeSet<String> = [&ids[0], &ids[2]].into_iter().cloned().collect();
    assert_eq!(got, want);
    let store = musaid::store::Store::open_existing(&state)
        .expect("db")
        .expect("db");
    let (message_id, subject, reason, detail, raw): (String, String, String, String, Vec<u8>) =
        store
            .conn()
            .query_row(
                "SELECT m.message_id, m.subject, q.reason, q.detail, q.raw FROM quarantine q \
                 JOIN messages m ON m.id = q.message_row",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .expect("one quarantined message");
    assert_eq!(message_id, ids[1]);
    assert_eq!(subject, "The poison pill");
    assert_eq!(reason, "unparseable");
    assert!(detail.contains("this task is refused"), "{detail}");
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("Subject: The poison pill"), "{raw}");
    // Its failures are on record for `musaid status`; nothing left the server.
    let last_error = musaid::store::meta_get(store.conn(), "last_error")
        .expect("meta")
        .unwrap_or_default();
    assert!(last_error.contains("this task is refused"), "{last_error}");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert_eq!(s.message_count("INBOX").await.expect("count"), 3);
}

/// A message the server will not send (a mail file it cannot read: Dovecot answers the FETCH
/// with BYE and drops the connection) is found by fetching its batch one message at a time,
/// tried three times alone, then quarantined without its bytes; the mail around it becomes
/// tasks, and it stays on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_will_not_send_is_quarantined_and_blocks_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = mailserver();
    let people = People::new("unreadable");
    let ids = send_three(&people, "The damaged one");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(delivered(&mut s, "INBOX", 3).await);
    // The second one's file, made unreadable to Dovecot's mail user.
    let local = people.inbox.split('@').next().unwrap_or_default();
    let maildir = server.dir.join("mail").join(&server.domain).join(local);
    // (Dovecot moves it from new/ to cur/ at will, so it is looked for each time.)
    let chmod_damaged = |mode: u32| {
        let file = ["new", "cur"]
            .iter()
            .filter_map(|d| std::fs::read_dir(maildir.join(d)).ok())
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(ids[1].as_str())))
            .expect("the second message's file");
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    chmod_damaged(0o000);

    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state);
    let p = pipeline(&desk, dir.path());
    // One failed batch, then the damaged one alone three times, 1, 2, 4 and 8 s apart (±25 %).
    let recorded = record_three(p, &state, Duration::from_secs(40)).await;
    chmod_damaged(0o600);
    assert_the_withheld_one_is_quarantined(
        recorded,
        &state,
        &ids,
        "the server would not send it%",
        &mut s,
    )
    .await;
}

/// Run a daemon on `p` until the three messages of [`send_three`] are recorded, or `limit`
/// passes; whether they were.
async fn record_three(p: musaid::ingest::Pipeline, state: &Path, limit: Duration) -> bool {
    let d = Daemon::start(p);
    let ok = eventually(limit, || count(state, "SELECT count(*) FROM messages") == 3).await;
    d.stop().await;
    ok
}

/// What a user checks once [`record_three`] is over, when the server would not send the
/// middle one: the mail around it became tasks, it is quarantined without its bytes (its
/// detail `LIKE detail`), and nothing left the server.
async fn assert_the_withheld_one_is_quarantined(
    recorded: bool,
    state: &Path,
    ids: &[String],
    detail: &str,
    s: &mut musaid::imap::ImapSession,
) {
    assert!(
        recorded,
        "the messages around the withheld one were not all recorded"
    );
    let got: BTreeSet<String> = tasks(state).into_iter().map(|t| t.message_id).collect();
    let want: BTreeSet<String> = [&ids[0], &ids[2]].into_iter().cloned().collect();
    assert_eq!(got, want);
    let quarantined = format!(
        "SELECT count(*) FROM quarantine q JOIN messages m ON m.id = q.message_row \
         WHERE m.uid = 2 AND q.reason = 'unfetchable' AND q.raw IS NULL \
         AND q.detail LIKE '{detail}'"
    );
    assert_eq!(count(state, &quarantined), 1, "{detail}");
    assert_eq!(s.message_count("INBOX").await.expect("count"), 3);
}

/// What [`withholding_proxy`] does with the body it withholds.
#[derive(Clone, Copy)]
enum Withhold {
    /// Leave its FETCH response out, and pass the rest: the server answers OK without it.
    Omit,
    /// Send nothing more, keeping the connection open: the server hangs on it.
    Hang,
}

/// A loopback proxy to the IMAP port `target` that passes every response but the FETCH ones
/// carrying a body that contains `withhold`.
async fn withholding_proxy(target: u16, withhold: String, how: Withhold) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    /// The length of the literal a response line announces (`… {123}\r\n`).
    fn literal_len(line: &[u8]) -> Option<usize> {
        let t = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
        let open = t.iter().rposition(|&b| b == b'{')?;
        std::str::from_utf8(t.get(open + 1..)?).ok()?.parse().ok()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                return;
            };
            let withhold = withhold.clone();
            let (mut client_r, mut client_w) = client.into_split();
            let (server_r, mut server_w) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_r, &mut server_w).await;
            });
            tokio::spawn(async move {
                let mut from_server = BufReader::new(server_r);
                loop {
                    // One whole response: lines, and the literals they announce.
                    let mut response = Vec::new();
                    loop {
                        let start = response.len();
                        match from_server.read_until(b'\n', &mut response).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let Some(n) = literal_len(&response[start..]) else {
                            break;
                        };
                        let mut literal = vec![0; n];
                        if from_server.read_exact(&mut literal).await.is_err() {
                            return;
                        }
                        response.extend(literal);
                    }
                    let text = String::from_utf8_lossy(&response);
                    if text.starts_with("* ") && text.contains("BODY[]") && text.contains(&withhold)
                    {
                        match how {
                            Withhold::Omit => continue,
                            Withhold::Hang => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            }
                        }
                    }
                    if client_w.write_all(&response).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Three requests through a proxy in front of Dovecot that withholds the middle one as `how`
/// says, read by a daemon that allows 0.7 s of silence: the middle one is fetched alone, three
/// times, then quarantined without its bytes (its detail `LIKE detail`), and the mail around
/// it becomes tasks. Nothing leaves the server.
async fn a_withheld_message_is_quarantined_and_blocks_nothing(how: Withhold, detail: &str) {
    let server = mailserver();
    let people = People::new("withheld");
    let ids = send_three(&people, "The withheld one");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(delivered(&mut s, "INBOX", 3).await);
    let proxy = withholding_proxy(server.imap_port, ids[1].clone(), how).await;

    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, &people, &state).imap_set("port", proxy);
    let mut p = pipeline(&desk, dir.path());
    p.config.imap.timeout = Duration::from_millis(700);
    // One failed batch, then the withheld one alone three times, 1, 2, 4 and 8 s apart (±25 %).
    let recorded = record_three(p, &state, Duration::from_secs(45)).await;
    assert_the_withheld_one_is_quarantined(
        recorded,
        &state,
        &ids,
        &format!("the server would not send it{detail}"),
        &mut s,
    )
    .await;
}

/// A server that answers a FETCH with OK but leaves out a message it still has (as servers
/// do with mail they cannot read) does not make musaid pass over it as expunged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_leaves_out_of_its_answer_is_not_taken_for_expunged() {
    a_withheld_message_is_quarantined_and_blocks_nothing(
        Withhold::Omit,
        "%answered OK without UID 2%",
    )
    .await;
}

/// A server that goes silent whenever it is asked for one message (it hangs on it) does not
/// hold up the mail after it for good: each silence times out, and three alone condemn it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_server_hangs_on_is_quarantined_after_three_silences_and_blocks_nothing() {
    a_withheld_message_is_quarantined_and_blocks_nothing(Withhold::Hang, "%no answer%").await;
}

/// A message the process dies on (in a test build, `MUSAID_TEST_ABORT_ON` aborts the process
/// while it is processed, as a fatal bug would) is tried again at each start, alone after the
/// first death; after the third it is quarantined as `crashed`, and the daemon goes on. The
/// mail around it becomes tasks, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_process_dies_on_three_times_is_quarantined_as_crashed() {
    let server = mailserver();
    let people = People::new("crashed");
    let ids: Vec<String> = [
        "Book a flight",
        "Renew the lease",
        "The fatal one",
        "Pay the invoice",
        "Call the bank",
    ]
    .iter()
    .map(|subject| {
        let (id, raw) = request(&people.owner, &people.inbox, subject, "Thanks.");
        send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
        id
    })
    .collect();
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(delivered(&mut s, "INBOX", 5).await, "not delivered");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let config_file = config(server, &people, &state).write(&dir.path().join("musaid.toml"));
    let poison = ids.get(2).expect("three").clone();
    let mut d = Musaid::start_with(
        &config_file,
        &dir.path().join("musaid.log"),
        &[("MUSAID_TEST_ABORT_ON", &poison)],
    );
    for death in 1..=3 {
        let died = wait_for(Duration::from_secs(60), || d.exited().is_some());
        assert!(died, "death {death} did not come:\n{}", d.tail());
        assert_eq!(
            scalar(&state, "SELECT count(*) FROM quarantine"),
            0,
            "quarantined before the third death"
        );
        d.spawn();
    }
    let all = wait_for(Duration::from_secs(60), || {
        scalar(&state, "SELECT count(*) FROM messages") == 5
    });
    let alive = d.exited().is_none();
    let _ = d.term();
    assert!(all, "not all recorded after three deaths:\n{}", d.tail());
    assert!(alive, "the fourth process died too");
    let got: Vec<String> = strings(&state, "SELECT message_id FROM tasks ORDER BY id");
    let want: BTreeSet<String> = [0, 1, 3, 4]
        .iter()
        .filter_map(|&i| ids.get(i))
        .cloned()
        .collect();
    assert_eq!(got.len(), 4, "one task each: {got:?}");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    let crashed = strings(
        &state,
        "SELECT q.detail FROM quarantine q JOIN messages m ON m.id = q.message_row \
         WHERE q.reason = 'crashed' AND m.uid = 3 AND CAST(q.raw AS TEXT) LIKE '%The fatal one%'",
    );
    assert_eq!(crashed, ["the process died 3 times while processing it"]);
    assert_eq!(
        scalar(&state, "SELECT count(*) FROM in_flight"),
        0,
        "nothing is left in flight"
    );
}
