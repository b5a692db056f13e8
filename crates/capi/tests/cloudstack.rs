//! The CloudStack renderer's behaviour beyond the goldens: errors on bad input (each naming
//! the object and field, never a panic), upgrade names, the create entry point and the
//! credentials reader.

#[allow(dead_code)]
#[path = "golden/compare.rs"]
mod compare;
#[path = "golden/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;

use base64::Engine as _;
use ironbell_capi::cloudstack::{
    self, CloudStackSpec, CurrentCluster, RenderError, RenderOptions, credentials,
    names_from_clock, upgrade_names,
};
use ironbell_capi::tinkerbell::TemplateNames;
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_model::anywhere::{Ref, Taint, TaintEffect};

const NOW: i64 = 1_234_567_890_000;
const LATER: i64 = 1_234_567_899_999;

fn main_spec() -> CloudStackSpec {
    let spec =
        fixtures::load_spec("cloudstack", "cluster_main.yaml").unwrap_or_else(|e| panic!("{e}"));
    CloudStackSpec::from_spec(&spec).unwrap_or_else(|e| panic!("{e}"))
}

fn bundles(spec: &CloudStackSpec) -> VersionsBundleSet {
    fixtures::resolve_cluster_bundles(&spec.cluster).unwrap_or_else(|e| panic!("{e}"))
}

fn render(spec: &CloudStackSpec) -> Result<ironbell_capi::Manifests, RenderError> {
    let options = RenderOptions {
        names: names_from_clock(&spec.cluster, NOW),
    };
    cloudstack::render(spec, &bundles(&main_spec()), &options)
}

/// The message of a render that must fail (empty when it does not).
fn error_of(spec: &CloudStackSpec) -> String {
    render(spec)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn a_missing_machine_config_is_named_with_its_user() {
    let mut spec = main_spec();
    if let Some(cp) = spec.cluster.spec.control_plane_configuration.as_mut() {
        cp.machine_group_ref = Some(Ref::new("CloudStackMachineConfig", "nope"));
    }
    let err = error_of(&spec);
    assert_eq!(
        err,
        "cluster test: the control plane references CloudStackMachineConfig \"nope\", which the spec does not have"
    );
}

#[test]
fn a_machine_config_without_a_key_is_named() {
    for users in [None, Some(vec![])] {
        let mut spec = main_spec();
        if let Some(mc) = spec.machine_configs.get_mut("test-etcd") {
            mc.spec.users = users;
        }
        let err = error_of(&spec);
        assert_eq!(
            err,
            "CloudStackMachineConfig test-etcd: spec.users[0] needs an SSH authorized key"
        );
    }
    let mut spec = main_spec();
    for u in spec
        .machine_configs
        .get_mut("test")
        .and_then(|m| m.spec.users.as_mut())
        .into_iter()
        .flatten()
    {
        u.ssh_authorized_keys = vec![" ".into()];
    }
    assert!(matches!(render(&spec), Err(RenderError::MissingUser { name }) if name == "test"));
}

/// The main spec with another control-plane endpoint.
fn with_endpoint(host: &str) -> CloudStackSpec {
    let mut spec = main_spec();
    let cp = spec.cluster.spec.control_plane_configuration.as_mut();
    if let Some(e) = cp.and_then(|cp| cp.endpoint.as_mut()) {
        e.host = host.into();
    }
    spec
}

#[test]
fn a_bad_endpoint_is_an_error_naming_the_field() {
    for host in [
        "1.1.1.1:99999",
        "1.1.1.1:",
        "1.1.1.1:0",
        "1.1.1.1::",
        "[::1",
        ":6443",
    ] {
        let spec = with_endpoint(host);
        let err = error_of(&spec);
        assert!(
            err.contains("spec.controlPlaneConfiguration.endpoint.host") && err.contains(host),
            "{host}: {err}"
        );
    }
}

#[test]
fn an_endpoint_port_is_kept() {
    let spec = with_endpoint("1.2.3.4:7443");
    let out = render(&spec).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.control_plane_yaml().unwrap_or_default();
    assert!(yaml.contains("port: 7443"), "{yaml}");
    assert!(
        yaml.contains("value: 1.2.3.4\n"),
        "kube-vip address without the port"
    );
}

#[test]
fn missing_parts_are_named() {
    let mut spec = main_spec();
    spec.cluster.spec.kubernetes_version = Some("1.99".into());
    assert_eq!(
        error_of(&spec),
        "cluster test: no versions bundle for Kubernetes 1.99"
    );
    let mut spec = main_spec();
    spec.cluster.spec.control_plane_configuration = None;
    assert_eq!(
        error_of(&spec),
        "cluster test: spec.controlPlaneConfiguration.endpoint.host is required"
    );
    let spec = main_spec();
    let options = RenderOptions::default();
    let err = cloudstack::render(&spec, &bundles(&spec), &options).err();
    assert_eq!(
        err.map(|e| e.to_string()).unwrap_or_default(),
        "cluster test: no template names given for worker node group md-0"
    );
}

#[test]
fn a_spec_of_another_provider_is_refused() {
    let spec = fixtures::load_spec("tinkerbell", "cluster_tinkerbell_stacked_etcd.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        CloudStackSpec::from_spec(&spec),
        Err(RenderError::NotCloudStack { cluster }) if cluster == "test"
    ));
}

