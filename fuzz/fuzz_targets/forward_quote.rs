//! Arbitrary text through forward detection and quote cutting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musaid::mail::{forward, quote};

fuzz_target!(|text: &str| {
    let _ = forward::find_inline(text);
    let _ = forward::find_inline_in(text, Some("Fwd: x"), false);
    let _ = forward::find_inline_in(text, Some("Re: x"), true);
    let _ = quote::new_text(text);
});
