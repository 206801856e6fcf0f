//! Credentials for the IMAP login: resolving secrets and the XOAUTH2 SASL exchange.
//!
//! Values are only ever held in [`Secret`], whose Debug and Display print `[redacted]`.

use crate::config::{Secret, SecretSource};
use anyhow::{bail, Context, Result};
use std::time::Duration;

/// How long a `password_command` or `oauth2_token_command` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Read a secret from where the config says it lives. Trailing line breaks are
/// dropped (files and commands end their one line with one).
pub(crate) async fn resolve_secret(source: &SecretSource, what: &str) -> Result<Secret> {
    let raw = match source {
        SecretSource::None => {
            bail!("No {what} configured (password_file, password_command or password_credential)")
        }
        SecretSource::File(path) => tokio::fs::read_to_string(path)
            .await
            .with_context(|| format!("Could not read the {what} from {}", path.display()))?,
        SecretSource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY").with_context(|| {
                format!("The {what} is the systemd credential {name:?} but $CREDENTIALS_DIRECTORY is not set (add LoadCredential= to the unit)")
            })?;
            let path = std::path::Path::new(&dir).join(name);
            tokio::fs::read_to_string(&path).await.with_context(|| {
                format!("Could not read the {what} credential {}", path.display())
            })?
        }
        SecretSource::Command(cmd) => run_secret_command(cmd, what).await?,
    };
    let value = raw.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        bail!("The {what} is empty");
    }
    Ok(Secret::new(value.to_string()))
}

/// Run `sh -c COMMAND` and return its standard output. The output is never logged;
/// errors name the exit status only.
async fn run_secret_command(cmd: &str, what: &str) -> Result<String> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "The {what} command did not finish within {}s",
                COMMAND_TIMEOUT.as_secs()
            )
        })?
        .with_context(|| format!("Could not run the {what} command"))?;
    if !out.status.success() {
        bail!("The {what} command failed ({})", out.status);
    }
    String::from_utf8(out.stdout)
        .with_context(|| format!("The {what} command printed non-UTF-8 output"))
}

/// A SASL mechanism whose whole answer is one message: sent for the first challenge, and an
/// empty answer after that (after a failure, XOAUTH2 servers send a JSON challenge that must
/// be answered empty).
pub(crate) struct SaslAnswer {
    answer: Secret,
    sent: bool,
}

impl SaslAnswer {
    /// SASL PLAIN (RFC 4616): `^@user^@password`, UTF-8 by definition. For credentials that
    /// LOGIN cannot carry: its quoted strings are 7-bit (RFC 3501 §4.3), so an Arabic
    /// password sent with LOGIN works on some servers and not on others.
    pub(crate) fn plain(user: &str, password: &Secret) -> SaslAnswer {
        SaslAnswer::new(format!("\0{user}\0{}", password.expose()))
    }

    /// SASL XOAUTH2 (Google, Microsoft): `user=U ^A auth=Bearer T ^A ^A`.
    pub(crate) fn xoauth2(user: &str, token: &Secret) -> SaslAnswer {
        SaslAnswer::new(format!(
            "user={user}\x01auth=Bearer {}\x01\x01",
            token.expose()
        ))
    }

    fn new(answer: String) -> SaslAnswer {
        SaslAnswer {
            answer: Secret::new(answer),
            sent: false,
        }
    }
}

impl async_imap::Authenticator for SaslAnswer {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        if self.sent {
            return String::new();
        }
        self.sent = true;
        self.answer.expose().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator;

    #[test]
    fn xoauth2_sends_the_token_once_then_an_empty_answer() {
        let mut auth = SaslAnswer::xoauth2("me@example.test", &Secret::new("tok123".into()));
        assert_eq!(
            auth.process(b""),
            "user=me@example.test\x01auth=Bearer tok123\x01\x01"
        );
        assert_eq!(auth.process(b"{\"status\":\"401\"}"), "");
    }

    #[test]
    fn plain_sends_user_and_password_once_in_utf8() {
        let mut auth = SaslAnswer::plain("سارة@example.test", &Secret::new("كلمة سر".into()));
        assert_eq!(auth.process(b""), "\0سارة@example.test\0كلمة سر");
        assert_eq!(auth.process(b""), "");
    }

    #[tokio::test]
    async fn secrets_come_from_files_and_commands_without_the_line_break() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("pass");
        std::fs::write(&file, "s3cret\r\n")?;
        let s = resolve_secret(&SecretSource::File(file), "IMAP password").await?;
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");

        let s = resolve_secret(&SecretSource::Command("printf 'tok\\n'".into()), "token").await?;
        assert_eq!(s.expose(), "tok");
        Ok(())
    }

    #[tokio::test]
    async fn failing_or_empty_secret_sources_are_clear_errors() {
        let err = |r: Result<Secret>| r.err().map(|e| format!("{e:#}")).unwrap_or_default();
        let e = err(resolve_secret(&SecretSource::Command("exit 3".into()), "IMAP password").await);
        assert!(e.contains("The IMAP password command failed"), "{e}");
        let e = err(resolve_secret(&SecretSource::Command("true".into()), "IMAP password").await);
        assert!(e.contains("The IMAP password is empty"), "{e}");
        let e = err(resolve_secret(&SecretSource::None, "IMAP password").await);
        assert!(e.contains("No IMAP password configured"), "{e}");
        let e = err(resolve_secret(
            &SecretSource::File("/nonexistent/pass".into()),
            "IMAP password",
        )
        .await);
        assert!(
            e.contains("Could not read the IMAP password from /nonexistent/pass"),
            "{e}"
        );
    }
}
