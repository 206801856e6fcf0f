//! The real-mail corpus through the whole pipeline (parse + decide), with `owners = ["*"]`:
//! every file gets a decision, nothing panics, and no automatic mail becomes a task.
//!
//! Reads `$MUSAID_CORPUS` (set by `.ci/run` and `scripts/test` when `../shared/corpus` exists);
//! prints a notice and passes when it is unset.

use crate::support::config::{ConfigBuilder, ALWAYS};
use chrono::Utc;
use musaid::decide::{Decision, NoHistory};
use musaid::ingest::{parse_guarded, Pipeline};
use musaid::rules::RuleSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("MUSAID_CORPUS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!("MUSAID_CORPUS is not set: skipping the corpus test");
            None
        }
    }
}

fn pipeline() -> Pipeline {
    let config = ConfigBuilder::new("/nonexistent/musaid")
        .contract("all", |c| {
            c.owners(&["*"])
                .vas(&["sara@va.example"])
                .timezone("UTC")
                .windows(&[ALWAYS])
        })
        .load(Path::new("/corpus-test/musaid.toml"));
    let rules = RuleSet::load(&config.daemon.rules_dir).unwrap_or_else(|e| panic!("{e}"));
    Pipeline::new(config, rules).unwrap_or_else(|e| panic!("{e:#}"))
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    v.sort();
    v
}

#[test]
fn every_corpus_message_gets_a_decision_and_automatic_mail_never_becomes_a_task() {
    let Some(root) = corpus() else { return };
    let p = pipeline();
    let now = Utc::now();
    let mut by_folder: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut total = 0;
    for folder in [
        "auto_replies",
        "bounces",
        "forwarded",
        "html_multipart",
        "mailing_lists",
        "malformed",
        "nonlatin",
        "replies",
    ] {
        for f in eml_files(&root.join(folder)) {
            let raw = std::fs::read(&f).unwrap_or_default();
            let parsed = parse_guarded(&raw);
            let d = p
                .decide(&parsed, &NoHistory, None, now)
                .unwrap_or_else(|e| panic!("decide failed on {}: {e:#}", f.display()));
            total += 1;
            *by_folder
                .entry(folder.to_string())
                .or_default()
                .entry(d.kind())
                .or_default() += 1;
            let automatic = matches!(folder, "auto_replies" | "bounces" | "mailing_lists");
            if automatic && matches!(d, Decision::CreateTask(_)) {
                wrong.push(format!("{}: became a task", f.display()));
            }
        }
    }
    for (folder, counts) in &by_folder {
        eprintln!("{folder:>15}: {counts:?}");
    }
    assert!(total > 200, "the corpus looks incomplete: {total} messages");
    assert!(
        wrong.is_empty(),
        "automatic mail became tasks:\n{}",
        wrong.join("\n")
    );
    // Forwards from a sender admitted by `*` are requests.
    let fwd = by_folder.get("forwarded").cloned().unwrap_or_default();
    assert!(
        fwd.get("create_task").copied().unwrap_or(0) >= 12,
        "forwarded/: {fwd:?}"
    );
}
