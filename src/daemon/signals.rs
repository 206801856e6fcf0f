//! Signals: SIGTERM and SIGINT stop `musaid run`, SIGHUP reloads its configuration and rules.

use super::notify::notify;
use super::Shutdown;
use crate::ingest::Pipeline;
use anyhow::{Context as _, Result};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

/// Install the signal handlers of `musaid run`: SIGTERM and SIGINT stop (after the message in
/// hand), SIGHUP reloads.
pub fn signals() -> Result<(Shutdown, mpsc::UnboundedReceiver<()>)> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("Cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("Cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("Cannot handle SIGHUP")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (hup_tx, hup_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {
                    info!("SIGTERM: finishing the message in hand, then stopping");
                    let _ = stop_tx.send(true);
                }
                _ = int.recv() => {
                    info!("SIGINT: finishing the message in hand, then stopping");
                    let _ = stop_tx.send(true);
                }
                _ = hup.recv() => {
                    info!("SIGHUP: reloading the configuration and rules");
                    let _ = hup_tx.send(());
                }
            }
        }
    });
    Ok((stop_rx, hup_rx))
}

/// Re-read the config and rules on each signal; keep the running set when they are broken.
pub(super) async fn run_reloads(
    path: PathBuf,
    mut hup: mpsc::UnboundedReceiver<()>,
    current: watch::Sender<Arc<Pipeline>>,
    mut shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            got = hup.recv() => if got.is_none() { return },
            _ = shutdown.changed() => return,
        }
        let mut states = vec![sd_notify::NotifyState::Reloading];
        if let Ok(m) = sd_notify::NotifyState::monotonic_usec_now() {
            states.push(m);
        }
        notify(&states);
        let running = current.borrow().config.daemon.state_dir.clone();
        match Pipeline::load(&path) {
            Ok(p) if p.config.daemon.state_dir != running => error!(
                "reload refused, the running configuration is kept: daemon.state_dir cannot \
                 change while musaid runs ({} to {}); restart musaid to move its database",
                running.display(),
                p.config.daemon.state_dir.display()
            ),
            Ok(p) => {
                info!(
                    contracts = p.config.contracts.len(),
                    rules = p.rules.len(),
                    "configuration reloaded"
                );
                for w in crate::config::warnings(&p.config) {
                    warn!("{w}");
                }
                current.send_replace(Arc::new(p));
            }
            Err(e) => error!(
                "reload refused, the running configuration is kept: {}",
                format!("{e:#}").replace('\n', "; ")
            ),
        }
        notify(&[sd_notify::NotifyState::Ready]);
    }
}
