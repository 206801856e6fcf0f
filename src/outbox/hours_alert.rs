//! `hours_alert`: a retainer's hours passed 80 % or 100 % of the period's. Checked in the
//! transaction of each reply that logs `#time`; each threshold is mailed once a period, across
//! restarts (docs/mail.md#what-musaid-sends).

use super::{desk, enqueue, window_start, Draft, Kind};
use crate::config::{Config, Contract};
use crate::retainer;
use crate::store::{self, hours};
use crate::templates::Templates;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use serde_json::json;

/// The `meta` key that records a threshold's alert for a contract's period.
fn sent_key(contract: &str, period: &str, threshold: i64) -> String {
    format!("hours_alert/{contract}/{period}/{threshold}")
}

/// After `#time` was recorded for `c`: queue the alert of the highest threshold the period
/// has reached, unless it (or a higher one) went out before in this period. The owner's (the
/// summary's `to`, else the task's requester) waits for a response window; the VAs' goes at
/// once.
pub(super) fn check(
    tx: &Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    c: &Contract,
    requester: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(r) = &c.retainer else {
        return Ok(());
    };
    let tz = c.calendar.timezone;
    let p = retainer::period(r, tz, now);
    let used = hours::minutes_logged(tx, &c.name, p.start.timestamp(), p.end.timestamp())?;
    let b = retainer::retainer_balance(r, tz, now, used);
    let Some(threshold) = retainer::threshold_reached(&b) else {
        return Ok(());
    };
    let key = sent_key(&c.name, &b.period, threshold);
    if store::meta_get(tx, &key)?.is_some() {
        return Ok(());
    }
    // Every threshold up to this one is now told: 100 % reached at once sends no 80 % later.
    for t in retainer::THRESHOLDS.iter().filter(|t| **t <= threshold) {
        store::meta_set(tx, &sent_key(&c.name, &b.period, *t), &now.to_rfc3339())?;
    }
    let owners: Vec<String> = match c.summary.as_ref().filter(|s| !s.to.is_empty()) {
        Some(s) => s.to.clone(),
        None => vec![requester.to_string()],
    };
    let words = retainer::balance_words(&b, c.language);
    for (to, owner) in owners
        .iter()
        .map(|o| (o, true))
        .chain(c.vas.iter().map(|v| (v, false)))
    {
        let ctx = json!({
            "contract": c.name,
            "desk": desk(cfg),
            "threshold": threshold,
            "retainer": words,
            "to_owner": owner,
        });
        let draft = Draft {
            kind: Kind::HoursAlert,
            task_id: None,
            contract: Some(c.name.clone()),
            recipient: to.clone(),
            rendered: templates.render("hours_alert", c.language, ctx)?,
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            windowed: owner,
            not_before: if owner { window_start(c, now) } else { now },
        };
        enqueue(tx, cfg, &draft, now)?;
    }
    Ok(())
}
