//! What a new request queues, seen through `musaid outbox --json` and `musaid windows --json`:
//! the owner's acknowledgement waits for a response window, the VA's notification does not.

use crate::support::cli::{fixture, ingest, json, musaid, Desk};
use crate::support::config::{ConfigBuilder, ALWAYS};
use chrono::{Duration, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// An Arabic contract open around the clock but on `holidays`.
fn arabic(c: ConfigBuilder, holidays: &[&str]) -> ConfigBuilder {
    c.contract("acme", |c| {
        c.timezone("Asia/Riyadh")
            .windows(&[ALWAYS])
            .holidays(holidays)
            .language("ar")
    })
}

/// [`arabic`], acknowledging any request however old: the checked-in fixtures carry a fixed
/// Date, and their files the time of the checkout.
fn setup(holidays: &[&str]) -> Desk {
    Desk::new(|c| arabic(c, holidays).policy("ack_max_age", "100000d"))
}

#[test]
fn an_ack_waits_for_the_next_window_and_the_va_is_notified_at_once() {
    let riyadh: Tz = "Asia/Riyadh".parse().expect("zone");
    let today = Utc::now().with_timezone(&riyadh).date_naive();
    // Today is a holiday: every window is closed until tomorrow 00:00 in Riyadh.
    let d = setup(&[&today.to_string()]);
    let w = json(&musaid(&d, &["windows", "--json"]));
    assert_eq!(w[0]["open_now"], false);
    let tomorrow = today.succ_opt().expect("date");
    let first = w[0]["next_openings"][0]["local"]
        .as_str()
        .expect("an opening");
    assert!(
        first.starts_with(&format!("{tomorrow}T00:00:00")),
        "{first}"
    );
    assert!(first.ends_with("+03:00"), "{first}");

    let req = fixture("request-ar-gmail.eml");
    ingest(&d, &req);
    let rows = json(&musaid(&d, &["outbox", "--json"]));
    let rows = rows.as_array().expect("array");
    let ack = rows
        .iter()
        .find(|r| r["kind"] == "ack")
        .expect("an ack is queued");
    assert_eq!(ack["to"], "boss@acme.example");
    assert_eq!(ack["windowed"], true);
    assert_eq!(ack["not_before"].as_str(), Some(first));
    assert!(ack["subject"]
        .as_str()
        .is_some_and(|s| s.starts_with("[#1] ")));
    let notify = rows
        .iter()
        .find(|r| r["kind"] == "notify")
        .expect("a notification");
    assert_eq!(notify["to"], "sara@va.example");
    assert_eq!(notify["windowed"], false);
    let queued = chrono::DateTime::parse_from_rfc3339(notify["not_before"].as_str().unwrap_or(""))
        .expect("time");
    assert!(Utc::now().signed_duration_since(queued) < Duration::minutes(1));
}

#[test]
fn old_requests_get_a_task_but_no_ack_and_no_notification() {
    let d = Desk::new(|c| arabic(c, &[]).policy("ack_max_age", "1d"));
    // The request as it was in November 2020, by its Date and by its file's time (which
    // `musaid ingest` may take for its arrival): far more than a day old on any calendar.
    let req = fixture("request-ar-gmail.eml");
    let raw = std::fs::read_to_string(&req).expect("fixture");
    let old = d.dir.path().join("old.eml");
    std::fs::write(
        &old,
        raw.replace("Date: Thu, 26 Nov 2026", "Date: Thu, 26 Nov 2020"),
    )
    .expect("write");
    let then =
        chrono::DateTime::parse_from_rfc2822("Thu, 26 Nov 2020 09:02:03 +0300").expect("date");
    std::fs::File::options()
        .write(true)
        .open(&old)
        .and_then(|f| f.set_modified(then.into()))
        .expect("set the file's time");
    let out = ingest(&d, &old);
    assert_eq!(out[0]["decision"], "create_task");
    let rows = json(&musaid(&d, &["outbox", "--json"]));
    assert_eq!(rows.as_array().map(Vec::len), Some(0), "{rows}");
    let shown = json(&musaid(&d, &["tasks", "show", "1", "--json"]));
    assert!(shown["events"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["kind"] == "ack_skipped")));
}

#[test]
fn closing_a_task_by_hand_tells_the_owner_unless_told_not_to() {
    let d = setup(&[]);
    let req = fixture("request-ar-gmail.eml");
    ingest(&d, &req);
    let done_rows = |d: &Desk| -> Vec<Value> {
        json(&musaid(d, &["outbox", "--json"]))
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["kind"] == "done")
            .collect()
    };
    assert!(done_rows(&d).is_empty());

    let out = musaid(&d, &["tasks", "set", "1", "done", "--note", "تم الدفع"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = done_rows(&d);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["to"], "boss@acme.example");
    assert_eq!(done[0]["task"], 1);
    assert_eq!(done[0]["windowed"], true);

    // Done again, or reopened and closed with --no-mail: nothing more is queued.
    assert!(musaid(&d, &["tasks", "set", "1", "done"]).status.success());
    assert!(musaid(&d, &["tasks", "set", "1", "open"]).status.success());
    assert!(musaid(&d, &["tasks", "set", "1", "done", "--no-mail"])
        .status
        .success());
    assert_eq!(done_rows(&d).len(), 1);
    let shown = json(&musaid(&d, &["tasks", "show", "1", "--json"]));
    assert_eq!(shown["status"], "done");
}
