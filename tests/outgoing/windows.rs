//! Response windows, holidays and business time, at any instant: DST nights, holidays,
//! weeks that wrap, windows past midnight. Pure: `now` is an argument.

use crate::support::config::{ConfigBuilder, Raw};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use musaid::config::Contract;
use musaid::windows::{due_at, is_open, next_close, next_open, open_intervals, DueSpec};
use std::path::Path;

/// A contract in `tz` with `windows` and `holidays`, each the inside of a TOML array.
fn contract(tz: &str, windows: &str, holidays: &str) -> Contract {
    let cfg = ConfigBuilder::new("/tmp/x")
        .daemon_set("rules_dir", "/tmp/x")
        .contract("c", |c| {
            c.owners(&["*"])
                .vas(&["va@va.example"])
                .timezone(tz)
                .set("windows", Raw(format!("[{windows}]")))
                .set("holidays", Raw(format!("[{holidays}]")))
        })
        .load(Path::new("/test/musaid.toml"));
    cfg.contracts.get("c").cloned().expect("contract c")
}

fn at(tz: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    let tz: Tz = tz.parse().expect("zone");
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .expect("valid local time")
        .with_timezone(&Utc)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid")
}

const RIYADH: &str = "Asia/Riyadh";

#[test]
fn riyadh_sunday_to_thursday_two_windows_a_day_and_holidays() {
    let c = contract(
        RIYADH,
        r#""Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00""#,
        r#""2026-12-02""#,
    );
    // Thursday 26 November 2026.
    assert!(is_open(&c, at(RIYADH, 2026, 11, 26, 9, 0)));
    assert!(
        !is_open(&c, at(RIYADH, 2026, 11, 26, 10, 0)),
        "end is exclusive"
    );
    assert!(is_open(&c, at(RIYADH, 2026, 11, 26, 16, 30)));
    // Friday and Saturday are closed; after Thursday's last window the next is Sunday 08:00.
    assert!(!is_open(&c, at(RIYADH, 2026, 11, 27, 9, 0)));
    assert_eq!(
        next_open(&c, at(RIYADH, 2026, 11, 26, 17, 30)),
        Some(at(RIYADH, 2026, 11, 29, 8, 0))
    );
    assert_eq!(
        next_close(&c, at(RIYADH, 2026, 11, 26, 9, 15)),
        Some(at(RIYADH, 2026, 11, 26, 10, 0))
    );
    assert_eq!(next_close(&c, at(RIYADH, 2026, 11, 26, 11, 0)), None);
    // Wednesday 2 December is a holiday: Tuesday evening's next opening is Thursday.
    assert!(!is_open(&c, at(RIYADH, 2026, 12, 2, 9, 0)));
    assert_eq!(
        next_open(&c, at(RIYADH, 2026, 12, 1, 17, 0)),
        Some(at(RIYADH, 2026, 12, 3, 8, 0))
    );
    // Open now means next_open is now.
    let t = at(RIYADH, 2026, 11, 26, 9, 30);
    assert_eq!(next_open(&c, t), Some(t));
}

