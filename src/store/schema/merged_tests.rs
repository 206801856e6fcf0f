//! The migration that rebuilds `tasks` for `merged`, on a database of the schema before it.

use super::MIGRATIONS;
use crate::store::{Store, DB_FILE};
use rusqlite::Connection;

/// The migration that rebuilds `tasks` (found by its text, wherever it stands in the list).
fn rebuild() -> usize {
    MIGRATIONS
        .iter()
        .position(|m| m.contains("CREATE TABLE tasks_new"))
        .expect("the tasks rebuild is a migration")
}

fn strings(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Every value of every row of `table`, as text, in rowid order.
fn dump(conn: &Connection, table: &str, columns: &[String]) -> Vec<String> {
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY rowid",
        columns
            .iter()
            .map(|c| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || '|' || ")
    );
    strings(conn, &sql)
}

#[test]
fn the_rebuild_keeps_every_row_column_index_and_foreign_key() {
    let dir = tempfile::tempdir().unwrap();
    let before = rebuild();
    // A database written by the musaid before it, with a task every other table points at.
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    for sql in MIGRATIONS.iter().take(before) {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", before as i64)
        .unwrap();
    conn.execute_batch(
        "INSERT INTO tasks (id, contract, status, category, priority, assignee, requester,
             original_from, original_subject, subject, note, tags, original_key, message_id,
             created_at, acked_at, due_at, done_at, updated_at, ack_skipped)
         VALUES (7, 'acme', 'done', 'bookkeeping', 'high', 'sara@va.example', 'boss@acme.example',
             'billing@supplier.example', 'فاتورة 114', 'Fwd: فاتورة 114', 'Please pay',
             '[\"finance\"]', 'k7', 'req7@acme.example', 100, 110, 500, 300, 300, NULL),
                (8, 'acme', 'open', 'general', 'normal', NULL, 'boss@acme.example', NULL, NULL,
             'Call', '', '[]', NULL, 'req8@acme.example', 200, NULL, NULL, NULL, 200,
             'older than policy.ack_max_age');
         INSERT INTO messages (mailbox, uidvalidity, uid, message_id, sender, subject, size,
             decision, task_id, recorded_at)
         VALUES ('INBOX', 1, 1, 'req7@acme.example', 'boss@acme.example', 'Fwd', 10,
             'create_task', 7, 100);
         INSERT INTO thread (message_id, task_id) VALUES ('musaid.7.ack.1@va.example', 7);
         INSERT INTO events (task_id, at, actor, kind, minutes) VALUES (7, 150, 'sara@va.example', 'time', 45);
         INSERT INTO outbox (task_id, contract, kind, recipient, message_id, subject, body_text,
             not_before, created_at)
         VALUES (7, 'acme', 'ack', 'boss@acme.example', 'musaid.7.ack.1@va.example', 's', 't', 100, 100);",
    )
    .unwrap();
    let columns = strings(&conn, "SELECT name FROM pragma_table_info('tasks')");
    let indexes = strings(
        &conn,
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL",
    );
    let rows = dump(&conn, "tasks", &columns);
    drop(conn);

    let store = Store::open(dir.path()).unwrap();
    let conn = store.conn();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let now = strings(conn, "SELECT name FROM pragma_table_info('tasks')");
    for c in &columns {
        assert!(
            now.contains(c),
            "column {c} was lost; the rebuild must list it"
        );
    }
    assert!(now.contains(&"merged_into".to_string()));
    assert_eq!(dump(conn, "tasks", &columns), rows, "every value is kept");
    let after = strings(
        conn,
        "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL",
    );
    for i in &indexes {
        assert!(after.contains(i), "index lost: {i}");
    }
    let strict: i64 = conn
        .query_row("SELECT strict FROM pragma_table_list('tasks')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(strict, 1, "still STRICT");
    let orphans: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 0);
    // The other tables still point at `tasks`, and foreign keys are enforced again.
    for table in ["messages", "thread", "events", "outbox"] {
        let parents = strings(
            conn,
            &format!("SELECT \"table\" FROM pragma_foreign_key_list('{table}')"),
        );
        assert!(parents.iter().any(|p| p == "tasks"), "{table}: {parents:?}");
    }
    let enforced: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(enforced, 1);
    assert!(conn
        .execute(
            "INSERT INTO thread (message_id, task_id) VALUES ('x@y', 999)",
            []
        )
        .is_err());
    // The new status and column work; the CHECK still refuses what is no status.
    conn.execute(
        "UPDATE tasks SET status = 'merged', merged_into = 8 WHERE id = 7",
        [],
    )
    .unwrap();
    assert!(conn
        .execute("UPDATE tasks SET status = 'bogus' WHERE id = 8", [])
        .is_err());
    assert!(conn
        .execute("UPDATE tasks SET merged_into = 999 WHERE id = 8", [])
        .is_err());
}
