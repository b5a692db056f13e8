//! The Tinkerbell mappings of `golden-mappings.txt`: each EKS Anywhere test function with
//! its inputs, the change it makes before rendering, and how it renders (as the provider on a
//! create or an upgrade, or through the template builder).

use ironbell_capi::kubeadm::RegistryCredentials;
use ironbell_capi::tinkerbell::{
    self, BOOTSTRAP_IP_ANNOTATION, CurrentCluster, RenderOptions, TemplateNames, TinkerbellSpec,
};
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_capi::{Manifests, to_yaml_documents};
use ironbell_model::anywhere::{
    AutoScalingConfiguration, ControlPlaneUpgradeRolloutStrategy, PodIamConfig, Ref,
    TinkerbellMachineConfig, UpgradeRolloutStrategyType, UserConfiguration,
    WorkerNodeGroupConfiguration,
};

/// EKS Anywhere's fake clock (`test.FakeNow`), in Unix milliseconds.
pub const FAKE_NOW_MS: i64 = 1_234_567_890_000;
/// The provider tests' Tinkerbell IP.
pub const PROVIDER_IP: &str = "5.6.7.8";
/// The template builder tests' Tinkerbell IP.
pub const BUILDER_IP: &str = "0.0.0.0";

/// How a case renders.
#[derive(Clone, Copy)]
pub enum Mode {
    /// `GenerateCAPISpecForCreate`: names from the clock, IP 5.6.7.8.
    Create,
    /// `GenerateCAPISpecForUpgrade` after a scale of worker group 0 (current has one more
    /// machine), current names as the mocks return them.
    UpgradeScale,
    /// The template builder's control plane only: IP 0.0.0.0, no template names.
    BuilderControlPlane,
    /// The template builder's workers only: IP 0.0.0.0, initial names.
    BuilderWorkers,
}

/// One rendering of a mapping.
pub struct Case {
    /// Spec file under `pkg/providers/tinkerbell/testdata`.
    pub input: &'static str,
    /// The change the test makes first.
    pub mutate: fn(&mut TinkerbellSpec),
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

fn none(_: &mut TinkerbellSpec) {}

fn autoscaler(s: &mut TinkerbellSpec) {
    if let Some(w) = crate::fixtures::first_worker(&mut s.cluster) {
        w.autoscaling_configuration = Some(AutoScalingConfiguration {
            min_count: Some(3),
            max_count: Some(5),
        });
    }
}

/// The key EKS Anywhere's generator mock returns.
const GENERATED_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQC1BK73XhIzjX+meUr7pIYh6RHbvI3tmHeQIXY5lv7aztN1UoX+bhPo3dwo2sfSQn5kuxgQdnxIZ/CTzy0p0GkEYVv3gwspCeurjmu0XmrdmaSGcGxCEWT/65NtvYrQtUE5ELxJ+N/aeZNlK2B7IWANnw/82913asXH4VksV1NYNduP0o1/G4XcwLLSyVFB078q/oEnmvdNIoS61j4/o36HVtENJgYr0idcBvwJdvcGxGnPaqOhx477t+kfJAa5n5dSA5wilIaoXH5i1Tf/HsTCM52L+iNCARvQzJYZhzbWI1MDQwzILtIBEQCJsl2XSqIupleY8CxqQ6jCXt2mhae+wPc3YmbO5rFvr2/EvC57kh3yDs1Nsuj8KOvD78KeeujbR8n8pScm3WDp62HFQ8lEKNdeRNj6kB8WnuaJvPnyZfvzOhwG65/9w13IBl7B1sWxbFnq2rMpm5uHVK7mAmjL0Tt8zoDhcE1YJEnp9xte3/pvmKPkST5Q/9ZtR9P5sI+02jY0fvPkPyC03j2gsPixG7rpOCwpOdbny4dcj0TDeeXJX8er+oVfJuLYz0pNWJcT2raDdFfcqvYA0B0IyNYlj5nWX4RuEcyT3qocLReWPnZojetvAG/H8XwOh7fEVGqHAKOVSnPXCSQJPl6s0H12jPJBDJMTydtYPEszl4/CeQ==";

/// What the provider's setup does for machine configs without keys (`configureSshKeys`).
fn generated_keys(s: &mut TinkerbellSpec) {
    for mc in s.machine_configs.values_mut() {
        for u in mc.spec.users.iter_mut().flatten() {
            if u.ssh_authorized_keys.iter().all(|k| k.is_empty()) {
                u.ssh_authorized_keys = vec![GENERATED_KEY.to_string()];
            }
        }
    }
}

fn in_place(s: &mut TinkerbellSpec) {
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.upgrade_rollout_strategy = Some(ControlPlaneUpgradeRolloutStrategy {
            type_: Some(UpgradeRolloutStrategyType::InPlace),
            rolling_update: None,
        });
    }
}

