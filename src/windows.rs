//! Response windows, holidays and business time. Pure: `now` is always an argument.
//!
//! Everything here reads a [`Calendar`] (time zone, windows, holidays); the config holds one
//! per contract.

use chrono::{NaiveTime, Weekday};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

mod due;
pub use due::{business_time, due_after_waiting, resolve_due, DueWhen};

/// One contracted response window as written in the config.
#[allow(clippy::large_enum_variant)] // A handful per contract; boxing buys nothing.
#[derive(Debug, Clone)]
pub enum WindowSpec {
    /// `"Sun-Thu 08:00-10:00"`: days (wrapping weeks allowed: `Sat-Thu`, `Fri`, `Mon,Wed`)
    /// and a wall-clock span in the contract's zone.
    Weekly {
        days: Vec<Weekday>,
        start: NaiveTime,
        /// `end <= start` means the window runs past midnight into the next day.
        end: NaiveTime,
        source: String,
    },
    /// `{ cron = "0 0 8 * * Sun-Thu", for = "2h" }`: each cron instant opens a window of that length.
    Cron {
        schedule: cron::Schedule,
        length: Duration,
        source: String,
    },
}

/// How long a task may take: `due = "2 business days"` in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueSpec {
    /// Counted on open windows only, a "day" being one calendar day that has an open window.
    BusinessDays(u32),
    /// Counted on open window time only.
    BusinessHours(u32),
    /// Plain wall-clock time (`"3 days"`, `"48h"`).
    Wall(Duration),
}

/// The longest window a cron start may open (a window is at most a week).
const MAX_CRON_WINDOW: Duration = Duration::from_secs(7 * 86400);

impl WindowSpec {
    /// The cron form `{ cron = "0 0 8 * * Sun-Thu", for = "2h" }`: each instant of
    /// `expr` opens a window of length `length`.
    pub fn cron(expr: &str, length: &str) -> Result<WindowSpec, String> {
        let schedule = parse_cron(expr)?;
        let length =
            crate::units::parse_duration(length).map_err(|e| format!("for = \"{length}\": {e}"))?;
        if length.is_zero() || length > MAX_CRON_WINDOW {
            return Err(format!(
                "for = \"{}\": a window lasts more than 0 and at most 7 days (e.g. \"2h\")",
                crate::units::format_duration(length)
            ));
        }
        Ok(WindowSpec::Cron {
            schedule,
            length,
            source: format!(
                "{{ cron = \"{}\", for = \"{}\" }}",
                expr.trim(),
                length_source(length)
            ),
        })
    }

    /// The window as written in the config, for messages.
    pub fn source(&self) -> &str {
        match self {
            WindowSpec::Weekly { source, .. } | WindowSpec::Cron { source, .. } => source,
        }
    }
}

fn length_source(d: Duration) -> String {
    crate::units::format_duration(d)
}

impl fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

const WINDOW_EXAMPLE: &str =
    "write e.g. \"Sun-Thu 08:00-10:00\", \"Fri 10:00-12:00\" or \"Mon,Wed 09:00-11:00\"";

impl FromStr for WindowSpec {
    type Err = String;

    /// `DAYS HH:MM-HH:MM`: DAYS is a day (`Fri`), a range (`Sun-Thu`, wrapping allowed:
    /// `Sat-Thu`) or a comma list of both (`Mon,Wed`, `Sun-Tue,Thu`); the end may be `24:00`,
    /// and an end at or before the start runs past midnight (`Mon-Fri 22:00-02:00`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        // Days hold no digits: the times start at the first one. Spaces inside either part
        // (`Mon, Wed`, `08:00 - 10:00`) are fine.
        let split = text
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(text.len());
        let (days_part, span_part) = text.split_at(split);
        let days_part: String = days_part.split_whitespace().collect();
        let span_part: String = span_part.split_whitespace().collect();
        if days_part.is_empty() || span_part.is_empty() {
            return Err(format!(
                "window \"{text}\" is not `DAYS START-END`; {WINDOW_EXAMPLE}"
            ));
        }
        let span_part = span_part.as_str();
        let days = parse_days(&days_part).map_err(|e| format!("window \"{text}\": {e}"))?;
        let (start_s, end_s) = span_part.split_once('-').ok_or_else(|| {
            format!("window \"{text}\": `{span_part}` is not a time span like 08:00-10:00")
        })?;
        let start = parse_clock(start_s, false).map_err(|e| format!("window \"{text}\": {e}"))?;
        let end = parse_clock(end_s, true).map_err(|e| format!("window \"{text}\": {e}"))?;
        if start == end && !(start == NaiveTime::MIN && end_s.trim() == "24:00") {
            return Err(format!(
                "window \"{text}\": start and end are the same; for a whole day write 00:00-24:00"
            ));
        }
        Ok(WindowSpec::Weekly {
            days,
            start,
            end,
            source: text.to_string(),
        })
    }
}

