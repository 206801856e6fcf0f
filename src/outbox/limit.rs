//! Outgoing limits, checked by the sender at the instant of sending: at most
//! `policy.mails_per_recipient_per_hour` mails of any kind to one address in any hour, and
//! one error reply to one address an hour. A row over a limit is held — it waits, with the
//! reason shown by `musaid outbox` — until the hour has passed. Pure: the caller reads what
//! was sent and passes `now`.

use super::Kind;

/// The length of the sliding window, in seconds.
pub const HOUR: i64 = 3600;

/// Why a pending row waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// `mails_per_recipient_per_hour` mails went to this address in the last hour.
    PerRecipient,
    /// An error reply went to this address in the last hour.
    ErrorPerHour,
}

impl Held {
    /// The reason as `musaid outbox` shows it and the `held` column stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Held::PerRecipient => "mails_per_recipient_per_hour",
            Held::ErrorPerHour => "one_error_per_hour",
        }
    }
}

/// Whether a row of `kind` may go to its recipient at `now`: None if it may, else why not
/// and the first instant (Unix seconds) it may. `sent` are the instants mail of any kind was
/// sent to that address, `errors` those of error replies (any order; older ones are ignored).
pub fn hold(
    kind: Kind,
    sent: &[i64],
    errors: &[i64],
    per_hour: u32,
    now: i64,
) -> Option<(Held, i64)> {
    let since = now - HOUR;
    let mut recent: Vec<i64> = sent.iter().copied().filter(|&t| t > since).collect();
    let mut until: Option<(Held, i64)> = None;
    let limit = usize::try_from(per_hour).unwrap_or(usize::MAX).max(1);
    if recent.len() >= limit {
        // Newest first: once the `limit`-th newest is an hour old, fewer than `limit` remain.
        recent.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&t) = recent.get(limit - 1) {
            until = Some((Held::PerRecipient, t + HOUR));
        }
    }
    if kind == Kind::Error {
        if let Some(last) = errors.iter().copied().filter(|&t| t > since).max() {
            let at = last + HOUR;
            if until.is_none_or(|(_, u)| at > u) {
                until = Some((Held::ErrorPerHour, at));
            }
        }
    }
    until.map(|(why, at)| (why, at.max(now + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn under_the_limit_mail_goes() {
        let sent: Vec<i64> = (0..29).map(|i| NOW - i * 10).collect();
        assert_eq!(hold(Kind::Ack, &sent, &[], 30, NOW), None);
        assert_eq!(hold(Kind::Notify, &[], &[], 30, NOW), None);
    }

    #[test]
    fn at_the_limit_mail_waits_until_the_oldest_counted_is_an_hour_old() {
        // 30 sent over the last 290 s, the oldest at NOW - 290.
        let sent: Vec<i64> = (0..30).map(|i| NOW - i * 10).collect();
        assert_eq!(
            hold(Kind::Ack, &sent, &[], 30, NOW),
            Some((Held::PerRecipient, NOW - 290 + HOUR))
        );
        // With 35 sent, the 30th newest decides, not the oldest.
        let sent: Vec<i64> = (0..35).map(|i| NOW - i * 10).collect();
        assert_eq!(
            hold(Kind::Summary, &sent, &[], 30, NOW),
            Some((Held::PerRecipient, NOW - 290 + HOUR))
        );
    }

    #[test]
    fn mail_sent_an_hour_ago_or_earlier_does_not_count() {
        let mut sent: Vec<i64> = (0..29).map(|i| NOW - i).collect();
        sent.push(NOW - HOUR);
        sent.push(NOW - 2 * HOUR);
        assert_eq!(hold(Kind::Followup, &sent, &[], 30, NOW), None);
    }

    #[test]
    fn one_error_reply_an_hour_and_other_kinds_are_not_held_by_it() {
        let errors = [NOW - 600];
        assert_eq!(
            hold(Kind::Error, &errors, &errors, 30, NOW),
            Some((Held::ErrorPerHour, NOW - 600 + HOUR))
        );
        assert_eq!(hold(Kind::Notify, &errors, &errors, 30, NOW), None);
        assert_eq!(
            hold(Kind::Error, &[NOW - HOUR], &[NOW - HOUR], 30, NOW),
            None
        );
    }

    #[test]
    fn the_later_of_two_limits_wins_and_a_hold_is_never_in_the_past() {
        let sent = [NOW - 3000, NOW - 100];
        let errors = [NOW - 100];
        // Per recipient (limit 2) until NOW + 600; the error limit until NOW + 3500.
        assert_eq!(
            hold(Kind::Error, &sent, &errors, 2, NOW),
            Some((Held::ErrorPerHour, NOW - 100 + HOUR))
        );
        // A zero limit is read as one: mail still goes, one an hour.
        assert_eq!(hold(Kind::Ack, &[], &[], 0, NOW), None);
        assert_eq!(
            hold(Kind::Ack, &[NOW], &[], 0, NOW),
            Some((Held::PerRecipient, NOW + HOUR))
        );
    }
}
