//! Parse + decide of realistic 4 KB messages against 200 rules, on one core.
//!
//! `cargo bench --bench pipeline` prints messages per second and the resident set size before
//! and after, to show memory stays flat.

use chrono::Utc;
use musaid::decide::NoHistory;
use musaid::ingest::{parse_guarded, Pipeline};
use musaid::rules::RuleSet;
use std::time::Instant;

const WORDS_EN: &[&str] = &[
    "please", "invoice", "meeting", "tomorrow", "client", "update", "website", "booking", "report",
    "thanks", "schedule", "payment", "order", "review", "draft", "send",
];
const WORDS_AR: &[&str] = &[
    "أرجو",
    "فاتورة",
    "اجتماع",
    "غدا",
    "العميل",
    "تحديث",
    "الموقع",
    "حجز",
    "تقرير",
    "شكرا",
];

fn message(i: usize) -> Vec<u8> {
    let arabic = i.is_multiple_of(3);
    let words = if arabic { WORDS_AR } else { WORDS_EN };
    let mut body = String::new();
    let mut n = i;
    while body.len() < 3000 {
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        body.push_str(words[(n >> 33) % words.len()]);
        body.push(if (n >> 20).is_multiple_of(11) {
            '\n'
        } else {
            ' '
        });
    }
    let subject = format!("Fwd: {} {}", words[i % words.len()], i);
    let fwd = format!(
        "Could you handle this today?\n\n---------- Forwarded message ---------\nFrom: Customer {i} <c{i}@customer.example>\nDate: Wed, Nov 25, 2026 at 6:02 PM\nSubject: {subject}\nTo: Owner <boss@acme.example>\n\n{body}\n"
    );
    format!(
        "Return-Path: <boss@acme.example>\r\nReceived: from mail.acme.example by mx.va.example; Thu, 26 Nov 2026 09:02:11 +0300\r\nMIME-Version: 1.0\r\nDate: Thu, 26 Nov 2026 09:02:03 +0300\r\nMessage-ID: <bench-{i}@mail.acme.example>\r\nSubject: {subject}\r\nFrom: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        fwd.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn rules() -> RuleSet {
    let mut text = String::new();
    for i in 0..200 {
        let w = WORDS_EN[i % WORDS_EN.len()];
        let a = WORDS_AR[i % WORDS_AR.len()];
        let key = match i % 4 {
            0 => format!("match.subject = '(?i)\\b{w}{i}\\b|{a}{i}'"),
            1 => format!("match.body = '(?i)\\bref-{i}-{w}\\b'"),
            2 => format!("match.original_from = '@vendor{i}\\.example$'"),
            _ => format!("match.from = '^team{i}@'\nmatch.subject = '(?i){w}'"),
        };
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\n{key}\ncategory = \"c{}\"\n\n",
            i % 12
        ));
    }
    RuleSet::from_files(&[("bench.toml".to_string(), text)]).unwrap_or_else(|e| panic!("{e}"))
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("musaid-bench-{}", std::process::id()));
    let cfg_text = format!(
        "[daemon]\nstate_dir = \"{}\"\nrules_dir = \"{}\"\naddress = \"tasks@va.example\"\n\n[imap]\nhost = \"127.0.0.1\"\nport = 143\ntls = \"none\"\n\n[contracts.acme]\nowners = [\"*@acme.example\"]\nvas = [\"sara@va.example\"]\ntimezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-17:00\"]\n",
        dir.display(),
        dir.display()
    );
    let config = musaid::config::load_str(&cfg_text, &dir.join("musaid.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let p = Pipeline::new(config, rules()).unwrap_or_else(|e| panic!("{e:#}"));
    let msgs: Vec<Vec<u8>> = (0..2000).map(message).collect();
    let avg = msgs.iter().map(Vec::len).sum::<usize>() / msgs.len();
    let now = Utc::now();
    let mut created = 0usize;
    // Warm up, then measure several rounds.
    for m in msgs.iter().take(200) {
        let _ = p.decide(&parse_guarded(m), &NoHistory, None, now);
    }
    let rss_before = rss_kb();
    let rounds = 10;
    let start = Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            if let Ok(musaid::decide::Decision::CreateTask(_)) =
                p.decide(&parse_guarded(m), &NoHistory, None, now)
            {
                created += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = msgs.len() * rounds;
    println!(
        "parse+decide: {n} messages of {avg} bytes avg, {} rules: {:.0} messages/s ({:.1} µs each), {created} tasks",
        p.rules.len(),
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
    println!("RSS: {} KB before, {} KB after", rss_before, rss_kb());
}
