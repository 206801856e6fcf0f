//! IMAP: the thin protocol layer: connect, select, IDLE, fetch new UIDs (docs/design.md#the-flow).
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
mod fetch;
mod session;
pub(crate) mod transport;

pub use session::{connect, is_timeout, ImapSession, COMMAND_TIMEOUT, CONNECT_TIMEOUT};

use std::fmt::Write as _;

/// How many messages one `UID FETCH` asks for; callers fetch in chunks of this size.
pub const FETCH_BATCH: usize = 200;

/// How many messages' sizes are asked for at once (one `UID SEARCH … LARGER`, and the
/// `RFC822.SIZE` of the ones it names): a backlog's sizes come in one round trip or two per
/// 5,000 messages, not one per body fetch.
pub const SIZES_BATCH: usize = 5000;

/// The spans of `uids` whose sizes are fetched together: the first body fetch's worth alone,
/// so the first bodies are asked for without waiting for 5,000 sizes (Dovecot takes about
/// 10 ms for those, while the parser and the recorder have nothing to do yet), then
/// [`SIZES_BATCH`] at a time, while they are busy.
pub fn size_spans(uids: &[u32]) -> impl Iterator<Item = &[u32]> {
    let (first, rest) = uids.split_at(uids.len().min(FETCH_BATCH));
    std::iter::once(first)
        .filter(|s| !s.is_empty())
        .chain(rest.chunks(SIZES_BATCH))
}

/// How many bytes of bodies one `UID FETCH` loads at most (a larger message comes alone):
/// the daemon holds a few fetches at once (being fetched, parsed and recorded), so this, not
/// the message count, bounds its memory when the mail is large. 2 MiB keeps a backlog whose
/// every fifth request carries a 200 KB PDF under 40 MB (4 MiB peaked at 44 MB); small
/// requests still come 200 at a time.
pub const FETCH_BYTES: u64 = 2 << 20;

/// How much of a header [`ImapSession::fetch_headers`] asks for: the sender of a message too
/// large to load is read from it, never more (docs/mail.md#mail-that-is-not-read).
pub const HEADER_BYTES: usize = 64 * 1024;

/// One message as [`ImapSession::fetch_mail`] fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMail {
    pub uid: u32,
    /// When the message reached the mailbox (`INTERNALDATE`); `None` when the server sent
    /// none that reads as a date.
    pub internal_date: Option<chrono::DateTime<chrono::Utc>>,
    /// The message as the server holds it.
    pub raw: Vec<u8>,
}

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

/// The modified base64 of RFC 3501 §5.1.3: `,` for `/`, no padding.
const MUTF7: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::IMAP_MUTF7,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
);

/// A mailbox name as it goes on the wire: modified UTF-7 (RFC 3501 §5.1.3), the only form a
/// server without `UTF8=ACCEPT` takes. Printable ASCII stands for itself, `&` is `&-`, and
/// every other run is its UTF-16 in modified base64 between `&` and `-`: `تمت` is
/// `&BioGRQYq-`, `Entwürfe` is `Entw&APw-rfe`. A name that already is modified UTF-7 with
/// such a run (copied from another tool) is taken as it is.
pub(crate) fn wire_name(name: &str) -> String {
    if name.contains('&') && decode_name(name).is_some_and(|d| d != name.replace("&-", "&")) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        if !run.is_empty() {
            out.push('&');
            base64::Engine::encode_string(&MUTF7, &*run, out);
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A mailbox name from the server, decoded from modified UTF-7; `None` when it is not valid
/// modified UTF-7.
pub(crate) fn decode_name(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some((plain, after)) = rest.split_once('&') {
        out.push_str(plain);
        let (encoded, tail) = after.split_once('-')?;
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = base64::Engine::decode(&MUTF7, encoded).ok()?;
            let units = bytes
                .chunks(2)
                .map(|pair| <[u8; 2]>::try_from(pair).ok().map(u16::from_be_bytes))
                .collect::<Option<Vec<u16>>>()?;
            let text = char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()?;
            // Printable ASCII is never encoded.
            if text.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&text);
        }
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// A mailbox name as an IMAP quoted string (RFC 3501 §4.3), in modified UTF-7, for the
/// commands where async-imap does not quote its argument itself. Rejects CR and LF.
fn quoted_mailbox(name: &str) -> anyhow::Result<String> {
    quoted(&wire_name(name))
}

/// An IMAP quoted string (RFC 3501 §4.3). Rejects CR and LF.
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
    fn sizes_come_first_for_one_body_fetch_then_in_large_spans() {
        let uids: Vec<u32> = (1..=12_000).collect();
        let spans: Vec<(u32, u32, usize)> = size_spans(&uids)
            .map(|s| (s[0], s[s.len() - 1], s.len()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (1, 200, 200),
                (201, 5200, 5000),
                (5201, 10200, 5000),
                (10201, 12000, 1800)
            ]
        );
        assert_eq!(size_spans(&[7, 9]).collect::<Vec<_>>(), vec![&[7, 9][..]]);
        assert_eq!(size_spans(&[]).count(), 0);
    }

    #[test]
    fn quoted_escapes_and_refuses_line_breaks() {
        assert_eq!(quoted("Processed").ok().as_deref(), Some("\"Processed\""));
        assert_eq!(quoted(r#"a"b\c"#).ok().as_deref(), Some(r#""a\"b\\c""#));
        assert!(quoted("a\r\nb").is_err());
    }

    #[test]
    fn mailbox_names_go_out_in_modified_utf7_and_come_back() {
        let cases = [
            ("INBOX", "INBOX"),
            ("Processed", "Processed"),
            ("تمت", "&BioGRQYq-"),
            ("تمت & منجز", "&BioGRQYq- &- &BkUGRgYsBjI-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Q&A", "Q&-A"),
            // RFC 3501 §5.1.3's own example.
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            // Outside the BMP: a surrogate pair.
            ("📁 Done", "&2D3cwQ- Done"),
        ];
        for (name, wire) in cases {
            assert_eq!(wire_name(name), wire, "{name}");
            assert_eq!(decode_name(wire).as_deref(), Some(name), "{wire}");
        }
        // Another client's encoding of the same name (two runs where one would do) is
        // the same folder.
        assert_eq!(decode_name("&BioGRQ-&Bio-").as_deref(), Some("تمت"));
        // Already encoded (copied from another client's settings): kept as it is.
        assert_eq!(wire_name("&BioGRQYq-"), "&BioGRQYq-");
        assert_eq!(wire_name("Entw&APw-rfe"), "Entw&APw-rfe");
        assert_eq!(
            quoted_mailbox("تمت \"x\"").ok().as_deref(),
            Some(r#""&BioGRQYq- \"x\"""#)
        );
    }

    #[test]
    fn malformed_modified_utf7_from_a_server_is_refused_not_a_panic() {
        for bad in [
            "&BioGRQYq",  // no closing -
            "&Bi-",       // not whole UTF-16 units
            "&AGEAYgBj-", // ASCII that must not be encoded
            "&2D0-",      // a lone surrogate
            "&!!-",       // not base64
            "&Bir-",      // trailing bits set (ت is &Bio-)
        ] {
            assert_eq!(decode_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn imap_date_is_english_day_month_year() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 1);
        assert_eq!(d.map(imap_date).as_deref(), Some("1-Nov-2026"));
        let d = chrono::NaiveDate::from_ymd_opt(2027, 2, 28);
        assert_eq!(d.map(imap_date).as_deref(), Some("28-Feb-2027"));
    }
}
