//! The files a message carries: regular attachments, inline images, forwarded messages (as
//! `.eml`) and the files inside them, [`MAX_DEPTH`] levels deep, each hashed. Their bytes are
//! not copied: each is a range of the raw message, as it is when no transfer encoding was
//! undone, or as its base64; only quoted-printable files and those inside an encoded forwarded
//! message keep the bytes mail-parser decoded (moved out of its tree).

use super::body::content_type_of;
use super::header::truncate;
use super::limits::MAX_FIELD;
use crate::mail::attachments::{
    base64_decode, base64_is, file_name, Attachment, Content, MAX_DEPTH, MAX_FILES,
};
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, HeaderName, MimeHeaders, PartType};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::ops::Range;

/// Raw 8-bit file names that are not UTF-8, in a message that names no charset, are read
/// in this one: what Arabic Windows mail clients write.
const FALLBACK_CHARSET: &[u8] = b"windows-1256";

/// Every file of `msg`, parsed from `raw`, in the order they appear. `charset` is the
/// message's own (for raw 8-bit names). Takes decoded bytes out of `msg`: call it last.
pub(super) fn files(
    msg: &mut mail_parser::Message<'_>,
    raw: &[u8],
    charset: Option<&str>,
) -> Vec<Attachment> {
    let mut out = Vec::new();
    let walk = Walk { raw, charset };
    walk.message(msg, 0, &mut out);
    out
}

struct Walk<'r> {
    /// The bytes the whole message was parsed from.
    raw: &'r [u8],
    charset: Option<&'r str>,
}

