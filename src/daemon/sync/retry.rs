//! What the IMAP loop remembers across sessions of what failed: its reconnect backoff, and
//! the messages that failed to be recorded or fetched, so that one bad message is
//! quarantined after a few tries and blocks nothing, while a fault of musaid's or the
//! network's condemns none.

use crate::logging::Untrusted;
use crate::recorder;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tracing::{error, info};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(180);

/// The reconnect state of the IMAP loop.
pub(super) struct Reconnect {
    /// The next wait before reconnecting, give or take a quarter.
    backoff: Duration,
    /// The error the last session ended with, until a session works again.
    pub(super) failing: Option<String>,
    /// The server's refusal of `imap.after`, until it is applied again (kept across sessions,
    /// so it is logged once).
    pub(super) after_refused: Option<String>,
    /// Messages that failed to record for a reason of their own. Kept across sessions, as
    /// each failure ends one.
    unrecorded: Attempts,
    /// Messages condemned since one was last recorded as usual. Past
    /// [`UNRECORDABLE_IN_A_ROW`] the fault is not theirs (a template, a bug, the database):
    /// nothing more is quarantined, and the mail waits until it can be recorded.
    condemned_in_a_row: u32,
    /// Messages of a batch whose fetch the server refused or broke off, by (UIDVALIDITY,
    /// UID): fetched one at a time until the mailbox is past them, to find the one it will
    /// not send.
    suspect: HashSet<(u32, u32)>,
    /// Messages whose fetch, alone, failed, with the server's last answer.
    unfetched: Attempts,
}

/// Failed attempts at messages, by (UIDVALIDITY, UID): how many, and the last error.
#[derive(Default)]
struct Attempts(HashMap<(u32, u32), (u32, String)>);

impl Attempts {
    /// One more failure of `uid`; how many there are now.
    fn count(&mut self, uidvalidity: u32, uid: u32, error: String) -> u32 {
        let (attempts, last) = self.0.entry((uidvalidity, uid)).or_default();
        *attempts += 1;
        *last = error;
        *attempts
    }

    /// The UIDs of mailbox `uidvalidity` that failed at least `n` times, with their last error.
    fn at_least(&self, uidvalidity: u32, n: u32) -> HashMap<u32, String> {
        self.0
            .iter()
            .filter(|((v, _), (attempts, _))| *v == uidvalidity && *attempts >= n)
            .map(|((_, uid), (_, error))| (*uid, error.clone()))
            .collect()
    }

    /// Keep only the UIDs of mailbox `uidvalidity` above `last`.
    fn keep_after(&mut self, uidvalidity: u32, last: u32) {
        self.0
            .retain(|(v, uid), _| *v == uidvalidity && *uid > last);
    }
}

/// How many times the server may fail to send one message, asked for alone, before it is
/// quarantined without its bytes (it stays on the server).
const FETCH_ATTEMPTS: u32 = 3;

/// How many messages in a row may be quarantined as unrecordable, with none recorded between
/// them, before musaid takes the fault for its own and stops quarantining.
const UNRECORDABLE_IN_A_ROW: u32 = 3;

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            backoff: BACKOFF_MIN,
            failing: None,
            after_refused: None,
            unrecorded: Attempts::default(),
            condemned_in_a_row: 0,
            suspect: HashSet::new(),
            unfetched: Attempts::default(),
        }
    }
}

impl Reconnect {
    /// A session has connected and synced. A working session only ever ends in an error or a
    /// shutdown, so this is called from inside it: were it left to the session's return, the
    /// backoff would never shrink again (every later outage would start at the longest
    /// wait) and "restored" would never be logged.
    pub(super) fn connected(&mut self) {
        if self.failing.take().is_some() {
            info!("IMAP connection restored");
        }
        self.backoff = BACKOFF_MIN;
    }

