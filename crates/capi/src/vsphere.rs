//! The vSphere provider's Cluster API objects.
//!
//! [`render`] turns a [`VSphereSpec`] into the control-plane document (`Cluster`,
//! `VSphereCluster`, the control-plane `VSphereMachineTemplate`, `KubeadmControlPlane`, the
//! cloud provider's `ClusterResourceSet`, the etcd objects with external etcd, the vCenter
//! credentials secret, the registry credentials secret, and the cloud provider's secrets and
//! manifests) and the workers document (per worker node group: `KubeadmConfigTemplate`,
//! `MachineDeployment`, `VSphereMachineTemplate`), as EKS Anywhere's vSphere provider does
//! (`pkg/providers/vsphere/template.go` at v0.24.6). [`failure_domains`] renders the
//! `VSphereFailureDomain` and `VSphereDeploymentZone` of each failure domain.
//!
//! Names come from a [`TemplateNames`] (the same names the Tinkerbell provider uses):
//! [`names_from_clock`] for a create, [`upgrade_names`] for an upgrade. What EKS Anywhere's
//! `SetupAndValidateCreateCluster` changes in the spec from what vCenter says of the
//! templates (disk size, clone mode) and its etcd memory floor is [`apply_setup_defaults`];
//! the Bottlerocket templates it imports for machine configs without one,
//! [`apply_default_templates`].
//!
//! The vCenter credentials are an input ([`VSphereCredentials`]), never read from the
//! environment here; `Debug` hides them.

mod cloud_provider;

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    BottlerocketKubernetesSettings, CloneMode, Cluster as EksaCluster, HostOsConfiguration,
    OsFamily, VSphereDatacenterConfig, VSphereMachineConfig, WorkerNodeGroupConfiguration,
};

use crate::api::cluster::{
    ApiEndpoint, Cluster, ClusterNetwork, ClusterSpec, MachineDeployment, NetworkRanges,
    WorkerGroupDeployment,
};
use crate::api::core::{ClusterResourceSet, ClusterResourceSetSpec, GenericSecret, ResourceRef};
use crate::api::etcdadm::{
    EtcdBottlerocketConfig, EtcdCloudInitConfig, EtcdadmCluster, EtcdadmConfigSpec,
};
use crate::api::kubeadm::{
    BottlerocketBootstrapContainer, BottlerocketMirror, BottlerocketNode, BottlerocketProxy,
    BottlerocketRegistryMirror, BottlerocketSettings, ClusterConfiguration, ControlPlaneComponent,
    ControlPlaneMachineTemplate, Etcd, ExternalEtcd, File, HostPathMount, KubeadmConfigSpec,
    KubeadmConfigTemplate, KubeadmControlPlane, KubeadmControlPlaneSpec, LocalEtcd,
    NodeConfiguration, NodeRegistration, Patches, User,
};
use crate::api::vsphere::{
    FailureDomainLevel, IdentityRef, NetworkDevice, NetworkSpec, PlacementConstraint, Topology,
    VSphereCluster, VSphereClusterSpec, VSphereDeploymentZone, VSphereDeploymentZoneSpec,
    VSphereFailureDomain, VSphereFailureDomainSpec, VSphereMachineSpec, VSphereMachineTemplate,
};
use crate::api::{
    CONTROL_PLANE_API_VERSION, EKSA_SYSTEM_NAMESPACE, ETCDADM_API_VERSION,
    INFRASTRUCTURE_API_VERSION, LabelSelector, ObjectMeta, ObjectReference, StringMap, meta,
};
use crate::common::{self, cluster_mirror, cluster_name, minor_version, worker_groups};
use crate::kubeadm::{self, RegistryCredentials, RegistryMirror};
use crate::provider_spec::ProviderSpec;
use crate::tinkerbell::{TemplateNames, WorkerTemplateNames, worker_names};
use crate::versions::{VersionsBundle, VersionsBundleSet, image_meta};
use crate::{Manifests, NO_VALUE, Object};

/// Kind name of CAPV's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "VSphereMachineTemplate";

/// The kubelet's container runtime socket.
const CRI_SOCKET: &str = "/var/run/containerd/containerd.sock";

/// A vSphere cluster spec: the EKS Anywhere objects the renderer reads.
pub type VSphereSpec = ProviderSpec<VSphereDatacenterConfig, VSphereMachineConfig>;

crate::provider_spec::provider_kinds!(VSphereDatacenterConfig, VSphereMachineConfig);

impl VSphereSpec {
    /// The vSphere view of a loaded spec.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        Self::view(spec).ok_or_else(|| RenderError::NotVSphere {
            cluster: spec.name().to_string(),
        })
    }
}

/// What went wrong rendering a vSphere spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec's datacenter config is not a `VSphereDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a VSphereDatacenterConfig")]
    NotVSphere {
        /// Cluster name.
        cluster: String,
    },
    /// A reference names a machine config the spec does not have.
    #[error(
        "cluster {cluster}: {role} references VSphereMachineConfig {name:?}, which the spec does not have"
    )]
    MissingMachineConfig {
        /// Cluster name.
        cluster: String,
        /// Which part of the cluster refers to it.
        role: String,
        /// The missing name.
        name: String,
    },
    /// A machine config's first user has no usable SSH key.
    #[error("VSphereMachineConfig {name}: spec.users[0].sshAuthorizedKeys[0]: {reason}")]
    BadSshKey {
        /// Machine config name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No versions bundle for a Kubernetes version.
    #[error("cluster {cluster}: no versions bundle for Kubernetes {version}")]
    MissingBundle {
        /// Cluster name.
        cluster: String,
        /// The version asked for.
        version: String,
    },
    /// The spec lacks a required field.
    #[error("cluster {cluster}: {field} is required")]
    MissingField {
        /// Cluster name.
        cluster: String,
        /// The field's path.
        field: String,
    },
    /// A kubelet configuration cannot be turned into Bottlerocket settings.
    #[error("cluster {cluster}: {field}: not a Bottlerocket kubelet setting: {message}")]
    BottlerocketKubelet {
        /// Cluster name.
        cluster: String,
        /// The field's path.
        field: String,
        /// The cause.
        message: String,
    },
    /// The registry mirror requires credentials that were not given.
    #[error(
        "cluster {cluster}: the registry mirror requires authentication; give the registry username and password"
    )]
    MissingRegistryCredentials {
        /// Cluster name.
        cluster: String,
    },
    /// A machine config has no template and none can be imported for its OS.
    #[error("VSphereMachineConfig {name}: spec.template is required: {reason}")]
    MissingTemplate {
        /// Machine config name.
        name: String,
        /// Why no default applies.
        reason: String,
    },
    /// No template names for a worker node group.
    #[error("cluster {cluster}: no template names given for worker node group {group}")]
    MissingWorkerNames {
        /// Cluster name.
        cluster: String,
        /// Worker node group name.
        group: String,
    },
}

/// The vCenter credentials of a cluster: CAPV's, and the cloud provider's (the same
/// unless given apart). Never logged; `Debug` hides them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct VSphereCredentials {
    /// CAPV's user name.
    pub username: String,
    /// CAPV's password.
    pub password: String,
    /// The cloud provider's user name, when it differs.
    pub cloud_provider_username: Option<String>,
    /// The cloud provider's password, when the user name differs.
    pub cloud_provider_password: Option<String>,
}

impl std::fmt::Debug for VSphereCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VSphereCredentials(<redacted>)")
    }
}

