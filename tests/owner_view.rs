//! The owner's view, through real Postfix and Dovecot: `#status` answered by mail, `#merge`
//! folding a duplicate, the retainer's alerts, and `musaid hours` for the invoice.

mod common;
mod harness;

use chrono::Utc;
use common::{mailserver, send_smtp, unique_user, MailServer};
use harness::{
    config_text, connected, count, eventually, mailbox, pipeline, tasks, Daemon, People,
};
use musaid::mail::Message;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A message as a mail client writes it: `subject`, `body`, and when `in_reply_to` is given,
/// the headers of a reply to it. Its Message-ID is returned with it.
fn mail(
    from: &str,
    to: &str,
    subject: &str,
    in_reply_to: Option<&str>,
    body: &str,
) -> (String, Vec<u8>) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "ov.{}.{n}.{}@client.example",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let thread = in_reply_to
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    let raw = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n{thread}Date: {}\r\n\
         Message-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        Utc::now().to_rfc2822(),
        body.replace('\n', "\r\n"),
    );
    (id, raw.into_bytes())
}

fn send(from: &str, to: &str, subject: &str, in_reply_to: Option<&str>, body: &str) -> String {
    let (id, raw) = mail(from, to, subject, in_reply_to, body);
    send_smtp(from, to, &raw).expect("smtp");
    id
}

/// `user`'s mail, parsed (subjects and bodies decoded).
async fn inbox(server: &MailServer, user: &str) -> Vec<Message> {
    mailbox(server, user)
        .await
        .iter()
        .filter_map(|raw| musaid::mail::parse(raw).ok())
        .collect()
}

/// `user`'s mail whose subject starts with `prefix`, once there are at least `n` of them (or
/// what there is after about 10 s).
async fn mail_starting(server: &MailServer, user: &str, prefix: &str, n: usize) -> Vec<Message> {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = inbox(server, user).await;
        found.retain(|m| m.subject.starts_with(prefix));
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// Wait until the database holds `sql`'s answer `want`.
async fn until(state: &Path, sql: &str, want: i64) {
    let ok = eventually(Duration::from_secs(10), || count(state, sql) == want).await;
    assert!(ok, "{sql}: {} after 10 s, not {want}", count(state, sql));
}

/// Wait until nothing that may go at once waits in the outbox: what was queued has been sent.
async fn sent_all(state: &Path) {
    until(state, "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= strftime('%s','now')", 0).await;
}

/// A one-minute window six hours from now: none is open while the test runs.
fn window_in_six_hours() -> String {
    use chrono::Timelike as _;
    let t = Utc::now() + chrono::Duration::hours(6);
    format!(
        "windows = [{{ cron = \"0 {} {} * * *\", for = \"1m\" }}]",
        t.minute(),
        t.hour()
    )
}

/// One test's desk: fresh mailboxes, a state directory, and the config written to a file so
/// the command line can read it beside the daemon.
struct Desk<'s> {
    server: &'s MailServer,
    people: People,
    dir: tempfile::TempDir,
    state: PathBuf,
    config: PathBuf,
}

