//! Arbitrary TOML text as a rule file: an error with a location, never a panic; a rule set
//! that loads classifies a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musaid::rules::{RuleInput, RuleSet};

fuzz_target!(|text: &str| {
    if let Ok(rules) = RuleSet::from_files(&[("fuzz.toml", text)]) {
        let to = vec!["tasks@va.example".to_string()];
        let headers = vec![("List-Id".to_string(), "<x.example>".to_string())];
        let _ = rules.classify(&RuleInput {
            contract: "acme",
            from: "boss@acme.example",
            to: &to,
            cc: &[],
            subject: "Fwd: فاتورة invoice 42",
            body: "Please pay the invoice.\nشكرا",
            original_from: "billing@supplier.example",
            headers: &headers,
        });
    }
});
