//! Bytes → [`Message`] with mail-parser. Pure: no I/O, never panics on input.

use super::{forward, quote, Address, Attachment, AutoSignals, Forward, Message, LOOP_HEADER};
use chrono::{DateTime, FixedOffset, NaiveDate};
use mail_parser::decoders::html::html_to_text as mp_html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderName, HeaderValue, MessageParser, MimeHeaders, PartType};
use regex::Regex;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// mail-parser, told to give structure only to the headers read through it (MIME, addresses,
/// dates, ids, Subject): every header's text is decoded again from its raw bytes below, so
/// parsing `Received:` chains, `List-*` and the like into structures would be work thrown away.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_address_headers()
        .with_date_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .default_header_raw()
});

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Longest decoded header value kept (huge headers are truncated for display).
const MAX_HEADER_VALUE: usize = 16 * 1024;
/// Longest subject, address name or forward field kept.
const MAX_FIELD: usize = 2 * 1024;
/// At most this many headers are kept.
const MAX_HEADERS: usize = 1000;
/// At most this many addresses per header.
const MAX_ADDRESSES: usize = 500;
/// HTML longer than this is cut before conversion to text.
const MAX_HTML: usize = 4 * 1024 * 1024;
/// A message with more MIME part delimiters and Content-Type lines than this is not parsed.
/// mail-parser spends some hundred bytes on each part: 3 million tiny parts in 24 MB took
/// 640 MB, an 800,000-deep `message/rfc822` chain 1.3 GB. A person's mail holds far fewer.
const MAX_PARTS: usize = 10_000;

/// Parse one RFC 5322 message. Never panics; an error means the bytes are not a message.
pub fn parse(raw: &[u8]) -> Result<Message, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError("Empty message".into()));
    }
    let Some(start) = header_start(raw) else {
        return Err(ParseError("No header at the start of the message".into()));
    };
    if too_many_parts(raw) {
        return Err(ParseError(format!(
            "More than {MAX_PARTS} MIME parts; not parsed"
        )));
    }
    let parsed = PARSER
        .parse(raw.get(start..).unwrap_or_default())
        .map(FlatDrop)
        .ok_or_else(|| ParseError("Not an RFC 5322 message".into()))?;
    if parsed.headers().is_empty() {
        return Err(ParseError("Message has no headers".into()));
    }

    let mut msg = Message {
        size: raw.len(),
        ..Message::default()
    };

    // Raw 8-bit headers (no RFC 2047) are usually in the body's charset.
    let fallback = parsed
        .parts
        .first()
        .and_then(|p| p.content_type())
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|cs| mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes()));
    // Address headers written in raw 8-bit are parsed again from their decoded text.
    let mut redecoded: Vec<(String, String)> = Vec::new();
    for h in parsed.headers().iter().take(MAX_HEADERS) {
        let name = h.name().to_string();
        let value = header_text_with(&parsed, h, fallback);
        if fallback.is_some() && is_raw_8bit(&parsed, h) {
            redecoded.push((name.to_ascii_lowercase(), value.clone()));
        }
        msg.headers.push((name, value));
    }
    let pick = |name: &str, parsed_value: Option<&mail_parser::Address<'_>>| -> Vec<Address> {
        match redecoded.iter().find(|(n, _)| n == name) {
            Some((_, text)) => reparse_addresses(text),
            None => addresses(parsed_value),
        }
    };

    msg.from = pick("from", parsed.from()).into_iter().next();
    msg.sender = pick("sender", parsed.sender())
        .into_iter()
        .next()
        .filter(|s| Some(s) != msg.from.as_ref());
    msg.reply_to = pick("reply-to", parsed.reply_to());
    msg.to = pick("to", parsed.to());
    msg.cc = pick("cc", parsed.cc());
    msg.subject = truncate(msg.header("Subject").unwrap_or("").trim(), MAX_FIELD);
    msg.date = parsed.date().and_then(to_chrono);

    match parsed
        .message_id()
        .map(clean_id)
        .filter(|id| !id.is_empty())
    {
        Some(id) => msg.message_id = truncate(&id, MAX_FIELD),
        None => {
            msg.message_id = derived_id(raw);
            msg.message_id_derived = true;
        }
    }
    msg.in_reply_to = id_list(parsed.in_reply_to());
    msg.references = id_list(parsed.references());

    msg.text = body_text(&parsed);
    msg.attachments = attachments(&parsed);
    msg.auto = auto_signals(&msg.headers, &parsed);

    msg.forward = attached_forward(&parsed, &msg.text).or_else(|| {
        forward::find_inline_in(&msg.text, Some(&msg.subject), !msg.in_reply_to.is_empty())
    });
    msg.new_text = match &msg.forward {
        Some(f) => quote::new_text(&f.note),
        None => quote::new_text(&msg.text),
    };
    Ok(msg)
}