impl VSphereCredentials {
    /// The cloud provider's user and password (CAPV's when no user name of its own is set).
    fn cloud_provider(&self) -> (&str, &str) {
        match self.cloud_provider_username.as_deref() {
            Some(user) if !user.is_empty() => (
                user,
                self.cloud_provider_password.as_deref().unwrap_or_default(),
            ),
            _ => (&self.username, &self.password),
        }
    }
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Template names; a missing control-plane or etcd name prints as [`NO_VALUE`] (EKS
    /// Anywhere's template builder without names), a worker group without names is an error.
    pub names: TemplateNames,
    /// vCenter credentials.
    pub credentials: VSphereCredentials,
    /// Registry mirror credentials, when the mirror authenticates.
    pub registry_credentials: Option<RegistryCredentials>,
}

/// What vCenter says of a VM template, which the setup's defaults depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateFacts {
    /// The template's disk size in GiB.
    pub disk_gib: i64,
    /// Whether the template has a snapshot (needed for linked clones).
    pub has_snapshot: bool,
}

/// The smallest disk EKS Anywhere gives a machine.
pub const MIN_DISK_GIB: i64 = 20;

/// The smallest memory of an external etcd machine.
pub const MIN_ETCD_MEMORY_MIB: i64 = 8192;

/// What EKS Anywhere's `SetupAndValidateCreateCluster` sets in the machine configs once it
/// has asked vCenter about their templates (`facts` gives the answer for a template): the
/// etcd memory floor, the disk size floor (the template's disk, at least
/// [`MIN_DISK_GIB`]), and the clone mode when unset (linked when the template has a
/// snapshot and the disk is the template's, full otherwise).
pub fn apply_setup_defaults(spec: &mut VSphereSpec, facts: impl Fn(&str) -> TemplateFacts) {
    let etcd = spec
        .cluster
        .spec
        .external_etcd_configuration
        .as_ref()
        .and_then(|e| e.machine_group_ref.as_ref())
        .map(|r| r.name().to_string());
    for (name, mc) in &mut spec.machine_configs {
        let s = &mut mc.spec;
        if etcd.as_deref() == Some(name.as_str())
            && s.memory_mib.is_none_or(|m| m < MIN_ETCD_MEMORY_MIB)
        {
            s.memory_mib = Some(MIN_ETCD_MEMORY_MIB);
        }
        let template = facts(s.template.as_deref().unwrap_or_default());
        let min_disk = template.disk_gib.max(MIN_DISK_GIB);
        if s.disk_gib.is_none_or(|d| d < min_disk) {
            s.disk_gib = Some(min_disk);
        }
        if s.clone_mode.is_none() {
            let linked = template.has_snapshot && s.disk_gib == Some(template.disk_gib);
            s.clone_mode = Some(if linked {
                CloneMode::LinkedClone
            } else {
                CloneMode::FullClone
            });
        }
    }
}

/// Where EKS Anywhere imports default templates, under the datacenter.
pub const DEFAULT_TEMPLATES_FOLDER: &str = "vm/Templates";

/// The default template of a Bottlerocket machine config without one, as EKS Anywhere's
/// setup names the OVA it imports: `/<datacenter>/vm/Templates/bottlerocket-<kube
/// version>-<EKS-D release>-<arch>-<sha256 prefix>`. Worker machine configs take their
/// group's Kubernetes version, the others the cluster's. Other OS families need a template.
pub fn apply_default_templates(
    spec: &mut VSphereSpec,
    bundles: &VersionsBundleSet,
) -> Result<(), RenderError> {
    let cluster = cluster_name(&spec.cluster).to_string();
    let root = spec
        .cluster
        .spec
        .kubernetes_version
        .as_ref()
        .map(|v| v.as_str().to_string());
    let mut wanted: Vec<(String, Option<String>)> = worker_groups(&spec.cluster)
        .filter_map(|(_, w)| {
            let mc = w.machine_group_ref.as_ref()?.name().to_string();
            let version = w
                .kubernetes_version
                .as_ref()
                .map(|v| v.as_str().to_string());
            Some((mc, version.or(root.clone())))
        })
        .collect();
    wanted.extend(
        spec.machine_configs
            .keys()
            .map(|n| (n.clone(), root.clone())),
    );
    let datacenter = spec.datacenter.spec.datacenter.clone().unwrap_or_default();
    for (name, version) in wanted {
        let Some(mc) = spec.machine_configs.get_mut(&name) else {
            continue;
        };
        if mc.spec.template.as_deref().is_some_and(|t| !t.is_empty()) {
            continue;
        }
        let missing = |reason: String| RenderError::MissingTemplate {
            name: name.clone(),
            reason,
        };
        if mc.spec.os_family != Some(OsFamily::Bottlerocket) {
            return Err(missing(
                "only Bottlerocket templates are imported by default".into(),
            ));
        }
        let version = version.unwrap_or_default();
        let bundle = bundles
            .get(&version)
            .ok_or_else(|| RenderError::MissingBundle {
                cluster: cluster.clone(),
                version: version.clone(),
            })?;
        let ova = &bundle.bottlerocket_ova;
        let sha = ova.sha256.get(..7).ok_or_else(|| {
            missing(format!(
                "the Kubernetes {version} bundle has no Bottlerocket OVA"
            ))
        })?;
        mc.spec.template = Some(format!(
            "/{datacenter}/{DEFAULT_TEMPLATES_FOLDER}/bottlerocket-{version}-{}-{}-{sha}",
            bundle.eksd_name,
            ova.arch.join("-"),
        ));
    }
    Ok(())
}

/// The names of a create, suffixed with a clock in Unix milliseconds.
pub fn names_from_clock(spec: &VSphereSpec, unix_ms: i64) -> TemplateNames {
    let name = cluster_name(&spec.cluster);
    TemplateNames {
        control_plane: Some(format!("{name}-control-plane-template-{unix_ms}")),
        etcd: Some(format!("{name}-etcd-template-{unix_ms}")),
        workers: worker_groups(&spec.cluster)
            .map(|(group, _)| (group.clone(), worker_names(name, &group, unix_ms)))
            .collect(),
    }
}

/// The state of an upgraded cluster as the provider reads it: its spec with the
/// datacenter and machine configs stored in the cluster, its bundles number and the
/// template names its objects reference now (as [`TemplateNames::from_objects`] reads them).
#[derive(Clone, Debug)]
pub struct CurrentCluster<'a> {
    /// The spec the cluster runs, with its stored datacenter and machine configs.
    pub spec: &'a VSphereSpec,
    /// `Bundles.spec.number` of its release.
    pub bundles_number: i64,
    /// Template names of its objects.
    pub names: TemplateNames,
}

/// Whether a change between two machine configs (or datacenters) forces new machines:
/// EKS Anywhere's `AnyImmutableFieldChanged`.
fn immutable_changed(
    old_dc: &VSphereDatacenterConfig,
    new_dc: &VSphereDatacenterConfig,
    old: Option<&VSphereMachineConfig>,
    new: Option<&VSphereMachineConfig>,
) -> bool {
    let (Some(old), Some(new)) = (old, new) else {
        return true;
    };
    let (o, n) = (&old.spec, &new.spec);
    o.num_cpus != n.num_cpus
        || o.memory_mib != n.memory_mib
        || o.disk_gib != n.disk_gib
        || o.datastore != n.datastore
        || o.folder != n.folder
        || old_dc.spec.network != new_dc.spec.network
        || o.resource_pool != n.resource_pool
        || old_dc.spec.thumbprint != new_dc.spec.thumbprint
        || o.template != n.template
}

