//! Attachments travel with the task: the owner's files reach the VA with the notification,
//! the VA's reach the owner with the done notice or `#send`, byte for byte up to
//! `attach_max`; larger ones are listed and fetched with `musaid tasks attachment`; names are
//! only names; `tasks show`, `status` and `backup` know the files.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod large;
mod travel;

pub use crate::support::daemon::noise;
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// The files a received mail carries, as a mail client sees them: each top-level
/// attachment's name and bytes (a forwarded message's as they are in the mail).
pub fn files_in(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    m.attachments()
        .map(|p| {
            let bytes = match &p.body {
                PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
                PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
                PartType::Message(_) | PartType::Multipart(_) => m
                    .raw_message
                    .get(p.raw_body_offset() as usize..p.raw_end_offset() as usize)
                    .unwrap_or_default()
                    .to_vec(),
            };
            (p.attachment_name().unwrap_or_default().to_string(), bytes)
        })
        .collect()
}

/// A received mail's plain text, decoded, as a mail client shows it.
pub fn text_of(raw: &[u8]) -> String {
    MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha(bytes: &[u8]) -> String {
    musaid::store::attachments::sha256_hex(bytes)
}
