//! The raw reference for `scripts/bench`: fetch every body of the configured mailbox the way
//! the daemon does (`UID SEARCH`, then `UID FETCH … (UID INTERNALDATE BODY.PEEK[])` in
//! batches of `musaid::imap::FETCH_BATCH`) with musaid's own IMAP layer, and nothing else: no
//! parsing, no database.
//!
//! ```sh
//! cargo run --release --example imap_fetch -- musaid.toml
//! ```
//!
//! Prints one line: `messages=N bytes=B seconds=S`.

use anyhow::{Context as _, Result};
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("Usage: imap_fetch CONFIG")?;
    let config = musaid::config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = &config.imap;

    let start = Instant::now();
    let mut s = musaid::imap::connect(cfg).await?;
    s.select(&cfg.mailbox).await?;
    let uids = s.uid_search_after(0).await?;
    let (mut messages, mut bytes) = (0usize, 0usize);
    for chunk in uids.chunks(musaid::imap::FETCH_BATCH) {
        for (_, body) in s.fetch_bodies(chunk).await? {
            messages += 1;
            bytes += body.len();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = s.logout().await;
    println!("messages={messages} bytes={bytes} seconds={seconds:.3}");
    Ok(())
}
