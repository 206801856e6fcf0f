//! One logged-in IMAP connection and the few commands musaid needs.

use super::auth::{resolve_secret, SaslAnswer};
use super::fetch::Fetched;
use super::transport::{is_loopback_host, tcp_connect, tls_handshake, Metered, Transport};
use super::{
    decode_name, imap_date, quoted_mailbox, uid_set, wire_name, FetchedMail, IdleOutcome,
    MailboxState, MoveOutcome, ServerCapabilities,
};
use crate::config::{AuthMethod, ImapConfig, TlsMode};
use anyhow::{bail, Context, Result};
use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response, ResponseCode, Status};
use async_imap::types::UnsolicitedResponse;
use futures::{Stream, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::BufStream;

/// How long opening the TCP connection, TLS and the greeting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may stay silent while answering a command. A large answer that is
/// still arriving is not silence: a 25 MB message over a slow link takes what it takes.
pub const COMMAND_TIMEOUT: Duration = crate::config::ImapConfig::DEFAULT_TIMEOUT;

/// What async-imap reads and writes: the connection behind a read and a write buffer.
/// async-imap writes a command's tag, space, text and CRLF separately and then flushes;
/// unbuffered, each piece was its own TCP segment (its own TLS record under TLS), four per
/// command. It reads into the free end of its own buffer, a few kilobytes: about one read
/// (and one wake-up) per fetched message (9,425 for 10,000 bodies), where one read of
/// [`READ_BUFFER`] takes whatever the server has sent meanwhile (709).
type Buffered = BufStream<Metered>;

/// Bytes read from the connection at a time, at most.
const READ_BUFFER: usize = 64 * 1024;
/// async-imap's commands are short: tokio's default write buffer.
const WRITE_BUFFER: usize = 8 * 1024;

type Inner = async_imap::Session<Buffered>;

/// A logged-in IMAP connection. After a timeout or a failed IDLE it is broken:
/// every further command fails and the caller reconnects.
pub struct ImapSession {
    inner: Option<Inner>,
    /// `host:port`, for messages.
    endpoint: String,
    caps: ServerCapabilities,
    timeout: Duration,
    /// Bytes read from the server so far: progress, for [`while_sending`].
    read: Arc<AtomicU64>,
    /// Set to the Unix time whenever a long answer is seen arriving ([`ImapSession::set_alive`]).
    alive: Option<Arc<AtomicI64>>,
    /// New mail was reported (EXISTS/RECENT) during a command since the last IDLE.
    news: bool,
}

impl std::fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapSession")
            .field("endpoint", &self.endpoint)
            .field("caps", &self.caps)
            .field("broken", &self.inner.is_none())
            .finish()
    }
}

/// A command got no answer in time. The session is then broken: a late
/// answer would be read as the next command's.
#[derive(Debug, thiserror::Error)]
#[error("no answer from the server within {}s", .0.as_secs_f64())]
struct TimedOut(Duration);

/// Whether `e` is a command that got no answer in time (the network, most likely), rather
/// than one the server refused or broke off.
pub fn is_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.is::<TimedOut>())
}

/// The server ended the connection (BYE or EOF) before the command completed.
#[derive(Debug, thiserror::Error)]
#[error("the server closed the connection ({0})")]
struct ConnectionClosed(String);

/// Await `fut` for at most `limit`; errors name `what`.
async fn within<T, E>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r
            .map_err(anyhow::Error::new)
            .with_context(|| what.to_string()),
        Err(_) => Err(anyhow::Error::new(TimedOut(limit)).context(what.to_string())),
    }
}

