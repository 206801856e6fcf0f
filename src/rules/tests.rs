use super::matching::relax;
use super::*;
use crate::model::Priority;
use crate::windows::DueSpec;
use std::path::Path;

fn input<'a>(subject: &'a str, body: &'a str) -> RuleInput<'a> {
    RuleInput {
        contract: "acme",
        from: "boss@acme.example",
        subject,
        body,
        ..RuleInput::default()
    }
}

fn set(files: &[(&str, &str)]) -> RuleSet {
    match RuleSet::from_files(files) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match RuleSet::from_files(&[("r.toml", text)]) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors,
    }
}

#[track_caller]
fn assert_error(errors: &[String], line: usize, hints: &[&str]) {
    let loc = format!("r.toml:{line}: ");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(&loc) && hints.iter().all(|h| e.contains(h))),
        "no error at line {line} with {hints:?} in:\n{}",
        errors.join("\n")
    );
}

/// The example rules shipped in rules/, in file-name order.
fn examples() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    match RuleSet::load(&dir) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn relax_drops_only_word_boundaries() {
    assert_eq!(
        relax(r"(?i)\b(invoice|bill)\b|فاتورة").as_deref(),
        Some(r"(?i)(invoice|bill)|فاتورة")
    );
    assert_eq!(relax(r"\Bx\b{start}y\<z\>").as_deref(), Some("xyz"));
    assert_eq!(
        relax(r"\\b[\b\]]"),
        None,
        "escaped backslash and classes are kept"
    );
    assert_eq!(relax(r"[]\b]"), None);
    assert_eq!(relax(r"^\s*(urgent)$"), None);
    assert_eq!(relax(r"a\b"), Some("a".to_string()));
    assert_eq!(relax(r"(?-u:\b)call(?-u:\b)"), None);
}

#[test]
fn word_boundaries_still_hold_in_arabic_and_english_text() {
    let rules = set(&[(
        "r.toml",
        "[[rule]]\nname = \"call\"\nmatch.body = '(?i)\\bcall\\b'\ncategory = \"scheduling\"\n\
         [[rule]]\nname = \"inv\"\nmatch.body = '\\bفاتورة\\b'\ncategory = \"bookkeeping\"\n",
    )]);
    assert_eq!(
        rules
            .classify(&input("", "مرحبا، please call me غدا"))
            .category,
        "scheduling"
    );
    assert_eq!(
        rules.classify(&input("", "مرحبا، I recall it")).category,
        "general"
    );
    assert_eq!(
        rules.classify(&input("", "هذه فاتورة الشهر")).category,
        "bookkeeping"
    );
    assert_eq!(
        rules.classify(&input("", "هذه الفاتورة")).category,
        "general",
        "\\b refuses a prefix"
    );
    // The original may match a longer alternative than the relaxed form found first.
    let rules = set(&[(
        "r.toml",
        "[[rule]]\nname = \"c\"\nmatch.body = '\\bcat\\b|category'\ncategory = \"x\"\n\
         [[rule]]\nname = \"u\"\nmatch.body = '(?m)^\\s*urgent\\b'\ncategory = \"y\"\n",
    )]);
    assert_eq!(
        rules.classify(&input("", "سطر\nnew category")).category,
        "x"
    );
    assert_eq!(
        rules.classify(&input("", "سطر\nconcatenate")).category,
        "general"
    );
    assert_eq!(
        rules.classify(&input("", "سطر\n  urgent: هذا")).category,
        "y"
    );
    assert_eq!(
        rules.classify(&input("", "سطر urgent\nurgently")).category,
        "general"
    );
}

/// The specification's example rule, verbatim.
const SPEC_RULE: &str = r#"[[rule]]
name = "invoices"
contract = "acme"                      # optional: only for this contract
match.subject = '(?i)\b(invoice|receipt|فاتورة|إيصال)\b'
match.original_from = '@supplier\.example$'          # also: from, to, cc, body, header."List-Id"
category = "bookkeeping"
priority = "high"                      # low | normal | high | urgent
assign   = "sara@va.example"
due      = "2 business days"           # counted in the contract's windows and holidays
tags     = ["finance"]
"#;

