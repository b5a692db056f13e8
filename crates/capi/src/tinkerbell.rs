//! The Tinkerbell (bare-metal) provider's Cluster API objects.
//!
//! [`render`] turns a [`TinkerbellSpec`] into the control-plane document (`Cluster`,
//! `KubeadmControlPlane`, the etcd objects with external etcd, the control-plane
//! `TinkerbellMachineTemplate`, `TinkerbellCluster`, the registry credentials secret) and the
//! workers document (per worker node group: `MachineDeployment`,
//! `TinkerbellMachineTemplate`, `KubeadmConfigTemplate`), as EKS Anywhere's Tinkerbell
//! provider does (`pkg/providers/tinkerbell/template.go` at v0.24.6).
//!
//! Template names come from a [`TemplateNames`]: from a clock for a create
//! ([`TemplateNames::from_clock`]), the controller's initial names, or the current objects'
//! names on an upgrade ([`upgrade_names`]). A machine config without a
//! `TinkerbellTemplateConfig` gets the default workflow ([`default_template`]).

mod defaults;

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    AWSIamConfig, Cluster as EksaCluster, OIDCConfig, OsFamily, TinkerbellDatacenterConfig,
    TinkerbellMachineConfig, TinkerbellTemplateConfig, WorkerNodeGroupConfiguration,
};
use ironbell_model::template_def::TemplateDefinition;

use crate::api::cluster::{
    ApiEndpoint, Cluster, ClusterParts, MachineDeployment, WorkerGroupDeployment,
};
use crate::api::etcdadm::{
    EtcdBottlerocketConfig, EtcdCloudInitConfig, EtcdadmCluster, EtcdadmConfigSpec,
};
use crate::api::kubeadm::{
    BottlerocketNode, BottlerocketProxy, ClusterConfiguration, ControlPlaneComponent,
    ControlPlaneMachineTemplate, Etcd, ExternalEtcd, File, HostPathMount, KubeadmConfigSpec,
    KubeadmConfigTemplate, KubeadmControlPlane, KubeadmControlPlaneSpec, NodeConfiguration,
    NodeRegistration, Patches,
};
use crate::api::tinkerbell::{
    BootOptions, HardwareAffinity, HardwareAffinityTerm, TinkerbellCluster, TinkerbellClusterSpec,
    TinkerbellMachineSpec, TinkerbellMachineTemplate,
};
use crate::api::{
    EKSA_SYSTEM_NAMESPACE, ETCDADM_API_VERSION, INFRASTRUCTURE_API_VERSION, LabelSelector,
    ObjectReference, StringMap, meta,
};
use crate::common::{self, cluster_name, minor_version, worker_groups};
use crate::kubeadm::{self, RegistryCredentials, RegistryMirror};
use crate::versions::{VersionsBundle, VersionsBundleSet};
use crate::{LookupError, Manifests, NO_VALUE, Object};

pub use defaults::default_template;

/// The annotation that carries the bootstrap (admin machine) Tinkerbell IP while the
/// cluster is provisioned from the bootstrap plane.
pub const BOOTSTRAP_IP_ANNOTATION: &str = "anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip";

/// The HTTP port of the boot service (Smee's), where the HookOS ISO is served.
pub const BOOT_HTTP_PORT: u16 = 7171;

/// Kind name of CAPT's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "TinkerbellMachineTemplate";

/// A Tinkerbell cluster spec: the EKS Anywhere objects the renderer reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TinkerbellSpec {
    /// The `Cluster`.
    pub cluster: EksaCluster,
    /// Its `TinkerbellDatacenterConfig`.
    pub datacenter: TinkerbellDatacenterConfig,
    /// `TinkerbellMachineConfig`s by name.
    pub machine_configs: BTreeMap<String, TinkerbellMachineConfig>,
    /// `TinkerbellTemplateConfig`s by name.
    pub template_configs: BTreeMap<String, TinkerbellTemplateConfig>,
    /// The OIDC identity provider, if any.
    pub oidc: Option<OIDCConfig>,
    /// The AWS IAM authenticator config, if any.
    pub aws_iam: Option<AWSIamConfig>,
}

impl TinkerbellSpec {
    /// The Tinkerbell view of a loaded spec: its Tinkerbell datacenter and machine configs,
    /// its templates, and the identity providers the Cluster references.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        let datacenter = spec
            .tinkerbell_datacenter()
            .ok_or_else(|| RenderError::NotTinkerbell {
                cluster: spec.name().to_string(),
            })?
            .clone();
        Ok(Self {
            cluster: spec.cluster.clone(),
            datacenter,
            machine_configs: common::machine_configs_of(spec, |mc| mc.as_tinkerbell()),
            template_configs: spec.tinkerbell_templates.clone(),
            oidc: spec.oidc_config().cloned(),
            aws_iam: spec.aws_iam_config().cloned(),
        })
    }
}

