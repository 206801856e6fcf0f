//! Attachments as musaid carries them: what a message holds ([`Attachment`]), the name shown
//! for each ([`file_name`]), and which files fit in one outgoing mail ([`fit`]). Pure: no I/O
//! but into the writer a caller hands in.
//!
//! A file's name comes from the sender's mail client and is only ever shown and offered as a
//! name: files are stored by their SHA-256 (docs/design.md#attachments).

use serde::Serialize;
use std::ops::Range;

/// Attached files are looked for this many `message/rfc822` levels deep: a forward of a
/// forward of a forward. Deeper originals travel inside their `.eml`.
pub const MAX_DEPTH: usize = 3;

/// At most this many files are kept from one message (the rest are not stored).
pub const MAX_FILES: usize = 100;

/// Longest file name kept, in bytes (the usual file system limit).
pub const MAX_NAME: usize = 255;

/// One file of a message: a regular attachment, an inline image, a part of a forwarded
/// message, or a forwarded message itself (as `.eml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// The name as the sender's mail client wrote it, decoded (RFC 2231, RFC 2047, raw 8-bit
    /// text in its charset); None when it gave none.
    pub name: Option<String>,
    /// The name to show and to offer when the file is saved: [`file_name`] of `name`.
    pub filename: String,
    /// `type/subtype`, lower case; text types keep their `charset`.
    pub content_type: String,
    /// The file's size in bytes, decoded.
    pub size: usize,
    /// The lower-case hex SHA-256 of its bytes: its name in `STATE/attachments/`.
    pub sha256: String,
    /// Where the bytes are, until they are stored.
    #[serde(skip)]
    pub content: Content,
}

/// Where an attachment's bytes are while its message is recorded: in the raw message whenever
/// they can be, so a message's files take no memory of their own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Content {
    /// These bytes of the raw message, as they are (no transfer encoding to undo).
    Raw(Range<usize>),
    /// These bytes of the raw message, base64: [`base64_decode`] gives the file.
    Base64(Range<usize>),
    /// Decoded already (quoted-printable, or inside a forwarded message that was itself
    /// encoded).
    Decoded(Vec<u8>),
    /// Not held: stored already, or never needed.
    #[default]
    Released,
}

impl Attachment {
    /// Write the file's bytes to `out`, given the raw message it was parsed from. An error
    /// once released, or when the raw message is not the one it was parsed from.
    pub fn write_to(&self, raw: &[u8], out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let gone = || std::io::Error::other("the attachment's bytes are not held");
        match &self.content {
            Content::Raw(r) => out.write_all(raw.get(r.clone()).ok_or_else(gone)?),
            Content::Base64(r) => {
                let mut failed = None;
                let decoded =
                    base64_decode(raw.get(r.clone()).ok_or_else(gone)?, &mut |chunk| match out
                        .write_all(chunk)
                    {
                        Ok(()) => true,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    });
                match (failed, decoded) {
                    (Some(e), _) => Err(e),
                    (None, Some(_)) => Ok(()),
                    (None, None) => Err(std::io::Error::other("not base64")),
                }
            }
            Content::Decoded(v) => out.write_all(v),
            Content::Released => Err(gone()),
        }
    }

    /// The file's bytes in a vector of their own; None once released.
    pub fn to_vec(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size);
        self.write_to(raw, &mut out).ok().map(|()| out)
    }
}

/// What each byte is in base64: its value (0-63), or one of these.
const B64_SKIP: u8 = 0xFE;
const B64_END: u8 = 0xFD;
const B64_BAD: u8 = 0xFF;

