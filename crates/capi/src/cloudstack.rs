//! The CloudStack provider's Cluster API objects (CAPC v1beta3).
//!
//! [`render`] turns a [`CloudStackSpec`] into the control-plane document (`Cluster`,
//! `CloudStackCluster`, `KubeadmControlPlane`, with external etcd the `EtcdadmCluster`, then
//! the control-plane and etcd `CloudStackMachineTemplate`s) and the workers document (per
//! worker node group: `KubeadmConfigTemplate`, `MachineDeployment`,
//! `CloudStackMachineTemplate`), as EKS Anywhere's CloudStack provider does
//! (`pkg/providers/cloudstack/template.go` at v0.24.6). [`credentials`] turns the CloudStack
//! cloud-config (`EKSA_CLOUDSTACK_B64ENCODED_SECRET`) into the credential secrets every
//! availability zone's `acsEndpoint` names.
//!
//! Template names come from a [`TemplateNames`] (the Tinkerbell renderer's type): from the
//! clock for a create ([`names_from_clock`]) or, on an upgrade, kept from the current objects
//! unless a machine template must be replaced ([`upgrade_names`]).
//!
//! Nodes are cloud-init machines: CloudStack has no Bottlerocket here. A machine config's
//! disk offering becomes a partition, a file system and a mount (an `sfdisk` command on etcd
//! machines, whose bootstrap has no disk setup), and its symlinks move directories onto it.

pub mod credentials;

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    CloudStackDatacenterConfig, CloudStackMachineConfig, Cluster as EksaCluster, IntOrString,
    WorkerNodeGroupConfiguration,
};

use crate::api::cloudstack::{
    CloudStackCluster, CloudStackClusterSpec, CloudStackMachineSpec, CloudStackMachineTemplate,
    DiskOffering, FailureDomain, FailureDomainNetwork, FailureDomainZone, GoObjectMeta,
    ResourceIdentifier, SecretRef,
};
use crate::api::cluster::{
    ApiEndpoint, Cluster, ClusterParts, MachineDeployment, MachineDeploymentStrategy,
    RollingUpdate, WorkerGroupDeployment,
};
use crate::api::etcdadm::{EtcdCloudInitConfig, EtcdadmCluster, EtcdadmConfigSpec};
use crate::api::kubeadm::{
    BottlerocketProxy, ClusterConfiguration, ControlPlaneComponent, ControlPlaneMachineTemplate,
    DiskSetup, Etcd, File, Filesystem, KubeadmConfigSpec, KubeadmConfigTemplate,
    KubeadmControlPlane, KubeadmControlPlaneSpec, LocalEtcd, NodeConfiguration, NodeRegistration,
    Partition, Patches, User,
};
use crate::api::{EKSA_SYSTEM_NAMESPACE, ETCDADM_API_VERSION, ObjectReference, StringMap, meta};
use crate::common::{self, cluster_name, minor_version, worker_groups};
use crate::kubeadm::{self, RegistryMirror};
use crate::provider_spec::ProviderSpec;
use crate::tinkerbell::{TemplateNames, WorkerTemplateNames};
use crate::versions::{VersionsBundle, VersionsBundleSet};
use crate::{Manifests, NO_VALUE, Object};

pub use crate::api::cloudstack::CLOUDSTACK_API_VERSION;

/// Kind name of CAPC's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "CloudStackMachineTemplate";

/// Suffix of the annotations that carry a machine template's disk offering and symlinks.
pub const ANNOTATION_SUFFIX: &str = "cloudstack.anywhere.eks.amazonaws.com/v1alpha1";

/// The container runtime socket of every node.
const CRI_SOCKET: &str = "/var/run/containerd/containerd.sock";

/// A CloudStack cluster spec: the EKS Anywhere objects the renderer reads.
pub type CloudStackSpec = ProviderSpec<CloudStackDatacenterConfig, CloudStackMachineConfig>;

crate::provider_spec::provider_kinds!(CloudStackDatacenterConfig, CloudStackMachineConfig);

impl CloudStackSpec {
    /// The CloudStack view of a loaded spec.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        Self::view(spec).ok_or_else(|| RenderError::NotCloudStack {
            cluster: spec.name().to_string(),
        })
    }
}

/// What went wrong rendering a CloudStack spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec's datacenter config is not a `CloudStackDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a CloudStackDatacenterConfig")]
    NotCloudStack {
        /// Cluster name.
        cluster: String,
    },
    /// Something the spec, the release data or the caller does not give.
    #[error("cluster {cluster}: {what}")]
    Missing {
        /// Cluster name.
        cluster: String,
        /// What is missing.
        what: Missing,
    },
    /// A machine config has no user with an SSH key.
    #[error("CloudStackMachineConfig {name}: spec.users[0] needs an SSH authorized key")]
    MissingUser {
        /// Machine config name.
        name: String,
    },
    /// The control-plane endpoint is not `host[:port]`.
    #[error(
        "cluster {cluster}: spec.controlPlaneConfiguration.endpoint.host {host:?} is not a host with an optional port"
    )]
    InvalidEndpoint {
        /// Cluster name.
        cluster: String,
        /// The endpoint as written.
        host: String,
    },
}

