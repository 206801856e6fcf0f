//! `musaid summary` through the command line: JSON array, files under --out, mail only with
//! --send, usage errors exit 2.

use crate::support::summary::*;
use serde_json::Value;
use std::process::{Command, Output};

fn musaid(config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_musaid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MUSAID_CONFIG")
        .output()
        .expect("run musaid")
}

fn outbox_summaries(e: &Env) -> i64 {
    e.conn()
        .query_row(
            "SELECT count(*) FROM outbox WHERE kind = 'summary'",
            [],
            |r| r.get(0),
        )
        .expect("count")
}

#[test]
fn summary_of_an_iso_week_as_json_files_and_mail() {
    let e = env(riyadh("en"));
    golden_week(e.conn());
    let config = e.config_file();
    let out = e.dir.path().join("out");

    let o = musaid(
        &config,
        &[
            "summary",
            "--week",
            "2026-W48",
            "--json",
            "--out",
            out.to_str().expect("utf-8"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let arr = v.as_array().expect("an array even for one contract");
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["contract"], "acme");
    assert_eq!(arr[0]["period_start"], "2026-11-23T00:00:00+03:00");
    assert_eq!(arr[0]["period_end"], "2026-11-30T00:00:00+03:00");
    assert_eq!(arr[0]["received"], 5);
    assert_eq!(arr[0]["acks_outside_windows"], 0);
    assert!(out.join("acme/2026-W48.md").is_file());
    assert!(out.join("acme/2026-W48.html").is_file());
    assert!(
        !e.state().join("summaries").exists(),
        "--out replaces STATE/summaries"
    );
    assert_eq!(outbox_summaries(&e), 0, "nothing mailed without --send");

    let o = musaid(
        &config,
        &[
            "summary",
            "--contract",
            "acme",
            "--week",
            "2026-W48",
            "--send",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.starts_with("# Weekly summary — acme, 2026-W48"), "{md}");
    assert!(e.state().join("summaries/acme/2026-W48.md").is_file());
    assert_eq!(outbox_summaries(&e), 2, "one per summary.to recipient");
}

#[test]
fn bad_week_or_contract_is_a_usage_error() {
    let e = env(riyadh("en"));
    let config = e.config_file();
    let o = musaid(&config, &["summary", "--week", "2026-48"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2026-W48"));
    let o = musaid(&config, &["summary", "--contract", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("known: acme"));
}
