//! Files on the command line, without mail servers: a request with files fed by `musaid
//! ingest`, then `tasks show`, `tasks attachment` (and its errors), `status` and `backup`.

use super::{noise, sha};
use crate::support::cli::{json, musaid, Desk};
use crate::support::config::ALWAYS;
use crate::support::daemon::{request_with_files, File};

/// A desk holding task #1, made from a request with two files: (desk, pdf, png).
fn desk_with_files() -> (Desk, Vec<u8>, Vec<u8>) {
    let d = Desk::new(|c| c.contract("acme", |c| c.timezone("UTC").windows(&[ALWAYS])));
    let pdf = noise(5_000, 11);
    let png = noise(700, 12);
    let (_, raw) = request_with_files(
        "boss@acme.example",
        "tasks@va.example",
        "File the invoice",
        "The invoice and the stamp.",
        &[
            File {
                name: "فاتورة.pdf",
                content_type: "application/pdf",
                bytes: &pdf,
            },
            File {
                name: "stamp.png",
                content_type: "image/png",
                bytes: &png,
            },
        ],
    );
    let file = d.dir.path().join("request.eml");
    std::fs::write(&file, raw).expect("write request");
    let out = json(&musaid(
        &d,
        &["ingest", "--json", file.to_str().expect("path")],
    ));
    assert_eq!(out[0]["decision"], "create_task", "{out}");
    (d, pdf, png)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tasks_show_lists_the_files_and_tasks_attachment_writes_them() {
    let (d, pdf, png) = desk_with_files();
    let show = json(&musaid(&d, &["tasks", "show", "1", "--json"]));
    let files = show["attachments"].as_array().expect("attachments");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["index"], 1);
    assert_eq!(files[0]["filename"], "فاتورة.pdf");
    assert_eq!(files[0]["content_type"], "application/pdf");
    assert_eq!(files[0]["size"], 5_000);
    assert_eq!(files[0]["sha256"], sha(&pdf));
    assert_eq!(files[0]["from"], "boss@acme.example");
    assert!(files[0]["at"].as_str().is_some_and(|t| t.contains('T')));
    assert_eq!(files[0]["purged_at"], serde_json::Value::Null);
    assert_eq!(files[1]["filename"], "stamp.png");

    let text = musaid(&d, &["tasks", "show", "1"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Attachments (musaid tasks attachment 1 INDEX"),
        "{text}"
    );
    assert!(
        text.contains("stamp.png") && text.contains("700 B"),
        "{text}"
    );

    // To stdout, and to a file.
    let out = musaid(&d, &["tasks", "attachment", "1", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, png);
    let path = d.dir.path().join("invoice.pdf");
    let out = musaid(
        &d,
        &[
            "tasks",
            "attachment",
            "1",
            "1",
            "--out",
            path.to_str().expect("path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).expect("written"), pdf);
    assert!(stderr(&out).contains("فاتورة.pdf"), "{}", stderr(&out));
}

#[test]
fn a_missing_task_index_or_file_is_a_clear_error() {
    let (d, _, png) = desk_with_files();
    let fails = |args: &[&str], what: &str| {
        let out = musaid(&d, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr(&out).contains(what), "{args:?}: {}", stderr(&out));
    };
    fails(&["tasks", "attachment", "9", "1"], "No task #9");
    fails(
        &["tasks", "attachment", "1", "3"],
        "Task #1 has no attachment 3: its files are numbered 1 to 2",
    );
    // A file gone from the state directory, and one changed there.
    let dir = d.dir.path().join("state/attachments");
    std::fs::remove_file(dir.join(sha(&png))).expect("remove");
    fails(&["tasks", "attachment", "1", "2"], "Cannot read");
    let entries: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
    std::fs::write(entries[0].path(), b"changed").expect("damage");
    fails(&["tasks", "attachment", "1", "1"], "is damaged");
    // Once attachments_keep has purged it, the record says so.
    let db = rusqlite::Connection::open(d.dir.path().join("state/musaid.db")).expect("db");
    db.execute(
        "UPDATE attachments SET purged_at = 1800000000 WHERE idx = 1",
        [],
    )
    .expect("purge");
    fails(
        &["tasks", "attachment", "1", "1"],
        "was purged on 2027-01-15 08:00 after the task ended (policy.attachments_keep)",
    );
}

#[test]
fn status_counts_the_files_and_backup_copies_them() {
    let (d, pdf, png) = desk_with_files();
    let status = musaid(&d, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(status["attachments"]["files"], 2);
    assert_eq!(status["attachments"]["bytes"], 5_700);

    let dest = d.dir.path().join("backup.db");
    let out = musaid(&d, &["backup", dest.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("2 attachment file(s), 5700 bytes"), "{said}");
    let copied = d.dir.path().join("backup.db.attachments");
    assert_eq!(std::fs::read(copied.join(sha(&pdf))).expect("pdf"), pdf);
    assert_eq!(std::fs::read(copied.join(sha(&png))).expect("png"), png);
}
