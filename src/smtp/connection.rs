//! The one SMTP connection the sender keeps open between mails.
//!
//! lettre's SMTP client speaks the protocol; this module opens its socket. lettre's own
//! transport (`AsyncSmtpTransport`) cannot set TCP_NODELAY, and its client writes a message
//! and the final `\r\n.\r\n` in two writes: with Nagle's algorithm on, the kernel holds those
//! five bytes back until the server acknowledges the message, and servers delay that
//! acknowledgement by ~40 ms, so every mail cost ~44 ms. Here the socket is connected with
//! TCP_NODELAY, then wrapped in implicit TLS or upgraded with STARTTLS (plaintext only to
//! loopback), authenticated, and reused for mail after mail while it answers NOOP.

use crate::config::{AuthMethod, ServerLogin, SmtpConfig, TlsMode};
use crate::imap::transport::{tcp_connect, Transport};
use anyhow::{bail, Context as _, Result};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use std::time::{Duration, Instant};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::TlsConnector;

/// The longest we wait for the server: to connect and log in, for one mail, for NOOP.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A connection idle this long is closed with QUIT (as lettre's pool did) rather than kept
/// open until the server times it out.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(60);

/// How long a QUIT may take before the connection is simply dropped.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

impl AsyncTokioStream for Transport {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Transport::Plain(s) => s.peer_addr(),
            Transport::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

/// Why a mail was not accepted.
#[derive(Debug)]
pub enum SendError {
    /// The server's answer (or lettre's view of the conversation); permanent for 5xx.
    Smtp(lettre::transport::smtp::Error),
    /// No connection: the server cannot be reached, TLS failed, no token. Always temporary.
    Connect(anyhow::Error),
    /// The server did not answer in time (30 s a step). Temporary.
    Timeout,
}

impl SendError {
    /// A 5xx answer: retrying the same mail cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(e) if e.is_permanent())
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Smtp(e) => write!(f, "{e}"),
            SendError::Connect(e) => write!(f, "{e:#}"),
            SendError::Timeout => write!(
                f,
                "the SMTP server did not answer within {}s",
                TIMEOUT.as_secs()
            ),
        }
    }
}

impl std::error::Error for SendError {}

enum Security {
    /// TLS from the first byte (`tls = "implicit"`).
    Implicit(TlsConnector),
    /// STARTTLS, required (`tls = "starttls"`).
    StartTls(Box<TlsParameters>),
    /// Plaintext, loopback only (`tls = "none"`).
    Plain,
}

enum Secret {
    Password(String),
    /// `oauth2_token_command`, run for every new connection: tokens expire.
    OAuth2(ServerLogin),
}

struct Login {
    user: String,
    mechanisms: Vec<Mechanism>,
    secret: Secret,
}

struct Open {
    conn: AsyncSmtpConnection,
    last_used: Instant,
}

