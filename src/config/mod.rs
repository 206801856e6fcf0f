//! TOML → [`Config`]: the one configuration file (see docs/configuration.md).
//!
//! Unknown keys and bad values are errors that name `file:line` and say what to
//! write instead; as many as can be found are reported at once. Secrets are never
//! stored in the file and never printed.
//!
//! Relative paths (`state_dir`, `rules_dir`, `templates_dir`, `password_file`, `ca_file`)
//! are resolved against the directory of the config file, so a config and its rules can
//! move together. Defaults: `state_dir = "/var/lib/musaid"`, `rules_dir = "rules"` (next to
//! the config file), IMAP port 993 (143 without implicit TLS), SMTP port 465 (587 for
//! starttls, 25 for none), `tls = "implicit"`, `mailbox = "INBOX"`, `after = "keep"`,
//! `idle = true`, `poll_interval = "60s"`, `first_sync = "new"`, `language = "en"`, and the
//! `[policy]` of [`Policy::default`].

mod contract;
mod diag;
mod load;
mod secret;
mod server;
mod values;
mod vas;
mod warnings;

pub(crate) use diag::{did_you_mean, Diag};

/// Durations and sizes, shared with [`crate::windows`], which does not import the config.
pub use crate::units;
pub use load::{load, load_str};
pub use values::is_valid_address;
pub use warnings::warnings;

/// For unit tests: a desk in `dir` (its state in `dir/state`) with one contract, `acme` (owner
/// boss@acme.example, VA sara@va.example, Riyadh, Sunday to Thursday 08:00-10:00), and
/// `imap_extra` lines in `[imap]`.
#[cfg(test)]
pub(crate) fn test_desk(dir: &std::path::Path, imap_extra: &str) -> Config {
    let text = format!(
        r#"
[daemon]
address = "tasks@va.example"
state_dir = "{state}"
[imap]
host = "127.0.0.1"
tls = "none"
{imap_extra}
[contracts.acme]
owners = ["boss@acme.example"]
vas = ["sara@va.example"]
timezone = "Asia/Riyadh"
windows = ["Sun-Thu 08:00-10:00"]
"#,
        state = dir.join("state").display()
    );
    load_str(&text, &dir.join("musaid.toml")).unwrap_or_else(|e| panic!("{e}"))
}

use crate::model::Language;
use crate::windows::{Calendar, DueSpec};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (errors and reloads name it).
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub imap: ImapConfig,
    /// Absent until outgoing mail is configured; nothing is sent without it.
    pub smtp: Option<SmtpConfig>,
    /// By name, in name order.
    pub contracts: BTreeMap<String, Contract>,
    pub policy: Policy,
    /// `[vas."ADDR"]`, by lower-cased address: per-VA settings (the agenda).
    pub vas: BTreeMap<String, VaSettings>,
}

/// `[vas."ADDR"]`: one VA's own settings.
#[derive(Debug, Clone, Default)]
pub struct VaSettings {
    /// The agenda's language; else the VA's first contract's.
    pub language: Option<Language>,
    pub agenda: AgendaTime,
}

/// When a VA's daily agenda goes out.
#[allow(clippy::large_enum_variant)] // One per VA; boxing buys nothing.
#[derive(Debug, Clone, Default)]
pub enum AgendaTime {
    /// At the opening of the VA's first window each day, among their contracts.
    #[default]
    FirstWindow,
    /// `agenda = { cron = "0 30 7 * * Sun-Thu", timezone = "Asia/Riyadh" }`.
    Cron {
        schedule: cron::Schedule,
        timezone: chrono_tz::Tz,
        /// The cron expression as written, for messages.
        source: String,
    },
    /// `agenda = false`.
    Off,
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub state_dir: PathBuf,
    pub rules_dir: PathBuf,
    /// The inbox address, lower-cased; our own mail is never a request.
    pub address: String,
    /// Directory of template overrides (optional).
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Implicit,
    StartTls,
    /// Plaintext: accepted only when `host` is a loopback address.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// LOGIN / AUTH PLAIN with user and password (or no login when `user` is absent).
    Password,
    /// SASL XOAUTH2 with a token from `oauth2_token_command`.
    XOAuth2,
}