/// What went wrong rendering a Tinkerbell spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec's datacenter config is not a `TinkerbellDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a TinkerbellDatacenterConfig")]
    NotTinkerbell {
        /// Cluster name.
        cluster: String,
    },
    /// A machine config has no user with an SSH key.
    #[error("TinkerbellMachineConfig {name}: spec.users needs a user with an SSH key")]
    MissingUser {
        /// Machine config name.
        name: String,
    },
    /// The workflow template could not be printed.
    #[error("workflow template of TinkerbellMachineConfig {name}: {message}")]
    Template {
        /// Machine config name.
        name: String,
        /// The cause.
        message: String,
    },
    /// The spec lacks a machine config, a field, a versions bundle, template names or
    /// registry credentials.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// The names of one worker node group's templates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerTemplateNames {
    /// `TinkerbellMachineTemplate` name.
    pub machine_template: String,
    /// `KubeadmConfigTemplate` name.
    pub kubeadm_config_template: String,
}

impl WorkerTemplateNames {
    /// These names, with the machine template and the bootstrap template replaced by the
    /// fresh names where asked.
    pub fn replaced(&self, fresh: Self, machine_template: bool, bootstrap_template: bool) -> Self {
        Self {
            machine_template: if machine_template {
                fresh.machine_template
            } else {
                self.machine_template.clone()
            },
            kubeadm_config_template: if bootstrap_template {
                fresh.kubeadm_config_template
            } else {
                self.kubeadm_config_template.clone()
            },
        }
    }
}

/// The names of the immutable templates. A missing control-plane or etcd name prints as
/// [`NO_VALUE`], as EKS Anywhere's template builder does when no name is passed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateNames {
    /// Control-plane `TinkerbellMachineTemplate` name.
    pub control_plane: Option<String>,
    /// etcd `TinkerbellMachineTemplate` name.
    pub etcd: Option<String>,
    /// Worker template names by worker node group name.
    pub workers: BTreeMap<String, WorkerTemplateNames>,
}

impl TemplateNames {
    /// The names of a create, suffixed with a clock in Unix milliseconds:
    /// `<cluster>-control-plane-template-<ms>`, `<cluster>-etcd-template-<ms>`,
    /// `<cluster>-<group>-<ms>` and `<cluster>-<group>-template-<ms>`.
    pub fn from_clock(spec: &TinkerbellSpec, unix_ms: i64) -> Self {
        Self::from_cluster_clock(&spec.cluster, unix_ms)
    }

    /// [`TemplateNames::from_clock`] for any provider's EKS Anywhere `Cluster`.
    pub fn from_cluster_clock(cluster: &EksaCluster, unix_ms: i64) -> Self {
        let name = cluster_name(cluster);
        Self {
            control_plane: Some(format!("{name}-control-plane-template-{unix_ms}")),
            etcd: Some(format!("{name}-etcd-template-{unix_ms}")),
            workers: worker_groups(cluster)
                .map(|(group, _)| (group.clone(), worker_names(name, &group, unix_ms)))
                .collect(),
        }
    }

    /// The controller's initial worker names (`<cluster>-<group>-1` for both templates),
    /// with no control-plane or etcd names.
    pub fn initial_workers(spec: &TinkerbellSpec) -> Self {
        let name = cluster_name(&spec.cluster);
        Self {
            workers: worker_groups(&spec.cluster)
                .map(|(group, _)| {
                    let n = format!("{name}-{group}-1");
                    (
                        group,
                        WorkerTemplateNames {
                            machine_template: n.clone(),
                            kubeadm_config_template: n,
                        },
                    )
                })
                .collect(),
            ..Self::default()
        }
    }
}

pub(crate) fn worker_names(cluster: &str, group: &str, unix_ms: i64) -> WorkerTemplateNames {
    WorkerTemplateNames {
        machine_template: format!("{cluster}-{group}-{unix_ms}"),
        kubeadm_config_template: format!("{cluster}-{group}-template-{unix_ms}"),
    }
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// The Tinkerbell IP the renderer runs with (the datacenter's `tinkerbellIP`, or the
    /// admin machine's IP while bootstrapping); the cluster's bootstrap-IP annotation wins.
    pub tinkerbell_ip: String,
    /// Template names.
    pub names: TemplateNames,
    /// Registry mirror credentials, when the mirror authenticates.
    pub registry_credentials: Option<RegistryCredentials>,
}

/// The current state of an upgraded cluster: its spec, its bundles number and the template
/// names its objects reference now.
#[derive(Clone, Debug)]
pub struct CurrentCluster<'a> {
    /// The spec the cluster runs.
    pub spec: &'a TinkerbellSpec,
    /// `Bundles.spec.number` of its release.
    pub bundles_number: i64,
    /// Template names of its `KubeadmControlPlane`, `EtcdadmCluster` and
    /// `MachineDeployment`s.
    pub names: TemplateNames,
}

