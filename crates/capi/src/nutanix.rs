//! The Nutanix provider's Cluster API objects (CAPX), as EKS Anywhere's Nutanix template
//! builder renders them (`pkg/providers/nutanix/template.go` at v0.24.6).
//!
//! [`render_control_plane`] gives the control-plane document: `NutanixCluster`, the Prism
//! Central trust bundle `ConfigMap` when there is one, `Cluster`, `KubeadmControlPlane`, the
//! control-plane `NutanixMachineTemplate`, with external etcd the `EtcdadmCluster` and its
//! template, the registry credentials secret, and the cloud controller manager (a
//! `ConfigMap` and a `Secret` applied by a `ClusterResourceSet`). [`render_workers`] gives,
//! per worker node group, a `MachineDeployment` and `NutanixMachineTemplate` (one pair per
//! failure domain when the datacenter spreads the group over failure domains) and a
//! `KubeadmConfigTemplate`.
//!
//! Template names come from a [`TemplateNames`], as for Tinkerbell; a missing control-plane
//! or etcd name prints as [`NO_VALUE`], as EKS Anywhere's builder does when none is passed.
//! The Prism Central credentials are an input ([`PrismCredentials`]): the cloud controller
//! manager's secret carries them, so the rendered objects are secret material.

mod ccm;

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    Cluster as EksaCluster, NutanixDatacenterConfig, NutanixDatacenterFailureDomain,
    NutanixGpuIdentifierType, NutanixIdentifierType, NutanixMachineConfig,
    NutanixResourceIdentifier, Ref, ResolvConf, WorkerNodeGroupConfiguration,
};
use serde_json::Value;

use crate::api::cluster::{
    ApiEndpoint, Cluster, ClusterParts, MachineDeployment, WorkerGroupDeployment,
};
use crate::api::core::{
    ClusterResourceSet, ClusterResourceSetSpec, ConfigMap, GenericSecret, ResourceRef,
};
use crate::api::etcdadm::{EtcdCloudInitConfig, EtcdadmCluster, EtcdadmConfigSpec};
use crate::api::kubeadm::{
    BottlerocketProxy, ClusterConfiguration, ControlPlaneComponent, ControlPlaneMachineTemplate,
    Etcd, File, KubeadmConfigSpec, KubeadmConfigTemplate, KubeadmControlPlane,
    KubeadmControlPlaneSpec, NodeConfiguration, NodeRegistration, Patches, User,
};
use crate::api::nutanix::{
    Category, Gpu, NutanixCluster, NutanixClusterSpec, NutanixFailureDomain, NutanixMachineSpec,
    NutanixMachineTemplate, PrismCentral, ResourceIdentifier, TypedReference,
};
use crate::api::{
    EKSA_SYSTEM_NAMESPACE, ETCDADM_API_VERSION, INFRASTRUCTURE_API_VERSION, LabelSelector,
    ObjectReference, StringMap, meta,
};
use crate::common::{self, HOSTNAME, cluster_name, minor_version, worker_groups};
use crate::kubeadm::{self, RegistryCredentials, RegistryMirror};
use crate::provider_spec::ProviderSpec;
use crate::tinkerbell::{TemplateNames, WorkerTemplateNames};
use crate::versions::{VersionsBundle, VersionsBundleSet, image_meta};
use crate::{LookupError, Manifests, NO_VALUE, Object};

pub use ccm::ignored_node_ips;

/// Kind name of CAPX's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "NutanixMachineTemplate";

/// The label that ties an object to its cluster.
const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// A Nutanix cluster spec: the EKS Anywhere objects the renderer reads.
pub type NutanixSpec = ProviderSpec<NutanixDatacenterConfig, NutanixMachineConfig>;

crate::provider_spec::provider_kinds!(NutanixDatacenterConfig, NutanixMachineConfig);

impl NutanixSpec {
    /// The Nutanix view of a loaded spec.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        Self::view(spec).ok_or_else(|| RenderError::NotNutanix {
            cluster: spec.name().to_string(),
        })
    }
}

/// The Prism Central user the cluster's controllers log in as. Never logged; `Debug` hides
/// it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PrismCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for PrismCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrismCredentials(<redacted>)")
    }
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Template names.
    pub names: TemplateNames,
    /// Prism Central credentials (EKS Anywhere reads `EKSA_NUTANIX_USERNAME` and
    /// `EKSA_NUTANIX_PASSWORD`).
    pub credentials: PrismCredentials,
    /// Registry mirror credentials, when the mirror authenticates.
    pub registry_credentials: Option<RegistryCredentials>,
}

