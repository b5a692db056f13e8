//! The CloudStack mappings of `golden-mappings.txt`: each EKS Anywhere test function of
//! `pkg/providers/cloudstack` with its inputs, the change it makes, and how it renders (a
//! create, an upgrade against the current state its mocks return, the template builder, or
//! the credential secrets of a cloud-config).

use std::collections::BTreeSet;

use ironbell_capi::cloudstack::{
    self, CloudStackSpec, CurrentCluster, RenderOptions, credentials, names_from_clock,
};
use ironbell_capi::tinkerbell::{TemplateNames, WorkerTemplateNames};
use ironbell_capi::to_yaml_documents;
use ironbell_model::anywhere::{
    AutoScalingConfiguration, CloudStackMachineConfig, CloudStackResourceIdentifier,
    CloudStackZone, Ref, RegistryMirrorConfiguration, UserConfiguration,
    WorkerNodeGroupConfiguration,
};

use crate::fixtures;

/// EKS Anywhere's fake clock (`test.FakeNow`), in Unix milliseconds.
const FAKE_NOW_MS: i64 = 1_234_567_890_000;
/// `test.NewFakeNow`, the clock some upgrade tests switch to.
const NEW_FAKE_NOW_MS: i64 = 987_654_321_000;

/// The current state an upgrade test's mocks return.
type Current = fn(&CloudStackSpec) -> (CloudStackSpec, TemplateNames);

/// How a case renders.
#[derive(Clone, Copy)]
enum Mode {
    /// `GenerateCAPISpecForCreate`: names from the clock.
    Create,
    /// `GenerateCAPISpecForUpgrade` from the current state to the (changed) spec.
    Upgrade(Current, i64),
    /// The template builder's control plane, named `<cluster>-control-plane-1`.
    BuilderControlPlane,
}

/// One rendering of a mapping.
enum Case {
    /// A cluster spec rendered to its control-plane and workers documents.
    Render {
        input: &'static str,
        mutate: fn(&mut CloudStackSpec),
        mode: Mode,
        cp: Option<&'static str>,
        md: Option<&'static str>,
    },
    /// The credential secrets of a cloud-config, some of which exist already; `None`
    /// expects nothing to apply.
    Secrets {
        ini: &'static str,
        existing: &'static [&'static str],
        expected: Option<&'static str>,
    },
}

/// One EKS Anywhere test function.
pub struct Mapping {
    /// `file.go::TestName`.
    pub test: &'static str,
    cases: Vec<Case>,
    /// Why the mapping cannot be equal, when it cannot.
    pub note: Option<&'static str>,
}

fn none(_: &mut CloudStackSpec) {}

fn first_group(s: &mut CloudStackSpec) -> Option<&mut WorkerNodeGroupConfiguration> {
    let groups = s.cluster.spec.worker_node_group_configurations.as_mut();
    groups.and_then(|w| w.first_mut())
}

fn autoscaling(s: &mut CloudStackSpec) {
    if let Some(w) = first_group(s) {
        w.autoscaling_configuration = Some(AutoScalingConfiguration {
            min_count: Some(3),
            max_count: Some(5),
        });
    }
}

fn zone_and_network_ids(s: &mut CloudStackSpec) {
    let azs = s.datacenter.spec.availability_zones.as_mut();
    if let Some(az) = azs.and_then(|a| a.first_mut()) {
        az.zone = Some(CloudStackZone {
            id: Some("zoneId".into()),
            name: None,
            network: Some(CloudStackResourceIdentifier {
                id: Some("networkId".into()),
                name: None,
            }),
        });
    }
}

/// `test.CACertContent()`.
const TEST_CA: &str = "-----BEGIN CERTIFICATE-----\n8wHMSjm0Mzf0VtaqLcoNXEYv3rWB08wydabTAxSAlFMmDJbFyXmI1tYgeps0n/Mt\n7dvC9zcJkTibFw8YdV5TTlo3aZYYaUiAsFOLhPB41JA4hOtCgrN38Uj3R7pniAlq\nu55B9FjSOOMaooBo+vzdhG/AZD9A2qohos4C7azLjWnTunqjEh0PC0QLZ6oE76jw\nxTAY4N4C2s/wIybZxaJ8iQ39OzDpyN2Ym40Q58GVOHt16XCjFVVorVcZsI3y2B9Q\n9iV7x+Ulu9jtvZ1K54Uspx6dq4K3\n-----END CERTIFICATE-----\n";

