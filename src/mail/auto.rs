//! Automatic mail (RFC 3834, RFC 5230 §4.6): auto-replies, bounces, lists, loops.
//!
//! Checks run in this order, the first that holds gives the reason:
//! 1. own mail: From is our address, or our loop header is present → `own-mail`;
//! 2. delivery reports (`multipart/report`, DSN/MDN/ARF parts), MAILER-DAEMON or
//!    postmaster senders, an empty (`<>`) Return-Path → `bounce`;
//! 3. `Auto-Submitted` other than `no`, `Precedence: auto_reply`, X-Autoreply-style headers,
//!    `X-Auto-Response-Suppress` with All/AutoReply/OOF → `auto-submitted`;
//! 4. any `List-*` header, `Precedence: list`, a digest, Mailman, or a list robot sender
//!    (`-request`, `-bounces`, `-bounces+…`, `owner-`) → `list`;
//! 5. `Precedence: bulk|junk` → `bulk`;
//! 6. noreply / no-reply / donotreply senders → `bulk` (nobody reads an answer to them).

use super::Message;
use crate::model::{normalize_address, Reason};

/// Local parts of addresses that send bounces.
const BOUNCE_LOCALPARTS: [&str; 4] = ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"];

/// Local-part endings of mailing-list robots (Mailman, Majordomo, LISTSERV).
// Not `-owner` or `-admin`: `shop-owner@` and `site-admin@` are people who send requests.
const LIST_ROBOT_SUFFIXES: [&str; 2] = ["-request", "-bounces"];

/// Local parts (after removing `-`, `_`, `.`) of addresses nobody reads.
const NOREPLY_LOCALPARTS: [&str; 5] = [
    "noreply",
    "donotreply",
    "noresponse",
    "doreply",
    "nepasrepondre",
];

fn local_part(addr: &str) -> &str {
    addr.split('@').next().unwrap_or("")
}