    /// How long to wait before the next try, after a failed session: the backoff, give or
    /// take a quarter (so that many daemons do not retry in step), doubled for the next time
    /// up to [`BACKOFF_MAX`].
    pub(super) fn next_wait(&mut self) -> Duration {
        let wait = jitter(self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        wait
    }

    /// Count a message's failed attempt at being recorded, when `e` is one
    /// ([`recorder::MessageFailed`]); after [`recorder::RECORD_ATTEMPTS`], the next sync
    /// quarantines it.
    pub(super) fn record_failed(&mut self, uidvalidity: u32, e: &anyhow::Error) {
        let Some(f) = e.downcast_ref::<recorder::MessageFailed>() else {
            return;
        };
        if f.after_others {
            self.condemned_in_a_row = 0;
        }
        let attempts = self.unrecorded.count(uidvalidity, f.uid, f.detail.clone());
        if attempts != recorder::RECORD_ATTEMPTS {
            return;
        }
        self.condemned_in_a_row += 1;
        if self.condemned_in_a_row <= UNRECORDABLE_IN_A_ROW {
            error!(
                uid = f.uid,
                message_id = %Untrusted(&f.message_id),
                attempts,
                error = %Untrusted(&f.detail),
                "a message cannot be recorded; it is quarantined with its bytes at the next try"
            );
        } else {
            error!(
                uid = f.uid,
                message_id = %Untrusted(&f.message_id),
                error = %Untrusted(&f.detail),
                "{} messages in a row cannot be recorded, and none between them could: the \
                 fault is not theirs (a template, the configuration, a bug); nothing more is \
                 quarantined, and the mail waits until it can be recorded",
                self.condemned_in_a_row
            );
        }
    }

    /// A batch was committed: one recorded as usual ends a run of unrecordable ones.
    pub(super) fn committed(&mut self, c: &recorder::Committed) {
        if c.normal > 0 {
            self.condemned_in_a_row = 0;
        }
    }

    /// The UIDs of mailbox `uidvalidity` to quarantine rather than record: none once too many
    /// in a row could not be recorded.
    pub(super) fn condemned(&self, uidvalidity: u32) -> recorder::Condemned {
        if self.condemned_in_a_row > UNRECORDABLE_IN_A_ROW {
            return recorder::Condemned::new();
        }
        self.unrecorded
            .at_least(uidvalidity, recorder::RECORD_ATTEMPTS)
    }

    /// Forget the failures of messages now recorded (the mailbox is synced up to `last`).
    pub(super) fn synced(&mut self, uidvalidity: u32, last: u32) {
        self.unrecorded.keep_after(uidvalidity, last);
        self.unfetched.keep_after(uidvalidity, last);
        self.suspect
            .retain(|(v, uid)| *v == uidvalidity && *uid > last);
    }

    /// A body fetch of `loaded` failed with `e`: the server refused it, broke it off or went
    /// silent in it, perhaps because of one of them. A batch's messages are then fetched one
    /// at a time, and a message alone is counted towards [`FETCH_ATTEMPTS`]. Timeouts count
    /// too: a server that hangs on one message would otherwise hold up the mail after it for
    /// good, while a network outage seldom strikes the same lone message three times (and a
    /// large message arriving slowly is not a timeout: only silence is).
    pub(super) fn fetch_failed(&mut self, uidvalidity: u32, loaded: &[u32], e: &anyhow::Error) {
        let [uid] = loaded else {
            self.suspect
                .extend(loaded.iter().map(|&uid| (uidvalidity, uid)));
            return;
        };
        let error = format!("{e:#}");
        let attempts = self.unfetched.count(uidvalidity, *uid, error.clone());
        if attempts == FETCH_ATTEMPTS {
            error!(
                uid,
                attempts,
                error = %Untrusted(&error),
                "the server will not send a message; it is quarantined without its bytes at \
                 the next try, and stays on the server"
            );
        }
    }

    /// Whether `uid` is to be fetched alone.
    pub(super) fn one_at_a_time(&self, uidvalidity: u32, uid: u32) -> bool {
        self.suspect.contains(&(uidvalidity, uid))
    }

    /// The UIDs of mailbox `uidvalidity` the server would not send, with its last answer.
    pub(super) fn unfetchable(&self, uidvalidity: u32) -> HashMap<u32, String> {
        self.unfetched.at_least(uidvalidity, FETCH_ATTEMPTS)
    }
}

fn jitter(d: Duration) -> Duration {
    let f: f64 = rand::random_range(0.75..1.25);
    d.mul_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uid` fails to record `times` times (each a rolled-back batch), as the recorder reports.
    fn fails(retry: &mut Reconnect, uid: u32, after_others: bool, times: u32) {
        for _ in 0..times {
            let e = anyhow::Error::new(recorder::MessageFailed {
                uid,
                message_id: format!("m{uid}@example.test"),
                detail: "refused".into(),
                after_others,
            });
            retry.record_failed(9, &e);
        }
    }

    /// A batch committed with `normal` messages recorded as usual.
    fn commits(retry: &mut Reconnect, last: u32, normal: usize) {
        retry.committed(&recorder::Committed {
            last,
            recorded: vec![last],
            spent: Vec::new(),
            normal,
        });
        retry.synced(9, last);
    }

    fn condemned(retry: &Reconnect) -> Vec<u32> {
        let mut uids: Vec<u32> = retry.condemned(9).into_keys().collect();
        uids.sort_unstable();
        uids
    }

    #[test]
    fn a_message_is_quarantined_after_three_failed_attempts_and_forgotten_once_recorded() {
        let mut retry = Reconnect::default();
        fails(&mut retry, 5, false, 2);
        assert!(condemned(&retry).is_empty(), "two failures are not enough");
        fails(&mut retry, 5, false, 1);
        assert_eq!(condemned(&retry), [5]);
        assert!(
            retry.condemned(10).is_empty(),
            "another UIDVALIDITY is another mailbox"
        );
        commits(&mut retry, 5, 0);
        assert!(condemned(&retry).is_empty());
    }

    #[test]
    fn many_unrecordable_in_a_row_are_musaids_fault_and_quarantine_nothing_more() {
        let mut retry = Reconnect::default();
        // Live mail one message at a time, every one refused (a broken template, say).
        for uid in 1..=3 {
            fails(&mut retry, uid, false, 3);
            assert_eq!(condemned(&retry), [uid]);
            commits(&mut retry, uid, 0);
        }
        fails(&mut retry, 4, false, 3);
        assert!(condemned(&retry).is_empty(), "the fourth in a row waits");
        fails(&mut retry, 4, false, 5);
        assert!(condemned(&retry).is_empty(), "and keeps waiting");
        // Fixed (a reload): it records as usual, and a later poison is quarantined again.
        commits(&mut retry, 4, 1);
        fails(&mut retry, 5, false, 3);
        assert_eq!(condemned(&retry), [5]);
    }

    #[test]
    fn poison_messages_among_recorded_ones_are_each_their_own_fault() {
        let mut retry = Reconnect::default();
        // Five poisoned messages in one batch of good ones: each fails after others recorded.
        for uid in [10, 20, 30, 40, 50] {
            fails(&mut retry, uid, true, 3);
        }
        assert_eq!(condemned(&retry), [10, 20, 30, 40, 50]);
    }

    #[test]
    fn a_failed_batch_is_fetched_one_at_a_time_and_a_message_given_up_on_after_three() {
        let mut retry = Reconnect::default();
        let bye = anyhow::anyhow!("UID FETCH 4:6: the server closed the connection (BYE)");
        retry.fetch_failed(9, &[4, 5, 6], &bye);
        assert!([4, 5, 6].iter().all(|&u| retry.one_at_a_time(9, u)));
        assert!(!retry.one_at_a_time(9, 7) && !retry.one_at_a_time(10, 5));
        assert!(
            retry.unfetchable(9).is_empty(),
            "a batch's failure blames none of them"
        );
        for n in 1..=3 {
            assert!(retry.unfetchable(9).is_empty(), "not after {} tries", n - 1);
            retry.fetch_failed(9, &[5], &bye);
        }
        let gave_up = retry.unfetchable(9);
        assert_eq!(gave_up.keys().copied().collect::<Vec<_>>(), [5]);
        assert!(gave_up.get(&5).is_some_and(|e| e.contains("BYE")));
        // Once the mailbox is past them, all is forgotten.
        retry.synced(9, 6);
        assert!(!retry.one_at_a_time(9, 6) && retry.unfetchable(9).is_empty());
    }
}
