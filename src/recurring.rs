//! Recurring tasks: which occurrences of the `[[recurring]]` entries are due, and making
//! each one's task once (docs/rules.md#recurring-tasks). The schedule is pure (`now` is an
//! argument); [`run_due`] is the scheduler's job.

use crate::config::{Config, Contract};
use crate::decide::NewTask;
use crate::ingest::Pipeline;
use crate::rules::{Classification, Recurring};
use crate::store::recurring::{create_recurring, recurring_since};
use crate::store::Store;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Occurrences missed while the daemon was down are made at start, the latest this many.
pub const MAX_MISSED: usize = 10;

/// The tag of a task made late, for an occurrence missed while the daemon was down.
pub const LATE_TAG: &str = "late";

/// One instant of an entry's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub at: DateTime<Utc>,
    /// It passed before the daemon started: made at start, marked late.
    pub late: bool,
}

/// The occurrences of `schedule` (read in zone `tz`) after `since` and at or before `now`,
/// oldest first, at most the latest [`MAX_MISSED`]; those before `started` are late.
pub fn due_occurrences(
    schedule: &cron::Schedule,
    tz: Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    started: DateTime<Utc>,
) -> Vec<Occurrence> {
    let edge = (now + chrono::Duration::seconds(1)).with_timezone(&tz);
    let mut out: Vec<Occurrence> = schedule
        .after(&edge)
        .rev()
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t > since)
        .take(MAX_MISSED)
        .map(|at| Occurrence {
            at,
            late: at < started,
        })
        .collect();
    out.reverse();
    out
}

/// The next `n` occurrences after `now`.
pub fn next_occurrences(
    schedule: &cron::Schedule,
    tz: Tz,
    now: DateTime<Utc>,
    n: usize,
) -> Vec<DateTime<Utc>> {
    schedule
        .after(&now.with_timezone(&tz))
        .take(n)
        .map(|t| t.with_timezone(&Utc))
        .collect()
}

/// The task of one occurrence: the entry's fields, due counted from the occurrence's
/// instant, the VA notified and no owner acknowledged.
pub fn new_task(cfg: &Config, r: &Recurring, c: &Contract, o: Occurrence) -> NewTask {
    let mut tags = r.tags.clone();
    if o.late && !tags.iter().any(|t| t == LATE_TAG) {
        tags.push(LATE_TAG.to_string());
    }
    NewTask {
        contract: c.name.clone(),
        requester: cfg.daemon.address.clone(),
        original_from: None,
        original_subject: None,
        original_date: None,
        subject: r.subject.clone(),
        note: r.note.clone(),
        classification: Classification {
            rule: None,
            category: r.category.clone(),
            priority: r.priority,
            assignee: r.assign.clone(),
            due: r.due,
            tags,
        },
        assignee: r.assign.clone().or_else(|| c.vas.first().cloned()),
        due_at: r
            .due
            .and_then(|spec| crate::windows::due_at(&c.calendar, spec, o.at)),
        original_key: None,
        acknowledge: true,
    }
}

/// When any entry is next due after `now`.
pub fn next_due(p: &Pipeline, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    p.rules
        .recurring()
        .iter()
        .filter_map(|r| {
            let c = p.config.contracts.get(&r.contract)?;
            next_occurrences(&r.schedule, c.calendar.timezone, now, 1)
                .into_iter()
                .next()
        })
        .min()
}

/// Make the task of every occurrence due at `now` (the scheduler's job), each in its own
/// transaction with its (entry, instant) key; the number made.
pub fn run_due(
    store: &mut Store,
    p: &Pipeline,
    now: DateTime<Utc>,
    started: DateTime<Utc>,
) -> Result<usize> {
    let mut made = 0;
    let mut failed = Vec::new();
    for r in p.rules.recurring() {
        let Some(c) = p.config.contracts.get(&r.contract) else {
            continue;
        };
        match run_entry(store, p, r, c, now, started) {
            Ok(n) => made += n,
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("; "));
    }
    Ok(made)
}

fn run_entry(
    store: &mut Store,
    p: &Pipeline,
    r: &Recurring,
    c: &Contract,
    now: DateTime<Utc>,
    started: DateTime<Utc>,
) -> Result<usize> {
    let since = {
        let tx = store.transaction()?;
        let since = recurring_since(&tx, &r.name, now.timestamp())?;
        tx.commit()?;
        DateTime::from_timestamp(since, 0).unwrap_or(now)
    };
    let mut made = 0;
    for o in due_occurrences(&r.schedule, c.calendar.timezone, since, now, started) {
        let tx = store.transaction()?;
        let t = new_task(&p.config, r, c, o);
        let ts = now.timestamp();
        if let Some(id) = create_recurring(&tx, &t, &r.name, o.at.timestamp(), o.late, ts)? {
            crate::outbox::recurring_created(&tx, &p.config, &p.templates, &t, id, &r.name, now)?;
            made += 1;
        }
        tx.commit()
            .with_context(|| format!("Cannot record recurring `{}`", r.name))?;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::str::FromStr;

    fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, h, m, s).unwrap()
    }

    #[test]
    fn occurrences_after_the_last_one_made_up_to_now() {
        let every20 = cron::Schedule::from_str("*/20 * * * * *").unwrap();
        let got = due_occurrences(
            &every20,
            chrono_tz::UTC,
            utc(10, 0, 0),
            utc(10, 1, 5),
            utc(9, 0, 0),
        );
        let ats: Vec<_> = got.iter().map(|o| o.at).collect();
        assert_eq!(ats, [utc(10, 0, 20), utc(10, 0, 40), utc(10, 1, 0)]);
        assert!(got.iter().all(|o| !o.late));
        // Exactly at an instant: it is due; the one made already is not again.
        let got = due_occurrences(
            &every20,
            chrono_tz::UTC,
            utc(10, 1, 0),
            utc(10, 1, 20),
            utc(9, 0, 0),
        );
        assert_eq!(
            got.iter().map(|o| o.at).collect::<Vec<_>>(),
            [utc(10, 1, 20)]
        );
    }

    #[test]
    fn missed_while_down_the_last_ten_are_made_late() {
        let every20 = cron::Schedule::from_str("*/20 * * * * *").unwrap();
        // Down from 10:00:00 to 10:10:05: 30 occurrences passed; the last 10 are made.
        let started = utc(10, 10, 5);
        let got = due_occurrences(&every20, chrono_tz::UTC, utc(10, 0, 0), started, started);
        assert_eq!(got.len(), MAX_MISSED);
        assert_eq!(got.first().unwrap().at, utc(10, 7, 0));
        assert_eq!(got.last().unwrap().at, utc(10, 10, 0));
        assert!(got.iter().all(|o| o.late));
    }

    #[test]
    fn the_schedule_reads_the_contracts_zone_across_dst() {
        // 09:00 Berlin on the first of each month: 08:00 UTC in winter, 07:00 UTC in summer.
        let monthly = cron::Schedule::from_str("0 0 9 1 * *").unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 2, 15, 0, 0, 0).unwrap();
        assert_eq!(
            next_occurrences(&monthly, berlin, from, 3),
            [
                Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 4, 1, 7, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 5, 1, 7, 0, 0).unwrap(),
            ]
        );
        // 02:30 on the last Sunday of March does not exist in Berlin: that day has none.
        let nightly = cron::Schedule::from_str("0 30 2 * * *").unwrap();
        let sat = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
        let next = next_occurrences(&nightly, berlin, sat, 2);
        assert_eq!(
            next[0],
            Utc.with_ymd_and_hms(2026, 3, 30, 0, 30, 0).unwrap()
        );
    }
}
