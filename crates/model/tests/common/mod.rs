//! Helpers shared by the fixture tests: locate `../shared/conformance` and check that a file
//! parses and re-serializes to the same data.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ironbell_model::parse_documents;
use serde::Deserialize;
use serde_json::Value;

/// `../shared/conformance` beside the repository.
pub fn conformance_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    assert!(
        dir.is_dir(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        dir.display()
    );
    dir
}

/// Drops `null` values (and maps left empty only by that) so that an absent field and an
/// explicit `null` compare equal.
pub fn normalize(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, normalize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// The objects of a YAML stream as plain JSON values: documents in order, sequence documents
/// and `List`s flattened into their items.
pub fn raw_objects(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let v: Value = Value::deserialize(de).expect("YAML parses");
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items),
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                out.extend(m["items"].as_array().cloned().unwrap_or_default())
            }
            other => out.push(other),
        }
    }
    out
}

/// Parses `path` into typed objects, serializes each again, and asserts the data is the same
/// as in the file. Returns the number of objects checked.
pub fn assert_round_trip(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let objects = parse_documents(&text)
        .unwrap_or_else(|e| panic!("{} does not parse:\n{e}", path.display()));
    let raw = raw_objects(&text);
    assert_eq!(objects.len(), raw.len(), "{}: object count", path.display());
    for (i, (obj, want)) in objects.iter().zip(raw).enumerate() {
        let got = normalize(serde_json::to_value(obj).expect("serializes"));
        let want = normalize(want);
        if got != want {
            panic!(
                "{} object {}: round trip differs\n--- file:\n{}\n--- ironbell:\n{}",
                path.display(),
                i + 1,
                serde_json::to_string_pretty(&want).unwrap_or_default(),
                serde_json::to_string_pretty(&got).unwrap_or_default(),
            );
        }
    }
    objects.len()
}