fn pod_iam(s: &mut TinkerbellSpec) {
    s.cluster.spec.pod_iam_config = Some(PodIamConfig {
        service_account_issuer: "https://test".into(),
    });
}

fn annotate(s: &mut TinkerbellSpec, ip: &str) {
    s.cluster
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(BOOTSTRAP_IP_ANNOTATION.into(), ip.into());
}

fn bootstrap_ip_1111(s: &mut TinkerbellSpec) {
    annotate(s, "1.1.1.1");
}

fn bootstrap_ip_0000(s: &mut TinkerbellSpec) {
    annotate(s, BUILDER_IP);
}

fn resolv_conf_test_path(s: &mut TinkerbellSpec) {
    crate::fixtures::set_resolv_conf(&mut s.cluster, "test-path");
}

fn max_pods_20() -> serde_json::Value {
    serde_json::json!({"maxPods": 20, "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"})
}

fn cp_kubelet_config(s: &mut TinkerbellSpec) {
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.kubelet_configuration = Some(max_pods_20());
    }
    resolv_conf_test_path(s);
}

fn wn_kubelet_config(s: &mut TinkerbellSpec) {
    s.cluster.spec.worker_node_group_configurations = Some(vec![WorkerNodeGroupConfiguration {
        name: Some("test".into()),
        count: Some(1),
        kubelet_configuration: Some(max_pods_20()),
        machine_group_ref: Some(Ref::new("TinkerbellMachineConfig", "wn-ref")),
        ..Default::default()
    }]);
    let mut mc = TinkerbellMachineConfig::default();
    mc.spec.users = Some(vec![UserConfiguration {
        name: "user".into(),
        ssh_authorized_keys: vec!["ssh abcdef...".into()],
    }]);
    s.machine_configs = [("wn-ref".to_string(), mc)].into_iter().collect();
    resolv_conf_test_path(s);
}

fn case(input: &'static str, cp: &'static str, md: Option<&'static str>) -> Case {
    Case {
        input,
        mutate: none,
        mode: Mode::Create,
        expected_cp: Some(cp),
        expected_md: md,
    }
}

fn with(mut c: Case, mutate: fn(&mut TinkerbellSpec), mode: Mode) -> Case {
    c.mutate = mutate;
    c.mode = mode;
    c
}

fn builder_cp(input: &'static str, cp: &'static str, mutate: fn(&mut TinkerbellSpec)) -> Case {
    with(case(input, cp, None), mutate, Mode::BuilderControlPlane)
}

fn builder_md(input: &'static str, md: &'static str, mutate: fn(&mut TinkerbellSpec)) -> Case {
    Case {
        input,
        mutate,
        mode: Mode::BuilderWorkers,
        expected_cp: None,
        expected_md: Some(md),
    }
}

fn m(test: &'static str, cases: Vec<Case>) -> Mapping {
    Mapping {
        test,
        cases,
        note: None,
    }
}

/// EKS Anywhere v0.24.6 skips its external etcd tests ("External etcd unsupported for GA"),
/// and the expected files they name hold stacked-etcd output (no `EtcdadmCluster`, local
/// etcd): what a faithful renderer produces for an external etcd spec cannot equal them.
const EXTERNAL_ETCD_SKIPPED: &str = "skipped upstream (External etcd unsupported for GA); its expected files hold stacked-etcd output";

fn skipped_upstream(mut mapping: Mapping) -> Mapping {
    mapping.note = Some(EXTERNAL_ETCD_SKIPPED);
    mapping
}

