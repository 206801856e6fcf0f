//! Answers to `#status` and `#hours` (kind `status`): sent at once to whoever asked, in the
//! contract's language, threaded under the question (docs/commands.md#questions-by-mail).
//!
//! Outside a task's thread an owner gets their contract's open tasks and those done in the
//! last 7 days; inside one, that task's state and its last events. `#hours` adds the
//! retainer's balance (or, without a retainer, the hours logged this month).

use super::{count_recent, desk, enqueue, local, title, Draft, Kind};
use crate::commands::Query;
use crate::config::{Config, Contract, RetainerPeriod};
use crate::decide::{Question, TaskUpdate};
use crate::mail::Message;
use crate::retainer::{self, hours_minutes_in};
use crate::store::{self, hours, EventRow, TaskRow};
use crate::templates::Templates;
use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Transaction;
use serde_json::{json, Value};

/// At most this many tasks in each list of the answer; the rest are counted.
const MAX_ROWS: usize = 50;
/// The events shown of a task, the latest.
const LAST_EVENTS: usize = 10;
/// How far back "done lately" looks.
const DONE_DAYS: i64 = 7;

/// An owner's question outside any thread: about their contract.
pub(super) fn question(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    q: &Question,
    msg: &Message,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(c) = cfg.contracts.get(&q.contract) else {
        return Ok(());
    };
    let mut ctx = json!({"view": "contract", "contract": c.name, "desk": desk(cfg)});
    if q.asked.contains(&Query::Status) {
        merge(&mut ctx, contract_state(tx, c, now)?);
    }
    if q.asked.contains(&Query::Hours) {
        merge(&mut ctx, balance(tx, c, now)?);
    }
    let to = Asker {
        task: None,
        address: &q.asker,
        msg,
    };
    send(tx, cfg, templates, c, &to, ctx, now)
}

/// A question in a task's thread, from its owner or a VA: about that task.
pub(super) fn in_thread(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    u: &TaskUpdate,
    asked: &[Query],
    msg: &Message,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(task) = store::task_of(tx, u.task.id)? else {
        return Ok(());
    };
    let Some(c) = cfg.contracts.get(&task.contract) else {
        return Ok(());
    };
    let mut ctx = json!({"view": "task", "contract": c.name, "desk": desk(cfg)});
    if asked.contains(&Query::Status) {
        merge(&mut ctx, task_state(tx, c, &task, now)?);
    } else {
        merge(&mut ctx, json!({"task": task_row(c, &task, now)}));
    }
    if asked.contains(&Query::Hours) {
        merge(&mut ctx, balance(tx, c, now)?);
    }
    let to = Asker {
        task: Some(task.id),
        address: &u.actor,
        msg,
    };
    send(tx, cfg, templates, c, &to, ctx, now)
}

/// Who asked, in which message, and about which task (none outside a thread).
struct Asker<'a> {
    task: Option<i64>,
    address: &'a str,
    msg: &'a Message,
}

fn merge(ctx: &mut Value, more: Value) {
    if let (Some(o), Some(m)) = (ctx.as_object_mut(), more.as_object()) {
        o.extend(m.clone());
    }
}

/// Queue the answer at once, threaded under the question; at most `acks_per_sender_per_day`
/// answers a day to one address, as for acknowledgements.
fn send(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    c: &Contract,
    to: &Asker<'_>,
    ctx: Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let day_ago = (now - chrono::Duration::days(1)).timestamp();
    let limit = i64::from(cfg.policy.acks_per_sender_per_day);
    if count_recent(tx, Kind::Status, to.address, day_ago)? >= limit {
        return Ok(());
    }
    let msg = to.msg;
    let mut refs = msg.references.clone();
    refs.push(msg.message_id.clone());
    let draft = Draft {
        kind: Kind::Status,
        task_id: to.task,
        contract: Some(c.name.clone()),
        recipient: to.address.to_string(),
        rendered: templates.render("status", c.language, ctx)?,
        in_reply_to: Some(msg.message_id.clone()),
        references: refs,
        reply_to: Some(cfg.daemon.address.clone()),
        windowed: false,
        not_before: now,
    };
    enqueue(tx, cfg, &draft, now).map(|_| ())
}

fn at(t: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t, 0).single()
}

