//! The header-block machinery that forwards and quoted replies share: the labels clients
//! write in many languages (`From:`, `Von:`, `من:` …), the separator lines (`---------- Forwarded
//! message ---------`, `-----Original Message-----` …), folding for matching, and `>` markers.

use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

/// The header a forward-block line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    From,
    Date,
    Subject,
    To,
    Cc,
}

/// Fold text for label matching: lower-case, Arabic diacritics (harakat U+064B–U+065F,
/// U+0670) and tatweel removed, alef forms (أ إ آ ٱ) unified to ا, invisible marks dropped.
pub(super) fn fold(s: &str) -> String {
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

/// Remove `>` quote markers; returns (quote depth, content).
pub(super) fn unquote(line: &str) -> (usize, &str) {
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
pub(super) fn label_line(line: &str) -> Option<(Field, &str)> {
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
pub(super) fn separator(line: &str) -> Option<(&'static str, &str)> {
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

/// The field a label names (`Von`, `Objet`, `الموضوع` …), folded as [`label_line`] folds it.
pub(super) fn label_field(label: &str) -> Option<Field> {
    folded_get(&LABEL_MAP, label).copied()
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
}