fn machine_ref<'a>(
    spec: &'a VSphereSpec,
    r: Option<&ironbell_model::anywhere::Ref>,
) -> Option<&'a VSphereMachineConfig> {
    spec.machine_configs.get(r?.name())
}

/// The template names of an upgrade from `current` to `new`. A template keeps its current
/// name unless it must be replaced (EKS Anywhere's `NeedsNew*Template`): the control
/// plane's and etcd's on a Kubernetes version, bundles or immutable field change; a worker
/// group's machine template on a bundles, taints, labels, Kubernetes version or immutable
/// field change; its `KubeadmConfigTemplate` on a taints, labels or users change. New
/// groups and replaced templates get names from the clock.
pub fn upgrade_names(
    current: &CurrentCluster<'_>,
    new: &VSphereSpec,
    new_bundles_number: i64,
    unix_ms: i64,
) -> TemplateNames {
    let fresh = names_from_clock(new, unix_ms);
    let old = current.spec;
    let bundles_changed = current.bundles_number != new_bundles_number;
    let version_changed =
        old.cluster.spec.kubernetes_version != new.cluster.spec.kubernetes_version;
    let cp_ref = |s: &VSphereSpec| {
        s.cluster
            .spec
            .control_plane_configuration
            .as_ref()
            .and_then(|c| c.machine_group_ref.clone())
    };
    let etcd_ref = |s: &VSphereSpec| {
        s.cluster
            .spec
            .external_etcd_configuration
            .as_ref()
            .and_then(|c| c.machine_group_ref.clone())
    };
    let keep_or_fresh = |changed: bool, kept: &Option<String>, fresh: &Option<String>| {
        if changed || kept.is_none() {
            fresh.clone()
        } else {
            kept.clone()
        }
    };
    let cp_changed = version_changed
        || bundles_changed
        || immutable_changed(
            &old.datacenter,
            &new.datacenter,
            machine_ref(old, cp_ref(old).as_ref()),
            machine_ref(new, cp_ref(new).as_ref()),
        );
    let etcd_changed = version_changed
        || bundles_changed
        || immutable_changed(
            &old.datacenter,
            &new.datacenter,
            machine_ref(old, etcd_ref(old).as_ref()),
            machine_ref(new, etcd_ref(new).as_ref()),
        );
    let old_groups: BTreeMap<String, &WorkerNodeGroupConfiguration> =
        worker_groups(&old.cluster).collect();
    let mut workers = BTreeMap::new();
    for (group, wng) in worker_groups(&new.cluster) {
        let clock = fresh.workers.get(&group).cloned().unwrap_or_default();
        let names = match (old_groups.get(&group), current.names.workers.get(&group)) {
            (Some(old_wng), Some(cur)) => {
                let old_mc = machine_ref(old, old_wng.machine_group_ref.as_ref());
                let new_mc = machine_ref(new, wng.machine_group_ref.as_ref());
                let config_changed = old_wng.taints.as_deref().unwrap_or_default()
                    != wng.taints.as_deref().unwrap_or_default()
                    || old_wng.labels.clone().unwrap_or_default()
                        != wng.labels.clone().unwrap_or_default();
                let users = |m: Option<&VSphereMachineConfig>| m.and_then(|m| m.spec.users.clone());
                let kubeadm_changed = config_changed || users(old_mc) != users(new_mc);
                let version = |c: &EksaCluster, w: &WorkerNodeGroupConfiguration| {
                    w.kubernetes_version
                        .clone()
                        .or(c.spec.kubernetes_version.clone())
                };
                let machine_changed = bundles_changed
                    || config_changed
                    || version(&old.cluster, old_wng) != version(&new.cluster, wng)
                    || immutable_changed(&old.datacenter, &new.datacenter, old_mc, new_mc);
                WorkerTemplateNames {
                    machine_template: if machine_changed {
                        clock.machine_template
                    } else {
                        cur.machine_template.clone()
                    },
                    kubeadm_config_template: if kubeadm_changed {
                        clock.kubeadm_config_template
                    } else {
                        cur.kubeadm_config_template.clone()
                    },
                }
            }
            _ => clock,
        };
        workers.insert(group, names);
    }
    TemplateNames {
        control_plane: keep_or_fresh(
            cp_changed,
            &current.names.control_plane,
            &fresh.control_plane,
        ),
        etcd: keep_or_fresh(etcd_changed, &current.names.etcd, &fresh.etcd),
        workers,
    }
}

fn is_bottlerocket(mc: &VSphereMachineConfig) -> bool {
    mc.spec.os_family == Some(OsFamily::Bottlerocket)
}

fn format_of(br: bool) -> String {
    if br { "bottlerocket" } else { "cloud-config" }.to_string()
}

/// The login user of a machine config: its first user with the first key, the key's
/// comment dropped (EKS Anywhere's `StripSshAuthorizedKeyComment`). The key's data is not
/// decoded (as the other providers here, unlike EKS Anywhere, which parses it): a key
/// needs a type and data.
fn user_of(name: &str, mc: &VSphereMachineConfig) -> Result<User, RenderError> {
    let bad = |reason: &str| RenderError::BadSshKey {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let user = mc
        .spec
        .users
        .as_deref()
        .and_then(|u| u.first())
        .ok_or_else(|| bad("no user"))?;
    let key = user
        .ssh_authorized_keys
        .first()
        .ok_or_else(|| bad("no key"))?;
    // An empty key is EKS Anywhere's placeholder for one generated at setup; it is
    // written as it is, as the other providers do.
    let key = if key.trim().is_empty() {
        String::new()
    } else {
        let mut fields = key.split_whitespace();
        let (Some(kind), Some(data)) = (fields.next(), fields.next()) else {
            return Err(bad(
                "not an authorized key (a type and the key data expected)",
            ));
        };
        format!("{kind} {data}")
    };
    Ok(User {
        name: user.name.clone(),
        lock_password: None,
        ssh_authorized_keys: vec![key],
        sudo: Some("ALL=(ALL) NOPASSWD:ALL".to_string()),
    })
}

/// Everything the control-plane and worker builders share.
struct Context<'a> {
    spec: &'a VSphereSpec,
    name: &'a str,
    mirror: Option<RegistryMirror>,
    registry_credentials: Option<&'a RegistryCredentials>,
    no_proxy: Vec<String>,
    bundles: &'a VersionsBundleSet,
}

impl<'a> Context<'a> {
    fn new(
        spec: &'a VSphereSpec,
        bundles: &'a VersionsBundleSet,
        options: &'a RenderOptions,
    ) -> Result<Self, RenderError> {
        let name = cluster_name(&spec.cluster);
        let mirror = cluster_mirror(&spec.cluster, options.registry_credentials.as_ref())
            .ok_or_else(|| RenderError::MissingRegistryCredentials {
                cluster: name.to_string(),
            })?;
        let mut ctx = Self {
            spec,
            name,
            mirror,
            registry_credentials: options.registry_credentials.as_ref(),
            no_proxy: Vec::new(),
            bundles,
        };
        ctx.no_proxy = ctx.no_proxy_list();
        Ok(ctx)
    }

