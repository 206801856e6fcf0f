use crate::support::config::ConfigBuilder;
use crate::support::daemon::{cron_in, header, mail_within, mailbox, tasks, World};
use crate::support::servers::{mailserver, send_smtp_via};
use musaid::model::TaskStatus;
use std::path::Path;
use std::time::Duration;

/// Rule files in `dir`: a request whose subject says "late" is due in a second, the others
/// have no due time.
pub fn due_rules(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(
        rules.join("10-due.toml"),
        "[[rule]]\nname = \"late\"\nmatch.subject = '(?i)late'\ncategory = \"billing\"\ndue = \"1s\"\n",
    )
    .expect("rules");
    rules
}

/// The VA replies to `agenda` with `body`.
fn reply(world: &World<'_>, agenda: &[u8], body: &str) {
    let (va, inbox) = (&world.people.va, &world.people.inbox);
    let mid = header(agenda, "Message-ID").expect("the agenda's Message-ID");
    let raw = format!(
        "From: VA <{va}>\r\nTo: <{inbox}>\r\nSubject: Re: your agenda\r\nIn-Reply-To: {mid}\r\n\
         References: {mid}\r\nDate: {}\r\nMessage-ID: <agenda.reply.{}@va.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        chrono::Utc::now().to_rfc2822(),
        std::process::id(),
        body.replace('\n', "\r\n")
    );
    send_smtp_via(world.server, va, inbox, raw.as_bytes()).expect("smtp");
}

fn is_agenda(m: &[u8]) -> bool {
    header(m, "Message-ID").is_some_and(|id| id.contains(".agenda."))
}

/// The decoded text of a mail's parts.
fn text_of(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .map(|m| {
            (0..m.text_body_count())
                .filter_map(|i| m.body_text(i).map(|t| t.into_owned()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn at_the_next_window(
    c: ConfigBuilder,
    rules: &Path,
    opens: &str,
    language: &str,
) -> ConfigBuilder {
    c.daemon_set("rules_dir", rules)
        .contract("acme", |a| a.cron_window(opens, "1h").language(language))
}

async fn one_agenda(language: &str) -> String {
    let world = World::new(mailserver(), &format!("agenda-{language}"));
    let (server, va) = (world.server, world.people.va.clone());
    let rules = due_rules(world.dir.path());
    let opens = cron_in(8);
    let d = world
        .start(|c| at_the_next_window(c, &rules, &opens, language))
        .await;
    world.request("Plan the offsite", "Somewhere quiet.");
    world.request("Late invoice", "Please pay it today.");
    let ok = crate::support::daemon::eventually(Duration::from_secs(10), || {
        tasks(&world.state).len() == 2
    })
    .await;
    assert!(ok, "two tasks recorded");
    let agenda = mail_within(server, &va, Duration::from_secs(30), is_agenda)
        .await
        .into_iter()
        .next()
        .expect("the VA's agenda at the window's opening");
    // A later look finds no second one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agendas = mailbox(server, &va)
        .await
        .into_iter()
        .filter(|m| is_agenda(m))
        .count();
    // The VA answers the agenda: one line per task.
    let lines = if language == "ar" {
        "صباح النور\n[#1] #جاري\n[#2] #تم\n"
    } else {
        "Morning!\n[#1] #wip\n[#2] #done\n"
    };
    reply(&world, &agenda, lines);
    let updated = crate::support::daemon::eventually(Duration::from_secs(15), || {
        let t = tasks(&world.state);
        t.len() == 2 && t[0].status == TaskStatus::InProgress && t[1].status == TaskStatus::Done
    })
    .await;
    d.stop().await;
    assert!(
        updated,
        "a reply to the agenda updates each task on its line: {:?}",
        tasks(&world.state)
    );
    assert_eq!(agendas, 1, "one agenda a day");
    let raw = String::from_utf8_lossy(&agenda).into_owned();
    assert!(
        raw.contains("text/html") && raw.contains("text/plain"),
        "text + HTML"
    );
    assert_eq!(
        header(&agenda, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    if language == "ar" {
        let html = mail_parser::MessageParser::default()
            .parse(&agenda)
            .and_then(|m| m.body_html(0).map(|h| h.into_owned()))
            .unwrap_or_default();
        assert!(
            html.contains("dir=\"rtl\""),
            "Arabic HTML is right-to-left: {html}"
        );
    }
    text_of(&agenda)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_va_gets_one_agenda_at_the_first_window_listing_the_overdue_task_first() {
    let text = one_agenda("en").await;
    let late = text.find("Late invoice").expect(&text);
    let new = text.find("Plan the offsite").expect(&text);
    assert!(text.find("OVERDUE").is_some_and(|o| o < late), "{text}");
    assert!(late < new, "overdue first: {text}");
    assert!(text.contains("[#2] Late invoice (acme)"), "{text}");
    assert!(text.contains("late"), "how late: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_is_in_the_contracts_language() {
    let text = one_agenda("ar").await;
    let late = text.find("Late invoice").expect(&text);
    assert!(text.find("متأخرة").is_some_and(|o| o < late), "{text}");
    assert!(late < text.find("Plan the offsite").expect(&text), "{text}");
}