/// A parsed message that is dropped without recursion. mail-parser nests attached messages
/// as a tree, and the usual drop of a 100,000-deep `message/rfc822` chain (5 MB) overflows
/// the stack: an abort no `catch_unwind` can stop.
struct FlatDrop<'x>(mail_parser::Message<'x>);

impl<'x> std::ops::Deref for FlatDrop<'x> {
    type Target = mail_parser::Message<'x>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for FlatDrop<'_> {
    fn drop(&mut self) {
        let mut nested = Vec::new();
        take_nested(&mut self.0, &mut nested);
        while let Some(mut m) = nested.pop() {
            take_nested(&mut m, &mut nested);
            // `m` now holds no message and drops flat.
        }
    }
}

fn take_nested<'x>(m: &mut mail_parser::Message<'x>, out: &mut Vec<mail_parser::Message<'x>>) {
    for part in &mut m.parts {
        if matches!(part.body, PartType::Message(_)) {
            if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                out.push(inner);
            }
        }
    }
}

/// Counts lines that may open a MIME part (`--boundary`) or type one (`Content-Type:`): an
/// upper bound of the parts mail-parser would make, found without parsing.
fn too_many_parts(raw: &[u8]) -> bool {
    // A counted line takes at least 4 bytes (`--x` and its line break): a message shorter
    // than that many cannot hold too many, and most mail is.
    if raw.len() < 4 * (MAX_PARTS + 1) - 1 {
        return false;
    }
    let mut n = 0usize;
    for line in raw.split(|&b| b == b'\n') {
        let delimiter = line.strip_prefix(b"--").is_some_and(|rest| {
            let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
            !rest.is_empty() && !rest.iter().any(u8::is_ascii_whitespace)
        });
        let content_type = line
            .get(..12)
            .is_some_and(|h| h.eq_ignore_ascii_case(b"content-type"));
        if delimiter || content_type {
            n += 1;
            if n > MAX_PARTS {
                return true;
            }
        }
    }
    false
}

/// Where the header starts: after a BOM, leading blank space and an mbox `From ` line.
/// The first line there must look like a header field (`Name: value`).
fn header_start(raw: &[u8]) -> Option<usize> {
    let mut start = if raw.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    start += raw
        .get(start..)?
        .iter()
        .position(|b| !b.is_ascii_whitespace())?;
    let rest = raw.get(start..)?;
    if rest.starts_with(b"From ") {
        start += rest.iter().position(|&b| b == b'\n')? + 1;
    }
    let rest = raw.get(start..)?;
    let name_len = rest
        .iter()
        .take(200)
        .take_while(|&&b| b.is_ascii_graphic() && b != b':')
        .count();
    // Obsolete syntax (RFC 5322 §4.5) allows blanks before the colon.
    let blanks = rest
        .get(name_len..)?
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    (name_len > 0 && rest.get(name_len + blanks) == Some(&b':')).then_some(start)
}

