//! The `musaid` command line: parse flags, call the library, print tables or JSON.

mod cli;

use anyhow::{Context as _, Result};
use chrono::Utc;
use clap::{Args, CommandFactory as _, Parser, Subcommand};
use cli::{config_failure, exit_code, load_config, print_json, Failure};
use musaid::config;
use musaid::model::TaskStatus;
use musaid::output::{self, Table};
use musaid::store::{Store, TaskFilter};
use serde::Serialize;
use std::path::{Path, PathBuf};
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
    Tasks(TasksCommand),
    /// Queued mail with its earliest send time
    Outbox {
        /// Sent and failed mail too, not only what waits
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Response windows: open now? the next openings, in the contract's zone and in UTC
    Windows {
        /// Only this contract
        #[arg(long, value_name = "C")]
        contract: Option<String>,
        /// How many openings to list
        #[arg(long, default_value_t = 5, value_name = "N")]
        next: usize,
        #[arg(long)]
        json: bool,
    },
    /// Weekly summary: received, done, open and overdue tasks, response times, hours worked.
    ///
    /// Covers the 7 days that end now, or with --week that ISO week (Monday 00:00 to Monday
    /// 00:00 in the contract's zone). Writes STATE/summaries/<contract>/<ISO year>-W<week>.md
    /// and .html (or under --out) and prints the Markdown. Nothing is mailed without --send.
    Summary {
        /// Only this contract [default: each contract]
        #[arg(long, value_name = "C")]
        contract: Option<String>,
        /// An ISO week instead of the last 7 days, e.g. 2026-W48
        #[arg(long, value_name = "YYYY-Www", value_parser = musaid::summary::parse_week)]
        week: Option<(i32, u32)>,
        /// Write the files to DIR/<contract>/ instead of STATE/summaries/<contract>/
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Also mail it to the contract's summary.to (queued in the outbox)
        #[arg(long)]
        send: bool,
        /// One JSON document: an array with one summary object per contract
        #[arg(long)]
        json: bool,
    },
    /// Health for monitoring: last sync and its age, backlog, next windows, last error
    ///
    /// Exit code 0 when the daemon synced within --max-age; 1 when the last sync is older, or
    /// when it never synced (no database yet, or no sync recorded in it); 2 on a config error.
    /// Use it as a monitoring check (Nagios/Icinga, a systemd timer, cron).
    Status(StatusArgs),
    /// Write a commented musaid.toml and the example rules into DIR (default: .)
    ///
    /// Existing files are never overwritten: if any is there, nothing is written.
    Init {
        /// Where to write musaid.toml and rules/ (e.g. /etc/musaid)
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Copy the database to DEST with SQLite's online backup (safe while the daemon runs)
    ///
    /// DEST must not exist. Restore by stopping the daemon and copying DEST over
    /// STATE/musaid.db (removing musaid.db-wal and musaid.db-shm).
    Backup {
        /// The new file to write
        #[arg(value_name = "DEST")]
        dest: PathBuf,
    },
    /// Print a shell completion script (e.g. musaid completions bash > /etc/bash_completion.d/musaid)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page in roff (e.g. musaid man > /usr/local/share/man/man1/musaid.1)
    Man {
        /// Write musaid.1 and a page per subcommand (musaid-status.1, …) into DIR instead
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct StatusArgs {
    /// Unhealthy (exit code 1) when the last sync is older than this: 90s, 15m, 2h, 1d
    #[arg(long, value_name = "AGE", default_value = "15m", value_parser = parse_age)]
    max_age: std::time::Duration,
    /// One JSON object (field names in the README, "Monitoring")
    #[arg(long)]
    json: bool,
}

fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    config::units::parse_duration(s)
}

#[derive(Subcommand, Debug)]
enum TasksCommand {
    /// Every task, whatever its status, unless filtered
    List {
        /// open, in_progress, waiting, done or cancelled
        #[arg(long, value_name = "S")]
        status: Option<TaskStatus>,
        /// Only this contract's tasks
        #[arg(long, value_name = "C")]
        contract: Option<String>,
        /// The quarantined messages instead of tasks
        #[arg(long)]
        quarantine: bool,
        #[arg(long)]
        json: bool,
    },
    /// One task with its events
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Change a task's status by hand (recorded with you as the actor)
    Set {
        id: i64,
        /// open, in_progress, waiting, done or cancelled
        status: TaskStatus,
        /// A note recorded with the change (and shown in the owner's "done" mail)
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Close without mailing the owner (done otherwise queues the same notice a VA's
        /// `#done` reply does)
        #[arg(long)]
        no_mail: bool,
    },
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
    let path = config::config_path(cli.config.as_deref());
    match cli.command {
        Command::Run(args) => cli::run::run(&path, &args),
        Command::Check(args) => cli::check::run(&path, &args),
        Command::Rules(cmd) => cli::rules::run(&path, &cmd),
        Command::Ingest(args) => cli::ingest::run(&path, &args),
        Command::Tasks(cmd) => tasks(&path, cmd),
        Command::Outbox { all, json } => outbox_cmd(&path, all, json),
        Command::Windows {
            contract,
            next,
            json,
        } => windows_cmd(&path, contract.as_deref(), next, json),
        Command::Status(args) => status_cmd(&path, &args),
        Command::Init { dir } => init_cmd(&dir),
        Command::Backup { dest } => backup_cmd(&path, &dest),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "musaid", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => man_cmd(out.as_deref()),
        Command::Summary {
            contract,
            week,
            out,
            send,
            json,
        } => summary_cmd(&path, contract.as_deref(), week, out.as_deref(), send, json),
    }
}

fn tasks(path: &Path, cmd: TasksCommand) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let tz_of = |contract: &str| {
        cfg.contracts
            .get(contract)
            .map(|c| c.timezone)
            .unwrap_or(chrono_tz::UTC)
    };
    let mut store = Store::open(&cfg.daemon.state_dir)?;
    match cmd {
        TasksCommand::List {
            quarantine: true,
            json,
            ..
        } => {
            let rows = store.quarantined()?;
            if json {
                #[derive(Serialize)]
                struct Q<'a> {
                    id: i64,
                    at: Option<String>,
                    message_id: &'a str,
                    from: &'a str,
                    subject: &'a str,
                    reason: &'a str,
                    detail: &'a str,
                    source: Option<&'a str>,
                }
                let v: Vec<Q> = rows
                    .iter()
                    .map(|q| Q {
                        id: q.id,
                        at: output::rfc3339(q.at, chrono_tz::UTC),
                        message_id: &q.message_id,
                        from: &q.sender,
                        subject: &q.subject,
                        reason: &q.reason,
                        detail: &q.detail,
                        source: q.source.as_deref(),
                    })
                    .collect();
                print_json(&v)?;
            } else if rows.is_empty() {
                println!("No quarantined messages.");
            } else {
                let mut t = Table::new(&["ID", "AT (UTC)", "REASON", "FROM", "SUBJECT", "DETAIL"]);
                for q in &rows {
                    t.row(vec![
                        q.id.to_string(),
                        output::short_time(q.at, chrono_tz::UTC),
                        q.reason.clone(),
                        q.sender.clone(),
                        q.subject.clone(),
                        q.detail.clone(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        TasksCommand::List {
            status,
            contract,
            json,
            ..
        } => {
            let rows = store.tasks(&TaskFilter { status, contract })?;
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|t| output::task_json(t, tz_of(&t.contract), None))
                    .collect();
                print_json(&v)?;
            } else if rows.is_empty() {
                println!("No tasks.");
            } else {
                let mut t = Table::new(&[
                    "ID", "STATUS", "PRIORITY", "CATEGORY", "CONTRACT", "ASSIGNEE", "FROM",
                    "SUBJECT", "CREATED",
                ]);
                for r in &rows {
                    t.row(vec![
                        format!("#{}", r.id),
                        r.status.to_string(),
                        r.priority.to_string(),
                        r.category.clone(),
                        r.contract.clone(),
                        r.assignee.clone().unwrap_or_default(),
                        r.original_from
                            .clone()
                            .unwrap_or_else(|| r.requester.clone()),
                        r.original_subject
                            .clone()
                            .unwrap_or_else(|| r.subject.clone()),
                        output::short_time(r.created_at, tz_of(&r.contract)),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        TasksCommand::Show { id, json } => {
            let task = store
                .task(id)?
                .ok_or_else(|| anyhow::anyhow!("No task #{id}"))?;
            let events = store.events(id)?;
            let tz = tz_of(&task.contract);
            if json {
                print_json(&output::task_json(&task, tz, Some(&events)))?;
            } else {
                print!("{}", output::task_text(&task, &events, tz));
            }
        }
        TasksCommand::Set {
            id,
            status,
            note,
            no_mail,
        } => {
            let actor = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            let templates =
                musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())?;
            let now = Utc::now();
            let queued = std::cell::Cell::new(false);
            let t = store.set_task_status(
                id,
                status,
                note.as_deref(),
                &actor,
                now.timestamp(),
                &|tx, from| {
                    if status == TaskStatus::Done && from != TaskStatus::Done && !no_mail {
                        musaid::outbox::closed_by_hand(
                            tx,
                            &cfg,
                            &templates,
                            id,
                            &actor,
                            note.as_deref(),
                            now,
                        )?;
                        queued.set(true);
                    }
                    Ok(())
                },
            )?;
            println!("Task #{} is now {}", t.id, t.status);
            if queued.get() {
                println!(
                    "The owner's notice waits in the outbox for a reply window (`musaid outbox`)"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox_cmd(path: &Path, all: bool, json: bool) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let store = Store::open(&cfg.daemon.state_dir)?;
    let rows = musaid::outbox::list(store.conn(), all)?;
    let tz_of = |c: &Option<String>| {
        c.as_ref()
            .and_then(|c| cfg.contracts.get(c))
            .map(|c| c.timezone)
            .unwrap_or(chrono_tz::UTC)
    };
    if json {
        #[derive(Serialize)]
        struct O<'a> {
            id: i64,
            task: Option<i64>,
            contract: Option<&'a str>,
            kind: &'a str,
            to: &'a str,
            subject: &'a str,
            message_id: &'a str,
            status: &'a str,
            windowed: bool,
            not_before: Option<String>,
            attempts: i64,
            last_error: Option<&'a str>,
            created_at: Option<String>,
            sent_at: Option<String>,
        }
        let v: Vec<O> = rows
            .iter()
            .map(|r| {
                let tz = tz_of(&r.contract);
                O {
                    id: r.id,
                    task: r.task_id,
                    contract: r.contract.as_deref(),
                    kind: &r.kind,
                    to: &r.recipient,
                    subject: &r.subject,
                    message_id: &r.message_id,
                    status: &r.status,
                    windowed: r.windowed,
                    not_before: output::rfc3339(r.not_before, tz),
                    attempts: r.attempts,
                    last_error: r.last_error.as_deref(),
                    created_at: output::rfc3339(r.created_at, tz),
                    sent_at: r.sent_at.and_then(|t| output::rfc3339(t, tz)),
                }
            })
            .collect();
        print_json(&v)?;
    } else if rows.is_empty() {
        println!(
            "{}",
            if all {
                "The outbox is empty."
            } else {
                "Nothing waits in the outbox."
            }
        );
    } else {
        let mut t = Table::new(&[
            "ID",
            "TASK",
            "KIND",
            "TO",
            "STATUS",
            "EARLIEST SEND",
            "TRIES",
            "SUBJECT",
        ]);
        for r in &rows {
            let when = if r.status == "pending" {
                output::short_time(r.not_before, tz_of(&r.contract))
                    + if r.windowed { " (window)" } else { "" }
            } else {
                r.sent_at
                    .map(|t| output::short_time(t, tz_of(&r.contract)))
                    .unwrap_or_default()
            };
            t.row(vec![
                r.id.to_string(),
                r.task_id.map(|t| format!("#{t}")).unwrap_or_default(),
                r.kind.clone(),
                r.recipient.clone(),
                r.status.clone(),
                when,
                r.attempts.to_string(),
                r.subject.clone(),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(ExitCode::SUCCESS)
}

fn windows_cmd(
    path: &Path,
    only: Option<&str>,
    next: usize,
    json: bool,
) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    if let Some(c) = only {
        if !cfg.contracts.contains_key(c) {
            return Err(config_failure(anyhow::anyhow!(
                "No contract `{c}` in {}; the contracts are: {}",
                path.display(),
                cfg.contracts.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let now = Utc::now();
    #[derive(Serialize)]
    struct Opening {
        local: String,
        utc: String,
    }
    #[derive(Serialize)]
    struct W<'a> {
        contract: &'a str,
        timezone: &'a str,
        open_now: bool,
        closes_at: Option<String>,
        next_openings: Vec<Opening>,
        windows: Vec<&'a str>,
        holidays: Vec<String>,
    }
    let mut out = Vec::new();
    for c in cfg
        .contracts
        .values()
        .filter(|c| only.is_none_or(|o| o == c.name))
    {
        let tz = c.timezone;
        out.push(W {
            contract: &c.name,
            timezone: tz.name(),
            open_now: musaid::windows::is_open(c, now),
            closes_at: musaid::windows::next_close(c, now)
                .map(|t| t.with_timezone(&tz).to_rfc3339()),
            next_openings: musaid::windows::next_openings(c, now, next)
                .into_iter()
                .map(|t| Opening {
                    local: t.with_timezone(&tz).to_rfc3339(),
                    utc: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                })
                .collect(),
            windows: c.windows.iter().map(|w| w.source()).collect(),
            holidays: c.holidays.iter().map(|d| d.to_string()).collect(),
        });
    }
    if json {
        print_json(&out)?;
    } else {
        for w in &out {
            let state = match &w.closes_at {
                Some(t) if w.open_now => format!("OPEN now, closes {t}"),
                _ => "closed now".to_string(),
            };
            println!("{} ({}): {state}", w.contract, w.timezone);
            println!("  windows: {}", w.windows.join("; "));
            let mut t = Table::new(&["NEXT OPENING (LOCAL)", "UTC"]);
            for o in &w.next_openings {
                t.row(vec![o.local.clone(), o.utc.clone()]);
            }
            for line in t.render().lines() {
                println!("  {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status_cmd(path: &Path, args: &StatusArgs) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let now = Utc::now();
    let database = cfg.daemon.state_dir.join(musaid::store::DB_FILE);
    let facts = match Store::open_existing(&cfg.daemon.state_dir)? {
        Some(store) => Some(musaid::status::read(store.conn(), now.timestamp())?),
        None => None,
    };
    let status = musaid::status::build(&cfg, &database, facts.as_ref(), now, args.max_age)
        .with_daemon(musaid::daemon::holder(&cfg.daemon.state_dir)?);
    if args.json {
        print_json(&status)?;
    } else {
        print!("{}", musaid::status::render(&status));
    }
    Ok(exit_code(status.healthy))
}

fn init_cmd(dir: &Path) -> Result<ExitCode, Failure> {
    let written = musaid::init::write(dir)?;
    for f in &written {
        println!("wrote {}", f.display());
    }
    println!();
    print!("{}", musaid::init::next_steps(dir));
    Ok(ExitCode::SUCCESS)
}

fn backup_cmd(path: &Path, dest: &Path) -> Result<ExitCode, Failure> {
    let cfg = load_config(path)?;
    let Some(store) = Store::open_existing(&cfg.daemon.state_dir)? else {
        return Err(anyhow::anyhow!(
            "No database at {}: nothing to back up",
            cfg.daemon.state_dir.join(musaid::store::DB_FILE).display()
        )
        .into());
    };
    let r = store.backup_to(dest)?;
    println!(
        "Wrote {}: {} bytes, {} task(s), {} message(s), schema version {} (from {})",
        dest.display(),
        r.bytes,
        r.tasks,
        r.messages,
        r.schema_version,
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

fn man_cmd(out: Option<&Path>) -> Result<ExitCode, Failure> {
    let Some(dir) = out else {
        clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .context("Cannot write the man page")?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
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

fn summary_cmd(
    path: &Path,
    contract: Option<&str>,
    week: Option<(i32, u32)>,
    out: Option<&Path>,
    send: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    use musaid::summary;
    let cfg = load_config(path)?;
    let templates = musaid::templates::Templates::load(cfg.daemon.templates_dir.as_deref())
        .map_err(config_failure)?;
    let contracts: Vec<&config::Contract> = match contract {
        Some(name) => vec![cfg.contracts.get(name).ok_or_else(|| {
            let known: Vec<&str> = cfg.contracts.keys().map(String::as_str).collect();
            config_failure(anyhow::anyhow!(
                "No contract `{name}` in {}; known: {}",
                path.display(),
                known.join(", ")
            ))
        })?],
        None => cfg.contracts.values().collect(),
    };
    let mut store = Store::open(&cfg.daemon.state_dir)?;
    let now = Utc::now();
    let mut all = Vec::new();
    for c in contracts {
        let (start, end) = match week {
            Some((y, w)) => summary::iso_week_period(c, y, w)?,
            None => (summary::week_before(c, now), now),
        };
        let s = summary::compute(store.conn(), c, start, end)?;
        let r = summary::render(&templates, &s)?;
        let (md, html) = match out {
            Some(dir) => summary::write_to(&dir.join(&c.name), &s, &r)?,
            None => summary::write_files(&cfg.daemon.state_dir, c, &s, &r)?,
        };
        if send {
            let tx = store.transaction()?;
            let queued = summary::enqueue_mail(&tx, &cfg, c, &s, &r, now)?;
            tx.commit().context("Cannot queue the summary mail")?;
            match queued {
                0 => eprintln!("{}: no summary.to in the config; nothing mailed", c.name),
                n => eprintln!("{}: {n} mail(s) queued in the outbox", c.name),
            }
        }
        if !json {
            print!("{}", r.text);
            println!();
        }
        eprintln!("{}: wrote {} and {}", c.name, md.display(), html.display());
        all.push(s);
    }
    if json {
        print_json(&all)?;
    }
    Ok(ExitCode::SUCCESS)
}
