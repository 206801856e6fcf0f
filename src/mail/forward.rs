//! Inline forwards (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, Arabic and other
//! localised forms): find the forwarded original's header block in a body's text.

use super::labels::{fold, label_field, label_line, separator, unquote, Field};
use super::{Address, Forward};
use regex::Regex;
use std::sync::LazyLock;

/// Longer bodies are only scanned this far for a forward block.
const MAX_LINES: usize = 20_000;
/// A header block is never longer than this (keeps the scan linear on hostile bodies).
const MAX_BLOCK_LINES: usize = 40;
/// How many blank lines may separate a separator from its header block.
const MAX_GAP: usize = 3;

/// Label positions inside a one-line header block (Yahoo).
static INLINE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(From|To|Cc|CC|Sent|Date|Subject|От|Кому|Копия|Отправлено|Тема|Дата|Von|An|Gesendet|Betreff|De|À|Objet|Envoyé|Date|من|إلى|الى|أرسل|التاريخ|الموضوع):\s?")
        .expect("static regex")
});

static MAILTO_ANGLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<mailto:[^<>]*>").expect("static regex"));
static ANGLE_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<\s*(?:mailto:)?([^<>\s]+@[^<>\s]+?)\s*>").expect("static regex")
});
static BRACKET_MAILTO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\[\s*mailto:([^\]\s]+)\s*\]").expect("static regex"));
static BARE_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[^\s<>"'\[\](),;:]+@[^\s<>"'\[\](),;:]+\.[^\s<>"'\[\](),;:]+"#)
        .expect("static regex")
});

/// What an outer Subject says about the mail: a forward (`Fwd:`) or a reply (`Re:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjectKind {
    Forward,
    Reply,
    Unknown,
}

static FWD_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(fwd?|fw|tr|wg|rv|enc|i|vs|doorst|pd|pfw|пересл|fwd?\s*\[\d+\]|转发|轉寄|اعادة توجيه|توجيه|تحويل)\s*[:：]")
        .expect("static regex")
});
static RE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(re|aw|sv|antw|odp|ynt|отв|ответ|回复|答复|回覆|رد)\s*(\[\d+\])?\s*[:：]")
        .expect("static regex")
});

fn subject_kind(subject: Option<&str>) -> SubjectKind {
    let Some(s) = subject else {
        return SubjectKind::Unknown;
    };
    let s = fold(s);
    if FWD_PREFIX.is_match(&s) {
        SubjectKind::Forward
    } else if RE_PREFIX.is_match(&s) {
        SubjectKind::Reply
    } else {
        SubjectKind::Unknown
    }
}

/// The subject without its `Fwd:`/`FW:` prefixes.
fn strip_fwd_prefix(subject: &str) -> String {
    let mut s = subject.trim().to_string();
    for _ in 0..5 {
        let folded = fold(&s);
        match FWD_PREFIX.find(&folded) {
            // The prefixes are ASCII or keep their length when folded only if no diacritics;
            // find the colon in the original instead of trusting byte offsets.
            Some(_) => match s.find([':', '：']) {
                Some(p) => {
                    let colon_len = s
                        .get(p..)
                        .and_then(|r| r.chars().next())
                        .map_or(1, char::len_utf8);
                    s = s.get(p + colon_len..).unwrap_or("").trim().to_string();
                }
                None => break,
            },
            None => break,
        }
    }
    s
}

/// Parse `Name <addr>`, `"Doe, John" <addr>`, `addr`, `Name [mailto:addr]`, `Name`.
pub fn parse_address(value: &str) -> Option<Address> {
    let v = value.trim().trim_matches('*').trim();
    if v.is_empty() {
        return None;
    }
    let v = MAILTO_ANGLE.replace_all(v, "");
    let v = v.trim();
    let clean_name = |n: &str| {
        let n = n
            .trim()
            .trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\'' | '*' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                ) || c.is_whitespace()
            })
            .trim();
        (!n.is_empty()).then(|| n.to_string())
    };
    if let Some(c) = ANGLE_EMAIL.captures(v) {
        let m = c.get(0)?;
        return Some(Address {
            name: clean_name(v.get(..m.start())?),
            email: c.get(1)?.as_str().to_string(),
        });
    }
    if let Some(c) = BRACKET_MAILTO.captures(v) {
        let m = c.get(0)?;
        return Some(Address {
            name: clean_name(v.get(..m.start())?),
            email: c.get(1)?.as_str().to_string(),
        });
    }
    if let Some(m) = BARE_EMAIL.find(v) {
        return Some(Address {
            name: clean_name(v.get(..m.start())?),
            email: m.as_str().to_string(),
        });
    }
    Some(Address {
        name: clean_name(v),
        email: String::new(),
    })
}

