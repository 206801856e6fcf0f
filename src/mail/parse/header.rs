//! Header decoding: each value's text (RFC 2047 words, folding, raw 8-bit in the message's
//! charset), addresses, Message-IDs and dates, cut to the parser's limits.

use super::limits::{MAX_ADDRESSES, MAX_FIELD, MAX_HEADER_VALUE};
use crate::mail::Address;
use chrono::{DateTime, FixedOffset, NaiveDate};
use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;
use sha2::{Digest, Sha256};

/// A header's value, RFC 2047-decoded and unfolded, from its raw bytes.
pub(super) fn header_text(msg: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> String {
    header_text_with(msg, h, None)
}

type Decoder = fn(&[u8]) -> String;

fn raw_value<'a>(msg: &'a mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> &'a [u8] {
    let raw = msg
        .raw_message
        .get(h.offset_start as usize..h.offset_end as usize)
        .unwrap_or_default();
    raw.get(..raw.len().min(MAX_HEADER_VALUE * 4))
        .unwrap_or_default()
}

/// Raw 8-bit text (not UTF-8, no RFC 2047 words): written in the message's charset.
pub(super) fn is_raw_8bit(msg: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> bool {
    let raw = raw_value(msg, h);
    std::str::from_utf8(raw).is_err() && !raw.windows(2).any(|w| w == b"=?")
}

/// Addresses from an already decoded header value.
pub(super) fn reparse_addresses(text: &str) -> Vec<Address> {
    let line = format!("{text}\n");
    match MessageStream::new(line.as_bytes()).parse_address() {
        HeaderValue::Address(a) => addresses(Some(&a)),
        _ => Vec::new(),
    }
}

pub(super) fn header_text_with(
    msg: &mail_parser::Message<'_>,
    h: &mail_parser::Header<'_>,
    fallback: Option<Decoder>,
) -> String {
    let raw = raw_value(msg, h);
    if let Some(decode) = fallback {
        if is_raw_8bit(msg, h) {
            return truncate(collapse_ws(&decode(raw)).trim(), MAX_HEADER_VALUE);
        }
    }
    let text = plain_unstructured(raw).unwrap_or_else(|| unstructured(raw));
    // Most values are one line already trimmed and short: kept as they are, not copied.
    if !text.contains(['\r', '\n', '\t'])
        && text.len() <= MAX_HEADER_VALUE
        && text.trim().len() == text.len()
    {
        return text;
    }
    truncate(collapse_ws(&text).trim(), MAX_HEADER_VALUE)
}

/// An unstructured header value as mail-parser reads it (RFC 2047 words decoded, folded
/// lines joined).
fn unstructured(raw: &[u8]) -> String {
    match MessageStream::new(raw).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        HeaderValue::TextList(l) => l.join(" "),
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// [`unstructured`] for the common value, ASCII without an encoded word, in one pass and one
/// allocation: each line's text without its surrounding blanks, lines joined by a space,
/// up to the line break that no continuation follows. None for any other value.
fn plain_unstructured(raw: &[u8]) -> Option<String> {
    if !raw.is_ascii() || raw.windows(2).any(|w| w == b"=?") {
        return None;
    }
    let mut rest = std::str::from_utf8(raw).ok()?;
    let mut out = String::with_capacity(rest.len());
    loop {
        // mail-parser's value ends at a line break; one without is read another way.
        let (line, tail) = rest.split_once('\n')?;
        let t = line.trim_matches([' ', '\t', '\r']);
        if !t.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        }
        if !tail.starts_with([' ', '\t']) {
            return Some(out);
        }
        rest = tail;
    }
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c == '\r' || c == '\n' || c == '\t' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            space = c == ' ';
            out.push(c);
        }
    }
    out
}

/// Cut a string to at most `max` bytes, at a character boundary.
pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

pub(super) fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// A stable Message-ID for a message without one (or bytes that are no message): the same
/// bytes give the same id.
pub fn derived_id(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256-{hex}@musaid.invalid")
}