/// What went wrong rendering a Nutanix spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec lacks what the renderer looks up.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The spec's datacenter config is not a `NutanixDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a NutanixDatacenterConfig")]
    NotNutanix {
        /// Cluster name.
        cluster: String,
    },
    /// A machine config lacks a field the machines need.
    #[error("NutanixMachineConfig {name}: {field} is required")]
    MachineConfigField {
        /// Machine config name.
        name: String,
        /// The field's path.
        field: String,
    },
    /// An entry of `ccmExcludeNodeIPs` is not an address, a CIDR or a range.
    #[error(
        "NutanixDatacenterConfig {datacenter}: spec.ccmExcludeNodeIPs entry {entry:?}: {reason}"
    )]
    ExcludedNodeIp {
        /// Datacenter config name.
        datacenter: String,
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The names of a create, suffixed with a clock in Unix milliseconds, as for Tinkerbell:
/// `<cluster>-control-plane-template-<ms>`, `<cluster>-etcd-template-<ms>`,
/// `<cluster>-<group>-<ms>` and `<cluster>-<group>-template-<ms>`.
pub fn names_from_clock(spec: &NutanixSpec, unix_ms: i64) -> TemplateNames {
    let name = cluster_name(&spec.cluster);
    TemplateNames {
        control_plane: Some(format!("{name}-control-plane-template-{unix_ms}")),
        etcd: Some(format!("{name}-etcd-template-{unix_ms}")),
        workers: worker_groups(&spec.cluster)
            .map(|(group, _)| {
                (
                    group.clone(),
                    WorkerTemplateNames {
                        machine_template: format!("{name}-{group}-{unix_ms}"),
                        kubeadm_config_template: format!("{name}-{group}-template-{unix_ms}"),
                    },
                )
            })
            .collect(),
    }
}

/// The current state of an upgraded cluster: its spec, its bundles number and the template
/// names its objects reference now ([`TemplateNames::from_objects`]).
#[derive(Clone, Debug)]
pub struct CurrentCluster<'a> {
    /// The spec the cluster runs.
    pub spec: &'a NutanixSpec,
    /// `Bundles.spec.number` of its release.
    pub bundles_number: i64,
    /// Template names of its `KubeadmControlPlane`, `EtcdadmCluster` and
    /// `MachineDeployment`s.
    pub names: TemplateNames,
}

/// Whether a Nutanix identifier names another object (a changed type, or a changed name or
/// UUID where both are given).
fn identifier_changed(
    old: Option<&NutanixResourceIdentifier>,
    new: Option<&NutanixResourceIdentifier>,
) -> bool {
    match (old, new) {
        (Some(o), Some(n)) => {
            o.type_ != n.type_
                || match o.type_ {
                    NutanixIdentifierType::Name => {
                        o.name.is_some() && n.name.is_some() && o.name != n.name
                    }
                    NutanixIdentifierType::Uuid => {
                        o.uuid.is_some() && n.uuid.is_some() && o.uuid != n.uuid
                    }
                }
        }
        (o, n) => o.is_some() != n.is_some(),
    }
}

/// Whether a machine config change needs new machines: size, OS, image, cluster or subnet.
fn immutable_fields_changed(old: &NutanixMachineConfig, new: &NutanixMachineConfig) -> bool {
    let (o, n) = (&old.spec, &new.spec);
    o.memory_size != n.memory_size
        || o.system_disk_size != n.system_disk_size
        || o.vcpu_sockets != n.vcpu_sockets
        || o.vcpus_per_socket != n.vcpus_per_socket
        || o.os_family != n.os_family
        || identifier_changed(o.image.as_ref(), n.image.as_ref())
        || identifier_changed(o.cluster.as_ref(), n.cluster.as_ref())
        || identifier_changed(o.subnet.as_ref(), n.subnet.as_ref())
}

/// The machine config a reference of `spec` names.
fn referenced<'s>(spec: &'s NutanixSpec, r: Option<&Ref>) -> Option<&'s NutanixMachineConfig> {
    spec.machine_configs.get(r?.name())
}

/// The template names of an upgrade from `current` to `new`, as EKS Anywhere's Nutanix
/// provider picks them: a template keeps its current name unless it must be replaced, and
/// new names come from the clock. The control plane's and etcd's machine templates are
/// replaced on a Kubernetes version or bundles change or a change of their machine config's
/// size, OS, image, cluster or subnet; a worker group's machine template on a bundles,
/// taints, labels, Kubernetes version or machine change; its `KubeadmConfigTemplate` on a
/// taints, labels or users change. New worker groups get new names.
pub fn upgrade_names(
    current: &CurrentCluster<'_>,
    new: &NutanixSpec,
    new_bundles_number: i64,
    unix_ms: i64,
) -> TemplateNames {
    let fresh = names_from_clock(new, unix_ms);
    let bundles_changed = current.bundles_number != new_bundles_number;
    let (old_c, new_c) = (&current.spec.cluster.spec, &new.cluster.spec);
    let version_changed = old_c.kubernetes_version != new_c.kubernetes_version;
    let machines_changed = |old: Option<&Ref>, new_ref: Option<&Ref>| match (
        referenced(current.spec, old),
        referenced(new, new_ref),
    ) {
        (Some(o), Some(n)) => immutable_fields_changed(o, n),
        _ => true,
    };
    let cp_ref = |c: &ironbell_model::anywhere::ClusterSpec| {
        c.control_plane_configuration
            .as_ref()
            .and_then(|cp| cp.machine_group_ref.clone())
    };
    let etcd_ref = |c: &ironbell_model::anywhere::ClusterSpec| {
        c.external_etcd_configuration
            .as_ref()
            .and_then(|e| e.machine_group_ref.clone())
    };
    let keep = |changed: bool, current: &Option<String>, fresh: &Option<String>| {
        if changed || current.is_none() {
            fresh.clone()
        } else {
            current.clone()
        }
    };
    let cp_changed = version_changed
        || bundles_changed
        || machines_changed(cp_ref(old_c).as_ref(), cp_ref(new_c).as_ref());
    let etcd_changed = version_changed
        || bundles_changed
        || machines_changed(etcd_ref(old_c).as_ref(), etcd_ref(new_c).as_ref());
    let old_groups: BTreeMap<String, &WorkerNodeGroupConfiguration> =
        worker_groups(&current.spec.cluster).collect();
    let mut workers = BTreeMap::new();
    for (group, wng) in worker_groups(&new.cluster) {
        let Some(new_names) = fresh.workers.get(&group).cloned() else {
            continue;
        };
        let names = match (old_groups.get(&group), current.names.workers.get(&group)) {
            (Some(old), Some(cur)) => {
                let (old_mc, new_mc) = (
                    referenced(current.spec, old.machine_group_ref.as_ref()),
                    referenced(new, wng.machine_group_ref.as_ref()),
                );
                let node_config_changed = old.taints != wng.taints || old.labels != wng.labels;
                let old_version = old
                    .kubernetes_version
                    .as_ref()
                    .or(old_c.kubernetes_version.as_ref());
                let new_version = wng
                    .kubernetes_version
                    .as_ref()
                    .or(new_c.kubernetes_version.as_ref());
                let machine = bundles_changed
                    || node_config_changed
                    || old_version != new_version
                    || machines_changed(
                        old.machine_group_ref.as_ref(),
                        wng.machine_group_ref.as_ref(),
                    );
                let users_changed = old_mc.map(|m| &m.spec.users) != new_mc.map(|m| &m.spec.users);
                WorkerTemplateNames {
                    machine_template: if machine {
                        new_names.machine_template
                    } else {
                        cur.machine_template.clone()
                    },
                    kubeadm_config_template: if node_config_changed || users_changed {
                        new_names.kubeadm_config_template
                    } else {
                        cur.kubeadm_config_template.clone()
                    },
                }
            }
            _ => new_names,
        };
        workers.insert(group, names);
    }
    TemplateNames {
        control_plane: keep(
            cp_changed,
            &current.names.control_plane,
            &fresh.control_plane,
        ),
        etcd: keep(etcd_changed, &current.names.etcd, &fresh.etcd),
        workers,
    }
}

