//! The outbox sender: hands finished mail to the SMTP server, only when it may go.
//!
//! A windowed row (owner-facing) is checked against the contract's response windows at the
//! instant of sending; if its window has closed it waits for the next one. Temporary failures
//! are retried with jittered backoff; permanent ones are recorded on the task.

mod connection;
pub mod files;

pub use connection::{SendError, Sender};
pub use files::Attached;

use crate::config::{Config, SmtpConfig};
use crate::logging::Untrusted;
use crate::mail::LOOP_HEADER;
use crate::outbox::{self, limit, Row};
use crate::store::record::Event;
use crate::store::Store;
use crate::windows;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use rusqlite::params;
use std::time::Duration;
use tracing::{info, warn};

/// Give up on a row after this many temporary failures (about two days with backoff).
const MAX_ATTEMPTS: i64 = 40;

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// [`build_with`] for a row without files.
pub fn build(cfg: &Config, smtp: &SmtpConfig, row: &Row) -> Result<lettre::Message> {
    build_with(cfg, smtp, row, Vec::new())
}

/// The one function that builds outgoing mail: from an outbox row and the files it carries
/// (a `multipart/mixed` of the text and HTML, then the files; without files, the text and
/// HTML alone).
pub fn build_with(
    cfg: &Config,
    smtp: &SmtpConfig,
    row: &Row,
    attached: Vec<Attached>,
) -> Result<lettre::Message> {
    let from: Mailbox = smtp
        .from
        .parse()
        .with_context(|| format!("smtp.from `{}` is not an address", smtp.from))?;
    let to: Mailbox = row
        .recipient
        .parse()
        .with_context(|| format!("Recipient `{}` is not an address", row.recipient))?;
    // Rows are written by `outbox::enqueue`; an unknown kind still gets the reply marker.
    let kind = outbox::Kind::parse(&row.kind).unwrap_or(outbox::Kind::Ack);
    let mut b = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(crate::templates::one_line(&row.subject))
        .message_id(Some(format!("<{}>", row.message_id)))
        .raw_header(header("Auto-Submitted", kind.auto_submitted().into()))
        .raw_header(header("X-Auto-Response-Suppress", "All".into()))
        .raw_header(header("Precedence", "bulk".into()))
        .raw_header(header(LOOP_HEADER, cfg.daemon.address.clone()));
    if let Some(irt) = &row.in_reply_to {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    if let Some(refs) = row.headers.get("References") {
        let refs: Vec<String> = refs.split_whitespace().map(|r| format!("<{r}>")).collect();
        if !refs.is_empty() {
            b = b.references(refs.join(" "));
        }
    }
    if let Some(rt) = row.headers.get("Reply-To") {
        if let Ok(m) = rt.parse::<Mailbox>() {
            b = b.reply_to(m);
        }
    }
    let body = match (&row.body_html, attached.is_empty()) {
        (Some(html), true) => b.multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            html.clone(),
        )),
        (None, true) => b.body(row.body_text.clone()),
        (html, false) => {
            let mixed = match html {
                Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                    row.body_text.clone(),
                    html.clone(),
                )),
                None => MultiPart::mixed().singlepart(SinglePart::plain(row.body_text.clone())),
            };
            b.multipart(
                attached
                    .into_iter()
                    .fold(mixed, |m, f| m.singlepart(files::part(f))),
            )
        }
    };
    body.context("Cannot build the mail")
}

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// Its window is closed; moved to the next opening.
    Deferred,
    /// Over an outgoing limit (`outbox::limit`); moved to when the limit allows it.
    Held,
    Retry,
    Failed,
}

/// Mail the server accepted whose `sent` could not be written (a full disk, a database that
/// refuses writes). Kept in memory and written before anything else is sent: were the row
/// left pending, it would be handed to the server again on every retry — once a second for as
/// long as the disk stays full. (A crash in that state sends it once more, with the same
/// Message-ID, just as a crash between the server's 250 and the commit does.)
#[derive(Debug, Default)]
pub struct Unrecorded(Vec<Accepted>);

#[derive(Debug, Clone)]
struct Accepted {
    id: i64,
    task_id: Option<i64>,
    kind: String,
    at: i64,
}

