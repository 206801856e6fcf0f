//! The owner's view, through real Postfix and Dovecot: `#status` answered by mail, `#merge`
//! folding a duplicate, the retainer's alerts, and `musaid hours` for the invoice.

#[path = "../support/mod.rs"]
mod support;

mod desk;
mod hours;
mod merge;
mod retainer;
mod status;