#[derive(Default)]
struct Block {
    from: Option<String>,
    date: Option<String>,
    subject: Option<String>,
    to: bool,
    labels: usize,
    arabic: bool,
    quoted: bool,
}

impl Block {
    fn set(&mut self, field: Field, value: &str) {
        let v = Some(value.trim().to_string());
        match field {
            Field::From if self.from.is_none() => self.from = v,
            Field::Date if self.date.is_none() => self.date = v,
            Field::Subject if self.subject.is_none() => self.subject = v,
            Field::To => self.to = true,
            _ => {}
        }
        self.labels += 1;
    }

    /// A block without a separator must look like a whole header block.
    fn is_full(&self) -> bool {
        self.from.is_some() && self.labels >= 3 && (self.date.is_some() || self.subject.is_some())
    }

    fn has_any(&self) -> bool {
        self.from.is_some() || self.subject.is_some() || self.date.is_some()
    }
}

fn is_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

/// Read a header block starting at `start`; returns it and the index of the first body line.
fn read_block(lines: &[&str], start: usize, skip_blank: bool) -> (Block, usize) {
    let mut b = Block::default();
    let mut i = start;
    let mut gap = 0;
    let mut last: Option<Field> = None;
    while let Some(line) = lines.get(i) {
        if i >= start + MAX_BLOCK_LINES {
            break;
        }
        let (depth, content) = unquote(line);
        if content.trim().is_empty() {
            if b.labels == 0 && skip_blank && gap < MAX_GAP {
                gap += 1;
                i += 1;
                continue;
            }
            break;
        }
        match label_line(content) {
            Some((field, value)) => {
                if b.labels == 0 {
                    b.quoted = depth > 0;
                }
                if is_arabic(content) {
                    b.arabic = true;
                }
                b.set(field, value);
                last = Some(field);
            }
            // Long To/Cc lists wrap onto the next line.
            None if matches!(last, Some(Field::To | Field::Cc)) && content.contains('@') => {}
            None => break,
        }
        i += 1;
    }
    (b, i)
}

/// Yahoo writes `From: … To: … Sent: … Subject: …` on the separator line itself.
fn read_inline_block(rest: &str) -> Block {
    let mut b = Block::default();
    let marks: Vec<(usize, usize, &str)> = INLINE_LABEL
        .captures_iter(rest)
        .filter_map(|c| Some((c.get(0)?.start(), c.get(0)?.end(), c.get(1)?.as_str())))
        .collect();
    for (k, (_, end, label)) in marks.iter().enumerate() {
        let stop = marks.get(k + 1).map_or(rest.len(), |m| m.0);
        let value = rest.get(*end..stop).unwrap_or("");
        if let Some(field) = label_field(label) {
            b.set(field, value);
        }
    }
    b
}

fn join_trim(lines: &[&str]) -> String {
    lines.join("\n").trim().to_string()
}

fn body_after(lines: &[&str], from: usize, quoted: bool) -> String {
    let rest = lines.get(from..).unwrap_or_default();
    if quoted {
        let un: Vec<&str> = rest
            .iter()
            .map(|l| {
                let t = l.trim_start();
                match t.strip_prefix('>') {
                    Some(r) => r.strip_prefix(' ').unwrap_or(r),
                    None => l,
                }
            })
            .collect();
        join_trim(&un)
    } else {
        join_trim(rest)
    }
}

fn make(style: &str, b: &Block, note: String, body: String) -> Forward {
    let style = if b.arabic && style != "arabic" && matches!(style, "outlook" | "gmail") {
        "arabic"
    } else {
        style
    };
    Forward {
        style: style.to_string(),
        original_from: b.from.as_deref().and_then(parse_address),
        original_subject: b.subject.clone().filter(|s| !s.is_empty()),
        original_date: b.date.clone().filter(|s| !s.is_empty()),
        original_message_id: None,
        note,
        body,
    }
}

/// Find an inline forward block in a body's text.
pub fn find_inline(text: &str) -> Option<Forward> {
    find_inline_with_subject(text, None)
}

/// Like [`find_inline`], using the outer Subject when known: under `Re:` an Outlook header
/// block is a quoted reply, not a forward; under `Fwd:` a reply-style `On … wrote:` header
/// (Outlook for Mac) introduces the forwarded original.
pub fn find_inline_with_subject(text: &str, subject: Option<&str>) -> Option<Forward> {
    find_inline_in(text, subject, false)
}

