//! Tinkerbell's own `CustomResourceDefinition`s as data (`crds/`: the structure of
//! Tinkerbell's `config/crd/bases`, v1alpha1 — field names, types, printer columns — with
//! every description removed, so no prose of theirs is copied): the CRD
//! objects the API lists for Tinkerbell's and Rufio's kinds, and their OpenAPI schemas
//! for `kubectl explain`. Objects are still checked against ironbell's types, not these
//! schemas.

use std::sync::LazyLock;

use ironbell_model::KindInfo;
use serde_json::Value;

const FILES: [&str; 6] = [
    include_str!("../crds/tinkerbell.org_hardware.yaml"),
    include_str!("../crds/tinkerbell.org_templates.yaml"),
    include_str!("../crds/tinkerbell.org_workflows.yaml"),
    include_str!("../crds/bmc.tinkerbell.org_machines.yaml"),
    include_str!("../crds/bmc.tinkerbell.org_jobs.yaml"),
    include_str!("../crds/bmc.tinkerbell.org_tasks.yaml"),
];

/// The CRDs, read once. A file that does not read (it is compiled in, so a test catches
/// it) is left out rather than failing the server.
static CRDS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    FILES
        .iter()
        .filter_map(|text| serde_yaml_ng::from_str::<Value>(text).ok())
        .collect()
});

/// Tinkerbell's CRD of `kind`, when it has one serving `kind`'s version.
pub fn tinkerbell_crd(kind: &KindInfo) -> Option<&'static Value> {
    CRDS.iter().find(|crd| {
        crd.pointer("/spec/group").and_then(Value::as_str) == Some(kind.group())
            && crd.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind.kind)
            && version(crd, kind).is_some()
    })
}

fn version<'c>(crd: &'c Value, kind: &KindInfo) -> Option<&'c Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(kind.version()))
}

/// The OpenAPI v3 schema of `kind` from Tinkerbell's CRD.
pub fn schema(kind: &KindInfo) -> Option<&'static Value> {
    version(tinkerbell_crd(kind)?, kind)?.pointer("/schema/openAPIV3Schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_reads_and_each_tinkerbell_kind_has_its_schema() {
        assert_eq!(CRDS.len(), FILES.len());
        let kinds = ironbell_model::KindRegistry::builtin();
        let mut found = 0;
        for k in kinds
            .kinds()
            .filter(|k| k.group().ends_with("tinkerbell.org"))
        {
            let schema = schema(k).unwrap_or_else(|| panic!("{}", k.kind));
            assert!(schema.pointer("/properties/spec").is_some(), "{}", k.kind);
            found += 1;
        }
        assert_eq!(found, 6);
    }
}