/// Where a secret comes from. Resolved only when needed; never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    None,
    File(PathBuf),
    Command(String),
    /// A systemd credential name, read from `$CREDENTIALS_DIRECTORY/NAME`.
    Credential(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The source is not secret, but keep Debug output short and obviously free of values.
        match self {
            SecretSource::None => f.write_str("None"),
            SecretSource::File(p) => write!(f, "File({})", p.display()),
            SecretSource::Command(_) => f.write_str("Command(…)"),
            SecretSource::Credential(n) => write!(f, "Credential({n})"),
        }
    }
}

/// A secret value. Its Debug and Display print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone)]
pub struct ServerLogin {
    pub user: Option<String>,
    pub auth: AuthMethod,
    pub password: SecretSource,
    /// For `auth = "xoauth2"`: a command that prints a fresh access token.
    pub oauth2_token_command: Option<String>,
}

impl std::fmt::Debug for ServerLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Commands may carry a secret on their command line: like SecretSource, never print them.
        f.debug_struct("ServerLogin")
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("password", &self.password)
            .field(
                "oauth2_token_command",
                &self.oauth2_token_command.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Keep,
    Seen,
    Move(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstSync {
    New,
    All,
    Since(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub login: ServerLogin,
    /// Extra CA certificates (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    pub mailbox: String,
    pub after: After,
    pub idle: bool,
    pub poll_interval: Duration,
    pub first_sync: FirstSync,
    /// How long the server may stay silent in a command: [`ImapConfig::DEFAULT_TIMEOUT`]
    /// (not a key of the file; tests shorten it).
    pub timeout: Duration,
}

impl ImapConfig {
    /// How long the server may stay silent while answering a command (the IMAP session's
    /// `COMMAND_TIMEOUT`). Defined here so that the config does not import the IMAP client.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub login: ServerLogin,
    pub ca_file: Option<PathBuf>,
    /// The From header of every mail we send, as written (`Name <addr>`).
    pub from: String,
}

/// Who may create tasks for a contract: an exact address, `*@domain`, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerPattern {
    Exact(String),
    Domain(String),
    Any,
}

impl OwnerPattern {
    /// Does this pattern admit that (already lower-cased) address?
    pub fn matches(&self, email: &str) -> bool {
        match self {
            OwnerPattern::Exact(a) => a == email,
            OwnerPattern::Domain(d) => email.rsplit_once('@').is_some_and(|(_, dom)| dom == d),
            OwnerPattern::Any => true,
        }
    }

    /// More specific patterns win when several contracts admit a sender.
    pub fn specificity(&self) -> u8 {
        match self {
            OwnerPattern::Exact(_) => 2,
            OwnerPattern::Domain(_) => 1,
            OwnerPattern::Any => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SummaryConfig {
    pub cron: cron::Schedule,
    /// The cron expression as written, for messages.
    pub cron_source: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub per_hour: f64,
    pub currency: String,
}

/// How often a retainer's hours are bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainerPeriod {
    /// The ISO week: Monday 00:00 to Monday 00:00 in the contract's zone.
    Week,
    /// The calendar month, from the 1st at 00:00 in the contract's zone.
    Month,
}

impl RetainerPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            RetainerPeriod::Week => "week",
            RetainerPeriod::Month => "month",
        }
    }
}

/// `retainer = { hours = 20, per = "month" }`: hours bought for each period.
#[derive(Debug, Clone, PartialEq)]
pub struct Retainer {
    pub hours: f64,
    pub per: RetainerPeriod,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub name: String,
    pub owners: Vec<OwnerPattern>,
    /// Lower-cased VA addresses; the first is the default assignee.
    pub vas: Vec<String>,
    /// Time zone, windows and holidays: when the VA is on duty.
    pub calendar: Calendar,
    pub language: Language,
    pub summary: Option<SummaryConfig>,
    pub rate: Option<Rate>,
    /// Told about tasks overdue longer than `escalate_after` (lower-cased addresses).
    pub escalate_to: Vec<String>,
    pub escalate_after: DueSpec,
    pub retainer: Option<Retainer>,
}

impl Contract {
    /// The best owner match for this address: its specificity, or None.
    pub fn owner_match(&self, email: &str) -> Option<u8> {
        self.owners
            .iter()
            .filter(|p| p.matches(email))
            .map(OwnerPattern::specificity)
            .max()
    }

    pub fn is_va(&self, email: &str) -> bool {
        self.vas.iter().any(|v| v == email)
    }
}

/// A contract reads as its calendar: `contract.timezone`, `windows::is_open(&contract, now)`.
impl std::ops::Deref for Contract {
    type Target = Calendar;

    fn deref(&self) -> &Calendar {
        &self.calendar
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSenders {
    Ignore,
    Quarantine,
    Task,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub unknown_senders: UnknownSenders,
    pub max_message_size: u64,
    pub acks_per_sender_per_day: u32,
    pub ack_max_age: Duration,
    /// How long quarantined mail keeps its raw bytes; the record stays.
    pub quarantine_keep: Duration,
    pub trusted_authserv_id: Option<String>,
    /// The assignee's reminder comes this long before a task's due time.
    pub remind_before: DueSpec,
    /// A task waiting longer than this shows as "chase" in the agenda.
    pub chase_after: DueSpec,
    /// Mail of any kind to one address in any hour; what is over waits (`outbox::limit`).
    pub mails_per_recipient_per_hour: u32,
    /// Bytes of attachments one mail carries; larger files are listed with the fetch command.
    pub attach_max: u64,
    /// How long after a task ends its files are kept (unless an open task needs them).
    pub attachments_keep: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            unknown_senders: UnknownSenders::Ignore,
            max_message_size: 25 * 1000 * 1000,
            acks_per_sender_per_day: 20,
            ack_max_age: Duration::from_secs(3 * 86400),
            quarantine_keep: Duration::from_secs(30 * 86400),
            trusted_authserv_id: None,
            remind_before: DueSpec::BusinessHours(2),
            chase_after: DueSpec::BusinessDays(3),
            mails_per_recipient_per_hour: 30,
            attach_max: 10 * 1000 * 1000,
            attachments_keep: Duration::from_secs(365 * 86400),
        }
    }
}

/// The default config path when neither `--config` nor `$MUSAID_CONFIG` is given.
pub const DEFAULT_PATH: &str = "/etc/musaid/musaid.toml";

/// A configuration problem, located: `file:line: what is wrong; what to write instead`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct ConfigError {
    pub errors: Vec<String>,
}

/// The config file to read: `--config PATH`, else `$MUSAID_CONFIG`, else [`DEFAULT_PATH`].
pub fn config_path(cli: Option<&Path>) -> PathBuf {
    choose_config_path(cli, std::env::var_os("MUSAID_CONFIG"))
}

fn choose_config_path(cli: Option<&Path>, env: Option<std::ffi::OsString>) -> PathBuf {
    match (cli, env) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(e)) if !e.is_empty() => PathBuf::from(e),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn config_path_prefers_flag_then_env_then_default() {
        let flag = Path::new("/tmp/flag.toml");
        assert_eq!(
            choose_config_path(Some(flag), Some("/tmp/env.toml".into())),
            flag
        );
        assert_eq!(
            choose_config_path(None, Some("/tmp/env.toml".into())),
            Path::new("/tmp/env.toml")
        );
        assert_eq!(
            choose_config_path(None, Some("".into())),
            Path::new(DEFAULT_PATH)
        );
        assert_eq!(choose_config_path(None, None), Path::new(DEFAULT_PATH));
    }
}
