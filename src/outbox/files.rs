//! The files an outgoing mail takes: carried byte for byte while they fit under
//! `policy.attach_max`, else listed with the command that fetches them. Which is which is
//! decided when the mail is queued (and recorded in `outbox_attachments`); the bytes are read
//! from `STATE/attachments/` when it is sent.

use crate::mail::attachments::{fit, human_size};
use crate::store::attachments::{self as stored, AttachmentRow};
use anyhow::{Context as _, Result};
use rusqlite::{params, Transaction};
use serde_json::{json, Value};

/// The files of one mail, in order, and which of them it carries.
#[derive(Debug, Clone, Default)]
pub(super) struct MailFiles {
    rows: Vec<AttachmentRow>,
    carried: Vec<bool>,
    cap: u64,
}

impl MailFiles {
    /// Carry `rows` while they fit under `cap` bytes in all; list the rest.
    pub(super) fn choose(rows: Vec<AttachmentRow>, cap: u64) -> MailFiles {
        let sizes: Vec<u64> = rows
            .iter()
            .map(|r| u64::try_from(r.size).unwrap_or(u64::MAX))
            .collect();
        MailFiles {
            carried: fit(&sizes, cap),
            rows,
            cap,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// What the templates show: `files` (`index`, `name`, `size`, `carried`, and for a file
    /// not carried the `fetch` command) and `attach_max`, the cap as people write it.
    pub(super) fn context(&self) -> Value {
        let files: Vec<Value> = self
            .rows
            .iter()
            .zip(&self.carried)
            .map(|(r, &carried)| {
                json!({
                    "index": r.index,
                    "name": r.filename,
                    "size": human_size(u64::try_from(r.size).unwrap_or(0)),
                    "carried": carried,
                    "fetch": (!carried).then(|| format!("musaid tasks attachment {} {}", r.task_id, r.index)),
                })
            })
            .collect();
        json!({"files": files, "attach_max": human_size(self.cap)})
    }

    /// Record them for the mail queued as `message_id`.
    pub(super) fn link(&self, tx: &Transaction<'_>, message_id: &str) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let outbox_id: i64 = tx
            .prepare_cached("SELECT id FROM outbox WHERE message_id = ?1")?
            .query_row(params![message_id], |r| r.get(0))
            .with_context(|| format!("Cannot find the queued mail {message_id}"))?;
        let links: Vec<(i64, bool)> = self
            .rows
            .iter()
            .zip(&self.carried)
            .map(|(r, &c)| (r.id, c))
            .collect();
        stored::link(tx, outbox_id, &links)
    }
}

/// `base` with the files' template values added.
pub(super) fn with_files(mut base: Value, files: &MailFiles) -> Value {
    if let (Some(o), Value::Object(extra)) = (base.as_object_mut(), files.context()) {
        o.extend(extra);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: i64, size: i64) -> AttachmentRow {
        AttachmentRow {
            id: index + 100,
            task_id: 12,
            index,
            filename: format!("f{index}.pdf"),
            content_type: "application/pdf".into(),
            size,
            sha256: String::new(),
            sender: "boss@acme.example".into(),
            role: "owner".into(),
            at: 0,
            message_id: "m@x".into(),
            purged_at: None,
        }
    }

    #[test]
    fn what_does_not_fit_is_listed_with_the_command_that_fetches_it() {
        let files = MailFiles::choose(vec![row(1, 200_000), row(3, 30_000_000)], 10_000_000);
        let v = files.context();
        assert_eq!(v["attach_max"], "10 MB");
        assert_eq!(v["files"][0]["carried"], true);
        assert_eq!(v["files"][0]["fetch"], Value::Null);
        assert_eq!(v["files"][0]["size"], "200 KB");
        assert_eq!(v["files"][1]["carried"], false);
        assert_eq!(v["files"][1]["name"], "f3.pdf");
        assert_eq!(v["files"][1]["fetch"], "musaid tasks attachment 12 3");
        let merged = with_files(json!({"note": "x"}), &files);
        assert_eq!(merged["note"], "x");
        assert_eq!(merged["files"].as_array().map(Vec::len), Some(2));
    }
}
