//! `musaid rules test` and `musaid ingest` through the command line.

use crate::support::cli::{fixture, json, musaid, riyadh_office, Desk};

fn setup() -> Desk {
    Desk::new(riyadh_office)
}

#[test]
fn rules_test_writes_nothing_and_check_reports_file_and_line() {
    let s = setup();
    let req = fixture("request-ar-gmail.eml");
    let out = json(&musaid(
        &s,
        &["rules", "test", "--json", req.to_str().unwrap_or_default()],
    ));
    assert_eq!(out[0]["decision"], "create_task");
    assert_eq!(out[0]["category"], "bookkeeping");
    assert_eq!(out[0]["original_from"], "khaled@customer.example");
    assert!(!s.config.with_file_name("state").join("musaid.db").exists());

    let bad = Desk::new(|c| riyadh_office(c).contract("acme", |c| c.set("bogus_key", 1)));
    let out = musaid(&bad, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("musaid.toml:"), "{err}");
    assert!(err.contains("bogus_key"), "{err}");
}

#[test]
fn ingest_reports_an_unreadable_file_and_still_feeds_the_others() {
    let s = setup();
    // A directory where a message should be: it has metadata, but cannot be read as a file.
    let unreadable = s.dir.path().join("not-a-message.eml");
    std::fs::create_dir(&unreadable).expect("mkdir");
    let req = fixture("request-ar-gmail.eml");
    let out = musaid(
        &s,
        &[
            "ingest",
            "--json",
            unreadable.to_str().unwrap_or_default(),
            req.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a file failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read") && err.contains("not-a-message.eml"),
        "{err}"
    );
    let fed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(fed.as_array().map(Vec::len), Some(1));
    assert_eq!(fed[0]["decision"], "create_task");
    let tasks = json(&musaid(&s, &["tasks", "list", "--json"]));
    assert_eq!(tasks.as_array().map(Vec::len), Some(1));
}

#[test]
fn tasks_list_and_show_print_no_terminal_escapes_from_mail() {
    let s = setup();
    let eml = s.dir.path().join("escape.eml");
    std::fs::write(
        &eml,
        "From: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\n\
         Subject: =?utf-8?b?UGF5IBtbMzFtbm93G1swbQ1GQUtF?=\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <esc.1@acme.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         Line one\x1b[2J\r\nLine two\x1b]0;owned\x07\r\n",
    )
    .expect("write eml");
    let out = musaid(&s, &["ingest", eml.to_str().unwrap_or_default()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [&["tasks", "list"][..], &["tasks", "show", "1"][..]] {
        let out = musaid(&s, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Pay [31mnow[0m"), "{args:?}: {text:?}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {text:?}"
        );
    }
    let show = musaid(&s, &["tasks", "show", "1"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("  Line one[2J\n  Line two]0;owned\n"),
        "{text:?}"
    );
}

#[test]
fn an_oversized_file_from_an_owner_queues_one_notice_in_a_window() {
    let s = Desk::new(|c| riyadh_office(c).policy("max_message_size", "10KB"));
    let big = s.dir.path().join("big.eml");
    let body = "Scan page\r\n".repeat(2000);
    let raw = format!(
        "From: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\nSubject: Receipts for May\r\n\
         Message-ID: <scans-may@acme.example>\r\n\r\n{body}"
    );
    std::fs::write(&big, raw).expect("write");
    let file = big.to_str().unwrap_or_default();
    let out = json(&musaid(&s, &["ingest", "--json", file]));
    assert_eq!(out[0]["decision"], "quarantine");
    assert_eq!(out[0]["reason"], "oversized");

    let rows = json(&musaid(&s, &["outbox", "--json"]));
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let notice = &rows[0];
    assert_eq!(notice["kind"], "error");
    assert_eq!(notice["to"], "boss@acme.example");
    assert_eq!(notice["windowed"], true, "owner-facing: inside a window");
    // The contract is in Arabic.
    let subject = notice["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("رسالة أكبر من أن تُقرأ") && subject.ends_with("Receipts for May"),
        "{subject}"
    );

    // The same file again: recorded again under its file name, but the owner is told once.
    let again = s.dir.path().join("big-again.eml");
    std::fs::copy(&big, &again).expect("copy");
    musaid(&s, &["ingest", again.to_str().unwrap_or_default()]);
    let rows = json(&musaid(&s, &["outbox", "--json"]));
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
}