impl Unrecorded {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Write what the server accepted; an error while any of it is still unwritten.
    fn flush(&mut self, store: &mut Store) -> Result<()> {
        while let Some(a) = self.0.first() {
            mark_sent(store, a)
                .with_context(|| format!("Cannot record outbox row {} as sent", a.id))?;
            info!(row = a.id, "mail sent earlier now recorded");
            self.0.remove(0);
        }
        Ok(())
    }
}

/// The sender's connection: each commit synced to disk, so mail recorded as sent stays
/// recorded across a power cut and is not sent again.
fn open_sender_store(state_dir: &std::path::Path) -> Result<Store> {
    let store = Store::open(state_dir)?;
    store.durable_commits()?;
    Ok(store)
}

fn mark_sent(store: &mut Store, a: &Accepted) -> Result<()> {
    let tx = store.transaction()?;
    tx.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, \
         last_error = NULL, held = NULL WHERE id = ?1",
        params![a.id, a.at],
    )?;
    if a.kind == "ack" {
        if let Some(task) = a.task_id {
            tx.execute(
                "UPDATE tasks SET acked_at = coalesce(acked_at, ?2) WHERE id = ?1",
                params![task, a.at],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Send every due row once. Returns how many were sent. Nothing is sent while mail sent
/// earlier is still unrecorded (`unrecorded`).
pub async fn send_due(
    store: &mut Store,
    cfg: &Config,
    sender: &mut Sender,
    now_fn: &(dyn Fn() -> DateTime<Utc> + Sync),
    unrecorded: &mut Unrecorded,
) -> Result<usize> {
    let Some(smtp) = &cfg.smtp else {
        return Ok(0);
    };
    unrecorded.flush(store)?;
    let mut sent = 0;
    let rows = outbox::due(store.conn(), now_fn().timestamp(), 100)?;
    if !rows.is_empty() {
        // The rows, and the tasks they answer, were committed without a sync to disk.
        store.sync_log()?;
    }
    for row in rows {
        if send_row(store, cfg, smtp, sender, &row, now_fn, unrecorded).await? == Sent::Sent {
            sent += 1;
        }
    }
    Ok(sent)
}

async fn send_row(
    store: &mut Store,
    cfg: &Config,
    smtp: &SmtpConfig,
    sender: &mut Sender,
    row: &Row,
    now_fn: &(dyn Fn() -> DateTime<Utc> + Sync),
    unrecorded: &mut Unrecorded,
) -> Result<Sent> {
    // The window is checked at the instant of sending, not when the row was queued.
    let now = now_fn();
    if row.windowed {
        let contract = row.contract.as_ref().and_then(|c| cfg.contracts.get(c));
        let open = contract.is_some_and(|c| windows::is_open(&c.calendar, now));
        if !open {
            let next = contract
                .map(|c| outbox::window_start(c, now))
                .unwrap_or(now + chrono::Duration::days(3650));
            store.conn().execute(
                "UPDATE outbox SET not_before = ?2, held = NULL WHERE id = ?1 AND status = 'pending'",
                params![row.id, next.timestamp().max(now.timestamp() + 1)],
            )?;
            return Ok(Sent::Deferred);
        }
    }
    // The outgoing limits, also at the instant of sending: a row over one waits for its hour.
    let kind = outbox::Kind::parse(&row.kind).unwrap_or(outbox::Kind::Ack);
    let (sent, errors) =
        outbox::sent_to(store.conn(), &row.recipient, now.timestamp() - limit::HOUR)?;
    let per_hour = cfg.policy.mails_per_recipient_per_hour;
    if let Some((why, until)) = limit::hold(kind, &sent, &errors, per_hour, now.timestamp()) {
        store.conn().execute(
            "UPDATE outbox SET not_before = ?2, held = ?3 WHERE id = ?1 AND status = 'pending'",
            params![row.id, until, why.as_str()],
        )?;
        if row.held.is_none() {
            info!(kind = %row.kind, task = row.task_id, to = %Untrusted(&row.recipient),
                held = why.as_str(), "mail held back by an outgoing limit");
        }
        return Ok(Sent::Held);
    }
    let email = match carried(store, cfg, row).and_then(|f| build_with(cfg, smtp, row, f)) {
        Ok(m) => m,
        Err(e) => return fail(store, row, &format!("{e:#}"), now).map(|_| Sent::Failed),
    };
    match sender.send(&email).await {
        Ok(_) => {
            let accepted = Accepted {
                id: row.id,
                task_id: row.task_id,
                kind: row.kind.clone(),
                at: now_fn().timestamp(),
            };
            info!(kind = %row.kind, task = row.task_id, to = %Untrusted(&row.recipient), "mail sent");
            if let Err(e) = mark_sent(store, &accepted) {
                unrecorded.0.push(accepted);
                return Err(e.context(format!(
                    "Mail {} was sent but cannot be recorded; nothing more is sent until it is",
                    row.message_id
                )));
            }
            Ok(Sent::Sent)
        }
        Err(e) if e.is_permanent() => {
            fail(store, row, &format!("{e}"), now)?;
            Ok(Sent::Failed)
        }
        Err(e) => {
            let attempts = row.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                fail(
                    store,
                    row,
                    &format!("gave up after {attempts} tries: {e}"),
                    now,
                )?;
                return Ok(Sent::Failed);
            }
            let wait = retry_delay(attempts);
            store.conn().execute(
                "UPDATE outbox SET attempts = ?2, last_error = ?3, not_before = ?4 WHERE id = ?1",
                params![row.id, attempts, e.to_string(), (now + wait).timestamp()],
            )?;
            if attempts == 1 {
                warn!(kind = %row.kind, to = %Untrusted(&row.recipient), error = %Untrusted(&e.to_string()), "SMTP failed; will retry");
            }
            Ok(Sent::Retry)
        }
    }
}

/// The files `row` carries, read from the attachments directory (none for most mail).
fn carried(store: &Store, cfg: &Config, row: &Row) -> Result<Vec<Attached>> {
    let rows = crate::store::attachments::carried_by(store.conn(), row.id)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let dir = crate::store::attachments::Files::new(&cfg.daemon.state_dir);
    files::read(&dir, &rows)
}

/// 5 s, 10 s, 20 s … capped at an hour, with ±25 % jitter: a relay that restarts is
/// caught quickly, one that is down for long is not hammered.
fn retry_delay(attempts: i64) -> chrono::Duration {
    let base = 5i64
        .saturating_mul(1 << (attempts - 1).clamp(0, 10))
        .min(3600);
    let f: f64 = rand::random_range(0.75..1.25);
    chrono::Duration::seconds((base as f64 * f) as i64)
}

fn fail(store: &mut Store, row: &Row, why: &str, now: DateTime<Utc>) -> Result<()> {
    let tx = store.transaction()?;
    tx.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
        params![row.id, why],
    )?;
    if let Some(task) = row.task_id {
        let note = format!("{} to {} failed: {why}", row.kind, row.recipient);
        Event::new(task, now.timestamp(), "musaid", "mail_failed", "")
            .note(Some(&note))
            .record(&tx)?;
    }
    tx.commit()?;
    warn!(kind = %row.kind, to = %Untrusted(&row.recipient), error = %Untrusted(why), "mail failed permanently");
    Ok(())
}

/// The sender task: sends due rows, then sleeps until the next row falls due, new mail is
/// queued (`wake`), or shutdown. Errors are logged and retried; the outbox keeps everything.
/// While the SMTP server cannot be reached and mail waits, try to connect this often.
const PROBE_EVERY: Duration = Duration::from_secs(30);

/// After the SMTP server could not be reached: if it answers again, every mail waiting for
/// a retry is due now, not when its backoff (up to an hour) runs out. (A server that goes and
/// comes back costs each waiting mail one extra try per return.)
async fn back_again(store: &mut Store, sender: &mut Sender) {
    if sender.probe().await.is_err() {
        return;
    }
    let now = Utc::now().timestamp();
    match store.conn().execute(
        "UPDATE outbox SET not_before = ?1 \
         WHERE status = 'pending' AND attempts > 0 AND not_before > ?1",
        params![now],
    ) {
        Ok(n) => info!(
            mails = n,
            "the SMTP server answers again; retrying waiting mail now"
        ),
        Err(e) => warn!(error = %e, "cannot move waiting mail forward"),
    }
}

/// How long the sender sleeps before its next round (unless woken): not at all while mail is
/// due and it can send; else until the next row's `not_before` to the millisecond (a window
/// that opens at 09:00:00 is served from 09:00:00, not up to a second later), at most a minute;
/// a second while it cannot send.
fn sender_wait(next_due: Option<i64>, now: DateTime<Utc>, can_send: bool) -> Duration {
    let Some(due) = next_due.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)) else {
        return Duration::from_secs(60);
    };
    if due <= now {
        return if can_send {
            Duration::from_millis(5)
        } else {
            Duration::from_secs(1)
        };
    }
    (due - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .clamp(Duration::from_millis(1), Duration::from_secs(60))
}

