//! Weekly summaries of a fixed data set: golden Markdown and HTML in English and Arabic, the
//! numbers behind them, and the edge cases (acks outside windows, an empty week, DST).

use crate::support::summary::*;
use musaid::summary::{self, compute, render, week_before};
use musaid::templates::Templates;

fn golden_summary(lang: &str) -> (Env, summary::Summary) {
    let e = env(riyadh(lang));
    golden_week(e.conn());
    let end = utc(ry(26, 17, 0));
    let s = compute(e.conn(), e.contract(), week_before(e.contract(), end), end).expect("compute");
    (e, s)
}

#[test]
fn the_numbers_of_the_golden_week() {
    let (_e, s) = golden_summary("en");
    assert_eq!(s.period_start, "2026-11-19T17:00:00+03:00");
    assert_eq!(s.period_end, "2026-11-26T17:00:00+03:00");
    assert_eq!(s.week, "2026-W48");
    assert_eq!(s.received, 5, "tasks 3 to 7; 8 came at the period's end");
    assert_eq!(s.acknowledged, 4);
    assert_eq!(s.done, 2, "task 6 was done, reopened and done again: once");
    assert_eq!(s.cancelled, 1);
    assert_eq!(s.open, 3, "2 and 4 in progress, 7 open");
    assert_eq!(s.overdue, 1, "task 2 was due on Wednesday");
    assert_eq!(s.by_category.get("bookkeeping"), Some(&2));
    assert_eq!(s.by_assignee.get("unassigned"), Some(&1));
    assert_eq!(s.by_assignee.get("sara@va.example"), Some(&3));
    // Acks: 30 min (before the window opened), 1 min, 5 min, 3 h (waited for the window).
    assert_eq!(s.ack_p50_seconds, Some(300));
    assert_eq!(s.ack_p90_seconds, Some(3 * 3600));
    assert_eq!(s.ack_business_p50_seconds, Some(0));
    assert_eq!(s.ack_business_p90_seconds, Some(300));
    // Done: task 3 after 25h45m (4h15m of windows), task 6 after 27h45m (3h45m).
    assert_eq!(s.done_p50_seconds, Some(25 * 3600 + 45 * 60));
    assert_eq!(s.done_p90_seconds, Some(27 * 3600 + 45 * 60));
    assert_eq!(s.done_business_p50_seconds, Some(3 * 3600 + 45 * 60));
    assert_eq!(s.done_business_p90_seconds, Some(4 * 3600 + 15 * 60));
    assert_eq!(s.minutes_worked, 255);
    assert_eq!(s.amount, Some(53.13), "4.25 h at 12.5 USD");
    assert_eq!(s.acks_outside_windows, 0);
    assert_eq!(
        s.open_tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![2, 4, 7],
        "oldest first"
    );
    assert_eq!(s.minutes_by_va.get("ali@va.example"), Some(&90));
    assert_eq!(s.minutes_by_va.get("sara@va.example"), Some(&165));
    assert_eq!(
        s.days.len(),
        8,
        "Thursday 17:00 to Thursday 17:00 touches 8 local days"
    );
    assert_eq!(s.days.iter().map(|d| d.received).sum::<u64>(), 5);
    assert_eq!(s.previous.received, 2);
    assert_eq!(s.previous.done, 1);
    assert_eq!(s.previous.open, 1);
    assert_eq!(s.previous.minutes_worked, 30);
}

#[test]
fn json_has_the_spec_field_names() {
    let (_e, s) = golden_summary("en");
    let v = serde_json::to_value(&s).expect("json");
    for key in [
        "contract",
        "period_start",
        "period_end",
        "received",
        "acknowledged",
        "done",
        "cancelled",
        "open",
        "overdue",
        "by_category",
        "by_assignee",
        "ack_p50_seconds",
        "ack_p90_seconds",
        "done_p50_seconds",
        "done_p90_seconds",
        "minutes_worked",
        "amount",
        "acks_outside_windows",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["by_category"]["website"], 1);
    assert_eq!(v["amount"], 53.13);
    assert_eq!(v["contract"], "acme");
}

#[test]
fn english_summary_matches_the_golden_files() {
    let (_e, s) = golden_summary("en");
    let r = render(&Templates::load(None).expect("templates"), &s).expect("render");
    assert_eq!(
        r.subject,
        "Weekly summary 2026-W48 — acme: 5 received, 2 done, 3 open"
    );
    golden("acme-en.md", &r.text);
    golden("acme-en.html", &r.html);
    assert!(r.html.contains("<svg"), "a chart");
    assert!(!r.html.contains("<script"), "no scripts");
    assert!(
        r.html.contains("Reconcile | November &lt;accounts&gt;"),
        "titles are escaped"
    );
    assert!(
        r.text.contains("Reconcile \\| November \\<accounts\\>"),
        "a pipe cannot break a table, nor a subject inject markup"
    );
}

