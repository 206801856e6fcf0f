//! Replies through the daemon, against real Postfix and Dovecot: the VA answers the
//! notification with `#done`, and the owner is told.

use crate::support::daemon::{count, eventually, header, mail_within, tasks, World};
use crate::support::servers::{mailserver, send_smtp};
use chrono::Utc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vas_done_reply_closes_the_task_and_the_owner_gets_the_done_notice() {
    let world = World::new(mailserver(), "done");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let d = world.start(|c| c).await;
    world.request("Send the quote to Acme", "Please.");
    let note = mail_within(server, &people.va, Duration::from_secs(5), |_| true)
        .await
        .pop()
        .unwrap_or_default();
    let mid = header(&note, "Message-ID").expect("the VA got the notification");
    let subject = header(&note, "Subject").unwrap_or_default();
    let reply = format!(
        "From: VA <{va}>\r\nTo: <{inbox}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\nDate: {}\r\nMessage-ID: <va.reply.{}@va.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n#done\r\n#time 45m\r\nSent it, they confirmed.\r\n\r\nOn Fri, musaid <{inbox}> wrote:\r\n> New task #1\r\n",
        Utc::now().to_rfc2822(),
        std::process::id(),
        va = people.va,
        inbox = people.inbox,
    );
    send_smtp(&people.va, &people.inbox, reply.as_bytes()).expect("smtp");
    let closed = eventually(Duration::from_secs(5), || {
        tasks(state)
            .first()
            .is_some_and(|t| t.status.as_str() == "done")
    })
    .await;
    let is_done = |m: &[u8]| header(m, "Subject").is_some_and(|s| s.contains("Done"));
    let done = mail_within(server, &people.owner, Duration::from_secs(5), is_done)
        .await
        .into_iter()
        .next();
    d.stop().await;
    assert!(closed, "the task is done");
    let done = done.expect("the owner got the done notice");
    let text = String::from_utf8_lossy(&done);
    assert!(text.contains("Sent it, they confirmed."), "{text}");
    assert_eq!(
        count(state, "SELECT sum(minutes) FROM events WHERE kind = 'time'"),
        45
    );
}
