//! The VA command grammar, English and Arabic (docs/commands.md#va-and-owner-commands-in-mail).
//!
//! One command per line, anywhere in the reply's new text: `#done`, `#priority high`,
//! `#موعد 2026-12-01`, `Status: done`, `الحالة: تم`. Matching ignores case, Arabic
//! diacritics and tatweel, the hamza forms of alef (أ إ آ → ا), ة/ه and ى/ي, and reads
//! Arabic-Indic digits. A line whose first word is `#word` but no command becomes
//! [`Command::Unknown`] with a message for the VA; `#1` and `# heading` are plain text.

use crate::config::{did_you_mean, is_valid_address};
use crate::model::{Priority, TaskStatus};
use crate::windows::DueWhen;
use chrono::NaiveDate;
use std::fmt;

mod due;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status(TaskStatus),
    Priority(Priority),
    /// A due time as written; `windows::resolve_due` places it in the contract's zone.
    Due(DueWhen),
    Assign(String),
    /// Minutes worked, from `#time 1h30m`, `90m`, `1:30`; negative to correct (`#time -15m`).
    Time(i32),
    /// `#merge 12`: fold task 12 into the task of this thread.
    Merge(i64),
    /// `#status`, `#hours`: a question answered by mail, which changes nothing.
    Ask(Query),
    /// `#send`: the note and the VA's files go to the owner, the task stays open.
    Send,
    /// A `#word` that is no command, or a command whose argument is wrong.
    Unknown {
        error: String,
    },
}

/// What an owner (or a VA) may ask by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Query {
    /// `#status`: the open tasks (outside a thread) or the task's state (inside one).
    Status,
    /// `#hours`: the retainer's balance.
    Hours,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    pub command: Command,
    /// The line as written.
    pub line: String,
}

/// The canonical English form: `#done`, `#priority high`, `#due 2026-12-01`, `#time 90m`.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Status(TaskStatus::Done) => f.write_str("#done"),
            Command::Status(TaskStatus::InProgress) => f.write_str("#wip"),
            Command::Status(TaskStatus::Waiting) => f.write_str("#waiting"),
            Command::Status(TaskStatus::Cancelled) => f.write_str("#cancel"),
            Command::Status(TaskStatus::Open) => f.write_str("#reopen"),
            // Only `#merge` makes a task merged; no command line sets it.
            Command::Status(TaskStatus::Merged) => f.write_str("Status: merged"),
            Command::Priority(p) => write!(f, "#priority {p}"),
            Command::Due(d) => write!(f, "#due {d}"),
            Command::Assign(a) => write!(f, "#assign {a}"),
            Command::Time(m) => write!(f, "#time {m}m"),
            Command::Merge(id) => write!(f, "#merge {id}"),
            Command::Ask(Query::Status) => f.write_str("#status"),
            Command::Ask(Query::Hours) => f.write_str("#hours"),
            Command::Send => f.write_str("#send"),
            Command::Unknown { error } => write!(f, "#unknown {error}"),
        }
    }
}

/// Commands are read from this much of a reply's new text: the work per message stays bounded
/// whatever its size (docs/commands.md#limits).
pub const MAX_COMMAND_TEXT: usize = 64 * 1024;
/// A `#word` longer than this is text, never a command, and gets no suggestion.
pub const MAX_COMMAND_WORD: usize = 64;

