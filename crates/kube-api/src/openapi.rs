//! OpenAPI v3 documents: the root (`/openapi/v3`) and one per group version, as much as
//! kubectl reads of them.
//!
//! kubectl (1.27 and later) validates what it sends (`--validate=strict`, the default)
//! either on the server, when the group version's document says a `PATCH` of the kind takes
//! the `fieldValidation` parameter, or else on the client, from OpenAPI v2 in protobuf. Each
//! document here lists, per kind, its object path with a `PATCH` carrying that parameter
//! and the kind's `x-kubernetes-group-version-kind`, so kubectl leaves validation to the
//! server (which reads every object into its type and refuses unknown fields, the `Strict`
//! behaviour). No `requestBody` is listed, so kubectl sends merge patches rather than
//! strategic ones. Tinkerbell's and Rufio's kinds carry the schemas of Tinkerbell's CRDs
//! ([`crate::crds`]), so `kubectl explain hardware.spec` works; the other kinds are open
//! objects (`x-kubernetes-preserve-unknown-fields`): ironbell's types are Rust types, not
//! OpenAPI, so `kubectl explain` shows their description and no fields.

use ironbell_model::{KindInfo, KindRegistry};
use serde_json::{Value, json};

/// Changes when the documents can change: with the crate's version.
const HASH: &str = concat!("ironbell-", env!("CARGO_PKG_VERSION"));

/// The kinds of a group version, and the core group's `Namespace` (kubectl's fallback
/// question about CRDs).
fn kinds_of(kinds: &KindRegistry, group_version: &str) -> Vec<KindInfo> {
    let mut found: Vec<KindInfo> = kinds
        .kinds()
        .filter(|k| k.api_version == group_version)
        .copied()
        .collect();
    if group_version == "v1" {
        found.push(KindInfo {
            api_version: "v1",
            kind: "Namespace",
            plural: "namespaces",
            aliases: &[],
            namespaced: false,
        });
    }
    found
}

/// The path of a group version's document: `api/v1` or `apis/G/V`.
fn doc_path(group_version: &str) -> String {
    if group_version == "v1" {
        "api/v1".to_string()
    } else {
        format!("apis/{group_version}")
    }
}

/// `/openapi/v3`: where each group version's document is.
pub fn root(kinds: &KindRegistry) -> Value {
    let mut versions: Vec<&str> = vec!["v1"];
    for k in kinds.kinds() {
        if !versions.contains(&k.api_version) {
            versions.push(k.api_version);
        }
    }
    let paths: serde_json::Map<String, Value> = versions
        .iter()
        .map(|gv| {
            let path = doc_path(gv);
            let url = format!("/openapi/v3/{path}?hash={HASH}");
            (path, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/G/V`; `None` for an unknown group version.
pub fn group_version(kinds: &KindRegistry, group_version: &str) -> Option<Value> {
    let found = kinds_of(kinds, group_version);
    if found.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for k in &found {
        let gvk = json!({"group": k.group(), "version": k.version(), "kind": k.kind});
        let prefix = format!("/{}", doc_path(group_version));
        let path = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{prefix}/{}/{{name}}", k.plural)
        };
        paths.insert(
            path,
            json!({"patch": {
                "x-kubernetes-group-version-kind": gvk,
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
        let mut schema = crate::crds::schema(k).cloned().unwrap_or_else(|| {
            json!({
                "description": format!("{} ({}), served by ironbell.", k.kind, k.api_version),
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
            })
        });
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name(k), schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "ironbell", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A schema's name as Kubernetes writes it: the group reversed, the version, the kind
/// (`org.tinkerbell.v1alpha1.Hardware`, `io.k8s.api.core.v1.Secret`).
fn schema_name(k: &KindInfo) -> String {
    let group = k.group();
    if group.is_empty() {
        return format!("io.k8s.api.core.{}.{}", k.version(), k.kind);
    }
    let reversed: Vec<&str> = group.rsplit('.').collect();
    format!("{}.{}.{}", reversed.join("."), k.version(), k.kind)
}