impl TemplateNames {
    /// The template names the current objects of a cluster reference: the
    /// `KubeadmControlPlane`'s machine template, the `EtcdadmCluster`'s, and each
    /// `MachineDeployment`'s machine and bootstrap templates (keyed by its `pool` label, or
    /// its name without the `<cluster>-` prefix).
    pub fn from_objects(cluster_name: &str, objects: &[Object]) -> Self {
        let mut names = Self::default();
        for object in objects {
            match object {
                Object::KubeadmControlPlane(kcp) => {
                    names.control_plane =
                        Some(kcp.spec.machine_template.infrastructure_ref.name.clone());
                }
                Object::EtcdadmCluster(etcd) => {
                    names.etcd = Some(etcd.spec.infrastructure_template.name.clone());
                }
                Object::MachineDeployment(md) => {
                    let name = md.metadata.name.as_deref().unwrap_or_default();
                    let group = md
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("pool").cloned())
                        .or_else(|| {
                            name.strip_prefix(&format!("{cluster_name}-"))
                                .map(str::to_string)
                        });
                    let spec = &md.spec.template.spec;
                    if let Some(group) = group {
                        names.workers.insert(
                            group,
                            WorkerTemplateNames {
                                machine_template: spec.infrastructure_ref.name.clone(),
                                kubeadm_config_template: spec
                                    .bootstrap
                                    .config_ref
                                    .as_ref()
                                    .map(|r| r.name.clone())
                                    .unwrap_or_default(),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        names
    }
}

/// The template names of an upgrade from `current` to `new`, and whether the upgrade only
/// scales (then the immutable `TinkerbellMachineTemplate`s are left out of the output).
///
/// A template keeps its current name unless it must be replaced: the control plane's on a
/// Kubernetes version or bundles change; a worker group's machine template on a bundles,
/// taints, labels or Kubernetes version change; its `KubeadmConfigTemplate` on a taints or
/// labels change; new names come from the clock.
pub fn upgrade_names(
    current: &CurrentCluster<'_>,
    new: &TinkerbellSpec,
    new_bundles_number: i64,
    unix_ms: i64,
) -> (TemplateNames, bool) {
    let fresh = TemplateNames::from_clock(new, unix_ms);
    let bundles_changed = current.bundles_number != new_bundles_number;
    let old_cluster = &current.spec.cluster;
    let control_plane = if old_cluster.spec.kubernetes_version
        != new.cluster.spec.kubernetes_version
        || bundles_changed
    {
        fresh.control_plane.clone()
    } else {
        current.names.control_plane.clone()
    };
    let workers = upgrade_worker_names(
        old_cluster,
        &new.cluster,
        &current.names.workers,
        bundles_changed,
        unix_ms,
    );
    let scale_only = is_scale(old_cluster, &new.cluster);
    (
        TemplateNames {
            control_plane,
            etcd: current.names.etcd.clone(),
            workers,
        },
        scale_only,
    )
}

/// The worker template names of an upgrade from `old` to `new` (see [`upgrade_names`]): a
/// group's machine template is renewed on a bundles, taints, labels or Kubernetes version
/// change, its `KubeadmConfigTemplate` on a taints or labels change, and a new group gets
/// new names; `current` holds the names the cluster's objects reference now.
pub(crate) fn upgrade_worker_names(
    old: &EksaCluster,
    new: &EksaCluster,
    current: &BTreeMap<String, WorkerTemplateNames>,
    bundles_changed: bool,
    unix_ms: i64,
) -> BTreeMap<String, WorkerTemplateNames> {
    let name = cluster_name(new);
    let old_groups: BTreeMap<String, &WorkerNodeGroupConfiguration> = worker_groups(old).collect();
    let mut workers = BTreeMap::new();
    for (group, wng) in worker_groups(new) {
        let new_names = worker_names(name, &group, unix_ms);
        let names = match (old_groups.get(&group), current.get(&group)) {
            (Some(old_wng), Some(cur)) => {
                let config_changed = old_wng.taints != wng.taints || old_wng.labels != wng.labels;
                let version_changed = worker_version(old, old_wng) != worker_version(new, wng);
                let replace = bundles_changed || config_changed || version_changed;
                cur.replaced(new_names, replace, config_changed)
            }
            _ => new_names,
        };
        workers.insert(group, names);
    }
    workers
}

fn worker_version<'a>(
    cluster: &'a EksaCluster,
    wng: &'a WorkerNodeGroupConfiguration,
) -> Option<&'a str> {
    wng.kubernetes_version
        .as_ref()
        .or(cluster.spec.kubernetes_version.as_ref())
        .map(|v| v.as_str())
}

fn is_scale(old: &EksaCluster, new: &EksaCluster) -> bool {
    let count = |c: &EksaCluster| {
        c.spec
            .control_plane_configuration
            .as_ref()
            .and_then(|cp| cp.count)
    };
    if count(old) != count(new) {
        return true;
    }
    let old_groups: BTreeMap<String, &WorkerNodeGroupConfiguration> = worker_groups(old).collect();
    worker_groups(new).any(|(group, wng)| {
        old_groups
            .get(&group)
            .is_some_and(|old| old.count != wng.count)
    })
}

/// Everything the control-plane and worker builders share.
struct Context<'a> {
    spec: &'a TinkerbellSpec,
    name: &'a str,
    lookup: common::Lookup<'a>,
    /// The effective Tinkerbell IP (the bootstrap-IP annotation or the option).
    tinkerbell_ip: String,
    mirror: Option<RegistryMirror>,
    credentials: Option<&'a RegistryCredentials>,
    no_proxy: Vec<String>,
}

impl<'a> Context<'a> {
    fn new(
        spec: &'a TinkerbellSpec,
        bundles: &'a VersionsBundleSet,
        options: &'a RenderOptions,
    ) -> Result<Self, RenderError> {
        let lookup = common::Lookup::new(&spec.cluster, bundles);
        let name = lookup.name;
        let tinkerbell_ip = spec
            .cluster
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(BOOTSTRAP_IP_ANNOTATION))
            .filter(|ip| !ip.is_empty())
            .cloned()
            .unwrap_or_else(|| options.tinkerbell_ip.clone());
        let mirror = lookup.registry_mirror(options.registry_credentials.as_ref())?;
        let mut ctx = Self {
            spec,
            name,
            lookup,
            tinkerbell_ip,
            mirror,
            credentials: options.registry_credentials.as_ref(),
            no_proxy: Vec::new(),
        };
        ctx.no_proxy = ctx.no_proxy_list();
        Ok(ctx)
    }

    fn cluster(&self) -> &'a EksaCluster {
        &self.spec.cluster
    }

