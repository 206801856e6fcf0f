//! `musaid init`: a commented starting configuration and the example rules, written next to
//! each other so `rules_dir = "rules"` finds them.

use super::Failure;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write musaid.toml and rules/ (e.g. /etc/musaid)
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
}

pub fn run(args: &InitArgs) -> Result<ExitCode, Failure> {
    let dir = &args.dir;
    let written = write(dir)?;
    for f in &written {
        println!("wrote {}", f.display());
    }
    println!();
    print!("{}", next_steps(dir));
    Ok(ExitCode::SUCCESS)
}

/// The starting `musaid.toml`: every section, explained, with placeholders.
pub const CONFIG_TEMPLATE: &str = include_str!("../../examples/musaid.toml");

/// The repository's example rule files, by file name.
pub const EXAMPLE_RULES: &[(&str, &str)] = &[
    ("05-urgent.toml", include_str!("../../rules/05-urgent.toml")),
    (
        "10-bookkeeping.toml",
        include_str!("../../rules/10-bookkeeping.toml"),
    ),
    ("15-travel.toml", include_str!("../../rules/15-travel.toml")),
    (
        "20-scheduling.toml",
        include_str!("../../rules/20-scheduling.toml"),
    ),
    (
        "30-social-media.toml",
        include_str!("../../rules/30-social-media.toml"),
    ),
    (
        "40-website.toml",
        include_str!("../../rules/40-website.toml"),
    ),
    (
        "50-data-entry.toml",
        include_str!("../../rules/50-data-entry.toml"),
    ),
];

/// The file name of the configuration `init` writes.
pub const CONFIG_FILE: &str = "musaid.toml";

/// Every file `init` would write into `dir`, with its contents.
pub fn files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut out = vec![(dir.join(CONFIG_FILE), CONFIG_TEMPLATE)];
    for (name, text) in EXAMPLE_RULES {
        out.push((dir.join("rules").join(name), *text));
    }
    out
}

/// Write the configuration and the example rules into `dir` (created when missing).
/// Refuses, writing nothing, when any of the files exists. Returns the files written.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>> {
    let planned = files(dir);
    let existing: Vec<String> = planned
        .iter()
        .filter(|(p, _)| p.symlink_metadata().is_ok())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "Refusing to overwrite {}; move them away or choose another directory",
            existing.join(", ")
        );
    }
    let rules = dir.join("rules");
    let new_dirs: Vec<&Path> = [dir, rules.as_path()]
        .into_iter()
        .filter(|d| !d.exists())
        .collect();
    std::fs::create_dir_all(&rules)
        .with_context(|| format!("Cannot create {}", rules.display()))?;
    // Readable by the service's unprivileged user whatever the umask: nothing here is secret.
    for d in new_dirs {
        set_mode(d, 0o755)?;
    }
    let mut written = Vec::new();
    for (path, text) in planned {
        // create_new: a file that appeared since the check above is still not overwritten.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("Cannot create {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("Cannot write {}", path.display()))?;
        set_mode(&path, 0o644)?;
        written.push(path);
    }
    Ok(written)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("Cannot set the mode of {}", path.display()))
}

/// What to do after `init`, for the person who ran it.
pub fn next_steps(dir: &Path) -> String {
    let config = dir.join(CONFIG_FILE);
    let creds = dir.join("credentials");
    format!(
        "Next:\n\
         1. Edit {config}: the inbox address, the IMAP and SMTP servers, and one\n\
         \x20  [contracts.NAME] per owner you serve (every placeholder is @example.com).\n\
         2. Put the passwords where the config expects them, one per file, readable by root only:\n\
         \x20    install -d -m 0700 {creds}\n\
         \x20    (umask 077; printf '%s' 'IMAP-PASSWORD' > {creds}/imap.pass)\n\
         \x20    (umask 077; printf '%s' 'SMTP-PASSWORD' > {creds}/smtp.pass)\n\
         \x20  The systemd unit hands them to musaid as credentials (LoadCredential=);\n\
         \x20  outside systemd use password_file or password_command instead.\n\
         3. Adapt the rules in {rules} (first match wins, in file-name order).\n\
         4. Validate: musaid check --config {config}\n\
         5. Under systemd: systemctl enable --now musaid (after a change: musaid check, then\n\
         \x20  systemctl reload musaid).\n",
        config = config.display(),
        creds = creds.display(),
        rules = dir.join("rules").display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_a_valid_config_with_every_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        let cfg =
            musaid::config::load_str(CONFIG_TEMPLATE, &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.daemon.address, "tasks@example.com");
        assert_eq!(cfg.daemon.rules_dir, dir.path().join("rules"));
        assert!(cfg.smtp.is_some());
        assert!(cfg.contracts.contains_key("acme"));
        for section in [
            "[daemon]",
            "[imap]",
            "[smtp]",
            "[contracts.acme]",
            "[policy]",
        ] {
            assert!(CONFIG_TEMPLATE.contains(section), "{section}");
        }
    }

    #[test]
    fn the_template_explains_trusted_authserv_id() {
        let line = CONFIG_TEMPLATE
            .lines()
            .position(|l| l.starts_with("# trusted_authserv_id = "))
            .expect("the key, commented");
        let before: Vec<&str> = CONFIG_TEMPLATE.lines().take(line).collect();
        let comment = before.join("\n");
        assert!(comment.contains("taken on trust"), "{comment}");
        assert!(comment.contains("docs/security.md"), "{comment}");
    }

    #[test]
    fn every_example_rule_file_is_embedded() {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(&rules)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = EXAMPLE_RULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            on_disk, embedded,
            "add new files in rules/ to EXAMPLE_RULES"
        );
    }

    #[test]
    fn writes_then_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path()).unwrap();
        assert_eq!(written.len(), 1 + EXAMPLE_RULES.len());
        use std::os::unix::fs::PermissionsExt as _;
        for f in &written {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{}", f.display());
        }
        let rules = musaid::rules::RuleSet::load(&dir.path().join("rules")).unwrap();
        assert!(rules.len() > 5);
        std::fs::write(dir.path().join(CONFIG_FILE), "# mine\n").unwrap();
        let err = write(dir.path()).unwrap_err().to_string();
        assert!(err.contains("Refusing to overwrite"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap(),
            "# mine\n"
        );
    }
}
