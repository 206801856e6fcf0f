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
];
