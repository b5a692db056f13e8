//! The Docker renderer's refusals (each names the cluster and the field or object at fault),
//! its upgrade plan, and properties the golden files do not show.

use ironbell_capi::docker::{
    self, CurrentCluster, DockerBundles, DockerSpec, DockerVersionsBundle, RenderOptions,
    TemplateNames,
};
use ironbell_capi::kubeadm::RegistryCredentials;
use ironbell_capi::versions::{ImageRef, KubeDistro};
use serde_json::json;

#[path = "golden/fixtures.rs"]
mod fixtures;

const NOW: i64 = 1_234_567_890_000;

fn spec(cluster: serde_json::Value) -> DockerSpec {
    DockerSpec {
        cluster: serde_json::from_value(cluster).unwrap_or_else(|e| panic!("{e}")),
        ..DockerSpec::default()
    }
}

/// A small valid cluster: Kubernetes 1.29, external etcd, one worker group.
fn cluster() -> serde_json::Value {
    json!({
        "apiVersion": "anywhere.eks.amazonaws.com/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "dev"},
        "spec": {
            "kubernetesVersion": "1.29",
            "eksaVersion": "v0.24.6",
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["192.168.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]}
            },
            "controlPlaneConfiguration": {"count": 1},
            "externalEtcdConfiguration": {"count": 3},
            "workerNodeGroupConfigurations": [{"name": "md-0", "count": 2}]
        }
    })
}

fn bundles() -> DockerBundles {
    let image = |uri: &str| ImageRef::from_uri(uri);
    let bundle = DockerVersionsBundle {
        kube_distro: KubeDistro {
            kubernetes: image("public.ecr.aws/eks-distro/kubernetes:v1.29.0-eks-1-29-4"),
            coredns: image("public.ecr.aws/eks-distro/coredns/coredns:v1.11.1-eks-1-29-4"),
            etcd: image("public.ecr.aws/eks-distro/etcd-io/etcd:v3.5.10-eks-1-29-4"),
            etcd_version: "3.5.10".into(),
            etcd_url: Some("https://distro.example/etcd-v3.5.10.tar.gz".into()),
            ..KubeDistro::default()
        },
        kind_node: "public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind/node:v1.29.0-eks-d-1-29-4".into(),
        haproxy: "public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind/haproxy:v0.22.0-eks-a-1".into(),
    };
    DockerBundles {
        number: 1,
        by_kube_version: [("1.29".to_string(), bundle)].into_iter().collect(),
    }
}

fn options(spec: &DockerSpec) -> RenderOptions {
    RenderOptions {
        names: TemplateNames::from_cluster_clock(&spec.cluster, NOW),
        registry_credentials: None,
    }
}

fn render_err(spec: &DockerSpec) -> String {
    docker::render(spec, &bundles(), &options(spec))
        .map(|_| ())
        .expect_err("the spec is refused")
        .to_string()
}

fn with(path: &[&str], value: serde_json::Value) -> DockerSpec {
    let mut c = cluster();
    let mut at = &mut c;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    spec(c)
}

#[test]
fn a_valid_cluster_renders_with_the_systemd_driver_and_v1_audit_policy() {
    let s = spec(cluster());
    let out = docker::render(&s, &bundles(), &options(&s)).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("cgroup-driver: systemd"), "{yaml}");
    assert!(yaml.contains("apiVersion: audit.k8s.io/v1\n"), "{yaml}");
    assert!(
        yaml.contains("name: dev-etcd-template-1234567890000"),
        "{yaml}"
    );
    assert!(yaml.contains("etcdReleaseURL: https://distro.example/etcd-v3.5.10.tar.gz"));
    assert!(yaml.contains("imageRepository: public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind\n"));
    let kinds: Vec<&str> = out.workers.iter().map(|o| o.kind()).collect();
    assert_eq!(
        kinds,
        [
            "KubeadmConfigTemplate",
            "MachineDeployment",
            "DockerMachineTemplate"
        ]
    );
}

#[test]
fn missing_fields_and_bundles_are_named() {
    let e = render_err(&with(&["spec", "kubernetesVersion"], json!(null)));
    assert_eq!(e, "cluster dev: spec.kubernetesVersion is required");
    let e = render_err(&with(&["spec", "controlPlaneConfiguration"], json!(null)));
    assert_eq!(e, "cluster dev: spec.controlPlaneConfiguration is required");
    let e = render_err(&with(&["spec", "kubernetesVersion"], json!("1.30")));
    assert_eq!(e, "cluster dev: no versions bundle for Kubernetes 1.30");
    let e = render_err(&with(
        &["spec", "workerNodeGroupConfigurations"],
        json!([{"name": "md-0"}]),
    ));
    assert_eq!(
        e,
        "cluster dev: spec.workerNodeGroupConfigurations[0].count is required"
    );
    let e = render_err(&with(
        &["spec", "workerNodeGroupConfigurations"],
        json!([{"name": "md-0", "count": 1, "kubernetesVersion": "1.28"}]),
    ));
    assert_eq!(e, "cluster dev: no versions bundle for Kubernetes 1.28");
}

