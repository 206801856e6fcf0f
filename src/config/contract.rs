//! `[contracts.NAME]`: owners, VAs, time zone, windows, holidays, summary, rate and escalation.

use super::diag::Diag;
use super::values::{address_value, is_valid_address, required, DateOrString, S};
use super::*;
use crate::windows::{DueSpec, WindowSpec};
use chrono_tz::Tz;
use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;
use std::str::FromStr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContract {
    owners: Option<S<Vec<S<String>>>>,
    vas: Option<S<Vec<S<String>>>>,
    timezone: Option<S<String>>,
    windows: Option<S<Vec<S<RawWindow>>>>,
    holidays: Option<S<Vec<S<DateOrString>>>>,
    language: Option<S<String>>,
    summary: Option<S<RawSummary>>,
    rate: Option<S<RawRate>>,
    escalate_to: Option<S<Vec<S<String>>>>,
    escalate_after: Option<S<String>>,
    retainer: Option<S<RawRetainer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetainer {
    hours: Option<S<f64>>,
    per: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSummary {
    cron: Option<S<String>>,
    to: Option<S<Vec<S<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    per_hour: Option<S<f64>>,
    currency: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCronWindow {
    cron: Option<S<String>>,
    #[serde(rename = "for")]
    length: Option<S<String>>,
}

/// A window: `"Sun-Thu 08:00-10:00"` or `{ cron = "…", for = "2h" }`.
enum RawWindow {
    Text(String),
    Cron(RawCronWindow),
}

impl<'de> Deserialize<'de> for RawWindow {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawWindow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a window like \"Sun-Thu 08:00-10:00\" or { cron = \"0 0 8 * * Sun-Thu\", for = \"2h\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawWindow, E> {
                Ok(RawWindow::Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawWindow, A::Error> {
                RawCronWindow::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawWindow::Cron)
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) fn valid_contract_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn owner_pattern(d: &mut Diag<'_>, v: &S<String>, section: &str) -> Option<OwnerPattern> {
    let t = crate::model::normalize_address(v.get_ref());
    if t == "*" {
        return Some(OwnerPattern::Any);
    }
    if let Some(domain) = t.strip_prefix("*@") {
        if is_valid_address(&format!("x@{domain}")) {
            return Some(OwnerPattern::Domain(domain.to_string()));
        }
    } else if is_valid_address(&t) && !v.get_ref().contains('<') {
        return Some(OwnerPattern::Exact(t));
    }
    let hint = if let Some(domain) = t.strip_prefix('@') {
        format!("for everyone at a domain write \"*@{domain}\"")
    } else {
        "write an address (\"boss@acme.example\"), a domain (\"*@acme.example\") or \"*\""
            .to_string()
    };
    d.at_spanned(
        v,
        format!(
            "{section} owners: \"{}\" is no owner pattern; {hint}",
            v.get_ref()
        ),
    );
    None
}

fn timezone_value(d: &mut Diag<'_>, v: &S<String>, section: &str) -> Option<Tz> {
    let t = v.get_ref().trim();
    if let Ok(tz) = Tz::from_str(t) {
        return Some(tz);
    }
    // A case slip, or a city without its region ("Riyadh" → "Asia/Riyadh").
    let lower = t.to_ascii_lowercase().replace(' ', "_");
    let guess = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name())
        .find(|n| {
            n.eq_ignore_ascii_case(t)
                || n.rsplit('/')
                    .next()
                    .is_some_and(|city| city.eq_ignore_ascii_case(&lower))
        })
        .or_else(|| super::did_you_mean(t, chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())));
    let hint = match guess {
        Some(g) => format!("did you mean \"{g}\"?"),
        None => "write an IANA name such as \"Asia/Riyadh\", \"Africa/Cairo\" or \"Europe/London\""
            .to_string(),
    };
    d.at_spanned(
        v,
        format!("{section} timezone = \"{t}\" is not an IANA time zone; {hint}"),
    );
    None
}

fn date_value(d: &mut Diag<'_>, v: &S<DateOrString>, what: &str) -> Option<NaiveDate> {
    let t = v.get_ref().0.trim();
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(date) if t.len() == 10 => Some(date),
        _ => {
            d.at_spanned(
                v,
                format!("{what}: \"{t}\" is not a date; write YYYY-MM-DD, e.g. \"2026-12-02\""),
            );
            None
        }
    }
}

fn window_value(d: &mut Diag<'_>, v: &S<RawWindow>, section: &str) -> Option<WindowSpec> {
    let result = match v.get_ref() {
        RawWindow::Text(t) => WindowSpec::from_str(t),
        RawWindow::Cron(c) => match (&c.cron, &c.length) {
            (Some(cron), Some(length)) => WindowSpec::cron(cron.get_ref(), length.get_ref()),
            _ => Err(
                "a cron window needs both keys: { cron = \"0 0 8 * * Sun-Thu\", for = \"2h\" }"
                    .to_string(),
            ),
        },
    };
    result
        .map_err(|e| d.at_spanned(v, format!("{section} windows: {e}")))
        .ok()
}

pub(super) fn contract(
    d: &mut Diag<'_>,
    name: &str,
    raw: RawContract,
    dropped: &BTreeSet<String>,
    span: &Range<usize>,
) -> Option<Contract> {
    let section = format!("[contracts.{name}]");
    let sec = section.as_str();
    let before = d.count();

    let mut owners = Vec::new();
    if let Some(list) = required(
        d,
        &raw.owners,
        dropped,
        "owners",
        sec,
        span,
        "[\"boss@acme.example\"]",
    ) {
        if list.get_ref().is_empty() {
            d.at_spanned(
                list,
                format!("{sec} owners is empty: list who may create tasks"),
            );
        }
        for o in list.get_ref() {
            owners.extend(owner_pattern(d, o, sec));
        }
    }
    let mut vas = Vec::new();
    if let Some(list) = required(
        d,
        &raw.vas,
        dropped,
        "vas",
        sec,
        span,
        "[\"sara@va.example\"]",
    ) {
        if list.get_ref().is_empty() {
            d.at_spanned(
                list,
                format!("{sec} vas is empty: list the VAs who work on the tasks"),
            );
        }
        for v in list.get_ref() {
            vas.extend(address_value(d, v, &format!("{sec} vas")));
        }
    }
    let timezone = required(
        d,
        &raw.timezone,
        dropped,
        "timezone",
        sec,
        span,
        "\"Asia/Riyadh\"",
    )
    .and_then(|t| timezone_value(d, t, sec));
    let mut windows = Vec::new();
    match &raw.windows {
        Some(list) if list.get_ref().is_empty() => d.at_spanned(
            list,
            format!("{sec} windows is empty: acknowledgements could never be sent; add e.g. [\"Sun-Thu 08:00-10:00\"]"),
        ),
        Some(list) => {
            for w in list.get_ref() {
                windows.extend(window_value(d, w, sec));
            }
        }
        None if !dropped.contains("windows") => d.at(
            span,
            format!(
                "{sec} has no windows: acknowledgements could never be sent; add e.g. \
                 windows = [\"Sun-Thu 08:00-10:00\"]"
            ),
        ),
        None => {}
    }
    let mut holidays = Vec::new();
    if let Some(list) = &raw.holidays {
        for h in list.get_ref() {
            holidays.extend(date_value(d, h, &format!("{sec} holidays")));
        }
    }
    holidays.sort_unstable();
    holidays.dedup();
    let language = match &raw.language {
        None => Language::En,
        Some(l) => match l.get_ref().trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Language::En,
            "ar" | "arabic" => Language::Ar,
            _ => {
                d.at_spanned(
                    l,
                    format!("{sec} language = \"{}\": use ar or en", l.get_ref()),
                );
                Language::En
            }
        },
    };
    let summary = raw.summary.as_ref().and_then(|s| {
        let cron = match &s.get_ref().cron {
            Some(c) => crate::windows::parse_cron(c.get_ref())
                .map(|sch| (sch, c.get_ref().trim().to_string()))
                .map_err(|e| d.at_spanned(c, format!("{sec} summary: {e}")))
                .ok(),
            None => {
                d.at_spanned(s, format!("{sec} summary needs cron, e.g. {{ cron = \"0 0 17 * * Thu\", to = [\"boss@acme.example\"] }}"));
                None
            }
        };
        let mut to = Vec::new();
        match &s.get_ref().to {
            Some(list) if !list.get_ref().is_empty() => {
                for a in list.get_ref() {
                    to.extend(address_value(d, a, &format!("{sec} summary.to")));
                }
            }
            _ => d.at_spanned(s, format!("{sec} summary needs to = [\"…\"], who receives the weekly summary")),
        }
        let (schedule, source) = cron?;
        Some(SummaryConfig {
            cron: schedule,
            cron_source: source,
            to,
        })
    });
    let rate = raw.rate.as_ref().and_then(|r| {
        let per_hour = match &r.get_ref().per_hour {
            Some(p) if p.get_ref().is_finite() && *p.get_ref() > 0.0 => Some(*p.get_ref()),
            Some(p) => {
                d.at_spanned(p, format!("{sec} rate.per_hour = {}: write a positive amount, e.g. 12.5", p.get_ref()));
                None
            }
            None => {
                d.at_spanned(r, format!("{sec} rate needs per_hour, e.g. {{ per_hour = 12.5, currency = \"USD\" }}"));
                None
            }
        };
        let currency = match &r.get_ref().currency {
            Some(c) if c.get_ref().trim().len() == 3 && c.get_ref().trim().chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(c.get_ref().trim().to_ascii_uppercase())
            }
            Some(c) => {
                d.at_spanned(c, format!("{sec} rate.currency = \"{}\": write a 3-letter ISO code like \"USD\" or \"SAR\"", c.get_ref()));
                None
            }
            None => {
                d.at_spanned(r, format!("{sec} rate needs currency, e.g. \"USD\""));
                None
            }
        };
        Some(Rate {
            per_hour: per_hour?,
            currency: currency?,
        })
    });
    let mut escalate_to = Vec::new();
    if let Some(list) = &raw.escalate_to {
        for a in list.get_ref() {
            escalate_to.extend(address_value(d, a, &format!("{sec} escalate_to")));
        }
    }
    let escalate_after = match &raw.escalate_after {
        None => DueSpec::BusinessDays(1),
        Some(v) => v
            .get_ref()
            .parse::<DueSpec>()
            .map_err(|e| d.at_spanned(v, format!("{sec} escalate_after: {e}")))
            .unwrap_or(DueSpec::BusinessDays(1)),
    };
    let retainer = raw
        .retainer
        .as_ref()
        .and_then(|r| retainer_value(d, r, sec));
    if d.count() > before {
        return None;
    }
    Some(Contract {
        name: name.to_string(),
        owners,
        vas,
        calendar: Calendar {
            timezone: timezone?,
            windows,
            holidays,
        },
        language,
        summary,
        rate,
        escalate_to,
        escalate_after,
        retainer,
    })
}

