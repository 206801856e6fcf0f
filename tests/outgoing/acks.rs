//! Outgoing mail against real Postfix → Dovecot: acknowledgements only inside response
//! windows, never to automatic mail, exactly once; and no loop with an auto-responder.

use crate::support::config::ConfigBuilder;
use crate::support::daemon::{
    acks_to, count, cron_in, eventually, header, is_ack, mail_within, mailbox, request, tasks,
    World,
};
use crate::support::servers::{mailserver, send_smtp, send_smtp_via};
use chrono::Utc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_an_open_window_is_acknowledged_within_seconds_with_the_right_headers() {
    let world = World::new(mailserver(), "ack");
    let (server, people) = (world.server, &world.people);
    let d = world.start(|c| c).await;
    let id = world.request("Invoice for November", "Please.");

    let acks = mail_within(server, &people.owner, Duration::from_secs(5), is_ack).await;
    let notes = mail_within(server, &people.va, Duration::from_secs(5), |_| true).await;
    d.stop().await;
    assert_eq!(acks.len(), 1, "one ack within 5 s");
    let ack = &acks[0];
    let subject = header(ack, "Subject").unwrap_or_default();
    assert!(subject.starts_with("[#1] "), "{subject}");
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(ack, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(
        header(ack, "X-Musaid-Loop").as_deref(),
        Some(people.inbox.as_str())
    );
    assert_eq!(header(ack, "In-Reply-To"), Some(format!("<{id}>")));
    assert!(header(ack, "References").is_some_and(|r| r.contains(&id)));
    let mid = header(ack, "Message-ID").unwrap_or_default();
    assert!(
        mid.ends_with("@example.test>") && mid.contains("musaid.1.ack."),
        "{mid}"
    );
    // The VA was told at once, and can answer to our address.
    assert_eq!(notes.len(), 1);
    assert!(header(&notes[0], "Reply-To").is_some_and(|r| r.contains(&people.inbox)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dated_weeks_ago_but_delivered_now_is_acknowledged() {
    let world = World::new(mailserver(), "olddate");
    let (server, people) = (world.server, &world.people);
    let d = world.start(|c| c).await;
    // ack_max_age is 3 days; the Date header says a month, the server's arrival time now.
    let (owner, inbox) = (&people.owner, &people.inbox);
    let (_, raw) = request(owner, inbox, "Renew the lease", "Please.");
    let today = header(&raw, "Date").expect("dated");
    let month_ago = (Utc::now() - chrono::Duration::days(30)).to_rfc2822();
    let raw = String::from_utf8_lossy(&raw).replace(&today, &month_ago);
    send_smtp_via(server, owner, inbox, raw.as_bytes()).expect("smtp");

    let acks = mail_within(server, owner, Duration::from_secs(5), is_ack).await;
    let notes = mail_within(server, &people.va, Duration::from_secs(5), |_| true).await;
    d.stop().await;
    assert_eq!(acks.len(), 1, "the owner's acknowledgement");
    assert_eq!(notes.len(), 1, "the VA's notification");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outside_every_window_waits_for_the_window_then_gets_exactly_one_ack() {
    let world = World::new(mailserver(), "wait");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let opens = cron_in(10);
    let d = world
        .start(|c| c.contract("acme", |a| a.cron_window(&opens, "1h")))
        .await;
    world.request("Book a table", "For Sunday.");
    assert!(eventually(Duration::from_secs(5), || tasks(state).len() == 1).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        acks_to(server, &people.owner).await.len(),
        0,
        "nothing before the window"
    );
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'pending'"
        ),
        1
    );
    // The VA's notification is not bound by windows.
    assert_eq!(mailbox(server, &people.va).await.len(), 1);

    let got = mail_within(server, &people.owner, Duration::from_secs(15), is_ack)
        .await
        .len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let finally = acks_to(server, &people.owner).await.len();
    d.stop().await;
    assert_eq!(got, 1, "the ack goes when the window opens");
    assert_eq!(finally, 1, "and only once");
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM tasks WHERE acked_at IS NOT NULL"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_stopped_across_a_whole_window_sends_nothing_late() {
    let world = World::new(mailserver(), "late");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    // The window opens in 6 s and lasts 3 s; the daemon is down for all of it.
    let opens = cron_in(6);
    let window = |c: ConfigBuilder| c.contract("acme", |a| a.cron_window(&opens, "3s"));
    let d = world.start(window).await;
    world.request("Call the bank", "Today please.");
    assert!(eventually(Duration::from_secs(4), || tasks(state).len() == 1).await);
    d.stop().await;
    tokio::time::sleep(Duration::from_secs(9)).await;

    let d = world.start(window).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let acks = acks_to(server, &people.owner).await.len();
    d.stop().await;
    assert_eq!(acks, 0, "no ack after the window closed");
    let not_before = count(
        state,
        "SELECT not_before FROM outbox WHERE kind = 'ack' AND status = 'pending'",
    );
    assert!(
        not_before > Utc::now().timestamp() + 20 * 3600,
        "the ack waits for the next day's window"
    );
}

fn automatic(from: &str, to: &str, kind: &str) -> Vec<u8> {
    let (id, _) = request(from, to, "x", "x");
    let head = match kind {
        "ooo" => "Subject: Automatic reply: out of office\r\nAuto-Submitted: auto-replied\r\n".to_string(),
        "list" => "Subject: [team] weekly digest\r\nList-Id: <team.lists.example>\r\nPrecedence: list\r\n".to_string(),
        _ => "Subject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n".to_string(),
    };
    let body = if kind == "bounce" {
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
    } else {
        "I am away.\r\n"
    };
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\n{head}Date: {}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\r\n{body}",
        Utc::now().to_rfc2822()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_office_bounces_and_lists_get_no_ack() {
    let world = World::new(mailserver(), "auto");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let d = world.start(|c| c).await;
    for kind in ["ooo", "bounce", "list"] {
        send_smtp(
            &people.owner,
            &people.inbox,
            &automatic(&people.owner, &people.inbox, kind),
        )
        .expect("smtp");
    }
    // A real request last: once its ack is there, the others had their chance.
    world.request("Real request", "Please.");
    let all = mail_within(server, &people.owner, Duration::from_secs(10), |_| true).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all_after = mailbox(server, &people.owner).await;
    d.stop().await;
    assert_eq!(all.len(), 1, "exactly the real request's ack");
    assert_eq!(all_after.len(), 1);
    assert_eq!(tasks(state).len(), 1);
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM messages WHERE decision = 'ignore'"
        ),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_bot_loop_ends_quiet() {
    let world = World::new(mailserver(), "loop");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let d = world.start(|c| c).await;
    // A naive auto-responder on the owner's mailbox: it answers every mail it gets, without
    // Auto-Submitted, for ten seconds.
    let bot_server = server.clone();
    let (owner, inbox) = (people.owner.clone(), people.inbox.clone());
    let bot = tokio::spawn(async move {
        let mut answered = 0;
        let mut seen = 0;
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            let mail = mailbox(&bot_server, &owner).await;
            for m in mail.iter().skip(seen) {
                let subject = header(m, "Subject").unwrap_or_default();
                let mid = header(m, "Message-ID").unwrap_or_default();
                let reply = format!(
                    "From: <{owner}>\r\nTo: <{inbox}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\nDate: {}\r\nMessage-ID: <bot.{answered}.{}@owner.example>\r\n\r\nThank you for your message. I will get back to you.\r\n",
                    Utc::now().to_rfc2822(),
                    std::process::id()
                );
                send_smtp_via(&bot_server, &owner, &inbox, reply.as_bytes()).expect("bot smtp");
                answered += 1;
            }
            seen = mail.len();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        answered
    });
    world.request("Update the price list", "Please.");
    let answered = bot.await.expect("bot");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let to_owner = mailbox(server, &people.owner).await.len();
    d.stop().await;
    assert_eq!(to_owner, 1, "the owner got one ack and nothing else");
    assert_eq!(answered, 1, "so the bot answered once, and the loop ended");
    assert_eq!(
        count(state, "SELECT count(*) FROM outbox WHERE kind = 'ack'"),
        1
    );
    assert_eq!(
        tasks(state).len(),
        1,
        "the bot's answer is a note on the task, not a task"
    );
}
