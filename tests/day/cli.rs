use crate::support::cli::{fixture, ingest, json, musaid, riyadh_office, Desk};

#[test]
fn musaid_agenda_lists_each_vas_tasks_in_one_part_without_sending() {
    let d = Desk::new(riyadh_office);
    ingest(&d, &fixture("request-ar-gmail.eml"));
    let at = "2030-01-06T08:00:00+03:00";
    let v = json(&musaid(&d, &["agenda", "--json", "--at", at]));
    let agendas = v.as_array().expect("an array");
    assert_eq!(agendas.len(), 1, "{v:#}");
    let a = &agendas[0];
    assert_eq!(a["va"], "sara@va.example");
    assert_eq!(a["at"], at);
    let parts = ["overdue", "due_today", "new", "waiting"];
    let ids: Vec<i64> = parts
        .iter()
        .flat_map(|p| a[*p].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["id"].as_i64())
        .collect();
    assert_eq!(
        ids.len() + a["open_count"].as_u64().unwrap_or(0) as usize,
        1,
        "{a:#}"
    );
    if let Some(t) = a["overdue"].as_array().and_then(|o| o.first()) {
        assert!(t["late_seconds"].as_i64().is_some_and(|s| s > 0), "{t:#}");
        assert_eq!(t["contract"], "acme", "a task object as in tasks list");
    }
    // The text is the mail's, in the contract's language; nothing was queued.
    let out = musaid(
        &d,
        &[
            "agenda",
            "--va",
            "Sara@VA.example",
            "--at",
            "2030-01-06 08:00",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("[#1]"), "{text}");
    let outbox = json(&musaid(&d, &["outbox", "--all", "--json"]));
    assert!(
        outbox
            .as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["kind"] != "agenda")),
        "{outbox:#}"
    );
    let nobody = musaid(&d, &["agenda", "--va", "mallory@evil.test"]);
    assert_eq!(nobody.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no VA of any contract"));
    let bad = musaid(&d, &["agenda", "--at", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
}
