//! Weekly summaries: the numbers of a known week and their golden Markdown and HTML in
//! English and Arabic, the SQL checked against a plain model, the schedule (no backfill, one
//! catch-up, the daemon mailing it on time), and `musaid summary` on the command line.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod golden;
mod model;
mod schedule;
