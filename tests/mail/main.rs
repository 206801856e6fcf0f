//! What musaid reads from mail, whatever arrives: the golden fixtures (tests/fixtures/mail),
//! the real-mail corpus (`$MUSAID_CORPUS`), and hostile or broken input through
//! `musaid ingest`.

#[path = "../support/mod.rs"]
mod support;

mod corpus;
mod golden;
mod hostile;