const B64: [u8; 256] = {
    let mut t = [B64_BAD; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t[b' ' as usize] = B64_SKIP;
    t[b'\t' as usize] = B64_SKIP;
    t[b'\r' as usize] = B64_SKIP;
    t[b'\n' as usize] = B64_SKIP;
    t[b'=' as usize] = B64_END;
    t
};

/// Base64 as MIME writes it (RFC 2045 §6.8): the alphabet in groups of four, line breaks and
/// blanks between them, `=` padding a last group. Decoded as mail-parser decodes a base64
/// part, so that the two agree byte for byte: a group cut short by `=` gives what it holds
/// (and decoding goes on after it), a group cut short by the end gives nothing. Hands the
/// bytes to `emit` some kilobytes at a time (stopping when it says false) and returns how many
/// there were; None at a character that is no base64, or when `emit` stopped it.
pub fn base64_decode(input: &[u8], emit: &mut dyn FnMut(&[u8]) -> bool) -> Option<usize> {
    const CHUNK: usize = 48 * 1024;
    let mut buf = Vec::with_capacity(CHUNK.min(input.len() / 4 * 3 + 3));
    let mut total = 0usize;
    let (mut group, mut have) = (0u32, 0u8);
    let mut rest = input;
    loop {
        // Whole groups of four, as most of the input is.
        if have == 0 {
            while let [a, b, c, d, tail @ ..] = rest {
                let (a, b, c, d) = (
                    B64[*a as usize],
                    B64[*b as usize],
                    B64[*c as usize],
                    B64[*d as usize],
                );
                if (a | b | c | d) >= 64 {
                    break;
                }
                let word = (u32::from(a) << 18)
                    | (u32::from(b) << 12)
                    | (u32::from(c) << 6)
                    | u32::from(d);
                buf.extend_from_slice(&word.to_be_bytes()[1..]);
                rest = tail;
                if buf.len() >= CHUNK {
                    total += buf.len();
                    if !emit(&buf) {
                        return None;
                    }
                    buf.clear();
                }
            }
        }
        // One character at a time across a line break, a blank or the end.
        let Some((&c, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        match B64[c as usize] {
            B64_SKIP => {}
            B64_END => {
                match have {
                    1 => buf.push((group << 2) as u8),
                    2 => buf.push((group >> 4) as u8),
                    3 => buf.extend_from_slice(&[(group >> 10) as u8, (group >> 2) as u8]),
                    _ => {}
                }
                (group, have) = (0, 0);
            }
            B64_BAD => return None,
            v => {
                group = (group << 6) | u32::from(v);
                have += 1;
                if have == 4 {
                    buf.extend_from_slice(&group.to_be_bytes()[1..]);
                    (group, have) = (0, 0);
                }
            }
        }
    }
    total += buf.len();
    (buf.is_empty() || emit(&buf)).then_some(total)
}

/// Whether `input`, base64, is `bytes`: checked piece by piece, without decoding it whole.
pub fn base64_is(input: &[u8], bytes: &[u8]) -> bool {
    let mut at = 0usize;
    let decoded = base64_decode(input, &mut |chunk| {
        let same = bytes.get(at..at + chunk.len()) == Some(chunk);
        at += chunk.len();
        same
    });
    decoded == Some(bytes.len())
}

/// A file name safe to show and to save under, from the name a mail client wrote: only its
/// last path component (RFC 6266 §4.3: `../../etc/passwd` is `passwd`), without control or
/// bidirectional-override characters (which can make `exe.pdf` read as `fdp.exe`), leading
/// dots or surrounding blanks and dots, at most [`MAX_NAME`] bytes with its extension kept.
/// A missing or empty name becomes `attachment` with an extension for its type
/// (`attachment.pdf`; a forwarded message is `forwarded.eml`).
pub fn file_name(name: Option<&str>, content_type: &str) -> String {
    let last = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cleaned = cleaned
        .trim_matches(|c: char| c.is_whitespace() || c == '.')
        .to_string();
    let base = if cleaned.is_empty() {
        default_name(content_type)
    } else {
        cleaned
    };
    let base = if content_type == "message/rfc822" && !has_extension(&base, "eml") {
        format!("{base}.eml")
    } else {
        base
    };
    shorten(&base, MAX_NAME)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn has_extension(name: &str, ext: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext))
}

fn default_name(content_type: &str) -> String {
    if content_type == "message/rfc822" {
        return "forwarded.eml".into();
    }
    let ext = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "image/tiff" => "tif",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/csv" => "csv",
        "text/calendar" => "ics",
        "application/zip" => "zip",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        _ => return "attachment".into(),
    };
    format!("attachment.{ext}")
}

/// `name` cut to `max` bytes at a character boundary, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 10)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let mut end = max.saturating_sub(ext.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ext}", name.get(..end).unwrap_or_default())
}

/// Which files one mail carries, under `cap` bytes in all: in order, each that still fits
/// goes (a large file that does not is listed instead, and smaller ones after it may still
/// go). True for each file carried.
pub fn fit(sizes: &[u64], cap: u64) -> Vec<bool> {
    let mut used: u64 = 0;
    sizes
        .iter()
        .map(|&s| match used.checked_add(s) {
            Some(total) if total <= cap => {
                used = total;
                true
            }
            _ => false,
        })
        .collect()
}