pub(super) fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let ids: Vec<String> = match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    };
    ids.into_iter()
        .filter(|i| !i.is_empty())
        .take(MAX_ADDRESSES)
        .map(|i| truncate(&i, MAX_FIELD))
        .collect()
}

fn convert_addr(a: &mail_parser::Addr<'_>) -> Option<Address> {
    let email = a.address.as_deref().unwrap_or("").trim().to_string();
    let name = a
        .name
        .as_deref()
        .map(|n| truncate(n.trim(), MAX_FIELD))
        .filter(|n| !n.is_empty());
    if email.is_empty() && name.is_none() {
        return None;
    }
    Some(Address {
        name,
        email: truncate(&email, MAX_FIELD),
    })
}

/// Every mailbox of an address header, groups flattened.
pub(super) fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    match a {
        Some(mail_parser::Address::List(list)) => list
            .iter()
            .filter_map(convert_addr)
            .take(MAX_ADDRESSES)
            .collect(),
        Some(mail_parser::Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .filter_map(convert_addr)
            .take(MAX_ADDRESSES)
            .collect(),
        None => Vec::new(),
    }
}

pub(super) fn first_address(a: Option<&mail_parser::Address<'_>>) -> Option<Address> {
    addresses(a).into_iter().next()
}

pub(super) fn to_chrono(d: &mail_parser::DateTime) -> Option<DateTime<FixedOffset>> {
    if !d.is_valid() {
        return None;
    }
    let secs = (i32::from(d.tz_hour) * 3600 + i32::from(d.tz_minute) * 60)
        * if d.tz_before_gmt { -1 } else { 1 };
    let tz = FixedOffset::east_opt(secs)?;
    let naive = NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))?
        .and_hms_opt(u32::from(d.hour), u32::from(d.minute), u32::from(d.second))?;
    naive.and_local_timezone(tz).single()
}

#[cfg(test)]
mod tests {
    use super::super::PARSER;
    use super::*;

    #[test]
    fn plain_header_values_read_as_mail_parser_reads_them() {
        let mut values: Vec<Vec<u8>> = [
            "",
            "\r\n",
            " x\r\n",
            "a  b \r\n",
            "a\r\n b\r\n",
            "a\r\n\tb\r\n c\r\n",
            "a\r\n \r\n b\r\n",
            "a\n",
            "a",
            "a\r\n",
            "a\r\nNext: b\r\n",
            "\t \r\n",
            "a\r\n b",
            "x =? y\r\n",
            "=?utf-8?q?caf=C3=A9?=\r\n",
            "caf\u{e9}\r\n",
            "a\r\r\n",
            " \r\n b\r\n",
            "a\r\n\r\n b\r\n",
            "(comment) a\r\n",
        ]
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
        // Every header of the real-mail corpus, when it is there.
        if let Some(dir) = std::env::var_os("MUSAID_CORPUS") {
            let mut dirs = vec![std::path::PathBuf::from(dir)];
            let mut files = Vec::new();
            while let Some(d) = dirs.pop() {
                for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "eml") {
                        files.push(path);
                    }
                }
            }
            for path in files {
                let Ok(raw) = std::fs::read(&path) else {
                    continue;
                };
                if let Some(m) = PARSER.parse(&raw[..]) {
                    for h in m.headers() {
                        values.push(raw_value(&m, h).to_vec());
                    }
                }
            }
        }
        let mut fast = 0;
        for v in &values {
            if let Some(text) = plain_unstructured(v) {
                fast += 1;
                assert_eq!(
                    collapse_ws(&text).trim(),
                    collapse_ws(&unstructured(v)).trim(),
                    "{:?}",
                    String::from_utf8_lossy(v)
                );
            }
        }
        eprintln!(
            "the fast path took {fast} of {} header values",
            values.len()
        );
        assert!(
            fast >= 10,
            "the fast path took {fast} of {} values",
            values.len()
        );
    }
}
