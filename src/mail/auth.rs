//! `Authentication-Results` (RFC 8601): did our own MX see the sender authenticated?
//!
//! A From address is only a claim. With `[policy] trusted_authserv_id` set, musaid lets a
//! sender act as an owner or a VA only when the Authentication-Results header written by that
//! server shows one of:
//! - `dmarc=pass` with `header.from` naming the From domain;
//! - `dkim=pass` with a signing domain (`header.d`, else the domain of `header.i`) aligned with
//!   the From domain;
//! - `spf=pass` with an `smtp.mailfrom` domain aligned with the From domain.
//!
//! Only the topmost Authentication-Results header carrying the trusted authserv-id counts.
//! Our MX adds its header above everything the sender wrote, so the first one with our id is
//! ours; a copy further down (`Authentication-Results: mx.va.example; dmarc=pass` written by
//! the sender) is a forgery that a careful MX strips, and that musaid ignores even when it
//! does not. A setup whose MX splits its verdicts over several headers must put the deciding
//! one (DMARC, as OpenDMARC does when it runs last) on top. Headers of other authserv-ids are
//! never trusted. A message with more than one From header is never authenticated: which one
//! the MX checked cannot be told.
//!
//! Alignment is relaxed (RFC 7489 §3.1) without a public-suffix list: the two domains are equal
//! or one is a subdomain of the other (`acme.example` and `mail.acme.example`), the shorter
//! having at least two labels. Sibling subdomains do not align; nothing unsafe aligns.
//!
//! Pure: no I/O, never panics on input.

use super::Message;

/// One parsed Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResults {
    /// As written, without quotes; empty when the header has none (Microsoft 365 writes none).
    pub authserv_id: String,
    pub version: Option<String>,
    pub results: Vec<MethodResult>,
}

/// One `method=result` clause with its properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MethodResult {
    /// Lower-cased, without its version (`dkim`, `spf`, `dmarc`, `arc`, …).
    pub method: String,
    /// Lower-cased (`pass`, `fail`, `none`, …).
    pub result: String,
    pub reason: Option<String>,
    /// `ptype.property` names lower-cased (`header.d`, `smtp.mailfrom`), values as written.
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    /// The first property of that name (case-insensitive).
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Does this clause authenticate mail from `from_domain`?
    fn authenticates(&self, from_domain: &str) -> bool {
        if self.result != "pass" {
            return false;
        }
        match self.method.as_str() {
            // DMARC checked alignment itself; make sure it checked this From.
            "dmarc" => self
                .prop("header.from")
                .and_then(domain_of)
                .is_some_and(|d| d == from_domain),
            "dkim" => self
                .prop("header.d")
                .or_else(|| self.prop("header.i"))
                .and_then(domain_of)
                .is_some_and(|d| aligned(&d, from_domain)),
            "spf" => self
                .prop("smtp.mailfrom")
                .and_then(domain_of)
                .is_some_and(|d| aligned(&d, from_domain)),
            _ => false,
        }
    }
}

/// Parse one header value. `None` only when there is nothing to read at all.
pub fn parse(value: &str) -> Option<AuthResults> {
    let mut segments = split_clauses(value).into_iter();
    let first = segments.next()?;
    let mut out = AuthResults::default();
    let mut c = Cursor::new(&first);
    c.skip_ws();
    let looks_like_resinfo = c.rest().split_whitespace().next().is_some_and(|w| {
        w.contains('=') && !w.starts_with('"') // `spf=pass …` with no authserv-id before it
    });
    if looks_like_resinfo {
        out.results.extend(resinfo(&first));
    } else {
        out.authserv_id = c.value();
        c.skip_ws();
        let v = c.value();
        if !v.is_empty() && v.chars().all(|ch| ch.is_ascii_digit()) {
            out.version = Some(v);
        }
    }
    if out.authserv_id.is_empty() && out.results.is_empty() {
        return None;
    }
    out.results.extend(segments.filter_map(|s| resinfo(&s)));
    Some(out)
}

/// The topmost Authentication-Results header written by `authserv_id`, parsed.
pub fn trusted_results(msg: &Message, authserv_id: &str) -> Option<AuthResults> {
    let id = authserv_id.trim();
    if id.is_empty() {
        return None;
    }
    msg.header_all("Authentication-Results")
        .filter_map(parse)
        .find(|ar| ar.authserv_id.eq_ignore_ascii_case(id))
}

/// True only when the topmost Authentication-Results of `authserv_id` shows DMARC passed for
/// the From domain, or DKIM or SPF passed for a domain aligned with it.
pub fn sender_authenticated(msg: &Message, authserv_id: &str) -> bool {
    let Some(from_domain) = domain_of(&msg.from_email()) else {
        return false;
    };
    if msg.header_all("From").count() > 1 {
        return false;
    }
    trusted_results(msg, authserv_id)
        .is_some_and(|ar| ar.results.iter().any(|r| r.authenticates(&from_domain)))
}

