//! Rule files → a compiled [`RuleSet`] → [`Classification`]. (Skeleton.)

use crate::model::Priority;
use crate::windows::DueSpec;
use std::path::Path;

/// What a rule sees of a request. Addresses are lower-cased emails.
#[derive(Debug, Clone, Default)]
pub struct RuleInput<'a> {
    pub contract: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    pub original_from: &'a str,
    pub headers: &'a [(String, String)],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The classifying rule's name; None when no rule matched (category `general`).
    pub rule: Option<String>,
    pub category: String,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub due: Option<DueSpec>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RuleSet {}

/// Every problem found in the rule files, each with `file:line`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct RulesError {
    pub errors: Vec<String>,
}

impl RuleSet {
    /// Read every `*.toml` in `dir`, in file-name order.
    pub fn load(dir: &Path) -> Result<RuleSet, RulesError> {
        let _ = dir;
        unimplemented!("skeleton")
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn classify(&self, input: &RuleInput<'_>) -> Classification {
        let _ = input;
        unimplemented!("skeleton")
    }
}
