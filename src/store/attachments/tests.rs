use super::*;
use crate::mail::parse;

fn task(store: &Store, id: i64, status: &str, done_at: Option<i64>) {
    store
        .conn()
        .execute(
            "INSERT INTO tasks (id, contract, status, category, priority, requester, subject, \
             note, message_id, created_at, updated_at, done_at) \
             VALUES (?1, 'acme', ?2, 'general', 'normal', 'boss@acme.example', 's', '', ?3, 0, 0, ?4)",
            params![id, status, format!("t{id}@acme.example"), done_at],
        )
        .unwrap();
}

/// A message from `from` carrying `files` (name, bytes), base64.
fn mail(id: &str, from: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    use base64::Engine as _;
    let mut raw = format!(
        "From: {from}\r\nSubject: s\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    );
    for (name, bytes) in files {
        raw += &format!(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; \
             filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
    }
    raw += "--b--\r\n";
    raw.into_bytes()
}

fn keep_mail(store: &mut Store, files: &Files, task: i64, role: Role, raw: &[u8]) -> usize {
    let msg = parse(raw).unwrap();
    let tx = store.transaction().unwrap();
    let staged = keep(&tx, files, raw, &msg, task, role, 100).unwrap();
    files.settle(&staged).unwrap();
    tx.commit().unwrap();
    staged.len()
}

fn names_on_disk(files: &Files) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(files.dir())
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_file_is_stored_once_by_its_hash_and_read_back_checked() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::new(dir.path());
    let sha = sha256_hex(b"invoice");
    assert!(files.put(&sha, b"invoice").unwrap());
    assert!(!files.put(&sha, b"invoice").unwrap(), "stored once");
    assert_eq!(files.read(&sha).unwrap(), b"invoice");
    assert_eq!(names_on_disk(&files), std::slice::from_ref(&sha));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(files.dir()), 0o700);
    assert_eq!(mode(&files.path(&sha).unwrap()), 0o600);

    std::fs::write(files.path(&sha).unwrap(), b"invoicE").unwrap();
    let err = format!("{:#}", files.read(&sha).unwrap_err());
    assert!(err.contains("is damaged"), "{err}");
    for bad in [
        "../../etc/passwd",
        "",
        &sha.to_uppercase(),
        &format!("{sha}0"),
    ] {
        assert!(files.path(bad).is_err(), "{bad}");
    }
}

#[test]
fn files_are_numbered_per_task_across_messages_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    task(&store, 1, "open", None);
    task(&store, 2, "open", None);
    let first = mail(
        "m1@x",
        "boss@acme.example",
        &[("a.pdf", b"AAA"), ("b.png", b"BB")],
    );
    assert_eq!(keep_mail(&mut store, &files, 1, Role::Owner, &first), 2);
    let reply = mail(
        "m2@x",
        "sara@va.example",
        &[("c.txt", b"C"), ("again.pdf", b"AAA")],
    );
    assert_eq!(keep_mail(&mut store, &files, 1, Role::Va, &reply), 1);
    let other = mail("m3@x", "boss@acme.example", &[("a.pdf", b"AAA")]);
    assert_eq!(keep_mail(&mut store, &files, 2, Role::Owner, &other), 0);

    let listed: Vec<(i64, String, String, i64)> = of_task(store.conn(), 1)
        .unwrap()
        .into_iter()
        .map(|a| (a.index, a.filename, a.role, a.size))
        .collect();
    let s = |v: &str| v.to_string();
    assert_eq!(
        listed,
        [
            (1, s("a.pdf"), s("owner"), 3),
            (2, s("b.png"), s("owner"), 2),
            (3, s("c.txt"), s("va"), 1),
            (4, s("again.pdf"), s("va"), 3),
        ]
    );
    assert_eq!(of_task(store.conn(), 2).unwrap()[0].index, 1);
    let second = of_message(store.conn(), 1, "m2@x").unwrap();
    assert_eq!(second.len(), 2);
    assert_eq!(second[0].sender, "sara@va.example");
    assert_eq!(one(store.conn(), 1, 3).unwrap().unwrap().filename, "c.txt");
    assert_eq!(one(store.conn(), 1, 9).unwrap(), None);
    assert_eq!(names_on_disk(&files).len(), 3);
    assert_eq!(usage(store.conn()).unwrap(), Usage { files: 3, bytes: 6 });
}