    fn missing(&self, field: &str) -> RenderError {
        self.lookup.missing(field).into()
    }

    fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, RenderError> {
        Ok(self.lookup.bundle(version)?)
    }

    fn machine_config(
        &self,
        role: &str,
        name: Option<&str>,
    ) -> Result<&'a TinkerbellMachineConfig, RenderError> {
        let configs = &self.spec.machine_configs;
        let (_, mc) = self
            .lookup
            .machine_config(configs, "TinkerbellMachineConfig", role, name)?;
        Ok(mc)
    }

    fn cidrs(&self, services: bool) -> Vec<String> {
        common::cidrs(self.cluster(), services)
    }

    fn resolv_conf(&self) -> Option<&'a ironbell_model::anywhere::ResolvConf> {
        common::resolv_conf(self.cluster())
    }

    fn endpoint_host(&self) -> &'a str {
        common::endpoint_host(self.cluster())
    }

    fn no_proxy_list(&self) -> Vec<String> {
        let Some(proxy) = &self.cluster().spec.proxy_configuration else {
            return Vec::new();
        };
        let mut list = self.cidrs(false);
        list.extend(self.cidrs(true));
        list.extend(proxy.no_proxy.iter().flatten().cloned());
        list.extend(kubeadm::NO_PROXY_DEFAULTS.iter().map(|s| s.to_string()));
        list.push(self.endpoint_host().to_string());
        list.push(self.spec.datacenter.spec.tinkerbell_ip.clone());
        list
    }

    fn proxy(&self) -> Option<(&'a str, &'a str)> {
        self.cluster().spec.proxy_configuration.as_ref().map(|p| {
            (
                p.http_proxy.as_deref().unwrap_or_default(),
                p.https_proxy.as_deref().unwrap_or_default(),
            )
        })
    }

    fn bottlerocket_proxy(&self) -> Option<BottlerocketProxy> {
        self.proxy().map(|(_, https)| BottlerocketProxy {
            http_proxy: None,
            https_proxy: https.to_string(),
            no_proxy: self.no_proxy.clone(),
        })
    }

    /// The workflow template of a machine config, as the YAML text of `templateOverride`.
    fn template_override(
        &self,
        mc_name: &str,
        mc: &TinkerbellMachineConfig,
    ) -> Result<String, RenderError> {
        let configured = mc
            .spec
            .template_ref
            .as_ref()
            .and_then(|r| self.spec.template_configs.get(r.name()));
        let template: TemplateDefinition = match configured {
            Some(tc) => tc.spec.template.clone(),
            None => {
                let image = mc
                    .spec
                    .os_image_url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .or_else(|| self.spec.datacenter.spec.os_image_url.clone())
                    .unwrap_or_default();
                default_template(
                    self.cluster(),
                    &image,
                    &self.tinkerbell_ip,
                    &self.spec.datacenter.spec.tinkerbell_ip,
                    mc.spec.os_family.unwrap_or(OsFamily::Ubuntu),
                )
            }
        };
        let text = template_text(&template).map_err(|message| RenderError::Template {
            name: mc_name.to_string(),
            message,
        })?;
        Ok(match &self.mirror {
            Some(m) => m.rewrite_core_registry(&text),
            None => text,
        })
    }

    fn machine_spec(
        &self,
        mc_name: &str,
        mc: &TinkerbellMachineConfig,
    ) -> Result<TinkerbellMachineSpec, RenderError> {
        let dc = &self.spec.datacenter.spec;
        let boot_options = if dc.iso_boot.unwrap_or(false) {
            let ip = self
                .cluster()
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(BOOTSTRAP_IP_ANNOTATION))
                .filter(|ip| !ip.is_empty())
                .unwrap_or(&dc.tinkerbell_ip);
            BootOptions {
                boot_mode: "iso".to_string(),
                iso_url: Some(format!("http://{ip}:{BOOT_HTTP_PORT}/iso/hook.iso")),
            }
        } else {
            BootOptions {
                boot_mode: "netboot".to_string(),
                iso_url: None,
            }
        };
        Ok(TinkerbellMachineSpec {
            hardware_affinity: Some(HardwareAffinity {
                required: vec![HardwareAffinityTerm {
                    label_selector: LabelSelector {
                        match_labels: Some(mc.spec.hardware_selector.clone())
                            .filter(|s| !s.is_empty()),
                    },
                }],
                preferred: Vec::new(),
            }),
            boot_options: Some(boot_options),
            template_override: Some(self.template_override(mc_name, mc)?),
            ..TinkerbellMachineSpec::default()
        })
    }

    fn machine_template(
        &self,
        name: &str,
        mc_name: &str,
        mc: &TinkerbellMachineConfig,
    ) -> Result<Object, RenderError> {
        Ok(Object::TinkerbellMachineTemplate(Box::new(
            TinkerbellMachineTemplate::new(
                meta(name, EKSA_SYSTEM_NAMESPACE),
                self.machine_spec(mc_name, mc)?,
            ),
        )))
    }

    /// The containerd files of a cloud-config machine: proxy drop-in, mirror CA and hosts.
    fn containerd_files(&self) -> Vec<File> {
        let mut files = Vec::new();
        if let Some((http, https)) = self.proxy() {
            files.push(kubeadm::proxy_drop_in(http, https, &self.no_proxy));
        }
        if let Some(m) = &self.mirror {
            files.extend(m.containerd_files(self.credentials));
        }
        files
    }

    fn containerd_restart_commands(&self) -> Vec<String> {
        kubeadm::containerd_restart_commands(self.mirror.is_some(), self.proxy().is_some())
    }

    /// Bottlerocket images and settings shared by the cluster and join configurations; only
    /// the host settings and CA bundles for other OSes.
    fn bottlerocket_node(
        &self,
        bundle: &VersionsBundle,
        mc: &TinkerbellMachineConfig,
    ) -> BottlerocketNode {
        let host = mc.spec.host_os_configuration.as_ref();
        let mut node = BottlerocketNode {
            bottlerocket: kubeadm::bottlerocket_settings(host),
            cert_bundles: kubeadm::cert_bundles(host),
            ..BottlerocketNode::default()
        };
        if is_bottlerocket(mc) {
            node.pause = Some(crate::versions::image_meta(&bundle.kube_distro.pause));
            node.bottlerocket_bootstrap =
                Some(crate::versions::image_meta(&bundle.bottlerocket_bootstrap));
            node.proxy = self.bottlerocket_proxy();
            node.registry_mirror = self.mirror.as_ref().map(RegistryMirror::bottlerocket);
        }
        node
    }
}

