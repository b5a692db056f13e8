//! The Nutanix mappings of `golden-mappings.txt`: each EKS Anywhere template-builder test
//! with its spec, the datacenter and machine configs the builder is given, the change the
//! test makes, and the template names it passes.
//!
//! EKS Anywhere's builder takes the datacenter and machine configs apart from the spec: most
//! tests give it `datacenterConfig.yaml` and one `machineConfig*.yaml` for every machine
//! group ([`Configs::Files`]), the others the spec's own ([`Configs::Spec`]).

use ironbell_capi::nutanix::{self, NutanixSpec, PrismCredentials, RenderOptions};
use ironbell_capi::tinkerbell::{TemplateNames, WorkerTemplateNames};
use ironbell_capi::to_yaml_documents;
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_model::anywhere::{Dns, NutanixDatacenterConfig, NutanixMachineConfig, ResolvConf};

use super::fixtures;

/// Where the builder's datacenter and machine configs come from.
#[derive(Clone, Copy)]
pub enum Configs {
    /// The spec's own.
    Spec,
    /// `datacenterConfig.yaml` and this machine config file for every machine group.
    Files(&'static str),
    /// The spec's datacenter; the control plane's machine config for every group.
    ControlPlaneEverywhere,
}

/// One rendering of a mapping.
pub struct Case {
    /// Spec file under `pkg/providers/nutanix/testdata`.
    pub input: &'static str,
    /// The builder's datacenter and machine configs.
    pub configs: Configs,
    /// The change the test makes first.
    pub mutate: fn(&mut NutanixSpec),
    /// Expected control-plane document, if the test checks it.
    pub expected_cp: Option<&'static str>,
    /// Expected workers document, if the test checks it.
    pub expected_md: Option<&'static str>,
    /// Worker group → (machine template, kubeadm config template) names.
    pub worker_names: &'static [(&'static str, &'static str, &'static str)],
}

/// One EKS Anywhere test function.
pub struct Mapping {
    /// `file.go::TestName`.
    pub test: &'static str,
    /// Its renderings.
    pub cases: Vec<Case>,
}

const UNIT: &[(&str, &str, &str)] = &[("eksa-unit-test", "eksa-unit-test", "eksa-unit-test")];
const MINIMAL: Configs = Configs::Files("machineConfig.yaml");

fn none(_: &mut NutanixSpec) {}

/// `TestNewNutanixTemplateBuilderKubeletConfiguration`: `maxPods: 20` on the control plane
/// and the first worker group, `resolv.conf` at `test-path`.
fn kubelet_config(s: &mut NutanixSpec) {
    let config = serde_json::json!({"maxPods": 20});
    if let Some(cp) = s.cluster.spec.control_plane_configuration.as_mut() {
        cp.kubelet_configuration = Some(config.clone());
    }
    if let Some(w) = crate::fixtures::first_worker(&mut s.cluster) {
        w.kubelet_configuration = Some(config);
    }
    s.cluster
        .spec
        .cluster_network
        .get_or_insert_with(Default::default)
        .dns = Some(Dns {
        resolv_conf: Some(ResolvConf {
            path: Some("test-path".into()),
        }),
    });
}

/// `TestTemplateBuilderCcmExcludeNodeIPs`.
fn ccm_exclude(s: &mut NutanixSpec) {
    s.datacenter.spec.ccm_exclude_node_ips = Some(vec![
        "127.100.200.101".into(),
        "10.10.10.10-10.10.10.13".into(),
        "10.123.0.0/29".into(),
    ]);
}

fn case(
    input: &'static str,
    configs: Configs,
    cp: Option<&'static str>,
    md: Option<&'static str>,
) -> Case {
    Case {
        input,
        configs,
        mutate: none,
        expected_cp: cp,
        expected_md: md,
        worker_names: UNIT,
    }
}

fn m(test: &'static str, cases: Vec<Case>) -> Mapping {
    Mapping { test, cases }
}

/// A control-plane-only test on the spec's own configs.
fn cp_only(test: &'static str, input: &'static str, cp: &'static str) -> Mapping {
    m(test, vec![case(input, Configs::Spec, Some(cp), None)])
}

