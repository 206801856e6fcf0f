//! The new text above a quoted reply: cut at the quote header (`On … wrote:`, Outlook's
//! `From:/Sent:` block or separator, `>` lines, forward separators), drop the signature.

use super::labels::{fold, label_line, separator, unquote, Field};
use regex::Regex;
use std::sync::LazyLock;

/// Longer texts are only scanned this far.
const MAX_LINES: usize = 20_000;
/// The new text (a reply's note, a request's note) is read from at most this much of the
/// body: one huge line would otherwise be copied whole once more (docs/mail.md#limits).
pub const MAX_NEW_TEXT: usize = 1024 * 1024;

/// "wrote" in the languages clients write quote headers in (folded, lower-case).
static WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)(wrote|writes|schrieb|a\s+écrit|escribió|escribio|пишет|пише|написал|написала|написав|napisał|napisala|kirjoitti|skrev|schreef|geschreven|ha\s+scritto|scrisse|escreveu|yazdı|写道|寫道|のメッセージ|كتب|كتابة\s+ما\s+يلي)",
    )
    .expect("static regex")
});

/// [`WROTE`]'s alternatives that an all-ASCII line can hold, matched case-insensitively on the
/// line as it is: an ASCII line without one is no quote header, and is not folded at all.
static WROTE_ASCII: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(
        r"(?i-u)(wrote|writes|schrieb|escribio|napisala|kirjoitti|skrev|schreef|geschreven|ha\s+scritto|scrisse|escreveu)",
    )
    .expect("static regex")
});

/// A word of every [`WROTE`] alternative, as plain literals (no leading `a` or `ha` to look
/// for everywhere): a folded line [`WROTE`] matches holds one of them.
const WROTE_WORDS: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "écrit",
    "escrib",
    "пише",
    "написа",
    "napisa",
    "kirjoitti",
    "skrev",
    "schreef",
    "geschreven",
    "scritto",
    "scrisse",
    "escreveu",
    "yazdı",
    "写道",
    "寫道",
    "のメッセージ",
    "كتب",
    "كتابة",
];

/// [`WROTE_WORDS`], found in one pass over a folded (lower-case) text. Case-sensitive, so the
/// search runs on aho-corasick's packed (SIMD) searcher instead of a byte-by-byte automaton
/// (lower-casing an ASCII text first costs far less than searching it in either case).
static WROTE_IN_TEXT: LazyLock<WordFinder> =
    LazyLock::new(|| match aho_corasick::packed::Searcher::new(WROTE_WORDS) {
        Some(packed) => WordFinder::Packed(packed),
        None => WordFinder::Automaton(
            aho_corasick::AhoCorasick::new(WROTE_WORDS).expect("static word list"),
        ),
    });

/// A set of literal words found in a text: with SIMD (Teddy) when the CPU has it, else with
/// an automaton.
enum WordFinder {
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

impl WordFinder {
    /// Where matches start, left to right.
    fn starts<'h>(&'h self, haystack: &'h [u8]) -> Box<dyn Iterator<Item = usize> + 'h> {
        match self {
            WordFinder::Packed(s) => Box::new(s.find_iter(haystack).map(|m| m.start())),
            WordFinder::Automaton(a) => Box::new(a.find_iter(haystack).map(|m| m.start())),
        }
    }
}

/// Which of `text`'s first `count` lines may hold a quote header's "wrote" word once folded:
/// one search over the whole text instead of a fold and a search per line. (Folding maps
/// characters one by one and keeps line breaks, so the folded text's lines are the text's
/// lines, folded.)
fn wrote_lines(text: &str, count: usize) -> Vec<bool> {
    let folded = fold(text);
    let bytes = folded.as_bytes();
    let mut out = vec![false; count];
    let (mut line, mut pos) = (0usize, 0usize);
    for start in WROTE_IN_TEXT.starts(bytes) {
        let between = bytes.get(pos..start).unwrap_or_default();
        line += between.iter().filter(|&&b| b == b'\n').count();
        pos = start;
        match out.get_mut(line) {
            Some(slot) => *slot = true,
            None => break,
        }
    }
    out
}

/// First words of a quote header that clients wrap onto two lines.
static ATTRIBUTION_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(on|am|le|el|il|op|den|dne|dnia|w dniu|em|في|في يوم|в|у)\s")
        .expect("static regex")
});