#[test]
fn arabic_summary_matches_the_golden_files() {
    let (_e, s) = golden_summary("ar");
    let r = render(&Templates::load(None).expect("templates"), &s).expect("render");
    assert!(
        r.subject.starts_with("الملخص الأسبوعي 2026-W48"),
        "{}",
        r.subject
    );
    assert!(r.html.contains(r#"<html lang="ar" dir="rtl">"#));
    assert!(r.text.contains("## نظرة سريعة"));
    golden("acme-ar.md", &r.text);
    golden("acme-ar.html", &r.html);
}

#[test]
fn an_ack_sent_outside_every_window_is_counted() {
    let (e, _) = golden_summary("en");
    // Saturday noon: no window on Saturdays. And one at 17:00 sharp, as a window closes.
    ack_sent(e.conn(), 7, ry(21, 12, 0));
    ack_sent(e.conn(), 7, ry(25, 17, 0));
    let end = utc(ry(26, 17, 0));
    let s = compute(e.conn(), e.contract(), week_before(e.contract(), end), end).expect("compute");
    assert_eq!(s.acks_outside_windows, 2);
    let r = render(&Templates::load(None).expect("templates"), &s).expect("render");
    assert!(r
        .text
        .contains("Acknowledgements sent outside the response windows: 2."));
}

#[test]
fn an_empty_week_says_so_in_one_line() {
    for lang in ["en", "ar"] {
        let e = env(riyadh(lang));
        let end = utc(ry(26, 17, 0));
        let s =
            compute(e.conn(), e.contract(), week_before(e.contract(), end), end).expect("compute");
        assert_eq!((s.received, s.open, s.minutes_worked), (0, 0, 0));
        assert_eq!(s.ack_p50_seconds, None, "nothing to measure");
        assert_eq!(s.amount, Some(0.0));
        let r = render(&Templates::load(None).expect("templates"), &s).expect("render");
        let lines: Vec<&str> = r.text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            3,
            "{lang}: title, period, one line:\n{}",
            r.text
        );
        assert!(!r.text.contains('|'), "{lang}: no tables");
        assert!(!r.html.contains("<table"), "{lang}: no tables");
        if lang == "en" {
            golden("empty-en.md", &r.text);
        }
    }
}

#[test]
fn a_task_closed_after_the_period_was_open_at_its_end() {
    let (e, _) = golden_summary("en");
    // The week ending Monday 23rd 00:00: task 3 was done on Monday morning, after it.
    let end = utc(ry(23, 0, 0));
    let s = compute(e.conn(), e.contract(), week_before(e.contract(), end), end).expect("compute");
    let open: Vec<i64> = s.open_tasks.iter().map(|t| t.id).collect();
    assert_eq!(open, vec![2, 3]);
    assert_eq!(
        s.open_tasks.first().map(|t| t.status.as_str()),
        Some("in_progress")
    );
    assert_eq!(s.done, 1, "task 1, on Tuesday 17th");
    assert_eq!(s.overdue, 0, "task 2 was not yet due");
}

#[test]
fn a_week_across_the_end_of_daylight_saving_time() {
    let e = env(|c| {
        c.timezone("Europe/Paris")
            .windows(&["Mon-Fri 09:00-17:00"])
            .language("en")
            .summary("0 0 17 * * Thu", &["boss@acme.example"])
    });
    let at = |d: u32, h: u32, m: u32| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 10, d, h, m, 0)
            .single()
            .expect("utc")
            .timestamp()
    };
    // Friday 23 October 16:00 CEST (14:00Z) → Monday 26 October 10:00 CET (09:00Z).
    task(
        e.conn(),
        T {
            id: 1,
            created: at(23, 14, 0),
            category: "general",
            assignee: None,
            subject: "Across the clock change",
            original_subject: None,
            acked: Some(at(23, 14, 30)),
            due: None,
        },
    );
    status(e.conn(), 1, at(26, 9, 0), "done", "sara@va.example");
    // Thursday 29 October 17:00 CET.
    let end = utc(at(29, 16, 0));
    let start = week_before(e.contract(), end);
    assert_eq!(
        (end - start).num_hours(),
        7 * 24 + 1,
        "the week has 169 hours"
    );
    let s = compute(e.conn(), e.contract(), start, end).expect("compute");
    assert_eq!(s.period_start, "2026-10-22T17:00:00+02:00");
    assert_eq!(s.period_end, "2026-10-29T17:00:00+01:00");
    assert_eq!(
        s.done_p50_seconds,
        Some(67 * 3600),
        "wall clock, with the extra hour"
    );
    assert_eq!(
        s.done_business_p50_seconds,
        Some(2 * 3600),
        "Friday 16-17 and Monday 09-10"
    );
    assert_eq!(s.ack_business_p50_seconds, Some(1800));
    assert_eq!(s.days.len(), 8);
    assert_eq!(s.days.first().map(|d| d.date.as_str()), Some("2026-10-22"));
    assert_eq!(s.week, "2026-W44");
}

#[test]
fn iso_week_periods_run_monday_to_monday_in_the_contract_zone() {
    let e = env(riyadh("en"));
    let (start, end) = summary::iso_week_period(e.contract(), 2026, 48).expect("week");
    assert_eq!(start, utc(ry(23, 0, 0)));
    assert_eq!(end, utc(ry(30, 0, 0)));
    golden_week(e.conn());
    let s = compute(e.conn(), e.contract(), start, end).expect("compute");
    assert_eq!(s.week, "2026-W48");
    assert_eq!(
        s.received, 5,
        "tasks 4 to 8; task 3 came on Sunday, the week before"
    );
}

#[test]
fn files_are_named_by_iso_week_and_written_whole() {
    let (e, s) = golden_summary("en");
    let r = render(&Templates::load(None).expect("templates"), &s).expect("render");
    let (md, html) = summary::write_files(&e.state(), e.contract(), &s, &r).expect("write");
    assert_eq!(md, e.state().join("summaries/acme/2026-W48.md"));
    assert_eq!(html, e.state().join("summaries/acme/2026-W48.html"));
    assert_eq!(std::fs::read_to_string(&md).expect("md"), r.text);
    assert_eq!(std::fs::read_to_string(&html).expect("html"), r.html);
    // Written again: replaced, and no temporary file left behind.
    summary::write_files(&e.state(), e.contract(), &s, &r).expect("rewrite");
    let names: Vec<String> = std::fs::read_dir(e.state().join("summaries/acme"))
        .expect("dir")
        .map(|f| f.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
