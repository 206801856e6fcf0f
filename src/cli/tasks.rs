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
        /// open, in_progress, waiting, done or cancelled
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
    let actor = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    );
    let templates = musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())?;
    let now = Utc::now();
    let queued = std::cell::Cell::new(false);
    let t = store.set_task_status(id, status, note, &actor, now.timestamp(), &|tx, from| {
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
