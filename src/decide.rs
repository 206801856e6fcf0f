//! message + config + rules + what the store knows → exactly one [`Decision`]. Pure.
//!
//! Order of questions (docs/design.md#the-flow): is it automatic mail? have we seen it?
//! does it belong to a task's thread? is the sender an owner of a contract?
//!
//! With `[policy] trusted_authserv_id`, a From address that our MX did not see authenticated
//! (see [`auth`]) grants nothing: in a task's thread its writer is a stranger, and a request
//! from an owner's address is quarantined as `untrusted`, so the owner can still find it with
//! `musaid tasks list --quarantine` (an ignored forgery would vanish, a task would ack the
//! forger's claim).

use crate::commands::{self, Command, ParsedCommand};
use crate::config::{Config, Contract, UnknownSenders};
use crate::mail::{auth, auto, Message};
use crate::model::{normalize_address, Reason, TaskStatus};
use crate::rules::{Classification, RuleInput, RuleSet};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

mod clock;
pub use clock::DueMove;

/// What the store knows about a task, enough to decide on a reply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub id: i64,
    pub contract: String,
    pub status: TaskStatus,
    pub requester: String,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// When it entered `waiting`, while it is there.
    pub waiting_since: Option<DateTime<Utc>>,
}

/// Questions `decide` asks the store. Implemented over SQLite, and over nothing for dry runs.
pub trait ThreadLookup {
    /// The task a message with this Message-ID was recorded for, or `Some(None)` when it was
    /// recorded without one; `None` when it was never seen.
    fn seen_message(&self, message_id: &str) -> anyhow::Result<Option<Option<i64>>>;
    /// The task whose thread holds any of these Message-IDs (ours included).
    fn task_by_thread(&self, message_ids: &[String]) -> anyhow::Result<Option<TaskRef>>;
    fn task_by_id(&self, id: i64) -> anyhow::Result<Option<TaskRef>>;
    /// A task of this contract created from the same forwarded original.
    fn task_by_original(&self, contract: &str, key: &str) -> anyhow::Result<Option<i64>>;
    /// The minutes logged on a task so far, when known (a `#time -15m` may not take it below 0).
    fn time_logged(&self, _task: i64) -> anyhow::Result<Option<i64>> {
        Ok(None)
    }
    /// The VA an agenda we sent with one of these Message-IDs went to.
    fn agenda_of(&self, _message_ids: &[String]) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
}

/// Knows nothing: every message is new. For `rules test` without a database.
pub struct NoHistory;

impl ThreadLookup for NoHistory {
    fn seen_message(&self, _: &str) -> anyhow::Result<Option<Option<i64>>> {
        Ok(None)
    }
    fn task_by_thread(&self, _: &[String]) -> anyhow::Result<Option<TaskRef>> {
        Ok(None)
    }
    fn task_by_id(&self, _: i64) -> anyhow::Result<Option<TaskRef>> {
        Ok(None)
    }
    fn task_by_original(&self, _: &str, _: &str) -> anyhow::Result<Option<i64>> {
        Ok(None)
    }
}

/// A request that becomes a task.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub contract: String,
    pub requester: String,
    pub original_from: Option<String>,
    pub original_subject: Option<String>,
    pub original_date: Option<String>,
    pub subject: String,
    /// The owner's own words (above a forward, or the whole new text).
    pub note: String,
    pub classification: Classification,
    /// The rule's `assign`, else the contract's first VA.
    pub assignee: Option<String>,
    /// From the rule's `due`, counted in the contract's windows.
    pub due_at: Option<DateTime<Utc>>,
    /// Identifies the forwarded original, for duplicate detection.
    pub original_key: Option<String>,
    /// False when the request was older than `ack_max_age`: task only, no ack, no notification.
    pub acknowledge: bool,
}

/// Who wrote a reply, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Va,
    Owner,
    Stranger,
}

/// A command that will not be applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub command: ParsedCommand,
    pub why: String,
}

