//! musaid as a service: the commands a sysadmin runs (init, check, status, backup, man,
//! completions), the unit's protocol (sd_notify, watchdog, reload, credentials), the IMAP
//! session underneath, and no secret in any output.

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod desk;
mod imap;
mod imap_links;
mod secrets;
mod systemd;
