//! `#merge`: one task folded into another, in the transaction of the reply that asked for it
//! (docs/design.md#merging-tasks).

use super::record::{set_status, Event};
use crate::model::TaskStatus;
use anyhow::{Context as _, Result};
use rusqlite::{params, OptionalExtension, Transaction};

/// Event kinds that describe the merged task's own fields: they stay with it. Every other
/// event (notes, time entries, refused commands, failed mail) moves to the surviving task.
const OWN_EVENTS: &str = "'status', 'priority', 'due', 'assign'";

/// Who merged and why, as the events record it.
pub(crate) struct Merge<'a> {
    pub from: i64,
    pub into: i64,
    pub actor: &'a str,
    pub message_id: &'a str,
    pub at: i64,
}

/// Fold task `from` into `into`: `from`'s received mail and thread (so replies to it find
/// `into`), its notes, time entries and files become `into`'s; `from` gets the status `merged` and
/// `merged_into`; its acknowledgement and done notice, if still waiting, are dropped, so the
/// owner hears of the request once. False when `from` was merged already (the same `#merge`
/// twice in one reply).
pub(crate) fn fold(tx: &Transaction<'_>, m: &Merge<'_>) -> Result<bool> {
    let (from, into) = (m.from, m.into);
    let row: Option<(String, String, Option<String>, String)> = tx
        .query_row(
            "SELECT status, subject, original_subject, requester FROM tasks WHERE id = ?1",
            params![from],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (status, subject, original, requester) =
        row.with_context(|| format!("No task #{from} to merge"))?;
    let status: TaskStatus = status.parse().map_err(anyhow::Error::msg)?;
    if status == TaskStatus::Merged {
        return Ok(false);
    }
    let moved = |sql: &str| {
        tx.execute(sql, params![from, into])
            .with_context(|| format!("Cannot move task #{from}'s records to #{into}"))
    };
    moved("UPDATE messages SET task_id = ?2 WHERE task_id = ?1")?;
    moved("UPDATE thread SET task_id = ?2 WHERE task_id = ?1")?;
    moved(&format!(
        "UPDATE events SET task_id = ?2 WHERE task_id = ?1 AND kind NOT IN ({OWN_EVENTS})"
    ))?;
    // Its files too, numbered after the survivor's own.
    super::attachments::move_to(tx, from, into)
        .with_context(|| format!("Cannot move task #{from}'s files to #{into}"))?;
    // Tasks merged into `from` before point at the survivor too: one step always finds it.
    moved("UPDATE tasks SET merged_into = ?2 WHERE merged_into = ?1")?;
    set_status(tx, from, status, TaskStatus::Merged, m.at)?;
    tx.execute(
        "UPDATE tasks SET merged_into = ?2 WHERE id = ?1",
        params![from, into],
    )?;
    tx.execute(
        "UPDATE outbox SET status = 'dropped' \
         WHERE task_id = ?1 AND status = 'pending' AND kind IN ('ack', 'done')",
        params![from],
    )?;
    let into_note = format!("merged into #{into}");
    Event::new(from, m.at, m.actor, "status", m.message_id)
        .status(status, TaskStatus::Merged)
        .note(Some(&into_note))
        .record(tx)?;
    let title = crate::templates::one_line(original.as_deref().unwrap_or(&subject));
    let from_note = format!("#{from} merged into this task: {title} (from {requester})");
    Event::new(into, m.at, m.actor, "merged", m.message_id)
        .note(Some(&from_note))
        .record(tx)?;
    tx.execute(
        "UPDATE tasks SET updated_at = ?2 WHERE id = ?1",
        params![into, m.at],
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use crate::ingest::Pipeline;
    use crate::rules::RuleSet;
    use crate::store::{Source, Store};
    use chrono::Utc;

    fn mail(from: &str, id: &str, subject: &str, reply_to: Option<&str>, body: &str) -> Vec<u8> {
        let thread = reply_to
            .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
            .unwrap_or_default();
        format!(
            "From: <{from}>\r\nTo: <tasks@va.example>\r\nSubject: {subject}\r\n{thread}\
             Message-ID: <{id}>\r\nDate: Sun, 6 Dec 2026 08:00:00 +0300\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    }

    fn feed(p: &Pipeline, store: &mut Store, raw: &[u8]) -> Option<i64> {
        let source = Source::File(format!("{}.eml", raw.len()));
        p.ingest_one(store, &source, raw, None, Utc::now())
            .expect("ingest")
            .task_id
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.conn().query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    #[test]
    fn a_merged_task_hands_over_its_thread_notes_and_time_and_its_waiting_ack() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::test_desk(dir.path(), "");
        let p = Pipeline::new(cfg, RuleSet::default()).unwrap();
        let mut store = Store::open(&p.config.daemon.state_dir).unwrap();
        let (boss, sara) = ("boss@acme.example", "sara@va.example");
        let first = feed(
            &p,
            &mut store,
            &mail(boss, "a@acme.example", "Invoice 114", None, "Pay it."),
        );
        let second = feed(
            &p,
            &mut store,
            &mail(boss, "b@acme.example", "Invoice 114 again", None, "Pay!"),
        );
        assert_eq!((first, second), (Some(1), Some(2)));
        let on_first = mail(
            sara,
            "r1@va.example",
            "Re: Invoice",
            Some("a@acme.example"),
            "#wip\n#time 45m\nCalled them.",
        );
        assert_eq!(feed(&p, &mut store, &on_first), Some(1));
        let merge = mail(
            sara,
            "r2@va.example",
            "Re: Invoice",
            Some("b@acme.example"),
            "#merge 1\n#merge 1\n#time 30m",
        );
        assert_eq!(feed(&p, &mut store, &merge), Some(2));

        let t1 = store.task(1).unwrap().unwrap();
        assert_eq!((t1.status.as_str(), t1.merged_into), ("merged", Some(2)));
        assert!(t1.done_at.is_some());
        // Task 1 keeps its own history (its status changes); its note and time are task 2's.
        let kinds: Vec<String> = store
            .events(1)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["created", "status", "status"]);
        let e2 = store.events(2).unwrap();
        let notes: Vec<&str> = e2.iter().filter_map(|e| e.note.as_deref()).collect();
        assert!(notes.contains(&"Called them."), "{notes:?}");
        assert!(notes
            .iter()
            .any(|n| n.starts_with("#1 merged into this task: Invoice 114")));
        assert_eq!(
            count(
                &store,
                "SELECT sum(minutes) FROM events WHERE task_id = 2 AND kind = 'time'"
            ),
            75
        );
        assert_eq!(
            count(&store, "SELECT count(*) FROM events WHERE kind = 'merged'"),
            1,
            "merged once"
        );
        // The owner hears of the request once: task 1's acknowledgement, still waiting, is dropped.
        assert_eq!(count(&store, "SELECT count(*) FROM outbox WHERE task_id = 1 AND kind = 'ack' AND status = 'dropped'"), 1);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'pending'"
            ),
            1
        );

        // Replies to task 1's thread, or tagged [#1], now land on task 2.
        let late = mail(
            boss,
            "late@acme.example",
            "Re: Invoice 114",
            Some("a@acme.example"),
            "Any news?",
        );
        assert_eq!(feed(&p, &mut store, &late), Some(2));
        let tagged = mail(boss, "tag@acme.example", "[#1] again", None, "Hello?");
        assert_eq!(feed(&p, &mut store, &tagged), Some(2));
        let ours = crate::store::events_of(store.conn(), 1).unwrap().len();
        assert_eq!(ours, 3, "nothing more lands on the merged task");
    }

    /// A request from `from` carrying one file, `name`, base64.
    fn with_file(from: &str, id: &str, subject: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
        use base64::Engine as _;
        format!(
            "From: <{from}>\r\nTo: <tasks@va.example>\r\nSubject: {subject}\r\n\
             Message-ID: <{id}>\r\nDate: Sun, 6 Dec 2026 08:00:00 +0300\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
             Please.\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; \
             filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
        .into_bytes()
    }

    #[test]
    fn a_merged_task_hands_over_its_files_numbered_after_the_survivors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::test_desk(dir.path(), "");
        let p = Pipeline::new(cfg, RuleSet::default()).unwrap();
        let mut store = Store::open(&p.config.daemon.state_dir).unwrap();
        let boss = "boss@acme.example";
        let first = with_file(boss, "a@acme.example", "Invoice 114", "first.pdf", b"one");
        let second = with_file(
            boss,
            "b@acme.example",
            "Invoice 114 again",
            "second.pdf",
            b"two",
        );
        assert_eq!(feed(&p, &mut store, &first), Some(1));
        assert_eq!(feed(&p, &mut store, &second), Some(2));
        let merge = mail(
            "sara@va.example",
            "r@va.example",
            "Re: Invoice",
            Some("b@acme.example"),
            "#merge 1",
        );
        assert_eq!(feed(&p, &mut store, &merge), Some(2));
        let files: Vec<(i64, String)> = crate::store::attachments::of_task(store.conn(), 2)
            .unwrap()
            .into_iter()
            .map(|a| (a.index, a.filename))
            .collect();
        assert_eq!(
            files,
            [(1, "second.pdf".to_string()), (2, "first.pdf".to_string())]
        );
        assert!(crate::store::attachments::of_task(store.conn(), 1)
            .unwrap()
            .is_empty());
    }
}
