//! `[imap]` and `[smtp]`: host, port, TLS and login, validated.

use super::diag::Diag;
use super::values::{path_value, required, resolve_path, DateOrString, S};
use super::*;
use crate::units::parse_duration;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;

/// The login keys shared by `[imap]` and `[smtp]`.
struct RawLogin<'r> {
    user: &'r Option<S<String>>,
    auth: &'r Option<S<String>>,
    password_file: &'r Option<S<String>>,
    password_command: &'r Option<S<String>>,
    password_credential: &'r Option<S<String>>,
    oauth2_token_command: &'r Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    host: Option<S<String>>,
    port: Option<S<i64>>,
    tls: Option<S<String>>,
    user: Option<S<String>>,
    auth: Option<S<String>>,
    password_file: Option<S<String>>,
    password_command: Option<S<String>>,
    password_credential: Option<S<String>>,
    oauth2_token_command: Option<S<String>>,
    ca_file: Option<S<String>>,
    mailbox: Option<S<String>>,
    after: Option<S<String>>,
    idle: Option<S<bool>>,
    poll_interval: Option<S<String>>,
    first_sync: Option<S<DateOrString>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    host: Option<S<String>>,
    port: Option<S<i64>>,
    tls: Option<S<String>>,
    user: Option<S<String>>,
    auth: Option<S<String>>,
    password_file: Option<S<String>>,
    password_command: Option<S<String>>,
    password_credential: Option<S<String>>,
    oauth2_token_command: Option<S<String>>,
    ca_file: Option<S<String>>,
    from: Option<S<String>>,
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn tls_value(d: &mut Diag<'_>, v: &Option<S<String>>, section: &str) -> Option<TlsMode> {
    let Some(v) = v else {
        return Some(TlsMode::Implicit);
    };
    match v.get_ref().trim().to_ascii_lowercase().as_str() {
        "implicit" => Some(TlsMode::Implicit),
        "starttls" => Some(TlsMode::StartTls),
        "none" => Some(TlsMode::None),
        _ => {
            let extra = match v.get_ref().to_ascii_lowercase().as_str() {
                "ssl" | "tls" | "true" => " (\"ssl\"/\"tls\" is implicit)",
                _ => "",
            };
            d.at_spanned(
                v,
                format!(
                    "{section} tls = \"{}\": use implicit, starttls or none{extra}",
                    v.get_ref()
                ),
            );
            None
        }
    }
}

fn host_and_tls(
    d: &mut Diag<'_>,
    host: &Option<S<String>>,
    tls: &Option<S<String>>,
    dropped: &BTreeSet<String>,
    section: &str,
    span: &Range<usize>,
    example: &str,
) -> (Option<String>, Option<TlsMode>) {
    let host_v = required(d, host, dropped, "host", section, span, example);
    let host = host_v.and_then(|h| {
        let t = h.get_ref().trim();
        if t.is_empty() || t.contains(char::is_whitespace) || t.contains('/') || t.contains("://") {
            d.at_spanned(
                h,
                format!(
                    "{section} host = \"{}\": write a host name like {example}",
                    h.get_ref()
                ),
            );
            None
        } else {
            Some(t.to_string())
        }
    });
    let mode = tls_value(d, tls, section);
    if let (Some(h), Some(TlsMode::None)) = (&host, mode) {
        if !is_loopback(h) {
            let at = tls.as_ref().map_or(span.clone(), |t| t.span());
            d.at(
                &at,
                format!(
                    "{section} tls = \"none\" would send mail and passwords in plain text to `{h}`; \
                     plaintext is allowed only to a loopback host (127.0.0.1, ::1, localhost): \
                     use implicit or starttls"
                ),
            );
            return (Some(h.clone()), None);
        }
    }
    (host, mode)
}

fn port_value(d: &mut Diag<'_>, v: &Option<S<i64>>, default: u16, section: &str) -> Option<u16> {
    let Some(v) = v else {
        return Some(default);
    };
    match u16::try_from(*v.get_ref()) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            d.at_spanned(
                v,
                format!(
                    "{section} port = {}: use a port from 1 to 65535 (e.g. {default})",
                    v.get_ref()
                ),
            );
            None
        }
    }
}

