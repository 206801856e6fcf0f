//! End to end through the command line: a real Arabic Gmail forward becomes a task, and the
//! VA's `#تم` reply closes it.

mod support;

use support::cli::{fixture, ingest, json, musaid, Desk};
use support::config::ConfigBuilder;

/// The contract of these tests: Arabic, Riyadh, Sunday to Thursday office hours.
fn arabic(c: ConfigBuilder) -> ConfigBuilder {
    c.contract("acme", |c| {
        c.timezone("Asia/Riyadh")
            .windows(&["Sun-Thu 08:00-17:00"])
            .language("ar")
    })
}

fn setup() -> Desk {
    Desk::new(arabic)
}

#[test]
fn arabic_gmail_forward_becomes_a_task_and_the_va_closes_it_with_tam() {
    let s = setup();
    let req = fixture("request-ar-gmail.eml");
    let reply = fixture("va-reply-done-ar.eml");

    let out = ingest(&s, &req);
    assert_eq!(out[0]["decision"], "create_task");
    let id = out[0]["task"].as_i64().expect("task id");

    let list = json(&musaid(&s, &["tasks", "list", "--json"]));
    let task = &list[0];
    assert_eq!(task["id"], id);
    assert_eq!(task["status"], "open");
    assert_eq!(task["contract"], "acme");
    assert_eq!(task["requester"], "boss@acme.example");
    assert_eq!(task["original_from"], "khaled@customer.example");
    assert_eq!(task["original_subject"], "طلب فاتورة لشهر نوفمبر");
    assert_eq!(task["category"], "bookkeeping");
    assert_eq!(task["assignee"], "sara@va.example");
    assert!(task["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with("+03:00")));

    // The VA's reply threads by References and closes the task.
    let out = ingest(&s, &reply);
    assert_eq!(out[0]["decision"], "update_task");
    assert_eq!(out[0]["task"], id);

    let shown = json(&musaid(&s, &["tasks", "show", &id.to_string(), "--json"]));
    assert_eq!(shown["status"], "done");
    assert!(shown["done_at"].is_string());
    let events = shown["events"].as_array().expect("events");
    let closed = events
        .iter()
        .find(|e| e["kind"] == "status")
        .expect("a status event");
    assert_eq!(closed["actor"], "sara@va.example");
    assert_eq!(closed["from_status"], "open");
    assert_eq!(closed["to_status"], "done");
    let time = events
        .iter()
        .find(|e| e["kind"] == "time")
        .expect("time event");
    assert_eq!(time["minutes"], 90);
    let note = events
        .iter()
        .find(|e| e["kind"] == "note")
        .expect("note event");
    assert!(note["note"]
        .as_str()
        .is_some_and(|n| n.contains("أرسلت الفاتورة") && !n.contains("كتب")));

    // Feeding the same request again records a duplicate, not a second task.
    let again = ingest(&s, &req);
    assert_eq!(again[0]["decision"], "duplicate");
    let list = json(&musaid(&s, &["tasks", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // The readable table shows the Arabic subject, isolated for right-to-left display.
    let table = musaid(&s, &["tasks", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("\u{2068}طلب فاتورة لشهر نوفمبر\u{2069}"),
        "{text}"
    );
}

#[test]
fn a_stranger_cannot_close_a_task_and_the_attempt_is_recorded() {
    let s = setup();
    let req = fixture("request-ar-gmail.eml");
    ingest(&s, &req);
    let dir = tempfile::tempdir().expect("temp");
    let forged = dir.path().join("forged.eml");
    let raw = std::fs::read_to_string(fixture("va-reply-done-ar.eml")).expect("fixture");
    std::fs::write(
        &forged,
        raw.replace(
            "From: Sara <sara@va.example>",
            "From: Mallory <mallory@evil.example>",
        )
        .replace("CAHy-va-reply-002", "forged-003"),
    )
    .expect("write");
    let out = ingest(&s, &forged);
    assert_eq!(out[0]["decision"], "update_task");
    let shown = json(&musaid(&s, &["tasks", "show", "1", "--json"]));
    assert_eq!(shown["status"], "open");
    let events = shown["events"].as_array().expect("events");
    assert!(events
        .iter()
        .any(|e| e["kind"] == "refused" && e["actor"] == "mallory@evil.example"));
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

    let bad = Desk::new(|c| arabic(c).contract("acme", |c| c.set("bogus_key", 1)));
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
