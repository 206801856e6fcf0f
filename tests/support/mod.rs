//! What the integration tests share, one module per concern:
//!
//! - [`servers`]: the private Dovecot and Postfix of `scripts/mailserver`, fresh mailboxes,
//!   mail sent through SMTP;
//! - [`config`]: a test's config, built in code and rendered as TOML;
//! - [`daemon`]: the daemon booted in-process on those servers, and what it wrote;
//! - [`cli`]: a temporary desk and `musaid` run on it as a user runs it;
//! - [`summary`]: a store filled with a known week of tasks, and golden files.
//!
//! Each test binary declares `mod support;` and uses what it needs; the rest is dead code
//! there, hence the `allow`.
#![allow(dead_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod servers;
pub mod summary;
