//! A contract's retainer: the hours bought for each week or month, how many are used and
//! left, and when the 80 % and 100 % alerts are due. Pure: the minutes used are read by the
//! caller (`store::hours::minutes_logged` over [`period`]'s span).
//!
//! The period is the ISO week (Monday 00:00 to Monday 00:00) or the calendar month (the 1st
//! at 00:00), in the contract's zone (docs/configuration.md#retainer).

use crate::config::{Retainer, RetainerPeriod};
use crate::model::Language;
use chrono::{DateTime, Datelike, Days, LocalResult, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// One retainer period: `[start, end)`, and its name (`2026-12`, `2026-W49`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub label: String,
}

/// Where a retainer stands: what the summary, the status answer, the alerts and the agenda
/// show. Times are RFC 3339 in the contract's zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Balance {
    /// Hours bought for each period.
    pub hours: f64,
    /// `week` or `month`.
    pub per: &'static str,
    /// `2026-12` or `2026-W49`.
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub minutes_bought: i64,
    /// Logged with `#time` in the period, corrections taken off.
    pub minutes_used: i64,
    /// Bought minus used; negative once the hours are overrun.
    pub minutes_left: i64,
    /// Used as a share of bought, rounded down: 85 for 17 of 20 hours.
    pub percent_used: i64,
}

/// The alerts a period can raise, in percent of the hours bought.
pub const THRESHOLDS: [i64; 2] = [80, 100];

/// Midnight at the start of `date` in `tz`; when a DST change skips it, the first minute the
/// day has, and when it repeats, its first occurrence.
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=24 * 60)
        .find_map(
            |m| match tz.from_local_datetime(&(midnight + chrono::Duration::minutes(m))) {
                LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
                LocalResult::None => None,
            },
        )
        .unwrap_or_else(|| midnight.and_utc())
}

/// The period of `retainer` that holds `at`, in the zone `tz`.
pub fn period(retainer: &Retainer, tz: Tz, at: DateTime<Utc>) -> Period {
    period_of(retainer.per, tz, at)
}

/// The week or month that holds `at`, in the zone `tz`.
pub fn period_of(per: RetainerPeriod, tz: Tz, at: DateTime<Utc>) -> Period {
    let day = at.with_timezone(&tz).date_naive();
    let (first, next, label) = match per {
        RetainerPeriod::Month => {
            let first = day.with_day(1).unwrap_or(day);
            let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
            (first, next, first.format("%Y-%m").to_string())
        }
        RetainerPeriod::Week => {
            let back = u64::from(day.weekday().num_days_from_monday());
            let monday = day.checked_sub_days(Days::new(back)).unwrap_or(day);
            let next = monday.checked_add_days(Days::new(7)).unwrap_or(monday);
            let w = monday.iso_week();
            (monday, next, format!("{}-W{:02}", w.year(), w.week()))
        }
    };
    Period {
        start: day_start(tz, first),
        end: day_start(tz, next),
        label,
    }
}

/// The retainer's balance for the period holding `at`, given the minutes logged in it.
pub fn retainer_balance(
    retainer: &Retainer,
    tz: Tz,
    at: DateTime<Utc>,
    minutes_used: i64,
) -> Balance {
    let p = period(retainer, tz, at);
    let bought = (retainer.hours * 60.0).round() as i64;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    Balance {
        hours: retainer.hours,
        per: retainer.per.as_str(),
        period: p.label,
        period_start: local(p.start),
        period_end: local(p.end),
        minutes_bought: bought,
        minutes_used,
        minutes_left: bought - minutes_used,
        percent_used: if bought > 0 {
            (minutes_used.max(0) * 100) / bought
        } else {
            0
        },
    }
}

/// The highest alert threshold the balance has reached (80 or 100), or None below 80 %.
pub fn threshold_reached(b: &Balance) -> Option<i64> {
    THRESHOLDS
        .iter()
        .rev()
        .copied()
        .find(|t| b.minutes_bought > 0 && b.minutes_used * 100 >= b.minutes_bought * t)
}

/// Minutes as people read them: `17h 05m`, `45m`, `-15m`, `0m`.
pub fn hours_minutes(minutes: i64) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.unsigned_abs();
    match m / 60 {
        0 => format!("{sign}{m}m"),
        h => format!("{sign}{h}h {:02}m", m % 60),
    }
}

/// A balance with its numbers written for people, for the templates: `bought`, `used`,
/// `left` (0 once overrun), `over` (or none), `percent`, `period`, `per`, and `b`, the numbers.
pub fn balance_words(b: &Balance, lang: Language) -> serde_json::Value {
    serde_json::json!({
        "b": b,
        "bought": hours_minutes_in(b.minutes_bought, lang),
        "used": hours_minutes_in(b.minutes_used, lang),
        "left": hours_minutes_in(b.minutes_left.max(0), lang),
        "over": (b.minutes_left < 0).then(|| hours_minutes_in(-b.minutes_left, lang)),
        "percent": b.percent_used,
        "period": b.period,
        "per": b.per,
    })
}