/// What a [`RenderError::Missing`] lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    /// A reference names a machine config the spec does not have.
    #[error("{role} references CloudStackMachineConfig {name:?}, which the spec does not have")]
    MachineConfig {
        /// Which part of the cluster refers to it.
        role: String,
        /// The missing name.
        name: String,
    },
    /// No versions bundle for a Kubernetes version.
    #[error("no versions bundle for Kubernetes {0}")]
    Bundle(String),
    /// A required field of the spec, by its path.
    #[error("{0} is required")]
    Field(String),
    /// No template names for a worker node group.
    #[error("no template names given for worker node group {0}")]
    WorkerNames(String),
}

fn missing(cluster: &str, what: Missing) -> RenderError {
    RenderError::Missing {
        cluster: cluster.to_string(),
        what,
    }
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Template names; a missing control-plane or etcd name prints as [`NO_VALUE`].
    pub names: TemplateNames,
}

/// The names of a create, suffixed with a clock in Unix milliseconds:
/// `<cluster>-control-plane-template-<ms>`, `<cluster>-etcd-template-<ms>`,
/// `<cluster>-<group>-<ms>` and `<cluster>-<group>-template-<ms>`.
pub fn names_from_clock(cluster: &EksaCluster, unix_ms: i64) -> TemplateNames {
    let name = cluster_name(cluster);
    TemplateNames {
        control_plane: Some(format!("{name}-control-plane-template-{unix_ms}")),
        etcd: Some(format!("{name}-etcd-template-{unix_ms}")),
        workers: worker_groups(cluster)
            .map(|(group, _)| {
                let names = fresh_worker_names(name, &group, unix_ms);
                (group, names)
            })
            .collect(),
    }
}

fn fresh_worker_names(cluster: &str, group: &str, unix_ms: i64) -> WorkerTemplateNames {
    WorkerTemplateNames {
        machine_template: format!("{cluster}-{group}-{unix_ms}"),
        kubeadm_config_template: format!("{cluster}-{group}-template-{unix_ms}"),
    }
}

/// The current state of an upgraded cluster, as EKS Anywhere reads it back: its spec (the
/// `Cluster` and the datacenter config of the cluster), the machine configs the cluster runs,
/// its bundles number and the template names of its objects.
#[derive(Clone, Debug)]
pub struct CurrentCluster<'a> {
    /// The spec the cluster runs.
    pub spec: &'a CloudStackSpec,
    /// `Bundles.spec.number` of its release.
    pub bundles_number: i64,
    /// Template names of its `KubeadmControlPlane`, `EtcdadmCluster` and `MachineDeployment`s.
    pub names: TemplateNames,
}

/// Whether a machine template must be replaced because the placement or the machine
/// changed: availability zones (by name, zone, credentials, account and domain), VM template,
/// compute or disk offering, user custom details or symlinks.
pub fn machine_changed(
    old_dc: &CloudStackDatacenterConfig,
    new_dc: &CloudStackDatacenterConfig,
    old_mc: Option<&CloudStackMachineConfig>,
    new_mc: Option<&CloudStackMachineConfig>,
) -> bool {
    // Zones by name; the management endpoint is not compared (as EKS Anywhere does not).
    let zones = |dc: &CloudStackDatacenterConfig| {
        let azs = dc.spec.availability_zones.iter().flatten();
        azs.map(|az| {
            let fields = (
                az.zone.clone(),
                az.credentials_ref.clone(),
                az.account.clone(),
                az.domain.clone(),
            );
            (az.name.clone(), fields)
        })
        .collect::<BTreeMap<_, _>>()
    };
    let count =
        |dc: &CloudStackDatacenterConfig| dc.spec.availability_zones.as_ref().map_or(0, Vec::len);
    if count(old_dc) != count(new_dc) || zones(old_dc) != zones(new_dc) {
        return true;
    }
    let (Some(old), Some(new)) = (old_mc, new_mc) else {
        return old_mc.is_some() != new_mc.is_some();
    };
    let (o, n) = (&old.spec, &new.spec);
    let map = |m: &Option<BTreeMap<String, String>>| m.clone().unwrap_or_default();
    o.template != n.template
        || o.compute_offering != n.compute_offering
        || o.disk_offering != n.disk_offering
        || map(&o.user_custom_details) != map(&n.user_custom_details)
        || map(&o.symlinks) != map(&n.symlinks)
}

