//! Poison mail that kills the process: the UIDs being parsed and recorded are written down
//! before they are (the `in_flight` table), so a process that dies leaves its range behind.
//! The next start takes the UIDs of such a range one at a time, each written down alone
//! first, and a message that was being processed when the process died
//! [`CRASHES`] times is quarantined (`crashed`) instead of being tried again.
//!
//! The cost on the hot path is one row per sync, moved on in each batch's own transaction: a
//! range covers the next two batches' worth of UIDs (the one being recorded and the one being
//! parsed ahead of it), never one row per message.

use crate::imap::FETCH_BATCH;
use crate::store::Store;
use anyhow::{Context as _, Result};
use rusqlite::{params, Connection};

/// How many deaths of the process while a message was being processed quarantine it.
pub const CRASHES: u32 = 3;

/// How many of the sync's UIDs after the last committed one may be in the recorder's hands:
/// the batch being recorded and the one being parsed meanwhile (the fetched ones waiting in
/// the queue are not processed yet).
const AHEAD: usize = 2 * FETCH_BATCH;

/// A range of UIDs a process started on and did not finish: it died in it (a row of the
/// running process is its own, and not among these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: u32,
    pub last: u32,
    /// How many times a process started on it (each of them died).
    pub starts: u32,
}

/// The ranges left by processes that died, for one mailbox: which UIDs are suspect, and how
/// many deaths each one is to blame for.
#[derive(Debug, Clone, Default)]
pub struct Left(Vec<Range>);

impl Left {
    pub fn new(ranges: Vec<Range>) -> Left {
        Left(ranges)
    }

    /// Whether `uid` was in the hands of a process that died: it is processed alone.
    pub fn suspect(&self, uid: u32) -> bool {
        self.0.iter().any(|r| r.first <= uid && uid <= r.last)
    }

    /// How many deaths `uid` is to blame for: those while it was processed alone, and one for
    /// all the deaths while it was processed among others (any of them may have been the one).
    pub fn deaths(&self, uid: u32) -> u32 {
        let alone: u32 = self
            .0
            .iter()
            .filter(|r| r.first == uid && r.last == uid)
            .map(|r| r.starts)
            .sum();
        let among = self
            .0
            .iter()
            .any(|r| r.first <= uid && uid <= r.last && r.first != r.last);
        alone + u32::from(among)
    }
}

/// The UIDs of `uids` (ascending) that may be in the recorder's hands once everything up to
/// `done` is committed; `None` when none is left.
pub fn window(uids: &[u32], done: Option<u32>) -> Option<(u32, u32)> {
    let start = done.map_or(0, |d| uids.partition_point(|u| *u <= d));
    let first = *uids.get(start)?;
    let end = start
        .saturating_add(AHEAD)
        .min(uids.len())
        .saturating_sub(1);
    Some((first, *uids.get(end)?))
}

/// One sync's watch over its mailbox: the ranges left by dead processes, and its own row.
#[derive(Debug, Default)]
pub struct Watch {
    mailbox: String,
    uidvalidity: u32,
    uids: Vec<u32>,
    pub left: Left,
    /// Its own row, while it has UIDs in hand.
    own: Option<i64>,
}

