//! `#status` by mail: one answer, in the contract's language, listing exactly the asker's
//! contract's open tasks and those done lately; never a task.

use crate::desk::{mail_starting, send, sent_all, until, Desk};
use crate::support::config::ALWAYS;
use crate::support::daemon::{count, tasks};
use crate::support::servers::unique_user;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_status_gets_one_reply_listing_exactly_their_open_tasks() {
    // Two contracts: acme in English, globex (another owner, the same VA) in Arabic.
    let globex_owner = unique_user("globex-owner");
    let desk = Desk::new("status", |c| c).with(|c, people| {
        c.contract("globex", |g| {
            g.owners(&[&globex_owner])
                .vas(&[&people.va])
                .timezone("Asia/Riyadh")
                .windows(&[ALWAYS])
                .language("ar")
        })
    });
    let (server, people, state) = (desk.server, &desk.people, desk.state.as_path());
    let d = desk.start().await;
    desk.request("Invoice 114 for Acme", "Please pay it.", 1)
        .await;
    desk.request("Book the flight to Jeddah", "Thursday.", 2)
        .await;
    desk.request("Renew the domain", "Before Friday.", 3).await;
    send(
        &globex_owner,
        &people.inbox,
        "خطة جلوبكس السرية",
        None,
        "سرّية",
    );
    until(state, "SELECT count(*) FROM tasks", 4).await;
    desk.va(3, "#done\nRenewed for two years.").await;
    until(state, "SELECT count(*) FROM tasks WHERE status = 'done'", 1).await;

    send(
        &people.owner,
        &people.inbox,
        "status?",
        None,
        "#status\n\nThanks, Omar",
    );
    send(&globex_owner, &people.inbox, "#الحالة", None, "");
    let acme = mail_starting(server, &people.owner, "Status — acme").await;
    let globex = mail_starting(server, &globex_owner, "الحالة — globex").await;
    sent_all(state).await;
    d.stop().await;

    assert_eq!(acme.len(), 1, "one answer");
    let to_owner = format!(
        "SELECT count(*) FROM outbox WHERE kind = 'status' AND recipient = '{}'",
        people.owner
    );
    assert_eq!(count(state, &to_owner), 1, "and only one");
    let a = &acme[0];
    assert!(a.subject.contains("2 open"), "{}", a.subject);
    let (open, done) = a
        .text
        .split_once("Done in the last 7 days")
        .expect("two lists");
    assert!(
        open.contains("#1 Invoice 114 for Acme") && open.contains("#2 Book the flight"),
        "{}",
        a.text
    );
    assert!(
        !open.contains("#3"),
        "the done task is not open: {}",
        a.text
    );
    assert!(done.contains("#3 Renew the domain"), "{}", a.text);
    assert!(
        !a.text.contains("جلوبكس") && !a.text.contains("#4"),
        "none of another contract's: {}",
        a.text
    );
    assert_eq!(a.in_reply_to.len(), 1, "threaded under the question");

    assert_eq!(globex.len(), 1);
    let g = &globex[0];
    assert!(g.text.contains("#4 خطة جلوبكس السرية"), "{}", g.text);
    assert!(!g.text.contains("Invoice"), "{}", g.text);
    let rtl = format!(
        "SELECT count(*) FROM outbox WHERE kind = 'status' AND recipient = '{globex_owner}' \
         AND body_html LIKE '%dir=\"rtl\"%'"
    );
    assert_eq!(count(state, &rtl), 1, "Arabic HTML is right-to-left");

    // Neither question became a task.
    assert_eq!(tasks(state).len(), 4);
    assert_eq!(
        count(state, "SELECT count(*) FROM outbox WHERE kind = 'status'"),
        2
    );
}