/// Await `fut` while the server keeps sending: it times out once `limit` has passed without a
/// byte read (`read` counts them), however long a large answer takes to arrive in full. While
/// bytes arrive, `alive` gets the Unix time, every few seconds.
async fn while_sending<F: Future>(
    limit: Duration,
    read: &AtomicU64,
    alive: Option<&AtomicI64>,
    fut: F,
) -> std::result::Result<F::Output, TimedOut> {
    let mut fut = std::pin::pin!(fut);
    let step = (limit / 4).clamp(Duration::from_millis(10), Duration::from_secs(10));
    let mut seen = read.load(Ordering::Relaxed);
    let mut since = tokio::time::Instant::now();
    loop {
        let deadline = (since + limit).min(tokio::time::Instant::now() + step);
        if let Ok(out) = tokio::time::timeout_at(deadline, fut.as_mut()).await {
            return Ok(out);
        }
        let now = read.load(Ordering::Relaxed);
        if now != seen {
            (seen, since) = (now, tokio::time::Instant::now());
            if let Some(alive) = alive {
                alive.store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
            }
        } else if since.elapsed() >= limit {
            return Err(TimedOut(limit));
        }
    }
}

/// Collect a response stream, allowing `limit` between two items.
async fn collect_within<T, S>(limit: Duration, what: &str, mut stream: S) -> Result<Vec<T>>
where
    S: Stream<Item = async_imap::error::Result<T>> + Unpin,
{
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(limit, stream.try_next()).await {
            Ok(Ok(Some(item))) => out.push(item),
            Ok(Ok(None)) => return Ok(out),
            Ok(Err(e)) => return Err(anyhow::Error::new(e).context(what.to_string())),
            Err(_) => return Err(anyhow::Error::new(TimedOut(limit)).context(what.to_string())),
        }
    }
}

/// Connect, secure and log in as `cfg` says. Plaintext goes to loopback only.
pub async fn connect(cfg: &ImapConfig) -> Result<ImapSession> {
    let host = cfg.host.as_str();
    let endpoint = format!("{host}:{}", cfg.port);
    if cfg.tls == TlsMode::None && !is_loopback_host(host) {
        bail!(
            "Refusing plaintext IMAP to {host}: tls = \"none\" is allowed only for 127.0.0.1 or ::1; \
             use tls = \"implicit\" or \"starttls\""
        );
    }
    let user = cfg.login.user.as_deref().with_context(|| {
        format!("IMAP at {endpoint} needs a user: servers that need no login (PREAUTH) are not supported")
    })?;
    // Secrets before the network: a missing password file fails fast and offline.
    let credential = match cfg.login.auth {
        AuthMethod::Password => resolve_secret(&cfg.login.password, "IMAP password").await?,
        AuthMethod::XOAuth2 => {
            let cmd = cfg.login.oauth2_token_command.as_ref().with_context(|| {
                format!(
                    "IMAP at {endpoint} uses auth = \"xoauth2\" but has no oauth2_token_command"
                )
            })?;
            resolve_secret(
                &crate::config::SecretSource::Command(cmd.clone()),
                "OAuth2 token",
            )
            .await?
        }
    };

    let tcp = tcp_connect(host, cfg.port, cfg.tls == TlsMode::None, CONNECT_TIMEOUT).await?;
    let ca_file = cfg.ca_file.as_deref();
    let read = Arc::new(AtomicU64::new(0));
    let metered = |t: Transport| {
        BufStream::with_capacity(READ_BUFFER, WRITE_BUFFER, Metered::new(t, read.clone()))
    };
    let client = match cfg.tls {
        TlsMode::Implicit => {
            let tls = tls_handshake(tcp, host, ca_file, CONNECT_TIMEOUT).await?;
            let mut client = async_imap::Client::new(metered(tls));
            read_greeting(&mut client, &endpoint).await?;
            client
        }
        TlsMode::StartTls => {
            let mut client = async_imap::Client::new(metered(Transport::Plain(tcp)));
            read_greeting(&mut client, &endpoint).await?;
            within(
                CONNECT_TIMEOUT,
                &format!("STARTTLS refused by {endpoint}"),
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            // Anything the server sent before the handshake is dropped with the old client.
            // (The write buffer is empty: async-imap flushed the command.)
            let Transport::Plain(tcp) = client.into_inner().into_inner().into_inner() else {
                bail!("STARTTLS on a connection that already uses TLS");
            };
            let tls = tls_handshake(tcp, host, ca_file, CONNECT_TIMEOUT).await?;
            async_imap::Client::new(metered(tls))
        }
        TlsMode::None => {
            let mut client = async_imap::Client::new(metered(Transport::Plain(tcp)));
            read_greeting(&mut client, &endpoint).await?;
            client
        }
    };

    let login = match cfg.login.auth {
        // LOGIN carries 7-bit text only: other credentials go as SASL PLAIN, in UTF-8.
        AuthMethod::Password if !user.is_ascii() || !credential.expose().is_ascii() => {
            let auth = SaslAnswer::plain(user, &credential);
            tokio::time::timeout(COMMAND_TIMEOUT, client.authenticate("PLAIN", auth)).await
        }
        AuthMethod::Password => {
            tokio::time::timeout(COMMAND_TIMEOUT, client.login(user, credential.expose())).await
        }
        AuthMethod::XOAuth2 => {
            let auth = SaslAnswer::xoauth2(user, &credential);
            tokio::time::timeout(COMMAND_TIMEOUT, client.authenticate("XOAUTH2", auth)).await
        }
    };
    let failed = format!(
        "IMAP login as {user} at {endpoint} failed; check the user and its password or token"
    );
    let session = match login {
        Ok(Ok(s)) => s,
        Ok(Err((e, _client))) => return Err(anyhow::Error::new(e).context(failed)),
        Err(_) => bail!("{failed}: no answer within {}s", COMMAND_TIMEOUT.as_secs()),
    };

    let mut s = ImapSession {
        inner: Some(session),
        endpoint,
        caps: ServerCapabilities::default(),
        timeout: cfg.timeout,
        read,
        alive: None,
        news: false,
    };
    let caps = {
        let what = format!("CAPABILITY at {}", s.endpoint);
        let inner = s.inner_mut()?;
        within(COMMAND_TIMEOUT, &what, inner.capabilities()).await?
    };
    s.caps = ServerCapabilities {
        idle: caps.has_str("IDLE"),
        move_cmd: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    };
    tracing::debug!(endpoint = %s.endpoint, user, caps = ?s.caps, "IMAP logged in");
    Ok(s)
}

/// The server speaks first: `* OK` lets us log in, `* BYE` is a refusal.
async fn read_greeting(client: &mut async_imap::Client<Buffered>, endpoint: &str) -> Result<()> {
    let what = format!("Reading the IMAP greeting of {endpoint}");
    let greeting = within(CONNECT_TIMEOUT, &what, client.read_response())
        .await?
        .with_context(|| format!("{endpoint} closed the connection before its greeting"))?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok, ..
        } => Ok(()),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => bail!("{endpoint} greets with PREAUTH; connections without login are not supported"),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => bail!(
            "{endpoint} refused the connection: {}",
            outcome.information.as_deref().unwrap_or("BYE")
        ),
        other => bail!("{endpoint} sent no IMAP greeting but {other:?}"),
    }
}

