//! Pure helpers of the weekly statistics: percentiles and business time.

use chrono::{DateTime, Utc};

/// The `p`-th percentile (0–100) of `sorted` (ascending) by the nearest-rank method: the
/// smallest value such that at least `p`% of the values are at or below it. None when empty.
///
/// Nearest rank keeps the answer one of the measured times (no interpolated instants), so a
/// median of `[60, 120]` is 60, not 90.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (u64::from(p.min(100)) * n as u64).div_ceil(100).max(1);
    let index = usize::try_from(rank - 1).unwrap_or(n - 1).min(n - 1);
    sorted.get(index).copied()
}

/// Sort `values` and return their (p50, p90).
pub fn p50_p90(mut values: Vec<i64>) -> (Option<i64>, Option<i64>) {
    values.sort_unstable();
    (percentile(&values, 50), percentile(&values, 90))
}

/// Business time: how much of a span lies inside a contract's open windows.
///
/// Built once from the merged open intervals of a range; each question is then two binary
/// searches, so measuring thousands of tasks costs no more window arithmetic.
#[derive(Debug, Clone, Default)]
pub struct BusinessClock {
    /// Sorted, disjoint `[start, end)` in Unix seconds.
    intervals: Vec<(i64, i64)>,
    /// `before[i]`: open seconds in `intervals[..i]`.
    before: Vec<i64>,
}

impl BusinessClock {
    pub fn new(intervals: &[(DateTime<Utc>, DateTime<Utc>)]) -> BusinessClock {
        let mut iv: Vec<(i64, i64)> = intervals
            .iter()
            .map(|(s, e)| (s.timestamp(), e.timestamp()))
            .filter(|(s, e)| s < e)
            .collect();
        iv.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(iv.len());
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut before = Vec::with_capacity(merged.len() + 1);
        let mut total = 0;
        for (s, e) in &merged {
            before.push(total);
            total += e - s;
        }
        before.push(total);
        BusinessClock {
            intervals: merged,
            before,
        }
    }

    /// Open seconds before instant `t` (since the first interval).
    fn open_before(&self, t: i64) -> i64 {
        // Intervals that start before t.
        let i = self.intervals.partition_point(|(s, _)| *s < t);
        if i == 0 {
            return 0;
        }
        let (s, e) = self.intervals.get(i - 1).copied().unwrap_or((t, t));
        let base = self.before.get(i - 1).copied().unwrap_or(0);
        base + (t.min(e) - s).max(0)
    }

    /// Open seconds in `[from, until)`; 0 when `until <= from`.
    pub fn between(&self, from: i64, until: i64) -> i64 {
        if until <= from {
            return 0;
        }
        self.open_before(until) - self.open_before(from)
    }

    /// Is a window open at `t`?
    pub fn is_open(&self, t: i64) -> bool {
        let i = self.intervals.partition_point(|(s, _)| *s <= t);
        i > 0 && self.intervals.get(i - 1).is_some_and(|(_, e)| t < *e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[60, 120], 50), Some(60));
        assert_eq!(percentile(&[60, 120], 90), Some(120));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 100), Some(10));
        assert_eq!(percentile(&ten, 0), Some(1));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile(&eleven, 50), Some(6));
        assert_eq!(percentile(&eleven, 90), Some(10));
        assert_eq!(p50_p90(vec![30, 10, 20]), (Some(20), Some(30)));
        assert_eq!(p50_p90(Vec::new()), (None, None));
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    #[test]
    fn business_time_counts_only_open_windows() {
        // Open 08:00-10:00 and 16:00-17:00.
        let c = BusinessClock::new(&[(at(16, 0), at(17, 0)), (at(8, 0), at(10, 0))]);
        let t = |h, m| at(h, m).timestamp();
        assert_eq!(c.between(t(7, 0), t(7, 30)), 0, "before any window");
        assert_eq!(c.between(t(7, 0), t(9, 0)), 3600, "into the first window");
        assert_eq!(c.between(t(8, 30), t(9, 0)), 1800, "inside one window");
        assert_eq!(
            c.between(t(9, 0), t(16, 30)),
            3600 + 1800,
            "across the closed gap"
        );
        assert_eq!(c.between(t(6, 0), t(23, 0)), 3 * 3600, "the whole day");
        assert_eq!(c.between(t(12, 0), t(13, 0)), 0, "inside the gap");
        assert_eq!(c.between(t(9, 0), t(8, 0)), 0, "a backwards span");
        assert!(c.is_open(t(8, 0)) && c.is_open(t(9, 59)));
        assert!(!c.is_open(t(10, 0)), "a window's end is closed");
        assert!(!c.is_open(t(7, 59)) && !c.is_open(t(12, 0)) && !c.is_open(t(17, 0)));
        assert!(!BusinessClock::default().is_open(t(9, 0)));
        assert_eq!(BusinessClock::default().between(t(1, 0), t(9, 0)), 0);
    }

    #[test]
    fn overlapping_intervals_count_once() {
        let c = BusinessClock::new(&[(at(8, 0), at(10, 0)), (at(9, 0), at(11, 0))]);
        assert_eq!(
            c.between(at(0, 0).timestamp(), at(23, 0).timestamp()),
            3 * 3600
        );
    }
}
