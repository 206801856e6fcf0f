//! The waiting clock through the daemon, against real Postfix and Dovecot: the VA sets a due
//! time and `#waiting`; the owner's reply reopens the task, pushes `due_at` later by the time
//! spent waiting, and the VA hears of it at once.

use crate::support::daemon::{eventually, header, mail_within, tasks, World};
use crate::support::servers::{mailserver, send_smtp};
use chrono::Utc;
use std::time::Duration;

fn reply(from: &str, to: &str, subject: &str, parent: &str, body: &str, n: u32) -> Vec<u8> {
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: {parent}\r\n\
         References: {parent}\r\nDate: {}\r\nMessage-ID: <waiting.{n}.{}@va.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        Utc::now().to_rfc2822(),
        std::process::id(),
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_reply_reopens_a_waiting_task_and_pushes_its_due_time() {
    let world = World::new(mailserver(), "waiting");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let d = world.start(|c| c).await;
    let request = world.request("Renew the domain", "Before it lapses.");
    let note = mail_within(server, &people.va, Duration::from_secs(5), |_| true)
        .await
        .pop()
        .unwrap_or_default();
    let mid = header(&note, "Message-ID").expect("the VA got the notification");
    let subject = header(&note, "Subject").unwrap_or_default();

    // The VA sets a due time and waits on the client.
    let va = reply(
        &people.va,
        &people.inbox,
        &subject,
        &mid,
        "#due +4h\n#waiting\nAsked for the card.",
        1,
    );
    send_smtp(&people.va, &people.inbox, &va).expect("smtp");
    let waiting = eventually(Duration::from_secs(5), || {
        tasks(state)
            .first()
            .is_some_and(|t| t.waiting_since.is_some())
    })
    .await;
    let before = tasks(state).pop().expect("the task");
    assert!(waiting, "the task waits: {before:?}");
    assert_eq!(before.status.as_str(), "waiting");
    let (due, since) = (
        before.due_at.expect("#due +4h set a due time"),
        before.waiting_since.unwrap_or_default(),
    );
    // Let a second of waiting pass, so the clock has something to move.
    eventually(Duration::from_secs(3), || {
        Utc::now().timestamp() > since + 1
    })
    .await;

    // The owner answers in the request's thread.
    let owner = reply(
        &people.owner,
        &people.inbox,
        "Renew the domain",
        &request,
        "Card ending 4242.",
        2,
    );
    send_smtp(&people.owner, &people.inbox, &owner).expect("smtp");
    let reopened = eventually(Duration::from_secs(5), || {
        tasks(state)
            .first()
            .is_some_and(|t| t.status.as_str() == "open")
    })
    .await;
    let is_followup = |m: &[u8]| header(m, "Subject").is_some_and(|s| s.contains("Follow-up"));
    let followup = mail_within(server, &people.va, Duration::from_secs(5), is_followup)
        .await
        .pop();
    d.stop().await;

    let after = tasks(state).pop().expect("the task");
    assert!(reopened, "the owner's reply reopens the task: {after:?}");
    assert_eq!(after.waiting_since, None);
    let store = musaid::store::Store::open_existing(state).unwrap().unwrap();
    let events = store.events(after.id).unwrap();
    let reopen = events
        .iter()
        .find(|e| e.kind == "status" && e.to_status.as_deref() == Some("open"))
        .expect("a status event to open");
    assert_eq!(reopen.actor, people.owner);
    // Open around the clock: the business time waited is the wall time waited.
    let waited = reopen.at - since;
    assert!(waited >= 1, "waited {waited}s");
    assert_eq!(
        after.due_at,
        Some(due + waited),
        "due moved by the {waited}s waited"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == "due" && e.note.as_deref().is_some_and(|n| n.contains("waiting"))),
        "{events:?}"
    );
    let followup = followup.expect("the VA got the owner's follow-up");
    let text = String::from_utf8_lossy(&followup);
    assert!(
        text.contains("Card ending 4242.") && text.contains("open again"),
        "{text}"
    );
}
