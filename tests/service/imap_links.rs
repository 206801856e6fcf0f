//! The IMAP session over links that misbehave, from fake servers and proxies on loopback: a
//! silent server times out, keepalives do not stretch IDLE, a NO answer is an error, a
//! connection lost mid-fetch is not a short answer, and a slow link is not silence.

use crate::support::servers::{imap_config, raw_message, unique_user};
use anyhow::{bail, Context, Result};
use musaid::imap::{self, IdleOutcome};
use std::time::{Duration, Instant};

/// A fake IMAP server on loopback: logs anyone in, answers CAPABILITY, then
/// either never answers SELECT (`silent_select`) or selects and, in IDLE,
/// sends a keepalive every 100 ms until DONE. UID SEARCH gets NO; UID FETCH
/// gets one answer and then the connection closes.
async fn fake_server(silent_select: bool) -> Result<u16> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        if write.write_all(b"* OK fake IMAP ready\r\n").await.is_err() {
            return;
        }
        let mut idle_tag: Option<String> = None;
        let mut keepalive = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Ok(Some(line)) = line else { return };
                    if line == "DONE" {
                        if let Some(tag) = idle_tag.take() {
                            let _ = write.write_all(format!("{tag} OK Idle completed\r\n").as_bytes()).await;
                        }
                        continue;
                    }
                    let (tag, command) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                    let mut words = command.split(' ');
                    let mut verb = words.next().unwrap_or("").to_ascii_uppercase();
                    if verb == "UID" {
                        verb = format!("UID {}", words.next().unwrap_or("").to_ascii_uppercase());
                    }
                    let reply = match verb.as_str() {
                        "LOGIN" => format!("{tag} OK Logged in\r\n"),
                        "CAPABILITY" => format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n"),
                        "SELECT" if silent_select => continue,
                        "SELECT" => format!(
                            "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\n{tag} OK [READ-WRITE] done\r\n"
                        ),
                        "UID SEARCH" => format!("{tag} NO [SERVERBUG] search failed\r\n"),
                        // One answer of two, then the connection drops.
                        "UID FETCH" => {
                            let _ = write.write_all(b"* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n").await;
                            return;
                        }
                        "IDLE" => {
                            idle_tag = Some(tag.to_string());
                            "+ idling\r\n".to_string()
                        }
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
                _ = keepalive.tick(), if idle_tag.is_some() => {
                    if write.write_all(b"* OK Still here\r\n").await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(port)
}

#[tokio::test]
async fn a_silent_server_times_out_and_breaks_the_session() -> Result<()> {
    let mut cfg = imap_config("tasks@example.test");
    cfg.port = fake_server(true).await?;
    let mut s = imap::connect(&cfg).await?;
    s.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = match s.select("INBOX").await {
        Ok(m) => bail!("a silent server selected {m:?}"),
        Err(e) => format!("{e:#}"),
    };
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        err.contains("SELECT \"INBOX\"") && err.contains("no answer"),
        "{err}"
    );
    assert!(!s.is_usable());
    let err = format!(
        "{:#}",
        s.noop().await.err().context("a broken session answered")?
    );
    assert!(err.contains("broken"), "{err}");
    Ok(())
}

#[tokio::test]
async fn keepalives_do_not_stretch_idle_beyond_its_wall_clock_limit() -> Result<()> {
    let mut cfg = imap_config("tasks@example.test");
    cfg.port = fake_server(false).await?;
    let mut s = imap::connect(&cfg).await?;
    assert_eq!(s.select("INBOX").await?.uid_validity, 7);
    let started = Instant::now();
    assert_eq!(
        s.idle_wait(Duration::from_millis(500)).await?,
        IdleOutcome::Timeout
    );
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(900),
        "IDLE lasted {waited:?}"
    );
    // DONE was answered: the session still works.
    s.noop().await?;
    Ok(())
}

