//! `[[recurring]]` entries of the rule files: tasks made by the clock, not by mail
//! (docs/rules.md#recurring-tasks). Read here with `file:line` errors; checked against the
//! config by [`RuleSet::check_recurring`]; their occurrences are `crate::recurring`'s.

use super::load::{assign_value, due_value, tags_value};
use super::{RuleSet, RulesError, DEFAULT_CATEGORY};
use crate::config::{did_you_mean, Config, Diag};
use crate::model::Priority;
use crate::windows::DueSpec;
use serde::Deserialize;
use std::str::FromStr;
use toml::de::DeValue;
use toml::Spanned;

type S<T> = Spanned<T>;

/// One `[[recurring]]` entry.
#[derive(Debug, Clone)]
pub struct Recurring {
    /// Unique among entries: with an occurrence's instant, the key of the task it made.
    pub name: String,
    /// `file:line` of the entry, its `contract` and its `assign`, for messages.
    pub location: String,
    contract_at: String,
    assign_at: Option<String>,
    pub contract: String,
    /// Six fields, read in the contract's zone.
    pub cron: String,
    pub schedule: cron::Schedule,
    pub subject: String,
    pub note: String,
    pub category: String,
    pub priority: Priority,
    pub assign: Option<String>,
    pub due: Option<DueSpec>,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecurring {
    name: Option<S<String>>,
    contract: Option<S<String>>,
    cron: Option<S<String>>,
    subject: Option<S<String>>,
    note: Option<S<String>>,
    category: Option<S<String>>,
    priority: Option<S<String>>,
    assign: Option<S<String>>,
    due: Option<S<String>>,
    tags: Option<S<Vec<S<String>>>>,
}

/// Read one `[[recurring]]` table; problems go to `d`. `taken` tells whether a name is
/// already an entry's.
pub(super) fn read<'t>(
    d: &mut Diag<'t>,
    value: &S<DeValue<'t>>,
    taken: impl Fn(&str) -> Option<String>,
) -> Option<Recurring> {
    let before = d.count();
    let span = value.span();
    let location = d.location(&span);
    let (raw, dropped) = d.deserialize::<RawRecurring>(value, "[[recurring]]")?;
    let mut required = |key: &str, v: &Option<S<String>>, example: &str| -> Option<String> {
        match v {
            Some(s) if !s.get_ref().trim().is_empty() => Some(s.get_ref().trim().to_string()),
            Some(s) => {
                d.at_spanned(s, format!("{key} is empty; write e.g. {key} = {example}"));
                None
            }
            None if dropped.contains(key) => None,
            None => {
                d.at(
                    &span,
                    format!("[[recurring]] has no {key}; add e.g. {key} = {example}"),
                );
                None
            }
        }
    };
    let name = required("name", &raw.name, "\"monthly-invoices\"");
    let contract = required("contract", &raw.contract, "\"acme\"");
    let cron = required("cron", &raw.cron, "\"0 0 9 1 * *\"");
    let subject = required("subject", &raw.subject, "\"Send the monthly invoices\"");
    if let (Some(n), Some(raw_name)) = (&name, &raw.name) {
        if let Some(first) = taken(n) {
            d.at_spanned(
                raw_name,
                format!("duplicate recurring name `{n}`; it is first defined at {first}"),
            );
        }
    }
    let label = name.clone().unwrap_or_else(|| "[[recurring]]".to_string());
    let schedule = match (&cron, &raw.cron) {
        (Some(c), Some(at)) => six_fields(c)
            .and_then(|()| crate::windows::parse_cron(c))
            .map_err(|e| d.at_spanned(at, format!("recurring `{label}`: {e}")))
            .ok(),
        _ => None,
    };
    let category = match &raw.category {
        Some(c) if c.get_ref().trim().is_empty() => {
            d.at_spanned(c, format!("recurring `{label}`: category is empty"));
            None
        }
        Some(c) => Some(c.get_ref().trim().to_string()),
        None => Some(DEFAULT_CATEGORY.to_string()),
    };
    let priority = match &raw.priority {
        Some(p) => Priority::from_str(p.get_ref())
            .map_err(|e| d.at_spanned(p, format!("recurring `{label}`: {e}")))
            .ok(),
        None => Some(Priority::default()),
    };
    let what = format!("recurring `{label}`");
    let assign = assign_value(d, raw.assign.as_ref(), &what);
    let due = due_value(d, raw.due.as_ref(), &what);
    let tags = tags_value(d, raw.tags.as_ref(), &what);
    if d.count() > before {
        return None;
    }
    Some(Recurring {
        name: name?,
        location,
        contract_at: d.location(&raw.contract.as_ref()?.span()),
        assign_at: raw.assign.as_ref().map(|a| d.location(&a.span())),
        contract: contract?,
        cron: cron?,
        schedule: schedule?,
        subject: subject?,
        note: raw
            .note
            .map(|n| n.get_ref().trim().to_string())
            .unwrap_or_default(),
        category: category?,
        priority: priority?,
        assign,
        due,
        tags,
    })
}

/// Recurring entries take exactly six fields (seconds first), as the SPEC writes them.
fn six_fields(expr: &str) -> Result<(), String> {
    match expr.split_whitespace().count() {
        6 => Ok(()),
        5 => crate::windows::parse_cron(expr).map(|_| ()),
        n => Err(format!(
            "cron \"{expr}\" has {n} fields; write 6 (sec min hour day month weekday), e.g. \"0 0 9 1 * *\""
        )),
    }
}

impl RuleSet {
    /// The `[[recurring]]` entries, in file order.
    pub fn recurring(&self) -> &[Recurring] {
        &self.recurring
    }

