//! Inline forwards (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, Arabic and other
//! localised forms): find the forwarded original's header block in a body's text.

use super::{Address, Forward};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Longer bodies are only scanned this far for a forward block.
const MAX_LINES: usize = 20_000;
/// A header block is never longer than this (keeps the scan linear on hostile bodies).
const MAX_BLOCK_LINES: usize = 40;
/// How many blank lines may separate a separator from its header block.
const MAX_GAP: usize = 3;

/// The header a forward-block line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    From,
    Date,
    Subject,
    To,
    Cc,
}

/// Fold text for label matching: lower-case, Arabic diacritics (harakat U+064B–U+065F,
/// U+0670) and tatweel removed, alef forms (أ إ آ ٱ) unified to ا, invisible marks dropped.
pub(crate) fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    // Most characters fold to themselves (Arabic letters, lower-case Latin): they are copied
    // a span at a time, from `kept` to the next one that changes. ASCII and Arabic (U+0600 to
    // U+06FF, two bytes led by 0xD8 to 0xDB) are told apart by their bytes.
    let (mut i, mut kept) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        let (len, with): (usize, Option<&str>) = match (b, bytes.get(i + 1).copied()) {
            (b'A'..=b'Z', _) => {
                let k = usize::from(b - b'A');
                (1, LOWER.get(k..k + 1))
            }
            (0..=0x7F, _) => (1, None),
            // آ أ إ (U+0622, U+0623, U+0625) and ٱ (U+0671) become ا.
            (0xD8, Some(0xA2 | 0xA3 | 0xA5)) | (0xD9, Some(0xB1)) => (2, Some("ا")),
            // Tatweel (U+0640), harakat (U+064B to U+065F), superscript alef (U+0670).
            (0xD9, Some(0x80 | 0x8B..=0x9F | 0xB0)) => (2, Some("")),
            (0xD8..=0xDB, _) => (2, None),
            _ => {
                let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else {
                    break;
                };
                let len = c.len_utf8();
                match c {
                    '\u{200B}'..='\u{200F}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}' => {
                        (len, Some(""))
                    }
                    '\u{00A0}' => (len, Some(" ")),
                    c => {
                        let lower = c.to_lowercase();
                        if lower.len() != 1 || lower.clone().next() != Some(c) {
                            out.push_str(s.get(kept..i).unwrap_or_default());
                            out.extend(lower);
                            kept = i + len;
                        }
                        (len, None)
                    }
                }
            }
        };
        if let Some(with) = with {
            out.push_str(s.get(kept..i).unwrap_or_default());
            out.push_str(with);
            kept = i + len;
        }
        i += len;
    }
    out.push_str(s.get(kept..).unwrap_or_default());
    out
}

/// Header labels that forward blocks use, by language (folded at first use).
const LABELS: &[(&str, Field)] = &[
    // English
    ("from", Field::From),
    ("sender", Field::From),
    ("date", Field::Date),
    ("sent", Field::Date),
    ("subject", Field::Subject),
    ("to", Field::To),
    ("cc", Field::Cc),
    // German
    ("von", Field::From),
    ("datum", Field::Date),
    ("gesendet", Field::Date),
    ("betreff", Field::Subject),
    ("an", Field::To),
    ("kopie", Field::Cc),
    // French
    ("de", Field::From),
    ("envoyé", Field::Date),
    ("objet", Field::Subject),
    ("à", Field::To),
    // Spanish / Italian / Dutch / Nordic (Outlook)
    ("enviado", Field::Date),
    ("asunto", Field::Subject),
    ("para", Field::To),
    ("da", Field::From),
    ("inviato", Field::Date),
    ("oggetto", Field::Subject),
    ("van", Field::From),
    ("verzonden", Field::Date),
    ("onderwerp", Field::Subject),
    ("aan", Field::To),
    ("fra", Field::From),
    ("från", Field::From),
    ("emne", Field::Subject),
    ("ämne", Field::Subject),
    // Russian / Ukrainian
    ("от", Field::From),
    ("отправитель", Field::From),
    ("від", Field::From),
    ("дата", Field::Date),
    ("отправлено", Field::Date),
    ("надіслано", Field::Date),
    ("тема", Field::Subject),
    ("кому", Field::To),
    ("копия", Field::Cc),
    ("копія", Field::Cc),
    // Japanese / Chinese
    ("送信元", Field::From),
    ("差出人", Field::From),
    ("日付", Field::Date),
    ("送信日時", Field::Date),
    ("件名", Field::Subject),
    ("送信先", Field::To),
    ("宛先", Field::To),
    ("发件人", Field::From),
    ("寄件者", Field::From),
    ("日期", Field::Date),
    ("发送时间", Field::Date),
    ("寄件日期", Field::Date),
    ("主题", Field::Subject),
    ("主旨", Field::Subject),
    ("收件人", Field::To),
    ("收件者", Field::To),
    ("抄送", Field::Cc),
    ("副本", Field::Cc),
    // Turkish
    ("kimden", Field::From),
    ("gönderen", Field::From),
    ("tarih", Field::Date),
    ("gönderildi", Field::Date),
    ("konu", Field::Subject),
    ("kime", Field::To),
    ("alıcı", Field::To),
    // Arabic (folded: no harakat, alef unified)
    ("من", Field::From),
    ("المرسل", Field::From),
    ("التاريخ", Field::Date),
    ("تاريخ", Field::Date),
    ("ارسل", Field::Date),
    ("ارسلت", Field::Date),
    ("تم الارسال", Field::Date),
    ("الموضوع", Field::Subject),
    ("موضوع", Field::Subject),
    ("الى", Field::To),
    ("الي", Field::To),
    ("نسخة", Field::Cc),
    ("نسخة الى", Field::Cc),
];

