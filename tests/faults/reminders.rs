//! Due-time notices across kill -9: a task due in a moment gets one reminder, one overdue
//! notice and one escalation to the contract's lead, however the daemon dies between them.

use crate::world::{connected, scalar, settled, wait_for, World};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_an_overdue_notice_and_an_escalation_once_each_through_kill_9() {
    let world = World::new("reminders");
    let rules = world.dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(
        rules.join("10-soon.toml"),
        "[[rule]]\nname = \"soon\"\nmatch.subject = '(?i)soon'\ncategory = \"calls\"\ndue = \"24s\"\n",
    )
    .expect("rules");
    // The owner doubles as the contract's lead, told once the task is 12 s overdue.
    let lead = world.people.owner.clone();
    let mut d = world.start_synced(|c| {
        c.daemon_set("rules_dir", &rules)
            .policy("remind_before", "12s")
            .contract("acme", |c| {
                c.set("escalate_to", [lead.as_str()])
                    .set("escalate_after", "12s")
            })
    });
    world.request("Call the bank soon", "Before it closes.");
    let va = world.people.va.clone();
    let reminders = settled(world.server(), &va, "reminder", 1, Duration::from_secs(40)).await;
    assert_eq!(reminders.distinct(), 1, "one reminder:\n{}", d.tail());
    // Killed after the reminder, before the due time; started again.
    d.kill9();
    d.spawn();
    assert!(
        connected(&world.state),
        "no sync after the restart:\n{}",
        d.tail()
    );
    let overdue = settled(world.server(), &va, "overdue", 1, Duration::from_secs(40)).await;
    assert_eq!(overdue.distinct(), 1, "one overdue notice:\n{}", d.tail());
    let escalations = settled(
        world.server(),
        &lead,
        "escalation",
        1,
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(escalations.distinct(), 1, "one escalation:\n{}", d.tail());
    // Killed once more after the notice: nothing comes twice.
    d.kill9();
    d.spawn();
    assert!(connected(&world.state));
    assert!(wait_for(Duration::from_secs(10), || scalar(
        &world.state,
        "SELECT count(*) FROM outbox WHERE status = 'pending'"
    ) == 0));
    let reminders = settled(world.server(), &va, "reminder", 2, Duration::from_secs(3)).await;
    let overdue = settled(world.server(), &va, "overdue", 2, Duration::from_secs(3)).await;
    let escalations = settled(
        world.server(),
        &lead,
        "escalation",
        2,
        Duration::from_secs(3),
    )
    .await;
    d.term();
    assert_eq!(reminders.distinct(), 1, "the reminder is not sent again");
    assert_eq!(
        overdue.distinct(),
        1,
        "the overdue notice is not sent again"
    );
    assert_eq!(
        escalations.distinct(),
        1,
        "the escalation is not sent again"
    );
    assert_eq!(
        scalar(&world.state, "SELECT count(*) FROM notices_sent"),
        3,
        "reminder, overdue and escalation recorded for the one due time"
    );
}
