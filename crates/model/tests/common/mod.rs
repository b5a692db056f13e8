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

/// One object of each v1alpha1 Tinkerbell and Rufio CRD (Hardware, Template, Workflow,
/// Machine, Job, Task) with every property of its schema filled in, named by its CRD file.
pub fn tinkerbell_crd_samples() -> Vec<(&'static str, Value)> {
    let dir = conformance_dir().join("tinkerbell-9111b51/crd/bases/v1alpha1");
    let mut out = Vec::new();
    for file in [
        "tinkerbell.org_hardware.yaml",
        "tinkerbell.org_templates.yaml",
        "tinkerbell.org_workflows.yaml",
        "bmc.tinkerbell.org_machines.yaml",
        "bmc.tinkerbell.org_jobs.yaml",
        "bmc.tinkerbell.org_tasks.yaml",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("CRD readable");
        let crd: Value = serde_yaml_ng::from_str(&text).expect("CRD parses");
        let group = crd["spec"]["group"].as_str().expect("group");
        let kind = crd["spec"]["names"]["kind"].as_str().expect("kind");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1", "{file}");
        let mut obj = sample(&version["schema"]["openAPIV3Schema"]);
        obj["apiVersion"] = format!("{group}/v1alpha1").into();
        obj["kind"] = kind.into();
        obj["metadata"] = serde_json::json!({ "name": "everything", "namespace": "default" });
        out.push((file, obj));
    }
    out
}

/// A value for `schema` with every property filled in (one entry per map, one item per
/// list), so that a typed kind missing or misnaming any CRD property fails to parse.
pub fn sample(schema: &serde_json::Value) -> serde_json::Value {
    sample_named("", schema)
}

/// A valid string for a property ironbell keeps as a typed value (an address, a mask, a
/// network, a time), where the CRD says only `type: string`.
fn typed_string(key: &str, schema: &serde_json::Value) -> Option<&'static str> {
    if schema.get("type").and_then(serde_json::Value::as_str) != Some("string") {
        return None;
    }
    if schema.get("format").and_then(serde_json::Value::as_str) == Some("date-time") {
        return Some("2024-01-02T03:04:05Z");
    }
    Some(match key {
        "mac" => "00:50:56:aa:bb:01",
        "address" => "10.0.0.11",
        "netmask" => "255.255.255.0",
        "gateway" => "10.0.0.1",
        "router" => "10.0.0.254",
        "destination_descriptor" => "10.1.0.0/16",
        "name_servers" | "time_servers" => "1.1.1.1",
        _ => return None,
    })
}

fn sample_named(key: &str, schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        return Value::Object(
            props
                .iter()
                .map(|(k, s)| (k.clone(), sample_named(k, s)))
                .collect(),
        );
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        return json!({ "key": sample(extra) });
    }
    if let Some(typed) = typed_string(key, schema) {
        return json!(typed);
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return json!(1);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => json!({}),
        Some("array") => json!([sample_named(key, &schema["items"])]),
        Some("integer") => json!(1),
        Some("boolean") => json!(true),
        Some("string") => json!("x"),
        other => panic!("unexpected schema type {other:?} in {schema}"),
    }
}
