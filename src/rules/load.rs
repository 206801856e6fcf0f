//! Loading: the `*.toml` files of the rules directory, in file-name order, each `[[rule]]`
//! read into a [`Rule`] with its patterns checked, and every problem reported with
//! `file:line` and what to write instead.

use super::matching::{not_a_regex, FieldMatcher, Pattern};
use super::{Field, Rule, RuleSet, RulesError};
use crate::config::{did_you_mean, is_valid_address, Diag};
use crate::model::Priority;
use crate::windows::DueSpec;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use toml::de::DeValue;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<S<String>>,
    contract: Option<S<String>>,
    #[serde(rename = "match")]
    matches: Option<S<RawMatch>>,
    category: Option<S<String>>,
    priority: Option<S<String>>,
    assign: Option<S<String>>,
    due: Option<S<String>>,
    tags: Option<S<Vec<S<String>>>>,
    #[serde(rename = "continue")]
    next: Option<S<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    from: Option<S<String>>,
    to: Option<S<String>>,
    cc: Option<S<String>>,
    subject: Option<S<String>>,
    body: Option<S<String>>,
    original_from: Option<S<String>>,
    header: Option<S<BTreeMap<String, S<String>>>>,
}

/// Rules as read, before the regex sets are built.
#[derive(Default)]
struct Builder {
    rules: Vec<Rule>,
    recurring: Vec<super::Recurring>,
    fields: Vec<(Field, Vec<Pattern>)>,
    /// Rule name → where it was first defined.
    names: HashMap<String, String>,
    errors: Vec<String>,
}

impl Builder {
    fn field(&mut self, field: Field) -> usize {
        match self.fields.iter().position(|(f, _)| *f == field) {
            Some(i) => i,
            None => {
                self.fields.push((field, Vec::new()));
                self.fields.len() - 1
            }
        }
    }

    fn add_file(&mut self, file: &str, text: &str) {
        let mut d = Diag::new(file, text);
        if let Some(root) = d.parse() {
            for (key, value) in root.get_ref().iter() {
                if key.get_ref() == "recurring" {
                    self.add_recurring(&mut d, &key.span(), value);
                    continue;
                }
                if key.get_ref() != "rule" {
                    let hint = match did_you_mean(key.get_ref(), ["rule", "recurring"]) {
                        Some("recurring") => "did you mean [[recurring]]?",
                        Some(_) => "did you mean [[rule]]?",
                        None => "a rule file holds only [[rule]] and [[recurring]] tables",
                    };
                    d.at(
                        &key.span(),
                        format!("unknown key `{}`; {hint}", key.get_ref()),
                    );
                    continue;
                }
                match value.get_ref() {
                    DeValue::Array(rules) => {
                        for rule in rules.iter() {
                            self.add_rule(&mut d, rule);
                        }
                    }
                    _ => d.at(
                        &key.span(),
                        "write each rule as [[rule]] (double brackets), not [rule]",
                    ),
                }
            }
        }
        self.errors.extend(d.finish());
    }

