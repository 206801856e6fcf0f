//! The VA's day: the daily agenda through the real servers (one mail, overdue first, in
//! English and Arabic, and a reply to it that updates several tasks), and `musaid agenda` on
//! the command line. The due-time notices across kill -9 are in the faults group.

#[path = "../support/mod.rs"]
mod support;

mod agenda;
mod cli;