/// Render both documents.
pub fn render(
    spec: &NutanixSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Manifests, RenderError> {
    Ok(Manifests {
        control_plane: render_control_plane(spec, bundles, options)?,
        workers: render_workers(spec, bundles, options)?,
    })
}

fn labels(pairs: &[(&str, &str)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Everything the control-plane and worker builders share.
struct Context<'a> {
    spec: &'a NutanixSpec,
    name: &'a str,
    mirror: Option<RegistryMirror>,
    registry_credentials: Option<&'a RegistryCredentials>,
    proxy: Option<(&'a str, &'a str)>,
    no_proxy: Vec<String>,
    lookup: common::Lookup<'a>,
}

impl<'a> Context<'a> {
    fn new(
        spec: &'a NutanixSpec,
        bundles: &'a VersionsBundleSet,
        options: &'a RenderOptions,
    ) -> Result<Self, RenderError> {
        let lookup = common::Lookup::new(&spec.cluster, bundles);
        let name = lookup.name;
        let mirror = lookup.registry_mirror(options.registry_credentials.as_ref())?;
        let proxy = spec.cluster.spec.proxy_configuration.as_ref().map(|p| {
            (
                p.http_proxy.as_deref().unwrap_or_default(),
                p.https_proxy.as_deref().unwrap_or_default(),
            )
        });
        let mut ctx = Self {
            spec,
            name,
            mirror,
            registry_credentials: options.registry_credentials.as_ref(),
            proxy,
            no_proxy: Vec::new(),
            lookup,
        };
        if proxy.is_some() {
            ctx.no_proxy = ctx.no_proxy_list();
        }
        Ok(ctx)
    }

    fn cluster(&self) -> &'a EksaCluster {
        &self.spec.cluster
    }

    fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, RenderError> {
        Ok(self.lookup.bundle(version)?)
    }

    fn machine_config(
        &self,
        role: &str,
        name: Option<&str>,
    ) -> Result<(&'a str, &'a NutanixMachineConfig), RenderError> {
        Ok(self.lookup.machine_config(
            &self.spec.machine_configs,
            "NutanixMachineConfig",
            role,
            name,
        )?)
    }

    fn cidrs(&self, services: bool) -> Vec<String> {
        common::cidrs(self.cluster(), services)
    }

    fn resolv_conf(&self) -> Option<&'a ResolvConf> {
        common::resolv_conf(self.cluster())
    }

    fn endpoint_host(&self) -> &'a str {
        common::endpoint_host(self.cluster())
    }

    /// Pods, services, the user's `noProxy`, the defaults, Prism Central and the endpoint.
    fn no_proxy_list(&self) -> Vec<String> {
        let mut list = self.cidrs(false);
        list.extend(self.cidrs(true));
        if let Some(p) = &self.cluster().spec.proxy_configuration {
            list.extend(p.no_proxy.iter().flatten().cloned());
        }
        list.extend(kubeadm::NO_PROXY_DEFAULTS.iter().map(|s| s.to_string()));
        list.push(
            self.spec
                .datacenter
                .spec
                .endpoint
                .clone()
                .unwrap_or_default(),
        );
        list.push(self.endpoint_host().to_string());
        list
    }

    fn proxy_file(&self) -> Option<File> {
        self.proxy
            .map(|(http, https)| kubeadm::proxy_drop_in(http, https, &self.no_proxy))
    }

    /// The registry CA file and the rest of the mirror's containerd files, apart (the
    /// templates put the proxy drop-in between them on control-plane machines).
    fn mirror_files(&self) -> (Option<File>, Vec<File>) {
        let Some(m) = &self.mirror else {
            return (None, Vec::new());
        };
        let mut files = m.containerd_files(self.registry_credentials);
        let ca = (m.ca_cert.is_some() && !files.is_empty()).then(|| files.remove(0));
        (ca, files)
    }

    fn containerd_restart_commands(&self) -> Vec<String> {
        kubeadm::containerd_restart_commands(self.mirror.is_some(), self.proxy.is_some())
    }

    fn machine_template(
        &self,
        template_name: &str,
        mc_name: &str,
        mc: &NutanixMachineConfig,
        placement: Placement<'_>,
    ) -> Result<Object, RenderError> {
        let s = &mc.spec;
        let field = |f: &str| RenderError::MachineConfigField {
            name: mc_name.to_string(),
            field: format!("spec.{f}"),
        };
        let id = |r: Option<&NutanixResourceIdentifier>, f: &str| {
            r.map(identifier).ok_or_else(|| field(f))
        };
        let (cluster, subnet) = match placement {
            Placement::FailureDomain(fd) => (
                id(fd.cluster.as_ref(), "cluster")?,
                fd.subnets.iter().flatten().map(identifier).collect(),
            ),
            Placement::ControlPlane | Placement::Worker => (
                id(s.cluster.as_ref(), "cluster")?,
                vec![id(s.subnet.as_ref(), "subnet")?],
            ),
        };
        let categories = s.additional_categories.as_ref().filter(|c| !c.is_empty());
        let machine = NutanixMachineSpec {
            provider_id: format!("nutanix://{}-m1", self.name),
            vcpus_per_socket: s.vcpus_per_socket.ok_or_else(|| field("vcpusPerSocket"))?,
            vcpu_sockets: s.vcpu_sockets.ok_or_else(|| field("vcpuSockets"))?,
            memory_size: s.memory_size.clone().ok_or_else(|| field("memorySize"))?,
            system_disk_size: s
                .system_disk_size
                .clone()
                .ok_or_else(|| field("systemDiskSize"))?,
            boot_type: s.boot_type.and_then(|b| {
                serde_json::to_value(b)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
            }),
            image: id(s.image.as_ref(), "image")?,
            cluster,
            subnet,
            project: s.project.as_ref().map(identifier),
            additional_categories: categories.map(|c| {
                c.iter()
                    .map(|c| Category {
                        key: c.key.clone().unwrap_or_default(),
                        value: c.value.clone().unwrap_or_default(),
                    })
                    .collect()
            }),
            // Only workers outside failure domains get GPUs in EKS Anywhere's templates.
            gpus: s
                .gpus
                .as_ref()
                .filter(|g| !g.is_empty() && matches!(placement, Placement::Worker))
                .map(|g| {
                    g.iter()
                        .map(|g| match g.type_ {
                            NutanixGpuIdentifierType::DeviceId => Gpu {
                                type_: "deviceID".into(),
                                device_id: g.device_id,
                                name: None,
                            },
                            NutanixGpuIdentifierType::Name => Gpu {
                                type_: "name".into(),
                                device_id: None,
                                name: g.name.clone(),
                            },
                        })
                        .collect()
                }),
        };
        Ok(Object::NutanixMachineTemplate(Box::new(
            NutanixMachineTemplate::new(meta(template_name, EKSA_SYSTEM_NAMESPACE), machine),
        )))
    }
}