#[test]
fn spec_example_rule() {
    let rules = set(&[("spec.toml", SPEC_RULE)]);
    let mut i = input("Invoice 7 attached", "");
    i.original_from = "billing@supplier.example";
    let c = rules.classify(&i);
    assert_eq!(c.rule.as_deref(), Some("invoices"));
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("bookkeeping", Priority::High)
    );
    assert_eq!(c.assignee.as_deref(), Some("sara@va.example"));
    assert_eq!(c.due, Some(DueSpec::BusinessDays(2)));
    assert_eq!(c.tags, vec!["finance"]);
    i.subject = "مرفق فاتورة الشهر";
    assert_eq!(rules.classify(&i).category, "bookkeeping");
    i.subject = "الفاتورة";
    assert_eq!(
        rules.classify(&i).category,
        "general",
        "\\b as the example wrote it"
    );
    i.subject = "Invoice 7";
    i.contract = "other";
    assert_eq!(rules.classify(&i).category, "general");
}

#[test]
fn first_matching_rule_classifies_in_file_then_table_order() {
    let rules = set(&[
        (
            "10.toml",
            "[[rule]]\nname = \"a\"\nmatch.subject = 'x'\ncategory = \"first\"\n\
             [[rule]]\nname = \"b\"\nmatch.subject = 'x'\ncategory = \"second\"\n",
        ),
        (
            "20.toml",
            "[[rule]]\nname = \"c\"\nmatch.subject = 'y'\ncategory = \"third\"\n",
        ),
    ]);
    assert_eq!(rules.len(), 3);
    let c = rules.classify(&input("x y", ""));
    assert_eq!(
        (c.rule.as_deref(), c.category.as_str()),
        (Some("a"), "first")
    );
    let c = rules.classify(&input("y", ""));
    assert_eq!(
        (c.rule.as_deref(), c.category.as_str()),
        (Some("c"), "third")
    );
    let c = rules.classify(&input("z", ""));
    assert_eq!(
        c,
        Classification {
            rule: None,
            category: "general".into(),
            priority: Priority::Normal,
            assignee: None,
            due: None,
            tags: vec![],
        }
    );
}

#[test]
fn continue_rules_add_tags_and_defaults() {
    let rules = set(&[(
        "r.toml",
        r#"
[[rule]]
name = "urgent"
match.subject = '(?i)urgent'
priority = "urgent"
assign = "Ali@VA.example"
due = "4 business hours"
tags = ["urgent", "x"]
continue = true

[[rule]]
name = "vip"
match.from = '^boss@'
tags = ["vip", "x"]
continue = true

[[rule]]
name = "invoice"
match.subject = '(?i)invoice'
category = "bookkeeping"
due = "2 business days"
tags = ["finance"]

[[rule]]
name = "invoice-high"
match.subject = '(?i)invoice'
category = "never"
priority = "high"
"#,
    )]);
    let c = rules.classify(&input("URGENT invoice", ""));
    assert_eq!(c.rule.as_deref(), Some("invoice"));
    assert_eq!(c.category, "bookkeeping");
    assert_eq!(
        c.priority,
        Priority::Urgent,
        "the classifying rule sets no priority"
    );
    assert_eq!(c.assignee.as_deref(), Some("ali@va.example"));
    assert_eq!(
        c.due,
        Some(DueSpec::BusinessDays(2)),
        "the classifying rule overrides due"
    );
    assert_eq!(c.tags, vec!["urgent", "x", "vip", "finance"]);
    // Continue rules alone do not classify.
    let c = rules.classify(&input("urgent: call me", ""));
    assert_eq!(
        (c.rule, c.category.as_str(), c.priority),
        (None, "general", Priority::Urgent)
    );
    assert_eq!(c.tags, vec!["urgent", "x", "vip"]);
}

