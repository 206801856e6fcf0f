//! Response windows, holidays and business time. Pure: `now` is always an argument.

use chrono::{NaiveTime, Weekday};
use std::time::Duration;

/// One contracted response window as written in the config.
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
