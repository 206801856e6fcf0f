//! The grammar of `#merge`, `#status`, `#hours` and `#time` corrections.

use super::*;
use Command::*;
use TaskStatus::*;

fn one(line: &str) -> Option<Command> {
    let parsed = parse(line);
    assert!(parsed.len() <= 1, "{line}: {parsed:?}");
    parsed.into_iter().next().map(|p| p.command)
}

#[test]
fn merge_questions_and_corrections() {
    let cases = [
        ("#merge 12", Merge(12)),
        ("#Merge #12.", Merge(12)),
        ("#merge [#12]", Merge(12)),
        ("#merge: 7", Merge(7)),
        ("#دمج 12", Merge(12)),
        ("#دمج ١٢", Merge(12)),
        ("#status", Ask(Query::Status)),
        ("#STATUS?", Ask(Query::Status)),
        ("#status please", Ask(Query::Status)),
        ("#status of the invoices", Ask(Query::Status)),
        ("#الحالة", Ask(Query::Status)),
        ("#الحاله؟", Ask(Query::Status)),
        ("#hours", Ask(Query::Hours)),
        ("#hours this month", Ask(Query::Hours)),
        ("#ساعات", Ask(Query::Hours)),
        ("#time -15m", Time(-15)),
        ("#time - 1h", Time(-60)),
        ("#time \u{2212}1:30", Time(-90)),
        ("#time +30m", Time(30)),
        ("#وقت -15 دقيقة", Time(-15)),
        ("#وقت -ساعة", Time(-60)),
    ];
    for (line, want) in cases {
        assert_eq!(one(line), Some(want), "{line}");
    }
}

#[test]
fn status_alone_asks_and_with_a_status_word_sets_it() {
    // `#status` is the owner's question; `Status: done` (RT style) and `#status done` set.
    assert_eq!(one("#status"), Some(Ask(Query::Status)));
    assert_eq!(one("Status: done"), Some(Status(Done)));
    assert_eq!(one("#status done"), Some(Status(Done)));
    assert_eq!(one("#status: in progress"), Some(Status(InProgress)));
    assert_eq!(one("الحالة: تم"), Some(Status(Done)));
    assert_eq!(one("#الحالة: تم"), Some(Status(Done)));
    assert_eq!(one("#الحالة"), Some(Ask(Query::Status)));
    // Without the hash and without a value it is prose.
    assert_eq!(one("Status"), None);
    assert_eq!(one("status:"), None);
}

#[test]
fn bad_merges_and_corrections_explain_themselves() {
    let cases: &[(&str, &[&str])] = &[
        ("#merge", &["needs the number of the task", "#merge 12"]),
        ("#merge twelve", &["`#merge twelve`", "#merge 12"]),
        ("#merge 0", &["#merge 12"]),
        ("#merge -3", &["#merge 12"]),
        ("#merge 99999999999999999999", &["#merge 12"]),
        ("#دمج", &["needs the number"]),
        ("#time -", &["-15m"]),
        ("#time -25h", &["more than 24 hours"]),
        ("#time -0m", &["at least 1 minute"]),
        ("#time --5m", &["1h30m"]),
        ("#time -4294967295:00", &["more than 24 hours"]),
    ];
    for (line, hints) in cases {
        match one(line) {
            Some(Unknown { error }) => {
                for h in *hints {
                    assert!(error.contains(h), "{line}: {error} lacks {h}");
                }
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    // The error lists the new commands.
    let Some(Unknown { error }) = one("#mergee 3") else {
        panic!("not refused");
    };
    assert!(
        error.contains("did you mean #merge?") && error.contains("#ساعات"),
        "{error}"
    );
}

#[test]
fn the_new_commands_display_canonically_and_parse_back() {
    for (cmd, want) in [
        (Merge(12), "#merge 12"),
        (Ask(Query::Status), "#status"),
        (Ask(Query::Hours), "#hours"),
        (Time(-15), "#time -15m"),
    ] {
        assert_eq!(cmd.to_string(), want);
        assert_eq!(one(want), Some(cmd.clone()), "{want}");
    }
}
