//! Versioned migrations. Each entry runs once, in order, inside one transaction;
//! `PRAGMA user_version` records how far the database is.

pub const MIGRATIONS: &[&str] = &[
    // 1: the foundation
    r#"
CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY,
    contract         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open','in_progress','waiting','done','cancelled')),
    category         TEXT NOT NULL,
    priority         TEXT NOT NULL CHECK (priority IN ('low','normal','high','urgent')),
    assignee         TEXT,
    requester        TEXT NOT NULL,
    original_from    TEXT,
    original_subject TEXT,
    original_date    TEXT,
    subject          TEXT NOT NULL,
    note             TEXT NOT NULL,
    rule             TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    original_key     TEXT,
    message_id       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    acked_at         INTEGER,
    due_at           INTEGER,
    done_at          INTEGER,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX tasks_contract_status ON tasks(contract, status);
CREATE INDEX tasks_created ON tasks(created_at);
CREATE INDEX tasks_original ON tasks(contract, original_key) WHERE original_key IS NOT NULL;

-- Every message fetched or fed, once. UID columns are NULL for files fed by `musaid ingest`.
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    mailbox      TEXT,
    uidvalidity  INTEGER,
    uid          INTEGER,
    message_id   TEXT NOT NULL,
    sender       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    size         INTEGER NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('create_task','update_task','duplicate','ignore','quarantine')),
    reason       TEXT,
    task_id      INTEGER REFERENCES tasks(id),
    source       TEXT,
    recorded_at  INTEGER NOT NULL,
    UNIQUE (mailbox, uidvalidity, uid)
) STRICT;
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_task ON messages(task_id) WHERE task_id IS NOT NULL;

-- Message-IDs that belong to a task's thread: the request, replies, and the mail we sent.
CREATE TABLE thread (
    message_id TEXT PRIMARY KEY,
    task_id    INTEGER NOT NULL REFERENCES tasks(id)
) STRICT, WITHOUT ROWID;

-- The audit log of every change, with its actor and the message that caused it.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    task_id     INTEGER NOT NULL REFERENCES tasks(id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    note        TEXT,
    minutes     INTEGER,
    message_id  TEXT
) STRICT;
CREATE INDEX events_task ON events(task_id);
CREATE INDEX events_at ON events(at);

-- Mail to send. Rows are written in the transaction of the decision that causes them.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER REFERENCES tasks(id),
    contract     TEXT,
    kind         TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    message_id   TEXT NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    body_text    TEXT NOT NULL,
    body_html    TEXT,
    in_reply_to  TEXT,
    headers      TEXT NOT NULL DEFAULT '{}',
    windowed     INTEGER NOT NULL DEFAULT 0,
    not_before   INTEGER NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed','dropped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox(status, not_before);

-- Messages that could not be parsed or trusted, with their bytes, so nothing is lost.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    message_row INTEGER NOT NULL REFERENCES messages(id),
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    raw         BLOB,
    at          INTEGER NOT NULL
) STRICT;

-- Per (mailbox, UIDVALIDITY): the last UID whose effects are committed.
CREATE TABLE sync_state (
    mailbox     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    synced_at   INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity)
) STRICT;

-- Small facts: last sync, last error, last summary per contract.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // 2: weekly summaries read periods by contract and time without scanning every row
    r#"