/// A workflow template as the YAML text of a `templateOverride`. EKS Anywhere marshals the
/// workflow's `version`, `name`, `id`, `global_timeout` and `tasks` even when they are empty
/// (`tasks: null` for none), so they are always printed here too.
pub fn template_text(template: &TemplateDefinition) -> Result<String, String> {
    let mut value = serde_json::to_value(template).map_err(|e| e.to_string())?;
    if let Some(map) = value.as_object_mut() {
        for (key, empty) in [
            ("version", serde_json::json!("")),
            ("name", serde_json::json!("")),
            ("id", serde_json::json!("")),
            ("global_timeout", serde_json::json!(0)),
            ("tasks", serde_json::Value::Null),
        ] {
            map.entry(key).or_insert(empty);
        }
    }
    serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())
}

/// Drop the comment of every SSH key of the machine configs (`ssh-rsa AAAA... user@host`
/// becomes `ssh-rsa AAAA...`), as EKS Anywhere's provider setup does before rendering.
pub fn strip_ssh_key_comments(spec: &mut TinkerbellSpec) {
    for mc in spec.machine_configs.values_mut() {
        for user in mc.spec.users.iter_mut().flatten() {
            for key in &mut user.ssh_authorized_keys {
                let fields: Vec<&str> = key.split_whitespace().take(2).collect();
                if fields.len() == 2 {
                    *key = fields.join(" ");
                }
            }
        }
    }
}

fn is_bottlerocket(mc: &TinkerbellMachineConfig) -> bool {
    mc.spec.os_family == Some(OsFamily::Bottlerocket)
}

fn format_of(mc: &TinkerbellMachineConfig) -> String {
    if is_bottlerocket(mc) {
        "bottlerocket"
    } else {
        "cloud-config"
    }
    .to_string()
}

fn user_of(
    name: &str,
    mc: &TinkerbellMachineConfig,
) -> Result<crate::api::kubeadm::User, RenderError> {
    mc.spec
        .users
        .as_deref()
        .and_then(kubeadm::login_user)
        .filter(|u| !u.ssh_authorized_keys.is_empty())
        .ok_or_else(|| RenderError::MissingUser {
            name: name.to_string(),
        })
}

/// Kubelet flags and the optional `KubeletConfiguration` patch of a node group.
fn kubelet(
    config: Option<&serde_json::Value>,
    bottlerocket: bool,
    resolv_conf: Option<&ironbell_model::anywhere::ResolvConf>,
    labels: Option<&BTreeMap<String, String>>,
) -> (StringMap, Option<File>) {
    let mut args = StringMap::new();
    args.insert("provider-id".into(), "PROVIDER_ID".into());
    let config = config.filter(|_| !bottlerocket);
    let file = match config {
        Some(c) => Some(kubeadm::kubelet_configuration_file(
            kubeadm::kubelet_configuration(c, resolv_conf),
        )),
        None => {
            args.extend(kubeadm::kubelet_flags(resolv_conf));
            None
        }
    };
    args.extend(kubeadm::node_label_args(labels));
    (args, file)
}

