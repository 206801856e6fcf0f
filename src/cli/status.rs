//! `musaid status`: the daemon's health for monitoring, with its exit code (0 healthy,
//! 1 not); the facts and the verdict are `musaid::status`.

use super::{exit_code, load_config, print_json, Failure};
use chrono::Utc;
use clap::Args;
use musaid::store::Store;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Unhealthy (exit code 1) when the last sync is older than this: 90s, 15m, 2h, 1d
    #[arg(long, value_name = "AGE", default_value = "15m", value_parser = parse_age)]
    max_age: std::time::Duration,
    /// One JSON object (its fields: docs/operations.md, "Monitoring")
    #[arg(long)]
    json: bool,
}

fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    musaid::config::units::parse_duration(s)
}

pub fn run(path: &Path, args: &StatusArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let now = Utc::now();
    let database = cfg.daemon.state_dir.join(musaid::store::DB_FILE);
    let facts = match Store::open_existing(&cfg.daemon.state_dir)? {
        Some(store) => Some(musaid::status::read(store.conn(), now.timestamp())?),
        None => None,
    };
    let status = musaid::status::build(&cfg, &database, facts.as_ref(), now, args.max_age)
        .with_daemon(musaid::daemon::holder(&cfg.daemon.state_dir)?);
    if args.json {
        print_json(&status)?;
    } else {
        print!("{}", musaid::status::render(&status));
    }
    Ok(exit_code(status.healthy))
}