/// `Sun-Thu`, `Fri`, `Mon,Wed`, `Sat-Thu` (wrapping), in the order written, without repeats.
fn parse_days(s: &str) -> Result<Vec<Weekday>, String> {
    let mut days: Vec<Weekday> = Vec::new();
    for item in s.split(',') {
        let item = item.trim();
        let mut push = |d: Weekday| {
            if !days.contains(&d) {
                days.push(d);
            }
        };
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_weekday(a)?, parse_weekday(b)?);
                let mut d = a;
                loop {
                    push(d);
                    if d == b {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => push(parse_weekday(item)?),
        }
    }
    Ok(days)
}

/// An English day name, three letters or in full, any case.
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    let lower = s.trim().to_ascii_lowercase();
    let day = match lower.as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => {
            return Err(format!(
                "`{}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun",
                s.trim()
            ))
        }
    };
    Ok(day)
}

/// `HH:MM` on a 24-hour clock; `24:00` only as an end (returned as midnight).
fn parse_clock(s: &str, is_end: bool) -> Result<NaiveTime, String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not a time of day; write HH:MM on a 24-hour clock, e.g. 08:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h == 24 && m == 0 {
        return if is_end {
            Ok(NaiveTime::MIN)
        } else {
            Err("a window cannot start at 24:00; write 00:00".to_string())
        };
    }
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// A cron expression of the `cron` crate: 6 or 7 fields, seconds first.
/// A classic 5-field expression gets an error that shows it with seconds added.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let expr = expr.trim();
    let fields = expr.split_whitespace().count();
    if fields == 5 {
        return Err(format!(
            "cron \"{expr}\" has 5 fields; these cron expressions start with seconds: write \"0 {expr}\""
        ));
    }
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "cron \"{expr}\" has {fields} fields; write 6 (sec min hour day month weekday), e.g. \"0 0 8 * * Sun-Thu\""
        ));
    }
    // Classic cron counts weekdays 0-6 from Sunday, this one 1-7 from Sunday: "1-5" would
    // silently mean Sun-Thu. Names say the same thing in both.
    if let Some(dow) = expr.split_whitespace().nth(5) {
        if dow.contains(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "cron \"{expr}\": write the weekdays as names (Mon-Fri, Sun-Thu), not numbers \
                 like `{dow}`, whose meaning differs between cron dialects"
            ));
        }
    }
    cron::Schedule::from_str(expr).map_err(|e| {
        format!("cron \"{expr}\" is not valid ({e}); write e.g. \"0 0 8 * * Sun-Thu\"")
    })
}

const DUE_EXAMPLE: &str =
    "write e.g. \"2 business days\", \"4 business hours\", \"3 days\", \"48h\" or \"30m\"";

