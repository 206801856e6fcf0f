//! Fault tests: musaid against private Dovecot and Postfix instances while things break —
//! SIGKILL at random instants, Dovecot killed or restarted, Postfix stopped, a backup loop on
//! the database, a full disk under the state directory, messages the database or the server
//! will not take.
//!
//! The short form (the default, run in CI) scales every figure down; `MUSAID_FAULTS=full`
//! runs the full figures (2,000 requests, 20 kills, a 3-minute Postfix outage, …).
//! `MUSAID_FAULTS_SEED=N` replays the kill instants of a crash storm. Each test prints a
//! `FAULTS …` line with its counts (`cargo test --test faults -- --nocapture`).

#[path = "../support/mod.rs"]
mod support;

mod crashes;
mod outages;
mod poison;
mod recurring;
mod reminders;
mod storage;
mod world;