#[test]
fn classifying_rule_overrides_continue_priority() {
    let rules = set(&[(
        "r.toml",
        "[[rule]]\nname = \"u\"\nmatch.subject = 'u'\npriority = \"urgent\"\ncontinue = true\n\
         [[rule]]\nname = \"low\"\nmatch.subject = 'u'\ncategory = \"c\"\npriority = \"low\"\n",
    )]);
    assert_eq!(rules.classify(&input("u", "")).priority, Priority::Low);
}

#[test]
fn contract_filter_and_multi_key_rules() {
    let rules = set(&[(
        "r.toml",
        r#"
[[rule]]
name = "acme-only"
contract = "acme"
match.subject = 'report'
category = "acme-reports"

[[rule]]
name = "supplier-invoices"
match.subject = '(?i)invoice'
match.original_from = '@supplier\.example$'
match.to = '^billing@'
category = "supplier"

[[rule]]
name = "list"
match.header."List-Id" = 'news\.example'
match.cc = '^ali@'
category = "lists"

[[rule]]
name = "catch-all"
category = "other"
"#,
    )]);
    let mut i = input("report", "");
    assert_eq!(rules.classify(&i).rule.as_deref(), Some("acme-only"));
    i.contract = "beta";
    assert_eq!(rules.classify(&i).rule.as_deref(), Some("catch-all"));

    let to = vec![
        "sara@va.example".to_string(),
        "billing@acme.example".to_string(),
    ];
    let mut i = input("Invoice 42", "");
    i.to = &to;
    assert_eq!(
        rules.classify(&i).rule.as_deref(),
        Some("catch-all"),
        "original_from missing"
    );
    i.original_from = "ar@supplier.example";
    assert_eq!(
        rules.classify(&i).rule.as_deref(),
        Some("supplier-invoices")
    );
    i.to = &[];
    assert_eq!(
        rules.classify(&i).rule.as_deref(),
        Some("catch-all"),
        "to must match too"
    );

    let headers = vec![("list-id".to_string(), "<weekly.news.example>".to_string())];
    let cc = vec!["ali@va.example".to_string()];
    let mut i = input("hello", "");
    i.headers = &headers;
    assert_eq!(
        rules.classify(&i).rule.as_deref(),
        Some("catch-all"),
        "cc must match too"
    );
    i.cc = &cc;
    assert_eq!(rules.classify(&i).rule.as_deref(), Some("list"));
}

#[test]
fn arabic_patterns_match_inside_words() {
    let rules = set(&[(
        "r.toml",
        "[[rule]]\nname = \"inv\"\nmatch.body = 'فاتور[ةه]|[إا]يصال'\ncategory = \"bookkeeping\"\n",
    )]);
    for body in [
        "أرجو إرسال الفاتورة اليوم",
        "مرفق بفاتورة الشهر",
        "وفاتوره أخرى",
        "هذا ايصال الدفع",
        "Please see the attached فاتورة.",
    ] {
        assert_eq!(
            rules.classify(&input("", body)).category,
            "bookkeeping",
            "{body}"
        );
    }
    assert_eq!(
        rules.classify(&input("", "موعد الاجتماع غدا")).category,
        "general"
    );
}

