//! The vSphere mappings of `golden-mappings.txt`: each EKS Anywhere test function with its
//! inputs, the change it makes before rendering, and how it renders (as the provider on a
//! create or an upgrade, or through the template builder).
//!
//! The provider tests run `SetupAndValidateCreateCluster` first with a fake vCenter whose
//! templates have a 25 GiB disk and a snapshot; [`setup`] applies the same defaults. Their
//! upgrade mocks return an empty `VSphereDatacenterConfig` (so every machine template is
//! replaced) or the spec's own, and the names of the current objects.

use std::collections::BTreeMap;

use ironbell_capi::kubeadm::RegistryCredentials;
use ironbell_capi::tinkerbell::{TemplateNames, WorkerTemplateNames};
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_capi::vsphere::{
    self, CurrentCluster, RenderOptions, TemplateFacts, VSphereCredentials, VSphereSpec,
};
use ironbell_capi::{Manifests, to_yaml_documents};
use ironbell_model::anywhere::{
    Dns, HostOsConfiguration, NtpConfiguration, PodIamConfig, Ref, ResolvConf,
    VSphereDatacenterConfig, WorkerNodeGroupConfiguration,
};

/// EKS Anywhere's fake clock (`test.FakeNow`), in Unix milliseconds.
pub const FAKE_NOW_MS: i64 = 1_234_567_890_000;
/// `test.NewFakeNow`.
pub const NEW_FAKE_NOW_MS: i64 = 987_654_321_000;

/// How a case renders.
#[derive(Clone, Copy)]
pub enum Mode {
    /// `GenerateCAPISpecForCreate` after the provider's setup; names from the clock.
    Create,
    /// As [`Mode::Create`] with the cloud provider's own credentials in the environment.
    CreateCloudProviderCredentials,
    /// `GenerateCAPISpecForUpgrade` from the spec after setup to `mutate` of it, the mocks
    /// returning an empty datacenter config and the clock's `KubeadmConfigTemplate` names;
    /// the new names from this clock.
    UpgradeEmptyDatacenter(i64),
    /// `GenerateCAPISpecForUpgrade` to the same spec, the mocks returning the spec's own
    /// datacenter and machine configs and objects named `<name>-...-<suffix>`.
    UpgradeUnchanged(&'static str),
    /// The template builder's control plane: no names but the control plane's initial one
    /// when `true`; vCenter credentials only when the test sets them.
    BuilderControlPlane {
        initial_name: bool,
        credentials: bool,
    },
    /// The template builder's workers with empty names (Go's lookups in a nil map).
    BuilderWorkers,
    /// The template builder's failure domains.
    FailureDomains,
}

/// One rendering of a mapping.
pub struct Case {
    /// Spec file under `pkg/providers/vsphere/testdata`.
    pub input: &'static str,
    /// The change the test makes first (to the new spec of an upgrade).
    pub mutate: fn(&mut VSphereSpec),
    /// How it renders.
    pub mode: Mode,
    /// Expected control-plane document, if the test checks it.
    pub expected_cp: Option<&'static str>,
    /// Expected workers document, if the test checks it.
    pub expected_md: Option<&'static str>,
}

/// One EKS Anywhere test function.
pub struct Mapping {
    /// `file.go::TestName`.
    pub test: &'static str,
    /// Its renderings.
    pub cases: Vec<Case>,
    /// Why the mapping cannot be equal, when it cannot.
    pub note: Option<&'static str>,
}

fn none(_: &mut VSphereSpec) {}

fn resolv_conf(s: &mut VSphereSpec, path: &str) {
    let net = s
        .cluster
        .spec
        .cluster_network
        .get_or_insert_with(Default::default);
    net.dns = Some(Dns {
        resolv_conf: Some(ResolvConf {
            path: Some(path.into()),
        }),
    });
}

/// The spec's first worker node group.
fn first_group(s: &mut VSphereSpec) -> Option<&mut WorkerNodeGroupConfiguration> {
    let groups = s.cluster.spec.worker_node_group_configurations.as_mut();
    groups.and_then(|w| w.first_mut())
}

fn wn_kubelet(s: &mut VSphereSpec) {
    if let Some(w) = first_group(s) {
        w.kubelet_configuration = Some(serde_json::json!({"maxPods": 20}));
    }
    resolv_conf(s, "test-path");
}

fn cp_kubelet_with(s: &mut VSphereSpec, config: serde_json::Value) {
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.kubelet_configuration = Some(config);
    }
    resolv_conf(s, "test-path");
}

