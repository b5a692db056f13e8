//! Every Cluster API core document `ironbell_capi` renders for EKS Anywhere's Tinkerbell test
//! specs parses through a registry holding this crate's kinds, into the typed kinds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ironbell_capi::tinkerbell::{self, RenderOptions, TemplateNames, TinkerbellSpec};
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_cluster_api::kinds::{
    BOOTSTRAP_API_VERSION, CLUSTER_API_VERSION, CONTROL_PLANE_API_VERSION,
};
use ironbell_cluster_api::{
    Cluster, KubeadmConfigTemplate, KubeadmControlPlane, MachineDeployment, register_kinds,
};
use ironbell_model::KindRegistry;

/// `../shared/conformance/eks-anywhere-v0.24.6` beside the repository.
fn eksa_root() -> PathBuf {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/eks-anywhere-v0.24.6"
    ));
    assert!(
        root.is_dir(),
        "conformance data not found at {}",
        root.display()
    );
    root
}

fn bundles(spec: &TinkerbellSpec) -> Result<VersionsBundleSet, String> {
    let mut versions: Vec<&str> = spec
        .cluster
        .spec
        .kubernetes_version
        .iter()
        .map(|v| v.as_str())
        .collect();
    for w in spec
        .cluster
        .spec
        .worker_node_group_configurations
        .iter()
        .flatten()
    {
        versions.extend(w.kubernetes_version.as_ref().map(|v| v.as_str()));
    }
    let resolver = ironbell_release::Resolver::new()
        .with_base_dir(eksa_root().join("internal/test"))
        .with_url_file(
            "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../capi/tests/fixtures/eksd/kubernetes-1-29-eks-4.yaml"
            ),
        );
    let source = ironbell_release::BundlesSource::Releases {
        url: "embed:///testdata/releases.yaml".into(),
        eksa_version: "v0.19.0-dev+latest".into(),
    };
    let release = resolver
        .resolve(&source, &versions)
        .map_err(|e| e.to_string())?;
    Ok(VersionsBundleSet::from_release(&release))
}

#[test]
fn rendered_tinkerbell_documents_parse_into_the_store_kinds() {
    let mut registry = KindRegistry::builtin();
    register_kinds(&mut registry).unwrap_or_else(|e| panic!("{e}"));
    let dir = eksa_root().join("pkg/providers/tinkerbell/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cluster_") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut specs = 0;
    for path in files {
        let name = path.display().to_string();
        let Ok(mut spec) = ironbell_cluster_spec::Spec::load(&path) else {
            continue;
        };
        ironbell_cluster_spec::defaults::builder_defaults(&mut spec);
        let Ok(mut spec) = TinkerbellSpec::from_spec(&spec) else {
            continue;
        };
        tinkerbell::strip_ssh_key_comments(&mut spec);
        let Ok(bundles) = bundles(&spec) else {
            continue;
        };
        let options = RenderOptions {
            tinkerbell_ip: "5.6.7.8".into(),
            names: TemplateNames::from_clock(&spec, 1_234_567_890_000),
            registry_credentials: Some(ironbell_capi::kubeadm::RegistryCredentials {
                username: "u".into(),
                password: "p".into(),
            }),
        };
        let Ok(out) = tinkerbell::render(&spec, &bundles, &options) else {
            continue;
        };
        specs += 1;
        let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{name}: {e}"));
        for de in serde_yaml_ng::Deserializer::from_str(&yaml) {
            let doc: serde_yaml_ng::Value =
                serde::Deserialize::deserialize(de).unwrap_or_else(|e| panic!("{name}: {e}"));
            let api = doc.get("apiVersion").and_then(|v| v.as_str()).unwrap_or("");
            if ![
                CLUSTER_API_VERSION,
                CONTROL_PLANE_API_VERSION,
                BOOTSTRAP_API_VERSION,
            ]
            .contains(&api)
            {
                continue;
            }
            let text = serde_yaml_ng::to_string(&doc).unwrap_or_else(|e| panic!("{e}"));
            let objects = registry.parse_documents(&text).unwrap_or_else(|e| {
                panic!("{name}: a rendered {api} document does not parse: {e}\n{text}")
            });
            for o in objects {
                let kind = o.types.kind.clone();
                let typed = match kind.as_str() {
                    "Cluster" => o.to_typed::<Cluster>().map(|_| ()),
                    "MachineDeployment" => o.to_typed::<MachineDeployment>().map(|_| ()),
                    "KubeadmControlPlane" => o.to_typed::<KubeadmControlPlane>().map(|_| ()),
                    "KubeadmConfigTemplate" => o.to_typed::<KubeadmConfigTemplate>().map(|_| ()),
                    other => panic!("{name}: unexpected CAPI kind {other}"),
                };
                typed.unwrap_or_else(|e| panic!("{name}: {e}"));
                *counts.entry(kind).or_default() += 1;
            }
        }
    }
    println!("{specs} specs rendered: {counts:?}");
    assert!(specs >= 30, "only {specs} specs rendered");
    for kind in [
        "Cluster",
        "MachineDeployment",
        "KubeadmControlPlane",
        "KubeadmConfigTemplate",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) >= specs.min(1),
            "{kind}: {counts:?}"
        );
    }
    assert_eq!(counts.get("Cluster"), Some(&specs), "one Cluster per spec");
}

#[test]
fn capi_cluster_shares_the_plural_with_eks_anywhere() {
    let mut registry = KindRegistry::builtin();
    register_kinds(&mut registry).unwrap_or_else(|e| panic!("{e}"));
    let first = registry
        .find("clusters")
        .unwrap_or_else(|| panic!("clusters"));
    assert_eq!(first.group(), "anywhere.eks.amazonaws.com");
    let capi = registry
        .find("clusters.cluster.x-k8s.io")
        .unwrap_or_else(|| panic!("clusters.cluster.x-k8s.io"));
    assert_eq!(capi.kind, "Cluster");
    assert!(
        registry
            .find("kcp")
            .is_some_and(|k| k.kind == "KubeadmControlPlane")
    );
    assert!(register_kinds(&mut registry).is_err(), "twice is refused");
}
