//! A file over `attach_max`: stored and listed with the task, named in the VA's notification
//! with the command that fetches it, and fetched byte for byte by that command.

use super::{files_in, noise, sha, text_of};
use crate::support::daemon::{header, mail_within, request_with_files, File, World};
use crate::support::servers::{mailserver, send_smtp};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_mb_file_is_stored_listed_not_mailed_and_fetchable() {
    let world = World::new(mailserver(), "bigfile");
    let (server, people) = (world.server, &world.people);
    let config = world.config().policy("max_message_size", "50MB");
    let cli = config.write(&world.dir.path().join("musaid.toml"));
    let d = world.run(&config).await;

    let scan = noise(30_000_000, 6);
    let small = noise(3_000, 7);
    let (_, raw) = request_with_files(
        &people.owner,
        &people.inbox,
        "File the scanned contract",
        "The whole contract, scanned.",
        &[
            File {
                name: "contract-scan.tif",
                content_type: "image/tiff",
                bytes: &scan,
            },
            File {
                name: "cover.txt",
                content_type: "application/octet-stream",
                bytes: &small,
            },
        ],
    );
    assert!(raw.len() > 40_000_000, "over 40 MB as mail");
    send_smtp(&people.owner, &people.inbox, &raw).expect("smtp");
    let is_notify = |m: &[u8]| header(m, "Subject").is_some_and(|s| s.contains("New task"));
    let notify = mail_within(server, &people.va, Duration::from_secs(60), is_notify)
        .await
        .pop()
        .expect("the VA got the notification");
    d.stop().await;

    // Not mailed: named with its size and the command, and the small file still carried.
    assert!(notify.len() < 1_000_000, "{} bytes", notify.len());
    assert_eq!(
        files_in(&notify),
        [("cover.txt".to_string(), small.clone())]
    );
    let text = text_of(&notify);
    assert!(
        text.contains(
            "contract-scan.tif (30 MB): not attached (over 10 MB a mail); fetch it with: \
             musaid tasks attachment 1 1"
        ),
        "{text:.4000}"
    );

    // Listed, and fetched byte for byte.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&cli)
            .args(args)
            .env_remove("MUSAID_CONFIG")
            .output()
            .expect("run musaid")
    };
    let show = run(&["tasks", "show", "1"]);
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        shown.contains("contract-scan.tif") && shown.contains("30 MB"),
        "{shown}"
    );
    let out = world.dir.path().join("fetched.tif");
    let fetched = run(&[
        "tasks",
        "attachment",
        "1",
        "1",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let bytes = std::fs::read(&out).expect("the fetched file");
    assert_eq!(bytes.len(), scan.len());
    assert_eq!(sha(&bytes), sha(&scan));
}