impl<'s> Desk<'s> {
    fn new(name: &str, contract: &str, tail: &str) -> Desk<'s> {
        let server = mailserver();
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        let people = People::new(name);
        let text = config_text(server, &people, &state, "", contract, "") + tail;
        let config = dir.path().join("musaid.toml");
        std::fs::write(&config, &text).expect("config");
        Desk {
            server,
            people,
            dir,
            state,
            config,
        }
    }

    async fn start(&self) -> Daemon {
        let text = std::fs::read_to_string(&self.config).expect("config");
        let d = Daemon::start(pipeline(&text, self.dir.path()));
        connected(&self.state).await;
        d
    }

    fn musaid(&self, args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_musaid"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MUSAID_CONFIG")
            .output()
            .expect("run musaid");
        assert!(
            out.status.success(),
            "musaid {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The owner's request; waits until it is task number `n`.
    async fn request(&self, subject: &str, body: &str, n: i64) -> String {
        let id = send(&self.people.owner, &self.people.inbox, subject, None, body);
        until(&self.state, "SELECT count(*) FROM tasks", n).await;
        id
    }

    /// The VA's reply to task `task` (by its tag), with `body`; waits until it is recorded.
    async fn va(&self, task: i64, body: &str) {
        let before = count(&self.state, "SELECT count(*) FROM messages");
        let subject = format!("Re: [#{task}] the task");
        send(&self.people.va, &self.people.inbox, &subject, None, body);
        until(&self.state, "SELECT count(*) FROM messages", before + 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_status_gets_one_reply_listing_exactly_their_open_tasks() {
    // Two contracts: acme in English, globex (another owner, same VA) in Arabic.
    let globex_owner = unique_user("globex-owner");
    let desk = Desk::new("status", "", "");
    let tail = format!(
        "\n[contracts.globex]\nowners = [\"{globex_owner}\"]\nvas = [\"{}\"]\ntimezone = \"Asia/Riyadh\"\n\
         windows = [\"Mon-Sun 00:00-24:00\"]\nlanguage = \"ar\"\n",
        desk.people.va
    );
    let text = std::fs::read_to_string(&desk.config).expect("config") + &tail;
    std::fs::write(&desk.config, text).expect("config");
    let (server, people, state) = (desk.server, &desk.people, desk.state.as_path());
    let d = desk.start().await;
    desk.request("Invoice 114 for Acme", "Please pay it.", 1)
        .await;
    desk.request("Book the flight to Jeddah", "Thursday.", 2)
        .await;
    desk.request("Renew the domain", "Before Friday.", 3).await;
    send(
        &globex_owner,
        &people.inbox,
        "خطة جلوبكس السرية",
        None,
        "سرّية",
    );
    until(state, "SELECT count(*) FROM tasks", 4).await;
    desk.va(3, "#done\nRenewed for two years.").await;
    until(state, "SELECT count(*) FROM tasks WHERE status = 'done'", 1).await;

    send(
        &people.owner,
        &people.inbox,
        "status?",
        None,
        "#status\n\nThanks, Omar",
    );
    send(&globex_owner, &people.inbox, "#الحالة", None, "");
    let acme = mail_starting(server, &people.owner, "Status — acme", 1).await;
    let globex = mail_starting(server, &globex_owner, "الحالة — globex", 1).await;
    sent_all(state).await;
    d.stop().await;

    assert_eq!(acme.len(), 1, "one answer");
    let to_owner = format!(
        "SELECT count(*) FROM outbox WHERE kind = 'status' AND recipient = '{}'",
        people.owner
    );
    assert_eq!(count(state, &to_owner), 1, "and only one");
    let a = &acme[0];
    assert!(a.subject.contains("2 open"), "{}", a.subject);
    let (open, done) = a
        .text
        .split_once("Done in the last 7 days")
        .expect("two lists");
    assert!(
        open.contains("#1 Invoice 114 for Acme") && open.contains("#2 Book the flight"),
        "{}",
        a.text
    );
    assert!(
        !open.contains("#3"),
        "the done task is not open: {}",
        a.text
    );
    assert!(done.contains("#3 Renew the domain"), "{}", a.text);
    assert!(
        !a.text.contains("جلوبكس") && !a.text.contains("#4"),
        "none of another contract's: {}",
        a.text
    );
    assert_eq!(a.in_reply_to.len(), 1, "threaded under the question");

    assert_eq!(globex.len(), 1);
    let g = &globex[0];
    assert!(g.text.contains("#4 خطة جلوبكس السرية"), "{}", g.text);
    assert!(!g.text.contains("Invoice"), "{}", g.text);
    let rtl = format!(
        "SELECT count(*) FROM outbox WHERE kind = 'status' AND recipient = '{globex_owner}' \
         AND body_html LIKE '%dir=\"rtl\"%'"
    );
    assert_eq!(count(state, &rtl), 1, "Arabic HTML is right-to-left");

    // Neither question became a task.
    assert_eq!(tasks(state).len(), 4);
    assert_eq!(
        count(state, "SELECT count(*) FROM outbox WHERE kind = 'status'"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_moves_a_reply_to_the_merged_tasks_thread_onto_the_surviving_task() {
    // No window is open: acknowledgements wait, so the merged task's can still be dropped.
    let desk = Desk::new(
        "merge",
        &format!("{}\nlanguage = \"ar\"", window_in_six_hours()),
        "",
    );
    let (state, people) = (desk.state.as_path(), &desk.people);
    let d = desk.start().await;
    let first = desk.request("فاتورة نوفمبر", "ادفعها من فضلك", 1).await;
    desk.request("فاتورة نوفمبر (مرة أخرى)", "هل دفعتها؟", 2)
        .await;
    desk.va(1, "#وقت 45 دقيقة\nاتصلت بالمورد").await;
    desk.va(2, "#دمج 1").await;
    until(
        state,
        "SELECT count(*) FROM tasks WHERE status = 'merged' AND merged_into = 2",
        1,
    )
    .await;

    // The owner answers the first request's thread: it lands on task 2.
    let before = count(
        state,
        "SELECT count(*) FROM events WHERE task_id = 2 AND kind = 'note'",
    );
    send(
        &people.owner,
        &people.inbox,
        "Re: فاتورة نوفمبر",
        Some(&first),
        "أي جديد؟",
    );
    until(
        state,
        "SELECT count(*) FROM events WHERE task_id = 2 AND kind = 'note'",
        before + 1,
    )
    .await;
    let json = desk.musaid(&["tasks", "show", "1", "--json"]);
    d.stop().await;

    let t1: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(
        (t1["status"].as_str(), t1["merged_into"].as_i64()),
        (Some("merged"), Some(2))
    );
    assert_eq!(
        count(state, "SELECT count(*) FROM messages WHERE task_id = 1"),
        0,
        "its mail moved"
    );
    assert_eq!(
        count(
            state,
            "SELECT sum(minutes) FROM events WHERE task_id = 2 AND kind = 'time'"
        ),
        45
    );
    // The owner hears of it once: task 1's waiting acknowledgement was dropped.
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'pending'"
        ),
        1
    );
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM outbox WHERE task_id = 1 AND status = 'dropped'"
        ),
        1
    );
    // And it left every open list and count.
    let open = desk.musaid(&["tasks", "list", "--status", "open", "--json"]);
    let open: serde_json::Value = serde_json::from_slice(&open.stdout).expect("json");
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    let status = desk.musaid(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(status["tasks_open"].as_i64(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventeen_of_twenty_retained_hours_alert_owner_and_va_once() {
    let desk = Desk::new(
        "retainer",
        "language = \"ar\"\nretainer = { hours = 20, per = \"month\" }",
        "",
    );
    let (server, people, state) = (desk.server, &desk.people, desk.state.as_path());
    let d = desk.start().await;
    desk.request("حملة رمضان", "جدول المنشورات", 1).await;
    desk.va(1, "#وقت 17 ساعات").await;
    let to_owner = mail_starting(server, &people.owner, "استُخدم 80٪", 1).await;
    let to_va = mail_starting(server, &people.va, "استُخدم 80٪", 1).await;
    desk.va(1, "#time 30m").await;
    sent_all(state).await;
    let owner_again = inbox(server, &people.owner).await;
    let va_again = inbox(server, &people.va).await;
    let json = desk.musaid(&["summary", "--json"]).stdout;
    let markdown = String::from_utf8(desk.musaid(&["summary"]).stdout).expect("UTF-8");
    d.stop().await;

    // The weekly summary shows the month's hours used and left.
    let summary: serde_json::Value = serde_json::from_slice(&json).expect("json");
    let r = &summary[0]["retainer"];
    assert_eq!(
        (r["minutes_used"].as_i64(), r["minutes_left"].as_i64()),
        (Some(1050), Some(150))
    );
    assert_eq!(
        (r["per"].as_str(), r["percent_used"].as_i64()),
        (Some("month"), Some(87))
    );
    assert!(
        markdown.contains("استُخدم **17 س 30 د**") && markdown.contains("2 س 30 د"),
        "{markdown}"
    );

    assert_eq!((to_owner.len(), to_va.len()), (1, 1), "one alert each");
    let alert = &to_owner[0];
    assert!(
        alert.text.contains("17 س 00 د") && alert.text.contains("3 س 00 د"),
        "{}",
        alert.text
    );
    let alerts = |mail: &[Message]| {
        mail.iter()
            .filter(|m| m.subject.contains("٪ من الساعات"))
            .count()
    };
    assert_eq!(
        (alerts(&owner_again), alerts(&va_again)),
        (1, 1),
        "no second alert"
    );
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM outbox WHERE kind = 'hours_alert'"
        ),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn musaid_hours_csv_for_the_month_sums_to_the_minutes_the_summary_reports() {
    let desk = Desk::new(
        "hours",
        "rate = { per_hour = 12.5, currency = \"USD\" }",
        "",
    );
    let d = desk.start().await;
    desk.request("فاتورة نوفمبر, عاجل", "ادفعها", 1).await;
    desk.request("=HYPERLINK(\"http://evil.example\")", "x", 2)
        .await;
    desk.va(1, "#time 1h30m").await;
    desk.va(2, "#time 45m\n#time -15m").await;
    desk.va(1, "#time 20m").await;
    until(
        &desk.state,
        "SELECT count(*) FROM events WHERE kind = 'time'",
        4,
    )
    .await;
    let month = Utc::now().format("%Y-%m").to_string();
    let csv = desk.musaid(&["hours", "--month", &month, "--csv"]).stdout;
    let summary = desk.musaid(&["summary", "--json"]).stdout;
    let time = desk.musaid(&["tasks", "time", "2", "--json"]).stdout;
    d.stop().await;

    let csv = String::from_utf8(csv).expect("UTF-8");
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a byte order mark first");
    let lines: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        lines[0],
        "date,contract,task,subject,va,minutes,category,rate,amount,currency"
    );
    assert_eq!(lines.len(), 5, "a header and one row per entry: {csv}");
    assert!(csv.contains(",1,\"فاتورة نوفمبر, عاجل\","), "{csv}");
    assert!(
        csv.contains(",2,\"'=HYPERLINK(\"\"http://evil.example\"\")\","),
        "defused: {csv}"
    );
    let minutes: i64 = lines[1..]
        .iter()
        .map(|l| {
            // The minutes are the fifth field from the end (no field after the subject has a comma).
            let fields: Vec<&str> = l.rsplitn(6, ',').collect();
            fields[4].parse::<i64>().expect("minutes")
        })
        .sum();
    let summary: serde_json::Value = serde_json::from_slice(&summary).expect("json");
    assert_eq!(Some(minutes), summary[0]["minutes_worked"].as_i64());
    assert_eq!(minutes, 90 + 45 - 15 + 20);
    let time: serde_json::Value = serde_json::from_slice(&time).expect("json");
    let entries: Vec<i64> = time
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["minutes"].as_i64())
        .collect();
    assert_eq!(entries, [45, -15]);
}