/// Mobile and webmail signatures that end the new text.
static DEVICE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^\s*(
            sent\s+from\s+(my|mail|outlook|yahoo)|sent\s+(with|via)\s|get\s+outlook\s+for|
            envoyé\s+(de|depuis)\s+mon|von\s+meinem\s.*gesendet|gesendet\s+von\s+meinem|
            diese\s+nachricht\s+wurde\s+von\s+meinem|enviado\s+desde\s+mi|enviado\s+do\s+meu|
            inviato\s+da|verzonden\s+met|отправлено\s+с|надіслано\s+з|
            ارسلت\s+من|تم\s+الارسال\s+من|مرسل\s+من
        )",
    )
    .expect("static regex")
});

/// Where the quote header at line `i` starts and ends, if line `i` ends one
/// (`On … wrote:`, possibly wrapped over two lines; `Name <a@b> schrieb am …:`; `في … كتب:`).
pub(crate) fn attribution_at(lines: &[&str], i: usize) -> Option<(usize, usize)> {
    let line = lines.get(i)?;
    let (depth, content) = unquote(line);
    if content.is_ascii() && !WROTE_ASCII.is_match(content.as_bytes()) {
        return None;
    }
    let f = fold(content.trim());
    if f.is_empty() || f.len() > 400 {
        return None;
    }
    let m = WROTE.find(&f)?;
    let tail = f.get(m.end()..)?.trim();
    let tail = tail.trim_end_matches(['-', ' ']);
    // The wrote-word ends the line (maybe with `:`, `(a):`, `…:`), or the next line ends with `:`.
    let ends_here = tail.is_empty()
        || tail.ends_with(':')
        || tail.ends_with('：')
        || (f.ends_with(':') && tail.chars().count() < 120);
    let (mut start, mut end) = (i, i);
    if !ends_here {
        let next = lines.get(i + 1).map(|l| fold(unquote(l).1.trim()))?;
        if !(next.ends_with(':') && next.len() < 200) {
            return None;
        }
        end = i + 1;
    }
    // Wrapped headers (`Name <a@b> schrieb am Fr., 28.` / `Apr. 2017 um 11:53 Uhr:`) name an address.
    if end != i && !f.contains('@') {
        return None;
    }
    // Headers wrapped over up to three lines: walk back to the line that starts them.
    if !ATTRIBUTION_START.is_match(&f) {
        for k in 1..=2 {
            let Some(prev) = i.checked_sub(k).and_then(|p| lines.get(p)) else {
                break;
            };
            let (pd, pc) = unquote(prev);
            if pd != depth || pc.trim().is_empty() || pc.len() >= 200 {
                break;
            }
            if ATTRIBUTION_START.is_match(&fold(pc)) {
                start = i - k;
                break;
            }
        }
    }
    Some((start, end))
}

/// True when line `i` starts an Outlook-style header block (`From:` then `Sent:`/`Date:`).
fn header_block_at(lines: &[&str], i: usize) -> bool {
    let Some(line) = lines.get(i) else {
        return false;
    };
    let Some((first, _)) = label_line(unquote(line).1) else {
        return false;
    };
    if !matches!(first, Field::From | Field::Date) {
        return false;
    }
    let mut fields = vec![first];
    for l in lines.iter().skip(i + 1).take(5) {
        match label_line(unquote(l).1) {
            Some((f, _)) => fields.push(f),
            None if l.trim().is_empty() && fields.len() >= 3 => break,
            None => {
                if !fields.contains(&Field::To) && !fields.contains(&Field::Cc) {
                    break;
                }
            }
        }
    }
    fields.contains(&Field::From)
        && fields.len() >= 2
        && (fields.contains(&Field::Date)
            || fields.contains(&Field::Subject)
            || fields.contains(&Field::To))
}

