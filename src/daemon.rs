//! The supervisor: the IMAP loop (sync, IDLE or poll, reconnect), signals and sd_notify.
//!
//! `run` is a library function so tests can boot the daemon in-process; `musaid run` is a
//! thin wrapper around it.

use crate::config::{After, FirstSync};
use crate::imap::{self, IdleOutcome, ImapSession};
use crate::ingest::Pipeline;
use crate::recorder::{self, Fetched};
use crate::store::{sync, Store};
use anyhow::{Context as _, Result};
use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, error, info, warn};

/// Re-issue IDLE at least this often: servers drop IDLE after 30 minutes (RFC 2177), and a
/// fresh command is also how a dead connection is noticed.
const IDLE_REISSUE: Duration = Duration::from_secs(4 * 60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(180);

/// Stop when the value turns true.
pub type Shutdown = watch::Receiver<bool>;

pub use crate::ingest::Current;

/// The file in the state directory that one running daemon holds locked.
pub const LOCK_FILE: &str = "musaid.lock";

/// A daemon's claim on its state directory: an exclusive lock on `STATE/musaid.lock`, which
/// holds its pid, until the process ends, however it ends (the kernel drops the lock). Two
/// daemons on one database would each send the same acknowledgement and summary.
pub struct StateLock {
    _file: std::fs::File,
}

/// How long a starting daemon waits for the state directory's lock before it gives up: `musaid
/// status` looks at the lock for an instant, which must not stop a daemon starting just then.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

/// The daemon holding a state directory, as `musaid status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// Its process id, as it wrote it in the lock file (null if unreadable).
    pub pid: Option<u32>,
}

/// Which daemon, if any, holds `state_dir` now. Looks without waiting, and without taking
/// anything a starting daemon would need for longer than an instant.
pub fn holder(state_dir: &Path) -> Result<Option<Holder>> {
    let path = state_dir.join(LOCK_FILE);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("Cannot open {}", path.display())),
    };
    match file.try_lock_shared() {
        // Nobody holds it (dropping the file lets go at once).
        Ok(()) => Ok(None),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(Holder {
            pid: pid_in(&mut file),
        })),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("Cannot look at {}", path.display()))
        }
    }
}

/// The pid the holder of a lock file wrote in it, if it is readable.
fn pid_in(file: &mut std::fs::File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Claim `state_dir` for this process, or say which process has it.
pub fn lock_state_dir(state_dir: &Path) -> Result<StateLock> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("Cannot create state directory {}", state_dir.display()))?;
    let path = state_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        // A pid file: readable, so `musaid status` can tell who holds it.
        .mode(0o644)
        .open(&path)
        .with_context(|| format!("Cannot open {}", path.display()))?;
    let since = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) if since.elapsed() < LOCK_PATIENCE => {
                // Start-up only: nothing else runs yet that this could hold up.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = pid_in(&mut file)
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                anyhow::bail!(
                    "Another musaid is already running on {}{pid}; stop it first \
                     (systemctl stop musaid), or give this one its own daemon.state_dir",
                    state_dir.display()
                );
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("Cannot lock {}", path.display()))
            }
        }
    }
    file.set_len(0)
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .with_context(|| format!("Cannot write {}", path.display()))?;
    Ok(StateLock { _file: file })
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