#[test]
fn a_sweep_removes_what_no_row_names_and_what_a_crash_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    task(&store, 1, "open", None);
    keep_mail(
        &mut store,
        &files,
        1,
        Role::Owner,
        &mail("m1@x", "boss@acme.example", &[("kept.pdf", b"kept")]),
    );
    // A crash after the file was stored, before its row committed; and during a write.
    let msg_raw = mail("m2@x", "boss@acme.example", &[("lost.pdf", b"lost")]);
    let msg = parse(&msg_raw).unwrap();
    {
        let tx = store.transaction().unwrap();
        keep(&tx, &files, &msg_raw, &msg, 1, Role::Owner, 100).unwrap();
        // rolled back on drop
    }
    std::fs::write(files.dir().join(".tmp.half.1.2"), b"half").unwrap();
    std::fs::write(files.dir().join("README"), b"not ours").unwrap();
    assert_eq!(names_on_disk(&files).len(), 4);

    let swept = sweep(&mut store, &files).unwrap();
    assert_eq!(swept, Swept { files: 2, bytes: 8 });
    assert_eq!(
        names_on_disk(&files),
        [s_sha(b"kept"), "README".to_string()]
    );
    // Nothing to do the second time, and nothing at all without the directory.
    assert_eq!(sweep(&mut store, &files).unwrap(), Swept::default());
    let empty = tempfile::tempdir().unwrap();
    let mut other = Store::open(empty.path()).unwrap();
    assert_eq!(
        sweep(&mut other, &Files::new(empty.path())).unwrap(),
        Swept::default()
    );
}

fn s_sha(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

#[test]
fn ended_tasks_lose_their_files_unless_an_open_task_holds_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    let day = 86400;
    task(&store, 1, "done", Some(10 * day));
    task(&store, 2, "cancelled", Some(11 * day));
    task(&store, 3, "open", None);
    task(&store, 4, "done", Some(400 * day));
    let shared: &[u8] = b"the lease";
    keep_mail(
        &mut store,
        &files,
        1,
        Role::Owner,
        &mail("a@x", "b@x", &[("old.pdf", b"old")]),
    );
    keep_mail(
        &mut store,
        &files,
        2,
        Role::Owner,
        &mail("b@x", "b@x", &[("lease.pdf", shared)]),
    );
    keep_mail(
        &mut store,
        &files,
        3,
        Role::Owner,
        &mail("c@x", "b@x", &[("lease.pdf", shared)]),
    );
    keep_mail(
        &mut store,
        &files,
        4,
        Role::Owner,
        &mail("d@x", "b@x", &[("new.pdf", b"new")]),
    );

    // 365 days after day 20: tasks 1 and 2 ended before day 20, task 4 after.
    let tx = store.transaction().unwrap();
    assert_eq!(purge_ended(&tx, 20 * day, 385 * day).unwrap(), 2);
    tx.commit().unwrap();
    let swept = sweep(&mut store, &files).unwrap();
    assert_eq!(
        swept.files, 1,
        "only old.pdf: the open task still holds the lease"
    );
    let mut left = names_on_disk(&files);
    left.sort();
    let mut want = vec![s_sha(shared), s_sha(b"new")];
    want.sort();
    assert_eq!(left, want);
    let purged = one(store.conn(), 1, 1).unwrap().unwrap();
    assert_eq!(purged.purged_at, Some(385 * day));
    assert_eq!(one(store.conn(), 3, 1).unwrap().unwrap().purged_at, None);
    assert_eq!(usage(store.conn()).unwrap().files, 2);
}

