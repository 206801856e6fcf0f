//! Golden fixtures: tests/fixtures/mail/NAME.eml beside NAME.json, the expected subset of
//! what musaid reads from the message. A mismatch writes NAME.failed with the actual JSON.

use musaid::mail::{self, auto};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const OUR_ADDRESS: &str = "tasks@va.example";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// The facts a user checks: ids, sender, subject, the forwarded original, the new text, the reason.
fn summary(m: &mail::Message) -> Value {
    let forward = m.forward.as_ref().map(|f| {
        json!({
            "style": f.style,
            "original_from": f.original_from.as_ref().map(|a| a.to_string()),
            "original_subject": f.original_subject,
            "original_date": f.original_date,
            "note": f.note,
        })
    });
    json!({
        "message_id": m.message_id,
        "message_id_derived": m.message_id_derived,
        "from": m.from.as_ref().map(|a| a.to_string()),
        "subject": m.subject,
        "forward": forward,
        "new_text_first_line": m.new_text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""),
        "auto": auto::classify(m, OUR_ADDRESS).map(|r| r.as_str()),
    })
}

#[test]
fn golden_fixtures() {
    let dir = fixtures();
    let mut emls: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    emls.sort();
    assert!(emls.len() >= 20, "fixtures missing: {}", emls.len());
    let mut failed = Vec::new();
    for eml in &emls {
        let raw = std::fs::read(eml).expect("read fixture");
        let m = mail::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", eml.display()));
        let actual = summary(&m);
        let expected_path = eml.with_extension("json");
        let failed_path = eml.with_extension("failed");
        let expected: Option<Value> = std::fs::read_to_string(&expected_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        if expected.as_ref() == Some(&actual) {
            let _ = std::fs::remove_file(&failed_path);
        } else {
            let pretty = serde_json::to_string_pretty(&actual).expect("json");
            std::fs::write(&failed_path, pretty + "\n").expect("write .failed");
            failed.push(
                eml.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
    }
    assert!(
        failed.is_empty(),
        "golden mismatch (see the .failed files): {failed:?}"
    );
}

#[test]
fn derived_message_id_is_stable() {
    let raw = std::fs::read(fixtures().join("no_message_id.eml")).expect("fixture");
    let a = mail::parse(&raw).expect("parses");
    let b = mail::parse(&raw).expect("parses");
    assert!(a.message_id_derived);
    assert_eq!(a.message_id, b.message_id);
    let mut other = raw.clone();
    other.extend_from_slice(b"More paper, please.\r\n");
    assert_ne!(
        mail::parse(&other).expect("parses").message_id,
        a.message_id
    );
}

#[test]
fn windows_1256_forward_decodes() {
    let raw = std::fs::read(fixtures().join("arabic_outlook_cp1256.eml")).expect("fixture");
    let m = mail::parse(&raw).expect("parses");
    assert!(m.text.contains("القاعة متاحة يوم الثلاثاء"), "{}", m.text);
    let f = m.forward.expect("forward");
    assert_eq!(f.body, "القاعة متاحة يوم الثلاثاء.");
}

/// Truncated and corrupted fixtures parse or fail cleanly, never panic.
#[test]
fn damaged_fixtures_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for entry in std::fs::read_dir(fixtures()).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).expect("read fixture");
        for cut in (0..raw.len()).step_by(53) {
            let res = std::panic::catch_unwind(|| {
                mail::parse(raw.get(..cut).unwrap_or_default())
                    .map(|m| auto::classify(&m, OUR_ADDRESS))
            });
            assert!(res.is_ok(), "{} cut at {cut} panicked", path.display());
        }
        for round in 0..30 {
            let mut bad = raw.clone();
            for _ in 0..8 {
                let len = bad.len().max(1) as u64;
                let at = (next() % len) as usize;
                if let Some(b) = bad.get_mut(at) {
                    *b = (next() & 0xff) as u8;
                }
            }
            let res = std::panic::catch_unwind(|| {
                mail::parse(&bad).map(|m| auto::classify(&m, OUR_ADDRESS))
            });
            assert!(
                res.is_ok(),
                "{} corruption round {round} panicked",
                path.display()
            );
        }
    }
}
