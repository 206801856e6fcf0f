//! `musaid hours`: the time entries of a month or a span of days, one row each, for the
//! VA's invoice; as a table with the totals, as CSV for a spreadsheet, or as JSON.

use super::{config_failure, load_config, print_json, Failure};
use anyhow::Context as _;
use chrono::{Datelike, Months, NaiveDate, TimeZone, Utc};
use clap::Args;
use musaid::config::{Config, Contract};
use musaid::output::{csv, Table};
use musaid::retainer::{day_start, hours_minutes};
use musaid::store::{hours, Store};
use serde::Serialize;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct HoursArgs {
    /// Only this contract [default: each contract]
    #[arg(long, value_name = "C")]
    contract: Option<String>,
    /// A calendar month, in each contract's zone [default: this month]
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month, conflicts_with_all = ["from", "to"])]
    month: Option<NaiveDate>,
    /// The first day, inclusive, in each contract's zone
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: Option<NaiveDate>,
    /// The last day, inclusive [default: today]
    #[arg(long, value_name = "DATE", value_parser = parse_day, requires = "from")]
    to: Option<NaiveDate>,
    /// CSV (RFC 4180, UTF-8 with a byte order mark) for a spreadsheet
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// One JSON document: an array of rows
    #[arg(long)]
    json: bool,
}

/// `2026-12`: its first day.
fn parse_month(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
        .map_err(|_| format!("--month \"{s}\": write a month like 2026-12"))
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("\"{s}\" is not a date; write YYYY-MM-DD, e.g. 2026-12-01"))
}

/// One time entry, an invoice line (fields in docs/commands.md#musaid-hours).
#[derive(Serialize)]
struct Row<'a> {
    /// The local date it was logged, in the contract's zone.
    date: String,
    contract: &'a str,
    task: i64,
    subject: String,
    va: &'a str,
    minutes: i32,
    category: &'a str,
    rate: Option<f64>,
    amount: Option<f64>,
    currency: Option<&'a str>,
}

/// The days asked for, as local dates: `[first, last]`.
struct Span {
    first: NaiveDate,
    last: NaiveDate,
}

pub fn run(path: &Path, args: &HoursArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let contracts = chosen(&cfg, path, args.contract.as_deref())?;
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from > to {
            return Err(config_failure(anyhow::anyhow!(
                "--from {from} is after --to {to}"
            )));
        }
    }
    let store = Store::open(&cfg.daemon.state_dir)?;
    let now = Utc::now();
    let mut entries = Vec::new();
    let mut spans = Vec::new();
    for c in contracts {
        let tz = c.calendar.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let span = match (args.month, args.from) {
            (Some(first), _) => month(first),
            (None, Some(first)) => Span {
                first,
                last: args.to.unwrap_or(today),
            },
            (None, None) => month(today.with_day(1).unwrap_or(today)),
        };
        let end = span.last.succ_opt().unwrap_or(span.last);
        let (from, to) = (day_start(tz, span.first), day_start(tz, end));
        for e in hours::entries(store.conn(), &c.name, from.timestamp(), to.timestamp())? {
            entries.push((c, e));
        }
        spans.push((c, span));
    }
    let rows: Vec<Row> = entries.iter().map(|(c, e)| row(c, e)).collect();
    if args.json {
        print_json(&rows)?;
    } else if args.csv {
        write_csv(&rows)?;
    } else {
        print!("{}", text(&rows, &spans));
    }
    Ok(ExitCode::SUCCESS)
}