/// What the answer shows of a task.
fn task_row(c: &Contract, t: &TaskRow, now: DateTime<Utc>) -> Value {
    let overdue = !t.status.is_closed() && t.due_at.is_some_and(|d| d < now.timestamp());
    json!({
        "id": t.id,
        "title": title(t.original_subject.as_deref(), &t.subject),
        "status": t.status.as_str(),
        "assignee": t.assignee,
        "requester": t.requester,
        "category": t.category,
        "priority": t.priority.as_str(),
        "due": local(c, t.due_at.and_then(at)),
        "overdue": overdue,
        "created": local(c, at(t.created_at)),
        "updated": local(c, at(t.updated_at)),
        "done": local(c, t.done_at.and_then(at)),
    })
}

/// The contract's open tasks and those done in the last 7 days.
fn contract_state(tx: &Transaction<'_>, c: &Contract, now: DateTime<Utc>) -> Result<Value> {
    let open = store::open_tasks(tx, &c.name)?;
    let since = (now - chrono::Duration::days(DONE_DAYS)).timestamp();
    let done = store::done_since(tx, &c.name, since)?;
    let rows = |ts: &[TaskRow]| -> Vec<Value> {
        ts.iter()
            .take(MAX_ROWS)
            .map(|t| task_row(c, t, now))
            .collect()
    };
    let overdue = open
        .iter()
        .filter(|t| t.due_at.is_some_and(|d| d < now.timestamp()))
        .count();
    Ok(json!({
        "status": true,
        "open": rows(&open),
        "open_count": open.len(),
        "open_more": open.len().saturating_sub(MAX_ROWS),
        "overdue_count": overdue,
        "done": rows(&done),
        "done_count": done.len(),
        "done_more": done.len().saturating_sub(MAX_ROWS),
        "done_days": DONE_DAYS,
    }))
}

/// One task's state, its time logged and its last events.
fn task_state(
    tx: &Transaction<'_>,
    c: &Contract,
    t: &TaskRow,
    now: DateTime<Utc>,
) -> Result<Value> {
    let events = store::events_of(tx, t.id)?;
    let skip = events.len().saturating_sub(LAST_EVENTS);
    let shown: Vec<Value> = events.iter().skip(skip).map(|e| event_row(c, e)).collect();
    let minutes = hours::task_minutes(tx, t.id)?;
    Ok(json!({
        "status": true,
        "task": task_row(c, t, now),
        "task_time": (minutes != 0).then(|| hours_minutes_in(minutes, c.language)),
        "events": shown,
        "events_more": skip,
    }))
}

fn event_row(c: &Contract, e: &EventRow) -> Value {
    let note = e
        .note
        .as_deref()
        .map(|n| super::cut(&crate::templates::one_line(n), 200));
    let detail = match (e.kind.as_str(), &e.from_status, &e.to_status, e.minutes) {
        ("time", _, _, Some(m)) => {
            let m = i64::from(m);
            let sign = if m >= 0 { "+" } else { "" };
            Some(format!("{sign}{}", hours_minutes_in(m, c.language)))
        }
        (_, Some(from), Some(to), _) => Some(match note {
            Some(n) => format!("{from} → {to}: {n}"),
            None => format!("{from} → {to}"),
        }),
        _ => note,
    };
    json!({
        "at": local(c, at(e.at)),
        "actor": e.actor,
        "kind": e.kind,
        "detail": detail,
    })
}

/// The retainer's balance this period, or without a retainer the hours logged this month.
fn balance(tx: &Transaction<'_>, c: &Contract, now: DateTime<Utc>) -> Result<Value> {
    let tz = c.calendar.timezone;
    let lang = c.language;
    let Some(r) = &c.retainer else {
        let month = retainer::period_of(RetainerPeriod::Month, tz, now);
        let used =
            hours::minutes_logged(tx, &c.name, month.start.timestamp(), month.end.timestamp())?;
        return Ok(json!({
            "hours": true,
            "retainer": null,
            "logged": hours_minutes_in(used, lang),
            "period": month.label,
        }));
    };
    let p = retainer::period(r, tz, now);
    let used = hours::minutes_logged(tx, &c.name, p.start.timestamp(), p.end.timestamp())?;
    let b = retainer::retainer_balance(r, tz, now, used);
    Ok(json!({
        "hours": true,
        "retainer": retainer::balance_words(&b, lang),
        "period": b.period,
    }))
}