/// The template names of an upgrade from `current` to `new`: a machine template keeps its
/// current name unless the Kubernetes version (control plane and etcd; a worker group's own
/// version for workers), the bundles, a worker group's taints or labels, or the machine
/// ([`machine_changed`]) changed; a `KubeadmConfigTemplate` keeps its name unless the group's
/// taints or labels changed. New groups get new names; new names come from the clock.
pub fn upgrade_names(
    current: &CurrentCluster<'_>,
    new: &CloudStackSpec,
    new_bundles_number: i64,
    unix_ms: i64,
) -> TemplateNames {
    let name = cluster_name(&new.cluster);
    let fresh = names_from_clock(&new.cluster, unix_ms);
    let old = current.spec;
    let bundles_changed = current.bundles_number != new_bundles_number;
    let version_changed =
        old.cluster.spec.kubernetes_version != new.cluster.spec.kubernetes_version;
    let machine = |old_ref: Option<&str>, new_ref: Option<&str>| {
        machine_changed(
            &old.datacenter,
            &new.datacenter,
            old_ref.and_then(|r| old.machine_configs.get(r)),
            new_ref.and_then(|r| new.machine_configs.get(r)),
        )
    };
    let keep_or = |changed: bool, kept: &Option<String>, fresh: &Option<String>| {
        if changed || kept.is_none() {
            fresh.clone()
        } else {
            kept.clone()
        }
    };
    let cp_ref = |c: &EksaCluster| {
        let cp = c.spec.control_plane_configuration.as_ref();
        cp.and_then(|cp| cp.machine_group_ref.as_ref())
            .map(|r| r.name().to_string())
    };
    let etcd_ref = |c: &EksaCluster| {
        let etcd = c.spec.external_etcd_configuration.as_ref();
        etcd.and_then(|e| e.machine_group_ref.as_ref())
            .map(|r| r.name().to_string())
    };
    let control_plane = keep_or(
        version_changed
            || bundles_changed
            || machine(
                cp_ref(&old.cluster).as_deref(),
                cp_ref(&new.cluster).as_deref(),
            ),
        &current.names.control_plane,
        &fresh.control_plane,
    );
    let etcd = keep_or(
        version_changed
            || bundles_changed
            || machine(
                etcd_ref(&old.cluster).as_deref(),
                etcd_ref(&new.cluster).as_deref(),
            ),
        &current.names.etcd,
        &fresh.etcd,
    );
    let old_groups: BTreeMap<String, &WorkerNodeGroupConfiguration> =
        worker_groups(&old.cluster).collect();
    let version_of = |c: &EksaCluster, w: &WorkerNodeGroupConfiguration| {
        w.kubernetes_version
            .clone()
            .or(c.spec.kubernetes_version.clone())
    };
    let mut workers = BTreeMap::new();
    for (group, wng) in worker_groups(&new.cluster) {
        let new_names = fresh_worker_names(name, &group, unix_ms);
        let names = match (old_groups.get(&group), current.names.workers.get(&group)) {
            (Some(was), Some(cur)) => {
                let config_changed = was.taints.clone().unwrap_or_default()
                    != wng.taints.clone().unwrap_or_default()
                    || was.labels.clone().unwrap_or_default()
                        != wng.labels.clone().unwrap_or_default();
                let replace = bundles_changed
                    || config_changed
                    || version_of(&old.cluster, was) != version_of(&new.cluster, wng)
                    || machine(
                        was.machine_group_ref.as_ref().map(|r| r.name()),
                        wng.machine_group_ref.as_ref().map(|r| r.name()),
                    );
                cur.replaced(new_names, replace, config_changed)
            }
            _ => new_names,
        };
        workers.insert(group, names);
    }
    TemplateNames {
        control_plane,
        etcd,
        workers,
    }
}

/// Render a CloudStack cluster's Cluster API objects: the control-plane and the workers
/// documents.
pub fn render(
    spec: &CloudStackSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Manifests, RenderError> {
    let ctx = Context::new(spec, bundles)?;
    Ok(Manifests {
        control_plane: ctx.control_plane(&options.names)?,
        workers: ctx.workers(&options.names)?,
    })
}

/// The control-plane document alone (EKS Anywhere's `GenerateCAPISpecControlPlane`).
pub fn render_control_plane(
    spec: &CloudStackSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    Context::new(spec, bundles)?.control_plane(&options.names)
}

/// The control-plane endpoint's host and port (`host[:port]`, port 6443 by default).
fn endpoint(cluster: &EksaCluster) -> Result<(String, u16), RenderError> {
    let name = cluster_name(cluster);
    let written = cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .and_then(|cp| cp.endpoint.as_ref())
        .map(|e| e.host.as_str())
        .ok_or_else(|| {
            let field = "spec.controlPlaneConfiguration.endpoint.host";
            missing(name, Missing::Field(field.into()))
        })?;
    let invalid = || RenderError::InvalidEndpoint {
        cluster: name.to_string(),
        host: written.to_string(),
    };
    let (host, port) = if let Some(bracketed) = written.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']').ok_or_else(invalid)?;
        match rest.strip_prefix(':') {
            Some(p) => (host, p.parse::<u16>().map_err(|_| invalid())?),
            None if rest.is_empty() => (host, 6443),
            None => return Err(invalid()),
        }
    } else if written.matches(':').count() > 1 {
        // A bare IPv6 address; anything else with several colons is malformed.
        written
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| invalid())?;
        (written, 6443)
    } else {
        match written.split_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| invalid())?),
            None => (written, 6443),
        }
    };
    if port == 0 || host.is_empty() {
        return Err(invalid());
    }
    Ok((host.to_string(), port))
}

/// `host:port`, bracketed for IPv6 (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The host of a management API URL (`http://10.0.0.1:8080/client/api` → `10.0.0.1`).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, _)| h)?,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

