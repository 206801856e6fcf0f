//! Logs through `tracing` to standard error: readable text on a terminal, syslog-prefixed
//! lines without timestamps under systemd's journal, or JSON for log shippers.
//!
//! Only musaid's own events are logged: the protocol crates log through `log`, which is not
//! bridged (no `tracing-log`), so no IMAP or SMTP exchange (and no password in it) can reach
//! the output, even at `trace`.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::str::FromStr;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Journal lines when `$JOURNAL_STREAM` is set (systemd), else text with timestamps.
    Auto,
    /// `TIMESTAMP LEVEL message key=value`.
    Text,
    /// `<6>message key=value`: sd-daemon(3) priority prefixes, no timestamps (the journal
    /// adds its own).
    Journal,
    /// One JSON object per line, with timestamp, level, fields and spans.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LogFormat::Auto),
            "text" => Ok(LogFormat::Text),
            "journal" | "journald" => Ok(LogFormat::Journal),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log format `{other}`: use text, journal, json or auto"
            )),
        }
    }
}

/// What `musaid run` was asked for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub format: Option<LogFormat>,
    /// A level (`debug`) or a full filter (`musaid=debug,info`); wins over `RUST_LOG`.
    pub level: Option<String>,
}

impl LogOptions {
    /// The format to use, given whether `$JOURNAL_STREAM` is set.
    pub fn effective_format(&self, journal_stream: bool) -> LogFormat {
        match self.format.unwrap_or(LogFormat::Auto) {
            LogFormat::Auto if journal_stream => LogFormat::Journal,
            LogFormat::Auto => LogFormat::Text,
            f => f,
        }
    }

    /// `--log-level`, else `RUST_LOG`, else `info`.
    pub fn filter(&self, rust_log: Option<&str>) -> Result<EnvFilter, String> {
        let spec = self
            .level
            .as_deref()
            .or(rust_log)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("info");
        EnvFilter::builder()
            .parse(spec)
            .map_err(|e| format!("log level `{spec}`: {e}; use error, warn, info, debug or trace"))
    }
}

/// Install the subscriber for these options. Errors name a bad level or filter.
pub fn try_init(opts: &LogOptions) -> Result<(), String> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = opts.filter(rust_log.as_deref())?;
    let journal = std::env::var_os("JOURNAL_STREAM").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match opts.effective_format(journal) {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Journal => builder
            .with_ansi(false)
            .event_format(JournalFormat)
            .try_init(),
        LogFormat::Text | LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
    // A subscriber already installed (tests, a second call) is not an error worth stopping for.
    let _ = result;
    Ok(())
}

/// Text that came from outside (a Message-ID, a server's answer, a parse error quoting a
/// header), for a log field: control characters are escaped (`\r`, `\n`, `\u{1b}`), so a
/// hostile header cannot forge log lines or drive a terminal (docs/security.md).
pub struct Untrusted<'a>(pub &'a str);

impl std::fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(char::is_control) {
            f.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_default())?;
            rest = &rest[i + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// The syslog priority of a level, as sd-daemon(3) prefixes it.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Prefix every line of `text` with `<N>`: the journal reads each line as its own entry, so
/// a multi-line message keeps its priority on every line.
pub fn journal_lines(priority: u8, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.trim_end_matches('\n').split('\n') {
        let _ = writeln!(out, "<{priority}>{line}");
    }
    out
}

/// `<6>span{field=1}: message key=value`, for stderr connected to the journal.
pub struct JournalFormat;

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut text = String::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                text.push_str(span.name());
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>().filter(|f| !f.is_empty()) {
                    let _ = write!(text, "{{{fields}}}");
                }
                text.push_str(": ");
            }
        }
        ctx.field_format()
            .format_fields(format::Writer::new(&mut text), event)?;
        writer.write_str(&journal_lines(priority(*event.metadata().level()), &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured(buf: &Buf) -> String {
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn journal_lines_carry_the_priority_and_no_timestamp() {
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("trace"))
            .with_ansi(false)
            .with_writer(move || w.clone())
            .event_format(JournalFormat)
            .finish();
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("message", uid = 7);
            let _g = span.enter();
            tracing::info!(decision = "create_task", "recorded");
            tracing::warn!("IMAP session failed");
            tracing::error!("two\nlines");
            tracing::debug!("detail");
            tracing::trace!("more detail");
        });
        let out = captured(&buf);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "<6>message{uid=7}: recorded decision=\"create_task\"",
                "<4>message{uid=7}: IMAP session failed",
                "<3>message{uid=7}: two",
                "<3>lines",
                "<7>message{uid=7}: detail",
                "<7>message{uid=7}: more detail",
            ],
            "{out}"
        );
    }

    #[test]
    fn untrusted_text_cannot_forge_a_log_line() {
        let id = "abc@x\r\n<3>forged line\u{1b}[31m.example";
        assert_eq!(
            Untrusted(id).to_string(),
            "abc@x\\r\\n<3>forged line\\u{1b}[31m.example"
        );
        assert_eq!(Untrusted("نص عادي <id@x>").to_string(), "نص عادي <id@x>");
    }

    #[test]
    fn priorities_follow_sd_daemon() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
        assert_eq!(journal_lines(6, "a\n"), "<6>a\n");
    }

    #[test]
    fn format_is_journal_only_under_the_journal_unless_asked() {
        let auto = LogOptions::default();
        assert_eq!(auto.effective_format(true), LogFormat::Journal);
        assert_eq!(auto.effective_format(false), LogFormat::Text);
        let json = LogOptions {
            format: Some(LogFormat::Json),
            level: None,
        };
        assert_eq!(json.effective_format(true), LogFormat::Json);
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
    }

    #[test]
    fn level_flag_wins_over_rust_log_and_bad_ones_are_named() {
        let opts = LogOptions {
            format: None,
            level: Some("debug".into()),
        };
        assert_eq!(opts.filter(Some("trace")).unwrap().to_string(), "debug");
        let none = LogOptions::default();
        assert_eq!(none.filter(Some("warn")).unwrap().to_string(), "warn");
        assert_eq!(none.filter(None).unwrap().to_string(), "info");
        let bad = LogOptions {
            format: None,
            level: Some("loud=[".into()),
        };
        assert!(bad.filter(None).unwrap_err().contains("loud=["));
    }
}