fn cp_kubelet(s: &mut VSphereSpec) {
    cp_kubelet_with(s, serde_json::json!({"maxPods": 20}));
}

fn cp_kubelet_br(s: &mut VSphereSpec) {
    cp_kubelet_with(
        s,
        serde_json::json!({"kind": "KubeletConfiguration", "maxPods": 20}),
    );
}

fn cp_kubelet_br_ntp(s: &mut VSphereSpec) {
    cp_kubelet_br(s);
    if let Some(mc) = s.machine_configs.get_mut("test-cp") {
        mc.spec.host_os_configuration = Some(HostOsConfiguration {
            ntp_configuration: Some(NtpConfiguration {
                servers: vec!["test.ntp".into()],
            }),
            ..Default::default()
        });
    }
}

fn vcenter_tags(s: &mut VSphereSpec) {
    for mc in s.machine_configs.values_mut() {
        mc.spec.tag_ids = Some(vec![
            "urn:vmomi:InventoryServiceTag:test1-uuid:GLOBAL".into(),
            "urn:vmomi:InventoryServiceTag:test2-uuid:GLOBAL".into(),
        ]);
    }
}

/// `skipAdmissionForSystemResources: true` on the control plane.
pub fn skip_admission(s: &mut VSphereSpec) {
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.skip_admission_for_system_resources = Some(true);
    }
}

fn pod_iam(s: &mut VSphereSpec) {
    s.cluster.spec.pod_iam_config = Some(PodIamConfig {
        service_account_issuer: "https://test".into(),
    });
}

fn custom_resolv_conf(s: &mut VSphereSpec) {
    resolv_conf(s, "/etc/my-custom-resolv.conf");
}

fn add_md_2(s: &mut VSphereSpec) {
    s.cluster
        .spec
        .worker_node_group_configurations
        .get_or_insert_with(Vec::new)
        .push(WorkerNodeGroupConfiguration {
            name: Some("md-2".into()),
            count: Some(1),
            machine_group_ref: Some(Ref::new("VSphereMachineConfig", "test-wn")),
            ..Default::default()
        });
}

fn rename_worker_machine_config(s: &mut VSphereSpec) {
    if let Some(mc) = s.machine_configs.get("test-wn").cloned() {
        let mut mc = mc;
        mc.metadata.name = Some("new-test-wn".into());
        s.machine_configs.insert("new-test-wn".into(), mc);
    }
    if let Some(w) = first_group(s) {
        w.machine_group_ref = Some(Ref::new("VSphereMachineConfig", "new-test-wn"));
    }
}

fn case(input: &'static str, cp: Option<&'static str>, md: Option<&'static str>) -> Case {
    Case {
        input,
        mutate: none,
        mode: Mode::Create,
        expected_cp: cp,
        expected_md: md,
    }
}

fn with(mut c: Case, mutate: fn(&mut VSphereSpec), mode: Mode) -> Case {
    c.mutate = mutate;
    c.mode = mode;
    c
}

fn m(test: &'static str, cases: Vec<Case>) -> Mapping {
    Mapping {
        test,
        cases,
        note: None,
    }
}

/// The goldens of a template builder without worker names print `name: null`; ironbell
/// always names its objects (a missing name is absent, not null).
const NO_WORKER_NAMES: &str = "EKS Anywhere's template builder called with nil name maps prints `name:` (null) on the worker objects; ironbell omits a name it was not given";

