//! The commands of `musaid`, one module per command group, and what they share: loading the
//! configuration and the rules, the error type with its exit code, and JSON printing.
//!
//! Exit codes: 0 ok, 1 runtime failure (for `status`: unhealthy; for `check --connect` and
//! `ingest`: a server or a file that failed), 2 usage or configuration error (clap's own
//! usage errors exit 2 as well).

pub mod agenda;
pub mod backup;
pub mod check;
pub mod hours;
pub mod ingest;
pub mod init;
pub mod man;
pub mod outbox;
pub mod recurring;
pub mod rules;
pub mod run;
pub mod status;
pub mod summary;
pub mod tasks;
pub mod windows;

use musaid::config::{self, Config};
use musaid::ingest::Pipeline;
use musaid::rules::RuleSet;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of a runtime failure, and of `status` when the daemon is unhealthy.
const RUNTIME_FAILURE: u8 = 1;

/// Exit code of a usage or configuration error.
const CONFIG_ERROR: u8 = 2;

/// What a command returns when it ran to its end: 0, or 1 when it reports a failure itself
/// (an unhealthy status, an unreachable server, a message that could not be ingested).
fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(RUNTIME_FAILURE)
    }
}

/// An error with the exit code it deserves: 2 for usage and configuration, 1 otherwise.
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: RUNTIME_FAILURE,
            error: e.into(),
        }
    }
}

impl Failure {
    /// Print the error on stderr and return its exit code.
    pub fn report(self) -> ExitCode {
        let text = format!("musaid: {:#}", self.error);
        if std::env::var_os("JOURNAL_STREAM").is_some_and(|v| !v.is_empty()) {
            // Under systemd: every line an error in the journal (sd-daemon priority 3).
            eprint!("{}", musaid::logging::journal_lines(3, &text));
        } else {
            eprintln!("{text}");
        }
        ExitCode::from(self.code)
    }
}

/// A usage or configuration error (exit code 2).
fn config_failure(e: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: CONFIG_ERROR,
        error: e.into(),
    }
}

/// `musaid tasks list | head` ends quietly when the reader goes away, as Unix tools do,
/// instead of panicking on the closed pipe.
pub fn restore_sigpipe() {
    // SAFETY: restoring a signal's default disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    config::load(path).map_err(config_failure)
}

fn load_pipeline(path: &Path) -> Result<Pipeline, Failure> {
    let config = load_config(path)?;
    pipeline_from(config)
}

/// The rules and templates of a loaded configuration.
fn pipeline_from(config: Config) -> Result<Pipeline, Failure> {
    let rules = RuleSet::load(&config.daemon.rules_dir).map_err(config_failure)?;
    rules
        .check_contracts(config.contracts.keys().map(String::as_str))
        .map_err(config_failure)?;
    Pipeline::new(config, rules).map_err(config_failure)
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
