//! The daemon's batch recorder: fetched batches are parsed on one thread and decided, recorded
//! and committed on another, while the IMAP loop fetches the next batch. Three stages on their
//! own cores instead of one after the other; a backlog goes through at the pace of the slowest.
//!
//! Exactly once is unchanged: batches are committed one by one in UID order, each in one
//! transaction with the mailbox's new last UID, by one connection of their own.
//!
//! What is in the recorder's hands is written down before it is processed
//! (`recorder/in_flight.rs`): after the process died, the UIDs it held are taken one at a
//! time, and a message the process died on three times is quarantined as `crashed`.

mod in_flight;

use crate::config::After;
use crate::decide::Decision;
use crate::imap::FetchedMail;
use crate::ingest::{self, Outcome, Pipeline};
use crate::logging::Untrusted;
use crate::store::{sync, Source, Store};
use anyhow::{Context as _, Result};
use chrono::Utc;
use in_flight::Watch;
use std::panic::{catch_unwind, AssertUnwindSafe};
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

/// How many times a message may fail to be recorded, for a reason of its own, before it is
/// quarantined instead (docs/security.md#quarantine: quarantined mail is never retried in a loop). Each failure
/// rolls its batch back and the IMAP loop tries again after its reconnect backoff (1 s, then
/// 2 s), so a database that was briefly unwell does not quarantine a good request.
pub const RECORD_ATTEMPTS: u32 = 3;

/// A message whose recording failed for a reason of its own (a constraint, a bug), not the
/// database's ([`crate::store::is_database_failure`]): its batch is rolled back, and the
/// error names it, so the IMAP loop can count its attempts.
#[derive(Debug, thiserror::Error)]
#[error("Cannot record message UID {uid} <{message_id}>: {detail}")]
pub struct MessageFailed {
    pub uid: u32,
    pub message_id: String,
    pub detail: String,
    /// Whether a message before it in the same batch was recorded as usual: then recording
    /// works, and this failure is this message's own.
    pub after_others: bool,
}

/// UIDs of the mailbox to quarantine rather than record, with the error they failed with
/// [`RECORD_ATTEMPTS`] times.
pub type Condemned = std::collections::HashMap<u32, String>;

/// What one sync records into.
#[derive(Debug, Clone, Default)]
pub struct Sync {
    pub uidvalidity: u32,
    /// The UIDs to quarantine rather than record.
    pub condemned: Condemned,
    /// Set when this is a re-read after a UIDVALIDITY change.
    pub reread: Option<Reread>,
}

impl Sync {
    /// A sync of a mailbox at `uidvalidity`, nothing condemned, no re-read.
    pub fn plain(uidvalidity: u32) -> Sync {
        Sync {
            uidvalidity,
            ..Sync::default()
        }
    }
}

/// What a re-read after a UIDVALIDITY change leaves alone, unrecorded: a message whose
/// Message-ID is recorded already, and one that arrived (IMAP INTERNALDATE) before `before`
/// (the first start under `first_sync = "new"`, the date under `first_sync = "DATE"`).
#[derive(Debug, Clone, Default)]
pub struct Reread {
    pub before: Option<chrono::DateTime<Utc>>,
}

impl Reread {
    /// Whether `mail` (parsed as `msg`) is left alone.
    fn skips(
        &self,
        tx: &rusqlite::Transaction<'_>,
        mail: &FetchedMail,
        msg: Option<&ingest::Parsed>,
    ) -> Result<bool> {
        if let (Some(before), Some(arrived)) = (self.before, mail.internal_date) {
            if arrived < before {
                return Ok(true);
            }
        }
        match msg {
            Some(Ok(m)) => sync::message_id_known(tx, &m.message_id),
            _ => Ok(false),
        }
    }
}

/// One `UID FETCH` batch on its way to the recorder.
#[derive(Debug)]
pub struct Fetched {
    /// Every UID of the batch, in order (oversized ones and ones gone meanwhile included).
    pub uids: Vec<u32>,
    /// `RFC822.SIZE` by UID.
    pub sizes: Vec<(u32, u32)>,
    /// The ones small enough to load, with their bytes and arrival times, sorted by UID.
    pub bodies: Vec<FetchedMail>,
    /// The ones the server would not send, try after try, with its last answer: quarantined
    /// without their bytes.
    pub unfetchable: Vec<(u32, String)>,
    /// The first bytes of the header of those not loaded (oversized, unfetchable), when the
    /// server sent them: who is told the message was not read.
    pub headers: Vec<FetchedMail>,
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
    /// How many of them were decided and recorded as usual (not quarantined as unrecordable,
    /// unfetchable or oversized): proof that recording works.
    pub normal: usize,
}

