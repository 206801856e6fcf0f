//! The small value readers shared by every section: spanned values, dates, required keys,
//! paths and addresses. They know nothing of the sections that use them.

use super::diag::Diag;
use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

/// A date written as a string (`"2026-12-02"`) or as a TOML date (`2026-12-02`).
pub(super) struct DateOrString(pub(super) String);

impl<'de> Deserialize<'de> for DateOrString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DateOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date like \"2026-12-02\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateOrString, E> {
                Ok(DateOrString(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DateOrString, A::Error> {
                let dt =
                    toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(DateOrString(dt.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Report a required key that is absent (and was not already reported as broken).
pub(super) fn required<'v, T>(
    d: &mut Diag<'_>,
    value: &'v Option<S<T>>,
    dropped: &BTreeSet<String>,
    key: &str,
    section: &str,
    span: &Range<usize>,
    example: &str,
) -> Option<&'v S<T>> {
    if value.is_none() && !dropped.contains(key) {
        d.at(
            span,
            format!("{section}: `{key}` is missing; add e.g. `{key} = {example}`"),
        );
    }
    value.as_ref()
}

pub(super) fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

pub(super) fn path_value(
    d: &mut Diag<'_>,
    v: &S<String>,
    key: &str,
    base: &Path,
) -> Option<PathBuf> {
    if v.get_ref().trim().is_empty() {
        d.at_spanned(v, format!("`{key}` is empty; write a path"));
        return None;
    }
    Some(resolve_path(base, v.get_ref()))
}

/// Is this a plausible mail address (`local@domain`, nothing else)?
pub fn is_valid_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"'))
}

pub(super) fn address_value(d: &mut Diag<'_>, v: &S<String>, key: &str) -> Option<String> {
    let a = crate::model::normalize_address(v.get_ref());
    if is_valid_address(&a) && !v.get_ref().contains('<') {
        return Some(a);
    }
    let hint = match v.get_ref().rsplit_once('<') {
        Some((_, inner)) => format!(
            "write only the address, e.g. \"{}\"",
            inner.trim_end_matches('>').trim()
        ),
        None => "write an address like \"sara@va.example\"".to_string(),
    };
    d.at_spanned(
        v,
        format!("{key} = \"{}\" is not a mail address; {hint}", v.get_ref()),
    );
    None
}