/// [`run`], re-reading `config_path` whenever `reload` receives (SIGHUP in `musaid run`).
/// A config or rule set that does not load is reported with its `file:line`, and the running
/// one is kept. `early` is the first session's connection, when its login started already.
pub async fn run_reloadable(
    pipeline: Pipeline,
    mut early: Option<EarlyLogin>,
    reload: Option<(PathBuf, mpsc::UnboundedReceiver<()>)>,
    mut shutdown: Shutdown,
) -> Result<()> {
    let _lock = lock_state_dir(&pipeline.config.daemon.state_dir)?;
    let mut store = Store::open(&pipeline.config.daemon.state_dir)?;
    let heartbeat = Arc::new(AtomicI64::new(Utc::now().timestamp()));
    let (current_tx, mut current) = watch::channel(Arc::new(pipeline));
    let wake = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(crate::smtp::run_sender(
        current.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(run_summaries(
        current.clone(),
        wake.clone(),
        shutdown.clone(),
    ));
    if let Some((path, hup)) = reload {
        tasks.spawn(run_reloads(path, hup, current_tx, shutdown.clone()));
    }
    let watchdog = spawn_watchdog(heartbeat.clone(), shutdown.clone());
    notify(&[sd_notify::NotifyState::Ready]);
    {
        let p = current.borrow();
        info!(
            contracts = p.config.contracts.len(),
            rules = p.rules.len(),
            "musaid started"
        );
    }

    let mut retry = Reconnect::default();
    while !*shutdown.borrow() {
        heartbeat.store(Utc::now().timestamp(), Ordering::Relaxed);
        let p = current.borrow_and_update().clone();
        let result = session(
            &p,
            early.take(),
            &mut store,
            &mut shutdown,
            &mut current,
            &heartbeat,
            &wake,
            &mut retry,
        )
        .await;
        if *shutdown.borrow() {
            break;
        }
        match result {
            Err(e) => {
                let text = format!("{e:#}");
                // Logged once per state change, not on every try.
                if retry.failing.as_deref() != Some(text.as_str()) {
                    warn!(error = %text, "IMAP session failed; reconnecting with backoff");
                    let _ = store.record_error(&text);
                    retry.failing = Some(text);
                } else {
                    debug!(error = %text, "IMAP still failing");
                }
                let wait = jitter(retry.backoff);
                retry.backoff = (retry.backoff * 2).min(BACKOFF_MAX);
                heartbeat.store(Utc::now().timestamp(), Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                    // A reload (the fix, perhaps) is tried at once.
                    _ = current.changed() => {}
                }
            }
            Ok(()) => retry.connected(),
        }
    }
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

/// The reconnect state of the IMAP loop.
struct Reconnect {
    backoff: Duration,
    /// The error the last session ended with, until a session works again.
    failing: Option<String>,
    /// The server's refusal of `imap.after`, until it is applied again (kept across sessions,
    /// so it is logged once).
    after_refused: Option<String>,
    /// Messages that failed to record for a reason of their own. Kept across sessions, as
    /// each failure ends one.
    unrecorded: Attempts,
    /// Messages condemned since one was last recorded as usual. Past
    /// [`UNRECORDABLE_IN_A_ROW`] the fault is not theirs (a template, a bug, the database):
    /// nothing more is quarantined, and the mail waits until it can be recorded.
    condemned_in_a_row: u32,
    /// Messages of a batch whose fetch the server refused or broke off, by (UIDVALIDITY,
    /// UID): fetched one at a time until the mailbox is past them, to find the one it will
    /// not send.
    suspect: HashSet<(u32, u32)>,
    /// Messages whose fetch, alone, failed, with the server's last answer.
    unfetched: Attempts,
}

/// Failed attempts at messages, by (UIDVALIDITY, UID): how many, and the last error.
#[derive(Default)]
struct Attempts(HashMap<(u32, u32), (u32, String)>);

impl Attempts {
    /// One more failure of `uid`; how many there are now.
    fn count(&mut self, uidvalidity: u32, uid: u32, error: String) -> u32 {
        let (attempts, last) = self.0.entry((uidvalidity, uid)).or_default();
        *attempts += 1;
        *last = error;
        *attempts
    }

    /// The UIDs of mailbox `uidvalidity` that failed at least `n` times, with their last error.
    fn at_least(&self, uidvalidity: u32, n: u32) -> HashMap<u32, String> {
        self.0
            .iter()
            .filter(|((v, _), (attempts, _))| *v == uidvalidity && *attempts >= n)
            .map(|((_, uid), (_, error))| (*uid, error.clone()))
            .collect()
    }

    /// Keep only the UIDs of mailbox `uidvalidity` above `last`.
    fn keep_after(&mut self, uidvalidity: u32, last: u32) {
        self.0
            .retain(|(v, uid), _| *v == uidvalidity && *uid > last);
    }
}

/// How many times the server may fail to send one message, asked for alone, before it is
/// quarantined without its bytes (it stays on the server).
const FETCH_ATTEMPTS: u32 = 3;

/// How many messages in a row may be quarantined as unrecordable, with none recorded between
/// them, before musaid takes the fault for its own and stops quarantining.
const UNRECORDABLE_IN_A_ROW: u32 = 3;

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            backoff: BACKOFF_MIN,
            failing: None,
            after_refused: None,
            unrecorded: Attempts::default(),
            condemned_in_a_row: 0,
            suspect: HashSet::new(),
            unfetched: Attempts::default(),
        }
    }
}

impl Reconnect {
    /// A session has connected and synced. A working session only ever ends in an error or a
    /// shutdown, so this is called from inside it: were it left to the session's return, the
    /// backoff would never shrink again (every later outage would start at the longest
    /// wait) and "restored" would never be logged.
    fn connected(&mut self) {
        if self.failing.take().is_some() {
            info!("IMAP connection restored");
        }
        self.backoff = BACKOFF_MIN;
    }

    /// Count a message's failed attempt at being recorded, when `e` is one
    /// ([`recorder::MessageFailed`]); after [`recorder::RECORD_ATTEMPTS`], the next sync
    /// quarantines it.
    fn record_failed(&mut self, uidvalidity: u32, e: &anyhow::Error) {
        let Some(f) = e.downcast_ref::<recorder::MessageFailed>() else {
            return;
        };
        if f.after_others {
            self.condemned_in_a_row = 0;
        }
        let attempts = self.unrecorded.count(uidvalidity, f.uid, f.detail.clone());
        if attempts != recorder::RECORD_ATTEMPTS {
            return;
        }
        self.condemned_in_a_row += 1;
        if self.condemned_in_a_row <= UNRECORDABLE_IN_A_ROW {
            error!(
                uid = f.uid,
                message_id = %f.message_id,
                attempts,
                error = %f.detail,
                "a message cannot be recorded; it is quarantined with its bytes at the next try"
            );
        } else {
            error!(
                uid = f.uid,
                message_id = %f.message_id,
                error = %f.detail,
                "{} messages in a row cannot be recorded, and none between them could: the \
                 fault is not theirs (a template, the configuration, a bug); nothing more is \
                 quarantined, and the mail waits until it can be recorded",
                self.condemned_in_a_row
            );
        }
    }

    /// A batch was committed: one recorded as usual ends a run of unrecordable ones.
    fn committed(&mut self, c: &recorder::Committed) {
        if c.normal > 0 {
            self.condemned_in_a_row = 0;
        }
    }

    /// The UIDs of mailbox `uidvalidity` to quarantine rather than record: none once too many
    /// in a row could not be recorded.
    fn condemned(&self, uidvalidity: u32) -> recorder::Condemned {
        if self.condemned_in_a_row > UNRECORDABLE_IN_A_ROW {
            return recorder::Condemned::new();
        }
        self.unrecorded
            .at_least(uidvalidity, recorder::RECORD_ATTEMPTS)
    }