/// Why this message must never be treated as a person's request, if it must not.
pub fn classify(msg: &Message, our_address: &str) -> Option<Reason> {
    let s = &msg.auto;
    let from = msg.from_email();
    let ours = normalize_address(our_address);

    if (!ours.is_empty() && from == ours) || s.loop_marker.is_some() {
        return Some(Reason::OwnMail);
    }

    let senders = [
        Some(from.as_str()),
        msg.sender.as_ref().map(|a| a.email.as_str()),
    ];
    let bounce_sender = senders.iter().flatten().any(|a| {
        let lp = local_part(&normalize_address(a)).to_string();
        BOUNCE_LOCALPARTS.contains(&lp.as_str())
    });
    if s.report || bounce_sender || s.return_path.as_deref() == Some("") {
        return Some(Reason::Bounce);
    }

    let auto_submitted = s
        .auto_submitted
        .as_deref()
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|v| !v.is_empty() && v != "no");
    let suppress = s.auto_response_suppress.as_deref().is_some_and(|v| {
        v.split([',', ' ', ';'])
            .any(|t| matches!(t.trim(), "all" | "autoreply" | "oof"))
    });
    let precedence = s.precedence.as_deref().map(str::trim).unwrap_or("");
    if auto_submitted
        || s.autoreply_header
        || suppress
        || precedence == "auto_reply"
        || precedence == "auto-reply"
    {
        return Some(Reason::AutoSubmitted);
    }

    // Mailing-list machinery without List-* headers: digests, Mailman, list robots.
    let digest = msg.header("Content-Type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/digest")
    });
    let mailman = msg.header("X-Mailman-Version").is_some();
    let robot = senders.iter().flatten().any(|a| {
        let lp = local_part(&normalize_address(a)).to_string();
        LIST_ROBOT_SUFFIXES.iter().any(|s| lp.ends_with(s))
            || lp.contains("-bounces+")
            || lp.starts_with("owner-")
    });
    if s.list_header || precedence == "list" || digest || mailman || robot {
        return Some(Reason::List);
    }
    if precedence == "bulk" || precedence == "junk" {
        return Some(Reason::Bulk);
    }

    let noreply = senders.iter().flatten().any(|a| {
        let lp: String = local_part(&normalize_address(a))
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | '.'))
            .collect();
        NOREPLY_LOCALPARTS.iter().any(|n| lp.starts_with(n))
    });
    if noreply {
        return Some(Reason::Bulk);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Address, AutoSignals};

    fn msg(from: &str, auto: AutoSignals) -> Message {
        Message {
            from: Some(Address {
                name: None,
                email: from.into(),
            }),
            auto,
            ..Message::default()
        }
    }

    #[test]
    fn person_is_none() {
        assert_eq!(
            classify(
                &msg("boss@acme.example", AutoSignals::default()),
                "tasks@va.example"
            ),
            None
        );
        let a = AutoSignals {
            auto_submitted: Some("no".into()),
            return_path: Some("boss@acme.example".into()),
            auto_response_suppress: Some("dr, rn".into()),
            ..AutoSignals::default()
        };
        assert_eq!(
            classify(&msg("boss@acme.example", a), "tasks@va.example"),
            None
        );
    }

    #[test]
    fn reasons_in_order() {
        let our = "Tasks@VA.example";
        assert_eq!(
            classify(&msg("tasks@va.example", AutoSignals::default()), our),
            Some(Reason::OwnMail)
        );
        let looped = AutoSignals {
            loop_marker: Some("x".into()),
            report: true,
            ..AutoSignals::default()
        };
        assert_eq!(classify(&msg("a@b.c", looped), our), Some(Reason::OwnMail));
        assert_eq!(
            classify(&msg("MAILER-DAEMON@mx.b.c", AutoSignals::default()), our),
            Some(Reason::Bounce)
        );
        let empty_rp = AutoSignals {
            return_path: Some(String::new()),
            auto_submitted: Some("auto-replied".into()),
            ..AutoSignals::default()
        };
        assert_eq!(classify(&msg("a@b.c", empty_rp), our), Some(Reason::Bounce));
        let ooo = AutoSignals {
            auto_submitted: Some("auto-replied; owner-email=\"a@b.c\"".into()),
            ..AutoSignals::default()
        };
        assert_eq!(
            classify(&msg("a@b.c", ooo), our),
            Some(Reason::AutoSubmitted)
        );
        let suppress = AutoSignals {
            auto_response_suppress: Some("oof, autoreply".into()),
            ..AutoSignals::default()
        };
        assert_eq!(
            classify(&msg("a@b.c", suppress), our),
            Some(Reason::AutoSubmitted)
        );
        let list = AutoSignals {
            list_header: true,
            precedence: Some("bulk".into()),
            ..AutoSignals::default()
        };
        assert_eq!(classify(&msg("a@b.c", list), our), Some(Reason::List));
        let bulk = AutoSignals {
            precedence: Some("junk".into()),
            ..AutoSignals::default()
        };
        assert_eq!(classify(&msg("a@b.c", bulk), our), Some(Reason::Bulk));
        assert_eq!(
            classify(&msg("no-reply@shop.example", AutoSignals::default()), our),
            Some(Reason::Bulk)
        );
        assert_eq!(
            classify(
                &msg("do_not_reply@shop.example", AutoSignals::default()),
                our
            ),
            Some(Reason::Bulk)
        );
    }

    #[test]
    fn people_whose_address_looks_like_a_list_robot_are_people() {
        let our = "tasks@va.example";
        for person in [
            "shop-owner@acme.example",
            "site-admin@acme.example",
            "owner@acme.example",
        ] {
            assert_eq!(
                classify(&msg(person, AutoSignals::default()), our),
                None,
                "{person}"
            );
        }
        for robot in [
            "team-request@lists.example",
            "team-bounces@lists.example",
            "team-bounces+sara=va.example@lists.example",
            "owner-team@lists.example",
        ] {
            assert_eq!(
                classify(&msg(robot, AutoSignals::default()), our),
                Some(Reason::List),
                "{robot}"
            );
        }
    }
}