fn login(d: &mut Diag<'_>, raw: RawLogin<'_>, section: &str, base: &Path) -> Option<ServerLogin> {
    let mut ok = true;
    let auth = match raw.auth {
        None => AuthMethod::Password,
        Some(a) => match a.get_ref().trim().to_ascii_lowercase().as_str() {
            "password" | "plain" | "login" => AuthMethod::Password,
            "xoauth2" | "oauth2" => AuthMethod::XOAuth2,
            _ => {
                d.at_spanned(
                    a,
                    format!(
                        "{section} auth = \"{}\": use password or xoauth2",
                        a.get_ref()
                    ),
                );
                return None;
            }
        },
    };
    let sources: Vec<(&str, &S<String>)> = [
        ("password_file", raw.password_file),
        ("password_command", raw.password_command),
        ("password_credential", raw.password_credential),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    if let [(_, first), _, ..] = sources.as_slice() {
        let names: Vec<&str> = sources.iter().map(|(k, _)| *k).collect();
        d.at_spanned(
            first,
            format!(
                "{section} sets {}: keep only one source for the password",
                names.join(" and ")
            ),
        );
        ok = false;
    }
    let mut password = SecretSource::None;
    if let Some((key, v)) = sources.first() {
        let text = v.get_ref().trim();
        if text.is_empty() {
            d.at_spanned(v, format!("{section} {key} is empty"));
            ok = false;
        } else {
            password = match *key {
                "password_file" => SecretSource::File(resolve_path(base, text)),
                "password_command" => SecretSource::Command(text.to_string()),
                _ if text.contains('/') => {
                    d.at_spanned(
                        v,
                        format!(
                            "{section} password_credential = \"{text}\": write the credential's name \
                             (as in LoadCredential=NAME:…), not a path; for a path use password_file"
                        ),
                    );
                    ok = false;
                    SecretSource::None
                }
                _ => SecretSource::Credential(text.to_string()),
            };
        }
    }
    let user = raw.user.as_ref().map(|u| u.get_ref().trim().to_string());
    if let Some(u) = raw.user.as_ref().filter(|u| u.get_ref().trim().is_empty()) {
        d.at_spanned(
            u,
            format!("{section} user is empty; remove it for a server without login"),
        );
        ok = false;
    }
    let token_cmd = raw
        .oauth2_token_command
        .as_ref()
        .map(|c| c.get_ref().trim().to_string());
    match auth {
        AuthMethod::XOAuth2 => {
            let at = raw.auth.as_ref().map_or(0..0, |a| a.span());
            if token_cmd.as_deref().is_none_or(str::is_empty) {
                d.at(
                    &at,
                    format!(
                        "{section} auth = \"xoauth2\" needs oauth2_token_command, a command that prints \
                         a fresh access token"
                    ),
                );
                ok = false;
            }
            if user.is_none() {
                d.at(
                    &at,
                    format!("{section} auth = \"xoauth2\" needs `user`, the account's address"),
                );
                ok = false;
            }
            if let Some((key, v)) = sources.first() {
                d.at_spanned(
                    v,
                    format!("{section} {key} is not used with auth = \"xoauth2\"; remove it"),
                );
                ok = false;
            }
        }
        AuthMethod::Password => {
            if let Some(c) = raw.oauth2_token_command {
                d.at_spanned(
                    c,
                    format!("{section} oauth2_token_command needs auth = \"xoauth2\"; add it or remove the command"),
                );
                ok = false;
            }
            if let (None, Some((key, v))) = (&user, sources.first()) {
                d.at_spanned(
                    v,
                    format!("{section} has {key} but no `user`; add user = \"…\""),
                );
                ok = false;
            }
        }
    }
    ok.then_some(ServerLogin {
        user,
        auth,
        password,
        oauth2_token_command: token_cmd.filter(|_| auth == AuthMethod::XOAuth2),
    })
}

pub(super) fn imap_config(
    d: &mut Diag<'_>,
    raw: RawImap,
    dropped: &BTreeSet<String>,
    span: &Range<usize>,
    base: &Path,
) -> Option<ImapConfig> {
    let (host, tls) = host_and_tls(
        d,
        &raw.host,
        &raw.tls,
        dropped,
        "[imap]",
        span,
        "\"imap.example.com\"",
    );
    let default_port = if tls == Some(TlsMode::Implicit) {
        993
    } else {
        143
    };
    let port = port_value(d, &raw.port, default_port, "[imap]");
    let login = login(
        d,
        RawLogin {
            user: &raw.user,
            auth: &raw.auth,
            password_file: &raw.password_file,
            password_command: &raw.password_command,
            password_credential: &raw.password_credential,
            oauth2_token_command: &raw.oauth2_token_command,
        },
        "[imap]",
        base,
    );
    let ca_file = match &raw.ca_file {
        Some(v) => path_value(d, v, "ca_file", base).map(Some),
        None => Some(None),
    };
    let mailbox = match &raw.mailbox {
        Some(m) if m.get_ref().trim().is_empty() => {
            d.at_spanned(m, "[imap] mailbox is empty; write e.g. mailbox = \"INBOX\"");
            None
        }
        Some(m) => Some(m.get_ref().trim().to_string()),
        None => Some("INBOX".to_string()),
    };
    let after = match &raw.after {
        None => Some(After::Keep),
        Some(a) => {
            let t = a.get_ref().trim();
            match t.to_ascii_lowercase().as_str() {
                "keep" => Some(After::Keep),
                "seen" => Some(After::Seen),
                _ => match t.split_once(':') {
                    Some((m, folder))
                        if m.eq_ignore_ascii_case("move") && !folder.trim().is_empty() =>
                    {
                        Some(After::Move(folder.trim().to_string()))
                    }
                    _ => {
                        d.at_spanned(
                            a,
                            format!(
                                "[imap] after = \"{t}\": use keep, seen or move:FOLDER (e.g. \"move:Processed\"); \
                                 musaid never deletes mail"
                            ),
                        );
                        None
                    }
                },
            }
        }
    };
    let poll_interval = match &raw.poll_interval {
        None => Some(Duration::from_secs(60)),
        Some(p) => match parse_duration(p.get_ref()) {
            Ok(v) if v >= Duration::from_secs(1) => Some(v),
            Ok(_) => {
                d.at_spanned(
                    p,
                    "[imap] poll_interval must be at least 1s; write e.g. \"60s\"",
                );
                None
            }
            Err(e) => {
                d.at_spanned(
                    p,
                    format!("[imap] poll_interval = \"{}\": {e}", p.get_ref()),
                );
                None
            }
        },
    };
    let first_sync = match &raw.first_sync {
        None => Some(FirstSync::New),
        Some(f) => {
            let t = f.get_ref().0.trim().to_string();
            match t.to_ascii_lowercase().as_str() {
                "new" => Some(FirstSync::New),
                "all" => Some(FirstSync::All),
                _ => match NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
                    Ok(date) => Some(FirstSync::Since(date)),
                    Err(_) => {
                        d.at_spanned(
                            f,
                            format!("[imap] first_sync = \"{t}\": use new, all or a date like \"2026-11-01\""),
                        );
                        None
                    }
                },
            }
        }
    };
    Some(ImapConfig {
        host: host?,
        port: port?,
        tls: tls?,
        login: login?,
        ca_file: ca_file?,
        mailbox: mailbox?,
        after: after?,
        idle: raw.idle.is_none_or(|i| *i.get_ref()),
        poll_interval: poll_interval?,
        first_sync: first_sync?,
        timeout: ImapConfig::DEFAULT_TIMEOUT,
    })
}

