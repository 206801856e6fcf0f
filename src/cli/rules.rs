//! `musaid rules test`: what the daemon would decide for some messages, writing nothing.

use super::{load_pipeline, print_json, Failure};
use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use musaid::decide::{NoHistory, ThreadLookup};
use musaid::ingest;
use musaid::output::{decision_json, Table};
use musaid::store::{History, Store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// What the daemon would decide for these messages; writes nothing
    Test {
        /// .eml files (RFC 5322 messages)
        #[arg(required = true, value_name = "FILE.eml")]
        files: Vec<PathBuf>,
        /// One JSON document: an array with one object per file
        #[arg(long)]
        json: bool,
    },
}

pub fn run(path: &Path, cmd: &RulesCommand) -> Result<ExitCode, Failure> {
    match cmd {
        RulesCommand::Test { files, json } => test(path, files, *json),
    }
}

fn read_message(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .with_context(|| format!("Cannot read {}", path.display()))
        .map_err(Failure::from)
}

fn test(path: &Path, files: &[PathBuf], json: bool) -> Result<ExitCode, Failure> {
    let p = load_pipeline(path)?;
    let store = Store::open_existing(&p.config.daemon.state_dir)
        .ok()
        .flatten();
    let history: Box<dyn ThreadLookup + '_> = match &store {
        Some(s) => Box::new(History(s.conn())),
        None => Box::new(NoHistory),
    };
    let now = Utc::now();
    let mut out = Vec::new();
    for f in files {
        let raw = read_message(f)?;
        let parsed = ingest::parse_guarded(&raw);
        let d = p.decide(&parsed, history.as_ref(), None, now)?;
        out.push(decision_json(
            f.display().to_string(),
            &parsed,
            &raw,
            &d,
            &p.config,
        ));
    }
    if json {
        print_json(&out)?;
    } else {
        let mut t = Table::new(&[
            "FILE",
            "DECISION",
            "REASON/RULE",
            "CATEGORY",
            "CONTRACT",
            "FROM",
            "SUBJECT",
        ]);
        for j in &out {
            t.row(vec![
                j.file.clone(),
                j.decision.to_string(),
                j.reason
                    .map(str::to_string)
                    .or(j.rule.clone())
                    .or_else(|| {
                        // A question is answered, not a request: what it asks.
                        (j.decision == "ignore")
                            .then(|| format!("answered: {}", j.commands.join(" ")))
                    })
                    .unwrap_or_default(),
                j.category.clone().unwrap_or_default(),
                j.contract.clone().unwrap_or_default(),
                j.from.clone().unwrap_or_default(),
                j.subject.clone().unwrap_or_default(),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(ExitCode::SUCCESS)
}