#[test]
fn the_create_entry_point_renders_cloudstack() {
    let spec =
        fixtures::load_spec("cloudstack", "cluster_main.yaml").unwrap_or_else(|e| panic!("{e}"));
    let release = fixtures::resolve_test_release(&["1.21"]).unwrap_or_else(|e| panic!("{e}"));
    let inputs = ironbell_capi::CreateInputs {
        now_unix_ms: NOW,
        ..Default::default()
    };
    let out = ironbell_capi::render(&spec, &release, &inputs).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = out.control_plane.iter().map(|o| o.kind()).collect();
    assert_eq!(
        kinds,
        [
            "Cluster",
            "CloudStackCluster",
            "KubeadmControlPlane",
            "EtcdadmCluster",
            "CloudStackMachineTemplate",
            "CloudStackMachineTemplate"
        ]
    );
    let workers: Vec<&str> = out.workers.iter().map(|o| o.kind()).collect();
    assert_eq!(
        workers,
        [
            "KubeadmConfigTemplate",
            "MachineDeployment",
            "CloudStackMachineTemplate"
        ]
    );
    assert!(
        out.to_yaml()
            .unwrap_or_default()
            .contains("test-md-0-1234567890000")
    );
}

/// The names' suffixes: control plane, etcd, md-0 machine template, md-0 bootstrap template.
fn suffixes(names: &TemplateNames) -> [String; 4] {
    let tail = |n: &str| n.rsplit('-').next().unwrap_or_default().to_string();
    let md = &names.workers["md-0"];
    [
        tail(names.control_plane.as_deref().unwrap_or_default()),
        tail(names.etcd.as_deref().unwrap_or_default()),
        tail(&md.machine_template),
        tail(&md.kubeadm_config_template),
    ]
}

fn current(spec: &CloudStackSpec) -> CurrentCluster<'_> {
    CurrentCluster {
        spec,
        bundles_number: 1,
        names: names_from_clock(&spec.cluster, NOW),
    }
}

const OLD: &str = "1234567890000";
const NEW: &str = "1234567899999";

fn no_change(_: &mut CloudStackSpec) {}

fn taint_md_0(s: &mut CloudStackSpec) {
    let groups = s.cluster.spec.worker_node_group_configurations.as_mut();
    if let Some(w) = groups.and_then(|w| w.first_mut()) {
        w.taints = Some(vec![Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: TaintEffect::NoSchedule,
            time_added: None,
        }]);
    }
}

fn etcd_symlinks_dropped(s: &mut CloudStackSpec) {
    if let Some(mc) = s.machine_configs.get_mut("test-etcd") {
        mc.spec.symlinks = None;
    }
}

fn zones_dropped(s: &mut CloudStackSpec) {
    s.datacenter.spec.availability_zones = None;
}

/// Which templates an upgrade replaces: (change, new bundles number, expected suffixes of
/// the control-plane, etcd, md-0 machine and md-0 bootstrap template names).
#[test]
fn upgrades_replace_only_the_templates_that_changed() {
    type Change = fn(&mut CloudStackSpec);
    let table: [(&str, Change, i64, [&str; 4]); 5] = [
        ("nothing", no_change, 1, [OLD, OLD, OLD, OLD]),
        ("new bundles", no_change, 2, [NEW, NEW, NEW, OLD]),
        ("a worker taint", taint_md_0, 1, [OLD, OLD, NEW, NEW]),
        (
            "an etcd machine",
            etcd_symlinks_dropped,
            1,
            [OLD, NEW, OLD, OLD],
        ),
        ("the zones", zones_dropped, 1, [NEW, NEW, NEW, OLD]),
    ];
    let old = main_spec();
    for (what, change, bundles_number, expected) in table {
        let mut new = old.clone();
        change(&mut new);
        let names = upgrade_names(&current(&old), &new, bundles_number, LATER);
        assert_eq!(suffixes(&names), expected, "a change of {what}");
    }
}

