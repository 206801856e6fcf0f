//! musaid: turns email into tasks for virtual assistants and the owners they serve.
//!
//! A pure core (parse, decide, rules, windows, commands) inside a thin shell
//! (IMAP, SMTP, SQLite, signals). docs/design.md describes the modules and the invariants.

pub mod agenda;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod decide;
pub mod imap;
pub mod ingest;
pub mod logging;
pub mod mail;
pub mod model;
pub mod outbox;
pub mod output;
pub mod recorder;
pub mod recurring;
pub mod reminders;
pub mod retainer;
pub mod rules;
pub mod smtp;
pub mod status;
pub mod store;
pub mod summary;
pub mod templates;
pub mod units;
pub mod windows;
