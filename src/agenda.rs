//! The VA's daily agenda: which of their tasks go in which part, and when it is sent. Pure:
//! the tasks, the config and `now` are arguments (docs/mail.md#the-agenda).
//!
//! Each open task assigned to the VA lands in exactly one part, asked in this order: waiting
//! (the due clock is stopped), overdue, due today (in its contract's zone), new since the
//! last agenda; the rest are counted.

use crate::config::{AgendaTime, Config, Contract};
use crate::model::{Language, TaskStatus};
use crate::store::TaskRow;
use crate::windows;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;

pub mod send;

/// An overdue task and how late it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue<'a> {
    pub task: &'a TaskRow,
    pub late_seconds: i64,
}

/// A waiting task, since when, and whether it is time to chase the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting<'a> {
    pub task: &'a TaskRow,
    /// Unix seconds; None when no status change to `waiting` is recorded.
    pub since: Option<i64>,
    /// Waiting longer than `policy.chase_after`.
    pub chase: bool,
}

/// What one VA's agenda lists at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Agenda<'a> {
    pub va: String,
    pub at: DateTime<Utc>,
    pub overdue: Vec<Overdue<'a>>,
    pub due_today: Vec<&'a TaskRow>,
    pub new: Vec<&'a TaskRow>,
    pub waiting: Vec<Waiting<'a>>,
    /// The VA's other open tasks.
    pub open_count: usize,
}

impl Agenda<'_> {
    /// No open task at all: no mail that day.
    pub fn is_empty(&self) -> bool {
        self.overdue.is_empty()
            && self.due_today.is_empty()
            && self.new.is_empty()
            && self.waiting.is_empty()
            && self.open_count == 0
    }
}

/// Every VA who may get an agenda: each contract's `vas`, in contract order, each once.
pub fn vas(cfg: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in cfg.contracts.values().flat_map(|c| c.vas.iter()) {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// The contracts a VA works on, in name order.
fn contracts_of<'c>(cfg: &'c Config, va: &str) -> Vec<&'c Contract> {
    cfg.contracts.values().filter(|c| c.is_va(va)).collect()
}

/// The agenda's language: the VA's `language`, else their first contract's.
pub fn language(cfg: &Config, va: &str) -> Language {
    cfg.vas
        .get(va)
        .and_then(|s| s.language)
        .or_else(|| contracts_of(cfg, va).first().map(|c| c.language))
        .unwrap_or_default()
}

/// The zone the VA's day is counted in: the agenda cron's, else the first contract's.
pub fn zone(cfg: &Config, va: &str) -> Tz {
    match cfg.vas.get(va).map(|s| &s.agenda) {
        Some(AgendaTime::Cron { timezone, .. }) => *timezone,
        _ => contracts_of(cfg, va)
            .first()
            .map(|c| c.calendar.timezone)
            .unwrap_or(Tz::UTC),
    }
}

/// What `va`'s agenda lists at `now`. `tasks` may hold anyone's; `waiting_since` maps task ids
/// to when they became `waiting`; `last` is when the previous agenda went out (tasks created
/// after it are new).
pub fn build<'a>(
    cfg: &Config,
    va: &str,
    tasks: &'a [TaskRow],
    waiting_since: &BTreeMap<i64, i64>,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Agenda<'a> {
    let mut a = Agenda {
        va: va.to_string(),
        at: now,
        overdue: Vec::new(),
        due_today: Vec::new(),
        new: Vec::new(),
        waiting: Vec::new(),
        open_count: 0,
    };
    let now_s = now.timestamp();
    for t in tasks {
        if t.status.is_closed() || t.assignee.as_deref() != Some(va) {
            continue;
        }
        let contract = cfg.contracts.get(&t.contract);
        if t.status == TaskStatus::Waiting {
            let since = waiting_since.get(&t.id).copied();
            let chase = match (since, contract) {
                (Some(s), Some(c)) => Utc
                    .timestamp_opt(s, 0)
                    .single()
                    .and_then(|s| windows::due_at(&c.calendar, cfg.policy.chase_after, s))
                    .is_some_and(|limit| limit <= now),
                _ => false,
            };
            a.waiting.push(Waiting {
                task: t,
                since,
                chase,
            });
            continue;
        }
        let tz = contract.map(|c| c.calendar.timezone).unwrap_or(Tz::UTC);
        match t.due_at {
            Some(due) if due <= now_s => a.overdue.push(Overdue {
                task: t,
                late_seconds: now_s - due,
            }),
            Some(due) if same_day(due, now, tz) => a.due_today.push(t),
            _ if last.is_none_or(|l| t.created_at > l.timestamp()) => a.new.push(t),
            _ => a.open_count += 1,
        }
    }
    a.overdue.sort_by_key(|o| std::cmp::Reverse(o.late_seconds));
    a.due_today.sort_by_key(|t| t.due_at);
    a
}

fn same_day(ts: i64, now: DateTime<Utc>, tz: Tz) -> bool {
    Utc.timestamp_opt(ts, 0)
        .single()
        .is_some_and(|t| t.with_timezone(&tz).date_naive() == now.with_timezone(&tz).date_naive())
}

/// When `va`'s agenda goes out on local day `day` (in [`zone`]): the cron's instant that day,
/// or the earliest window opening that day among their contracts. None: no agenda that day.
pub fn instant_on(cfg: &Config, va: &str, day: NaiveDate) -> Option<DateTime<Utc>> {
    let tz = zone(cfg, va);
    let start = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?
        .with_timezone(&Utc);
    let end = tz
        .from_local_datetime(&day.checked_add_days(Days::new(1))?.and_hms_opt(0, 0, 0)?)
        .earliest()?
        .with_timezone(&Utc);
    match cfg.vas.get(va).map(|s| &s.agenda) {
        Some(AgendaTime::Off) => None,
        Some(AgendaTime::Cron { schedule, .. }) => schedule
            .after(&(start - chrono::Duration::seconds(1)).with_timezone(&tz))
            .next()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t < end),
        _ => contracts_of(cfg, va)
            .iter()
            .flat_map(|c| windows::open_intervals(&c.calendar, start, end))
            // An interval open since yesterday opens nothing today.
            .map(|(s, _)| s)
            .filter(|s| *s >= start && *s < end)
            .min(),
    }
}

/// The agenda due at `now`: today's instant (in [`zone`]) when it has passed and today's agenda
/// is not yet done (`done_day`, the local day of the last one). Returns that day and instant.
pub fn due(
    cfg: &Config,
    va: &str,
    done_day: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Option<(NaiveDate, DateTime<Utc>)> {
    let today = now.with_timezone(&zone(cfg, va)).date_naive();
    if done_day.is_some_and(|d| d >= today) {
        return None;
    }
    instant_on(cfg, va, today)
        .filter(|t| *t <= now)
        .map(|t| (today, t))
}

/// The next agenda instant of `va` strictly after `now`, looking a week ahead.
pub fn next(cfg: &Config, va: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&zone(cfg, va)).date_naive();
    (0..8)
        .filter_map(|n| today.checked_add_days(Days::new(n)))
        .filter_map(|d| instant_on(cfg, va, d))
        .find(|t| *t > now)
}

/// How late, in words a line can hold: `3d 4h`, `2h 5m`, `12m`.
pub fn lateness(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86400, s % 86400 / 3600, s % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{}m", m.max(1)),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests;