#[test]
fn versions_that_do_not_parse_are_named() {
    let e = render_err(&with(&["spec", "eksaVersion"], json!("latest")));
    assert!(
        e.starts_with("cluster dev: spec.eksaVersion \"latest\" is not a version"),
        "{e}"
    );
    let mut b = bundles();
    let bundle = b.by_kube_version.remove("1.29").unwrap_or_default();
    b.by_kube_version.insert("one.two".into(), bundle);
    let s = with(&["spec", "kubernetesVersion"], json!("one.two"));
    let e = docker::render(&s, &b, &options(&s))
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        e.starts_with("cluster dev: spec.kubernetesVersion \"one.two\" is not a version"),
        "{e}"
    );
}

#[test]
fn worker_names_must_be_given() {
    let s = spec(cluster());
    let mut o = options(&s);
    o.names.workers.clear();
    let e = docker::render_workers(&s, &bundles(), &o)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert_eq!(
        e,
        "cluster dev: no template names given for worker node group md-0"
    );
}

#[test]
fn an_authenticated_mirror_needs_credentials_which_only_the_secret_holds() {
    let s = with(
        &["spec", "registryMirrorConfiguration"],
        json!({"endpoint": "10.0.0.5", "port": "5000", "authenticate": true}),
    );
    let e = render_err(&s);
    assert!(e.contains("requires authentication"), "{e}");
    let mut o = options(&s);
    o.registry_credentials = Some(RegistryCredentials {
        username: "admin".into(),
        password: "s3cret-pass".into(),
    });
    assert!(!format!("{o:?}").contains("s3cret-pass"));
    let out = docker::render(&s, &bundles(), &o).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(!yaml.contains("s3cret-pass"), "only base64 in the secret");
    assert!(yaml.contains("kind: Secret"));
}

#[test]
fn a_spec_of_another_provider_is_refused() {
    let root = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/eks-anywhere-v0.24.6"
    ));
    let tink = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/tinkerbell/testdata/cluster_tinkerbell_stacked_etcd.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = DockerSpec::from_spec(&tink)
        .expect_err("refused")
        .to_string();
    assert_eq!(
        e,
        "cluster test: the datacenter config is not a DockerDatacenterConfig"
    );
}

#[test]
fn a_load_balancer_image_outside_eks_anywhere_keeps_capd_s_repository() {
    let mut b = DockerVersionsBundle {
        haproxy: "docker.io/library/haproxy:2.6".into(),
        ..DockerVersionsBundle::default()
    };
    let lb = b.load_balancer();
    assert_eq!(lb.image_repository, None);
    assert_eq!(lb.image_tag.as_deref(), Some("2.6"));
    b.haproxy.clear();
    assert_eq!(b.load_balancer(), Default::default());
}

#[test]
fn the_upgrade_plan_keeps_what_does_not_change() {
    let old = spec(cluster());
    let current = CurrentCluster {
        spec: &old,
        bundles_number: 1,
        names: TemplateNames {
            control_plane: Some("dev-control-plane-template-1".into()),
            etcd: Some("dev-etcd-template-1".into()),
            workers: [(
                "md-0".to_string(),
                docker::WorkerTemplateNames {
                    machine_template: "dev-md-0-1".into(),
                    kubeadm_config_template: "dev-md-0-template-1".into(),
                },
            )]
            .into_iter()
            .collect(),
        },
    };
    // Nothing changes: every name is kept, etcd is not touched.
    let plan = docker::upgrade_plan(&current, &old, 1, NOW);
    assert_eq!(plan.names, current.names);
    assert!(!plan.annotate_etcd_upgrading);

    // A new bundle: new machine templates, the etcd cluster is marked upgrading first, the
    // unchanged kubeadm config template is kept.
    let plan = docker::upgrade_plan(&current, &old, 2, NOW);
    assert_eq!(
        plan.names.control_plane.as_deref(),
        Some("dev-control-plane-template-1234567890000")
    );
    assert_eq!(
        plan.names.etcd.as_deref(),
        Some("dev-etcd-template-1234567890000")
    );
    assert_eq!(
        plan.names.workers["md-0"].machine_template,
        "dev-md-0-1234567890000"
    );
    assert_eq!(
        plan.names.workers["md-0"].kubeadm_config_template,
        "dev-md-0-template-1"
    );
    assert!(plan.annotate_etcd_upgrading);

    // Stacked etcd: no etcd template, nothing to annotate.
    let stacked = with(&["spec", "externalEtcdConfiguration"], json!(null));
    let current = CurrentCluster {
        spec: &stacked,
        ..current
    };
    let plan = docker::upgrade_plan(&current, &stacked, 2, NOW);
    assert_eq!(plan.names.etcd, None);
    assert!(!plan.annotate_etcd_upgrading);
}

