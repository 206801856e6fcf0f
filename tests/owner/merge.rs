//! `#merge`: a duplicate folded into the surviving task, its thread with it.

use crate::desk::{send, until, Desk};
use crate::support::daemon::{count, cron_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_moves_a_reply_to_the_merged_tasks_thread_onto_the_surviving_task() {
    // No window is open while the test runs: acknowledgements wait, so the merged task's can
    // still be dropped.
    let desk = Desk::new("merge", |c| {
        c.contract("acme", |a| {
            a.cron_window(&cron_in(6 * 3600), "1m").language("ar")
        })
    });
    let (state, people) = (desk.state.as_path(), &desk.people);
    let d = desk.start().await;
    let first = desk.request("فاتورة نوفمبر", "ادفعها من فضلك", 1).await;
    desk.request("فاتورة نوفمبر (مرة أخرى)", "هل دفعتها؟", 2)
        .await;
    desk.va(1, "#وقت 45 دقيقة\nاتصلت بالمورد").await;
    desk.va(2, "#دمج 1").await;
    let merged = "SELECT count(*) FROM tasks WHERE status = 'merged' AND merged_into = 2";
    until(state, merged, 1).await;

    // The owner answers the first request's thread: it lands on task 2.
    let notes = "SELECT count(*) FROM events WHERE task_id = 2 AND kind = 'note'";
    let before = count(state, notes);
    send(
        &people.owner,
        &people.inbox,
        "Re: فاتورة نوفمبر",
        Some(&first),
        "أي جديد؟",
    );
    until(state, notes, before + 1).await;
    let t1 = desk.json(&["tasks", "show", "1"]);
    let open = desk.json(&["tasks", "list", "--status", "open"]);
    let status = desk.json(&["status"]);
    d.stop().await;

    assert_eq!(t1["status"], "merged");
    assert_eq!(t1["merged_into"], 2);
    assert_eq!(
        count(state, "SELECT count(*) FROM messages WHERE task_id = 1"),
        0,
        "its mail moved"
    );
    let minutes = "SELECT sum(minutes) FROM events WHERE task_id = 2 AND kind = 'time'";
    assert_eq!(count(state, minutes), 45);
    // The owner hears of it once: task 1's waiting acknowledgement was dropped.
    let pending = "SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'pending'";
    assert_eq!(count(state, pending), 1);
    let dropped = "SELECT count(*) FROM outbox WHERE task_id = 1 AND status = 'dropped'";
    assert_eq!(count(state, dropped), 1);
    // And it left every open list and count.
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    assert_eq!(status["tasks_open"], 1);
}