/// Relaxed alignment: equal, or one a subdomain of the other (the shorter with two labels).
pub fn aligned(a: &str, b: &str) -> bool {
    let (Some(a), Some(b)) = (domain_of(a), domain_of(b)) else {
        return false;
    };
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if !short.contains('.') {
        return false;
    }
    long == short
        || long
            .strip_suffix(short.as_str())
            .is_some_and(|head| head.ends_with('.') && head.len() > 1)
}

/// The domain of `user@domain`, `@domain`, `<user@domain>` or `domain`, lower-cased, without
/// a trailing dot. `None` when there is none that looks like a domain name.
pub fn domain_of(value: &str) -> Option<String> {
    let v = value.trim().trim_start_matches('<').trim_end_matches('>');
    let d = v
        .rsplit('@')
        .next()
        .unwrap_or(v)
        .trim()
        .trim_end_matches('.');
    let ok = !d.is_empty()
        && !d.starts_with('.')
        && !d.contains("..")
        && d.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_');
    ok.then(|| d.to_lowercase())
}

/// Split at `;` outside quoted strings and comments; comments become a space.
fn split_clauses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0u32;
    let mut quoted = false;
    let mut escaped = false;
    for ch in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                cur.push(ch);
            }
            continue;
        }
        match ch {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    cur.push(ch);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                cur.push(ch);
            }
            '(' if !quoted => {
                if depth == 0 {
                    cur.push(' ');
                }
                depth = depth.saturating_add(1);
            }
            ')' if !quoted && depth > 0 => depth -= 1,
            ';' if !quoted && depth == 0 => out.push(std::mem::take(&mut cur)),
            _ if depth > 0 => {}
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

