//! The owner's notice that a message of theirs was not read: larger than
//! `policy.max_message_size`, or one the mail server would not send. It is an error reply
//! (`error` in `musaid outbox`), sent inside the contract's windows, once per message
//! (docs/mail.md#mail-that-is-not-read).

use super::{desk, enqueue, local, window_start, Draft, Kind};
use crate::config::Config;
use crate::ingest::Unloaded;
use crate::mail::{attachments::human_size, Message};
use crate::model::Reason;
use crate::templates::Templates;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, Transaction};
use serde_json::json;

/// Queue the notice for `m`, whose header parsed as `header`, if its sender is an owner to
/// tell ([`crate::decide::unread_owner`]) and was not told about this message before (a
/// second copy of it, after a UIDVALIDITY change or a second `musaid ingest`). Whether one was
/// queued.
pub fn notice(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    reason: Reason,
    header: &Message,
    m: &Unloaded<'_>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(c) = crate::decide::unread_owner(header, cfg) else {
        return Ok(false);
    };
    let owner = header.from_email();
    let told: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind = 'error' AND task_id IS NULL \
             AND recipient = ?1 AND in_reply_to = ?2)",
        )?
        .query_row(params![owner, header.message_id], |r| r.get(0))?;
    if told {
        return Ok(false);
    }
    let ctx = json!({
        "reason": reason.as_str(),
        "subject": super::cut(&super::title(None, &header.subject), 120),
        "size": m.size.map(human_size),
        "limit": human_size(cfg.policy.max_message_size),
        "received": local(c, m.arrived),
        "desk": desk(cfg),
        "contract": c.name,
    });
    let draft = Draft {
        kind: Kind::Error,
        task_id: None,
        contract: Some(c.name.clone()),
        recipient: owner,
        rendered: templates.render("unread", c.language, ctx)?,
        in_reply_to: Some(header.message_id.clone()),
        references: vec![header.message_id.clone()],
        reply_to: None,
        windowed: true,
        not_before: window_start(c, now),
    };
    enqueue(tx, cfg, &draft, now)?;
    Ok(true)
}
