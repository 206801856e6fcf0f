//! A [`Summary`] → Markdown (the mail's text part and the `.md` file) and HTML, through the
//! `summary.LANG.j2` templates. Numbers are formatted here; every word of prose lives in the
//! templates, except the few the chart and durations need.

use super::{DayCount, Summary};
use crate::model::Language;
use crate::templates::{Rendered, Templates};
use anyhow::Result;
use chrono::{DateTime, Utc, Weekday};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// At most this many rows in the open-task and hours tables; the rest are counted.
const MAX_ROWS: usize = 50;

/// Render the summary in the contract's language.
pub fn render(templates: &Templates, s: &Summary) -> Result<Rendered> {
    templates.render("summary", s.language, context(s))
}

/// A duration for people: `45m`, `2h 05m`, `25h 45m`, `3d 4h` (Arabic: `2 س 05 د`).
pub fn fmt_duration(secs: i64, lang: Language) -> String {
    let (d, h, m, s) = match lang {
        Language::En => ("d", "h", "m", "s"),
        Language::Ar => (" ي", " س", " د", " ث"),
    };
    let sign = if secs < 0 { "-" } else { "" };
    let secs = secs.abs();
    let body = if secs < 60 {
        format!("{secs}{s}")
    } else if secs < 3600 {
        format!("{}{m}", secs / 60)
    } else if secs < 2 * 86400 {
        // Under two days hours read better than "1d 1h".
        format!("{}{h} {:02}{m}", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}{d} {}{h}", secs / 86400, secs % 86400 / 3600)
    };
    format!("{sign}{body}")
}

fn opt_duration(secs: Option<i64>, lang: Language) -> String {
    secs.map(|s| fmt_duration(s, lang))
        .unwrap_or_else(|| "—".into())
}

fn weekday(d: Weekday, lang: Language) -> &'static str {
    match lang {
        Language::En => match d {
            Weekday::Mon => "Mon",
            Weekday::Tue => "Tue",
            Weekday::Wed => "Wed",
            Weekday::Thu => "Thu",
            Weekday::Fri => "Fri",
            Weekday::Sat => "Sat",
            Weekday::Sun => "Sun",
        },
        Language::Ar => match d {
            Weekday::Mon => "الاثنين",
            Weekday::Tue => "الثلاثاء",
            Weekday::Wed => "الأربعاء",
            Weekday::Thu => "الخميس",
            Weekday::Fri => "الجمعة",
            Weekday::Sat => "السبت",
            Weekday::Sun => "الأحد",
        },
    }
}

fn local(s: &Summary, t: DateTime<Utc>) -> String {
    let tz: chrono_tz::Tz = s.timezone.parse().unwrap_or(chrono_tz::UTC);
    let l = t.with_timezone(&tz);
    use chrono::Datelike as _;
    format!(
        "{} {}",
        weekday(l.weekday(), s.language),
        l.format("%Y-%m-%d %H:%M")
    )
}

fn local_rfc3339(s: &Summary, rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| local(s, t.with_timezone(&Utc)))
        .unwrap_or_else(|_| rfc.to_string())
}

fn change(now: i64, prev: i64) -> String {
    match now - prev {
        0 => "=".into(),
        d if d > 0 => format!("+{d}"),
        d => d.to_string(),
    }
}

fn change_duration(now: i64, prev: i64, lang: Language) -> String {
    match now - prev {
        0 => "=".into(),
        d if d > 0 => format!("+{}", fmt_duration(d * 60, lang)),
        d => fmt_duration(d * 60, lang),
    }
}