#[test]
fn wrapping_day_ranges_and_windows_past_midnight() {
    let sat_thu = contract(RIYADH, r#""Sat-Thu 09:00-17:00""#, "");
    assert!(
        is_open(&sat_thu, at(RIYADH, 2026, 11, 28, 10, 0)),
        "Saturday"
    );
    assert!(
        is_open(&sat_thu, at(RIYADH, 2026, 11, 26, 10, 0)),
        "Thursday"
    );
    assert!(
        !is_open(&sat_thu, at(RIYADH, 2026, 11, 27, 10, 0)),
        "Friday"
    );

    let fri = contract(RIYADH, r#""Fri 10:00-12:00""#, "");
    assert!(is_open(&fri, at(RIYADH, 2026, 11, 27, 11, 0)));
    assert!(!is_open(&fri, at(RIYADH, 2026, 11, 26, 11, 0)));

    let night = contract("Europe/London", r#""Mon-Fri 22:00-02:00""#, "");
    let lon = "Europe/London";
    assert!(
        is_open(&night, at(lon, 2026, 11, 24, 1, 0)),
        "Tuesday 01:00 from Monday's window"
    );
    assert!(
        is_open(&night, at(lon, 2026, 11, 28, 1, 30)),
        "Saturday 01:30 from Friday's window"
    );
    assert!(
        !is_open(&night, at(lon, 2026, 11, 29, 1, 0)),
        "Sunday 01:00"
    );
    assert!(
        !is_open(&night, at(lon, 2026, 11, 23, 1, 0)),
        "Monday 01:00: Sunday has no window"
    );
}

#[test]
fn cron_windows_open_for_their_length() {
    let c = contract(RIYADH, r#"{ cron = "0 0 8 * * Sun-Thu", for = "2h" }"#, "");
    assert!(is_open(&c, at(RIYADH, 2026, 11, 26, 9, 59)));
    assert!(!is_open(&c, at(RIYADH, 2026, 11, 26, 10, 0)));
    assert_eq!(
        next_open(&c, at(RIYADH, 2026, 11, 26, 10, 0)),
        Some(at(RIYADH, 2026, 11, 29, 8, 0))
    );
}

#[test]
fn a_window_in_the_skipped_hour_starts_at_the_first_valid_instant() {
    // Europe/Paris springs forward on Sunday 29 March 2026: 02:00 → 03:00 (01:00 UTC).
    let c = contract("Europe/Paris", r#""Sun 02:30-04:00""#, "");
    let iv = open_intervals(&c, utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0));
    assert_eq!(iv, vec![(utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 2, 0))]);
    // New York, 8 March 2026: 02:00 EST → 03:00 EDT (07:00 UTC).
    let ny = contract("America/New_York", r#""Sun 02:00-03:30""#, "");
    let iv = open_intervals(&ny, utc(2026, 3, 7, 0, 0), utc(2026, 3, 9, 0, 0));
    assert_eq!(iv, vec![(utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30))]);
}

#[test]
fn a_window_in_the_repeated_hour_opens_once() {
    // Europe/Paris falls back on Sunday 25 October 2026: 03:00 CEST → 02:00 CET.
    let c = contract("Europe/Paris", r#""Sun 02:15-02:45""#, "");
    let iv = open_intervals(&c, utc(2026, 10, 24, 0, 0), utc(2026, 10, 26, 0, 0));
    assert_eq!(iv.len(), 1, "{iv:?}");
    assert_eq!(iv[0], (utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 45)));
    // Sydney falls back on Sunday 5 April 2026: 03:00 AEDT → 02:00 AEST.
    let syd = contract("Australia/Sydney", r#""Sun 02:00-04:00""#, "");
    let iv = open_intervals(&syd, utc(2026, 4, 4, 0, 0), utc(2026, 4, 6, 0, 0));
    assert_eq!(iv.len(), 1, "{iv:?}");
    // 02:00 AEDT (15:00 UTC Saturday) to 04:00 AEST (18:00 UTC): three real hours.
    assert_eq!(iv[0], (utc(2026, 4, 4, 15, 0), utc(2026, 4, 4, 18, 0)));
}

#[test]
fn business_hours_and_days_count_open_windows_only() {
    let c = contract(
        RIYADH,
        r#""Sun-Thu 08:00-10:00", "Sun-Thu 16:00-17:00""#,
        r#""2026-12-02""#,
    );
    // Thursday 16:30: 30 min Thursday, Sunday 2 h + 1 h, Monday 30 min → Monday 08:30.
    let from = at(RIYADH, 2026, 11, 26, 16, 30);
    assert_eq!(
        due_at(&c, DueSpec::BusinessHours(4), from),
        Some(at(RIYADH, 2026, 11, 30, 8, 30))
    );
    // Two business days after Thursday: Sunday and Monday; due at Monday's last close.
    assert_eq!(
        due_at(&c, DueSpec::BusinessDays(2), from),
        Some(at(RIYADH, 2026, 11, 30, 17, 0))
    );
    // The holiday on Wednesday is skipped: from Monday, two business days are Tue and Thu.
    assert_eq!(
        due_at(&c, DueSpec::BusinessDays(2), at(RIYADH, 2026, 11, 30, 9, 0)),
        Some(at(RIYADH, 2026, 12, 3, 17, 0))
    );
    assert_eq!(
        due_at(
            &c,
            DueSpec::Wall(std::time::Duration::from_secs(3600)),
            from
        ),
        Some(from + Duration::hours(1))
    );
}

/// Over two years of instants in zones with and without DST: `is_open` agrees with the
/// intervals, `next_open` is the first open instant, and a weekly window is only ever open at
/// local times inside its span on its days.
#[test]
fn properties_hold_over_years_across_dst_changes() {
    for tz in [
        "Europe/Paris",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Riyadh",
        "Africa/Cairo",
    ] {
        let c = contract(
            tz,
            r#""Mon-Fri 01:30-03:30", "Sat 23:00-01:00""#,
            r#""2026-12-25""#,
        );
        let zone: Tz = tz.parse().expect("zone");
        let start = utc(2026, 1, 1, 0, 0);
        let mut t = start;
        let step = Duration::minutes(53);
        let mut opens = 0;
        while t < utc(2028, 1, 1, 0, 0) {
            let open = is_open(&c, t);
            let local = t.with_timezone(&zone);
            if open {
                opens += 1;
                let hm = local.format("%H:%M").to_string();
                let day = local.format("%a").to_string();
                let in_weekday = ["Mon", "Tue", "Wed", "Thu", "Fri"].contains(&day.as_str())
                    && hm.as_str() >= "01:30"
                    && hm.as_str() < "03:30";
                // A window skipped forward by DST may end past 03:30 local by the gap.
                let in_weekday_dst = ["Mon", "Tue", "Wed", "Thu", "Fri"].contains(&day.as_str())
                    && hm.as_str() >= "03:00"
                    && hm.as_str() < "04:30";
                let in_sat = (day == "Sat" && hm.as_str() >= "23:00")
                    || (day == "Sun" && hm.as_str() < "01:00");
                assert!(
                    in_weekday || in_sat || in_weekday_dst,
                    "{tz}: open at {local} ({t})"
                );
                assert_ne!(
                    local.date_naive(),
                    NaiveDate::from_ymd_opt(2026, 12, 25).expect("date"),
                    "{tz}: open on the holiday at {local}"
                );
                assert_eq!(next_open(&c, t), Some(t));
            } else {
                let n = next_open(&c, t).expect("opens again");
                assert!(n > t, "{tz}: next_open({t}) = {n}");
                assert!(is_open(&c, n), "{tz}: not open at next_open {n}");
                assert!(
                    !is_open(&c, n - Duration::seconds(1)),
                    "{tz}: open just before {n}"
                );
                assert!(n - t < Duration::days(4), "{tz}: {t} → {n}");
            }
            t += step;
        }
        assert!(opens > 500, "{tz}: only {opens} open samples");
    }
}

#[test]
fn a_contract_open_around_the_clock_never_closes_and_answers_at_once() {
    let c = contract(RIYADH, r#""Mon-Sun 00:00-24:00""#, "");
    let now = at(RIYADH, 2026, 11, 26, 9, 0);
    let started = std::time::Instant::now();
    assert!(is_open(&c, now));
    assert_eq!(next_close(&c, now), None);
    assert_eq!(next_open(&c, now), Some(now));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Touching windows on consecutive days close at the end of the run.
    let week = contract(RIYADH, r#""Sun-Thu 00:00-24:00""#, "");
    assert_eq!(
        next_close(&week, at(RIYADH, 2026, 11, 29, 9, 0)),
        Some(at(RIYADH, 2026, 11, 27, 0, 0) + Duration::days(7))
    );
}