/// A message in an existing task's thread.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskUpdate {
    pub task: TaskRef,
    pub actor: String,
    pub role: Role,
    /// The new text, stored as a note (empty when the reply held only commands).
    pub note: String,
    pub apply: Vec<Command>,
    pub refused: Vec<Refused>,
    /// Every command found, as written (for `rules test --json`).
    pub commands: Vec<ParsedCommand>,
    /// Written on a line of a reply to the writer's agenda: refusals are answered even when
    /// the task is not theirs (they are the VA the agenda went to).
    pub via_agenda: bool,
    /// New due times, placed among `apply`: `#due`, and leaving `waiting`.
    pub due_moves: Vec<DueMove>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    CreateTask(Box<NewTask>),
    UpdateTask(Box<TaskUpdate>),
    /// A VA's reply to their agenda: one update per task tagged on its lines (`[#12] #done`).
    /// Its SPEC name is `update_task`.
    UpdateTasks(Vec<TaskUpdate>),
    Duplicate {
        task: Option<i64>,
    },
    Ignore {
        reason: Reason,
    },
    Quarantine {
        reason: Reason,
        detail: String,
    },
    /// Answer, don't create: SPEC's `ignore` (no task is made or changed) with no reason.
    Answer(Box<Question>),
}

impl Decision {
    /// The decision's name in `--json` output (docs/commands.md).
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::CreateTask(_) => "create_task",
            Decision::UpdateTask(_) | Decision::UpdateTasks(_) => "update_task",
            Decision::Duplicate { .. } => "duplicate",
            Decision::Ignore { .. } => "ignore",
            Decision::Quarantine { .. } => "quarantine",
            // SPEC names five decisions; a question makes no task and changes none.
            Decision::Answer(_) => "ignore",
        }
    }

    pub fn reason(&self) -> Option<Reason> {
        match self {
            Decision::Ignore { reason } | Decision::Quarantine { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Everything `decide` needs besides the message and the store.
pub struct Context<'a> {
    pub config: &'a Config,
    pub rules: &'a RuleSet,
    pub now: DateTime<Utc>,
    /// When the message reached the mailbox (IMAP INTERNALDATE); `None` when unknown, and
    /// then its Date header stands in.
    pub arrived: Option<DateTime<Utc>>,
}

/// Decide what one parsed message means. The only function that decides.
pub fn decide(
    msg: &Message,
    ctx: &Context<'_>,
    history: &dyn ThreadLookup,
) -> anyhow::Result<Decision> {
    let cfg = ctx.config;
    if let Some(reason) = auto::classify(msg, &cfg.daemon.address) {
        return Ok(Decision::Ignore { reason });
    }
    if let Some(task) = history.seen_message(&msg.message_id)? {
        return Ok(Decision::Duplicate { task });
    }
    let from = msg.from_email();
    if from.is_empty() {
        return Ok(Decision::Quarantine {
            reason: Reason::Unparseable,
            detail: "no sender address in From".into(),
        });
    }

    let trust = Trust::of(msg, cfg);

    if let Some(task) = thread_task(msg, &from, trust, cfg, history)? {
        let u = update(&msg.new_text, &from, task, trust, cfg, history, ctx.now)?;
        return Ok(Decision::UpdateTask(Box::new(u)));
    }

    if let Some(updates) = agenda_reply(msg, &from, trust, cfg, history, ctx.now)? {
        return Ok(Decision::UpdateTasks(updates));
    }

    let contract = match owner_contract(cfg, &from) {
        Some(c) => {
            if let Trust::Unauthenticated { authserv_id } = trust {
                return Ok(Decision::Quarantine {
                    reason: Reason::Untrusted,
                    detail: format!(
                        "{from} is an owner of contract {}, but the Authentication-Results of \
                         {authserv_id} do not show it authenticated (DMARC pass, or DKIM or SPF \
                         pass aligned with the From domain)",
                        c.name
                    ),
                });
            }
            if let Some(q) = question(msg, &from, c) {
                return Ok(Decision::Answer(Box::new(q)));
            }
            c
        }
        None => match cfg.policy.unknown_senders {
            UnknownSenders::Ignore => {
                return Ok(Decision::Ignore {
                    reason: Reason::UnknownSender,
                })
            }
            UnknownSenders::Quarantine => {
                return Ok(Decision::Quarantine {
                    reason: Reason::UnknownSender,
                    detail: format!("{from} is no owner of any contract"),
                })
            }
            UnknownSenders::Task => match single_contract(cfg) {
                Some(c) => c,
                None => {
                    return Ok(Decision::Quarantine {
                        reason: Reason::UnknownSender,
                        detail: format!(
                            "{from} is no owner of any contract, and with several contracts \
                             there is no telling which one it is for"
                        ),
                    })
                }
            },
        },
    };

    let original_key = original_key(msg);
    if let Some(key) = &original_key {
        if let Some(task) = history.task_by_original(&contract.name, key)? {
            return Ok(Decision::Duplicate { task: Some(task) });
        }
    }
    Ok(Decision::CreateTask(Box::new(new_task(
        msg,
        from,
        contract,
        original_key,
        ctx,
    ))))
}

/// May the From address be believed for permissions?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust<'a> {
    /// Our MX saw it authenticated, or no `trusted_authserv_id` is configured.
    Believed,
    /// The topmost Authentication-Results of this authserv-id do not vouch for it.
    Unauthenticated { authserv_id: &'a str },
}

impl<'a> Trust<'a> {
    fn of(msg: &Message, cfg: &'a Config) -> Trust<'a> {
        match cfg.policy.trusted_authserv_id.as_deref() {
            Some(id) if !auth::sender_authenticated(msg, id) => {
                Trust::Unauthenticated { authserv_id: id }
            }
            _ => Trust::Believed,
        }
    }
}

/// The contract whose owner is to be told that their message was not read (too large, or
/// one the server would not send), judged from its header alone: the sender is an owner,
/// believed as a request would be, and the message is no automatic mail. None: nobody is
/// told (docs/mail.md#mail-that-is-not-read).
pub fn unread_owner<'c>(header: &Message, cfg: &'c Config) -> Option<&'c Contract> {
    if auto::classify(header, &cfg.daemon.address).is_some() {
        return None;
    }
    let from = header.from_email();
    if from.is_empty() || Trust::of(header, cfg) != Trust::Believed {
        return None;
    }
    owner_contract(cfg, &from)
}

/// The contract whose owners admit this sender; the most specific pattern wins, then name order.
pub fn owner_contract<'c>(cfg: &'c Config, email: &str) -> Option<&'c Contract> {
    let mut best: Option<(&Contract, u8)> = None;
    for c in cfg.contracts.values() {
        if let Some(s) = c.owner_match(email) {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((c, s));
            }
        }
    }
    best.map(|(c, _)| c)
}

