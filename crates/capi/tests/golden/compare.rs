//! Compare YAML manifests as data: both sides parsed (multi-document), document by
//! document; strings that hold YAML mappings or sequences (a `templateOverride`, a file's
//! content) are compared parsed too. A difference is reported with its document (index, kind,
//! name) and field path.

use serde_yaml_ng::Value;

/// One difference between the expected and the rendered manifests.
#[derive(Debug, Clone)]
pub struct Diff {
    /// `doc 2 (KubeadmControlPlane test)`.
    pub document: String,
    /// `.spec.kubeadmConfigSpec.files[1].content`.
    pub path: String,
    /// What the golden has.
    pub expected: String,
    /// What was rendered.
    pub got: String,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: expected {}, got {}",
            self.document, self.path, self.expected, self.got
        )
    }
}

/// Parse a multi-document YAML stream, dropping empty documents and parsing embedded YAML.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v: Value =
            serde::Deserialize::deserialize(de).map_err(|e| format!("document {i}: {e}"))?;
        if !v.is_null() {
            docs.push(normalize(v));
        }
    }
    Ok(docs)
}

/// Replace strings that are YAML mappings or sequences (multi-line, or flow-style) by their
/// parsed value, recursively.
fn normalize(v: Value) -> Value {
    match v {
        Value::Mapping(m) => {
            Value::Mapping(m.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(normalize).collect()),
        Value::String(s) => match serde_yaml_ng::from_str::<Value>(&s) {
            Ok(parsed @ (Value::Mapping(_) | Value::Sequence(_))) => normalize(parsed),
            _ => match parse_stream(&s) {
                Some(docs) => Value::Sequence(docs),
                None => Value::String(s),
            },
        },
        Value::Tagged(t) => normalize(t.value),
        other => other,
    }
}

/// A string holding a YAML stream of several mapping documents (`---` separated: a manifest
/// bundle, such as the ones a `ConfigMap` carries to a workload cluster), as its parsed
/// non-empty documents; `None` for anything else.
fn parse_stream(s: &str) -> Option<Vec<Value>> {
    if !s.lines().any(|l| l.trim_end() == "---") {
        return None;
    }
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(s) {
        match serde::Deserialize::deserialize(de) {
            Ok(Value::Null) => {}
            Ok(v @ Value::Mapping(_)) => docs.push(normalize(v)),
            _ => return None,
        }
    }
    (docs.len() > 1).then_some(docs)
}

fn label(doc: &Value) -> String {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind} {name}")
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_string(),
        Some(v) => {
            let s = serde_yaml_ng::to_string(v).unwrap_or_default();
            let s = s.trim_end();
            if s.len() > 160 {
                format!(
                    "{}…",
                    &s[..s.char_indices().nth(160).map_or(s.len(), |(i, _)| i)]
                )
            } else {
                s.replace('\n', "⏎")
            }
        }
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => show(Some(other)),
    }
}

fn walk(doc: &str, path: &str, expected: Option<&Value>, got: Option<&Value>, out: &mut Vec<Diff>) {
    match (expected, got) {
        (Some(Value::Mapping(e)), Some(Value::Mapping(g))) => {
            for (k, ev) in e {
                walk(
                    doc,
                    &format!("{path}.{}", key_text(k)),
                    Some(ev),
                    g.get(k),
                    out,
                );
            }
            for (k, gv) in g {
                if !e.contains_key(k) {
                    walk(doc, &format!("{path}.{}", key_text(k)), None, Some(gv), out);
                }
            }
        }
        (Some(Value::Sequence(e)), Some(Value::Sequence(g))) => {
            for i in 0..e.len().max(g.len()) {
                walk(doc, &format!("{path}[{i}]"), e.get(i), g.get(i), out);
            }
        }
        (e, g) if e == g => {}
        (e, g) => out.push(Diff {
            document: doc.to_string(),
            path: if path.is_empty() {
                ".".into()
            } else {
                path.to_string()
            },
            expected: show(e),
            got: show(g),
        }),
    }
}

/// All differences between two parsed streams, document by document.
pub fn diff_documents(expected: &[Value], got: &[Value]) -> Vec<Diff> {
    let mut out = Vec::new();
    for i in 0..expected.len().max(got.len()) {
        let doc = format!(
            "doc {i} ({})",
            expected
                .get(i)
                .or(got.get(i))
                .map(label)
                .unwrap_or_default()
        );
        walk(&doc, "", expected.get(i), got.get(i), &mut out);
    }
    out
}

/// Whether `expected` is a subset of `got`: every key of a mapping present with a subset
/// value, every element of a sequence a subset of some element (EKS Anywhere's
/// `AssertYAMLSubset`).
pub fn is_subset(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Mapping(e), Value::Mapping(g)) => e
            .iter()
            .all(|(k, ev)| g.get(k).is_some_and(|gv| is_subset(ev, gv))),
        (Value::Sequence(e), Value::Sequence(g)) => {
            e.iter().all(|ev| g.iter().any(|gv| is_subset(ev, gv)))
        }
        (e, g) => e == g,
    }
}
