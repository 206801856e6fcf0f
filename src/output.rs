//! How the command line shows things: readable tables, and JSON with the field names
//! documented in docs/commands.md.

use crate::config::Config;
use crate::decide::{self, Decision};
use crate::ingest;
use crate::store::attachments::AttachmentRow;
use crate::store::{EventRow, TaskRow};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

pub mod csv;

/// A Unix time as RFC 3339 with the zone's offset.
pub fn rfc3339(ts: i64, tz: Tz) -> Option<String> {
    let t: DateTime<Utc> = Utc.timestamp_opt(ts, 0).single()?;
    Some(t.with_timezone(&tz).to_rfc3339())
}

/// A Unix time for a table: `2026-11-27 14:05` in the zone.
pub fn short_time(ts: i64, tz: Tz) -> String {
    Utc.timestamp_opt(ts, 0)
        .single()
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A task in `--json` (fields in docs/commands.md).
#[derive(Debug, Serialize)]
pub struct TaskJson<'a> {
    pub id: i64,
    pub contract: &'a str,
    pub status: &'a str,
    pub category: &'a str,
    pub priority: &'a str,
    pub assignee: Option<&'a str>,
    pub requester: &'a str,
    pub original_from: Option<&'a str>,
    pub original_subject: Option<&'a str>,
    pub subject: &'a str,
    pub tags: &'a [String],
    pub note: &'a str,
    pub created_at: Option<String>,
    pub acked_at: Option<String>,
    pub due_at: Option<String>,
    pub done_at: Option<String>,
    pub message_id: &'a str,
    /// For a `merged` task: the task it was folded into; else null.
    pub merged_into: Option<i64>,
    /// When it entered `waiting`, while it is there.
    pub waiting_since: Option<String>,
    /// The `[[recurring]]` entry that made it.
    pub recurring: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventJson<'a>>>,
    /// `tasks show` only: the task's files ([`attachments_json`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentJson<'a>>>,
}

/// One file of a task in `tasks show --json` (fields in docs/commands.md).
#[derive(Debug, Serialize)]
pub struct AttachmentJson<'a> {
    pub index: i64,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub from: &'a str,
    pub at: Option<String>,
    /// When `attachments_keep` purged the file, or null.
    pub purged_at: Option<String>,
}

/// A task's files for `--json`.
pub fn attachments_json(rows: &[AttachmentRow], tz: Tz) -> Vec<AttachmentJson<'_>> {
    rows.iter()
        .map(|a| AttachmentJson {
            index: a.index,
            filename: &a.filename,
            content_type: &a.content_type,
            size: a.size,
            sha256: &a.sha256,
            from: &a.sender,
            at: rfc3339(a.at, tz),
            purged_at: a.purged_at.and_then(|p| rfc3339(p, tz)),
        })
        .collect()
}

/// A task's files for reading, after its events (`tasks show`); nothing when it has none.
pub fn attachments_text(task: i64, rows: &[AttachmentRow], tz: Tz) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["#", "NAME", "TYPE", "SIZE", "FROM", "AT"]);
    for a in rows {
        let size = crate::mail::attachments::human_size(u64::try_from(a.size).unwrap_or(0));
        t.row(vec![
            a.index.to_string(),
            a.filename.clone(),
            a.content_type.clone(),
            match a.purged_at {
                Some(_) => format!("{size}, purged"),
                None => size,
            },
            a.sender.clone(),
            short_time(a.at, tz),
        ]);
    }
    format!(
        "\nAttachments (musaid tasks attachment {task} INDEX [--out FILE]):\n{}",
        t.render()
    )
}

#[derive(Debug, Serialize)]
pub struct EventJson<'a> {
    pub at: Option<String>,
    pub actor: &'a str,
    pub kind: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: Option<&'a str>,
    pub note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i32>,
}

pub fn task_json<'a>(t: &'a TaskRow, tz: Tz, events: Option<&'a [EventRow]>) -> TaskJson<'a> {
    TaskJson {
        id: t.id,
        contract: &t.contract,
        status: t.status.as_str(),
        category: &t.category,
        priority: t.priority.as_str(),
        assignee: t.assignee.as_deref(),
        requester: &t.requester,
        original_from: t.original_from.as_deref(),
        original_subject: t.original_subject.as_deref(),
        subject: &t.subject,
        tags: &t.tags,
        note: &t.note,
        created_at: rfc3339(t.created_at, tz),
        acked_at: t.acked_at.and_then(|x| rfc3339(x, tz)),
        due_at: t.due_at.and_then(|x| rfc3339(x, tz)),
        done_at: t.done_at.and_then(|x| rfc3339(x, tz)),
        message_id: &t.message_id,
        merged_into: t.merged_into,
        waiting_since: t.waiting_since.and_then(|x| rfc3339(x, tz)),
        recurring: t.recurring.as_deref(),
        events: events.map(|evs| {
            evs.iter()
                .map(|e| EventJson {
                    at: rfc3339(e.at, tz),
                    actor: &e.actor,
                    kind: &e.kind,
                    from_status: e.from_status.as_deref(),
                    to_status: e.to_status.as_deref(),
                    note: e.note.as_deref(),
                    minutes: e.minutes,
                })
                .collect()
        }),
        attachments: None,
    }
}

