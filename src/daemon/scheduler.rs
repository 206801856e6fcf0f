//! The scheduler: one task for everything timed (weekly summaries, daily agendas, due-time
//! notices). Each [`Job`] does what is due at an instant
//! and says when it is next due; the scheduler runs them all, then sleeps until the earliest
//! next instant (an hour at most), or until a reload changes the schedule. A job decides
//! from the database what is due, so what fell due while the daemon was down is done at
//! start, once.

use super::Context;
use crate::ingest::Pipeline;
use crate::store::{attachments, Store};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tracing::{info, warn};

/// The longest the scheduler sleeps: what is due is looked at again at least this often.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// Something done at instants of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// The weekly summaries, at each contract's cron time.
    Summaries,
    /// Drop the raw bytes of mail quarantined longer than `policy.quarantine_keep`, at each
    /// wake (at least hourly).
    QuarantinePurge,
    /// Each VA's daily agenda, at their first window or their agenda cron.
    Agendas,
    /// Reminders before due times, overdue notices and escalations.
    DueNotices,
    /// The tasks of `[[recurring]]` entries, at each occurrence.
    Recurring,
    /// Once a day: the files of tasks that ended more than `attachments_keep` ago.
    AttachmentPurge,
}

/// Every job, in the order they run when due together.
const JOBS: [Job; 6] = [
    Job::Summaries,
    Job::QuarantinePurge,
    Job::Recurring,
    Job::DueNotices,
    Job::Agendas,
    Job::AttachmentPurge,
];

/// Log how a job went; whether it queued mail.
fn report(job: &str, made: anyhow::Result<usize>) -> bool {
    match made {
        Ok(0) => false,
        Ok(n) => {
            info!(mails = n, "{job} queued");
            true
        }
        Err(e) => {
            warn!(error = %format!("{e:#}"), "{job} failed");
            false
        }
    }
}

impl Job {
    /// Do what is due at `now` (the daemon started at `started`); whether it queued mail for
    /// the sender.
    fn run_due(
        self,
        store: &mut Store,
        p: &Pipeline,
        now: DateTime<Utc>,
        started: DateTime<Utc>,
    ) -> bool {
        match self {
            Job::Summaries => match crate::summary::run_scheduled(store, p, now) {
                Ok(0) => false,
                Ok(n) => {
                    info!(summaries = n, "weekly summaries written");
                    true
                }
                Err(e) => {
                    warn!(error = %crate::logging::Untrusted(&format!("{e:#}")), "weekly summary failed");
                    false
                }
            },
            Job::Recurring => report(
                "recurring tasks",
                crate::recurring::run_due(store, p, now, started),
            ),
            Job::Agendas => report("agendas", crate::agenda::send::run_due(store, p, now)),
            Job::DueNotices => report(
                "due-time notices",
                crate::reminders::send::run_due(store, p, now),
            ),
            Job::QuarantinePurge => {
                let keep = p.config.policy.quarantine_keep;
                match crate::store::quarantine::purge(store.conn(), keep, now) {
                    Ok(0) => {}
                    Ok(n) => info!(
                        messages = n,
                        "quarantined bytes past quarantine_keep dropped"
                    ),
                    Err(e) => warn!(error = %format!("{e:#}"), "quarantine purge failed"),
                }
                false
            }
            Job::AttachmentPurge => {
                let files = attachments::Files::new(&p.config.daemon.state_dir);
                let keep = p.config.policy.attachments_keep;
                match attachments::purge_if_due(store, &files, keep, now.timestamp()) {
                    Ok(Some(done)) if done.rows > 0 || done.swept.files > 0 => info!(
                        purged = done.rows,
                        files_removed = done.swept.files,
                        bytes = done.swept.bytes,
                        "attachments purged (policy.attachments_keep)"
                    ),
                    Ok(_) => {}
                    Err(e) => warn!(error = %format!("{e:#}"), "purging attachments failed"),
                }
                false
            }
        }
    }

    /// When it is next due after `now`, if ever.
    fn next_due(
        self,
        store: Option<&Store>,
        p: &Pipeline,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Job::Agendas => crate::agenda::send::next_due(&p.config, now),
            Job::DueNotices => store.and_then(|s| {
                crate::reminders::send::next_due(s, &p.config, now)
                    .map_err(|e| warn!(error = %format!("{e:#}"), "cannot read the due times"))
                    .ok()
                    .flatten()
            }),
            Job::Summaries => p
                .config
                .contracts
                .keys()
                .filter_map(|c| crate::summary::next_run(&p.config, c, now))
                .min(),
            // Hourly is soon enough: the scheduler wakes at least that often.
            Job::QuarantinePurge => None,
            Job::Recurring => crate::recurring::next_due(p, now),
            // Looked at whenever the scheduler wakes (hourly at least); it keeps its own day.
            Job::AttachmentPurge => None,
        }
    }
}

/// Run every job when it is due, until shutdown.
pub(super) async fn run(mut ctx: Context) {
    let mut store = None;
    let started = Utc::now();
    while !*ctx.shutdown.borrow() {
        let p = ctx.current.borrow_and_update().clone();
        if store.is_none() {
            store = Store::open(&p.config.daemon.state_dir)
                .map_err(
                    |e| warn!(error = %format!("{e:#}"), "the scheduler cannot open the database"),
                )
                .ok();
        }
        let now = Utc::now();
        if let Some(s) = store.as_mut() {
            let mut queued = false;
            for job in JOBS {
                queued |= job.run_due(s, &p, now, started);
            }
            if queued {
                ctx.wake.notify_one();
            }
        }
        let next = JOBS
            .iter()
            .filter_map(|job| job.next_due(store.as_ref(), &p, now))
            .min();
        tokio::select! {
            _ = tokio::time::sleep(sleep_for(next, now)) => {}
            // New tasks and changed due times move the next notice.
            _ = ctx.tasks_changed.notified() => {}
            _ = ctx.current.changed() => {}
            _ = ctx.shutdown.changed() => {}
        }
    }
}

/// How long to sleep at `now` when the next job is due at `next`: until a second past it, so
/// that it is due on waking, and [`LONGEST_SLEEP`] at most.
fn sleep_for(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    next.and_then(|t| (t - now).to_std().ok())
        .unwrap_or(LONGEST_SLEEP)
        .min(LONGEST_SLEEP)
        + Duration::from_secs(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_wakes_just_after_the_next_instant_and_at_least_hourly() {
        let now = Utc::now();
        let soon = now + chrono::Duration::seconds(90);
        assert_eq!(sleep_for(Some(soon), now), Duration::from_secs(91));
        let next_week = now + chrono::Duration::days(7);
        assert_eq!(sleep_for(Some(next_week), now), Duration::from_secs(3601));
        assert_eq!(sleep_for(None, now), Duration::from_secs(3601));
    }
}
