//! Where summaries go and when: files under `STATE/summaries`, mail through the outbox, and
//! the per-contract `summary.cron` schedule with its catch-up after downtime.

use super::{compute, render, week_before, Summary};
use crate::config::{Config, Contract};
use crate::ingest::Pipeline;
use crate::outbox::{self, Draft, Kind};
use crate::store::{meta_get, meta_set, Store};
use crate::templates::Rendered;
use anyhow::{Context as _, Result};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, Transaction};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// `meta` key prefix: `summary_last:<contract>` holds the scheduled instant (RFC 3339) up to
/// which summaries are done, or, before the first one, when the schedule was first seen.
pub const LAST_RUN_KEY: &str = "summary_last:";

fn last_run_key(contract: &str) -> String {
    format!("{LAST_RUN_KEY}{contract}")
}

/// The stored marker: RFC 3339, or Unix seconds.
fn last_run(conn: &Connection, contract: &str) -> Result<Option<DateTime<Utc>>> {
    let Some(v) = meta_get(conn, &last_run_key(contract))? else {
        return Ok(None);
    };
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    Ok(v.parse::<i64>()
        .ok()
        .and_then(|s| Utc.timestamp_opt(s, 0).single()))
}

/// The latest instant of the contract's summary cron in `(after, now]`.
fn latest_instant(c: &Contract, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = &c.summary.as_ref()?.cron;
    if after >= now {
        return None;
    }
    // Look back a week first (the usual case), further only when the cron is rarer.
    for days in [8, 62, 400] {
        let from = after.max(now - chrono::Duration::days(days));
        let latest = schedule
            .after(&from.with_timezone(&c.calendar.timezone))
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= now)
            .last();
        if latest.is_some() || from == after {
            return latest;
        }
    }
    None
}

/// The summaries due at `now`: for each contract with `summary`, the latest cron instant at or
/// before `now` that is after its stored marker. Only the latest: after a long downtime one
/// summary is written, not one per missed week.
///
/// A contract seen here for the first time gets no backfill: its marker is set to `now` (the
/// only write this function makes), so its first summary is the first cron instant after that.
pub fn due_runs(
    conn: &Connection,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>> {
    let mut due = Vec::new();
    for (name, c) in &cfg.contracts {
        if c.summary.is_none() {
            continue;
        }
        match last_run(conn, name)? {
            None => meta_set(conn, &last_run_key(name), &now.to_rfc3339())
                .with_context(|| format!("Cannot store the summary schedule of {name}"))?,
            Some(last) => {
                if let Some(t) = latest_instant(c, last, now) {
                    due.push((name.clone(), t));
                }
            }
        }
    }
    Ok(due)
}

/// The next scheduled summary of `contract` strictly after `now`, for the daemon's timer.
/// (A summary missed while the daemon was down is found by [`due_runs`] at start.)
pub fn next_run(cfg: &Config, contract: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let c = cfg.contracts.get(contract)?;
    let schedule = &c.summary.as_ref()?.cron;
    schedule
        .after(&now.with_timezone(&c.calendar.timezone))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Compute, write and queue every summary due at `now` ([`due_runs`]). Each contract's outbox
/// rows and marker go in one transaction, with the files written just before its commit: a
/// crash before the commit leaves the marker unchanged (the files are rewritten, harmlessly,
/// on the next try) and one after it never mails twice. One contract's failure does not stop
/// the others; it is returned after they are done. Returns how many summaries were made.
pub fn run_scheduled(store: &mut Store, pipeline: &Pipeline, now: DateTime<Utc>) -> Result<usize> {
    let cfg = &pipeline.config;
    let runs = due_runs(store.conn(), cfg, now)?;
    let mut made = 0;
    let mut failed = Vec::new();
    for (name, instant) in runs {
        let Some(c) = cfg.contracts.get(&name) else {
            continue;
        };
        match run_one(store, pipeline, c, instant, now) {
            Ok(true) => made += 1,
            Ok(false) => {}
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("; "));
    }
    Ok(made)
}

fn run_one(
    store: &mut Store,
    pipeline: &Pipeline,
    c: &Contract,
    instant: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let cfg = &pipeline.config;
    let name = &c.name;
    let tx = store.transaction()?;
    // Another process (or an earlier loop) may have made it since due_runs looked.
    if last_run(&tx, name)?.is_some_and(|last| last >= instant) {
        return Ok(false);
    }
    let s = compute(&tx, c, week_before(c, instant), instant)?;
    let r = render(&pipeline.templates, &s)
        .with_context(|| format!("Cannot render the summary of {name}"))?;
    let (md, _) = write_files(&cfg.daemon.state_dir, c, &s, &r)?;
    let queued = enqueue_mail(&tx, cfg, c, &s, &r, now)?;
    meta_set(&tx, &last_run_key(name), &instant.to_rfc3339())?;
    tx.commit()
        .with_context(|| format!("Cannot record the summary of {name}"))?;
    tracing::info!(
        contract = %name,
        week = %s.week,
        file = %md.display(),
        mails = queued,
        "weekly summary written for the period ending {}",
        super::render::ends(&s)
    );
    Ok(true)
}

/// Write `STATE/summaries/<contract>/<ISO year>-W<week>.md` and `.html` (the week of the
/// period's last second, in the contract's zone). Rewriting a week replaces its files.
pub fn write_files(
    state_dir: &Path,
    contract: &Contract,
    summary: &Summary,
    rendered: &Rendered,
) -> Result<(PathBuf, PathBuf)> {
    write_to(
        &state_dir.join("summaries").join(&contract.name),
        summary,
        rendered,
    )
}

/// Write `<dir>/<ISO year>-W<week>.md` and `.html`, each atomically (a temporary file in the
/// same directory, renamed over the old one), creating `dir` when missing.
pub fn write_to(dir: &Path, summary: &Summary, rendered: &Rendered) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("Cannot create the summary directory {}", dir.display()))?;
    let md = dir.join(format!("{}.md", summary.week));
    let html = dir.join(format!("{}.html", summary.week));
    write_atomic(&md, rendered.text.as_bytes())?;
    write_atomic(&html, rendered.html.as_bytes())?;
    Ok((md, html))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    let tmp = path.with_file_name(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("Cannot write {}", path.display()))
}

/// Queue the summary mail to each of `summary.to` (one outbox row each; not bound by
/// windows, `Auto-Submitted: auto-generated`). Returns the number of rows; 0 without `summary`.
pub fn enqueue_mail(
    tx: &Transaction<'_>,
    cfg: &Config,
    contract: &Contract,
    summary: &Summary,
    rendered: &Rendered,
    now: DateTime<Utc>,
) -> Result<usize> {
    let Some(sc) = &contract.summary else {
        return Ok(0);
    };
    for to in &sc.to {
        let draft = Draft {
            kind: Kind::Summary,
            task_id: None,
            contract: Some(contract.name.clone()),
            recipient: to.clone(),
            rendered: rendered.clone(),
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            windowed: false,
            not_before: now,
        };
        outbox::enqueue(tx, cfg, &draft, now).with_context(|| {
            format!(
                "Cannot queue the {} summary of {} to {to}",
                summary.week, contract.name
            )
        })?;
    }
    Ok(sc.to.len())
}
