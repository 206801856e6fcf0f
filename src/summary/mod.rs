//! Weekly summaries (docs/mail.md#summary): what a contract's week looked like.
//!
//! [`compute`] reads the database (never writes) and yields a [`Summary`] whose JSON has
//! the documented `summary --json` field names; [`render`] turns it into Markdown and HTML in the
//! contract's language; [`write_files`] and [`enqueue_mail`] put it on disk and in the
//! outbox; [`run_scheduled`] does all of that at each contract's `summary.cron`.
//!
//! Definitions, for a period `[period_start, period_end)` (Unix seconds, half-open):
//! - `received`: tasks created in the period.
//! - `acknowledged`: tasks whose `acked_at` (the ack was sent) falls in the period.
//! - `done` / `cancelled`: distinct tasks with a status event to done / cancelled in the
//!   period (a task reopened and done again counts once).
//! - `open`: tasks created before `period_end` whose status at `period_end`, taken from their
//!   status events (the last one before `period_end`; open when there is none), is open,
//!   in_progress or waiting. A task closed after the period still counts as open for it.
//! - `overdue`: open tasks whose (current) `due_at` is before `period_end`.
//! - time to acknowledgement: `acked_at − created_at` of the acknowledged tasks; time to done:
//!   from `created_at` to the last done event in the period, of the done tasks. Both also in
//!   business time: only the seconds inside the contract's open windows count.
//! - `by_category` / `by_assignee`: the received tasks by category / by current assignee
//!   (`unassigned` when none).
//! - `minutes_worked`: the sum of `#time` events in the period; by VA means by who logged it.
//!   `amount` = hours × `rate.per_hour`, rounded to cents.
//! - `acks_outside_windows`: acks of the period whose `sent_at` lies outside every open
//!   window, counted from the outbox (the sender never does it, so it should stay 0).

mod render;
mod schedule;
pub mod stats;

pub use render::{fmt_duration, render};
pub use schedule::{
    due_runs, enqueue_mail, next_run, run_scheduled, write_files, write_to, LAST_RUN_KEY,
};

use crate::config::Contract;
use crate::model::Language;
use crate::retainer::Balance;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;
use stats::{p50_p90, BusinessClock};
use std::collections::{BTreeMap, HashMap};

/// The key of tasks without an assignee in `by_assignee`.
pub const UNASSIGNED: &str = "unassigned";