/// Where a machine template's machines go.
#[derive(Clone, Copy)]
enum Placement<'a> {
    /// Control plane or etcd: the machine config's cluster and subnet, no GPUs.
    ControlPlane,
    /// Workers: the machine config's cluster and subnet, with its GPUs.
    Worker,
    /// Workers in a failure domain: its cluster and subnets, no GPUs.
    FailureDomain(&'a NutanixDatacenterFailureDomain),
}

/// The etcd release tarball URL, written for clusters of EKS Anywhere v0.19.0 and later
/// (pre-release and build suffixes ignored, as EKS Anywhere's version comparison does).
fn etcd_release_url(eksa_version: Option<&str>, url: Option<&String>) -> Option<String> {
    let version = eksa_version?.trim_start_matches('v');
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (major, minor) = (parts.first().copied()?, parts.get(1).copied()?);
    ((major, minor) >= (0, 19)).then(|| url.cloned()).flatten()
}

fn identifier(r: &NutanixResourceIdentifier) -> ResourceIdentifier {
    match r.type_ {
        NutanixIdentifierType::Name => ResourceIdentifier {
            type_: "name".into(),
            name: Some(r.name.clone().unwrap_or_default()),
            uuid: None,
        },
        NutanixIdentifierType::Uuid => ResourceIdentifier {
            type_: "uuid".into(),
            name: None,
            uuid: Some(r.uuid.clone().unwrap_or_default()),
        },
    }
}

/// The login user of a machine config: its first user with its first key.
fn user_of(mc_name: &str, mc: &NutanixMachineConfig) -> Result<User, RenderError> {
    mc.spec
        .users
        .as_deref()
        .and_then(kubeadm::login_user)
        .filter(|u| !u.ssh_authorized_keys.is_empty())
        .ok_or_else(|| RenderError::MachineConfigField {
            name: mc_name.to_string(),
            field: "spec.users (a user with an SSH key)".into(),
        })
}

