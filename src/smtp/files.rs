//! The file parts of an outgoing mail, byte for byte: base64, except a forwarded message
//! (`message/rfc822`), which goes as it is when its bytes can cross SMTP unchanged (as RFC
//! 2046 §5.2.1 wants), and else as a plain file of its own name.

use crate::store::attachments::{AttachmentRow, Files};
use anyhow::{Context as _, Result};
use lettre::message::header::{ContentDisposition, ContentTransferEncoding, ContentType};
use lettre::message::{Body, SinglePart};

/// A file an outgoing mail carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Read the files of `rows` from the attachments directory, each checked against its hash.
pub fn read(files: &Files, rows: &[AttachmentRow]) -> Result<Vec<Attached>> {
    rows.iter()
        .map(|r| {
            let bytes = files.read(&r.sha256).with_context(|| {
                format!(
                    "Attachment {} of task #{} ({})",
                    r.index, r.task_id, r.filename
                )
            })?;
            Ok(Attached {
                filename: r.filename.clone(),
                content_type: r.content_type.clone(),
                bytes,
            })
        })
        .collect()
}

/// One file as a MIME part (its bytes move into the part's encoding, not copied).
pub fn part(file: Attached) -> SinglePart {
    let disposition = ContentDisposition::attachment(&file.filename);
    if file.content_type == "message/rfc822" && crosses_smtp_unchanged(&file.bytes) {
        let encoding = if file.bytes.is_ascii() {
            ContentTransferEncoding::SevenBit
        } else {
            ContentTransferEncoding::EightBit
        };
        match Body::new_with_encoding(file.bytes, encoding) {
            Ok(body) => {
                return SinglePart::builder()
                    .header(ContentType::parse("message/rfc822").unwrap_or(ContentType::TEXT_PLAIN))
                    .header(disposition)
                    .body(body)
            }
            Err(bytes) => {
                return as_file(file.filename.as_str(), "application/octet-stream", bytes)
            }
        }
    }
    as_file(&file.filename, &file.content_type, file.bytes)
}

/// A file part, base64 (any bytes go so).
fn as_file(filename: &str, content_type: &str, bytes: Vec<u8>) -> SinglePart {
    let disposition = ContentDisposition::attachment(filename);
    let content_type = match content_type {
        // Not as a message: base64 is not allowed there.
        "message/rfc822" => "application/octet-stream",
        other => other,
    };
    let content_type = ContentType::parse(content_type)
        .or_else(|_| ContentType::parse("application/octet-stream"))
        .unwrap_or(ContentType::TEXT_PLAIN);
    let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
        // Base64 takes any bytes; the fallback is never used.
        .unwrap_or_else(Body::new);
    SinglePart::builder()
        .header(content_type)
        .header(disposition)
        .body(body)
}

/// Whether `bytes` cross SMTP (7bit or 8BITMIME) and a mail store unchanged: CRLF line ends
/// only, no NUL, lines of at most 998 octets.
fn crosses_smtp_unchanged(bytes: &[u8]) -> bool {
    let mut line = 0usize;
    let mut prev = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0 => return false,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => return false,
            b'\n' if prev != b'\r' => return false,
            b'\n' => line = 0,
            b'\r' => {}
            _ => {
                line += 1;
                if line > 998 {
                    return false;
                }
            }
        }
        prev = b;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_crlf_text_crosses_smtp_unchanged() {
        assert!(crosses_smtp_unchanged(b"From: a\r\n\r\nhi\r\n"));
        assert!(crosses_smtp_unchanged("مرحبا\r\n".as_bytes()));
        assert!(!crosses_smtp_unchanged(b"From: a\n\nhi\n"));
        assert!(!crosses_smtp_unchanged(b"a\rb\r\n"));
        assert!(!crosses_smtp_unchanged(b"a\0b\r\n"));
        assert!(!crosses_smtp_unchanged(&vec![b'x'; 999]));
        assert!(crosses_smtp_unchanged(&vec![b'x'; 998]));
    }

    fn formatted(file: &Attached) -> String {
        String::from_utf8_lossy(&part(file.clone()).formatted()).into_owned()
    }

    #[test]
    fn files_go_base64_and_forwarded_messages_as_messages() {
        let pdf = Attached {
            filename: "فاتورة.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4\n\xff\x00".to_vec(),
        };
        let text = formatted(&pdf);
        assert!(text.contains("Content-Type: application/pdf"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: base64"), "{text}");
        assert!(
            text.contains("filename*0*=utf-8''%D9%81"),
            "RFC 2231: {text}"
        );

        let eml = Attached {
            filename: "Invoice.eml".into(),
            content_type: "message/rfc822".into(),
            bytes: b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n".to_vec(),
        };
        let text = formatted(&eml);
        assert!(text.contains("Content-Type: message/rfc822"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.contains("\r\n\r\nFrom: a@b.example\r\nSubject: x\r\n\r\nbody\r\n"));

        let bare_lf = Attached {
            bytes: b"From: a@b.example\nSubject: x\n\nbody\n".to_vec(),
            ..eml
        };
        let text = formatted(&bare_lf);
        assert!(
            text.contains("Content-Type: application/octet-stream"),
            "{text}"
        );
        assert!(text.contains("Content-Transfer-Encoding: base64"), "{text}");
        assert!(text.contains("Invoice.eml"), "{text}");

        let odd_type = Attached {
            content_type: "not a type".into(),
            ..pdf
        };
        assert!(formatted(&odd_type).contains("Content-Type: application/octet-stream"));
    }
}
