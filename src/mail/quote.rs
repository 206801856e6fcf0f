//! The new text above a quoted reply. (Skeleton.)

/// The text the sender wrote, without the quoted original below it.
pub fn new_text(text: &str) -> String {
    let _ = text;
    unimplemented!("skeleton")
}
