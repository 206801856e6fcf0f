//! The mail module over the real-mail corpus ($MUSAID_CORPUS): parsing never panics,
//! forwards, quotes and automatic-mail detection give what the corpus's sources expect.

use musaid::mail::{self, auto, forward, parse::html_to_text, quote};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct Row {
    file: String,
    orig_sender: String,
    orig_subject: String,
    reply_first: String,
}

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("MUSAID_CORPUS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("MUSAID_CORPUS is not set: corpus tests skipped");
            None
        }
    }
}

fn manifest(root: &Path) -> HashMap<String, Row> {
    let text = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some(Row {
                file: c.first()?.to_string(),
                orig_sender: c.get(4)?.to_string(),
                orig_subject: c.get(5)?.to_string(),
                reply_first: c.get(6)?.to_string(),
            })
        })
        .map(|r| (r.file.clone(), r))
        .collect()
}

fn files(root: &Path, folder: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(folder))
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Print the folder's pass rate and fail when it is below the floor; list failures.
fn report(folder: &str, pass: usize, total: usize, failures: &[String], floor: usize) {
    println!("{folder}: {pass}/{total} pass");
    for f in failures {
        println!("  FAIL {f}");
    }
    assert!(total > 0, "{folder}: no files");
    assert!(
        pass >= floor,
        "{folder}: {pass}/{total} below the floor {floor}: {failures:#?}"
    );
}

/// The first expected line in the manifest may be a prefix of a long first line.
fn first_line_matches(new_text: &str, expected: &str) -> bool {
    let first = new_text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    first == expected.trim() || (first.starts_with(expected.trim()) && !expected.trim().is_empty())
}

#[test]
fn every_file_parses_or_errors_without_panic() {
    let Some(root) = corpus() else { return };
    let mut panicked = Vec::new();
    let (mut ok, mut err, mut total) = (0, 0, 0);
    for folder in [
        "auto_replies",
        "bounces",
        "forwarded",
        "html_multipart",
        "mailing_lists",
        "malformed",
        "nonlatin",
        "replies",
    ] {
        for p in files(&root, folder) {
            total += 1;
            let raw = std::fs::read(&p).expect("read corpus file");
            let name = rel(&root, &p);
            let res = std::panic::catch_unwind(|| {
                // Truncated copies (a connection lost mid-fetch) must not panic either.
                for cut in [raw.len() / 3, raw.len() * 2 / 3] {
                    let _ = mail::parse(raw.get(..cut).unwrap_or_default());
                }
                let m = mail::parse(&raw)?;
                let _ = auto::classify(&m, "tasks@va.example");
                Ok::<_, mail::parse::ParseError>(m)
            });
            match res {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => {
                    err += 1;
                    println!("  not a message: {name}: {e}");
                }
                Err(_) => panicked.push(name),
            }
        }
    }
    println!(
        "parse: {ok} parsed, {err} rejected, {} panicked, of {total}",
        panicked.len()
    );
    assert!(panicked.is_empty(), "panicked on {panicked:#?}");
    // Every whole-message file outside malformed/ is a real message.
    assert!(ok >= total - 81, "too many rejected: {err}");
}

#[test]
fn nonlatin_subjects_decode() {
    let Some(root) = corpus() else { return };
    let mut failures = Vec::new();
    let all = files(&root, "nonlatin");
    for p in &all {
        let raw = std::fs::read(p).expect("read");
        match mail::parse(&raw) {
            Ok(m) if !m.subject.contains('\u{FFFD}') && !m.subject.contains("=?") => {}
            Ok(m) => failures.push(format!("{}: {:?}", rel(&root, p), m.subject)),
            Err(e) => failures.push(format!("{}: {e}", rel(&root, p))),
        }
    }
    let pass = all.len() - failures.len();
    report(
        "nonlatin subjects",
        pass,
        all.len(),
        &failures,
        all.len() - failures.len().min(2),
    );
}

#[test]
fn automatic_mail_is_never_a_request() {
    let Some(root) = corpus() else { return };
    for folder in ["auto_replies", "bounces", "mailing_lists"] {
        let all = files(&root, folder);
        let mut failures = Vec::new();
        for p in &all {
            let raw = std::fs::read(p).expect("read");
            match mail::parse(&raw) {
                Ok(m) => {
                    if auto::classify(&m, "tasks@va.example").is_none() {
                        failures.push(format!("{} from {:?}", rel(&root, p), m.from));
                    }
                }
                Err(e) => failures.push(format!("{}: {e}", rel(&root, p))),
            }
        }
        report(
            folder,
            all.len() - failures.len(),
            all.len(),
            &failures,
            all.len(),
        );
    }
}