/// A task with its events, for reading (`tasks show`).
pub fn task_text(t: &TaskRow, events: &[EventRow], tz: Tz) -> String {
    let mut s = String::new();
    let opt = |o: Option<i64>| o.map(|x| short_time(x, tz)).unwrap_or_else(|| "—".into());
    let field =
        |s: &mut String, k: &str, v: &str| s.push_str(&format!("{k:<17}{}\n", printable(v, false)));
    field(&mut s, "Task", &format!("#{} [{}]", t.id, t.status));
    if let Some(into) = t.merged_into {
        field(&mut s, "Merged into", &format!("#{into}"));
    }
    field(&mut s, "Subject", &t.subject);
    field(&mut s, "Contract", &t.contract);
    field(&mut s, "Category", &t.category);
    field(&mut s, "Priority", t.priority.as_str());
    field(&mut s, "Assignee", t.assignee.as_deref().unwrap_or("—"));
    field(&mut s, "Requester", &t.requester);
    if let Some(f) = &t.original_from {
        field(&mut s, "Original from", f);
    }
    if let Some(f) = &t.original_subject {
        field(&mut s, "Original subject", f);
    }
    if !t.tags.is_empty() {
        field(&mut s, "Tags", &t.tags.join(", "));
    }
    field(&mut s, "Created", &opt(Some(t.created_at)));
    field(&mut s, "Acknowledged", &opt(t.acked_at));
    field(&mut s, "Due", &opt(t.due_at));
    field(&mut s, "Done", &opt(t.done_at));
    if t.waiting_since.is_some() {
        field(&mut s, "Waiting since", &opt(t.waiting_since));
    }
    if let Some(r) = &t.recurring {
        field(&mut s, "Recurring", r);
    }
    field(&mut s, "Message-ID", &t.message_id);
    if !t.note.is_empty() {
        s.push_str("\nNote:\n");
        for l in printable(&t.note, true).lines() {
            s.push_str(&format!("  {l}\n"));
        }
    }
    s.push_str("\nEvents:\n");
    let mut table = Table::new(&["AT", "ACTOR", "EVENT", "DETAIL"]);
    for e in events {
        let detail = match (&e.from_status, &e.to_status, e.minutes) {
            (_, _, Some(m)) if m < 0 => {
                format!(
                    "{} taken off",
                    crate::retainer::hours_minutes(-i64::from(m))
                )
            }
            (_, _, Some(m)) => format!("{} worked", crate::retainer::hours_minutes(i64::from(m))),
            (Some(f), Some(to), _) => format!(
                "{f} → {to}{}",
                e.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            (None, Some(to), _) => format!(
                "{to}{}",
                e.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            _ => e.note.clone().unwrap_or_default(),
        };
        table.row(vec![
            short_time(e.at, tz),
            e.actor.clone(),
            e.kind.clone(),
            detail,
        ]);
    }
    s.push_str(&table.render());
    s
}

/// One object of `rules test --json` and `ingest --json` (fields in docs/commands.md).
#[derive(Debug, Serialize)]
pub struct DecisionJson {
    pub file: String,
    pub message_id: String,
    pub from: Option<String>,
    pub original_from: Option<String>,
    pub original_subject: Option<String>,
    pub subject: Option<String>,
    pub contract: Option<String>,
    pub decision: &'static str,
    pub reason: Option<&'static str>,
    pub rule: Option<String>,
    pub category: Option<String>,
    pub priority: Option<&'static str>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<i64>,
}

/// What `rules test` and `ingest` show of one message and the decision about it.
pub fn decision_json(
    file: String,
    parsed: &ingest::Parsed,
    raw: &[u8],
    decision: &Decision,
    config: &Config,
) -> DecisionJson {
    let msg = parsed.as_ref().ok();
    let from = msg.map(|m| m.from_email()).filter(|f| !f.is_empty());
    let mut j = DecisionJson {
        file,
        message_id: msg
            .map(|m| m.message_id.clone())
            .unwrap_or_else(|| ingest::derived_message_id(raw)),
        contract: from
            .as_deref()
            .and_then(|f| decide::owner_contract(config, f))
            .map(|c| c.name.clone()),
        from,
        original_from: None,
        original_subject: msg
            .and_then(|m| m.forward.as_ref())
            .and_then(|f| f.original_subject.clone()),
        subject: msg.map(|m| m.subject.clone()),
        decision: decision.kind(),
        reason: decision.reason().map(|r| r.as_str()),
        rule: None,
        category: None,
        priority: None,
        assignee: None,
        tags: Vec::new(),
        commands: Vec::new(),
        task: None,
    };
    match decision {
        Decision::CreateTask(t) => {
            j.contract = Some(t.contract.clone());
            j.original_from = t.original_from.clone();
            j.rule = t.classification.rule.clone();
            j.category = Some(t.classification.category.clone());
            j.priority = Some(t.classification.priority.as_str());
            j.assignee = t.assignee.clone();
            j.tags = t.classification.tags.clone();
        }
        Decision::UpdateTask(u) => {
            j.contract = Some(u.task.contract.clone());
            j.task = Some(u.task.id);
            j.commands = u.commands.iter().map(|c| c.command.to_string()).collect();
        }
        Decision::UpdateTasks(us) => {
            j.task = us.first().map(|u| u.task.id);
            j.contract = us.first().map(|u| u.task.contract.clone());
            j.commands = us
                .iter()
                .flat_map(|u| {
                    u.commands
                        .iter()
                        .map(move |c| format!("[#{}] {}", u.task.id, c.command))
                })
                .collect();
        }
        Decision::Duplicate { task } => j.task = *task,
        Decision::Answer(q) => {
            j.contract = Some(q.contract.clone());
            j.commands = q.commands.iter().map(|c| c.command.to_string()).collect();
        }
        _ => {}
    }
    j
}

/// A plain-text table. Cells holding right-to-left text are wrapped in Unicode isolates
/// (FSI … PDI) so a terminal's bidi algorithm cannot reorder the columns around them.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Longest cell, in terminal columns, before it is cut with an ellipsis.
const MAX_CELL: usize = 48;

fn has_rtl(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
    })
}