    fn cluster(&self) -> &'a EksaCluster {
        &self.spec.cluster
    }

    fn dc(&self) -> &'a ironbell_model::anywhere::VSphereDatacenterConfigSpec {
        &self.spec.datacenter.spec
    }

    fn missing(&self, field: &str) -> RenderError {
        RenderError::MissingField {
            cluster: self.name.to_string(),
            field: field.to_string(),
        }
    }

    /// The bundle of a Kubernetes version, the cluster's when `None`.
    fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, RenderError> {
        let cluster_version = self.cluster().spec.kubernetes_version.as_ref();
        let Some(version) = version.or(cluster_version.map(|v| v.as_str())) else {
            return Err(self.missing("spec.kubernetesVersion"));
        };
        let missing = || RenderError::MissingBundle {
            cluster: self.name.to_string(),
            version: version.to_string(),
        };
        self.bundles.get(version).ok_or_else(missing)
    }

    fn machine_config(
        &self,
        role: &str,
        r: Option<&ironbell_model::anywhere::Ref>,
    ) -> Result<(&'a str, &'a VSphereMachineConfig), RenderError> {
        let name = r.map(|r| r.name()).unwrap_or_default();
        let (name, mc) = self
            .spec
            .machine_configs
            .get_key_value(name)
            .ok_or_else(|| RenderError::MissingMachineConfig {
                cluster: self.name.to_string(),
                role: role.to_string(),
                name: name.to_string(),
            })?;
        Ok((name.as_str(), mc))
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

    fn server(&self) -> Option<String> {
        self.dc().server.clone().filter(|s| !s.is_empty())
    }

    fn thumbprint(&self) -> String {
        self.dc().thumbprint.clone().unwrap_or_default()
    }

    fn no_proxy_list(&self) -> Vec<String> {
        let Some(proxy) = &self.cluster().spec.proxy_configuration else {
            return Vec::new();
        };
        let mut list = self.cidrs(false);
        list.extend(self.cidrs(true));
        list.extend(proxy.no_proxy.iter().flatten().cloned());
        list.extend(kubeadm::NO_PROXY_DEFAULTS.iter().map(|s| s.to_string()));
        list.push(self.dc().server.clone().unwrap_or_default());
        list.push(self.endpoint_host().to_string());
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

    /// The Bottlerocket registry mirror of the kubeadm configurations: the public ECR
    /// endpoint when it is the only mirrored registry, else one entry per registry.
    fn bottlerocket_mirror(&self) -> Option<BottlerocketRegistryMirror> {
        let m = self.mirror.as_ref()?;
        let mut out = m.bottlerocket();
        if m.namespaced.len() != 1 || m.core_mirror().is_empty() {
            out.endpoint = String::new();
            out.mirrors = Some(
                m.registry_api_endpoints()
                    .into_iter()
                    .map(|(registry, endpoint)| BottlerocketMirror {
                        registry,
                        endpoints: vec![endpoint],
                    })
                    .collect(),
            );
        }
        Some(out)
    }

    /// The Bottlerocket fields of a cluster or join configuration: images, proxy and
    /// mirror for Bottlerocket, host settings and CA bundles for any OS.
    fn bottlerocket_node(
        &self,
        bundle: &VersionsBundle,
        mc: &VSphereMachineConfig,
        kubelet: Option<BottlerocketKubernetesSettings>,
    ) -> BottlerocketNode {
        let host = mc.spec.host_os_configuration.as_ref();
        let mut node = BottlerocketNode {
            bottlerocket: bottlerocket_settings(host, kubelet),
            cert_bundles: kubeadm::cert_bundles(host),
            ..BottlerocketNode::default()
        };
        if is_bottlerocket(mc) {
            node.pause = Some(image_meta(&bundle.kube_distro.pause));
            node.bottlerocket_bootstrap = Some(image_meta(&bundle.bottlerocket_bootstrap));
            node.proxy = self.proxy().map(|(_, https)| BottlerocketProxy {
                http_proxy: None,
                https_proxy: https.to_string(),
                no_proxy: self.no_proxy.clone(),
            });
            node.registry_mirror = self.bottlerocket_mirror();
        }
        node
    }

    /// The containerd files of a cloud-config machine: proxy drop-in, mirror CA and hosts.
    fn containerd_files(&self) -> Vec<File> {
        let mut files = Vec::new();
        if let Some((http, https)) = self.proxy() {
            files.push(kubeadm::proxy_drop_in(http, https, &self.no_proxy));
        }
        if let Some(m) = &self.mirror {
            files.extend(m.containerd_files(self.registry_credentials));
        }
        files
    }

    /// The commands before kubeadm of a cloud-config machine: containerd's restart for a
    /// mirror or proxy, then the host name.
    fn pre_kubeadm_commands(&self, br: bool) -> Vec<String> {
        let mut cmds = Vec::new();
        if !br && self.mirror.is_some() {
            cmds.push(
                "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".into(),
            );
        }
        if !br && (self.mirror.is_some() || self.proxy().is_some()) {
            cmds.push("sudo systemctl daemon-reload".into());
            cmds.push("sudo systemctl restart containerd".into());
        }
        cmds.extend(common::hostname_commands());
        cmds
    }

    fn machine_template(
        &self,
        name: &str,
        mc: &VSphereMachineConfig,
        networks: Option<&[String]>,
    ) -> Object {
        let s = &mc.spec;
        let dc = self.dc();
        let networks: Vec<Option<String>> = match networks.filter(|n| !n.is_empty()) {
            Some(list) => list.iter().cloned().map(Some).collect(),
            None => vec![dc.network.clone().filter(|n| !n.is_empty())],
        };
        let spec = VSphereMachineSpec {
            clone_mode: s.clone_mode.map(|c| {
                match c {
                    CloneMode::FullClone => "fullClone",
                    CloneMode::LinkedClone => "linkedClone",
                }
                .to_string()
            }),
            datacenter: dc.datacenter.clone().unwrap_or_default(),
            datastore: s.datastore.clone().filter(|d| !d.is_empty()),
            disk_gib: s.disk_gib.unwrap_or(0),
            folder: s.folder.clone().unwrap_or_default(),
            memory_mib: s.memory_mib.unwrap_or(0),
            network: NetworkSpec {
                devices: networks
                    .into_iter()
                    .map(|network_name| NetworkDevice {
                        dhcp4: true,
                        network_name,
                    })
                    .collect(),
            },
            num_cpus: s.num_cpus.unwrap_or(0),
            resource_pool: s.resource_pool.clone().unwrap_or_default(),
            server: self.server(),
            storage_policy_name: s.storage_policy_name.clone().filter(|p| !p.is_empty()),
            template: s.template.clone().filter(|t| !t.is_empty()),
            thumbprint: self.thumbprint(),
            tag_ids: s.tag_ids.clone().filter(|t| !t.is_empty()),
        };
        Object::VSphereMachineTemplate(Box::new(VSphereMachineTemplate::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            spec,
        )))
    }
}

/// The first EKS Anywhere version whose etcd machines download etcd from the bundle's URL.
const MIN_EKSA_VERSION_WITH_ETCD_URL: (u64, u64, u64) = (0, 19, 0);

/// The etcd release URL for a cluster of an EKS Anywhere version: the bundle's from
/// v0.19.0 on (pre-release and build suffixes ignored, as EKS Anywhere compares), none for
/// older or unknown versions.
fn etcd_release_url(eksa_version: Option<&str>, url: Option<&str>) -> Option<String> {
    let core = eksa_version?.trim_start_matches('v');
    let core = core.split(['-', '+']).next().unwrap_or_default();
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    (version >= MIN_EKSA_VERSION_WITH_ETCD_URL)
        .then(|| url.map(str::to_string))
        .flatten()
        .filter(|u| !u.is_empty())
}

