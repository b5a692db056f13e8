//! The conformance inputs: EKS Anywhere v0.24.6's cluster specs (loaded with
//! `ironbell-cluster-spec`) and its test release data (`internal/test/testdata`, resolved with
//! `ironbell-release`).

// Shared by the golden and render test binaries; each uses a part.
#![allow(dead_code)]

use std::path::PathBuf;

use ironbell_capi::nutanix::NutanixSpec;
use ironbell_capi::tinkerbell::TinkerbellSpec;
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_capi::vsphere::VSphereSpec;

/// `../shared/conformance/eks-anywhere-v0.24.6` beside the repository.
pub fn eksa_root() -> PathBuf {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/eks-anywhere-v0.24.6"
    ));
    assert!(
        root.is_dir(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        root.display()
    );
    root
}

/// A provider's testdata directory.
pub fn provider_dir(provider: &str) -> PathBuf {
    eksa_root().join("pkg/providers").join(provider)
}

pub fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Load a Tinkerbell cluster spec file with the spec loader and EKS Anywhere's builder
/// defaults, as EKS Anywhere's tests load it.
pub fn load_tinkerbell_spec(file: &str) -> Result<TinkerbellSpec, String> {
    let spec = load_spec("tinkerbell", file)?;
    TinkerbellSpec::from_spec(&spec).map_err(|e| format!("{file}: {e}"))
}

/// Load any provider's cluster spec file (`pkg/providers/<provider>/testdata/<file>`) with
/// the spec loader and EKS Anywhere's builder defaults (what `test.NewFullClusterSpec`
/// applies: `cluster.NewFileSpecBuilder(...).Build()`).
pub fn load_spec(provider: &str, file: &str) -> Result<ironbell_cluster_spec::Spec, String> {
    let path = provider_dir(provider).join("testdata").join(file);
    let mut spec = ironbell_cluster_spec::Spec::load(&path).map_err(|e| format!("{file}: {e}"))?;
    ironbell_cluster_spec::defaults::builder_defaults(&mut spec);
    Ok(spec)
}

/// The release version of the test releases manifest.
pub const TEST_EKSA_VERSION: &str = "v0.19.0-dev+latest";

/// The EKS-D 1.29 manifest the test bundles name by URL, and its fixture in this crate.
const EKSD_1_29: (&str, &str) = (
    "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml",
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/eksd/kubernetes-1-29-eks-4.yaml"
    ),
);

/// Load a Nutanix cluster spec file as EKS Anywhere's tests load it (builder defaults and
/// the release's version, `v0.19.0-dev+latest`).
pub fn load_nutanix_spec(file: &str) -> Result<NutanixSpec, String> {
    let mut spec = load_spec("nutanix", file)?;
    spec.cluster.spec.eksa_version = Some(TEST_EKSA_VERSION.into());
    NutanixSpec::from_spec(&spec).map_err(|e| format!("{file}: {e}"))
}

/// Load a vSphere cluster spec file as `test.NewFullClusterSpec` builds it ([`load_spec`],
/// with the release's version when the file names none).
pub fn load_vsphere_spec(file: &str) -> Result<VSphereSpec, String> {
    let mut spec = load_spec("vsphere", file)?;
    spec.cluster
        .spec
        .eksa_version
        .get_or_insert_with(|| TEST_EKSA_VERSION.into());
    VSphereSpec::from_spec(&spec).map_err(|e| format!("{file}: {e}"))
}

/// The test release data (`internal/test/testdata`: releases manifest, Bundles, EKS-D
/// manifests) resolved with the release crate for the Kubernetes versions a spec uses.
pub fn resolve_test_bundles(spec: &TinkerbellSpec) -> Result<VersionsBundleSet, String> {
    resolve_cluster_bundles(&spec.cluster)
}

/// [`resolve_test_bundles`] for any provider's `Cluster`.
pub fn resolve_cluster_bundles(
    cluster: &ironbell_model::anywhere::Cluster,
) -> Result<VersionsBundleSet, String> {
    let mut versions: Vec<&str> = cluster
        .spec
        .kubernetes_version
        .iter()
        .map(|v| v.as_str())
        .collect();
    for w in cluster
        .spec
        .worker_node_group_configurations
        .iter()
        .flatten()
    {
        versions.extend(w.kubernetes_version.as_ref().map(|v| v.as_str()));
    }
    Ok(VersionsBundleSet::from_release(&resolve_test_release(
        &versions,
    )?))
}

/// The test releases manifest's release resolved for Kubernetes versions.
pub fn resolve_test_release(versions: &[&str]) -> Result<ironbell_release::ClusterRelease, String> {
    let resolver = ironbell_release::Resolver::new()
        .with_base_dir(eksa_root().join("internal/test"))
        .with_url_file(EKSD_1_29.0, EKSD_1_29.1);
    let source = ironbell_release::BundlesSource::Releases {
        url: "embed:///testdata/releases.yaml".into(),
        eksa_version: TEST_EKSA_VERSION.into(),
    };
    resolver
        .resolve(&source, versions)
        .map_err(|e| e.to_string())
}

/// The first worker node group of a cluster, to change in a test.
pub fn first_worker(
    cluster: &mut ironbell_model::anywhere::Cluster,
) -> Option<&mut ironbell_model::anywhere::WorkerNodeGroupConfiguration> {
    cluster
        .spec
        .worker_node_group_configurations
        .as_mut()
        .and_then(|w| w.first_mut())
}

/// The `cluster_*.yaml` spec files of a provider's testdata, sorted.
pub fn cluster_spec_files(provider: &str) -> Vec<String> {
    spec_files(provider, &["cluster_"])
}

/// The names of a cluster's worker node groups.
pub fn worker_group_names(cluster: &ironbell_model::anywhere::Cluster) -> Vec<String> {
    ironbell_capi::worker_group_names(cluster)
}

/// The spec files of a provider's testdata whose names start with one of `prefixes`, sorted.
pub fn spec_files(provider: &str, prefixes: &[&str]) -> Vec<String> {
    let dir = provider_dir(provider).join("testdata");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p)) && n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// A spec rendered through the create entry (`ironbell_capi::render`) at EKS Anywhere's fake
/// clock, as YAML.
pub fn render_entry(
    spec: &ironbell_cluster_spec::Spec,
    release: &ironbell_release::ClusterRelease,
    registry_credentials: Option<ironbell_capi::kubeadm::RegistryCredentials>,
) -> Result<String, String> {
    let inputs = ironbell_capi::CreateInputs {
        now_unix_ms: 1_234_567_890_000,
        registry_credentials,
        ..Default::default()
    };
    let out = ironbell_capi::render(spec, release, &inputs).map_err(|e| e.to_string())?;
    out.to_yaml().map_err(|e| e.to_string())
}

/// Set a cluster's `clusterNetwork.dns.resolvConf.path` (a change several tests make).
pub fn set_resolv_conf(cluster: &mut ironbell_model::anywhere::Cluster, path: &str) {
    let net = cluster
        .spec
        .cluster_network
        .get_or_insert_with(Default::default);
    net.dns = Some(ironbell_model::anywhere::Dns {
        resolv_conf: Some(ironbell_model::anywhere::ResolvConf {
            path: Some(path.into()),
        }),
    });
}

/// Every document of a rendered stream parses back.
pub fn assert_yaml_parses(name: &str, yaml: &str) {
    for de in serde_yaml_ng::Deserializer::from_str(yaml) {
        let _: serde_yaml_ng::Value = serde::Deserialize::deserialize(de)
            .unwrap_or_else(|e| panic!("{name}: rendered YAML does not parse: {e}"));
    }
}
