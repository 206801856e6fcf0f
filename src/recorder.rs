//! The daemon's batch recorder: fetched batches are parsed on one thread and decided, recorded
//! and committed on another, while the IMAP loop fetches the next batch. Three stages on their
//! own cores instead of one after the other; a backlog goes through at the pace of the slowest.
//!
//! Exactly once is unchanged: batches are committed one by one in UID order, each in one
//! transaction with the mailbox's new last UID, by one connection of their own.

use crate::config::After;
use crate::decide::Decision;
use crate::ingest::{self, Outcome, Pipeline};
use crate::store::{sync, Source, Store};
use anyhow::{Context as _, Result};
use chrono::Utc;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{info, info_span};

/// Messages recorded between two checkpoints while a backlog is still coming in (about 5 KB
/// each in the write-ahead log, so the log stays around 100 MB at most). The recorder's
/// connection leaves checkpoints to the IMAP loop, which runs them while the recorder goes
/// on; other connections (the sender, commands) keep SQLite's automatic ones.
pub const CHECKPOINT_EVERY: usize = 20_000;

/// Once the inbox is caught up, a checkpoint is due after this many: housekeeping waits for
/// quiet time, when it delays no task.
pub const CHECKPOINT_IDLE: usize = 1000;

/// Batches fetched and not yet recorded, at most: enough to keep both threads busy while the
/// next one is fetched, without holding more than a few batches' bodies in memory.
pub const QUEUE: usize = 1;

/// One `UID FETCH` batch on its way to the recorder.
#[derive(Debug)]
pub struct Fetched {
    /// Every UID of the batch, in order (oversized ones and ones gone meanwhile included).
    pub uids: Vec<u32>,
    /// `RFC822.SIZE` by UID.
    pub sizes: Vec<(u32, u32)>,
    /// The bodies of the ones small enough to load, sorted by UID.
    pub bodies: Vec<(u32, Vec<u8>)>,
}

impl Fetched {
    /// The last UID of the batch: the mailbox's last UID once it is committed.
    pub fn last(&self) -> Option<u32> {
        self.uids.iter().copied().max()
    }
}

/// A committed batch.
#[derive(Debug)]
pub struct Committed {
    /// The mailbox's last UID now.
    pub last: u32,
    /// The UIDs recorded by this batch (not the ones recorded before), for `imap.after`.
    pub recorded: Vec<u32>,
    /// The batch's parsed messages, freed by whoever receives this: not on the recorder's
    /// thread, the busiest of a backlog.
    pub spent: Vec<Outcome>,
}

/// The recorder of one sync: started on the blocking pool with its own database connection,
/// it records every batch `batches` yields and reports each commit on `committed`. Returns the
/// connection for the next sync, and the first error, after which it records nothing more.
pub fn spawn(
    pipeline: Arc<Pipeline>,
    store: Option<Store>,
    uidvalidity: u32,
    batches: mpsc::Receiver<Fetched>,
    committed: mpsc::UnboundedSender<Committed>,
) -> tokio::task::JoinHandle<(Option<Store>, Result<()>)> {
    tokio::task::spawn_blocking(move || {
        let mut store = match store {
            Some(s) => s,
            None => match open_writer(&pipeline.config) {
                Ok(s) => s,
                Err(e) => return (None, Err(e)),
            },
        };
        let result = run(&pipeline, &mut store, uidvalidity, batches, &committed);
        (Some(store), result)
    })
}

/// The recorder's connection: checkpoints left to the IMAP loop, and commits synced to disk
/// when `imap.after` moves mail out of the mailbox right after them.
pub fn open_writer(config: &crate::config::Config) -> Result<Store> {
    let store = Store::open(&config.daemon.state_dir)?;
    store.no_auto_checkpoint()?;
    store.trust_references()?;
    if matches!(config.imap.after, After::Move(_)) {
        store.durable_commits()?;
    }
    Ok(store)
}

fn run(
    p: &Pipeline,
    store: &mut Store,
    uidvalidity: u32,
    mut batches: mpsc::Receiver<Fetched>,
    committed: &mpsc::UnboundedSender<Committed>,
) -> Result<()> {
    let (parsed_tx, parsed_rx) = std_mpsc::sync_channel::<(Fetched, Vec<ingest::Parsed>)>(0);
    std::thread::scope(|scope| {
        // Parsing is pure: it runs ahead of the recording, one batch at a time.
        scope.spawn(move || {
            while let Some(batch) = batches.blocking_recv() {
                let parsed = batch
                    .bodies
                    .iter()
                    .map(|(_, raw)| ingest::parse_guarded(raw))
                    .collect();
                if parsed_tx.send((batch, parsed)).is_err() {
                    break; // the recorder stopped on an error
                }
            }
        });
        // Deciding and recording stay in UID order, here. Leaving on an error drops the
        // receiver, which stops the parsing thread, which stops the fetching.
        for (batch, parsed) in parsed_rx {
            let (recorded, spent) = record_batch(p, store, uidvalidity, &batch, parsed)?;
            let last = batch.last().unwrap_or_default();
            let c = Committed {
                last,
                recorded,
                spent,
            };
            if committed.send(c).is_err() {
                break; // the IMAP loop is gone
            }
        }
        Ok(())
    })
}

