//! What musaid sends: acknowledgements only inside response windows, never to automatic mail,
//! exactly once; the outbox on the command line; the SMTP sender; and the windows themselves
//! (holidays, business time, DST), computed at any instant.

#[path = "../support/mod.rs"]
mod support;

mod acks;
mod limits;
mod outbox_cli;
mod smtp_sender;
mod windows;