/// Bottlerocket host settings: kernel and boot from the host OS configuration, kubelet
/// settings from the node group's kubelet configuration or else the host's.
fn bottlerocket_settings(
    host: Option<&HostOsConfiguration>,
    kubelet: Option<BottlerocketKubernetesSettings>,
) -> Option<BottlerocketSettings> {
    match (kubeadm::bottlerocket_settings(host), kubelet) {
        (Some(mut s), Some(k)) => {
            s.kubernetes = Some(k);
            Some(s)
        }
        (s, None) => s,
        (None, Some(k)) => Some(BottlerocketSettings {
            kubernetes: Some(k),
            ..BottlerocketSettings::default()
        }),
    }
}

/// A node group's kubelet configuration as Bottlerocket settings (`kind` and `apiVersion`
/// dropped; any other key Bottlerocket does not know is an error).
fn bottlerocket_kubelet(
    ctx: &Context<'_>,
    field: &str,
    config: Option<&serde_json::Value>,
) -> Result<Option<BottlerocketKubernetesSettings>, RenderError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let mut config = config.clone();
    if let Some(map) = config.as_object_mut() {
        map.remove("kind");
        map.remove("apiVersion");
    }
    serde_json::from_value(config)
        .map(Some)
        .map_err(|e| RenderError::BottlerocketKubelet {
            cluster: ctx.name.to_string(),
            field: field.to_string(),
            message: e.to_string(),
        })
}

/// Kubelet flags and the optional `KubeletConfiguration` patch of a node group (a patch
/// only for cloud-config machines).
fn kubelet(
    ctx: &Context<'_>,
    config: Option<&serde_json::Value>,
    br: bool,
    labels: Option<&BTreeMap<String, String>>,
    cgroup_systemd: bool,
) -> (StringMap, Option<File>) {
    let mut args = StringMap::new();
    args.insert("cloud-provider".into(), "external".into());
    let file = match config.filter(|_| !br) {
        Some(c) => Some(kubeadm::kubelet_configuration_file(
            kubeadm::kubelet_configuration(c, ctx.resolv_conf()),
        )),
        None => {
            args.extend(kubeadm::kubelet_flags(ctx.resolv_conf()));
            if cgroup_systemd {
                args.insert("cgroup-driver".into(), "systemd".into());
            }
            None
        }
    };
    args.extend(kubeadm::node_label_args(labels));
    (args, file)
}

fn node_registration(
    kubelet_args: StringMap,
    taints: Option<Vec<crate::api::Taint>>,
) -> NodeRegistration {
    NodeRegistration {
        name: Some(common::HOSTNAME.to_string()),
        cri_socket: Some(CRI_SOCKET.to_string()),
        ignore_preflight_errors: None,
        taints,
        kubelet_extra_args: Some(kubelet_args),
    }
}

fn host_path(
    host: &str,
    mount: &str,
    name: &str,
    path_type: Option<&str>,
    ro: bool,
) -> HostPathMount {
    HostPathMount {
        host_path: host.into(),
        mount_path: mount.into(),
        name: name.into(),
        path_type: path_type.map(str::to_string),
        read_only: ro,
    }
}

/// Render a vSphere cluster's Cluster API objects: the control-plane and the workers
/// documents.
pub fn render(
    spec: &VSphereSpec,
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
    spec: &VSphereSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    control_plane(&ctx, options)
}

/// The workers document alone (EKS Anywhere's `GenerateCAPISpecWorkers`).
pub fn render_workers(
    spec: &VSphereSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    workers(&ctx, &options.names)
}

