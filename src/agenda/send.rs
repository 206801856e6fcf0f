//! Making and queueing the agendas that are due: the daemon's scheduler calls [`run_due`];
//! `musaid agenda` shows [`super::build`]'s answer without sending.

use super::{build, Agenda};
use crate::config::Config;
use crate::ingest::Pipeline;
use crate::outbox::{self, Draft, Kind};
use crate::retainer;
use crate::store::{hours, notices, Store, TaskRow};
use anyhow::{Context as _, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use serde_json::{json, Value};

fn tz_of(cfg: &Config, t: &TaskRow) -> Tz {
    cfg.contracts
        .get(&t.contract)
        .map(|c| c.calendar.timezone)
        .unwrap_or(Tz::UTC)
}

fn when(cfg: &Config, t: &TaskRow, ts: Option<i64>) -> Option<String> {
    let tz = tz_of(cfg, t);
    ts.and_then(|s| Utc.timestamp_opt(s, 0).single()).map(|u| {
        u.with_timezone(&tz)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    })
}

fn line(cfg: &Config, t: &TaskRow) -> Value {
    json!({
        "id": t.id,
        "title": outbox::title(t.original_subject.as_deref(), &t.subject),
        "contract": t.contract,
        "due": when(cfg, t, t.due_at),
    })
}

fn with(mut v: Value, extra: Value) -> Value {
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

/// Each of the VA's contracts with a `retainer`: its balance now, in the agenda's language
/// (`contract` and [`crate::retainer::balance_words`]).
pub fn retainers(
    conn: &Connection,
    cfg: &Config,
    va: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Value>> {
    let lang = super::language(cfg, va);
    let mut out = Vec::new();
    for c in cfg.contracts.values().filter(|c| c.is_va(va)) {
        let Some(r) = &c.retainer else {
            continue;
        };
        let tz = c.calendar.timezone;
        let p = retainer::period(r, tz, now);
        let used = hours::minutes_logged(conn, &c.name, p.start.timestamp(), p.end.timestamp())?;
        let b = retainer::retainer_balance(r, tz, now, used);
        out.push(with(
            retainer::balance_words(&b, lang),
            json!({"contract": c.name}),
        ));
    }
    Ok(out)
}

/// The agenda template's variables (docs/mail.md#templates). `day` is the VA's local day;
/// `retainers` from [`retainers`].
pub fn context(cfg: &Config, a: &Agenda<'_>, day: NaiveDate, retainers: Vec<Value>) -> Value {
    let total = a.overdue.len() + a.due_today.len() + a.new.len() + a.waiting.len() + a.open_count;
    json!({
        "va": a.va,
        "day": day.format("%a %Y-%m-%d").to_string(),
        "desk": outbox::desk(cfg),
        "total": total,
        "overdue": a.overdue.iter().map(|o| with(line(cfg, o.task), json!({
            "late": super::lateness(o.late_seconds),
        }))).collect::<Vec<_>>(),
        "due_today": a.due_today.iter().map(|t| line(cfg, t)).collect::<Vec<_>>(),
        "new": a.new.iter().map(|t| line(cfg, t)).collect::<Vec<_>>(),
        "waiting": a.waiting.iter().map(|w| with(line(cfg, w.task), json!({
            "since": when(cfg, w.task, w.since),
            "chase": w.chase,
        }))).collect::<Vec<_>>(),
        "open_count": a.open_count,
        "retainers": retainers,
    })
}

/// Make every agenda due at `now` ([`super::due`]): each VA's mail (none when nothing is open)
/// and the marker of their day, in one transaction, so a restart never sends a day's agenda
/// twice. Returns how many mails were queued.
pub fn run_due(store: &mut Store, p: &Pipeline, now: DateTime<Utc>) -> Result<usize> {
    let cfg = &p.config;
    let mut queued = 0;
    let mut tasks = None;
    for va in super::vas(cfg) {
        let last = notices::last_agenda(store.conn(), &va)?;
        let Some((day, _)) = super::due(cfg, &va, last.map(|(d, _)| d), now) else {
            continue;
        };
        if tasks.is_none() {
            tasks = Some((
                store.working_tasks()?,
                notices::waiting_since(store.conn())?,
            ));
        }
        let Some((tasks, since)) = &tasks else {
            continue;
        };
        let a = build(cfg, &va, tasks, since, last.map(|(_, at)| at), now);
        let tx = store.transaction()?;
        // Another process may have made it since we looked.
        if notices::last_agenda(&tx, &va)?.is_some_and(|(d, _)| d >= day) {
            continue;
        }
        if !a.is_empty() {
            let lang = super::language(cfg, &va);
            let draft = Draft {
                kind: Kind::Agenda,
                task_id: None,
                contract: None,
                recipient: va.clone(),
                rendered: p.templates.render(
                    "agenda",
                    lang,
                    context(cfg, &a, day, retainers(&tx, cfg, &va, now)?),
                )?,
                in_reply_to: None,
                references: Vec::new(),
                reply_to: Some(cfg.daemon.address.clone()),
                windowed: false,
                not_before: now,
            };
            outbox::enqueue(&tx, cfg, &draft, now)
                .with_context(|| format!("Cannot queue the agenda of {va}"))?;
            queued += 1;
        }
        notices::set_last_agenda(&tx, &va, day, now)?;
        tx.commit()
            .with_context(|| format!("Cannot record the agenda of {va}"))?;
    }
    Ok(queued)
}

/// The next instant an agenda falls due after `now`, for the scheduler's timer.
pub fn next_due(cfg: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    super::vas(cfg)
        .iter()
        .filter_map(|va| super::next(cfg, va, now))
        .min()
}