/// Every vSphere mapping of `golden-mappings.txt`.
pub fn mappings() -> Vec<Mapping> {
    const MAIN: &str = "cluster_main.yaml";
    const MAIN_CP: &str = "expected_results_main_cp.yaml";
    const MAIN_MD: &str = "expected_results_main_md.yaml";
    let pair = |input, cp, md| case(input, Some(cp), Some(md));
    let cp_builder = |input, cp, mutate, initial_name, credentials| {
        with(
            case(input, Some(cp), None),
            mutate,
            Mode::BuilderControlPlane {
                initial_name,
                credentials,
            },
        )
    };
    let md_builder =
        |input, md, mutate| with(case(input, None, Some(md)), mutate, Mode::BuilderWorkers);
    let empty_dc = Mode::UpgradeEmptyDatacenter(FAKE_NOW_MS);
    let mut out = vec![
        Mapping {
            note: Some(NO_WORKER_NAMES),
            ..m(
                concat!(
                    "template_networks_test.go::",
                    "TestVsphereTemplateBuilderGenerateCAPISpecWorkersWithNetworks"
                ),
                vec![md_builder(
                    "cluster_with_networks.yaml",
                    "expected_results_networks_md.yaml",
                    none,
                )],
            )
        },
        Mapping {
            note: Some(NO_WORKER_NAMES),
            ..m(
                concat!(
                    "template_test.go::",
                    "TestVsphereTemplateBuilderGenerateCAPISpecControlPlaneValidKubeletConfigWN"
                ),
                vec![md_builder(MAIN, "expected_kct.yaml", wn_kubelet)],
            )
        },
        m(
            concat!(
                "template_test.go::",
                "TestVsphereTemplateBuilderGenerateCAPISpecControlPlaneValidKubeletConfigCP"
            ),
            vec![cp_builder(
                MAIN,
                "expected_kcp.yaml",
                cp_kubelet,
                true,
                false,
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestVsphereGenerateCAPISpecControlPlaneValidKubeletConfigCPBR"
            ),
            vec![cp_builder(
                "cluster_main_br.yaml",
                "expected_kcp_br.yaml",
                cp_kubelet_br,
                true,
                false,
            )],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilder_CertSANs"),
            vec![
                cp_builder(
                    "cluster_api_server_cert_san_domain_name.yaml",
                    "expected_cluster_api_server_cert_san_domain_name.yaml",
                    none,
                    false,
                    true,
                ),
                cp_builder(
                    "cluster_api_server_cert_san_ip.yaml",
                    "expected_cluster_api_server_cert_san_ip.yaml",
                    none,
                    false,
                    true,
                ),
            ],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestVsphereGenerateCAPISpecControlPlaneValidKubeletConfigNTPCPBR"
            ),
            vec![cp_builder(
                "cluster_main_br.yaml",
                "expected_kcp_br_ntp.yaml",
                cp_kubelet_br_ntp,
                true,
                false,
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestVsphereTemplateBuilderGenerateFailureDomainYaml"
            ),
            vec![with(
                case(
                    "cluster_vsphere_failuredomain.yaml",
                    Some("expected_results_failuredomain.yaml"),
                    None,
                ),
                none,
                Mode::FailureDomains,
            )],
        ),
        Mapping {
            note: Some(NO_WORKER_NAMES),
            ..m(
                concat!(
                    "template_test.go::",
                    "TestVsphereTemplateBuilderGenerateCAPISpecVCenterTags"
                ),
                vec![
                    cp_builder(
                        MAIN,
                        "expected_kcp_vcenter_tags.yaml",
                        vcenter_tags,
                        true,
                        false,
                    ),
                    md_builder(MAIN, "expected_kct_vcenter_tags.yaml", vcenter_tags),
                ],
            )
        },
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineTemplate"
            ),
            vec![
                with(
                    pair(
                        "cluster_minimal.yaml",
                        "expected_results_minimal_cp.yaml",
                        "expected_results_minimal_md.yaml",
                    ),
                    none,
                    empty_dc,
                ),
                with(
                    pair(
                        "cluster_minimal_autoscaling.yaml",
                        "expected_results_minimal_cp.yaml",
                        "expected_results_minimal_autoscaling_md.yaml",
                    ),
                    none,
                    empty_dc,
                ),
            ],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeOIDC"
            ),
            vec![
                with(
                    case(
                        "cluster_minimal_oidc.yaml",
                        Some("expected_results_minimal_oidc_cp.yaml"),
                        None,
                    ),
                    none,
                    empty_dc,
                ),
                with(
                    case(
                        "cluster_full_oidc.yaml",
                        Some("expected_results_full_oidc_cp.yaml"),
                        None,
                    ),
                    none,
                    empty_dc,
                ),
            ],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeMultipleWorkerNodeGroups"
            ),
            vec![with(
                case(
                    "cluster_main_multiple_worker_node_groups.yaml",
                    None,
                    Some("expected_results_minimal_add_worker_node_group.yaml"),
                ),
                add_md_2,
                empty_dc,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeWorkerVersion"
            ),
            vec![with(
                case(
                    "cluster_main_worker_version.yaml",
                    None,
                    Some("expected_results_minimal_worker_version.yaml"),
                ),
                add_md_2,
                empty_dc,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineTemplateExternalEtcd"
            ),
            vec![
                with(pair(MAIN, MAIN_CP, MAIN_MD), none, empty_dc),
                with(
                    pair(
                        "cluster_main_with_taints.yaml",
                        "expected_results_main_with_taints_cp.yaml",
                        "expected_results_main_with_taints_md.yaml",
                    ),
                    none,
                    empty_dc,
                ),
                with(
                    pair(
                        "cluster_main_with_node_labels.yaml",
                        MAIN_CP,
                        "expected_results_main_node_labels_md.yaml",
                    ),
                    none,
                    empty_dc,
                ),
                with(
                    pair(
                        "cluster_main_with_cp_node_labels.yaml",
                        "expected_results_main_node_labels_cp.yaml",
                        MAIN_MD,
                    ),
                    none,
                    empty_dc,
                ),
            ],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeNotUpdateMachineTemplate"
            ),
            vec![with(
                pair(
                    MAIN,
                    "expected_results_main_no_machinetemplate_update_cp.yaml",
                    "expected_results_main_no_machinetemplate_update_md.yaml",
                ),
                none,
                Mode::UpgradeUnchanged("original"),
            )],
        ),
        m(
            concat!("vsphere_test.go::", "TestProviderGenerateCAPISpecForCreate"),
            vec![pair(MAIN, MAIN_CP, MAIN_MD)],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithControlPlaneTags"
            ),
            vec![pair(MAIN, MAIN_CP, MAIN_MD)],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMultipleWorkerNodeGroups"
            ),
            vec![case(
                "cluster_main_multiple_worker_node_groups.yaml",
                None,
                Some("expected_results_main_multiple_worker_node_groups.yaml"),
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineGroupRefName"
            ),
            vec![with(
                case(
                    MAIN,
                    None,
                    Some("expected_results_main_md_update_machine_template.yaml"),
                ),
                rename_worker_machine_config,
                Mode::UpgradeEmptyDatacenter(NEW_FAKE_NOW_MS),
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithPodIAMConfig"
            ),
            vec![with(
                case(MAIN, Some("expected_results_pod_iam_config.yaml"), None),
                pod_iam,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMultipleMachineTemplate"
            ),
            vec![pair(
                "cluster_main_diff_template.yaml",
                "expected_results_diff_template_cp.yaml",
                MAIN_MD,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithCustomResolvConf"
            ),
            vec![with(
                case(MAIN, Some("expected_results_custom_resolv_conf.yaml"), None),
                custom_resolv_conf,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateVersion121"
            ),
            vec![pair(
                "cluster_main_121.yaml",
                "expected_results_main_121_cp.yaml",
                "expected_results_main_121_md.yaml",
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateCloudProviderCredentials"
            ),
            vec![with(
                case(
                    MAIN,
                    Some("expected_results_main_cp_cloud_provider_credentials.yaml"),
                    None,
                ),
                none,
                Mode::CreateCloudProviderCredentials,
            )],
        ),
        m(
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeEtcdEncryption"
            ),
            vec![
                with(
                    pair(
                        "cluster_ubuntu_etcd_encryption.yaml",
                        "expected_results_ubuntu_etcd_encryption_cp.yaml",
                        "expected_results_main_121_md.yaml",
                    ),
                    none,
                    Mode::UpgradeUnchanged("1234567890000"),
                ),
                with(
                    pair(
                        "cluster_ubuntu_etcd_encryption_1_29.yaml",
                        "expected_results_ubuntu_etcd_encryption_cp_1_29.yaml",
                        "expected_results_main_129_md.yaml",
                    ),
                    none,
                    Mode::UpgradeUnchanged("1234567890000"),
                ),
            ],
        ),
    ];
    // The create tests named after their spec: `cluster_<stem>.yaml` gives
    // `expected_results_<stem>_{cp,md}.yaml`.
    for (test, stem) in [
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithBottlerocketAndExternalEtcd"
            ),
            "bottlerocket_external_etcd",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithMirrorConfig"
            ),
            "bottlerocket_mirror_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithMultipleOciNamespaces"
            ),
            "bottlerocket_mirror_config_multiple_ocinamespaces",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithNTPConfig"
            ),
            "bottlerocket_ntp_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForUbuntuWithNTPConfig"
            ),
            "ubuntu_ntp_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithBottlerocketSettingsConfig"
            ),
            "bottlerocket_settings_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithKernelConfig"
            ),
            "bottlerocket_kernel_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithBootSettings"
            ),
            "bottlerocket_boot_settings_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithTrustedCertBundles"
            ),
            "bottlerocket_cert_bundles_config",
        ),
    ] {
        out.push(m(test, vec![stem_case(stem, stem)]));
    }
    // The mirror tests: `cluster_<input>.yaml` gives `expected_results_<output>_{cp,md}.yaml`.
    for (test, input, output) in [
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithMirrorAndCertConfig"
            ),
            "bottlerocket_mirror_with_cert_config",
            "bottlerocket_mirror_config_with_cert",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithMirrorAuthConfig"
            ),
            "bottlerocket_mirror_with_auth_config",
            "bottlerocket_mirror_config_with_auth",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileWithMirrorConfig"
            ),
            "mirror_config",
            "mirror_config",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileWithMirrorAndCertConfig"
            ),
            "mirror_with_cert_config",
            "mirror_config_with_cert",
        ),
        (
            concat!(
                "vsphere_test.go::",
                "TestProviderGenerateDeploymentFileWithMirrorAuth"
            ),
            "mirror_with_auth_config",
            "mirror_with_auth_config",
        ),
    ] {
        out.push(m(test, vec![stem_case(input, output)]));
    }
    out
}

