//! `musaid agenda`: what each VA's agenda would list, without sending it.

use super::{config_failure, load_config, print_json, Failure};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use clap::Args;
use musaid::agenda::{self, Agenda};
use musaid::config::Config;
use musaid::output::{rfc3339, task_json, TaskJson};
use musaid::store::{notices, Store, TaskRow};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct AgendaArgs {
    /// Only this VA [default: every VA of every contract]
    #[arg(long, value_name = "ADDR")]
    va: Option<String>,
    /// As at this instant instead of now: RFC 3339, or "2026-12-06 08:00" in the VA's zone
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// One JSON document: an array with one agenda object per VA
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct OverdueJson<'a> {
    #[serde(flatten)]
    task: TaskJson<'a>,
    late_seconds: i64,
}

#[derive(Serialize)]
struct WaitingJson<'a> {
    #[serde(flatten)]
    task: TaskJson<'a>,
    /// Waiting longer than `policy.chase_after`.
    chase: bool,
}

#[derive(Serialize)]
struct AgendaJson<'a> {
    va: &'a str,
    at: String,
    overdue: Vec<OverdueJson<'a>>,
    due_today: Vec<TaskJson<'a>>,
    new: Vec<TaskJson<'a>>,
    waiting: Vec<WaitingJson<'a>>,
    open_count: usize,
}

fn parse_at(s: &str, cfg: &Config, va: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let tz = agenda::zone(cfg, va);
    ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s.trim(), f).ok())
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            config_failure(anyhow::anyhow!(
                "--at {s}: write RFC 3339 (2026-12-06T08:00:00+03:00) or a local time in the \
                 VA's zone ({tz}), e.g. \"2026-12-06 08:00\""
            ))
        })
}

fn tz(cfg: &Config, t: &TaskRow) -> chrono_tz::Tz {
    cfg.contracts
        .get(&t.contract)
        .map(|c| c.calendar.timezone)
        .unwrap_or(chrono_tz::Tz::UTC)
}

fn to_json<'a>(cfg: &Config, a: &'a Agenda<'a>) -> AgendaJson<'a> {
    let task = |t: &'a TaskRow| task_json(t, tz(cfg, t), None);
    AgendaJson {
        va: &a.va,
        at: rfc3339(a.at.timestamp(), agenda::zone(cfg, &a.va)).unwrap_or_default(),
        overdue: a
            .overdue
            .iter()
            .map(|o| OverdueJson {
                task: task(o.task),
                late_seconds: o.late_seconds,
            })
            .collect(),
        due_today: a.due_today.iter().map(|t| task(t)).collect(),
        new: a.new.iter().map(|t| task(t)).collect(),
        waiting: a
            .waiting
            .iter()
            .map(|w| WaitingJson {
                task: task(w.task),
                chase: w.chase,
            })
            .collect(),
        open_count: a.open_count,
    }
}

pub fn run(path: &Path, args: &AgendaArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let vas = match &args.va {
        Some(v) => {
            let v = musaid::model::normalize_address(v);
            if !agenda::vas(&cfg).contains(&v) {
                return Err(config_failure(anyhow::anyhow!(
                    "{v} is no VA of any contract in {}; the VAs: {}",
                    path.display(),
                    agenda::vas(&cfg).join(", ")
                )));
            }
            vec![v]
        }
        None => agenda::vas(&cfg),
    };
    let store = Store::open_existing(&cfg.daemon.state_dir)?;
    let (tasks, since) = match &store {
        Some(store) => (
            store.working_tasks()?,
            notices::waiting_since(store.conn())?,
        ),
        None => (Vec::new(), BTreeMap::new()),
    };
    let mut agendas = Vec::new();
    for va in &vas {
        let now = match &args.at {
            Some(s) => parse_at(s, &cfg, va)?,
            None => Utc::now(),
        };
        let last = match &store {
            Some(s) => notices::last_agenda(s.conn(), va)?.map(|(_, at)| at),
            None => None,
        };
        agendas.push(agenda::build(&cfg, va, &tasks, &since, last, now));
    }
    if args.json {
        let json: Vec<_> = agendas.iter().map(|a| to_json(&cfg, a)).collect();
        print_json(&json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let templates = musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())
        .map_err(config_failure)?;
    for a in &agendas {
        let day = a.at.with_timezone(&agenda::zone(&cfg, &a.va)).date_naive();
        println!("== {} ==", a.va);
        if a.is_empty() {
            println!("Nothing open: no agenda is sent.\n");
            continue;
        }
        let retainers = match &store {
            Some(s) => agenda::send::retainers(s.conn(), &cfg, &a.va, a.at)?,
            None => Vec::new(),
        };
        let ctx = agenda::send::context(&cfg, a, day, retainers);
        let r = templates.render("agenda", agenda::language(&cfg, &a.va), ctx)?;
        println!("Subject: {}\n\n{}", r.subject, r.text);
    }
    Ok(ExitCode::SUCCESS)
}
