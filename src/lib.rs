//! musaid: turns email into tasks for virtual assistants and the owners they serve.
//!
//! A pure core (parse, decide, rules, windows, commands) inside a thin shell
//! (IMAP, SMTP, SQLite, signals). See `SPEC.md` for the contract.

pub mod commands;
pub mod config;
pub mod decide;
pub mod imap;
pub mod mail;
pub mod model;
pub mod rules;
pub mod store;
pub mod windows;
