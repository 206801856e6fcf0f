//! systemd: readiness, reloads and stopping (sd_notify), and the watchdog, pinged while the
//! IMAP loop shows signs of life. Outside systemd (NOTIFY_SOCKET unset) all of it is a no-op.

use super::Shutdown;
use chrono::Utc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Tell systemd `state`.
pub(super) fn notify(state: &[sd_notify::NotifyState<'_>]) {
    // Not under systemd: NOTIFY_SOCKET is unset and this is a no-op.
    let _ = sd_notify::notify(state);
}

/// The Unix time of the IMAP loop's last sign of life.
#[derive(Clone)]
pub(super) struct Heartbeat(Arc<AtomicI64>);

impl Heartbeat {
    pub(super) fn new() -> Heartbeat {
        Heartbeat(Arc::new(AtomicI64::new(Utc::now().timestamp())))
    }

    /// The loop is alive now.
    pub(super) fn beat(&self) {
        self.0.store(Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// The stamp itself, for an IMAP session to set while a long answer is arriving
    /// ([`crate::imap::ImapSession::set_alive`]).
    pub(super) fn stamp(&self) -> Arc<AtomicI64> {
        self.0.clone()
    }

    /// Seconds since the last sign of life.
    fn age(&self) -> i64 {
        Utc::now().timestamp() - self.0.load(Ordering::Relaxed)
    }
}

/// Ping systemd's watchdog while the IMAP loop shows signs of life.
pub(super) fn spawn_watchdog(
    heartbeat: Heartbeat,
    shutdown: Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(period) = sd_notify::watchdog_enabled().filter(|p| !p.is_zero()) else {
            return;
        };
        let mut tick = tokio::time::interval(period / 2);
        loop {
            tick.tick().await;
            if *shutdown.borrow() {
                return;
            }
            let age = heartbeat.age();
            if age >= 0 && (age as u64) < period.as_secs().max(1) {
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
        }
    })
}

/// Half the systemd watchdog period, or a long time when there is none: the longest the IMAP
/// loop may wait without a sign of life.
pub(super) fn watchdog_half() -> Duration {
    match sd_notify::watchdog_enabled() {
        Some(p) if !p.is_zero() => (p / 2).max(Duration::from_secs(1)),
        _ => Duration::from_secs(3600),
    }
}
