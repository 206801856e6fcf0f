//! The IMAP loop: connect, sync what is new, wait (IDLE or poll), sync again, … and after an
//! error, reconnect with backoff. A sync fetches the new messages ([`fetch`]) while the
//! recorder ([`crate::recorder`]) parses and records them, then applies `imap.after`
//! ([`after`]); [`retry`] keeps what failed across sessions.

mod after;
mod fetch;
mod retry;

use super::{Context, EarlyLogin};
use crate::config::{After, FirstSync};
use crate::imap::{self, IdleOutcome, ImapSession};
use crate::ingest::Pipeline;
use crate::logging::Untrusted;
use crate::recorder;
use crate::store::{sync, Store};
use after::{after_batch, after_outcome, reconcile_after, AfterRefused};
use anyhow::{Context as _, Result};
use chrono::Utc;
use fetch::{by_bytes, fetch_run, span_sizes, to_load};
use retry::Reconnect;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Re-issue IDLE at least this often: servers drop IDLE after 30 minutes (RFC 2177), and a
/// fresh command is also how a dead connection is noticed.
const IDLE_REISSUE: Duration = Duration::from_secs(4 * 60);

/// Run the IMAP loop until shutdown: one session after another, `early` the first one's
/// connection if its login started already.
pub(super) async fn run(ctx: Context, store: Store, mut early: Option<EarlyLogin>) {
    let mut l = ImapLoop {
        ctx,
        store,
        retry: Reconnect::default(),
    };
    while !*l.ctx.shutdown.borrow() {
        l.ctx.heartbeat.beat();
        let p = l.ctx.current.borrow_and_update().clone();
        let result = l.session(&p, early.take()).await;
        if *l.ctx.shutdown.borrow() {
            break;
        }
        match result {
            Err(e) => l.back_off(&e).await,
            Ok(()) => l.retry.connected(),
        }
    }
}

/// The IMAP loop, across its sessions.
struct ImapLoop {
    ctx: Context,
    /// Its own database connection (the recorder writes through another).
    store: Store,
    retry: Reconnect,
}

/// One IMAP connection, from the sync after its login to its end.
struct Connection {
    /// The configuration and rules it was made with (a reload makes a new connection).
    p: Arc<Pipeline>,
    imap: ImapSession,
    uidvalidity: u32,
    /// The mailbox's last UID recorded.
    last: u32,
    /// The recorder's own database connection, kept from one sync to the next.
    writer: Option<Store>,
    /// How many messages the recorder recorded since the last checkpoint.
    unchecked: usize,
}

