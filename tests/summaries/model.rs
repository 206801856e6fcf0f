//! The SQL of `compute` against a plain model: random task histories, several periods, and
//! every count checked against a straightforward walk over the same history.

use crate::support::summary::*;
use musaid::summary::compute;
use std::collections::BTreeSet;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

struct Model {
    created: i64,
    acked: Option<i64>,
    due: Option<i64>,
    /// (at, to) in order
    statuses: Vec<(i64, &'static str)>,
    minutes: Vec<(i64, i64)>,
}

impl Model {
    fn status_at(&self, t: i64) -> &'static str {
        self.statuses
            .iter()
            .rev()
            .find(|(at, _)| *at < t)
            .map(|s| s.1)
            .unwrap_or("open")
    }
}

#[test]
fn counts_agree_with_a_walk_over_the_history() {
    let e = env(riyadh("en"));
    let mut rng = Rng(7);
    let base = ry(1, 0, 0);
    let span = 28 * 86400;
    let statuses = [
        "in_progress",
        "waiting",
        "done",
        "cancelled",
        "open",
        "done",
    ];
    let mut models = Vec::new();
    for id in 1..=400_i64 {
        let created = base + rng.below(span as u64) as i64;
        let acked = (rng.below(4) > 0).then(|| created + rng.below(2 * 86400) as i64);
        let due = (rng.below(2) == 0).then(|| created + rng.below(10 * 86400) as i64);
        task(
            e.conn(),
            T {
                id,
                created,
                category: ["a", "b", "c"][id as usize % 3],
                assignee: None,
                subject: "x",
                original_subject: None,
                acked,
                due,
            },
        );
        let mut m = Model {
            created,
            acked,
            due,
            statuses: Vec::new(),
            minutes: Vec::new(),
        };
        let mut at = created;
        for _ in 0..rng.below(5) {
            at += 1 + rng.below(3 * 86400) as i64;
            let to = statuses[rng.below(statuses.len() as u64) as usize];
            status(e.conn(), id, at, to, "sara@va.example");
            m.statuses.push((at, to));
            if rng.below(2) == 0 {
                let minutes = 1 + rng.below(90) as i64;
                time(e.conn(), id, at, minutes, "sara@va.example");
                m.minutes.push((at, minutes));
            }
        }
        models.push(m);
    }
    for (start, end) in [
        (ry(1, 0, 0), ry(8, 0, 0)),
        (ry(8, 0, 0), ry(15, 0, 0)),
        (ry(15, 12, 0), ry(22, 12, 0)),
        (ry(22, 0, 0), ry(29, 0, 0)),
        (ry(1, 0, 0), ry(30, 0, 0)),
    ] {
        let s = compute(e.conn(), e.contract(), utc(start), utc(end)).expect("compute");
        let within = |t: i64| start <= t && t < end;
        let received = models.iter().filter(|m| within(m.created)).count() as u64;
        let acked = models
            .iter()
            .filter(|m| m.acked.is_some_and(within))
            .count() as u64;
        let closed = |to: &str| {
            models
                .iter()
                .filter(|m| m.statuses.iter().any(|(at, s)| *s == to && within(*at)))
                .count() as u64
        };
        let open: BTreeSet<usize> = models
            .iter()
            .enumerate()
            .filter(|(_, m)| m.created < end && !matches!(m.status_at(end), "done" | "cancelled"))
            .map(|(i, _)| i + 1)
            .collect();
        let overdue = open
            .iter()
            .filter(|i| models[*i - 1].due.is_some_and(|d| d < end))
            .count() as u64;
        let minutes: i64 = models
            .iter()
            .flat_map(|m| m.minutes.iter())
            .filter(|(at, _)| within(*at))
            .map(|(_, m)| m)
            .sum();
        let got_open: BTreeSet<usize> = s.open_tasks.iter().map(|t| t.id as usize).collect();
        assert_eq!(s.received, received, "received {start}..{end}");
        assert_eq!(s.acknowledged, acked, "acknowledged {start}..{end}");
        assert_eq!(s.done, closed("done"), "done {start}..{end}");
        assert_eq!(s.cancelled, closed("cancelled"), "cancelled {start}..{end}");
        assert_eq!(got_open, open, "open {start}..{end}");
        assert_eq!(s.open, open.len() as u64);
        assert_eq!(s.overdue, overdue, "overdue {start}..{end}");
        assert_eq!(s.minutes_worked, minutes, "minutes {start}..{end}");
        let ages_sorted = s
            .open_tasks
            .windows(2)
            .all(|w| w[0].age_seconds >= w[1].age_seconds);
        assert!(ages_sorted, "oldest first");
    }
}

/// `musaid summary` right after an ingest: the request was stored as whole second S, and the
/// summary's period ends at S plus a fraction. It must count the request; a period that ends
/// exactly at S does not, and the next one, starting at S, does: no second is counted twice.
#[test]
fn a_summary_counts_what_was_recorded_in_its_last_second() {
    let e = env(riyadh("en"));
    let created = ry(5, 9, 0);
    task(
        e.conn(),
        T {
            id: 1,
            created,
            category: "general",
            assignee: Some("sara@va.example"),
            subject: "Call the bank",
            original_subject: None,
            acked: None,
            due: None,
        },
    );
    let week = chrono::Duration::days(7);
    let end = utc(created) + chrono::Duration::milliseconds(400);
    let s = compute(e.conn(), e.contract(), end - week, end).expect("summary");
    assert_eq!(s.received, 1);
    let s = compute(e.conn(), e.contract(), utc(created) - week, utc(created)).expect("summary");
    assert_eq!(s.received, 0);
    let s = compute(e.conn(), e.contract(), utc(created), utc(created) + week).expect("summary");
    assert_eq!(s.received, 1);
}
