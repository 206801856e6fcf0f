//! Rule files → a compiled [`RuleSet`] → [`Classification`] (SPEC, Rule files).
//!
//! Every `*.toml` in `rules_dir` is read in file-name order, its `[[rule]]` tables top to
//! bottom. The first matching rule without `continue = true` classifies the request;
//! matching `continue` rules on the way add their tags and set priority, assignee and due
//! as defaults that the classifying rule may override. No classifying rule: category
//! `general`.
//!
//! Patterns are compiled once: one [`regex::RegexSet`] per match key across all rules, so
//! a request's body is scanned once however many rules look at it.

use crate::config::{did_you_mean, is_valid_address, Diag};
use crate::model::Priority;
use crate::windows::DueSpec;
use regex::{Regex, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use toml::de::DeValue;
use toml::Spanned;

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
}

/// All rules' patterns for one field.
///
/// The set is built from the patterns with Unicode word boundaries (`\b`, `\B`, `\<`,
/// `\>`) taken out: the regex engine's fast DFA gives up on those as soon as it meets a
/// non-ASCII byte, and Arabic text is all non-ASCII. Without them a pattern matches a
/// superset of what it matched before, so the set names candidates, and each candidate
/// that lost a boundary is confirmed with its original regex.
#[derive(Debug, Clone)]
struct FieldMatcher {
    field: Field,
    set: RegexSet,
    /// Per pattern: how to confirm a candidate when the set holds a relaxed form of it.
    confirm: Vec<Option<Confirm>>,
}

/// A pattern whose word boundaries were taken out of the set.
///
/// Its original regex falls back to a slow engine on non-ASCII text (Arabic), so instead
/// of scanning the whole text it is tried only on the words around each match of the
/// relaxed form, with the full text as context for `\b` and anchors. That is exact for
/// the usual keyword patterns (`\b(invoice|receipt)\b`): a match of the original lies
/// within the words of a match of the relaxed form.
#[derive(Debug, Clone)]
struct Confirm {
    relaxed: Regex,
    original: regex_automata::meta::Regex,
}

impl Confirm {
    fn new(original: &str, relaxed: &str) -> Option<Confirm> {
        Some(Confirm {
            relaxed: Regex::new(relaxed).ok()?,
            original: regex_automata::meta::Regex::new(original).ok()?,
        })
    }

    fn is_match(&self, text: &str) -> bool {
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        self.relaxed.find_iter(text).any(|m| {
            let start = text
                .get(..m.start())
                .and_then(|t| t.char_indices().rev().find(|(_, c)| !is_word(*c)))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let end = text
                .get(m.end()..)
                .and_then(|t| t.char_indices().find(|(_, c)| !is_word(*c)))
                .map_or(text.len(), |(i, _)| m.end() + i);
            self.original
                .is_match(regex_automata::Input::new(text).range(start..end))
        })
    }
}

/// Every problem found in the rule files, each with `file:line`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct RulesError {
    pub errors: Vec<String>,
}

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

/// A rule's pattern for one field, with where it was written (`file:line: rule `x`: match.key`).
struct Pattern {
    text: String,
    place: String,
}

impl Pattern {
    /// Compile the pattern alone (as `regex` would, with its size limit, so that one too
    /// large is named with its `file:line`): the form for its field's set, and how to confirm
    /// that form's candidates. A pattern with word boundaries compiles whole in its
    /// [`Confirm`], which is then its check; any other is compiled for the check only.
    fn check(&self) -> Result<(String, Option<Confirm>), String> {
        let p = &self.text;
        let compiled = match relax(p) {
            Some(r) => Confirm::new(p, &r).map(|c| (r, Some(c))),
            None => Regex::new(p).ok().map(|_| (p.clone(), None)),
        };
        match compiled {
            Some(c) => Ok(c),
            None => match Regex::new(p) {
                Err(e) => Err(not_a_regex(&self.place, &e)),
                // Only its relaxed form failed: the set keeps the pattern as written.
                Ok(_) => Ok((p.clone(), None)),
            },
        }
    }
}

