//! The outbox: mail to send, written in the transaction of the decision that causes it.
//!
//! Owner-facing mail (acknowledgements, done notices) is *windowed*: it waits for one of the
//! contract's response windows and is re-checked at the instant of sending. VA-facing mail
//! (new-task notifications, follow-ups, error replies) goes at once.

use crate::commands::Command;
use crate::config::{Config, Contract};
use crate::decide::{Decision, NewTask, Role, TaskUpdate};
use crate::mail::Message;
use crate::model::TaskStatus;
use crate::store::attachments as stored;
use crate::store::record::{ack_skipped, add_to_thread};
use crate::templates::{Rendered, Templates};
use crate::windows;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

mod answer;
mod files;
mod hours_alert;
pub mod limit;
#[cfg(test)]
mod tests;
pub mod unread;
use files::{with_files, MailFiles};

/// What a row of the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Ack,
    Notify,
    Done,
    Followup,
    Error,
    Summary,
    Agenda,
    Reminder,
    Overdue,
    Escalation,
    /// The answer to an owner's `#status` or `#hours`.
    Status,
    /// A retainer's hours passed 80 % or 100 % in the period.
    HoursAlert,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ack => "ack",
            Kind::Notify => "notify",
            Kind::Done => "done",
            Kind::Followup => "followup",
            Kind::Error => "error",
            Kind::Summary => "summary",
            Kind::Agenda => "agenda",
            Kind::Reminder => "reminder",
            Kind::Overdue => "overdue",
            Kind::Escalation => "escalation",
            Kind::Status => "status",
            Kind::HoursAlert => "hours_alert",
        }
    }

    /// The kind stored in an outbox row.
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Ack,
            Kind::Notify,
            Kind::Done,
            Kind::Followup,
            Kind::Error,
            Kind::Summary,
            Kind::Agenda,
            Kind::Reminder,
            Kind::Overdue,
            Kind::Escalation,
            Kind::Status,
            Kind::HoursAlert,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// RFC 3834 `Auto-Submitted` value.
    pub fn auto_submitted(self) -> &'static str {
        match self {
            Kind::Summary
            | Kind::HoursAlert
            | Kind::Agenda
            | Kind::Reminder
            | Kind::Overdue
            | Kind::Escalation => "auto-generated",
            _ => "auto-replied",
        }
    }
}

/// One mail to queue.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: Kind,
    pub task_id: Option<i64>,
    pub contract: Option<String>,
    pub recipient: String,
    pub rendered: Rendered,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub reply_to: Option<String>,
    /// Bound by the contract's response windows.
    pub windowed: bool,
    pub not_before: DateTime<Utc>,
}

/// The domain of our Message-IDs: the inbox address's.
pub fn id_domain(cfg: &Config) -> &str {
    cfg.daemon
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .unwrap_or("musaid.invalid")
}

/// Queue one mail; its Message-ID joins the task's thread so replies to it find the task.
pub fn enqueue(
    tx: &Transaction<'_>,
    cfg: &Config,
    d: &Draft,
    now: DateTime<Utc>,
) -> Result<String> {
    let nonce: u64 = rand::random();
    let message_id = format!(
        "musaid.{}.{}.{nonce:016x}@{}",
        d.task_id
            .map(|t| t.to_string())
            .unwrap_or_else(|| "0".into()),
        d.kind.as_str(),
        id_domain(cfg)
    );
    let mut headers = BTreeMap::new();
    let refs = references(&d.references);
    if !refs.is_empty() {
        headers.insert("References", refs.join(" "));
    }
    if let Some(r) = &d.reply_to {
        headers.insert("Reply-To", r.clone());
    }
    tx.prepare_cached(
        "INSERT INTO outbox (task_id, contract, kind, recipient, message_id, subject, body_text, \
         body_html, in_reply_to, headers, windowed, not_before, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        d.task_id,
        d.contract,
        d.kind.as_str(),
        d.recipient,
        message_id,
        d.rendered.subject,
        d.rendered.text,
        d.rendered.html,
        d.in_reply_to.as_deref().filter(|i| i.len() <= MAX_ID_LEN),
        serde_json::to_string(&headers)?,
        d.windowed,
        d.not_before.timestamp(),
        now.timestamp()
    ])
    .context("Cannot queue mail in the outbox")?;
    if let Some(task) = d.task_id {
        add_to_thread(tx, &message_id, task)?;
    }
    Ok(message_id)
}

/// At most this many Message-IDs of a thread are copied into `References` (the newest).
pub const MAX_REFERENCES: usize = 10;

/// A Message-ID longer than this is not copied into our mail at all (RFC 5322's line limit).
const MAX_ID_LEN: usize = 998;