impl ImapLoop {
    /// A session ended in `e`: say so (once per state change, not on every try), then wait
    /// out the backoff, which a shutdown or a reload (the fix, perhaps) cuts short.
    async fn back_off(&mut self, e: &anyhow::Error) {
        let text = format!("{e:#}");
        if self.retry.failing.as_deref() != Some(text.as_str()) {
            warn!(error = %Untrusted(&text), "IMAP session failed; reconnecting with backoff");
            let _ = self.store.record_error(&text);
            self.retry.failing = Some(text);
        } else {
            debug!(error = %Untrusted(&text), "IMAP still failing");
        }
        // Waiting on purpose is a sign of life: beat at least every half watchdog period, so
        // systemd does not kill a daemon that waits out a long outage (docs/operations.md).
        let until = tokio::time::Instant::now() + self.retry.next_wait();
        loop {
            self.ctx.heartbeat.beat();
            let slice = until
                .saturating_duration_since(tokio::time::Instant::now())
                .min(super::notify::watchdog_half());
            if slice.is_zero() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(slice) => {}
                _ = self.ctx.shutdown.changed() => break,
                _ = self.ctx.current.changed() => break,
            }
        }
    }

    /// One IMAP connection's life: connect, sync, wait, sync, … until an error or shutdown.
    async fn session(&mut self, p: &Arc<Pipeline>, early: Option<EarlyLogin>) -> Result<()> {
        let cfg = &p.config.imap;
        let mut s = match early {
            Some(login) => login.await.context("The IMAP login failed")??,
            None => imap::connect(cfg).await?,
        };
        // A large message arriving slowly is progress too: the watchdog keeps quiet.
        s.set_alive(self.ctx.heartbeat.stamp());
        let caps = s.capabilities();
        if let After::Move(folder) = &cfg.after {
            let created = s
                .create_if_missing(folder)
                .await
                .map(|()| 0)
                .context(AfterRefused);
            after_outcome(&s, &self.store, &mut self.retry, created)?;
        }
        let mailbox = s.select(&cfg.mailbox).await?;
        let uidvalidity = mailbox.uid_validity;
        let last = start_uid(p, &mut self.store, &mut s, &mailbox).await?;
        let idle = cfg.idle && caps.idle;
        info!(mailbox = %cfg.mailbox, uidvalidity, last_uid = last, idle, "IMAP connected");
        let applied = reconcile_after(p, &mut self.store, &mut s, uidvalidity).await;
        after_outcome(&s, &self.store, &mut self.retry, applied)?;
        let mut c = Connection {
            p: p.clone(),
            imap: s,
            uidvalidity,
            last,
            writer: None,
            unchecked: 0,
        };

        loop {
            self.ctx.heartbeat.beat();
            if self.retry.after_refused.is_some() {
                // What waited for `after` gets another try at each sync.
                let applied =
                    reconcile_after(&c.p, &mut self.store, &mut c.imap, c.uidvalidity).await;
                after_outcome(&c.imap, &self.store, &mut self.retry, applied)?;
            }
            let before = c.last;
            self.sync_new(&mut c).await?;
            self.retry.synced(c.uidvalidity, c.last);
            // A sync that found nothing new is still a successful sync (`musaid status`).
            crate::store::meta_set(
                self.store.conn(),
                "last_sync",
                &Utc::now().timestamp().to_string(),
            )?;
            if c.last != before {
                self.ctx.wake.notify_one();
                self.ctx.tasks_changed.notify_one();
            }
            self.retry.connected();
            if *self.ctx.shutdown.borrow() {
                let _ = c.imap.logout().await;
                return Ok(());
            }
            let limit = if idle {
                IDLE_REISSUE
            } else {
                cfg.poll_interval
            };
            let limit = limit.min(super::notify::watchdog_half());
            if idle {
                tokio::select! {
                    r = c.imap.idle_wait(limit) => {
                        if let IdleOutcome::NewData = r? {
                            debug!("IDLE: new data");
                        }
                    }
                    _ = self.ctx.shutdown.changed() => return Ok(()),
                    // A reload reconnects with the new settings.
                    _ = self.ctx.current.changed() => return Ok(()),
                }
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(limit) => {}
                    _ = self.ctx.shutdown.changed() => {
                        let _ = c.imap.logout().await;
                        return Ok(());
                    }
                    _ = self.ctx.current.changed() => {
                        let _ = c.imap.logout().await;
                        return Ok(());
                    }
                }
                c.imap.noop().await?;
            }
        }
    }

    /// Fetch and record every message after `c.last`, in batches, moving `c.last` on.
    ///
    /// The IMAP loop fetches while the recorder (its own threads and database connection)
    /// parses and records the batches before: see [`crate::recorder`]. `imap.after` follows
    /// each commit.
    async fn sync_new(&mut self, c: &mut Connection) -> Result<()> {
        let (uidvalidity, last) = (c.uidvalidity, c.last);
        let mut uids: Vec<u32> = c
            .imap
            .uid_search_after(last)
            .await?
            .into_iter()
            .filter(|u| *u > last)
            .collect();
        if uids.is_empty() {
            return Ok(());
        }
        uids.sort_unstable();
        uids.dedup();
        let (batches, batch_rx) = mpsc::channel(recorder::QUEUE);
        let (committed_tx, mut committed) = mpsc::unbounded_channel();
        let recorder = recorder::spawn(
            c.p.clone(),
            c.writer.take(),
            recorder::Sync {
                uidvalidity,
                condemned: self.retry.condemned(uidvalidity),
                reread: reread(&c.p, &self.store, uidvalidity)?,
            },
            uids.clone(),
            batch_rx,
            committed_tx,
        );

        // The first IMAP error; the batches fetched before it are recorded all the same.
        let mut failed = Ok(());
        let max_size = c.p.config.policy.max_message_size;
        'fetch: for span in imap::size_spans(&uids) {
            let gave_up = self.retry.unfetchable(uidvalidity);
            let sizes = match span_sizes(&mut c.imap, span, max_size, &gave_up).await {
                Ok(sizes) => sizes,
                Err(e) => {
                    failed = Err(e);
                    break;
                }
            };
            let runs: Vec<&[u32]> = span
                .chunks(imap::FETCH_BATCH)
                .flat_map(|chunk| by_bytes(chunk, &sizes, max_size, imap::FETCH_BYTES))
                .flat_map(|run| {
                    if run
                        .iter()
                        .any(|&uid| self.retry.one_at_a_time(uidvalidity, uid))
                    {
                        run.chunks(1).collect()
                    } else {
                        vec![run]
                    }
                })
                .collect();
            for run in runs {
                let batch = match fetch_run(&mut c.imap, run, &sizes, max_size, &gave_up).await {
                    Ok(b) => b,
                    Err(e) => {
                        let loaded = to_load(run, &sizes, max_size, &gave_up);
                        self.retry.fetch_failed(uidvalidity, &loaded, &e);
                        failed = Err(e);
                        break 'fetch;
                    }
                };
                // A closed queue means the recorder stopped on an error: reported below.
                if batches.send(batch).await.is_err() {
                    break 'fetch;
                }
                self.ctx.heartbeat.beat();
                while let Ok(done) = committed.try_recv() {
                    self.committed(c, &done);
                    let applied = after_batch(
                        &c.p,
                        &mut self.store,
                        &mut c.imap,
                        uidvalidity,
                        &done.recorded,
                    )
                    .await;
                    if let Err(e) = after_outcome(&c.imap, &self.store, &mut self.retry, applied) {
                        failed = Err(e);
                        break 'fetch;
                    }
                }
                checkpoint_when_due(&self.store, &mut c.unchecked, recorder::CHECKPOINT_EVERY);
                if *self.ctx.shutdown.borrow() {
                    break 'fetch;
                }
            }
        }
        drop(batches);
        let mut recorded = Vec::new();
        while let Some(done) = committed.recv().await {
            self.committed(c, &done);
            recorded.extend(done.recorded);
            self.ctx.heartbeat.beat();
        }
        let (writer, result) = recorder.await.context("The recorder failed")?;
        c.writer = writer;
        if let Err(e) = &result {
            self.retry.record_failed(uidvalidity, e);
        }
        // After an error, `after` waits in `after_pending` for the next session.
        failed?;
        result?;
        let applied = after_batch(&c.p, &mut self.store, &mut c.imap, uidvalidity, &recorded).await;
        after_outcome(&c.imap, &self.store, &mut self.retry, applied)?;
        checkpoint_when_due(&self.store, &mut c.unchecked, recorder::CHECKPOINT_IDLE);
        Ok(())
    }

    /// A batch the recorder committed: one log line per message, and the mailbox's new last
    /// UID.
    fn committed(&mut self, c: &mut Connection, done: &recorder::Committed) {
        for (uid, outcome) in done.recorded.iter().zip(&done.spent) {
            recorder::log_outcome(*uid, outcome);
        }
        self.retry.committed(done);
        c.last = done.last;
        c.unchecked += done.recorded.len();
    }
}

