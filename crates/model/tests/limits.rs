//! Secret values never appear in parse errors, and the object size limit is enforced by
//! document parsing (the function `ironbell apply` calls).

use ironbell_model::corev1::Secret;
use ironbell_model::{DynamicObject, MAX_INPUT_BYTES, MAX_OBJECT_BYTES, TypeKey, parse_documents};

fn secret_doc(data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: bmc-auth, namespace: eksa-system}}\n{data}\n"
    )
}

fn parse_error(text: &str) -> String {
    match parse_documents(text) {
        Ok(objs) => panic!("expected an error, got {} objects", objs.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_non_string_secret_value_is_not_echoed() {
    let msg = parse_error(&secret_doc("data: {password: [1,2]}"));
    assert!(msg.contains("data.password"), "{msg}");
    assert!(msg.contains("expected a base64-encoded string"), "{msg}");
    assert!(!msg.contains("1,") && !msg.contains('2'), "{msg}");
}

#[test]
fn wrong_types_in_string_data_name_the_path_not_the_value() {
    for (doc, value) in [
        ("stringData: {password: 987654321}", "987654321"),
        ("stringData: {password: 3.14159}", "3.14159"),
        ("stringData: {password: [hunter2]}", "hunter2"),
        ("stringData: {password: {pw: hunter2}}", "hunter2"),
        ("stringData: hunter2-secret", "hunter2"),
        ("data: {password: 424242}", "424242"),
        ("data: hunter2-secret", "hunter2"),
        ("data: {password: \"hunter2!!\"}", "!"),
        ("data: {password: \"aHVudGVyMg\"}", "aHVudGVyMg"),
        ("type: [hunter2]", "hunter2"),
    ] {
        let msg = parse_error(&secret_doc(doc));
        assert!(!msg.contains(value), "{doc}: {msg}");
        assert!(msg.contains("field `"), "{doc}: {msg}");
    }
}

#[test]
fn non_secret_errors_keep_the_value() {
    let text = "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata: {name: h}\nspec: {disks: 42}\n";
    let msg = parse_error(text);
    assert!(msg.contains("42"), "{msg}");
}

#[test]
fn stored_secret_conversion_errors_hide_the_value() {
    let text = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"},"stringData":{"password":918273645}}"#;
    let obj = DynamicObject::from_json(text).expect("dynamic");
    assert_eq!(obj.types, TypeKey::of::<Secret>());
    let err = obj
        .to_typed::<Secret>()
        .expect_err("wrong type")
        .to_string();
    assert!(err.contains("stringData.password"), "{err}");
    assert!(!err.contains("918273645"), "{err}");
}

fn big_secret(bytes: usize) -> String {
    // base64 of `bytes` zero bytes, as `data.blob`.
    let b64 = "A".repeat(bytes / 3 * 4);
    secret_doc(&format!("data:\n  blob: {b64}"))
}

#[test]
fn a_two_megabyte_secret_is_refused_and_a_one_megabyte_one_accepted() {
    let msg = parse_error(&big_secret(2 * 1024 * 1024));
    assert!(msg.contains("over the limit of 1572864 bytes"), "{msg}");
    assert!(msg.contains("Secret \"bmc-auth\""), "{msg}");
    let ok = parse_documents(&big_secret(1024 * 1024)).expect("1 MiB accepted");
    assert_eq!(ok.len(), 1);
}

#[test]
fn the_limit_is_per_object_not_per_stream() {
    let one = big_secret(1024 * 1024);
    let text = format!("{one}---\n{one}");
    assert!(text.len() > MAX_OBJECT_BYTES);
    assert_eq!(parse_documents(&text).expect("two objects").len(), 2);
}

#[test]
fn the_whole_input_is_bounded_before_parsing() {
    // Not YAML at all: refused on its size alone.
    let text = "{".repeat(MAX_INPUT_BYTES + 1);
    let msg = parse_error(&text);
    assert!(msg.contains("over the limit"), "{msg}");
    let read = ironbell_model::read_input(text.as_bytes(), "standard input");
    let err = read.expect_err("too large").to_string();
    assert!(err.contains("standard input is larger than"), "{err}");
    let small = ironbell_model::read_input(&b"kind: x"[..], "f").expect("small input");
    assert_eq!(small, "kind: x");
}