#[test]
fn example_rules_classify_typical_requests() {
    let rules = examples();
    assert!(rules.len() >= 15, "{}", rules.len());
    let cases = [
        ("Fwd: Invoice #4411 from Supplier", "", "bookkeeping"),
        ("إرسال الفاتورة للعميل", "", "bookkeeping"),
        (
            "Fwd: hello",
            "Please pay this, the amount due is 300 SAR",
            "bookkeeping",
        ),
        ("Fwd:", "مرفق ايصال التحويل", "bookkeeping"),
        ("Can you set a meeting with Omar?", "", "scheduling"),
        ("تحديد موعد مع الطبيب", "", "scheduling"),
        ("اجتماع الفريق الأسبوعي", "", "scheduling"),
        ("Fwd: Invitation: Q4 review @ Tue 10am", "", "scheduling"),
        ("New Instagram post for Ramadan", "", "social-media"),
        ("منشور جديد على انستقرام", "", "social-media"),
        ("The website is down", "", "website"),
        ("تحديث صفحة المتجر", "", "website"),
        ("Add these leads to the CRM", "", "data-entry"),
        ("إدخال بيانات العملاء في الإكسل", "", "data-entry"),
        ("Book a flight to Dubai", "", "travel"),
        ("حجز فندق في جدة", "", "travel"),
        ("Lunch?", "see you", "general"),
    ];
    for (subject, body, category) in cases {
        assert_eq!(
            rules.classify(&input(subject, body)).category,
            category,
            "{subject} / {body}"
        );
    }
    let c = rules.classify(&input("عاجل: الفاتورة", ""));
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("bookkeeping", Priority::Urgent)
    );
    assert_eq!(c.tags, vec!["urgent", "finance"]);
    let c = rules.classify(&input("URGENT - flight change", ""));
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("travel", Priority::Urgent)
    );
    let c = rules.classify(&input("hello", "asap please\nthanks"));
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("general", Priority::Urgent)
    );
    let headers = vec![("X-Priority".to_string(), "1 (Highest)".to_string())];
    let mut i = input("Book a hotel", "");
    i.headers = &headers;
    let c = rules.classify(&i);
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("travel", Priority::High)
    );
    assert_eq!(c.tags, vec!["flagged", "travel"]);
}

#[test]
fn errors_name_file_line_and_fix() {
    let text = r#"[[rule]]
name = "bad-regex"
match.subject = '(unclosed'
category = "x"

[[rule]]
name = "typo"
match.subjcet = 'x'
categroy = "x"

[[rule]]
match.subject = 'x'
category = "x"

[[rule]]
name = "no-category"
match.body = 'x'

[[rule]]
name = "bad-priority"
category = "x"
priority = "critical"

[[rule]]
name = "bad-priority"
category = "x"
due = "soon"
assign = "nobody"

[[rule]]
name = "cont"
category = "x"
continue = true
"#;
    let errs = errors(text);
    assert_error(
        &errs,
        3,
        &["rule `bad-regex`", "not a valid regex", "unclosed group"],
    );
    assert_error(
        &errs,
        8,
        &["unknown key `subjcet`", "did you mean `subject`?"],
    );
    assert_error(
        &errs,
        9,
        &["unknown key `categroy`", "did you mean `category`?"],
    );
    assert_error(&errs, 11, &["has no name", "name = "]);
    assert_error(
        &errs,
        15,
        &["rule `no-category` has no category", "continue = true"],
    );
    assert_error(
        &errs,
        22,
        &["unknown priority `critical`", "low, normal, high or urgent"],
    );
    assert_error(
        &errs,
        25,
        &[
            "duplicate rule name `bad-priority`",
            "first defined at r.toml:19",
        ],
    );
    assert_error(&errs, 27, &["due \"soon\""]);
    assert_error(&errs, 28, &["assign = \"nobody\"", "sara@va.example"]);
    assert_error(&errs, 32, &["continue rule does not classify"]);
    let errs = errors("[rule]\nname = \"x\"\ncategory = \"y\"\n");
    assert_error(&errs, 1, &["[[rule]] (double brackets)"]);
    let errs = errors("[[rules]]\nname = \"x\"\n");
    assert_error(&errs, 1, &["unknown key `rules`", "did you mean [[rule]]?"]);
    let errs = errors("[[rule]]\nname = \"x\"\ncategory = 'y\n");
    assert_error(&errs, 3, &["TOML syntax"]);
    let errs = errors("[[rule]]\nname = \"x\"\ncategory = \"y\"\nmatch.header.\"List-Id\" = '['\n");
    assert_error(&errs, 4, &["match.header is not a valid regex"]);
}

