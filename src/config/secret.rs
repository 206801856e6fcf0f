//! Resolving secrets: password files, password commands, systemd credentials, OAuth2 tokens.
//!
//! Values are read only when needed and never put into an error message.

use super::{AuthMethod, Secret, SecretSource, ServerLogin};
use anyhow::{bail, Context as _};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

impl SecretSource {
    /// The secret's value, or `None` when no secret is configured.
    ///
    /// A file is read and its trailing newline dropped; a command runs with `sh -c` and
    /// its standard output is the secret (a failing command is an error that quotes
    /// neither the command nor its output); a credential is read from
    /// `$CREDENTIALS_DIRECTORY/NAME` as systemd's `LoadCredential=` provides it.
    pub fn resolve(&self) -> anyhow::Result<Option<Secret>> {
        self.resolve_in(std::env::var_os("CREDENTIALS_DIRECTORY"))
    }

    fn resolve_in(&self, credentials_dir: Option<OsString>) -> anyhow::Result<Option<Secret>> {
        match self {
            SecretSource::None => Ok(None),
            SecretSource::File(path) => read_secret_file(path, "password_file").map(Some),
            SecretSource::Command(cmd) => run_secret_command(cmd, "password_command").map(Some),
            SecretSource::Credential(name) => {
                let Some(dir) = credentials_dir.filter(|d| !d.is_empty()) else {
                    bail!(
                        "password_credential `{name}` needs $CREDENTIALS_DIRECTORY, which is not set; \
                         run under systemd with `LoadCredential={name}:/path/to/secret` \
                         (or use password_file outside systemd)"
                    );
                };
                let path = PathBuf::from(dir).join(name);
                read_secret_file(&path, "password_credential").map(Some)
            }
        }
    }
}

impl ServerLogin {
    /// A fresh OAuth2 access token from `oauth2_token_command` (for `auth = "xoauth2"`).
    pub fn oauth2_token(&self) -> anyhow::Result<Secret> {
        if self.auth != AuthMethod::XOAuth2 {
            bail!("OAuth2 token requested, but auth is not \"xoauth2\"");
        }
        let Some(cmd) = &self.oauth2_token_command else {
            bail!("auth = \"xoauth2\" needs oauth2_token_command");
        };
        run_secret_command(cmd, "oauth2_token_command")
    }
}

fn read_secret_file(path: &Path, key: &str) -> anyhow::Result<Secret> {
    let bytes =
        std::fs::read(path).with_context(|| format!("Cannot read {key} {}", path.display()))?;
    let Ok(text) = String::from_utf8(bytes) else {
        bail!("{key} {} is not UTF-8 text", path.display());
    };
    let value = trim_newline(text);
    if value.is_empty() {
        bail!("{key} {} is empty", path.display());
    }
    Ok(Secret::new(value))
}

/// A secret or token command that has not finished by then is stopped: a hung vault or
/// OAuth helper must not hold the sender or the IMAP loop for ever (docs/configuration.md).
pub const SECRET_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn run_secret_command(cmd: &str, key: &str) -> anyhow::Result<Secret> {
    run_secret_command_within(cmd, key, SECRET_COMMAND_TIMEOUT)
}

fn run_secret_command_within(cmd: &str, key: &str, limit: Duration) -> anyhow::Result<Secret> {
    let output =
        output_within(cmd, limit).with_context(|| format!("{key} did not give a secret"))?;
    if !output.status.success() {
        // Standard output may hold a partial secret: only the status and stderr are shown.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let last: String = last.trim().chars().take(200).collect();
        if last.is_empty() {
            bail!("{key} failed ({})", output.status);
        }
        bail!("{key} failed ({}): {last}", output.status);
    }
    let Ok(text) = String::from_utf8(output.stdout) else {
        bail!("{key} printed something that is not UTF-8 text");
    };
    let value = trim_newline(text);
    if value.is_empty() {
        bail!("{key} printed nothing");
    }
    Ok(Secret::new(value))
}

/// Run `sh -c CMD` in its own process group and collect its output, killing the whole group
/// (the shell and whatever it started) when it runs longer than `limit`.
fn output_within(cmd: &str, limit: Duration) -> anyhow::Result<Output> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("Cannot run it with sh -c")?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().context("Cannot wait for it")? {
            break status;
        }
        if started.elapsed() >= limit {
            if let Ok(pgid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals the group we created above.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            let _ = child.wait();
            bail!(
                "it did not finish within {} s and was stopped",
                limit.as_secs_f64()
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn trim_newline(mut s: String) -> String {
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secret_drops_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, " s3cret pass \r\n").unwrap();
        let secret = SecretSource::File(path).resolve().unwrap().unwrap();
        assert_eq!(secret.expose(), " s3cret pass ");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn missing_and_empty_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = SecretSource::File(dir.path().join("nope"))
            .resolve()
            .unwrap_err();
        assert!(
            format!("{missing:#}").contains("Cannot read password_file"),
            "{missing:#}"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = SecretSource::File(empty).resolve().unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn command_secret_and_failure_without_stdout() {
        let ok = SecretSource::Command("printf 'tok3n\\n'".into())
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!(ok.expose(), "tok3n");
        let err = SecretSource::Command("echo hunter2; echo 'vault locked' >&2; exit 3".into())
            .resolve()
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("password_command failed"), "{msg}");
        assert!(msg.contains("vault locked"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        let empty = SecretSource::Command("true".into()).resolve().unwrap_err();
        assert!(empty.to_string().contains("printed nothing"));
    }

    #[test]
    fn a_hung_command_is_stopped_with_a_clear_error() {
        let started = Instant::now();
        // The shell's child holds the output pipe too: the whole group must go.
        let err = run_secret_command_within(
            "sleep 30; echo late",
            "oauth2_token_command",
            Duration::from_millis(300),
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("oauth2_token_command did not give a secret"),
            "{msg}"
        );
        assert!(msg.contains("did not finish within 0.3 s"), "{msg}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn credentials_come_from_the_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("imap"), "credpass\n").unwrap();
        let source = SecretSource::Credential("imap".into());
        let got = source
            .resolve_in(Some(dir.path().as_os_str().to_owned()))
            .unwrap();
        assert_eq!(got.unwrap().expose(), "credpass");
        let unset = source.resolve_in(None).unwrap_err().to_string();
        assert!(unset.contains("$CREDENTIALS_DIRECTORY"), "{unset}");
        assert!(unset.contains("LoadCredential=imap"), "{unset}");
        assert_eq!(SecretSource::None.resolve().unwrap(), None);
    }

    #[test]
    fn oauth2_token_runs_the_command() {
        let login = ServerLogin {
            user: Some("me@example.com".into()),
            auth: AuthMethod::XOAuth2,
            password: SecretSource::None,
            oauth2_token_command: Some("echo ya29.token".into()),
        };
        assert_eq!(login.oauth2_token().unwrap().expose(), "ya29.token");
        let plain = ServerLogin {
            auth: AuthMethod::Password,
            ..login
        };
        assert!(plain.oauth2_token().is_err());
    }
}