/// The `References` of a mail we send: the last [`MAX_REFERENCES`] of the thread's IDs, as
/// RFC 5322 §3.6.4 allows trimming from the front; a reply's header is never copied whole.
pub fn references(thread: &[String]) -> Vec<&str> {
    let mut newest: Vec<&str> = thread
        .iter()
        .rev()
        .map(|r| r.as_str())
        .filter(|r| !r.is_empty() && r.len() <= MAX_ID_LEN)
        .take(MAX_REFERENCES)
        .collect();
    newest.reverse();
    newest
}

/// The earliest instant owner-facing mail of this contract may go: now if a window is open,
/// else the next opening (far future when the contract never opens).
pub fn window_start(c: &Contract, now: DateTime<Utc>) -> DateTime<Utc> {
    windows::next_open(&c.calendar, now).unwrap_or_else(|| now + chrono::Duration::days(3650))
}

fn count_recent(tx: &Connection, kind: Kind, recipient: &str, since: i64) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "SELECT count(*) FROM outbox WHERE kind = ?1 AND recipient = ?2 AND created_at > ?3",
        )?
        .query_row(params![kind.as_str(), recipient, since], |r| r.get(0))?)
}

/// A task title for subjects: the original's subject for a forward, else the request's,
/// without `Fwd:`/`Re:` prefixes.
pub fn title(original_subject: Option<&str>, subject: &str) -> String {
    let s = original_subject
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(subject);
    let mut t = s.trim();
    loop {
        let lower = t.to_lowercase();
        let cut = [
            "fwd:",
            "fw:",
            "re:",
            "aw:",
            "wg:",
            "tr:",
            "رد:",
            "إعادة توجيه:",
            "توجيه:",
        ]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| p.len());
        match cut.and_then(|n| t.get(n..)) {
            Some(rest) => t = rest.trim_start(),
            None => break,
        }
    }
    let t = crate::templates::one_line(t);
    if t.is_empty() {
        "(no subject)".into()
    } else {
        t
    }
}