/// A user with `lockPassword: false`, as the kubeadm templates write it.
fn kubeadm_user(mc_name: &str, mc: &NutanixMachineConfig) -> Result<User, RenderError> {
    let mut user = user_of(mc_name, mc)?;
    user.lock_password = Some(false);
    Ok(user)
}

/// A `KubeletConfiguration` patch file, or the flags: `eviction-hard` (on the control plane's
/// init and on workers) or `read-only-port`/`anonymous-auth` (the control plane's join), the
/// cipher suites and `resolv.conf`.
struct Kubelet {
    file: Option<File>,
    init_args: StringMap,
    join_args: StringMap,
}

fn kubelet(
    config: Option<&Value>,
    resolv_conf: Option<&ResolvConf>,
    node_labels: Option<&BTreeMap<String, String>>,
) -> Kubelet {
    let mut base = labels(&[("cloud-provider", "external")]);
    let labels = kubeadm::node_label_args(node_labels);
    if let Some(config) = config {
        base.extend(labels);
        return Kubelet {
            file: Some(kubeadm::kubelet_configuration_file(
                kubeadm::kubelet_configuration(config, resolv_conf),
            )),
            init_args: base.clone(),
            join_args: base,
        };
    }
    let mut flags = StringMap::new();
    flags.insert(
        "tls-cipher-suites".into(),
        kubeadm::SECURE_CIPHER_SUITES.into(),
    );
    if let Some(path) = resolv_conf.and_then(|r| r.path.as_deref()) {
        flags.insert("resolv-conf".into(), path.into());
    }
    let mut init_args = base.clone();
    init_args.insert(
        "eviction-hard".into(),
        "nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%".into(),
    );
    init_args.extend(flags.clone());
    init_args.extend(labels.clone());
    let mut join_args = base;
    join_args.insert("read-only-port".into(), "0".into());
    join_args.insert("anonymous-auth".into(), "false".into());
    join_args.extend(flags);
    join_args.extend(labels);
    Kubelet {
        file: None,
        init_args,
        join_args,
    }
}

fn patches(file: &Option<File>) -> Option<Patches> {
    file.as_ref().map(|_| Patches {
        directory: "/etc/kubernetes/patches".into(),
    })
}