    /// Forget the failures of messages now recorded (the mailbox is synced up to `last`).
    fn synced(&mut self, uidvalidity: u32, last: u32) {
        self.unrecorded.keep_after(uidvalidity, last);
        self.unfetched.keep_after(uidvalidity, last);
        self.suspect
            .retain(|(v, uid)| *v == uidvalidity && *uid > last);
    }

    /// A body fetch of `loaded` failed with `e`: the server refused it, broke it off or went
    /// silent in it, perhaps because of one of them. A batch's messages are then fetched one
    /// at a time, and a message alone is counted towards [`FETCH_ATTEMPTS`]. Timeouts count
    /// too: a server that hangs on one message would otherwise hold up the mail after it for
    /// good, while a network outage seldom strikes the same lone message three times (and a
    /// large message arriving slowly is not a timeout: only silence is).
    fn fetch_failed(&mut self, uidvalidity: u32, loaded: &[u32], e: &anyhow::Error) {
        let [uid] = loaded else {
            self.suspect
                .extend(loaded.iter().map(|&uid| (uidvalidity, uid)));
            return;
        };
        let error = format!("{e:#}");
        let attempts = self.unfetched.count(uidvalidity, *uid, error.clone());
        if attempts == FETCH_ATTEMPTS {
            error!(
                uid,
                attempts,
                error = %error,
                "the server will not send a message; it is quarantined without its bytes at \
                 the next try, and stays on the server"
            );
        }
    }

    /// Whether `uid` is to be fetched alone.
    fn one_at_a_time(&self, uidvalidity: u32, uid: u32) -> bool {
        self.suspect.contains(&(uidvalidity, uid))
    }

    /// The UIDs of mailbox `uidvalidity` the server would not send, with its last answer.
    fn unfetchable(&self, uidvalidity: u32) -> HashMap<u32, String> {
        self.unfetched.at_least(uidvalidity, FETCH_ATTEMPTS)
    }
}

/// Re-read the config and rules on each signal; keep the running set when they are broken.
async fn run_reloads(
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

/// Weekly summaries at each contract's cron time; one that fell due while the daemon was
/// down is written at start, once.
async fn run_summaries(mut current: Current, wake: Arc<Notify>, mut shutdown: Shutdown) {
    let mut store = None;
    while !*shutdown.borrow() {
        let p = current.borrow_and_update().clone();
        if store.is_none() {
            store = Store::open(&p.config.daemon.state_dir)
                .map_err(|e| warn!(error = %format!("{e:#}"), "summaries cannot open the database"))
                .ok();
        }
        let now = Utc::now();
        if let Some(s) = store.as_mut() {
            match crate::summary::run_scheduled(s, &p, now) {
                Ok(0) => {}
                Ok(n) => {
                    info!(summaries = n, "weekly summaries written");
                    wake.notify_one();
                }
                Err(e) => warn!(error = %format!("{e:#}"), "weekly summary failed"),
            }
        }
        let next = p
            .config
            .contracts
            .keys()
            .filter_map(|c| crate::summary::next_run(&p.config, c, now))
            .min();
        let wait = next
            .and_then(|t| (t - now).to_std().ok())
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(3600))
            + Duration::from_secs(1);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = current.changed() => {}
            _ = shutdown.changed() => {}
        }
    }
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    // Not under systemd: NOTIFY_SOCKET is unset and this is a no-op.
    let _ = sd_notify::notify(state);
}

/// Ping systemd's watchdog while the IMAP loop shows signs of life.
fn spawn_watchdog(heartbeat: Arc<AtomicI64>, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
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
            let age = Utc::now().timestamp() - heartbeat.load(Ordering::Relaxed);
            if age >= 0 && (age as u64) < period.as_secs().max(1) {
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
        }
    })
}

fn jitter(d: Duration) -> Duration {
    let f: f64 = rand::random_range(0.75..1.25);
    d.mul_f64(f)
}