fn chosen<'c>(
    cfg: &'c Config,
    path: &Path,
    only: Option<&str>,
) -> Result<Vec<&'c Contract>, Failure> {
    match only {
        Some(name) => match cfg.contracts.get(name) {
            Some(c) => Ok(vec![c]),
            None => Err(config_failure(anyhow::anyhow!(
                "No contract `{name}` in {}; the contracts are: {}",
                path.display(),
                cfg.contracts.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        },
        None => Ok(cfg.contracts.values().collect()),
    }
}

fn month(first: NaiveDate) -> Span {
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    Span {
        first,
        last: next.pred_opt().unwrap_or(first),
    }
}

/// Minutes at an hourly rate, rounded to cents.
fn amount(minutes: i64, per_hour: f64) -> f64 {
    (minutes as f64 / 60.0 * per_hour * 100.0).round() / 100.0
}

fn row<'a>(c: &'a Contract, e: &'a hours::TimeEntry) -> Row<'a> {
    let date = Utc
        .timestamp_opt(e.at, 0)
        .single()
        .map(|t| {
            t.with_timezone(&c.calendar.timezone)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    let rate = c.rate.as_ref();
    Row {
        date,
        contract: &c.name,
        task: e.task,
        subject: musaid::outbox::title(e.original_subject.as_deref(), &e.subject),
        va: &e.va,
        minutes: e.minutes,
        category: &e.category,
        rate: rate.map(|r| r.per_hour),
        amount: rate.map(|r| amount(i64::from(e.minutes), r.per_hour)),
        currency: rate.map(|r| r.currency.as_str()),
    }
}

const HEADER: [&str; 10] = [
    "date", "contract", "task", "subject", "va", "minutes", "category", "rate", "amount",
    "currency",
];

fn write_csv(rows: &[Row]) -> Result<(), Failure> {
    let mut out = String::from(csv::BOM);
    out.push_str(&csv::record(&HEADER.map(str::to_string)));
    let number = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_default();
    for r in rows {
        out.push_str(&csv::record(&[
            csv::quoted(&r.date),
            csv::text(r.contract),
            csv::quoted(&r.task.to_string()),
            csv::text(&r.subject),
            csv::text(r.va),
            csv::quoted(&r.minutes.to_string()),
            csv::text(r.category),
            csv::quoted(&number(r.rate)),
            csv::quoted(&number(r.amount)),
            csv::text(r.currency.unwrap_or("")),
        ]));
    }
    std::io::stdout()
        .write_all(out.as_bytes())
        .context("Cannot write the CSV")?;
    Ok(())
}

/// The table, then each contract's period and total: minutes, hours, and at a rate what they
/// come to (from the total minutes, as the weekly summary counts it).
fn text(rows: &[Row], spans: &[(&Contract, Span)]) -> String {
    let mut s = String::new();
    if rows.is_empty() {
        s.push_str("No time logged in this period.\n");
    } else {
        let mut t = Table::new(&[
            "DATE", "CONTRACT", "TASK", "SUBJECT", "VA", "TIME", "CATEGORY", "AMOUNT",
        ]);
        for r in rows {
            t.row(vec![
                r.date.clone(),
                r.contract.to_string(),
                format!("#{}", r.task),
                r.subject.clone(),
                r.va.to_string(),
                hours_minutes(i64::from(r.minutes)),
                r.category.to_string(),
                r.amount
                    .zip(r.currency)
                    .map(|(a, c)| format!("{a:.2} {c}"))
                    .unwrap_or_default(),
            ]);
        }
        s.push_str(&t.render());
    }
    s.push('\n');
    for (c, span) in spans {
        let minutes: i64 = rows
            .iter()
            .filter(|r| r.contract == c.name)
            .map(|r| i64::from(r.minutes))
            .sum();
        let money = c
            .rate
            .as_ref()
            .map(|r| {
                format!(
                    ", {:.2} {} at {:.2} {} an hour",
                    amount(minutes, r.per_hour),
                    r.currency,
                    r.per_hour,
                    r.currency
                )
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "{}: {} to {} ({}): {} ({minutes} minutes){money}\n",
            c.name,
            span.first,
            span.last,
            c.calendar.timezone.name(),
            hours_minutes(minutes)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days_parse_or_say_what_to_write() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(parse_month("2026-12"), Ok(d(2026, 12, 1)));
        assert!(parse_month("2026-13").unwrap_err().contains("2026-12"));
        assert!(parse_month("December").is_err());
        assert_eq!(parse_day("2026-02-28"), Ok(d(2026, 2, 28)));
        assert!(parse_day("2026-02-30").is_err());
        let m = month(d(2026, 2, 1));
        assert_eq!((m.first, m.last), (d(2026, 2, 1), d(2026, 2, 28)));
        let m = month(d(2026, 12, 1));
        assert_eq!(m.last, d(2026, 12, 31));
    }

    #[test]
    fn amounts_are_rounded_to_cents() {
        assert_eq!(amount(90, 12.5), 18.75);
        assert_eq!(amount(10, 10.0), 1.67);
        assert_eq!(amount(-15, 12.5), -3.13);
    }
}
