//! `after = "move:FOLDER"`: exactly the recorded messages are moved, once, into a folder made
//! when missing (an Arabic name in modified UTF-7 too); a move the server refuses holds up
//! no ingest and is done once it can be.

use crate::support::daemon::{
    config, connected, count, delivered, eventually, pipeline, request, send_requests, tasks,
    Daemon, People,
};
use crate::support::servers::{self, mailserver, send_smtp, MailServer};
use std::time::Duration;

/// A daemon with `after = "move:FOLDER"` (first start: `first_sync = "new"`) gets `n` requests
/// through SMTP, and is stopped once they are tasks. Its temporary and state directories.
async fn moving_to(
    server: &MailServer,
    people: &People,
    folder: &str,
    n: usize,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    let desk = config(server, people, &state)
        .imap_set("after", format!("move:{folder}"))
        .imap_set("first_sync", "new");
    let d = Daemon::start(pipeline(&desk, dir.path()));
    connected(&state).await;
    send_requests(people, n, |i| format!("طلب {i}"), "Body.");
    let ok = eventually(Duration::from_secs(10), || tasks(&state).len() == n).await;
    // Give it a moment to (wrongly) move more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.stop().await;
    assert!(ok, "{} of {n} tasks", tasks(&state).len());
    (dir, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_processed_moves_exactly_the_recorded_messages() {
    let server = mailserver();
    let people = People::new("move");
    // One message is there before the first start: with first_sync = "new" it is not ours.
    let (_, raw) = request(&people.owner, &people.inbox, "Old mail", "Before musaid.");
    send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert!(delivered(&mut s, "INBOX", 1).await);

    let (_dir, state) = moving_to(server, &people, "Processed", 3).await;
    assert_eq!(
        s.message_count("INBOX").await.expect("count"),
        1,
        "the old mail stays"
    );
    assert_eq!(s.message_count("Processed").await.expect("count"), 3);
    assert_eq!(count(&state, "SELECT count(*) FROM after_pending"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_to_an_arabic_folder_creates_it_under_its_modified_utf7_name() {
    let server = mailserver();
    let people = People::new("arfolder");
    let folder = "تمت & منجز"; // "done & finished"
    let _ = moving_to(server, &people, folder, 2).await;
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert_eq!(s.message_count("INBOX").await.expect("count"), 0);
    assert_eq!(s.message_count(folder).await.expect("count"), 2);
    // What every other mail client lists: the name in modified UTF-7 (RFC 3501 §5.1.3), as
    // Dovecot keeps it on disk (Maildir++: a dot, then the name).
    let (user, domain) = people.inbox.split_once('@').expect("address");
    let maildir = server
        .dir
        .join("mail")
        .join(domain)
        .join(user)
        .join(".&BioGRQYq- &- &BkUGRgYsBjI-");
    let stored = ["cur", "new"]
        .iter()
        .map(|sub| std::fs::read_dir(maildir.join(sub)).map_or(0, |d| d.count()))
        .sum::<usize>();
    assert_eq!(stored, 2, "{}", maildir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_the_server_refuses_does_not_stop_the_ingest_and_is_done_once_it_can_be() {
    let server = mailserver();
    let people = People::new("badmove");
    // Dovecot will not create this folder ("adjacent hierarchy separators").
    let (dir, state) = moving_to(server, &people, "Done//Later", 2).await;
    let cfg = servers::imap_config_for(server, &people.inbox);
    let mut s = musaid::imap::connect(&cfg).await.expect("imap");
    assert_eq!(
        s.message_count("INBOX").await.expect("count"),
        2,
        "the requests stay where they are"
    );
    assert_eq!(count(&state, "SELECT count(*) FROM after_pending"), 2);
    let store = musaid::store::Store::open(&state).expect("db");
    let error = musaid::store::meta_get(store.conn(), "last_error")
        .expect("meta")
        .unwrap_or_default();
    assert!(error.contains("Done//Later"), "{error}");
    drop(store);

    // With a folder the server takes, the next start moves what waited, once.
    let desk = config(server, &people, &state).imap_set("after", "move:Done");
    let d = Daemon::start(pipeline(&desk, dir.path()));
    let ok = eventually(Duration::from_secs(10), || {
        count(&state, "SELECT count(*) FROM after_pending") == 0
    })
    .await;
    d.stop().await;
    assert!(ok, "the waiting moves were not done");
    assert_eq!(s.message_count("INBOX").await.expect("count"), 0);
    assert_eq!(s.message_count("Done").await.expect("count"), 2);
    assert_eq!(tasks(&state).len(), 2, "nothing recorded twice");
}
