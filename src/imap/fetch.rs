//! What musaid reads from a `FETCH` answer.

use async_imap::imap_proto::{AttributeValue, MessageSection, SectionPath};
use chrono::{DateTime, Utc};

/// One FETCH response, as far as musaid asks for it.
#[derive(Debug, Default)]
pub(super) struct Fetched {
    pub(super) uid: Option<u32>,
    pub(super) size: Option<u32>,
    pub(super) body: Option<Vec<u8>>,
    /// `BODY[HEADER]` (or the part of it asked for).
    pub(super) header: Option<Vec<u8>>,
    /// `INTERNALDATE`: when the message reached the mailbox.
    pub(super) internal_date: Option<DateTime<Utc>>,
    pub(super) flags: Vec<String>,
}

impl Fetched {
    pub(super) fn from_attributes(attrs: &[AttributeValue<'_>]) -> Fetched {
        let mut f = Fetched::default();
        for attr in attrs {
            match attr {
                AttributeValue::Uid(uid) => f.uid = Some(*uid),
                AttributeValue::Rfc822Size(size) => f.size = Some(*size),
                AttributeValue::InternalDate(date) => f.internal_date = internal_date(date),
                AttributeValue::BodySection {
                    section: None,
                    data: Some(data),
                    ..
                }
                | AttributeValue::Rfc822(Some(data)) => f.body = Some(data.to_vec()),
                AttributeValue::BodySection {
                    section: Some(SectionPath::Full(MessageSection::Header)),
                    data: Some(data),
                    ..
                }
                | AttributeValue::Rfc822Header(Some(data)) => f.header = Some(data.to_vec()),
                AttributeValue::Flags(flags) => {
                    f.flags = flags.iter().map(|fl| fl.to_string()).collect()
                }
                _ => {}
            }
        }
        f
    }

    /// Two answers for one UID (a server may split them): keep what each has.
    pub(super) fn merge(&mut self, other: Fetched) {
        self.uid = self.uid.or(other.uid);
        self.size = self.size.or(other.size);
        self.internal_date = self.internal_date.or(other.internal_date);
        if other.body.is_some() {
            self.body = other.body;
        }
        if other.header.is_some() {
            self.header = other.header;
        }
        if !other.flags.is_empty() {
            self.flags = other.flags;
        }
    }
}

/// An `INTERNALDATE` (RFC 3501 `date-time`, e.g. `" 6-Dec-2026 14:58:40 +0000"`: the day
/// may be padded with a space); `None` when the server sent something else.
fn internal_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text.trim_start(), "%d-%b-%Y %H:%M:%S %z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn an_internal_date_reads_with_or_without_the_days_padding() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.to_utc());
        assert_eq!(
            internal_date("06-Dec-2026 14:58:40 +0000"),
            utc("2026-12-06T14:58:40Z")
        );
        assert_eq!(
            internal_date(" 6-Dec-2026 17:58:40 +0300"),
            utc("2026-12-06T14:58:40Z")
        );
        assert_eq!(internal_date("yesterday"), None);
        assert_eq!(internal_date(""), None);
    }

    #[test]
    fn a_message_answered_in_two_parts_keeps_what_each_part_has() {
        let mut first = Fetched::from_attributes(&[
            AttributeValue::Uid(7),
            AttributeValue::InternalDate(Cow::Borrowed("06-Dec-2026 14:58:40 +0000")),
        ]);
        let second = Fetched::from_attributes(&[
            AttributeValue::Uid(7),
            AttributeValue::BodySection {
                section: None,
                index: None,
                data: Some(Cow::Borrowed(b"Subject: x\r\n\r\nBody\r\n")),
            },
        ]);
        first.merge(second);
        assert_eq!(first.uid, Some(7));
        assert_eq!(
            first.internal_date,
            internal_date("06-Dec-2026 14:58:40 +0000")
        );
        assert_eq!(
            first.body.as_deref(),
            Some(&b"Subject: x\r\n\r\nBody\r\n"[..])
        );
    }
}
