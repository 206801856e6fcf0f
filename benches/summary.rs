//! A weekly summary over a year of a busy desk: 100,000 tasks, 500,000 events and 200,000
//! outbox rows in SQLite, then `compute` and `render` timed.
//!
//! `cargo bench --bench summary` prints the figures; the target is under 1 s for `compute`.

use chrono::{DateTime, TimeZone, Utc};
use musaid::store::Store;
use musaid::summary::{compute, render, week_before};
use musaid::templates::Templates;
use rusqlite::params;
use std::time::{Duration, Instant};

const TASKS: i64 = 100_000;
const EVENTS: i64 = 500_000;
const CATEGORIES: &[&str] = &[
    "bookkeeping",
    "scheduling",
    "website",
    "social-media",
    "data-entry",
    "travel",
    "general",
];
const VAS: &[&str] = &["sara@va.example", "ali@va.example", "mona@va.example"];
const CONTRACTS: &[&str] = &[
    "acme", "acme", "acme", "acme", "acme", "acme", "beta", "gamma",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn config(dir: &std::path::Path) -> musaid::config::Config {
    let text = format!(
        r#"
[daemon]
state_dir = "{}"
rules_dir = "rules"
address = "tasks@va.example"

[imap]
host = "127.0.0.1"
port = 1143
tls = "none"
user = "tasks@va.example"

[contracts.acme]
owners = ["boss@acme.example"]
vas = ["sara@va.example", "ali@va.example", "mona@va.example"]
timezone = "Asia/Riyadh"
windows = ["Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00"]
language = "en"
summary = {{ cron = "0 0 17 * * Thu", to = ["boss@acme.example"] }}
rate = {{ per_hour = 12.5, currency = "USD" }}
"#,
        dir.join("state").display()
    );
    musaid::config::load_str(&text, &dir.join("musaid.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A year of work ending at `now`: tasks spread evenly, most of them closed within days.
fn fill(store: &mut Store, now: i64) -> (i64, i64) {
    let mut rng = Rng(42);
    let year = 365 * 86400;
    let tx = store.transaction().expect("tx");
    let events = std::cell::Cell::new(0_i64);
    let mut outbox = 0_i64;
    {
        let mut task = tx
            .prepare(
                "INSERT INTO tasks (id, contract, status, category, priority, assignee, requester, \
                 original_subject, subject, note, message_id, created_at, acked_at, due_at, done_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, 'normal', ?5, 'boss@acme.example', ?6, ?7, '', ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .expect("prepare");
        let mut event = tx
            .prepare(
                "INSERT INTO events (task_id, at, actor, kind, from_status, to_status, note, minutes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .expect("prepare");
        let mut mail = tx
            .prepare(
                "INSERT INTO outbox (task_id, contract, kind, recipient, message_id, subject, body_text, \
                 windowed, not_before, status, created_at, sent_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'subject', 'body', ?6, ?7, 'sent', ?7, ?7)",
            )
            .expect("prepare");
        let mut ev = |t: i64,
                      at: i64,
                      actor: &str,
                      kind: &str,
                      from: Option<&str>,
                      to: Option<&str>,
                      minutes: Option<i64>| {
            event
                .execute(params![
                    t,
                    at,
                    actor,
                    kind,
                    from,
                    to,
                    None::<String>,
                    minutes
                ])
                .expect("event");
            events.set(events.get() + 1);
        };
        // Events beyond the five every closed task gets, spread to reach EVENTS in total.
        for id in 1..=TASKS {
            let created = now - year + (id * year / TASKS) - rng.below(3600) as i64;
            let contract = rng.pick(CONTRACTS);
            let category = rng.pick(CATEGORIES);
            let va = rng.pick(VAS);
            let age = now - created;
            let fate = rng.below(100);
            // Recent work is still in hand; a few older tasks wait on someone for weeks.
            let (status, closes) = match fate {
                f if age < 14 * 86400 && f < 50 => ("in_progress", false),
                f if f < 5 => ("cancelled", true),
                f if age < 60 * 86400 && f < 10 => ("waiting", false),
                _ => ("done", true),
            };
            let acked = created + 60 + rng.below(6 * 3600) as i64;
            let wip = acked + rng.below(86400) as i64;
            let closed_at = (wip + rng.below(4 * 86400) as i64).min(now - 1);
            let done_at = closes.then_some(closed_at);
            task.execute(params![
                id,
                contract,
                status,
                category,
                va,
                format!("Request {id}"),
                format!("Fwd: Request {id}"),
                format!("<req-{id}@acme.example>"),
                created,
                acked.min(now - 1),
                created + 2 * 86400,
                done_at,
                done_at.unwrap_or(wip)
            ])
            .expect("task");
            mail.execute(params![
                id,
                contract,
                "ack",
                "boss@acme.example",
                format!("<ack-{id}@va.example>"),
                1,
                acked
            ])
            .expect("ack");
            mail.execute(params![
                id,
                contract,
                "notify",
                va,
                format!("<notify-{id}@va.example>"),
                0,
                created
            ])
            .expect("notify");
            outbox += 2;
            ev(
                id,
                created,
                "boss@acme.example",
                "created",
                None,
                Some("open"),
                None,
            );
            ev(
                id,
                wip,
                va,
                "status",
                Some("open"),
                Some("in_progress"),
                None,
            );
            ev(
                id,
                wip + 600,
                va,
                "time",
                None,
                None,
                Some(15 + rng.below(120) as i64),
            );
            if rng.below(100) < 50 {
                ev(id, wip + 300, va, "note", None, None, None);
            }
            if rng.below(100) < 40 {
                ev(
                    id,
                    wip + 1200,
                    va,
                    "time",
                    None,
                    None,
                    Some(15 + rng.below(60) as i64),
                );
            }
            if rng.below(100) < 5 {
                ev(id, created + 30, va, "priority", None, None, None);
            }
            if status == "waiting" {
                ev(
                    id,
                    wip + 1800,
                    va,
                    "status",
                    Some("in_progress"),
                    Some("waiting"),
                    None,
                );
            }
            if let Some(at) = done_at {
                if status == "done" && rng.below(100) < 3 {
                    ev(
                        id,
                        at - 900,
                        va,
                        "status",
                        Some("in_progress"),
                        Some("done"),
                        None,
                    );
                    ev(
                        id,
                        at - 600,
                        "boss@acme.example",
                        "status",
                        Some("done"),
                        Some("open"),
                        None,
                    );
                }
                ev(
                    id,
                    at,
                    va,
                    "status",
                    Some("in_progress"),
                    Some(status),
                    None,
                );
            }
        }
        // Top up to exactly EVENTS with notes on random tasks.
        while events.get() < EVENTS {
            let id = 1 + rng.below(TASKS as u64) as i64;
            let at = now - year + (id * year / TASKS) + rng.below(86400) as i64;
            ev(
                id,
                at.min(now - 1),
                "sara@va.example",
                "note",
                None,
                None,
                None,
            );
        }
    }
    tx.commit().expect("commit");
    (events.get(), outbox)
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = config(dir.path());
    let c = cfg.contracts.get("acme").expect("acme");
    let mut store = Store::open(&cfg.daemon.state_dir).expect("store");
    let end: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 11, 26, 14, 0, 0)
        .single()
        .expect("now");
    let t = Instant::now();
    let (events, outbox) = fill(&mut store, end.timestamp());
    println!(
        "filled {TASKS} tasks, {events} events, {outbox} outbox rows in {:.1?}",
        t.elapsed()
    );

    let start = week_before(c, end);
    let (cold, _) = time(1, || compute(store.conn(), c, start, end).expect("compute"));
    let (week, s) = time(5, || compute(store.conn(), c, start, end).expect("compute"));
    println!(
        "compute, one week:   {week:.1?} (first run {cold:.1?}) — received {}, done {}, open {}, {} min worked",
        s.received, s.done, s.open, s.minutes_worked
    );
    let templates = Templates::load(None).expect("templates");
    let (r_time, r) = time(5, || render(&templates, &s).expect("render"));
    println!(
        "render, one week:    {r_time:.1?} ({} bytes Markdown, {} bytes HTML)",
        r.text.len(),
        r.html.len()
    );
    // An old week: every later status change makes a task a candidate for "open at the end".
    let old_end = end - chrono::Duration::days(26 * 7);
    let (old, o) = time(3, || {
        compute(store.conn(), c, week_before(c, old_end), old_end).expect("compute")
    });
    println!(
        "compute, 26 weeks ago: {old:.1?} — received {}, done {}, open {}",
        o.received, o.done, o.open
    );
    let year_start = end - chrono::Duration::days(365);
    let (year, y) = time(3, || {
        compute(store.conn(), c, year_start, end).expect("compute")
    });
    println!(
        "compute, whole year: {year:.1?} — received {}, done {}, {} min worked",
        y.received, y.done, y.minutes_worked
    );
    let verdict = if week < Duration::from_secs(1) {
        "under"
    } else {
        "OVER"
    };
    println!("one-week summary {verdict} the 1 s target");
}
