//! Located diagnostics for TOML files: `file:line: message`, collected rather than
//! stopping at the first, and serde errors turned into hints.

use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::ops::Range;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// Errors found in one file, each already prefixed with `file:line:`.
pub(crate) struct Diag<'a> {
    file: String,
    text: &'a str,
    /// (line, message) in the order found.
    errors: Vec<(usize, String)>,
}

impl<'a> Diag<'a> {
    pub fn new(file: impl Display, text: &'a str) -> Self {
        Diag {
            file: file.to_string(),
            text,
            errors: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            + 1
    }

    pub fn location(&self, span: &Range<usize>) -> String {
        format!("{}:{}", self.file, self.line(span.start))
    }

    pub fn at(&mut self, span: &Range<usize>, msg: impl Display) {
        let loc = self.location(span);
        self.errors
            .push((self.line(span.start), format!("{loc}: {msg}")));
    }

    /// How many errors so far.
    pub fn count(&self) -> usize {
        self.errors.len()
    }

    /// The errors in line order (stable for one line).
    pub fn finish(mut self) -> Vec<String> {
        self.errors.sort_by_key(|(line, _)| *line);
        self.errors.into_iter().map(|(_, m)| m).collect()
    }

    pub fn at_spanned<T>(&mut self, value: &Spanned<T>, msg: impl Display) {
        self.at(&value.span(), msg);
    }

    /// Parse the file as TOML, reporting every syntax error.
    pub fn parse(&mut self) -> Option<Spanned<DeTable<'a>>> {
        let (table, errors) = DeTable::parse_recoverable(self.text);
        if errors.is_empty() {
            return Some(table);
        }
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            self.at(&span, format!("TOML syntax: {}", e.message().trim()));
        }
        None
    }

    /// Deserialize one table into `T` (a `deny_unknown_fields` struct whose fields are all
    /// optional), reporting every bad key: a key that fails is reported, dropped and the
    /// rest tried again. Returns the value and the names of the keys that were dropped.
    pub fn deserialize<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'a>>,
        section: &str,
    ) -> Option<(T, BTreeSet<String>)> {
        let span = value.span();
        let DeValue::Table(table) = value.get_ref() else {
            self.at(
                &span,
                format!(
                    "{section} must be a table, not {}",
                    value.get_ref().type_str()
                ),
            );
            return None;
        };
        let mut table = table.clone();
        let mut dropped = BTreeSet::new();
        // Each round drops one key, so this ends.
        for _ in 0..=table.len() {
            let de =
                ValueDeserializer::from(Spanned::new(span.clone(), DeValue::Table(table.clone())));
            match T::deserialize(de) {
                Ok(v) => return Some((v, dropped)),
                Err(e) => {
                    let espan = e.span().unwrap_or(span.clone());
                    let key = table
                        .iter()
                        .find(|(k, v)| contains(&k.span(), &espan) || contains(&v.span(), &espan))
                        .map(|(k, _)| k.clone());
                    let name = key.as_ref().map(|k| k.get_ref().to_string());
                    self.at(&espan, explain(section, name.as_deref(), e.message()));
                    let key = key?;
                    table.remove(&key);
                    dropped.insert(key.get_ref().to_string());
                }
            }
        }
        None
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// A serde message in the user's words: unknown keys get a "did you mean" hint.
fn explain(section: &str, key: Option<&str>, message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        let (unknown, expected) = names.split_first().map_or(("?", &[][..]), |(u, e)| (*u, e));
        let hint = match did_you_mean(unknown, expected.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if expected.is_empty() => "no keys are allowed here".to_string(),
            None => format!("the keys here are {}", expected.join(", ")),
        };
        return format!("unknown key `{unknown}` in {section}; {hint}");
    }
    let message = message
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected a list like [\"a\", \"b\"]")
        .replace("expected a boolean", "expected true or false");
    match key {
        Some(k) => format!("{section} {k}: {message}"),
        None => format!("{section}: {message}"),
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 4).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: edits and swaps of neighbours count one each.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut m = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        m[i * w] = i;
    }
    for (j, cell) in m.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (m[(i - 1) * w + j] + 1)
                .min(m[i * w + j - 1] + 1)
                .min(m[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(m[(i - 2) * w + j - 2] + 1);
            }
            m[i * w + j] = v;
        }
    }
    m[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let d = Diag::new("f.toml", "a\nb\nc");
        assert_eq!(d.line(0), 1);
        assert_eq!(d.line(2), 2);
        assert_eq!(d.line(4), 3);
        assert_eq!(d.line(999), 3);
    }

    #[test]
    fn typos_get_suggestions() {
        let keys = ["host", "port", "poll_interval", "password_file"];
        assert_eq!(did_you_mean("pol_interval", keys), Some("poll_interval"));
        assert_eq!(did_you_mean("prot", keys), Some("port"));
        assert_eq!(did_you_mean("passwd_file", keys), Some("password_file"));
        assert_eq!(did_you_mean("colour", keys), None);
    }
}