/// A create of `cluster_<input>.yaml` expecting `expected_results_<output>_{cp,md}.yaml`
/// (the strings are leaked once per test run: the table holds `&'static str`).
fn stem_case(input: &str, output: &str) -> Case {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    case(
        leak(format!("cluster_{input}.yaml")),
        Some(leak(format!("expected_results_{output}_cp.yaml"))),
        Some(leak(format!("expected_results_{output}_md.yaml"))),
    )
}

fn registry_credentials() -> RegistryCredentials {
    RegistryCredentials {
        username: "username".into(),
        password: "password".into(),
    }
}

/// `setupContext`'s vCenter credentials.
fn credentials() -> VSphereCredentials {
    VSphereCredentials {
        username: "vsphere_username".into(),
        password: "vsphere_password".into(),
        ..Default::default()
    }
}

/// What the provider's `SetupAndValidateCreateCluster` does with the tests' fake vCenter
/// (every template has a 25 GiB disk and a snapshot).
pub fn setup(spec: &mut VSphereSpec) {
    vsphere::apply_setup_defaults(spec, |_| TemplateFacts {
        disk_gib: 25,
        has_snapshot: true,
    });
}

fn names_with_suffix(spec: &VSphereSpec, suffix: &str) -> TemplateNames {
    let name = spec.cluster.metadata.name.clone().unwrap_or_default();
    let workers = spec
        .cluster
        .spec
        .worker_node_group_configurations
        .iter()
        .flatten()
        .filter_map(|w| w.name.clone())
        .map(|g| {
            (
                g.clone(),
                WorkerTemplateNames {
                    machine_template: format!("{name}-{g}-{suffix}"),
                    kubeadm_config_template: format!("{name}-{g}-template-{suffix}"),
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    TemplateNames {
        control_plane: Some(format!("{name}-control-plane-template-{suffix}")),
        etcd: Some(format!("{name}-etcd-template-{suffix}")),
        workers,
    }
}

/// Render a case: the control-plane and workers YAML (either may be empty when the test
/// renders only one side).
pub fn render(
    spec: &VSphereSpec,
    mutate: fn(&mut VSphereSpec),
    mode: Mode,
    bundles: &VersionsBundleSet,
) -> Result<(String, String), String> {
    let err = |e: vsphere::RenderError| e.to_string();
    let docs = |o: &[ironbell_capi::Object]| to_yaml_documents(o).map_err(|e| e.to_string());
    let yaml = |m: &Manifests| -> Result<(String, String), String> {
        Ok((docs(&m.control_plane)?, docs(&m.workers)?))
    };
    let options = |names: TemplateNames, credentials: VSphereCredentials| RenderOptions {
        names,
        credentials,
        registry_credentials: Some(registry_credentials()),
    };
    let mut spec = spec.clone();
    match mode {
        Mode::Create | Mode::CreateCloudProviderCredentials => {
            mutate(&mut spec);
            setup(&mut spec);
            let mut creds = credentials();
            if matches!(mode, Mode::CreateCloudProviderCredentials) {
                creds.cloud_provider_username = Some("EksavSphereCPUsername".into());
                creds.cloud_provider_password = Some("EksavSphereCPPassword".into());
            }
            let names = vsphere::names_from_clock(&spec, FAKE_NOW_MS);
            yaml(&vsphere::render(&spec, bundles, &options(names, creds)).map_err(err)?)
        }
        Mode::UpgradeEmptyDatacenter(now) => {
            setup(&mut spec);
            let mut new = spec.clone();
            mutate(&mut new);
            let mut current_spec = spec.clone();
            current_spec.datacenter = VSphereDatacenterConfig::default();
            let mut names = names_with_suffix(&current_spec, &FAKE_NOW_MS.to_string());
            names.control_plane = None;
            names.etcd = None;
            let current = CurrentCluster {
                spec: &current_spec,
                bundles_number: bundles.number,
                names,
            };
            let names = vsphere::upgrade_names(&current, &new, bundles.number, now);
            yaml(&vsphere::render(&new, bundles, &options(names, credentials())).map_err(err)?)
        }
        Mode::UpgradeUnchanged(suffix) => {
            mutate(&mut spec);
            setup(&mut spec);
            let current = CurrentCluster {
                spec: &spec,
                bundles_number: bundles.number,
                names: names_with_suffix(&spec, suffix),
            };
            let names = vsphere::upgrade_names(&current, &spec, bundles.number, FAKE_NOW_MS);
            yaml(&vsphere::render(&spec, bundles, &options(names, credentials())).map_err(err)?)
        }
        Mode::BuilderControlPlane {
            initial_name,
            credentials: with_credentials,
        } => {
            mutate(&mut spec);
            let name = spec.cluster.metadata.name.clone().unwrap_or_default();
            let names = TemplateNames {
                control_plane: initial_name.then(|| format!("{name}-control-plane-1")),
                ..TemplateNames::default()
            };
            let creds = if with_credentials {
                credentials()
            } else {
                VSphereCredentials::default()
            };
            let cp = vsphere::render_control_plane(&spec, bundles, &options(names, creds))
                .map_err(err)?;
            Ok((docs(&cp)?, String::new()))
        }
        Mode::BuilderWorkers => {
            mutate(&mut spec);
            // A nil name map: every lookup gives an empty name.
            let mut names = names_with_suffix(&spec, "");
            for w in names.workers.values_mut() {
                *w = WorkerTemplateNames::default();
            }
            let md = vsphere::render_workers(
                &spec,
                bundles,
                &options(names, VSphereCredentials::default()),
            )
            .map_err(err)?;
            Ok((String::new(), docs(&md)?))
        }
        Mode::FailureDomains => {
            mutate(&mut spec);
            let names = [("fd-1".to_string(), "test-test-fd-1".to_string())]
                .into_iter()
                .collect();
            Ok((
                docs(&vsphere::failure_domains(&spec, &names))?,
                String::new(),
            ))
        }
    }
}