/// One IMAP connection's life: connect, sync, wait, sync, … until an error or shutdown.
#[allow(clippy::too_many_arguments)]
async fn session(
    p: &Arc<Pipeline>,
    early: Option<EarlyLogin>,
    store: &mut Store,
    shutdown: &mut Shutdown,
    current: &mut Current,
    heartbeat: &Arc<AtomicI64>,
    wake: &Notify,
    retry: &mut Reconnect,
) -> Result<()> {
    let cfg = &p.config.imap;
    let mut s = match early {
        Some(login) => login.await.context("The IMAP login failed")??,
        None => imap::connect(cfg).await?,
    };
    // A large message arriving slowly is progress too: the watchdog keeps quiet.
    s.set_alive(heartbeat.clone());
    let caps = s.capabilities();
    if let After::Move(folder) = &cfg.after {
        let created = s
            .create_if_missing(folder)
            .await
            .map(|()| 0)
            .context(AfterRefused);
        after_outcome(&s, store, retry, created)?;
    }
    let mailbox = s.select(&cfg.mailbox).await?;
    let uidvalidity = mailbox.uid_validity;
    let mut last = start_uid(p, store, &mut s, &mailbox).await?;
    let idle = cfg.idle && caps.idle;
    info!(mailbox = %cfg.mailbox, uidvalidity, last_uid = last, idle, "IMAP connected");
    let applied = reconcile_after(p, store, &mut s, uidvalidity).await;
    after_outcome(&s, store, retry, applied)?;
    // The recorder's own connection, kept from one sync to the next, and how many messages
    // it recorded since the last checkpoint.
    let (mut writer, mut unchecked) = (None, 0);

    loop {
        heartbeat.store(Utc::now().timestamp(), Ordering::Relaxed);
        if retry.after_refused.is_some() {
            // What waited for `after` gets another try at each sync.
            let applied = reconcile_after(p, store, &mut s, uidvalidity).await;
            after_outcome(&s, store, retry, applied)?;
        }
        let before = last;
        last = sync_new(
            p,
            store,
            &mut writer,
            &mut unchecked,
            &mut s,
            uidvalidity,
            last,
            shutdown,
            heartbeat,
            retry,
        )
        .await?;
        retry.synced(uidvalidity, last);
        // A sync that found nothing new is still a successful sync (`musaid status`).
        crate::store::meta_set(
            store.conn(),
            "last_sync",
            &Utc::now().timestamp().to_string(),
        )?;
        if last != before {
            wake.notify_one();
        }
        retry.connected();
        if *shutdown.borrow() {
            let _ = s.logout().await;
            return Ok(());
        }
        let limit = if idle {
            IDLE_REISSUE
        } else {
            cfg.poll_interval
        };
        let limit = limit.min(watchdog_half());
        if idle {
            tokio::select! {
                r = s.idle_wait(limit) => {
                    if let IdleOutcome::NewData = r? {
                        debug!("IDLE: new data");
                    }
                }
                _ = shutdown.changed() => return Ok(()),
                // A reload reconnects with the new settings.
                _ = current.changed() => return Ok(()),
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(limit) => {}
                _ = shutdown.changed() => {
                    let _ = s.logout().await;
                    return Ok(());
                }
                _ = current.changed() => {
                    let _ = s.logout().await;
                    return Ok(());
                }
            }
            s.noop().await?;
        }
    }
}

/// Half the systemd watchdog period, or a long time when there is none.
fn watchdog_half() -> Duration {
    match sd_notify::watchdog_enabled() {
        Some(p) if !p.is_zero() => (p / 2).max(Duration::from_secs(1)),
        _ => Duration::from_secs(3600),
    }
}

/// Where to start in this mailbox: the stored last UID, or per `first_sync` at the very first
/// start, or 0 after a UIDVALIDITY change (everything is re-read and re-mapped by Message-ID).
async fn start_uid(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    mb: &imap::MailboxState,
) -> Result<u32> {
    let name = &p.config.imap.mailbox;
    if let Some(last) = sync::last_uid(store.conn(), name, mb.uid_validity)? {
        return Ok(last);
    }
    let start = if sync::mailbox_known(store.conn(), name)? {
        warn!(mailbox = %name, uidvalidity = mb.uid_validity, "UIDVALIDITY changed; re-reading the mailbox, matching by Message-ID");
        0
    } else {
        match &p.config.imap.first_sync {
            FirstSync::All => 0,
            FirstSync::New => match mb.uid_next {
                Some(next) => next.saturating_sub(1),
                None => s.uid_search_after(0).await?.into_iter().max().unwrap_or(0),
            },
            FirstSync::Since(date) => {
                let uids = s.uid_search_since(*date).await?;
                match uids.iter().min() {
                    Some(min) => min.saturating_sub(1),
                    None => mb.uid_next.unwrap_or(1).saturating_sub(1),
                }
            }
        }
    };
    let tx = store.transaction()?;
    sync::set_last_uid(&tx, name, mb.uid_validity, start, Utc::now().timestamp())?;
    tx.commit()?;
    Ok(start)
}

