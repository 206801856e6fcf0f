//! MIME walking and text extraction: which part is the body, and HTML turned into text.

use super::header::truncate;
use super::limits::MAX_HTML;
use mail_parser::decoders::html::html_to_text as mp_html_to_text;
use mail_parser::{MimeHeaders, PartType};
use regex::Regex;
use std::sync::LazyLock;

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
pub(super) fn body_text(msg: &mail_parser::Message<'_>) -> String {
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

pub(super) fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
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

/// Whether `part`'s content type is `want` (lower-case `type/subtype`): [`content_type_of`]
/// without building the string.
pub(super) fn content_type_is(part: &mail_parser::MessagePart<'_>, want: &str) -> bool {
    match part.content_type() {
        Some(ct) => {
            let (t, sub) = want.split_once('/').unwrap_or((want, ""));
            ct.ctype().eq_ignore_ascii_case(t)
                && ct.subtype().unwrap_or_default().eq_ignore_ascii_case(sub)
        }
        None => content_type_of(part) == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn html_blocks_become_lines() {
        let t = html_to_text("<div>Hi &amp; bye</div><div>second</div><p>third&nbsp;x</p>");
        assert_eq!(t, "Hi & bye\nsecond\nthird x");
        assert_eq!(html_to_text("a<br/>b<br><br>c"), "a\nb\n\nc");
        assert_eq!(
            html_to_text("<div>Yes</div><blockquote type=\"cite\">old<br>text</blockquote>"),
            "Yes\n\n> old\n> text"
        );
    }
}