/// Characters that steer a terminal or the text's direction rather than show: C0 and C1
/// controls (ESC starts colour and cursor sequences; CR overwrites a line) and the Unicode
/// bidirectional embeddings, overrides and isolates.
fn steers(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Mail-derived text for the terminal: control characters and direction overrides removed,
/// except that a tab becomes a space and, with `newlines`, line breaks stay.
pub fn printable(s: &str, newlines: bool) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' if newlines => Some('\n'),
            '\t' | '\n' => Some(' '),
            c if steers(c) => None,
            c => Some(c),
        })
        .collect()
}

/// One line, control characters removed (line breaks and tabs become spaces), cut to `max`
/// columns with an ellipsis.
fn clean_cell(s: &str, max: usize) -> String {
    let one_line = printable(s, false);
    let one_line = one_line.trim();
    if one_line.width() <= max {
        return one_line.to_string();
    }
    let mut out = String::new();
    let mut width = 0;
    for c in one_line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if width + w >= max {
            break;
        }
        out.push(c);
        width += w;
    }
    out.push('…');
    out
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|c| clean_cell(c, MAX_CELL)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.width());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::with_capacity(cols);
            for (i, c) in cells.iter().enumerate().take(cols) {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = " ".repeat(w.saturating_sub(c.width()));
                let last = i + 1 == cols;
                let cell = if has_rtl(c) {
                    format!("\u{2068}{c}\u{2069}")
                } else {
                    c.clone()
                };
                parts.push(if last { cell } else { format!("{cell}{pad}") });
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_cells_are_isolated_and_columns_line_up() {
        let mut t = Table::new(&["ID", "SUBJECT", "STATUS"]);
        t.row(vec!["1".into(), "فاتورة شهر نوفمبر".into(), "open".into()]);
        t.row(vec!["2".into(), "Invoice".into(), "done".into()]);
        let out = t.render();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].contains("\u{2068}فاتورة شهر نوفمبر\u{2069}"));
        // The STATUS column starts at the same display column on every line.
        let col = |l: &str| {
            let idx = l.rfind("  ").unwrap_or(0);
            l[..idx].replace(['\u{2068}', '\u{2069}'], "").width()
        };
        assert_eq!(col(lines[1]), col(lines[2]));
    }

    #[test]
    fn escape_sequences_and_carriage_returns_never_reach_the_terminal() {
        let hostile = "Pay \x1b[31mnow\x1b[0m\rFAKE\u{202E}txt.exe\x07\tok";
        let mut t = Table::new(&["ID", "SUBJECT"]);
        t.row(vec!["1".into(), hostile.into()]);
        let out = t.render();
        assert!(out.contains("Pay [31mnow[0mFAKEtxt.exe ok"), "{out:?}");
        assert!(!out.chars().any(|c| steers(c) && c != '\n'), "{out:?}");
        assert_eq!(
            printable("a\x1b]0;title\x07\nb\r\n", true),
            "a]0;title\nb\n"
        );
        assert_eq!(printable("a\nb", false), "a b");
    }

    #[test]
    fn long_and_multiline_cells_are_cut_to_one_line() {
        let long = "word ".repeat(40);
        let c = clean_cell(&format!("first\nsecond {long}"), 20);
        assert!(!c.contains('\n'));
        assert!(c.width() <= 20, "{c}");
        assert!(c.ends_with('…'));
    }
}
