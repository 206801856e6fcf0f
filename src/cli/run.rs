//! `musaid run`: the daemon in the foreground, with its logging set up first.

use super::{config_failure, load_config, pipeline_from, Failure};
use anyhow::Context as _;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Log format: auto (journal under systemd, else text), text, journal or json
    ///
    /// Under systemd (when $JOURNAL_STREAM is set) auto writes one line per event with a
    /// syslog priority prefix (<3> error … <7> debug) and no timestamp; json writes one
    /// object per line for log shippers.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    log_format: musaid::logging::LogFormat,
    /// Log level or filter (error, warn, info, debug, trace, or e.g. musaid=debug); wins
    /// over $RUST_LOG [default: $RUST_LOG, else info]
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

/// Logging first, so the daemon's start-up (and its refusal) is logged.
pub fn run(path: &Path, args: &RunArgs) -> Result<ExitCode, Failure> {
    let opts = musaid::logging::LogOptions {
        format: Some(args.log_format),
        level: args.log_level.clone(),
    };
    musaid::logging::try_init(&opts).map_err(|e| config_failure(anyhow::anyhow!(e)))?;
    tracing::debug!(config = %path.display(), "loading the configuration");
    run_daemon(path)
}

fn run_daemon(path: &Path) -> Result<ExitCode, Failure> {
    let config = load_config(path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("Cannot start the async runtime")?;
    // The login goes on while the rules compile; a rule error still stops the start (exit 2).
    let early = musaid::daemon::log_in_early(rt.handle(), &config);
    let p = pipeline_from(config)?;
    let path = path.to_path_buf();
    rt.block_on(async move {
        let (shutdown, hup) = musaid::daemon::signals()?;
        musaid::daemon::run_reloadable(p, early, Some((path, hup)), shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