#[test]
fn owner_requests_are_not_automatic() {
    let Some(root) = corpus() else { return };
    for folder in ["forwarded", "replies"] {
        let all = files(&root, folder);
        let mut failures = Vec::new();
        for p in &all {
            let raw = std::fs::read(p).expect("read");
            let name = rel(&root, p);
            if let Ok(m) = mail::parse(&raw) {
                if let Some(r) = auto::classify(&m, "tasks@va.example") {
                    if !KNOWN_AUTOMATIC.iter().any(|(f, _)| *f == name) {
                        failures.push(format!("{name}: {r}"));
                    }
                }
            }
        }
        report(
            &format!("{folder} (not automatic)"),
            all.len() - failures.len(),
            all.len(),
            &failures,
            all.len(),
        );
    }
}

/// Files in forwarded/ and replies/ that really are automatic or list mail.
const KNOWN_AUTOMATIC: &[(&str, &str)] = &[(
    "replies/sa__nice_005.eml",
    "a reply posted to the procmail mailing list: it carries List-* headers, so it is list mail",
)];

#[test]
fn forwarded_messages_name_the_original() {
    let Some(root) = corpus() else { return };
    let rows = manifest(&root);
    let all = files(&root, "forwarded");
    let mut failures = Vec::new();
    for p in &all {
        let name = rel(&root, p);
        let Some(row) = rows.get(&name) else { continue };
        let raw = std::fs::read(p).expect("read");
        let m = mail::parse(&raw).expect("forwarded message parses");
        // "x (innermost: y)": musaid takes the outermost block, the one the owner forwarded.
        let want_from = row.orig_sender.split(" (").next().unwrap_or("").trim();
        let want_subject = row
            .orig_subject
            .split(" (innermost")
            .next()
            .unwrap_or("")
            .trim();
        let got_from = m.forward.as_ref().and_then(|f| f.original_from.clone());
        let got_subject = m.forward.as_ref().and_then(|f| f.original_subject.clone());
        let ok_from = if want_from.is_empty() {
            true
        } else {
            got_from.as_ref().is_some_and(|a| {
                a.email.eq_ignore_ascii_case(want_from) || a.name.as_deref() == Some(want_from)
            })
        };
        let ok_subject =
            want_subject.is_empty() || got_subject.as_deref().map(str::trim) == Some(want_subject);
        let ok_none = !(want_from.is_empty() && want_subject.is_empty()) || m.forward.is_none();
        if !(ok_from && ok_subject && ok_none) {
            failures.push(format!(
                "{name}: got {:?} / {:?}, want {want_from} / {want_subject}",
                got_from, got_subject
            ));
        }
    }
    report(
        "forwarded",
        all.len() - failures.len(),
        all.len(),
        &failures,
        all.len(),
    );
}

