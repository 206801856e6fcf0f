//! Replies through the command line: a real Arabic Gmail forward becomes a task and the VA's
//! `#تم` reply closes it; a stranger's `#تم` closes nothing and is recorded.

use crate::support::cli::{fixture, ingest, json, musaid, riyadh_office, Desk};

fn setup() -> Desk {
    Desk::new(riyadh_office)
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
