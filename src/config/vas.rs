//! `[vas."ADDR"]`: one VA's own settings, the language and time of their daily agenda.

use super::diag::Diag;
use super::values::{is_valid_address, S};
use super::{AgendaTime, VaSettings};
use crate::model::{normalize_address, Language};
use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;
use toml::de::DeValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVa {
    language: Option<S<String>>,
    agenda: Option<S<RawAgenda>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgendaCron {
    cron: Option<S<String>>,
    timezone: Option<S<String>>,
}

/// `agenda = false` or `agenda = { cron = "…", timezone = "…" }`.
enum RawAgenda {
    Enabled(bool),
    Cron(RawAgendaCron),
}

impl<'de> Deserialize<'de> for RawAgenda {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAgenda;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "false, or { cron = \"0 30 7 * * Sun-Thu\", timezone = \"Asia/Riyadh\" }",
                )
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawAgenda, E> {
                Ok(RawAgenda::Enabled(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAgenda, A::Error> {
                RawAgendaCron::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawAgenda::Cron)
            }
        }
        d.deserialize_any(V)
    }
}

const CRON_EXAMPLE: &str = "{ cron = \"0 30 7 * * Sun-Thu\", timezone = \"Asia/Riyadh\" }";

/// The `[vas]` section: a table of VA addresses.
pub(super) fn vas<'a>(d: &mut Diag<'a>, v: &S<DeValue<'a>>) -> BTreeMap<String, VaSettings> {
    let mut out = BTreeMap::new();
    let DeValue::Table(t) = v.get_ref() else {
        d.at(
            &v.span(),
            "vas must hold tables like [vas.\"sara@va.example\"]",
        );
        return out;
    };
    for (key, value) in t.iter() {
        let addr = normalize_address(key.get_ref());
        if !is_valid_address(&addr) {
            d.at(
                &key.span(),
                format!(
                    "[vas.\"{}\"]: not an address; write the VA's address in quotes, e.g. \
                     [vas.\"sara@va.example\"]",
                    key.get_ref()
                ),
            );
            continue;
        }
        let section = format!("[vas.\"{addr}\"]");
        if let Some((raw, _)) = d.deserialize::<RawVa>(value, &section) {
            if let Some(s) = settings(d, raw, &section) {
                out.insert(addr, s);
            }
        }
    }
    out
}

fn settings(d: &mut Diag<'_>, raw: RawVa, sec: &str) -> Option<VaSettings> {
    let before = d.count();
    let language = raw.language.as_ref().and_then(|l| {
        match l.get_ref().trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Language::En),
            "ar" | "arabic" => Some(Language::Ar),
            _ => {
                d.at_spanned(
                    l,
                    format!("{sec} language = \"{}\": use ar or en", l.get_ref()),
                );
                None
            }
        }
    });
    let agenda = match &raw.agenda {
        Some(a) => match a.get_ref() {
            RawAgenda::Enabled(true) => AgendaTime::FirstWindow,
            RawAgenda::Enabled(false) => AgendaTime::Off,
            RawAgenda::Cron(c) => agenda_cron(d, a, c, sec).unwrap_or(AgendaTime::Off),
        },
        None => AgendaTime::FirstWindow,
    };
    (d.count() == before).then_some(VaSettings { language, agenda })
}

fn agenda_cron(
    d: &mut Diag<'_>,
    whole: &S<RawAgenda>,
    c: &RawAgendaCron,
    sec: &str,
) -> Option<AgendaTime> {
    let (Some(cron), Some(tz)) = (&c.cron, &c.timezone) else {
        d.at_spanned(
            whole,
            format!("{sec} agenda needs both keys: {CRON_EXAMPLE}"),
        );
        return None;
    };
    let schedule = crate::windows::parse_cron(cron.get_ref())
        .map_err(|e| d.at_spanned(cron, format!("{sec} agenda: {e}")))
        .ok();
    let timezone = chrono_tz::Tz::from_str(tz.get_ref().trim())
        .map_err(|_| {
            d.at_spanned(
                tz,
                format!(
                    "{sec} agenda timezone = \"{}\" is not an IANA time zone; write e.g. \
                     \"Asia/Riyadh\"",
                    tz.get_ref()
                ),
            )
        })
        .ok();
    Some(AgendaTime::Cron {
        schedule: schedule?,
        timezone: timezone?,
        source: cron.get_ref().trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{load_str, AgendaTime};
    use std::path::Path;

    fn config(vas: &str) -> Result<crate::config::Config, String> {
        let text = format!(
            "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\n\
             [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
             timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n{vas}"
        );
        load_str(&text, Path::new("/etc/musaid/musaid.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_va_may_set_the_agendas_language_and_time() {
        let c = config(
            "[vas.\"Sara@VA.example\"]\nlanguage = \"ar\"\n\
             agenda = { cron = \"0 30 7 * * Sun-Thu\", timezone = \"Asia/Riyadh\" }\n\
             [vas.\"ali@va.example\"]\nagenda = false\n",
        )
        .unwrap();
        let sara = &c.vas["sara@va.example"];
        assert_eq!(sara.language, Some(crate::model::Language::Ar));
        assert!(
            matches!(&sara.agenda, AgendaTime::Cron { source, .. } if source == "0 30 7 * * Sun-Thu")
        );
        assert!(matches!(c.vas["ali@va.example"].agenda, AgendaTime::Off));
        assert!(config("").unwrap().vas.is_empty());
    }

    #[test]
    fn bad_va_settings_name_their_line() {
        let cases = [
            ("[vas.\"sara@va.example\"]\nlanguage = \"fr\"\n", ":12: [vas.\"sara@va.example\"] language = \"fr\": use ar or en"),
            ("[vas.\"sara@va.example\"]\nagenda = { cron = \"0 30 7 * * Sun-Thu\" }\n", "agenda needs both keys"),
            ("[vas.\"sara@va.example\"]\nagenda = { cron = \"0 30 7 * * Sun-Thu\", timezone = \"Riyadh\" }\n", "not an IANA time zone"),
            ("[vas.\"sara@va.example\"]\nagenda = { cron = \"30 7 * * Sun-Thu\", timezone = \"Asia/Riyadh\" }\n", "agenda:"),
            ("[vas.\"sara@va.example\"]\ncolour = \"blue\"\n", "colour"),
            ("[vas.sara]\nlanguage = \"ar\"\n", "not an address"),
        ];
        for (vas, want) in cases {
            let err = config(vas).unwrap_err();
            assert!(err.contains(want), "{vas}: {err}");
        }
    }
}
