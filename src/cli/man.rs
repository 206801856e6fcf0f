//! `musaid man` and `musaid completions`: the command line described for man and for shells,
//! from the flag definitions themselves.

use super::Failure;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write musaid.1 and a page per subcommand (musaid-status.1, …) into DIR instead
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The completion script of `command` (the whole command line) for one shell, on stdout.
pub fn completions(
    mut command: clap::Command,
    args: &CompletionsArgs,
) -> Result<ExitCode, Failure> {
    clap_complete::generate(args.shell, &mut command, "musaid", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// The man page of `command` (the whole command line) on stdout, or a page per subcommand
/// written into `--out`.
pub fn man(command: clap::Command, args: &ManArgs) -> Result<ExitCode, Failure> {
    let Some(dir) = args.out.as_deref() else {
        clap_mangen::Man::new(command)
            .render(&mut std::io::stdout())
            .context("Cannot write the man page")?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("Cannot write the man pages into {}", dir.display()))?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("Cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("musaid") && n.ends_with(".1"))
        })
        .collect();
    pages.sort();
    for p in pages {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
