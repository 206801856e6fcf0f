//! Requests becoming tasks: through the daemon (IDLE, backlogs, UIDVALIDITY changes, oversized
//! mail), the mail moved once recorded, `musaid ingest` and `musaid rules test` on files, and
//! the real-mail corpus through the whole pipeline.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod corpus;
mod daemon;
mod flood;
mod memory;
mod moves;