/// The control-plane document (see the module docs).
pub fn render_control_plane(
    spec: &NutanixSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    let cluster = ctx.cluster();
    let name = ctx.name;
    let dc = &spec.datacenter.spec;
    let cp = ctx.lookup.control_plane()?;
    let cp_ref = cp.machine_group_ref.as_ref().map(|r| r.name());
    let (cp_mc_name, cp_mc) = ctx.machine_config("the control plane", cp_ref)?;
    let bundle = ctx.bundle(None)?;
    let distro = &bundle.kube_distro;
    let k8s_tag = distro.kubernetes.tag.clone();
    let minor = minor_version(&k8s_tag);
    let external_etcd = cluster.spec.external_etcd_configuration.as_ref();
    let encryption = cluster
        .spec
        .etcd_encryption
        .as_deref()
        .filter(|e| !e.is_empty());
    let trust_bundle = dc
        .additional_trust_bundle
        .as_deref()
        .filter(|b| !b.is_empty());
    let cp_template_name = options
        .names
        .control_plane
        .clone()
        .unwrap_or_else(|| NO_VALUE.to_string());
    let etcd_template_name = options
        .names
        .etcd
        .clone()
        .unwrap_or_else(|| NO_VALUE.to_string());
    let endpoint = ctx.endpoint_host();
    let mut objects = Vec::new();

    // NutanixCluster.
    let failure_domains = dc
        .failure_domains
        .iter()
        .flatten()
        .map(|fd| NutanixFailureDomain {
            name: fd.name.clone().unwrap_or_default(),
            cluster: fd.cluster.as_ref().map(identifier).unwrap_or_default(),
            subnets: fd.subnets.iter().flatten().map(identifier).collect(),
            control_plane: true,
        })
        .collect();
    objects.push(Object::NutanixCluster(Box::new(NutanixCluster::new(
        meta(name, EKSA_SYSTEM_NAMESPACE),
        NutanixClusterSpec {
            failure_domains,
            prism_central: PrismCentral {
                additional_trust_bundle: trust_bundle.map(|_| TypedReference {
                    kind: "ConfigMap".into(),
                    name: format!("{name}-trust-bundle"),
                    namespace: Some(EKSA_SYSTEM_NAMESPACE.into()),
                }),
                address: dc.endpoint.clone().unwrap_or_default(),
                port: dc.port.unwrap_or_default(),
                insecure: dc.insecure.unwrap_or(false),
                credential_ref: TypedReference {
                    kind: "Secret".into(),
                    name: format!("capx-{name}"),
                    namespace: None,
                },
            },
            control_plane_endpoint: ApiEndpoint {
                host: endpoint.to_string(),
                port: 6443,
            },
        },
    ))));
    if let Some(bundle) = trust_bundle {
        objects.push(Object::ConfigMap(Box::new(ConfigMap::new(
            meta(format!("{name}-trust-bundle"), EKSA_SYSTEM_NAMESPACE),
            [("ca.crt".to_string(), kubeadm::block_text(bundle))]
                .into_iter()
                .collect(),
        ))));
    }

    // Cluster.
    let mut capi_cluster = Cluster::for_eksa(ClusterParts {
        name,
        pods: common::cidrs(cluster, false),
        services: common::cidrs(cluster, true),
        endpoint: None,
        infrastructure_ref: ObjectReference::new(
            INFRASTRUCTURE_API_VERSION,
            "NutanixCluster",
            name,
        ),
        external_etcd_ref: external_etcd.map(|_| {
            ObjectReference::new(
                ETCDADM_API_VERSION,
                "EtcdadmCluster",
                format!("{name}-etcd"),
            )
            .in_namespace(EKSA_SYSTEM_NAMESPACE)
        }),
    });
    if let Some(network) = capi_cluster.spec.cluster_network.as_mut() {
        network.service_domain = Some("cluster.local".into());
    }
    objects.push(Object::Cluster(Box::new(capi_cluster)));

    // KubeadmControlPlane.
    let admission = cp.skip_admission_for_system_resources.unwrap_or(false);
    let mut api_args = StringMap::new();
    if minor < 33 {
        api_args.insert("cloud-provider".into(), "external".into());
    }
    api_args.extend(kubeadm::audit_args());
    if encryption.is_some() && minor >= 29 {
        api_args.insert("feature-gates".into(), "KMSv1=true".into());
    }
    api_args.extend(kubeadm::api_server_extra_args(
        spec.oidc.as_ref(),
        spec.aws_iam.as_ref(),
        cp.api_server_extra_args.as_ref(),
        None,
    ));
    if encryption.is_some() {
        api_args.extend(kubeadm::encryption_args());
    }
    // Pod IAM last: its issuer is appended to a user-given one.
    if let Some(pod_iam) = cluster.spec.pod_iam_config.as_ref() {
        let with_pod_iam =
            kubeadm::api_server_extra_args(None, None, Some(&api_args), Some(pod_iam));
        api_args = with_pod_iam;
    }
    let mut api_volumes = kubeadm::audit_volumes(false);
    if admission {
        api_volumes.push(kubeadm::exclusion_volume());
    }
    if spec.aws_iam.is_some() {
        api_volumes.extend(kubeadm::aws_iam_volumes());
    }
    if encryption.is_some() {
        api_volumes.extend(kubeadm::encryption_volumes(
            kubeadm::ENCRYPTION_CONFIG_PATH,
            false,
        ));
    }
    let mut cert_sans: Vec<String> = ["localhost", "127.0.0.1", "0.0.0.0"]
        .into_iter()
        .map(String::from)
        .collect();
    cert_sans.extend(cp.cert_sans.iter().flatten().cloned());
    let etcd = match external_etcd {
        Some(_) => Etcd::external_placeholder(),
        None => Etcd {
            local: Some(image_meta(&distro.etcd).into()),
            external: None,
        },
    };
    let cluster_configuration = ClusterConfiguration {
        image_repository: Some(distro.kubernetes.repository.clone()),
        etcd: Some(etcd),
        dns: Some(image_meta(&distro.coredns)),
        api_server: Some(ControlPlaneComponent {
            cert_sans: Some(cert_sans),
            extra_envs: admission.then(kubeadm::exclusion_env),
            extra_args: Some(api_args),
            extra_volumes: Some(api_volumes),
        }),
        controller_manager: Some(ControlPlaneComponent {
            extra_args: Some(labels(&[
                ("cloud-provider", "external"),
                ("enable-hostpath-provisioner", "true"),
            ])),
            ..ControlPlaneComponent::default()
        }),
        ..ClusterConfiguration::default()
    };
    let kubelet = kubelet(
        cp.kubelet_configuration.as_ref(),
        ctx.resolv_conf(),
        cp.labels.as_ref(),
    );
    let taints = cp
        .taints
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(kubeadm::taints);
    let init_configuration = NodeConfiguration {
        patches: patches(&kubelet.file),
        node_registration: Some(NodeRegistration {
            taints: taints.clone(),
            kubelet_extra_args: Some(kubelet.init_args),
            ..NodeRegistration::default()
        }),
        ..NodeConfiguration::default()
    };
    let join_configuration = NodeConfiguration {
        patches: patches(&kubelet.file),
        node_registration: Some(NodeRegistration {
            name: Some(HOSTNAME.into()),
            cri_socket: Some("/var/run/containerd/containerd.sock".into()),
            taints,
            kubelet_extra_args: Some(kubelet.join_args),
            ..NodeRegistration::default()
        }),
        ..NodeConfiguration::default()
    };

    let mut files: Vec<File> = kubelet.file.into_iter().collect();
    files.extend(encryption.map(|e| kubeadm::encryption_file(kubeadm::ENCRYPTION_CONFIG_PATH, e)));
    files.push(File::root(
        "/etc/kubernetes/manifests/kube-vip.yaml",
        ccm::kube_vip_manifest(endpoint, &bundle.nutanix_kube_vip),
    ));
    let (ca_file, mirror_files) = ctx.mirror_files();
    files.extend(ca_file);
    files.extend(ctx.proxy_file());
    files.extend(mirror_files);
    if spec.aws_iam.is_some() {
        files.extend(kubeadm::aws_iam_files(name));
    }
    if admission {
        files.push(File::root(
            kubeadm::EXCLUSION_RULES_PATH,
            kubeadm::block_text(&kubeadm::exclusion_policy()),
        ));
    }
    files.push(File::root(
        kubeadm::AUDIT_POLICY_PATH,
        kubeadm::block_text(&kubeadm::audit_policy(
            cp,
            common::kubernetes_version(cluster),
        )),
    ));

    let mut pre_kubeadm = ctx.containerd_restart_commands();
    pre_kubeadm.extend([
        format!("hostnamectl set-hostname \"{HOSTNAME}\""),
        "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts".into(),
        "echo \"127.0.0.1   localhost\" >>/etc/hosts".into(),
        format!("echo \"127.0.0.1   {HOSTNAME}\" >> /etc/hosts"),
    ]);
    if minor >= 29 {
        pre_kubeadm.push("if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi".into());
    }

    let rollout_strategy = kubeadm::control_plane_rollout(cp.upgrade_rollout_strategy.as_ref());

    objects.push(Object::KubeadmControlPlane(Box::new(
        KubeadmControlPlane::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    cluster_configuration: Some(cluster_configuration),
                    init_configuration: Some(init_configuration),
                    join_configuration: Some(join_configuration),
                    files: Some(files),
                    pre_kubeadm_commands: Some(pre_kubeadm),
                    post_kubeadm_commands: Some(vec![
                        "echo export KUBECONFIG=/etc/kubernetes/admin.conf >> /root/.bashrc".into(),
                    ]),
                    users: Some(vec![kubeadm_user(cp_mc_name, cp_mc)?]),
                    ..KubeadmConfigSpec::default()
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
        ),
    )));
    objects.push(ctx.machine_template(
        &cp_template_name,
        cp_mc_name,
        cp_mc,
        Placement::ControlPlane,
    )?);

    // External etcd.
    if let Some(etcd_cfg) = external_etcd {
        let etcd_ref = etcd_cfg.machine_group_ref.as_ref().map(|r| r.name());
        let (etcd_mc_name, etcd_mc) = ctx.machine_config("external etcd", etcd_ref)?;
        objects.push(etcd_cluster(
            &ctx,
            bundle,
            etcd_cfg.count.unwrap_or(0),
            user_of(etcd_mc_name, etcd_mc)?,
            &etcd_template_name,
        ));
        objects.push(ctx.machine_template(
            &etcd_template_name,
            etcd_mc_name,
            etcd_mc,
            Placement::ControlPlane,
        )?);
    }

    // Registry credentials.
    if let (Some(m), Some(c)) = (&ctx.mirror, ctx.registry_credentials)
        && m.authenticate
    {
        objects.push(Object::Secret(Box::new(
            kubeadm::registry_credentials_secret(c),
        )));
    }

    // The cloud controller manager.
    let ignored = ignored_node_ips(&spec.datacenter, endpoint)?;
    objects.push(Object::ConfigMap(Box::new(ConfigMap::new(
        meta(format!("{name}-nutanix-ccm"), EKSA_SYSTEM_NAMESPACE),
        [(
            "nutanix-ccm.yaml".to_string(),
            ccm::manifests(&spec.datacenter, trust_bundle, &ignored, bundle),
        )]
        .into_iter()
        .collect(),
    ))));
    let mut resources = vec![
        ResourceRef {
            kind: "ConfigMap".into(),
            name: format!("{name}-nutanix-ccm"),
        },
        ResourceRef {
            kind: "Secret".into(),
            name: format!("{name}-nutanix-ccm-secret"),
        },
    ];
    if trust_bundle.is_some() {
        resources.push(ResourceRef {
            kind: "ConfigMap".into(),
            name: "user-ca-bundle".into(),
        });
    }
    objects.push(Object::ClusterResourceSet(Box::new(
        ClusterResourceSet::new(
            meta(format!("{name}-nutanix-ccm-crs"), EKSA_SYSTEM_NAMESPACE),
            ClusterResourceSetSpec {
                cluster_selector: LabelSelector {
                    match_labels: Some(labels(&[(CLUSTER_NAME_LABEL, name)])),
                },
                resources,
                strategy: "Reconcile".into(),
            },
        ),
    )));
    objects.push(Object::GenericSecret(Box::new(
        GenericSecret::resource_set(
            meta(format!("{name}-nutanix-ccm-secret"), EKSA_SYSTEM_NAMESPACE),
            "nutanix-ccm-secret.yaml",
            ccm::credentials_secret(&options.credentials),
        ),
    )));
    Ok(objects)
}