/// Render a Tinkerbell cluster's Cluster API objects: the control-plane and the workers
/// documents.
pub fn render(
    spec: &TinkerbellSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Manifests, RenderError> {
    Ok(Manifests {
        control_plane: render_control_plane(spec, bundles, options)?,
        workers: render_workers(spec, bundles, options)?,
    })
}

/// The control-plane document alone (EKS Anywhere's `GenerateCAPISpecControlPlane`).
pub fn render_control_plane(
    spec: &TinkerbellSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    let mut objects = control_plane(&ctx, &options.names)?;
    if let (Some(true), Some(c)) = (ctx.mirror.as_ref().map(|m| m.authenticate), ctx.credentials) {
        objects.push(registry_secret(c));
    }
    Ok(objects)
}

/// The workers document alone (EKS Anywhere's `GenerateCAPISpecWorkers`).
pub fn render_workers(
    spec: &TinkerbellSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    workers(&ctx, &options.names)
}

fn registry_secret(c: &RegistryCredentials) -> Object {
    Object::Secret(Box::new(kubeadm::registry_credentials_secret(c)))
}

fn control_plane(ctx: &Context<'_>, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
    let cluster = ctx.cluster();
    let name = ctx.name;
    let cp = cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .ok_or_else(|| ctx.missing("spec.controlPlaneConfiguration"))?;
    let cp_ref = cp.machine_group_ref.as_ref().map(|r| r.name());
    let cp_mc = ctx.machine_config("the control plane", cp_ref)?;
    let cp_mc_name = cp_ref.unwrap_or_default();
    let bundle = ctx.bundle(None)?;
    let distro = &bundle.kube_distro;
    let k8s_tag = distro.kubernetes.tag.clone();
    let minor = minor_version(&k8s_tag);
    let br = is_bottlerocket(cp_mc);
    let external_etcd = cluster.spec.external_etcd_configuration.as_ref();
    let has_workers = cluster
        .spec
        .worker_node_group_configurations
        .as_ref()
        .is_some_and(|w| !w.is_empty());
    let host = cp_mc.spec.host_os_configuration.as_ref();
    let cp_template_name = names
        .control_plane
        .clone()
        .unwrap_or_else(|| NO_VALUE.to_string());
    let etcd_template_name = names.etcd.clone().unwrap_or_else(|| NO_VALUE.to_string());

    let mut objects = Vec::new();

    // Cluster.
    objects.push(Object::Cluster(Box::new(Cluster::for_eksa(ClusterParts {
        name,
        pods: ctx.cidrs(false),
        services: ctx.cidrs(true),
        endpoint: Some(ApiEndpoint {
            host: ctx.endpoint_host().to_string(),
            port: 6443,
        }),
        infrastructure_ref: ObjectReference::new(
            INFRASTRUCTURE_API_VERSION,
            "TinkerbellCluster",
            name,
        ),
        external_etcd_ref: external_etcd.map(|_| {
            ObjectReference::new(
                ETCDADM_API_VERSION,
                "EtcdadmCluster",
                format!("{name}-etcd"),
            )
        }),
    }))));

    // KubeadmControlPlane: the cluster configuration.
    let admission = cp.skip_admission_for_system_resources.unwrap_or(false);
    let mut extra_args = kubeadm::audit_args();
    extra_args.extend(kubeadm::api_server_extra_args(
        ctx.spec.oidc.as_ref(),
        ctx.spec.aws_iam.as_ref(),
        cp.api_server_extra_args.as_ref(),
        cluster.spec.pod_iam_config.as_ref(),
    ));
    let mut api_volumes = kubeadm::audit_volumes(br);
    if admission {
        api_volumes.push(kubeadm::exclusion_volume());
    }
    if ctx.spec.aws_iam.is_some() {
        api_volumes.extend(kubeadm::aws_iam_volumes());
    }
    let etcd = match external_etcd {
        Some(_) => {
            let (ca, cert, key) = if br {
                (
                    "/var/lib/kubeadm/pki/etcd/ca.crt",
                    "/var/lib/kubeadm/pki/server-etcd-client.crt",
                    "/var/lib/kubeadm/pki/apiserver-etcd-client.key",
                )
            } else {
                (
                    "/etc/kubernetes/pki/etcd/ca.crt",
                    "/etc/kubernetes/pki/apiserver-etcd-client.crt",
                    "/etc/kubernetes/pki/apiserver-etcd-client.key",
                )
            };
            Etcd {
                local: None,
                external: Some(ExternalEtcd {
                    endpoints: vec!["https://placeholder:2379".into()],
                    ca_file: ca.into(),
                    cert_file: cert.into(),
                    key_file: key.into(),
                }),
            }
        }
        None => Etcd {
            local: Some(crate::versions::image_meta(&distro.etcd).into()),
            external: None,
        },
    };
    let br_node = ctx.bottlerocket_node(bundle, cp_mc);
    let kubeconfig_volume = |file: &str| ControlPlaneComponent {
        extra_volumes: Some(vec![HostPathMount {
            host_path: format!("/var/lib/kubeadm/{file}"),
            mount_path: format!("/etc/kubernetes/{file}"),
            name: "kubeconfig".into(),
            path_type: Some("File".into()),
            read_only: true,
        }]),
        ..ControlPlaneComponent::default()
    };
    let cluster_configuration = ClusterConfiguration {
        feature_gates: (29..33).contains(&minor).then(|| {
            [("EtcdLearnerMode".to_string(), false)]
                .into_iter()
                .collect()
        }),
        image_repository: Some(distro.kubernetes.repository.clone()),
        etcd: Some(etcd),
        dns: Some(crate::versions::image_meta(&distro.coredns)),
        bottlerocket_node: br_node.clone(),
        api_server: Some(ControlPlaneComponent {
            cert_sans: cp.cert_sans.clone().filter(|s| !s.is_empty()),
            extra_envs: admission.then(kubeadm::exclusion_env),
            extra_args: Some(extra_args),
            extra_volumes: Some(api_volumes),
        }),
        controller_manager: br.then(|| kubeconfig_volume("controller-manager.conf")),
        scheduler: br.then(|| kubeconfig_volume("scheduler.conf")),
        certificates_dir: br.then(|| "/var/lib/kubeadm/pki".to_string()),
    };

    // Node registration, shared by init and join.
    let resolv_conf = ctx.resolv_conf();
    let (kubelet_args, kubelet_file) = kubelet(
        cp.kubelet_configuration.as_ref(),
        br,
        resolv_conf,
        cp.labels.as_ref(),
    );
    let taints = if !has_workers {
        Some(Vec::new())
    } else {
        cp.taints
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(kubeadm::taints)
    };
    let patches = kubelet_file.as_ref().map(|_| Patches {
        directory: "/etc/kubernetes/patches".into(),
    });
    let init_configuration = NodeConfiguration {
        patches: patches.clone(),
        bottlerocket_node: BottlerocketNode::default(),
        node_registration: Some(NodeRegistration {
            ignore_preflight_errors: None,
            taints: taints.clone(),
            kubelet_extra_args: Some(kubelet_args.clone()),
            ..NodeRegistration::default()
        }),
    };
    let join_configuration = NodeConfiguration {
        patches,
        bottlerocket_node: br_node,
        node_registration: Some(NodeRegistration {
            ignore_preflight_errors: Some(vec!["DirAvailable--etc-kubernetes-manifests".into()]),
            taints,
            kubelet_extra_args: Some(kubelet_args),
            ..NodeRegistration::default()
        }),
    };

    // Files.
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    if !cp.skip_load_balancer_deployment.unwrap_or(false) {
        let serve_lbs = !has_workers
            && !ctx
                .spec
                .datacenter
                .spec
                .skip_load_balancer_deployment
                .unwrap_or(false);
        files.push(kubeadm::kube_vip_file(
            ctx.endpoint_host(),
            &bundle.tinkerbell_kube_vip,
            serve_lbs,
            br,
        ));
    }
    if admission {
        files.push(kubeadm::exclusion_file());
    }
    files.push(kubeadm::audit_policy_file(
        cp,
        cluster.spec.kubernetes_version.as_ref().map(|v| v.as_str()),
    ));
    if ctx.spec.aws_iam.is_some() {
        files.extend(kubeadm::aws_iam_files(name));
    }
    let mut pre_kubeadm = Vec::new();
    if !br {
        files.extend(ctx.containerd_files());
        pre_kubeadm = ctx.containerd_restart_commands();
        if minor >= 29 {
            pre_kubeadm.push("if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi".into());
        }
    }

    let rollout_strategy = kubeadm::control_plane_rollout(cp.upgrade_rollout_strategy.as_ref());

    let kcp = KubeadmControlPlane::new(
        meta(name, EKSA_SYSTEM_NAMESPACE),
        KubeadmControlPlaneSpec {
            kubeadm_config_spec: KubeadmConfigSpec {
                cluster_configuration: Some(cluster_configuration),
                init_configuration: Some(init_configuration),
                join_configuration: Some(join_configuration),
                files: Some(files),
                ntp: kubeadm::ntp(host),
                pre_kubeadm_commands: (!pre_kubeadm.is_empty()).then_some(pre_kubeadm),
                post_kubeadm_commands: None,
                users: Some(vec![user_of(cp_mc_name, cp_mc)?]),
                format: Some(format_of(cp_mc)),
                disk_setup: None,
                mounts: None,
            },
            machine_template: ControlPlaneMachineTemplate::in_eksa_system(
                INFRASTRUCTURE_API_VERSION,
                MACHINE_TEMPLATE_KIND,
                cp_template_name.clone(),
            ),
            replicas: cp.count.unwrap_or(1),
            rollout_strategy: Some(rollout_strategy),
            version: k8s_tag.clone(),
        },
    );
    objects.push(Object::KubeadmControlPlane(Box::new(kcp)));

    // External etcd.
    if let Some(etcd_cfg) = external_etcd {
        let etcd_ref = etcd_cfg.machine_group_ref.as_ref().map(|r| r.name());
        let etcd_mc = ctx.machine_config("external etcd", etcd_ref)?;
        objects.push(etcd_cluster(
            ctx,
            bundle,
            etcd_cfg.count.unwrap_or(0),
            etcd_ref.unwrap_or_default(),
            etcd_mc,
            &etcd_template_name,
        )?);
        objects.push(ctx.machine_template(
            &etcd_template_name,
            etcd_ref.unwrap_or_default(),
            etcd_mc,
        )?);
    }

    objects.push(ctx.machine_template(&cp_template_name, cp_mc_name, cp_mc)?);
    objects.push(Object::TinkerbellCluster(Box::new(TinkerbellCluster::new(
        meta(name, EKSA_SYSTEM_NAMESPACE),
        TinkerbellClusterSpec {
            // EKS Anywhere builds this from an empty OS distro, OS version and base registry.
            image_lookup_format: format!("--kube-{k8s_tag}.raw.gz"),
            image_lookup_base_registry: "/".into(),
        },
    ))));
    Ok(objects)
}

fn etcd_cluster(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    replicas: i64,
    mc_name: &str,
    mc: &TinkerbellMachineConfig,
    template_name: &str,
) -> Result<Object, RenderError> {
    let distro = &bundle.kube_distro;
    let br = is_bottlerocket(mc);
    let config = EtcdadmConfigSpec {
        etcdadm_builtin: true,
        format: format_of(mc),
        etcdadm_install_commands: None,
        bottlerocket_config: br.then(|| EtcdBottlerocketConfig {
            etcd_image: distro.etcd.uri(),
            bootstrap_image: bundle.bottlerocket_bootstrap.uri(),
            pause_image: distro.pause.uri(),
            ..EtcdBottlerocketConfig::default()
        }),
        cloud_init_config: (!br).then(|| EtcdCloudInitConfig {
            version: distro.etcd_version.clone(),
            install_dir: "/usr/bin".into(),
            etcd_release_url: ctx
                .cluster()
                .spec
                .eksa_version
                .as_ref()
                .and(distro.etcd_url.clone()),
        }),
        pre_etcdadm_commands: (!br).then(common::hostname_commands),
        cipher_suites: Some(kubeadm::SECURE_CIPHER_SUITES.into()),
        users: Some(vec![user_of(mc_name, mc)?]),
        proxy: ctx
            .proxy()
            .map(|(http, https)| BottlerocketProxy::with_http(http, https, &ctx.no_proxy)),
        registry_mirror: ctx.mirror.as_ref().map(RegistryMirror::bottlerocket),
        ..EtcdadmConfigSpec::default()
    };
    let template = ObjectReference::new(
        INFRASTRUCTURE_API_VERSION,
        MACHINE_TEMPLATE_KIND,
        template_name,
    );
    Ok(Object::EtcdadmCluster(Box::new(EtcdadmCluster::for_eksa(
        ctx.name, replicas, config, template,
    ))))
}

fn workers(ctx: &Context<'_>, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
    let cluster = ctx.cluster();
    let name = ctx.name;
    let resolv_conf = ctx.resolv_conf();
    let mut objects = Vec::new();
    for (group, wng) in worker_groups(cluster) {
        let mc_ref = wng.machine_group_ref.as_ref().map(|r| r.name());
        let mc = ctx.machine_config(&format!("worker node group {group}"), mc_ref)?;
        let mc_name = mc_ref.unwrap_or_default();
        let bundle = ctx.bundle(wng.kubernetes_version.as_ref().map(|v| v.as_str()))?;
        let wn = ctx.lookup.worker_names(&names.workers, &group)?;
        let br = is_bottlerocket(mc);
        let host = mc.spec.host_os_configuration.as_ref();

        // MachineDeployment.
        let pool_labels: StringMap = [
            (
                "cluster.x-k8s.io/cluster-name".to_string(),
                name.to_string(),
            ),
            ("pool".to_string(), group.clone()),
        ]
        .into_iter()
        .collect();
        let strategy = kubeadm::machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref());
        objects.push(Object::MachineDeployment(Box::new(
            MachineDeployment::for_worker_group(WorkerGroupDeployment {
                cluster: name,
                group: &group,
                config: wng,
                labels: pool_labels,
                bootstrap_template: &wn.kubeadm_config_template,
                infrastructure_ref: ObjectReference::new(
                    INFRASTRUCTURE_API_VERSION,
                    MACHINE_TEMPLATE_KIND,
                    wn.machine_template.clone(),
                ),
                version: bundle.kube_distro.kubernetes.tag.clone(),
                strategy,
            }),
        )));

        // TinkerbellMachineTemplate.
        objects.push(ctx.machine_template(&wn.machine_template, mc_name, mc)?);

        // KubeadmConfigTemplate.
        let (kubelet_args, kubelet_file) = kubelet(
            wng.kubelet_configuration.as_ref(),
            br,
            resolv_conf,
            wng.labels.as_ref(),
        );
        let join = NodeConfiguration {
            patches: kubelet_file.as_ref().map(|_| Patches {
                directory: "/etc/kubernetes/patches".into(),
            }),
            bottlerocket_node: ctx.bottlerocket_node(bundle, mc),
            node_registration: Some(NodeRegistration {
                ignore_preflight_errors: None,
                taints: wng
                    .taints
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(kubeadm::taints),
                kubelet_extra_args: Some(kubelet_args),
                ..NodeRegistration::default()
            }),
        };
        let mut files: Vec<File> = kubelet_file.into_iter().collect();
        let mut pre_kubeadm = Vec::new();
        if !br {
            files.extend(ctx.containerd_files());
            pre_kubeadm = ctx.containerd_restart_commands();
        }
        let config = KubeadmConfigSpec {
            join_configuration: Some(join),
            files: (!files.is_empty()).then_some(files),
            ntp: kubeadm::ntp(host),
            pre_kubeadm_commands: (!pre_kubeadm.is_empty()).then_some(pre_kubeadm),
            users: Some(vec![user_of(mc_name, mc)?]),
            format: Some(format_of(mc)),
            ..KubeadmConfigSpec::default()
        };
        objects.push(Object::KubeadmConfigTemplate(Box::new(
            KubeadmConfigTemplate::in_eksa_system(wn.kubeadm_config_template.clone(), config),
        )));
    }
    Ok(objects)
}