CREATE INDEX tasks_contract_created ON tasks(contract, created_at);
CREATE INDEX tasks_contract_acked ON tasks(contract, acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX events_kind_at ON events(kind, at);
CREATE INDEX outbox_kind_sent ON outbox(kind, sent_at) WHERE sent_at IS NOT NULL;
"#,
    // 3: `imap.after` still to apply to recorded messages (a crash between the commit and
    // the server-side change leaves a row here, and the next connection finishes the job)
    r#"
CREATE TABLE after_pending (
    mailbox     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
) STRICT, WITHOUT ROWID;
"#,
    // 4: the ack limit per sender looks up recent rows by kind and recipient
    r#"
CREATE INDEX outbox_kind_recipient ON outbox(kind, recipient, created_at);
"#,
    // 5: two indexes no query reads (summaries go through the contract and kind indexes of
    // migration 2), written for every message
    r#"
DROP INDEX IF EXISTS tasks_created;
DROP INDEX IF EXISTS events_at;
"#,
    // 6: a task's `created` event and, when no acknowledgement went out, its `ack_skipped`
    // event are facts of the task row, written with it (`tasks show` lists them as events):
    // two event rows and four index entries fewer per request. Received mail joins its
    // task's thread through its `messages` row; `thread` keeps the mail musaid sends.
    r#"
ALTER TABLE tasks ADD COLUMN ack_skipped TEXT;
UPDATE tasks SET ack_skipped = (SELECT e.note FROM events e
    WHERE e.task_id = tasks.id AND e.kind = 'ack_skipped' ORDER BY e.id LIMIT 1)
WHERE id IN (SELECT task_id FROM events WHERE kind = 'ack_skipped');
DELETE FROM events WHERE kind IN ('created', 'ack_skipped');
"#,
    // 7: `#merge` folds one task into another: the status `merged`, and `merged_into`, the task
    // it went into. SQLite cannot change a CHECK constraint, so the table is rebuilt, every
    // column and index kept (`migrate` turns foreign keys off around it and checks them all
    // before it commits; docs/design.md#merging-tasks).
    r#"
CREATE TABLE tasks_new (
    id               INTEGER PRIMARY KEY,
    contract         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open','in_progress','waiting','done','cancelled','merged')),
    category         TEXT NOT NULL,
    priority         TEXT NOT NULL CHECK (priority IN ('low','normal','high','urgent')),
    assignee         TEXT,
    requester        TEXT NOT NULL,
    original_from    TEXT,
    original_subject TEXT,
    original_date    TEXT,
    subject          TEXT NOT NULL,
    note             TEXT NOT NULL,
    rule             TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    original_key     TEXT,
    message_id       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    acked_at         INTEGER,
    due_at           INTEGER,
    done_at          INTEGER,
    updated_at       INTEGER NOT NULL,
    ack_skipped      TEXT,
    merged_into      INTEGER REFERENCES tasks(id)
) STRICT;
INSERT INTO tasks_new (id, contract, status, category, priority, assignee, requester,
    original_from, original_subject, original_date, subject, note, rule, tags, original_key,
    message_id, created_at, acked_at, due_at, done_at, updated_at, ack_skipped)
SELECT id, contract, status, category, priority, assignee, requester,
    original_from, original_subject, original_date, subject, note, rule, tags, original_key,
    message_id, created_at, acked_at, due_at, done_at, updated_at, ack_skipped FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_contract_status ON tasks(contract, status);
CREATE INDEX tasks_original ON tasks(contract, original_key) WHERE original_key IS NOT NULL;
CREATE INDEX tasks_contract_created ON tasks(contract, created_at);
CREATE INDEX tasks_contract_acked ON tasks(contract, acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX tasks_merged_into ON tasks(merged_into) WHERE merged_into IS NOT NULL;
"#,
    // 8: UIDs being processed, written before they are: a row left by a process that died is
    // narrowed down to the one message at the next start, and its deaths counted there
    // (three quarantine it as `crashed`).
    r#"
CREATE TABLE in_flight (
    id          INTEGER PRIMARY KEY,
    mailbox     TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    first_uid   INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    starts      INTEGER NOT NULL
) STRICT;
"#,
    // 9: the due-time notices sent (reminder, overdue, escalation), once per task,
    // kind and due time; a new due time re-arms them
    r#"
CREATE TABLE notices_sent (
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    kind    TEXT NOT NULL CHECK (kind IN ('reminder','overdue','escalation')),
    due_at  INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, kind, due_at)
) STRICT, WITHOUT ROWID;
"#,
    // 10: the waiting clock (when a task entered `waiting`; leaving it moves `due_at`), and
    // recurring tasks: the entry a task was made for, and one row per occurrence made, its
    // (entry, instant) unique so that no occurrence makes two tasks, whatever crashes
    r#"
ALTER TABLE tasks ADD COLUMN waiting_since INTEGER;
ALTER TABLE tasks ADD COLUMN recurring TEXT;
UPDATE tasks SET waiting_since = updated_at WHERE status = 'waiting';
CREATE TABLE recurring_runs (
    name    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    late    INTEGER NOT NULL CHECK (late IN (0, 1)),
    made_at INTEGER NOT NULL,
    PRIMARY KEY (name, at)
) STRICT, WITHOUT ROWID;
"#,
    // 11: why the sender holds a pending row back (`outbox::limit`; NULL when
    // nothing does), and the mail sent to one address in the last hour, looked up per row
    r#"
ALTER TABLE outbox ADD COLUMN held TEXT;
CREATE INDEX outbox_recipient_sent ON outbox(recipient, sent_at) WHERE sent_at IS NOT NULL;
"#,
    // 12: the files of a task's mail, stored under STATE/attachments/ by SHA-256 (written and
    // synced before the row that names them commits), numbered per task; and which files an
    // outgoing mail carries (`carried = 1`) or lists with the fetch command (`0`), read from
    // disk when it is sent. A purged file's row stays, with `purged_at`.
    r#"
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER NOT NULL REFERENCES tasks(id),
    idx          INTEGER NOT NULL,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    sender       TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner','va','stranger')),
    at           INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    purged_at    INTEGER,
    UNIQUE (task_id, idx)
) STRICT;
CREATE INDEX attachments_sha256 ON attachments(sha256);
CREATE TABLE outbox_attachments (
    outbox_id     INTEGER NOT NULL REFERENCES outbox(id),
    attachment_id INTEGER NOT NULL REFERENCES attachments(id),
    carried       INTEGER NOT NULL,
    PRIMARY KEY (outbox_id, attachment_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX outbox_attachments_attachment ON outbox_attachments(attachment_id);
"#,
];

#[cfg(test)]
mod merged_tests;

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::store::{Store, DB_FILE};
    use rusqlite::Connection;

    #[test]
    fn schema_6_keeps_every_event_tasks_show_listed() {
        let dir = tempfile::tempdir().unwrap();
        // A database written by the previous musaid: schema 5, the task's `created` and
        // `ack_skipped` events in `events`.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        for sql in MIGRATIONS.iter().take(5) {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 5;
             INSERT INTO tasks (id, contract, status, category, priority, requester, subject,
                 note, message_id, created_at, updated_at)
             VALUES (7, 'acme', 'open', 'general', 'normal', 'boss@acme.example', 'Invoices',
                 'Please pay them', 'req@acme.example', 100, 100);
             INSERT INTO events (task_id, at, actor, kind, to_status, message_id)
             VALUES (7, 100, 'boss@acme.example', 'created', 'open', 'req@acme.example');
             INSERT INTO events (task_id, at, actor, kind, note)
             VALUES (7, 100, 'musaid', 'ack_skipped', 'older than policy.ack_max_age');
             INSERT INTO events (task_id, at, actor, kind, note, message_id)
             VALUES (7, 200, 'sara@va.example', 'note', 'paid two', 'reply@va.example');
             INSERT INTO tasks (id, contract, status, category, priority, requester, subject,
                 note, message_id, created_at, updated_at)
             VALUES (8, 'acme', 'open', 'general', 'normal', 'boss@acme.example', 'Call',
                 '', 'call@acme.example', 300, 300);
             INSERT INTO events (task_id, at, actor, kind, to_status, message_id)
             VALUES (8, 300, 'boss@acme.example', 'created', 'open', 'call@acme.example');",
        )
        .unwrap();
        drop(conn);

        let store = Store::open(dir.path()).unwrap();
        let shown: Vec<_> = store
            .events(7)
            .unwrap()
            .into_iter()
            .map(|e| (e.at, e.actor, e.kind, e.to_status, e.note, e.message_id))
            .collect();
        let s = |v: &str| v.to_string();
        assert_eq!(
            shown,
            vec![
                (
                    100,
                    s("boss@acme.example"),
                    s("created"),
                    Some(s("open")),
                    Some(s("Please pay them")),
                    Some(s("req@acme.example"))
                ),
                (
                    100,
                    s("musaid"),
                    s("ack_skipped"),
                    None,
                    Some(s("older than policy.ack_max_age")),
                    None
                ),
                (
                    200,
                    s("sara@va.example"),
                    s("note"),
                    None,
                    Some(s("paid two")),
                    Some(s("reply@va.example"))
                ),
            ]
        );
        // A task whose ack went out: its created event only, without a note it never had.
        let other: Vec<_> = store
            .events(8)
            .unwrap()
            .into_iter()
            .map(|e| (e.at, e.kind, e.note))
            .collect();
        assert_eq!(other, vec![(300, "created".to_string(), None)]);
        let left: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            left, 1,
            "the two events now held by the task row are not kept twice"
        );
    }
}
