//! Bytes → [`Message`] with mail-parser. (Skeleton: filled in by the parsing work.)

use super::Message;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Parse one RFC 5322 message. Never panics; an error means the bytes are not a message.
pub fn parse(raw: &[u8]) -> Result<Message, ParseError> {
    let _ = raw;
    unimplemented!("skeleton")
}