/// Sends mail over one cached connection to `[smtp]`, reconnecting when it breaks.
pub struct Sender {
    host: String,
    port: u16,
    hello: ClientId,
    security: Security,
    login: Option<Login>,
    open: Option<Open>,
    /// The last connection attempt failed: the server is down or unreachable.
    unreachable: bool,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No secrets: only where it sends.
        f.debug_struct("Sender")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("connected", &self.open.is_some())
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The extra roots of `ca_file`, read once.
fn read_ca_file(cfg: &SmtpConfig) -> Result<Vec<CertificateDer<'static>>> {
    let Some(ca) = &cfg.ca_file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(ca).with_context(|| format!("Cannot read ca_file {}", ca.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("Cannot parse ca_file {}", ca.display()))?;
    if certs.is_empty() {
        bail!("No certificate in ca_file {}", ca.display());
    }
    Ok(certs)
}

/// Implicit TLS: the webpki-roots set plus `ca_file`, as lettre's STARTTLS below trusts.
fn implicit_tls(extra: &[CertificateDer<'static>]) -> Result<TlsConnector> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots
            .add(cert.clone())
            .context("Cannot use a certificate of ca_file")?;
    }
    crate::imap::transport::connector_trusting(roots).context("Cannot set up TLS for SMTP")
}

/// STARTTLS: lettre's rustls with its default (webpki-roots) store plus `ca_file`.
fn starttls(host: &str, extra: &[CertificateDer<'static>]) -> Result<TlsParameters> {
    let mut b = TlsParameters::builder(host.to_string());
    for cert in extra {
        b = b.add_root_certificate(
            Certificate::from_der(cert.to_vec()).context("Cannot use a certificate of ca_file")?,
        );
    }
    b.build_rustls().context("Cannot set up TLS for SMTP")
}

impl Sender {
    /// A sender for the `[smtp]` settings: TLS verified, plaintext only to loopback. Reads
    /// `ca_file` and the password now; connects on the first mail.
    pub fn new(cfg: &SmtpConfig) -> Result<Sender> {
        let extra = read_ca_file(cfg)?;
        let security = match cfg.tls {
            TlsMode::Implicit => Security::Implicit(implicit_tls(&extra)?),
            TlsMode::StartTls => Security::StartTls(Box::new(starttls(&cfg.host, &extra)?)),
            TlsMode::None => {
                anyhow::ensure!(
                    is_loopback(&cfg.host),
                    "smtp.tls = \"none\" is only allowed to a loopback host, not {}",
                    cfg.host
                );
                Security::Plain
            }
        };
        let login = match &cfg.login.user {
            None => None,
            Some(user) => Some(match cfg.login.auth {
                AuthMethod::Password => {
                    let pass = cfg
                        .login
                        .password
                        .resolve()?
                        .context("SMTP user set but no password")?;
                    Login {
                        user: user.clone(),
                        mechanisms: vec![Mechanism::Plain, Mechanism::Login],
                        secret: Secret::Password(pass.expose().to_string()),
                    }
                }
                AuthMethod::XOAuth2 => {
                    anyhow::ensure!(
                        cfg.login.oauth2_token_command.is_some(),
                        "auth = \"xoauth2\" needs oauth2_token_command"
                    );
                    Login {
                        user: user.clone(),
                        mechanisms: vec![Mechanism::Xoauth2],
                        secret: Secret::OAuth2(cfg.login.clone()),
                    }
                }
            }),
        };
        Ok(Sender {
            host: cfg.host.clone(),
            port: cfg.port,
            hello: ClientId::default(),
            security,
            login,
            open: None,
            unreachable: false,
        })
    }

    /// Did the last attempt to connect fail (and none succeed since)?
    pub fn unreachable(&self) -> bool {
        self.unreachable
    }

    /// Connect (or check the open connection with NOOP) without sending anything: whether
    /// the server can be reached again.
    pub async fn probe(&mut self) -> Result<(), SendError> {
        let open = self.ready().await?;
        self.open = Some(open);
        Ok(())
    }

    /// The open connection when it still answers NOOP, else a new one.
    async fn ready(&mut self) -> Result<Open, SendError> {
        match self.open.take() {
            Some(mut open) if open.last_used.elapsed() < MAX_IDLE => {
                let alive = tokio::time::timeout(TIMEOUT, open.conn.test_connected())
                    .await
                    .unwrap_or(false);
                if alive {
                    Ok(open)
                } else {
                    close(open.conn).await;
                    self.connect().await
                }
            }
            Some(stale) => {
                quit(stale.conn).await;
                self.connect().await
            }
            None => self.connect().await,
        }
    }

    /// Hand one mail to the server, over the open connection when it still answers NOOP,
    /// else over a new one. A connection that failed mid-mail is dropped, never reused.
    pub async fn send(&mut self, message: &lettre::Message) -> Result<Response, SendError> {
        let raw = message.formatted();
        let mut open = self.ready().await?;
        match tokio::time::timeout(TIMEOUT, open.conn.send(message.envelope(), &raw)).await {
            Err(_) => Err(SendError::Timeout),
            Ok(result) => {
                if !open.conn.has_broken() {
                    open.last_used = Instant::now();
                    self.open = Some(open);
                }
                result.map_err(SendError::Smtp)
            }
        }
    }

    /// Close the connection with QUIT when it has been idle for a minute (servers drop idle ones).
    pub async fn close_idle(&mut self) {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.last_used.elapsed() >= MAX_IDLE)
        {
            self.quit().await;
        }
    }

    /// Close the connection, if one is open, with QUIT.
    pub async fn quit(&mut self) {
        if let Some(open) = self.open.take() {
            quit(open.conn).await;
        }
    }

    /// The TCP connection under everything, with TCP_NODELAY: without it every mail waits
    /// for the server's delayed ACK before its final `\r\n.\r\n` leaves.
    async fn socket(&self) -> Result<tokio::net::TcpStream, SendError> {
        let plain = matches!(self.security, Security::Plain);
        let tcp = tcp_connect(&self.host, self.port, plain, TIMEOUT)
            .await
            .map_err(SendError::Connect)?;
        tcp.set_nodelay(true)
            .context("Cannot set TCP_NODELAY on the SMTP socket")
            .map_err(SendError::Connect)?;
        Ok(tcp)
    }

    async fn connect(&mut self) -> Result<Open, SendError> {
        let opened = self.open_new().await;
        self.unreachable = matches!(opened, Err(SendError::Connect(_) | SendError::Timeout));
        opened
    }

    async fn open_new(&self) -> Result<Open, SendError> {
        let tcp = self.socket().await?;
        let conn = tokio::time::timeout(TIMEOUT, self.handshake(tcp))
            .await
            .map_err(|_| SendError::Timeout)??;
        Ok(Open {
            conn,
            last_used: Instant::now(),
        })
    }

    /// TLS, greeting, EHLO, STARTTLS and AUTH on a connected socket.
    async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> Result<AsyncSmtpConnection, SendError> {
        let stream = match &self.security {
            Security::Implicit(connector) => {
                let name = ServerName::try_from(self.host.clone())
                    .with_context(|| format!("{} is not a valid TLS server name", self.host))
                    .map_err(SendError::Connect)?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .with_context(|| {
                        format!(
                            "TLS with {} failed (is the certificate trusted? set ca_file for a \
                             private CA)",
                            self.host
                        )
                    })
                    .map_err(SendError::Connect)?;
                Transport::Tls(Box::new(tls))
            }
            Security::StartTls(_) | Security::Plain => Transport::Plain(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(SendError::Smtp)?;
        if let Security::StartTls(params) = &self.security {
            // Upgrades this same (TCP_NODELAY) socket.
            conn.starttls(params.as_ref().clone(), &self.hello)
                .await
                .map_err(SendError::Smtp)?;
        }
        if let Some(login) = &self.login {
            let secret = match &login.secret {
                Secret::Password(p) => p.clone(),
                Secret::OAuth2(l) => {
                    // The command may take a while: not on the runtime's thread.
                    let l = l.clone();
                    tokio::task::spawn_blocking(move || l.oauth2_token())
                        .await
                        .context("The oauth2_token_command task failed")
                        .and_then(|r| r)
                        .map_err(SendError::Connect)?
                        .expose()
                        .to_string()
                }
            };
            let credentials = Credentials::new(login.user.clone(), secret);
            if let Err(e) = conn.auth(&login.mechanisms, &credentials).await {
                conn.abort().await;
                return Err(SendError::Smtp(e));
            }
        }
        Ok(conn)
    }
}

/// End a connection politely: QUIT, briefly waited for.
async fn quit(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.quit()).await;
}

/// End a connection that stopped answering.
async fn close(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSource;

    fn config(host: &str, port: u16, tls: TlsMode) -> SmtpConfig {
        SmtpConfig {
            host: host.into(),
            port,
            tls,
            login: ServerLogin {
                user: None,
                auth: AuthMethod::Password,
                password: SecretSource::None,
                oauth2_token_command: None,
            },
            ca_file: None,
            from: "desk@example.test".into(),
        }
    }

    #[tokio::test]
    async fn the_smtp_socket_has_tcp_nodelay() -> Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        for tls in [TlsMode::None, TlsMode::StartTls, TlsMode::Implicit] {
            let sender = Sender::new(&config("127.0.0.1", port, tls))?;
            let socket = sender.socket().await.map_err(anyhow::Error::new)?;
            assert!(socket.nodelay()?, "TCP_NODELAY off for {tls:?}");
            let _ = listener.accept().await?;
        }
        Ok(())
    }

    #[test]
    fn plaintext_goes_only_to_loopback() {
        let err = match Sender::new(&config("smtp.example.test", 25, TlsMode::None)) {
            Ok(_) => "accepted".to_string(),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("only allowed to a loopback host"), "{err}");
        assert!(Sender::new(&config("localhost", 25, TlsMode::None)).is_ok());
        assert!(Sender::new(&config("::1", 25, TlsMode::None)).is_ok());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n")?;
        let mut cfg = config("smtp.example.test", 465, TlsMode::Implicit);
        cfg.ca_file = Some(path);
        let err = match Sender::new(&cfg) {
            Ok(_) => "accepted".to_string(),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("No certificate in ca_file"), "{err}");
        Ok(())
    }

    #[test]
    fn only_5xx_answers_are_permanent() {
        assert!(!SendError::Timeout.is_permanent());
        assert!(!SendError::Connect(anyhow::anyhow!("refused")).is_permanent());
    }
}
