//! A test's config, built in code and rendered as the TOML a user would write:
//!
//! ```text
//! ConfigBuilder::new(&state)
//!     .imap(server, &inbox)
//!     .smtp(server, &inbox)
//!     .contract("acme", |c| c.owners(&[&owner]).vas(&[&va]).timezone("UTC").windows(&[ALWAYS]))
//!     .policy("ack_max_age", "1d")
//!     .write(&dir.join("musaid.toml"));
//! ```
//!
//! Without `.imap(…)` the IMAP server is a loopback port nobody is asked to answer. Setting a
//! key twice keeps the last value.

use super::servers::MailServer;
use musaid::config::Config;
use std::path::{Path, PathBuf};

/// A response window open every day, all day.
pub const ALWAYS: &str = "Mon-Sun 00:00-24:00";

/// The project's own rule files (`rules/`).
pub fn project_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// A value as TOML writes it.
pub trait Toml {
    fn toml(&self) -> String;
}

/// TOML written as is: an inline table, an array of them, a bare date.
pub struct Raw<S: AsRef<str>>(pub S);

impl<S: AsRef<str>> Toml for Raw<S> {
    fn toml(&self) -> String {
        self.0.as_ref().to_string()
    }
}

impl<T: Toml + ?Sized> Toml for &T {
    fn toml(&self) -> String {
        (**self).toml()
    }
}