/// `method[/version]=result [reason=…] [ptype.property=value …]`; `None` when it is not one.
fn resinfo(segment: &str) -> Option<MethodResult> {
    let mut c = Cursor::new(segment);
    c.skip_ws();
    let method = c.keyword()?.to_ascii_lowercase();
    c.skip_ws();
    if c.eat('/') {
        c.skip_ws();
        c.keyword();
        c.skip_ws();
    }
    if !c.eat('=') {
        return None;
    }
    c.skip_ws();
    let result = c.keyword()?.to_ascii_lowercase();
    let mut out = MethodResult {
        method,
        result,
        ..MethodResult::default()
    };
    loop {
        c.skip_ws();
        if c.rest().is_empty() {
            break;
        }
        let Some(name) = c.keyword() else {
            c.value(); // something unreadable: step over it
            continue;
        };
        c.skip_ws();
        if !c.eat('=') {
            continue;
        }
        c.skip_ws();
        let value = c.value();
        if name.eq_ignore_ascii_case("reason") {
            out.reason = Some(value);
        } else {
            out.props.push((name.to_ascii_lowercase(), value));
        }
    }
    Some(out)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, ch: char) -> bool {
        if self.rest().starts_with(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }

    /// A method, result or property name: letters, digits, `-`, `_`, `.`.
    fn keyword(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).filter(|k| !k.is_empty())
    }

    /// A quoted string (unquoted), else everything up to the next blank. Base64 fragments such
    /// as `header.b=ab/c+d=` keep their `/` and `=`.
    fn value(&mut self) -> String {
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut escaped = false;
            for (i, ch) in body.char_indices() {
                if escaped {
                    out.push(ch);
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == '"' {
                    self.pos += 1 + i + 1;
                    return out;
                } else {
                    out.push(ch);
                }
            }
            self.pos = self.s.len();
            return out;
        }
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or_default().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Address;

    fn msg(from: &str, results: &[&str]) -> Message {
        let mut headers = vec![(
            "Received".to_string(),
            "from mx.va.example by imap.va.example".to_string(),
        )];
        headers.extend(
            results
                .iter()
                .map(|r| ("Authentication-Results".to_string(), r.to_string())),
        );
        headers.push(("From".into(), from.into()));
        Message {
            from: Some(Address {
                name: None,
                email: from.into(),
            }),
            headers,
            ..Message::default()
        }
    }

    #[test]
    fn gmail_style() {
        let ar = parse(
            "mx.google.com; dkim=pass header.i=@acme.example header.s=20230601 header.b=Xy/5g+M1; \
             spf=pass (google.com: domain of boss@acme.example designates 209.85.220.41 as \
             permitted sender) smtp.mailfrom=boss@acme.example; dmarc=pass (p=NONE sp=NONE \
             dis=NONE) header.from=acme.example",
        )
        .unwrap();
        assert_eq!(ar.authserv_id, "mx.google.com");
        let methods: Vec<&str> = ar.results.iter().map(|r| r.method.as_str()).collect();
        assert_eq!(methods, ["dkim", "spf", "dmarc"]);
        assert_eq!(ar.results[0].prop("header.i"), Some("@acme.example"));
        assert_eq!(ar.results[0].prop("header.b"), Some("Xy/5g+M1"));
        assert_eq!(
            ar.results[1].prop("smtp.mailfrom"),
            Some("boss@acme.example")
        );
        assert_eq!(ar.results[2].prop("header.from"), Some("acme.example"));
    }

    #[test]
    fn microsoft_365_style_without_authserv_id() {
        let ar = parse(
            "spf=pass (sender IP is 40.107.1.2) smtp.mailfrom=acme.example; dkim=pass \
             (signature was verified) header.d=acme.example;dmarc=pass action=none \
             header.from=acme.example;compauth=pass reason=100",
        )
        .unwrap();
        assert_eq!(ar.authserv_id, "");
        assert_eq!(ar.results.len(), 4);
        assert_eq!(ar.results[0].method, "spf");
        assert_eq!(ar.results[2].prop("action"), Some("none"));
        assert_eq!(ar.results[3].reason.as_deref(), Some("100"));
    }

    #[test]
    fn fastmail_style() {
        let ar = parse(
            "mx5.messagingengine.com; dkim=pass (2048-bit rsa key sha256) header.d=acme.example \
             header.i=@acme.example header.b=aBcD1234 header.a=rsa-sha256 header.s=fm1 \
             x-bits=2048; dmarc=pass policy.published-domain-policy=none \
             policy.applied-disposition=none (p=none,d=none,d.eval=none) policy.policy-from=p \
             header.from=acme.example; iprev=pass smtp.remote-ip=192.0.2.1 (mail.acme.example); \
             spf=pass smtp.mailfrom=boss@acme.example smtp.helo=mail.acme.example; \
             x-aligned-from=pass (Address match); x-me-sender=none",
        )
        .unwrap();
        assert_eq!(ar.authserv_id, "mx5.messagingengine.com");
        let dmarc = ar.results.iter().find(|r| r.method == "dmarc").unwrap();
        assert_eq!(dmarc.prop("header.from"), Some("acme.example"));
        assert_eq!(dmarc.prop("policy.published-domain-policy"), Some("none"));
        assert_eq!(ar.results.len(), 6);
    }

    #[test]
    fn rspamd_opendkim_opendmarc_and_policyd_spf_styles() {
        let rspamd = parse(
            "mx.va.example;\r\n\tdkim=pass header.d=acme.example header.s=dkim header.b=Gx7Cp4Yx;\r\n\t\
             dmarc=pass (policy=reject) header.from=acme.example;\r\n\tspf=pass (mx.va.example: \
             domain of boss@acme.example designates 192.0.2.1 as permitted sender) \
             smtp.mailfrom=boss@acme.example",
        )
        .unwrap();
        assert_eq!(rspamd.authserv_id, "mx.va.example");
        assert_eq!(rspamd.results.len(), 3);

        // OpenDKIM: a quoted reason holding a `;`, a method version, a comment with parens.
        let dkim = parse(
            "mx.va.example 1; dkim/1 = pass reason=\"2048-bit key; unprotected\" (sig (nested) \
             ok) header.d=acme.example header.i=@acme.example header.b=\"abc\\\"def\"",
        )
        .unwrap();
        assert_eq!(dkim.version.as_deref(), Some("1"));
        assert_eq!(dkim.results.len(), 1);
        let r = &dkim.results[0];
        assert_eq!((r.method.as_str(), r.result.as_str()), ("dkim", "pass"));
        assert_eq!(r.reason.as_deref(), Some("2048-bit key; unprotected"));
        assert_eq!(r.prop("header.d"), Some("acme.example"));
        assert_eq!(r.prop("header.b"), Some("abc\"def"));

        // policyd-spf: a comment holding `;` and `=`.
        let spf = parse(
            "mx.va.example; spf=pass (sender SPF authorized; client-ip=192.0.2.1; \
             envelope-from=boss@acme.example) smtp.mailfrom=acme.example",
        )
        .unwrap();
        assert_eq!(spf.results.len(), 1);
        assert_eq!(spf.results[0].prop("smtp.mailfrom"), Some("acme.example"));

        let none = parse("\"mx.va.example\" (Postfix); none").unwrap();
        assert_eq!(none.authserv_id, "mx.va.example");
        assert!(none.results.is_empty());
    }

    #[test]
    fn garbage_never_panics_and_yields_little() {
        for s in [
            "",
            ";;;",
            "(((",
            ")",
            "\"",
            "mx; =pass",
            "mx; dkim=",
            "mx; dkim=pass header.d",
            "mx; dkim=pass header.d= ;",
            "mx; dkim=pass \"unterminated",
            "mx; \u{feff}dkim=pass (\\",
            "مرحبا; dkim=pass",
        ] {
            let _ = parse(s);
        }
        assert_eq!(parse(""), None);
        assert_eq!(parse("(only a comment)"), None);
        let r = parse("mx; dkim=pass header.d= ;").unwrap();
        assert_eq!(r.results[0].prop("header.d"), Some(""));
    }

    #[test]
    fn alignment_is_relaxed_but_never_crosses_organisations() {
        assert!(aligned("acme.example", "acme.example"));
        assert!(aligned("ACME.example.", "acme.example"));
        assert!(aligned("acme.example", "mail.acme.example"));
        assert!(aligned("mail.acme.example", "acme.example"));
        assert!(aligned("@acme.example", "boss@mail.acme.example"));
        assert!(!aligned("evilacme.example", "acme.example"));
        assert!(!aligned("acme.example.evil.example", "acme.example"));
        assert!(!aligned("example", "acme.example"));
        assert!(!aligned("", "acme.example"));
        assert!(!aligned("a..example", "example"));
        assert_eq!(
            domain_of("<Boss@Acme.Example>").as_deref(),
            Some("acme.example")
        );
        assert_eq!(domain_of("bad domain"), None);
    }

    #[test]
    fn authenticated_by_dmarc_or_aligned_dkim_or_spf() {
        let id = "MX.va.example";
        let ok = |r: &str| sender_authenticated(&msg("boss@acme.example", &[r]), id);
        assert!(ok("mx.va.example; dmarc=pass header.from=acme.example"));
        assert!(ok("mx.va.example; dmarc=PASS header.from=ACME.example"));
        assert!(ok("mx.va.example; dkim=pass header.d=acme.example"));
        assert!(ok("mx.va.example; dkim=pass header.i=@mail.acme.example"));
        assert!(ok(
            "mx.va.example; spf=pass smtp.mailfrom=bounces@acme.example"
        ));
        assert!(ok(
            "mx.va.example; spf=fail smtp.mailfrom=acme.example; dkim=pass header.d=acme.example"
        ));

        assert!(!ok("mx.va.example; dmarc=fail header.from=acme.example"));
        assert!(!ok("mx.va.example; dmarc=pass header.from=evil.example"));
        assert!(!ok("mx.va.example; dmarc=pass"));
        assert!(!ok("mx.va.example; dkim=pass header.d=evil.example"));
        assert!(!ok("mx.va.example; dkim=pass header.d=example"));
        assert!(!ok("mx.va.example; spf=pass smtp.mailfrom=evil.example"));
        assert!(!ok(
            "mx.va.example; spf=softfail smtp.mailfrom=acme.example"
        ));
        assert!(!ok("mx.va.example; arc=pass header.from=acme.example"));
        assert!(!ok("mx.va.example; none"));
        assert!(!ok(
            "mx.va.example.evil; dmarc=pass header.from=acme.example"
        ));
        assert!(!ok("evil.example; dmarc=pass header.from=acme.example"));
        assert!(!ok("dmarc=pass header.from=acme.example"));
        assert!(!sender_authenticated(&msg("boss@acme.example", &[]), id));
        assert!(!sender_authenticated(
            &msg(
                "boss@acme.example",
                &["mx.va.example; dmarc=pass header.from=acme.example"]
            ),
            ""
        ));
    }

    #[test]
    fn only_the_topmost_header_of_the_trusted_server_counts() {
        let id = "mx.va.example";
        let real_fail = "mx.va.example; dmarc=fail header.from=acme.example";
        let forged = "mx.va.example; dmarc=pass header.from=acme.example";
        let other = "mx.google.com; dmarc=pass header.from=acme.example";
        // A forged pass below our MX's fail does not count.
        assert!(!sender_authenticated(
            &msg("boss@acme.example", &[real_fail, forged]),
            id
        ));
        // Other servers' headers are skipped, never trusted.
        assert!(!sender_authenticated(
            &msg("boss@acme.example", &[other, real_fail]),
            id
        ));
        assert!(sender_authenticated(
            &msg("boss@acme.example", &[other, forged]),
            id
        ));
        // Two From headers: which one the MX checked cannot be told.
        let mut two = msg("boss@acme.example", &[forged]);
        two.headers
            .push(("From".into(), "mallory@evil.example".into()));
        assert!(!sender_authenticated(&two, id));
    }
}
