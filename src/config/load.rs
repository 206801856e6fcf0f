//! Reading the config file: TOML with spans → raw `deny_unknown_fields` structs → validated
//! [`Config`], every problem reported with `file:line` and what to write instead.

use super::contract::{contract, valid_contract_name, RawContract};
use super::diag::Diag;
use super::server::{imap_config, smtp_config, RawImap, RawSmtp};
use super::values::{address_value, path_value, required, S};
use super::*;
use crate::units::{parse_duration, parse_size};
use serde::de::{self, Visitor};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;
use toml::de::DeValue;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    state_dir: Option<S<String>>,
    rules_dir: Option<S<String>>,
    address: Option<S<String>>,
    templates_dir: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    unknown_senders: Option<S<String>>,
    max_message_size: Option<S<SizeValue>>,
    acks_per_sender_per_day: Option<S<i64>>,
    ack_max_age: Option<S<String>>,
    quarantine_keep: Option<S<String>>,
    trusted_authserv_id: Option<S<String>>,
    remind_before: Option<S<String>>,
    chase_after: Option<S<String>>,
    mails_per_recipient_per_hour: Option<S<i64>>,
    attach_max: Option<S<SizeValue>>,
    attachments_keep: Option<S<String>>,
}

/// A size: a number of bytes or a string with a unit.
enum SizeValue {
    Bytes(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size like \"25MB\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeValue, E> {
                Ok(SizeValue::Bytes(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeValue, E> {
                i64::try_from(v)
                    .map(SizeValue::Bytes)
                    .map_err(|_| E::custom("size is too large"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Read and validate the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        errors: vec![format!(
            "{}: cannot read the config file: {e}; pass --config PATH or set $MUSAID_CONFIG",
            path.display()
        )],
    })?;
    load_str(&text, path)
}

/// Validate config `text` as if read from `path` (relative paths resolve against its directory).
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut d = Diag::new(path.display(), text);
    let config = build(&mut d, text, path);
    match config {
        Some(c) if d.count() == 0 => Ok(c),
        _ => Err(ConfigError { errors: d.finish() }),
    }
}

const SECTIONS: [&str; 6] = ["daemon", "imap", "smtp", "contracts", "policy", "vas"];

fn build(d: &mut Diag<'_>, text: &str, path: &Path) -> Option<Config> {
    let root = d.parse()?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let whole = 0..text.len().min(1);
    for key in root.get_ref().keys() {
        if !SECTIONS.contains(&key.get_ref().as_ref()) {
            let hint = match super::did_you_mean(key.get_ref(), SECTIONS) {
                Some(s) => format!("did you mean [{s}]?"),
                None => format!("the sections are [{}]", SECTIONS.join("], [")),
            };
            d.at(
                &key.span(),
                format!("unknown section `{}`; {hint}", key.get_ref()),
            );
        }
    }
    let section = |name: &str| {
        root.get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v.clone())
    };

    let daemon = match section("daemon") {
        Some(v) => d
            .deserialize::<RawDaemon>(&v, "[daemon]")
            .and_then(|(raw, dropped)| daemon_config(d, raw, &dropped, &v.span(), &base)),
        None => {
            d.at(
                &whole,
                "[daemon] is missing; add it with at least `address = \"tasks@va.example\"`",
            );
            None
        }
    };
    let imap = match section("imap") {
        Some(v) => d
            .deserialize::<RawImap>(&v, "[imap]")
            .and_then(|(raw, dropped)| imap_config(d, raw, &dropped, &v.span(), &base)),
        None => {
            d.at(
                &whole,
                "[imap] is missing; add it with at least `host = \"imap.example.com\"`",
            );
            None
        }
    };
    let smtp = match section("smtp") {
        Some(v) => d
            .deserialize::<RawSmtp>(&v, "[smtp]")
            .and_then(|(raw, dropped)| smtp_config(d, raw, &dropped, &v.span(), &base)),
        None => None,
    };
    let mut contracts = BTreeMap::new();
    match section("contracts") {
        Some(v) => match v.get_ref() {
            DeValue::Table(t) if !t.is_empty() => {
                for (name, value) in t.iter() {
                    let name_s = name.get_ref().to_string();
                    if !valid_contract_name(&name_s) {
                        d.at(
                            &name.span(),
                            format!(
                                "contract name `{name_s}`: use letters, digits, `-`, `_` and `.` \
                                 (it names a directory), e.g. [contracts.acme]"
                            ),
                        );
                        continue;
                    }
                    let section = format!("[contracts.{name_s}]");
                    if let Some(c) = d
                        .deserialize::<RawContract>(value, &section)
                        .and_then(|(raw, dropped)| contract(d, &name_s, raw, &dropped, &value.span()))
                    {
                        contracts.insert(name_s, c);
                    }
                }
            }
            DeValue::Table(_) => d.at(
                &v.span(),
                "[contracts] is empty; add a contract as [contracts.NAME] with owners, vas, timezone and windows",
            ),
            other => d.at(
                &v.span(),
                format!("contracts must be tables like [contracts.acme], not {}", other.type_str()),
            ),
        },
        None => d.at(
            &whole,
            "no contract: add one as [contracts.NAME] with owners, vas, timezone and windows, \
             or no request will ever become a task",
        ),
    }
    let policy = match section("policy") {
        Some(v) => d
            .deserialize::<RawPolicy>(&v, "[policy]")
            .and_then(|(raw, _)| policy(d, raw)),
        None => Some(Policy::default()),
    };

    let vas = match section("vas") {
        Some(v) => super::vas::vas(d, &v),
        None => BTreeMap::new(),
    };
    Some(Config {
        vas,
        path: path.to_path_buf(),
        daemon: daemon?,
        imap: imap?,
        smtp,
        contracts,
        policy: policy?,
    })
}

fn daemon_config(
    d: &mut Diag<'_>,
    raw: RawDaemon,
    dropped: &BTreeSet<String>,
    span: &Range<usize>,
    base: &Path,
) -> Option<DaemonConfig> {
    let address = required(
        d,
        &raw.address,
        dropped,
        "address",
        "[daemon]",
        span,
        "\"tasks@va.example\"",
    )
    .and_then(|a| address_value(d, a, "daemon.address"));
    let state_dir = match &raw.state_dir {
        Some(v) => path_value(d, v, "state_dir", base),
        None => Some(PathBuf::from("/var/lib/musaid")),
    };
    let rules_dir = match &raw.rules_dir {
        Some(v) => path_value(d, v, "rules_dir", base),
        None => Some(base.join("rules")),
    };
    let templates_dir = match &raw.templates_dir {
        Some(v) => Some(path_value(d, v, "templates_dir", base)?),
        None => None,
    };
    Some(DaemonConfig {
        state_dir: state_dir?,
        rules_dir: rules_dir?,
        address: address?,
        templates_dir,
    })
}

/// A size as written: bytes, or a string with a unit.
fn size_value(v: &SizeValue) -> Result<u64, String> {
    match v {
        SizeValue::Bytes(b) => {
            u64::try_from(*b).map_err(|_| "a size cannot be negative".to_string())
        }
        SizeValue::Text(t) => parse_size(t),
    }
}

fn policy(d: &mut Diag<'_>, raw: RawPolicy) -> Option<Policy> {
    let mut p = Policy::default();
    let before = d.count();
    if let Some(u) = &raw.unknown_senders {
        match u.get_ref().trim().to_ascii_lowercase().as_str() {
            "ignore" => p.unknown_senders = UnknownSenders::Ignore,
            "quarantine" => p.unknown_senders = UnknownSenders::Quarantine,
            "task" => p.unknown_senders = UnknownSenders::Task,
            _ => d.at_spanned(
                u,
                format!(
                    "[policy] unknown_senders = \"{}\": use ignore, quarantine or task",
                    u.get_ref()
                ),
            ),
        }
    }
    if let Some(m) = &raw.max_message_size {
        match size_value(m.get_ref()) {
            Ok(0) => d.at_spanned(
                m,
                "[policy] max_message_size must be more than 0; write e.g. \"25MB\"",
            ),
            Ok(v) => p.max_message_size = v,
            Err(e) => d.at_spanned(m, format!("[policy] max_message_size: {e}")),
        }
    }
    if let Some(a) = &raw.acks_per_sender_per_day {
        match u32::try_from(*a.get_ref()) {
            Ok(v) => p.acks_per_sender_per_day = v,
            Err(_) => d.at_spanned(
                a,
                format!("[policy] acks_per_sender_per_day = {}: write a whole number from 0 up, e.g. 20", a.get_ref()),
            ),
        }
    }
    if let Some(a) = &raw.ack_max_age {
        match parse_duration(a.get_ref()) {
            Ok(v) if !v.is_zero() => p.ack_max_age = v,
            Ok(_) => d.at_spanned(
                a,
                "[policy] ack_max_age must be more than 0; write e.g. \"3d\"",
            ),
            Err(e) => d.at_spanned(
                a,
                format!("[policy] ack_max_age = \"{}\": {e}", a.get_ref()),
            ),
        }
    }
    if let Some(k) = &raw.quarantine_keep {
        match parse_duration(k.get_ref()) {
            Ok(v) if !v.is_zero() => p.quarantine_keep = v,
            Ok(_) => d.at_spanned(
                k,
                "[policy] quarantine_keep must be more than 0; write e.g. \"30d\"",
            ),
            Err(e) => d.at_spanned(
                k,
                format!("[policy] quarantine_keep = \"{}\": {e}", k.get_ref()),
            ),
        }
    }
    if let Some(m) = &raw.mails_per_recipient_per_hour {
        match u32::try_from(*m.get_ref()) {
            Ok(v) if v > 0 => p.mails_per_recipient_per_hour = v,
            _ => d.at_spanned(
                m,
                format!("[policy] mails_per_recipient_per_hour = {}: write a whole number from 1 up, e.g. 30", m.get_ref()),
            ),
        }
    }
    if let Some(m) = &raw.attach_max {
        match size_value(m.get_ref()) {
            Ok(v) => p.attach_max = v,
            Err(e) => d.at_spanned(m, format!("[policy] attach_max: {e}")),
        }
    }
    if let Some(k) = &raw.attachments_keep {
        match parse_duration(k.get_ref()) {
            Ok(v) if !v.is_zero() => p.attachments_keep = v,
            Ok(_) => d.at_spanned(
                k,
                "[policy] attachments_keep must be more than 0; write e.g. \"365d\"",
            ),
            Err(e) => d.at_spanned(
                k,
                format!("[policy] attachments_keep = \"{}\": {e}", k.get_ref()),
            ),
        }
    }
    if let Some(t) = &raw.trusted_authserv_id {
        let v = t.get_ref().trim();
        if v.is_empty() || v.contains(char::is_whitespace) {
            d.at_spanned(t, "[policy] trusted_authserv_id: write the authserv-id of your MX, e.g. \"mx.va.example\"");
        } else {
            p.trusted_authserv_id = Some(v.to_ascii_lowercase());
        }
    }
    for (key, value, slot) in [
        ("remind_before", &raw.remind_before, &mut p.remind_before),
        ("chase_after", &raw.chase_after, &mut p.chase_after),
    ] {
        if let Some(v) = value {
            match v.get_ref().parse::<crate::windows::DueSpec>() {
                Ok(spec) => *slot = spec,
                Err(e) => d.at_spanned(v, format!("[policy] {key}: {e}")),
            }
        }
    }
    (d.count() == before).then_some(p)
}

#[cfg(test)]
mod tests;
