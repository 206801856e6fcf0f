//! Drain rate of the outbox sender: queue N notifications to one address and hand them to
//! `[smtp]` the way the daemon's sender does (`musaid::smtp::send_due`), then print how fast
//! they went.
//!
//! ```sh
//! cargo run --release --example outbox_drain -- musaid.toml 300 someone@example.test
//! ```
//!
//! Prints one line: `mails=N seconds=S per_second=R`. Use a scratch `state_dir`: the rows
//! are queued in its database.

use anyhow::{Context as _, Result};
use chrono::Utc;
use musaid::outbox::{self, Draft, Kind};
use musaid::store::Store;
use musaid::templates::Rendered;
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let usage = "Usage: outbox_drain CONFIG COUNT RECIPIENT";
    let mut args = std::env::args().skip(1);
    let path: PathBuf = args.next().context(usage)?.into();
    let count: usize = args.next().context(usage)?.parse().context(usage)?;
    let recipient = args.next().context(usage)?;
    let config = musaid::config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let smtp = config.smtp.as_ref().context("The config has no [smtp]")?;

    let mut store = Store::open(&config.daemon.state_dir)?;
    let now = Utc::now();
    let tx = store.transaction()?;
    for i in 0..count {
        let draft = Draft {
            kind: Kind::Notify,
            task_id: None,
            contract: None,
            recipient: recipient.clone(),
            rendered: Rendered {
                subject: format!("outbox_drain {i}"),
                text: format!("Mail {i} of {count}.\n"),
                html: format!("<p>Mail {i} of {count}.</p>"),
            },
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            windowed: false,
            not_before: now,
        };
        outbox::enqueue(&tx, &config, &draft, now)?;
    }
    tx.commit()?;

    let mut sender = musaid::smtp::Sender::new(smtp)?;
    let mut unrecorded = musaid::smtp::Unrecorded::default();
    let start = Instant::now();
    let mut mails = 0;
    loop {
        let sent =
            musaid::smtp::send_due(&mut store, &config, &mut sender, &Utc::now, &mut unrecorded)
                .await?;
        if sent == 0 {
            break;
        }
        mails += sent;
    }
    let seconds = start.elapsed().as_secs_f64();
    sender.quit().await;
    println!(
        "mails={mails} seconds={seconds:.3} per_second={:.1}",
        mails as f64 / seconds
    );
    Ok(())
}