pub(super) fn smtp_config(
    d: &mut Diag<'_>,
    raw: RawSmtp,
    dropped: &BTreeSet<String>,
    span: &Range<usize>,
    base: &Path,
) -> Option<SmtpConfig> {
    let (host, tls) = host_and_tls(
        d,
        &raw.host,
        &raw.tls,
        dropped,
        "[smtp]",
        span,
        "\"smtp.example.com\"",
    );
    let default_port = match tls {
        Some(TlsMode::StartTls) => 587,
        Some(TlsMode::None) => 25,
        _ => 465,
    };
    let port = port_value(d, &raw.port, default_port, "[smtp]");
    let login = login(
        d,
        RawLogin {
            user: &raw.user,
            auth: &raw.auth,
            password_file: &raw.password_file,
            password_command: &raw.password_command,
            password_credential: &raw.password_credential,
            oauth2_token_command: &raw.oauth2_token_command,
        },
        "[smtp]",
        base,
    );
    let ca_file = match &raw.ca_file {
        Some(v) => path_value(d, v, "ca_file", base).map(Some),
        None => Some(None),
    };
    let from = required(d, &raw.from, dropped, "from", "[smtp]", span, "\"Sara's desk <tasks@va.example>\"")
        .and_then(|f| {
            let t = f.get_ref().trim();
            let addr = match t.rsplit_once('<') {
                Some((_, inner)) => inner.strip_suffix('>').unwrap_or("").trim(),
                None => t,
            };
            if is_valid_address(addr) {
                Some(t.to_string())
            } else {
                d.at_spanned(
                    f,
                    format!("[smtp] from = \"{t}\": write an address, e.g. \"Sara's desk <tasks@va.example>\""),
                );
                None
            }
        });
    Some(SmtpConfig {
        host: host?,
        port: port?,
        tls: tls?,
        login: login?,
        ca_file: ca_file?,
        from: from?,
    })
}