/// The error for a pattern that does not compile, its detail indented under it.
fn not_a_regex(what: &str, e: &dyn std::fmt::Display) -> String {
    let detail = e
        .to_string()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{what} is not a valid regex (Rust regex syntax):\n{detail}")
}

/// Rules as read, before the regex sets are built.
#[derive(Default)]
struct Builder {
    rules: Vec<Rule>,
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
                if key.get_ref() != "rule" {
                    let hint = match did_you_mean(key.get_ref(), ["rule"]) {
                        Some(_) => "did you mean [[rule]]?",
                        None => "a rule file holds only [[rule]] tables",
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
        let assign = raw.assign.as_ref().and_then(|a| {
            let addr = crate::model::normalize_address(a.get_ref());
            if is_valid_address(&addr) {
                Some(addr)
            } else {
                d.at_spanned(
                    a,
                    format!("rule `{label}`: assign = \"{}\" is not an address; write e.g. \"sara@va.example\"", a.get_ref()),
                );
                None
            }
        });
        let due = raw.due.as_ref().and_then(|v| {
            DueSpec::from_str(v.get_ref())
                .map_err(|e| d.at_spanned(v, format!("rule `{label}`: {e}")))
                .ok()
        });
        let mut tags: Vec<String> = Vec::new();
        for t in raw.tags.iter().flat_map(|t| t.get_ref()) {
            let tag = t.get_ref().trim();
            if tag.is_empty() {
                d.at_spanned(t, format!("rule `{label}`: a tag is empty"));
            } else if !tags.iter().any(|x| x == tag) {
                tags.push(tag.to_string());
            }
        }
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
        })
    }
}

