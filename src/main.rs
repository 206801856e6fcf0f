//! The `musaid` command line: parse the flags and hand them to the command's module in
//! `cli/`, which calls the library and prints tables or JSON.

mod cli;

use clap::{CommandFactory as _, Parser, Subcommand};
use cli::Failure;
use std::path::PathBuf;
use std::process::ExitCode;

/// musaid turns email into tasks for virtual assistants and the owners they serve.
///
/// Owners forward requests to one address; musaid sorts them into tasks with rule files,
/// acknowledges them inside the VA's response windows, and lets VAs update tasks by replying.
#[derive(Parser, Debug)]
#[command(name = "musaid", version, propagate_version = true, after_long_help = FOOTER)]
struct Cli {
    /// The configuration file [default: $MUSAID_CONFIG, else /etc/musaid/musaid.toml]
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

// A variant's doc comment is the command's `--help` text; its flags are documented in the
// module that runs it.
#[derive(Subcommand, Debug)]
enum Command {
    /// The daemon, in the foreground (systemd Type=notify)
    Run(cli::run::RunArgs),
    /// Validate the config and the rules; every error with its file:line
    Check(cli::check::CheckArgs),
    /// Rule files: dry runs
    #[command(subcommand)]
    Rules(cli::rules::RulesCommand),
    /// Feed messages through the same pipeline as the daemon, in the order given
    Ingest(cli::ingest::IngestArgs),
    /// List, show and change tasks
    #[command(subcommand)]
    Tasks(cli::tasks::TasksCommand),
    /// Queued mail with its earliest send time
    Outbox(cli::outbox::OutboxArgs),
    /// Response windows: open now? the next openings, in the contract's zone and in UTC
    Windows(cli::windows::WindowsArgs),
    /// Recurring tasks: the [[recurring]] entries of the rule files and their next occurrences
    Recurring(cli::recurring::RecurringArgs),
    /// Weekly summary: received, done, open and overdue tasks, response times, hours worked.
    ///
    /// Covers the 7 days that end now, or with --week that ISO week (Monday 00:00 to Monday
    /// 00:00 in the contract's zone). Writes STATE/summaries/<contract>/<ISO year>-W<week>.md
    /// and .html (or under --out) and prints the Markdown. Nothing is mailed without --send.
    Summary(cli::summary::SummaryArgs),
    /// What each VA's daily agenda would list now (or --at TIME), without sending it
    ///
    /// Overdue tasks first (how late), then those due today, those new since the last agenda,
    /// those waiting ("chase" past policy.chase_after), and a count of the others.
    Agenda(cli::agenda::AgendaArgs),
    /// Health for monitoring: last sync and its age, backlog, next windows, last error
    ///
    /// Exit code 0 when the daemon synced within --max-age; 1 when the last sync is older, or
    /// when it never synced (no database yet, or no sync recorded in it); 2 on a config error.
    /// Use it as a monitoring check (Nagios/Icinga, a systemd timer, cron).
    Status(cli::status::StatusArgs),
    /// Time entries for invoicing: one row per #time entry of a month or a span of days
    ///
    /// Without --month or --from: this month, in each contract's zone. The table ends with
    /// each contract's total (and with a rate, what it comes to); --csv writes RFC 4180 CSV,
    /// UTF-8 with a byte order mark, for LibreOffice Calc or Excel.
    Hours(cli::hours::HoursArgs),
    /// Write a commented musaid.toml and the example rules into DIR (default: .)
    ///
    /// Existing files are never overwritten: if any is there, nothing is written.
    Init(cli::init::InitArgs),
    /// Copy the database to DEST with SQLite's online backup (safe while the daemon runs), and
    /// the attachment files it names to DEST.attachments/
    ///
    /// Neither may exist. Restore by stopping the daemon, copying DEST over STATE/musaid.db
    /// (removing musaid.db-wal and musaid.db-shm) and the files of DEST.attachments/ into
    /// STATE/attachments/.
    Backup(cli::backup::BackupArgs),
    /// Print a shell completion script (e.g. musaid completions bash > /etc/bash_completion.d/musaid)
    Completions(cli::man::CompletionsArgs),
    /// Print the man page in roff (e.g. musaid man > /usr/local/share/man/man1/musaid.1)
    Man(cli::man::ManArgs),
}

/// The end of `musaid --help` and of the man page.
const FOOTER: &str = "\
Files:
  /etc/musaid/musaid.toml   the configuration (--config, $MUSAID_CONFIG)
  /etc/musaid/rules/*.toml  rule files (daemon.rules_dir)
  /var/lib/musaid/musaid.db the database (daemon.state_dir)

Environment:
  MUSAID_CONFIG            the configuration file when --config is not given
  CREDENTIALS_DIRECTORY    where password_credential files are read (systemd LoadCredential=)
  RUST_LOG                 log filter of `musaid run` (--log-level wins)
  JOURNAL_STREAM           set by systemd: logs get <N> priorities and no timestamps

Exit codes: 0 ok, 1 runtime failure (for `status`: unhealthy), 2 usage or configuration error.";

/// jemalloc instead of glibc's malloc: a backlog's messages are parsed on one thread and freed
/// on others, and glibc takes the allocating thread's arena lock for each such free (the
/// threads then wait on each other); jemalloc returns them through per-thread caches, in
/// batches. About 13 % less CPU for a backlog, at a peak RSS under the 40 MB target.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start: freed pages go back to the system after 0.1 s rather
/// than 10 s, so a burst of large mail does not leave the process holding its peak.
// SAFETY: jemalloc reads this NUL-terminated string once, at its first allocation; nothing
// writes it.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 36] = b"dirty_decay_ms:100,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    cli::restore_sigpipe();
    let cli = Cli::parse();
    dispatch(cli).unwrap_or_else(Failure::report)
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let path = musaid::config::config_path(cli.config.as_deref());
    match cli.command {
        Command::Run(args) => cli::run::run(&path, &args),
        Command::Check(args) => cli::check::run(&path, &args),
        Command::Rules(cmd) => cli::rules::run(&path, &cmd),
        Command::Ingest(args) => cli::ingest::run(&path, &args),
        Command::Tasks(cmd) => cli::tasks::run(&path, cmd),
        Command::Outbox(args) => cli::outbox::run(&path, &args),
        Command::Windows(args) => cli::windows::run(&path, &args),
        Command::Recurring(args) => cli::recurring::run(&path, &args),
        Command::Summary(args) => cli::summary::run(&path, &args),
        Command::Agenda(args) => cli::agenda::run(&path, &args),
        Command::Status(args) => cli::status::run(&path, &args),
        Command::Hours(args) => cli::hours::run(&path, &args),
        Command::Init(args) => cli::init::run(&args),
        Command::Backup(args) => cli::backup::run(&path, &args),
        // The man page and the completions describe the whole command line, built here.
        Command::Completions(args) => cli::man::completions(Cli::command(), &args),
        Command::Man(args) => cli::man::man(Cli::command(), &args),
    }
}
