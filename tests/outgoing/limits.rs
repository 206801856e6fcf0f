//! Outgoing limits: a flood of requests under a forged owner address reaches that address at
//! most `mails_per_recipient_per_hour` times in the hour; the rest waits in the outbox, which
//! says why, and goes once the hour has passed. Through the pipeline and the sender, to the
//! real Postfix.

use crate::support::daemon::{config, count, mailbox, pipeline, request, People};
use crate::support::servers::mailserver;
use anyhow::{Context as _, Result};
use chrono::Utc;
use musaid::store::record::Source;
use musaid::store::Store;
use serde_json::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_forged_requests_reach_their_sender_thirty_times_in_the_hour() -> Result<()> {
    let ms = mailserver();
    let people = People::new("flood");
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    // Anyone is an owner, and the ack cap per day is out of the way: only the hourly limit
    // stands between a forger and the address it writes in From:.
    let builder = config(ms, &people, &state)
        .contract("acme", |c| c.owners(&["*"]))
        .policy("acks_per_sender_per_day", 1000);
    let config_path = builder.write(&dir.path().join("musaid.toml"));
    let p = pipeline(&builder, dir.path());
    let cfg = &p.config;
    let mut store = Store::open(&state)?;
    let now = Utc::now();
    for i in 0..50 {
        let (_, raw) = request(
            &people.owner,
            &people.inbox,
            &format!("Forged {i}"),
            "Do it.",
        );
        let source = Source::File(format!("forged-{i}.eml"));
        p.ingest_one(&mut store, &source, &raw, Some(now), now)?;
    }
    assert_eq!(count(&state, "SELECT count(*) FROM tasks"), 50);

    let smtp = cfg.smtp.as_ref().context("no [smtp]")?;
    let mut sender = musaid::smtp::Sender::new(smtp)?;
    let mut unrecorded = musaid::smtp::Unrecorded::default();
    let sent =
        musaid::smtp::send_due(&mut store, cfg, &mut sender, &Utc::now, &mut unrecorded).await?;
    // 30 acks to the forged address, 30 notifications to the VA; 20 of each wait.
    assert_eq!(sent, 60);
    let held = |to: &str| {
        count(
            &state,
            &format!(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND recipient = '{to}' \
                 AND held = 'mails_per_recipient_per_hour'"
            ),
        )
    };
    assert_eq!(held(&people.owner), 20);
    assert_eq!(held(&people.va), 20);
    // A second round in the same hour sends nothing more.
    let again =
        musaid::smtp::send_due(&mut store, cfg, &mut sender, &Utc::now, &mut unrecorded).await?;
    assert_eq!(again, 0);

    // `musaid outbox` says why the rest waits.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
        .arg("--config")
        .arg(&config_path)
        .args(["outbox", "--json"])
        .env_remove("MUSAID_CONFIG")
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout)?;
    assert_eq!(rows.len(), 40);
    assert!(rows
        .iter()
        .all(|r| r["held"] == "mails_per_recipient_per_hour" && r["status"] == "pending"));
    let table = std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
        .arg("--config")
        .arg(&config_path)
        .arg("outbox")
        .env_remove("MUSAID_CONFIG")
        .output()?;
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("(held: per-address limit)"), "{table}");

    // The forged address's mailbox: exactly 30 mails arrive in the hour.
    let mut got = 0;
    for _ in 0..150 {
        got = mailbox(ms, &people.owner).await.len();
        if got >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got, 30, "mails at the forged address");

    // An hour later the rest goes: held, not dropped.
    let later = || Utc::now() + chrono::Duration::seconds(3601);
    let rest =
        musaid::smtp::send_due(&mut store, cfg, &mut sender, &later, &mut unrecorded).await?;
    sender.quit().await;
    assert_eq!(rest, 40);
    assert_eq!(
        count(
            &state,
            "SELECT count(*) FROM outbox WHERE status = 'sent' AND held IS NULL"
        ),
        100
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_of_references_is_not_copied_into_our_mail() -> Result<()> {
    let ms = mailserver();
    let people = People::new("refs");
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    let p = pipeline(&config(ms, &people, &state), dir.path());
    let mut store = Store::open(&state)?;
    // A request that claims a thread of 40,000 earlier messages: about 1 MB of References.
    let (id, raw) = request(&people.owner, &people.inbox, "Long thread", "Please.");
    let refs: Vec<String> = (0..40_000)
        .map(|i| format!("<earlier.{i:05}@client.example>"))
        .collect();
    let header = format!("References: {}\r\n", refs.join("\r\n "));
    assert!(header.len() > 1_000_000);
    let mut with_refs = header.into_bytes();
    with_refs.extend_from_slice(&raw);
    let now = Utc::now();
    p.ingest_one(
        &mut store,
        &Source::File("long.eml".into()),
        &with_refs,
        Some(now),
        now,
    )?;
    let mut sender = musaid::smtp::Sender::new(p.config.smtp.as_ref().context("no [smtp]")?)?;
    let mut unrecorded = musaid::smtp::Unrecorded::default();
    let sent = musaid::smtp::send_due(
        &mut store,
        &p.config,
        &mut sender,
        &Utc::now,
        &mut unrecorded,
    )
    .await?;
    sender.quit().await;
    assert_eq!(sent, 2, "the ack and the VA's notification");

    let mut acks = Vec::new();
    for _ in 0..150 {
        acks = mailbox(ms, &people.owner).await;
        if !acks.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ack = acks.first().context("no ack arrived")?;
    let got = crate::support::daemon::header(ack, "References").context("no References")?;
    let ids: Vec<&str> = got.split_whitespace().collect();
    assert_eq!(ids.len(), 10, "{got}");
    // The parser keeps the first 500 IDs of a header; of those, the newest are copied.
    assert!(ids[0].starts_with("<earlier."), "{got}");
    assert_eq!(ids[9], format!("<{id}>"));
    assert!(ack.len() < 20_000, "the ack is {} bytes", ack.len());
    Ok(())
}