/// The first line after a quoted header block (its label lines and their wrapped values).
fn skip_header_block(lines: &[&str], from: usize) -> usize {
    let mut i = from;
    let mut seen = false;
    while let Some(l) = lines.get(i) {
        let c = unquote(l).1;
        if c.trim().is_empty() {
            if seen {
                break;
            }
        } else if label_line(c).is_some() {
            seen = true;
        } else if !seen {
            return from;
        }
        i += 1;
    }
    i
}

fn is_rule_line(t: &str) -> bool {
    t.len() >= 10 && t.chars().all(|c| c == '_')
}

/// The index of the first line of the quoted part, and the index just after its header.
fn find_cut(lines: &[&str], wrote: &[bool]) -> Option<(usize, usize)> {
    for i in 0..lines.len() {
        let line = lines.get(i)?;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if t.starts_with('>') {
            return Some((i, i));
        }
        let may_attribute = wrote.get(i).copied().unwrap_or(true);
        if let Some((s, e)) = may_attribute.then(|| attribution_at(lines, i)).flatten() {
            return Some((s, e + 1));
        }
        if separator(line).is_some() || is_rule_line(t) || header_block_at(lines, i) {
            return Some((i, skip_header_block(lines, i + 1)));
        }
    }
    None
}

/// Cut the signature: a `-- ` line, or a "Sent from my iPhone"-style line.
fn is_device_line(t: &str) -> bool {
    t.len() < 120 && may_be_device_line(t) && DEVICE_SIGNATURE.is_match(&fold(t))
}

/// The first words of [`DEVICE_SIGNATURE`]'s alternatives that an ASCII line can hold.
const DEVICE_ASCII_STARTS: &[&str] = &[
    "sent",
    "get",
    "von",
    "gesendet",
    "diese",
    "enviado",
    "inviato",
    "verzonden",
];

/// False for an ASCII line that starts with none of [`DEVICE_ASCII_STARTS`]: most lines of a
/// message, tested for a signature without being folded and searched.
fn may_be_device_line(t: &str) -> bool {
    if !t.is_ascii() {
        return true;
    }
    let w = t.trim_start();
    DEVICE_ASCII_STARTS
        .iter()
        .any(|p| w.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
}

/// A device line only counts near the end (at most three lines, or more device lines, follow it), so that
/// "Sent with the courier this morning." in the middle of a note stays.
fn strip_signature(lines: &[&str]) -> usize {
    let non_empty_after = |i: usize| {
        lines
            .iter()
            .skip(i + 1)
            .filter(|l| !l.trim().is_empty())
            .take(4)
            .count()
    };
    let next_is_device = |i: usize| {
        lines
            .iter()
            .skip(i + 1)
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| is_device_line(l.trim_end()))
    };
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_end();
        if t == "--" || t == "-- " || t == "—" {
            return i;
        }
        if is_device_line(t) && (non_empty_after(i) <= 3 || next_is_device(i)) {
            return i;
        }
    }
    lines.len()
}

fn finish(lines: &[&str]) -> String {
    let mut kept = lines.get(..strip_signature(lines)).unwrap_or_default();
    // Drop trailing separators (`-----`, `_____`) and blank lines left above a cut.
    while let Some((last, rest)) = kept.split_last() {
        let t = last.trim();
        if t.is_empty() || t.chars().all(|c| c == '-' || c == '_' || c == '*') {
            kept = rest;
        } else {
            break;
        }
    }
    let joined = kept.join("\n");
    match joined.trim() {
        t if t.len() == joined.len() => joined,
        t => t.to_string(),
    }
}