#[test]
fn the_cloud_config_env_value_becomes_secrets() {
    let path = fixtures::provider_dir("cloudstack")
        .join("testdata/cloudstack_config_multiple_profiles.ini");
    let text = fixtures::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
    let profiles = credentials::parse_base64(&encoded).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["global", "instance2"]);
    let out = credentials::secrets(&profiles, &BTreeSet::new());
    let yaml = ironbell_capi::to_yaml_documents(&out).unwrap_or_default();
    assert!(yaml.contains("stringData"), "{yaml}");
}

/// Every prefix of a cloud-config, and every line with a byte flipped, reads to profiles or
/// a clear error: never a panic.
#[test]
fn truncated_or_damaged_cloud_configs_never_panic() {
    let path = fixtures::provider_dir("cloudstack")
        .join("testdata/cloudstack_config_multiple_profiles.ini");
    let text = fixtures::read(&path).unwrap_or_else(|e| panic!("{e}"));
    for end in 0..=text.len() {
        if text.is_char_boundary(end) {
            let _ = credentials::parse(&text[..end]);
        }
    }
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        for b in [b'[', b']', b'=', b'"', b'#', b'\n', b'`', 0xff] {
            let mut damaged = bytes.to_vec();
            damaged[i] = b;
            let damaged = String::from_utf8_lossy(&damaged);
            let _ = credentials::parse(&damaged);
            let _ = credentials::parse_base64(&damaged);
        }
    }
}

/// The control plane of `cluster_main_multiple_worker_node_groups.yaml` with
/// `skipAdmissionForSystemResources` set as given, as EKS Anywhere's admission tests render it.
fn admission_control_plane(skip: Option<bool>) -> String {
    let loaded = fixtures::load_spec(
        "cloudstack",
        "cluster_main_multiple_worker_node_groups.yaml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut spec = CloudStackSpec::from_spec(&loaded).unwrap_or_else(|e| panic!("{e}"));
    if let Some(cp) = spec.cluster.spec.control_plane_configuration.as_mut() {
        cp.skip_admission_for_system_resources = skip;
    }
    let options = RenderOptions {
        names: TemplateNames {
            control_plane: Some("test-cp-template".into()),
            etcd: Some("test-etcd-template".into()),
            ..TemplateNames::default()
        },
    };
    let cp = cloudstack::render_control_plane(&spec, &bundles(&spec), &options)
        .unwrap_or_else(|e| panic!("{e}"));
    ironbell_capi::to_yaml_documents(&cp).unwrap_or_else(|e| panic!("{e}"))
}

/// `TestCloudStackTemplateBuilderGenerateCAPISpecControlPlaneWithAdmissionExclusionEnabled`
/// (a subset compare, so not in the mappings file).
#[test]
fn admission_exclusion_is_a_subset_of_the_control_plane() {
    let got = compare::parse_documents(&admission_control_plane(Some(true)))
        .unwrap_or_else(|e| panic!("{e}"));
    let path =
        fixtures::provider_dir("cloudstack").join("testdata/admission_exclusion_enabled.yaml");
    let expected =
        compare::parse_documents(&fixtures::read(&path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(!expected.is_empty());
    for doc in &expected {
        assert!(
            got.iter().any(|g| compare::is_subset(doc, g)),
            "admission_exclusion_enabled.yaml: a document is not part of the control plane:\n{}",
            serde_yaml_ng::to_string(doc).unwrap_or_default()
        );
    }
}

/// The `...Disabled` and `...Nil` tests: nothing points at the rules.
#[test]
fn without_admission_exclusion_nothing_points_at_the_rules() {
    for skip in [Some(false), None] {
        let yaml = admission_control_plane(skip);
        for needle in [
            "EKS_PATCH_EXCLUSION_RULES_FILE",
            "admission-exclusion-rules",
            "/etc/kubernetes/admission-plugin-exclusion-rules.json",
        ] {
            assert!(!yaml.contains(needle), "{skip:?}: {needle}");
        }
    }
}
