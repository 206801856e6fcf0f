//! Bytes → [`Message`] with mail-parser. Pure: no I/O, never panics on input.
//!
//! This module checks the bytes and assembles the [`Message`]; `header` decodes header values,
//! addresses, ids and dates; `body` walks the MIME parts for the body text and the attachments;
//! `files` takes out the files it carries; `limits` holds the bounds all of them keep.

mod body;
mod files;
mod header;
mod limits;

pub use body::html_to_text;
pub use header::derived_id;

use super::{forward, quote, Address, AutoSignals, Forward, Message, LOOP_HEADER};
use body::{body_text, content_type_is};
use header::{
    addresses, clean_id, first_address, header_text, header_text_with, id_list, is_raw_8bit,
    reparse_addresses, to_chrono, truncate,
};
use limits::{MAX_FIELD, MAX_HEADERS, MAX_PARTS};
use mail_parser::{HeaderName, MessageParser, MimeHeaders, PartType};
use std::sync::LazyLock;

/// mail-parser, told to give structure only to the headers read through it (MIME, addresses,
/// dates, ids, Subject): every header's text is decoded again from its raw bytes (`header`), so
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
    let mut parsed = PARSER
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
    msg.auto = auto_signals(&msg.headers, &parsed);

    msg.forward = attached_forward(&parsed, &msg.text).or_else(|| {
        forward::find_inline_in(&msg.text, Some(&msg.subject), !msg.in_reply_to.is_empty())
    });
    msg.new_text = match &msg.forward {
        Some(f) => quote::new_text(&f.note),
        None => quote::new_text(&msg.text),
    };
    // Last: it moves decoded bytes out of the parse.
    let charset = parsed
        .parts
        .first()
        .and_then(|p| p.content_type())
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_string);
    msg.attachments = files::files(&mut parsed, raw, charset.as_deref());
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

impl std::ops::DerefMut for FlatDrop<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
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
    use super::limits::MAX_HEADER_VALUE;
    use super::*;

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
