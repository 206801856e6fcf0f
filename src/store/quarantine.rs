//! What quarantined mail keeps of its bytes, and for how long: the first 256 KiB of each
//! message; of stranger mail, its header block always and more only within a daily budget
//! (a flood of forged mail does not fill the disk); and no bytes at all after
//! `policy.quarantine_keep`, while the record stays.

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

/// The most of a quarantined message's raw bytes kept.
pub const KEPT: usize = 256 << 10;

/// The most of a message's header block kept when its body is not.
pub const HEADERS_KEPT: usize = 64 << 10;

/// The raw bytes of stranger mail kept beyond its headers, per UTC day, for all strangers.
pub const STRANGERS_PER_DAY: u64 = 16 << 20;

/// The first [`KEPT`] bytes of `raw`.
pub fn capped(raw: &[u8]) -> &[u8] {
    raw.get(..KEPT).unwrap_or(raw)
}

/// The header block of `raw` (up to and with the blank line that ends it), at most
/// [`HEADERS_KEPT`] bytes.
pub fn headers(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .take(HEADERS_KEPT)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| {
            raw.windows(2)
                .take(HEADERS_KEPT)
                .position(|w| w == b"\n\n")
                .map(|at| at + 2)
        })
        .unwrap_or(HEADERS_KEPT);
    raw.get(..end.min(HEADERS_KEPT)).unwrap_or(raw)
}

/// What to keep of a stranger's message (`unknown-sender`, `untrusted`) received at `now`:
/// its first [`KEPT`] bytes while today's strangers stay within [`STRANGERS_PER_DAY`], else
/// its headers. Counts what it keeps, in the caller's transaction.
pub fn stranger<'r>(conn: &Connection, raw: &'r [u8], now: DateTime<Utc>) -> Result<&'r [u8]> {
    let day = now.timestamp().div_euclid(86_400);
    let used = crate::store::meta_get(conn, "stranger_bytes")?
        .and_then(|v| {
            let (d, bytes) = v.split_once(' ')?;
            (d.parse::<i64>().ok()? == day).then(|| bytes.parse::<u64>().ok())?
        })
        .unwrap_or(0);
    let whole = capped(raw);
    let kept = if used.saturating_add(whole.len() as u64) <= STRANGERS_PER_DAY {
        whole
    } else {
        headers(raw)
    };
    let used = used.saturating_add(kept.len() as u64);
    crate::store::meta_set(conn, "stranger_bytes", &format!("{day} {used}"))?;
    Ok(kept)
}

/// Drop the raw bytes of mail quarantined before `now - keep`; the records stay. How many
/// messages lost their bytes.
pub fn purge(conn: &Connection, keep: std::time::Duration, now: DateTime<Utc>) -> Result<usize> {
    let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let before = now.timestamp().saturating_sub(keep);
    conn.execute(
        "UPDATE quarantine SET raw = NULL WHERE raw IS NOT NULL AND at < ?1",
        params![before],
    )
    .context("Cannot purge the quarantine's old bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_end_at_the_blank_line_and_are_bounded() {
        assert_eq!(
            headers(b"From: a\r\nTo: b\r\n\r\nbody"),
            b"From: a\r\nTo: b\r\n\r\n"
        );
        assert_eq!(headers(b"From: a\n\nbody"), b"From: a\n\n");
        let endless = vec![b'x'; 300_000];
        assert_eq!(headers(&endless).len(), HEADERS_KEPT);
        assert_eq!(capped(&endless).len(), KEPT);
        assert_eq!(capped(b"short"), b"short");
    }
}
