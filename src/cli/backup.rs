//! `musaid backup`: a copy of the database by SQLite's online backup, safe while the daemon
//! runs, and of the attachment files it names.

use super::{load_config, Failure};
use clap::Args;
use musaid::store::Store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The new file to write
    #[arg(value_name = "DEST")]
    dest: PathBuf,
}

pub fn run(path: &Path, args: &BackupArgs) -> Result<ExitCode, Failure> {
    let dest = &args.dest;
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
    println!(
        "Wrote {}: {} attachment file(s), {} bytes",
        r.attachments_dir.display(),
        r.attachment_files,
        r.attachment_bytes
    );
    if r.attachments_missing > 0 {
        println!(
            "{} file(s) were purged while the backup ran: marked purged in the copy",
            r.attachments_missing
        );
    }
    Ok(ExitCode::SUCCESS)
}