    fn add_recurring<'t>(
        &mut self,
        d: &mut Diag<'t>,
        key: &std::ops::Range<usize>,
        value: &S<DeValue<'t>>,
    ) {
        let DeValue::Array(entries) = value.get_ref() else {
            d.at(
                key,
                "write each entry as [[recurring]] (double brackets), not [recurring]",
            );
            return;
        };
        for entry in entries.iter() {
            let taken = |n: &str| {
                self.recurring
                    .iter()
                    .find(|r| r.name == n)
                    .map(|r| r.location.clone())
            };
            if let Some(r) = super::recurring::read(d, entry, taken) {
                self.recurring.push(r);
            }
        }
    }

    fn add_rule<'t>(&mut self, d: &mut Diag<'t>, value: &S<DeValue<'t>>) {
        let before = d.count();
        let span = value.span();
        let location = d.location(&span);
        let Some((raw, dropped)) = d.deserialize::<RawRule>(value, "[[rule]]") else {
            return;
        };
        let next = raw.next.as_ref().is_some_and(|n| *n.get_ref());
        let name = match &raw.name {
            Some(n) if !n.get_ref().trim().is_empty() => Some(n.get_ref().trim().to_string()),
            Some(n) => {
                d.at_spanned(
                    n,
                    "name is empty; give the rule a name, e.g. name = \"invoices\"",
                );
                None
            }
            None if dropped.contains("name") => None,
            None => {
                d.at(&span, "[[rule]] has no name; add e.g. name = \"invoices\"");
                None
            }
        };
        if let (Some(n), Some(raw_name)) = (&name, &raw.name) {
            if let Some(first) = self.names.get(n) {
                d.at_spanned(
                    raw_name,
                    format!("duplicate rule name `{n}`; it is first defined at {first}"),
                );
            } else {
                self.names.insert(n.clone(), location.clone());
            }
        }
        let label = name.clone().unwrap_or_else(|| "[[rule]]".to_string());
        let category = match (&raw.category, next) {
            (Some(c), true) => {
                d.at_spanned(
                    c,
                    format!("rule `{label}`: a continue rule does not classify; remove category or continue"),
                );
                None
            }
            (Some(c), false) if c.get_ref().trim().is_empty() => {
                d.at_spanned(c, format!("rule `{label}`: category is empty"));
                None
            }
            (Some(c), false) => Some(c.get_ref().trim().to_string()),
            (None, false) if !dropped.contains("category") => {
                d.at(
                    &span,
                    format!(
                        "rule `{label}` has no category; add e.g. category = \"bookkeeping\" \
                         (or continue = true for a rule that only adds tags)"
                    ),
                );
                None
            }
            (None, _) => None,
        };
        let priority = raw.priority.as_ref().and_then(|p| {
            Priority::from_str(p.get_ref())
                .map_err(|e| d.at_spanned(p, format!("rule `{label}`: {e}")))
                .ok()
        });
        let what = format!("rule `{label}`");
        let assign = assign_value(d, raw.assign.as_ref(), &what);
        let due = due_value(d, raw.due.as_ref(), &what);
        let tags = tags_value(d, raw.tags.as_ref(), &what);
        let contract = raw
            .contract
            .as_ref()
            .map(|c| c.get_ref().trim().to_string());

        let mut conditions = Vec::new();
        if let Some(m) = &raw.matches {
            let m = m.get_ref();
            let mut keys: Vec<(Field, &str, &S<String>)> = [
                (Field::From, "from", &m.from),
                (Field::To, "to", &m.to),
                (Field::Cc, "cc", &m.cc),
                (Field::Subject, "subject", &m.subject),
                (Field::Body, "body", &m.body),
                (Field::OriginalFrom, "original_from", &m.original_from),
            ]
            .into_iter()
            .filter_map(|(f, k, v)| v.as_ref().map(|v| (f, k, v)))
            .collect();
            for (h, v) in m.header.iter().flat_map(|h| h.get_ref()) {
                keys.push((Field::Header(h.to_ascii_lowercase()), "header", v));
            }
            for (field, key, pattern) in keys {
                // The syntax is checked here; compiling waits for `finish`, which compiles a
                // pattern with word boundaries once for its check and its confirmation.
                let what = format!("rule `{label}`: match.{key}");
                match regex_automata::util::syntax::parse(pattern.get_ref()) {
                    Ok(_) => {
                        let fi = self.field(field);
                        if let Some((_, patterns)) = self.fields.get_mut(fi) {
                            patterns.push(Pattern {
                                text: pattern.get_ref().clone(),
                                place: format!("{}: {what}", d.location(&pattern.span())),
                            });
                            conditions.push((fi, patterns.len() - 1));
                        }
                    }
                    Err(e) => d.at_spanned(pattern, not_a_regex(&what, &e)),
                }
            }
        }
        if d.count() > before {
            return;
        }
        if let Some(name) = name {
            self.rules.push(Rule {
                name,
                location,
                contract,
                conditions,
                category,
                priority,
                assign,
                due,
                tags,
                next,
            });
        }
    }

    fn finish(self) -> Result<RuleSet, RulesError> {
        let mut errors = self.errors;
        if !errors.is_empty() {
            return Err(RulesError { errors });
        }
        let built: Vec<Result<FieldMatcher, Vec<String>>> = self
            .fields
            .into_iter()
            .map(|(field, patterns)| FieldMatcher::build(field, &patterns))
            .collect();
        let mut fields = Vec::with_capacity(built.len());
        for b in built {
            match b {
                Ok(f) => fields.push(f),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(RulesError { errors });
        }
        Ok(RuleSet {
            rules: self.rules,
            fields,
            recurring: self.recurring,
        })
    }
}

