//! `musaid summary`: the weekly summary of each contract, written to files, printed, and with
//! `--send` queued as mail.

use super::{config_failure, load_config, print_json, Failure};
use anyhow::Context as _;
use chrono::Utc;
use clap::Args;
use musaid::config;
use musaid::store::Store;
use musaid::summary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct SummaryArgs {
    /// Only this contract [default: each contract]
    #[arg(long, value_name = "C")]
    contract: Option<String>,
    /// An ISO week instead of the last 7 days, e.g. 2026-W48
    #[arg(long, value_name = "YYYY-Www", value_parser = musaid::summary::parse_week)]
    week: Option<(i32, u32)>,
    /// Write the files to DIR/<contract>/ instead of STATE/summaries/<contract>/
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also mail it to the contract's summary.to (queued in the outbox)
    #[arg(long)]
    send: bool,
    /// One JSON document: an array with one summary object per contract
    #[arg(long)]
    json: bool,
}

pub fn run(path: &Path, args: &SummaryArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let templates = musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())
        .map_err(config_failure)?;
    let contracts: Vec<&config::Contract> = match args.contract.as_deref() {
        Some(name) => vec![cfg.contracts.get(name).ok_or_else(|| {
            let known: Vec<&str> = cfg.contracts.keys().map(String::as_str).collect();
            config_failure(anyhow::anyhow!(
                "No contract `{name}` in {}; known: {}",
                path.display(),
                known.join(", ")
            ))
        })?],
        None => cfg.contracts.values().collect(),
    };
    let mut store = Store::open(&cfg.daemon.state_dir)?;
    let now = Utc::now();
    let mut all = Vec::new();
    for c in contracts {
        let (start, end) = match args.week {
            Some((y, w)) => summary::iso_week_period(c, y, w)?,
            None => (summary::week_before(c, now), now),
        };
        let s = summary::compute(store.conn(), c, start, end)?;
        let r = summary::render(&templates, &s)?;
        let (md, html) = match args.out.as_deref() {
            Some(dir) => summary::write_to(&dir.join(&c.name), &s, &r)?,
            None => summary::write_files(&cfg.daemon.state_dir, c, &s, &r)?,
        };
        if args.send {
            let tx = store.transaction()?;
            let queued = summary::enqueue_mail(&tx, &cfg, c, &s, &r, now)?;
            tx.commit().context("Cannot queue the summary mail")?;
            match queued {
                0 => eprintln!("{}: no summary.to in the config; nothing mailed", c.name),
                n => eprintln!("{}: {n} mail(s) queued in the outbox", c.name),
            }
        }
        if !args.json {
            print!("{}", r.text);
            println!();
        }
        eprintln!("{}: wrote {} and {}", c.name, md.display(), html.display());
        all.push(s);
    }
    if args.json {
        print_json(&all)?;
    }
    Ok(ExitCode::SUCCESS)
}
