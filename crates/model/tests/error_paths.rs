//! `DynamicObject::to_typed` names the field of a bad value from the error's position in
//! the text (crates/model/src/error_path.rs). This compares it with `serde_path_to_error`,
//! which tracks the path while deserializing, on objects of every kind from the upstream
//! fixtures, broken in every place: each value (and array element) replaced with a value
//! of another type, each field removed, an unknown field added to each object. Both must
//! accept the same objects, and refuse the others with the same path and message.

mod common;

use std::path::Path;

use ironbell_model::{DynamicObject, Object, parse_documents};
use serde_json::{Value, json};

/// The reference: `serde_path_to_error` on the same text, for the object's kind.
macro_rules! reference {
    ($obj:expr, $($ty:ty),* $(,)?) => {{
        let obj: &DynamicObject = $obj;
        let text = obj.to_json().expect("to json");
        let mut found = None;
        $(
            if obj.types.api_version == <$ty as ironbell_model::Resource>::API_VERSION
                && obj.types.kind == <$ty as ironbell_model::Resource>::KIND
            {
                let mut de = serde_json::Deserializer::from_str(&text);
                found = Some(
                    serde_path_to_error::deserialize::<_, $ty>(&mut de)
                        .map(|_| ())
                        .map_err(|e| (e.path().to_string(), e.into_inner().to_string())),
                );
            }
        )*
        found
    }};
}

type Outcome = Result<(), (String, String)>;

fn reference(obj: &DynamicObject) -> Option<Outcome> {
    use ironbell_model::{anywhere, bmc, corev1, tinkerbell};
    reference!(
        obj,
        tinkerbell::Hardware,
        tinkerbell::Template,
        tinkerbell::Workflow,
        bmc::Machine,
        bmc::Job,
        bmc::Task,
        corev1::Secret,
        anywhere::Cluster,
        anywhere::TinkerbellDatacenterConfig,
        anywhere::TinkerbellMachineConfig,
        anywhere::TinkerbellTemplateConfig,
        anywhere::OIDCConfig,
        anywhere::AWSIamConfig,
        anywhere::DockerDatacenterConfig,
        anywhere::VSphereDatacenterConfig,
        anywhere::VSphereMachineConfig,
        anywhere::CloudStackDatacenterConfig,
        anywhere::CloudStackMachineConfig,
        anywhere::NutanixDatacenterConfig,
        anywhere::NutanixMachineConfig,
        anywhere::SnowDatacenterConfig,
        anywhere::SnowMachineConfig,
        anywhere::SnowIPPool,
        anywhere::GitOpsConfig,
        anywhere::FluxConfig,
    )
}

/// JSON pointers of every value under the top-level fields other than `apiVersion`,
/// `kind` and `metadata` (which are read before `to_typed`).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    if !at.is_empty() {
        out.push(at.clone());
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if at.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every broken variant of `object`.
fn mutations(object: &Value) -> Vec<Value> {
    let mut at = Vec::new();
    pointers(object, String::new(), &mut at);
    let mut out = Vec::new();
    for p in &at {
        let original = object.pointer(p).expect("pointer");
        let others: &[Value] = match original {
            Value::String(_) => &[json!(12345), json!({"x": 1})],
            Value::Number(_) => &[json!("text"), json!(-1), json!(1.5)],
            Value::Bool(_) => &[json!("true")],
            Value::Object(_) => &[json!("text"), json!([1])],
            Value::Array(_) => &[json!("text"), json!({"x": 1})],
            Value::Null => &[json!([])],
        };
        for other in others {
            let mut m = object.clone();
            *m.pointer_mut(p).expect("pointer") = other.clone();
            out.push(m);
        }
        // Removed, and an unknown field beside the others.
        let (parent, last) = p.rsplit_once('/').expect("a pointer has a slash");
        let mut m = object.clone();
        let removed = match m.pointer_mut(parent) {
            Some(Value::Object(map)) => map.remove(&last.replace("~1", "/").replace("~0", "~")),
            _ => None,
        };
        if removed.is_some() {
            out.push(m);
        }
        if let Value::Object(_) = original {
            let mut m = object.clone();
            if let Some(Value::Object(map)) = m.pointer_mut(p) {
                map.insert("notAFieldOfThis".into(), json!(1));
            }
            out.push(m);
        }
    }
    out
}

/// A Secret's messages are redacted (no value quoted): compare their paths only.
fn redacted(outcome: Outcome, secret: bool) -> Outcome {
    outcome.map_err(|(path, message)| (path, if secret { String::new() } else { message }))
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn paths_from_positions_equal_serde_path_to_error_on_broken_fixtures() {
    let mut files = Vec::new();
    yaml_files(&common::conformance_dir(), &mut files);
    files.sort();
    // The Tinkerbell and Rufio kinds: one object with every CRD property each.
    let mut sources: Vec<(String, Vec<Object>)> = common::tinkerbell_crd_samples()
        .into_iter()
        .map(|(file, obj)| {
            let text = serde_json::to_string(&obj).expect("json");
            (file.to_string(), parse_documents(&text).expect("parses"))
        })
        .collect();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        // Document by document, and item by item of a list: a file may hold kinds of
        // other projects, or a bad object among good ones.
        let objects = text
            .split("\n---")
            .flat_map(
                |doc| match serde_yaml_ng::from_str::<Vec<serde_yaml_ng::Value>>(doc) {
                    Ok(items) => items
                        .iter()
                        .filter_map(|i| serde_yaml_ng::to_string(i).ok())
                        .collect(),
                    Err(_) => vec![doc.to_string()],
                },
            )
            .filter_map(|doc| parse_documents(&doc).ok())
            .flatten()
            .collect();
        sources.push((file.display().to_string(), objects));
    }
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let (mut refused, mut accepted) = (0, 0);
    for (file, objects) in &sources {
        for obj in objects {
            let dynamic = obj.to_dynamic().expect("to dynamic");
            // Each kind's first three objects are enough to reach its fields.
            let seen = kinds.entry(dynamic.types.kind.clone()).or_default();
            if *seen >= 3 {
                continue;
            }
            *seen += 1;
            let value: Value =
                serde_json::from_str(&dynamic.to_json().expect("json")).expect("parses");
            for broken in mutations(&value) {
                let text = serde_json::to_string(&broken).expect("serializes");
                let Ok(d) = DynamicObject::from_json(&text) else {
                    continue;
                };
                let want = reference(&d).expect("a known kind");
                let got = Object::from_dynamic(&d)
                    .map(|o| assert!(o.is_some()))
                    .map_err(|e| (e.path, e.message));
                let secret = d.types.kind == "Secret";
                if want.is_ok() {
                    accepted += 1;
                } else {
                    refused += 1;
                }
                assert_eq!(
                    redacted(got, secret),
                    redacted(want, secret),
                    "{file}: {} {:?}: {text}",
                    d.types.kind,
                    d.metadata.name
                );
            }
        }
    }
    eprintln!(
        "{} kinds, {refused} broken objects refused and {accepted} accepted by both: {kinds:?}",
        kinds.len()
    );
    assert!(kinds.len() >= 20, "{kinds:?}");
    assert!(refused > 1000, "{refused}");
}