/// A due time in the contract's zone, as mail shows it.
pub fn local(c: &Contract, ts: Option<DateTime<Utc>>) -> Option<String> {
    ts.map(|t| {
        t.with_timezone(&c.calendar.timezone)
            .format("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    })
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or(s)),
        None => s.to_string(),
    }
}

/// Queue what a decision calls for. Called in the decision's transaction.
pub fn effects(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    decision: &Decision,
    task_id: Option<i64>,
    msg: Option<&Message>,
    now: DateTime<Utc>,
) -> Result<()> {
    if let (Decision::Answer(q), Some(msg)) = (decision, msg) {
        return answer::question(tx, cfg, templates, q, msg, now);
    }
    let (Some(task_id), Some(msg)) = (task_id, msg) else {
        return Ok(());
    };
    match decision {
        Decision::CreateTask(t) => created(tx, cfg, templates, t, task_id, msg, now),
        Decision::UpdateTask(u) => updated(tx, cfg, templates, u, msg, now),
        Decision::UpdateTasks(us) => us
            .iter()
            .try_for_each(|u| updated(tx, cfg, templates, u, msg, now)),
        _ => Ok(()),
    }
}

/// The desk's name, from `smtp.from` (else the inbox address), as mail signs it.
pub fn desk(cfg: &Config) -> String {
    cfg.smtp
        .as_ref()
        .map(|s| {
            s.from
                .split('<')
                .next()
                .map(|n| n.trim().trim_matches('"').to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| cfg.daemon.address.clone())
        })
        .unwrap_or_else(|| cfg.daemon.address.clone())
}

fn created(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    t: &NewTask,
    id: i64,
    msg: &Message,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(c) = cfg.contracts.get(&t.contract) else {
        return Ok(());
    };
    if !t.acknowledge {
        return Ok(()); // written with the task (`record::TOO_OLD_TO_ACK`)
    }
    let body = msg
        .forward
        .as_ref()
        .map(|f| f.body.as_str())
        .unwrap_or(msg.text.as_str());
    let ctx = json!({
        "task": {
            "id": id,
            "title": title(t.original_subject.as_deref(), &t.subject),
            "category": t.classification.category,
            "priority": t.classification.priority.as_str(),
            "due": local(c, t.due_at),
            "assignee": t.assignee,
            "contract": t.contract,
            "requester": t.requester,
            "original_from": t.original_from,
            "note": t.note,
            "body": cut(body.trim(), 6000),
        },
        "desk": desk(cfg),
    });
    let mut refs = msg.references.clone();
    refs.push(msg.message_id.clone());
    let day_ago = (now - chrono::Duration::days(1)).timestamp();
    let limit = i64::from(cfg.policy.acks_per_sender_per_day);
    if count_recent(tx, Kind::Ack, &t.requester, day_ago)? >= limit {
        let why = format!(
            "acks_per_sender_per_day ({limit}) reached for {}",
            t.requester
        );
        ack_skipped(tx, id, &why)?;
    } else {
        let draft = Draft {
            kind: Kind::Ack,
            task_id: Some(id),
            contract: Some(c.name.clone()),
            recipient: t.requester.clone(),
            rendered: templates.render("ack", c.language, &ctx)?,
            in_reply_to: Some(msg.message_id.clone()),
            references: refs.clone(),
            reply_to: None,
            windowed: true,
            not_before: window_start(c, now),
        };
        enqueue(tx, cfg, &draft, now)?;
    }
    if let Some(va) = &t.assignee {
        // The request's files go to the VA with it.
        let files = MailFiles::choose(
            stored::of_message(tx, id, &msg.message_id)?,
            cfg.policy.attach_max,
        );
        let draft = Draft {
            kind: Kind::Notify,
            task_id: Some(id),
            contract: Some(c.name.clone()),
            recipient: va.clone(),
            rendered: templates.render("notify", c.language, with_files(ctx, &files))?,
            in_reply_to: None,
            references: vec![msg.message_id.clone()],
            reply_to: Some(cfg.daemon.address.clone()),
            windowed: false,
            not_before: now,
        };
        let queued = enqueue(tx, cfg, &draft, now)?;
        files.link(tx, &queued)?;
    }
    Ok(())
}

/// The task's row, as much as the mail about it needs.
struct TaskFacts {
    contract: String,
    requester: String,
    assignee: Option<String>,
    title: String,
    message_id: String,
    status: TaskStatus,
}

/// A recurring task's notification to its VA (no acknowledgement: no owner asked). Call in
/// the transaction that created it.
pub fn recurring_created(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    t: &NewTask,
    id: i64,
    entry: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let (Some(c), Some(va)) = (cfg.contracts.get(&t.contract), &t.assignee) else {
        return Ok(());
    };
    let ctx = json!({
        "task": {
            "id": id,
            "title": t.subject,
            "category": t.classification.category,
            "priority": t.classification.priority.as_str(),
            "due": local(c, t.due_at),
            "assignee": t.assignee,
            "contract": t.contract,
            "requester": t.requester,
            "original_from": null,
            "note": t.note,
            "body": "",
            "recurring": entry,
        },
        "desk": desk(cfg),
    });
    let draft = Draft {
        kind: Kind::Notify,
        task_id: Some(id),
        contract: Some(c.name.clone()),
        recipient: va.clone(),
        rendered: templates.render("notify", c.language, &ctx)?,
        in_reply_to: None,
        references: vec![],
        reply_to: Some(cfg.daemon.address.clone()),
        windowed: false,
        not_before: now,
    };
    enqueue(tx, cfg, &draft, now).map(|_| ())
}

fn facts(tx: &Connection, id: i64) -> Result<TaskFacts> {
    tx.query_row(
        "SELECT contract, requester, assignee, original_subject, subject, message_id, status \
         FROM tasks WHERE id = ?1",
        params![id],
        |r| {
            let os: Option<String> = r.get(3)?;
            let s: String = r.get(4)?;
            let status: String = r.get(6)?;
            Ok(TaskFacts {
                contract: r.get(0)?,
                requester: r.get(1)?,
                assignee: r.get(2)?,
                title: title(os.as_deref(), &s),
                message_id: r.get(5)?,
                status: status.parse().unwrap_or(TaskStatus::Open),
            })
        },
    )
    .with_context(|| format!("Cannot read task #{id}"))
}

/// The files VAs sent in task `id`'s thread that its owner has not had yet: what the done
/// notice (or a `#send` mail) takes.
fn vas_files(tx: &Transaction<'_>, cfg: &Config, id: i64, f: &TaskFacts) -> Result<MailFiles> {
    Ok(MailFiles::choose(
        stored::from_vas_not_sent_to(tx, id, &f.requester)?,
        cfg.policy.attach_max,
    ))
}

/// The owner's "done" notice for task `id` (`rendered` from the `done` template), in a reply
/// window, threaded under the request. Returns its Message-ID (None for a recurring task).
fn queue_done(
    tx: &Transaction<'_>,
    cfg: &Config,
    c: &Contract,
    id: i64,
    f: &TaskFacts,
    rendered: Rendered,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    // A recurring task has no owner who asked: no done notice.
    if f.requester == cfg.daemon.address {
        return Ok(None);
    }
    let draft = Draft {
        kind: Kind::Done,
        task_id: Some(id),
        contract: Some(c.name.clone()),
        recipient: f.requester.clone(),
        rendered,
        in_reply_to: Some(f.message_id.clone()),
        references: vec![f.message_id.clone()],
        reply_to: None,
        windowed: true,
        not_before: window_start(c, now),
    };
    enqueue(tx, cfg, &draft, now).map(Some)
}

/// `musaid tasks set ID done` by hand: the owner hears of it as from a VA's `#done` reply.
/// Call in the transaction that closed the task.
pub fn closed_by_hand(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    id: i64,
    actor: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let f = facts(tx, id)?;
    let Some(c) = cfg.contracts.get(&f.contract) else {
        return Ok(());
    };
    let ctx = json!({
        "task": {"id": id, "title": f.title, "contract": f.contract, "requester": f.requester},
        "desk": desk(cfg),
        "actor": actor,
        "note": note.unwrap_or_default(),
    });
    let files = vas_files(tx, cfg, id, &f)?;
    let rendered = templates.render("done", c.language, with_files(ctx, &files))?;
    match queue_done(tx, cfg, c, id, &f, rendered, now)? {
        Some(queued) => files.link(tx, &queued),
        None => Ok(()),
    }
}

fn updated(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    u: &TaskUpdate,
    msg: &Message,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = u.task.id;
    let f = facts(tx, id)?;
    let Some(c) = cfg.contracts.get(&f.contract) else {
        return Ok(());
    };
    let ctx = |extra: serde_json::Value| {
        let mut v = json!({
            "task": {"id": id, "title": f.title, "contract": f.contract, "requester": f.requester},
            "desk": desk(cfg),
            "actor": u.actor,
            "note": u.note,
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    };
    let mut refs = msg.references.clone();
    refs.push(msg.message_id.clone());
    let closed_now = u.task.status != TaskStatus::Done
        && f.status == TaskStatus::Done
        && u.apply.contains(&Command::Status(TaskStatus::Done));
    if closed_now && u.role == Role::Va {
        let files = vas_files(tx, cfg, id, &f)?;
        let rendered = templates.render("done", c.language, with_files(ctx(json!({})), &files))?;
        if let Some(queued) = queue_done(tx, cfg, c, id, &f, rendered, now)? {
            files.link(tx, &queued)?;
        }
    }
    // `#send`: the VA's note and files to the owner in a reply window; the task stays as it is.
    // A recurring task has no owner who asked: nobody to send to.
    let has_owner = f.requester != cfg.daemon.address;
    if u.role == Role::Va && u.apply.contains(&Command::Send) && !closed_now && has_owner {
        let files = vas_files(tx, cfg, id, &f)?;
        if !u.note.is_empty() || !files.is_empty() {
            let draft = Draft {
                kind: Kind::Followup,
                task_id: Some(id),
                contract: Some(c.name.clone()),
                recipient: f.requester.clone(),
                rendered: templates.render(
                    "followup",
                    c.language,
                    with_files(ctx(json!({})), &files),
                )?,
                in_reply_to: Some(f.message_id.clone()),
                references: vec![f.message_id.clone()],
                reply_to: None,
                windowed: true,
                not_before: window_start(c, now),
            };
            let queued = enqueue(tx, cfg, &draft, now)?;
            files.link(tx, &queued)?;
        }
    }
    // The owner's files in this reply.
    let owners_files = match u.role {
        Role::Owner => MailFiles::choose(
            stored::of_message(tx, id, &msg.message_id)?,
            cfg.policy.attach_max,
        ),
        _ => MailFiles::default(),
    };
    let asked: Vec<crate::commands::Query> = u
        .apply
        .iter()
        .filter_map(|c| match c {
            Command::Ask(q) => Some(*q),
            _ => None,
        })
        .collect();
    if !asked.is_empty() {
        answer::in_thread(tx, cfg, templates, u, &asked, msg, now)?;
    }
    if u.apply.iter().any(|c| matches!(c, Command::Time(_))) {
        hours_alert::check(tx, cfg, templates, c, &f.requester, now)?;
    }
    // An owner's words (and files) in the thread reach the VA at once; a question alone is
    // answered.
    let changes = u.apply.iter().any(|c| !matches!(c, Command::Ask(_)));
    if u.role == Role::Owner && (!u.note.is_empty() || changes || !owners_files.is_empty()) {
        if let Some(va) = f.assignee.as_ref().or(c.vas.first()) {
            let mut note = u.note.clone();
            if u.apply.contains(&Command::Status(TaskStatus::Cancelled)) {
                note = format!("#cancel\n{note}").trim().to_string();
            }
            // An owner's reply to a waiting task reopened it (decide): the VA hears it now.
            let reopened = u.task.status == TaskStatus::Waiting
                && u.apply.contains(&Command::Status(TaskStatus::Open));
            let draft = Draft {
                kind: Kind::Followup,
                task_id: Some(id),
                contract: Some(c.name.clone()),
                recipient: va.clone(),
                rendered: templates.render(
                    "followup",
                    c.language,
                    with_files(
                        ctx(json!({"note": note, "reopened": reopened})),
                        &owners_files,
                    ),
                )?,
                in_reply_to: Some(msg.message_id.clone()),
                references: refs.clone(),
                reply_to: Some(cfg.daemon.address.clone()),
                windowed: false,
                not_before: now,
            };
            let queued = enqueue(tx, cfg, &draft, now)?;
            owners_files.link(tx, &queued)?;
        }
    }
    // One short error reply to a VA or owner whose command was refused; strangers get
    // nothing (no backscatter), except the VA an agenda went to, replying to it. At most one
    // an hour to the same address.
    if !u.refused.is_empty() && (u.role != Role::Stranger || u.via_agenda) {
        let hour_ago = (now - chrono::Duration::hours(1)).timestamp();
        if count_recent(tx, Kind::Error, &u.actor, hour_ago)? == 0 {
            let refused: Vec<_> = u
                .refused
                .iter()
                .map(|r| json!({"line": crate::templates::one_line(&r.command.line), "why": r.why}))
                .collect();
            let draft = Draft {
                kind: Kind::Error,
                task_id: Some(id),
                contract: Some(c.name.clone()),
                recipient: u.actor.clone(),
                rendered: templates.render(
                    "error",
                    c.language,
                    ctx(json!({"refused": refused})),
                )?,
                in_reply_to: Some(msg.message_id.clone()),
                references: refs,
                reply_to: Some(cfg.daemon.address.clone()),
                windowed: false,
                not_before: now,
            };
            enqueue(tx, cfg, &draft, now)?;
        }
    }
    Ok(())
}

/// A row of the outbox, for `musaid outbox` and the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    pub task_id: Option<i64>,
    pub contract: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub message_id: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub in_reply_to: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub windowed: bool,
    pub not_before: i64,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// Why the sender holds it back (a [`limit::Held`] reason), if it does.
    pub held: Option<String>,
}

const ROW_COLUMNS: &str =
    "id, task_id, contract, kind, recipient, message_id, subject, body_text, \
    body_html, in_reply_to, headers, windowed, not_before, status, attempts, last_error, \
    created_at, sent_at, held";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let headers: String = r.get(10)?;
    Ok(Row {
        id: r.get(0)?,
        task_id: r.get(1)?,
        contract: r.get(2)?,
        kind: r.get(3)?,
        recipient: r.get(4)?,
        message_id: r.get(5)?,
        subject: r.get(6)?,
        body_text: r.get(7)?,
        body_html: r.get(8)?,
        in_reply_to: r.get(9)?,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        windowed: r.get(11)?,
        not_before: r.get(12)?,
        status: r.get(13)?,
        attempts: r.get(14)?,
        last_error: r.get(15)?,
        created_at: r.get(16)?,
        sent_at: r.get(17)?,
        held: r.get(18)?,
    })
}

/// Rows still to send (pending), or every row with `all`.
pub fn list(conn: &Connection, all: bool) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE (?1 OR status = 'pending') ORDER BY not_before, id"
    ))?;
    let rows = stmt
        .query_map(params![all], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Pending rows due at `now`.
pub fn due(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE status = 'pending' AND not_before <= ?1 \
         ORDER BY not_before, id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![now, limit], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The instants mail was sent to `recipient` after `since`: of any kind, and of error
/// replies (for [`limit::hold`]).
pub fn sent_to(conn: &Connection, recipient: &str, since: i64) -> Result<(Vec<i64>, Vec<i64>)> {
    let mut stmt = conn
        .prepare_cached("SELECT sent_at, kind FROM outbox WHERE recipient = ?1 AND sent_at > ?2")?;
    let mut any = Vec::new();
    let mut errors = Vec::new();
    for r in stmt.query_map(params![recipient, since], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })? {
        let (at, kind) = r?;
        if kind == Kind::Error.as_str() {
            errors.push(at);
        }
        any.push(at);
    }
    Ok((any, errors))
}

/// When the next pending row falls due.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "SELECT min(not_before) FROM outbox WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?)
}
