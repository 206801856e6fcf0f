//! Mail as musaid sees it: bytes in, a [`Message`] out. Pure: no I/O.
//!
//! - [`mod@parse`]: RFC 5322/MIME bytes → [`Message`] (mail-parser underneath)
//! - [`forward`]: find the forwarded original, inline or attached
//! - [`quote`]: cut the quoted part of a reply, keep the new text
//! - `labels`: the header-block labels, separators and folding that forward and quote share
//! - [`auto`]: auto-replies, bounces, lists, loops (RFC 3834)
//! - [`auth`]: Authentication-Results (RFC 8601): is the From address authenticated?
//! - [`attachments`]: the files a message carries, their names, and which fit in a mail

pub mod attachments;
pub mod auth;
pub mod auto;
pub mod forward;
mod labels;
pub mod parse;
pub mod quote;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

pub use attachments::{Attachment, Content};
pub use parse::parse;

/// One mailbox: `Name <addr@example>`. `email` is kept as written; compare with
/// [`crate::model::normalize_address`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Address {
    pub name: Option<String>,
    pub email: String,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) if !n.is_empty() && !self.email.is_empty() => write!(f, "{n} <{}>", self.email),
            // A forward block may name its author without an address.
            Some(n) if !n.is_empty() => f.write_str(n),
            _ => f.write_str(&self.email),
        }
    }
}

/// The forwarded original inside an owner's mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Forward {
    /// How it was found: `attached`, `gmail`, `outlook`, `apple`, `thunderbird`, `arabic`, ….
    pub style: String,
    pub original_from: Option<Address>,
    pub original_subject: Option<String>,
    /// The original's date as written in the forward block (clients localise it).
    pub original_date: Option<String>,
    /// Present for attached originals.
    pub original_message_id: Option<String>,
    /// The owner's own words above the forwarded part (may be empty).
    pub note: String,
    /// The original's body text.
    pub body: String,
}

/// Facts about automatic mail, read from headers and structure. What they
/// mean (ignore or not) is decided in [`auto::classify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AutoSignals {
    /// `Auto-Submitted` value, lower-cased, when present.
    pub auto_submitted: Option<String>,
    /// `Precedence` value, lower-cased.
    pub precedence: Option<String>,
    /// Any `List-*` header present (List-Id, List-Unsubscribe, …).
    pub list_header: bool,
    /// `X-Auto-Response-Suppress` value, lower-cased.
    pub auto_response_suppress: Option<String>,
    /// `Return-Path` as written (`Some("")` for `<>`).
    pub return_path: Option<String>,
    /// Top-level `multipart/report` (DSN, MDN, ARF, TLS-RPT) or a `message/delivery-status` part.
    pub report: bool,
    /// Other auto-reply markers: `X-Autoreply`, `X-Autorespond`, `X-Auto-Reply-From`, …
    pub autoreply_header: bool,
    /// Our loop marker header (`X-Musaid-Loop`) value, if present.
    pub loop_marker: Option<String>,
}

/// A parsed message. Every string is decoded Unicode; nothing here panics on bad input.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Message {
    /// Without angle brackets. Derived from a hash of the content when missing.
    pub message_id: String,
    /// True when `message_id` was derived, not read from the header.
    pub message_id_derived: bool,
    pub from: Option<Address>,
    /// The `Sender` header, when different from From (lists, delegates).
    pub sender: Option<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    pub date: Option<DateTime<FixedOffset>>,
    /// Message-IDs without angle brackets.
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Every header in order, name as written, value decoded (RFC 2047) and unfolded.
    pub headers: Vec<(String, String)>,
    /// The body as plain text: the first text/plain part, or the HTML part converted.
    pub text: String,
    /// Every file it carries, forwarded messages' included (see [`attachments`]).
    pub attachments: Vec<Attachment>,
    /// The forwarded original, when this message forwards one.
    pub forward: Option<Forward>,
    /// The text above any quoted reply (for replies); the whole text otherwise.
    pub new_text: String,
    pub auto: AutoSignals,
    /// Size of the raw message in bytes.
    pub size: usize,
}

impl Message {
    /// The first header of that name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of that header, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The From address, lower-cased, or "" when there is none.
    pub fn from_email(&self) -> String {
        self.from
            .as_ref()
            .map(|a| crate::model::normalize_address(&a.email))
            .unwrap_or_default()
    }
}

/// The header musaid puts on every mail it sends, to recognise its own mail when it comes back.
pub const LOOP_HEADER: &str = "X-Musaid-Loop";