/// Fetch and record every message after `last`, in batches; returns the new last UID.
///
/// The IMAP loop fetches while the recorder (its own threads and database connection) parses
/// and records the batches before: see [`crate::recorder`]. `imap.after` follows each commit.
#[allow(clippy::too_many_arguments)]
async fn sync_new(
    p: &Arc<Pipeline>,
    store: &mut Store,
    writer: &mut Option<Store>,
    unchecked: &mut usize,
    s: &mut ImapSession,
    uidvalidity: u32,
    mut last: u32,
    shutdown: &Shutdown,
    heartbeat: &AtomicI64,
    retry: &mut Reconnect,
) -> Result<u32> {
    let mut uids: Vec<u32> = s
        .uid_search_after(last)
        .await?
        .into_iter()
        .filter(|u| *u > last)
        .collect();
    if uids.is_empty() {
        return Ok(last);
    }
    uids.sort_unstable();
    uids.dedup();
    let (batches, batch_rx) = mpsc::channel(recorder::QUEUE);
    let (committed_tx, mut committed) = mpsc::unbounded_channel();
    let recorder = recorder::spawn(
        p.clone(),
        writer.take(),
        uidvalidity,
        retry.condemned(uidvalidity),
        batch_rx,
        committed_tx,
    );

    // The first IMAP error; the batches fetched before it are recorded all the same.
    let mut failed = Ok(());
    let max_size = p.config.policy.max_message_size;
    'fetch: for span in imap::size_spans(&uids) {
        let gave_up = retry.unfetchable(uidvalidity);
        let sizes = match span_sizes(s, span, max_size, &gave_up).await {
            Ok(sizes) => sizes,
            Err(e) => {
                failed = Err(e);
                break;
            }
        };
        let runs: Vec<&[u32]> = span
            .chunks(imap::FETCH_BATCH)
            .flat_map(|chunk| by_bytes(chunk, &sizes, max_size, imap::FETCH_BYTES))
            .flat_map(|run| {
                if run.iter().any(|&uid| retry.one_at_a_time(uidvalidity, uid)) {
                    run.chunks(1).collect()
                } else {
                    vec![run]
                }
            })
            .collect();
        for run in runs {
            let batch = match fetch_run(s, run, &sizes, max_size, &gave_up).await {
                Ok(b) => b,
                Err(e) => {
                    let loaded = to_load(run, &sizes, max_size, &gave_up);
                    retry.fetch_failed(uidvalidity, &loaded, &e);
                    failed = Err(e);
                    break 'fetch;
                }
            };
            // A closed queue means the recorder stopped on an error: reported below.
            if batches.send(batch).await.is_err() {
                break 'fetch;
            }
            heartbeat.store(Utc::now().timestamp(), Ordering::Relaxed);
            while let Ok(c) = committed.try_recv() {
                log_committed(&c);
                retry.committed(&c);
                last = c.last;
                *unchecked += c.recorded.len();
                let applied = after_batch(p, store, s, uidvalidity, &c.recorded).await;
                if let Err(e) = after_outcome(s, store, retry, applied) {
                    failed = Err(e);
                    break 'fetch;
                }
            }
            checkpoint_when_due(store, unchecked, recorder::CHECKPOINT_EVERY);
            if *shutdown.borrow() {
                break 'fetch;
            }
        }
    }
    drop(batches);
    let mut recorded = Vec::new();
    while let Some(c) = committed.recv().await {
        log_committed(&c);
        retry.committed(&c);
        last = c.last;
        *unchecked += c.recorded.len();
        recorded.extend(c.recorded);
        heartbeat.store(Utc::now().timestamp(), Ordering::Relaxed);
    }
    let (w, result) = recorder.await.context("The recorder failed")?;
    *writer = w;
    if let Err(e) = &result {
        retry.record_failed(uidvalidity, e);
    }
    // After an error, `after` waits in `after_pending` for the next session.
    failed?;
    result?;
    let applied = after_batch(p, store, s, uidvalidity, &recorded).await;
    after_outcome(s, store, retry, applied)?;
    checkpoint_when_due(store, unchecked, recorder::CHECKPOINT_IDLE);
    Ok(last)
}

/// One log line per message of a committed batch.
fn log_committed(c: &recorder::Committed) {
    for (uid, outcome) in c.recorded.iter().zip(&c.spent) {
        recorder::log_outcome(*uid, outcome);
    }
}

/// Checkpoint the write-ahead log once the recorder has added `due` messages to it
/// ([`recorder::CHECKPOINT_EVERY`] during a backlog, [`recorder::CHECKPOINT_IDLE`] once the
/// inbox is caught up). A checkpoint that fails (a full disk) loses nothing: the log keeps
/// the records, and the next one tries again.
fn checkpoint_when_due(store: &Store, unchecked: &mut usize, due: usize) {
    if *unchecked < due {
        return;
    }
    match store.checkpoint() {
        Ok(()) => *unchecked = 0,
        Err(e) => warn!(error = %format!("{e:#}"), "WAL checkpoint failed; will try again"),
    }
}

/// The `RFC822.SIZE` of `uid` among sizes ascending by UID; `None` when it is not there.
fn size_of(sizes: &[(u32, u32)], uid: u32) -> Option<u32> {
    sizes
        .binary_search_by_key(&uid, |(u, _)| *u)
        .ok()
        .and_then(|i| sizes.get(i))
        .map(|(_, size)| *size)
}

/// What is known of a span's sizes before its bodies are loaded: the exact `RFC822.SIZE`
/// of each message larger than `bound` and of each one given up on; every other one is at
/// most `bound` bytes. A backlog of ordinary requests needs one `UID SEARCH … LARGER` that
/// names none of them, not a `UID FETCH … RFC822.SIZE` answered line by line for each.
#[derive(Debug, Clone, Default)]
struct SpanSizes {
    /// Exact sizes, ascending by UID.
    exact: Vec<(u32, u32)>,
    /// The UIDs the server said are larger than `bound`, ascending.
    larger: Vec<u32>,
    bound: u32,
}

impl SpanSizes {
    /// How many bytes `uid` may take: its exact size, or `bound`; `None` when it is larger
    /// than `bound` and its size did not come (gone meanwhile).
    fn at_most(&self, uid: u32) -> Option<u32> {
        size_of(&self.exact, uid).or_else(|| {
            self.larger
                .binary_search(&uid)
                .is_err()
                .then_some(self.bound)
        })
    }
}

/// A span's sizes: one `UID SEARCH UID … LARGER b`, then `RFC822.SIZE` for what it names
/// and for the UIDs given up on (recorded with their size). `b` is `max_size`, or the body
/// budget of one fetch shared by a whole batch when smaller, so that batching by
/// [`by_bytes`] still bounds memory with only `b` known of the small ones.
async fn span_sizes(
    s: &mut ImapSession,
    span: &[u32],
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Result<SpanSizes> {
    let share = imap::FETCH_BYTES / imap::FETCH_BATCH as u64;
    let bound = u32::try_from(max_size.min(share)).unwrap_or(u32::MAX);
    let larger = s.uid_larger(span, bound).await?;
    let mut wanted: Vec<u32> = span
        .iter()
        .copied()
        .filter(|u| gave_up.contains_key(u))
        .chain(larger.iter().copied())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let exact = if wanted.is_empty() {
        Vec::new()
    } else {
        s.fetch_sizes(&wanted).await?
    };
    Ok(SpanSizes {
        exact,
        larger,
        bound,
    })
}

/// A chunk's UIDs (ascending) in consecutive runs whose bodies to load (those not over
/// `max_size`) come to at most `budget` bytes, a larger one in a run of its own; an oversized
/// or vanished UID joins the run it falls in. A backlog of small requests keeps whole chunks;
/// one of scanned invoices is not held in memory a chunk at a time, several times over.
fn by_bytes<'u>(uids: &'u [u32], sizes: &SpanSizes, max_size: u64, budget: u64) -> Vec<&'u [u32]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, &uid) in uids.iter().enumerate() {
        let load = sizes
            .at_most(uid)
            .map(u64::from)
            .filter(|s| *s <= max_size)
            .unwrap_or(0);
        if bytes > 0 && bytes.saturating_add(load) > budget {
            runs.extend(uids.get(start..i));
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(load);
    }
    runs.extend(uids.get(start..).filter(|r| !r.is_empty()));
    runs
}

