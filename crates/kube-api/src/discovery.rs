//! Discovery (`/api`, `/api/v1`, `/apis`, `/apis/G`, `/apis/G/V`, `/version`), the
//! `CustomResourceDefinition` of every kind, and `Table` responses from the printer columns.
//!
//! Only the legacy discovery documents are served: kubectl asks for the aggregated
//! discovery (`apidiscovery.k8s.io/v2`) first and, answered with a plain `APIGroupList`,
//! falls back to reading each group version, as against an API server before 1.26.

use std::collections::BTreeMap;

use ironbell_model::columns::{ColumnType, PrinterColumn, printer_columns};
use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use serde_json::{Value, json};

use crate::paging::ListMeta;

/// The group of `CustomResourceDefinition`s.
pub const CRD_GROUP_VERSION: &str = "apiextensions.k8s.io/v1";

/// Every verb a resource takes.
const VERBS: [&str; 7] = [
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// The category `kubectl get CATEGORY` lists a kind under.
fn categories(kind: &KindInfo) -> Vec<&'static str> {
    match kind.group() {
        "tinkerbell.org" | "bmc.tinkerbell.org" => vec!["tinkerbell"],
        "anywhere.eks.amazonaws.com" => vec!["anywhere"],
        g if g.ends_with("cluster.x-k8s.io") => vec!["cluster-api"],
        _ => vec![],
    }
}

/// A kind's singular name (its kind in lower case) and its short names (the aliases that
/// are neither).
fn names(kind: &KindInfo) -> (String, Vec<&'static str>) {
    let singular = kind.kind.to_ascii_lowercase();
    let short = kind
        .aliases
        .iter()
        .copied()
        .filter(|a| *a != singular && *a != kind.plural)
        .collect();
    (singular, short)
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": concat!("v1.33.0-ironbell.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
}

/// The groups of `kinds` (not the core group), each with its versions, in registration
/// order, then `apiextensions.k8s.io`.
fn groups(kinds: &KindRegistry) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |group: &str, version: &str| match groups.iter_mut().find(|(g, _)| g == group) {
        Some((_, versions)) if !versions.iter().any(|v| v == version) => {
            versions.push(version.to_string());
        }
        Some(_) => {}
        None => groups.push((group.to_string(), vec![version.to_string()])),
    };
    for k in kinds.kinds().filter(|k| !k.group().is_empty()) {
        add(k.group(), k.version());
    }
    add("apiextensions.k8s.io", "v1");
    groups
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`.
pub fn group_list(kinds: &KindRegistry) -> Value {
    let groups: Vec<Value> = groups(kinds)
        .iter()
        .map(|(g, v)| group_json(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`, `None` for an unknown group.
pub fn group(kinds: &KindRegistry, name: &str) -> Option<Value> {
    groups(kinds).iter().find(|(g, _)| g == name).map(|(g, v)| {
        let mut value = group_json(g, v);
        value["kind"] = json!("APIGroup");
        value["apiVersion"] = json!("v1");
        value
    })
}

/// `/api/v1` or `/apis/G/V`: the resources of one group version; `None` when unknown.
pub fn resource_list(kinds: &KindRegistry, group_version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    if group_version == "v1" {
        resources.push(json!({
            "name": "namespaces", "singularName": "namespace", "namespaced": false,
            "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"],
        }));
    }
    if group_version == CRD_GROUP_VERSION {
        resources.push(json!({
            "name": "customresourcedefinitions", "singularName": "customresourcedefinition",
            "namespaced": false, "kind": "CustomResourceDefinition", "verbs": ["get", "list"],
            "shortNames": ["crd", "crds"], "categories": ["api-extensions"],
        }));
    }
    for k in kinds.kinds().filter(|k| k.api_version == group_version) {
        let (singular, short) = names(k);
        let mut r = json!({
            "name": k.plural, "singularName": singular, "namespaced": k.namespaced,
            "kind": k.kind, "verbs": VERBS,
        });
        if !short.is_empty() {
            r["shortNames"] = json!(short);
        }
        let cats = categories(k);
        if !cats.is_empty() {
            r["categories"] = json!(cats);
        }
        resources.push(r);
        resources.push(json!({
            "name": format!("{}/status", k.plural), "singularName": "",
            "namespaced": k.namespaced, "kind": k.kind, "verbs": ["get", "patch", "update"],
        }));
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": group_version, "resources": resources,
    }))
}

/// The `CustomResourceDefinition` of a kind of a non-core group: Tinkerbell's own for its
/// kinds ([`crate::crds`]), else names, scope, the status subresource and an open schema
/// (ironbell checks objects against its own types); the printer columns are ironbell's.
pub fn crd(kind: &KindInfo) -> Value {
    let (singular, short) = names(kind);
    let columns: Vec<Value> = printer_columns(kind)
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "type": c.column_type.as_str(),
                "jsonPath": c.json_path, "priority": c.priority,
            })
        })
        .collect();
    let name = format!("{}.{}", kind.plural, kind.group());
    if let Some(crd) = crate::crds::tinkerbell_crd(kind) {
        // Tinkerbell's own, with the columns ironbell shows and an Established status.
        let mut crd = crd.clone();
        if let Some(versions) = crd
            .pointer_mut("/spec/versions")
            .and_then(Value::as_array_mut)
        {
            for v in versions {
                v["additionalPrinterColumns"] = json!(columns);
            }
        }
        crd["status"] = json!({
            "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or(Value::Null),
            "storedVersions": [kind.version()],
            "conditions": [{"type": "Established", "status": "True"}],
        });
        return crd;
    }
    json!({
        "apiVersion": CRD_GROUP_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": kind.group(),
            "names": {
                "kind": kind.kind, "listKind": format!("{}List", kind.kind),
                "plural": kind.plural, "singular": singular,
                "shortNames": short, "categories": categories(kind),
            },
            "scope": if kind.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": kind.version(), "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                }},
            }],
        },
        "status": {
            "acceptedNames": {"kind": kind.kind, "plural": kind.plural},
            "storedVersions": [kind.version()],
            "conditions": [{"type": "Established", "status": "True"}],
        },
    })
}

