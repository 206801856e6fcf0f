//! Due times as people write them (`#due tomorrow`), placed on a contract's calendar, and the
//! due clock that stops while a task waits. Pure: `now` is always an argument.

use super::{due_at, open_intervals, resolve_local, scan, Calendar, DueSpec};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Utc, Weekday};
use std::fmt;

/// A due time as written after `#due`, before it is placed in the contract's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueWhen {
    /// The end of that day (23:59:59) in the contract's zone.
    Date(NaiveDate),
    /// That wall-clock time in the contract's zone.
    At(NaiveDateTime),
    /// The end of today in the contract's zone.
    Today,
    /// The end of tomorrow in the contract's zone.
    Tomorrow,
    /// The end of the next such day in the contract's zone, today included.
    Weekday(Weekday),
    /// From now: business days or hours counted in the windows, or wall time (`+4h`).
    In(DueSpec),
}

/// The canonical English form, as `#due` takes it.
impl fmt::Display for DueWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DueWhen::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            DueWhen::At(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M")),
            DueWhen::Today => f.write_str("today"),
            DueWhen::Tomorrow => f.write_str("tomorrow"),
            DueWhen::Weekday(w) => f.write_str(weekday_name(*w)),
            DueWhen::In(DueSpec::Wall(d)) => write!(f, "+{}", crate::units::format_duration(*d)),
            DueWhen::In(spec) => write!(f, "{spec}"),
        }
    }
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// The last second of local day `day`.
fn end_of_day(cal: &Calendar, day: NaiveDate) -> Option<DateTime<Utc>> {
    resolve_local(cal.timezone, day.and_hms_opt(23, 59, 59)?)
}

/// The instant `when` names, written at `now` for a task of the contract with calendar `cal`;
/// None when the calendar has no window to count business time in.
pub fn resolve_due(cal: &Calendar, when: DueWhen, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&cal.timezone).date_naive();
    match when {
        DueWhen::Date(d) => end_of_day(cal, d),
        DueWhen::At(t) => resolve_local(cal.timezone, t),
        DueWhen::Today => end_of_day(cal, today),
        DueWhen::Tomorrow => end_of_day(cal, today.checked_add_days(Days::new(1))?),
        DueWhen::Weekday(w) => {
            let ahead = (7 + w.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
            end_of_day(cal, today.checked_add_days(Days::new(u64::from(ahead)))?)
        }
        DueWhen::In(spec) => due_at(cal, spec, now),
    }
}