impl Walk<'_> {
    fn message(&self, msg: &mut mail_parser::Message<'_>, depth: usize, out: &mut Vec<Attachment>) {
        let ids = msg.attachments.clone();
        for id in ids {
            if out.len() >= MAX_FILES {
                return;
            }
            let container = self.container(&msg.raw_message);
            let Some(part) = msg.parts.get_mut(id as usize) else {
                continue;
            };
            let content_type = content_type(part);
            let name = self.name(part, &msg.raw_message, &content_type);
            let span = part.offset_body as usize..part.offset_end as usize;
            let file = |content| attachment(name.clone(), content_type.clone(), content);
            match &mut part.body {
                PartType::Message(inner) => {
                    let mut nested = Vec::new();
                    if depth + 1 < MAX_DEPTH {
                        self.message(inner, depth + 1, &mut nested);
                    }
                    let held = match part.encoding {
                        Encoding::None => self.slice(&container, &msg.raw_message, span),
                        // Decoded from base64 or quoted-printable: the bytes are the inner
                        // message's own.
                        encoding => {
                            let decoded = std::mem::take(&mut inner.raw_message).into_owned();
                            self.decoded(&container, &msg.raw_message, span, encoding, decoded)
                        }
                    };
                    let name = name.clone().or_else(|| {
                        inner
                            .subject()
                            .map(|s| truncate(&s.replace(['/', '\\'], "-"), MAX_FIELD))
                    });
                    out.push(attachment(name, content_type, held));
                    out.extend(nested);
                }
                PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                    let held = match std::mem::take(bytes) {
                        Cow::Borrowed(b) => match range_in(self.raw, b) {
                            Some(r) => Held::hashed(Content::Raw(r), b),
                            None => Held::owned(b.to_vec()),
                        },
                        Cow::Owned(v) => {
                            self.decoded(&container, &msg.raw_message, span, part.encoding, v)
                        }
                    };
                    out.push(file(held));
                }
                PartType::Text(text) | PartType::Html(text) => {
                    // mail-parser turned the text into UTF-8; the file is its bytes as sent.
                    let slice = msg.raw_message.get(span.clone()).unwrap_or_default();
                    let held = match part.encoding {
                        Encoding::None => self.slice(&container, &msg.raw_message, span),
                        Encoding::Base64 => match (&container, base64_hash(slice)) {
                            (Container::At(start), Some((sha256, size))) => Held {
                                content: Content::Base64(start + span.start..start + span.end),
                                sha256,
                                size,
                            },
                            _ => Held::owned(text.as_bytes().to_vec()),
                        },
                        Encoding::QuotedPrintable => Held::owned(
                            quoted_printable_decode(slice)
                                .unwrap_or_else(|| text.as_bytes().to_vec()),
                        ),
                    };
                    out.push(file(held));
                }
                PartType::Multipart(_) => {}
            }
        }
        out.truncate(MAX_FILES);
    }

    /// Where a message's raw bytes lie: in the whole message, or in a decoded copy.
    fn container(&self, raw_message: &[u8]) -> Container {
        match range_in(self.raw, raw_message) {
            Some(r) => Container::At(r.start),
            None => Container::Own,
        }
    }

    /// `span` of a message's raw bytes: a range of the whole message, or a copy when that
    /// message was itself decoded.
    fn slice(&self, container: &Container, raw_message: &[u8], span: Range<usize>) -> Held {
        let bytes = raw_message.get(span.clone()).unwrap_or_default();
        match container {
            Container::At(start) => {
                let r = start + span.start..start + span.start + bytes.len();
                match self.raw.get(r.clone()) {
                    Some(b) => Held::hashed(Content::Raw(r), b),
                    None => Held::owned(bytes.to_vec()),
                }
            }
            Container::Own => Held::owned(bytes.to_vec()),
        }
    }

    /// Bytes mail-parser decoded from `span` of a message's raw bytes: kept as that range of
    /// the whole message when they are its base64 ([`base64_decode`] reads it as mail-parser
    /// does), else as they are.
    fn decoded(
        &self,
        container: &Container,
        raw_message: &[u8],
        span: Range<usize>,
        encoding: Encoding,
        decoded: Vec<u8>,
    ) -> Held {
        let encoded = raw_message.get(span.clone()).unwrap_or_default();
        match (container, encoding) {
            (Container::At(start), Encoding::Base64) => {
                debug_assert!(
                    base64_is(encoded, &decoded),
                    "base64 read as mail-parser does"
                );
                let r = start + span.start..start + span.end;
                Held::hashed(Content::Base64(r), &decoded)
            }
            _ => Held::owned(decoded),
        }
    }

    /// The part's file name, decoded; one written in raw 8-bit that is not UTF-8 is read
    /// again from its bytes in the part's charset, the message's, or windows-1256.
    fn name(
        &self,
        part: &mail_parser::MessagePart<'_>,
        raw_message: &[u8],
        content_type: &str,
    ) -> Option<String> {
        let name = part.attachment_name()?;
        if !name.contains('\u{FFFD}') {
            return Some(truncate(name, MAX_FIELD));
        }
        let charset = part
            .content_type()
            .and_then(|ct| ct.attribute("charset"))
            .filter(|_| !content_type.starts_with("text/"))
            .or(self.charset);
        let decode = charset
            .and_then(|c| charset_decoder(c.as_bytes()))
            .or_else(|| charset_decoder(FALLBACK_CHARSET))?;
        let again = [
            (HeaderName::ContentDisposition, &b"filename"[..]),
            (HeaderName::ContentType, &b"name"[..]),
        ]
        .into_iter()
        .find_map(|(header, param)| {
            let h = part.headers.iter().find(|h| h.name == header)?;
            let value = raw_message.get(h.offset_start() as usize..h.offset_end() as usize)?;
            raw_param(value, param).map(decode)
        });
        Some(truncate(again.as_deref().unwrap_or(name), MAX_FIELD))
    }
}

/// Where a message's raw bytes are.
enum Container {
    /// In the whole message, from this offset.
    At(usize),
    /// In a decoded copy of their own.
    Own,
}

/// A file's bytes as held, with their hash and size.
struct Held {
    content: Content,
    sha256: String,
    size: usize,
}

impl Held {
    fn hashed(content: Content, bytes: &[u8]) -> Held {
        Held {
            content,
            sha256: hex(Sha256::digest(bytes).as_slice()),
            size: bytes.len(),
        }
    }

    fn owned(bytes: Vec<u8>) -> Held {
        let sha256 = hex(Sha256::digest(&bytes).as_slice());
        Held {
            size: bytes.len(),
            content: Content::Decoded(bytes),
            sha256,
        }
    }
}

