//! IMAP: the thin protocol layer (SPEC, The flow: "IMAP inbox ──IDLE/poll──▶ fetch new UIDs").
//!
//! This module talks and never decides: it connects, logs in, selects, searches,
//! fetches by UID, marks and moves exactly what its caller names, and waits in
//! IDLE. Which UIDs to fetch, when to mark and what to do on UIDVALIDITY changes
//! is the caller's business.
//!
//! Secrets: async-imap traces every command it sends (LOGIN with the password
//! included) through the `log` crate at trace level. musaid does not bridge
//! `log` into its tracing output; whoever adds such a bridge must turn
//! `async_imap` off.

mod auth;
mod session;
pub(crate) mod transport;

pub use session::{connect, ImapSession, COMMAND_TIMEOUT, CONNECT_TIMEOUT};

use std::fmt::Write as _;

/// How many messages one `UID FETCH` asks for; callers fetch in chunks of this size.
pub const FETCH_BATCH: usize = 200;

/// What the server offers that changes how we work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerCapabilities {
    /// RFC 2177 IDLE: wait for new mail instead of polling.
    pub idle: bool,
    /// RFC 6851 MOVE.
    pub move_cmd: bool,
    /// RFC 4315 UIDPLUS: `UID EXPUNGE` of exactly the named UIDs.
    pub uidplus: bool,
}

/// The state of a freshly selected mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uid_validity: u32,
    /// Absent when the server does not say (RFC 3501 allows it).
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// Why [`ImapSession::idle_wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported a change (new mail, an expunge, flags): search again.
    NewData,
    /// Nothing happened within the time asked for.
    Timeout,
}

/// What [`ImapSession::move_to`] could do on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveOutcome {
    /// Moved: by MOVE, or by a copy and a `UID EXPUNGE` of exactly that UID.
    Moved,
    /// Without MOVE and UIDPLUS: copied and flagged `\Deleted`, left in place
    /// (a plain EXPUNGE could remove other people's deleted mail).
    CopiedAndFlagged,
}

/// A compact IMAP UID set for `uids` ("1:3,7,9:10"); sorted and without duplicates.
/// Empty input gives an empty string, which callers must not send.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut iter = sorted.into_iter().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while let Some(&next) = iter.peek() {
            if end.checked_add(1) == Some(next) {
                end = next;
                iter.next();
            } else {
                break;
            }
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}:{end}");
        }
    }
    out
}

/// An IMAP quoted string (RFC 3501 §4.3), for the commands where async-imap
/// does not quote its argument itself. Rejects CR and LF.
fn quoted(s: &str) -> anyhow::Result<String> {
    if s.contains(['\r', '\n']) {
        anyhow::bail!("Mailbox name {s:?} contains a line break");
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// An IMAP date for SEARCH SINCE (RFC 3501 `date`: `1-Nov-2026`).
fn imap_date(date: chrono::NaiveDate) -> String {
    date.format("%-d-%b-%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_set_compacts_runs_and_sorts() {
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[u32::MAX, u32::MAX - 1]), "4294967294:4294967295");
    }

    #[test]
    fn quoted_escapes_and_refuses_line_breaks() {
        assert_eq!(quoted("Processed").ok().as_deref(), Some("\"Processed\""));
        assert_eq!(quoted(r#"a"b\c"#).ok().as_deref(), Some(r#""a\"b\\c""#));
        assert!(quoted("a\r\nb").is_err());
    }

    #[test]
    fn imap_date_is_english_day_month_year() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 1);
        assert_eq!(d.map(imap_date).as_deref(), Some("1-Nov-2026"));
        let d = chrono::NaiveDate::from_ymd_opt(2027, 2, 28);
        assert_eq!(d.map(imap_date).as_deref(), Some("28-Feb-2027"));
    }
}
