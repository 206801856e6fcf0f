//! The session's own tests: timeouts told from refusals, and one write per command.

use super::*;
use std::io::{Read as _, Write as _};

#[test]
fn a_timeout_is_told_from_a_refusal_or_a_dropped_connection() {
    let what = "UID FETCH 1:3 (UID BODY.PEEK[])";
    assert!(is_timeout(
        &anyhow::Error::new(TimedOut(Duration::from_secs(60))).context(what)
    ));
    let bye = ConnectionClosed("BYE FETCH failed: Internal error occurred".into());
    assert!(!is_timeout(&anyhow::Error::new(bye).context(what)));
    assert!(!is_timeout(&anyhow::anyhow!(
        "{what}: the server said NO: no"
    )));
}

/// A server that answers every command OK and keeps what each `read()` returned.
fn chunk_recording_server() -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n")
            .unwrap();
        let mut chunks = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            let chunk = String::from_utf8_lossy(chunk).into_owned();
            // Answer each complete command in the chunk (a partial one gets no answer:
            // the client would wait, and the test time out, as a real server would).
            for line in chunk
                .split_inclusive("\r\n")
                .filter(|l| l.ends_with("\r\n"))
            {
                let tag = line.split(' ').next().unwrap_or("*");
                let reply = if line.contains("CAPABILITY") {
                    format!("* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n")
                } else if line.contains("LOGOUT") {
                    format!("* BYE\r\n{tag} OK bye\r\n")
                } else {
                    format!("{tag} OK done\r\n")
                };
                s.write_all(reply.as_bytes()).unwrap();
            }
            chunks.push(chunk);
        }
        chunks
    });
    (port, server)
}

#[tokio::test]
async fn each_command_goes_out_in_one_write() {
    let (port, server) = chunk_recording_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pass"), "secret\n").unwrap();
    let extra = format!("port = {port}\nuser = \"desk@va.example\"\npassword_file = \"pass\"");
    let config = crate::config::test_desk(dir.path(), &extra);
    let mut s = connect(&config.imap).await.unwrap();
    s.noop().await.unwrap();
    s.logout().await.unwrap();
    let chunks = server.join().unwrap();
    // Unbuffered, "A0001", " ", "LOGIN …" and CRLF were four segments, read apart.
    assert_eq!(
        chunks,
        [
            "A0001 LOGIN \"desk@va.example\" \"secret\"\r\n",
            "A0002 CAPABILITY\r\n",
            "A0003 NOOP\r\n",
            "A0004 LOGOUT\r\n"
        ]
    );
}
