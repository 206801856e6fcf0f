//! Arbitrary text as an Authentication-Results header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use musaid::mail::{auth, Address, Message};

fuzz_target!(|text: &str| {
    let _ = auth::parse(text);
    let msg = Message {
        from: Some(Address {
            name: None,
            email: "boss@acme.example".into(),
        }),
        headers: vec![
            ("Authentication-Results".into(), text.into()),
            ("From".into(), "boss@acme.example".into()),
        ],
        ..Message::default()
    };
    let _ = auth::sender_authenticated(&msg, "mx.va.example");
    if let Some((a, b)) = text.split_once(' ') {
        let _ = auth::aligned(a, b);
    }
});