fn etcd_cluster(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    replicas: i64,
    user: User,
    template_name: &str,
) -> Object {
    let distro = &bundle.kube_distro;
    let config = EtcdadmConfigSpec {
        etcdadm_builtin: true,
        format: "cloud-config".into(),
        bottlerocket_config: None,
        cloud_init_config: Some(EtcdCloudInitConfig {
            version: distro.etcd_version.clone(),
            install_dir: "/usr/bin".into(),
            etcd_release_url: etcd_release_url(
                ctx.cluster().spec.eksa_version.as_deref(),
                distro.etcd_url.as_ref(),
            ),
        }),
        pre_etcdadm_commands: Some(common::hostname_commands()),
        cipher_suites: Some(kubeadm::SECURE_CIPHER_SUITES.into()),
        users: Some(vec![user]),
        proxy: ctx
            .proxy
            .map(|(http, https)| BottlerocketProxy::with_http(http, https, &ctx.no_proxy)),
        registry_mirror: ctx.mirror.as_ref().map(RegistryMirror::bottlerocket),
        etcdadm_install_commands: None,
        ntp: None,
        cert_bundles: None,
    };
    let template = ObjectReference::new(
        INFRASTRUCTURE_API_VERSION,
        MACHINE_TEMPLATE_KIND,
        template_name,
    );
    Object::EtcdadmCluster(Box::new(EtcdadmCluster::for_eksa(
        ctx.name, replicas, config, template,
    )))
}

