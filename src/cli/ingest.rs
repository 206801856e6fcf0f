//! `musaid ingest`: messages from files or a Maildir through the daemon's pipeline, recorded
//! in the database as if they had arrived by IMAP in that order.

use super::{config_failure, exit_code, load_pipeline, print_json, Failure};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use musaid::ingest;
use musaid::output::{decision_json, DecisionJson};
use musaid::store::{Source, Store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// .eml files, taken as if they arrived in this order
    #[arg(
        value_name = "FILE.eml",
        required_unless_present = "maildir",
        conflicts_with = "maildir"
    )]
    files: Vec<PathBuf>,
    /// A Maildir: every message in new/ and cur/, oldest first by file name
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// One JSON document: an array with one object per message
    #[arg(long)]
    json: bool,
}

/// Maildir messages in arrival order: new/ and cur/, sorted by file name (which starts
/// with the delivery time).
fn maildir_files(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            continue;
        }
        for e in std::fs::read_dir(&d).with_context(|| format!("Cannot read {}", d.display()))? {
            let e = e?;
            if e.file_type()?.is_file() {
                files.push(e.path());
            }
        }
    }
    if files.is_empty() && !dir.join("new").is_dir() && !dir.join("cur").is_dir() {
        return Err(config_failure(anyhow::anyhow!(
            "{} is not a Maildir (no new/ or cur/ inside)",
            dir.display()
        )));
    }
    files.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    Ok(files)
}

/// At most the first `max` bytes of a mail file (its header, and perhaps some body, which
/// parsing a few KiB more does not mind); None when unreadable.
fn read_head(path: &Path, max: usize) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max as u64).read_to_end(&mut head))
        .ok()?;
    Some(head)
}

pub fn run(path: &Path, args: &IngestArgs) -> Result<ExitCode, Failure> {
    let p = load_pipeline(path)?;
    let files = match &args.maildir {
        Some(d) => maildir_files(d)?,
        None => args.files.clone(),
    };
    let mut store = Store::open(&p.config.daemon.state_dir)?;
    let max = p.config.policy.max_message_size;
    let mut out = Vec::new();
    let mut failed = 0;
    for f in &files {
        let name = f.display().to_string();
        let source = Source::File(name.clone());
        let now = Utc::now();
        let (size, arrived) = match std::fs::metadata(f) {
            // A file arrived when it was written (a Maildir's delivery time); never later than now.
            Ok(m) => (
                m.len(),
                m.modified().ok().map(|t| DateTime::<Utc>::from(t).min(now)),
            ),
            Err(e) => {
                eprintln!("musaid: cannot read {name}: {e}");
                failed += 1;
                continue;
            }
        };
        let result = if size > max {
            let tx = store.transaction()?;
            let id = format!(
                "oversized-{size}-{}",
                ingest::derived_message_id(name.as_bytes())
            );
            // Its sender is read from the file's first bytes, as the daemon reads the header.
            let head = read_head(f, musaid::imap::HEADER_BYTES);
            let unloaded = ingest::Unloaded {
                message_id: &id,
                size: Some(size),
                header: head.as_deref(),
                arrived,
            };
            let o = p.process_oversized(&tx, &source, &unloaded, now);
            tx.commit()?;
            o.map(|o| (o, Vec::new()))
        } else {
            let raw = match std::fs::read(f) {
                Ok(raw) => raw,
                // Like a file that is gone: reported, and the others are still fed.
                Err(e) => {
                    eprintln!("musaid: cannot read {name}: {e}");
                    failed += 1;
                    continue;
                }
            };
            p.ingest_one(&mut store, &source, &raw, arrived, now)
                .map(|o| (o, raw))
        };
        match result {
            Ok((o, raw)) => {
                let mut j = decision_json(name, &o.parsed, &raw, &o.decision, &p.config);
                j.message_id = o.message_id.clone();
                j.task = o.task_id;
                out.push(j);
            }
            Err(e) => {
                eprintln!("musaid: {name}: {e:#}");
                failed += 1;
            }
        }
    }
    if args.json {
        print_json(&out)?;
    } else {
        for j in &out {
            println!("{}", line(j));
        }
    }
    Ok(exit_code(failed == 0))
}

/// One message in the readable output: its file, the decision, and the task it made or
/// changed (or why it was left).
fn line(j: &DecisionJson) -> String {
    let detail = match (j.decision, j.task) {
        ("create_task", Some(t)) => format!(
            "task #{t} ({}, {})",
            j.category.as_deref().unwrap_or("general"),
            j.contract.as_deref().unwrap_or("")
        ),
        ("update_task", Some(t)) if j.commands.is_empty() => format!("task #{t}: note"),
        ("update_task", Some(t)) => format!("task #{t}: {}", j.commands.join(" ")),
        ("duplicate", Some(t)) => format!("of task #{t}"),
        // A question (`#status`, `#hours`): ignored as a request, answered by mail.
        ("ignore", None) if j.reason.is_none() => format!("answered: {}", j.commands.join(" ")),
        (_, _) => j.reason.unwrap_or("").to_string(),
    };
    format!("{}: {} {}", j.file, j.decision, detail)
}