/// Where to start in this mailbox: the stored last UID, or per `first_sync` at the very first
/// start, or 0 after a UIDVALIDITY change (everything is re-read and re-mapped by Message-ID).
async fn start_uid(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    mb: &imap::MailboxState,
) -> Result<u32> {
    let name = &p.config.imap.mailbox;
    if let Some(last) = sync::last_uid(store.conn(), name, mb.uid_validity)? {
        return Ok(last);
    }
    let start_fresh = !sync::mailbox_known(store.conn(), name)?;
    let start = if !start_fresh {
        warn!(mailbox = %name, uidvalidity = mb.uid_validity, "UIDVALIDITY changed; re-reading the mailbox, matching by Message-ID");
        0
    } else {
        match &p.config.imap.first_sync {
            FirstSync::All => 0,
            FirstSync::New => match mb.uid_next {
                Some(next) => next.saturating_sub(1),
                None => s.uid_search_after(0).await?.into_iter().max().unwrap_or(0),
            },
            FirstSync::Since(date) => {
                let uids = s.uid_search_since(*date).await?;
                match uids.iter().min() {
                    Some(min) => min.saturating_sub(1),
                    None => mb.uid_next.unwrap_or(1).saturating_sub(1),
                }
            }
        }
    };
    let tx = store.transaction()?;
    let now = Utc::now().timestamp();
    if start_fresh {
        sync::set_first_start(&tx, name, now)?;
    }
    sync::set_last_uid(&tx, name, mb.uid_validity, start, now)?;
    tx.commit()?;
    Ok(start)
}

/// After a UIDVALIDITY change, what the re-read leaves alone: mail recorded already (by
/// Message-ID), and mail that arrived before `first_sync` reached (the first start, or the
/// configured date).
fn reread(p: &Pipeline, store: &Store, uidvalidity: u32) -> Result<Option<recorder::Reread>> {
    let name = &p.config.imap.mailbox;
    if !sync::uidvalidity_changed(store.conn(), name, uidvalidity)? {
        return Ok(None);
    }
    let before = match &p.config.imap.first_sync {
        FirstSync::All => None,
        // Mail of the first start's own second is kept (INTERNALDATE has no finer grain):
        // in doubt, a request is not lost.
        FirstSync::New => sync::first_start(store.conn(), name)?
            .and_then(|at| chrono::DateTime::from_timestamp(at, 0)),
        FirstSync::Since(date) => date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
    };
    Ok(Some(recorder::Reread { before }))
}

/// Checkpoint the write-ahead log once the recorder has added `due` messages to it
/// ([`recorder::CHECKPOINT_EVERY`] during a backlog, [`recorder::CHECKPOINT_IDLE`] once the
/// inbox is caught up). A checkpoint that fails (a full disk) loses nothing: the log keeps
/// the records, and the next one tries again.
fn checkpoint_when_due(store: &Store, unchecked: &mut usize, due: usize) {
    if *unchecked < due {
        return;
    }
    match store.checkpoint() {
        Ok(()) => *unchecked = 0,
        Err(e) => warn!(error = %format!("{e:#}"), "WAL checkpoint failed; will try again"),
    }
}