impl FieldMatcher {
    /// Compile one field's patterns: each one alone ([`Pattern::check`]), then all of them
    /// as one set.
    fn build(field: Field, patterns: &[Pattern]) -> Result<FieldMatcher, Vec<String>> {
        let mut relaxed = Vec::with_capacity(patterns.len());
        let mut confirm = Vec::with_capacity(patterns.len());
        let mut errors = Vec::new();
        for c in patterns.iter().map(Pattern::check) {
            match c {
                Ok((r, c)) => {
                    relaxed.push(r);
                    confirm.push(c);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        match RegexSetBuilder::new(&relaxed)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
        {
            Ok(set) => Ok(FieldMatcher {
                field,
                set,
                confirm,
            }),
            Err(e) => Err(vec![format!(
                "the rules' {field:?} patterns together are too large: {e}"
            )]),
        }
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

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    pub fn classify(&self, input: &RuleInput<'_>) -> Classification {
        // Each field's set runs at most once, and only when a rule asks.
        let mut seen: Vec<Option<(Vec<&str>, Vec<Hit>)>> = vec![None; self.fields.len()];
        let mut result = Classification {
            rule: None,
            category: DEFAULT_CATEGORY.to_string(),
            priority: Priority::Normal,
            assignee: None,
            due: None,
            tags: Vec::new(),
        };
        for rule in &self.rules {
            if rule
                .contract
                .as_deref()
                .is_some_and(|c| c != input.contract)
            {
                continue;
            }
            let all = rule.conditions.iter().all(|&(fi, pi)| {
                let (Some(slot), Some(field)) = (seen.get_mut(fi), self.fields.get(fi)) else {
                    return false;
                };
                let (texts, hits) = slot.get_or_insert_with(|| {
                    let texts = field.texts(input);
                    let hits = field.scan(&texts);
                    (texts, hits)
                });
                match hits.get(pi).copied() {
                    Some(Hit::Yes) => true,
                    Some(Hit::Maybe) => {
                        let yes = field.confirm(pi, texts);
                        if let Some(h) = hits.get_mut(pi) {
                            *h = if yes { Hit::Yes } else { Hit::No };
                        }
                        yes
                    }
                    _ => false,
                }
            });
            if !all {
                continue;
            }
            for t in &rule.tags {
                if !result.tags.contains(t) {
                    result.tags.push(t.clone());
                }
            }
            if let Some(p) = rule.priority {
                result.priority = p;
            }
            if rule.assign.is_some() {
                result.assignee.clone_from(&rule.assign);
            }
            if rule.due.is_some() {
                result.due = rule.due;
            }
            if !rule.next {
                result.rule = Some(rule.name.clone());
                if let Some(c) = &rule.category {
                    result.category.clone_from(c);
                }
                break;
            }
        }
        result
    }
}

/// What the set said of one pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    No,
    Yes,
    /// The relaxed form matched; the original is still to be tried.
    Maybe,
}

impl FieldMatcher {
    /// The texts of this field in the request; for lists, any element may match.
    fn texts<'a>(&self, input: &RuleInput<'a>) -> Vec<&'a str> {
        match &self.field {
            Field::Subject => vec![input.subject],
            Field::Body => vec![input.body],
            Field::From => vec![input.from]
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            Field::OriginalFrom => vec![input.original_from]
                .into_iter()
                .filter(|a| !a.is_empty())
                .collect(),
            Field::To => input.to.iter().map(String::as_str).collect(),
            Field::Cc => input.cc.iter().map(String::as_str).collect(),
            Field::Header(name) => input
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect(),
        }
    }

    /// Which of the field's patterns match any of its texts.
    ///
    /// The search that names every matching pattern has to run the automaton over the whole
    /// text, a byte at a time. One that stops at the first match of any pattern runs its faster
    /// loop (and the set's prefilter, when it has one), so it goes first: a text that matches
    /// no pattern is settled by it alone, and the full scan runs only where it found one.
    fn scan(&self, texts: &[&str]) -> Vec<Hit> {
        let mut hits = vec![Hit::No; self.set.len()];
        for text in texts {
            if !self.set.is_match(text) {
                continue;
            }
            for i in self.set.matches(text).iter() {
                if let Some(h) = hits.get_mut(i) {
                    let needs_confirm = matches!(self.confirm.get(i), Some(Some(_)));
                    *h = match (*h, needs_confirm) {
                        (Hit::Yes, _) | (_, false) => Hit::Yes,
                        _ => Hit::Maybe,
                    };
                }
            }
        }
        hits
    }

    /// Settle a `Maybe` with the original pattern.
    fn confirm(&self, pattern: usize, texts: &[&str]) -> bool {
        match self.confirm.get(pattern) {
            Some(Some(c)) => texts.iter().any(|t| c.is_match(t)),
            _ => true,
        }
    }
}

/// The pattern without word-boundary assertions (`\b`, `\B`, `\b{…}`, `\<`, `\>`), or
/// None when it has none. Dropping an assertion can only widen what a pattern matches.
fn relax(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut class_depth = 0usize;
    let mut changed = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                // `(?-u:\b)`, the ASCII word boundary, is fast already.
                Some('b') if out.ends_with("(?-u:") && chars.peek() == Some(&')') => {
                    out.push_str("\\b")
                }
                Some('b' | 'B' | '<' | '>') if class_depth == 0 => {
                    changed = true;
                    if chars.peek() == Some(&'{') {
                        for c in chars.by_ref() {
                            if c == '}' {
                                break;
                            }
                        }
                    }
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
                // A `]` (or `^]`) right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(subject: &'a str, body: &'a str) -> RuleInput<'a> {
        RuleInput {
            contract: "acme",
            from: "boss@acme.example",
            subject,
            body,
            ..RuleInput::default()
        }
    }

    fn set(files: &[(&str, &str)]) -> RuleSet {
        match RuleSet::from_files(files) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        match RuleSet::from_files(&[("r.toml", text)]) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e.errors,
        }
    }

