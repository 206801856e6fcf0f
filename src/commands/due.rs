//! What may follow `#due` / `#موعد`: a date, a date and time, `tomorrow`, a weekday, business
//! days or hours, or `+4h`. Reads normalized text (see `normalize`); pure, and places nothing
//! on a calendar: `windows::resolve_due` does that in the contract's zone.

use crate::windows::{DueSpec, DueWhen};
use chrono::{NaiveTime, Weekday};
use std::str::FromStr;

/// The forms, for error mail.
pub(super) const DUE_EXAMPLES: &str = "write e.g. #due 2026-12-10, #due 2026-12-10 14:00, \
     #due tomorrow, #due thursday, #due 3 business days or #due +4h \
     (#موعد غدا، #موعد الخميس، #موعد 3 أيام عمل)";

/// Read the words after `#due`. Words after a complete form are the VA's own text.
pub(super) fn parse_due(args: &str) -> Option<DueWhen> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let first = *words.first()?;
    if let Some(date) = super::parse_date(first) {
        let time = words.get(1).and_then(|w| parse_clock(w));
        return Some(match time {
            Some(t) => DueWhen::At(date.and_time(t)),
            None => DueWhen::Date(date),
        });
    }
    if let Some(rest) = first.strip_prefix('+') {
        let d = crate::units::parse_duration(rest).ok()?;
        return (!d.is_zero()).then_some(DueWhen::In(DueSpec::Wall(d)));
    }
    match first {
        "today" | "اليوم" => return Some(DueWhen::Today),
        "tomorrow" | "غدا" | "بكره" | "بكرا" => return Some(DueWhen::Tomorrow),
        _ => {}
    }
    if let Some(w) = weekday(first) {
        return Some(DueWhen::Weekday(w));
    }
    // `يوم الخميس`: "day" before the weekday's name.
    if first == "يوم" {
        if let Some(w) = words.get(1).and_then(|w| weekday(w)) {
            return Some(DueWhen::Weekday(w));
        }
    }
    business(&words).map(DueWhen::In)
}

