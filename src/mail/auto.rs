//! Automatic mail (RFC 3834): auto-replies, bounces, lists, loops. (Skeleton.)

use super::Message;
use crate::model::Reason;

/// Why this message must never be treated as a person's request, if it must not.
pub fn classify(msg: &Message, our_address: &str) -> Option<Reason> {
    let _ = (msg, our_address);
    unimplemented!("skeleton")
}