/// The recorder of one sync: started on the blocking pool with its own database connection,
/// it records every batch `batches` yields and reports each commit on `committed`. Returns the
/// connection for the next sync, and the first error, after which it records nothing more.
pub fn spawn(
    pipeline: Arc<Pipeline>,
    store: Option<Store>,
    sync: Sync,
    uids: Vec<u32>,
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
        let mut watch = match Watch::begin(
            &mut store,
            &pipeline.config.imap.mailbox,
            sync.uidvalidity,
            uids,
        ) {
            Ok(w) => w,
            Err(e) => return (Some(store), Err(e)),
        };
        let result = run(
            &pipeline, &mut store, &sync, &mut watch, batches, &committed,
        );
        // Done or stopped on an error, the process did not die in what it held.
        let ended = watch.end(store.conn());
        (Some(store), result.and(ended))
    })
}

/// The recorder's connection: checkpoints left to the IMAP loop, no checks of what it writes
/// itself ([`Store::trust_own_writes`]), and commits synced to disk when `imap.after` moves
/// mail out of the mailbox right after them.
pub fn open_writer(config: &crate::config::Config) -> Result<Store> {
    let store = Store::open(&config.daemon.state_dir)?;
    store.no_auto_checkpoint()?;
    store.trust_own_writes()?;
    if matches!(config.imap.after, After::Move(_)) {
        store.durable_commits()?;
    }
    Ok(store)
}

fn run(
    p: &Pipeline,
    store: &mut Store,
    sync: &Sync,
    watch: &mut Watch,
    mut batches: mpsc::Receiver<Fetched>,
    committed: &mpsc::UnboundedSender<Committed>,
) -> Result<()> {
    let (parsed_tx, parsed_rx) =
        std_mpsc::sync_channel::<(Fetched, Vec<Option<ingest::Parsed>>)>(0);
    let left = watch.left.clone();
    std::thread::scope(|scope| {
        // Parsing is pure: it runs ahead of the recording, one batch at a time. A message a
        // dead process held is parsed later, alone, once that is written down.
        scope.spawn(move || {
            while let Some(batch) = batches.blocking_recv() {
                let parsed = batch
                    .bodies
                    .iter()
                    .map(|m| (!left.suspect(m.uid)).then(|| ingest::parse_guarded(&m.raw)))
                    .collect();
                if parsed_tx.send((batch, parsed)).is_err() {
                    break; // the recorder stopped on an error
                }
            }
        });
        // Deciding and recording stay in UID order, here. Leaving on an error drops the
        // receiver, which stops the parsing thread, which stops the fetching.
        for (batch, parsed) in parsed_rx {
            let c = record_batch(p, store, sync, watch, &batch, parsed)?;
            if committed.send(c).is_err() {
                break; // the IMAP loop is gone
            }
        }
        Ok(())
    })
}

