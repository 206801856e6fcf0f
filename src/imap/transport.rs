//! The byte stream under the IMAP session: plain TCP (loopback only) or rustls.

use anyhow::{bail, Context, Result};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A connection to the server, before or after TLS.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain(_) => f.write_str("Transport::Plain"),
            Transport::Tls(_) => f.write_str("Transport::Tls"),
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connection, counting the bytes it reads: a command times out when the server is
/// silent, and a large answer that is still arriving over a slow link is not silence.
pub(crate) struct Metered {
    inner: Transport,
    read: Arc<AtomicU64>,
}

impl Metered {
    /// `inner`, adding every byte it reads to `read`.
    pub(crate) fn new(inner: Transport, read: Arc<AtomicU64>) -> Metered {
        Metered { inner, read }
    }

    pub(crate) fn into_inner(self) -> Transport {
        self.inner
    }
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl AsyncRead for Metered {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let got = buf.filled().len().saturating_sub(before);
        if got > 0 {
            this.read.fetch_add(got as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Is `host` a name plaintext may go to: a loopback IP literal or `localhost`?
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Resolve `host:port`; with `loopback_only`, refuse unless every address is loopback.
async fn resolve(host: &str, port: u16, loopback_only: bool) -> Result<Vec<SocketAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .with_context(|| format!("Could not resolve {host}"))?
        .collect();
    if addrs.is_empty() {
        bail!("{host} has no address");
    }
    if loopback_only && addrs.iter().any(|a| !a.ip().is_loopback()) {
        bail!("{host} resolves to a non-loopback address; plaintext is allowed only to loopback");
    }
    Ok(addrs)
}

/// Open a TCP connection to the first address of `host` that answers within `timeout`.
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    loopback_only: bool,
    timeout: Duration,
) -> Result<TcpStream> {
    let addrs = resolve(host, port, loopback_only).await?;
    let mut last_err = None;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last_err = Some(anyhow::Error::new(e).context(format!("{addr}"))),
            Err(_) => {
                last_err = Some(anyhow::anyhow!(
                    "{addr}: no answer within {}s",
                    timeout.as_secs()
                ))
            }
        }
    }
    Err(last_err
        .unwrap_or_else(|| anyhow::anyhow!("No address"))
        .context(format!("Could not connect to {host}:{port}")))
}

/// The system's trusted roots, loaded once; webpki-roots when the system has none.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = store.add_parsable_certificates(native.certs);
        if added == 0 {
            tracing::warn!("No system CA certificates found; using the webpki-roots set");
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    })
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("Could not read the CA file {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("Could not parse the CA file {}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "The CA file {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// A verifying rustls connector trusting the system roots and, when given, `ca_file`.
pub(crate) fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector> {
    let mut roots = system_roots().clone();
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots
                .add(cert)
                .with_context(|| format!("Could not use a certificate of {}", path.display()))?;
        }
    }
    connector_trusting(roots)
}

/// A verifying rustls connector (ring, safe default versions) trusting exactly `roots`.
pub(crate) fn connector_trusting(roots: RootCertStore) -> Result<TlsConnector> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("Could not set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Start TLS on `tcp`, verifying the certificate for `host` (SNI = host).
pub(crate) async fn tls_handshake(
    tcp: TcpStream,
    host: &str,
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<Transport> {
    let connector = tls_connector(ca_file)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_string())
        .with_context(|| format!("{host} is not a valid TLS server name"))?;
    let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow::anyhow!("No TLS handshake within {}s", timeout.as_secs()))
        .and_then(|r| r.map_err(anyhow::Error::new))
        .with_context(|| {
            format!(
                "TLS with {host} failed (is the certificate trusted? set ca_file for a private CA)"
            )
        })?;
    Ok(Transport::Tls(Box::new(tls)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_may_go_plaintext() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "imap.example.test",
            "0.0.0.0",
            "::",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn ca_file_without_certificates_is_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n")?;
        let err = match read_ca_file(&path) {
            Ok(_) => bail!("an empty CA file was accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("holds no PEM certificate"), "{err}");
        Ok(())
    }
}