impl FromStr for DueSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let lower = text.to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let count = |n: &str| -> Result<u32, String> {
            match n.parse::<u32>() {
                Ok(0) => Err(format!("due \"{text}\": the count must be at least 1")),
                Ok(v) => Ok(v),
                Err(_) => Err(format!(
                    "due \"{text}\": `{n}` is not a whole number; {DUE_EXAMPLE}"
                )),
            }
        };
        let spec = match words.as_slice() {
            [n, "business", unit] => match *unit {
                "day" | "days" => DueSpec::BusinessDays(count(n)?),
                "hour" | "hours" => DueSpec::BusinessHours(count(n)?),
                _ => {
                    return Err(format!(
                        "due \"{text}\": business time counts days or hours; {DUE_EXAMPLE}"
                    ))
                }
            },
            [n, unit] => {
                let n = u64::from(count(n)?);
                let secs = match *unit {
                    "day" | "days" => n * 86400,
                    "hour" | "hours" => n * 3600,
                    "minute" | "minutes" | "min" | "mins" => n * 60,
                    "week" | "weeks" => n * 7 * 86400,
                    _ => {
                        return Err(format!(
                            "due \"{text}\": unknown unit `{unit}`; {DUE_EXAMPLE}"
                        ))
                    }
                };
                DueSpec::Wall(Duration::from_secs(secs))
            }
            [one] => {
                let d = crate::units::parse_duration(one)
                    .map_err(|e| format!("due \"{text}\": {e}; {DUE_EXAMPLE}"))?;
                if d.is_zero() {
                    return Err(format!("due \"{text}\": must be more than 0"));
                }
                DueSpec::Wall(d)
            }
            _ => return Err(format!("due \"{text}\" is not understood; {DUE_EXAMPLE}")),
        };
        Ok(spec)
    }
}

impl fmt::Display for DueSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DueSpec::BusinessDays(1) => f.write_str("1 business day"),
            DueSpec::BusinessDays(n) => write!(f, "{n} business days"),
            DueSpec::BusinessHours(1) => f.write_str("1 business hour"),
            DueSpec::BusinessHours(n) => write!(f, "{n} business hours"),
            DueSpec::Wall(d) => f.write_str(&crate::units::format_duration(*d)),
        }
    }
}

// ---------------------------------------------------------------------------
// Open intervals: when a contract's VA is on duty.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// When a contract's VA is on duty: the time zone its windows are written in, the windows,
/// and the holidays on which no window opens.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub timezone: Tz,
    pub windows: Vec<WindowSpec>,
    /// Sorted, each once.
    pub holidays: Vec<NaiveDate>,
}

/// How far ahead `next_open` looks before concluding a calendar never opens.
const HORIZON_DAYS: u64 = 800;

/// A local wall-clock time → the instant it names. A time in a skipped hour (spring
/// forward) moves to the first valid instant after it; a repeated hour (fall back) takes its
/// first occurrence, so it counts once.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // Step forward minute by minute: gaps are at most a few hours.
            (1..=24 * 60).find_map(|m| {
                let t = local + chrono::Duration::minutes(m);
                match tz.from_local_datetime(&t) {
                    LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
                    LocalResult::None => None,
                }
            })
        }
    }
}

fn is_holiday(cal: &Calendar, day: NaiveDate) -> bool {
    cal.holidays.contains(&day)
}

/// The windows of `cal` that start on local calendar day `day`, as UTC intervals.
fn windows_starting_on(
    cal: &Calendar,
    day: NaiveDate,
    out: &mut Vec<(DateTime<Utc>, DateTime<Utc>)>,
) {
    if is_holiday(cal, day) {
        return;
    }
    for w in &cal.windows {
        match w {
            WindowSpec::Weekly {
                days, start, end, ..
            } => {
                if !days.contains(&day.weekday()) {
                    continue;
                }
                let end_day = if end <= start {
                    day.checked_add_days(Days::new(1))
                } else {
                    Some(day)
                };
                let (Some(s), Some(e)) = (
                    resolve_local(cal.timezone, day.and_time(*start)),
                    end_day.and_then(|d| resolve_local(cal.timezone, d.and_time(*end))),
                ) else {
                    continue;
                };
                if s < e {
                    out.push((s, e));
                }
            }
            WindowSpec::Cron {
                schedule, length, ..
            } => {
                let Some(from) = day
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| resolve_local(cal.timezone, t))
                else {
                    continue;
                };
                let from = from.with_timezone(&cal.timezone) - chrono::Duration::seconds(1);
                let len = chrono::Duration::from_std(*length).unwrap_or(chrono::Duration::zero());
                for t in schedule.after(&from) {
                    if t.date_naive() != day {
                        break;
                    }
                    let s = t.with_timezone(&Utc);
                    out.push((s, s + len));
                }
            }
        }
    }
}

