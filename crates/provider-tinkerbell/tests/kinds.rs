//! The CAPT documents `ironbell-capi` renders for EKS Anywhere's Tinkerbell test specs (and
//! EKS Anywhere's own expected files) parse through a registry holding this crate's kinds,
//! into `TinkerbellCluster` and `TinkerbellMachineTemplate` with every rendered field kept.

#[path = "../../capi/tests/golden/fixtures.rs"]
mod fixtures;

use ironbell_capi::tinkerbell::{self, RenderOptions, TemplateNames};
use ironbell_model::KindRegistry;
use ironbell_provider_tinkerbell::{
    TinkerbellCluster, TinkerbellMachine, TinkerbellMachineTemplate, register_kinds,
};

fn registry() -> KindRegistry {
    let mut r = KindRegistry::builtin();
    register_kinds(&mut r).expect("register");
    r
}

/// The `TinkerbellCluster` and `TinkerbellMachineTemplate` documents of a YAML stream.
fn capt_documents(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(yaml) {
        let value: serde_yaml_ng::Value = serde::Deserialize::deserialize(de).expect("yaml");
        let api = value.get("apiVersion").and_then(|v| v.as_str());
        let kind = value.get("kind").and_then(|v| v.as_str());
        if api == Some("infrastructure.cluster.x-k8s.io/v1beta1")
            && matches!(
                kind,
                Some("TinkerbellCluster" | "TinkerbellMachineTemplate")
            )
        {
            out.push(serde_yaml_ng::to_string(&value).expect("yaml"));
        }
    }
    out
}

/// Parses each document through the registry and checks it against the typed kind: the
/// canonical form holds every field the document had.
fn parse_all(registry: &KindRegistry, source: &str, docs: &[String]) -> (usize, usize) {
    let (mut clusters, mut templates) = (0, 0);
    for doc in docs {
        let objs = registry
            .parse_documents(doc)
            .unwrap_or_else(|e| panic!("{source}: {e}\n{doc}"));
        assert_eq!(objs.len(), 1, "{source}");
        let obj = &objs[0];
        let original: serde_json::Value = serde_yaml_ng::from_str(doc).expect("yaml");
        let canonical = obj.to_value();
        assert_eq!(
            canonical.get("spec"),
            original.get("spec"),
            "{source}: {} {} lost or changed its spec",
            obj.types.kind,
            obj.name()
        );
        match obj.types.kind.as_str() {
            "TinkerbellCluster" => {
                obj.to_typed::<TinkerbellCluster>().expect("typed");
                clusters += 1;
            }
            "TinkerbellMachineTemplate" => {
                let t = obj.to_typed::<TinkerbellMachineTemplate>().expect("typed");
                assert!(
                    t.spec.template.spec.hardware_affinity.is_some(),
                    "{source}: {} has no hardware affinity",
                    obj.name()
                );
                templates += 1;
            }
            other => panic!("{source}: unexpected kind {other}"),
        }
    }
    (clusters, templates)
}

#[test]
fn rendered_tinkerbell_documents_parse_into_the_capt_kinds() {
    let registry = registry();
    let mut rendered = 0;
    let mut totals = (0, 0);
    for file in fixtures::spec_files("tinkerbell", &["cluster_"]) {
        // Some test specs are invalid on purpose: only those that render count.
        let Ok(spec) = fixtures::load_tinkerbell_spec(&file) else {
            continue;
        };
        let Ok(bundles) = fixtures::resolve_test_bundles(&spec) else {
            continue;
        };
        let options = RenderOptions {
            tinkerbell_ip: "5.6.7.8".into(),
            names: TemplateNames::from_clock(&spec, 1_234_567_890_000),
            registry_credentials: None,
        };
        let Ok(manifests) = tinkerbell::render(&spec, &bundles, &options) else {
            continue;
        };
        let yaml = manifests.to_yaml().expect("yaml");
        let docs = capt_documents(&yaml);
        let (c, t) = parse_all(&registry, &file, &docs);
        assert_eq!(c, 1, "{file}: one TinkerbellCluster");
        assert!(t >= 1, "{file}: a TinkerbellMachineTemplate");
        totals = (totals.0 + c, totals.1 + t);
        rendered += 1;
    }
    assert!(
        rendered >= 20,
        "only {rendered} Tinkerbell test specs rendered"
    );
    eprintln!(
        "{rendered} specs: {} TinkerbellClusters, {} TinkerbellMachineTemplates parsed",
        totals.0, totals.1
    );
}

#[test]
fn eks_anywhere_expected_files_parse_into_the_capt_kinds() {
    let registry = registry();
    let mut parsed = 0;
    for file in fixtures::spec_files("tinkerbell", &["expected_results_"]) {
        let path = fixtures::provider_dir("tinkerbell")
            .join("testdata")
            .join(&file);
        let yaml = fixtures::read(&path).expect("read");
        let docs = capt_documents(&yaml);
        let (c, t) = parse_all(&registry, &file, &docs);
        parsed += c + t;
    }
    assert!(
        parsed >= 20,
        "only {parsed} documents in the expected files"
    );
}

#[test]
fn the_registry_knows_the_kinds_by_their_names() {
    let registry = registry();
    for (name, kind) in [
        ("tinkerbellmachines", "TinkerbellMachine"),
        ("tm", "TinkerbellMachine"),
        (
            "tinkerbellclusters.infrastructure.cluster.x-k8s.io",
            "TinkerbellCluster",
        ),
        ("TinkerbellMachineTemplate", "TinkerbellMachineTemplate"),
    ] {
        assert_eq!(registry.find(name).map(|k| k.kind), Some(kind), "{name}");
    }
    let mut twice = registry.clone();
    assert!(register_kinds(&mut twice).is_err());
    let bad = "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: TinkerbellMachine\n\
               metadata: {name: m, namespace: ns}\nspec: {hardwareName: 7}\nstatus: {ready: maybe}\n";
    let err = registry
        .parse_documents(bad)
        .expect_err("bad types")
        .to_string();
    assert!(
        err.contains("status.ready") || err.contains("spec.hardwareName"),
        "{err}"
    );
    let _ = TinkerbellMachine::default();
}
