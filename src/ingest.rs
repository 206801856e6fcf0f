//! The pipeline every message goes through, from the daemon or `musaid ingest`:
//! bytes → parse → decide → one transaction with the message record and its effects.

use crate::config::Config;
use crate::decide::{self, Context, Decision, Role, ThreadLookup};
use crate::mail::{self, Message};
use crate::model::Reason;
use crate::rules::RuleSet;
use crate::store::{self, History, Source, Store};
use crate::templates::Templates;
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Record a message whose bytes were never loaded, with `decision` (a quarantine); `why` is
/// what its outcome says in place of the parsed message.
fn unloaded(
    tx: &Transaction<'_>,
    source: &Source,
    message_id: &str,
    size: Option<u64>,
    decision: Decision,
    why: &str,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let unparsed = store::record::Unparsed {
        message_id,
        size: size.map_or(0, |s| usize::try_from(s).unwrap_or(usize::MAX)),
    };
    store::record(tx, source, Err(unparsed), None, &decision, now)?;
    Ok(Outcome {
        message_id: message_id.to_string(),
        decision,
        task_id: None,
        parsed: Err(why.into()),
        staged: Vec::new(),
    })
}

/// A message whose bytes are not loaded (oversized, or one the server would not send): what
/// is known of it.
#[derive(Debug, Clone, Copy)]
pub struct Unloaded<'a> {
    /// The id it is recorded under.
    pub message_id: &'a str,
    pub size: Option<u64>,
    /// The first bytes of its header, when the server sent them (or the file's first bytes).
    pub header: Option<&'a [u8]>,
    /// When it reached the mailbox.
    pub arrived: Option<DateTime<Utc>>,
}

/// The loaded configuration and rule set: what a reload replaces as a whole.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub config: Config,
    pub rules: RuleSet,
    pub templates: Templates,
}

/// The running pipeline; replaced as a whole by a successful reload.
pub type Current = tokio::sync::watch::Receiver<std::sync::Arc<Pipeline>>;

/// What happened to one message.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub message_id: String,
    pub decision: Decision,
    pub task_id: Option<i64>,
    /// The message as parsed (or why it could not be), for callers that show it. Its files'
    /// bytes are released once stored.
    pub parsed: Parsed,
    /// Files this message staged that were not on disk yet: the caller settles them
    /// ([`store::attachments::Files::settle`]) before it commits.
    pub staged: Vec<store::attachments::Staged>,
}

/// A parsed message, or why there is none.
pub type Parsed = std::result::Result<Message, String>;

/// Parse without ever letting a panic in a parser escape: a message that makes one is
/// unparseable, not a crash.
pub fn parse_guarded(raw: &[u8]) -> Parsed {
    match catch_unwind(AssertUnwindSafe(|| mail::parse(raw))) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the MIME parser failed on this message".into()),
    }
}

/// The Message-ID given to bytes that could not be parsed: the one the parser derives for a
/// message without one, so the same bytes always get the same id.
pub fn derived_message_id(raw: &[u8]) -> String {
    mail::parse::derived_id(raw)
}

impl Pipeline {
    /// Load the config file and the rule set it names.
    pub fn load(config_path: &Path) -> Result<Pipeline> {
        let config = crate::config::load(config_path)?;
        let rules = RuleSet::load(&config.daemon.rules_dir)?;
        Pipeline::new(config, rules)
    }

    /// Put a pipeline together from a loaded config and rule set (loads the templates).
    pub fn new(config: Config, rules: RuleSet) -> Result<Pipeline> {
        rules.check_recurring(&config)?;
        let templates = Templates::load(config.daemon.templates_dir.as_deref())?;
        Ok(Pipeline {
            config,
            rules,
            templates,
        })
    }