/// Open intervals intersecting `[from, until)`, sorted and merged.
pub fn open_intervals(
    cal: &Calendar,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut raw = Vec::new();
    // Windows may run past midnight (or last long, for cron ones): start two days early.
    let first = from.with_timezone(&cal.timezone).date_naive() - Days::new(2);
    let last = until.with_timezone(&cal.timezone).date_naive();
    let mut day = first;
    while day <= last {
        windows_starting_on(cal, day, &mut raw);
        match day.succ_opt() {
            Some(d) => day = d,
            None => break,
        }
    }
    raw.retain(|(s, e)| *e > from && *s < until);
    raw.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(raw.len());
    for (s, e) in raw {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Is one of the calendar's windows open at `now`?
pub fn is_open(cal: &Calendar, now: DateTime<Utc>) -> bool {
    open_intervals(cal, now, now + chrono::Duration::seconds(1))
        .iter()
        .any(|(s, e)| *s <= now && now < *e)
}

/// The earliest instant at or after `now` when a window is open (`now` itself when open).
pub fn next_open(cal: &Calendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    scan(cal, now, |s, e| (e > now).then_some(s.max(now)))
}

/// When the window open at `now` closes (windows that touch count as one); None when none is
/// open, or when the calendar stays open for the whole horizon (around the clock).
pub fn next_close(cal: &Calendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = now + chrono::Duration::days(HORIZON_DAYS as i64);
    let mut at = now;
    while at < limit {
        let iv = open_intervals(cal, at, at + chrono::Duration::days(30));
        let (_, end) = *iv.iter().find(|(s, e)| *s <= at && at < *e)?;
        // The interval may touch the next one, opened on a later day: look again from its end.
        if !is_open(cal, end) {
            return Some(end);
        }
        at = end;
    }
    None
}

/// The next `n` openings (starts of open intervals) after `now`.
pub fn next_openings(cal: &Calendar, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut from = now;
    let mut step = chrono::Duration::days(14);
    let limit = now + chrono::Duration::days(HORIZON_DAYS as i64);
    while out.len() < n && from < limit {
        let until = from + step;
        for (s, _) in open_intervals(cal, from, until) {
            if s > now && !out.contains(&s) && out.len() < n {
                out.push(s);
            }
        }
        from = until;
        step = chrono::Duration::days(60);
    }
    out
}

/// Walk the open intervals from `now` on, in growing chunks, until `f` answers.
fn scan<T>(
    cal: &Calendar,
    now: DateTime<Utc>,
    mut f: impl FnMut(DateTime<Utc>, DateTime<Utc>) -> Option<T>,
) -> Option<T> {
    let mut from = now;
    let limit = now + chrono::Duration::days(HORIZON_DAYS as i64);
    let mut step = chrono::Duration::days(8);
    while from < limit {
        let until = from + step;
        for (s, e) in open_intervals(cal, from, until) {
            if let Some(t) = f(s.max(from), e) {
                return Some(t);
            }
        }
        from = until;
        step = chrono::Duration::days(90);
    }
    None
}

/// When a task created at `from` is due under `spec`, counted in the calendar's windows.
///
/// Business hours count open window time only. N business days end at the close of the last
/// window on the N-th local day after `from`'s day that has an open window (holidays skipped).
pub fn due_at(cal: &Calendar, spec: DueSpec, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match spec {
        DueSpec::Wall(d) => Some(from + chrono::Duration::from_std(d).ok()?),
        DueSpec::BusinessHours(h) => {
            let mut left = chrono::Duration::hours(i64::from(h));
            if left.is_zero() {
                return Some(from);
            }
            scan(cal, from, |s, e| {
                let span = e - s;
                if span >= left {
                    Some(s + left)
                } else {
                    left -= span;
                    None
                }
            })
        }
        DueSpec::BusinessDays(n) => {
            if n == 0 {
                return Some(from);
            }
            let mut day = from.with_timezone(&cal.timezone).date_naive();
            let mut counted = 0;
            let mut todays = Vec::new();
            for _ in 0..HORIZON_DAYS {
                day = day.succ_opt()?;
                todays.clear();
                windows_starting_on(cal, day, &mut todays);
                if let Some(close) = todays.iter().map(|(_, e)| *e).max() {
                    counted += 1;
                    if counted == n {
                        return Some(close);
                    }
                }
            }
            None
        }
    }
}

/// The instant `spec` of business time before `due`, counted back through the calendar's
/// windows: the mirror of [`due_at`]. N business days before start at the opening of the first
/// window on the N-th local day before `due`'s day that has an open window.
pub fn before(cal: &Calendar, spec: DueSpec, due: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match spec {
        DueSpec::Wall(d) => Some(due - chrono::Duration::from_std(d).ok()?),
        DueSpec::BusinessHours(h) => {
            let mut left = chrono::Duration::hours(i64::from(h));
            let mut until = due;
            let limit = due - chrono::Duration::days(HORIZON_DAYS as i64);
            while until > limit && !left.is_zero() {
                let from = until - chrono::Duration::days(8);
                for (s, e) in open_intervals(cal, from, until).into_iter().rev() {
                    let (s, e) = (s.max(from), e.min(until));
                    if e - s >= left {
                        return Some(e - left);
                    }
                    left -= e - s;
                }
                until = from;
            }
            left.is_zero().then_some(due)
        }
        DueSpec::BusinessDays(n) => {
            let mut day = due.with_timezone(&cal.timezone).date_naive();
            let mut counted = 0;
            let mut todays = Vec::new();
            for _ in 0..HORIZON_DAYS {
                day = day.pred_opt()?;
                todays.clear();
                windows_starting_on(cal, day, &mut todays);
                if let Some(open) = todays.iter().map(|(s, _)| *s).min() {
                    counted += 1;
                    if counted >= n {
                        return Some(open);
                    }
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn weekly(s: &str) -> (Vec<Weekday>, NaiveTime, NaiveTime) {
        match s.parse::<WindowSpec>() {
            Ok(WindowSpec::Weekly {
                days,
                start,
                end,
                source,
            }) => {
                assert_eq!(source, s.trim());
                (days, start, end)
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn weekly_windows_parse() {
        use Weekday::*;
        assert_eq!(
            weekly("Sun-Thu 08:00-10:00"),
            (vec![Sun, Mon, Tue, Wed, Thu], t(8, 0), t(10, 0))
        );
        assert_eq!(
            weekly("Sat-Thu 09:00-17:00"),
            (vec![Sat, Sun, Mon, Tue, Wed, Thu], t(9, 0), t(17, 0))
        );
        assert_eq!(weekly("Fri 10:00-12:00"), (vec![Fri], t(10, 0), t(12, 0)));
        assert_eq!(
            weekly("Mon,Wed 09:00-11:00"),
            (vec![Mon, Wed], t(9, 0), t(11, 0))
        );
        assert_eq!(
            weekly("Mon-Fri 22:00-02:00"),
            (vec![Mon, Tue, Wed, Thu, Fri], t(22, 0), t(2, 0))
        );
        assert_eq!(
            weekly("sunday-tue,thu 8:30-24:00"),
            (vec![Sun, Mon, Tue, Thu], t(8, 30), t(0, 0))
        );
        assert_eq!(
            weekly("Mon, Wed 09:00 - 11:00"),
            (vec![Mon, Wed], t(9, 0), t(11, 0))
        );
        assert_eq!(
            weekly(" Mon-Sun 00:00-24:00 "),
            (vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun], t(0, 0), t(0, 0))
        );
    }

    #[test]
    fn weekly_window_errors_say_what_to_write() {
        let cases = [
            ("08:00-10:00", "DAYS START-END"),
            ("Sun-Thu", "DAYS START-END"),
            ("Sun-Xyz 08:00-10:00", "`Xyz` is not a day; use Mon"),
            ("Sun-Thu 8-10", "not a time of day; write HH:MM"),
            ("Sun-Thu 08:00", "not a time span like 08:00-10:00"),
            ("Sun-Thu 25:00-26:00", "`25:00` is not a time of day"),
            ("Sun-Thu 24:00-10:00", "cannot start at 24:00"),
            ("Sun-Thu 08:00-08:00", "for a whole day write 00:00-24:00"),
            ("Sun-Thu 08:60-09:00", "`08:60` is not a time of day"),
        ];
        for (input, want) in cases {
            let err = input.parse::<WindowSpec>().unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn cron_windows() {
        let w = WindowSpec::cron("0 0 8 * * Sun-Thu", "2h").unwrap();
        match &w {
            WindowSpec::Cron { length, source, .. } => {
                assert_eq!(*length, Duration::from_secs(7200));
                assert_eq!(source, "{ cron = \"0 0 8 * * Sun-Thu\", for = \"2h\" }");
            }
            other => panic!("{other:?}"),
        }
        let five = WindowSpec::cron("0 8 * * Sun-Thu", "2h").unwrap_err();
        assert!(five.contains("write \"0 0 8 * * Sun-Thu\""), "{five}");
        let numeric = WindowSpec::cron("0 0 8 * * 1-5", "2h").unwrap_err();
        assert!(numeric.contains("names (Mon-Fri, Sun-Thu)"), "{numeric}");
        assert!(WindowSpec::cron("0 30 8 1,15 * *", "1h").is_ok());
        let bad = WindowSpec::cron("0 0 8 * * Funday", "2h").unwrap_err();
        assert!(bad.contains("is not valid"), "{bad}");
        let zero = WindowSpec::cron("0 0 8 * * Sun", "0s").unwrap_err();
        assert!(zero.contains("more than 0"), "{zero}");
        let long = WindowSpec::cron("0 0 8 * * Sun", "8d").unwrap_err();
        assert!(long.contains("at most 7 days"), "{long}");
        let unit = WindowSpec::cron("0 0 8 * * Sun", "2 hours").unwrap_err();
        assert!(unit.contains("for = \"2 hours\""), "{unit}");
    }

    #[test]
    fn due_specs_parse() {
        let cases = [
            ("2 business days", DueSpec::BusinessDays(2)),
            ("1 business day", DueSpec::BusinessDays(1)),
            ("4 business hours", DueSpec::BusinessHours(4)),
            ("1 Business Hour", DueSpec::BusinessHours(1)),
            ("3 days", DueSpec::Wall(Duration::from_secs(3 * 86400))),
            ("48h", DueSpec::Wall(Duration::from_secs(48 * 3600))),
            ("30m", DueSpec::Wall(Duration::from_secs(1800))),
            ("1h30m", DueSpec::Wall(Duration::from_secs(5400))),
            ("2 hours", DueSpec::Wall(Duration::from_secs(7200))),
            ("1 week", DueSpec::Wall(Duration::from_secs(7 * 86400))),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<DueSpec>(), Ok(want), "{input}");
        }
        assert_eq!(DueSpec::BusinessDays(2).to_string(), "2 business days");
        assert_eq!(DueSpec::BusinessHours(1).to_string(), "1 business hour");
        assert_eq!(
            DueSpec::Wall(Duration::from_secs(5400)).to_string(),
            "1h30m"
        );
    }

    #[test]
    fn due_spec_errors() {
        let cases = [
            ("0 business days", "at least 1"),
            ("two business days", "not a whole number"),
            ("2 business weeks", "counts days or hours"),
            ("3 fortnights", "unknown unit `fortnights`"),
            ("soon", "due \"soon\""),
            ("0s", "more than 0"),
            ("", "not understood"),
        ];
        for (input, want) in cases {
            let err = input.parse::<DueSpec>().unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