/// A size for people: `812 B`, `2.5 KB`, `210 KB`, `3.4 MB` (decimal units, as `attach_max`
/// is written).
pub fn human_size(bytes: u64) -> String {
    const KB: u64 = 1000;
    const MB: u64 = 1000 * KB;
    const GB: u64 = 1000 * MB;
    match bytes {
        b if b < KB => format!("{b} B"),
        b if b < 10 * KB => format!("{:.1} KB", b as f64 / KB as f64),
        b if b < MB => format!("{} KB", (b + KB / 2) / KB),
        b if b < 10 * MB => format!("{:.1} MB", b as f64 / MB as f64),
        b if b < GB => format!("{} MB", (b + MB / 2) / MB),
        b => format!("{:.1} GB", b as f64 / GB as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_only_a_name() {
        assert_eq!(file_name(Some("../../etc/passwd"), "text/plain"), "passwd");
        assert_eq!(
            file_name(Some("C:\\Users\\omar\\invoice.pdf"), "application/pdf"),
            "invoice.pdf"
        );
        assert_eq!(file_name(Some("/"), "application/pdf"), "attachment.pdf");
        assert_eq!(file_name(Some(".."), "image/png"), "attachment.png");
        assert_eq!(file_name(Some(".bashrc"), "text/plain"), "bashrc");
        assert_eq!(file_name(Some("  report.pdf. "), "x/y"), "report.pdf");
    }

    #[test]
    fn control_and_bidi_override_characters_are_dropped() {
        assert_eq!(
            file_name(Some("invoice\u{202E}fdp.exe"), "application/pdf"),
            "invoicefdp.exe"
        );
        assert_eq!(file_name(Some("a\r\nb\tc.txt"), "text/plain"), "abc.txt");
        assert_eq!(
            file_name(Some("فاتورة \u{200F}نوفمبر.pdf"), "application/pdf"),
            "فاتورة نوفمبر.pdf"
        );
    }

    #[test]
    fn unnamed_files_get_a_name_for_their_type() {
        assert_eq!(file_name(None, "application/pdf"), "attachment.pdf");
        assert_eq!(file_name(None, "image/jpeg"), "attachment.jpg");
        assert_eq!(
            file_name(None, "text/csv; charset=windows-1256"),
            "attachment.csv"
        );
        assert_eq!(file_name(Some(""), "application/x-what"), "attachment");
        assert_eq!(file_name(None, "message/rfc822"), "forwarded.eml");
        assert_eq!(
            file_name(Some("Re: the lease"), "message/rfc822"),
            "Re: the lease.eml"
        );
        assert_eq!(file_name(Some("orig.EML"), "message/rfc822"), "orig.EML");
    }

    #[test]
    fn long_names_are_cut_at_a_character_keeping_the_extension() {
        let long = format!("{}.pdf", "ف".repeat(300));
        let cut = file_name(Some(&long), "application/pdf");
        assert!(cut.len() <= MAX_NAME, "{}", cut.len());
        assert!(cut.ends_with("ف.pdf"), "{cut}");
        let no_ext = "x".repeat(400);
        assert_eq!(file_name(Some(&no_ext), "a/b").len(), MAX_NAME);
    }

    #[test]
    fn files_fit_in_order_and_a_large_one_is_skipped_not_a_wall() {
        assert_eq!(fit(&[], 10), Vec::<bool>::new());
        assert_eq!(fit(&[4, 4, 4], 10), [true, true, false]);
        assert_eq!(fit(&[4, 30, 6], 10), [true, false, true]);
        assert_eq!(fit(&[10], 10), [true]);
        assert_eq!(fit(&[11], 10), [false]);
        assert_eq!(fit(&[0, 0], 0), [true, true]);
        assert_eq!(fit(&[u64::MAX, 1], u64::MAX), [true, false]);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(2500), "2.5 KB");
        assert_eq!(human_size(210_400), "210 KB");
        assert_eq!(human_size(3_400_000), "3.4 MB");
        assert_eq!(human_size(30_000_000), "30 MB");
        assert_eq!(human_size(2_500_000_000), "2.5 GB");
    }

    #[test]
    fn bytes_come_from_the_raw_message_or_the_decoded_copy() {
        let raw = b"0123456789 aGVsbG8=\r\n*";
        let mut a = Attachment {
            name: None,
            filename: "a".into(),
            content_type: "text/plain".into(),
            size: 3,
            sha256: String::new(),
            content: Content::Raw(2..5),
        };
        assert_eq!(a.to_vec(raw), Some(b"234".to_vec()));
        a.content = Content::Raw(8..40);
        assert_eq!(a.to_vec(raw), None);
        a.content = Content::Base64(11..21);
        assert_eq!(a.to_vec(raw), Some(b"hello".to_vec()));
        a.content = Content::Base64(21..22);
        assert_eq!(a.to_vec(raw), None, "not base64");
        a.content = Content::Decoded(b"xyz".to_vec());
        assert_eq!(a.to_vec(raw), Some(b"xyz".to_vec()));
        a.content = Content::Released;
        assert_eq!(a.to_vec(raw), None);
    }

    fn decode_all(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        base64_decode(input, &mut |c| {
            out.extend_from_slice(c);
            true
        })
        .map(|n| {
            assert_eq!(n, out.len());
            out
        })
    }

    #[test]
    fn base64_as_mime_writes_it() {
        use base64::Engine as _;
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let mime: Vec<u8> = text
            .as_bytes()
            .chunks(76)
            .flat_map(|l| l.iter().copied().chain(*b"\r\n"))
            .collect();
        assert_eq!(decode_all(&mime), Some(bytes.clone()));
        assert!(base64_is(&mime, &bytes));
        let mut other = bytes.clone();
        other[15_000] ^= 1;
        assert!(!base64_is(&mime, &other));
        assert!(!base64_is(&mime, &bytes[..19_999]));
        for (input, want) in [
            (&b"aGVsbG8="[..], &b"hello"[..]),
            (b"aGVs bG8=\r\n", b"hello"),
            (b"", b""),
            (b"aA==", b"h"),
            // As mail-parser reads them: on after `=`, nothing from a group the end cuts.
            (b"aGk=aGk=", b"hihi"),
            (b"aGVsbG8", b"hel"),
        ] {
            assert_eq!(decode_all(input).as_deref(), Some(want), "{input:?}");
        }
        assert_eq!(decode_all(b"aGV*bG8="), None);
        // A writer that stops it.
        assert_eq!(base64_decode(&mime, &mut |_| false), None);
    }
}