    /// What the pipeline would decide for these bytes, without writing anything.
    pub fn decide(
        &self,
        parsed: &Parsed,
        history: &dyn ThreadLookup,
        arrived: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Decision> {
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                return Ok(Decision::Quarantine {
                    reason: Reason::Unparseable,
                    detail: e.clone(),
                })
            }
        };
        let ctx = Context {
            config: &self.config,
            rules: &self.rules,
            now,
            arrived,
        };
        match catch_unwind(AssertUnwindSafe(|| decide::decide(msg, &ctx, history))) {
            Ok(d) => d,
            Err(_) => Ok(Decision::Quarantine {
                reason: Reason::Unparseable,
                detail: "deciding on this message failed".into(),
            }),
        }
    }

    /// Parse, decide and record one message inside `tx`. The caller commits (with the
    /// mailbox's last UID, when it comes from IMAP).
    pub fn process(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        raw: &[u8],
        arrived: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        self.process_parsed(tx, source, raw, parse_guarded(raw), arrived, now)
    }

    /// [`Pipeline::process`] for a message parsed beforehand (outside the transaction, so the
    /// database's write lock is held only for deciding and recording).
    pub fn process_parsed(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        raw: &[u8],
        parsed: Parsed,
        arrived: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        #[cfg(debug_assertions)]
        abort_if_told(&parsed);
        let decision = self.decide(&parsed, &History(tx), arrived, now)?;
        let fallback_id;
        let (msg, message_id) = match &parsed {
            Ok(m) => (Ok(m), m.message_id.clone()),
            Err(_) => {
                fallback_id = derived_message_id(raw);
                (
                    Err(store::record::Unparsed {
                        message_id: &fallback_id,
                        size: raw.len(),
                    }),
                    fallback_id.clone(),
                )
            }
        };
        let keep_raw = match &decision {
            Decision::Quarantine {
                reason: Reason::UnknownSender | Reason::Untrusted,
                ..
            } => Some(store::quarantine::stranger(tx, raw, now)?),
            Decision::Quarantine { .. } => Some(raw),
            _ => None,
        };
        let rec = store::record(tx, source, msg, keep_raw, &decision, now)
            .with_context(|| format!("Cannot record message <{message_id}>"))?;
        let mut parsed = parsed;
        let staged = self
            .keep_files(tx, raw, &decision, rec.task_id, parsed.as_ref().ok(), now)
            .with_context(|| format!("Cannot store the files of message <{message_id}>"))?;
        crate::outbox::effects(
            tx,
            &self.config,
            &self.templates,
            &decision,
            rec.task_id,
            parsed.as_ref().ok(),
            now,
        )
        .with_context(|| format!("Cannot queue the mail for message <{message_id}>"))?;
        if let Ok(m) = parsed.as_mut() {
            store::attachments::release(m);
        }
        Ok(Outcome {
            message_id,
            decision,
            task_id: rec.task_id,
            parsed,
            staged,
        })
    }

    /// Store the files of a request or of a message in a task's thread (see
    /// [`store::attachments`]); the files it staged.
    fn keep_files(
        &self,
        tx: &Transaction<'_>,
        raw: &[u8],
        decision: &Decision,
        task: Option<i64>,
        msg: Option<&Message>,
        now: DateTime<Utc>,
    ) -> Result<Vec<store::attachments::Staged>> {
        let role = match decision {
            Decision::CreateTask(_) => Role::Owner,
            Decision::UpdateTask(u) => u.role,
            _ => return Ok(Vec::new()),
        };
        let (Some(task), Some(msg)) = (task, msg.filter(|m| !m.attachments.is_empty())) else {
            return Ok(Vec::new());
        };
        let files = store::attachments::Files::new(&self.config.daemon.state_dir);
        store::attachments::keep(tx, &files, raw, msg, task, role, now.timestamp())
    }

    /// Record a message that is too large to load: quarantined as `oversized`, bytes not
    /// kept; its sender, if an owner, is told (docs/mail.md#mail-that-is-not-read).
    pub fn process_oversized(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        m: &Unloaded<'_>,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let size = m.size.unwrap_or(0);
        let decision = Decision::Quarantine {
            reason: Reason::Oversized,
            detail: format!(
                "{size} bytes, over max_message_size ({} bytes); not loaded",
                self.config.policy.max_message_size
            ),
        };
        let why = "oversized: not loaded";
        let out = unloaded(tx, source, m.message_id, m.size, decision, why, now)?;
        self.tell_unread(tx, Reason::Oversized, m, now)?;
        Ok(out)
    }

    /// Record a message the server would not send, try after try (a damaged or unreadable
    /// file on its side): quarantined (`unfetchable`) with the server's answer as its detail,
    /// bytes not loaded; it stays on the server, and the mail after it goes on. Its sender,
    /// if an owner and the server sent its header, is told.
    pub fn process_unfetchable(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        m: &Unloaded<'_>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let decision = Decision::Quarantine {
            reason: Reason::Unfetchable,
            detail: format!("the server would not send it (it is still there): {error}"),
        };
        let why = "not fetched: the server would not send it";
        let out = unloaded(tx, source, m.message_id, m.size, decision, why, now)?;
        self.tell_unread(tx, Reason::Unfetchable, m, now)?;
        Ok(out)
    }

    /// Queue the owner's notice for a message that was not read, judged from its header.
    fn tell_unread(
        &self,
        tx: &Transaction<'_>,
        reason: Reason,
        m: &Unloaded<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(header) = m.header else {
            return Ok(());
        };
        // Only the header was fetched (at most 64 KiB): parsing it is bounded work.
        let Ok(msg) = parse_guarded(header) else {
            return Ok(());
        };
        crate::outbox::unread::notice(tx, &self.config, &self.templates, reason, &msg, m, now)
            .with_context(|| format!("Cannot queue the notice for message <{}>", m.message_id))?;
        Ok(())
    }

    /// Record a message the process died on `deaths` times while processing it: quarantined
    /// (`crashed`) with its bytes, never parsed again (the parser may be what kills it).
    pub fn process_crashed(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        raw: &[u8],
        deaths: u32,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let decision = Decision::Quarantine {
            reason: Reason::Crashed,
            detail: format!("the process died {deaths} times while processing it"),
        };
        let message_id = derived_message_id(raw);
        let unparsed = store::record::Unparsed {
            message_id: &message_id,
            size: raw.len(),
        };
        store::record(tx, source, Err(unparsed), Some(raw), &decision, now)
            .with_context(|| format!("Cannot quarantine message <{message_id}>"))?;
        Ok(Outcome {
            message_id,
            decision,
            task_id: None,
            parsed: Err("crashed: not parsed".into()),
            staged: Vec::new(),
        })
    }

    /// Record a message that could not be recorded, attempt after attempt, for a reason of
    /// its own (a `MessageFailed` of the recorder, which calls this): quarantined (`unparseable`) with the
    /// error as its detail and its bytes kept, so it is neither lost nor tried again in a loop.
    /// Its sender and subject are kept when that can be written; else only its Message-ID.
    pub fn process_unrecordable(
        &self,
        tx: &Transaction<'_>,
        source: &Source,
        raw: &[u8],
        parsed: Parsed,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let decision = Decision::Quarantine {
            reason: Reason::Unparseable,
            detail: format!("could not be recorded: {error}"),
        };
        let message_id = match &parsed {
            Ok(m) => m.message_id.clone(),
            Err(_) => derived_message_id(raw),
        };
        let bare = || {
            Err(store::record::Unparsed {
                message_id: &message_id,
                size: raw.len(),
            })
        };
        let failed =
            |e: anyhow::Error| e.context(format!("Cannot quarantine message <{message_id}>"));
        tx.execute_batch("SAVEPOINT unrecordable")?;
        let full = store::record(
            tx,
            source,
            parsed.as_ref().map_or_else(|_| bare(), Ok),
            Some(raw),
            &decision,
            now,
        );
        if let Err(e) = full {
            if store::is_database_failure(&e) || parsed.is_err() {
                return Err(failed(e));
            }
            // Its sender or subject may be what the database refuses.
            tx.execute_batch("ROLLBACK TO unrecordable")?;
            store::record(tx, source, bare(), Some(raw), &decision, now).map_err(failed)?;
        }
        tx.execute_batch("RELEASE unrecordable")?;
        Ok(Outcome {
            message_id,
            decision,
            task_id: None,
            parsed,
            staged: Vec::new(),
        })
    }

    /// Feed one message in its own transaction. `arrived` is when it reached a mailbox (for a
    /// file, its modification time), which `policy.ack_max_age` is measured from.
    pub fn ingest_one(
        &self,
        store: &mut Store,
        source: &Source,
        raw: &[u8],
        arrived: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let tx = store.transaction()?;
        let mut out = self.process(&tx, source, raw, arrived, now)?;
        store::attachments::Files::new(&self.config.daemon.state_dir)
            .settle(&std::mem::take(&mut out.staged))?;
        tx.commit().context("Cannot commit the message's record")?;
        Ok(out)
    }
}

/// Test builds only: abort the process, as a fatal bug would, while processing the message
/// whose Message-ID is `MUSAID_TEST_ABORT_ON` (the fault tests' poison mail).
#[cfg(debug_assertions)]
fn abort_if_told(parsed: &Parsed) {
    static POISON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let poison = POISON.get_or_init(|| std::env::var("MUSAID_TEST_ABORT_ON").ok());
    if let (Some(poison), Ok(m)) = (poison, parsed) {
        if m.message_id == *poison {
            std::process::abort();
        }
    }
}
