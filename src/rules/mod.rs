//! Rule files → a compiled [`RuleSet`] → [`Classification`] (see docs/rules.md).
//!
//! Every `*.toml` in `rules_dir` is read in file-name order, its `[[rule]]` tables top to
//! bottom. The first matching rule without `continue = true` classifies the request;
//! matching `continue` rules on the way add their tags and set priority, assignee and due
//! as defaults that the classifying rule may override. No classifying rule: category
//! `general`.
//!
//! Patterns are compiled once: one [`regex::RegexSet`] per match key across all rules, so
//! a request's body is scanned once however many rules look at it.
//!
//! `load` reads the files and reports every problem with `file:line`; `matching` compiles
//! the patterns and classifies a request; this module holds the types both share.

mod load;
mod matching;
mod recurring;
#[cfg(test)]
mod tests;

use crate::model::Priority;
use crate::windows::DueSpec;
use matching::FieldMatcher;
pub use recurring::Recurring;

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

/// The category of a request that no rule classifies.
pub const DEFAULT_CATEGORY: &str = "general";

/// What a match key looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Field {
    From,
    To,
    Cc,
    Subject,
    Body,
    OriginalFrom,
    /// A header by its lower-cased name; any header of that name may match.
    Header(String),
}

/// One compiled rule. Its conditions point into the rule set's per-field regex sets.
#[derive(Debug, Clone)]
struct Rule {
    name: String,
    /// `file:line` of its `[[rule]]`, for messages.
    location: String,
    contract: Option<String>,
    /// (field index, pattern index within that field's set); all must match.
    conditions: Vec<(usize, usize)>,
    category: Option<String>,
    priority: Option<Priority>,
    assign: Option<String>,
    due: Option<DueSpec>,
    tags: Vec<String>,
    next: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    fields: Vec<FieldMatcher>,
    recurring: Vec<Recurring>,
}

/// Every problem found in the rule files, each with `file:line`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct RulesError {
    pub errors: Vec<String>,
}

impl RuleSet {
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
