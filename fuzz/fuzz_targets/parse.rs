//! Arbitrary bytes through the mail parser: it must never panic, hang or blow up.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = musaid::mail::parse(data) {
        // What decide reads next must hold up too.
        let _ = musaid::mail::auto::classify(&msg, "tasks@va.example");
        let _ = musaid::mail::auth::sender_authenticated(&msg, "mx.va.example");
        let _ = musaid::decide::original_key(&msg);
    }
});