fn retainer_value(d: &mut Diag<'_>, r: &S<RawRetainer>, sec: &str) -> Option<Retainer> {
    const EXAMPLE: &str = "{ hours = 20, per = \"month\" }";
    let hours = match &r.get_ref().hours {
        // A week has 168 hours; more bought than that is a slip of the keyboard.
        Some(h) if h.get_ref().is_finite() && *h.get_ref() > 0.0 && *h.get_ref() <= 744.0 => {
            Some(*h.get_ref())
        }
        Some(h) => {
            d.at_spanned(
                h,
                format!(
                    "{sec} retainer.hours = {}: write the hours bought per period, a positive \
                     number up to 744, e.g. {EXAMPLE}",
                    h.get_ref()
                ),
            );
            None
        }
        None => {
            d.at_spanned(r, format!("{sec} retainer needs hours, e.g. {EXAMPLE}"));
            None
        }
    };
    let per = match &r.get_ref().per {
        Some(p) => match p.get_ref().trim().to_ascii_lowercase().as_str() {
            "week" | "weekly" => Some(RetainerPeriod::Week),
            "month" | "monthly" => Some(RetainerPeriod::Month),
            _ => {
                d.at_spanned(
                    p,
                    format!(
                        "{sec} retainer.per = \"{}\": use \"week\" or \"month\"",
                        p.get_ref()
                    ),
                );
                None
            }
        },
        None => {
            d.at_spanned(
                r,
                format!("{sec} retainer needs per, \"week\" or \"month\", e.g. {EXAMPLE}"),
            );
            None
        }
    };
    Some(Retainer {
        hours: hours?,
        per: per?,
    })
}

#[cfg(test)]
mod retainer_tests;
