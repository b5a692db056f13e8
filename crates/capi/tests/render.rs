//! The Tinkerbell renderer's behaviour beyond the goldens: upgrade names, errors on bad
//! input (never a panic), registry mirror endpoints, image references.

#[path = "golden/fixtures.rs"]
mod fixtures;

use ironbell_capi::LookupError;
use ironbell_capi::kubeadm::{RegistryCredentials, RegistryMirror};
use ironbell_capi::tinkerbell::{
    self, CurrentCluster, RenderError, RenderOptions, TemplateNames, TinkerbellSpec,
};
use ironbell_capi::versions::ImageRef;
use ironbell_model::anywhere::{IntOrString, OciNamespace, RegistryMirrorConfiguration, Taint};

const NOW: i64 = 1_234_567_890_000;
const LATER: i64 = 1_234_567_899_999;

fn stacked() -> TinkerbellSpec {
    fixtures::load_tinkerbell_spec("cluster_tinkerbell_stacked_etcd.yaml")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn options(spec: &TinkerbellSpec) -> RenderOptions {
    RenderOptions {
        tinkerbell_ip: "5.6.7.8".into(),
        names: TemplateNames::from_clock(spec, NOW),
        registry_credentials: None,
    }
}

fn current(spec: &TinkerbellSpec) -> CurrentCluster<'_> {
    CurrentCluster {
        spec,
        bundles_number: 1,
        names: TemplateNames::from_clock(spec, NOW),
    }
}

#[test]
fn a_scale_keeps_every_template_and_omits_machine_templates() {
    let old = stacked();
    let mut new = old.clone();
    if let Some(w) = new.cluster.spec.worker_node_group_configurations.as_mut() {
        w[0].count = Some(3);
    }
    let (names, scale_only) = tinkerbell::upgrade_names(&current(&old), &new, 1, LATER);
    assert!(scale_only);
    assert_eq!(names, TemplateNames::from_clock(&old, NOW));
}

/// Asserts the clock suffix of the control-plane template, md-0's machine template and
/// md-0's `KubeadmConfigTemplate`.
fn assert_suffixes(names: &TemplateNames, cp: i64, machine: i64, kct: i64) {
    assert_eq!(
        names.control_plane.as_deref(),
        Some(format!("test-control-plane-template-{cp}").as_str())
    );
    let md = &names.workers["md-0"];
    assert_eq!(md.machine_template, format!("test-md-0-{machine}"));
    assert_eq!(
        md.kubeadm_config_template,
        format!("test-md-0-template-{kct}")
    );
}

#[test]
fn a_kubernetes_version_change_renews_the_machine_templates() {
    let old = stacked();
    let mut new = old.clone();
    new.cluster.spec.kubernetes_version = Some("1.22".into());
    let (names, scale_only) = tinkerbell::upgrade_names(&current(&old), &new, 1, LATER);
    assert!(!scale_only);
    // The worker group has no version of its own: it follows the cluster's.
    assert_suffixes(&names, LATER, LATER, NOW);
}

#[test]
fn worker_taints_renew_both_worker_templates_and_a_bundle_change_the_machine_templates() {
    let old = stacked();
    let mut new = old.clone();
    if let Some(w) = new.cluster.spec.worker_node_group_configurations.as_mut() {
        w[0].taints = Some(vec![Taint {
            key: "k".into(),
            value: Some("v".into()),
            ..Taint::default()
        }]);
    }
    let (names, _) = tinkerbell::upgrade_names(&current(&old), &new, 1, LATER);
    assert_suffixes(&names, NOW, LATER, LATER);

    let (names, _) = tinkerbell::upgrade_names(&current(&old), &old, 2, LATER);
    assert_suffixes(&names, LATER, LATER, NOW);
}

