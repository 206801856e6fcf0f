//! Files between the owner and the VA through the daemon, against real Postfix and Dovecot:
//! each mail fetched from its recipient's mailbox over IMAP and read as a mail client reads
//! it.

use super::{files_in, noise, sha, text_of};
use crate::support::config::ConfigBuilder;
use crate::support::daemon::{
    eventually, header, mail_within, request_with_files, tasks, with_files, File, World,
};
use crate::support::servers::{mailserver, send_smtp};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PDF: &str = "application/pdf";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn subject_has(text: &'static str) -> impl Fn(&[u8]) -> bool {
    move |m: &[u8]| header(m, "Subject").is_some_and(|s| s.contains(text))
}

/// `musaid --config CONFIG ARGS…`, as the user runs it beside the daemon: its stdout, after
/// checking that it succeeded.
fn musaid(config: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_musaid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MUSAID_CONFIG")
        .output()
        .expect("run musaid");
    assert!(
        out.status.success(),
        "musaid {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The attachments of `tasks show ID --json`: (index, filename, sha256, from).
fn listed(config: &Path, id: i64) -> Vec<(i64, String, String, String)> {
    let show: serde_json::Value = serde_json::from_slice(&musaid(
        config,
        &["tasks", "show", &id.to_string(), "--json"],
    ))
    .expect("json");
    show["attachments"]
        .as_array()
        .expect("attachments")
        .iter()
        .map(|a| {
            (
                a["index"].as_i64().unwrap_or_default(),
                a["filename"].as_str().unwrap_or_default().to_string(),
                a["sha256"].as_str().unwrap_or_default().to_string(),
                a["from"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The world's config, also written where the command line reads it.
fn desk(
    world: &World<'_>,
    change: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> (ConfigBuilder, PathBuf) {
    let config = change(world.config());
    let path = config.write(&world.dir.path().join("musaid.toml"));
    (config, path)
}

/// A reply from `from` in the thread of `to_mail` (In-Reply-To its Message-ID), with `files`.
fn reply(world: &World<'_>, from: &str, to_mail: &[u8], n: u32, body: &str, files: &[File<'_>]) {
    let mid = header(to_mail, "Message-ID").expect("a Message-ID");
    let subject = header(to_mail, "Subject").unwrap_or_default();
    let head = format!(
        "From: <{from}>\r\nTo: <{inbox}>\r\nSubject: Re: {subject}\r\nIn-Reply-To: {mid}\r\n\
         References: {mid}\r\nMessage-ID: <reply.{n}.{pid}.{t}@client.example>\r\n",
        inbox = world.people.inbox,
        pid = std::process::id(),
        t = chrono::Utc::now().timestamp_micros(),
    );
    send_smtp(from, &world.people.inbox, &with_files(&head, body, files)).expect("smtp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwards_pdf_original_and_spreadsheet_reach_the_va_byte_for_byte() {
    let world = World::new(mailserver(), "fwdfiles");
    let (server, people) = (world.server, &world.people);
    let (config, cli) = desk(&world, |c| c);
    let d = world.run(&config).await;

    let pdf = noise(180_000, 1);
    let sheet = noise(9_000, 2);
    // The supplier's mail, attached whole to the owner's forward: it carries the spreadsheet.
    let original = with_files(
        &format!(
            "From: Linda <linda@supplier.example>\r\nTo: <{}>\r\nSubject: Invoice 114\r\n\
             Message-ID: <inv114.{}@supplier.example>\r\n",
            people.owner,
            std::process::id()
        ),
        "The Q4 figures are in the sheet.",
        &[File {
            name: "q4.xlsx",
            content_type: XLSX,
            bytes: &sheet,
        }],
    );
    let body = "Please pay it by Thursday.\n\n---------- Forwarded message ---------\n\
                From: Linda <linda@supplier.example>\nSubject: Invoice 114\n\n\
                The Q4 figures are in the sheet.\n";
    let (_, forward) = request_with_files(
        &people.owner,
        &people.inbox,
        "Fwd: Invoice 114",
        body,
        &[
            File {
                name: "invoice-114.pdf",
                content_type: PDF,
                bytes: &pdf,
            },
            File {
                name: "",
                content_type: "message/rfc822",
                bytes: &original,
            },
        ],
    );
    send_smtp(&people.owner, &people.inbox, &forward).expect("smtp");
    let notify = mail_within(
        server,
        &people.va,
        Duration::from_secs(10),
        subject_has("New task"),
    )
    .await
    .pop()
    .expect("the VA got the notification");
    let stored = listed(&cli, 1);
    d.stop().await;

    let got = files_in(&notify);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["invoice-114.pdf", "Invoice 114.eml", "q4.xlsx"]);
    let want = [sha(&pdf), sha(&original), sha(&sheet)];
    let shas: Vec<String> = got.iter().map(|(_, b)| sha(b)).collect();
    assert_eq!(shas, want, "byte for byte");
    let text = text_of(&notify);
    assert!(
        text.contains("invoice-114.pdf (180 KB): attached"),
        "{text}"
    );
    // The task lists them with the same hashes, from the owner.
    let s = |v: &str| v.to_string();
    assert_eq!(
        stored,
        [
            (
                1,
                s("invoice-114.pdf"),
                want[0].clone(),
                people.owner.clone()
            ),
            (
                2,
                s("Invoice 114.eml"),
                want[1].clone(),
                people.owner.clone()
            ),
            (3, s("q4.xlsx"), want[2].clone(), people.owner.clone()),
        ]
    );
}

/// Every path under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vas_done_reply_with_a_file_reaches_the_owner_and_its_path_is_only_a_name() {
    let world = World::new(mailserver(), "donefile");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let (config, cli) = desk(&world, |c| c);
    let d = world.run(&config).await;
    world.request("Get the receipt from the bank", "Please.");
    let notify = mail_within(
        server,
        &people.va,
        Duration::from_secs(10),
        subject_has("New task"),
    )
    .await
    .pop()
    .expect("the VA got the notification");
    let receipt = noise(40_000, 3);
    reply(
        &world,
        &people.va,
        &notify,
        1,
        "Here is the receipt.\n#done",
        &[File {
            name: "../../etc/passwd",
            content_type: PDF,
            bytes: &receipt,
        }],
    );
    let done = mail_within(
        server,
        &people.owner,
        Duration::from_secs(10),
        subject_has("Done"),
    )
    .await
    .pop()
    .expect("the owner got the done notice");
    let stored = listed(&cli, 1);
    d.stop().await;

    assert_eq!(
        files_in(&done),
        [("passwd".to_string(), receipt.clone())],
        "the VA's file, byte for byte, under its last path component"
    );
    assert!(text_of(&done).contains("Here is the receipt."));
    assert_eq!(
        stored,
        [(1, "passwd".to_string(), sha(&receipt), people.va.clone())]
    );
    // Stored by its hash, and nowhere else: no `etc`, no `passwd` anywhere under the test's
    // directory.
    let on_disk: Vec<String> = std::fs::read_dir(state.join("attachments"))
        .expect("attachments directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, [sha(&receipt)]);
    let stray: Vec<PathBuf> = walk(world.dir.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "passwd" || n == "etc"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_files_go_to_the_va_and_send_takes_the_vas_to_the_owner_once() {
    let world = World::new(mailserver(), "sendfile");
    let (server, people, state) = (world.server, &world.people, world.state.as_path());
    let (config, cli) = desk(&world, |c| c);
    let d = world.run(&config).await;
    world.request("Renew the lease", "The landlord wants it signed this week.");
    let ack = mail_within(
        server,
        &people.owner,
        Duration::from_secs(10),
        subject_has("Received"),
    )
    .await
    .pop()
    .expect("the owner got the acknowledgement");
    // The owner replies to the acknowledgement with the lease: it reaches the VA.
    let lease = noise(25_000, 4);
    reply(
        &world,
        &people.owner,
        &ack,
        1,
        "Here is the lease.",
        &[File {
            name: "lease.pdf",
            content_type: PDF,
            bytes: &lease,
        }],
    );
    let followup = mail_within(
        server,
        &people.va,
        Duration::from_secs(10),
        subject_has("Follow-up"),
    )
    .await
    .pop()
    .expect("the VA got the owner's follow-up");
    assert_eq!(
        files_in(&followup),
        [("lease.pdf".to_string(), lease.clone())]
    );

    // The VA sends a draft back with #send: the owner gets it (not the lease), the task stays.
    let draft = noise(12_000, 5);
    reply(
        &world,
        &people.va,
        &followup,
        2,
        "The draft, for your signature.\n#send",
        &[File {
            name: "مسودة العقد.docx",
            content_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            bytes: &draft,
        }],
    );
    let sent = mail_within(
        server,
        &people.owner,
        Duration::from_secs(10),
        subject_has("Follow-up"),
    )
    .await
    .pop()
    .expect("the owner got the VA's #send");
    let open = tasks(state).first().map(|t| t.status.as_str().to_string());
    assert_eq!(
        files_in(&sent),
        [("مسودة العقد.docx".to_string(), draft.clone())]
    );
    assert!(text_of(&sent).contains("The draft, for your signature."));
    assert_eq!(
        open.as_deref(),
        Some("open"),
        "#send does not close the task"
    );

    // #done afterwards: the draft went already, so the done notice carries nothing.
    reply(&world, &people.va, &followup, 3, "#done", &[]);
    let done = mail_within(
        server,
        &people.owner,
        Duration::from_secs(10),
        subject_has("Done"),
    )
    .await
    .pop()
    .expect("the done notice");
    let closed = eventually(Duration::from_secs(5), || {
        tasks(state)
            .first()
            .is_some_and(|t| t.status.as_str() == "done")
    })
    .await;
    let stored = listed(&cli, 1);
    d.stop().await;
    assert!(closed);
    assert!(files_in(&done).is_empty(), "nothing sent twice");
    let names: Vec<&str> = stored.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(names, ["lease.pdf", "مسودة العقد.docx"]);
}