/// `map`'s value for `key` folded: without allocating for a short ASCII key, which folds to
/// its lower case (most lines tested as labels or separators are neither).
fn folded_get<'m, V>(map: &'m HashMap<String, V>, key: &str) -> Option<&'m V> {
    const SHORT: usize = 64;
    if key.is_ascii() && key.len() <= SHORT {
        let mut buf = [0u8; SHORT];
        let lower = buf.get_mut(..key.len())?;
        lower.copy_from_slice(key.as_bytes());
        lower.make_ascii_lowercase();
        return map.get(std::str::from_utf8(lower).ok()?);
    }
    map.get(&fold(key))
}

static LABEL_MAP: LazyLock<HashMap<String, Field>> =
    LazyLock::new(|| LABELS.iter().map(|(l, f)| (fold(l), *f)).collect());

/// Separator phrases (folded, without dashes and colons) and the client style they mean.
const SEPARATORS: &[(&str, &str)] = &[
    ("forwarded message", "gmail"),
    ("begin forwarded message", "apple"),
    ("début du message réexpédié", "apple"),
    ("начало переадресованного сообщения", "apple"),
    ("anfang der weitergeleiteten nachricht", "apple"),
    ("inicio del mensaje reenviado", "apple"),
    ("weitergeleitete nachricht", "thunderbird"),
    ("message transféré", "thunderbird"),
    ("перенаправленное сообщение", "thunderbird"),
    ("переслане повідомлення", "thunderbird"),
    ("пересылаемое сообщение", "yahoo"),
    ("mensaje reenviado", "gmail"),
    ("messaggio inoltrato", "gmail"),
    ("doorgestuurd bericht", "gmail"),
    ("メッセージを転送", "gmail"),
    ("転送されたメッセージ", "gmail"),
    ("转发的邮件", "gmail"),
    ("轉寄的郵件", "gmail"),
    ("已转发邮件", "gmail"),
    ("iletilen ileti", "gmail"),
    ("yönlendirilmiş mesaj", "gmail"),
    ("iletilmiş mesaj", "gmail"),
    ("original message", "outlook"),
    ("ursprüngliche nachricht", "outlook"),
    ("message d'origine", "outlook"),
    ("исходное сообщение", "outlook"),
    ("mensaje original", "outlook"),
    ("messaggio originale", "outlook"),
    ("oorspronkelijk bericht", "outlook"),
    ("رسالة معاد توجيهها", "arabic"),
    ("الرسالة المعاد توجيهها", "arabic"),
    ("رسالة معاد توجيهها", "arabic"),
    ("الرسالة المعاد توجيهها", "arabic"),
    ("رسالة محولة", "arabic"),
    ("الرسالة الاصلية", "arabic"),
    ("الرساله الاصليه", "arabic"),
];

static SEPARATOR_MAP: LazyLock<HashMap<String, &'static str>> =
    LazyLock::new(|| SEPARATORS.iter().map(|(p, s)| (fold(p), *s)).collect());

/// `----- Phrase ----- rest` (Yahoo puts the whole header block on the separator line).
static DASHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(-{2,})\s*([^-].*?)\s*-{2,}\s*(.*)$").expect("static regex"));

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

