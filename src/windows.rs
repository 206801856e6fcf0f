//! Response windows, holidays and business time. Pure: `now` is always an argument.

use chrono::{NaiveTime, Weekday};
use std::time::Duration;

/// One contracted response window as written in the config.
#[derive(Debug, Clone)]
pub enum WindowSpec {
    /// `"Sun-Thu 08:00-10:00"`: days (wrapping weeks allowed: `Sat-Thu`, `Fri`, `Mon,Wed`)
    /// and a wall-clock span in the contract's zone.
    Weekly {
        days: Vec<Weekday>,
        start: NaiveTime,
        /// `end <= start` means the window runs past midnight into the next day.
        end: NaiveTime,
        source: String,
    },
    /// `{ cron = "0 0 8 * * Sun-Thu", for = "2h" }`: each cron instant opens a window of that length.
    Cron {
        schedule: cron::Schedule,
        length: Duration,
        source: String,
    },
}

/// How long a task may take: `due = "2 business days"` in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueSpec {
    /// Counted on open windows only, a "day" being one calendar day that has an open window.
    BusinessDays(u32),
    /// Counted on open window time only.
    BusinessHours(u32),
    /// Plain wall-clock time (`"3 days"`, `"48h"`).
    Wall(Duration),
}

// ---------------------------------------------------------------------------
// Open intervals: when a contract's VA is on duty.

use crate::config::Contract;
use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// How far ahead `next_open` looks before concluding a contract never opens.
const HORIZON_DAYS: u64 = 800;

/// A local wall-clock time → the instant it names. A time in a skipped hour (spring
/// forward) moves to the first valid instant after it; a repeated hour (fall back) takes its
/// first occurrence, so it counts once.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // Step forward minute by minute: gaps are at most a few hours.
            (1..=24 * 60).find_map(|m| {
                let t = local + chrono::Duration::minutes(m);
                match tz.from_local_datetime(&t) {
                    LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
                    LocalResult::None => None,
                }
            })
        }
    }
}

fn is_holiday(c: &Contract, day: NaiveDate) -> bool {
    c.holidays.contains(&day)
}

/// The windows of `c` that start on local calendar day `day`, as UTC intervals.
fn windows_starting_on(c: &Contract, day: NaiveDate, out: &mut Vec<(DateTime<Utc>, DateTime<Utc>)>) {
    if is_holiday(c, day) {
        return;
    }
    for w in &c.windows {
        match w {
            WindowSpec::Weekly {
                days, start, end, ..
            } => {
                if !days.contains(&day.weekday()) {
                    continue;
                }
                let end_day = if end <= start {
                    day.checked_add_days(Days::new(1))
                } else {
                    Some(day)
                };
                let (Some(s), Some(e)) = (
                    resolve_local(c.timezone, day.and_time(*start)),
                    end_day.and_then(|d| resolve_local(c.timezone, d.and_time(*end))),
                ) else {
                    continue;
                };
                if s < e {
                    out.push((s, e));
                }
            }
            WindowSpec::Cron {
                schedule, length, ..
            } => {
                let Some(from) = day
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| resolve_local(c.timezone, t))
                else {
                    continue;
                };
                let from = from.with_timezone(&c.timezone) - chrono::Duration::seconds(1);
                let len = chrono::Duration::from_std(*length).unwrap_or(chrono::Duration::zero());
                for t in schedule.after(&from) {
                    if t.date_naive() != day {
                        break;
                    }
                    let s = t.with_timezone(&Utc);
                    out.push((s, s + len));
                }
            }
        }
    }
}

/// Open intervals intersecting `[from, until)`, sorted and merged.
pub fn open_intervals(
    c: &Contract,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut raw = Vec::new();
    // Windows may run past midnight (or last long, for cron ones): start two days early.
    let first = from.with_timezone(&c.timezone).date_naive() - Days::new(2);
    let last = until.with_timezone(&c.timezone).date_naive();
    let mut day = first;
    while day <= last {
        windows_starting_on(c, day, &mut raw);
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    raw.retain(|(s, e)| *e > from && *s < until);
    raw.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(raw.len());
    for (s, e) in raw {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Is one of the contract's windows open at `now`?
pub fn is_open(c: &Contract, now: DateTime<Utc>) -> bool {
    open_intervals(c, now, now + chrono::Duration::seconds(1))
        .iter()
        .any(|(s, e)| *s <= now && now < *e)
}

/// The earliest instant at or after `now` when a window is open (`now` itself when open).
pub fn next_open(c: &Contract, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    scan(c, now, |s, e| (e > now).then_some(s.max(now)))
}

/// When the window open at `now` closes; None when none is open.
pub fn next_close(c: &Contract, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let iv = open_intervals(c, now, now + chrono::Duration::seconds(1));
    let (_, mut end) = *iv.iter().find(|(s, e)| *s <= now && now < *e)?;
    // Windows that touch (or a long run of them) close at the end of the run.
    loop {
        let more = open_intervals(c, end, end + chrono::Duration::seconds(1));
        match more.iter().find(|(s, e)| *s <= end && end < *e) {
            Some((_, e)) if *e > end => end = *e,
            _ => return Some(end),
        }
    }
}

/// The next `n` openings (starts of open intervals) after `now`.
pub fn next_openings(c: &Contract, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut from = now;
    let mut step = chrono::Duration::days(14);
    let limit = now + chrono::Duration::days(HORIZON_DAYS as i64);
    while out.len() < n && from < limit {
        let until = from + step;
        for (s, _) in open_intervals(c, from, until) {
            if s > now && !out.contains(&s) && out.len() < n {
                out.push(s);
            }
        }
        from = until;
        step = chrono::Duration::days(60);
    }
    out
}

/// Walk the open intervals from `now` on, in growing chunks, until `f` answers.
fn scan<T>(
    c: &Contract,
    now: DateTime<Utc>,
    mut f: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> Option<T>,
) -> Option<T> {
    let mut from = now;
    let limit = now + chrono::Duration::days(HORIZON_DAYS as i64);
    let mut step = chrono::Duration::days(8);
    while from < limit {
        let until = from + step;
        for (s, e) in open_intervals(c, from, until) {
            if let Some(t) = f(s.max(from), e) {
                return Some(t);
            }
        }
        from = until;
        step = chrono::Duration::days(90);
    }
    None
}

/// When a task created at `from` is due under `spec`, counted in the contract's windows.
///
/// Business hours count open window time only. N business days end at the close of the last
/// window on the N-th local day after `from`'s day that has an open window (holidays skipped).
pub fn due_at(c: &Contract, spec: DueSpec, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match spec {
        DueSpec::Wall(d) => Some(from + chrono::Duration::from_std(d).ok()?),
        DueSpec::BusinessHours(h) => {
            let mut left = chrono::Duration::hours(i64::from(h));
            if left.is_zero() {
                return Some(from);
            }
            scan(c, from, |s, e| {
                let span = e - s;
                if span >= left {
                    Some(s + left)
                } else {
                    left -= span;
                    None
                }
            })
        }
        DueSpec::BusinessDays(n) => {
            if n == 0 {
                return Some(from);
            }
            let mut day = from.with_timezone(&c.timezone).date_naive();
            let mut counted = 0;
            let mut todays = Vec::new();
            for _ in 0..HORIZON_DAYS {
                day = day.succ_opt()?;
                todays.clear();
                windows_starting_on(c, day, &mut todays);
                if let Some(close) = todays.iter().map(|(_, e)| *e).max() {
                    counted += 1;
                    if counted == n {
                        return Some(close);
                    }
                }
            }
            None
        }
    }
}