fn single_contract(cfg: &Config) -> Option<&Contract> {
    let mut it = cfg.contracts.values();
    match (it.next(), it.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// The task this message replies to: by In-Reply-To/References, else by a `[#N]` tag in the
/// subject from one of that task's participants.
fn thread_task(
    msg: &Message,
    from: &str,
    trust: Trust<'_>,
    cfg: &Config,
    history: &dyn ThreadLookup,
) -> anyhow::Result<Option<TaskRef>> {
    let mut ids: Vec<String> = msg.in_reply_to.clone();
    ids.extend(msg.references.iter().cloned());
    if !ids.is_empty() {
        if let Some(t) = history.task_by_thread(&ids)? {
            return Ok(Some(t));
        }
    }
    for id in task_tags(&msg.subject) {
        if let Some(t) = history.task_by_id(id)? {
            if role(from, &t, trust, cfg) != Role::Stranger {
                return Ok(Some(t));
            }
        }
    }
    Ok(None)
}

/// Task numbers tagged in a subject: `[#42]`.
pub fn task_tags(subject: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = subject;
    while let Some(pos) = rest.find("[#") {
        rest = &rest[pos + 2..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let closed = rest.get(digits.len()..).is_some_and(|r| r.starts_with(']'));
        if !digits.is_empty() && closed {
            if let Ok(n) = digits.parse() {
                out.push(n);
            }
        }
    }
    out
}

fn role(from: &str, task: &TaskRef, trust: Trust<'_>, cfg: &Config) -> Role {
    match trust {
        Trust::Believed => claimed_role(from, task, cfg),
        Trust::Unauthenticated { .. } => Role::Stranger,
    }
}

/// The role the From address claims, authenticated or not.
/// Rights come from the roster as the config stands now, never from the task's own fields: an
/// assignee who is not (or no longer) in `vas` steers nothing (docs/security.md#who-may-change-a-task).
fn claimed_role(from: &str, task: &TaskRef, cfg: &Config) -> Role {
    let contract = cfg.contracts.get(&task.contract);
    if contract.is_some_and(|c| c.is_va(from)) {
        Role::Va
    } else if task.requester == from || contract.is_some_and(|c| c.owner_match(from).is_some()) {
        Role::Owner
    } else {
        Role::Stranger
    }
}

/// The update `text` (a reply's new text, or an agenda line's) makes to `task`.
fn update(
    text: &str,
    from: &str,
    task: TaskRef,
    trust: Trust<'_>,
    cfg: &Config,
    history: &dyn ThreadLookup,
    now: DateTime<Utc>,
) -> anyhow::Result<TaskUpdate> {
    let role = role(from, &task, trust, cfg);
    let unauthenticated = match trust {
        Trust::Unauthenticated { authserv_id } => {
            (claimed_role(from, &task, cfg) != Role::Stranger).then_some(authserv_id)
        }
        Trust::Believed => None,
    };
    let parsed = commands::parse(text);
    let mut apply = Vec::new();
    let mut refused = Vec::new();
    // The task's time so far, with this reply's entries as they are applied.
    let mut logged = history.time_logged(task.id)?;
    for pc in &parsed {
        let verdict = match (&pc.command, role) {
            (Command::Unknown { error }, _) => Err(error.clone()),
            (Command::Assign(to), Role::Va) => assignable(to, &task, cfg),
            (Command::Merge(other), Role::Va) => mergeable(*other, &task, history)?,
            (Command::Time(m), Role::Va) => correctable(*m, &task, &mut logged),
            (_, Role::Va) => Ok(()),
            (Command::Status(TaskStatus::Cancelled), Role::Owner) => Ok(()),
            (Command::Ask(_), Role::Owner) => Ok(()),
            (_, Role::Owner) => Err(
                "only the contract's VAs may change a task; an owner may add notes and #cancel"
                    .to_string(),
            ),
            (_, Role::Stranger) => Err(match unauthenticated {
                Some(id) => format!(
                    "{from} is not authenticated: the Authentication-Results of {id} do not \
                     show DMARC pass, or DKIM or SPF pass aligned with the From domain"
                ),
                None => format!("{from} is neither a VA nor an owner of this task's contract"),
            }),
        };
        match verdict {
            Ok(()) => apply.push(pc.command.clone()),
            Err(why) => refused.push(Refused {
                command: pc.clone(),
                why,
            }),
        }
    }
    let cal = cfg.contracts.get(&task.contract).map(|c| &c.calendar);
    let due_moves = clock::settle(&task, role, &mut apply, &mut refused, &parsed, cal, now);
    Ok(TaskUpdate {
        note: note_without_commands(text, &parsed),
        task,
        actor: from.to_string(),
        role,
        apply,
        refused,
        commands: parsed,
        via_agenda: false,
        due_moves,
    })
}

/// `#merge N` folds task N into this one: a task of the same contract, not this one, not one
/// merged already.
fn mergeable(
    other: i64,
    task: &TaskRef,
    history: &dyn ThreadLookup,
) -> anyhow::Result<Result<(), String>> {
    if other == task.id {
        return Ok(Err(format!("task #{other} cannot be merged into itself")));
    }
    Ok(match history.task_by_id(other)? {
        None => Err(format!("there is no task #{other}")),
        // The store answers for a merged task with the one it went into.
        Some(t) if t.id != other => Err(format!("task #{other} is already merged into #{}", t.id)),
        Some(t) if t.contract != task.contract => Err(format!(
            "task #{other} belongs to another contract; only tasks of contract {} can be merged \
             into #{}",
            task.contract, task.id
        )),
        Some(_) => Ok(()),
    })
}

/// A `#time` entry, unless a correction would take the task's time below zero.
fn correctable(minutes: i32, task: &TaskRef, logged: &mut Option<i64>) -> Result<(), String> {
    let Some(total) = *logged else {
        return Ok(());
    };
    let after = total + i64::from(minutes);
    if after < 0 {
        return Err(format!(
            "task #{} has {} logged; a correction cannot take it below zero",
            task.id,
            crate::retainer::hours_minutes(total)
        ));
    }
    *logged = Some(after);
    Ok(())
}

/// `#assign` hands a task only to one of its contract's VAs: an assignee gains no rights, but
/// a stranger named here would get the task's mail.
fn assignable(to: &str, task: &TaskRef, cfg: &Config) -> Result<(), String> {
    match cfg.contracts.get(&task.contract) {
        Some(c) if c.is_va(to) => Ok(()),
        Some(c) => Err(format!(
            "{to} is not a VA of contract {}; #assign takes one of: {}",
            task.contract,
            c.vas.join(", ")
        )),
        None => Err(format!(
            "contract {} is no longer configured",
            task.contract
        )),
    }
}

/// The reply's new text with its command lines taken out.
fn note_without_commands(text: &str, cmds: &[ParsedCommand]) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !cmds.iter().any(|c| c.line.trim() == l.trim()))
        .collect();
    lines.join("\n").trim().to_string()
}

fn new_task(
    msg: &Message,
    requester: String,
    contract: &Contract,
    original_key: Option<String>,
    ctx: &Context<'_>,
) -> NewTask {
    let to: Vec<String> = msg.to.iter().map(|a| normalize_address(&a.email)).collect();
    let cc: Vec<String> = msg.cc.iter().map(|a| normalize_address(&a.email)).collect();
    let fwd = msg.forward.as_ref();
    let original_from = fwd
        .and_then(|f| f.original_from.as_ref())
        .map(|a| {
            if a.email.is_empty() {
                a.name.clone().unwrap_or_default()
            } else {
                normalize_address(&a.email)
            }
        })
        .filter(|s| !s.is_empty());
    let input = RuleInput {
        contract: &contract.name,
        from: &requester,
        to: &to,
        cc: &cc,
        subject: &msg.subject,
        body: &msg.text,
        // The original author; for a request that forwards nothing, its sender.
        original_from: original_from.as_deref().unwrap_or(requester.as_str()),
        headers: &msg.headers,
    };
    let classification = ctx.rules.classify(&input);
    let assignee = classification
        .assignee
        .clone()
        .or_else(|| contract.vas.first().cloned());
    let due_at = classification
        .due
        .and_then(|spec| crate::windows::due_at(&contract.calendar, spec, ctx.now));
    NewTask {
        assignee,
        due_at,
        contract: contract.name.clone(),
        requester,
        original_from,
        original_subject: fwd.and_then(|f| f.original_subject.clone()),
        original_date: fwd.and_then(|f| f.original_date.clone()),
        subject: msg.subject.clone(),
        note: fwd
            .map(|f| f.note.clone())
            .unwrap_or_else(|| msg.new_text.trim().to_string()),
        classification,
        original_key,
        acknowledge: young_enough(msg, ctx),
    }
}

/// Whether a new request is recent enough for an acknowledgement and a VA notification
/// (`ack_max_age`). Its age counts from when it reached the mailbox, which the sender cannot
/// set; without that (a server that gave no INTERNALDATE), from its Date header. A request
/// with neither, or dated in the future, is taken as new: a missing or odd date never makes
/// one too old.
fn young_enough(msg: &Message, ctx: &Context<'_>) -> bool {
    let arrived = ctx
        .arrived
        .or_else(|| msg.date.map(|d| d.with_timezone(&Utc)))
        .unwrap_or(ctx.now);
    let age = ctx.now.signed_duration_since(arrived);
    let max_age =
        chrono::Duration::from_std(ctx.config.policy.ack_max_age).unwrap_or(chrono::Duration::MAX);
    age <= max_age
}

/// A stable key for a forwarded original: its Message-ID when attached, else its author,
/// subject, date and the start of its text, normalised.
pub fn original_key(msg: &Message) -> Option<String> {
    let f = msg.forward.as_ref()?;
    let mut h = Sha256::new();
    if let Some(id) = f.original_message_id.as_deref().filter(|s| !s.is_empty()) {
        h.update(b"id\0");
        h.update(id.trim().as_bytes());
    } else {
        let from = f
            .original_from
            .as_ref()
            .map(|a| normalize_address(&a.email))
            .unwrap_or_default();
        let subject = f
            .original_subject
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_lowercase();
        if from.is_empty() && subject.is_empty() {
            return None;
        }
        let body: String = f
            .body
            .split_whitespace()
            .flat_map(|w| w.chars().chain(std::iter::once(' ')))
            .take(400)
            .collect();
        for part in [
            from.as_str(),
            subject.as_str(),
            f.original_date.as_deref().unwrap_or("").trim(),
            body.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update(b"\0");
        }
    }
    let digest = h.finalize();
    Some(digest.iter().take(16).map(|b| format!("{b:02x}")).collect())
}

mod agenda_reply;
mod question;
use agenda_reply::agenda_reply;
use question::question;
pub use question::Question;

#[cfg(test)]
mod owner_tests;

#[cfg(test)]
mod tests;
