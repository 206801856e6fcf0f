//! The texts of the mail musaid sends: `templates/KIND.LANG.j2` (minijinja), each with a
//! `subject`, a `text` and an `html` block. The defaults are built in; a file of the same name
//! in `daemon.templates_dir` replaces one.

use crate::model::Language;
use anyhow::{Context as _, Result};
use minijinja::Environment;
use serde::Serialize;
use std::path::Path;

const BUILT_IN: &[(&str, &str)] = &[
    ("ack.en.j2", include_str!("../templates/ack.en.j2")),
    ("ack.ar.j2", include_str!("../templates/ack.ar.j2")),
    ("notify.en.j2", include_str!("../templates/notify.en.j2")),
    ("notify.ar.j2", include_str!("../templates/notify.ar.j2")),
    ("done.en.j2", include_str!("../templates/done.en.j2")),
    ("done.ar.j2", include_str!("../templates/done.ar.j2")),
    (
        "followup.en.j2",
        include_str!("../templates/followup.en.j2"),
    ),
    (
        "followup.ar.j2",
        include_str!("../templates/followup.ar.j2"),
    ),
    ("error.en.j2", include_str!("../templates/error.en.j2")),
    ("error.ar.j2", include_str!("../templates/error.ar.j2")),
    ("unread.en.j2", include_str!("../templates/unread.en.j2")),
    ("unread.ar.j2", include_str!("../templates/unread.ar.j2")),
    ("summary.en.j2", include_str!("../templates/summary.en.j2")),
    ("summary.ar.j2", include_str!("../templates/summary.ar.j2")),
    ("agenda.en.j2", include_str!("../templates/agenda.en.j2")),
    ("agenda.ar.j2", include_str!("../templates/agenda.ar.j2")),
    (
        "reminder.en.j2",
        include_str!("../templates/reminder.en.j2"),
    ),
    (
        "reminder.ar.j2",
        include_str!("../templates/reminder.ar.j2"),
    ),
    ("overdue.en.j2", include_str!("../templates/overdue.en.j2")),
    ("overdue.ar.j2", include_str!("../templates/overdue.ar.j2")),
    (
        "escalation.en.j2",
        include_str!("../templates/escalation.en.j2"),
    ),
    (
        "escalation.ar.j2",
        include_str!("../templates/escalation.ar.j2"),
    ),
    ("status.en.j2", include_str!("../templates/status.en.j2")),
    ("status.ar.j2", include_str!("../templates/status.ar.j2")),
    (
        "hours_alert.en.j2",
        include_str!("../templates/hours_alert.en.j2"),
    ),
    (
        "hours_alert.ar.j2",
        include_str!("../templates/hours_alert.ar.j2"),
    ),
];