/// Like [`find_inline_with_subject`]; `in_reply` (the mail has `In-Reply-To`) makes a
/// subject without `Fwd:`/`Re:` count as a reply.
pub fn find_inline_in(text: &str, subject: Option<&str>, in_reply: bool) -> Option<Forward> {
    let kind = match subject_kind(subject) {
        SubjectKind::Unknown if in_reply => SubjectKind::Reply,
        k => k,
    };
    let lines: Vec<&str> = text.lines().take(MAX_LINES).collect();
    // A bare block that is not a whole header block holds no whole block either.
    let mut skip_until = 0;
    for (i, line) in lines.iter().enumerate() {
        if i < skip_until {
            continue;
        }
        let (depth, content) = unquote(line);
        let trimmed = content.trim();
        if trimmed.is_empty() {
            continue;
        }
        // In a reply, a forward block inside the quoted original is not this mail's forward.
        if kind == SubjectKind::Reply
            && (depth > 0 || super::quote::attribution_at(&lines, i).is_some())
        {
            return None;
        }
        let note = || join_trim(lines.get(..i).unwrap_or_default());
        if let Some((style, rest)) = separator(line) {
            let reply_like =
                style == "outlook" || (style == "arabic" && fold(trimmed).contains("الاصلية"));
            if reply_like && kind == SubjectKind::Reply {
                continue;
            }
            if !rest.trim().is_empty() {
                let b = read_inline_block(rest);
                if b.has_any() {
                    return Some(make(style, &b, note(), body_after(&lines, i + 1, false)));
                }
            }
            let (b, end) = read_block(&lines, i + 1, true);
            if b.has_any() || !reply_like {
                return Some(make(style, &b, note(), body_after(&lines, end, b.quoted)));
            }
            continue;
        }
        // Outlook's `________` line, or a bare From/Sent/To/Subject block.
        let underscores = trimmed.len() >= 10 && trimmed.chars().all(|c| c == '_');
        if underscores || label_line(content).is_some() {
            if kind == SubjectKind::Reply {
                continue;
            }
            let start = if underscores { i + 1 } else { i };
            let (b, end) = read_block(&lines, start, underscores);
            if b.is_full() {
                return Some(make(
                    "outlook",
                    &b,
                    note(),
                    body_after(&lines, end, b.quoted),
                ));
            }
            skip_until = end;
            continue;
        }
        if kind == SubjectKind::Forward {
            if let Some((a_start, a_end)) = super::quote::attribution_at(&lines, i) {
                let header = lines.get(a_start..=a_end).unwrap_or_default().join(" ");
                let b = Block {
                    from: attribution_sender(&header),
                    subject: subject.map(strip_fwd_prefix),
                    ..Block::default()
                };
                let body = body_after(&lines, a_end + 1, false);
                let body = body
                    .lines()
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n");
                let note = join_trim(lines.get(..a_start).unwrap_or_default());
                return Some(make("attribution", &b, note, body));
            }
        }
    }
    None
}

static QUOTED_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]+)"\s*<([^<>\s]+@[^<>\s]+)>"#).expect("static regex"));

