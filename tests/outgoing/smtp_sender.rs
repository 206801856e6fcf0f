//! The outbox sender's SMTP connection: implicit TLS, STARTTLS and loopback plaintext each
//! deliver, log in and keep one connection for mail after mail; a dropped connection is
//! replaced; 5xx answers fail a row, 4xx answers retry it; an untrusted certificate sends
//! nothing. Against a small SMTP server in this process (the test Postfix speaks no TLS) and,
//! for a queue of 50 rows, against the real Postfix.

use crate::support::daemon::{config, count, mailbox, pipeline, People};
use crate::support::servers::{mailserver, MailServer};
use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use chrono::Utc;
use musaid::config::{AuthMethod, SecretSource, ServerLogin, SmtpConfig, TlsMode};
use musaid::outbox::{self, Draft, Kind};
use musaid::smtp::{SendError, Sender};
use musaid::store::Store;
use musaid::templates::Rendered;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// What the test server saw.
#[derive(Debug, Default)]
struct Seen {
    connections: usize,
    /// Decoded AUTH payloads, with whether the connection was encrypted at the time.
    auths: Vec<(bool, String)>,
    /// Accepted messages, with whether they went over TLS.
    messages: Vec<(bool, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Implicit,
    StartTls,
    Plain,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Server {
    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().expect("lock"))
    }
}

fn acceptor(ms: &MailServer) -> Result<TlsAcceptor> {
    let tls = ms.dir.join("tls");
    let certs = rustls_pemfile::certs(&mut std::fs::read(tls.join("server.pem"))?.as_slice())
        .collect::<std::result::Result<Vec<CertificateDer<'static>>, _>>()?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut std::fs::read(tls.join("server.key"))?.as_slice())?
            .context("No key in server.key")?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A small SMTP server on loopback: AUTH PLAIN/LOGIN/XOAUTH2 accept anything; RCPT to
/// `reject@…` gets 550, to `later@…` 451. With `hang_up`, it closes the connection after
/// each accepted message (as a server restarting between mails would).
async fn server(mode: Mode, hang_up: bool) -> Result<Server> {
    let acceptor = acceptor(mailserver())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            shared.lock().expect("lock").connections += 1;
            let (acceptor, seen) = (acceptor.clone(), shared.clone());
            tokio::spawn(async move {
                let _ = connection(tcp, mode, hang_up, acceptor, seen).await;
            });
        }
    });
    Ok(Server { port, seen })
}

async fn connection(
    tcp: tokio::net::TcpStream,
    mode: Mode,
    hang_up: bool,
    acceptor: TlsAcceptor,
    seen: Arc<Mutex<Seen>>,
) -> Result<()> {
    if mode == Mode::Implicit {
        let tls = acceptor.accept(tcp).await?;
        session(tls, mode, true, true, hang_up, &seen).await?;
        return Ok(());
    }
    if let Some(tcp) = session(tcp, mode, false, true, hang_up, &seen).await? {
        let tls = acceptor.accept(tcp).await?;
        session(tls, mode, true, false, hang_up, &seen).await?;
    }
    Ok(())
}

/// One SMTP conversation; the stream back when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mode: Mode,
    tls: bool,
    greet: bool,
    hang_up: bool,
    seen: &Mutex<Seen>,
) -> Result<Option<S>> {
    let mut s = BufReader::new(stream);
    if greet {
        s.write_all(b"220 test ESMTP\r\n").await?;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            let starttls = if mode == Mode::StartTls && !tls {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            format!("250-test\r\n{starttls}250-AUTH PLAIN LOGIN XOAUTH2\r\n250 8BITMIME\r\n")
        } else if upper == "STARTTLS" && mode == Mode::StartTls && !tls {
            s.write_all(b"220 2.0.0 go ahead\r\n").await?;
            s.flush().await?;
            return Ok(Some(s.into_inner()));
        } else if let Some(rest) = upper.strip_prefix("AUTH ") {
            let payload = line
                .trim_end()
                .get(5 + rest.find(' ').unwrap_or(rest.len())..);
            let decoded = payload
                .map(|p| b64.decode(p.trim()).unwrap_or_default())
                .unwrap_or_default();
            seen.lock()
                .expect("lock")
                .auths
                .push((tls, String::from_utf8_lossy(&decoded).into_owned()));
            "235 2.7.0 ok\r\n".to_string()
        } else if upper.starts_with("MAIL FROM") || upper == "NOOP" || upper == "RSET" {
            "250 2.0.0 ok\r\n".to_string()
        } else if upper.starts_with("RCPT TO") {
            if upper.contains("<REJECT@") {
                "550 5.1.1 no such user\r\n".to_string()
            } else if upper.contains("<LATER@") {
                "451 4.3.0 try again later\r\n".to_string()
            } else {
                "250 2.1.5 ok\r\n".to_string()
            }
        } else if upper == "DATA" {
            s.write_all(b"354 go on\r\n").await?;
            let mut message = String::new();
            loop {
                let mut l = String::new();
                if s.read_line(&mut l).await? == 0 {
                    return Ok(None);
                }
                if l == ".\r\n" {
                    break;
                }
                message.push_str(&l);
            }
            seen.lock().expect("lock").messages.push((tls, message));
            s.write_all(b"250 2.0.0 queued\r\n").await?;
            if hang_up {
                return Ok(None);
            }
            continue;
        } else if upper == "QUIT" {
            s.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(None);
        } else {
            "502 5.5.2 what?\r\n".to_string()
        };
        s.write_all(reply.as_bytes()).await?;
    }
}

