//! Per (mailbox, UIDVALIDITY): the last UID whose effects are committed.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

/// The last UID done for this mailbox at this UIDVALIDITY, if it was ever synced.
pub fn last_uid(conn: &Connection, mailbox: &str, uidvalidity: u32) -> Result<Option<u32>> {
    Ok(conn
        .query_row(
            "SELECT last_uid FROM sync_state WHERE mailbox = ?1 AND uidvalidity = ?2",
            params![mailbox, uidvalidity],
            |r| r.get(0),
        )
        .optional()?)
}

/// Was this mailbox ever synced, at any UIDVALIDITY?
pub fn mailbox_known(conn: &Connection, mailbox: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sync_state WHERE mailbox = ?1 LIMIT 1",
            params![mailbox],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Record progress; call inside the transaction that holds the messages' effects.
pub fn set_last_uid(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (mailbox, uidvalidity, last_uid, synced_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(mailbox, uidvalidity) DO UPDATE SET \
         last_uid = max(last_uid, excluded.last_uid), synced_at = excluded.synced_at",
    )?
    .execute(params![mailbox, uidvalidity, uid, now])?;
    Ok(())
}

/// The UIDs between `first` and `last` (inclusive) recorded for this mailbox at this
/// UIDVALIDITY: one lookup for a whole batch.
pub fn recorded_between(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    first: u32,
    last: u32,
) -> Result<std::collections::HashSet<u32>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uid FROM messages WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid BETWEEN ?3 AND ?4",
    )?;
    let uids = stmt
        .query_map(params![mailbox, uidvalidity, first, last], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(uids)
}

/// Remember that `imap.after` is still to be applied to this message (in the record's
/// transaction).
pub fn add_after_pending(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO after_pending (mailbox, uidvalidity, uid) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![mailbox, uidvalidity, uid])?;
    Ok(())
}

/// `imap.after` was applied to these messages (or they are gone).
pub fn clear_after_pending(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM after_pending WHERE mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3",
    )?;
    for uid in uids {
        stmt.execute(params![mailbox, uidvalidity, uid])?;
    }
    Ok(())
}

/// Messages of this mailbox whose `imap.after` is still to be applied, oldest first.
pub fn after_pending(conn: &Connection, mailbox: &str, uidvalidity: u32) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare(
        "SELECT uid FROM after_pending WHERE mailbox = ?1 AND uidvalidity = ?2 ORDER BY uid",
    )?;
    let uids = stmt
        .query_map(params![mailbox, uidvalidity], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<u32>>>()?;
    Ok(uids)
}

/// Is a message with this Message-ID recorded already (from any source)?
pub fn message_id_known(conn: &Connection, message_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM messages WHERE message_id = ?1 LIMIT 1")?
        .query_row(params![message_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Was this mailbox ever synced at another UIDVALIDITY than `uidvalidity`? Then what it
/// holds now is a re-read.
pub fn uidvalidity_changed(conn: &Connection, mailbox: &str, uidvalidity: u32) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sync_state WHERE mailbox = ?1 AND uidvalidity <> ?2 LIMIT 1",
            params![mailbox, uidvalidity],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// When musaid first started on this mailbox (written at that first start; for a database
/// from before it was, the first message recorded from the mailbox).
pub fn first_start(conn: &Connection, mailbox: &str) -> Result<Option<i64>> {
    let key = format!("first_start:{mailbox}");
    if let Some(at) = crate::store::meta_get(conn, &key)?.and_then(|v| v.parse().ok()) {
        return Ok(Some(at));
    }
    Ok(conn.query_row(
        "SELECT min(recorded_at) FROM messages WHERE mailbox = ?1",
        params![mailbox],
        |r| r.get(0),
    )?)
}

/// Remember when musaid first started on this mailbox.
pub fn set_first_start(conn: &Connection, mailbox: &str, at: i64) -> Result<()> {
    crate::store::meta_set(conn, &format!("first_start:{mailbox}"), &at.to_string())
}
