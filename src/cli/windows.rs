//! `musaid windows`: each contract's response windows, open now or not, and the next openings
//! in the contract's zone and in UTC.

use super::{config_failure, load_config, print_json, Failure};
use chrono::{DateTime, Utc};
use clap::Args;
use musaid::config::Contract;
use musaid::output::Table;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct WindowsArgs {
    /// Only this contract
    #[arg(long, value_name = "C")]
    contract: Option<String>,
    /// How many openings to list
    #[arg(long, default_value_t = 5, value_name = "N")]
    next: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(path: &Path, args: &WindowsArgs) -> Result<ExitCode, Failure> {
    let only = args.contract.as_deref();
    let cfg = load_config(path)?;
    if let Some(c) = only {
        if !cfg.contracts.contains_key(c) {
            return Err(config_failure(anyhow::anyhow!(
                "No contract `{c}` in {}; the contracts are: {}",
                path.display(),
                cfg.contracts.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let now = Utc::now();
    let out: Vec<ContractWindows> = cfg
        .contracts
        .values()
        .filter(|c| only.is_none_or(|o| o == c.name))
        .map(|c| contract_windows(c, now, args.next))
        .collect();
    if args.json {
        print_json(&out)?;
    } else {
        for w in &out {
            print!("{}", text(w));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One contract's windows at `now` (an object of `windows --json`).
#[derive(Serialize)]
struct ContractWindows<'a> {
    contract: &'a str,
    timezone: &'a str,
    open_now: bool,
    closes_at: Option<String>,
    next_openings: Vec<Opening>,
    windows: Vec<&'a str>,
    holidays: Vec<String>,
}

#[derive(Serialize)]
struct Opening {
    local: String,
    utc: String,
}

fn contract_windows(c: &Contract, now: DateTime<Utc>, next: usize) -> ContractWindows<'_> {
    let tz = c.timezone;
    ContractWindows {
        contract: &c.name,
        timezone: tz.name(),
        open_now: musaid::windows::is_open(c, now),
        closes_at: musaid::windows::next_close(c, now).map(|t| t.with_timezone(&tz).to_rfc3339()),
        next_openings: musaid::windows::next_openings(c, now, next)
            .into_iter()
            .map(|t| Opening {
                local: t.with_timezone(&tz).to_rfc3339(),
                utc: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
            .collect(),
        windows: c.windows.iter().map(|w| w.source()).collect(),
        holidays: c.holidays.iter().map(|d| d.to_string()).collect(),
    }
}

/// The readable form: the state now, the windows, and a table of the next openings.
fn text(w: &ContractWindows) -> String {
    let state = match &w.closes_at {
        Some(t) if w.open_now => format!("OPEN now, closes {t}"),
        _ => "closed now".to_string(),
    };
    let mut s = format!("{} ({}): {state}\n", w.contract, w.timezone);
    s.push_str(&format!("  windows: {}\n", w.windows.join("; ")));
    let mut t = Table::new(&["NEXT OPENING (LOCAL)", "UTC"]);
    for o in &w.next_openings {
        t.row(vec![o.local.clone(), o.utc.clone()]);
    }
    for line in t.render().lines() {
        s.push_str(&format!("  {line}\n"));
    }
    s
}