    #[track_caller]
    fn assert_error(errors: &[String], line: usize, hints: &[&str]) {
        let loc = format!("r.toml:{line}: ");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&loc) && hints.iter().all(|h| e.contains(h))),
            "no error at line {line} with {hints:?} in:\n{}",
            errors.join("\n")
        );
    }

    /// The example rules shipped in rules/, in file-name order.
    fn examples() -> RuleSet {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        match RuleSet::load(&dir) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn relax_drops_only_word_boundaries() {
        assert_eq!(
            relax(r"(?i)\b(invoice|bill)\b|فاتورة").as_deref(),
            Some(r"(?i)(invoice|bill)|فاتورة")
        );
        assert_eq!(relax(r"\Bx\b{start}y\<z\>").as_deref(), Some("xyz"));
        assert_eq!(
            relax(r"\\b[\b\]]"),
            None,
            "escaped backslash and classes are kept"
        );
        assert_eq!(relax(r"[]\b]"), None);
        assert_eq!(relax(r"^\s*(urgent)$"), None);
        assert_eq!(relax(r"a\b"), Some("a".to_string()));
        assert_eq!(relax(r"(?-u:\b)call(?-u:\b)"), None);
    }

    #[test]
    fn word_boundaries_still_hold_in_arabic_and_english_text() {
        let rules = set(&[(
            "r.toml",
            "[[rule]]\nname = \"call\"\nmatch.body = '(?i)\\bcall\\b'\ncategory = \"scheduling\"\n\
             [[rule]]\nname = \"inv\"\nmatch.body = '\\bفاتورة\\b'\ncategory = \"bookkeeping\"\n",
        )]);
        assert_eq!(
            rules
                .classify(&input("", "مرحبا، please call me غدا"))
                .category,
            "scheduling"
        );
        assert_eq!(
            rules.classify(&input("", "مرحبا، I recall it")).category,
            "general"
        );
        assert_eq!(
            rules.classify(&input("", "هذه فاتورة الشهر")).category,
            "bookkeeping"
        );
        assert_eq!(
            rules.classify(&input("", "هذه الفاتورة")).category,
            "general",
            "\\b refuses a prefix"
        );
        // The original may match a longer alternative than the relaxed form found first.
        let rules = set(&[(
            "r.toml",
            "[[rule]]\nname = \"c\"\nmatch.body = '\\bcat\\b|category'\ncategory = \"x\"\n\
             [[rule]]\nname = \"u\"\nmatch.body = '(?m)^\\s*urgent\\b'\ncategory = \"y\"\n",
        )]);
        assert_eq!(
            rules.classify(&input("", "سطر\nnew category")).category,
            "x"
        );
        assert_eq!(
            rules.classify(&input("", "سطر\nconcatenate")).category,
            "general"
        );
        assert_eq!(
            rules.classify(&input("", "سطر\n  urgent: هذا")).category,
            "y"
        );
        assert_eq!(
            rules.classify(&input("", "سطر urgent\nurgently")).category,
            "general"
        );
    }

    /// The example of SPEC.md, Rule files, verbatim.
    const SPEC_RULE: &str = r#"[[rule]]
name = "invoices"
contract = "acme"                      # optional: only for this contract
match.subject = '(?i)\b(invoice|receipt|فاتورة|إيصال)\b'
match.original_from = '@supplier\.example$'          # also: from, to, cc, body, header."List-Id"
category = "bookkeeping"
priority = "high"                      # low | normal | high | urgent
assign   = "sara@va.example"
due      = "2 business days"           # counted in the contract's windows and holidays
tags     = ["finance"]
"#;

    #[test]
    fn spec_example_rule() {
        let rules = set(&[("spec.toml", SPEC_RULE)]);
        let mut i = input("Invoice 7 attached", "");
        i.original_from = "billing@supplier.example";
        let c = rules.classify(&i);
        assert_eq!(c.rule.as_deref(), Some("invoices"));
        assert_eq!(
            (c.category.as_str(), c.priority),
            ("bookkeeping", Priority::High)
        );
        assert_eq!(c.assignee.as_deref(), Some("sara@va.example"));
        assert_eq!(c.due, Some(DueSpec::BusinessDays(2)));
        assert_eq!(c.tags, vec!["finance"]);
        i.subject = "مرفق فاتورة الشهر";
        assert_eq!(rules.classify(&i).category, "bookkeeping");
        i.subject = "الفاتورة";
        assert_eq!(
            rules.classify(&i).category,
            "general",
            "\\b as the SPEC example wrote it"
        );
        i.subject = "Invoice 7";
        i.contract = "other";
        assert_eq!(rules.classify(&i).category, "general");
    }

    #[test]
    fn first_matching_rule_classifies_in_file_then_table_order() {
        let rules = set(&[
            (
                "10.toml",
                "[[rule]]\nname = \"a\"\nmatch.subject = 'x'\ncategory = \"first\"\n\
                 [[rule]]\nname = \"b\"\nmatch.subject = 'x'\ncategory = \"second\"\n",
            ),
            (
                "20.toml",
                "[[rule]]\nname = \"c\"\nmatch.subject = 'y'\ncategory = \"third\"\n",
            ),
        ]);
        assert_eq!(rules.len(), 3);
        let c = rules.classify(&input("x y", ""));
        assert_eq!(
            (c.rule.as_deref(), c.category.as_str()),
            (Some("a"), "first")
        );
        let c = rules.classify(&input("y", ""));
        assert_eq!(
            (c.rule.as_deref(), c.category.as_str()),
            (Some("c"), "third")
        );
        let c = rules.classify(&input("z", ""));
        assert_eq!(
            c,
            Classification {
                rule: None,
                category: "general".into(),
                priority: Priority::Normal,
                assignee: None,
                due: None,
                tags: vec![],
            }
        );
    }

    #[test]
    fn continue_rules_add_tags_and_defaults() {
        let rules = set(&[(
            "r.toml",
            r#"
[[rule]]
name = "urgent"
match.subject = '(?i)urgent'
priority = "urgent"
assign = "Ali@VA.example"
due = "4 business hours"
tags = ["urgent", "x"]
continue = true

[[rule]]
name = "vip"
match.from = '^boss@'
tags = ["vip", "x"]
continue = true

[[rule]]
name = "invoice"
match.subject = '(?i)invoice'
category = "bookkeeping"
due = "2 business days"
tags = ["finance"]

[[rule]]
name = "invoice-high"
match.subject = '(?i)invoice'
category = "never"
priority = "high"
"#,
        )]);
        let c = rules.classify(&input("URGENT invoice", ""));
        assert_eq!(c.rule.as_deref(), Some("invoice"));
        assert_eq!(c.category, "bookkeeping");
        assert_eq!(
            c.priority,
            Priority::Urgent,
            "the classifying rule sets no priority"
        );
        assert_eq!(c.assignee.as_deref(), Some("ali@va.example"));
        assert_eq!(
            c.due,
            Some(DueSpec::BusinessDays(2)),
            "the classifying rule overrides due"
        );
        assert_eq!(c.tags, vec!["urgent", "x", "vip", "finance"]);
        // Continue rules alone do not classify.
        let c = rules.classify(&input("urgent: call me", ""));
        assert_eq!(
            (c.rule, c.category.as_str(), c.priority),
            (None, "general", Priority::Urgent)
        );
        assert_eq!(c.tags, vec!["urgent", "x", "vip"]);
    }

    #[test]
    fn classifying_rule_overrides_continue_priority() {
        let rules = set(&[(
            "r.toml",
            "[[rule]]\nname = \"u\"\nmatch.subject = 'u'\npriority = \"urgent\"\ncontinue = true\n\
             [[rule]]\nname = \"low\"\nmatch.subject = 'u'\ncategory = \"c\"\npriority = \"low\"\n",
        )]);
        assert_eq!(rules.classify(&input("u", "")).priority, Priority::Low);
    }

    #[test]
    fn contract_filter_and_multi_key_rules() {
        let rules = set(&[(
            "r.toml",
            r#"
[[rule]]
name = "acme-only"
contract = "acme"
match.subject = 'report'
category = "acme-reports"

[[rule]]
name = "supplier-invoices"
match.subject = '(?i)invoice'
match.original_from = '@supplier\.example$'
match.to = '^billing@'
category = "supplier"

[[rule]]
name = "list"
match.header."List-Id" = 'news\.example'
match.cc = '^ali@'
category = "lists"

[[rule]]
name = "catch-all"
category = "other"
"#,
        )]);
        let mut i = input("report", "");
        assert_eq!(rules.classify(&i).rule.as_deref(), Some("acme-only"));
        i.contract = "beta";
        assert_eq!(rules.classify(&i).rule.as_deref(), Some("catch-all"));

        let to = vec![
            "sara@va.example".to_string(),
            "billing@acme.example".to_string(),
        ];
        let mut i = input("Invoice 42", "");
        i.to = &to;
        assert_eq!(
            rules.classify(&i).rule.as_deref(),
            Some("catch-all"),
            "original_from missing"
        );
        i.original_from = "ar@supplier.example";
        assert_eq!(
            rules.classify(&i).rule.as_deref(),
            Some("supplier-invoices")
        );
        i.to = &[];
        assert_eq!(
            rules.classify(&i).rule.as_deref(),
            Some("catch-all"),
            "to must match too"
        );

        let headers = vec![("list-id".to_string(), "<weekly.news.example>".to_string())];
        let cc = vec!["ali@va.example".to_string()];
        let mut i = input("hello", "");
        i.headers = &headers;
        assert_eq!(
            rules.classify(&i).rule.as_deref(),
            Some("catch-all"),
            "cc must match too"
        );
        i.cc = &cc;
        assert_eq!(rules.classify(&i).rule.as_deref(), Some("list"));
    }

    #[test]
    fn arabic_patterns_match_inside_words() {
        let rules = set(&[(
            "r.toml",
            "[[rule]]\nname = \"inv\"\nmatch.body = 'فاتور[ةه]|[إا]يصال'\ncategory = \"bookkeeping\"\n",
        )]);
        for body in [
            "أرجو إرسال الفاتورة اليوم",
            "مرفق بفاتورة الشهر",
            "وفاتوره أخرى",
            "هذا ايصال الدفع",
            "Please see the attached فاتورة.",
        ] {
            assert_eq!(
                rules.classify(&input("", body)).category,
                "bookkeeping",
                "{body}"
            );
        }
        assert_eq!(
            rules.classify(&input("", "موعد الاجتماع غدا")).category,
            "general"
        );
    }

    #[test]
    fn example_rules_classify_typical_requests() {
        let rules = examples();
        assert!(rules.len() >= 15, "{}", rules.len());
        let cases = [
            ("Fwd: Invoice #4411 from Supplier", "", "bookkeeping"),
            ("إرسال الفاتورة للعميل", "", "bookkeeping"),
            (
                "Fwd: hello",
                "Please pay this, the amount due is 300 SAR",
                "bookkeeping",
            ),
            ("Fwd:", "مرفق ايصال التحويل", "bookkeeping"),
            ("Can you set a meeting with Omar?", "", "scheduling"),
            ("تحديد موعد مع الطبيب", "", "scheduling"),
            ("اجتماع الفريق الأسبوعي", "", "scheduling"),
            ("Fwd: Invitation: Q4 review @ Tue 10am", "", "scheduling"),
            ("New Instagram post for Ramadan", "", "social-media"),
            ("منشور جديد على انستقرام", "", "social-media"),
            ("The website is down", "", "website"),
            ("تحديث صفحة المتجر", "", "website"),
            ("Add these leads to the CRM", "", "data-entry"),
            ("إدخال بيانات العملاء في الإكسل", "", "data-entry"),
            ("Book a flight to Dubai", "", "travel"),
            ("حجز فندق في جدة", "", "travel"),
            ("Lunch?", "see you", "general"),
        ];
        for (subject, body, category) in cases {
            assert_eq!(
                rules.classify(&input(subject, body)).category,
                category,
                "{subject} / {body}"
            );
        }
        let c = rules.classify(&input("عاجل: الفاتورة", ""));
        assert_eq!(
            (c.category.as_str(), c.priority),
            ("bookkeeping", Priority::Urgent)
        );
        assert_eq!(c.tags, vec!["urgent", "finance"]);
        let c = rules.classify(&input("URGENT - flight change", ""));
        assert_eq!(
            (c.category.as_str(), c.priority),
            ("travel", Priority::Urgent)
        );
        let c = rules.classify(&input("hello", "asap please\nthanks"));
        assert_eq!(
            (c.category.as_str(), c.priority),
            ("general", Priority::Urgent)
        );
        let headers = vec![("X-Priority".to_string(), "1 (Highest)".to_string())];
        let mut i = input("Book a hotel", "");
        i.headers = &headers;
        let c = rules.classify(&i);
        assert_eq!(
            (c.category.as_str(), c.priority),
            ("travel", Priority::High)
        );
        assert_eq!(c.tags, vec!["flagged", "travel"]);
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let text = r#"[[rule]]
name = "bad-regex"
match.subject = '(unclosed'
category = "x"

[[rule]]
name = "typo"
match.subjcet = 'x'
categroy = "x"

[[rule]]
match.subject = 'x'
category = "x"

[[rule]]
name = "no-category"
match.body = 'x'

[[rule]]
name = "bad-priority"
category = "x"
priority = "critical"

[[rule]]
name = "bad-priority"
category = "x"
due = "soon"
assign = "nobody"

[[rule]]
name = "cont"
category = "x"
continue = true
"#;
        let errs = errors(text);
        assert_error(
            &errs,
            3,
            &["rule `bad-regex`", "not a valid regex", "unclosed group"],
        );
        assert_error(
            &errs,
            8,
            &["unknown key `subjcet`", "did you mean `subject`?"],
        );
        assert_error(
            &errs,
            9,
            &["unknown key `categroy`", "did you mean `category`?"],
        );
        assert_error(&errs, 11, &["has no name", "name = "]);
        assert_error(
            &errs,
            15,
            &["rule `no-category` has no category", "continue = true"],
        );
        assert_error(
            &errs,
            22,
            &["unknown priority `critical`", "low, normal, high or urgent"],
        );
        assert_error(
            &errs,
            25,
            &[
                "duplicate rule name `bad-priority`",
                "first defined at r.toml:19",
            ],
        );
        assert_error(&errs, 27, &["due \"soon\""]);
        assert_error(&errs, 28, &["assign = \"nobody\"", "sara@va.example"]);
        assert_error(&errs, 32, &["continue rule does not classify"]);
        let errs = errors("[rule]\nname = \"x\"\ncategory = \"y\"\n");
        assert_error(&errs, 1, &["[[rule]] (double brackets)"]);
        let errs = errors("[[rules]]\nname = \"x\"\n");
        assert_error(&errs, 1, &["unknown key `rules`", "did you mean [[rule]]?"]);
        let errs = errors("[[rule]]\nname = \"x\"\ncategory = 'y\n");
        assert_error(&errs, 3, &["TOML syntax"]);
        let errs =
            errors("[[rule]]\nname = \"x\"\ncategory = \"y\"\nmatch.header.\"List-Id\" = '['\n");
        assert_error(&errs, 4, &["match.header is not a valid regex"]);
    }

    #[test]
    fn a_pattern_too_large_to_compile_is_named_with_its_line() {
        // Valid syntax, but over the regex size limit once compiled: found only when the
        // patterns are compiled, after the files are read, and still placed.
        for pattern in [r"\w{3000}", r"\b\w{3000}\b"] {
            let errs = errors(&format!(
                "[[rule]]\nname = \"small\"\nmatch.body = 'x'\ncategory = \"y\"\n\n\
                 [[rule]]\nname = \"big\"\nmatch.body = '{pattern}'\ncategory = \"y\"\n"
            ));
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_error(
                &errs,
                8,
                &["rule `big`: match.body is not a valid regex", "size limit"],
            );
        }
    }

    #[test]
    fn more_error_paths() {
        let cases: [(&str, usize, &[&str]); 6] = [
            (
                "[[rule]]\nname = \" \"\ncategory = \"x\"\n",
                2,
                &["name is empty"],
            ),
            (
                "[[rule]]\nname = \"a\"\ncategory = \"\"\n",
                3,
                &["rule `a`: category is empty"],
            ),
            (
                "[[rule]]\nname = \"a\"\ncategory = \"x\"\ntags = [\"\"]\n",
                4,
                &["a tag is empty"],
            ),
            (
                "[[rule]]\nname = \"a\"\ncategory = \"x\"\nmatch.sender = 'x'\n",
                4,
                &["unknown key `sender`", "the keys here are from"],
            ),
            (
                "[[rule]]\nname = \"a\"\ncategory = \"x\"\ncontinue = \"yes\"\n",
                4,
                &["continue", "expected true or false"],
            ),
            ("rule = [1]\n", 1, &["[[rule]] must be a table"]),
        ];
        for (text, line, hints) in cases {
            assert_error(&errors(text), line, hints);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), b"\xff\xfe").unwrap();
        let err = RuleSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.toml:1: not UTF-8 text"), "{err}");
    }

    #[test]
    fn duplicate_names_across_files_and_unknown_contracts() {
        let err = RuleSet::from_files(&[
            ("a.toml", "[[rule]]\nname = \"x\"\ncategory = \"c\"\n"),
            ("b.toml", "\n[[rule]]\nname = \"x\"\ncategory = \"c\"\n"),
        ])
        .unwrap_err();
        assert!(
            err.errors
                .iter()
                .any(|e| e.starts_with("b.toml:3:") && e.contains("a.toml:1")),
            "{err}"
        );
        let rules = set(&[(
            "a.toml",
            "[[rule]]\nname = \"x\"\ncontract = \"acmee\"\ncategory = \"c\"\n",
        )]);
        let err = rules.check_contracts(["acme", "beta"]).unwrap_err();
        assert!(
            err.errors
                .iter()
                .any(|e| e.starts_with("a.toml:1:") && e.contains("did you mean `acme`?")),
            "{err}"
        );
        assert!(set(&[(
            "a.toml",
            "[[rule]]\nname = \"x\"\ncontract = \"acme\"\ncategory = \"c\"\n"
        )])
        .check_contracts(["acme"])
        .is_ok());
    }

    #[test]
    fn load_reads_toml_files_in_name_order_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("20-b.toml"),
            "[[rule]]\nname = \"b\"\nmatch.subject = 'x'\ncategory = \"b\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("10-a.toml"),
            "[[rule]]\nname = \"a\"\nmatch.subject = 'x'\ncategory = \"a\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a rule file").unwrap();
        let rules = RuleSet::load(dir.path()).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules.classify(&input("x", "")).category, "a");
        std::fs::write(
            dir.path().join("30-c.toml"),
            "[[rule]]\nname = \"c\"\nnope = 1\ncategory = \"c\"\n",
        )
        .unwrap();
        let err = RuleSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("30-c.toml:3: unknown key `nope`"), "{err}");
        let missing = RuleSet::load(&dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("cannot read the rules directory"),
            "{missing}"
        );
    }
}
