use super::*;

#[test]
fn only_the_last_ten_references_are_copied_in_order() {
    let thread: Vec<String> = (0..50_000).map(|i| format!("id{i}@x.example")).collect();
    let refs = references(&thread);
    assert_eq!(refs.len(), MAX_REFERENCES);
    assert_eq!(refs.first().copied(), Some("id49990@x.example"));
    assert_eq!(refs.last().copied(), Some("id49999@x.example"));
    let short = vec!["a@x".to_string(), "b@x".to_string()];
    assert_eq!(references(&short), vec!["a@x", "b@x"]);
}

#[test]
fn an_overlong_or_empty_message_id_is_not_copied() {
    let thread = vec![
        "first@x".to_string(),
        "x".repeat(1_000_000),
        String::new(),
        "last@x".to_string(),
    ];
    assert_eq!(references(&thread), vec!["first@x", "last@x"]);
}