/// Every Docker spec of the conformance data renders through the create entry with EKS
/// Anywhere's test release, to YAML that parses.
#[test]
fn every_docker_conformance_spec_renders() {
    let dir = fixtures::provider_dir("docker").join("testdata");
    let names = fixtures::cluster_spec_files("docker");
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let mut spec = ironbell_cluster_spec::Spec::load(dir.join(&name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        ironbell_cluster_spec::defaults::builder_defaults(&mut spec);
        let version = spec
            .cluster
            .spec
            .kubernetes_version
            .clone()
            .unwrap_or_else(|| panic!("{name}: no Kubernetes version"));
        let release = fixtures::resolve_test_release(&[version.as_str()])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let credentials = RegistryCredentials {
            username: "u".into(),
            password: "p".into(),
        };
        let yaml = fixtures::render_entry(&spec, &release, Some(credentials))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for de in serde_yaml_ng::Deserializer::from_str(&yaml) {
            let _: serde_yaml_ng::Value = serde::Deserialize::deserialize(de)
                .unwrap_or_else(|e| panic!("{name}: rendered YAML does not parse: {e}"));
        }
    }
}

/// Any spec with parts removed renders or is refused with an error (never a panic).
#[test]
fn partial_specs_render_or_are_refused() {
    let fields = [
        "kubernetesVersion",
        "eksaVersion",
        "clusterNetwork",
        "controlPlaneConfiguration",
        "externalEtcdConfiguration",
        "workerNodeGroupConfigurations",
    ];
    for mask in 0u32..(1 << fields.len()) {
        let mut c = cluster();
        for (i, f) in fields.iter().enumerate() {
            if mask & (1 << i) != 0 {
                c["spec"][*f] = json!(null);
            }
        }
        let s = spec(c);
        let _ = docker::render(&s, &bundles(), &options(&s));
        let _ = docker::render(&s, &DockerBundles::default(), &RenderOptions::default());
    }
}

/// `ironbell generate clusterconfig --provider docker`'s spec validates and renders with the
/// release data ironbell ships.
#[test]
fn the_generated_docker_spec_renders_with_the_shipped_release() {
    use ironbell_cluster_spec::{DEFAULT_KUBERNETES_VERSION, Provider, Spec};
    let mut spec = Spec::parse(&ironbell_cluster_spec::generate("dev", Provider::Docker))
        .unwrap_or_else(|e| panic!("{e}"));
    ironbell_cluster_spec::defaults::builder_defaults(&mut spec);
    let report = ironbell_cluster_spec::validate(&spec, None);
    assert!(
        report.is_valid(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    let release = ironbell_release::Resolver::new()
        .resolve(
            &ironbell_release::BundlesSource::Shipped,
            &[DEFAULT_KUBERNETES_VERSION],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = fixtures::render_entry(&spec, &release, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("cgroup-driver: systemd"), "{yaml}");
    assert!(yaml.contains("customImage: public.ecr.aws/"), "{yaml}");
    assert!(
        yaml.contains("imageRepository: public.ecr.aws/eks-anywhere/kubernetes-sigs/kind\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("name: dev-etcd-template-1234567890000")
            == spec.cluster.spec.external_etcd_configuration.is_some()
    );
}

/// A `KubeletConfiguration` replaces the kubelet flags with a patch file; node labels stay
/// kubelet flags.
#[test]
fn a_kubelet_configuration_is_a_patch_and_labels_stay_flags() {
    let s = with(
        &["spec", "controlPlaneConfiguration"],
        json!({"count": 1, "kubeletConfiguration": {"maxPods": 20}, "labels": {"tier": "cp"}}),
    );
    let cp = docker::render_control_plane(&s, &bundles(), &options(&s))
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = ironbell_capi::to_yaml_documents(&cp).unwrap_or_else(|e| panic!("{e}"));
    for (text, present) in [
        (
            "path: /etc/kubernetes/patches/kubeletconfiguration0+strategic.yaml",
            true,
        ),
        ("maxPods: 20", true),
        ("directory: /etc/kubernetes/patches", true),
        ("node-labels: tier=cp", true),
        ("eviction-hard", false),
    ] {
        assert_eq!(yaml.contains(text), present, "{text}: {yaml}");
    }
}