/// Record one fetched batch and the mailbox's new last UID in one transaction. Returns the
/// UIDs recorded now, and their outcomes.
pub fn record_batch(
    p: &Pipeline,
    store: &mut Store,
    uidvalidity: u32,
    batch: &Fetched,
    parsed: Vec<ingest::Parsed>,
) -> Result<(Vec<u32>, Vec<Outcome>)> {
    let Some(batch_last) = batch.last() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mailbox = &p.config.imap.mailbox;
    let max_size = p.config.policy.max_message_size;
    let mut parsed = parsed.into_iter();
    let mut bodies = batch.bodies.iter();
    let now = Utc::now();
    let tx = store.transaction()?;
    let first = batch.uids.iter().copied().min().unwrap_or(batch_last);
    let done = sync::recorded_between(&tx, mailbox, uidvalidity, first, batch_last)?;
    let mut recorded = Vec::with_capacity(batch.uids.len());
    let mut spent = Vec::with_capacity(batch.uids.len());
    for &uid in &batch.uids {
        // Bodies and their parses are in UID order, like `uids`: take this one's, if any
        // (skipping any the server sent unasked).
        while bodies.as_slice().first().is_some_and(|(u, _)| *u < uid) {
            bodies.next();
            parsed.next();
        }
        let body = bodies
            .as_slice()
            .first()
            .filter(|(u, _)| *u == uid)
            .map(|(_, raw)| raw.as_slice());
        let msg = body.map(|raw| {
            bodies.next();
            parsed.next().unwrap_or_else(|| ingest::parse_guarded(raw))
        });
        if done.contains(&uid) {
            continue;
        }
        let source = Source::Imap {
            mailbox: mailbox.clone(),
            uidvalidity,
            uid,
        };
        let size = batch
            .sizes
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, s)| u64::from(*s));
        let outcome = match (size, body, msg) {
            (Some(size), _, _) if size > max_size => {
                let id = format!("oversized.{uidvalidity}.{uid}@musaid.invalid");
                p.process_oversized(&tx, &source, &id, size, now)?
            }
            (_, Some(raw), Some(msg)) => p.process_parsed(&tx, &source, raw, msg, None, now)?,
            // Gone from the server between SEARCH and FETCH (expunged elsewhere).
            _ => continue,
        };
        if p.config.imap.after != After::Keep {
            sync::add_after_pending(&tx, mailbox, uidvalidity, uid)?;
        }
        recorded.push(uid);
        spent.push(outcome);
    }
    sync::set_last_uid(&tx, mailbox, uidvalidity, batch_last, now.timestamp())?;
    tx.commit().context("Cannot commit the batch")?;
    Ok((recorded, spent))
}

/// The log line of a recorded message, in its `message` span (UID and Message-ID): written
/// once its batch is committed, by whoever receives [`Committed`] (not on the recorder's
/// thread, the busiest of a backlog).
pub fn log_outcome(uid: u32, o: &Outcome) {
    let span = info_span!("message", uid, message_id = %o.message_id);
    let _in = span.enter();
    match &o.decision {
        Decision::Ignore { reason } | Decision::Quarantine { reason, .. } => {
            info!(decision = o.decision.kind(), reason = %reason, "recorded")
        }
        d => info!(decision = d.kind(), task = o.task_id, "recorded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(dir: &Path, after: &str) -> crate::config::Config {
        crate::config::test_desk(dir, &format!("after = \"{after}\""))
    }

    fn synchronous(store: &Store) -> i64 {
        store
            .conn()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_writer_syncs_each_commit_only_when_mail_is_moved_after_it() {
        let dir = tempfile::tempdir().unwrap();
        // 2 is FULL (the log synced at each commit), 1 NORMAL.
        assert_eq!(
            synchronous(&open_writer(&config(dir.path(), "move:Done")).unwrap()),
            2
        );
        assert_eq!(
            synchronous(&open_writer(&config(dir.path(), "seen")).unwrap()),
            1
        );
        assert_eq!(
            synchronous(&open_writer(&config(dir.path(), "keep")).unwrap()),
            1
        );
    }
}