#[test]
fn a_pattern_too_large_to_compile_is_named_with_its_line() {
    // Valid syntax, but over the regex size limit once compiled: found only when the
    // patterns are compiled, after the files are read, and still placed.
    for pattern in [r"\w{3000}", r"\b\w{3000}\b"] {
        let errs = errors(&format!(
            "[[rule]]\nname = \"small\"\nmatch.body = 'x'\ncategory = \"y\"\n\n\
             [[rule]]\nname = \"big\"\nmatch.body = '{pattern}'\ncategory = \"y\"\n"
        ));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_error(
            &errs,
            8,
            &["rule `big`: match.body is not a valid regex", "size limit"],
        );
    }
}

#[test]
fn more_error_paths() {
    let cases: [(&str, usize, &[&str]); 6] = [
        (
            "[[rule]]\nname = \" \"\ncategory = \"x\"\n",
            2,
            &["name is empty"],
        ),
        (
            "[[rule]]\nname = \"a\"\ncategory = \"\"\n",
            3,
            &["rule `a`: category is empty"],
        ),
        (
            "[[rule]]\nname = \"a\"\ncategory = \"x\"\ntags = [\"\"]\n",
            4,
            &["a tag is empty"],
        ),
        (
            "[[rule]]\nname = \"a\"\ncategory = \"x\"\nmatch.sender = 'x'\n",
            4,
            &["unknown key `sender`", "the keys here are from"],
        ),
        (
            "[[rule]]\nname = \"a\"\ncategory = \"x\"\ncontinue = \"yes\"\n",
            4,
            &["continue", "expected true or false"],
        ),
        ("rule = [1]\n", 1, &["[[rule]] must be a table"]),
    ];
    for (text, line, hints) in cases {
        assert_error(&errors(text), line, hints);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), b"\xff\xfe").unwrap();
    let err = RuleSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("bad.toml:1: not UTF-8 text"), "{err}");
}

#[test]
fn duplicate_names_across_files_and_unknown_contracts() {
    let err = RuleSet::from_files(&[
        ("a.toml", "[[rule]]\nname = \"x\"\ncategory = \"c\"\n"),
        ("b.toml", "\n[[rule]]\nname = \"x\"\ncategory = \"c\"\n"),
    ])
    .unwrap_err();
    assert!(
        err.errors
            .iter()
            .any(|e| e.starts_with("b.toml:3:") && e.contains("a.toml:1")),
        "{err}"
    );
    let rules = set(&[(
        "a.toml",
        "[[rule]]\nname = \"x\"\ncontract = \"acmee\"\ncategory = \"c\"\n",
    )]);
    let err = rules.check_contracts(["acme", "beta"]).unwrap_err();
    assert!(
        err.errors
            .iter()
            .any(|e| e.starts_with("a.toml:1:") && e.contains("did you mean `acme`?")),
        "{err}"
    );
    assert!(set(&[(
        "a.toml",
        "[[rule]]\nname = \"x\"\ncontract = \"acme\"\ncategory = \"c\"\n"
    )])
    .check_contracts(["acme"])
    .is_ok());
}

#[test]
fn load_reads_toml_files_in_name_order_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20-b.toml"),
        "[[rule]]\nname = \"b\"\nmatch.subject = 'x'\ncategory = \"b\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("10-a.toml"),
        "[[rule]]\nname = \"a\"\nmatch.subject = 'x'\ncategory = \"a\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "not a rule file").unwrap();
    let rules = RuleSet::load(dir.path()).unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules.classify(&input("x", "")).category, "a");
    std::fs::write(
        dir.path().join("30-c.toml"),
        "[[rule]]\nname = \"c\"\nnope = 1\ncategory = \"c\"\n",
    )
    .unwrap();
    let err = RuleSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("30-c.toml:3: unknown key `nope`"), "{err}");
    let missing = RuleSet::load(&dir.path().join("none"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("cannot read the rules directory"),
        "{missing}"
    );
}