/// One contract's period, with the `summary --json` names first and the details the
/// rendered summary shows after them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub contract: String,
    /// RFC 3339 in the contract's zone.
    pub period_start: String,
    pub period_end: String,
    pub received: u64,
    pub acknowledged: u64,
    pub done: u64,
    pub cancelled: u64,
    pub open: u64,
    pub overdue: u64,
    pub by_category: BTreeMap<String, u64>,
    pub by_assignee: BTreeMap<String, u64>,
    pub ack_p50_seconds: Option<i64>,
    pub ack_p90_seconds: Option<i64>,
    pub done_p50_seconds: Option<i64>,
    pub done_p90_seconds: Option<i64>,
    pub minutes_worked: i64,
    pub amount: Option<f64>,
    pub acks_outside_windows: u64,

    /// `2026-W48`: the ISO week (in the contract's zone) of the period's last second.
    pub week: String,
    pub timezone: String,
    pub language: Language,
    pub currency: Option<String>,
    pub rate_per_hour: Option<f64>,
    /// The same measures counted in business time (open windows only).
    pub ack_business_p50_seconds: Option<i64>,
    pub ack_business_p90_seconds: Option<i64>,
    pub done_business_p50_seconds: Option<i64>,
    pub done_business_p90_seconds: Option<i64>,
    /// Open at `period_end`, oldest first.
    pub open_tasks: Vec<OpenTask>,
    /// Time logged in the period per task, most first.
    pub minutes_by_task: Vec<TaskMinutes>,
    /// Time logged in the period per VA (who logged it).
    pub minutes_by_va: BTreeMap<String, i64>,
    /// Each local day of the period: received and done.
    pub days: Vec<DayCount>,
    /// Per category: received, done, open (category order).
    pub categories: Vec<Breakdown>,
    /// Per VA: received, done, open (assignee) and minutes logged.
    pub assignees: Vec<Breakdown>,
    /// The same counts for the period of equal local length just before.
    pub previous: Counts,
    /// With a `retainer`: its week or month holding the period's end, used up to that end.
    pub retainer: Option<crate::retainer::Balance>,
    #[serde(skip)]
    pub start: DateTime<Utc>,
    #[serde(skip)]
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenTask {
    pub id: i64,
    pub title: String,
    pub category: String,
    pub assignee: Option<String>,
    /// Status at period end.
    pub status: String,
    pub created_at: String,
    pub age_seconds: i64,
    pub due_at: Option<String>,
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TaskMinutes {
    pub id: i64,
    pub title: String,
    pub minutes: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayCount {
    /// Local date, `2026-11-23`.
    pub date: String,
    #[serde(skip)]
    pub weekday: chrono::Weekday,
    pub received: u64,
    pub done: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Breakdown {
    pub name: String,
    pub received: u64,
    pub done: u64,
    pub open: u64,
    pub minutes: i64,
}

/// The headline numbers of a period (the previous week's, for "what changed").
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Counts {
    pub period_start: String,
    pub period_end: String,
    pub received: u64,
    pub acknowledged: u64,
    pub done: u64,
    pub cancelled: u64,
    pub open: u64,
    pub overdue: u64,
    pub minutes_worked: i64,
    pub ack_p50_seconds: Option<i64>,
    pub done_p50_seconds: Option<i64>,
}

/// A local wall-clock time of `tz` → its instant; a skipped time moves to the first valid
/// instant after it, a repeated one takes its first occurrence.
fn resolve(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=24 * 60).find_map(|m| {
        match tz.from_local_datetime(&(local + chrono::Duration::minutes(m))) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => None,
        }
    })
}

/// The start of the 7 local days that end at `end` (168 h, or 167/169 h across a DST change).
pub fn week_before(c: &Contract, end: DateTime<Utc>) -> DateTime<Utc> {
    let local = end.with_timezone(&c.calendar.timezone).naive_local();
    local
        .checked_sub_days(Days::new(7))
        .and_then(|l| resolve(c.calendar.timezone, l))
        .unwrap_or(end - chrono::Duration::days(7))
}

/// Parse `2026-W48` (also `2026-w48`, `2026-W8`) into (ISO year, week).
pub fn parse_week(s: &str) -> Result<(i32, u32), String> {
    let bad = || format!("--week \"{s}\": write an ISO week like 2026-W48");
    let (y, w) = s.trim().split_once(['W', 'w']).ok_or_else(bad)?;
    let year: i32 = y.trim_end_matches('-').parse().map_err(|_| bad())?;
    let week: u32 = w.parse().map_err(|_| bad())?;
    if NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).is_none() {
        return Err(format!("--week \"{s}\": {year} has no week {week}"));
    }
    Ok((year, week))
}

/// ISO week `week` of `year` in the contract's zone: Monday 00:00 to the next Monday 00:00.
pub fn iso_week_period(
    c: &Contract,
    year: i32,
    week: u32,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let monday = NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon)
        .with_context(|| format!("{year} has no ISO week {week}"))?;
    let next = monday
        .checked_add_days(Days::new(7))
        .context("The week is out of range")?;
    let at_midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|l| resolve(c.calendar.timezone, l))
            .context("No midnight in this zone")
    };
    Ok((at_midnight(monday)?, at_midnight(next)?))
}

