//! `[policy] trusted_authserv_id` end to end through `musaid ingest`: a From address grants
//! an owner's or a VA's rights only when our MX's topmost Authentication-Results vouch for it.

use crate::support::cli::{json, musaid, riyadh_office, Desk};
use serde_json::Value;
use std::path::Path;

const REAL_PASS: &str = "Authentication-Results: mx.va.example;\r\n\tdkim=pass header.d=acme.example header.s=g1 header.b=Xy/5gM1p;\r\n\tspf=pass (mx.va.example: domain of boss@acme.example designates 209.85.220.41 as permitted sender) smtp.mailfrom=boss@acme.example;\r\n\tdmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=acme.example\r\n";
const REAL_FAIL: &str = "Authentication-Results: mx.va.example; dkim=none; spf=softfail smtp.mailfrom=acme.example; dmarc=fail (p=NONE) header.from=acme.example\r\n";
const FORGED_PASS: &str =
    "Authentication-Results: mx.va.example; dmarc=pass header.from=acme.example\r\n";
const OTHER_PASS: &str =
    "Authentication-Results: mx.google.com; dmarc=pass header.from=acme.example\r\n";
const VA_PASS: &str =
    "Authentication-Results: MX.VA.EXAMPLE; dkim=pass header.i=@va.example; dmarc=fail header.from=va.example\r\n";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

/// The owner's request as our MX delivered it: its headers above the sender's.
fn request(top: &[&str], in_message: &[&str], id: &str) -> String {
    let raw = fixture("request-ar-gmail.eml").replace("CAGx7Lq1-fwd-ar-001", id);
    let (head, rest) = raw.split_once("MIME-Version:").expect("fixture header");
    format!(
        "{}{head}{}MIME-Version:{rest}",
        top.concat(),
        in_message.concat()
    )
}

fn va_reply(top: &[&str], id: &str) -> String {
    format!("{}{}", top.concat(), fixture("va-reply-done-ar.eml")).replace("CAHy-va-reply-002", id)
}

/// The fixtures' contract; our MX is `trusted`, if any.
fn setup(trusted: Option<&str>) -> Desk {
    Desk::new(|c| {
        let c = riyadh_office(c);
        match trusted {
            Some(id) => c.policy("trusted_authserv_id", id),
            None => c,
        }
    })
}

/// Ingest one message; its decision as JSON.
fn ingest(s: &Desk, name: &str, raw: &str) -> Value {
    let path = s.dir.path().join(name);
    std::fs::write(&path, raw).expect("write message");
    let out = crate::support::cli::ingest(s, &path);
    out[0].clone()
}

/// Our MX, whose Authentication-Results musaid trusts.
const TRUSTED: Option<&str> = Some("mx.va.example");

#[test]
fn an_owner_authenticated_by_our_mx_creates_a_task() {
    let s = setup(TRUSTED);
    // Another server's header on top is skipped, not trusted and not in the way.
    let d = ingest(
        &s,
        "ok.eml",
        &request(&[OTHER_PASS, REAL_PASS], &[], "ok-1"),
    );
    assert_eq!(d["decision"], "create_task", "{d}");
    assert!(d["task"].is_i64());
}

#[test]
fn forged_or_failed_authentication_quarantines_the_owners_request_as_untrusted() {
    let s = setup(TRUSTED);
    let cases = [
        // No Authentication-Results at all.
        ("missing", request(&[], &[], "m-1")),
        // Our MX says DMARC failed.
        ("dmarc-fail", request(&[REAL_FAIL], &[], "m-2")),
        // Only another server says pass.
        ("other-id", request(&[OTHER_PASS], &[], "m-3")),
        // The sender wrote our MX's name into their own header; our real one says fail.
        ("forged-below", request(&[REAL_FAIL], &[FORGED_PASS], "m-4")),
    ];
    for (name, raw) in &cases {
        let d = ingest(&s, &format!("{name}.eml"), raw);
        assert_eq!(d["decision"], "quarantine", "{name}: {d}");
        assert_eq!(d["reason"], "untrusted", "{name}: {d}");
    }
    let q = json(&musaid(&s, &["tasks", "list", "--quarantine", "--json"]));
    let q = q.as_array().expect("array");
    assert_eq!(q.len(), cases.len());
    assert!(q.iter().all(|r| r["reason"] == "untrusted"
        && r["from"] == "boss@acme.example"
        && r["detail"]
            .as_str()
            .is_some_and(|d| d.contains("mx.va.example"))));
    let tasks = json(&musaid(&s, &["tasks", "list", "--json"]));
    assert_eq!(tasks.as_array().map(Vec::len), Some(0));
}

