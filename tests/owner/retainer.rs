//! The retainer: 17 of 20 hours used alerts the owner and the VA once; the summary shows the
//! balance.

use crate::desk::{inbox, mail_starting, sent_all, Desk};
use crate::support::config::Raw;
use crate::support::daemon::count;
use musaid::mail::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventeen_of_twenty_retained_hours_alert_owner_and_va_once() {
    let desk = Desk::new("retainer", |c| {
        c.contract("acme", |a| {
            a.language("ar")
                .set("retainer", Raw("{ hours = 20, per = \"month\" }"))
        })
    });
    let (server, people, state) = (desk.server, &desk.people, desk.state.as_path());
    let d = desk.start().await;
    desk.request("حملة رمضان", "جدول المنشورات", 1).await;
    desk.va(1, "#وقت 17 ساعات").await;
    let to_owner = mail_starting(server, &people.owner, "استُخدم 80٪").await;
    let to_va = mail_starting(server, &people.va, "استُخدم 80٪").await;
    desk.va(1, "#time 30m").await;
    sent_all(state).await;
    let owner_again = inbox(server, &people.owner).await;
    let va_again = inbox(server, &people.va).await;
    let summary = desk.json(&["summary"]);
    let markdown = String::from_utf8(desk.musaid(&["summary"]).stdout).expect("UTF-8");
    d.stop().await;

    assert_eq!((to_owner.len(), to_va.len()), (1, 1), "one alert each");
    let alert = &to_owner[0];
    assert!(
        alert.text.contains("17 س 00 د") && alert.text.contains("3 س 00 د"),
        "{}",
        alert.text
    );
    let alerts = |mail: &[Message]| {
        mail.iter()
            .filter(|m| m.subject.contains("٪ من الساعات"))
            .count()
    };
    assert_eq!(
        (alerts(&owner_again), alerts(&va_again)),
        (1, 1),
        "no second alert"
    );
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM outbox WHERE kind = 'hours_alert'"
        ),
        2
    );

    // The weekly summary shows the month's hours used and left.
    let r = &summary[0]["retainer"];
    assert_eq!(
        (&r["minutes_used"], &r["minutes_left"]),
        (&1050.into(), &150.into())
    );
    assert_eq!(
        (&r["per"], &r["percent_used"]),
        (&"month".into(), &87.into())
    );
    assert!(
        markdown.contains("استُخدم **17 س 30 د**") && markdown.contains("2 س 30 د"),
        "{markdown}"
    );
}
