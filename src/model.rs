//! Domain words shared by every module: task status, priority, language, reasons.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a task stands. Stored and printed in snake_case (`in_progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    InProgress,
    Waiting,
    Done,
    Cancelled,
    /// Folded into another task by `#merge` (`merged_into` names it); closed for good.
    Merged,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Open,
        TaskStatus::InProgress,
        TaskStatus::Waiting,
        TaskStatus::Done,
        TaskStatus::Cancelled,
        TaskStatus::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Waiting => "waiting",
            TaskStatus::Done => "done",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Merged => "merged",
        }
    }

    /// Done, cancelled and merged tasks are closed; everything else still needs work.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Cancelled | TaskStatus::Merged
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        match norm.as_str() {
            "open" => Ok(TaskStatus::Open),
            "in_progress" | "wip" => Ok(TaskStatus::InProgress),
            "waiting" => Ok(TaskStatus::Waiting),
            "done" => Ok(TaskStatus::Done),
            "cancelled" | "canceled" => Ok(TaskStatus::Cancelled),
            "merged" => Ok(TaskStatus::Merged),
            _ => Err(format!(
                "unknown status `{s}`; use one of open, in_progress, waiting, done, cancelled, merged"
            )),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            _ => Err(format!(
                "unknown priority `{s}`; use low, normal, high or urgent"
            )),
        }
    }
}

/// The language of mail and summaries sent for a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Ar,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ar => "ar",
        }
    }
}

/// Why a message was ignored or quarantined (`rules test --json` `reason`, docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    AutoSubmitted,
    Bulk,
    List,
    Bounce,
    OwnMail,
    UnknownSender,
    Unparseable,
    Oversized,
    Untrusted,
    /// The process died while processing it, three times.
    Crashed,
    /// The server would not send it, try after try.
    Unfetchable,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AutoSubmitted => "auto-submitted",
            Reason::Bulk => "bulk",
            Reason::List => "list",
            Reason::Bounce => "bounce",
            Reason::OwnMail => "own-mail",
            Reason::UnknownSender => "unknown-sender",
            Reason::Unparseable => "unparseable",
            Reason::Oversized => "oversized",
            Reason::Untrusted => "untrusted",
            Reason::Crashed => "crashed",
            Reason::Unfetchable => "unfetchable",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Reason::AutoSubmitted,
            Reason::Bulk,
            Reason::List,
            Reason::Bounce,
            Reason::OwnMail,
            Reason::UnknownSender,
            Reason::Unparseable,
            Reason::Oversized,
            Reason::Untrusted,
            Reason::Crashed,
            Reason::Unfetchable,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("unknown reason `{s}`"))
    }
}

/// Lower-case an address for comparison; mail addresses compare case-insensitively in practice.
pub fn normalize_address(addr: &str) -> String {
    addr.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase()
}
