//! `retainer = { hours = 20, per = "month" }`: accepted forms and located errors.

use crate::config::{load_str, Retainer, RetainerPeriod};
use std::path::Path;

fn contract(line: &str) -> Result<Option<Retainer>, String> {
    let text = format!(
        "[daemon]\naddress = \"tasks@va.example\"\n[imap]\nhost = \"imap.va.example\"\n\
         [contracts.acme]\nowners = [\"boss@acme.example\"]\nvas = [\"sara@va.example\"]\n\
         timezone = \"Asia/Riyadh\"\nwindows = [\"Sun-Thu 08:00-10:00\"]\n{line}\n"
    );
    load_str(&text, Path::new("musaid.toml"))
        .map(|c| c.contracts.get("acme").and_then(|c| c.retainer.clone()))
        .map_err(|e| e.to_string())
}

#[test]
fn a_retainer_is_hours_per_week_or_month() {
    assert_eq!(contract(""), Ok(None));
    let month = contract("retainer = { hours = 20, per = \"month\" }");
    assert_eq!(
        month,
        Ok(Some(Retainer {
            hours: 20.0,
            per: RetainerPeriod::Month
        }))
    );
    let week = contract("retainer = { hours = 7.5, per = \"Week\" }");
    assert_eq!(
        week.map(|r| r.map(|r| (r.hours, r.per))),
        Ok(Some((7.5, RetainerPeriod::Week)))
    );
}

#[test]
fn a_bad_retainer_says_where_and_what_to_write() {
    let cases = [
        (
            "retainer = { hours = 20, per = \"year\" }",
            "use \"week\" or \"month\"",
        ),
        (
            "retainer = { hours = 0, per = \"month\" }",
            "a positive number up to 744",
        ),
        (
            "retainer = { hours = -3, per = \"month\" }",
            "a positive number up to 744",
        ),
        ("retainer = { hours = 20 }", "retainer needs per"),
        ("retainer = { per = \"month\" }", "retainer needs hours"),
        (
            "retainer = { hours = 20, per = \"month\", rollover = true }",
            "rollover",
        ),
    ];
    for (line, want) in cases {
        let err = contract(line).expect_err(line);
        assert!(err.contains("musaid.toml:10"), "{line}: {err}");
        assert!(err.contains(want), "{line}: {err}");
    }
}
