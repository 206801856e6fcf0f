//! `musaid tasks`: list, show and change tasks, and list the quarantined messages.

use super::{config_failure, load_config, print_json, Failure};
use anyhow::Context as _;
use chrono::Utc;
use chrono_tz::Tz;
use clap::Subcommand;
use musaid::config::Config;
use musaid::model::TaskStatus;
use musaid::output::{self, Table};
use musaid::store::{attachments, Store, TaskFilter};
use serde::Serialize;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// Every task, whatever its status, unless filtered
    List {
        /// open, in_progress, waiting, done, cancelled or merged
        #[arg(long, value_name = "S")]
        status: Option<TaskStatus>,
        /// Only this contract's tasks
        #[arg(long, value_name = "C")]
        contract: Option<String>,
        /// The quarantined messages instead of tasks
        #[arg(long)]
        quarantine: bool,
        #[arg(long)]
        json: bool,
    },
    /// One task with its events
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Write one of a task's files (numbered in `tasks show`) to standard output or FILE
    Attachment {
        id: i64,
        /// The file's number in `musaid tasks show ID`
        index: i64,
        /// Write to FILE (created, or replaced) instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Change a task's status by hand (recorded with you as the actor)
    Set {
        id: i64,
        /// open, in_progress, waiting, done or cancelled
        status: TaskStatus,
        /// A note recorded with the change (and shown in the owner's "done" mail)
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Close without mailing the owner (done otherwise queues the same notice a VA's
        /// `#done` reply does)
        #[arg(long)]
        no_mail: bool,
    },
    /// A task's time entries (#time), the oldest first, with their total
    Time {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(path: &Path, cmd: TasksCommand) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let mut store = Store::open(&cfg.daemon.state_dir)?;
    match cmd {
        TasksCommand::List {
            quarantine: true,
            json,
            ..
        } => list_quarantine(&store, json)?,
        TasksCommand::List {
            status,
            contract,
            json,
            ..
        } => list(&cfg, &store, &TaskFilter { status, contract }, json)?,
        TasksCommand::Show { id, json } => show(&cfg, &store, id, json)?,
        TasksCommand::Attachment { id, index, out } => {
            attachment(&cfg, &store, id, index, out.as_deref())?
        }
        TasksCommand::Set {
            id,
            status,
            note,
            no_mail,
        } => set(&cfg, &mut store, id, status, note.as_deref(), no_mail)?,
        TasksCommand::Time { id, json } => time(&cfg, &store, id, json)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A contract's time zone, in which its tasks' times are shown (UTC for an unknown one).
fn zone(cfg: &Config, contract: &str) -> Tz {
    cfg.contracts
        .get(contract)
        .map(|c| c.timezone)
        .unwrap_or(chrono_tz::UTC)
}

fn list_quarantine(store: &Store, json: bool) -> Result<(), Failure> {
    let rows = store.quarantined()?;
    if json {
        #[derive(Serialize)]
        struct Q<'a> {
            id: i64,
            at: Option<String>,
            message_id: &'a str,
            from: &'a str,
            subject: &'a str,
            reason: &'a str,
            detail: &'a str,
            source: Option<&'a str>,
        }
        let v: Vec<Q> = rows
            .iter()
            .map(|q| Q {
                id: q.id,
                at: output::rfc3339(q.at, chrono_tz::UTC),
                message_id: &q.message_id,
                from: &q.sender,
                subject: &q.subject,
                reason: &q.reason,
                detail: &q.detail,
                source: q.source.as_deref(),
            })
            .collect();
        print_json(&v)?;
    } else if rows.is_empty() {
        println!("No quarantined messages.");
    } else {
        let mut t = Table::new(&["ID", "AT (UTC)", "REASON", "FROM", "SUBJECT", "DETAIL"]);
        for q in &rows {
            t.row(vec![
                q.id.to_string(),
                output::short_time(q.at, chrono_tz::UTC),
                q.reason.clone(),
                q.sender.clone(),
                q.subject.clone(),
                q.detail.clone(),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(())
}

fn list(cfg: &Config, store: &Store, filter: &TaskFilter, json: bool) -> Result<(), Failure> {
    let rows = store.tasks(filter)?;
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|t| output::task_json(t, zone(cfg, &t.contract), None))
            .collect();
        print_json(&v)?;
    } else if rows.is_empty() {
        println!("No tasks.");
    } else {
        let mut t = Table::new(&[
            "ID", "STATUS", "PRIORITY", "CATEGORY", "CONTRACT", "ASSIGNEE", "FROM", "SUBJECT",
            "CREATED",
        ]);
        for r in &rows {
            t.row(vec![
                format!("#{}", r.id),
                r.status.to_string(),
                r.priority.to_string(),
                r.category.clone(),
                r.contract.clone(),
                r.assignee.clone().unwrap_or_default(),
                r.original_from
                    .clone()
                    .unwrap_or_else(|| r.requester.clone()),
                r.original_subject
                    .clone()
                    .unwrap_or_else(|| r.subject.clone()),
                output::short_time(r.created_at, zone(cfg, &r.contract)),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(())
}

fn show(cfg: &Config, store: &Store, id: i64, json: bool) -> Result<(), Failure> {
    let task = store
        .task(id)?
        .ok_or_else(|| anyhow::anyhow!("No task #{id}"))?;
    let events = store.events(id)?;
    let files = attachments::of_task(store.conn(), id)?;
    let tz = zone(cfg, &task.contract);
    if json {
        let mut j = output::task_json(&task, tz, Some(&events));
        j.attachments = Some(output::attachments_json(&files, tz));
        print_json(&j)?;
    } else {
        print!("{}", output::task_text(&task, &events, tz));
        print!("{}", output::attachments_text(id, &files, tz));
    }
    Ok(())
}

/// `tasks attachment`: one file's bytes, checked against its SHA-256, to `out` or stdout.
fn attachment(
    cfg: &Config,
    store: &Store,
    id: i64,
    index: i64,
    out: Option<&Path>,
) -> Result<(), Failure> {
    let task = store
        .task(id)?
        .ok_or_else(|| anyhow::anyhow!("No task #{id}"))?;
    let Some(file) = attachments::one(store.conn(), id, index)? else {
        let count = attachments::of_task(store.conn(), id)?.len();
        return Err(match count {
            0 => anyhow::anyhow!("Task #{id} has no attachments"),
            n => anyhow::anyhow!(
                "Task #{id} has no attachment {index}: its files are numbered 1 to {n} \
                 (musaid tasks show {id})"
            ),
        }
        .into());
    };
    if let Some(at) = file.purged_at {
        return Err(anyhow::anyhow!(
            "Attachment {index} of task #{id} ({}) was purged on {} after the task ended \
             (policy.attachments_keep); only its record is kept",
            file.filename,
            output::short_time(at, zone(cfg, &task.contract))
        )
        .into());
    }
    if out.is_none() && std::io::stdout().is_terminal() {
        return Err(config_failure(anyhow::anyhow!(
            "Standard output is a terminal; write the file with --out FILE, or redirect it"
        )));
    }
    let bytes = attachments::Files::new(&cfg.daemon.state_dir)
        .read(&file.sha256)
        .with_context(|| format!("Attachment {index} of task #{id} ({})", file.filename))?;
    match out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("Cannot write {}", path.display()))?;
            eprintln!(
                "Wrote {}: {} ({}, {} bytes)",
                path.display(),
                file.filename,
                file.content_type,
                bytes.len()
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .context("Cannot write to standard output")?;
        }
    }
    Ok(())
}

/// `tasks set`: a done by hand queues the owner's notice as a VA's `#done` does, unless
/// `no_mail`.
fn set(
    cfg: &Config,
    store: &mut Store,
    id: i64,
    status: TaskStatus,
    note: Option<&str>,
    no_mail: bool,
) -> Result<(), Failure> {
    if status == TaskStatus::Merged {
        return Err(anyhow::anyhow!(
            "A task is merged by a VA's `#merge {id}` reply in the thread of the task it goes into"
        )
        .into());
    }
    if let Some(into) = store.task(id)?.and_then(|t| t.merged_into) {
        return Err(
            anyhow::anyhow!("Task #{id} is merged into #{into}; change #{into} instead").into(),
        );
    }
    let actor = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let templates = musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())?;
    let now = Utc::now();
    let queued = std::cell::Cell::new(false);
    let calendar = store
        .task(id)?
        .and_then(|t| cfg.contracts.get(&t.contract))
        .map(|c| c.calendar.clone());
    let t = store.set_task_status(id, status, note, &actor, now.timestamp(), &|tx, from| {
        // Leaving `waiting` by hand moves the due time as a reply would.
        if let (TaskStatus::Waiting, false, Some(cal)) =
            (from, status == TaskStatus::Waiting, calendar.as_ref())
        {
            resume_due(tx, cal, id, &actor, now)?;
        }
        if status == TaskStatus::Done && from != TaskStatus::Done && !no_mail {
            musaid::outbox::closed_by_hand(tx, cfg, &templates, id, &actor, note, now)?;
            queued.set(true);
        }
        Ok(())
    })?;
    println!("Task #{} is now {}", t.id, t.status);
    if queued.get() {
        println!("The owner's notice waits in the outbox for a reply window (`musaid outbox`)");
    }
    Ok(())
}

/// Move the due time of task `id`, leaving `waiting` at `now`, by the business time it waited.
fn resume_due(
    tx: &rusqlite::Transaction<'_>,
    cal: &musaid::windows::Calendar,
    id: i64,
    actor: &str,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let (Some(due), Some(since)) = Store::due_clock(tx, id)? else {
        return Ok(());
    };
    let (Some(due), Some(since)) = (
        chrono::DateTime::from_timestamp(due, 0),
        chrono::DateTime::from_timestamp(since, 0),
    ) else {
        return Ok(());
    };
    let moved = musaid::windows::due_after_waiting(cal, due, since, now);
    if moved != due {
        let waited = musaid::windows::business_time(cal, since, now);
        let note = format!(
            "due {}: moved later by {} of business time waiting",
            moved
                .with_timezone(&cal.timezone)
                .format("%Y-%m-%d %H:%M %Z"),
            musaid::units::format_duration(waited.to_std().unwrap_or_default())
        );
        Store::move_due(tx, id, moved.timestamp(), &note, actor, now.timestamp())?;
    }
    Ok(())
}

/// One entry of `tasks time --json`.
#[derive(Serialize)]
struct TimeJson<'a> {
    task: i64,
    at: Option<String>,
    va: &'a str,
    minutes: i32,
    message_id: Option<&'a str>,
}

/// `tasks time`: a task's time entries and their total.
fn time(cfg: &Config, store: &Store, id: i64, json: bool) -> Result<(), Failure> {
    let task = store
        .task(id)?
        .ok_or_else(|| anyhow::anyhow!("No task #{id}"))?;
    if let Some(into) = task.merged_into {
        eprintln!("Task #{id} is merged into #{into}: its time entries are #{into}'s");
    }
    let entries = musaid::store::hours::task_entries(store.conn(), id)?;
    let tz = zone(cfg, &task.contract);
    if json {
        let v: Vec<TimeJson> = entries
            .iter()
            .map(|e| TimeJson {
                task: e.task,
                at: output::rfc3339(e.at, tz),
                va: &e.va,
                minutes: e.minutes,
                message_id: e.message_id.as_deref(),
            })
            .collect();
        return print_json(&v);
    }
    if entries.is_empty() {
        println!("No time logged on task #{id}.");
        return Ok(());
    }
    let mut t = Table::new(&["AT", "VA", "TIME"]);
    for e in &entries {
        t.row(vec![
            output::short_time(e.at, tz),
            e.va.clone(),
            musaid::retainer::hours_minutes(i64::from(e.minutes)),
        ]);
    }
    print!("{}", t.render());
    let total: i64 = entries.iter().map(|e| i64::from(e.minutes)).sum();
    println!(
        "Total: {} ({total} minutes)",
        musaid::retainer::hours_minutes(total)
    );
    Ok(())
}