impl RuleSet {
    /// Read every `*.toml` in `dir`, in file-name order.
    pub fn load(dir: &Path) -> Result<RuleSet, RulesError> {
        let unreadable = |e: std::io::Error| RulesError {
            errors: vec![format!(
                "{}: cannot read the rules directory: {e}",
                dir.display()
            )],
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                files.push(path);
            }
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut builder = Builder::default();
        for path in files {
            match std::fs::read(&path).map(String::from_utf8) {
                Ok(Ok(text)) => builder.add_file(&path.display().to_string(), &text),
                Ok(Err(_)) => builder
                    .errors
                    .push(format!("{}:1: not UTF-8 text", path.display())),
                Err(e) => builder
                    .errors
                    .push(format!("{}: cannot read: {e}", path.display())),
            }
        }
        builder.finish()
    }

    /// Rules from in-memory files `(name, text)`, in the order given (for tests and tools).
    pub fn from_files<N: AsRef<str>, T: AsRef<str>>(
        files: &[(N, T)],
    ) -> Result<RuleSet, RulesError> {
        let mut builder = Builder::default();
        for (name, text) in files {
            builder.add_file(name.as_ref(), text.as_ref());
        }
        builder.finish()
    }

    /// Rules that name a contract the config does not have (`musaid check`).
    pub fn check_contracts<'c>(
        &self,
        known: impl IntoIterator<Item = &'c str> + Clone,
    ) -> Result<(), RulesError> {
        let errors: Vec<String> = self
            .rules
            .iter()
            .filter_map(|r| {
                let c = r.contract.as_deref()?;
                if known.clone().into_iter().any(|k| k == c) {
                    return None;
                }
                let hint = match did_you_mean(c, known.clone()) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => "use a name from [contracts.NAME] in the config".to_string(),
                };
                Some(format!(
                    "{}: rule `{}`: no contract `{c}`; {hint}",
                    r.location, r.name
                ))
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RulesError { errors })
        }
    }
}

/// The `assign` of a rule or recurring entry (`what` names it in errors): an address,
/// lower-cased.
pub(super) fn assign_value(d: &mut Diag, assign: Option<&S<String>>, what: &str) -> Option<String> {
    assign.and_then(|a| {
        let addr = crate::model::normalize_address(a.get_ref());
        if is_valid_address(&addr) {
            Some(addr)
        } else {
            d.at_spanned(
                a,
                format!(
                    "{what}: assign = \"{}\" is not an address; write e.g. \"sara@va.example\"",
                    a.get_ref()
                ),
            );
            None
        }
    })
}

/// The `due` of a rule or recurring entry.
pub(super) fn due_value(d: &mut Diag, due: Option<&S<String>>, what: &str) -> Option<DueSpec> {
    due.and_then(|v| {
        DueSpec::from_str(v.get_ref())
            .map_err(|e| d.at_spanned(v, format!("{what}: {e}")))
            .ok()
    })
}

/// The `tags` of a rule or recurring entry: trimmed, each once, none empty.
pub(super) fn tags_value(
    d: &mut Diag,
    tags: Option<&S<Vec<S<String>>>>,
    what: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().flat_map(|t| t.get_ref()) {
        let tag = t.get_ref().trim();
        if tag.is_empty() {
            d.at_spanned(t, format!("{what}: a tag is empty"));
        } else if !out.iter().any(|x| x == tag) {
            out.push(tag.to_string());
        }
    }
    out
}
