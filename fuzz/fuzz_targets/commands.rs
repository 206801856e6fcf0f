//! Arbitrary text through the VA command grammar.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for c in musaid::commands::parse(text) {
        let _ = c.command.to_string();
    }
});
