use super::*;
use crate::config::load_str;
use crate::model::Priority;
use std::path::Path;

/// Sara works for acme (Riyadh, Sun-Thu 08:00-10:00) and beta (London, Mon-Fri 22:00-23:00
/// and 09:00-17:00); Ali only for beta.
fn config(vas: &str) -> Config {
    let text = format!(
        r#"
[daemon]
address = "tasks@va.example"
[imap]
host = "127.0.0.1"
tls = "none"
[contracts.acme]
owners = ["boss@acme.example"]
vas = ["sara@va.example"]
timezone = "Asia/Riyadh"
windows = ["Sun-Thu 08:00-10:00"]
language = "ar"
[contracts.beta]
owners = ["boss@beta.example"]
vas = ["sara@va.example", "ali@va.example"]
timezone = "Europe/London"
windows = ["Mon-Fri 22:00-23:00", "Mon-Fri 09:00-17:00"]
[policy]
chase_after = "3 business days"
{vas}
"#
    );
    load_str(&text, Path::new("/etc/musaid/musaid.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn task(id: i64, contract: &str, status: TaskStatus, created: &str, due: Option<&str>) -> TaskRow {
    TaskRow {
        id,
        contract: contract.into(),
        status,
        category: "general".into(),
        priority: Priority::Normal,
        assignee: Some("sara@va.example".into()),
        requester: "boss@acme.example".into(),
        original_from: None,
        original_subject: None,
        original_date: None,
        subject: format!("Task {id}"),
        note: String::new(),
        rule: None,
        tags: Vec::new(),
        message_id: format!("<{id}@acme.example>"),
        created_at: at(created).timestamp(),
        acked_at: None,
        due_at: due.map(|d| at(d).timestamp()),
        done_at: None,
        updated_at: at(created).timestamp(),
        waiting_since: None,
        recurring: None,
        merged_into: None,
    }
}

#[test]
fn each_task_lands_in_one_part_overdue_first_by_lateness() {
    let cfg = config("");
    let now = at("2026-12-06T08:00:00+03:00"); // Sunday, Riyadh
    let last = Some(at("2026-12-03T08:00:00+03:00"));
    let mut others = task(9, "acme", TaskStatus::Open, "2026-12-05T10:00:00Z", None);
    others.assignee = Some("ali@va.example".into());
    let tasks = vec![
        task(
            1,
            "acme",
            TaskStatus::Open,
            "2026-12-01T10:00:00Z",
            Some("2026-12-05T10:00:00+03:00"),
        ),
        task(
            2,
            "acme",
            TaskStatus::InProgress,
            "2026-12-01T10:00:00Z",
            Some("2026-12-06T07:00:00+03:00"),
        ),
        // Due at 23:30 Riyadh today: today; at 00:30 tomorrow: not.
        task(
            3,
            "acme",
            TaskStatus::Open,
            "2026-12-01T10:00:00Z",
            Some("2026-12-06T23:30:00+03:00"),
        ),
        task(
            4,
            "acme",
            TaskStatus::Open,
            "2026-12-01T10:00:00Z",
            Some("2026-12-07T00:30:00+03:00"),
        ),
        task(5, "acme", TaskStatus::Open, "2026-12-05T10:00:00Z", None),
        task(
            6,
            "acme",
            TaskStatus::Waiting,
            "2026-12-01T10:00:00Z",
            Some("2026-12-01T12:00:00Z"),
        ),
        task(7, "acme", TaskStatus::Done, "2026-12-05T10:00:00Z", None),
        others,
    ];
    let since = BTreeMap::from([(6, at("2026-11-29T09:00:00+03:00").timestamp())]);
    let a = build(&cfg, "sara@va.example", &tasks, &since, last, now);
    let ids = |v: &[&TaskRow]| v.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        a.overdue.iter().map(|o| o.task.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(a.overdue[0].late_seconds, 22 * 3600);
    assert_eq!(lateness(a.overdue[0].late_seconds), "22h 0m");
    assert_eq!(lateness(a.overdue[1].late_seconds), "1h 0m");
    assert_eq!(ids(&a.due_today), vec![3]);
    assert_eq!(ids(&a.new), vec![5]);
    assert_eq!(a.open_count, 1); // task 4: due tomorrow, created before the last agenda
    assert_eq!(a.waiting.len(), 1);
    // Waiting since Sunday 09:00; three business days end Wednesday 10:00.
    assert!(a.waiting[0].chase);
    assert!(!a.is_empty());
    let fresh = build(
        &cfg,
        "sara@va.example",
        &tasks,
        &since,
        last,
        at("2026-11-30T10:00:00+03:00"),
    );
    assert!(!fresh.waiting[0].chase, "one business day only");
    let nobody = build(&cfg, "ali@va.example", &tasks[..7], &since, last, now);
    assert!(nobody.is_empty());
}

#[test]
fn a_first_agenda_calls_every_task_new_and_due_today_counts_in_the_tasks_zone() {
    let cfg = config("");
    // 23:30 in London on Monday is Tuesday 02:30 in Riyadh: today for a beta task.
    let now = at("2026-12-07T12:00:00Z");
    let tasks = vec![
        task(
            1,
            "beta",
            TaskStatus::Open,
            "2026-12-07T08:00:00Z",
            Some("2026-12-07T23:30:00Z"),
        ),
        task(
            2,
            "acme",
            TaskStatus::Open,
            "2026-12-07T08:00:00Z",
            Some("2026-12-07T23:30:00Z"),
        ),
    ];
    let a = build(&cfg, "sara@va.example", &tasks, &BTreeMap::new(), None, now);
    assert_eq!(
        a.due_today.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(a.new.iter().map(|t| t.id).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn the_agenda_goes_at_the_first_window_of_the_vas_day_across_zones() {
    let cfg = config("");
    let sara = "sara@va.example";
    assert_eq!(zone(&cfg, sara), chrono_tz::Asia::Riyadh);
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    // Sunday: acme only, 08:00 Riyadh.
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-06")),
        Some(at("2026-12-06T05:00:00Z"))
    );
    // Tuesday in Riyadh starts with beta's Monday 22:00 London (01:00 Riyadh).
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-08")),
        Some(at("2026-12-07T22:00:00Z"))
    );
    // Monday: Sunday 22:00 London is no window, so acme's 08:00.
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-07")),
        Some(at("2026-12-07T05:00:00Z"))
    );
    // Friday in Riyadh: acme is closed; beta's Thursday 22:00 London is 01:00 Friday.
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-11")),
        Some(at("2026-12-10T22:00:00Z"))
    );
    // Saturday Riyadh gets Friday 22:00 London.
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-12")),
        Some(at("2026-12-11T22:00:00Z"))
    );
    // Sunday Riyadh: Saturday 22:00 London is none; acme opens.
    assert_eq!(
        instant_on(&cfg, sara, day("2026-12-13")),
        Some(at("2026-12-13T05:00:00Z"))
    );
    // Ali's day is London's, across the spring change: 09:00 GMT, then 09:00 BST.
    let ali = "ali@va.example";
    assert_eq!(zone(&cfg, ali), chrono_tz::Europe::London);
    assert_eq!(
        instant_on(&cfg, ali, day("2026-03-27")),
        Some(at("2026-03-27T09:00:00Z"))
    );
    assert_eq!(instant_on(&cfg, ali, day("2026-03-28")), None);
    assert_eq!(
        instant_on(&cfg, ali, day("2026-03-30")),
        Some(at("2026-03-30T08:00:00Z"))
    );
    assert_eq!(
        next(&cfg, ali, at("2026-03-27T09:00:00Z")),
        Some(at("2026-03-30T08:00:00Z"))
    );
}

#[test]
fn an_agenda_is_due_once_a_day_after_its_instant() {
    let cfg = config("");
    let sara = "sara@va.example";
    let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    assert_eq!(due(&cfg, sara, None, at("2026-12-06T04:59:59Z")), None);
    assert_eq!(
        due(&cfg, sara, None, at("2026-12-06T05:00:00Z")),
        Some((sunday, at("2026-12-06T05:00:00Z")))
    );
    // Late (the daemon was down at 08:00) but the same day: still sent.
    assert!(due(&cfg, sara, None, at("2026-12-06T20:00:00Z")).is_some());
    assert_eq!(
        due(&cfg, sara, Some(sunday), at("2026-12-06T20:00:00Z")),
        None
    );
    // 21:00Z is Monday 00:00 in Riyadh: Monday's agenda is not due before 08:00.
    assert_eq!(
        due(&cfg, sara, Some(sunday), at("2026-12-06T21:00:00Z")),
        None
    );
}

#[test]
fn a_vas_own_cron_zone_and_language_win_and_false_turns_it_off() {
    let cfg = config(
        "[vas.\"sara@va.example\"]\nlanguage = \"en\"\n\
         agenda = { cron = \"0 30 7 * * Sun-Thu\", timezone = \"Asia/Dubai\" }\n\
         [vas.\"ali@va.example\"]\nagenda = false\n",
    );
    let sara = "sara@va.example";
    assert_eq!(
        language(&config(""), sara),
        Language::Ar,
        "acme's, her first contract"
    );
    assert_eq!(language(&cfg, sara), Language::En);
    let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    assert_eq!(
        instant_on(&cfg, sara, sunday),
        Some(at("2026-12-06T03:30:00Z"))
    );
    let friday = NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
    assert_eq!(instant_on(&cfg, sara, friday), None);
    assert_eq!(instant_on(&cfg, "ali@va.example", sunday), None);
    assert_eq!(
        next(&cfg, "ali@va.example", at("2026-12-06T00:00:00Z")),
        None
    );
}