fn control_plane(ctx: &Context<'_>, options: &RenderOptions) -> Result<Vec<Object>, RenderError> {
    let cluster = ctx.cluster();
    let name = ctx.name;
    let cp = cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .ok_or_else(|| ctx.missing("spec.controlPlaneConfiguration"))?;
    let (cp_mc_name, cp_mc) =
        ctx.machine_config("the control plane", cp.machine_group_ref.as_ref())?;
    let bundle = ctx.bundle(None)?;
    let distro = &bundle.kube_distro;
    let k8s_tag = distro.kubernetes.tag.clone();
    let minor = minor_version(&k8s_tag);
    let br = is_bottlerocket(cp_mc);
    let external_etcd = cluster.spec.external_etcd_configuration.as_ref();
    let host = cp_mc.spec.host_os_configuration.as_ref();
    let names = &options.names;
    let cp_template_name = names
        .control_plane
        .clone()
        .unwrap_or_else(|| NO_VALUE.to_string());
    let etcd_template_name = names.etcd.clone().unwrap_or_else(|| NO_VALUE.to_string());
    let encryption = cluster
        .spec
        .etcd_encryption
        .as_deref()
        .filter(|e| !e.is_empty());

    let mut objects = Vec::new();

    let cluster_label: StringMap = [(
        "cluster.x-k8s.io/cluster-name".to_string(),
        name.to_string(),
    )]
    .into_iter()
    .collect();
    objects.push(cluster_object(ctx, external_etcd.is_some(), &cluster_label));
    objects.push(vsphere_cluster(ctx));
    objects.push(ctx.machine_template(&cp_template_name, cp_mc, None));

    // KubeadmControlPlane: the cluster configuration.
    let admission = cp.skip_admission_for_system_resources.unwrap_or(false);
    let api_args = api_server_args(ctx, cp, minor, encryption.is_some());
    let api_volumes = api_server_volumes(ctx, br, admission, encryption.is_some());
    let etcd = etcd_config(distro, external_etcd.is_some(), br);
    let br_kubelet = if br {
        bottlerocket_kubelet(
            ctx,
            "spec.controlPlaneConfiguration.kubeletConfiguration",
            cp.kubelet_configuration.as_ref(),
        )?
    } else {
        None
    };
    let br_node = ctx.bottlerocket_node(bundle, cp_mc, br_kubelet);
    let kubeconfig_volume = |file: &str| {
        Some(vec![host_path(
            &format!("/var/lib/kubeadm/{file}"),
            &format!("/etc/kubernetes/{file}"),
            "kubeconfig",
            Some("File"),
            true,
        )])
    };
    let mut cm_args: StringMap = [
        ("cloud-provider".to_string(), "external".to_string()),
        ("profiling".to_string(), "false".to_string()),
    ]
    .into_iter()
    .collect();
    cm_args.extend(secure_args());
    if let Some(mask) = cluster
        .spec
        .cluster_network
        .as_ref()
        .and_then(|n| n.nodes.as_ref())
        .and_then(|n| n.cidr_mask_size)
    {
        cm_args.insert("node-cidr-mask-size".into(), mask.to_string());
    }
    let mut scheduler_args: StringMap = [("profiling".to_string(), "false".to_string())]
        .into_iter()
        .collect();
    scheduler_args.extend(secure_args());
    let cluster_configuration = ClusterConfiguration {
        feature_gates: (29..33).contains(&minor).then(|| {
            [("EtcdLearnerMode".to_string(), false)]
                .into_iter()
                .collect()
        }),
        image_repository: Some(distro.kubernetes.repository.clone()),
        etcd: Some(etcd),
        dns: Some(image_meta(&distro.coredns)),
        bottlerocket_node: br_node.clone(),
        api_server: Some(ControlPlaneComponent {
            cert_sans: cp.cert_sans.clone().filter(|s| !s.is_empty()),
            extra_envs: admission.then(kubeadm::exclusion_env),
            extra_args: Some(api_args),
            extra_volumes: Some(api_volumes),
        }),
        controller_manager: Some(ControlPlaneComponent {
            extra_args: Some(cm_args),
            extra_volumes: if br {
                kubeconfig_volume("controller-manager.conf")
            } else {
                None
            },
            ..ControlPlaneComponent::default()
        }),
        scheduler: Some(ControlPlaneComponent {
            extra_args: Some(scheduler_args),
            extra_volumes: if br {
                kubeconfig_volume("scheduler.conf")
            } else {
                None
            },
            ..ControlPlaneComponent::default()
        }),
        certificates_dir: br.then(|| "/var/lib/kubeadm/pki".to_string()),
    };

    // Node registration, shared by init and join.
    let (kubelet_args, kubelet_file) = kubelet(
        ctx,
        cp.kubelet_configuration.as_ref(),
        br,
        cp.labels.as_ref(),
        false,
    );
    let taints = cp
        .taints
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(kubeadm::taints);
    let patches = kubelet_file.as_ref().map(|_| Patches {
        directory: "/etc/kubernetes/patches".into(),
    });
    let init_configuration = NodeConfiguration {
        patches: patches.clone(),
        bottlerocket_node: BottlerocketNode::default(),
        node_registration: Some(node_registration(kubelet_args.clone(), taints.clone())),
    };
    let join_configuration = NodeConfiguration {
        patches,
        bottlerocket_node: br_node,
        node_registration: Some(node_registration(kubelet_args, taints.clone())),
    };

    // Files.
    let mut files: Vec<File> = kubelet_file.into_iter().collect();
    if let Some(e) = encryption {
        files.push(kubeadm::encryption_file(
            kubeadm::ENCRYPTION_CONFIG_HOST_PATH,
            e,
        ));
    }
    files.push(kubeadm::kube_vip_file(
        ctx.endpoint_host(),
        &bundle.vsphere_kube_vip,
        false,
        br,
    ));
    if admission {
        files.push(kubeadm::exclusion_file());
    }
    files.push(kubeadm::audit_policy_file(
        cp,
        cluster.spec.kubernetes_version.as_ref().map(|v| v.as_str()),
    ));
    if !br {
        files.extend(ctx.containerd_files());
    }
    if ctx.spec.aws_iam.is_some() {
        files.extend(kubeadm::aws_iam_files(name));
    }
    let mut pre_kubeadm = ctx.pre_kubeadm_commands(br);
    if minor >= 29 && !br {
        pre_kubeadm.push("if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi".into());
    }

    objects.push(Object::KubeadmControlPlane(Box::new(
        KubeadmControlPlane::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    cluster_configuration: Some(cluster_configuration),
                    init_configuration: Some(init_configuration),
                    join_configuration: Some(join_configuration),
                    files: Some(files),
                    ntp: kubeadm::ntp(host),
                    pre_kubeadm_commands: Some(pre_kubeadm),
                    post_kubeadm_commands: None,
                    users: Some(vec![user_of(cp_mc_name, cp_mc)?]),
                    format: Some(format_of(br)),
                    ..KubeadmConfigSpec::default()
                },
                machine_template: ControlPlaneMachineTemplate {
                    infrastructure_ref: ObjectReference::new(
                        INFRASTRUCTURE_API_VERSION,
                        MACHINE_TEMPLATE_KIND,
                        cp_template_name.clone(),
                    )
                    .in_namespace(EKSA_SYSTEM_NAMESPACE),
                },
                replicas: cp.count.unwrap_or(1),
                rollout_strategy: Some(kubeadm::control_plane_rollout(
                    cp.upgrade_rollout_strategy.as_ref(),
                )),
                version: k8s_tag.clone(),
            },
        ),
    )));

    objects.push(resource_set(ctx, cluster_label));

    // External etcd.
    if let Some(etcd_cfg) = external_etcd {
        let (etcd_mc_name, etcd_mc) =
            ctx.machine_config("external etcd", etcd_cfg.machine_group_ref.as_ref())?;
        objects.push(etcd_cluster(
            ctx,
            bundle,
            br,
            etcd_cfg.count.unwrap_or(0),
            etcd_mc_name,
            etcd_mc,
            &etcd_template_name,
        )?);
        objects.push(ctx.machine_template(&etcd_template_name, etcd_mc, None));
    }

    // Secrets and the cloud provider's manifests.
    let creds = &options.credentials;
    objects.push(Object::GenericSecret(Box::new(GenericSecret::encoded(
        move_label(meta(
            format!("{name}-vsphere-credentials"),
            EKSA_SYSTEM_NAMESPACE,
        )),
        &[("username", &creds.username), ("password", &creds.password)],
    ))));
    if let (Some(true), Some(c)) = (
        ctx.mirror.as_ref().map(|m| m.authenticate),
        ctx.registry_credentials,
    ) {
        objects.push(Object::Secret(Box::new(
            kubeadm::registry_credentials_secret(c),
        )));
    }
    objects.extend(cloud_provider::objects(
        ctx,
        bundle,
        creds.cloud_provider(),
        taints.as_deref().unwrap_or_default(),
    ));
    Ok(objects)
}

/// The Cluster API `Cluster`: networks and the references to the control plane, the
/// `VSphereCluster` and (with external etcd) the `EtcdadmCluster`.
fn cluster_object(ctx: &Context<'_>, external_etcd: bool, label: &StringMap) -> Object {
    let name = ctx.name;
    let mut cluster_meta = meta(name, EKSA_SYSTEM_NAMESPACE);
    cluster_meta.labels = Some(label.clone());
    let ranges = |services| {
        Some(NetworkRanges {
            cidr_blocks: ctx.cidrs(services),
        })
    };
    let reference = |api_version, kind| Some(ObjectReference::new(api_version, kind, name));
    Object::Cluster(Box::new(Cluster::new(
        cluster_meta,
        ClusterSpec {
            cluster_network: Some(ClusterNetwork {
                pods: ranges(false),
                services: ranges(true),
                service_domain: None,
            }),
            control_plane_endpoint: None,
            control_plane_ref: reference(CONTROL_PLANE_API_VERSION, "KubeadmControlPlane"),
            infrastructure_ref: reference(INFRASTRUCTURE_API_VERSION, "VSphereCluster"),
            managed_external_etcd_ref: external_etcd.then(|| {
                ObjectReference::new(
                    ETCDADM_API_VERSION,
                    "EtcdadmCluster",
                    format!("{name}-etcd"),
                )
                .in_namespace(EKSA_SYSTEM_NAMESPACE)
            }),
            paused: None,
        },
    )))
}

/// The `VSphereCluster`: the vCenter, its credentials secret and the endpoint.
fn vsphere_cluster(ctx: &Context<'_>) -> Object {
    Object::VSphereCluster(Box::new(VSphereCluster::new(
        meta(ctx.name, EKSA_SYSTEM_NAMESPACE),
        VSphereClusterSpec {
            control_plane_endpoint: ApiEndpoint {
                host: ctx.endpoint_host().to_string(),
                port: 6443,
            },
            identity_ref: IdentityRef {
                kind: "Secret".into(),
                name: format!("{}-vsphere-credentials", ctx.name),
            },
            server: ctx.server(),
            thumbprint: ctx.thumbprint(),
        },
    )))
}

/// `tls-cipher-suites` restricted to the secure suites.
fn secure_args() -> StringMap {
    [(
        "tls-cipher-suites".to_string(),
        kubeadm::SECURE_CIPHER_SUITES.to_string(),
    )]
    .into_iter()
    .collect()
}