/// Remove `>` quote markers; returns (quote depth, content).
pub(crate) fn unquote(line: &str) -> (usize, &str) {
    let mut depth = 0;
    let mut rest = line;
    loop {
        let t = rest.trim_start_matches([' ', '\t', '\u{a0}']);
        match t.strip_prefix('>') {
            Some(r) => {
                depth += 1;
                rest = r;
            }
            None => return (depth, if depth == 0 { rest } else { t }),
        }
    }
}

/// A `Label: value` line of a forward or reply header block (markers like `*From:*` allowed).
pub(crate) fn label_line(line: &str) -> Option<(Field, &str)> {
    let t = line.trim_start_matches([' ', '\t', '\u{a0}', '\u{feff}', '*', '\u{200f}', '\u{200e}']);
    let (colon, clen) = label_colon(t)?;
    let label = t.get(..colon)?.trim_matches([' ', '\t', '*', '\u{a0}']);
    if label.is_empty() || label.chars().count() > 25 {
        return None;
    }
    let field = *folded_get(&LABEL_MAP, label)?;
    let value = t.get(colon + clen..)?.trim_matches([
        ' ', '\t', '*', '\u{a0}', '\r', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}',
        '\u{202d}', '\u{202e}',
    ]);
    Some((field, value))
}

/// The byte offset and length of the first `:` or `：` (U+FF1A) among the first 40 characters
/// of `t`. Most lines tested have none: they are turned down by a byte search of their first
/// 160 bytes (40 characters take at most that many), without decoding a character.
fn label_colon(t: &str) -> Option<(usize, usize)> {
    const WIDE: &[u8] = "：".as_bytes();
    let bytes = t.as_bytes();
    let window = bytes.get(..bytes.len().min(160)).unwrap_or(bytes);
    let mut from = 0;
    let found = loop {
        // `:` is ASCII and U+FF1A's first byte (0xEF) only ever starts a character, so
        // neither is found inside another character.
        let i = from + memchr::memchr2(b':', 0xEF, window.get(from..)?)?;
        match bytes.get(i) {
            Some(b':') => break (i, 1),
            _ if bytes.get(i..i + WIDE.len()) == Some(WIDE) => break (i, WIDE.len()),
            _ => from = i + 1,
        }
    };
    (t.get(..found.0)?.chars().count() < 40).then_some(found)
}