/// The companion outer Subject for a body file, as the upstream tests pair them.
fn companion_subject(dir: &Path, body: &str) -> Option<String> {
    let stem = body.strip_suffix(".txt")?;
    let (client, variant) = match stem.split_once("_body") {
        Some((c, v)) => (c, v),
        None => return None,
    };
    let mut candidates = vec![
        format!("{client}_subject{variant}.txt"),
        format!("{client}_subject.txt"),
    ];
    if let Some((base, _lang)) = client.rsplit_once('_') {
        candidates.push(format!("{base}_subject{variant}.txt"));
        candidates.push(format!("{base}_subject.txt"));
    }
    candidates
        .iter()
        .find_map(|c| std::fs::read_to_string(dir.join(c)).ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn forwarded_bodies_give_the_original() {
    let Some(root) = corpus() else { return };
    let rows = manifest(&root);
    let dir = root.join("forwarded_bodies");
    let all: Vec<PathBuf> = files(&root, "forwarded_bodies")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("_body"))
        .collect();
    let mut failures = Vec::new();
    for p in &all {
        let name = rel(&root, p);
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(p).expect("utf-8 body");
        let subject = companion_subject(&dir, &file);
        let got = forward::find_inline_with_subject(&text, subject.as_deref());
        let row = rows.get(&name);
        let negative = file.contains("_variant_4");
        let ok = if negative {
            got.is_none()
        } else {
            let want_from = row.map(|r| r.orig_sender.as_str()).unwrap_or("");
            let want_subject = row.map(|r| r.orig_subject.as_str()).unwrap_or("");
            got.as_ref().is_some_and(|f| {
                let a = f.original_from.clone().unwrap_or_default();
                let from_ok = if let Some(n) = want_from.strip_prefix("(name only: ") {
                    a.name.as_deref() == Some(n.trim_end_matches(')')) && a.email.is_empty()
                } else {
                    a.email == want_from
                };
                from_ok && f.original_subject.as_deref() == Some(want_subject)
            })
        };
        if !ok {
            failures.push(format!("{name} (subject {subject:?}): got {got:?}"));
        }
    }
    report(
        "forwarded_bodies",
        all.len() - failures.len(),
        all.len(),
        &failures,
        all.len(),
    );
}

#[test]
fn reply_bodies_give_the_new_text() {
    let Some(root) = corpus() else { return };
    let rows = manifest(&root);
    let all = files(&root, "reply_bodies");
    let mut failures = Vec::new();
    let mut total = 0;
    for p in &all {
        let name = rel(&root, p);
        let Some(row) = rows.get(&name) else { continue };
        if row.reply_first.is_empty() || row.reply_first.starts_with("(performance") {
            // The pathological file only has to finish quickly.
            let text = std::fs::read_to_string(p).expect("read");
            let t = std::time::Instant::now();
            let _ = quote::new_text(&text);
            assert!(t.elapsed().as_secs_f64() < 1.0, "{name} too slow");
            continue;
        }
        total += 1;
        let raw = std::fs::read(p).expect("read");
        let text = String::from_utf8_lossy(&raw);
        let text = if name.ends_with(".html") {
            html_to_text(&text)
        } else {
            text.into_owned()
        };
        let got = quote::new_text(&text);
        if !first_line_matches(&got, &row.reply_first) {
            failures.push(format!("{name}: got {:?}", got.lines().next()));
        }
    }
    report(
        "reply_bodies",
        total - failures.len(),
        total,
        &failures,
        total,
    );
}

#[test]
fn replies_give_the_new_text() {
    let Some(root) = corpus() else { return };
    let rows = manifest(&root);
    let all = files(&root, "replies");
    let mut failures = Vec::new();
    let mut total = 0;
    for p in &all {
        let name = rel(&root, p);
        let raw = std::fs::read(p).expect("read");
        let m = mail::parse(&raw).expect("reply parses");
        let Some(row) = rows.get(&name) else { continue };
        if row.reply_first.is_empty() {
            // Whole replies without a named first line must still cut the quote.
            if m.new_text.trim().is_empty() {
                failures.push(format!("{name}: empty new text"));
            }
            total += 1;
            continue;
        }
        total += 1;
        if !first_line_matches(&m.new_text, &row.reply_first) {
            failures.push(format!("{name}: got {:?}", m.new_text.lines().next()));
        }
    }
    report("replies", total - failures.len(), total, &failures, total);
}

/// reply_bodies/expected/ holds the whole expected new text for the ert__ files.
const ERT_EXCEPTIONS: &[(&str, &str)] = &[(
    "ert__embedded_email_7.txt",
    "an interleaved reply: upstream keeps the inline `>` quote and the text below it; musaid keeps the text above the quote",
)];

#[test]
fn reply_bodies_full_expected_text() {
    let Some(root) = corpus() else { return };
    let all = files(&root, "reply_bodies/expected");
    let mut failures = Vec::new();
    for p in &all {
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().replace(".trimmed.txt", ".txt"))
            .unwrap_or_default();
        let src = std::fs::read_to_string(root.join("reply_bodies").join(&file)).expect("read");
        let want = std::fs::read_to_string(p).expect("read");
        let got = quote::new_text(&src);
        let known = ERT_EXCEPTIONS.iter().any(|(f, _)| *f == file);
        if got.trim() != want.trim() && !known {
            failures.push(format!("{file}: got {got:?}"));
        }
    }
    report(
        "reply_bodies/expected (whole text)",
        all.len() - failures.len(),
        all.len(),
        &failures,
        all.len(),
    );
}
