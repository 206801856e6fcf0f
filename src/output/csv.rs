//! CSV for spreadsheets (`musaid hours --csv`): RFC 4180 (a header, CRLF line ends, fields
//! quoted when they hold a comma, a quote or a line break, quotes doubled), UTF-8 with a byte
//! order mark, and text that a spreadsheet would run as a formula defused.
//!
//! Why the mark: Excel reads a CSV without one in the system's ANSI code page, and LibreOffice
//! Calc preselects the system's character set in its import dialog; with it, both take the file
//! as UTF-8, so Arabic subjects open as written (docs/commands.md#musaid-hours).

/// The UTF-8 byte order mark, first in the file.
pub const BOM: &str = "\u{FEFF}";

/// A text field: quoted when it must be, and with a leading `'` when it starts like a formula
/// (`=`, `+`, `-`, `@`, a tab or a carriage return), so a subject from mail cannot run in the
/// owner's spreadsheet (CSV injection).
pub fn text(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    quoted(&defused)
}

/// A field written as it is (numbers, dates), quoted only when it must be.
pub fn quoted(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One record: the fields joined by commas, ended by CRLF.
pub fn record(fields: &[String]) -> String {
    let mut line = fields.join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(text("Invoice 114"), "Invoice 114");
        assert_eq!(text("Pay, then file"), "\"Pay, then file\"");
        assert_eq!(text("The \"big\" one"), "\"The \"\"big\"\" one\"");
        assert_eq!(text("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(text("only\nLF"), "\"only\nLF\"");
        assert_eq!(text(""), "");
        // Arabic, with its own comma (not a separator), stays as written.
        assert_eq!(text("فاتورة شهر نوفمبر، عاجل"), "فاتورة شهر نوفمبر، عاجل");
    }

    #[test]
    fn text_that_starts_like_a_formula_is_defused() {
        assert_eq!(
            text("=HYPERLINK(\"http://evil.example\")"),
            "\"'=HYPERLINK(\"\"http://evil.example\"\")\""
        );
        assert_eq!(text("+1 555"), "'+1 555");
        assert_eq!(text("-15 minutes"), "'-15 minutes");
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("\tx"), "'\tx");
        // Numbers are written with `quoted`: a correction stays a negative number.
        assert_eq!(quoted("-15"), "-15");
    }

    #[test]
    fn a_record_ends_with_crlf() {
        let r = record(&[text("a"), quoted("1"), text("b,c")]);
        assert_eq!(r, "a,1,\"b,c\"\r\n");
    }
}