/// [`hours_minutes`] in a contract's language: `17h 05m`, or `17 س 05 د` in Arabic.
pub fn hours_minutes_in(minutes: i64, lang: Language) -> String {
    match lang {
        Language::En => hours_minutes(minutes),
        Language::Ar => {
            let sign = if minutes < 0 { "-" } else { "" };
            let m = minutes.unsigned_abs();
            match m / 60 {
                0 => format!("{sign}{m} د"),
                h => format!("{sign}{h} س {:02} د", m % 60),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn month(hours: f64) -> Retainer {
        Retainer {
            hours,
            per: RetainerPeriod::Month,
        }
    }

    #[test]
    fn a_month_runs_from_the_first_at_midnight_in_the_contracts_zone() {
        let riyadh: Tz = "Asia/Riyadh".parse().unwrap();
        // 22:30 UTC on 30 November is already 1 December in Riyadh (UTC+3).
        let p = period(&month(20.0), riyadh, utc(2026, 11, 30, 22, 30));
        assert_eq!(p.label, "2026-12");
        assert_eq!(p.start, utc(2026, 11, 30, 21, 0));
        assert_eq!(p.end, utc(2026, 12, 31, 21, 0));
        // December to January crosses the year.
        let p = period(&month(20.0), chrono_tz::UTC, utc(2026, 12, 31, 23, 59));
        assert_eq!(
            (p.label.as_str(), p.end),
            ("2026-12", utc(2027, 1, 1, 0, 0))
        );
    }

    #[test]
    fn a_week_is_the_iso_week_and_dst_changes_its_length() {
        let week = Retainer {
            hours: 5.0,
            per: RetainerPeriod::Week,
        };
        let p = period(&week, chrono_tz::UTC, utc(2026, 12, 3, 12, 0));
        assert_eq!(p.label, "2026-W49");
        assert_eq!(
            (p.start, p.end),
            (utc(2026, 11, 30, 0, 0), utc(2026, 12, 7, 0, 0))
        );
        // The week of Europe's autumn change (Sunday 25 October 2026) has 169 hours.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let p = period(&week, berlin, utc(2026, 10, 22, 12, 0));
        assert_eq!(p.end - p.start, chrono::Duration::hours(169));
        // The ISO week of 1 January 2027 is 2026-W53.
        let p = period(&week, chrono_tz::UTC, utc(2027, 1, 1, 8, 0));
        assert_eq!(p.label, "2026-W53");
    }

    #[test]
    fn a_midnight_that_dst_skips_starts_the_period_at_the_first_hour_there_is() {
        // Cairo moved its clocks from 00:00 to 01:00 on 25 April 2025.
        let cairo: Tz = "Africa/Cairo".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2025, 4, 25).unwrap();
        assert_eq!(day_start(cairo, day), utc(2025, 4, 24, 22, 0));
    }

    #[test]
    fn the_balance_counts_used_and_left_and_the_alerts_it_reached() {
        let at = utc(2026, 12, 10, 9, 0);
        let b = retainer_balance(&month(20.0), chrono_tz::UTC, at, 17 * 60);
        assert_eq!(
            (b.minutes_bought, b.minutes_left, b.percent_used),
            (1200, 180, 85)
        );
        assert_eq!(b.per, "month");
        assert_eq!(b.period, "2026-12");
        assert_eq!(threshold_reached(&b), Some(80));
        let b = retainer_balance(&month(20.0), chrono_tz::UTC, at, 16 * 60 - 1);
        assert_eq!(threshold_reached(&b), None);
        let b = retainer_balance(&month(20.0), chrono_tz::UTC, at, 16 * 60);
        assert_eq!(threshold_reached(&b), Some(80));
        let b = retainer_balance(&month(20.0), chrono_tz::UTC, at, 21 * 60);
        assert_eq!(
            (threshold_reached(&b), b.minutes_left, b.percent_used),
            (Some(100), -60, 105)
        );
        // A correction can leave a period below zero for a while.
        let b = retainer_balance(&month(0.5), chrono_tz::UTC, at, -10);
        assert_eq!(
            (b.minutes_bought, b.percent_used, threshold_reached(&b)),
            (30, 0, None)
        );
    }

    #[test]
    fn minutes_read_like_people_write_them() {
        assert_eq!(hours_minutes(0), "0m");
        assert_eq!(hours_minutes(45), "45m");
        assert_eq!(hours_minutes(60), "1h 00m");
        assert_eq!(hours_minutes(17 * 60 + 5), "17h 05m");
        assert_eq!(hours_minutes(-15), "-15m");
        assert_eq!(hours_minutes(-75), "-1h 15m");
        assert_eq!(hours_minutes_in(17 * 60 + 5, Language::Ar), "17 س 05 د");
        assert_eq!(hours_minutes_in(-15, Language::Ar), "-15 د");
    }
}
