//! The weekly schedule: no backfill for a new contract, one summary per due instant, one
//! catch-up (not one per missed week) after downtime, and the mail queued with the marker;
//! and the daemon writing and mailing it at its cron time.

use crate::support::daemon::{cron_in, header, mail_within, mailbox, World};
use crate::support::servers::mailserver;
use crate::support::summary::*;
use musaid::ingest::Pipeline;
use musaid::rules::RuleSet;
use musaid::summary::{due_runs, next_run, run_scheduled};
use std::time::Duration;

fn pipeline(e: &Env) -> Pipeline {
    Pipeline::new(e.config.clone(), RuleSet::default()).expect("pipeline")
}

fn summary_rows(e: &Env) -> Vec<(String, String, i64, i64, String)> {
    let mut stmt = e
        .conn()
        .prepare(
            "SELECT recipient, kind, windowed, not_before, subject FROM outbox \
             WHERE kind = 'summary' ORDER BY id",
        )
        .expect("prepare");
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

fn files(e: &Env) -> Vec<String> {
    let dir = e.state().join("summaries/acme");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|f| f.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_new_contract_gets_no_backfill_then_its_first_summary_on_time() {
    let mut e = env(riyadh("en"));
    golden_week(e.conn());
    let p = pipeline(&e);
    // First seen on Thursday 26th at 17:30, just after a cron instant: nothing is backfilled.
    assert_eq!(
        run_scheduled(&mut e.store, &p, utc(ry(26, 17, 30))).expect("run"),
        0
    );
    assert!(files(&e).is_empty());
    assert!(summary_rows(&e).is_empty());
    // The next Thursday 17:00 is the first.
    let next = next_run(&e.config, "acme", utc(ry(26, 17, 30))).expect("next run");
    assert_eq!(
        next,
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 3, 14, 0, 0).unwrap()
    );
    assert_eq!(
        run_scheduled(&mut e.store, &p, next - chrono::Duration::seconds(1)).expect("run"),
        0
    );
    assert_eq!(run_scheduled(&mut e.store, &p, next).expect("run"), 1);
    assert_eq!(files(&e), vec!["2026-W49.html", "2026-W49.md"]);
    let rows = summary_rows(&e);
    assert_eq!(rows.len(), 2, "one mail per summary.to recipient");
    assert_eq!(rows[0].0, "boss@acme.example");
    assert_eq!(rows[1].0, "accounts@acme.example");
    for r in &rows {
        assert_eq!((r.1.as_str(), r.2), ("summary", 0), "not bound by windows");
        assert_eq!(r.3, next.timestamp(), "goes at once");
        assert!(r.4.starts_with("Weekly summary 2026-W49 — acme"), "{}", r.4);
    }
    // Asked again the same evening: already done.
    assert_eq!(
        run_scheduled(&mut e.store, &p, next + chrono::Duration::hours(2)).expect("run"),
        0
    );
    assert_eq!(summary_rows(&e).len(), 2);
}

#[test]
fn after_downtime_the_missed_summary_is_written_once() {
    let mut e = env(riyadh("en"));
    golden_week(e.conn());
    let p = pipeline(&e);
    // Seen on Monday 16th; the daemon is then down until Saturday 5 December.
    assert!(due_runs(e.conn(), &e.config, utc(ry(16, 10, 0)))
        .expect("due")
        .is_empty());
    let back = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 5, 9, 0, 0).unwrap();
    let due = due_runs(e.conn(), &e.config, back).expect("due");
    let thursday_3rd =
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 3, 14, 0, 0).unwrap();
    assert_eq!(
        due,
        vec![("acme".to_string(), thursday_3rd)],
        "only the latest missed one"
    );
    assert_eq!(run_scheduled(&mut e.store, &p, back).expect("run"), 1);
    assert_eq!(
        run_scheduled(&mut e.store, &p, back + chrono::Duration::minutes(5)).expect("run"),
        0
    );
    assert_eq!(files(&e), vec!["2026-W49.html", "2026-W49.md"]);
    assert_eq!(summary_rows(&e).len(), 2, "one set of mails");
    // The week after: another one.
    let thursday_10th = thursday_3rd + chrono::Duration::days(7);
    assert_eq!(
        run_scheduled(
            &mut e.store,
            &p,
            thursday_10th + chrono::Duration::minutes(1)
        )
        .expect("run"),
        1
    );
    assert_eq!(files(&e).len(), 4);
    assert_eq!(summary_rows(&e).len(), 4);
}

#[test]
fn a_scheduled_summary_covers_the_seven_days_before_its_instant() {
    let mut e = env(riyadh("en"));
    golden_week(e.conn());
    let p = pipeline(&e);
    due_runs(e.conn(), &e.config, utc(ry(20, 10, 0))).expect("first sight");
    // Run late, on Friday: the summary still covers Thursday 19th 17:00 to Thursday 26th 17:00.
    assert_eq!(
        run_scheduled(&mut e.store, &p, utc(ry(27, 9, 0))).expect("run"),
        1
    );
    let md = std::fs::read_to_string(e.state().join("summaries/acme/2026-W48.md")).expect("md");
    assert_eq!(
        md,
        std::fs::read_to_string(fixture("acme-en.md")).expect("golden")
    );
}

#[test]
fn contracts_without_a_summary_are_never_due() {
    let e = env(|c| c.timezone("Asia/Riyadh").windows(&["Sun-Thu 08:00-10:00"]));
    assert!(due_runs(e.conn(), &e.config, utc(ry(26, 18, 0)))
        .expect("due")
        .is_empty());
    assert!(due_runs(e.conn(), &e.config, utc(ry(30, 18, 0)))
        .expect("due")
        .is_empty());
    assert_eq!(next_run(&e.config, "acme", utc(ry(26, 18, 0))), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_summary_is_written_and_mailed_at_its_cron_time_once() {
    let world = World::new(mailserver(), "summary");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let at = cron_in(6);
    let d = world
        .start(|c| c.contract("acme", |a| a.summary(&at, &[&people.owner])))
        .await;
    world.request("Invoice", "Please.");
    let is_summary = |m: &[u8]| header(m, "Auto-Submitted").as_deref() == Some("auto-generated");
    let mail = mail_within(server, &people.owner, Duration::from_secs(20), is_summary)
        .await
        .into_iter()
        .next();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let summaries = mailbox(server, &people.owner)
        .await
        .into_iter()
        .filter(|m| is_summary(m))
        .count();
    d.stop().await;
    let mail = mail.expect("the summary was mailed at its cron time");
    let text = String::from_utf8_lossy(&mail);
    assert!(
        text.contains("text/html") && text.contains("text/plain"),
        "text + HTML"
    );
    assert_eq!(summaries, 1, "once");
    let files: Vec<_> = std::fs::read_dir(state.join("summaries").join("acme"))
        .expect("summaries/acme")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".md")) && files.iter().any(|f| f.ends_with(".html")),
        "{files:?}"
    );
}