/// A table cell of Markdown: no pipe or line break can break the row.
/// Text from mail as one Markdown table cell that renders as written: every character that
/// could start emphasis, a link, an image, code, HTML or an entity is backslash-escaped
/// (CommonMark allows that for all ASCII punctuation), so a subject cannot inject markup.
fn md_cell(s: &str) -> String {
    let line = crate::templates::one_line(s);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if matches!(
            c,
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '&' | '!' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}

fn context(s: &Summary) -> Value {
    let lang = s.language;
    let p = &s.previous;
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let glance: Vec<Value> = [
        ("received", s.received, p.received),
        ("acknowledged", s.acknowledged, p.acknowledged),
        ("done", s.done, p.done),
        ("cancelled", s.cancelled, p.cancelled),
        ("open", s.open, p.open),
        ("overdue", s.overdue, p.overdue),
    ]
    .iter()
    .map(|(key, now, prev)| json!({"key": key, "now": now, "prev": prev, "change": change(n(*now), n(*prev))}))
    .chain(std::iter::once(json!({
        "key": "hours",
        "now": fmt_duration(s.minutes_worked * 60, lang),
        "prev": fmt_duration(p.minutes_worked * 60, lang),
        "change": change_duration(s.minutes_worked, p.minutes_worked, lang),
    })))
    .collect();
    let times = json!([
        {"key": "ack", "p50": opt_duration(s.ack_p50_seconds, lang), "p90": opt_duration(s.ack_p90_seconds, lang),
         "bp50": opt_duration(s.ack_business_p50_seconds, lang), "bp90": opt_duration(s.ack_business_p90_seconds, lang)},
        {"key": "done", "p50": opt_duration(s.done_p50_seconds, lang), "p90": opt_duration(s.done_p90_seconds, lang),
         "bp50": opt_duration(s.done_business_p50_seconds, lang), "bp90": opt_duration(s.done_business_p90_seconds, lang)},
    ]);
    let categories: Vec<Value> = s
        .categories
        .iter()
        .map(|c| json!({"name": c.name, "name_md": md_cell(&c.name), "received": c.received, "done": c.done, "open": c.open}))
        .collect();
    let vas: Vec<Value> = s
        .assignees
        .iter()
        .map(|v| {
            json!({"name": v.name, "name_md": md_cell(&v.name), "unassigned": v.name == super::UNASSIGNED,
                   "received": v.received, "done": v.done, "open": v.open,
                   "hours": if v.minutes == 0 { "—".to_string() } else { fmt_duration(v.minutes * 60, lang) }})
        })
        .collect();
    let open_tasks: Vec<Value> = s
        .open_tasks
        .iter()
        .take(MAX_ROWS)
        .map(|o| {
            json!({"id": o.id, "title": o.title, "title_md": md_cell(&o.title), "category": o.category,
                   "category_md": md_cell(&o.category), "assignee": o.assignee,
                   "assignee_md": o.assignee.as_deref().map(md_cell), "status": o.status,
                   "age": fmt_duration(o.age_seconds, lang),
                   "due": o.due_at.as_deref().map(|d| local_rfc3339(s, d)), "overdue": o.overdue})
        })
        .collect();
    let hours_by_task: Vec<Value> = s
        .minutes_by_task
        .iter()
        .take(MAX_ROWS)
        .map(|t| json!({"id": t.id, "title": t.title, "title_md": md_cell(&t.title), "hours": fmt_duration(t.minutes * 60, lang)}))
        .collect();
    let empty = s.received == 0
        && s.acknowledged == 0
        && s.done == 0
        && s.cancelled == 0
        && s.open == 0
        && s.minutes_worked == 0;
    let tz_name = &s.timezone;
    json!({
        "s": s,
        "contract": s.contract,
        "week": s.week,
        "period": match lang {
            Language::En => format!("{} → {} ({tz_name})", local(s, s.start), local(s, s.end)),
            // An arrow would point the wrong way in right-to-left text.
            Language::Ar => format!("من {} إلى {} ({tz_name})", local(s, s.start), local(s, s.end)),
        },
        "empty": empty,
        "glance": glance,
        "times": times,
        "categories": categories,
        "vas": vas,
        "open_tasks": open_tasks,
        "open_more": s.open_tasks.len().saturating_sub(MAX_ROWS),
        "hours_by_task": hours_by_task,
        "hours_more": s.minutes_by_task.len().saturating_sub(MAX_ROWS),
        "hours_total": fmt_duration(s.minutes_worked * 60, lang),
        "amount": s.amount.zip(s.currency.as_deref()).map(|(a, c)| money(a, c)),
        "rate": s.rate_per_hour.zip(s.currency.as_deref()).map(|(r, c)| money(r, c)),
        "acks_outside": s.acks_outside_windows,
        "chart_days": days_chart(&s.days, lang),
        "chart_categories": categories_chart(s, lang),
        "retainer": s.retainer.as_ref().map(|b| crate::retainer::balance_words(b, lang)),
    })
}

/// Text for SVG and HTML: `&`, `<`, `>`, `"` escaped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const RECEIVED_COLOUR: &str = "#4a7fb5";
const DONE_COLOUR: &str = "#5aa469";

fn chart_words(lang: Language) -> (&'static str, &'static str, &'static str, &'static str) {
    match lang {
        Language::En => (
            "Received",
            "Done",
            "Tasks received and done per day",
            "Tasks received per category",
        ),
        Language::Ar => (
            "المستلمة",
            "المنجزة",
            "المهام المستلمة والمنجزة في كل يوم",
            "المهام المستلمة حسب التصنيف",
        ),
    }
}

/// Vertical bars, received and done side by side for each local day. Plain SVG, no script.
fn days_chart(days: &[DayCount], lang: Language) -> String {
    let (received, done, title, _) = chart_words(lang);
    let (left, top, plot_h, width) = (10.0_f64, 34.0_f64, 110.0_f64, 560.0_f64);
    let height = top + plot_h + 22.0;
    let max = days
        .iter()
        .map(|d| d.received.max(d.done))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = days.len().max(1) as f64;
    let group = (width - 2.0 * left) / n;
    let bar = (group * 0.35).min(28.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}" style="direction: ltr; font-family: sans-serif; font-size: 11px"><title>{t}</title>"#,
        t = xml(title)
    );
    let _ = write!(
        svg,
        r#"<rect x="{left}" y="6" width="10" height="10" fill="{RECEIVED_COLOUR}"/><text x="{}" y="15">{}</text><rect x="{}" y="6" width="10" height="10" fill="{DONE_COLOUR}"/><text x="{}" y="15">{}</text>"#,
        left + 14.0,
        xml(received),
        left + 110.0,
        left + 124.0,
        xml(done)
    );
    let base = top + plot_h;
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#999"/>"##,
        width - left
    );
    for (i, d) in days.iter().enumerate() {
        let gx = left + group * i as f64;
        let cx = gx + group / 2.0;
        for (j, (value, colour)) in [(d.received, RECEIVED_COLOUR), (d.done, DONE_COLOUR)]
            .into_iter()
            .enumerate()
        {
            let h = (value as f64 / max * (plot_h - 14.0)).round();
            let x = cx - bar - 1.0 + j as f64 * (bar + 2.0);
            if value == 0 {
                continue;
            }
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{value}</text>"#,
                base - h,
                x + bar / 2.0,
                base - h - 3.0
            );
        }
        let day = d.date.get(8..10).unwrap_or("");
        let _ = write!(
            svg,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{} {day}</text>"#,
            base + 15.0,
            xml(weekday(d.weekday, lang))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars: received tasks per category, the label beside each bar.
fn categories_chart(s: &Summary, lang: Language) -> String {
    let (_, _, _, title) = chart_words(lang);
    let rows: Vec<(&str, u64)> = s
        .categories
        .iter()
        .filter(|c| c.received > 0)
        .map(|c| (c.name.as_str(), c.received))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let (label_w, bar_max, row_h, width) = (150.0_f64, 340.0_f64, 22.0_f64, 560.0_f64);
    let height = row_h * rows.len() as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{t}" style="direction: ltr; font-family: sans-serif; font-size: 11px"><title>{t}</title>"#,
        t = xml(title)
    );
    for (i, (name, value)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (*value as f64 / max * bar_max).round().max(1.0);
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{RECEIVED_COLOUR}"/><text x="{:.1}" y="{:.1}">{value}</text>"#,
            label_w - 6.0,
            y + 14.0,
            xml(name),
            y + 3.0,
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// When a summary was made, for logs: the period's end in the contract's zone.
pub(crate) fn ends(s: &Summary) -> String {
    local(s, s.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(fmt_duration(0, Language::En), "0s");
        assert_eq!(fmt_duration(59, Language::En), "59s");
        assert_eq!(fmt_duration(60, Language::En), "1m");
        assert_eq!(fmt_duration(45 * 60 + 30, Language::En), "45m");
        assert_eq!(fmt_duration(2 * 3600 + 5 * 60, Language::En), "2h 05m");
        assert_eq!(fmt_duration(25 * 3600 + 45 * 60, Language::En), "25h 45m");
        assert_eq!(
            fmt_duration(3 * 86400 + 4 * 3600 + 59, Language::En),
            "3d 4h"
        );
        assert_eq!(fmt_duration(-90 * 60, Language::En), "-1h 30m");
        assert_eq!(fmt_duration(2 * 3600 + 5 * 60, Language::Ar), "2 س 05 د");
    }

    #[test]
    fn markdown_cells_cannot_break_a_row() {
        assert_eq!(md_cell("a | b\nc"), "a \\| b c");
    }

    #[test]
    fn markdown_cells_render_as_written() {
        assert_eq!(
            md_cell("[click](http://evil.example) *now* <img src=x> `x` _y_ &amp; ![i](u)"),
            "\\[click\\](http://evil.example) \\*now\\* \\<img src=x\\> \\`x\\` \\_y\\_ \\&amp; \\!\\[i\\](u)"
        );
        // Arabic and ordinary punctuation stay as they are.
        assert_eq!(
            md_cell("فاتورة INV-2026-114: 3.5 ساعة، (مهم)"),
            "فاتورة INV-2026-114: 3.5 ساعة، (مهم)"
        );
    }

    #[test]
    fn svg_text_is_escaped() {
        assert_eq!(
            xml("<b>&\"x\"</b>"),
            "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"
        );
    }
}