/// `2026-W48`: the ISO week, in the contract's zone, holding the period's last second.
pub fn week_label(c: &Contract, end: DateTime<Utc>) -> String {
    let w = (end - chrono::Duration::seconds(1))
        .with_timezone(&c.calendar.timezone)
        .iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn rfc3339(c: &Contract, t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map(|t| t.with_timezone(&c.calendar.timezone).to_rfc3339())
        .unwrap_or_default()
}

fn is_closed(status: &str) -> bool {
    matches!(status, "done" | "cancelled" | "merged")
}

/// A task's status at the end of a period, with what the summary shows of it.
struct OpenRow {
    id: i64,
    created_at: i64,
    due_at: Option<i64>,
    category: String,
    assignee: Option<String>,
    title: String,
    status: String,
}

/// Everything measured over one period; [`Counts`] and [`Summary`] are made from it.
#[derive(Default)]
struct Measured {
    received: Vec<(i64, String, Option<String>)>,
    /// (created_at, acked_at)
    acked: Vec<(i64, i64)>,
    /// (task, created_at, last done at, category, assignee)
    done: Vec<(i64, i64, i64, String, Option<String>)>,
    cancelled: u64,
    open: Vec<OpenRow>,
    /// (task, actor, minutes, title)
    minutes: Vec<(i64, String, i64, String)>,
    ack_sent: Vec<i64>,
}

impl Measured {
    fn overdue(&self, end: i64) -> u64 {
        self.open
            .iter()
            .filter(|o| o.due_at.is_some_and(|d| d < end))
            .count() as u64
    }

    fn minutes_total(&self) -> i64 {
        self.minutes.iter().map(|m| m.2).sum()
    }

    fn ack_wall(&self) -> Vec<i64> {
        self.acked.iter().map(|(c, a)| (a - c).max(0)).collect()
    }

    fn done_wall(&self) -> Vec<i64> {
        self.done.iter().map(|d| (d.2 - d.1).max(0)).collect()
    }
}

fn measure(conn: &Connection, c: &Contract, start: i64, end: i64) -> Result<Measured> {
    let mut m = Measured::default();
    let name = c.name.as_str();

    let mut stmt = conn.prepare_cached(
        "SELECT created_at, category, assignee FROM tasks \
         WHERE contract = ?1 AND created_at >= ?2 AND created_at < ?3",
    )?;
    m.received = stmt
        .query_map(params![name, start, end], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()
        .context("Cannot read the tasks received")?;

    let mut stmt = conn.prepare_cached(
        "SELECT created_at, acked_at FROM tasks \
         WHERE contract = ?1 AND acked_at >= ?2 AND acked_at < ?3",
    )?;
    m.acked = stmt
        .query_map(params![name, start, end], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()
        .context("Cannot read the acknowledged tasks")?;

    let mut stmt = conn.prepare_cached(
        "SELECT e.task_id, e.to_status, max(e.at), t.created_at, t.category, t.assignee \
         FROM events e JOIN tasks t ON t.id = e.task_id \
         WHERE e.kind = 'status' AND e.at >= ?2 AND e.at < ?3 \
           AND e.to_status IN ('done', 'cancelled') AND t.contract = ?1 \
         GROUP BY e.task_id, e.to_status",
    )?;
    let mut rows = stmt.query(params![name, start, end])?;
    while let Some(r) = rows.next()? {
        let to: String = r.get(1)?;
        if to == "done" {
            m.done
                .push((r.get(0)?, r.get(3)?, r.get(2)?, r.get(4)?, r.get(5)?));
        } else {
            m.cancelled += 1;
        }
    }

    // Only tasks open now or changed after the period can have been open at its end; each
    // one's status then comes from its own events (`+` keeps SQLite on the events_task index).
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.created_at, t.due_at, t.category, t.assignee, t.original_subject, \
                t.subject, \
                coalesce((SELECT e.to_status FROM events e \
                          WHERE e.task_id = t.id AND +e.kind = 'status' AND +e.at < ?2 \
                          ORDER BY e.at DESC, e.id DESC LIMIT 1), 'open') \
         FROM (SELECT id FROM tasks \
               WHERE contract = ?1 AND status IN ('open', 'in_progress', 'waiting') \
               UNION SELECT task_id FROM events WHERE kind = 'status' AND at >= ?2) AS c \
         CROSS JOIN tasks t ON t.id = c.id \
         WHERE t.contract = ?1 AND t.created_at < ?2 \
         ORDER BY t.created_at, t.id",
    )?;
    let mut rows = stmt.query(params![name, end])?;
    while let Some(r) = rows.next()? {
        let status: String = r.get(7)?;
        if is_closed(&status) {
            continue;
        }
        let original: Option<String> = r.get(5)?;
        let subject: String = r.get(6)?;
        m.open.push(OpenRow {
            id: r.get(0)?,
            created_at: r.get(1)?,
            due_at: r.get(2)?,
            category: r.get(3)?,
            assignee: r.get(4)?,
            title: crate::outbox::title(original.as_deref(), &subject),
            status,
        });
    }

    let mut stmt = conn.prepare_cached(
        "SELECT e.task_id, e.actor, sum(e.minutes), t.original_subject, t.subject \
         FROM events e JOIN tasks t ON t.id = e.task_id \
         WHERE e.kind = 'time' AND e.at >= ?2 AND e.at < ?3 AND t.contract = ?1 \
         GROUP BY e.task_id, e.actor",
    )?;
    let mut rows = stmt.query(params![name, start, end])?;
    while let Some(r) = rows.next()? {
        let original: Option<String> = r.get(3)?;
        let subject: String = r.get(4)?;
        let minutes: Option<i64> = r.get(2)?;
        m.minutes.push((
            r.get(0)?,
            r.get(1)?,
            minutes.unwrap_or(0),
            crate::outbox::title(original.as_deref(), &subject),
        ));
    }

    let mut stmt = conn.prepare_cached(
        "SELECT sent_at FROM outbox WHERE kind = 'ack' AND sent_at IS NOT NULL \
         AND sent_at >= ?2 AND sent_at < ?3 AND contract = ?1",
    )?;
    m.ack_sent = stmt
        .query_map(params![name, start, end], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()
        .context("Cannot read the acknowledgements sent")?;
    Ok(m)
}

fn counts(c: &Contract, m: &Measured, start: i64, end: i64) -> Counts {
    Counts {
        period_start: rfc3339(c, start),
        period_end: rfc3339(c, end),
        received: m.received.len() as u64,
        acknowledged: m.acked.len() as u64,
        done: m.done.len() as u64,
        cancelled: m.cancelled,
        open: m.open.len() as u64,
        overdue: m.overdue(end),
        minutes_worked: m.minutes_total(),
        ack_p50_seconds: p50_p90(m.ack_wall()).0,
        done_p50_seconds: p50_p90(m.done_wall()).0,
    }
}

/// An instant as the first whole second at or after it. The store keeps whole seconds (an
/// event at 10:00:07.4 is stored as 10:00:07), so a period that ends at 10:00:07.6 must take
/// second 10:00:07 in: `musaid summary` right after an ingest counts what was just recorded,
/// and consecutive periods still share no second.
fn whole_seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// The statistics of `contract` over `[period_start, period_end)`. Reads, never writes.
/// See the module documentation for what each number means.
pub fn compute(
    conn: &Connection,
    contract: &Contract,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
) -> Result<Summary> {
    let c = contract;
    let (start, end) = (whole_seconds(period_start), whole_seconds(period_end));
    let m = measure(conn, c, start, end)
        .with_context(|| format!("Cannot compute the summary of contract {}", c.name))?;
    let prev_start = week_before(c, period_start);
    let pm = measure(conn, c, whole_seconds(prev_start), start)
        .with_context(|| format!("Cannot compute the previous week of contract {}", c.name))?;
    let previous = counts(c, &pm, whole_seconds(prev_start), start);

    // One clock over everything measured: from the oldest request to the period's end.
    let earliest = m
        .acked
        .iter()
        .map(|a| a.0)
        .chain(m.done.iter().map(|d| d.1))
        .min()
        .unwrap_or(start)
        .min(start);
    let from = Utc
        .timestamp_opt(earliest, 0)
        .single()
        .unwrap_or(period_start);
    let clock = BusinessClock::new(&crate::windows::open_intervals(
        &c.calendar,
        from,
        period_end,
    ));

    let (ack_p50, ack_p90) = p50_p90(m.ack_wall());
    let (done_p50, done_p90) = p50_p90(m.done_wall());
    let (ack_b50, ack_b90) = p50_p90(
        m.acked
            .iter()
            .map(|(cr, a)| clock.between(*cr, *a))
            .collect(),
    );
    let (done_b50, done_b90) = p50_p90(m.done.iter().map(|d| clock.between(d.1, d.2)).collect());

    let key = |a: &Option<String>| a.clone().unwrap_or_else(|| UNASSIGNED.to_string());
    let mut by_category = BTreeMap::new();
    let mut by_assignee = BTreeMap::new();
    let mut cats: BTreeMap<String, Breakdown> = BTreeMap::new();
    let mut vas: BTreeMap<String, Breakdown> = BTreeMap::new();
    for (_, cat, va) in &m.received {
        *by_category.entry(cat.clone()).or_insert(0) += 1;
        *by_assignee.entry(key(va)).or_insert(0) += 1;
        slot(&mut cats, cat).received += 1;
        slot(&mut vas, &key(va)).received += 1;
    }
    for (_, _, _, cat, va) in &m.done {
        slot(&mut cats, cat).done += 1;
        slot(&mut vas, &key(va)).done += 1;
    }
    for o in &m.open {
        slot(&mut cats, &o.category).open += 1;
        slot(&mut vas, &key(&o.assignee)).open += 1;
    }
    let mut minutes_by_va: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_task: HashMap<i64, TaskMinutes> = HashMap::new();
    for (task, actor, minutes, title) in &m.minutes {
        *minutes_by_va.entry(actor.clone()).or_insert(0) += minutes;
        slot(&mut vas, actor).minutes += minutes;
        by_task
            .entry(*task)
            .or_insert_with(|| TaskMinutes {
                id: *task,
                title: title.clone(),
                minutes: 0,
            })
            .minutes += minutes;
    }
    let mut minutes_by_task: Vec<TaskMinutes> = by_task.into_values().collect();
    minutes_by_task.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.id.cmp(&b.id)));
    let minutes_worked = m.minutes_total();

    let days = day_counts(c, &m, period_start, period_end);
    let open_tasks = m
        .open
        .iter()
        .map(|o| OpenTask {
            id: o.id,
            title: o.title.clone(),
            category: o.category.clone(),
            assignee: o.assignee.clone(),
            status: o.status.clone(),
            created_at: rfc3339(c, o.created_at),
            age_seconds: (end - o.created_at).max(0),
            due_at: o.due_at.map(|d| rfc3339(c, d)),
            overdue: o.due_at.is_some_and(|d| d < end),
        })
        .collect();
    let acks_outside_windows = if m.ack_sent.is_empty() {
        0
    } else {
        let window_clock = BusinessClock::new(&crate::windows::open_intervals(
            &c.calendar,
            period_start,
            period_end,
        ));
        m.ack_sent
            .iter()
            .filter(|t| !window_clock.is_open(**t))
            .count() as u64
    };

    Ok(Summary {
        contract: c.name.clone(),
        period_start: rfc3339(c, start),
        period_end: rfc3339(c, end),
        received: m.received.len() as u64,
        acknowledged: m.acked.len() as u64,
        done: m.done.len() as u64,
        cancelled: m.cancelled,
        open: m.open.len() as u64,
        overdue: m.overdue(end),
        by_category,
        by_assignee,
        ack_p50_seconds: ack_p50,
        ack_p90_seconds: ack_p90,
        done_p50_seconds: done_p50,
        done_p90_seconds: done_p90,
        minutes_worked,
        amount: c
            .rate
            .as_ref()
            .map(|r| (minutes_worked as f64 / 60.0 * r.per_hour * 100.0).round() / 100.0),
        acks_outside_windows,
        week: week_label(c, period_end),
        timezone: c.calendar.timezone.name().to_string(),
        language: c.language,
        currency: c.rate.as_ref().map(|r| r.currency.clone()),
        rate_per_hour: c.rate.as_ref().map(|r| r.per_hour),
        ack_business_p50_seconds: ack_b50,
        ack_business_p90_seconds: ack_b90,
        done_business_p50_seconds: done_b50,
        done_business_p90_seconds: done_b90,
        open_tasks,
        minutes_by_task,
        minutes_by_va,
        days,
        categories: cats.into_values().collect(),
        assignees: vas.into_values().collect(),
        previous,
        retainer: retainer_at(conn, c, period_end)?,
        start: period_start,
        end: period_end,
    })
}

/// The retainer's balance at `end`: its period holding the last second before `end`, with the
/// time logged in it up to `end`.
fn retainer_at(conn: &Connection, c: &Contract, end: DateTime<Utc>) -> Result<Option<Balance>> {
    let Some(r) = &c.retainer else {
        return Ok(None);
    };
    let last = end - chrono::Duration::seconds(1);
    let p = crate::retainer::period(r, c.calendar.timezone, last);
    let until = whole_seconds(end).min(p.end.timestamp());
    let used = crate::store::hours::minutes_logged(conn, &c.name, p.start.timestamp(), until)?;
    Ok(Some(crate::retainer::retainer_balance(
        r,
        c.calendar.timezone,
        last,
        used,
    )))
}

fn slot<'a>(map: &'a mut BTreeMap<String, Breakdown>, name: &str) -> &'a mut Breakdown {
    map.entry(name.to_string()).or_insert_with(|| Breakdown {
        name: name.to_string(),
        ..Breakdown::default()
    })
}