pub async fn run_sender(
    mut current: crate::ingest::Current,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut store: Option<Store> = None;
    let mut sender: Option<Sender> = None;
    let mut failing = false;
    let mut running: Option<std::sync::Arc<crate::ingest::Pipeline>> = None;
    let mut unrecorded = Unrecorded::default();
    while !*shutdown.borrow() {
        let p = current.borrow_and_update().clone();
        if !running
            .as_ref()
            .is_some_and(|r| std::sync::Arc::ptr_eq(r, &p))
        {
            // A new configuration: new SMTP settings (the state directory stays: a reload
            // that moves it is refused).
            if let Some(mut old) = sender.take() {
                old.quit().await;
            }
            running = Some(p.clone());
        }
        let cfg = &p.config;
        if store.is_none() {
            match open_sender_store(&cfg.daemon.state_dir) {
                Ok(s) => store = Some(s),
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "outbox sender cannot open the database")
                }
            }
        }
        if sender.is_none() {
            if let Some(smtp) = &cfg.smtp {
                match Sender::new(smtp) {
                    Ok(s) => sender = Some(s),
                    Err(e) => {
                        if !failing {
                            warn!(error = %format!("{e:#}"), "cannot set up SMTP; retrying");
                        }
                        failing = true;
                    }
                }
            }
        }
        let mut next = None;
        if let Some(store) = store.as_mut() {
            if let Some(s) = sender.as_mut() {
                if s.unreachable() {
                    back_again(store, s).await;
                }
                match send_due(store, cfg, s, &Utc::now, &mut unrecorded).await {
                    Ok(_) => failing = false,
                    Err(e) => {
                        if !failing {
                            warn!(error = %Untrusted(&format!("{e:#}")), "outbox sender failed; retrying");
                        }
                        failing = true;
                    }
                }
            }
            next = outbox::next_due(store.conn()).ok().flatten();
        }
        let mut wait = sender_wait(next, Utc::now(), !failing && sender.is_some());
        if next.is_some() && sender.as_ref().is_some_and(|s| s.unreachable()) {
            // Mail waits and the server was down: look again soon, not at the backoff's pace.
            wait = wait.min(PROBE_EVERY);
        }
        if let Some(s) = sender.as_mut() {
            // Like lettre's pool: no connection is held open for long without mail.
            s.close_idle().await;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            _ = current.changed() => {}
            _ = shutdown.changed() => {}
        }
    }
    if let Some(mut s) = sender {
        s.quit().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, millis: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, millis * 1_000_000).unwrap()
    }

    #[test]
    fn what_the_sender_records_and_reads_is_on_disk_before_and_after_it_sends() {
        let dir = tempfile::tempdir().unwrap();
        let sender = open_sender_store(dir.path()).unwrap();
        // 2 is FULL: "sent" is synced at each commit.
        let synchronous: i64 = sender
            .conn()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2);
        // A row committed by another connection without a sync: the barrier syncs the log
        // that holds it.
        let mut recorder = Store::open(dir.path()).unwrap();
        let tx = recorder.transaction().unwrap();
        crate::store::meta_set(&tx, "probe", "1").unwrap();
        tx.commit().unwrap();
        assert!(dir.path().join("musaid.db-wal").metadata().unwrap().len() > 0);
        sender.sync_log().unwrap();
    }

    #[test]
    fn the_sender_wakes_when_the_next_row_is_due_to_the_millisecond() {
        let t = 1_800_000_000;
        // 09:00:00 opens in 300 ms: wait 300 ms, not a whole second.
        assert_eq!(
            sender_wait(Some(t), at(t - 1, 700), true),
            Duration::from_millis(300)
        );
        assert_eq!(
            sender_wait(Some(t + 3600), at(t, 0), true),
            Duration::from_secs(60)
        );
        assert_eq!(sender_wait(None, at(t, 0), true), Duration::from_secs(60));
    }

    #[test]
    fn due_mail_goes_out_at_once_unless_the_sender_cannot_send() {
        let t = 1_800_000_000;
        assert_eq!(
            sender_wait(Some(t), at(t, 400), true),
            Duration::from_millis(5)
        );
        assert_eq!(
            sender_wait(Some(t - 10), at(t, 0), false),
            Duration::from_secs(1)
        );
    }
}