#[test]
fn a_merge_moves_files_after_the_target_s_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    task(&store, 5, "open", None);
    task(&store, 12, "open", None);
    keep_mail(
        &mut store,
        &files,
        5,
        Role::Owner,
        &mail("a@x", "b@x", &[("one", b"1"), ("two", b"2")]),
    );
    keep_mail(
        &mut store,
        &files,
        12,
        Role::Owner,
        &mail("b@x", "b@x", &[("x", b"x"), ("y", b"y")]),
    );
    let tx = store.transaction().unwrap();
    assert_eq!(move_to(&tx, 12, 5).unwrap(), 2);
    tx.commit().unwrap();
    let listed: Vec<(i64, String)> = of_task(store.conn(), 5)
        .unwrap()
        .into_iter()
        .map(|a| (a.index, a.filename))
        .collect();
    let s = |v: &str| v.to_string();
    assert_eq!(
        listed,
        [(1, s("one")), (2, s("two")), (3, s("x")), (4, s("y"))]
    );
    assert!(of_task(store.conn(), 12).unwrap().is_empty());
}

#[test]
fn files_a_mail_to_the_owner_took_are_not_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    task(&store, 1, "open", None);
    keep_mail(
        &mut store,
        &files,
        1,
        Role::Owner,
        &mail("a@x", "boss@acme.example", &[("req.pdf", b"r")]),
    );
    keep_mail(
        &mut store,
        &files,
        1,
        Role::Va,
        &mail(
            "b@x",
            "sara@va.example",
            &[("draft.pdf", b"d"), ("big.tif", b"big")],
        ),
    );
    let owner = "boss@acme.example";
    let due = from_vas_not_sent_to(store.conn(), 1, owner).unwrap();
    let names: Vec<&str> = due.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, ["draft.pdf", "big.tif"]);

    let tx = store.transaction().unwrap();
    tx.execute(
        "INSERT INTO outbox (id, task_id, kind, recipient, message_id, subject, body_text, \
         not_before, created_at) VALUES (9, 1, 'followup', ?1, 'o9@x', 's', 'b', 0, 0)",
        params![owner],
    )
    .unwrap();
    link(&tx, 9, &[(due[0].id, true), (due[1].id, false)]).unwrap();
    tx.commit().unwrap();
    assert!(from_vas_not_sent_to(store.conn(), 1, owner)
        .unwrap()
        .is_empty());
    assert_eq!(
        from_vas_not_sent_to(store.conn(), 1, "other@x")
            .unwrap()
            .len(),
        2
    );
    let carried: Vec<String> = carried_by(store.conn(), 9)
        .unwrap()
        .into_iter()
        .map(|a| a.filename)
        .collect();
    assert_eq!(carried, ["draft.pdf"]);
}

#[test]
fn the_daily_purge_runs_once_a_day_and_sweeps_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let files = Files::new(dir.path());
    let day = 86400;
    let keep = std::time::Duration::from_secs(365 * day as u64);
    task(&store, 1, "done", Some(day));
    keep_mail(
        &mut store,
        &files,
        1,
        Role::Va,
        &mail("a@x", "b@x", &[("report.pdf", b"r")]),
    );

    // A year after it ended, less a day: kept; the purge is done for today.
    let first = purge_if_due(&mut store, &files, keep, 365 * day)
        .unwrap()
        .unwrap();
    assert_eq!(first, Purged::default());
    assert_eq!(
        purge_if_due(&mut store, &files, keep, 366 * day - 1).unwrap(),
        None
    );
    // The next day it goes.
    let second = purge_if_due(&mut store, &files, keep, 366 * day + 1)
        .unwrap()
        .unwrap();
    assert_eq!(second.rows, 1);
    assert_eq!(second.swept, Swept { files: 1, bytes: 1 });
    assert!(names_on_disk(&files).is_empty());
}
