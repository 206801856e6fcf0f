//! A flood of stranger mail: quarantined, its bytes bounded, and purged after
//! `policy.quarantine_keep` while the records stay.

use crate::support::cli::{json, musaid, riyadh_office, Desk};
use chrono::{Duration, Utc};
use musaid::ingest::Pipeline;
use musaid::store::{Source, Store};

const FLOOD: usize = 10_000;
const MB: u64 = 1_000_000;

/// Lines of noise to cut the strangers' bodies from: 2 MB, made once.
fn noise() -> &'static [u8] {
    static NOISE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    NOISE.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut out = Vec::with_capacity(2_100_000);
        while out.len() < 2_000_000 {
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.extend(format!("{x:016x} ").as_bytes());
            }
            out.extend(b"\r\n");
        }
        out
    })
}

/// A stranger's message of about 50 KB, its body different from every other's.
fn stranger(n: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Stranger {n} <s{n}@elsewhere.example>\r\nTo: tasks@va.example\r\n\
         Subject: Offer {n}\r\nMessage-ID: <flood{n}@elsewhere.example>\r\n\
         Date: Mon, 2 Nov 2026 10:00:00 +0300\r\n\r\n"
    )
    .into_bytes();
    // Whole lines (70 bytes each) from a place of its own.
    let at = (n * 70 * 7) % (1_900_000 / 70 * 70);
    raw.extend(noise().get(at..at + 49_980).unwrap_or_default());
    raw.extend(format!("\r\n{n}\r\n").as_bytes());
    raw
}

fn db_size(state: &std::path::Path) -> u64 {
    ["musaid.db", "musaid.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(state.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_flood_of_stranger_mail_grows_the_database_little_and_its_bytes_are_purged() {
    let desk = Desk::new(|c| riyadh_office(c).policy("unknown_senders", "quarantine"));
    let state = desk.config.with_file_name("state");
    let p = Pipeline::load(&desk.config).expect("config");
    let now = Utc::now();
    let mut store = Store::open(&state).expect("store");
    let before = db_size(&state);
    for start in (0..FLOOD).step_by(500) {
        let tx = store.transaction().expect("tx");
        for n in start..start + 500 {
            let source = Source::File(format!("flood/{n}.eml"));
            let out = p
                .process(&tx, &source, &stranger(n), None, now)
                .expect("ingest");
            assert_eq!(out.decision.kind(), "quarantine");
        }
        tx.commit().expect("commit");
    }
    drop(store);
    let grown = db_size(&state) - before;
    assert!(
        grown < 50 * MB,
        "{FLOOD} stranger messages of 50 KB grew the database by {grown} bytes"
    );
    let store = Store::open(&state).expect("store");
    let kept = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).expect(sql) };
    let whole = kept("SELECT count(*) FROM quarantine WHERE length(raw) >= 50000");
    assert!(whole > 0, "the first strangers' mail is kept whole");
    assert!(
        kept("SELECT min(length(raw)) FROM quarantine") < 1000,
        "past the day's budget, only the headers"
    );
    assert_eq!(
        kept("SELECT count(*) FROM quarantine WHERE CAST(raw AS TEXT) LIKE 'From: Stranger%'"),
        FLOOD as i64,
        "every one keeps its headers"
    );

    // A month and a day later the scheduler's purge drops the bytes; the records stay.
    let keep = p.config.policy.quarantine_keep;
    let later = now + Duration::days(31);
    let purged = musaid::store::quarantine::purge(store.conn(), keep, later).expect("purge");
    assert_eq!(purged, FLOOD);
    assert_eq!(
        kept("SELECT count(*) FROM quarantine WHERE raw IS NOT NULL"),
        0
    );
    drop(store);
    let listed = json(&musaid(&desk, &["tasks", "list", "--quarantine", "--json"]));
    let rows = listed.as_array().map_or(0, |a| a.len());
    assert_eq!(rows, FLOOD, "tasks list --quarantine still lists every one");
    assert_eq!(listed[0]["reason"], "unknown-sender");
}
