//! The daemon: one process per state directory (`lock`) running the IMAP loop (`sync`: sync,
//! IDLE or poll, reconnect), the outbox sender ([`crate::smtp::run_sender`]), the scheduler of
//! everything timed (`scheduler`), reloads on SIGHUP (`signals`) and systemd's notifications
//! and watchdog (`notify`).
//!
//! `run` is a library function so tests can boot the daemon in-process; `musaid run` is a
//! thin wrapper around it.

mod lock;
mod notify;
mod scheduler;
mod signals;
mod sync;

pub use crate::ingest::Current;
pub use lock::{holder, lock_state_dir, Holder, StateLock, LOCK_FILE};
pub use signals::signals;

use crate::imap::{self, ImapSession};
use crate::ingest::Pipeline;
use crate::store::Store;
use anyhow::Result;
use notify::{notify, Heartbeat};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{info, warn};

/// Stop when the value turns true.
pub type Shutdown = watch::Receiver<bool>;

/// What the daemon's tasks share.
#[derive(Clone)]
struct Context {
    /// The running configuration and rules; a reload replaces them.
    current: Current,
    shutdown: Shutdown,
    /// The IMAP loop's last sign of life, which the watchdog checks.
    heartbeat: Heartbeat,
    /// Wakes the sender: there may be mail to send.
    wake: Arc<Notify>,
    /// Wakes the scheduler: tasks were recorded or changed, so due times may have moved.
    tasks_changed: Arc<Notify>,
}

/// Run the daemon until `shutdown` turns true. The message in hand is finished first.
pub async fn run(pipeline: Pipeline, shutdown: Shutdown) -> Result<()> {
    run_reloadable(pipeline, None, None, shutdown).await
}

/// An IMAP login started before the daemon: the first session takes its connection.
pub type EarlyLogin = tokio::task::JoinHandle<Result<ImapSession>>;

/// Start logging in to IMAP on `rt` while the caller loads the rest of the daemon: a server
/// takes about as long to greet and log in (10-20 ms on loopback, a round trip or three more
/// at a provider) as the rules take to compile, so the two overlap. None when another daemon
/// holds `config`'s state directory: this one will refuse to start, and logs in nowhere.
pub fn log_in_early(
    rt: &tokio::runtime::Handle,
    config: &crate::config::Config,
) -> Option<EarlyLogin> {
    if !matches!(holder(&config.daemon.state_dir), Ok(None)) {
        return None;
    }
    let cfg = config.imap.clone();
    Some(rt.spawn(async move { imap::connect(&cfg).await }))
}

/// Remove the attachment files no record names: what a crash between storing a file and
/// committing its record left (docs/design.md#attachments).
fn sweep_attachments(store: &mut Store, state_dir: &std::path::Path) {
    let files = crate::store::attachments::Files::new(state_dir);
    match crate::store::attachments::sweep(store, &files) {
        Ok(s) if s.files > 0 => info!(
            files = s.files,
            bytes = s.bytes,
            "removed attachment files no record names"
        ),
        Ok(_) => {}
        Err(e) => warn!(error = %format!("{e:#}"), "cannot sweep the attachments directory"),
    }
}

/// [`run`], re-reading `config_path` whenever `reload` receives (SIGHUP in `musaid run`).
/// A config or rule set that does not load is reported with its `file:line`, and the running
/// one is kept. `early` is the first session's connection, when its login started already.
pub async fn run_reloadable(
    pipeline: Pipeline,
    early: Option<EarlyLogin>,
    reload: Option<(PathBuf, mpsc::UnboundedReceiver<()>)>,
    shutdown: Shutdown,
) -> Result<()> {
    let _lock = lock_state_dir(&pipeline.config.daemon.state_dir)?;
    let mut store = Store::open(&pipeline.config.daemon.state_dir)?;
    sweep_attachments(&mut store, &pipeline.config.daemon.state_dir);
    let (current_tx, current) = watch::channel(Arc::new(pipeline));
    let ctx = Context {
        current,
        shutdown,
        heartbeat: Heartbeat::new(),
        wake: Arc::new(Notify::new()),
        tasks_changed: Arc::new(Notify::new()),
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(crate::smtp::run_sender(
        ctx.current.clone(),
        ctx.wake.clone(),
        ctx.shutdown.clone(),
    ));
    tasks.spawn(scheduler::run(ctx.clone()));
    if let Some((path, hup)) = reload {
        tasks.spawn(signals::run_reloads(
            path,
            hup,
            current_tx,
            ctx.shutdown.clone(),
        ));
    }
    let watchdog = notify::spawn_watchdog(ctx.heartbeat.clone(), ctx.shutdown.clone());
    notify(&[sd_notify::NotifyState::Ready]);
    {
        let p = ctx.current.borrow();
        info!(
            contracts = p.config.contracts.len(),
            rules = p.rules.len(),
            "musaid started"
        );
        for w in crate::config::warnings(&p.config) {
            warn!("{w}");
        }
    }

    sync::run(ctx, store, early).await;

    notify(&[sd_notify::NotifyState::Stopping]);
    watchdog.abort();
    // The sender finishes the mail in hand; give it a moment, then go.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    info!("musaid stopped");
    Ok(())
}