/// The failure domains a worker node group is spread over, and how many machines each
/// gets: an equal share, the remainder to the first (none under the autoscaler).
fn failure_domains_of<'a>(
    dc: &'a NutanixDatacenterConfig,
    group: &str,
) -> Vec<&'a NutanixDatacenterFailureDomain> {
    dc.spec
        .failure_domains
        .iter()
        .flatten()
        .filter(|fd| {
            fd.worker_machine_groups
                .iter()
                .flatten()
                .any(|g| g == group)
        })
        .collect()
}

fn replicas_per_domain(count: Option<i64>, domains: usize, index: usize) -> i64 {
    let n = domains as i64;
    let total = count.unwrap_or(n);
    let share = total / n;
    if index == 0 {
        total - (n - 1) * share
    } else {
        share
    }
}

/// The workers document (see the module docs).
pub fn render_workers(
    spec: &NutanixSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    let cluster = ctx.cluster();
    let name = ctx.name;
    let mut objects = Vec::new();
    for (group, wng) in worker_groups(cluster) {
        let mc_ref = wng.machine_group_ref.as_ref().map(|r| r.name());
        let (mc_name, mc) = ctx.machine_config(&format!("worker node group {group}"), mc_ref)?;
        let bundle = ctx.bundle(wng.kubernetes_version.as_ref().map(|v| v.as_str()))?;
        let wn = ctx.lookup.worker_names(&options.names.workers, &group)?;
        let pool_labels = labels(&[(CLUSTER_NAME_LABEL, name)]);
        let strategy = kubeadm::machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref());
        // One deployment per failure domain (`<group>-<domain>`, its share of the count),
        // or one for the group.
        let deployment = |md_group: &str, template: &str, domain: Option<(usize, usize, &str)>| {
            let mut md = MachineDeployment::for_worker_group(WorkerGroupDeployment {
                cluster: name,
                group: md_group,
                config: wng,
                labels: pool_labels.clone(),
                bootstrap_template: &wn.kubeadm_config_template,
                infrastructure_ref: ObjectReference::new(
                    INFRASTRUCTURE_API_VERSION,
                    MACHINE_TEMPLATE_KIND,
                    template,
                ),
                version: bundle.kube_distro.kubernetes.tag.clone(),
                strategy: strategy.clone(),
            });
            if let Some((i, count, fd_name)) = domain {
                md.spec.replicas = md
                    .spec
                    .replicas
                    .map(|_| replicas_per_domain(wng.count, count, i));
                md.spec.template.spec.failure_domain = Some(fd_name.to_string());
            }
            Object::MachineDeployment(Box::new(md))
        };
        let domains = failure_domains_of(&spec.datacenter, &group);
        if domains.is_empty() {
            objects.push(deployment(&group, &wn.machine_template, None));
            objects.push(ctx.machine_template(
                &wn.machine_template,
                mc_name,
                mc,
                Placement::Worker,
            )?);
        } else {
            for (i, fd) in domains.iter().enumerate() {
                let fd_name = fd.name.as_deref().unwrap_or_default();
                let template = format!("{}-{fd_name}", wn.machine_template);
                objects.push(deployment(
                    &format!("{group}-{fd_name}"),
                    &template,
                    Some((i, domains.len(), fd_name)),
                ));
                objects.push(ctx.machine_template(
                    &template,
                    mc_name,
                    mc,
                    Placement::FailureDomain(fd),
                )?);
            }
        }

        // KubeadmConfigTemplate.
        let kubelet = kubelet(
            wng.kubelet_configuration.as_ref(),
            ctx.resolv_conf(),
            wng.labels.as_ref(),
        );
        let join = NodeConfiguration {
            patches: patches(&kubelet.file),
            node_registration: Some(NodeRegistration {
                name: Some(HOSTNAME.into()),
                taints: wng
                    .taints
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(kubeadm::taints),
                kubelet_extra_args: Some(kubelet.init_args),
                ..NodeRegistration::default()
            }),
            ..NodeConfiguration::default()
        };
        let mut files: Vec<File> = kubelet.file.into_iter().collect();
        files.extend(ctx.proxy_file());
        let (ca_file, mirror_files) = ctx.mirror_files();
        files.extend(ca_file);
        files.extend(mirror_files);
        let mut pre_kubeadm = ctx.containerd_restart_commands();
        pre_kubeadm.push(format!("hostnamectl set-hostname \"{HOSTNAME}\""));
        let config = KubeadmConfigSpec {
            join_configuration: Some(join),
            files: (!files.is_empty()).then_some(files),
            pre_kubeadm_commands: Some(pre_kubeadm),
            users: Some(vec![kubeadm_user(mc_name, mc)?]),
            ..KubeadmConfigSpec::default()
        };
        objects.push(Object::KubeadmConfigTemplate(Box::new(
            KubeadmConfigTemplate::in_eksa_system(wn.kubeadm_config_template.clone(), config),
        )));
    }
    Ok(objects)
}