fn insecure_mirror(ca: Option<&str>) -> RegistryMirrorConfiguration {
    RegistryMirrorConfiguration {
        endpoint: Some("0.0.0.0".into()),
        port: Some(ironbell_model::anywhere::IntOrString::String("5000".into())),
        insecure_skip_verify: Some(true),
        ca_cert_content: ca.map(str::to_string),
        ..RegistryMirrorConfiguration::default()
    }
}

fn insecure_skip(s: &mut CloudStackSpec) {
    s.cluster.spec.registry_mirror_configuration = Some(insecure_mirror(None));
}

fn insecure_skip_and_cert(s: &mut CloudStackSpec) {
    s.cluster.spec.registry_mirror_configuration = Some(insecure_mirror(Some(TEST_CA)));
}

fn resolv_conf_temp_path(s: &mut CloudStackSpec) {
    fixtures::set_resolv_conf(&mut s.cluster, "temp-path");
}

fn cp_kubelet_config(s: &mut CloudStackSpec) {
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.kubelet_configuration = Some(serde_json::json!({"maxPods": 20}));
    }
    resolv_conf_temp_path(s);
    s.cluster.spec.external_etcd_configuration = None;
}

/// Worker group 0 moves to a new machine config, a copy of its own.
fn new_worker_machine_config(s: &mut CloudStackSpec) {
    let old = first_group(s)
        .and_then(|w| w.machine_group_ref.as_ref())
        .map(|r| r.name().to_string())
        .unwrap_or_default();
    if let Some(mc) = s.machine_configs.get(&old).cloned() {
        s.machine_configs.insert("new-test-wn".into(), mc);
    }
    if let Some(w) = first_group(s) {
        w.machine_group_ref = Some(Ref::new("CloudStackMachineConfig", "new-test-wn"));
    }
}

fn add_md_2(s: &mut CloudStackSpec) {
    let groups = s
        .cluster
        .spec
        .worker_node_group_configurations
        .get_or_insert_with(Vec::new);
    groups.push(WorkerNodeGroupConfiguration {
        name: Some("md-2".into()),
        count: Some(1),
        machine_group_ref: Some(Ref::new("CloudStackMachineConfig", "test")),
        ..WorkerNodeGroupConfiguration::default()
    });
}

/// The current state most upgrade tests mock: an empty datacenter config, machine configs
/// with only a `capv` user, and MachineDeployments whose bootstrap templates are
/// `test-md-<i>-template-1234567890000`.
fn mocked_current(spec: &CloudStackSpec) -> (CloudStackSpec, TemplateNames) {
    let mut current = spec.clone();
    current.datacenter.spec = Default::default();
    for mc in current.machine_configs.values_mut() {
        let mut fresh = CloudStackMachineConfig::default();
        fresh.spec.users = Some(vec![UserConfiguration {
            name: "capv".into(),
            ssh_authorized_keys: vec!["ssh-rsa AAAA".into()],
        }]);
        *mc = fresh;
    }
    let workers = ["md-0", "md-1"]
        .into_iter()
        .map(|g| {
            let names = WorkerTemplateNames {
                machine_template: String::new(),
                kubeadm_config_template: format!("test-{g}-template-{FAKE_NOW_MS}"),
            };
            (g.to_string(), names)
        })
        .collect();
    let names = TemplateNames {
        workers,
        ..TemplateNames::default()
    };
    (current, names)
}

fn names_with_suffix(suffix: &str) -> TemplateNames {
    TemplateNames {
        control_plane: Some(format!("test-control-plane-template-{suffix}")),
        etcd: Some(format!("test-etcd-template-{suffix}")),
        workers: [(
            "md-0".to_string(),
            WorkerTemplateNames {
                machine_template: format!("test-md-0-{suffix}"),
                kubeadm_config_template: format!("test-md-0-template-{suffix}"),
            },
        )]
        .into_iter()
        .collect(),
    }
}

/// The spec itself is current, and its objects carry the `original` names.
fn unchanged_original(spec: &CloudStackSpec) -> (CloudStackSpec, TemplateNames) {
    (spec.clone(), names_with_suffix("original"))
}

/// The spec itself is current, and its objects carry the names of its create.
fn unchanged_created(spec: &CloudStackSpec) -> (CloudStackSpec, TemplateNames) {
    (spec.clone(), names_with_suffix(&FAKE_NOW_MS.to_string()))
}

