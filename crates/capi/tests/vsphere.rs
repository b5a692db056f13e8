//! The vSphere renderer beyond the goldens: bad input gives an error naming the object and
//! field (never a panic), credentials stay out of `Debug`, the setup defaults and the
//! upgrade names follow EKS Anywhere's rules, and `render` dispatches vSphere specs.

#[path = "golden/fixtures.rs"]
mod fixtures;

use ironbell_capi::kubeadm::RegistryCredentials;
use ironbell_capi::tinkerbell::TemplateNames;
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_capi::vsphere::{
    self, CurrentCluster, RenderError, RenderOptions, TemplateFacts, VSphereCredentials,
    VSphereSpec,
};
use ironbell_model::anywhere::{CloneMode, OsFamily, Ref, RegistryMirrorConfiguration};

const NOW: i64 = 1_234_567_890_000;

fn main_spec() -> (VSphereSpec, VersionsBundleSet) {
    let spec = fixtures::load_vsphere_spec("cluster_main.yaml").unwrap_or_else(|e| panic!("{e}"));
    let bundles =
        fixtures::resolve_cluster_bundles(&spec.cluster).unwrap_or_else(|e| panic!("{e}"));
    (spec, bundles)
}

/// The first worker node group.
fn first_group(
    spec: &mut VSphereSpec,
) -> &mut ironbell_model::anywhere::WorkerNodeGroupConfiguration {
    let groups = spec.cluster.spec.worker_node_group_configurations.as_mut();
    groups
        .and_then(|w| w.first_mut())
        .expect("a worker node group")
}

fn options(spec: &VSphereSpec) -> RenderOptions {
    RenderOptions {
        names: vsphere::names_from_clock(spec, NOW),
        credentials: VSphereCredentials {
            username: "user".into(),
            password: "secret-password".into(),
            ..Default::default()
        },
        registry_credentials: None,
    }
}

fn with_registry_credentials(mut opts: RenderOptions) -> RenderOptions {
    opts.registry_credentials = Some(RegistryCredentials {
        username: "u".into(),
        password: "p".into(),
    });
    opts
}