fn args(pairs: &[(&str, &str)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Where a symlink command's `else` branch goes: EKS Anywhere's three templates write it
/// three ways.
#[derive(Clone, Copy)]
enum SymlinkStyle {
    ControlPlane,
    Worker,
    Etcd,
}

/// One command per symlink (sorted by directory): move the directory aside and link it to
/// its target on the data disk, unless it already is a link.
fn symlink_commands(mc: &CloudStackMachineConfig, style: SymlinkStyle) -> Vec<String> {
    mc.spec
        .symlinks
        .iter()
        .flatten()
        .map(|(dir, target)| {
            let already = match style {
                SymlinkStyle::ControlPlane => format!("  else echo \"{dir} already symlnk\";"),
                SymlinkStyle::Worker => format!("  else echo \"{dir} already symlnk\" ;"),
                SymlinkStyle::Etcd => format!("  else\n    echo \"{dir} already symlnk\" ;"),
            };
            format!(
                "if [ ! -L {dir} ] ;\n  then\n    mv {dir} {dir}-$(tr -dc A-Za-z0-9 < /dev/urandom | head -c 10) ;\n    mkdir -p {target} && ln -s {target} {dir} ;\n{already}\nfi"
            )
        })
        .collect()
}

/// A machine config's disk offering when it names an offering (by ID or name).
fn provided_disk(
    mc: &CloudStackMachineConfig,
) -> Option<&ironbell_model::anywhere::CloudStackResourceDiskOffering> {
    let d = mc.spec.disk_offering.as_ref()?;
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    (set(&d.id) || set(&d.name)).then_some(d)
}

fn s(o: &Option<String>) -> String {
    o.clone().unwrap_or_default()
}

/// cloud-init's partition, file system and mount of a machine config's data disk.
fn disk_setup(mc: &CloudStackMachineConfig) -> (Option<DiskSetup>, Option<Vec<Vec<String>>>) {
    let Some(d) = provided_disk(mc) else {
        return (None, None);
    };
    let device = s(&d.device);
    let setup = DiskSetup {
        filesystems: vec![Filesystem {
            device: format!("{device}1"),
            overwrite: false,
            extra_opts: vec!["-E".into(), "lazy_itable_init=1,lazy_journal_init=1".into()],
            filesystem: s(&d.filesystem),
            label: s(&d.label),
        }],
        partitions: vec![Partition {
            device,
            layout: true,
            overwrite: false,
            table_type: "gpt".into(),
        }],
    };
    let mounts = vec![vec![format!("LABEL={}", s(&d.label)), s(&d.mount_path)]];
    (Some(setup), Some(mounts))
}

/// The login user of a machine config: its first user with its first key (the key's
/// comment dropped) and passwordless sudo.
fn login_user(mc_name: &str, mc: &CloudStackMachineConfig) -> Result<User, RenderError> {
    let missing = || RenderError::MissingUser {
        name: mc_name.to_string(),
    };
    let user = mc
        .spec
        .users
        .as_deref()
        .and_then(<[_]>::first)
        .ok_or_else(missing)?;
    let key = user
        .ssh_authorized_keys
        .first()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(missing)?;
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    Ok(User {
        name: user.name.clone(),
        lock_password: None,
        ssh_authorized_keys: vec![key.join(" ")],
        sudo: Some("ALL=(ALL) NOPASSWD:ALL".into()),
    })
}

/// The `CloudStackMachineTemplate` of a machine config.
pub fn machine_template(name: &str, mc: &CloudStackMachineConfig) -> CloudStackMachineTemplate {
    let spec = &mc.spec;
    let mut annotations = StringMap::new();
    if let Some(d) = &spec.disk_offering {
        for (key, value) in [
            ("mountpath", &d.mount_path),
            ("device", &d.device),
            ("filesystem", &d.filesystem),
            ("label", &d.label),
        ] {
            annotations.insert(format!("{key}.diskoffering.{ANNOTATION_SUFFIX}"), s(value));
        }
    }
    if let Some(links) = &spec.symlinks {
        let list: Vec<String> = links.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        annotations.insert(format!("symlinks.{ANNOTATION_SUFFIX}"), list.join(","));
    }
    let id = |r: &Option<ironbell_model::anywhere::CloudStackResourceIdentifier>| {
        let r = r.clone().unwrap_or_default();
        let set = |v: Option<String>| v.filter(|v| !v.is_empty());
        ResourceIdentifier {
            id: set(r.id),
            name: set(r.name),
        }
    };
    let disk = spec.disk_offering.clone().unwrap_or_default();
    let machine = CloudStackMachineSpec {
        affinity: spec.affinity.clone().filter(|a| !a.is_empty()),
        affinity_group_ids: spec.affinity_group_ids.clone().filter(|g| !g.is_empty()),
        details: spec.user_custom_details.clone().filter(|d| !d.is_empty()),
        disk_offering: DiskOffering {
            offering: ResourceIdentifier {
                id: disk.id.filter(|v| !v.is_empty()),
                name: disk.name.filter(|v| !v.is_empty()),
            },
            custom_size_in_gb: disk.custom_size_in_gb.unwrap_or(0),
            mount_path: s(&disk.mount_path),
            device: s(&disk.device),
            filesystem: s(&disk.filesystem),
            label: s(&disk.label),
        },
        offering: id(&spec.compute_offering),
        ssh_key: String::new(),
        template: id(&spec.template),
    };
    CloudStackMachineTemplate::new(
        GoObjectMeta {
            annotations: (!annotations.is_empty()).then_some(annotations),
            creation_timestamp: None,
            name: name.to_string(),
            namespace: EKSA_SYSTEM_NAMESPACE.to_string(),
        },
        machine,
    )
}

/// Everything the control-plane and worker builders share.
struct Context<'a> {
    spec: &'a CloudStackSpec,
    name: &'a str,
    host: String,
    port: u16,
    mirror: Option<RegistryMirror>,
    no_proxy: Vec<String>,
    bundles: &'a VersionsBundleSet,
}

impl<'a> Context<'a> {
    fn new(spec: &'a CloudStackSpec, bundles: &'a VersionsBundleSet) -> Result<Self, RenderError> {
        let (host, port) = endpoint(&spec.cluster)?;
        let mirror = spec
            .cluster
            .spec
            .registry_mirror_configuration
            .as_ref()
            .map(RegistryMirror::from_config);
        let mut ctx = Self {
            spec,
            name: cluster_name(&spec.cluster),
            host,
            port,
            mirror,
            no_proxy: Vec::new(),
            bundles,
        };
        ctx.no_proxy = ctx.no_proxy_list();
        Ok(ctx)
    }

    fn cluster(&self) -> &'a EksaCluster {
        &self.spec.cluster
    }

    fn missing(&self, field: &str) -> RenderError {
        missing(self.name, Missing::Field(field.to_string()))
    }

    fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, RenderError> {
        let cluster_version = self.cluster().spec.kubernetes_version.as_ref();
        let version = version
            .or(cluster_version.map(|v| v.as_str()))
            .ok_or_else(|| self.missing("spec.kubernetesVersion"))?;
        self.bundles
            .get(version)
            .ok_or_else(|| missing(self.name, Missing::Bundle(version.to_string())))
    }

    fn machine_config(
        &self,
        role: &str,
        reference: Option<&ironbell_model::anywhere::Ref>,
    ) -> Result<(&'a str, &'a CloudStackMachineConfig), RenderError> {
        let name = reference.map(|r| r.name()).unwrap_or_default();
        let (name, mc) = self
            .spec
            .machine_configs
            .get_key_value(name)
            .ok_or_else(|| {
                let what = Missing::MachineConfig {
                    role: role.to_string(),
                    name: name.to_string(),
                };
                missing(self.name, what)
            })?;
        Ok((name.as_str(), mc))
    }

    fn cidrs(&self, services: bool) -> Vec<String> {
        common::cidrs(self.cluster(), services)
    }

    fn resolv_conf(&self) -> Option<&'a ironbell_model::anywhere::ResolvConf> {
        common::resolv_conf(self.cluster())
    }

    /// Pods, services, the user's list, the defaults, each availability zone's management
    /// API host and the control-plane endpoint.
    fn no_proxy_list(&self) -> Vec<String> {
        let Some(proxy) = &self.cluster().spec.proxy_configuration else {
            return Vec::new();
        };
        let mut list = self.cidrs(false);
        list.extend(self.cidrs(true));
        list.extend(proxy.no_proxy.iter().flatten().cloned());
        list.extend(kubeadm::NO_PROXY_DEFAULTS.iter().map(|s| s.to_string()));
        let zones = self
            .spec
            .datacenter
            .spec
            .availability_zones
            .iter()
            .flatten();
        list.extend(
            zones
                .filter_map(|az| az.management_api_endpoint.as_deref().and_then(url_host))
                .map(str::to_string),
        );
        list.push(join_host_port(&self.host, self.port));
        list
    }

    fn proxy(&self) -> Option<(&'a str, &'a str)> {
        let p = self.cluster().spec.proxy_configuration.as_ref()?;
        Some((
            p.http_proxy.as_deref().unwrap_or_default(),
            p.https_proxy.as_deref().unwrap_or_default(),
        ))
    }

    /// Proxy drop-in, mirror CA and hosts files.
    fn containerd_files(&self) -> Vec<File> {
        let mut files = Vec::new();
        if let Some((http, https)) = self.proxy() {
            files.push(kubeadm::proxy_drop_in(http, https, &self.no_proxy));
        }
        if let Some(m) = &self.mirror {
            files.extend(m.containerd_files(None));
        }
        files
    }

    /// `swapoff`, the containerd restart the mirror and proxy need, the host name, and the
    /// machine's symlinks.
    fn pre_kubeadm_commands(
        &self,
        mc: &CloudStackMachineConfig,
        style: SymlinkStyle,
    ) -> Vec<String> {
        let mut cmds = vec!["swapoff -a".to_string()];
        cmds.extend(kubeadm::containerd_restart_commands(
            self.mirror.is_some(),
            self.proxy().is_some(),
        ));
        cmds.extend(common::hostname_commands());
        cmds.extend(symlink_commands(mc, style));
        cmds
    }

    /// Kubelet flags and the optional `KubeletConfiguration` patch of a node group.
    fn kubelet(
        &self,
        config: Option<&serde_json::Value>,
        labels: Option<&BTreeMap<String, String>>,
    ) -> (StringMap, Option<File>) {
        let mut flags = args(&[(
            "provider-id",
            "cloudstack:///'{{ ds.meta_data.instance_id }}'",
        )]);
        let file = match config {
            Some(c) => Some(kubeadm::kubelet_configuration_file(
                kubeadm::kubelet_configuration(c, self.resolv_conf()),
            )),
            None => {
                flags.extend(kubeadm::kubelet_flags(self.resolv_conf()));
                None
            }
        };
        flags.extend(kubeadm::node_label_args(labels));
        (flags, file)
    }

    fn node_registration(
        &self,
        flags: StringMap,
        taints: Option<Vec<crate::api::Taint>>,
    ) -> NodeRegistration {
        NodeRegistration {
            name: Some(common::HOSTNAME.into()),
            cri_socket: Some(CRI_SOCKET.into()),
            ignore_preflight_errors: None,
            taints,
            kubelet_extra_args: Some(flags),
        }
    }

    fn control_plane(&self, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
        let cluster = self.cluster();
        let name = self.name;
        let cp = cluster
            .spec
            .control_plane_configuration
            .as_ref()
            .ok_or_else(|| self.missing("spec.controlPlaneConfiguration"))?;
        let (cp_mc_name, cp_mc) =
            self.machine_config("the control plane", cp.machine_group_ref.as_ref())?;
        let bundle = self.bundle(None)?;
        let distro = &bundle.kube_distro;
        let k8s_tag = distro.kubernetes.tag.clone();
        let minor = minor_version(&k8s_tag);
        let external_etcd = cluster.spec.external_etcd_configuration.as_ref();
        let encryption = cluster
            .spec
            .etcd_encryption
            .as_ref()
            .filter(|e| !e.is_empty());
        let admission = cp.skip_admission_for_system_resources.unwrap_or(false);
        let cp_template = names
            .control_plane
            .clone()
            .unwrap_or_else(|| NO_VALUE.into());
        let etcd_template = names.etcd.clone().unwrap_or_else(|| NO_VALUE.into());
        let mut objects = Vec::new();

        // Cluster.
        let api_endpoint = ApiEndpoint {
            host: self.host.clone(),
            port: self.port,
        };
        objects.push(Object::Cluster(Box::new(Cluster::for_eksa(ClusterParts {
            name,
            pods: self.cidrs(false),
            services: self.cidrs(true),
            endpoint: Some(api_endpoint.clone()),
            infrastructure_ref: ObjectReference::new(
                CLOUDSTACK_API_VERSION,
                "CloudStackCluster",
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
        }))));

        // CloudStackCluster.
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let failure_domains = self
            .spec
            .datacenter
            .spec
            .availability_zones
            .as_ref()
            .map(|azs| {
                azs.iter()
                    .map(|az| {
                        let zone = az.zone.clone().unwrap_or_default();
                        let network = zone.network.clone().unwrap_or_default();
                        FailureDomain {
                            name: set(&az.name),
                            zone: FailureDomainZone {
                                id: set(&zone.id),
                                name: set(&zone.name),
                                network: FailureDomainNetwork {
                                    id: set(&network.id),
                                    name: set(&network.name),
                                },
                            },
                            domain: set(&az.domain),
                            account: set(&az.account),
                            acs_endpoint: SecretRef {
                                name: s(&az.credentials_ref),
                                namespace: EKSA_SYSTEM_NAMESPACE.into(),
                            },
                        }
                    })
                    .collect()
            });
        objects.push(Object::CloudStackCluster(Box::new(CloudStackCluster::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            CloudStackClusterSpec {
                control_plane_endpoint: api_endpoint,
                failure_domains: failure_domains.filter(|d: &Vec<_>| !d.is_empty()),
            },
        ))));

        // KubeadmControlPlane: the API server.
        let cipher = ("tls-cipher-suites", kubeadm::SECURE_CIPHER_SUITES);
        let mut api_args = StringMap::new();
        if minor < 33 {
            api_args.insert("cloud-provider".into(), "external".into());
        }
        api_args.extend(kubeadm::audit_args());
        api_args.insert("profiling".into(), "false".into());
        if encryption.is_some() && minor >= 29 {
            api_args.insert("feature-gates".into(), "KMSv1=true".into());
        }
        // OIDC, IAM, the user's arguments and pod IAM, then encryption and the ciphers.
        api_args.extend(kubeadm::api_server_extra_args(
            self.spec.oidc.as_ref(),
            self.spec.aws_iam.as_ref(),
            cp.api_server_extra_args.as_ref(),
            cluster.spec.pod_iam_config.as_ref(),
        ));
        if encryption.is_some() {
            api_args.extend(kubeadm::encryption_args());
        }
        api_args.insert(cipher.0.into(), cipher.1.into());

        let mut volumes = kubeadm::audit_volumes(false);
        if admission {
            volumes.push(kubeadm::exclusion_volume());
        }
        if self.spec.aws_iam.is_some() {
            volumes.extend(kubeadm::aws_iam_volumes());
        }
        if encryption.is_some() {
            volumes.extend(kubeadm::encryption_volumes(
                kubeadm::ENCRYPTION_CONFIG_HOST_PATH,
                true,
            ));
        }
        let mut controller_args = args(&[
            ("cloud-provider", "external"),
            ("profiling", "false"),
            cipher,
        ]);
        let mask = cluster
            .spec
            .cluster_network
            .as_ref()
            .and_then(|n| n.nodes.as_ref());
        if let Some(size) = mask.and_then(|n| n.cidr_mask_size) {
            controller_args.insert("node-cidr-mask-size".into(), size.to_string());
        }
        let etcd = match external_etcd {
            Some(_) => Etcd::external_placeholder(),
            None => Etcd {
                local: Some(LocalEtcd {
                    extra_args: Some(args(&[("cipher-suites", kubeadm::SECURE_CIPHER_SUITES)])),
                    ..crate::versions::image_meta(&distro.etcd).into()
                }),
                external: None,
            },
        };
        let component = |extra_args: StringMap| ControlPlaneComponent {
            extra_args: Some(extra_args),
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
            api_server: Some(ControlPlaneComponent {
                cert_sans: cp.cert_sans.clone().filter(|s| !s.is_empty()),
                extra_envs: admission.then(kubeadm::exclusion_env),
                extra_args: Some(api_args),
                extra_volumes: Some(volumes),
            }),
            controller_manager: Some(component(controller_args)),
            scheduler: Some(component(args(&[("profiling", "false"), cipher]))),
            ..ClusterConfiguration::default()
        };

        // Node registration, shared by init and join.
        let (flags, kubelet_file) =
            self.kubelet(cp.kubelet_configuration.as_ref(), cp.labels.as_ref());
        let taints = cp
            .taints
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(kubeadm::taints);
        let node = NodeConfiguration {
            patches: kubelet_file.as_ref().map(|_| Patches {
                directory: "/etc/kubernetes/patches".into(),
            }),
            node_registration: Some(self.node_registration(flags, taints)),
            ..NodeConfiguration::default()
        };

        // Files.
        let mut files: Vec<File> = kubelet_file.into_iter().collect();
        if let Some(confs) = encryption {
            files.push(kubeadm::encryption_file(
                kubeadm::ENCRYPTION_CONFIG_HOST_PATH,
                confs,
            ));
        }
        files.push(kubeadm::kube_vip_file(
            &self.host,
            &bundle.cloudstack_kube_vip,
            false,
            false,
        ));
        if admission {
            files.push(kubeadm::exclusion_file());
        }
        let version = cluster.spec.kubernetes_version.as_ref().map(|v| v.as_str());
        files.push(kubeadm::audit_policy_file(cp, version));
        files.extend(self.containerd_files());
        if self.spec.aws_iam.is_some() {
            files.extend(kubeadm::aws_iam_files(name));
        }

        let mut pre = self.pre_kubeadm_commands(cp_mc, SymlinkStyle::ControlPlane);
        if minor >= 29 {
            pre.push("if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi".into());
        }
        let (disk, mounts) = disk_setup(cp_mc);
        let rollout = kubeadm::control_plane_rollout(cp.upgrade_rollout_strategy.as_ref());
        let kcp = KubeadmControlPlane::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    cluster_configuration: Some(cluster_configuration),
                    init_configuration: Some(node.clone()),
                    join_configuration: Some(node),
                    files: Some(files),
                    pre_kubeadm_commands: Some(pre),
                    users: Some(vec![login_user(cp_mc_name, cp_mc)?]),
                    format: Some("cloud-config".into()),
                    disk_setup: disk,
                    mounts,
                    ..KubeadmConfigSpec::default()
                },
                machine_template: ControlPlaneMachineTemplate::in_eksa_system(
                    CLOUDSTACK_API_VERSION,
                    MACHINE_TEMPLATE_KIND,
                    cp_template.clone(),
                ),
                replicas: cp.count.unwrap_or(1),
                rollout_strategy: Some(rollout),
                version: k8s_tag,
            },
        );
        objects.push(Object::KubeadmControlPlane(Box::new(kcp)));

        let mut templates = vec![Object::CloudStackMachineTemplate(Box::new(
            machine_template(&cp_template, cp_mc),
        ))];
        if let Some(etcd_cfg) = external_etcd {
            let (etcd_mc_name, etcd_mc) =
                self.machine_config("external etcd", etcd_cfg.machine_group_ref.as_ref())?;
            objects.push(self.etcd_cluster(
                bundle,
                etcd_cfg.count.unwrap_or(0),
                etcd_mc_name,
                etcd_mc,
                &etcd_template,
            )?);
            templates.push(Object::CloudStackMachineTemplate(Box::new(
                machine_template(&etcd_template, etcd_mc),
            )));
        }
        objects.extend(templates);
        Ok(objects)
    }

    fn etcd_cluster(
        &self,
        bundle: &VersionsBundle,
        replicas: i64,
        mc_name: &str,
        mc: &CloudStackMachineConfig,
        template_name: &str,
    ) -> Result<Object, RenderError> {
        let distro = &bundle.kube_distro;
        let mut pre = vec!["swapoff -a".to_string()];
        pre.extend(common::hostname_commands());
        if let Some(d) = provided_disk(mc) {
            let (device, fs, path) = (s(&d.device), s(&d.filesystem), s(&d.mount_path));
            pre.push(format!(
                "echo \"type=83\" | sfdisk {device} && mkfs -t {fs} {device}1 && mkdir -p {path} && echo {device}1 {path} {fs} defaults 0 2 >> /etc/fstab && mount {path}"
            ));
        }
        pre.extend(symlink_commands(mc, SymlinkStyle::Etcd));
        let config = EtcdadmConfigSpec {
            etcdadm_builtin: false,
            format: "cloud-config".into(),
            bottlerocket_config: None,
            cloud_init_config: Some(EtcdCloudInitConfig {
                version: distro.etcd_version.clone(),
                install_dir: "/usr/bin".into(),
                etcd_release_url: distro.etcd_url.clone(),
            }),
            etcdadm_install_commands: Some(vec![
                "echo this line exists so that etcdadmInstallCommands is not empty".into(),
                "echo etcdadmInstallCommands can be removed once etcdadm bootstrap and controller fix the bug".into(),
                "echo that preEtcdadmCommands not run unless etcdadmBuiltin is false".into(),
                "echo https://github.com/mrajashree/etcdadm-bootstrap-provider/issues/13".into(),
            ]),
            pre_etcdadm_commands: Some(pre),
            cipher_suites: Some(kubeadm::SECURE_CIPHER_SUITES.into()),
            users: Some(vec![login_user(mc_name, mc)?]),
            proxy: self.proxy()
            .map(|(http, https)| BottlerocketProxy::with_http(http, https, &self.no_proxy)),
            registry_mirror: self.mirror.as_ref().map(RegistryMirror::bottlerocket),
            ..EtcdadmConfigSpec::default()
        };
        let template =
            ObjectReference::new(CLOUDSTACK_API_VERSION, MACHINE_TEMPLATE_KIND, template_name);
        Ok(Object::EtcdadmCluster(Box::new(EtcdadmCluster::for_eksa(
            self.name, replicas, config, template,
        ))))
    }

    fn workers(&self, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
        let name = self.name;
        let mut objects = Vec::new();
        for (group, wng) in worker_groups(self.cluster()) {
            let (mc_name, mc) = self.machine_config(
                &format!("worker node group {group}"),
                wng.machine_group_ref.as_ref(),
            )?;
            let bundle = self.bundle(wng.kubernetes_version.as_ref().map(|v| v.as_str()))?;
            let wn = names
                .workers
                .get(&group)
                .ok_or_else(|| missing(name, Missing::WorkerNames(group.clone())))?;

            // KubeadmConfigTemplate.
            let (flags, kubelet_file) =
                self.kubelet(wng.kubelet_configuration.as_ref(), wng.labels.as_ref());
            let taints = wng
                .taints
                .as_deref()
                .map(kubeadm::taints)
                .unwrap_or_default();
            let join = NodeConfiguration {
                patches: kubelet_file.as_ref().map(|_| Patches {
                    directory: "/etc/kubernetes/patches".into(),
                }),
                node_registration: Some(self.node_registration(flags, Some(taints))),
                ..NodeConfiguration::default()
            };
            let mut files: Vec<File> = kubelet_file.into_iter().collect();
            files.extend(self.containerd_files());
            let (disk, mounts) = disk_setup(mc);
            let config = KubeadmConfigSpec {
                join_configuration: Some(join),
                files: (!files.is_empty()).then_some(files),
                pre_kubeadm_commands: Some(self.pre_kubeadm_commands(mc, SymlinkStyle::Worker)),
                users: Some(vec![login_user(mc_name, mc)?]),
                format: Some("cloud-config".into()),
                disk_setup: disk,
                mounts,
                ..KubeadmConfigSpec::default()
            };
            objects.push(Object::KubeadmConfigTemplate(Box::new(
                KubeadmConfigTemplate::in_eksa_system(wn.kubeadm_config_template.clone(), config),
            )));

            // MachineDeployment.
            let strategy = wng.upgrade_rollout_strategy.as_ref().map(|s| {
                let r = s.rolling_update.clone().unwrap_or_default();
                MachineDeploymentStrategy {
                    strategy_type: None,
                    rolling_update: Some(RollingUpdate {
                        max_surge: Some(IntOrString::Int(r.max_surge)),
                        max_unavailable: Some(IntOrString::Int(r.max_unavailable)),
                    }),
                }
            });
            objects.push(Object::MachineDeployment(Box::new(
                MachineDeployment::for_worker_group(WorkerGroupDeployment {
                    cluster: name,
                    group: &group,
                    config: wng,
                    labels: args(&[("cluster.x-k8s.io/cluster-name", name)]),
                    bootstrap_template: &wn.kubeadm_config_template,
                    infrastructure_ref: ObjectReference::new(
                        CLOUDSTACK_API_VERSION,
                        MACHINE_TEMPLATE_KIND,
                        wn.machine_template.clone(),
                    ),
                    version: bundle.kube_distro.kubernetes.tag.clone(),
                    strategy,
                }),
            )));

            // CloudStackMachineTemplate.
            objects.push(Object::CloudStackMachineTemplate(Box::new(
                machine_template(&wn.machine_template, mc),
            )));
        }
        Ok(objects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_url_hosts() {
        assert_eq!(
            url_host("http://127.16.0.1:8080/client/api"),
            Some("127.16.0.1")
        );
        assert_eq!(
            url_host("https://cloud.example/client/api"),
            Some("cloud.example")
        );
        assert_eq!(url_host("https://user@[fd00::1]:8443/x"), Some("fd00::1"));
        assert_eq!(url_host("http:///nohost"), None);
        assert_eq!(url_host(""), None);
    }

    #[test]
    fn endpoints_join_as_go_does() {
        assert_eq!(join_host_port("1.2.3.4", 6443), "1.2.3.4:6443");
        assert_eq!(join_host_port("fd00::1", 6443), "[fd00::1]:6443");
    }
}