/// Every command line in the first [`MAX_COMMAND_TEXT`] bytes of a reply's new text, in order.
pub fn parse(text: &str) -> Vec<ParsedCommand> {
    let mut end = text.len().min(MAX_COMMAND_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .lines()
        .filter_map(|line| {
            parse_line(line).map(|command| ParsedCommand {
                command,
                line: line.trim().to_string(),
            })
        })
        .collect()
}

/// A reply to the agenda: each line that starts with a task tag (`[#12] #done`), as the task's
/// number and the rest of the line, in order; a task tagged on several lines gets them all,
/// joined. Lines without a tag are not read.
pub fn tagged_lines(text: &str) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let mut end = text.len().min(MAX_COMMAND_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for line in text[..end].lines() {
        let Some(rest) = line.trim_start().strip_prefix("[#") else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Some(after) = rest.get(digits.len()..).and_then(|r| r.strip_prefix(']')) else {
            continue;
        };
        let Ok(id) = digits.parse::<i64>() else {
            continue;
        };
        match out.iter_mut().find(|(t, _)| *t == id) {
            Some((_, text)) => {
                text.push('\n');
                text.push_str(after.trim());
            }
            None => out.push((id, after.trim().to_string())),
        }
    }
    out
}

const COMMANDS: &str = "#done, #wip, #waiting, #cancel, #reopen, #priority, #due, #assign, #time, \
                        #merge, #status, #hours, #send \
                        (#تم، #جاري، #انتظار، #إلغاء، #فتح، #أولوية، #موعد، #وقت، #دمج، #الحالة، #ساعات، #إرسال)";

/// What a command word does, before its argument is read.
#[derive(Clone, Copy)]
enum Verb {
    Status(TaskStatus),
    Priority,
    Due,
    Assign,
    Time,
    Merge,
    /// `#status` alone asks; `#status done` sets, as `Status: done` does.
    StatusQuestion,
    Hours,
    Send,
}

/// Command words, already normalized (see [`normalize`]).
const VERBS: &[(&str, Verb)] = &[
    ("done", Verb::Status(TaskStatus::Done)),
    ("تم", Verb::Status(TaskStatus::Done)),
    ("منجز", Verb::Status(TaskStatus::Done)),
    ("wip", Verb::Status(TaskStatus::InProgress)),
    ("inprogress", Verb::Status(TaskStatus::InProgress)),
    ("جاري", Verb::Status(TaskStatus::InProgress)),
    ("waiting", Verb::Status(TaskStatus::Waiting)),
    ("wait", Verb::Status(TaskStatus::Waiting)),
    ("انتظار", Verb::Status(TaskStatus::Waiting)),
    ("بانتظار", Verb::Status(TaskStatus::Waiting)),
    ("cancel", Verb::Status(TaskStatus::Cancelled)),
    ("cancelled", Verb::Status(TaskStatus::Cancelled)),
    ("canceled", Verb::Status(TaskStatus::Cancelled)),
    ("الغاء", Verb::Status(TaskStatus::Cancelled)),
    ("reopen", Verb::Status(TaskStatus::Open)),
    ("open", Verb::Status(TaskStatus::Open)),
    ("فتح", Verb::Status(TaskStatus::Open)),
    ("priority", Verb::Priority),
    ("prio", Verb::Priority),
    ("اولويه", Verb::Priority),
    ("due", Verb::Due),
    ("موعد", Verb::Due),
    ("assign", Verb::Assign),
    ("تعيين", Verb::Assign),
    ("اسناد", Verb::Assign),
    ("time", Verb::Time),
    ("وقت", Verb::Time),
    ("merge", Verb::Merge),
    ("دمج", Verb::Merge),
    ("status", Verb::StatusQuestion),
    ("الحاله", Verb::StatusQuestion),
    ("hours", Verb::Hours),
    ("ساعات", Verb::Hours),
    ("send", Verb::Send),
    ("ارسال", Verb::Send),
];

fn parse_line(raw: &str) -> Option<Command> {
    // A command starts with `#` or is `Status: …`, and normalising only ever makes `#` and `:`
    // of their full-width forms: a line with none of the four is passed over without being
    // normalised (most lines of a request, which every owner's mail is read for).
    if !raw.contains(['#', '＃', ':', '：']) {
        return None;
    }
    let line = normalize(raw);
    let line = line.trim();
    // Messages quote the line as the VA wrote it.
    let shown = trim_punctuation(shorten(raw.trim()));
    if let Some(rest) = line.strip_prefix('#') {
        // `#1 in my list`, `# heading`, `##`: not commands.
        if !rest.chars().next().is_some_and(char::is_alphabetic) {
            return None;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (word, args) = rest.split_at(end);
        if word.chars().count() > MAX_COMMAND_WORD {
            return None;
        }
        // `#priority: high` reads like `#priority high`.
        let args = args.trim().trim_start_matches([':', '=']).trim();
        return Some(hash_command(word, trim_punctuation(args), shown));
    }
    rt_status(line, shown)
}

fn hash_command(word: &str, args: &str, shown: &str) -> Command {
    let Some(verb) = VERBS.iter().find(|(w, _)| *w == word).map(|(_, v)| *v) else {
        let hint = match did_you_mean(word, VERBS.iter().map(|(w, _)| *w)) {
            Some(w) => format!("did you mean #{}? ", written(w)),
            None => String::new(),
        };
        let token = shown.split_whitespace().next().unwrap_or(shown);
        let token = trim_punctuation(token);
        return Command::Unknown {
            error: format!("`{token}` is not a command; {hint}the commands are {COMMANDS}"),
        };
    };
    let first = args.split_whitespace().next().unwrap_or("");
    let unknown = |error: String| Command::Unknown { error };
    match verb {
        Verb::Status(s) => Command::Status(s),
        Verb::Priority => match priority_word(first) {
            Some(p) => Command::Priority(p),
            None if first.is_empty() => unknown(format!(
                "`{shown}` needs a priority: low, normal, high or urgent (منخفضة، عادية، عالية، عاجلة)"
            )),
            None => unknown(format!(
                "`{shown}`: `{}` is no priority; use low, normal, high or urgent \
                 (منخفضة، عادية، عالية، عاجلة)",
                shown.split_whitespace().nth(1).unwrap_or(first)
            )),
        },
        Verb::Due => match due::parse_due(args) {
            Some(d) => Command::Due(d),
            None if first.is_empty() => {
                unknown(format!("`{shown}` needs a due time; {}", due::DUE_EXAMPLES))
            }
            None => unknown(format!("`{shown}` is not a due time; {}", due::DUE_EXAMPLES)),
        },
        Verb::Assign => {
            let addr = crate::model::normalize_address(first.trim_start_matches("mailto:"));
            if is_valid_address(&addr) {
                Command::Assign(addr)
            } else if first.is_empty() {
                unknown(format!("`{shown}` needs an address: write e.g. #assign ali@va.example"))
            } else {
                unknown(format!("`{shown}`: write the VA's address, e.g. #assign ali@va.example"))
            }
        }
        Verb::Time => match parse_minutes(args) {
            Ok(m) => Command::Time(m),
            Err(e) => unknown(format!("`{shown}`: {e}")),
        },
        Verb::Merge => match task_number(first) {
            Some(id) => Command::Merge(id),
            None if first.is_empty() => unknown(format!(
                "`{shown}` needs the number of the task to fold into this one: write e.g. #merge 12"
            )),
            None => unknown(format!(
                "`{shown}`: write the task's number, e.g. #merge 12 (#دمج 12)"
            )),
        },
        // `#status done` reads as `Status: done`; anything else after `#status` is the question.
        Verb::StatusQuestion => match rt_status(&format!("status: {args}"), shown) {
            Some(Command::Status(s)) if !args.is_empty() => Command::Status(s),
            _ => Command::Ask(Query::Status),
        },
        Verb::Hours => Command::Ask(Query::Hours),
        // Words after it are the note's, as after `#done`.
        Verb::Send => Command::Send,
    }
}

/// A task number as written after `#merge`: `12`, `#12`, `[#12]`.
fn task_number(word: &str) -> Option<i64> {
    let digits = word
        .trim_start_matches('[')
        .trim_start_matches('#')
        .trim_end_matches(']');
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// `Status: done` (RT style) and `الحالة: تم`.
/// A normalized command word as people write it.
fn written(w: &str) -> &str {
    match w {
        "اولويه" => "أولوية",
        "الغاء" => "إلغاء",
        "اسناد" => "إسناد",
        "ارسال" => "إرسال",
        other => other,
    }
}

fn rt_status(line: &str, shown: &str) -> Option<Command> {
    let (key, value) = line.split_once(':')?;
    if !matches!(key.trim(), "status" | "state" | "الحاله" | "حاله") {
        return None;
    }
    let value = trim_punctuation(value.trim());
    let status = match value {
        "open" | "new" | "reopen" | "reopened" | "مفتوح" | "مفتوحه" | "فتح" | "جديد" => TaskStatus::Open,
        "wip" | "in progress" | "in_progress" | "in-progress" | "inprogress" | "working" | "جاري"
        | "قيد التنفيذ" | "جاري العمل" | "قيد العمل" => TaskStatus::InProgress,
        "waiting" | "stalled" | "pending" | "on hold" | "انتظار" | "بانتظار" | "في الانتظار" | "معلق" => {
            TaskStatus::Waiting
        }
        "done" | "resolved" | "closed" | "complete" | "completed" | "تم" | "منجز" | "مكتمل" | "منتهي" => {
            TaskStatus::Done
        }
        "cancelled" | "canceled" | "cancel" | "rejected" | "ملغي" | "ملغاه" | "الغاء" => TaskStatus::Cancelled,
        // A sentence after "Status:" is prose, not a command.
        _ if value.is_empty() || value.split_whitespace().count() > 2 => return None,
        _ => {
            return Some(Command::Unknown {
                error: format!(
                    "`{shown}`: use open, wip, waiting, done or cancelled (مفتوح، جاري، انتظار، تم، ملغي)"
                ),
            })
        }
    };
    Some(Command::Status(status))
}

fn priority_word(w: &str) -> Option<Priority> {
    Some(match w {
        "low" | "منخفضه" | "منخفض" => Priority::Low,
        "normal" | "medium" | "عاديه" | "عادي" | "متوسطه" => Priority::Normal,
        "high" | "عاليه" | "عالي" | "مرتفعه" => Priority::High,
        "urgent" | "عاجله" | "عاجل" => Priority::Urgent,
        _ => return None,
    })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.replace('/', "-");
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if y.len() != 4 || !(1..=2).contains(&m.len()) || !(1..=2).contains(&d.len()) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// `1h30m`, `1h 30m`, `90m`, `2h`, `1.5h`, `1:30`, `90 min`, `2 hours`, `ساعتين`… as minutes;
/// with a leading `-` (or `−`), a correction that takes them off.
fn parse_minutes(args: &str) -> Result<i32, String> {
    let s = args.trim();
    let (sign, magnitude) = match s.strip_prefix(['-', '\u{2212}']) {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    if sign < 0 && magnitude.trim().is_empty() {
        return Err("write the time to take off like -15m or -1h".to_string());
    }
    let minutes = parse_unsigned_minutes(magnitude)?;
    // At most 24 h (1,440 minutes): always within i32.
    Ok(sign * i32::try_from(minutes).unwrap_or(i32::MAX))
}

fn parse_unsigned_minutes(args: &str) -> Result<u32, String> {
    const HINT: &str = "write the time worked like 1h30m, 90m, 1:30 or 2h";
    let s = args.trim();
    if s.is_empty() {
        return Err(format!("needs the time worked; {HINT}"));
    }
    let minutes: f64 = if let Some((h, m)) = s.split_once(':') {
        let (h, m) = (h.trim(), m.trim());
        if m.len() != 2 {
            return Err(HINT.to_string());
        }
        let h: f64 = h.parse::<u32>().map_err(|_| HINT.to_string())?.into();
        let m: u32 = m.parse().map_err(|_| HINT.to_string())?;
        if m >= 60 {
            return Err(HINT.to_string());
        }
        h * 60.0 + f64::from(m)
    } else {
        // Pairs of number and unit; Arabic may give a unit alone ("ساعه" = one hour).
        let mut total = 0.0;
        let mut rest = s;
        let mut any = false;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_end);
            let after = after.trim_start();
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
                .unwrap_or(after.len());
            let (unit, tail) = after.split_at(unit_end);
            let n: f64 = if num.is_empty() {
                1.0
            } else {
                num.parse().map_err(|_| HINT.to_string())?
            };
            let per = match unit {
                "h" | "hr" | "hrs" | "hour" | "hours" | "ساعه" | "ساعات" | "س" => 60.0,
                "ساعتين" | "ساعتان" => 120.0,
                "m" | "min" | "mins" | "minute" | "minutes" | "د" | "دقيقه" | "دقائق"
                | "دقيقتين" => 1.0,
                "" if !num.is_empty() => {
                    return Err(format!("`{num}` has no unit; {HINT}"));
                }
                _ => return Err(HINT.to_string()),
            };
            let per = if unit == "دقيقتين" { 2.0 } else { per };
            total += n * per;
            any = true;
            rest = tail.trim_start();
            // "و" (and) may join the parts: "ساعه و 30 دقيقه".
            rest = rest.strip_prefix("و").map_or(rest, str::trim_start);
        }
        if !any {
            return Err(HINT.to_string());
        }
        total
    };
    let minutes = minutes.round();
    if minutes < 1.0 {
        return Err(format!("the time worked must be at least 1 minute; {HINT}"));
    }
    if minutes > 24.0 * 60.0 {
        return Err(
            "more than 24 hours in one entry; check the value or split it by day".to_string(),
        );
    }
    Ok(minutes as u32)
}

/// At most 100 characters of a line, for quoting it back in an error mail.
fn shorten(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn trim_punctuation(s: &str) -> &str {
    s.trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '.' | ',' | '!' | '?' | ';' | '؟' | '،' | '؛' | '…' | ')' | ']'
            )
    })
}

/// Lower case without Arabic diacritics, tatweel or direction marks; one alef, ة→ه, ى→ي;
/// Arabic-Indic digits as ASCII.
fn normalize(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            // Harakat, Quranic marks, superscript alef, tatweel.
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => None,
            // Direction marks and zero-width characters that mail clients put in Arabic text.
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' => None,
            'أ' | 'إ' | 'آ' | 'ٱ' => Some('ا'),
            'ة' => Some('ه'),
            'ى' => Some('ي'),
            '\u{0660}'..='\u{0669}' => char::from_u32(c as u32 - 0x0660 + u32::from(b'0')),
            '\u{06F0}'..='\u{06F9}' => char::from_u32(c as u32 - 0x06F0 + u32::from(b'0')),
            '＃' => Some('#'),
            '：' => Some(':'),
            _ => Some(c),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod owner_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;
    use TaskStatus::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn one(line: &str) -> Option<Command> {
        let parsed = parse(line);
        assert!(parsed.len() <= 1, "{line}: {parsed:?}");
        parsed.into_iter().next().map(|p| p.command)
    }

    #[test]
    fn an_agenda_reply_is_read_line_by_line_per_task() {
        let text = "Morning!\n[#12] #done\n [#13] #wip\n[#12] #time 30m\n[#x] #done\n[#14]\n#done";
        assert_eq!(
            tagged_lines(text),
            vec![
                (12, "#done\n#time 30m".to_string()),
                (13, "#wip".to_string()),
                (14, String::new()),
            ]
        );
        assert_eq!(parse(&tagged_lines(text)[0].1).len(), 2);
        assert!(tagged_lines("[#99999999999999999999] #done").is_empty());
    }

    #[test]
    fn english_commands() {
        let cases = [
            ("#done", Status(Done)),
            ("#DONE", Status(Done)),
            ("  #done.", Status(Done)),
            ("#done!", Status(Done)),
            ("#done - sent the invoice", Status(Done)),
            ("#wip", Status(InProgress)),
            ("#waiting", Status(Waiting)),
            ("#cancel", Status(Cancelled)),
            ("#cancelled", Status(Cancelled)),
            ("#reopen", Status(Open)),
            ("#priority high", Priority(crate::model::Priority::High)),
            ("#priority: high", Priority(crate::model::Priority::High)),
            ("#wip: on it", Status(InProgress)),
            ("#time: 1h", Time(60)),
            (
                "#Priority URGENT.",
                Priority(crate::model::Priority::Urgent),
            ),
            ("#priority low", Priority(crate::model::Priority::Low)),
            ("#priority normal", Priority(crate::model::Priority::Normal)),
            ("#due 2026-12-01", Due(DueWhen::Date(date(2026, 12, 1)))),
            ("#due 2026/1/5.", Due(DueWhen::Date(date(2026, 1, 5)))),
            ("#assign Ali@VA.example", Assign("ali@va.example".into())),
            ("#assign <ali@va.example>", Assign("ali@va.example".into())),
            ("#time 1h30m", Time(90)),
            ("#time 90m", Time(90)),
            ("#time 1:30", Time(90)),
            ("#time 2h", Time(120)),
            ("#time 1h 15m", Time(75)),
            ("#time 1.5h", Time(90)),
            ("#time 45 min", Time(45)),
            ("#time 2 hours", Time(120)),
            ("Status: done", Status(Done)),
            ("status: In Progress", Status(InProgress)),
            ("Status: resolved", Status(Done)),
            ("STATUS: waiting", Status(Waiting)),
            ("Status: open", Status(Open)),
            ("Status: cancelled.", Status(Cancelled)),
        ];
        for (line, want) in cases {
            assert_eq!(one(line), Some(want), "{line}");
        }
    }

    #[test]
    fn arabic_commands() {
        let cases = [
            ("#تم", Status(Done)),
            ("#تمّ", Status(Done)),
            ("#تـــم", Status(Done)),
            ("\u{200F}#تم.", Status(Done)),
            ("#جاري", Status(InProgress)),
            ("#جارى", Status(InProgress)),
            ("#انتظار", Status(Waiting)),
            ("#إلغاء", Status(Cancelled)),
            ("#الغاء", Status(Cancelled)),
            ("#فتح", Status(Open)),
            ("#أولوية عالية", Priority(crate::model::Priority::High)),
            ("#اولويه عاليه", Priority(crate::model::Priority::High)),
            ("#أولويّة عادية", Priority(crate::model::Priority::Normal)),
            ("#أولوية منخفضة", Priority(crate::model::Priority::Low)),
            ("#أولوية عاجلة!", Priority(crate::model::Priority::Urgent)),
            ("#priority عالية", Priority(crate::model::Priority::High)),
            ("#موعد 2026-12-01", Due(DueWhen::Date(date(2026, 12, 1)))),
            ("#موعد ٢٠٢٦-١٢-٠١", Due(DueWhen::Date(date(2026, 12, 1)))),
            ("#موعد ۲۰۲۶-۱۲-۰۱", Due(DueWhen::Date(date(2026, 12, 1)))),
            ("#وقت 1:30", Time(90)),
            ("#وقت ١:٣٠", Time(90)),
            ("#وقت ساعة", Time(60)),
            ("#وقت ساعتين", Time(120)),
            ("#وقت 2 ساعات", Time(120)),
            ("#وقت 45 دقيقة", Time(45)),
            ("#وقت ساعة و 30 دقيقة", Time(90)),
            ("الحالة: تم", Status(Done)),
            ("الحاله: تم", Status(Done)),
            ("الحالة: قيد التنفيذ", Status(InProgress)),
            ("الحالة: بانتظار", Status(Waiting)),
            ("الحالة: ملغي", Status(Cancelled)),
            ("الحالة: مفتوح", Status(Open)),
            ("الحالة: منجز.", Status(Done)),
        ];
        for (line, want) in cases {
            assert_eq!(one(line), Some(want), "{line}");
        }
    }

    #[test]
    fn not_commands() {
        for line in [
            "#1 in my list",
            "# heading",
            "## Notes",
            "#",
            "#123",
            "I am done #done",
            "Thanks, done.",
            "> #done",
            "Status: the project is going well overall",
            "status update: all good",
            "",
        ] {
            assert_eq!(one(line), None, "{line}");
        }
    }

    #[test]
    fn unknown_commands_explain_themselves() {
        let cases: [(&str, &[&str]); 17] = [
            (
                "#donee",
                &["`#donee` is not a command", "did you mean #done?", "#wip"],
            ),
            (
                "#ramadan campaign is live",
                &["`#ramadan` is not a command", "the commands are"],
            ),
            (
                "#priority banana",
                &[
                    "`#priority banana`",
                    "`banana` is no priority",
                    "low, normal, high or urgent",
                ],
            ),
            ("#priority", &["needs a priority"]),
            ("#أولوية قصوى", &["`قصوى` is no priority", "عالية"]),
            ("#اولوية", &["needs a priority"]),
            (
                "#due someday",
                &["`#due someday` is not a due time", "#due tomorrow"],
            ),
            ("#due", &["needs a due time", "#due 2026-12-10 14:00"]),
            ("#assign", &["needs an address"]),
            ("#time", &["needs the time worked"]),
            ("#time 1:75", &["1h30m, 90m, 1:30 or 2h"]),
            ("#due 2026-02-30", &["#due 3 business days"]),
            ("#assign ali", &["`#assign ali`", "ali@va.example"]),
            ("#time 90", &["`90` has no unit", "1h30m"]),
            ("#time 0m", &["at least 1 minute"]),
            ("#time 30h", &["more than 24 hours"]),
            (
                "Status: maybe",
                &["`Status: maybe`", "open, wip, waiting, done or cancelled"],
            ),
        ];
        for (line, hints) in cases {
            match one(line) {
                Some(Unknown { error }) => {
                    for h in hints {
                        assert!(error.contains(h), "{line}: {error} lacks {h}");
                    }
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        match one("#الغاءء") {
            Some(Unknown { error }) => assert!(error.contains("#إلغاء"), "{error}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn several_lines_keep_order_and_text() {
        let text =
            "Hi,\n\n#wip\nworking on it now\n#time 1:30\n#موعد 2026-12-01\nStatus: waiting\n\nSara";
        let parsed = parse(text);
        let got: Vec<String> = parsed.iter().map(|p| p.command.to_string()).collect();
        assert_eq!(got, ["#wip", "#time 90m", "#due 2026-12-01", "#waiting"]);
        assert_eq!(parsed[2].line, "#موعد 2026-12-01");
    }

    #[test]
    fn send_in_english_and_arabic() {
        for line in [
            "#send",
            "#Send",
            "#send: the draft",
            "#إرسال",
            "#ارسال",
            "#إرسال.",
        ] {
            assert_eq!(one(line), Some(Send), "{line}");
        }
        // A near miss is answered with the command meant.
        match one("#sned") {
            Some(Unknown { error }) => assert!(error.contains("#send"), "{error}"),
            other => panic!("{other:?}"),
        }
        match one("#ارسل") {
            Some(Unknown { error }) => assert!(error.contains("#إرسال"), "{error}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn display_is_canonical_english() {
        let cases = [
            (Status(Done), "#done"),
            (Status(InProgress), "#wip"),
            (Status(Waiting), "#waiting"),
            (Status(Cancelled), "#cancel"),
            (Status(Open), "#reopen"),
            (Priority(crate::model::Priority::High), "#priority high"),
            (Due(DueWhen::Date(date(2026, 12, 1))), "#due 2026-12-01"),
            (Assign("a@b.example".into()), "#assign a@b.example"),
            (Time(90), "#time 90m"),
            (Send, "#send"),
            (Unknown { error: "x".into() }, "#unknown x"),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.to_string(), want);
            // The canonical form parses back to the same command.
            if !matches!(cmd, Unknown { .. }) {
                assert_eq!(one(want), Some(cmd.clone()), "{want}");
            }
        }
    }

    #[test]
    fn a_word_over_64_characters_is_text_and_gets_no_suggestion() {
        let word = "d".repeat(65);
        assert_eq!(one(&format!("#{word}")), None);
        assert_eq!(
            one(&format!("#{}", "d".repeat(64))).map(|c| matches!(c, Unknown { .. })),
            Some(true)
        );
        // A 4 MB single word: no command, and no edit-distance table sized by it.
        let huge = format!("#{}", "x".repeat(4 << 20));
        assert!(parse(&huge).is_empty());
    }

    #[test]
    fn commands_are_read_from_the_first_64_kib_only() {
        let filler = "a line of ordinary text\n".repeat(MAX_COMMAND_TEXT / 24 + 1);
        let text = format!("#wip\n{filler}#done\n");
        let got: Vec<String> = parse(&text).iter().map(|p| p.command.to_string()).collect();
        assert_eq!(got, ["#wip"]);
        // Cut inside a multi-byte character: still no panic, still the commands before it.
        let arabic = format!("#تم\n{}", "ت".repeat(MAX_COMMAND_TEXT));
        assert_eq!(one(&arabic), Some(Status(Done)));
    }

    #[test]
    fn absurd_times_are_refused_not_overflowed() {
        for line in [
            "#time 4294967295:00",
            "#time 99999999999999999999h",
            "#time 25h",
            "#time 24:01",
        ] {
            assert!(matches!(one(line), Some(Unknown { .. })), "{line}");
        }
        assert_eq!(one("#time 24:00"), Some(Time(1440)));
    }

    #[test]
    fn an_error_quotes_at_most_100_characters_of_the_line() {
        let line = format!("#priority {}", "z".repeat(10_000));
        let Some(Unknown { error }) = one(&line) else {
            panic!("not refused: {line}");
        };
        assert!(error.len() < 400, "{} bytes", error.len());
    }
}