/// A rendered mail: one-line subject, plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by a file of the same name in `dir` if present.
    pub fn load(dir: Option<&Path>) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, source) in BUILT_IN {
            let custom = dir.map(|d| d.join(name)).filter(|p| p.is_file());
            let text = match &custom {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("Cannot read template {}", p.display()))?,
                None => (*source).to_string(),
            };
            env.add_template_owned(name.to_string(), text)
                .with_context(|| match &custom {
                    Some(p) => format!("Template {} does not compile", p.display()),
                    None => format!("Built-in template {name} does not compile"),
                })?;
        }
        Ok(Templates { env })
    }

    /// Render `KIND.LANG.j2` with `ctx`.
    pub fn render<S: Serialize>(&self, kind: &str, lang: Language, ctx: S) -> Result<Rendered> {
        let name = format!("{kind}.{}.j2", lang.as_str());
        let tmpl = self
            .env
            .get_template(&name)
            .with_context(|| format!("No template {name}"))?;
        // Evaluated with a discarding output, the top level runs no block, so each block below
        // renders once; `render_captured` would render all three once more first (about half
        // the cost of a new task's mail in a backlog, docs/performance.md).
        #[allow(deprecated)]
        let mut state = tmpl
            .eval_to_state(ctx)
            .with_context(|| format!("Cannot render {name}"))?;
        let mut block = |b: &str| {
            state
                .render_block(b)
                .with_context(|| format!("Cannot render block {b} of {name}"))
        };
        let subject = one_line(&block("subject")?);
        let text = block("text")?.trim().to_string() + "\n";
        let html = block("html")?.trim().to_string() + "\n";
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

/// Collapse every control character (CR, LF, tabs, …) into single spaces: nothing that came
/// from a mail can start a new header line.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(title: &str) -> serde_json::Value {
        json!({
            "task": {"id": 7, "title": title, "category": "bookkeeping", "due": "2026-12-01 17:00",
                     "assignee": "sara@va.example", "contract": "acme", "requester": "boss@acme.example",
                     "priority": "high", "note": "<b>please</b>", "body": "x"},
            "desk": "Sara's desk",
        })
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        let t = Templates::load(None).expect("built-ins compile");
        for kind in [
            "ack",
            "notify",
            "done",
            "followup",
            "error",
            "reminder",
            "overdue",
            "escalation",
        ] {
            for lang in [Language::En, Language::Ar] {
                let r = t.render(kind, lang, ctx("Invoice")).expect("renders");
                assert!(r.subject.contains("[#7]"), "{kind}.{lang:?}: {}", r.subject);
                assert!(r.html.contains("<html"), "{kind}.{lang:?}");
                assert!(!r.text.trim().is_empty());
                if lang == Language::Ar {
                    assert!(
                        r.html.contains("dir=\"rtl\""),
                        "{kind}: Arabic HTML is right-to-left"
                    );
                }
            }
        }
    }

    #[test]
    fn an_unread_message_is_explained_in_both_languages() {
        let t = Templates::load(None).expect("built-ins compile");
        for (reason, en, ar) in [
            ("oversized", "larger than the 25 MB", "أكبر من 25 MB"),
            ("unfetchable", "would not hand it over", "لم يسلّمها"),
        ] {
            let c = json!({"reason": reason, "subject": "<b>Scans</b>", "size": "31 MB",
                           "limit": "25 MB", "received": "Sun 2026-12-06 09:00 +03",
                           "desk": "Sara's desk", "contract": "acme"});
            let r = t.render("unread", Language::En, &c).expect("renders");
            assert!(
                r.text.contains(en) && r.html.contains(en),
                "{reason}: {}",
                r.text
            );
            assert!(r.subject.ends_with("<b>Scans</b>"), "{}", r.subject);
            assert!(r.html.contains("&lt;b&gt;Scans"), "escaped in HTML");
            let r = t.render("unread", Language::Ar, &c).expect("renders");
            assert!(r.text.contains(ar), "{reason}: {}", r.text);
            assert!(r.html.contains("dir=\"rtl\""));
        }
    }

    #[test]
    fn files_are_listed_attached_or_with_the_command_that_fetches_them() {
        let t = Templates::load(None).expect("built-ins compile");
        let mut c = ctx("Invoice");
        if let Some(o) = c.as_object_mut() {
            o.insert("note".into(), json!("Here it is."));
            o.insert("actor".into(), json!("sara@va.example"));
            o.insert("attach_max".into(), json!("10 MB"));
            o.insert(
                "files".into(),
                json!([
                    {"index": 1, "name": "<b>invoice</b>.pdf", "size": "210 KB", "carried": true, "fetch": null},
                    {"index": 3, "name": "scan.tif", "size": "30 MB", "carried": false,
                     "fetch": "musaid tasks attachment 7 3"},
                ]),
            );
        }
        for kind in ["notify", "done", "followup"] {
            for lang in [Language::En, Language::Ar] {
                let r = t.render(kind, lang, &c).expect("renders");
                for part in [&r.text, &r.html] {
                    assert!(
                        part.contains("musaid tasks attachment 7 3"),
                        "{kind}.{lang:?}"
                    );
                    assert!(
                        part.contains("30 MB") && part.contains("10 MB"),
                        "{kind}.{lang:?}"
                    );
                }
                assert!(
                    r.text.contains("<b>invoice</b>.pdf (210 KB)"),
                    "{kind}.{lang:?}"
                );
                assert!(r.html.contains("&lt;b&gt;invoice"), "{kind}.{lang:?}");
                assert!(!r.html.contains("<b>invoice"), "{kind}.{lang:?}");
                // Without files, no files section.
                let plain = t.render(kind, lang, ctx("Invoice")).expect("renders");
                assert!(
                    !plain.text.contains("musaid tasks attachment"),
                    "{kind}.{lang:?}"
                );
            }
        }
    }

    #[test]
    fn the_agenda_lists_each_part_in_both_languages() {
        let t = Templates::load(None).expect("built-ins compile");
        let line = json!({"id": 12, "title": "<Invoice>", "contract": "acme", "due": "Sun 2026-12-06 10:00 +03",
                          "late": "2h 0m", "since": "Tue 2026-12-01 09:00 +03", "chase": true});
        let ctx = json!({"day": "Sun 2026-12-06", "total": 4, "overdue": [line], "due_today": [line],
                         "new": [line], "waiting": [line], "open_count": 3,
                         "retainers": [{"contract": "acme", "bought": "20h 00m", "used": "12h 30m", "left": "7.5", "period": "2026-12"}]});
        for lang in [Language::En, Language::Ar] {
            let r = t.render("agenda", lang, &ctx).expect("renders");
            assert!(r.subject.contains("2026-12-06"), "{lang:?}: {}", r.subject);
            assert!(
                !r.subject.contains("[#"),
                "a reply to the agenda names no one task"
            );
            assert_eq!(r.text.matches("[#12]").count(), 5, "{lang:?}: {}", r.text);
            assert!(r.text.contains("2h 0m") && r.text.contains("7.5"));
            assert!(r.html.contains("&lt;Invoice&gt;"));
            let overdue = r.text.find("[#12]").unwrap_or(usize::MAX);
            assert!(
                r.text.find("2h 0m").is_some_and(|l| l > overdue),
                "overdue comes first"
            );
            if lang == Language::Ar {
                assert!(r.html.contains("dir=\"rtl\"") && r.text.contains("تابِع"));
            } else {
                assert!(r.text.contains("CHASE") && r.text.contains("3 other open tasks"));
            }
        }
    }

    #[test]
    fn a_recurring_tasks_notification_and_a_reopening_follow_up_say_so() {
        let t = Templates::load(None).expect("built-ins compile");
        for (lang, entry, reopened) in [
            (
                Language::En,
                "from the recurring entry monthly",
                "open again",
            ),
            (Language::Ar, "من المهمة المتكررة monthly", "مفتوحة من جديد"),
        ] {
            let mut c = ctx("Invoices");
            c["task"]["recurring"] = json!("monthly");
            let r = t.render("notify", lang, &c).expect("renders");
            assert!(
                r.text.contains(entry) && !r.text.contains("boss@"),
                "{}",
                r.text
            );
            assert!(r.html.contains("monthly"), "{}", r.html);
            let mut c = ctx("Invoices");
            c["reopened"] = json!(true);
            let r = t.render("followup", lang, &c).expect("renders");
            assert!(
                r.text.contains(reopened) && r.html.contains(reopened),
                "{}",
                r.text
            );
            let r = t
                .render("followup", lang, ctx("Invoices"))
                .expect("renders");
            assert!(!r.text.contains(reopened), "{}", r.text);
        }
    }

    #[test]
    fn status_answers_and_hours_alerts_render_in_both_languages() {
        let t = Templates::load(None).expect("built-ins compile");
        let retainer = json!({"bought": "20h 00m", "used": "17h 00m", "left": "3h 00m",
                              "over": null, "percent": 85, "period": "2026-12", "per": "month"});
        let open = json!([{"id": 3, "title": "<b>Invoice</b>", "status": "in_progress",
                           "assignee": "sara@va.example", "due": "Thu 2026-12-10 17:00 +03",
                           "overdue": true, "updated": "Wed 2026-12-09 09:00 +03"}]);
        let contract = json!({"view": "contract", "contract": "acme", "desk": "Desk",
            "status": true, "open": open, "open_count": 1, "overdue_count": 1, "open_more": 0,
            "done": [], "done_count": 0, "done_more": 0, "done_days": 7,
            "hours": true, "retainer": retainer, "period": "2026-12"});
        let task = json!({"view": "task", "contract": "acme", "desk": "Desk", "status": true,
            "task": {"id": 3, "title": "Invoice", "status": "waiting", "requester": "boss@acme.example",
                     "created": "Mon", "updated": "Tue", "overdue": false},
            "events": [{"at": "Tue", "actor": "sara@va.example", "kind": "time", "detail": "+45m"}],
            "events_more": 4});
        let hours = json!({"view": "contract", "contract": "acme", "desk": "Desk", "hours": true,
            "retainer": null, "logged": "2h 00m", "period": "2026-12"});
        for lang in [Language::En, Language::Ar] {
            let r = t.render("status", lang, &contract).expect("renders");
            assert!(
                r.subject.contains("acme") && r.subject.contains('1'),
                "{}",
                r.subject
            );
            assert!(r.text.contains("#3 <b>Invoice</b>"), "{}", r.text);
            assert!(
                r.text.contains("17h 00m") && r.text.contains("2026-12"),
                "{}",
                r.text
            );
            assert!(r.html.contains("&lt;b&gt;Invoice"), "HTML is escaped");
            let r = t.render("status", lang, &task).expect("renders");
            assert!(r.subject.starts_with("[#3]"), "{}", r.subject);
            assert!(r.text.contains("+45m"), "{}", r.text);
            let r = t.render("status", lang, &hours).expect("renders");
            assert!(r.subject.contains("2h 00m"), "{}", r.subject);
            let alert = json!({"contract": "acme", "desk": "Desk", "threshold": 80,
                               "retainer": retainer, "to_owner": true});
            let r = t.render("hours_alert", lang, &alert).expect("renders");
            assert!(
                r.subject.contains("80") && r.subject.contains("17h 00m"),
                "{}",
                r.subject
            );
            assert!(r.text.contains("3h 00m"), "{}", r.text);
            if lang == Language::Ar {
                for html in [
                    &r.html,
                    &t.render("status", lang, &contract).expect("r").html,
                ] {
                    assert!(html.contains("dir=\"rtl\""), "Arabic HTML is right-to-left");
                }
                assert!(r.subject.contains("الساعات"), "{}", r.subject);
            }
        }
    }

    #[test]
    fn a_hostile_subject_cannot_break_the_header_or_the_html() {
        let t = Templates::load(None).expect("built-ins compile");
        let r = t
            .render(
                "ack",
                Language::En,
                ctx("Hi\r\nBcc: victim@example.com <script>"),
            )
            .expect("renders");
        assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
        assert!(r.subject.contains("Hi Bcc: victim@example.com"));
        assert!(!r.html.contains("<script>"), "HTML is escaped");
        assert!(r.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn a_template_in_the_override_directory_replaces_the_built_in() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("ack.en.j2"),
            "{% block subject %}Got it #{{ task.id }}{% endblock %}{% block text %}ok{% endblock %}{% block html %}<p>ok</p>{% endblock %}",
        )
        .expect("write");
        let t = Templates::load(Some(dir.path())).expect("loads");
        assert_eq!(
            t.render("ack", Language::En, ctx("x")).expect("r").subject,
            "Got it #7"
        );
        assert!(t
            .render("ack", Language::Ar, ctx("x"))
            .expect("r")
            .subject
            .contains("[#7]"));
    }
}