impl Watch {
    /// Before a sync of `uids` (ascending) processes any of them: read what dead processes
    /// left for this mailbox (forgetting other UIDVALIDITYs' rows) and write its own row,
    /// in one transaction.
    pub fn begin(
        store: &mut Store,
        mailbox: &str,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<Watch> {
        let tx = store.transaction()?;
        tx.execute(
            "DELETE FROM in_flight WHERE mailbox = ?1 AND uidvalidity <> ?2",
            params![mailbox, uidvalidity],
        )?;
        let ranges = {
            let mut stmt = tx.prepare(
                "SELECT first_uid, last_uid, starts FROM in_flight \
                 WHERE mailbox = ?1 AND uidvalidity = ?2",
            )?;
            let rows = stmt.query_map(params![mailbox, uidvalidity], |r| {
                Ok(Range {
                    first: r.get(0)?,
                    last: r.get(1)?,
                    starts: r.get(2)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let own = match window(&uids, None) {
            Some((first, last)) => {
                tx.execute(
                    "INSERT INTO in_flight (mailbox, uidvalidity, first_uid, last_uid, starts) \
                     VALUES (?1, ?2, ?3, ?4, 1)",
                    params![mailbox, uidvalidity, first, last],
                )?;
                Some(tx.last_insert_rowid())
            }
            None => None,
        };
        tx.commit()
            .context("Cannot write down the messages about to be processed")?;
        if let (Some(first), Some(last)) = (
            ranges.iter().map(|r| r.first).min(),
            ranges.iter().map(|r| r.last).max(),
        ) {
            tracing::warn!(
                mailbox,
                first_uid = first,
                last_uid = last,
                "the process died while processing messages; they are taken one at a time, \
                 and one it died on three times is quarantined (crashed)"
            );
        }
        Ok(Watch {
            mailbox: mailbox.to_string(),
            uidvalidity,
            uids,
            left: Left::new(ranges),
            own,
        })
    }

    /// In the transaction that commits everything up to `done`: move its own row on, and
    /// forget the dead processes' ranges now behind (recorded or quarantined).
    pub fn committed(&mut self, conn: &Connection, done: u32) -> Result<()> {
        if let Some(id) = self.own {
            match window(&self.uids, Some(done)) {
                Some((first, last)) => conn
                    .prepare_cached(
                        "UPDATE in_flight SET first_uid = ?2, last_uid = ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, first, last])?,
                None => {
                    self.own = None;
                    conn.prepare_cached("DELETE FROM in_flight WHERE id = ?1")?
                        .execute(params![id])?
                }
            };
        }
        conn.prepare_cached(
            "DELETE FROM in_flight WHERE mailbox = ?1 AND uidvalidity = ?2 AND last_uid <= ?3 \
             AND id IS NOT ?4",
        )?
        .execute(params![self.mailbox, self.uidvalidity, done, self.own])?;
        Ok(())
    }

    /// Before a suspect `uid` is parsed and recorded alone: one more start on it, committed.
    pub fn start_alone(&self, conn: &Connection, uid: u32) -> Result<()> {
        let bumped = conn.execute(
            "UPDATE in_flight SET starts = starts + 1 WHERE mailbox = ?1 AND uidvalidity = ?2 \
             AND first_uid = ?3 AND last_uid = ?3",
            params![self.mailbox, self.uidvalidity, uid],
        )?;
        if bumped == 0 {
            conn.execute(
                "INSERT INTO in_flight (mailbox, uidvalidity, first_uid, last_uid, starts) \
                 VALUES (?1, ?2, ?3, ?3, 1)",
                params![self.mailbox, self.uidvalidity, uid],
            )?;
        }
        Ok(())
    }

    /// A suspect `uid` failed alone without the process dying: that start was no death.
    pub fn failed_alone(&self, conn: &Connection, uid: u32) -> Result<()> {
        conn.execute(
            "UPDATE in_flight SET starts = starts - 1 WHERE mailbox = ?1 AND uidvalidity = ?2 \
             AND first_uid = ?3 AND last_uid = ?3",
            params![self.mailbox, self.uidvalidity, uid],
        )?;
        conn.execute(
            "DELETE FROM in_flight WHERE mailbox = ?1 AND uidvalidity = ?2 AND first_uid = ?3 \
             AND last_uid = ?3 AND starts <= 0",
            params![self.mailbox, self.uidvalidity, uid],
        )?;
        Ok(())
    }

    /// The sync ended without the process dying (done, or stopped on an error): its own row
    /// goes.
    pub fn end(&mut self, conn: &Connection) -> Result<()> {
        if let Some(id) = self.own.take() {
            conn.execute("DELETE FROM in_flight WHERE id = ?1", params![id])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u32, last: u32, starts: u32) -> Range {
        Range {
            first,
            last,
            starts,
        }
    }

    #[test]
    fn deaths_among_others_count_once_and_deaths_alone_each() {
        // Died once in a batch of 1..=400, then twice on 7 alone.
        let left = Left::new(vec![range(1, 400, 1), range(7, 7, 2), range(380, 800, 1)]);
        assert!(left.suspect(1) && left.suspect(7) && left.suspect(800));
        assert!(!left.suspect(801));
        assert_eq!(left.deaths(7), 3);
        assert_eq!(left.deaths(8), 1, "in the batch, and never alone");
        assert_eq!(left.deaths(390), 1, "two batches are still one");
        assert_eq!(left.deaths(900), 0);
    }

    #[test]
    fn the_window_covers_the_two_batches_after_the_last_committed() {
        let uids: Vec<u32> = (1..=1000).map(|u| u * 2).collect();
        assert_eq!(window(&uids, None), Some((2, 800)));
        assert_eq!(window(&uids, Some(200)), Some((202, 1000)));
        assert_eq!(window(&uids, Some(201)), Some((202, 1000)));
        assert_eq!(window(&uids, Some(1990)), Some((1992, 2000)));
        assert_eq!(window(&uids, Some(2000)), None);
        assert_eq!(window(&[], None), None);
    }
}