fn render_case(input: &'static str, cp: Option<&'static str>, md: Option<&'static str>) -> Case {
    Case::Render {
        input,
        mutate: none,
        mode: Mode::Create,
        cp,
        md,
    }
}

fn pair(input: &'static str, cp: &'static str, md: &'static str) -> Case {
    render_case(input, Some(cp), Some(md))
}

fn with(case: Case, change: fn(&mut CloudStackSpec), how: Mode) -> Case {
    match case {
        Case::Render { input, cp, md, .. } => Case::Render {
            input,
            mutate: change,
            mode: how,
            cp,
            md,
        },
        other => other,
    }
}

fn upgrade(case: Case, current: Current) -> Case {
    with(case, none, Mode::Upgrade(current, FAKE_NOW_MS))
}

fn m(test: &'static str, cases: Vec<Case>) -> Mapping {
    Mapping {
        test,
        cases,
        note: None,
    }
}

fn secrets(
    ini: &'static str,
    existing: &'static [&'static str],
    expected: Option<&'static str>,
) -> Case {
    Case::Secrets {
        ini,
        existing,
        expected,
    }
}

/// Every CloudStack mapping, spelled out as EKS Anywhere's tests name their files.
pub fn mappings() -> Vec<Mapping> {
    const MAIN: &str = "cluster_main.yaml";
    const MAIN_CP: &str = "expected_results_main_cp.yaml";
    const MAIN_MD: &str = "expected_results_main_md.yaml";
    const MIRROR: &str = "cluster_mirror_config.yaml";
    const VALID_INI: &str = "cloudstack_config_valid.ini";
    const SINGLE: &str = "expected_secrets_single.yaml";
    vec![
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreate"
            ),
            vec![pair(MAIN, MAIN_CP, MAIN_MD)],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithAutoscalingConfiguration"
            ),
            vec![with(
                pair(MAIN, MAIN_CP, "expected_results_main_autoscaling_md.yaml"),
                autoscaling,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithAffinity"
            ),
            vec![pair(
                "cluster_affinity.yaml",
                "expected_results_affinity_cp.yaml",
                "expected_results_affinity_md.yaml",
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithZoneIdAndNetworkId"
            ),
            vec![with(
                pair(MAIN, "expected_results_resourceids_cp.yaml", MAIN_MD),
                zone_and_network_ids,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMirrorConfig"
            ),
            vec![pair(
                MIRROR,
                "expected_results_mirror_config_cp.yaml",
                "expected_results_mirror_config_md.yaml",
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMirrorAndCertConfig"
            ),
            vec![pair(
                "cluster_mirror_with_cert_config.yaml",
                "expected_results_mirror_config_with_cert_cp.yaml",
                "expected_results_mirror_config_with_cert_md.yaml",
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMirrorConfigInsecureSkipVerify"
            ),
            vec![with(
                pair(
                    MIRROR,
                    "expected_results_mirror_config_with_insecure_skip_cp.yaml",
                    "expected_results_mirror_config_with_insecure_skip_md.yaml",
                ),
                insecure_skip,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMirrorConfigInsecureSkipVerifyAndCert"
            ),
            vec![with(
                pair(
                    MIRROR,
                    "expected_results_mirror_config_with_insecure_skip_and_cert_cp.yaml",
                    "expected_results_mirror_config_with_insecure_skip_and_cert_md.yaml",
                ),
                insecure_skip_and_cert,
                Mode::Create,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithProxyConfig"
            ),
            vec![pair(
                "cluster_minimal_proxy.yaml",
                "expected_results_minimal_proxy_cp.yaml",
                "expected_results_minimal_proxy_md.yaml",
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForCreateWithMultipleWorkerNodeGroups"
            ),
            vec![render_case(
                "cluster_main_multiple_worker_node_groups.yaml",
                None,
                Some("expected_results_main_multiple_worker_node_groups.yaml"),
            )],
        ),
        m(
            concat!("cloudstack_test.go::", "TestPreCAPIInstallOnBootstrap"),
            vec![secrets(VALID_INI, &[], Some(SINGLE))],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineTemplate"
            ),
            vec![upgrade(
                pair(
                    "cluster_minimal.yaml",
                    "expected_results_minimal_cp.yaml",
                    "expected_results_minimal_md.yaml",
                ),
                mocked_current,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineTemplateExternalEtcd"
            ),
            vec![
                upgrade(pair(MAIN, MAIN_CP, MAIN_MD), mocked_current),
                upgrade(
                    pair(
                        "cluster_main_with_taints.yaml",
                        "expected_results_main_with_taints_cp.yaml",
                        "expected_results_main_with_taints_md.yaml",
                    ),
                    mocked_current,
                ),
                upgrade(
                    pair(
                        "cluster_main_with_node_labels.yaml",
                        MAIN_CP,
                        "expected_results_main_node_labels_md.yaml",
                    ),
                    mocked_current,
                ),
                upgrade(
                    pair(
                        "cluster_main_with_cp_node_labels.yaml",
                        "expected_results_main_node_labels_cp.yaml",
                        MAIN_MD,
                    ),
                    mocked_current,
                ),
            ],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeNotUpdateMachineTemplate"
            ),
            vec![upgrade(
                pair(
                    MAIN,
                    "expected_results_main_no_machinetemplate_update_cp.yaml",
                    "expected_results_main_no_machinetemplate_update_md.yaml",
                ),
                unchanged_original,
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeUpdateMachineGroupRefs"
            ),
            vec![with(
                render_case(MAIN, None, Some(MAIN_MD)),
                new_worker_machine_config,
                Mode::Upgrade(unchanged_created, NEW_FAKE_NOW_MS),
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeMultipleWorkerNodeGroups"
            ),
            vec![with(
                render_case(
                    "cluster_main_multiple_worker_node_groups.yaml",
                    None,
                    Some("expected_results_minimal_add_worker_node_group.yaml"),
                ),
                add_md_2,
                Mode::Upgrade(mocked_current, FAKE_NOW_MS),
            )],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeWorkerNodeGroupsKubernetesVersion"
            ),
            vec![upgrade(
                pair(
                    "cluster_main_worker_node_group_kubernetes_version.yaml",
                    "expected_results_main_cp_kubernetes_version.yaml",
                    "expected_results_main_md_worker_kubernetes_version.yaml",
                ),
                mocked_current,
            )],
        ),
        m(
            concat!("cloudstack_test.go::", "TestProviderUpdateSecrets"),
            vec![
                secrets(VALID_INI, &[], Some(SINGLE)),
                secrets(
                    "cloudstack_config_multiple_profiles.ini",
                    &[],
                    Some("expected_secrets_multiple.yaml"),
                ),
                secrets(VALID_INI, &["global"], None),
                secrets(VALID_INI, &[], Some(SINGLE)),
            ],
        ),
        m(
            concat!(
                "cloudstack_test.go::",
                "TestProviderGenerateCAPISpecForUpgradeEtcdEncryption"
            ),
            vec![
                upgrade(
                    pair(
                        "cluster_etcd_encryption.yaml",
                        "expected_results_encryption_config_cp.yaml",
                        "expected_results_minimal_md.yaml",
                    ),
                    mocked_current,
                ),
                upgrade(
                    pair(
                        "cluster_etcd_encryption_1_29.yaml",
                        "expected_results_encryption_config_cp_1_29.yaml",
                        "expected_results_minimal_md_1_29.yaml",
                    ),
                    mocked_current,
                ),
            ],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilder_CertSANs"),
            vec![
                with(
                    render_case(
                        "cluster_api_server_cert_san_domain_name.yaml",
                        Some("expected_cluster_api_server_cert_san_domain_name.yaml"),
                        None,
                    ),
                    none,
                    Mode::BuilderControlPlane,
                ),
                with(
                    render_case(
                        "cluster_api_server_cert_san_ip.yaml",
                        Some("expected_cluster_api_server_cert_san_ip.yaml"),
                        None,
                    ),
                    none,
                    Mode::BuilderControlPlane,
                ),
            ],
        ),
        Mapping {
            note: Some(
                "the builder is given no worker names: EKS Anywhere prints null names (a nil Go map read), which typed objects print as empty strings",
            ),
            ..m(
                concat!(
                    "template_test.go::",
                    "TestVsphereTemplateBuilderGenerateCAPISpecControlPlaneValidKubeletConfigWN"
                ),
                vec![with(
                    render_case(MAIN, None, Some("expected_kct.yaml")),
                    wn_kubelet_config,
                    Mode::Create,
                )],
            )
        },
        m(
            concat!(
                "template_test.go::",
                "TestVsphereTemplateBuilderGenerateCAPISpecControlPlaneValidKubeletConfigCP"
            ),
            vec![with(
                render_case(MAIN, Some("expected_kcp.yaml"), None),
                cp_kubelet_config,
                Mode::BuilderControlPlane,
            )],
        ),
    ]
}

fn wn_kubelet_config(s: &mut CloudStackSpec) {
    if let Some(w) = first_group(s) {
        w.kubelet_configuration = Some(serde_json::json!({"maxPods": 20}));
    }
    resolv_conf_temp_path(s);
}

fn compare_file(file: &str, got: &str) -> Result<Vec<String>, String> {
    crate::compare_file("cloudstack", file, got)
}

fn yaml(objects: &[ironbell_capi::Object]) -> Result<String, String> {
    to_yaml_documents(objects).map_err(|e| e.to_string())
}

fn run_render(
    input: &str,
    mutate: fn(&mut CloudStackSpec),
    mode: Mode,
) -> Result<(String, String), String> {
    let loaded = fixtures::load_spec("cloudstack", input)?;
    let spec = CloudStackSpec::from_spec(&loaded).map_err(|e| e.to_string())?;
    let mut new = spec.clone();
    mutate(&mut new);
    let bundles = fixtures::resolve_cluster_bundles(&new.cluster)?;
    let names = match mode {
        Mode::Create => names_from_clock(&new.cluster, FAKE_NOW_MS),
        Mode::BuilderControlPlane => TemplateNames {
            control_plane: Some("test-control-plane-1".into()),
            ..TemplateNames::default()
        },
        Mode::Upgrade(current, clock) => {
            let (current_spec, current_names) = current(&spec);
            let current = CurrentCluster {
                spec: &current_spec,
                bundles_number: bundles.number,
                names: current_names,
            };
            cloudstack::upgrade_names(&current, &new, bundles.number, clock)
        }
    };
    let options = RenderOptions { names };
    if matches!(mode, Mode::BuilderControlPlane) {
        let cp = cloudstack::render_control_plane(&new, &bundles, &options);
        return Ok((yaml(&cp.map_err(|e| e.to_string())?)?, String::new()));
    }
    let out = cloudstack::render(&new, &bundles, &options).map_err(|e| e.to_string())?;
    Ok((yaml(&out.control_plane)?, yaml(&out.workers)?))
}

fn run_case(case: &Case) -> Result<Vec<String>, String> {
    match case {
        Case::Render {
            input,
            mutate,
            mode,
            cp,
            md,
        } => {
            let (got_cp, got_md) = run_render(input, *mutate, *mode)?;
            let mut d = Vec::new();
            if let Some(f) = cp {
                d.extend(compare_file(f, &got_cp)?);
            }
            if let Some(f) = md {
                d.extend(compare_file(f, &got_md)?);
            }
            Ok(d)
        }
        Case::Secrets {
            ini,
            existing,
            expected,
        } => {
            let path = fixtures::provider_dir("cloudstack")
                .join("testdata")
                .join(ini);
            let profiles =
                credentials::parse(&fixtures::read(&path)?).map_err(|e| e.to_string())?;
            let existing: BTreeSet<String> = existing.iter().map(|s| s.to_string()).collect();
            let got = credentials::secrets(&profiles, &existing);
            match expected {
                Some(f) => compare_file(f, &yaml(&got)?),
                None if got.is_empty() => Ok(Vec::new()),
                None => Ok(vec![format!(
                    "{ini}: expected no secret to apply, got {}",
                    got.len()
                )]),
            }
        }
    }
}

/// Render every case of a mapping: the differences, or why it could not render.
pub fn run(mapping: &Mapping) -> Result<Vec<String>, String> {
    let mut diffs = Vec::new();
    for case in &mapping.cases {
        diffs.extend(run_case(case)?);
    }
    Ok(diffs)
}

/// The expected files a mapping compares.
pub fn compared_files(mapping: &Mapping) -> Vec<String> {
    mapping
        .cases
        .iter()
        .flat_map(|c| match c {
            Case::Render { cp, md, .. } => vec![*cp, *md],
            Case::Secrets { expected, .. } => vec![*expected],
        })
        .flatten()
        .map(|f| format!("testdata/{f}"))
        .collect()
}
