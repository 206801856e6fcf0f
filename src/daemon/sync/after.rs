//! `imap.after` (mark seen, or move to a folder), applied only to messages whose records are
//! committed, and again after a crash between the commit and `after`.

use super::retry::Reconnect;
use crate::config::After;
use crate::imap::{self, ImapSession};
use crate::ingest::Pipeline;
use crate::logging::Untrusted;
use crate::store::{sync, Store};
use anyhow::{Context as _, Result};
use tracing::{debug, info, warn};

/// `imap.after` for messages whose records are committed, then forget they wait for it.
pub(super) async fn after_batch(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<usize> {
    if p.config.imap.after == After::Keep || uids.is_empty() {
        return Ok(0);
    }
    for chunk in uids.chunks(imap::FETCH_BATCH) {
        apply_after(p, s, chunk).await?;
        let tx = store.transaction()?;
        sync::clear_after_pending(&tx, &p.config.imap.mailbox, uidvalidity, chunk)?;
        tx.commit()?;
    }
    Ok(uids.len())
}

/// What a failed `imap.after` means. A server that refuses it (a folder it will not create,
/// a mailbox over quota) must not stop the ingest: the refusal is logged (once, until it
/// changes), kept as the status's last error, and `after` is tried again at each sync, the
/// mail staying in the mailbox meanwhile. A lost connection ends the session, as any error.
/// `applied` is how many messages `after` was applied to.
pub(super) fn after_outcome(
    s: &ImapSession,
    store: &Store,
    retry: &mut Reconnect,
    applied: Result<usize>,
) -> Result<()> {
    match applied {
        Ok(0) => Ok(()),
        Ok(n) => {
            if retry.after_refused.take().is_some() {
                info!(messages = n, "imap.after works again");
            }
            Ok(())
        }
        Err(e) if s.is_usable() && e.downcast_ref::<AfterRefused>().is_some() => {
            let text = format!("{e:#}");
            if retry.after_refused.as_deref() != Some(text.as_str()) {
                warn!(
                    error = %Untrusted(&text),
                    "the server refused imap.after; requests are still recorded, and stay in \
                     the mailbox until it works"
                );
                let _ = store.record_error(&text);
                retry.after_refused = Some(text);
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The context of an error of the server's making in `imap.after` (as opposed to a database
/// error): [`after_outcome`] lets the ingest go on.
#[derive(Debug)]
pub(super) struct AfterRefused;

impl std::fmt::Display for AfterRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("imap.after could not be applied")
    }
}

/// `imap.after`, applied only once the messages' records are committed.
async fn apply_after(p: &Pipeline, s: &mut ImapSession, uids: &[u32]) -> Result<()> {
    let applied = match &p.config.imap.after {
        After::Keep => Ok(()),
        After::Seen => s.mark_seen(uids).await,
        After::Move(folder) => s.move_to(uids, folder).await.map(|outcome| {
            if outcome == imap::MoveOutcome::CopiedAndFlagged {
                debug!(
                    count = uids.len(),
                    "no MOVE or UIDPLUS: copied and flagged \\Deleted, left in place"
                );
            }
        }),
    };
    applied.context(AfterRefused)
}

/// After a crash between the commit and `after`, recorded messages may still wait for it:
/// apply `after` to those (and only those) still in the mailbox now.
pub(super) async fn reconcile_after(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    uidvalidity: u32,
) -> Result<usize> {
    let mailbox = &p.config.imap.mailbox;
    let pending = sync::after_pending(store.conn(), mailbox, uidvalidity)?;
    let Some(first) = pending.first() else {
        return Ok(0);
    };
    let mut present = s.uid_search_after(first.saturating_sub(1)).await?;
    present.sort_unstable();
    for chunk in pending.chunks(imap::FETCH_BATCH) {
        let here: Vec<u32> = chunk
            .iter()
            .copied()
            .filter(|u| present.binary_search(u).is_ok())
            .collect();
        if !here.is_empty() {
            apply_after(p, s, &here).await?;
        }
        let tx = store.transaction()?;
        sync::clear_after_pending(&tx, mailbox, uidvalidity, chunk)?;
        tx.commit()?;
    }
    Ok(pending.len())
}