/// Record one fetched batch and the mailbox's new last UID in one transaction. A message that
/// fails to record rolls the batch back with a [`MessageFailed`]; one of `condemned` is
/// quarantined instead. A message a dead process held (`parsed` has no parse of it) is
/// parsed and recorded alone, after what comes before it is committed and its start is
/// written down; one the process died on three times is quarantined.
pub fn record_batch(
    p: &Pipeline,
    store: &mut Store,
    sync_of: &Sync,
    watch: &mut Watch,
    batch: &Fetched,
    parsed: Vec<Option<ingest::Parsed>>,
) -> Result<Committed> {
    let Some(batch_last) = batch.last() else {
        return Ok(Committed {
            last: 0,
            recorded: Vec::new(),
            spent: Vec::new(),
            normal: 0,
        });
    };
    let (uidvalidity, condemned) = (sync_of.uidvalidity, &sync_of.condemned);
    let mailbox = &p.config.imap.mailbox;
    let max_size = p.config.policy.max_message_size;
    let mut parsed = parsed.into_iter();
    let mut bodies = batch.bodies.iter();
    let now = Utc::now();
    let mut tx = store.transaction()?;
    let first = batch.uids.iter().copied().min().unwrap_or(batch_last);
    let done = sync::recorded_between(&tx, mailbox, uidvalidity, first, batch_last)?;
    let mut recorded = Vec::with_capacity(batch.uids.len());
    let mut spent = Vec::with_capacity(batch.uids.len());
    let mut normal = 0;
    let mut previous = None;
    // Files staged by the messages recorded so far, settled before each commit.
    let files = crate::store::attachments::Files::new(&p.config.daemon.state_dir);
    let mut staged = Vec::new();
    for &uid in &batch.uids {
        let before = previous.replace(uid);
        // Bodies and their parses are in UID order, like `uids`: take this one's, if any
        // (skipping any the server sent unasked).
        while bodies.as_slice().first().is_some_and(|m| m.uid < uid) {
            bodies.next();
            parsed.next();
        }
        let mail = bodies.as_slice().first().filter(|m| m.uid == uid);
        let msg = mail.map(|_| {
            bodies.next();
            parsed.next().flatten()
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
        let unfetchable = batch.unfetchable.iter().find(|(u, _)| *u == uid);
        let header = batch.headers.iter().find(|h| h.uid == uid);
        let unloaded = |message_id| ingest::Unloaded {
            message_id,
            size,
            header: header.map(|h| h.raw.as_slice()),
            arrived: header.and_then(|h| h.internal_date),
        };
        let mut outcome = match (size, mail, msg, unfetchable) {
            (_, None, _, Some((_, error))) => {
                let id = format!("unfetchable.{uidvalidity}.{uid}@musaid.invalid");
                p.process_unfetchable(&tx, &source, &unloaded(&id), error, now)?
            }
            (Some(size), _, _, _) if size > max_size => {
                let id = format!("oversized.{uidvalidity}.{uid}@musaid.invalid");
                p.process_oversized(&tx, &source, &unloaded(&id), now)?
            }
            (_, Some(mail), Some(msg), _) => {
                if let Some(reread) = &sync_of.reread {
                    if reread.skips(&tx, mail, msg.as_ref())? {
                        continue;
                    }
                }
                let deaths = watch.left.deaths(uid);
                if let Some(error) = condemned.get(&uid) {
                    let msg = msg.unwrap_or_else(|| ingest::parse_guarded(&mail.raw));
                    p.process_unrecordable(&tx, &source, &mail.raw, msg, error, now)?
                } else if deaths >= in_flight::CRASHES {
                    p.process_crashed(&tx, &source, &mail.raw, deaths, now)?
                } else {
                    let alone = msg.is_none();
                    let msg = match msg {
                        Some(msg) => msg,
                        None => {
                            // Held by a dead process: commit what comes before it, write down
                            // its start, then parse and record it.
                            if let Some(before) = before {
                                sync::set_last_uid(
                                    &tx,
                                    mailbox,
                                    uidvalidity,
                                    before,
                                    now.timestamp(),
                                )?;
                                watch.committed(&tx, before)?;
                            }
                            files.settle(&std::mem::take(&mut staged))?;
                            tx.commit().context("Cannot commit the batch")?;
                            watch.start_alone(store.conn(), uid)?;
                            tx = store.transaction()?;
                            ingest::parse_guarded(&mail.raw)
                        }
                    };
                    match attempt(p, &tx, &source, mail, msg, now) {
                        Ok(outcome) => {
                            normal += 1;
                            outcome
                        }
                        Err(mut e) => {
                            if let Some(f) = e.downcast_mut::<MessageFailed>() {
                                f.after_others = normal > 0;
                            }
                            drop(tx);
                            if alone {
                                watch.failed_alone(store.conn(), uid)?;
                            }
                            return Err(e);
                        }
                    }
                }
            }
            // Gone from the server between SEARCH and FETCH (expunged elsewhere).
            _ => continue,
        };
        if p.config.imap.after != After::Keep {
            sync::add_after_pending(&tx, mailbox, uidvalidity, uid)?;
        }
        recorded.push(uid);
        staged.append(&mut outcome.staged);
        spent.push(outcome);
    }
    sync::set_last_uid(&tx, mailbox, uidvalidity, batch_last, now.timestamp())?;
    // The batch's new files are synced and named, once for all, before the rows that name
    // them commit.
    files.settle(&staged)?;
    watch.committed(&tx, batch_last)?;
    tx.commit().context("Cannot commit the batch")?;
    Ok(Committed {
        last: batch_last,
        recorded,
        spent,
        normal,
    })
}

/// Decide and record one message (its bytes, and when it reached the mailbox if the server
/// said), telling the database's failures (returned as they are: every message would meet
/// them) from the message's own, panics included (a [`MessageFailed`]).
fn attempt(
    p: &Pipeline,
    tx: &rusqlite::Transaction<'_>,
    source: &Source,
    mail: &FetchedMail,
    msg: ingest::Parsed,
    now: chrono::DateTime<Utc>,
) -> Result<Outcome> {
    let (uid, raw) = (mail.uid, mail.raw.as_slice());
    let detail = match catch_unwind(AssertUnwindSafe(|| {
        p.process_parsed(tx, source, raw, msg, mail.internal_date, now)
    })) {
        Ok(Ok(outcome)) => return Ok(outcome),
        Ok(Err(e)) if crate::store::is_database_failure(&e) => return Err(e),
        Ok(Err(e)) => format!("{e:#}"),
        Err(_) => "recording it failed (a panic)".to_string(),
    };
    // Rare: parse again for the Message-ID (the parse went into the attempt).
    let message_id = match ingest::parse_guarded(raw) {
        Ok(m) => m.message_id,
        Err(_) => ingest::derived_message_id(raw),
    };
    Err(MessageFailed {
        uid,
        message_id,
        detail,
        after_others: false,
    }
    .into())
}

/// The log line of a recorded message, in its `message` span (UID and Message-ID): written
/// once its batch is committed, by whoever receives [`Committed`] (not on the recorder's
/// thread, the busiest of a backlog).
pub fn log_outcome(uid: u32, o: &Outcome) {
    let span = info_span!("message", uid, message_id = %Untrusted(&o.message_id));
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

    fn request(n: u32, subject: &str) -> FetchedMail {
        request_with(n, subject, "Please see to it.")
    }

    fn request_with(n: u32, subject: &str, body: &str) -> FetchedMail {
        let raw = format!(
            "From: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\nSubject: {subject}\r\n\
             Message-ID: <r{n}@acme.example>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0300\r\n\r\n\
             {body}\r\n"
        );
        FetchedMail {
            uid: n,
            internal_date: Some(Utc::now()),
            raw: raw.into_bytes(),
        }
    }

    /// A desk whose database refuses, as a real constraint would, any task whose subject
    /// holds "poison"; and a batch of three requests, the second of them poisoned.
    fn poisoned_desk(dir: &Path) -> (Pipeline, Store, Fetched) {
        let config = config(dir, "keep");
        let store = open_writer(&config).unwrap();
        store
            .conn()
            .execute_batch(
                "CREATE TRIGGER poison BEFORE INSERT ON tasks WHEN NEW.subject LIKE '%poison%' \
                 BEGIN SELECT RAISE(ABORT, 'this task is refused'); END;",
            )
            .unwrap();
        let rules = crate::rules::RuleSet::from_files::<&str, &str>(&[]).unwrap();
        let p = Pipeline::new(config, rules).unwrap();
        let bodies = vec![
            request(1, "Book a flight"),
            request(2, "The poison pill"),
            request(3, "Pay the invoice"),
        ];
        let batch = Fetched {
            uids: vec![1, 2, 3],
            sizes: bodies.iter().map(|m| (m.uid, m.raw.len() as u32)).collect(),
            bodies,
            unfetchable: Vec::new(),
            headers: Vec::new(),
        };
        (p, store, batch)
    }

    fn parse(batch: &Fetched) -> Vec<Option<ingest::Parsed>> {
        batch
            .bodies
            .iter()
            .map(|m| Some(ingest::parse_guarded(&m.raw)))
            .collect()
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_message_that_fails_to_record_is_named_and_its_batch_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store, batch) = poisoned_desk(dir.path());
        let e = record_batch(
            &p,
            &mut store,
            &Sync::plain(7),
            &mut Watch::default(),
            &batch,
            parse(&batch),
        )
        .unwrap_err();
        let failed = e.downcast_ref::<MessageFailed>().expect("a MessageFailed");
        assert_eq!(failed.uid, 2);
        assert_eq!(failed.message_id, "r2@acme.example");
        assert!(
            failed.after_others,
            "the first request was recorded before it"
        );
        assert!(
            failed.detail.contains("this task is refused"),
            "{}",
            failed.detail
        );
        assert_eq!(count(&store, "SELECT count(*) FROM messages"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM tasks"), 0);
        assert_eq!(sync::last_uid(store.conn(), "INBOX", 7).unwrap(), None);
    }

    #[test]
    fn a_condemned_message_is_quarantined_with_its_bytes_and_the_rest_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store, batch) = poisoned_desk(dir.path());
        let condemned = Condemned::from([(2, "this task is refused".to_string())]);
        let c = record_batch(
            &p,
            &mut store,
            &Sync {
                condemned,
                ..Sync::plain(7)
            },
            &mut Watch::default(),
            &batch,
            parse(&batch),
        )
        .unwrap();
        assert_eq!(c.recorded, vec![1, 2, 3]);
        assert_eq!((c.last, c.normal), (3, 2));
        let kinds: Vec<&str> = c.spent.iter().map(|o| o.decision.kind()).collect();
        assert_eq!(kinds, ["create_task", "quarantine", "create_task"]);
        assert_eq!(count(&store, "SELECT count(*) FROM tasks"), 2);
        let (sender, subject, detail, raw): (String, String, String, Vec<u8>) = store
            .conn()
            .query_row(
                "SELECT m.sender, m.subject, q.detail, q.raw FROM quarantine q \
                 JOIN messages m ON m.id = q.message_row WHERE m.uid = 2 AND q.reason = 'unparseable'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(sender, "boss@acme.example");
        assert_eq!(subject, "The poison pill");
        assert_eq!(detail, "could not be recorded: this task is refused");
        assert_eq!(Some(&raw), batch.bodies.get(1).map(|m| &m.raw));
        assert_eq!(sync::last_uid(store.conn(), "INBOX", 7).unwrap(), Some(3));
    }

    #[test]
    fn a_message_the_server_would_not_send_is_quarantined_without_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store, mut batch) = poisoned_desk(dir.path());
        batch.bodies.retain(|m| m.uid != 2);
        batch.unfetchable = vec![(2, "BYE FETCH failed: Internal error".to_string())];
        let c = record_batch(
            &p,
            &mut store,
            &Sync::plain(7),
            &mut Watch::default(),
            &batch,
            parse(&batch),
        )
        .unwrap();
        let kinds: Vec<&str> = c.spent.iter().map(|o| o.decision.kind()).collect();
        assert_eq!(kinds, ["create_task", "quarantine", "create_task"]);
        let (detail, raw): (String, Option<Vec<u8>>) = store
            .conn()
            .query_row(
                "SELECT q.detail, q.raw FROM quarantine q JOIN messages m ON m.id = q.message_row \
                 WHERE m.uid = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            detail,
            "the server would not send it (it is still there): BYE FETCH failed: Internal error"
        );
        assert_eq!(raw, None);
        assert_eq!(sync::last_uid(store.conn(), "INBOX", 7).unwrap(), Some(3));
    }

    #[test]
    fn a_database_failure_is_not_blamed_on_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store, mut batch) = poisoned_desk(dir.path());
        // A full disk, as SQLite sees it: no page more for the database file, and a request
        // long enough to need some.
        store
            .conn()
            .execute_batch("PRAGMA max_page_count = 1")
            .unwrap();
        let long = request_with(1, "Book a flight", &"Details. ".repeat(20_000));
        if let Some(first) = batch.bodies.first_mut() {
            *first = long;
        }
        let e = record_batch(
            &p,
            &mut store,
            &Sync::plain(7),
            &mut Watch::default(),
            &batch,
            parse(&batch),
        )
        .unwrap_err();
        assert!(e.downcast_ref::<MessageFailed>().is_none(), "{e:#}");
        assert!(crate::store::is_database_failure(&e), "{e:#}");
    }

    #[test]
    fn the_writer_trusts_its_own_writes_and_other_connections_check_them() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "keep");
        let writer = open_writer(&config).unwrap();
        let other = Store::open(&config.daemon.state_dir).unwrap();
        let pragma = |s: &Store, name: &str| -> i64 {
            s.conn()
                .pragma_query_value(None, name, |r| r.get(0))
                .unwrap()
        };
        assert_eq!(pragma(&writer, "foreign_keys"), 0);
        assert_eq!(pragma(&writer, "ignore_check_constraints"), 1);
        assert_eq!(pragma(&other, "foreign_keys"), 1);
        assert_eq!(pragma(&other, "ignore_check_constraints"), 0);
        // What the others still refuse: a status that is none of the documented ones.
        let refused = other.conn().execute(
            "INSERT INTO tasks (contract, status, category, priority, requester, subject, note, \
             message_id, created_at, updated_at) \
             VALUES ('c', 'finished', 'x', 'normal', 'a@b.example', 's', '', 'm@x', 0, 0)",
            [],
        );
        assert!(refused.is_err(), "{refused:?}");
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