/// A header's value, RFC 2047-decoded and unfolded, from its raw bytes.
fn header_text(msg: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> String {
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
fn is_raw_8bit(msg: &mail_parser::Message<'_>, h: &mail_parser::Header<'_>) -> bool {
    let raw = raw_value(msg, h);
    std::str::from_utf8(raw).is_err() && !raw.windows(2).any(|w| w == b"=?")
}

/// Addresses from an already decoded header value.
fn reparse_addresses(text: &str) -> Vec<Address> {
    let line = format!("{text}\n");
    match MessageStream::new(line.as_bytes()).parse_address() {
        HeaderValue::Address(a) => addresses(Some(&a)),
        _ => Vec::new(),
    }
}

fn header_text_with(
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
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

fn clean_id(id: &str) -> String {
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

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
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
fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
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

fn first_address(a: Option<&mail_parser::Address<'_>>) -> Option<Address> {
    addresses(a).into_iter().next()
}

fn to_chrono(d: &mail_parser::DateTime) -> Option<DateTime<FixedOffset>> {
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

// ASCII word boundaries (`(?-u:\b)`): a Unicode `\b` drove these onto the slow PikeVM, and
// 3.6 MB of nested `<div><blockquote>` took 5 s (debug) instead of 1.4 s.
static BLOCK_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:<(?:/?(?:p|div|tr|li|ul|ol|h[1-6]|blockquote|table|hr|pre|dt|dd|section|article|header|footer|center|address)(?-u:\b))[^>]*>\s*)+")
        .expect("static regex")
});
static BR_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<br(?-u:\b)[^>]*>").expect("static regex"));
static QUOTE_OPEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<blockquote(?-u:\b)[^>]*>").expect("static regex"));
static QUOTE_CLOSE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</blockquote\s*>").expect("static regex"));
/// Deeper `<blockquote>` nesting is shown at this depth.
const MAX_QUOTE_DEPTH: usize = 20;
static MANY_NEWLINES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\n{3,}").expect("static regex"));

/// HTML → readable text: block elements become line breaks, entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let html = if html.len() > MAX_HTML {
        truncate(html, MAX_HTML)
    } else {
        html.to_string()
    };
    let marked = BR_TAG.replace_all(&html, "<br>");
    let marked = QUOTE_OPEN.replace_all(&marked, "<br>\u{E000}<br>");
    let marked = QUOTE_CLOSE.replace_all(&marked, "<br>\u{E001}<br>");
    let marked = BLOCK_TAG.replace_all(&marked, "<br>");
    let text = mp_html_to_text(&marked);
    // Text inside <blockquote> is quoted with `>` as a plain-text client would.
    let mut depth = 0usize;
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut l = String::with_capacity(line.len());
        for c in line.chars() {
            match c {
                '\u{E000}' => depth += 1,
                '\u{E001}' => depth = depth.saturating_sub(1),
                '\u{a0}' => l.push(' '),
                c => l.push(c),
            }
        }
        let l = l.trim_end();
        let l = l.strip_prefix(' ').unwrap_or(l);
        if depth > 0 && !l.is_empty() {
            lines.push(format!("{} {l}", ">".repeat(depth.min(MAX_QUOTE_DEPTH))));
        } else {
            lines.push(l.to_string());
        }
    }
    let joined = lines.join("\n");
    MANY_NEWLINES
        .replace_all(&joined, "\n\n")
        .trim()
        .to_string()
}