#[test]
fn an_unauthenticated_stranger_follows_the_unknown_senders_policy() {
    let s = setup(TRUSTED);
    let raw = request(&[], &[], "st-1").replace("boss@acme.example", "someone@else.example");
    let d = ingest(&s, "stranger.eml", &raw);
    assert_eq!(d["decision"], "ignore");
    assert_eq!(d["reason"], "unknown-sender");
}

#[test]
fn an_unauthenticated_va_reply_is_a_strangers_note_and_its_commands_are_refused() {
    let s = setup(TRUSTED);
    let d = ingest(&s, "req.eml", &request(&[REAL_PASS], &[], "thread-1"));
    assert_eq!(d["decision"], "create_task", "{d}");
    let id = d["task"].as_i64().expect("task id");
    assert_eq!(id, 1, "the reply fixture's subject tags [#1]");

    // A forged `#تم` from the VA's address: our MX saw no aligned pass for va.example.
    let raw = va_reply(&[REAL_FAIL], "forged-va").replace("CAGx7Lq1-fwd-ar-001", "thread-1");
    let d = ingest(&s, "forged.eml", &raw);
    assert_eq!(d["decision"], "update_task", "{d}");
    let shown = json(&musaid(&s, &["tasks", "show", &id.to_string(), "--json"]));
    assert_eq!(shown["status"], "open");
    let events = shown["events"].as_array().expect("events");
    let refused: Vec<&Value> = events.iter().filter(|e| e["kind"] == "refused").collect();
    assert!(!refused.is_empty(), "{events:?}");
    assert!(refused.iter().all(|e| e["actor"] == "sara@va.example"
        && e["note"]
            .as_str()
            .is_some_and(|n| n.contains("not authenticated"))));

    // Threaded only by the `[#N]` tag in its subject: an unauthenticated VA is no participant.
    let untagged = |top: &[&str], id: &str| {
        va_reply(top, id)
            .lines()
            .filter(|l| !l.starts_with("In-Reply-To:") && !l.starts_with("References:"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let d = ingest(&s, "tag-forged.eml", &untagged(&[REAL_FAIL], "tag-forged"));
    assert_eq!(d["decision"], "ignore", "{d}");
    assert_eq!(d["reason"], "unknown-sender");

    // The real one, also by its tag only: DKIM aligned with va.example (DMARC failing does not
    // matter then).
    let d = ingest(&s, "real.eml", &untagged(&[VA_PASS], "real-va"));
    assert_eq!(d["decision"], "update_task", "{d}");
    let shown = json(&musaid(&s, &["tasks", "show", &id.to_string(), "--json"]));
    assert_eq!(shown["status"], "done");
}

#[test]
fn without_trusted_authserv_id_the_from_address_is_believed_as_before() {
    let s = setup(None);
    let d = ingest(&s, "plain.eml", &request(&[], &[], "plain-1"));
    assert_eq!(d["decision"], "create_task", "{d}");
    let raw = va_reply(&[REAL_FAIL], "va-1").replace("CAGx7Lq1-fwd-ar-001", "plain-1");
    assert_eq!(ingest(&s, "va.eml", &raw)["decision"], "update_task");
    let id = d["task"].as_i64().expect("task id");
    let shown = json(&musaid(&s, &["tasks", "show", &id.to_string(), "--json"]));
    assert_eq!(shown["status"], "done");
}