/// The text the sender wrote, without the quoted original below it.
pub fn new_text(text: &str) -> String {
    let mut end = text.len().min(MAX_NEW_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let lines: Vec<&str> = text.lines().take(MAX_LINES).collect();
    let wrote = wrote_lines(text, lines.len());
    let Some((cut, after)) = find_cut(&lines, &wrote) else {
        return finish(&lines);
    };
    let above = finish(lines.get(..cut).unwrap_or_default());
    if !above.is_empty() {
        return above;
    }
    // Bottom-posting: the new text is the unquoted lines below the quote header.
    let rest = lines.get(after..).unwrap_or_default();
    let mut own: Vec<&str> = Vec::new();
    for (k, l) in rest.iter().enumerate() {
        if unquote(l).0 > 0 {
            continue;
        }
        let may_attribute = wrote.get(after + k).copied().unwrap_or(true);
        if !l.trim().is_empty()
            && ((may_attribute && attribution_at(rest, k).is_some()) || separator(l).is_some())
        {
            break;
        }
        own.push(l);
    }
    finish(&own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_text_of_a_huge_body_is_its_first_mebibyte() {
        let huge = format!("{}\n", "ب".repeat(3 * MAX_NEW_TEXT));
        let got = new_text(&huge);
        assert!(
            got.len() <= MAX_NEW_TEXT && got.len() > MAX_NEW_TEXT - 4,
            "{}",
            got.len()
        );
        assert!(got.chars().all(|c| c == 'ب'));
    }

    fn first(t: &str) -> String {
        new_text(t).lines().next().unwrap_or("").to_string()
    }

    #[test]
    fn device_prefilter_drops_no_line_the_signature_pattern_matches() {
        let lines = [
            "Sent from my iPhone",
            "  SENT WITH Spark",
            "Get Outlook for iOS",
            "Von meinem iPad gesendet",
            "Gesendet von meinem Telefon",
            "Diese Nachricht wurde von meinem Android gesendet",
            "Enviado desde mi móvil",
            "Enviado do meu iPhone",
            "Inviato da iPhone",
            "Verzonden met Mail",
            "Envoyé de mon iPhone",
            "Отправлено с iPhone",
            "أرسلت من الآيفون",
            "تم الارسال من هاتفي",
            "\tsent via BlackBerry",
            "Thanks",
            "Sent",
            "sentences matter",
            "getting there",
            "",
            "Regards,",
            "Sent from Mail for Windows",
            "  get outlook for android",
        ];
        for l in lines {
            let slow = l.len() < 120 && DEVICE_SIGNATURE.is_match(&fold(l));
            assert_eq!(is_device_line(l), slow, "{l:?}");
        }
        assert!(is_device_line("Sent from my iPhone") && !is_device_line("Thanks"));
    }

    #[test]
    fn wrote_lines_finds_every_line_a_per_line_search_finds() {
        let text = "Hi\nON TUE, JOHN WROTE:\n> old\nEl lun escribió Ana:\nAm Fr. schrieb\nMax:\n\
                    في ١ مارس كَتَبَ أحمد:\nfine ha\nscritto\nIl giorno Luca ha  scritto:\n";
        let lines: Vec<&str> = text.lines().collect();
        let slow: Vec<bool> = lines.iter().map(|l| WROTE.is_match(&fold(l))).collect();
        assert_eq!(slow.iter().filter(|b| **b).count(), 5, "{slow:?}");
        // Every line the per-line search finds is a candidate; "scritto" alone is one too.
        let quick = wrote_lines(text, lines.len());
        let expected: Vec<bool> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| slow[i] || *l == "scritto")
            .collect();
        assert_eq!(quick, expected);
        let ascii = "Thanks\nOn Tue John WROTE:\n> x\nAm Fr. Max schrieb:\n";
        let n = ascii.lines().count();
        assert_eq!(wrote_lines(ascii, n), [false, true, false, true]);
    }

    #[test]
    fn the_ascii_prefilter_agrees_with_the_folded_match() {
        let lines = [
            "On Tue, Sep 25, 2012 at 8:59 AM, Chris W <n@github.com> wrote:",
            "ON TUE JOHN WROTE:",
            "Am 28.04.2017 um 11:53 schrieb Max:",
            "El lun, 3 mar 2025 escribio Ana:",
            "Il giorno 3 marzo Luca ha  scritto:",
            "Le 3 mars Jean a écrit :",
            "Op 3 maart schreef Jan:",
            "Den 3 mars skrev Per:",
            "Em 3 de março, Ana escreveu:",
            "W dniu 3 marca Jan napisala:",
            "Please rewrite the invoice",
            "The writer's notes are attached",
            "Pay the supplier by Friday.",
        ];
        for line in lines {
            let folded = WROTE.is_match(&fold(line));
            let quick = WROTE_ASCII.is_match(line.as_bytes());
            if line.is_ascii() {
                assert_eq!(quick, folded, "{line}");
            }
        }
    }

    #[test]
    fn gmail_two_line_header() {
        let t =
            "Hello\n\nOn Tue, Sep 25, 2012 at 8:59 AM, Chris W\n<n@github.com>wrote:\n\n> old\n";
        assert_eq!(new_text(t), "Hello");
    }

    #[test]
    fn outlook_blocks() {
        assert_eq!(
            new_text("Yes\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold"),
            "Yes"
        );
        assert_eq!(
            new_text("Yes\n________________________________\nFrom: a <a@b.c>\nSent: b\nTo: c\n"),
            "Yes"
        );
        assert_eq!(
            new_text("Yes\n\n*From:* Kim [mailto:k@x.y]\n*Sent:* Monday\n*To:* u@x.y\n\nold"),
            "Yes"
        );
    }

    #[test]
    fn arabic_header() {
        let t = "#تم\nتم الإرسال\n\nفي الأحد، ١ ديسمبر ٢٠٢٦، كتب سارة <sara@x.example>:\n> نص";
        assert_eq!(new_text(t), "#تم\nتم الإرسال");
        let t = "حسنا\n\nكتب علي <ali@x.example>:\n> نص";
        assert_eq!(new_text(t), "حسنا");
    }

    #[test]
    fn arabic_outlook_header_block() {
        let t = "تم الحجز.\n\nمن: musaid <tasks@va.example>\nأُرسل: الاثنين، ١ ديسمبر ٢٠٢٦ ١٠:٠٠ ص\nإلى: سارة <sara@va.example>\nالموضوع: [#43] حجز قاعة\n\nتم إنشاء المهمة";
        assert_eq!(new_text(t), "تم الحجز.");
    }

    #[test]
    fn localised_wrote() {
        assert_eq!(
            first("Ja\n\nAm 01.12.2026 um 10:00 schrieb Max <m@x.de>:\n> alt"),
            "Ja"
        );
        assert_eq!(
            first("Oui\n\nLe 1 déc. 2026 à 10:00, Max <m@x.fr> a écrit :\n> x"),
            "Oui"
        );
        assert_eq!(
            first("Sí\n\nEl lun, 1 dic 2026, Max <m@x.es> escribió:\n> x"),
            "Sí"
        );
        assert_eq!(
            first("Да\n\n1 дек. 2026 г., в 10:00, Max <m@x.ru> написал:\n> x"),
            "Да"
        );
    }

    #[test]
    fn signature_and_device_lines() {
        assert_eq!(new_text("Done\n\n-- \nSara\nVA"), "Done");
        assert_eq!(new_text("Done\n\nSent from my iPhone"), "Done");
    }

    #[test]
    fn device_words_inside_a_note_stay() {
        let t = "Sent with the courier this morning.\nTracking: 123\nArrives Tuesday.\nInvoice attached.\n#done";
        assert_eq!(new_text(t), t);
    }

    #[test]
    fn bottom_post() {
        let t = "On Tue, Apr 29, 2014 at 4:22 PM, Dev <s@x.com> wrote:\n\n> quoted\n\nMy answer\n\n> more";
        assert_eq!(new_text(t), "My answer");
    }

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(
            new_text("  Please book a flight.\nThanks\n"),
            "Please book a flight.\nThanks"
        );
    }
}