/// The hash and size of what `input`, base64, decodes to; None when it is no base64.
fn base64_hash(input: &[u8]) -> Option<(String, usize)> {
    let mut hasher = Sha256::new();
    let size = base64_decode(input, &mut |chunk| {
        hasher.update(chunk);
        true
    })?;
    Some((hex(hasher.finalize().as_slice()), size))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attachment(name: Option<String>, content_type: String, held: Held) -> Attachment {
    Attachment {
        filename: file_name(name.as_deref(), &content_type),
        name,
        content_type,
        size: held.size,
        sha256: held.sha256,
        content: held.content,
    }
}

/// `type/subtype`, and the charset of a text type (a text file means nothing without it).
fn content_type(part: &mail_parser::MessagePart<'_>) -> String {
    let ct = content_type_of(part);
    let charset = part
        .content_type()
        .and_then(|c| c.attribute("charset"))
        .filter(|c| {
            !c.is_empty()
                && c.len() <= 40
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        });
    match charset {
        Some(c) if ct.starts_with("text/") => format!("{ct}; charset={}", c.to_ascii_lowercase()),
        _ => ct,
    }
}

/// Where `part` lies inside `whole`, when it is a slice of it.
fn range_in(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// The raw value of parameter `param` (`filename=…`, quoted or not; not `filename*`) in a
/// header's raw bytes.
fn raw_param<'a>(value: &'a [u8], param: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    while let Some(found) = find_ci(value.get(at..)?, param) {
        let start = at + found;
        let before = start.checked_sub(1).and_then(|i| value.get(i));
        let after = value.get(start + param.len()..)?;
        at = start + param.len();
        let is_param = before.is_none_or(|b| matches!(b, b';' | b' ' | b'\t' | b'\n' | b'\r'));
        let Some(rest) = after.strip_prefix(b"=").filter(|_| is_param) else {
            continue;
        };
        return Some(match rest.strip_prefix(b"\"") {
            Some(quoted) => {
                let end = quoted
                    .iter()
                    .position(|&b| b == b'"')
                    .unwrap_or(quoted.len());
                quoted.get(..end)?
            }
            None => {
                let end = rest
                    .iter()
                    .position(|&b| b == b';' || b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                rest.get(..end)?
            }
        });
    }
    None
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse;

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        lines.join("\r\n")
    }

    /// (filename, content type, bytes) of each file.
    fn files_of(raw: &[u8]) -> Vec<(String, String, Vec<u8>)> {
        let m = parse(raw).unwrap();
        m.attachments
            .iter()
            .map(|a| {
                let bytes = a.to_vec(raw).unwrap();
                assert_eq!(a.size, bytes.len(), "{}", a.filename);
                assert_eq!(
                    a.sha256,
                    hex(Sha256::digest(&bytes).as_slice()),
                    "{}",
                    a.filename
                );
                (a.filename.clone(), a.content_type.clone(), bytes)
            })
            .collect()
    }

    const PDF: &[u8] = b"%PDF-1.4\n\x00\x01\x02binary\xff\xfe";
    const XLSX: &[u8] = b"PK\x03\x04 sheet \x00\x10";

    /// A Gmail forward: the note, a PDF, and the original attached as a message that carries
    /// a spreadsheet.
    fn gmail_forward() -> (Vec<u8>, Vec<u8>) {
        let inner = format!(
            "From: Linda <linda@supplier.example>\r\nSubject: Invoice 114\r\n\
             Message-ID: <inv114@supplier.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\
             Content-Type: text/plain\r\n\r\nThe figures.\r\n--in\r\n\
             Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"q4.xlsx\"\r\n\
             Content-Disposition: attachment; filename=\"q4.xlsx\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--in--\r\n",
            b64(XLSX)
        );
        let outer = format!(
            "From: Boss <boss@acme.example>\r\nTo: tasks@va.example\r\nSubject: Fwd: Invoice 114\r\n\
             Message-ID: <fwd1@acme.example>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nPlease pay it.\r\n\r\n\
             ---------- Forwarded message ---------\r\nFrom: Linda <linda@supplier.example>\r\n\
             Subject: Invoice 114\r\n\r\nThe figures.\r\n--out\r\n\
             Content-Type: application/pdf; name=\"invoice.pdf\"\r\n\
             Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--out\r\n\
             Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n{inner}\r\n--out--\r\n",
            b64(PDF)
        );
        (outer.into_bytes(), inner.into_bytes())
    }

    #[test]
    fn a_forward_carries_its_files_the_original_and_the_original_s_files() {
        let (raw, inner) = gmail_forward();
        let files = files_of(&raw);
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["invoice.pdf", "Invoice 114.eml", "q4.xlsx"]);
        assert_eq!(files[0].1, "application/pdf");
        assert_eq!(files[0].2, PDF);
        assert_eq!(files[1].1, "message/rfc822");
        assert_eq!(files[1].2, inner, "the original, byte for byte");
        assert_eq!(files[2].2, XLSX);
        // Nothing copied that the raw message already holds: the original as it is, the PDF
        // and the sheet as their base64.
        let m = parse(&raw).unwrap();
        assert!(matches!(m.attachments[0].content, Content::Base64(_)));
        assert!(matches!(m.attachments[1].content, Content::Raw(_)));
        assert!(matches!(m.attachments[2].content, Content::Base64(_)));
    }

    #[test]
    fn a_base64_encoded_original_is_decoded_with_its_files() {
        let (_, inner) = gmail_forward();
        let raw = format!(
            "From: boss@acme.example\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nSee.\r\n\
             --o\r\nContent-Type: message/rfc822; name=\"orig.eml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--o--\r\n",
            b64(&inner)
        );
        let files = files_of(raw.as_bytes());
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["orig.eml", "q4.xlsx"]);
        assert_eq!(files[0].2, inner);
        assert_eq!(files[1].2, XLSX);
    }

    #[test]
    fn inline_images_and_text_files_are_files_too() {
        let raw = format!(
            "From: boss@acme.example\r\nSubject: Logo\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\
             Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<p>See <img src=\"cid:logo\"></p>\r\n--r\r\n\
             Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Disposition: inline\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--r--\r\n\r\n--m\r\n\
             Content-Type: text/csv; charset=windows-1256\r\nContent-Disposition: attachment; filename=list.csv\r\n\r\n\
             XX,1\r\n2,3\r\n--m\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=notes.txt\r\n\r\n{}\r\n--m--\r\n",
            b64(b"\x89PNG\r\n\x1a\n"),
            b64("ملاحظات\n".as_bytes())
        );
        // The CSV is windows-1256 written raw: its bytes, not their UTF-8 reading.
        let mut raw = raw.into_bytes();
        let at = raw.windows(4).position(|w| w == b"XX,1").unwrap();
        raw[at] = 0xe3;
        raw[at + 1] = 0xd1;
        let files = files_of(&raw);
        let summary: Vec<(&str, &str)> =
            files.iter().map(|f| (f.0.as_str(), f.1.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("attachment.png", "image/png"),
                ("list.csv", "text/csv; charset=windows-1256"),
                ("notes.txt", "text/plain; charset=utf-8"),
            ]
        );
        assert_eq!(files[0].2, b"\x89PNG\r\n\x1a\n");
        assert_eq!(files[1].2, b"\xe3\xd1,1\r\n2,3");
        assert_eq!(files[2].2, "ملاحظات\n".as_bytes());
    }

    fn named(disposition: &[u8]) -> String {
        let mut raw =
            b"From: a@b.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf\r\n\
            Content-Transfer-Encoding: base64\r\n"
                .to_vec();
        raw.extend_from_slice(disposition);
        raw.extend_from_slice(b"\r\nJVBERi0=\r\n--b--\r\n");
        let m = parse(&raw).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].to_vec(&raw), Some(b"%PDF-".to_vec()));
        m.attachments[0].filename.clone()
    }

    #[test]
    fn file_names_are_decoded_however_they_were_written() {
        let invoice = "فاتورة.pdf";
        for d in [
            &b"Content-Disposition: attachment; filename*=UTF-8''%D9%81%D8%A7%D8%AA%D9%88%D8%B1%D8%A9.pdf\r\n"[..],
            b"Content-Disposition: attachment; filename*=windows-1256''%DD%C7%CA%E6%D1%C9.pdf\r\n",
            b"Content-Disposition: attachment; filename*0*=UTF-8''%D9%81%D8%A7; filename*1*=%D8%AA%D9%88%D8%B1%D8%A9.pdf\r\n",
            b"Content-Disposition: attachment; filename=\"=?UTF-8?B?2YHYp9iq2YjYsdipLnBkZg==?=\"\r\n",
            b"Content-Disposition: attachment; filename==?windows-1256?B?3cfK5tHJLnBkZg==?=\r\n",
            // Raw 8-bit windows-1256, as some Arabic Windows clients send it.
            b"Content-Disposition: attachment; filename=\"\xdd\xc7\xca\xe6\xd1\xc9.pdf\"\r\n",
            // Raw UTF-8.
            "Content-Disposition: attachment; filename=\"فاتورة.pdf\"\r\n".as_bytes(),
        ] {
            assert_eq!(named(d), invoice, "{}", String::from_utf8_lossy(d));
        }
        assert_eq!(
            named(b"Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n"),
            "passwd"
        );
        assert_eq!(named(b""), "attachment.pdf");
    }

    #[test]
    fn odd_base64_is_read_as_mail_parser_reads_it() {
        for body in [
            "JVBERi0",             // unpadded, a group cut short by the end
            "JVBE\r\nRi0=",        // padded after a line break
            "JVBERg==JVBERg==",    // two padded runs back to back
            "J=VBERi0=",           // padding after one character
            "JVBERi0x\r\n \t\r\n", // blanks after the end
        ] {
            let raw = format!(
                "From: a@b.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; \
                 name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b--\r\n"
            );
            // Size and hash from mail-parser's bytes, the file from musaid's reading.
            let files = files_of(raw.as_bytes());
            assert_eq!(files.len(), 1, "{body:?}");
        }
    }

    #[test]
    fn forwards_inside_forwards_are_followed_only_so_deep() {
        let mut raw = b"From: a@b.example\r\nSubject: innermost\r\nContent-Type: application/pdf; name=deep.pdf\r\n\r\n%PDF\r\n".to_vec();
        for level in 0..6 {
            let mut outer = format!(
                "From: a@b.example\r\nSubject: level {level}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n\
                 --b{level}\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b{level}\r\nContent-Type: message/rfc822\r\n\r\n"
            )
            .into_bytes();
            outer.extend_from_slice(&raw);
            outer.extend_from_slice(format!("\r\n--b{level}--\r\n").as_bytes());
            raw = outer;
        }
        let files = files_of(&raw);
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["level 4.eml", "level 3.eml", "level 2.eml"]);
    }

    #[test]
    fn at_most_so_many_files_are_kept_from_one_message() {
        let mut raw =
            b"From: a@b.example\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n"
                .to_vec();
        for i in 0..MAX_FILES + 20 {
            raw.extend_from_slice(
                format!("--b\r\nContent-Type: image/gif; name=\"{i}.gif\"\r\n\r\nGIF{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"--b--\r\n");
        let files = files_of(&raw);
        assert_eq!(files.len(), MAX_FILES);
        assert_eq!(files[7].2, b"GIF7");
    }

    #[test]
    fn a_raw_parameter_is_found_quoted_or_not() {
        let v = b" attachment; filename=\"\xdd\xc7.pdf\"; size=3";
        assert_eq!(raw_param(v, b"filename"), Some(&b"\xdd\xc7.pdf"[..]));
        assert_eq!(
            raw_param(b"application/pdf; name=a.pdf", b"name"),
            Some(&b"a.pdf"[..])
        );
        // `filename` is not `name`, and `filename*` is not `filename`.
        assert_eq!(raw_param(b"attachment; filename=x.pdf", b"name"), None);
        assert_eq!(
            raw_param(b"attachment; filename*=utf-8''x; filename=y", b"filename"),
            Some(&b"y"[..])
        );
        assert_eq!(raw_param(b"", b"name"), None);
    }

    #[test]
    fn a_slice_is_located_in_its_message() {
        let whole = b"0123456789";
        assert_eq!(range_in(whole, &whole[3..6]), Some(3..6));
        let other = b"elsewhere";
        assert_eq!(range_in(whole, other), None);
    }
}