impl ImapSession {
    /// "COMMAND at host:port", for errors.
    fn what(&self, command: impl std::fmt::Display) -> String {
        format!("{command} at {}", self.endpoint)
    }

    fn inner_mut(&mut self) -> Result<&mut Inner> {
        let endpoint = &self.endpoint;
        self.inner.as_mut().with_context(|| {
            format!("The IMAP connection to {endpoint} is broken after an earlier error; reconnect")
        })
    }

    /// Pass a command's result on; after a timeout the session is unusable.
    fn settle<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            let lost = e.downcast_ref::<TimedOut>().is_some()
                || e.downcast_ref::<ConnectionClosed>().is_some()
                || matches!(
                    e.downcast_ref::<async_imap::error::Error>(),
                    Some(
                        async_imap::error::Error::ConnectionLost | async_imap::error::Error::Io(_)
                    )
                );
            if lost {
                self.inner = None;
            }
        }
        r
    }

    /// Send `command` and read its answer: untagged responses go to `on_data`,
    /// and only the tagged OK is success. A NO or BAD is an error naming the
    /// command; a BYE, EOF or timeout before the tagged answer is an error too,
    /// and leaves the session broken. (async-imap's own parsers end quietly on
    /// EOF and ignore a tagged NO for FETCH, SEARCH, STORE and EXPUNGE: a
    /// dropped connection would look like an empty or short answer.)
    async fn command(
        &mut self,
        command: &str,
        mut on_data: impl FnMut(&Response<'_>),
    ) -> Result<()> {
        let (limit, what) = (self.timeout, self.what(command));
        let (read, alive) = (self.read.clone(), self.alive.clone());
        let r = async {
            let inner = self.inner_mut()?;
            let id = within(limit, &what, inner.run_command(command)).await?;
            let mut bye: Option<String> = None;
            let mut news = false;
            loop {
                let next = while_sending(limit, &read, alive.as_deref(), inner.read_response());
                let resp = match next.await {
                    Err(silent) => return Err(anyhow::Error::new(silent).context(what)),
                    Ok(Err(e)) => return Err(anyhow::Error::new(e).context(what)),
                    Ok(Ok(None)) => {
                        let why = bye.unwrap_or_else(|| "no BYE".to_string());
                        return Err(anyhow::Error::new(ConnectionClosed(why)).context(what));
                    }
                    Ok(Ok(Some(resp))) => resp,
                };
                match resp.parsed() {
                    Response::Done {
                        tag,
                        status,
                        outcome,
                    } if *tag == id => {
                        let text = outcome.information.as_deref().unwrap_or("");
                        return match status {
                            Status::Ok => Ok(news),
                            Status::No => bail!("{what}: the server said NO: {text}"),
                            other => bail!("{what}: the server said {other:?}: {text}"),
                        };
                    }
                    Response::Data {
                        status: Status::Bye,
                        outcome,
                    } => {
                        bye = Some(format!(
                            "BYE {}",
                            outcome.information.as_deref().unwrap_or("")
                        ));
                    }
                    Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)) => {
                        news = true;
                        on_data(resp.parsed());
                    }
                    other => on_data(other),
                }
            }
        }
        .await;
        if self.settle(r)? {
            self.news = true;
        }
        Ok(())
    }

    /// What the server offers (read once after login).
    pub fn capabilities(&self) -> ServerCapabilities {
        self.caps
    }

    /// Act as if the server offered `caps`: for servers that advertise wrongly,
    /// and for tests of the fallbacks.
    pub fn assume_capabilities(&mut self, caps: ServerCapabilities) {
        self.caps = caps;
    }

    /// `host:port` of the server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How long the server may stay silent in a command ([`COMMAND_TIMEOUT`] by default).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Have `stamp` set to the Unix time, every few seconds, while an answer is arriving: a
    /// watchdog then tells a large message coming over a slow link from a hung connection.
    pub fn set_alive(&mut self, stamp: Arc<AtomicI64>) {
        self.alive = Some(stamp);
    }

    /// False after a timeout or a failed IDLE: reconnect.
    pub fn is_usable(&self) -> bool {
        self.inner.is_some()
    }

    /// SELECT (read-write: marking and moving need it).
    pub async fn select(&mut self, mailbox: &str) -> Result<MailboxState> {
        let (mut uid_validity, mut uid_next, mut exists) = (None, None, 0);
        let command = format!("SELECT {}", quoted_mailbox(mailbox)?);
        self.command(&command, |resp| match resp {
            Response::MailboxData(MailboxDatum::Exists(n)) => exists = *n,
            Response::Data {
                status: Status::Ok,
                outcome,
            } => match outcome.code {
                Some(ResponseCode::UidValidity(v)) => uid_validity = Some(v),
                Some(ResponseCode::UidNext(n)) => uid_next = Some(n),
                _ => {}
            },
            _ => {}
        })
        .await?;
        // What SELECT reported is the new state, not news.
        self.news = false;
        self.drain_unsolicited();
        let uid_validity = uid_validity
            .with_context(|| format!("{}: the server sent no UIDVALIDITY", self.what(&command)))?;
        Ok(MailboxState {
            uid_validity,
            uid_next,
            exists,
        })
    }

    async fn uid_search(&mut self, query: &str) -> Result<Vec<u32>> {
        let mut uids = Vec::new();
        self.command(&format!("UID SEARCH {query}"), |resp| {
            if let Response::MailboxData(MailboxDatum::Search(found)) = resp {
                uids.extend_from_slice(found);
            }
        })
        .await?;
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The UIDs above `last_uid`, ascending. (`UID SEARCH UID n+1:*` also
    /// matches the highest message when none is newer, so the answer is filtered.)
    pub async fn uid_search_after(&mut self, last_uid: u32) -> Result<Vec<u32>> {
        let Some(first) = last_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        let uids = self.uid_search(&format!("UID {first}:*")).await?;
        Ok(uids.into_iter().filter(|&u| u > last_uid).collect())
    }

    /// Which of `uids` are still in the mailbox, ascending (`UID SEARCH UID set`).
    pub async fn uid_existing(&mut self, uids: &[u32]) -> Result<Vec<u32>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        let found = self.uid_search(&format!("UID {}", uid_set(uids))).await?;
        Ok(found.into_iter().filter(|u| wanted.contains(u)).collect())
    }

    /// Which of `uids` are larger than `bytes` (`RFC822.SIZE`), ascending: one `UID SEARCH`
    /// whose answer names only those, where a `UID FETCH … RFC822.SIZE` answers for every
    /// message.
    pub async fn uid_larger(&mut self, uids: &[u32], bytes: u32) -> Result<Vec<u32>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        let found = self
            .uid_search(&format!("UID {} LARGER {bytes}", uid_set(uids)))
            .await?;
        Ok(found.into_iter().filter(|u| wanted.contains(u)).collect())
    }

    /// The UIDs of messages whose internal date is on or after `date`, ascending.
    pub async fn uid_search_since(&mut self, date: chrono::NaiveDate) -> Result<Vec<u32>> {
        self.uid_search(&format!("SINCE {}", imap_date(date))).await
    }

    /// FETCH `items` for `uids`; only answers for the UIDs asked for, ascending, once each.
    async fn uid_fetch(&mut self, uids: &[u32], items: &str) -> Result<Vec<(u32, Fetched)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        let mut out: BTreeMap<u32, Fetched> = BTreeMap::new();
        self.command(&format!("UID FETCH {} {items}", uid_set(uids)), |resp| {
            if let Response::Fetch(_, attrs) = resp {
                let fetched = Fetched::from_attributes(attrs);
                // Unsolicited FETCHes (flag changes by others) may lack what we asked for.
                if let Some(uid) = fetched.uid.filter(|u| wanted.contains(u)) {
                    out.entry(uid).or_default().merge(fetched);
                }
            }
        })
        .await?;
        Ok(out.into_iter().collect())
    }

    /// `(uid, RFC822.SIZE)` of each UID that still exists, ascending by UID.
    pub async fn fetch_sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>> {
        let fetched = self.uid_fetch(uids, "(UID RFC822.SIZE)").await?;
        Ok(fetched
            .into_iter()
            .filter_map(|(uid, f)| Some((uid, f.size?)))
            .collect())
    }

    /// The raw bytes of each UID that still exists, ascending by UID: [`ImapSession::fetch_mail`]
    /// without the arrival times.
    pub async fn fetch_bodies(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>> {
        let mail = self.fetch_mail(uids).await?;
        Ok(mail.into_iter().map(|m| (m.uid, m.raw)).collect())
    }

    /// Each UID that still exists, ascending by UID: its raw bytes and when it reached the
    /// mailbox (`INTERNALDATE`, a few bytes a message). `BODY.PEEK[]`: fetching never sets
    /// `\Seen`.
    ///
    /// A UID the answer leaves out was expunged meanwhile, as a rule. One still in the mailbox
    /// (looked up only when the answer is short) is a message the server would not send,
    /// though it said OK: an error, like a BYE, so that no caller passes over it as gone.
    pub async fn fetch_mail(&mut self, uids: &[u32]) -> Result<Vec<FetchedMail>> {
        let fetched = self
            .uid_fetch(uids, "(UID INTERNALDATE BODY.PEEK[])")
            .await?;
        let mail: Vec<FetchedMail> = fetched
            .into_iter()
            .filter_map(|(uid, f)| {
                Some(FetchedMail {
                    uid,
                    internal_date: f.internal_date,
                    raw: f.body?,
                })
            })
            .collect();
        let missing: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| mail.binary_search_by_key(u, |m| m.uid).is_err())
            .collect();
        let withheld = self.uid_existing(&missing).await?;
        if !withheld.is_empty() {
            bail!(
                "UID FETCH at {} answered OK without UID {}, which is still in the mailbox",
                self.endpoint,
                uid_set(&withheld)
            );
        }
        Ok(mail)
    }

    /// The first [`HEADER_BYTES`](super::HEADER_BYTES) of the header of each UID that still
    /// exists (as `raw`) and its arrival, ascending by UID: enough to tell who sent a message that is not loaded
    /// (oversized, or one whose body the server will not send) without loading it.
    pub async fn fetch_headers(&mut self, uids: &[u32]) -> Result<Vec<FetchedMail>> {
        let items = format!(
            "(UID INTERNALDATE BODY.PEEK[HEADER]<0.{}>)",
            super::HEADER_BYTES
        );
        let fetched = self.uid_fetch(uids, &items).await?;
        Ok(fetched
            .into_iter()
            .filter_map(|(uid, f)| {
                Some(FetchedMail {
                    uid,
                    internal_date: f.internal_date,
                    raw: f.header?,
                })
            })
            .collect())
    }

    /// The flags of each UID that still exists (`\Seen`, `\Deleted`, keywords), ascending.
    pub async fn fetch_flags(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<String>)>> {
        let fetched = self.uid_fetch(uids, "(UID FLAGS)").await?;
        Ok(fetched.into_iter().map(|(uid, f)| (uid, f.flags)).collect())
    }

    /// Set `\Seen` on exactly `uids`.
    pub async fn mark_seen(&mut self, uids: &[u32]) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = super::uid_set(uids);
        self.command(&format!("UID STORE {set} +FLAGS.SILENT (\\Seen)"), |_| {})
            .await
    }

    /// Move exactly `uids` to `folder`: MOVE when offered; else a copy, `\\Deleted`
    /// and `UID EXPUNGE` of those UIDs (UIDPLUS); else copy and flag only, with a
    /// warning. Never a plain EXPUNGE or CLOSE.
    pub async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<MoveOutcome> {
        let target = quoted_mailbox(folder)?;
        if uids.is_empty() {
            return Ok(MoveOutcome::Moved);
        }
        let set = super::uid_set(uids);
        if self.caps.move_cmd {
            self.command(&format!("UID MOVE {set} {target}"), |_| {})
                .await?;
            return Ok(MoveOutcome::Moved);
        }
        self.command(&format!("UID COPY {set} {target}"), |_| {})
            .await?;
        self.command(
            &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
            |_| {},
        )
        .await?;
        if !self.caps.uidplus {
            tracing::warn!(
                endpoint = %self.endpoint, uids = %set, folder,
                "The server has neither MOVE nor UIDPLUS: copied and flagged \\Deleted, not expunged"
            );
            return Ok(MoveOutcome::CopiedAndFlagged);
        }
        self.command(&format!("UID EXPUNGE {set}"), |_| {}).await?;
        Ok(MoveOutcome::Moved)
    }

    /// CREATE `folder` unless it exists (an existing folder is no error).
    pub async fn create_if_missing(&mut self, folder: &str) -> Result<()> {
        if self.folder_exists(folder).await? {
            return Ok(());
        }
        let (limit, what) = (self.timeout, self.what(format_args!("CREATE {folder:?}")));
        let wire = wire_name(folder);
        let r = async { within(limit, &what, self.inner_mut()?.create(&wire)).await }.await;
        match self.settle(r) {
            Ok(()) => Ok(()),
            // Another client may have created it meanwhile.
            Err(e) if self.is_usable() && self.folder_exists(folder).await.unwrap_or(false) => {
                tracing::debug!("{e:#}; it exists now");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `folder` exists (LIST), by its name as musaid sends it or as the server lists it.
    pub async fn folder_exists(&mut self, folder: &str) -> Result<bool> {
        let pattern = quoted_mailbox(folder)?;
        let (limit, what) = (self.timeout, self.what(format_args!("LIST \"\" {pattern}")));
        let r = async {
            let stream = within(
                limit,
                &what,
                self.inner_mut()?.list(Some(""), Some(&pattern)),
            )
            .await?;
            collect_within(limit, &what, Box::pin(stream)).await
        }
        .await;
        // As sent, or any other encoding of the same name a server may list.
        let wire = wire_name(folder);
        Ok(self
            .settle(r)?
            .iter()
            .any(|n| n.name() == wire || decode_name(n.name()).as_deref() == Some(folder)))
    }

    /// The number of messages in `folder` (STATUS MESSAGES), without selecting it.
    pub async fn message_count(&mut self, folder: &str) -> Result<u32> {
        let (limit, what) = (self.timeout, self.what(format_args!("STATUS {folder:?}")));
        let wire = wire_name(folder);
        let r = async { within(limit, &what, self.inner_mut()?.status(&wire, "(MESSAGES)")).await }
            .await;
        Ok(self.settle(r)?.exists)
    }

    /// APPEND `message` to `folder` with `flags` (e.g. `\\Seen`): demo and test
    /// data only; musaid itself never writes mail.
    pub async fn append(&mut self, folder: &str, message: &[u8], flags: &[&str]) -> Result<()> {
        let flags = (!flags.is_empty()).then(|| format!("({})", flags.join(" ")));
        let (limit, what) = (self.timeout, self.what(format_args!("APPEND {folder:?}")));
        let r = async {
            let wire = wire_name(folder);
            let append = self
                .inner_mut()?
                .append(&wire, flags.as_deref(), None, message);
            within(limit, &what, append).await
        }
        .await;
        self.settle(r)
    }

    /// NOOP: keeps the connection alive and lets the server report changes.
    pub async fn noop(&mut self) -> Result<()> {
        self.command("NOOP", |_| {}).await
    }

    /// Forget what the server reported between commands; true when it reported new mail.
    fn drain_unsolicited(&mut self) -> bool {
        let mut news = std::mem::take(&mut self.news);
        let Some(inner) = self.inner.as_mut() else {
            return news;
        };
        while let Ok(r) = inner.unsolicited_responses.try_recv() {
            if matches!(
                r,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            ) {
                news = true;
            }
        }
        news
    }

    /// Wait in IDLE (on the selected mailbox) for a change, at most `max` by the
    /// wall clock: keepalives from the server do not extend it. Returns at once
    /// when new mail was reported during an earlier command. An error leaves the
    /// session broken.
    pub async fn idle_wait(&mut self, max: Duration) -> Result<IdleOutcome> {
        if !self.caps.idle {
            bail!(
                "{} does not offer IDLE; poll instead (idle = false)",
                self.endpoint
            );
        }
        if self.drain_unsolicited() {
            return Ok(IdleOutcome::NewData);
        }
        let limit = self.timeout;
        let what = self.what("IDLE");
        // IDLE consumes the session; it comes back only through DONE.
        self.inner_mut()?;
        let Some(inner) = self.inner.take() else {
            bail!("{what}: no session");
        };
        let mut handle = inner.idle();
        within(limit, &what, handle.init()).await?;
        let outcome = {
            // `_stop` must live while waiting: dropping it interrupts the wait.
            let (wait, _stop) = handle.wait_with_timeout(max);
            match tokio::time::timeout(max, wait).await {
                Err(_) | Ok(Ok(IdleResponse::Timeout)) => IdleOutcome::Timeout,
                Ok(Ok(IdleResponse::NewData(_))) => IdleOutcome::NewData,
                Ok(Ok(IdleResponse::ManualInterrupt)) => {
                    bail!("{what}: the server closed the connection")
                }
                Ok(Err(e)) => return Err(anyhow::Error::new(e).context(what)),
            }
        };
        let inner = within(limit, &self.what("DONE (ending IDLE)"), handle.done()).await?;
        self.inner = Some(inner);
        // New mail may have been reported after the wait ended and before DONE.
        if self.drain_unsolicited() {
            return Ok(IdleOutcome::NewData);
        }
        Ok(outcome)
    }

    /// LOGOUT and close the connection.
    pub async fn logout(mut self) -> Result<()> {
        let (limit, what) = (self.timeout, self.what("LOGOUT"));
        within(limit, &what, self.inner_mut()?.logout()).await
    }
}

#[cfg(test)]
mod tests;