/// Received and done per local day of the period.
fn day_counts(
    c: &Contract,
    m: &Measured,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
) -> Vec<DayCount> {
    let tz = c.calendar.timezone;
    let first = period_start.with_timezone(&tz).date_naive();
    let last = (period_end - chrono::Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive();
    let mut days: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    let mut d = first;
    while d <= last {
        days.insert(d, (0, 0));
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    let local_day = |t: i64| {
        Utc.timestamp_opt(t, 0)
            .single()
            .map(|t| t.with_timezone(&tz).date_naive())
    };
    for (created, _, _) in &m.received {
        if let Some(e) = local_day(*created).and_then(|d| days.get_mut(&d)) {
            e.0 += 1;
        }
    }
    for (_, _, at, _, _) in &m.done {
        if let Some(e) = local_day(*at).and_then(|d| days.get_mut(&d)) {
            e.1 += 1;
        }
    }
    days.into_iter()
        .map(|(d, (received, done))| DayCount {
            date: d.format("%Y-%m-%d").to_string(),
            weekday: d.weekday(),
            received,
            done,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_parse() {
        assert_eq!(parse_week("2026-W48"), Ok((2026, 48)));
        assert_eq!(parse_week("2026-w8"), Ok((2026, 8)));
        assert_eq!(parse_week("2026W01"), Ok((2026, 1)));
        assert!(parse_week("2026-48").unwrap_err().contains("2026-W48"));
        assert!(parse_week("2026-W54")
            .unwrap_err()
            .contains("has no week 54"));
        assert!(parse_week("2025-W53").is_err(), "2025 has 52 ISO weeks");
        assert_eq!(parse_week("2026-W53"), Ok((2026, 53)));
    }
}
