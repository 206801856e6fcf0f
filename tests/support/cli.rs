//! What the command-line tests share: a temporary desk (state directory and config, with the
//! project's own rules and one contract, `acme`: owner boss@acme.example, VA sara@va.example)
//! and musaid run on it as a user runs it.

use super::config::ConfigBuilder;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A message of `tests/fixtures/e2e`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e")
        .join(name)
}

pub struct Desk {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Desk {
    /// A desk whose config is the usual one (state in the desk, contract `acme`) changed by
    /// `change`: the contract's time zone, windows and language, a `[policy]`…
    pub fn new(change: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Desk {
        let dir = tempfile::tempdir().expect("temp dir");
        let usual = ConfigBuilder::new(dir.path().join("state")).contract("acme", |c| {
            c.owners(&["boss@acme.example"]).vas(&["sara@va.example"])
        });
        let config = change(usual).write(&dir.path().join("musaid.toml"));
        Desk { dir, config }
    }
}

/// The contract of the `tests/fixtures/e2e` messages: Arabic, Riyadh, Sunday to Thursday
/// office hours.
pub fn riyadh_office(c: ConfigBuilder) -> ConfigBuilder {
    c.contract("acme", |c| {
        c.timezone("Asia/Riyadh")
            .windows(&["Sun-Thu 08:00-17:00"])
            .language("ar")
    })
}

/// The command `musaid --config CONFIG`, not yet run.
pub fn command(d: &Desk) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_musaid"));
    c.arg("--config").arg(&d.config).env_remove("MUSAID_CONFIG");
    c
}

pub fn musaid(d: &Desk, args: &[&str]) -> Output {
    command(d).args(args).output().expect("run musaid")
}

/// `musaid ingest --json FILE`: the decisions, as JSON.
pub fn ingest(d: &Desk, file: &Path) -> Value {
    json(&musaid(
        d,
        &["ingest", "--json", file.to_str().unwrap_or_default()],
    ))
}

/// stdout as JSON, after checking that musaid succeeded.
pub fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "musaid failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}
