//! The bounds that keep a hostile message cheap to parse: what is cut, and what is refused.

/// Longest decoded header value kept (huge headers are truncated for display).
pub(super) const MAX_HEADER_VALUE: usize = 16 * 1024;
/// Longest subject, address name or forward field kept.
pub(super) const MAX_FIELD: usize = 2 * 1024;
/// At most this many headers are kept.
pub(super) const MAX_HEADERS: usize = 1000;
/// At most this many addresses per header.
pub(super) const MAX_ADDRESSES: usize = 500;
/// HTML longer than this is cut before conversion to text.
pub(super) const MAX_HTML: usize = 4 * 1024 * 1024;
/// A message with more MIME part delimiters and Content-Type lines than this is not parsed.
/// mail-parser spends some hundred bytes on each part: 3 million tiny parts in 24 MB took
/// 640 MB, an 800,000-deep `message/rfc822` chain 1.3 GB. A person's mail holds far fewer.
pub(super) const MAX_PARTS: usize = 10_000;