/// How the client asked for rows: the `includeObject` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// From the query parameter.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// A `meta.k8s.io/v1` `Table` of `objects` of `kind`: `Name`, then the printer columns.
pub fn table(
    kind: &KindInfo,
    objects: &[DynamicObject],
    resource_version: Option<u64>,
    include: IncludeObject,
) -> Value {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace.",
    })];
    defs.extend(printer_columns(kind).iter().map(definition));
    let rows: Vec<Value> = objects.iter().map(|o| row(kind, o, include)).collect();
    let mut meta = BTreeMap::new();
    if let Some(rv) = resource_version {
        meta.insert("resourceVersion", rv.to_string());
    }
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
        "columnDefinitions": defs, "rows": rows,
    })
}

/// [`table`] as JSON text, each row made and written in turn: a Table of 10,000 objects
/// never holds 10,000 rows as JSON trees (about 50 MiB), only their text (about 4 MiB).
pub fn table_text(
    kind: &KindInfo,
    objects: &[DynamicObject],
    meta: &ListMeta,
    include: IncludeObject,
) -> String {
    let mut empty = table(kind, &[], None, include);
    empty["metadata"] = meta.to_json();
    let mut text = empty.to_string();
    // `rows` is the last field (sorted keys, or insertion order: both put it last).
    let Some(head) = text.strip_suffix("[]}") else {
        let mut full = table(kind, objects, None, include);
        full["metadata"] = meta.to_json();
        return full.to_string();
    };
    text.truncate(head.len());
    text.push('[');
    for (i, obj) in objects.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&row(kind, obj, include).to_string());
    }
    text.push_str("]}");
    text
}

fn definition(c: &PrinterColumn) -> Value {
    let description = match c.column_type {
        ColumnType::Date => "CreationTimestamp".to_string(),
        _ => format!("{} ({})", c.name, c.json_path),
    };
    json!({
        "name": c.name, "type": c.column_type.as_str(), "format": "",
        "priority": c.priority, "description": description,
    })
}

fn row(kind: &KindInfo, obj: &DynamicObject, include: IncludeObject) -> Value {
    let value = obj.to_value();
    let mut cells = vec![json!(obj.name())];
    cells.extend(printer_columns(kind).iter().map(|c| match c.cell(&value) {
        Value::Null => json!("<none>"),
        v => v,
    }));
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": value.get("metadata").cloned().unwrap_or(Value::Null),
        }),
        IncludeObject::Object => value,
    };
    json!({"cells": cells, "object": object})
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::{ObjectMeta, TypeKey};

    #[test]
    fn resource_lists_carry_short_names_categories_and_status() {
        let kinds = KindRegistry::builtin();
        let list = resource_list(&kinds, "tinkerbell.org/v1alpha1").expect("group");
        let resources = list["resources"].as_array().expect("resources");
        let hw = resources
            .iter()
            .find(|r| r["name"] == "hardware")
            .expect("hardware");
        assert_eq!(hw["shortNames"], json!(["hw"]));
        assert_eq!(hw["categories"], json!(["tinkerbell"]));
        assert_eq!(hw["namespaced"], true);
        assert!(resources.iter().any(|r| r["name"] == "hardware/status"));
        let core = resource_list(&kinds, "v1").expect("core");
        assert!(
            core["resources"]
                .as_array()
                .expect("r")
                .iter()
                .any(|r| r["name"] == "namespaces")
        );
        assert!(resource_list(&kinds, "example.com/v1").is_none());
        let groups = group_list(&kinds);
        assert!(
            groups["groups"]
                .as_array()
                .expect("g")
                .iter()
                .any(|g| g["name"] == "apiextensions.k8s.io")
        );
    }

    #[test]
    fn tables_hold_the_printer_columns() {
        let kinds = KindRegistry::builtin();
        let info = kinds.find("workflows").expect("workflows");
        let mut wf = DynamicObject::new(
            TypeKey::new("tinkerbell.org/v1alpha1", "Workflow"),
            ObjectMeta::named("default", "wf1"),
        );
        wf.set_field(
            "spec",
            &json!({"templateRef": "ubuntu", "hardwareRef": "wk01"}),
        )
        .expect("spec");
        let t = table(
            info,
            std::slice::from_ref(&wf),
            Some(7),
            IncludeObject::Metadata,
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("defs")
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        assert_eq!(names[..4], ["Name", "Template", "State", "Task"]);
        assert_eq!(t["rows"][0]["cells"][0], "wf1");
        assert_eq!(t["rows"][0]["cells"][1], "ubuntu");
        assert_eq!(t["rows"][0]["cells"][2], "<none>");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let text = table_text(
            info,
            &[wf.clone(), wf.clone()],
            &ListMeta {
                resource_version: Some(7),
                ..ListMeta::default()
            },
            IncludeObject::Metadata,
        );
        let again: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(again["rows"].as_array().map(Vec::len), Some(2));
        assert_eq!(again["rows"][1], t["rows"][0]);
        assert_eq!(again["columnDefinitions"], t["columnDefinitions"]);
        let crd = crd(info);
        assert_eq!(crd["metadata"]["name"], "workflows.tinkerbell.org");
        assert_eq!(
            crd["spec"]["versions"][0]["additionalPrinterColumns"][0]["name"],
            "Template"
        );
    }
}