impl Toml for str {
    fn toml(&self) -> String {
        let mut out = String::with_capacity(self.len() + 2);
        out.push('"');
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl Toml for String {
    fn toml(&self) -> String {
        self.as_str().toml()
    }
}

impl Toml for Path {
    fn toml(&self) -> String {
        self.display().to_string().toml()
    }
}

impl Toml for PathBuf {
    fn toml(&self) -> String {
        self.as_path().toml()
    }
}

macro_rules! plain {
    ($($t:ty),*) => {$(
        impl Toml for $t {
            fn toml(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
plain!(bool, i32, i64, u16, u32, u64);

impl<T: Toml> Toml for [T] {
    fn toml(&self) -> String {
        let items: Vec<String> = self.iter().map(Toml::toml).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<T: Toml, const N: usize> Toml for [T; N] {
    fn toml(&self) -> String {
        self.as_slice().toml()
    }
}

impl<T: Toml> Toml for Vec<T> {
    fn toml(&self) -> String {
        self.as_slice().toml()
    }
}

/// One `[section]`: its keys in the order they were first set.
#[derive(Clone, Debug)]
struct Section {
    name: String,
    entries: Vec<(String, String)>,
}

impl Section {
    fn set(&mut self, key: &str, value: String) {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
    }
}

/// The lines of one `[contracts.NAME]`.
#[derive(Clone, Debug)]
pub struct ContractBuilder(Section);

impl ContractBuilder {
    pub fn set(mut self, key: &str, value: impl Toml) -> Self {
        self.0.set(key, value.toml());
        self
    }
    pub fn owners(self, owners: &[&str]) -> Self {
        self.set("owners", owners)
    }
    pub fn vas(self, vas: &[&str]) -> Self {
        self.set("vas", vas)
    }
    pub fn timezone(self, zone: &str) -> Self {
        self.set("timezone", zone)
    }
    pub fn language(self, language: &str) -> Self {
        self.set("language", language)
    }
    /// Weekly windows such as `"Sun-Thu 08:00-17:00"`.
    pub fn windows(self, windows: &[&str]) -> Self {
        self.set("windows", windows)
    }
    /// One window opening at each instant of `cron` (with seconds) and lasting `length`.
    pub fn cron_window(self, cron: &str, length: &str) -> Self {
        let window = format!("[{{ cron = {}, for = {} }}]", cron.toml(), length.toml());
        self.set("windows", Raw(window))
    }
    /// Days off, `YYYY-MM-DD`.
    pub fn holidays(self, days: &[&str]) -> Self {
        self.set("holidays", days)
    }
    /// The weekly summary at each instant of `cron`, mailed to `to`.
    pub fn summary(self, cron: &str, to: &[&str]) -> Self {
        let summary = format!("{{ cron = {}, to = {} }}", cron.toml(), to.toml());
        self.set("summary", Raw(summary))
    }
}

/// A whole config, rendered by [`ConfigBuilder::render`].
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    sections: Vec<Section>,
}

impl ConfigBuilder {
    /// `[daemon]` with `state_dir`, the project's rules and the address `tasks@va.example`;
    /// `[imap]` on a loopback port without a login.
    pub fn new(state_dir: impl AsRef<Path>) -> Self {
        ConfigBuilder {
            sections: Vec::new(),
        }
        .daemon_set("state_dir", state_dir.as_ref())
        .daemon_set("rules_dir", project_rules())
        .daemon_set("address", "tasks@va.example")
        .imap_set("host", "127.0.0.1")
        .imap_set("port", 1143)
        .imap_set("tls", "none")
    }

    /// Set `key` in `[section]`, made when missing.
    pub fn set(mut self, section: &str, key: &str, value: impl Toml) -> Self {
        let value = value.toml();
        match self.sections.iter_mut().find(|s| s.name == section) {
            Some(s) => s.set(key, value),
            None => self.sections.push(Section {
                name: section.to_string(),
                entries: vec![(key.to_string(), value)],
            }),
        }
        self
    }

    /// Take `key` out of `[section]`.
    pub fn unset(mut self, section: &str, key: &str) -> Self {
        if let Some(s) = self.sections.iter_mut().find(|s| s.name == section) {
            s.entries.retain(|(k, _)| k != key);
        }
        self
    }

    pub fn daemon_set(self, key: &str, value: impl Toml) -> Self {
        self.set("daemon", key, value)
    }
    pub fn imap_set(self, key: &str, value: impl Toml) -> Self {
        self.set("imap", key, value)
    }
    pub fn smtp_set(self, key: &str, value: impl Toml) -> Self {
        self.set("smtp", key, value)
    }
    pub fn policy(self, key: &str, value: impl Toml) -> Self {
        self.set("policy", key, value)
    }

    /// The address musaid answers from (`[daemon] address`).
    pub fn address(self, address: &str) -> Self {
        self.daemon_set("address", address)
    }

    /// `[imap]`: `user`'s INBOX on `server`'s plaintext loopback port, with the servers'
    /// password file, reading what is already there on the first start.
    pub fn imap(self, server: &MailServer, user: &str) -> Self {
        self.imap_set("port", server.imap_port)
            .imap_set("user", user)
            .imap_set("password_file", &server.password_file)
            .imap_set("first_sync", "all")
    }

    /// `[smtp]`: `server`'s Postfix with AUTH as `user`, who is also the sender.
    pub fn smtp(self, server: &MailServer, user: &str) -> Self {
        self.smtp_set("host", "127.0.0.1")
            .smtp_set("port", server.smtp_port)
            .smtp_set("tls", "none")
            .smtp_set("user", user)
            .smtp_set("password_file", &server.password_file)
            .smtp_set("from", format!("Test desk <{user}>"))
    }

    /// `[contracts.NAME]`, made or changed by `lines`.
    pub fn contract(
        mut self,
        name: &str,
        lines: impl FnOnce(ContractBuilder) -> ContractBuilder,
    ) -> Self {
        let section = format!("contracts.{name}");
        let at = self.sections.iter().position(|s| s.name == section);
        let current = match at {
            Some(i) => self.sections.remove(i),
            None => Section {
                name: section,
                entries: Vec::new(),
            },
        };
        let ContractBuilder(changed) = lines(ContractBuilder(current));
        self.sections
            .insert(at.unwrap_or(self.sections.len()), changed);
        self
    }

    /// The TOML text: `[daemon]`, `[imap]`, `[smtp]`, the contracts, `[policy]`.
    pub fn render(&self) -> String {
        let rank = |name: &str| match name {
            "daemon" => 0,
            "imap" => 1,
            "smtp" => 2,
            n if n.starts_with("contracts.") => 3,
            _ => 4,
        };
        let mut sections: Vec<&Section> = self.sections.iter().collect();
        sections.sort_by_key(|s| rank(&s.name));
        let mut out = String::new();
        for s in sections {
            out.push_str(&format!("[{}]\n", s.name));
            for (key, value) in &s.entries {
                out.push_str(&format!("{key} = {value}\n"));
            }
            out.push('\n');
        }
        out
    }

    /// Write the TOML to `path`; the path.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.render())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// Load it as `musaid` would from `path` (relative paths resolve beside it).
    pub fn load(&self, path: &Path) -> Config {
        let text = self.render();
        musaid::config::load_str(&text, path).unwrap_or_else(|e| panic!("config: {e}\n{text}"))
    }
}