/// The API server's flags: the external cloud provider (before 1.33), audit, no
/// profiling, KMS v1 for etcd encryption from 1.29, then OIDC, AWS IAM, the user's,
/// encryption, the secure cipher suites and pod IAM (later ones win).
fn api_server_args(
    ctx: &Context<'_>,
    cp: &ironbell_model::anywhere::ControlPlaneConfiguration,
    minor: u32,
    encryption: bool,
) -> StringMap {
    let mut args = StringMap::new();
    if minor < 33 {
        args.insert("cloud-provider".into(), "external".into());
    }
    args.extend(kubeadm::audit_args());
    args.insert("profiling".into(), "false".into());
    if encryption && minor >= 29 {
        args.insert("feature-gates".into(), "KMSv1=true".into());
    }
    let mut extra = kubeadm::api_server_extra_args(
        ctx.spec.oidc.as_ref(),
        ctx.spec.aws_iam.as_ref(),
        cp.api_server_extra_args.as_ref(),
        ctx.cluster().spec.pod_iam_config.as_ref(),
    );
    if encryption {
        extra.extend(kubeadm::encryption_args());
    }
    extra.extend(secure_args());
    args.extend(extra);
    args
}

/// The API server's host volumes: audit, the admission exclusion rules, the AWS IAM
/// authenticator and the encryption configuration with the KMS plugin's socket directory.
fn api_server_volumes(
    ctx: &Context<'_>,
    br: bool,
    admission: bool,
    encryption: bool,
) -> Vec<HostPathMount> {
    let mut volumes = kubeadm::audit_volumes(br);
    if admission {
        let host = if br {
            "/var/lib/kubeadm/admission-plugin-exclusion-rules.json"
        } else {
            kubeadm::EXCLUSION_RULES_PATH
        };
        volumes.push(host_path(
            host,
            kubeadm::EXCLUSION_RULES_PATH,
            "admission-exclusion-rules",
            Some("File"),
            true,
        ));
    }
    if ctx.spec.aws_iam.is_some() {
        volumes.extend(kubeadm::aws_iam_volumes());
    }
    if encryption {
        volumes.extend(kubeadm::encryption_volumes(
            kubeadm::ENCRYPTION_CONFIG_HOST_PATH,
            true,
        ));
    }
    volumes
}

/// kubeadm's etcd: the external cluster's placeholder endpoint and client certificates
/// (under `/var/lib/kubeadm` on Bottlerocket), or stacked etcd with the secure suites.
fn etcd_config(distro: &crate::versions::KubeDistro, external: bool, br: bool) -> Etcd {
    if !external {
        return Etcd {
            local: Some(LocalEtcd {
                image_repository: distro.etcd.repository.clone(),
                image_tag: distro.etcd.tag.clone(),
                extra_args: Some(
                    [(
                        "cipher-suites".to_string(),
                        kubeadm::SECURE_CIPHER_SUITES.to_string(),
                    )]
                    .into_iter()
                    .collect(),
                ),
            }),
            external: None,
        };
    }
    let (pki, cert) = if br {
        ("/var/lib/kubeadm/pki", "server-etcd-client.crt")
    } else {
        ("/etc/kubernetes/pki", "apiserver-etcd-client.crt")
    };
    Etcd {
        local: None,
        external: Some(ExternalEtcd {
            endpoints: vec!["https://placeholder:2379".into()],
            ca_file: format!("{pki}/etcd/ca.crt"),
            cert_file: format!("{pki}/{cert}"),
            key_file: format!("{pki}/apiserver-etcd-client.key"),
        }),
    }
}

/// The `ClusterResourceSet` that installs the cloud provider in the new cluster.
fn resource_set(ctx: &Context<'_>, label: StringMap) -> Object {
    let name = ctx.name;
    let mut crs_meta = meta(format!("{name}-cpi"), EKSA_SYSTEM_NAMESPACE);
    crs_meta.labels = Some(label.clone());
    let resource = |kind: &str, suffix: &str| ResourceRef {
        kind: kind.into(),
        name: format!("{name}-{suffix}"),
    };
    Object::ClusterResourceSet(Box::new(ClusterResourceSet::new(
        crs_meta,
        ClusterResourceSetSpec {
            strategy: "Reconcile".into(),
            cluster_selector: LabelSelector {
                match_labels: Some(label),
            },
            resources: vec![
                resource("Secret", "cloud-controller-manager"),
                resource("Secret", "cloud-provider-vsphere-credentials"),
                resource("ConfigMap", "cpi-manifests"),
            ],
        },
    )))
}