/// A separator line's style and any header text on the same line (Yahoo).
pub(crate) fn separator(line: &str) -> Option<(&'static str, &str)> {
    let (_, content) = unquote(line);
    let content = content.trim();
    if content.len() > 4000 || content.is_empty() {
        return None;
    }
    let dashed = content.starts_with("--");
    if !dashed && content.len() > 120 {
        return None;
    }
    if let Some(c) = dashed.then(|| DASHED.captures(content)).flatten() {
        let dashes = c.get(1).map_or(0, |m| m.as_str().len());
        let phrase = c.get(2).map_or("", |m| m.as_str());
        let rest = c.get(3).map_or("", |m| m.as_str());
        let folded = fold(phrase.trim_end_matches([':', ' ']));
        if let Some(style) = SEPARATOR_MAP.get(&folded) {
            let style = match (*style, dashes) {
                ("gmail", 6..=8) if folded == "forwarded message" => "thunderbird",
                ("gmail", 0..=5) if folded == "forwarded message" => "yahoo",
                (s, _) => s,
            };
            return Some((style, rest));
        }
        return None;
    }
    let bare = content
        .trim_matches(['-', '_', ' ', '\t', '*'])
        .trim_end_matches([':', '：', ' ']);
    // Separator phrases have at most five words.
    if bare.is_empty() || bare.split_whitespace().nth(5).is_some() {
        return None;
    }
    let style = folded_get(&SEPARATOR_MAP, bare)?;
    let style = if fold(bare) == "forwarded message" {
        "forward"
    } else {
        style
    };
    Some((style, ""))
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
        if let Some(field) = folded_get(&LABEL_MAP, label) {
            b.set(*field, value);
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

    /// `fold` as it was, one character pushed at a time: the reference.
    fn fold_by_chars(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\u{064B}'..='\u{065F}'
                | '\u{0670}'
                | '\u{0640}'
                | '\u{200B}'..='\u{200F}'
                | '\u{FEFF}'
                | '\u{202A}'..='\u{202E}' => {}
                'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
                '\u{00A0}' => out.push(' '),
                c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
                c @ '\u{0600}'..='\u{06FF}' => out.push(c),
                c => out.extend(c.to_lowercase()),
            }
        }
        out
    }

    #[test]
    fn fold_copies_spans_and_changes_what_a_character_fold_changes() {
        let texts = [
            "",
            "plain ascii, Upper Case",
            "رسالة مُعاد توجيهها — الرسالة الأصلية",
            "إلى: أحمد آل ٱلرشيد ـــ مرحبًا",
            "\u{200f}من:\u{200e} Ahmed\u{a0}Ali \u{feff}\u{202b}x\u{202c}",
            "İstanbul ΣΟΦΙΑ Straße ẞ ǅ Ω K",
            "Начало переадресованного сообщения: ПРИВЕТ",
            "日本語のメッセージを転送 😀 End",
            "ü",
            "Ü",
            "اًٌٍَُِّْٰـ",
        ];
        for t in texts {
            assert_eq!(fold(t), fold_by_chars(t), "{t:?}");
            // And at every character boundary, so each span's edges are covered.
            for (i, _) in t.char_indices() {
                let (a, b) = t.split_at(i);
                assert_eq!(fold(a), fold_by_chars(a), "{a:?}");
                assert_eq!(fold(b), fold_by_chars(b), "{b:?}");
            }
        }
        assert_eq!(fold("إلى: أحمد"), "الى: احمد");
        // Every character alone, and after an Arabic letter (so that no text is all ASCII).
        for c in ('\0'..='\u{FFFF}').chain(['😀', '𝐀', '\u{10FFFF}']) {
            let alone = c.to_string();
            let after = format!("ب{c}");
            assert_eq!(fold(&alone), fold_by_chars(&alone), "{c:?}");
            assert_eq!(fold(&after), fold_by_chars(&after), "{c:?}");
        }
    }

    /// The search `label_colon` replaced, character by character: the reference.
    fn label_colon_by_chars(t: &str) -> Option<(usize, usize)> {
        t.char_indices()
            .take(40)
            .find(|(_, c)| *c == ':' || *c == '：')
            .map(|(i, c)| (i, c.len_utf8()))
    }

    #[test]
    fn label_colon_finds_what_a_character_search_finds() {
        // Letters of 1 to 4 bytes; U+FEFF and U+FF58 start with the byte that starts U+FF1A.
        let letters = ["a", "ع", "\u{feff}", "ｘ", "😀", " "];
        let mut tried = 0;
        for letter in letters {
            for colon in [":", "：", ""] {
                for n in 0..46 {
                    for tail in ["", " value", "x：y: z"] {
                        let line = format!("{}{colon}{tail}", letter.repeat(n));
                        assert_eq!(label_colon(&line), label_colon_by_chars(&line), "{line:?}");
                        tried += 1;
                    }
                }
            }
        }
        assert_eq!(tried, 6 * 3 * 46 * 3);
        assert_eq!(label_colon("From: a"), Some((4, 1)));
        assert_eq!(label_colon("من： أحمد"), Some((4, 3)));
        assert_eq!(label_colon(&format!("{}: late", "a".repeat(40))), None);
    }

    fn email(f: &Forward) -> String {
        f.original_from.clone().unwrap_or_default().email
    }

    #[test]
    fn folded_lookup_finds_what_a_lookup_of_the_folded_key_finds() {
        for key in [
            "From",
            "FROM",
            "sent",
            "Objet",
            "Envoyé",
            "De",
            "التاريخ",
            "مِن",
            "Forwarded Message",
            "Original Message",
            "nothing",
            "",
            "x",
            "Reply",
            "Weitergeleitete Nachricht",
        ] {
            assert_eq!(
                folded_get(&LABEL_MAP, key),
                LABEL_MAP.get(&fold(key)),
                "{key:?}"
            );
            assert_eq!(
                folded_get(&SEPARATOR_MAP, key),
                SEPARATOR_MAP.get(&fold(key)),
                "{key:?}"
            );
        }
        assert_eq!(folded_get(&LABEL_MAP, "FROM"), Some(&Field::From));
    }

    #[test]
    fn folds_arabic_diacritics_and_alef() {
        assert_eq!(fold("مُعاد"), "معاد");
        assert_eq!(fold("أرسل"), "ارسل");
        assert_eq!(fold("إلى"), "الى");
        assert_eq!(fold("الرسالة الأصليـــة"), "الرسالة الاصلية");
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
