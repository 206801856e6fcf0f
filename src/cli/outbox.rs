//! `musaid outbox`: the queued mail with its earliest send time, and with `--all` what was
//! sent or failed too.

use super::{load_config, print_json, Failure};
use chrono_tz::Tz;
use clap::Args;
use musaid::outbox::Row;
use musaid::output::{self, Table};
use musaid::store::Store;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct OutboxArgs {
    /// Sent and failed mail too, not only what waits
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(path: &Path, args: &OutboxArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let store = Store::open(&cfg.daemon.state_dir)?;
    let rows = musaid::outbox::list(store.conn(), args.all)?;
    // Each mail's times in its contract's zone; UTC for mail of no contract.
    let tz_of = |r: &Row| {
        r.contract
            .as_ref()
            .and_then(|c| cfg.contracts.get(c))
            .map(|c| c.timezone)
            .unwrap_or(chrono_tz::UTC)
    };
    if args.json {
        let v: Vec<OutboxJson> = rows.iter().map(|r| outbox_json(r, tz_of(r))).collect();
        print_json(&v)?;
    } else if rows.is_empty() {
        println!(
            "{}",
            if args.all {
                "The outbox is empty."
            } else {
                "Nothing waits in the outbox."
            }
        );
    } else {
        print!("{}", table(&rows, tz_of).render());
    }
    Ok(ExitCode::SUCCESS)
}

/// One mail of `outbox --json`.
#[derive(Serialize)]
struct OutboxJson<'a> {
    id: i64,
    task: Option<i64>,
    contract: Option<&'a str>,
    kind: &'a str,
    to: &'a str,
    subject: &'a str,
    message_id: &'a str,
    status: &'a str,
    windowed: bool,
    not_before: Option<String>,
    attempts: i64,
    last_error: Option<&'a str>,
    created_at: Option<String>,
    sent_at: Option<String>,
    /// Why a pending mail waits past its time: an outgoing limit (`outbox::limit`), or null.
    held: Option<&'a str>,
}

fn outbox_json(r: &Row, tz: Tz) -> OutboxJson<'_> {
    OutboxJson {
        id: r.id,
        task: r.task_id,
        contract: r.contract.as_deref(),
        kind: &r.kind,
        to: &r.recipient,
        subject: &r.subject,
        message_id: &r.message_id,
        status: &r.status,
        windowed: r.windowed,
        not_before: output::rfc3339(r.not_before, tz),
        attempts: r.attempts,
        last_error: r.last_error.as_deref(),
        created_at: output::rfc3339(r.created_at, tz),
        sent_at: r.sent_at.and_then(|t| output::rfc3339(t, tz)),
        held: held(r),
    }
}

/// The limit holding a pending row back, if any.
fn held(r: &Row) -> Option<&str> {
    r.held.as_deref().filter(|_| r.status == "pending")
}

/// The readable list: when pending, the earliest send time (and whether a window or an
/// outgoing limit holds it); else when it was sent.
fn table(rows: &[Row], tz_of: impl Fn(&Row) -> Tz) -> Table {
    let mut t = Table::new(&[
        "ID",
        "TASK",
        "KIND",
        "TO",
        "STATUS",
        "EARLIEST SEND",
        "TRIES",
        "SUBJECT",
    ]);
    for r in rows {
        let when = if r.status == "pending" {
            let why = match held(r) {
                // Short, so the cell is not cut: `--json` has the setting's name.
                Some("one_error_per_hour") => " (held: error limit)".to_string(),
                Some(_) => " (held: per-address limit)".to_string(),
                None if r.windowed => " (window)".to_string(),
                None => String::new(),
            };
            output::short_time(r.not_before, tz_of(r)) + &why
        } else {
            r.sent_at
                .map(|t| output::short_time(t, tz_of(r)))
                .unwrap_or_default()
        };
        t.row(vec![
            r.id.to_string(),
            r.task_id.map(|t| format!("#{t}")).unwrap_or_default(),
            r.kind.clone(),
            r.recipient.clone(),
            r.status.clone(),
            when,
            r.attempts.to_string(),
            r.subject.clone(),
        ]);
    }
    t
}
