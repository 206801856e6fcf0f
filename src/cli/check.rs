//! `musaid check`: the config and the rules, and with `--connect` the IMAP and SMTP logins the
//! daemon would make, checked without changing anything.

use super::{exit_code, load_pipeline, Failure};
use anyhow::Context as _;
use clap::Args;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Also log in to the IMAP and SMTP servers as the daemon would: the mailbox, the
    /// `move:` folder and the SMTP login, checked without changing anything
    #[arg(long)]
    connect: bool,
}

pub fn run(path: &Path, args: &CheckArgs) -> Result<ExitCode, Failure> {
    let p = load_pipeline(path)?;
    println!(
        "{}: OK — {} contract(s), {} rule(s) from {}",
        path.display(),
        p.config.contracts.len(),
        p.rules.len(),
        p.config.daemon.rules_dir.display()
    );
    // Warnings do not fail the check: the config works, it only trusts more than it might.
    for w in musaid::config::warnings(&p.config) {
        eprintln!("musaid: warning: {w}");
    }
    if !args.connect {
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Cannot start the async runtime")?;
    let reached = rt.block_on(async {
        let imap = check_imap(&p.config.imap).await;
        let smtp = check_smtp(p.config.smtp.as_ref()).await;
        imap && smtp
    });
    Ok(exit_code(reached))
}

/// `check --connect`, IMAP: log in, SELECT the mailbox (read-write, as the daemon does; it
/// changes nothing), and look for the `move:` folder. False (and why, on stderr) on failure.
async fn check_imap(cfg: &musaid::config::ImapConfig) -> bool {
    let mut s = match musaid::imap::connect(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("musaid: IMAP: {e:#}");
            return false;
        }
    };
    let user = cfg.login.user.as_deref().unwrap_or_default();
    let caps = s.capabilities();
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut ok = match s.select(&cfg.mailbox).await {
        Ok(mb) => {
            println!(
                "IMAP {}: logged in as {user}; {}: {} message(s), UIDVALIDITY {}; IDLE {}, MOVE {}, UIDPLUS {}",
                s.endpoint(),
                cfg.mailbox,
                mb.exists,
                mb.uid_validity,
                yes(caps.idle),
                yes(caps.move_cmd),
                yes(caps.uidplus)
            );
            true
        }
        Err(e) => {
            eprintln!("musaid: IMAP: {e:#}");
            false
        }
    };
    if let musaid::config::After::Move(folder) = &cfg.after {
        match s.folder_exists(folder).await {
            Ok(true) => println!("IMAP after = \"move:{folder}\": the folder exists"),
            Ok(false) => println!(
                "IMAP after = \"move:{folder}\": no such folder yet; the daemon creates it at its first start"
            ),
            Err(e) => {
                eprintln!("musaid: IMAP: {e:#}");
                ok = false;
            }
        }
    }
    let _ = s.logout().await;
    ok
}

/// `check --connect`, SMTP: connect, TLS, EHLO and AUTH as the sender would, then QUIT.
async fn check_smtp(cfg: Option<&musaid::config::SmtpConfig>) -> bool {
    let Some(cfg) = cfg else {
        println!("SMTP: not configured; musaid sends nothing");
        return true;
    };
    let mut sender = match musaid::smtp::Sender::new(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("musaid: SMTP: {e:#}");
            return false;
        }
    };
    let ok = match sender.probe().await {
        Ok(()) => {
            let login = match cfg.login.user.as_deref() {
                Some(u) => format!(" and logged in as {u}"),
                None => String::new(),
            };
            println!("SMTP {}:{}: connected{login}", cfg.host, cfg.port);
            true
        }
        Err(e) => {
            eprintln!("musaid: SMTP {}:{}: {e}", cfg.host, cfg.port);
            false
        }
    };
    sender.quit().await;
    ok
}