fn move_label(mut m: ObjectMeta) -> ObjectMeta {
    m.labels = Some(
        [(
            "clusterctl.cluster.x-k8s.io/move".to_string(),
            "true".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    m
}

fn etcd_cluster(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    br: bool,
    replicas: i64,
    mc_name: &str,
    mc: &VSphereMachineConfig,
    template_name: &str,
) -> Result<Object, RenderError> {
    let distro = &bundle.kube_distro;
    let host = mc.spec.host_os_configuration.as_ref();
    let br_host = host.and_then(|h| h.bottlerocket_configuration.as_ref());
    let config = EtcdadmConfigSpec {
        etcdadm_builtin: true,
        format: format_of(br),
        bottlerocket_config: br.then(|| EtcdBottlerocketConfig {
            etcd_image: distro.etcd_image.uri(),
            bootstrap_image: bundle.bottlerocket_bootstrap.uri(),
            pause_image: distro.pause.uri(),
            boot: br_host
                .and_then(|b| b.boot.as_ref())
                .and_then(|b| b.boot_kernel_parameters.clone())
                .map(|p| crate::api::kubeadm::BottlerocketBoot {
                    boot_kernel_parameters: Some(p),
                }),
            kernel: br_host
                .and_then(|b| b.kernel.as_ref())
                .and_then(|k| k.sysctl_settings.clone())
                .map(|s| crate::api::kubeadm::BottlerocketKernel {
                    sysctl_settings: Some(s),
                }),
        }),
        cloud_init_config: (!br).then(|| EtcdCloudInitConfig {
            version: distro.etcd_version.clone(),
            install_dir: "/usr/bin".into(),
            etcd_release_url: etcd_release_url(
                ctx.cluster().spec.eksa_version.as_deref(),
                distro.etcd_url.as_deref(),
            ),
        }),
        pre_etcdadm_commands: (!br).then(common::hostname_commands),
        cipher_suites: Some(kubeadm::SECURE_CIPHER_SUITES.into()),
        users: Some(vec![user_of(mc_name, mc)?]),
        proxy: ctx.proxy().map(|(http, https)| BottlerocketProxy {
            http_proxy: Some(http.to_string()),
            https_proxy: https.to_string(),
            no_proxy: ctx.no_proxy.clone(),
        }),
        registry_mirror: ctx.mirror.as_ref().map(RegistryMirror::bottlerocket),
        ntp: kubeadm::ntp(host),
        cert_bundles: kubeadm::cert_bundles(host),
        ..EtcdadmConfigSpec::default()
    };
    Ok(Object::EtcdadmCluster(Box::new(EtcdadmCluster::for_eksa(
        ctx.name,
        replicas,
        config,
        ObjectReference::new(
            INFRASTRUCTURE_API_VERSION,
            MACHINE_TEMPLATE_KIND,
            template_name,
        ),
    ))))
}

fn workers(ctx: &Context<'_>, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
    let cluster = ctx.cluster();
    let name = ctx.name;
    let mut objects = Vec::new();
    for (group, wng) in worker_groups(cluster) {
        let (mc_name, mc) = ctx.machine_config(
            &format!("worker node group {group}"),
            wng.machine_group_ref.as_ref(),
        )?;
        let bundle = ctx.bundle(wng.kubernetes_version.as_ref().map(|v| v.as_str()))?;
        let wn = names
            .workers
            .get(&group)
            .ok_or_else(|| RenderError::MissingWorkerNames {
                cluster: name.to_string(),
                group: group.clone(),
            })?;
        let br = is_bottlerocket(mc);
        let host = mc.spec.host_os_configuration.as_ref();
        let networks = mc.spec.networks.as_deref();

        // KubeadmConfigTemplate.
        let cgroup_systemd = minor_version(&bundle.kube_distro.kubernetes.tag) == 21;
        let (kubelet_args, kubelet_file) = kubelet(
            ctx,
            wng.kubelet_configuration.as_ref(),
            br,
            wng.labels.as_ref(),
            cgroup_systemd,
        );
        let br_kubelet = if br {
            bottlerocket_kubelet(
                ctx,
                &format!("worker node group {group}: kubeletConfiguration"),
                wng.kubelet_configuration.as_ref(),
            )?
        } else {
            None
        };
        let mut br_node = ctx.bottlerocket_node(bundle, mc, br_kubelet);
        if br && networks.is_some_and(|n| n.len() > 1) {
            let image = &bundle.bottlerocket_multi_network;
            br_node.bottlerocket_custom_bootstrap_containers =
                Some(vec![BottlerocketBootstrapContainer {
                    name: "second-network-interface-bootstrap-container".into(),
                    mode: "once".into(),
                    image_repository: image.repository.clone(),
                    image_tag: image.tag.clone(),
                }]);
        }
        let join = NodeConfiguration {
            patches: kubelet_file.as_ref().map(|_| Patches {
                directory: "/etc/kubernetes/patches".into(),
            }),
            bottlerocket_node: br_node,
            node_registration: Some(node_registration(
                kubelet_args,
                Some(kubeadm::taints(wng.taints.as_deref().unwrap_or_default())),
            )),
        };
        let mut files: Vec<File> = kubelet_file.into_iter().collect();
        if !br {
            files.extend(ctx.containerd_files());
        }
        let config = KubeadmConfigSpec {
            join_configuration: Some(join),
            files: (!files.is_empty()).then_some(files),
            ntp: kubeadm::ntp(host),
            pre_kubeadm_commands: Some(ctx.pre_kubeadm_commands(br)),
            users: Some(vec![user_of(mc_name, mc)?]),
            format: Some(format_of(br)),
            ..KubeadmConfigSpec::default()
        };
        objects.push(Object::KubeadmConfigTemplate(Box::new(
            KubeadmConfigTemplate::new(name_meta(&wn.kubeadm_config_template), config),
        )));

        // MachineDeployment.
        let failure_domain = wng
            .failure_domains
            .as_deref()
            .and_then(|d| d.first())
            .map(|fd| failure_domain_name(ctx.spec, fd));
        let mut md = MachineDeployment::for_worker_group(WorkerGroupDeployment {
            cluster: name,
            group: &group,
            config: wng,
            labels: [(
                "cluster.x-k8s.io/cluster-name".to_string(),
                name.to_string(),
            )]
            .into_iter()
            .collect(),
            bootstrap_template: &wn.kubeadm_config_template,
            infrastructure_ref: ObjectReference::new(
                INFRASTRUCTURE_API_VERSION,
                MACHINE_TEMPLATE_KIND,
                wn.machine_template.clone(),
            ),
            version: bundle.kube_distro.kubernetes.tag.clone(),
            strategy: kubeadm::machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref()),
        });
        md.spec.template.spec.failure_domain = failure_domain;
        objects.push(Object::MachineDeployment(Box::new(md)));

        // VSphereMachineTemplate.
        let mut template = ctx.machine_template(&wn.machine_template, mc, networks);
        if let Object::VSphereMachineTemplate(t) = &mut template {
            t.metadata = name_meta(&wn.machine_template);
        }
        objects.push(template);
    }
    Ok(objects)
}

/// Metadata with a name in `eksa-system`; an empty name (what EKS Anywhere's template
/// builder is given for a group without names) is left out.
fn name_meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        namespace: Some(EKSA_SYSTEM_NAMESPACE.to_string()),
        ..ObjectMeta::default()
    }
}

/// The name of a failure domain's objects: `<cluster>-<datacenter config>-<domain>`.
pub fn failure_domain_name(spec: &VSphereSpec, domain: &str) -> String {
    format!(
        "{}-{}-{domain}",
        cluster_name(&spec.cluster),
        spec.datacenter.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The `VSphereFailureDomain` and `VSphereDeploymentZone` of each failure domain of the
/// datacenter that `names` names (failure domain → object name), in the datacenter's order.
pub fn failure_domains(spec: &VSphereSpec, names: &BTreeMap<String, String>) -> Vec<Object> {
    let dc = &spec.datacenter.spec;
    let some = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
    let mut objects = Vec::new();
    for fd in dc.failure_domains.iter().flatten() {
        let Some(object_name) = fd.name.as_ref().and_then(|n| names.get(n)) else {
            continue;
        };
        let level = |name: Option<String>, type_: &str, category: &str| FailureDomainLevel {
            name,
            type_: type_.into(),
            tag_category: category.into(),
            auto_configure: true,
        };
        objects.push(Object::VSphereFailureDomain(Box::new(
            VSphereFailureDomain {
                api_version: INFRASTRUCTURE_API_VERSION.into(),
                kind: "VSphereFailureDomain".into(),
                metadata: ObjectMeta {
                    name: Some(object_name.clone()),
                    ..ObjectMeta::default()
                },
                spec: VSphereFailureDomainSpec {
                    region: level(some(&dc.datacenter), "Datacenter", "k8s-region"),
                    zone: level(some(&fd.compute_cluster), "ComputeCluster", "k8s-zone"),
                    topology: Topology {
                        datacenter: some(&dc.datacenter),
                        compute_cluster: some(&fd.compute_cluster),
                        datastore: some(&fd.datastore),
                        networks: vec![some(&fd.network)],
                    },
                },
            },
        )));
        objects.push(Object::VSphereDeploymentZone(Box::new(
            VSphereDeploymentZone {
                api_version: INFRASTRUCTURE_API_VERSION.into(),
                kind: "VSphereDeploymentZone".into(),
                metadata: ObjectMeta {
                    name: Some(object_name.clone()),
                    labels: Some(
                        [
                            (
                                "infrastructure.cluster.x-k8s.io/cluster-name".to_string(),
                                cluster_name(&spec.cluster).to_string(),
                            ),
                            (
                                "infrastructure.cluster.x-k8s.io/vsphere-datacenter-config-name"
                                    .to_string(),
                                spec.datacenter.metadata.name.clone().unwrap_or_default(),
                            ),
                        ]
                        .into_iter()
                        .collect(),
                    ),
                    ..ObjectMeta::default()
                },
                spec: VSphereDeploymentZoneSpec {
                    server: some(&dc.server),
                    failure_domain: object_name.clone(),
                    placement_constraint: PlacementConstraint {
                        resource_pool: some(&fd.resource_pool),
                        folder: some(&fd.folder),
                    },
                },
            },
        )));
    }
    objects
}