#[test]
fn a_missing_machine_config_is_an_error_naming_it() {
    let mut spec = stacked();
    spec.machine_configs.remove("test-md");
    let bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    let err = tinkerbell::render(&spec, &bundles, &options(&spec)).expect_err("must fail");
    assert!(
        matches!(&err, RenderError::Lookup(LookupError::MissingMachineConfig { name, .. }) if name == "test-md"),
        "{err}"
    );
    assert!(err.to_string().contains("worker node group md-0"), "{err}");
}

#[test]
fn a_version_without_bundle_and_a_user_without_key_are_errors() {
    let spec = stacked();
    let mut bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    bundles.by_kube_version.clear();
    let err = tinkerbell::render(&spec, &bundles, &options(&spec)).expect_err("no bundle");
    assert!(
        err.to_string()
            .contains("no versions bundle for Kubernetes 1.21"),
        "{err}"
    );

    let mut spec = stacked();
    let bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    if let Some(mc) = spec.machine_configs.get_mut("test-cp") {
        mc.spec.users = Some(Vec::new());
    }
    let err = tinkerbell::render(&spec, &bundles, &options(&spec)).expect_err("no user");
    assert!(
        err.to_string().contains("TinkerbellMachineConfig test-cp"),
        "{err}"
    );
}

#[test]
fn an_authenticated_mirror_needs_credentials_and_never_shows_them() {
    let mut spec = stacked();
    spec.cluster.spec.registry_mirror_configuration = Some(RegistryMirrorConfiguration {
        endpoint: Some("1.2.3.4".into()),
        port: Some(IntOrString::Int(443)),
        authenticate: Some(true),
        ..RegistryMirrorConfiguration::default()
    });
    let bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    let err = tinkerbell::render(&spec, &bundles, &options(&spec)).expect_err("no credentials");
    assert!(
        matches!(
            err,
            RenderError::Lookup(LookupError::MissingRegistryCredentials { .. })
        ),
        "{err}"
    );

    let credentials = RegistryCredentials {
        username: "user".into(),
        password: "s3cret".into(),
    };
    assert!(!format!("{credentials:?}").contains("s3cret"));
    let mut with = options(&spec);
    with.registry_credentials = Some(credentials);
    let out = tinkerbell::render(&spec, &bundles, &with).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !yaml.contains("s3cret"),
        "the password appears only base64-encoded"
    );
    assert!(yaml.contains("kind: Secret"));
}

#[test]
fn mirror_namespaces_map_registries_to_v2_endpoints() {
    let mirror = RegistryMirror::from_config(&RegistryMirrorConfiguration {
        endpoint: Some("harbor.local".into()),
        port: Some(IntOrString::String("5000".into())),
        oci_namespaces: Some(vec![
            OciNamespace {
                registry: "public.ecr.aws".into(),
                namespace: "eks-anywhere".into(),
            },
            OciNamespace {
                registry: "docker.io".into(),
                namespace: "/library/".into(),
            },
        ]),
        ..RegistryMirrorConfiguration::default()
    });
    assert_eq!(mirror.base, "harbor.local:5000");
    assert_eq!(mirror.core_mirror(), "harbor.local:5000/eks-anywhere");
    assert_eq!(
        mirror.bottlerocket().endpoint,
        "harbor.local:5000/v2/eks-anywhere"
    );
    let files = mirror.containerd_files(None);
    let docker = files
        .iter()
        .find(|f| f.path == "/etc/containerd/certs.d/docker.io/hosts.toml")
        .and_then(|f| f.content.as_deref())
        .unwrap_or_default();
    assert!(
        docker.contains("[host.\"https://harbor.local:5000/v2/library\"]"),
        "{docker}"
    );
    assert_eq!(
        mirror.rewrite_core_registry("public.ecr.aws/eks-anywhere/image2disk:v1"),
        "harbor.local:5000/eks-anywhere/eks-anywhere/image2disk:v1"
    );

    let v6 = RegistryMirror::from_config(&RegistryMirrorConfiguration {
        endpoint: Some("fd00::1".into()),
        port: Some(IntOrString::Int(443)),
        ..RegistryMirrorConfiguration::default()
    });
    assert_eq!(v6.base, "[fd00::1]:443");
}