#[tokio::test]
async fn a_no_answer_is_an_error_and_a_connection_lost_mid_fetch_is_not_a_short_answer(
) -> Result<()> {
    let mut cfg = imap_config("tasks@example.test");
    cfg.port = fake_server(false).await?;
    let mut s = imap::connect(&cfg).await?;
    s.select("INBOX").await?;

    let err = format!(
        "{:#}",
        s.uid_search_after(0)
            .await
            .err()
            .context("NO became a result")?
    );
    assert!(
        err.contains("UID SEARCH UID 1:*")
            && err.contains("said NO")
            && err.contains("search failed"),
        "{err}"
    );
    assert!(s.is_usable(), "a NO answer must not break the session");

    let err = match s.fetch_sizes(&[1, 2]).await {
        Ok(sizes) => bail!("a dropped connection gave a short answer: {sizes:?}"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("closed the connection"), "{err}");
    assert!(!s.is_usable());
    Ok(())
}

/// A loopback TCP proxy to `target` standing for a slow link: what the server sends passes at
/// `rate` bytes a second, and nothing more once `stall_at` bytes have passed.
struct SlowLink {
    port: u16,
    passed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stall_at: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SlowLink {
    async fn start(target: u16, rate: usize) -> Result<SlowLink> {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let passed = Arc::new(AtomicU64::new(0));
        let stall_at = Arc::new(AtomicU64::new(u64::MAX));
        let (passed_, stall_at_) = (passed.clone(), stall_at.clone());
        tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                return;
            };
            let (mut client_r, mut client_w) = client.into_split();
            let (mut server_r, mut server_w) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_r, &mut server_w).await;
            });
            // 20 ticks a second, each passing at most a twentieth of the rate.
            let mut buf = vec![0u8; (rate / 20).max(1)];
            loop {
                let room = stall_at_
                    .load(Ordering::Relaxed)
                    .saturating_sub(passed_.load(Ordering::Relaxed));
                if room == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                let n = match server_r.read(&mut buf[..want]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if client_w.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                passed_.fetch_add(n as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Ok(SlowLink {
            port,
            passed,
            stall_at,
        })
    }

    /// From now on, let `bytes` more through, then nothing.
    fn stall_after(&self, bytes: u64) {
        use std::sync::atomic::Ordering;
        let now = self.passed.load(Ordering::Relaxed);
        self.stall_at.store(now + bytes, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_large_answer_over_a_slow_link_is_not_silence_but_a_stalled_link_times_out() -> Result<()>
{
    let user = unique_user("slowlink");
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    let raw = raw_message(&user, &user, "Scan", &line.repeat(1_200_000 / line.len()));
    let mut direct = imap::connect(&imap_config(&user)).await?;
    direct.append("INBOX", &raw, &[]).await?;
    direct.logout().await?;

    // 400 KB/s: the 1.2 MB answer takes about 3 s, against a timeout of 0.8 s.
    let mut cfg = imap_config(&user);
    let link = SlowLink::start(cfg.port, 400_000).await?;
    cfg.port = link.port;
    let mut s = imap::connect(&cfg).await?;
    s.set_timeout(Duration::from_millis(800));
    let alive = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    s.set_alive(alive.clone());
    s.select("INBOX").await?;
    let uids = s.uid_search_after(0).await?;
    assert_eq!(uids.len(), 1);
    let unix_before = chrono::Utc::now().timestamp();
    let started = Instant::now();
    let bodies = s.fetch_bodies(&uids).await?;
    let took = started.elapsed();
    assert!(
        took > Duration::from_secs(2),
        "the link was not slow: {took:?}"
    );
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].1 == raw, "the message arrived altered");
    // The watchdog's stamp moved while the answer was arriving.
    let stamped = alive.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        stamped >= unix_before,
        "alive stamp {stamped} < {unix_before}"
    );

    // The link dies 100 KB into the next answer: that is silence, and it ends the session.
    link.stall_after(100_000);
    let started = Instant::now();
    let err = match s.fetch_bodies(&uids).await {
        Ok(b) => bail!("fetched {} bodies over a dead link", b.len()),
        Err(e) => e,
    };
    let took = started.elapsed();
    assert!(imap::is_timeout(&err), "{err:#}");
    assert!(format!("{err:#}").contains("no answer"), "{err:#}");
    assert!(
        took > Duration::from_millis(800) && took < Duration::from_secs(3),
        "the stall was noticed after {took:?}"
    );
    assert!(!s.is_usable());
    Ok(())
}
