//! `musaid recurring`: the `[[recurring]]` entries of the rule files and their next
//! occurrences, in the contract's zone.

use super::{load_pipeline, print_json, Failure};
use chrono::Utc;
use clap::Args;
use musaid::output::Table;
use serde::Serialize;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct RecurringArgs {
    /// How many next occurrences to list per entry
    #[arg(long, default_value_t = 3, value_name = "N")]
    next: usize,
    #[arg(long)]
    json: bool,
}

/// One entry (an object of `recurring --json`).
#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    contract: &'a str,
    cron: &'a str,
    timezone: &'a str,
    subject: &'a str,
    category: &'a str,
    priority: &'a str,
    assign: Option<&'a str>,
    due: Option<String>,
    tags: &'a [String],
    location: &'a str,
    /// RFC 3339 in the contract's zone.
    next: Vec<String>,
}

pub fn run(path: &Path, args: &RecurringArgs) -> Result<ExitCode, Failure> {
    let p = load_pipeline(path)?;
    let now = Utc::now();
    let entries: Vec<Entry<'_>> = p
        .rules
        .recurring()
        .iter()
        .filter_map(|r| {
            let c = p.config.contracts.get(&r.contract)?;
            let tz = c.calendar.timezone;
            Some(Entry {
                name: &r.name,
                contract: &r.contract,
                cron: &r.cron,
                timezone: tz.name(),
                subject: &r.subject,
                category: &r.category,
                priority: r.priority.as_str(),
                assign: r.assign.as_deref(),
                due: r.due.map(|d| d.to_string()),
                tags: &r.tags,
                location: &r.location,
                next: musaid::recurring::next_occurrences(&r.schedule, tz, now, args.next)
                    .into_iter()
                    .map(|t| t.with_timezone(&tz).to_rfc3339())
                    .collect(),
            })
        })
        .collect();
    if args.json {
        print_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("No [[recurring]] entries in the rule files.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["NAME", "CONTRACT", "CRON", "SUBJECT", "NEXT"]);
    for e in &entries {
        t.row(vec![
            e.name.to_string(),
            e.contract.to_string(),
            format!("{} ({})", e.cron, e.timezone),
            e.subject.to_string(),
            e.next.join(", "),
        ]);
    }
    print!("{}", t.render());
    Ok(ExitCode::SUCCESS)
}