/// The sender named in an `On …, "Name" <addr> wrote:` line.
fn attribution_sender(line: &str) -> Option<String> {
    if let Some(c) = QUOTED_NAME.captures(line) {
        return Some(format!(
            "\"{}\" <{}>",
            c.get(1)?.as_str(),
            c.get(2)?.as_str()
        ));
    }
    ANGLE_EMAIL
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(f: &Forward) -> String {
        f.original_from.clone().unwrap_or_default().email
    }

    #[test]
    fn parses_address_forms() {
        let a = parse_address("John Doe <john.doe@acme.com>").unwrap();
        assert_eq!(a.name.as_deref(), Some("John Doe"));
        assert_eq!(a.email, "john.doe@acme.com");
        let a = parse_address("\"Doe, John\" <j@acme.com>").unwrap();
        assert_eq!(a.name.as_deref(), Some("Doe, John"));
        assert_eq!(parse_address("j@acme.com").unwrap().email, "j@acme.com");
        let a = parse_address("John Doe [mailto:j@acme.com]").unwrap();
        assert_eq!(
            (a.name.as_deref(), a.email.as_str()),
            (Some("John Doe"), "j@acme.com")
        );
        let a = parse_address("John Doe").unwrap();
        assert_eq!(
            (a.name.as_deref(), a.email.as_str()),
            (Some("John Doe"), "")
        );
        assert_eq!(a.to_string(), "John Doe");
        let a = parse_address(
            "John<mailto:j@acme.com> <j@acme.com<mailto:j@acme.com>> on behalf of t@acme.com",
        )
        .unwrap();
        assert_eq!(a.email, "j@acme.com");
    }

    #[test]
    fn gmail_forward_with_note() {
        let t = "Please handle.\n\n---------- Forwarded message ---------\nFrom: *Jane* <jane@x.example>\nDate: Mon, 1 Dec 2026\nSubject: Invoice 7\nTo: <me@y.example>\n\nPay me.\n";
        let f = find_inline(t).unwrap();
        assert_eq!(f.style, "gmail");
        assert_eq!(email(&f), "jane@x.example");
        assert_eq!(f.original_subject.as_deref(), Some("Invoice 7"));
        assert_eq!(f.note, "Please handle.");
        assert_eq!(f.body, "Pay me.");
    }

    #[test]
    fn arabic_forward_with_and_without_harakat() {
        for sep in [
            "---------- رسالة مُعاد توجيهها ----------",
            "---------- رسالة معاد توجيهها ----------",
            "الرسالة المعاد توجيهها:",
        ] {
            let t = format!("يرجى المتابعة\n\n{sep}\nمِن: سارة <sara@x.example>\nالتاريخ: ٢ ديسمبر\nالموضوع: فاتورة\nإلى: <a@b.example>\n\nنص\n");
            let f = find_inline(&t).unwrap();
            assert_eq!(f.style, "arabic");
            assert_eq!(email(&f), "sara@x.example");
            assert_eq!(f.original_subject.as_deref(), Some("فاتورة"));
            assert_eq!(f.note, "يرجى المتابعة");
        }
    }

    #[test]
    fn outlook_arabic_original_message_block() {
        let t = "شكرا\n\n-----الرسالة الأصلية-----\nمن: Ali <ali@x.example>\nأرسل: الأحد\nإلى: me@y.example\nالموضوع: طلب\n\nالنص";
        let f = find_inline(t).unwrap();
        assert_eq!(email(&f), "ali@x.example");
        assert_eq!(f.original_subject.as_deref(), Some("طلب"));
    }

    #[test]
    fn reply_is_not_forward() {
        let t = "Sure.\n\nOn Mon, Dec 1, 2026 at 9:00 AM Jane <jane@x.example> wrote:\n> hi\n";
        assert!(find_inline(t).is_none());
        let t = "Ok\n\n________________________________\nFrom: Jane <jane@x.example>\nSent: Monday\nTo: me@y.example\nSubject: Re: x\n\nhi";
        assert!(find_inline(t).is_some());
        assert!(find_inline_with_subject(t, Some("RE: x")).is_none());
        assert!(find_inline_in(t, Some("x"), true).is_none());
        assert!(find_inline_in(t, Some("FW: x"), true).is_some());
    }

    #[test]
    fn attribution_forward_under_fwd_subject() {
        let t =
            "\u{feff}On 28/10/2021 12:46, \"John Doe\" <john.doe@acme.com> wrote:\n\n    Body.\n";
        let f = find_inline_with_subject(t, Some("FW: Integer")).unwrap();
        assert_eq!(email(&f), "john.doe@acme.com");
        assert_eq!(f.original_subject.as_deref(), Some("Integer"));
        assert!(find_inline(t).is_none());
    }

    #[test]
    fn reply_quoting_a_forward_is_not_a_forward() {
        let t = "Done.\n\nOn Mon, 1 Dec 2026 at 10:00, musaid <tasks@va.example> wrote:\n> Task #42\n> ---------- Forwarded message ---------\n> From: Jane <jane@x.example>\n> Subject: Invoice\n";
        assert!(find_inline_with_subject(t, Some("Re: [#42] Invoice")).is_none());
        let t = "Also this one.\n\n---------- Forwarded message ---------\nFrom: Jane <jane@x.example>\nSubject: Invoice 2\n\nPay.";
        let f = find_inline_with_subject(t, Some("Re: [#42] Invoice")).unwrap();
        assert_eq!(f.original_subject.as_deref(), Some("Invoice 2"));
    }

    #[test]
    fn hostile_bodies_stay_fast() {
        let t = "To: a@b.example\n".repeat(20_000);
        let start = std::time::Instant::now();
        assert!(find_inline(&t).is_none());
        let _ = crate::mail::quote::new_text(&t);
        assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
    }

    #[test]
    fn yahoo_one_line_block() {
        let t = "  ----- Forwarded Message ----- From: John <j@acme.com>To: \"b@acme.com\" <b@acme.com>Sent: Tuesday, November 2, 2021, 09:26:50 AM GMT+1Subject: Hello there\n Body";
        let f = find_inline(t).unwrap();
        assert_eq!(f.style, "yahoo");
        assert_eq!(email(&f), "j@acme.com");
        assert_eq!(f.original_subject.as_deref(), Some("Hello there"));
    }
}
