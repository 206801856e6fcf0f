//! Bounded work per message: whatever a message holds, one musaid process handling it peaks
//! within 2 × the message's size + 50 MiB (docs/security.md#bounded-work-per-message).
//! Peak memory is the kernel's own count for the finished process (`ru_maxrss` from wait4),
//! not a timing.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

const MIB: u64 = 1024 * 1024;

/// A desk with one contract and the project's rules, under `dir`.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("musaid.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nrules_dir = \"{}\"\naddress = \"tasks@va.example\"\n\
             [imap]\nhost = \"127.0.0.1\"\nport = 1143\ntls = \"none\"\n\
             [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
             timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-17:00\"]\n",
            dir.join("state").display(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("rules")
                .display()
        ),
    )
    .expect("write config");
    path
}

/// Run `musaid --config CONFIG ARGS…` to its end: its standard output and its peak RSS in bytes.
// The child is reaped by wait4 below, which also reports its rusage; std's wait cannot.
#[allow(clippy::zombie_processes)]
fn run_measured(config: &Path, args: &[&str]) -> (String, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_musaid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run musaid");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut stdout = child.stdout.expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).expect("read stdout");
        s
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child; the struct is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "musaid failed: {status}"
    );
    let out = reader.join().expect("reader");
    (out, u64::try_from(usage.ru_maxrss).expect("rss") * 1024)
}

fn write_message(path: &Path, head: &str, body: impl FnOnce(&mut std::fs::File)) -> u64 {
    let mut f = std::fs::File::create(path).expect("create message");
    f.write_all(head.as_bytes()).expect("write head");
    body(&mut f);
    f.flush().expect("flush");
    std::fs::metadata(path).expect("size").len()
}

fn assert_bounded(what: &str, size: u64, peak: u64) {
    let bound = 2 * size + 50 * MIB;
    eprintln!(
        "{what}: {} MiB message, peak RSS {} MiB (bound {} MiB)",
        size / MIB,
        peak / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "{what}: peak RSS {peak} > 2 × {size} + 50 MiB"
    );
}

#[test]
fn a_20_mb_one_word_reply_stays_within_its_memory_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let request = dir.path().join("request.eml");
    write_message(
        &request,
        "From: boss@acme.example\r\nTo: tasks@va.example\r\nSubject: Call the bank\r\n\
         Message-ID: <req1@acme.example>\r\nDate: Sun, 6 Dec 2026 08:00:00 +0300\r\n\r\n",
        |f| {
            f.write_all(b"Please call the bank about the fee.\r\n")
                .expect("body")
        },
    );
    let (out, _) = run_measured(&config, &["ingest", request.to_str().expect("path")]);
    assert!(out.contains("task #1"), "{out}");

    // The VA's reply to task #1: one 20 MB word, an unknown `#command` as long as the message.
    let reply = dir.path().join("reply.eml");
    let size = write_message(
        &reply,
        "From: sara@va.example\r\nTo: tasks@va.example\r\nSubject: Re: [#1] Call the bank\r\n\
         Message-ID: <big-reply@va.example>\r\nDate: Sun, 6 Dec 2026 09:00:00 +0300\r\n\r\n#",
        |f| {
            let chunk = vec![b'x'; MIB as usize];
            for _ in 0..20 {
                f.write_all(&chunk).expect("body");
            }
            f.write_all(b"\r\n").expect("end");
        },
    );
    let (out, peak) = run_measured(
        &config,
        &["ingest", "--json", reply.to_str().expect("path")],
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json[0]["decision"], "update_task", "{out:.400}");
    assert_eq!(json[0]["task"], 1);
    assert_bounded("20 MB one-word reply", size, peak);
}

#[test]
fn a_24_mb_request_with_an_attachment_stays_within_its_memory_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    let request = dir.path().join("scan.eml");
    let size = write_message(
        &request,
        "From: boss@acme.example\r\nTo: tasks@va.example\r\nSubject: File this scan\r\n\
         Message-ID: <scan@acme.example>\r\nDate: Sun, 6 Dec 2026 08:00:00 +0300\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nPlease file the scan.\r\n\
         --b\r\nContent-Type: application/pdf; name=scan.pdf\r\n\
         Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=scan.pdf\r\n\r\n",
        |f| {
            // 24 MB (under the default max_message_size of 25MB) of base64 lines, 76 characters
            // and CRLF, as mail clients write them.
            let line = b"JVBERi0xLjcKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZUR\r\n";
            for _ in 0..(24_000_000 / line.len()) {
                f.write_all(line).expect("body");
            }
            f.write_all(b"--b--\r\n").expect("end");
        },
    );
    let (out, peak) = run_measured(
        &config,
        &["ingest", "--json", request.to_str().expect("path")],
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json[0]["decision"], "create_task", "{out:.400}");
    assert_bounded("24 MB request with an attachment", size, peak);
}
