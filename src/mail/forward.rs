//! Inline forwards (Gmail, Outlook, Apple Mail, Thunderbird, Arabic). (Skeleton.)

use super::Forward;

/// Find an inline forward block in a body's text.
pub fn find_inline(text: &str) -> Option<Forward> {
    let _ = text;
    unimplemented!("skeleton")
}