/// Every Nutanix mapping.
pub fn mappings() -> Vec<Mapping> {
    let both = |input, configs, cp, md| case(input, configs, Some(cp), Some(md));
    vec![
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderKubeletConfiguration"
            ),
            vec![Case {
                mutate: kubelet_config,
                ..both(
                    "eksa-cluster.yaml",
                    MINIMAL,
                    "expected_cp.yaml",
                    "expected_wn.yaml",
                )
            }],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNutanixTemplateBuilderGenerateCAPISpecForCreateWithAutoscalingConfiguration"
            ),
            vec![case(
                "eksa-cluster-autoscaler.yaml",
                MINIMAL,
                None,
                Some("expected_results_autoscaling_md.yaml"),
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderOIDCConfig"
            ),
            vec![case(
                "eksa-cluster-oidc.yaml",
                MINIMAL,
                Some("expected_results_oidc.yaml"),
                None,
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderRegistryMirrorConfig"
            ),
            vec![both(
                "eksa-cluster-registry-mirror.yaml",
                MINIMAL,
                "expected_results_registry_mirror.yaml",
                "expected_results_registry_mirror_md.yaml",
            )],
        ),
        m(
            concat!("template_test.go::", "TestNewNutanixTemplateBuilderProject"),
            vec![both(
                "eksa-cluster-project.yaml",
                Configs::Files("machineConfig_project.yaml"),
                "expected_results_project.yaml",
                "expected_results_project_md.yaml",
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderAdditionalCategories"
            ),
            vec![both(
                "eksa-cluster-additional-categories.yaml",
                Configs::Files("machineConfig_additional_categories.yaml"),
                "expected_results_additional_categories.yaml",
                "expected_results_additional_categories_md.yaml",
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderExternalEtcd"
            ),
            vec![both(
                "eksa-cluster-external-etcd.yaml",
                Configs::Files("machineConfig_external_etcd.yaml"),
                "expected_results_external_etcd.yaml",
                "expected_results_external_etcd_md.yaml",
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderExternalEtcdWithOptional"
            ),
            vec![both(
                "eksa-cluster-external-etcd-with-optional.yaml",
                Configs::Files("machineConfig_external_etcd_with_optional.yaml"),
                "expected_results_external_etcd_with_optional.yaml",
                "expected_results_external_etcd_with_optional_md.yaml",
            )],
        ),
        m(
            concat!(
                "template_test.go::",
                "TestNewNutanixTemplateBuilderNodeTaintsAndLabels"
            ),
            vec![both(
                "eksa-cluster-node-taints-labels.yaml",
                MINIMAL,
                "expected_results_node_taints_labels.yaml",
                "expected_results_node_taints_labels_md.yaml",
            )],
        ),
        m(
            concat!("template_test.go::", "TestNewNutanixTemplateBuilderIAMAuth"),
            vec![case(
                "eksa-cluster-iamauth.yaml",
                MINIMAL,
                Some("expected_results_iamauth.yaml"),
                None,
            )],
        ),
        m(
            concat!("template_test.go::", "TestNewNutanixTemplateBuilderIRSA"),
            vec![case(
                "eksa-cluster-irsa.yaml",
                MINIMAL,
                Some("expected_results_irsa.yaml"),
                None,
            )],
        ),
        m(
            concat!("template_test.go::", "TestNewNutanixTemplateBuilderProxy"),
            vec![both(
                "eksa-cluster-proxy.yaml",
                MINIMAL,
                "expected_results_proxy.yaml",
                "expected_results_proxy_md.yaml",
            )],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilder_CertSANs"),
            vec![
                case(
                    "cluster_api_server_cert_san_domain_name.yaml",
                    Configs::Spec,
                    Some("expected_cluster_api_server_cert_san_domain_name.yaml"),
                    None,
                ),
                case(
                    "cluster_api_server_cert_san_ip.yaml",
                    Configs::Spec,
                    Some("expected_cluster_api_server_cert_san_ip.yaml"),
                    None,
                ),
            ],
        ),
        cp_only(
            concat!(
                "template_test.go::",
                "TestTemplateBuilder_additionalTrustBundle"
            ),
            "cluster_nutanix_with_trust_bundle.yaml",
            "expected_cluster_api_additional_trust_bundle.yaml",
        ),
        cp_only(
            concat!("template_test.go::", "TestTemplateBuilderEtcdEncryption"),
            "cluster_nutanix_etcd_encryption.yaml",
            "expected_results_etcd_encryption.yaml",
        ),
        cp_only(
            concat!(
                "template_test.go::",
                "TestTemplateBuilderEtcdEncryptionKubernetes129"
            ),
            "cluster_nutanix_etcd_encryption_1_29.yaml",
            "expected_results_etcd_encryption_1_29.yaml",
        ),
        cp_only(
            concat!("template_test.go::", "TestTemplateBuilderFailureDomains"),
            "cluster_nutanix_failure_domains.yaml",
            "expected_results_failure_domains.yaml",
        ),
        m(
            concat!(
                "template_test.go::",
                "TestTemplateBuilderWorkersFailureDomains"
            ),
            vec![
                both(
                    "eksa-cluster-worker-fds.yaml",
                    Configs::Spec,
                    "expected_results_worker_fds.yaml",
                    "expected_results_worker_fds_md.yaml",
                ),
                Case {
                    worker_names: &[
                        ("eksa-unit-test-1", "eksa-unit-test-1", "eksa-unit-test"),
                        ("eksa-unit-test-2", "eksa-unit-test-2", "eksa-unit-test"),
                        ("eksa-unit-test-3", "eksa-unit-test-3", "eksa-unit-test"),
                    ],
                    ..both(
                        "eksa-cluster-multi-worker-fds.yaml",
                        Configs::Spec,
                        "expected_results_multi_worker_fds.yaml",
                        "expected_results_multi_worker_fds_md.yaml",
                    )
                },
            ],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderGPUs"),
            vec![both(
                "eksa-cluster-gpus.yaml",
                Configs::ControlPlaneEverywhere,
                "expected_results_gpus.yaml",
                "expected_results_gpus_md.yaml",
            )],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderBootType"),
            vec![both(
                "eksa-cluster-bootType.yaml",
                Configs::ControlPlaneEverywhere,
                "expected_results_bootType.yaml",
                "expected_results_bootType_md.yaml",
            )],
        ),
        m(
            concat!("template_test.go::", "TestTemplateBuilderCcmExcludeNodeIPs"),
            vec![Case {
                mutate: ccm_exclude,
                ..case(
                    "eksa-cluster-ccm-exclude-node-ips.yaml",
                    Configs::Spec,
                    Some("expected_cluster_ccm_exclude_node_ips.yaml"),
                    None,
                )
            }],
        ),
    ]
}

fn testdata(file: &str) -> Result<String, String> {
    fixtures::read(
        &fixtures::provider_dir("nutanix")
            .join("testdata")
            .join(file),
    )
}

/// Every machine group reference of the spec's cluster.
fn referenced_machine_configs(s: &NutanixSpec) -> Vec<String> {
    let c = &s.cluster.spec;
    let cp = c
        .control_plane_configuration
        .as_ref()
        .and_then(|cp| cp.machine_group_ref.as_ref());
    let etcd = c
        .external_etcd_configuration
        .as_ref()
        .and_then(|e| e.machine_group_ref.as_ref());
    let workers = c
        .worker_node_group_configurations
        .iter()
        .flatten()
        .filter_map(|w| w.machine_group_ref.as_ref());
    cp.into_iter()
        .chain(etcd)
        .chain(workers)
        .map(|r| r.name().to_string())
        .collect()
}

/// The spec with the builder's configs in place.
pub fn load(case: &Case) -> Result<NutanixSpec, String> {
    let mut spec = fixtures::load_nutanix_spec(case.input)?;
    let every_group = |spec: &mut NutanixSpec, mc: NutanixMachineConfig| {
        for name in referenced_machine_configs(spec) {
            spec.machine_configs.insert(name, mc.clone());
        }
    };
    match case.configs {
        Configs::Spec => {}
        Configs::Files(machine) => {
            spec.datacenter = serde_yaml_ng::from_str::<NutanixDatacenterConfig>(&testdata(
                "datacenterConfig.yaml",
            )?)
            .map_err(|e| format!("datacenterConfig.yaml: {e}"))?;
            let mc = serde_yaml_ng::from_str::<NutanixMachineConfig>(&testdata(machine)?)
                .map_err(|e| format!("{machine}: {e}"))?;
            every_group(&mut spec, mc);
        }
        Configs::ControlPlaneEverywhere => {
            let cp = referenced_machine_configs(&spec)
                .first()
                .and_then(|n| spec.machine_configs.get(n).cloned())
                .ok_or("no control-plane machine config")?;
            every_group(&mut spec, cp);
        }
    }
    (case.mutate)(&mut spec);
    Ok(spec)
}

/// Render a case as the template builder does (no control-plane or etcd names, the test's
/// worker names, credentials `admin`/`password`): the control-plane and workers YAML.
pub fn render(
    spec: &NutanixSpec,
    case: &Case,
    bundles: &VersionsBundleSet,
) -> Result<(String, String), String> {
    let mut names = TemplateNames::default();
    for group in fixtures::worker_group_names(&spec.cluster) {
        // Go's map lookup of a group the test gave no name for is "".
        let (mt, kct) = case
            .worker_names
            .iter()
            .find(|(g, _, _)| *g == group)
            .map_or(("", ""), |(_, mt, kct)| (*mt, *kct));
        names.workers.insert(
            group,
            WorkerTemplateNames {
                machine_template: mt.into(),
                kubeadm_config_template: kct.into(),
            },
        );
    }
    let options = RenderOptions {
        names,
        credentials: PrismCredentials {
            username: "admin".into(),
            password: "password".into(),
        },
        registry_credentials: Some(ironbell_capi::kubeadm::RegistryCredentials {
            username: "username".into(),
            password: "password".into(),
        }),
    };
    let yaml = |o: &[ironbell_capi::Object]| to_yaml_documents(o).map_err(|e| e.to_string());
    let cp = match case.expected_cp {
        Some(_) => yaml(
            &nutanix::render_control_plane(spec, bundles, &options).map_err(|e| e.to_string())?,
        )?,
        None => String::new(),
    };
    let md = match case.expected_md {
        Some(_) => {
            yaml(&nutanix::render_workers(spec, bundles, &options).map_err(|e| e.to_string())?)?
        }
        None => String::new(),
    };
    Ok((cp, md))
}