fn render_err(spec: &VSphereSpec, bundles: &VersionsBundleSet) -> String {
    match vsphere::render(spec, bundles, &options(spec)) {
        Ok(_) => panic!("rendering should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_machine_config_names_the_reference() {
    let (mut spec, bundles) = main_spec();
    spec.machine_configs.remove("test-wn");
    let err = render_err(&spec, &bundles);
    assert!(
        err.contains("worker node group md-0") && err.contains("\"test-wn\""),
        "{err}"
    );
}

#[test]
fn a_bad_ssh_key_names_the_machine_config() {
    let (mut spec, bundles) = main_spec();
    // A key without its data; an empty key (generated at setup) is written as it is.
    let mc = spec
        .machine_configs
        .get_mut("test-etcd")
        .expect("test-etcd");
    if let Some(u) = mc.spec.users.as_mut().and_then(|u| u.first_mut()) {
        u.ssh_authorized_keys = vec!["ssh-rsa".into()];
    }
    let err = render_err(&spec, &bundles);
    assert!(
        err.starts_with("VSphereMachineConfig test-etcd: spec.users[0].sshAuthorizedKeys[0]")
            && err.contains("not an authorized key"),
        "{err}"
    );
    let mc = spec.machine_configs.get_mut("test-cp").expect("test-cp");
    mc.spec.users = Some(Vec::new());
    let err = render_err(&spec, &bundles);
    assert!(
        err.contains("VSphereMachineConfig test-cp") && err.contains("no user"),
        "{err}"
    );
}

#[test]
fn a_version_without_a_bundle_is_named() {
    let (mut spec, bundles) = main_spec();
    first_group(&mut spec).kubernetes_version = Some("1.99".into());
    let err = render_err(&spec, &bundles);
    assert!(
        err.contains("no versions bundle for Kubernetes 1.99"),
        "{err}"
    );
}

#[test]
fn an_authenticated_mirror_needs_credentials() {
    let (mut spec, bundles) = main_spec();
    spec.cluster.spec.registry_mirror_configuration = Some(RegistryMirrorConfiguration {
        endpoint: Some("1.2.3.4".into()),
        authenticate: Some(true),
        ..Default::default()
    });
    let err = render_err(&spec, &bundles);
    assert!(err.contains("requires authentication"), "{err}");
    let opts = with_registry_credentials(options(&spec));
    let out = vsphere::render(&spec, &bundles, &opts).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.control_plane_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("name: registry-credentials"));
}

#[test]
fn a_bottlerocket_kubelet_setting_it_does_not_know_is_refused() {
    let (mut spec, bundles) = main_spec();
    for mc in spec.machine_configs.values_mut() {
        mc.spec.os_family = Some(OsFamily::Bottlerocket);
    }
    if let Some(cp) = spec.cluster.spec.control_plane_configuration.as_mut() {
        cp.kubelet_configuration =
            Some(serde_json::json!({"kind": "KubeletConfiguration", "noSuchSetting": 1}));
    }
    let err = render_err(&spec, &bundles);
    assert!(
        err.contains("spec.controlPlaneConfiguration.kubeletConfiguration")
            && err.contains("noSuchSetting"),
        "{err}"
    );
}

#[test]
fn a_datacenter_of_another_provider_is_refused() {
    let path =
        fixtures::provider_dir("tinkerbell").join("testdata/cluster_tinkerbell_stacked_etcd.yaml");
    let spec = ironbell_cluster_spec::Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let err = VSphereSpec::from_spec(&spec).expect_err("not vSphere");
    assert!(matches!(err, RenderError::NotVSphere { .. }), "{err}");
    assert!(err.to_string().contains("not a VSphereDatacenterConfig"));
}

#[test]
fn credentials_are_never_in_debug_output() {
    let (spec, _) = main_spec();
    let opts = options(&spec);
    let shown = format!("{opts:?}");
    assert!(!shown.contains("secret-password"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn setup_defaults_follow_the_templates() {
    let (mut spec, _) = main_spec();
    for mc in spec.machine_configs.values_mut() {
        mc.spec.clone_mode = None;
    }
    if let Some(mc) = spec.machine_configs.get_mut("test-wn") {
        mc.spec.disk_gib = Some(60);
    }
    if let Some(mc) = spec.machine_configs.get_mut("test-cp") {
        mc.spec.disk_gib = Some(10);
    }
    vsphere::apply_setup_defaults(&mut spec, |_| TemplateFacts {
        disk_gib: 25,
        has_snapshot: true,
    });
    let mc = |n: &str| spec.machine_configs.get(n).expect(n).spec.clone();
    // A disk smaller than the template's grows to it, and then a linked clone fits.
    assert_eq!(mc("test-cp").disk_gib, Some(25));
    assert_eq!(mc("test-cp").clone_mode, Some(CloneMode::LinkedClone));
    // A larger disk needs a full clone.
    assert_eq!(mc("test-wn").clone_mode, Some(CloneMode::FullClone));
    // etcd machines get at least 8 GiB.
    assert_eq!(mc("test-etcd").memory_mib, Some(8192));
}

#[test]
fn upgrade_names_keep_what_does_not_change() {
    let (spec, bundles) = main_spec();
    let current_names = TemplateNames::from_objects(
        "test",
        &vsphere::render(&spec, &bundles, &options(&spec))
            .unwrap_or_else(|e| panic!("{e}"))
            .control_plane,
    );
    let mut names = vsphere::names_from_clock(&spec, NOW);
    names.control_plane = current_names.control_plane.clone();
    let current = CurrentCluster {
        spec: &spec,
        bundles_number: bundles.number,
        names: names.clone(),
    };
    let later = NOW + 1;
    assert_eq!(
        vsphere::upgrade_names(&current, &spec, bundles.number, later),
        names
    );

    // A new bundle replaces every machine template, not the kubeadm config templates.
    let new = vsphere::upgrade_names(&current, &spec, bundles.number + 1, later);
    assert_eq!(
        new.control_plane.as_deref(),
        Some("test-control-plane-template-1234567890001")
    );
    assert_eq!(
        new.etcd.as_deref(),
        Some("test-etcd-template-1234567890001")
    );
    let md0 = &new.workers["md-0"];
    assert_eq!(md0.machine_template, "test-md-0-1234567890001");
    assert_eq!(
        md0.kubeadm_config_template,
        "test-md-0-template-1234567890000"
    );

    // Another worker machine config with other users replaces the kubeadm config template.
    let mut other = spec.clone();
    let mut mc = other.machine_configs["test-wn"].clone();
    if let Some(u) = mc.spec.users.as_mut().and_then(|u| u.first_mut()) {
        u.name = "someone-else".into();
    }
    other.machine_configs.insert("wn-2".into(), mc);
    first_group(&mut other).machine_group_ref = Some(Ref::new("VSphereMachineConfig", "wn-2"));
    let new = vsphere::upgrade_names(&current, &other, bundles.number, later);
    assert_eq!(
        new.workers["md-0"].kubeadm_config_template,
        "test-md-0-template-1234567890001"
    );
    assert_eq!(
        new.workers["md-0"].machine_template,
        "test-md-0-1234567890000"
    );
}

#[test]
fn render_dispatches_vsphere_specs() {
    let root = fixtures::eksa_root();
    let mut spec = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/vsphere/testdata/cluster_main_121.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ironbell_cluster_spec::defaults::builder_defaults(&mut spec);
    let release = fixtures::resolve_test_release(&["1.21"]).unwrap_or_else(|e| panic!("{e}"));
    let inputs = ironbell_capi::CreateInputs {
        now_unix_ms: NOW,
        vsphere_credentials: Some(VSphereCredentials {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let out = ironbell_capi::render(&spec, &release, &inputs).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("kind: VSphereCluster"));
    assert!(yaml.contains("name: test-control-plane-template-1234567890000"));
    assert!(
        !yaml.contains("testemail@test.com"),
        "key comments are dropped"
    );
}

#[test]
fn a_worker_group_without_names_is_named() {
    let (spec, bundles) = main_spec();
    let mut opts = options(&spec);
    opts.names.workers.clear();
    let err = vsphere::render_workers(&spec, &bundles, &opts).expect_err("no names");
    assert!(
        err.to_string()
            .contains("no template names given for worker node group md-0"),
        "{err}"
    );
}

#[test]
fn bottlerocket_machine_configs_get_the_imported_template() {
    let (mut spec, mut bundles) = main_spec();
    for mc in spec.machine_configs.values_mut() {
        mc.spec.template = None;
    }
    // Ubuntu templates are never imported.
    let err = vsphere::apply_default_templates(&mut spec.clone(), &bundles).expect_err("ubuntu");
    assert!(
        err.to_string().contains("spec.template is required")
            && err.to_string().contains("VSphereMachineConfig test-"),
        "{err}"
    );
    for mc in spec.machine_configs.values_mut() {
        mc.spec.os_family = Some(OsFamily::Bottlerocket);
    }
    // The test bundles have no Bottlerocket OVA.
    let err = vsphere::apply_default_templates(&mut spec.clone(), &bundles).expect_err("no OVA");
    assert!(err.to_string().contains("no Bottlerocket OVA"), "{err}");
    for b in bundles.by_kube_version.values_mut() {
        b.bottlerocket_ova.arch = vec!["amd64".into()];
        b.bottlerocket_ova.sha256 = "0123456789abcdef".into();
    }
    vsphere::apply_default_templates(&mut spec, &bundles).unwrap_or_else(|e| panic!("{e}"));
    let eksd = &bundles.by_kube_version["1.19"].eksd_name;
    assert_eq!(
        spec.machine_configs["test-cp"].spec.template.as_deref(),
        Some(
            format!("/SDDC-Datacenter/vm/Templates/bottlerocket-1.19-{eksd}-amd64-0123456")
                .as_str()
        )
    );
}

/// Every vSphere spec of EKS Anywhere's test data (the ones no golden uses too: Red Hat,
/// control plane only, upgrade strategies, CSI, failure domains) renders after the setup,
/// and the output reads back as YAML with the kinds CAPV expects.
#[test]
fn every_vsphere_test_spec_renders() {
    let files = fixtures::cluster_spec_files("vsphere");
    assert!(files.len() > 30, "{files:?}");
    for file in files {
        let mut spec = fixtures::load_vsphere_spec(&file).unwrap_or_else(|e| panic!("{e}"));
        let bundles = fixtures::resolve_cluster_bundles(&spec.cluster)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        vsphere::apply_setup_defaults(&mut spec, |_| TemplateFacts {
            disk_gib: 25,
            has_snapshot: true,
        });
        let opts = with_registry_credentials(options(&spec));
        let out = vsphere::render(&spec, &bundles, &opts).unwrap_or_else(|e| panic!("{file}: {e}"));
        let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{file}: {e}"));
        let kinds: Vec<String> = serde_yaml_ng::Deserializer::from_str(&yaml)
            .map(|d| {
                let v: serde_yaml_ng::Value =
                    serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{file}: {e}"));
                v.get("kind")
                    .and_then(|k| k.as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        for kind in [
            "Cluster",
            "VSphereCluster",
            "KubeadmControlPlane",
            "ClusterResourceSet",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{file}: no {kind} in {kinds:?}"
            );
        }
    }
}