    /// Entries whose contract the config does not have, or whose `assign` is not one of that
    /// contract's `vas` (`musaid check`, and before a rule set is used).
    pub fn check_recurring(&self, cfg: &Config) -> Result<(), RulesError> {
        let mut errors = Vec::new();
        for r in &self.recurring {
            let Some(c) = cfg.contracts.get(&r.contract) else {
                let hint = match did_you_mean(&r.contract, cfg.contracts.keys().map(String::as_str))
                {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => "use a name from [contracts.NAME] in the config".to_string(),
                };
                errors.push(format!(
                    "{}: recurring `{}`: no contract `{}`; {hint}",
                    r.contract_at, r.name, r.contract
                ));
                continue;
            };
            if let Some(a) = r.assign.as_deref().filter(|a| !c.is_va(a)) {
                errors.push(format!(
                    "{}: recurring `{}`: {a} is not a VA of contract {}; assign one of: {}",
                    r.assign_at.as_deref().unwrap_or(&r.location),
                    r.name,
                    c.name,
                    c.vas.join(", ")
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RulesError { errors })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str =
        "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
        [contracts.acme]\nowners = [\"boss@acme.example\"]\n\
        vas = [\"sara@va.example\", \"ali@va.example\"]\n\
        timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n";

    const GOOD: &str = r#"
[[rule]]
name = "invoices"
match.subject = 'invoice'
category = "bookkeeping"

[[recurring]]
name = "monthly-invoices"
contract = "acme"
cron = "0 0 9 1 * *"
subject = "Send the monthly invoices"
note = "From the shared folder."
category = "bookkeeping"
priority = "high"
assign = "ali@va.example"
due = "2 business days"
tags = ["finance"]
"#;

    fn errors(text: &str) -> Vec<String> {
        match RuleSet::from_files(&[("r.toml", text)]) {
            Ok(_) => vec![],
            Err(e) => e.errors,
        }
    }

    #[test]
    fn an_entry_is_read_with_its_rule_fields() {
        let rules = RuleSet::from_files(&[("10-r.toml", GOOD)]).unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules.recurring()[0];
        assert_eq!(r.name, "monthly-invoices");
        assert_eq!(r.location, "10-r.toml:7");
        assert_eq!(r.contract, "acme");
        assert_eq!(r.note, "From the shared folder.");
        assert_eq!(r.priority, Priority::High);
        assert_eq!(r.assign.as_deref(), Some("ali@va.example"));
        assert_eq!(r.due, Some(DueSpec::BusinessDays(2)));
        assert_eq!(r.tags, ["finance"]);
        let cfg = crate::config::load_str(CONFIG, Path::new("musaid.toml")).unwrap();
        rules.check_recurring(&cfg).unwrap();
        // Defaults: category general, priority normal, no note.
        let bare = "[[recurring]]\nname = \"x\"\ncontract = \"acme\"\ncron = \"*/20 * * * * *\"\nsubject = \"s\"\n";
        let rules = RuleSet::from_files(&[("r.toml", bare)]).unwrap();
        let r = &rules.recurring()[0];
        assert_eq!(
            (r.category.as_str(), r.priority, r.note.as_str()),
            ("general", Priority::Normal, "")
        );
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = errors("[[recurring]]\nname = \"x\"\ncontract = \"acme\"\ncron = \"0 9 1 * *\"\nsubject = \"s\"\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("r.toml:4:") && e[0].contains("\"0 0 9 1 * *\""),
            "{e:?}"
        );
        let e = errors("[[recurring]]\nname = \"x\"\ncontract = \"acme\"\ncron = \"0 0 9 1 * * 2027\"\nsubject = \"s\"\n");
        assert!(
            e[0].starts_with("r.toml:4:") && e[0].contains("write 6"),
            "{e:?}"
        );
        let e = errors(
            "[[recurring]]\nname = \"x\"\ncron = \"0 0 9 1 * *\"\nsubject = \"s\"\nwhen = 1\n",
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("r.toml:1:") && m.contains("no contract")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("r.toml:5:") && m.contains("when")),
            "{e:?}"
        );
        let twice = "[[recurring]]\nname = \"x\"\ncontract = \"acme\"\ncron = \"0 0 9 1 * *\"\nsubject = \"s\"\n";
        let e = errors(&format!("{twice}{twice}"));
        assert!(
            e[0].starts_with("r.toml:7:") && e[0].contains("first defined at r.toml:1"),
            "{e:?}"
        );
        let e = errors("[recurring]\nname = \"x\"\n");
        assert!(e[0].contains("[[recurring]] (double brackets)"), "{e:?}");
    }

    #[test]
    fn the_config_check_names_unknown_contracts_and_assignees() {
        let cfg = crate::config::load_str(CONFIG, Path::new("musaid.toml")).unwrap();
        let text = GOOD.replace("contract = \"acme\"", "contract = \"acmee\"");
        let rules = RuleSet::from_files(&[("r.toml", text.as_str())]).unwrap();
        let e = rules.check_recurring(&cfg).unwrap_err().errors;
        assert_eq!(
            e,
            ["r.toml:9: recurring `monthly-invoices`: no contract `acmee`; did you mean `acme`?"]
        );
        let text = GOOD.replace("ali@va.example", "mallory@evil.test");
        let rules = RuleSet::from_files(&[("r.toml", text.as_str())]).unwrap();
        let e = rules.check_recurring(&cfg).unwrap_err().errors;
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with(
                "r.toml:15: recurring `monthly-invoices`: mallory@evil.test is not a VA"
            ),
            "{e:?}"
        );
    }
}