/// The UIDs of a run whose bodies to load: not over `max_size`, not vanished, not given up on.
fn to_load(
    run: &[u32],
    sizes: &SpanSizes,
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Vec<u32> {
    run.iter()
        .copied()
        .filter(|u| !gave_up.contains_key(u))
        .filter(|&u| {
            sizes
                .at_most(u)
                .is_some_and(|size| u64::from(size) <= max_size)
        })
        .collect()
}

/// The bodies of a run's UIDs not over `max_message_size`, as one batch for the recorder;
/// those in `gave_up` are not asked for again.
async fn fetch_run(
    s: &mut ImapSession,
    run: &[u32],
    sizes: &SpanSizes,
    max_size: u64,
    gave_up: &HashMap<u32, String>,
) -> Result<Fetched> {
    let small = to_load(run, sizes, max_size, gave_up);
    let mut bodies = if small.is_empty() {
        Vec::new()
    } else {
        s.fetch_mail(&small).await?
    };
    bodies.sort_by_key(|m| m.uid);
    let mut sizes: Vec<(u32, u32)> = run
        .iter()
        .filter_map(|&u| size_of(&sizes.exact, u).map(|size| (u, size)))
        .collect();
    // A server whose SEARCH LARGER missed a message over max_message_size: its bytes came
    // all the same, and it is recorded as oversized, never parsed.
    bodies.retain(|m| {
        let len = u32::try_from(m.raw.len()).unwrap_or(u32::MAX);
        let over = u64::from(len) > max_size;
        if over {
            match sizes.binary_search_by_key(&m.uid, |(u, _)| *u) {
                Ok(at) => sizes.get_mut(at).into_iter().for_each(|s| s.1 = len),
                Err(at) => sizes.insert(at, (m.uid, len)),
            }
        }
        !over
    });
    let unfetchable = run
        .iter()
        .filter_map(|u| gave_up.get(u).map(|e| (*u, e.clone())))
        .collect();
    Ok(Fetched {
        uids: run.to_vec(),
        sizes,
        bodies,
        unfetchable,
    })
}

/// `imap.after` for messages whose records are committed, then forget they wait for it.
async fn after_batch(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    uidvalidity: u32,
    uids: &[u32],
) -> Result<usize> {
    if p.config.imap.after == After::Keep || uids.is_empty() {
        return Ok(0);
    }
    for chunk in uids.chunks(imap::FETCH_BATCH) {
        apply_after(p, s, chunk).await?;
        let tx = store.transaction()?;
        sync::clear_after_pending(&tx, &p.config.imap.mailbox, uidvalidity, chunk)?;
        tx.commit()?;
    }
    Ok(uids.len())
}

/// What a failed `imap.after` means. A server that refuses it (a folder it will not create,
/// a mailbox over quota) must not stop the ingest: the refusal is logged (once, until it
/// changes), kept as the status's last error, and `after` is tried again at each sync, the
/// mail staying in the mailbox meanwhile. A lost connection ends the session, as any error.
/// `applied` is how many messages `after` was applied to.
fn after_outcome(
    s: &ImapSession,
    store: &Store,
    retry: &mut Reconnect,
    applied: Result<usize>,
) -> Result<()> {
    match applied {
        Ok(0) => Ok(()),
        Ok(n) => {
            if retry.after_refused.take().is_some() {
                info!(messages = n, "imap.after works again");
            }
            Ok(())
        }
        Err(e) if s.is_usable() && e.downcast_ref::<AfterRefused>().is_some() => {
            let text = format!("{e:#}");
            if retry.after_refused.as_deref() != Some(text.as_str()) {
                warn!(
                    error = %text,
                    "the server refused imap.after; requests are still recorded, and stay in \
                     the mailbox until it works"
                );
                let _ = store.record_error(&text);
                retry.after_refused = Some(text);
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The context of an error of the server's making in `imap.after` (as opposed to a database
/// error): [`after_outcome`] lets the ingest go on.
#[derive(Debug)]
struct AfterRefused;

impl std::fmt::Display for AfterRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("imap.after could not be applied")
    }
}

/// `imap.after`, applied only once the messages' records are committed.
async fn apply_after(p: &Pipeline, s: &mut ImapSession, uids: &[u32]) -> Result<()> {
    let applied = match &p.config.imap.after {
        After::Keep => Ok(()),
        After::Seen => s.mark_seen(uids).await,
        After::Move(folder) => s.move_to(uids, folder).await.map(|outcome| {
            if outcome == imap::MoveOutcome::CopiedAndFlagged {
                debug!(
                    count = uids.len(),
                    "no MOVE or UIDPLUS: copied and flagged \\Deleted, left in place"
                );
            }
        }),
    };
    applied.context(AfterRefused)
}

/// After a crash between the commit and `after`, recorded messages may still wait for it:
/// apply `after` to those (and only those) still in the mailbox now.
async fn reconcile_after(
    p: &Pipeline,
    store: &mut Store,
    s: &mut ImapSession,
    uidvalidity: u32,
) -> Result<usize> {
    let mailbox = &p.config.imap.mailbox;
    let pending = sync::after_pending(store.conn(), mailbox, uidvalidity)?;
    let Some(first) = pending.first() else {
        return Ok(0);
    };
    let mut present = s.uid_search_after(first.saturating_sub(1)).await?;
    present.sort_unstable();
    for chunk in pending.chunks(imap::FETCH_BATCH) {
        let here: Vec<u32> = chunk
            .iter()
            .copied()
            .filter(|u| present.binary_search(u).is_ok())
            .collect();
        if !here.is_empty() {
            apply_after(p, s, &here).await?;
        }
        let tx = store.transaction()?;
        sync::clear_after_pending(&tx, mailbox, uidvalidity, chunk)?;
        tx.commit()?;
    }
    Ok(pending.len())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u32 = 1 << 20;

    /// `uid` fails to record `times` times (each a rolled-back batch), as the recorder reports.
    fn fails(retry: &mut Reconnect, uid: u32, after_others: bool, times: u32) {
        for _ in 0..times {
            let e = anyhow::Error::new(recorder::MessageFailed {
                uid,
                message_id: format!("m{uid}@example.test"),
                detail: "refused".into(),
                after_others,
            });
            retry.record_failed(9, &e);
        }
    }

    /// A batch committed with `normal` messages recorded as usual.
    fn commits(retry: &mut Reconnect, last: u32, normal: usize) {
        retry.committed(&recorder::Committed {
            last,
            recorded: vec![last],
            spent: Vec::new(),
            normal,
        });
        retry.synced(9, last);
    }

    fn condemned(retry: &Reconnect) -> Vec<u32> {
        let mut uids: Vec<u32> = retry.condemned(9).into_keys().collect();
        uids.sort_unstable();
        uids
    }

    #[test]
    fn a_message_is_quarantined_after_three_failed_attempts_and_forgotten_once_recorded() {
        let mut retry = Reconnect::default();
        fails(&mut retry, 5, false, 2);
        assert!(condemned(&retry).is_empty(), "two failures are not enough");
        fails(&mut retry, 5, false, 1);
        assert_eq!(condemned(&retry), [5]);
        assert!(
            retry.condemned(10).is_empty(),
            "another UIDVALIDITY is another mailbox"
        );
        commits(&mut retry, 5, 0);
        assert!(condemned(&retry).is_empty());
    }

    #[test]
    fn many_unrecordable_in_a_row_are_musaids_fault_and_quarantine_nothing_more() {
        let mut retry = Reconnect::default();
        // Live mail one message at a time, every one refused (a broken template, say).
        for uid in 1..=3 {
            fails(&mut retry, uid, false, 3);
            assert_eq!(condemned(&retry), [uid]);
            commits(&mut retry, uid, 0);
        }
        fails(&mut retry, 4, false, 3);
        assert!(condemned(&retry).is_empty(), "the fourth in a row waits");
        fails(&mut retry, 4, false, 5);
        assert!(condemned(&retry).is_empty(), "and keeps waiting");
        // Fixed (a reload): it records as usual, and a later poison is quarantined again.
        commits(&mut retry, 4, 1);
        fails(&mut retry, 5, false, 3);
        assert_eq!(condemned(&retry), [5]);
    }

    #[test]
    fn poison_messages_among_recorded_ones_are_each_their_own_fault() {
        let mut retry = Reconnect::default();
        // Five poisoned messages in one batch of good ones: each fails after others recorded.
        for uid in [10, 20, 30, 40, 50] {
            fails(&mut retry, uid, true, 3);
        }
        assert_eq!(condemned(&retry), [10, 20, 30, 40, 50]);
    }

    #[test]
    fn a_failed_batch_is_fetched_one_at_a_time_and_a_message_given_up_on_after_three() {
        let mut retry = Reconnect::default();
        let bye = anyhow::anyhow!("UID FETCH 4:6: the server closed the connection (BYE)");
        retry.fetch_failed(9, &[4, 5, 6], &bye);
        assert!([4, 5, 6].iter().all(|&u| retry.one_at_a_time(9, u)));
        assert!(!retry.one_at_a_time(9, 7) && !retry.one_at_a_time(10, 5));
        assert!(
            retry.unfetchable(9).is_empty(),
            "a batch's failure blames none of them"
        );
        for n in 1..=3 {
            assert!(retry.unfetchable(9).is_empty(), "not after {} tries", n - 1);
            retry.fetch_failed(9, &[5], &bye);
        }
        let gave_up = retry.unfetchable(9);
        assert_eq!(gave_up.keys().copied().collect::<Vec<_>>(), [5]);
        assert!(gave_up.get(&5).is_some_and(|e| e.contains("BYE")));
        // Once the mailbox is past them, all is forgotten.
        retry.synced(9, 6);
        assert!(!retry.one_at_a_time(9, 6) && retry.unfetchable(9).is_empty());
    }

    /// Sizes as a server that knows them all would give them: every one exact.
    fn exact(sizes: &[(u32, u32)]) -> SpanSizes {
        SpanSizes {
            exact: sizes.to_vec(),
            larger: sizes.iter().map(|(u, _)| *u).collect(),
            bound: 0,
        }
    }

    fn runs(sizes: &[(u32, u32)], uids: &[u32]) -> Vec<Vec<u32>> {
        let runs = by_bytes(uids, &exact(sizes), 25 * u64::from(MB), 4 * u64::from(MB));
        // Every UID once, in order, whatever the split.
        assert_eq!(runs.concat(), uids);
        runs.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn one_daemon_per_state_directory_and_the_refusal_names_the_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = dir.path().join("state");
        assert_eq!(holder(&state).ok(), Some(None), "no lock file yet");
        let first = lock_state_dir(&state).expect("the first claims it");
        let pid = std::process::id().to_string();
        let held = holder(&state).ok().flatten().and_then(|h| h.pid);
        assert_eq!(held, Some(std::process::id()));
        assert_eq!(
            std::fs::read_to_string(state.join(LOCK_FILE))
                .ok()
                .as_deref(),
            Some(format!("{pid}\n").as_str())
        );
        let refused = lock_state_dir(&state).err().map(|e| format!("{e:#}"));
        let refused = refused.expect("a second daemon is refused");
        assert!(refused.contains("already running"), "{refused}");
        assert!(refused.contains(&format!("(pid {pid})")), "{refused}");
        // Gone (however it ended): nobody holds it, and the next one starts.
        drop(first);
        assert_eq!(holder(&state).ok(), Some(None));
        assert!(lock_state_dir(&state).is_ok());
    }

    #[test]
    fn a_chunk_of_small_requests_is_fetched_whole() {
        let uids: Vec<u32> = (1..=200).collect();
        let sizes: Vec<(u32, u32)> = uids.iter().map(|&u| (u, 6000)).collect();
        assert_eq!(runs(&sizes, &uids), vec![uids.clone()]);
        assert!(runs(&[], &[]).is_empty());
    }

    #[test]
    fn large_mail_is_fetched_a_few_megabytes_at_a_time() {
        let sizes = [
            (1, 3 * MB),
            (2, 3 * MB),
            (3, MB / 2),
            (4, MB / 2),
            (5, 3 * MB),
        ];
        assert_eq!(
            runs(&sizes, &[1, 2, 3, 4, 5]),
            vec![vec![1], vec![2, 3, 4], vec![5]]
        );
        // A message over the budget (but under max_message_size) comes alone.
        let sizes = [(1, MB), (2, 10 * MB), (3, MB)];
        assert_eq!(runs(&sizes, &[1, 2, 3]), vec![vec![1], vec![2], vec![3]]);
    }

    #[test]
    fn oversized_and_vanished_uids_load_nothing_and_ride_along() {
        // 7 is over max_message_size (never loaded), 8 was expunged before its size came.
        let sizes = [(6, MB), (7, 30 * MB), (9, 2 * MB)];
        assert_eq!(runs(&sizes, &[6, 7, 8, 9]), vec![vec![6, 7, 8, 9]]);
        assert_eq!(size_of(&sizes, 8), None);
        assert_eq!(size_of(&sizes, 9), Some(2 * MB));
        // The server named all four as larger than the bound; 8's size did not come.
        let span = SpanSizes {
            exact: sizes.to_vec(),
            larger: vec![6, 7, 8, 9],
            bound: 0,
        };
        let loaded = to_load(&[6, 7, 8, 9], &span, 25 * u64::from(MB), &HashMap::new());
        assert_eq!(loaded, [6, 9]);
    }

    #[test]
    fn small_mail_is_batched_by_the_bound_that_search_larger_gives() {
        let max = 25 * u64::from(MB);
        let budget = imap::FETCH_BYTES;
        // Of 1..=400 the server named 7 (3 MB), 9 (30 MB) and 11 (gone before its size came)
        // as larger than the bound; the others are at most the bound each.
        let bound = u32::try_from(budget / imap::FETCH_BATCH as u64).unwrap_or(u32::MAX);
        let sizes = SpanSizes {
            exact: vec![(7, 3 * MB), (9, 30 * MB)],
            larger: vec![7, 9, 11],
            bound,
        };
        assert_eq!(sizes.at_most(1), Some(bound));
        assert_eq!(sizes.at_most(7), Some(3 * MB));
        assert_eq!(sizes.at_most(11), None);
        let uids: Vec<u32> = (1..=400).collect();
        let loaded = to_load(&uids, &sizes, max, &HashMap::new());
        assert!(!loaded.contains(&9) && !loaded.contains(&11) && loaded.contains(&7));
        assert_eq!(loaded.len(), 398);
        // A whole batch of small ones fits one fetch's budget.
        let small: Vec<u32> = (12..12 + imap::FETCH_BATCH as u32).collect();
        assert_eq!(by_bytes(&small, &sizes, max, budget), vec![&small[..]]);
        // The 3 MB one and the small ones after it share a run only up to the budget.
        let runs = by_bytes(&uids[..imap::FETCH_BATCH], &sizes, max, budget);
        assert_eq!(runs.concat(), &uids[..imap::FETCH_BATCH]);
        for run in &runs {
            let bytes: u64 = run
                .iter()
                .filter_map(|&u| sizes.at_most(u))
                .map(u64::from)
                .filter(|&b| b <= max)
                .sum();
            assert!(bytes <= budget || run.len() == 1, "{run:?}: {bytes}");
        }
        assert!(
            runs.len() >= 2,
            "the 3 MB message does not share with 199 small ones"
        );
    }
}