/// `14:00`, `9:30`.
fn parse_clock(w: &str) -> Option<NaiveTime> {
    let (h, m) = w.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// English and Arabic weekday names (normalized: no hamza on alef, ة as ه), with or
/// without the article.
fn weekday(w: &str) -> Option<Weekday> {
    let arabic = w.strip_prefix("ال").unwrap_or(w);
    Some(match (w, arabic) {
        ("monday" | "mon", _) | (_, "اثنين" | "اثنان") => Weekday::Mon,
        ("tuesday" | "tue" | "tues", _) | (_, "ثلاثاء" | "ثلاثا") => Weekday::Tue,
        ("wednesday" | "wed", _) | (_, "اربعاء" | "اربعا") => Weekday::Wed,
        ("thursday" | "thu" | "thurs", _) | (_, "خميس") => Weekday::Thu,
        ("friday" | "fri", _) | (_, "جمعه") => Weekday::Fri,
        ("saturday" | "sat", _) | (_, "سبت") => Weekday::Sat,
        ("sunday" | "sun", _) | (_, "احد") => Weekday::Sun,
        _ => return None,
    })
}

/// `3 business days`, `4 business hours`, `2 days`; `3 أيام عمل`, `يوم عمل`, `4 ساعات عمل`.
fn business(words: &[&str]) -> Option<DueSpec> {
    let (n, rest) = match words.first()?.parse::<u32>() {
        Ok(n) => (n, words.get(1..)?),
        Err(_) => (1, words),
    };
    if n == 0 {
        return None;
    }
    match rest {
        [unit, "عمل", ..] => match *unit {
            "يوم" | "ايام" | "يومين" => {
                let n = if *unit == "يومين" { 2 } else { n };
                Some(DueSpec::BusinessDays(n))
            }
            "ساعه" | "ساعات" | "ساعتين" => {
                let n = if *unit == "ساعتين" { 2 } else { n };
                Some(DueSpec::BusinessHours(n))
            }
            _ => None,
        },
        [a, b, ..] if words.first()?.parse::<u32>().is_ok() => {
            DueSpec::from_str(&format!("{n} {a} {b}"))
                .or_else(|_| DueSpec::from_str(&format!("{n} {a}")))
                .ok()
        }
        [a] if words.first()?.parse::<u32>().is_ok() => DueSpec::from_str(&format!("{n} {a}")).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Command};
    use super::*;
    use chrono::NaiveDate;
    use std::time::Duration;

    fn due(line: &str) -> Option<DueWhen> {
        match parse(line).into_iter().next().map(|p| p.command) {
            Some(Command::Due(d)) => Some(d),
            _ => None,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_english_forms() {
        let at = date(2026, 12, 10).and_hms_opt(14, 0, 0).unwrap();
        let cases = [
            ("#due 2026-12-10", DueWhen::Date(date(2026, 12, 10))),
            ("#due 2026-12-10 please", DueWhen::Date(date(2026, 12, 10))),
            ("#due 2026-12-10 14:00", DueWhen::At(at)),
            ("#due: 2026/12/10 14:00.", DueWhen::At(at)),
            ("#due tomorrow", DueWhen::Tomorrow),
            ("#Due Tomorrow!", DueWhen::Tomorrow),
            ("#due today", DueWhen::Today),
            ("#due thursday", DueWhen::Weekday(Weekday::Thu)),
            ("#due Thu", DueWhen::Weekday(Weekday::Thu)),
            ("#due sunday", DueWhen::Weekday(Weekday::Sun)),
            (
                "#due 3 business days",
                DueWhen::In(DueSpec::BusinessDays(3)),
            ),
            ("#due 1 business day", DueWhen::In(DueSpec::BusinessDays(1))),
            (
                "#due 4 business hours",
                DueWhen::In(DueSpec::BusinessHours(4)),
            ),
            (
                "#due 2 days",
                DueWhen::In(DueSpec::Wall(Duration::from_secs(2 * 86400))),
            ),
            (
                "#due +4h",
                DueWhen::In(DueSpec::Wall(Duration::from_secs(4 * 3600))),
            ),
            (
                "#due +1h30m",
                DueWhen::In(DueSpec::Wall(Duration::from_secs(5400))),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(due(line), Some(want), "{line}");
        }
    }

    #[test]
    fn the_arabic_forms_with_and_without_hamza_and_diacritics() {
        let cases = [
            ("#موعد غدا", DueWhen::Tomorrow),
            ("#موعد غداً", DueWhen::Tomorrow),
            ("#موعد بكرة", DueWhen::Tomorrow),
            ("#موعد اليوم", DueWhen::Today),
            ("#موعد الخميس", DueWhen::Weekday(Weekday::Thu)),
            ("#موعد يوم الخميس", DueWhen::Weekday(Weekday::Thu)),
            ("#موعد خميس", DueWhen::Weekday(Weekday::Thu)),
            ("#موعد الأحد", DueWhen::Weekday(Weekday::Sun)),
            ("#موعد الاحد", DueWhen::Weekday(Weekday::Sun)),
            ("#موعد الإثنين", DueWhen::Weekday(Weekday::Mon)),
            ("#موعد الاثنين", DueWhen::Weekday(Weekday::Mon)),
            ("#موعد الثلاثاء", DueWhen::Weekday(Weekday::Tue)),
            ("#موعد الأربعاء", DueWhen::Weekday(Weekday::Wed)),
            ("#موعد الاربعاء", DueWhen::Weekday(Weekday::Wed)),
            ("#موعد الجُمُعَة", DueWhen::Weekday(Weekday::Fri)),
            ("#موعد الجمعه", DueWhen::Weekday(Weekday::Fri)),
            ("#موعد السبت", DueWhen::Weekday(Weekday::Sat)),
            ("#موعد 3 أيام عمل", DueWhen::In(DueSpec::BusinessDays(3))),
            ("#موعد ٣ ايام عمل", DueWhen::In(DueSpec::BusinessDays(3))),
            ("#موعد يوم عمل", DueWhen::In(DueSpec::BusinessDays(1))),
            ("#موعد يومين عمل", DueWhen::In(DueSpec::BusinessDays(2))),
            ("#موعد 4 ساعات عمل", DueWhen::In(DueSpec::BusinessHours(4))),
            (
                "#موعد ٢٠٢٦-١٢-١٠ ١٤:٠٠",
                DueWhen::At(date(2026, 12, 10).and_hms_opt(14, 0, 0).unwrap()),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(due(line), Some(want), "{line}");
        }
    }

    #[test]
    fn anything_else_is_an_error_with_examples() {
        for line in [
            "#due someday",
            "#due +0h",
            "#due 0 business days",
            "#due 2026-13-01",
            "#due 25:00",
            "#موعد قريبا",
        ] {
            match parse(line).into_iter().next().map(|p| p.command) {
                Some(Command::Unknown { error }) => {
                    assert!(error.contains("#due 2026-12-10 14:00"), "{line}: {error}");
                    assert!(error.contains("#موعد غدا"), "{line}: {error}");
                }
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_canonical_form_reads_back_as_the_same_due_time() {
        for line in [
            "#due 2026-12-10 14:00",
            "#due thursday",
            "#due 3 business days",
            "#due +4h",
        ] {
            let d = due(line).unwrap();
            assert_eq!(due(&Command::Due(d).to_string()), Some(d), "{line}");
        }
    }
}
