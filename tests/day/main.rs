//! The VA's day: the daily agenda through the real servers (one mail, overdue first, in
//! English and Arabic), `musaid agenda` on the command line, and a reply to the agenda that
//! updates several tasks. The due-time notices across kill -9 are in the faults group.

#[path = "../support/mod.rs"]
mod support;

mod agenda;