fn smtp_config(port: u16, tls: TlsMode, login: ServerLogin, ca: bool) -> SmtpConfig {
    SmtpConfig {
        host: "localhost".into(),
        port,
        tls,
        login,
        ca_file: ca.then(|| mailserver().tls_ca.clone()),
        from: "Desk <desk@example.test>".into(),
    }
}

fn password(user: &str) -> ServerLogin {
    ServerLogin {
        user: Some(user.into()),
        auth: AuthMethod::Password,
        password: SecretSource::File(mailserver().password_file.clone()),
        oauth2_token_command: None,
    }
}

fn mail(to: &str, subject: &str) -> lettre::Message {
    lettre::Message::builder()
        .from("desk@example.test".parse().expect("from"))
        .to(to.parse().expect("to"))
        .subject(subject)
        .body(format!("{subject}\n"))
        .expect("mail")
}

#[tokio::test]
async fn implicit_tls_starttls_and_loopback_plaintext_log_in_and_reuse_one_connection() -> Result<()>
{
    for (mode, tls) in [
        (Mode::Implicit, TlsMode::Implicit),
        (Mode::StartTls, TlsMode::StartTls),
        (Mode::Plain, TlsMode::None),
    ] {
        let s = server(mode, false).await?;
        let mut sender = Sender::new(&smtp_config(s.port, tls, password("desk"), true))?;
        for i in 0..5 {
            sender
                .send(&mail("va@example.test", &format!("mail {i}")))
                .await
                .with_context(|| format!("{mode:?}: mail {i}"))?;
        }
        sender.quit().await;
        let encrypted = mode != Mode::Plain;
        s.seen(|seen| {
            assert_eq!(
                seen.connections, 1,
                "{mode:?}: one connection for five mails"
            );
            // AUTH PLAIN: authzid, user, password; only after TLS is up.
            assert_eq!(seen.auths, vec![(encrypted, "\0desk\0secret".to_string())]);
            assert_eq!(seen.messages.len(), 5, "{mode:?}");
            for (i, (over_tls, m)) in seen.messages.iter().enumerate() {
                assert_eq!(*over_tls, encrypted, "{mode:?}");
                assert!(m.contains(&format!("Subject: mail {i}")), "{mode:?}: {m}");
            }
        });
    }
    Ok(())
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_and_xoauth2_fetches_a_fresh_token_for_it() -> Result<()> {
    let s = server(Mode::Implicit, true).await?;
    let dir = tempfile::tempdir()?;
    let counter = dir.path().join("n");
    let login = ServerLogin {
        user: Some("desk@example.test".into()),
        auth: AuthMethod::XOAuth2,
        password: SecretSource::None,
        oauth2_token_command: Some(format!(
            "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; echo token$n",
            counter.display()
        )),
    };
    let mut sender = Sender::new(&smtp_config(s.port, TlsMode::Implicit, login, true))?;
    for i in 0..3 {
        sender
            .send(&mail("va@example.test", &format!("mail {i}")))
            .await
            .with_context(|| format!("mail {i}"))?;
    }
    s.seen(|seen| {
        assert_eq!(seen.connections, 3);
        assert_eq!(seen.messages.len(), 3);
        let tokens: Vec<&str> = seen.auths.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            tokens,
            [1, 2, 3]
                .map(|n| format!("user=desk@example.test\x01auth=Bearer token{n}\x01\x01"))
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
    });
    Ok(())
}

#[tokio::test]
async fn a_5xx_answer_is_permanent_a_4xx_answer_is_not_and_mail_goes_on() -> Result<()> {
    let s = server(Mode::StartTls, false).await?;
    let mut sender = Sender::new(&smtp_config(
        s.port,
        TlsMode::StartTls,
        password("desk"),
        true,
    ))?;
    let Err(rejected) = sender.send(&mail("reject@example.test", "no")).await else {
        bail!("a 550 was taken for success");
    };
    assert!(rejected.is_permanent(), "{rejected}");
    assert!(rejected.to_string().contains("no such user"), "{rejected}");
    let Err(later) = sender.send(&mail("later@example.test", "later")).await else {
        bail!("a 451 was taken for success");
    };
    assert!(!later.is_permanent(), "{later}");
    sender.send(&mail("va@example.test", "fine")).await?;
    s.seen(|seen| assert_eq!(seen.messages.len(), 1));
    Ok(())
}

#[tokio::test]
async fn an_untrusted_certificate_sends_nothing_and_is_retried() -> Result<()> {
    for (mode, tls) in [
        (Mode::Implicit, TlsMode::Implicit),
        (Mode::StartTls, TlsMode::StartTls),
    ] {
        let s = server(mode, false).await?;
        // No ca_file: the private CA is not trusted.
        let mut sender = Sender::new(&smtp_config(s.port, tls, password("desk"), false))?;
        let Err(e) = sender.send(&mail("va@example.test", "secret")).await else {
            bail!("{mode:?}: mail went to an untrusted server");
        };
        assert!(!e.is_permanent(), "{mode:?}: {e}");
        assert!(e.to_string().contains("certificate"), "{mode:?}: {e}");
        s.seen(|seen| {
            assert!(seen.auths.is_empty(), "{mode:?}: the password went out");
            assert!(seen.messages.is_empty(), "{mode:?}");
        });
    }
    Ok(())
}

#[tokio::test]
async fn nothing_listening_is_a_temporary_failure() -> Result<()> {
    let port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
    let mut sender = Sender::new(&smtp_config(port, TlsMode::None, password("desk"), false))?;
    match sender.send(&mail("va@example.test", "hello")).await {
        Err(e @ SendError::Connect(_)) => assert!(!e.is_permanent(), "{e}"),
        other => bail!("expected a connection error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_queued_rows_are_all_accepted_by_postfix_and_arrive() -> Result<()> {
    let ms = mailserver();
    let people = People::new("drain");
    let dir = tempfile::tempdir()?;
    let state = dir.path().join("state");
    // Over the hourly limit per recipient (30 by default): `limits.rs` tests that.
    let desk = config(ms, &people, &state).policy("mails_per_recipient_per_hour", 100);
    let p = pipeline(&desk, dir.path());
    let cfg = &p.config;
    let mut store = Store::open(&state)?;
    let now = Utc::now();
    let tx = store.transaction()?;
    for i in 0..50 {
        let draft = Draft {
            kind: Kind::Notify,
            task_id: None,
            contract: None,
            recipient: people.va.clone(),
            rendered: Rendered {
                subject: format!("queued {i}"),
                text: format!("Mail {i}.\n"),
                html: format!("<p>Mail {i}.</p>"),
            },
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            windowed: false,
            not_before: now,
        };
        outbox::enqueue(&tx, cfg, &draft, now)?;
    }
    tx.commit()?;

    let smtp = cfg.smtp.as_ref().context("no [smtp]")?;
    let mut sender = Sender::new(smtp)?;
    let mut unrecorded = musaid::smtp::Unrecorded::default();
    let sent =
        musaid::smtp::send_due(&mut store, cfg, &mut sender, &Utc::now, &mut unrecorded).await?;
    sender.quit().await;
    assert_eq!(sent, 50);
    assert_eq!(
        count(&state, "SELECT count(*) FROM outbox WHERE status = 'sent'"),
        50
    );
    let mut got = 0;
    for _ in 0..150 {
        got = mailbox(ms, &people.va).await.len();
        if got == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got, 50, "mails arrived at the VA's mailbox");
    Ok(())
}