/// Open window time between `from` and `until`.
pub fn business_time(
    cal: &Calendar,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> chrono::Duration {
    if until <= from {
        return chrono::Duration::zero();
    }
    open_intervals(cal, from, until)
        .into_iter()
        .map(|(s, e)| e.min(until) - s.max(from))
        .fold(chrono::Duration::zero(), |a, b| a + b)
}

/// Where a due time moves when a task that waited from `since` leaves `waiting` at `now`:
/// later by the business time spent waiting, counted again in open windows from the old due
/// time. Unchanged when no window was open while it waited.
pub fn due_after_waiting(
    cal: &Calendar,
    due: DateTime<Utc>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let mut left = business_time(cal, since, now);
    if left <= chrono::Duration::zero() {
        return due;
    }
    scan(cal, due, |s, e| {
        let span = e - s;
        if span >= left {
            Some(s + left)
        } else {
            left -= span;
            None
        }
    })
    .unwrap_or(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::WindowSpec;
    use chrono::TimeZone;
    use std::time::Duration;

    fn cal(zone: &str, windows: &[&str]) -> Calendar {
        Calendar {
            timezone: zone.parse().unwrap(),
            windows: windows
                .iter()
                .map(|w| w.parse::<WindowSpec>().unwrap())
                .collect(),
            holidays: vec![],
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_bare_date_ends_at_the_end_of_that_day_in_the_contracts_zone() {
        let riyadh = cal("Asia/Riyadh", &["Sun-Thu 08:00-16:00"]);
        let now = utc(2026, 12, 6, 10, 0, 0);
        // 23:59:59 at +03:00 is 20:59:59 UTC, not 23:59:59 UTC.
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Date(date(2026, 12, 10)), now),
            Some(utc(2026, 12, 10, 20, 59, 59))
        );
        let at = date(2026, 12, 10).and_hms_opt(14, 0, 0).unwrap();
        assert_eq!(
            resolve_due(&riyadh, DueWhen::At(at), now),
            Some(utc(2026, 12, 10, 11, 0, 0))
        );
    }

    #[test]
    fn tomorrow_and_weekdays_count_from_the_local_day() {
        let riyadh = cal("Asia/Riyadh", &["Sun-Thu 08:00-16:00"]);
        // Sunday 6 December 2026, 22:30 UTC is already Monday 01:30 in Riyadh.
        let late = utc(2026, 12, 6, 22, 30, 0);
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Tomorrow, late),
            Some(utc(2026, 12, 8, 20, 59, 59))
        );
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Today, late),
            Some(utc(2026, 12, 7, 20, 59, 59))
        );
        // Thursday from Monday: this week's; Monday from Monday: today.
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Weekday(Weekday::Thu), late),
            Some(utc(2026, 12, 10, 20, 59, 59))
        );
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Weekday(Weekday::Mon), late),
            Some(utc(2026, 12, 7, 20, 59, 59))
        );
        assert_eq!(
            resolve_due(&riyadh, DueWhen::Weekday(Weekday::Sun), late),
            Some(utc(2026, 12, 13, 20, 59, 59))
        );
    }

    #[test]
    fn business_days_and_wall_time_count_from_now() {
        let riyadh = cal("Asia/Riyadh", &["Sun-Thu 08:00-16:00"]);
        // Wednesday 9 December, 10:00 local: 3 business days end Sunday's close (Fri, Sat off).
        let now = utc(2026, 12, 9, 7, 0, 0);
        assert_eq!(
            resolve_due(&riyadh, DueWhen::In(DueSpec::BusinessDays(3)), now),
            Some(utc(2026, 12, 14, 13, 0, 0))
        );
        assert_eq!(
            resolve_due(
                &riyadh,
                DueWhen::In(DueSpec::Wall(Duration::from_secs(4 * 3600))),
                now
            ),
            Some(utc(2026, 12, 9, 11, 0, 0))
        );
        let never = Calendar {
            timezone: chrono_tz::UTC,
            windows: vec![],
            holidays: vec![],
        };
        assert_eq!(
            resolve_due(&never, DueWhen::In(DueSpec::BusinessDays(3)), now),
            None
        );
    }

    #[test]
    fn dates_on_the_nights_berlin_changes_its_clocks() {
        let berlin = cal("Europe/Berlin", &["Mon-Fri 09:00-17:00"]);
        // Saturday 28 March 2026: tomorrow is the short Sunday, which still ends at 23:59:59 CEST.
        let sat = utc(2026, 3, 28, 12, 0, 0);
        assert_eq!(
            resolve_due(&berlin, DueWhen::Tomorrow, sat),
            Some(utc(2026, 3, 29, 21, 59, 59))
        );
        // 02:30 on that Sunday does not exist: the first instant after the gap.
        let gap = date(2026, 3, 29).and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            resolve_due(&berlin, DueWhen::At(gap), sat),
            Some(utc(2026, 3, 29, 1, 0, 0))
        );
        // 25 October 2026: 02:30 happens twice; the first one counts.
        let twice = date(2026, 10, 25).and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            resolve_due(&berlin, DueWhen::At(twice), sat),
            Some(utc(2026, 10, 25, 0, 30, 0))
        );
        assert_eq!(
            resolve_due(
                &berlin,
                DueWhen::Weekday(Weekday::Sun),
                utc(2026, 10, 23, 12, 0, 0)
            ),
            Some(utc(2026, 10, 25, 22, 59, 59))
        );
    }

    #[test]
    fn business_time_counts_open_windows_only() {
        let riyadh = cal("Asia/Riyadh", &["Sun-Thu 08:00-16:00"]);
        // Thursday 14:00 to Sunday 10:00 local: 2h Thursday, 2h Sunday.
        let from = utc(2026, 12, 10, 11, 0, 0);
        let until = utc(2026, 12, 13, 7, 0, 0);
        assert_eq!(
            business_time(&riyadh, from, until),
            chrono::Duration::hours(4)
        );
        assert_eq!(
            business_time(&riyadh, until, from),
            chrono::Duration::zero()
        );
    }

    #[test]
    fn leaving_waiting_moves_the_due_time_by_the_business_time_waited() {
        let riyadh = cal("Asia/Riyadh", &["Sun-Thu 08:00-16:00"]);
        // Waited Thursday 14:00 to Sunday 10:00 local (4 business hours); due Sunday 15:00
        // moves 1h into Sunday and 3h into Monday: Monday 11:00 local.
        let since = utc(2026, 12, 10, 11, 0, 0);
        let now = utc(2026, 12, 13, 7, 0, 0);
        let due = utc(2026, 12, 13, 12, 0, 0);
        assert_eq!(
            due_after_waiting(&riyadh, due, since, now),
            utc(2026, 12, 14, 8, 0, 0)
        );
        // Waiting only over the weekend stops nothing: the due time stays.
        let fri = utc(2026, 12, 11, 8, 0, 0);
        let sat = utc(2026, 12, 12, 8, 0, 0);
        assert_eq!(due_after_waiting(&riyadh, due, fri, sat), due);
    }

    #[test]
    fn the_canonical_forms_read_back() {
        assert_eq!(DueWhen::Date(date(2026, 12, 10)).to_string(), "2026-12-10");
        assert_eq!(
            DueWhen::At(date(2026, 12, 10).and_hms_opt(14, 0, 0).unwrap()).to_string(),
            "2026-12-10 14:00"
        );
        assert_eq!(DueWhen::Weekday(Weekday::Thu).to_string(), "thursday");
        assert_eq!(
            DueWhen::In(DueSpec::BusinessDays(3)).to_string(),
            "3 business days"
        );
        assert_eq!(
            DueWhen::In(DueSpec::Wall(Duration::from_secs(4 * 3600))).to_string(),
            "+4h"
        );
    }
}