/// The pair of expected files `expected_results_<stem>_{cp,md}.yaml`... spelled out per
/// test, as EKS Anywhere's tests name them.
pub fn mappings() -> Vec<Mapping> {
    const STACKED: &str = "cluster_tinkerbell_stacked_etcd.yaml";
    const CP_STACKED: &str = "expected_results_cluster_tinkerbell_cp_stacked_etcd.yaml";
    const MD: &str = "expected_results_cluster_tinkerbell_md.yaml";
    const SAN_IP: &str = "cluster_tinkerbell_api_server_cert_san_ip.yaml";
    const HOOK: &str = "cluster_hook_iso_boot.yaml";
    let pair = |input: &'static str, cp: &'static str, md: &'static str| case(input, cp, Some(md));
    vec![
        m(
            concat!("template_test.go::", "TestTemplateBuilder_CertSANs"),
            vec![
                builder_cp(
                    "cluster_tinkerbell_api_server_cert_san_domain_name.yaml",
                    "expected_cluster_tinkerbell_api_server_cert_san_domain_name.yaml",
                    none,
                ),
                builder_cp(
                    SAN_IP,
                    "expected_cluster_tinkerbell_api_server_cert_san_ip.yaml",
                    none,
                ),
            ],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilder"),
            vec![builder_cp(
                SAN_IP,
                "expected_cluster_tinkerbell_api_server_cert_san_ip.yaml",
                bootstrap_ip_1111,
            )],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderCPKubeletConfig"),
            vec![builder_cp(SAN_IP, "expected_kcp.yaml", cp_kubelet_config)],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderWNKubeletConfig"),
            vec![builder_md(SAN_IP, "expected_kct.yaml", wn_kubelet_config)],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderCPHookIso"),
            vec![
                builder_cp(HOOK, "expected_kcp_with_hook_iso_boot.yaml", none),
                builder_cp(
                    HOOK,
                    "expected_kcp_with_hook_iso_boot_bootstrap.yaml",
                    bootstrap_ip_0000,
                ),
            ],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderMDHookIso"),
            vec![
                builder_md(HOOK, "expected_md_with_hook_iso_boot.yaml", none),
                builder_md(
                    HOOK,
                    "expected_md_with_hook_iso_boot_bootstrap.yaml",
                    bootstrap_ip_0000,
                ),
            ],
        ),
        skipped_upstream(m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithExternalEtcd"
            ),
            vec![pair(
                "cluster_tinkerbell_external_etcd.yaml",
                "expected_results_cluster_tinkerbell_cp_external_etcd.yaml",
                MD,
            )],
        )),
        skipped_upstream(m(
            concat!(
                "tinkerbell_test.go::",
                "TestGenerateDeploymentFileWithMachineConfigOSImageExternalEtcd"
            ),
            vec![pair(
                "cluster_osimage_machine_config_external_etcd.yaml",
                "expected_results_cp_template.yaml",
                "expected_results_md_template.yaml",
            )],
        )),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderMachineConfigsMissingUserSshKeys"
            ),
            vec![with(
                case(
                    "cluster_tinkerbell_missing_ssh_keys.yaml",
                    "expected_results_cluster_tinkerbell_missing_ssh_keys.yaml",
                    None,
                ),
                generated_keys,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithStackedEtcd"
            ),
            vec![pair(STACKED, CP_STACKED, MD)],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestGenerateDeploymentFileWithMachineConfigOSImage"
            ),
            vec![pair(
                "cluster_osimage_machine_config.yaml",
                "expected_results_cp_template.yaml",
                "expected_results_md_template.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithAutoscalerConfiguration"
            ),
            vec![with(
                pair(
                    STACKED,
                    CP_STACKED,
                    "expected_results_cluster_tinkerbell_autoscaler_md.yaml",
                ),
                autoscaler,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithNodeLabels"
            ),
            vec![pair(
                "cluster_tinkerbell_node_labels.yaml",
                "expected_results_cluster_tinkerbell_cp_node_labels.yaml",
                "expected_results_cluster_tinkerbell_md_node_labels.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithWorkerVersion"
            ),
            vec![pair(
                "cluster_tinkerbell_worker_version.yaml",
                "expected_results_cluster_tinkerbell_cp_node_labels.yaml",
                "expected_results_cluster_tinkerbell_md_node_worker_version.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithNodeTaints"
            ),
            vec![pair(
                "cluster_tinkerbell_node_taints.yaml",
                "expected_results_cluster_tinkerbell_cp_node_taints.yaml",
                "expected_results_cluster_tinkerbell_md_node_taints.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileMultipleWorkerNodeGroups"
            ),
            vec![pair(
                "cluster_tinkerbell_multiple_node_groups.yaml",
                "expected_results_cluster_tinkerbell_cp_external_etcd.yaml",
                "expected_results_tinkerbell_md_multiple_node_groups.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithFullOIDC"
            ),
            vec![pair(
                "cluster_tinkerbell_full_oidc.yaml",
                "expected_results_cluster_tinkerbell_cp_full_oidc.yaml",
                MD,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithMinimalOIDC"
            ),
            vec![pair(
                "cluster_tinkerbell_minimal_oidc.yaml",
                "expected_results_cluster_tinkerbell_cp_minimal_oidc.yaml",
                MD,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateDeploymentFileWithAWSIamConfig"
            ),
            vec![pair(
                "cluster_tinkerbell_awsiam.yaml",
                "expected_results_cluster_tinkerbell_cp_awsiam.yaml",
                MD,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithMinimalRegistryMirror"
            ),
            vec![pair(
                "cluster_tinkerbell_minimal_registry_mirror.yaml",
                "expected_results_cluster_tinkerbell_cp_minimal_registry_mirror.yaml",
                "expected_results_cluster_tinkerbell_md_minimal_registry_mirror.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithRegistryMirrorWithCert"
            ),
            vec![pair(
                "cluster_tinkerbell_registry_mirror_with_cert.yaml",
                "expected_results_cluster_tinkerbell_cp_registry_mirror_with_cert.yaml",
                "expected_results_cluster_tinkerbell_md_registry_mirror_with_cert.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithRegistryMirrorWithAuth"
            ),
            vec![pair(
                "cluster_tinkerbell_registry_mirror_with_auth.yaml",
                "expected_results_cluster_tinkerbell_cp_registry_mirror_with_auth.yaml",
                "expected_results_cluster_tinkerbell_md_registry_mirror_with_auth.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithBottlerocketMinimalRegistryMirror"
            ),
            vec![pair(
                "cluster_tinkerbell_bottlerocket_minimal_registry_mirror.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_cp_minimal_registry_mirror.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_md_minimal_registry_mirror.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithBottlerocketRegistryMirrorWithCert"
            ),
            vec![pair(
                "cluster_tinkerbell_bottlerocket_registry_mirror_with_cert.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_cp_registry_mirror_with_cert.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_md_registry_mirror_with_cert.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithBottlerocketRegistryMirrorWithAuth"
            ),
            vec![pair(
                "cluster_tinkerbell_bottlerocket_registry_mirror_with_auth.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_cp_registry_mirror_with_auth.yaml",
                "expected_results_cluster_tinkerbell_bottlerocket_md_registry_mirror_with_auth.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForSingleNodeCluster"
            ),
            vec![case(
                "cluster_tinkerbell_single_node.yaml",
                "expected_results_cluster_tinkerbell_cp_single_node.yaml",
                None,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForInPlaceSingleNodeCluster"
            ),
            vec![with(
                case(
                    "cluster_tinkerbell_single_node.yaml",
                    "expected_results_cluster_tinkerbell_cp_single_node_in_place.yaml",
                    None,
                ),
                in_place,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForSingleNodeClusterSkipLB"
            ),
            vec![case(
                "cluster_tinkerbell_single_node_skip_lb.yaml",
                "expected_results_cluster_tinkerbell_cp_single_node_skip_lb.yaml",
                None,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForWithProxy"
            ),
            vec![pair(
                "cluster_tinkerbell_proxy.yaml",
                "expected_results_cluster_tinkerbell_cp_proxy.yaml",
                "expected_results_cluster_tinkerbell_md_proxy.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForBottleRocketWithNTPConfig"
            ),
            vec![pair(
                "cluster_bottlerocket_ntp_config.yaml",
                "expected_results_bottlerocket_ntp_config_cp.yaml",
                "expected_results_bottlerocket_ntp_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForUbuntuWithNTPConfig"
            ),
            vec![pair(
                "cluster_ubuntu_ntp_config.yaml",
                "expected_results_ubuntu_ntp_config_cp.yaml",
                "expected_results_ubuntu_ntp_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithBottlerocketSettingsConfig"
            ),
            vec![pair(
                "cluster_bottlerocket_settings_config.yaml",
                "expected_results_bottlerocket_settings_config_cp.yaml",
                "expected_results_bottlerocket_settings_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProviderGenerateCAPISpecForCreateWithPodIAMConfig"
            ),
            vec![with(
                case(
                    "cluster_tinkerbell_awsiam.yaml",
                    "expected_results_tinkerbell_pod_iam_config.yaml",
                    None,
                ),
                pod_iam,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithKernelSettingsConfig"
            ),
            vec![pair(
                "cluster_bottlerocket_kernel_settings_config.yaml",
                "expected_results_bottlerocket_kernel_config_cp.yaml",
                "expected_results_bottlerocket_kernel_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestProviderGenerateDeploymentFileForBottlerocketWithCertBundlesConfig"
            ),
            vec![pair(
                "cluster_bottlerocket_cert_bundles_config.yaml",
                "expected_results_bottlerocket_cert_bundles_config_cp.yaml",
                "expected_results_bottlerocket_cert_bundles_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProvider_GenerateCAPISpecForUpgrade_RegistryMirror"
            ),
            vec![with(
                case(
                    "cluster_tinkerbell_stacked_upgrade_registry_mirror.yaml",
                    "expected_results_cluster_tinkerbell_upgrade_registry_mirror.yaml",
                    None,
                ),
                none,
                Mode::UpgradeScale,
            )],
        ),
        m(
            concat!(
                "tinkerbell_test.go::",
                "TestTinkerbellProvider_GenerateCAPISpecForUpgrade_CertBundles"
            ),
            vec![with(
                pair(
                    "cluster_bottlerocket_cert_bundles_config.yaml",
                    "expected_results_bottlerocket_upgrade_cert_bundles_config_cp.yaml",
                    "expected_results_bottlerocket_upgrade_cert_bundles_config_md.yaml",
                ),
                none,
                Mode::UpgradeScale,
            )],
        ),
    ]
}

fn credentials() -> RegistryCredentials {
    RegistryCredentials {
        username: "username".into(),
        password: "password".into(),
    }
}

/// Render a case: the control-plane and workers YAML (either may be empty when the test
/// renders only one side).
pub fn render(
    spec: &TinkerbellSpec,
    mode: Mode,
    bundles: &VersionsBundleSet,
) -> Result<(String, String), String> {
    let err = |e: tinkerbell::RenderError| e.to_string();
    let yaml = |m: &Manifests| -> Result<(String, String), String> {
        Ok((
            to_yaml_documents(&m.control_plane).map_err(|e| e.to_string())?,
            to_yaml_documents(&m.workers).map_err(|e| e.to_string())?,
        ))
    };
    let mut spec = spec.clone();
    if matches!(mode, Mode::Create | Mode::UpgradeScale) {
        // The provider's setup (SetupAndValidateCreateCluster/UpgradeCluster) runs first.
        tinkerbell::strip_ssh_key_comments(&mut spec);
    }
    let spec = &spec;
    match mode {
        Mode::Create => {
            let options = RenderOptions {
                tinkerbell_ip: PROVIDER_IP.into(),
                names: TemplateNames::from_clock(spec, FAKE_NOW_MS),
                registry_credentials: Some(credentials()),
            };
            yaml(&tinkerbell::render(spec, bundles, &options).map_err(err)?)
        }
        Mode::UpgradeScale => {
            let mut current_spec = spec.clone();
            if let Some(c) = crate::fixtures::first_worker(&mut current_spec.cluster)
                .and_then(|w| w.count.as_mut())
            {
                *c += 1;
            }
            let name = spec.cluster.metadata.name.clone().unwrap_or_default();
            let mut names = TemplateNames::from_clock(spec, FAKE_NOW_MS);
            names.control_plane = Some(format!("{name}-control-plane-template-{FAKE_NOW_MS}"));
            let current = CurrentCluster {
                spec: &current_spec,
                bundles_number: bundles.number,
                names,
            };
            let (names, scale_only) =
                tinkerbell::upgrade_names(&current, spec, bundles.number, FAKE_NOW_MS);
            let options = RenderOptions {
                tinkerbell_ip: PROVIDER_IP.into(),
                names,
                registry_credentials: Some(credentials()),
            };
            let mut out = tinkerbell::render(spec, bundles, &options).map_err(err)?;
            if scale_only {
                out = out.without_kind(tinkerbell::MACHINE_TEMPLATE_KIND);
            }
            yaml(&out)
        }
        Mode::BuilderControlPlane => {
            let options = RenderOptions {
                tinkerbell_ip: BUILDER_IP.into(),
                names: TemplateNames::default(),
                registry_credentials: Some(credentials()),
            };
            let cp = tinkerbell::render_control_plane(spec, bundles, &options).map_err(err)?;
            Ok((
                to_yaml_documents(&cp).map_err(|e| e.to_string())?,
                String::new(),
            ))
        }
        Mode::BuilderWorkers => {
            let options = RenderOptions {
                tinkerbell_ip: BUILDER_IP.into(),
                names: TemplateNames::initial_workers(spec),
                registry_credentials: Some(credentials()),
            };
            let md = tinkerbell::render_workers(spec, bundles, &options).map_err(err)?;
            Ok((
                String::new(),
                to_yaml_documents(&md).map_err(|e| e.to_string())?,
            ))
        }
    }
}
