//! Matching: each field's patterns compiled into one [`RegexSet`], and a request classified
//! by the first rule whose patterns all match.

use super::{Classification, Field, RuleInput, RuleSet, DEFAULT_CATEGORY};
use crate::model::Priority;
use regex::{Regex, RegexSet, RegexSetBuilder};

/// All rules' patterns for one field.
///
/// The set is built from the patterns with Unicode word boundaries (`\b`, `\B`, `\<`,
/// `\>`) taken out: the regex engine's fast DFA gives up on those as soon as it meets a
/// non-ASCII byte, and Arabic text is all non-ASCII. Without them a pattern matches a
/// superset of what it matched before, so the set names candidates, and each candidate
/// that lost a boundary is confirmed with its original regex.
#[derive(Debug, Clone)]
pub(super) struct FieldMatcher {
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

/// A rule's pattern for one field, with where it was written (`file:line: rule `x`: match.key`).
pub(super) struct Pattern {
    pub(super) text: String,
    pub(super) place: String,
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
pub(super) fn not_a_regex(what: &str, e: &dyn std::fmt::Display) -> String {
    let detail = e
        .to_string()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!("{what} is not a valid regex (Rust regex syntax):\n{detail}")
}

impl FieldMatcher {
    /// Compile one field's patterns: each one alone ([`Pattern::check`]), then all of them
    /// as one set.
    pub(super) fn build(field: Field, patterns: &[Pattern]) -> Result<FieldMatcher, Vec<String>> {
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
pub(super) fn relax(pattern: &str) -> Option<String> {
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