/// `text` with each CRLF as LF, one copy in a few memchr jumps (`str::replace` runs its
/// general substring search, a measurable part of parsing a backlog).
fn lf_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\r') {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        if tail.starts_with("\r\n") {
            out.push('\n');
            rest = tail.get(2..).unwrap_or_default();
        } else {
            out.push('\r');
            rest = tail.get(1..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// The first text/plain body part, else the first HTML part converted to text.
fn body_text(msg: &mail_parser::Message<'_>) -> String {
    let mut html: Option<String> = None;
    for &id in msg.text_body.iter().chain(msg.html_body.iter()) {
        match msg.parts.get(id as usize).map(|p| &p.body) {
            Some(PartType::Text(t)) => return lf_only(t),
            Some(PartType::Html(h)) if html.is_none() => html = Some(h.to_string()),
            _ => {}
        }
    }
    // multipart/related with its HTML root listed after an image leaves the HTML among the parts.
    let html = html.or_else(|| {
        msg.parts.iter().find_map(|p| match &p.body {
            PartType::Html(h) if p.attachment_name().is_none() => Some(h.to_string()),
            _ => None,
        })
    });
    if let Some(h) = html {
        return html_to_text(&h);
    }
    // Broken MIME (a multipart without its boundary) leaves the whole body as one text part.
    let text = msg.parts.iter().find_map(|p| match &p.body {
        PartType::Text(t) => Some(lf_only(t)),
        _ => None,
    });
    // A multipart whose boundary is missing comes out as one binary part.
    let text = text.or_else(|| {
        let root = msg.parts.first()?;
        match &root.body {
            PartType::Binary(b) if content_type_of(root).starts_with("multipart/") => {
                Some(lf_only(&String::from_utf8_lossy(b)))
            }
            _ => None,
        }
    });
    let text = text.or_else(|| {
        if !msg.parts.is_empty() {
            return None;
        }
        // No part at all: the raw bytes after the header.
        let raw: &[u8] = &msg.raw_message;
        let end = raw.windows(2).position(|w| w == b"\n\n" || w == b"\n\r")?;
        let body = raw.get(end + 2..)?;
        if body.iter().take(4096).any(|&b| b == 0) {
            return None;
        }
        Some(lf_only(&String::from_utf8_lossy(body)))
    });
    text.map(|t| unwrap_unannounced_parts(&t))
        .unwrap_or_default()
}

/// A body that still holds `--boundary` lines: the first plain-text part (else the first
/// HTML part, as text) without its part headers; the text unchanged when it holds none.
fn unwrap_unannounced_parts(text: &str) -> String {
    let delimiter = text.lines().take(50).map(str::trim_end).find(|l| {
        l.len() > 2
            && l.starts_with("--")
            && !l.contains(' ')
            && !l.trim_start_matches('-').is_empty()
    });
    let Some(delimiter) = delimiter else {
        return text.to_string();
    };
    let mut html = None;
    for part in text.split(delimiter).skip(1) {
        let part = part.trim_start_matches(['\r', '\n']);
        let (head, body) = part.split_once("\n\n").unwrap_or(("", part));
        let head = head.to_ascii_lowercase();
        let body = body.trim().trim_end_matches("--").trim_end();
        if body.is_empty() || head.starts_with("--") {
            continue;
        }
        if !head.contains("content-type:") || head.contains("text/plain") {
            return body.to_string();
        }
        if html.is_none() && head.contains("text/html") && !head.contains("base64") {
            html = Some(html_to_text(body));
        }
    }
    html.unwrap_or_else(|| text.to_string())
}

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

fn attachments(msg: &mail_parser::Message<'_>) -> Vec<Attachment> {
    msg.attachments
        .iter()
        .filter_map(|&id| msg.parts.get(id as usize))
        .take(MAX_ADDRESSES)
        .map(|p| Attachment {
            name: p.attachment_name().map(|n| truncate(n, MAX_FIELD)),
            content_type: content_type_of(p),
            size: p.len(),
        })
        .collect()
}

const REPORT_TYPES: [&str; 6] = [
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/global-disposition-notification",
    "message/feedback-report",
    "message/tlsrpt",
];

/// Header names that auto-responders set besides `Auto-Submitted` (lower-case).
const AUTOREPLY_HEADERS: [&str; 10] = [
    "x-autoreply",
    "x-autorespond",
    "x-auto-reply-from",
    "x-autoreply-from",
    "x-autogenerated",
    "x-fc-machinegenerated",
    "x-mail-autoreply",
    "x-autoresponder",
    "x-auto-reply",
    "x-autorespond-from",
];

fn auto_signals(headers: &[(String, String)], msg: &mail_parser::Message<'_>) -> AutoSignals {
    let mut s = AutoSignals::default();
    // Header names are compared in place: most messages have a dozen, none of them these.
    for (name, value) in headers {
        let is = |h: &str| name.eq_ignore_ascii_case(h);
        if is("auto-submitted") {
            s.auto_submitted
                .get_or_insert_with(|| value.trim().to_lowercase());
        } else if is("precedence") {
            s.precedence
                .get_or_insert_with(|| value.trim().to_lowercase());
        } else if is("x-auto-response-suppress") {
            s.auto_response_suppress
                .get_or_insert_with(|| value.trim().to_lowercase());
        } else if is("return-path") {
            s.return_path.get_or_insert_with(|| clean_id(value));
        } else if name
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("list-"))
        {
            s.list_header = true;
        } else if AUTOREPLY_HEADERS.iter().any(|h| is(h)) {
            s.autoreply_header = true;
        }
        if s.loop_marker.is_none() && is(LOOP_HEADER) {
            s.loop_marker = Some(value.clone());
        }
    }
    s.report = msg.parts.iter().enumerate().any(|(i, p)| {
        (i == 0 && content_type_is(p, "multipart/report"))
            || REPORT_TYPES.iter().any(|t| content_type_is(p, t))
    });
    s
}

/// Whether `part`'s content type is `want` (lower-case `type/subtype`): [`content_type_of`]
/// without building the string.
fn content_type_is(part: &mail_parser::MessagePart<'_>, want: &str) -> bool {
    match part.content_type() {
        Some(ct) => {
            let (t, sub) = want.split_once('/').unwrap_or((want, ""));
            ct.ctype().eq_ignore_ascii_case(t)
                && ct.subtype().unwrap_or_default().eq_ignore_ascii_case(sub)
        }
        None => content_type_of(part) == want,
    }
}

/// A forwarded original attached as `message/rfc822` (or a top-level message/rfc822 body).
fn attached_forward(msg: &mail_parser::Message<'_>, outer_text: &str) -> Option<Forward> {
    let inner = msg.parts.iter().find_map(|p| match &p.body {
        PartType::Message(m) => Some(m),
        _ => None,
    })?;
    if inner.headers().is_empty() {
        return None;
    }
    let date = inner
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case("date"))
        .map(|h| header_text(inner, h))
        .filter(|d| !d.is_empty());
    Some(Forward {
        style: "attached".into(),
        original_from: first_address(inner.from()),
        original_subject: inner.subject().map(|s| truncate(s.trim(), MAX_FIELD)),
        original_date: date,
        original_message_id: inner.message_id().map(clean_id).filter(|i| !i.is_empty()),
        note: outer_text.trim().to_string(),
        body: body_text(inner),
    })
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn line_ends_become_lf_and_lone_cr_stays() {
        for text in [
            "",
            "a",
            "a\r\nb\r\n",
            "\r\n\r\n",
            "a\rb",
            "\r",
            "x\r\r\ny",
            "مرحبا\r\nسلام\r",
        ] {
            assert_eq!(lf_only(text), text.replace("\r\n", "\n"), "{text:?}");
        }
    }

    #[test]
    fn rejects_non_messages() {
        assert!(parse(b"").is_err());
        assert!(parse(b"\r\n\r\n").is_err());
        assert!(parse(b"just some text without headers\n").is_err());
        assert!(parse(&[0u8, 159, 146, 150, 1, 2, 3, 255]).is_err());
    }

    #[test]
    fn parses_basic_message_and_derives_stable_id() {
        let raw = b"From: A <a@x.example>\r\nTo: b@y.example\r\nSubject: =?utf-8?B?2YXYsdit2KjYpw==?=\r\n\r\nhi\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "مرحبا");
        assert!(m.message_id_derived);
        assert!(m.message_id.starts_with("sha256-"));
        assert_eq!(parse(raw).unwrap().message_id, m.message_id);
        assert_eq!(m.from_email(), "a@x.example");
        assert_eq!(m.text.trim(), "hi");
    }

    #[test]
    fn headers_are_unfolded_and_decoded() {
        let raw = b"Subject: a\r\n long =?iso-8859-1?q?caf=E9?=\r\nList-Id: <x.y>\r\nReturn-Path: <>\r\n\r\nb\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.header("subject"), Some("a long café"));
        assert!(m.auto.list_header);
        assert_eq!(m.auto.return_path.as_deref(), Some(""));
    }

    #[test]
    fn raw_8bit_headers_use_the_message_charset() {
        let raw = b"From: \xda\xe3\xd1 <omar@acme.example>\r\nSubject: \xd8\xe1\xc8\r\nContent-Type: text/plain; charset=windows-1256\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe3\xd1\xcd\xc8\xc7\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "طلب");
        assert_eq!(m.from.as_ref().and_then(|a| a.name.as_deref()), Some("عمر"));
        assert_eq!(m.from_email(), "omar@acme.example");
        assert_eq!(m.text.trim(), "مرحبا");
    }

    #[test]
    fn multipart_without_boundary_keeps_its_text() {
        let raw = b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nCall the bank.\r\n--xyz--\r\n";
        assert_eq!(parse(raw).unwrap().text, "Call the bank.");
    }

    #[test]
    fn html_blocks_become_lines() {
        let t = html_to_text("<div>Hi &amp; bye</div><div>second</div><p>third&nbsp;x</p>");
        assert_eq!(t, "Hi & bye\nsecond\nthird x");
        assert_eq!(html_to_text("a<br/>b<br><br>c"), "a\nb\n\nc");
        assert_eq!(
            html_to_text("<div>Yes</div><blockquote type=\"cite\">old<br>text</blockquote>"),
            "Yes\n\n> old\n> text"
        );
    }

    /// A chain of `depth` attached messages, the innermost saying `hello`.
    fn nested_rfc822(depth: usize) -> Vec<u8> {
        let mut raw = b"From: boss@acme.example\r\nSubject: chain\r\n".to_vec();
        raw.extend(b"Content-Type: message/rfc822\r\n\r\n".repeat(depth));
        raw.extend(b"From: a@b.example\r\nSubject: innermost\r\n\r\nhello\r\n");
        raw
    }

    #[test]
    fn deep_attached_messages_are_parsed_and_dropped_without_recursion() {
        // Under MAX_PARTS, in a thread with a small stack: neither parsing nor dropping the
        // mail-parser tree may recurse per level (100,000 levels aborted the process).
        let raw = nested_rfc822(MAX_PARTS - 10);
        let m = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || parse(&raw).map(|m| m.subject))
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        assert_eq!(m.unwrap(), "chain");
    }

    #[test]
    fn a_thousand_nested_multiparts_keep_the_innermost_text() {
        let n = 1000;
        let mut raw = String::from(
            "From: boss@acme.example\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n",
        );
        for i in 1..n {
            raw += &format!(
                "--b{}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n",
                i - 1
            );
        }
        raw += &format!(
            "--b{}\r\nContent-Type: text/plain\r\n\r\nDeep text.\r\n",
            n - 1
        );
        for i in (0..n).rev() {
            raw += &format!("--b{i}--\r\n");
        }
        assert_eq!(parse(raw.as_bytes()).unwrap().text.trim(), "Deep text.");
    }

    #[test]
    fn too_many_parts_are_refused_before_parsing() {
        let err = parse(&nested_rfc822(MAX_PARTS + 1)).unwrap_err();
        assert!(err.0.contains("MIME parts"), "{err}");
        let mut flat = b"From: a@b.example\nContent-Type: multipart/mixed; boundary=q\n\n".to_vec();
        flat.extend(b"--q\n\nx\n".repeat(MAX_PARTS));
        assert!(parse(&flat).is_err());
        // Signature separators and SQL comments are no part delimiters.
        let mut text = b"From: a@b.example\n\n".to_vec();
        text.extend(b"-- \n-- a comment\n".repeat(MAX_PARTS));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_megabyte_header_is_cut_not_choked_on() {
        let t = std::time::Instant::now();
        let mut raw = b"From: boss@acme.example\r\nSubject: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', 1 << 20));
        raw.extend(b"\r\nX-Many: ");
        raw.extend(b"\r\n word".repeat(1 << 17));
        raw.extend(b"\r\n\r\nbody\r\n");
        let m = parse(&raw).unwrap();
        assert_eq!(m.subject.len(), MAX_FIELD);
        assert!(m
            .header("X-Many")
            .is_some_and(|v| v.len() <= MAX_HEADER_VALUE));

        let mut many = b"From: boss@acme.example\r\nSubject: many\r\n".to_vec();
        for i in 0..50_000 {
            many.extend(format!("X-H-{i}: v\r\n").as_bytes());
        }
        many.extend(b"\r\nbody\r\n");
        let m = parse(&many).unwrap();
        assert_eq!(m.headers.len(), MAX_HEADERS);
        assert_eq!(m.subject, "many");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }
}
