//! Recurring tasks through kill -9: an entry every 20 seconds makes one task per occurrence
//! while `musaid run` is killed three times, and the occurrences that passed while it was
//! down are made at start, marked late.

use super::world::*;
use crate::support::config::ConfigBuilder;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::Duration;

const ENTRY: &str = r#"
[[recurring]]
name = "inbox-sweep"
contract = "acme"
cron = "*/20 * * * * *"
subject = "Sweep the shared inbox"
note = "Archive what is answered."
category = "admin"
tags = ["routine"]
"#;

fn with_rules(dir: &Path) -> impl FnOnce(ConfigBuilder) -> ConfigBuilder {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(rules.join("50-recurring.toml"), ENTRY).expect("rule file");
    move |c: ConfigBuilder| ack_limit(c).daemon_set("rules_dir", rules.display().to_string())
}

/// Sleep until `t` (the instants are the scenario: a kill just before an occurrence).
fn until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        std::thread::sleep(d);
    }
}

fn made_at(state: &Path, at: i64) -> bool {
    scalar(
        state,
        &format!("SELECT count(*) FROM recurring_runs WHERE at = {at}"),
    ) == 1
}

#[test]
fn a_recurring_entry_makes_one_task_per_occurrence_through_three_kill_9() {
    let world = World::new("recurring");
    let state = world.state.as_path();
    let mut d = world.start_synced(with_rules(world.dir.path()));
    // The daemon has seen the entry: occurrences after this instant are due.
    let seen = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'recurring_since.inbox-sweep'";
    assert!(
        wait_for(Duration::from_secs(10), || scalar(state, seen) > 0),
        "{}",
        d.tail()
    );
    let since = scalar(state, seen);
    let first = (since + 3 + 19) / 20 * 20;
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).expect("instant");
    let wait = Duration::from_secs(15);

    // 1: killed just before an occurrence, back just after it: made at start, late.
    until(at(first) - chrono::Duration::seconds(2));
    d.kill9();
    until(at(first) + chrono::Duration::seconds(1));
    d.spawn();
    assert!(wait_for(wait, || made_at(state, first)), "{}", d.tail());
    // 2: killed between occurrences, back at once.
    until(at(first + 7));
    d.kill9();
    d.spawn();
    // 3: down across the next occurrence again.
    until(at(first + 20) - chrono::Duration::seconds(2));
    d.kill9();
    until(at(first + 20) + chrono::Duration::seconds(1));
    d.spawn();
    // The one after comes on time.
    let last = first + 40;
    let done = wait_for(Duration::from_secs(30), || {
        made_at(state, last) && scalar(state, UNSENT) == 0
    });
    let status = d.term();
    assert!(
        done,
        "occurrence {last} made and its mail sent:\n{}",
        d.tail()
    );
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    // One task per occurrence, none twice, each named by its entry.
    let expected: Vec<i64> = (since + 1..=last).filter(|t| t % 20 == 0).collect();
    let runs: Vec<i64> = strings(
        state,
        "SELECT CAST(at AS TEXT) FROM recurring_runs ORDER BY at",
    )
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect();
    assert_eq!(runs, expected, "occurrences made, since {since}");
    let n = expected.len() as i64;
    assert_eq!(scalar(state, TASKS), n);
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM tasks WHERE recurring = 'inbox-sweep'"
        ),
        n
    );
    assert_eq!(
        scalar(state, "SELECT count(DISTINCT task_id) FROM recurring_runs"),
        n
    );
    // The two made at start are late, and say so; the others are not.
    let late: Vec<String> = strings(
        state,
        "SELECT CAST(r.at AS TEXT) FROM recurring_runs r JOIN tasks t ON t.id = r.task_id \
         WHERE r.late = 1 AND t.tags LIKE '%\"late\"%' ORDER BY r.at",
    );
    assert_eq!(late, [first.to_string(), (first + 20).to_string()]);
    assert_eq!(
        scalar(
            state,
            "SELECT count(*) FROM tasks WHERE tags LIKE '%\"late\"%'"
        ),
        2
    );
    // The VA is told of each once; no owner gets an acknowledgement.
    assert_eq!(
        scalar(state, "SELECT count(*) FROM outbox WHERE kind = 'notify'"),
        n
    );
    assert_eq!(
        scalar(
            state,
            "SELECT count(DISTINCT task_id) FROM outbox WHERE kind = 'notify'"
        ),
        n
    );
    assert_eq!(
        scalar(state, "SELECT count(*) FROM outbox WHERE kind = 'ack'"),
        0
    );
    eprintln!(
        "FAULTS recurring: {n} occurrences, 2 late, {} daemon starts",
        d.starts
    );
}