#[test]
fn image_references_split_at_the_tag() {
    let i = ImageRef::from_uri("registry.local:5000/eks-distro/coredns/coredns:v1.8.3-eks-1-21-4");
    assert_eq!(
        i.repository,
        "registry.local:5000/eks-distro/coredns/coredns"
    );
    assert_eq!(i.tag, "v1.8.3-eks-1-21-4");
    assert_eq!(
        i.uri(),
        "registry.local:5000/eks-distro/coredns/coredns:v1.8.3-eks-1-21-4"
    );
    let untagged = ImageRef::from_uri("registry.local:5000/pause");
    assert_eq!(untagged.repository, "registry.local:5000/pause");
    assert_eq!(untagged.tag, "");
}

/// Every Tinkerbell spec of EKS Anywhere's testdata that loads either renders to documents
/// that parse back, or is refused with an error; none panics.
#[test]
fn every_conformance_spec_renders_or_is_refused() {
    let mut rendered = 0;
    let entries = fixtures::cluster_spec_files("tinkerbell");
    for name in entries {
        let Ok(mut spec) = fixtures::load_tinkerbell_spec(&name) else {
            continue;
        };
        tinkerbell::strip_ssh_key_comments(&mut spec);
        let Ok(bundles) = fixtures::resolve_test_bundles(&spec) else {
            continue;
        };
        let mut opts = options(&spec);
        opts.registry_credentials = Some(RegistryCredentials {
            username: "u".into(),
            password: "p".into(),
        });
        match tinkerbell::render(&spec, &bundles, &opts) {
            Ok(out) => {
                let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{name}: {e}"));
                for de in serde_yaml_ng::Deserializer::from_str(&yaml) {
                    let _: serde_yaml_ng::Value = serde::Deserialize::deserialize(de)
                        .unwrap_or_else(|e| panic!("{name}: rendered YAML does not parse: {e}"));
                }
                rendered += 1;
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
    assert!(rendered >= 30, "only {rendered} specs rendered");
}

#[test]
fn current_names_are_read_from_the_rendered_objects() {
    let spec = stacked();
    let bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    let out =
        tinkerbell::render(&spec, &bundles, &options(&spec)).unwrap_or_else(|e| panic!("{e}"));
    let objects: Vec<_> = out
        .control_plane
        .iter()
        .chain(&out.workers)
        .cloned()
        .collect();
    let mut expected = TemplateNames::from_clock(&spec, NOW);
    expected.etcd = None; // stacked etcd: no EtcdadmCluster
    assert_eq!(TemplateNames::from_objects("test", &objects), expected);
}

#[test]
fn the_create_entry_renders_a_loaded_spec_of_each_provider() {
    let root = fixtures::eksa_root();
    let spec = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/tinkerbell/testdata/cluster_tinkerbell_stacked_etcd.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let resolver = ironbell_release::Resolver::new().with_base_dir(root.join("internal/test"));
    let source = ironbell_release::BundlesSource::Releases {
        url: "embed:///testdata/releases.yaml".into(),
        eksa_version: "v0.19.0-dev+latest".into(),
    };
    let release = resolver
        .resolve(&source, &["1.21"])
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixtures::render_entry(&spec, &release, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("name: test-control-plane-template-1234567890000"));
    assert!(
        !yaml.contains("testemail@test.com"),
        "key comments are dropped"
    );

    let docker = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/docker/testdata/cluster_mirror_config.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixtures::render_entry(&docker, &release, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("name: test-control-plane-template-1234567890000"));
    assert!(yaml.contains("kind: DockerMachineTemplate"));
    assert!(
        yaml.contains("etcdReleaseURL: https://distro.eks.amazonaws.com/"),
        "the release's EKS-A version is the spec's: {yaml}"
    );

    let vsphere = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/vsphere/testdata/cluster_main.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let release = resolver
        .resolve(&source, &["1.19"])
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixtures::render_entry(&vsphere, &release, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("kind: VSphereMachineTemplate"), "{yaml}");
}
