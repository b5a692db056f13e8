//! What every provider's renderer reads the same way from an EKS Anywhere `Cluster`: its
//! name, worker node groups, networks, endpoint, registry mirror, versions bundle, and the
//! etcd preparation commands of cloud-config machines.

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    Cluster as EksaCluster, ControlPlaneConfiguration, ResolvConf, WorkerNodeGroupConfiguration,
};

use crate::kubeadm::{RegistryCredentials, RegistryMirror};
use crate::versions::{VersionsBundle, VersionsBundleSet};

/// The cloud-init expression of a machine's host name.
pub(crate) const HOSTNAME: &str = "{{ ds.meta_data.hostname }}";

/// The cluster's name.
pub(crate) fn cluster_name(cluster: &EksaCluster) -> &str {
    cluster.metadata.name.as_deref().unwrap_or_default()
}

/// Worker node groups with their names (`md-<i>` when unnamed, EKS Anywhere's default).
pub(crate) fn worker_groups(
    cluster: &EksaCluster,
) -> impl Iterator<Item = (String, &WorkerNodeGroupConfiguration)> {
    cluster
        .spec
        .worker_node_group_configurations
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, w)| (w.name.clone().unwrap_or_else(|| format!("md-{i}")), w))
}

/// Kubernetes minor version of an EKS-D tag (`v1.21.2-eks-1-21-4` → 21).
pub(crate) fn minor_version(tag: &str) -> u32 {
    tag.trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// The cluster's Kubernetes version (`1.29`), empty when unset.
pub(crate) fn kubernetes_version(cluster: &EksaCluster) -> &str {
    cluster
        .spec
        .kubernetes_version
        .as_ref()
        .map(|v| v.as_str())
        .unwrap_or_default()
}

/// The pod (or, with `services`, service) CIDR blocks.
pub(crate) fn cidrs(cluster: &EksaCluster, services: bool) -> Vec<String> {
    let net = cluster.spec.cluster_network.as_ref();
    let blocks = if services {
        net.and_then(|n| n.services.as_ref())
    } else {
        net.and_then(|n| n.pods.as_ref())
    };
    blocks
        .and_then(|b| b.cidr_blocks.as_ref())
        .map(|b| b.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// The cluster's registry mirror (`Some(None)` for none), or `None` when the mirror
/// authenticates and no credentials are given.
pub(crate) fn cluster_mirror(
    cluster: &EksaCluster,
    credentials: Option<&RegistryCredentials>,
) -> Option<Option<RegistryMirror>> {
    let mirror = cluster
        .spec
        .registry_mirror_configuration
        .as_ref()
        .map(RegistryMirror::from_config);
    let refused = mirror.as_ref().is_some_and(|m| m.authenticate) && credentials.is_none();
    (!refused).then_some(mirror)
}

/// The cluster's custom `resolv.conf`.
pub(crate) fn resolv_conf(cluster: &EksaCluster) -> Option<&ResolvConf> {
    cluster
        .spec
        .cluster_network
        .as_ref()
        .and_then(|n| n.dns.as_ref())
        .and_then(|d| d.resolv_conf.as_ref())
}

/// The control-plane endpoint's host.
pub(crate) fn endpoint_host(cluster: &EksaCluster) -> &str {
    cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .and_then(|cp| cp.endpoint.as_ref())
        .map(|e| e.host.as_str())
        .unwrap_or_default()
}

/// The commands that set a machine's host name and `/etc/hosts` (run by etcd machines
/// before etcdadm, and by vSphere's nodes before kubeadm).
pub(crate) fn hostname_commands() -> Vec<String> {
    vec![
        format!("hostname \"{HOSTNAME}\""),
        "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts".into(),
        "echo \"127.0.0.1   localhost\" >>/etc/hosts".into(),
        format!("echo \"127.0.0.1   {HOSTNAME}\" >>/etc/hosts"),
        format!("echo \"{HOSTNAME}\" >/etc/hostname"),
    ]
}

/// A spec that lacks what a renderer looks up in it: a referenced machine config, a field, a
/// versions bundle, template names, or registry credentials. The Tinkerbell, Docker, Nutanix
/// and Snow renderers' errors carry it.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// A reference names a machine config the spec does not have.
    #[error("cluster {cluster}: {role} references {kind} {name:?}, which the spec does not have")]
    MissingMachineConfig {
        /// Cluster name.
        cluster: String,
        /// Which part of the cluster refers to it.
        role: String,
        /// The machine config kind.
        kind: &'static str,
        /// The missing name.
        name: String,
    },
    /// The spec lacks a required field.
    #[error("cluster {cluster}: {field} is required")]
    MissingField {
        /// Cluster name.
        cluster: String,
        /// The field's path.
        field: String,
    },
    /// No versions bundle for a Kubernetes version.
    #[error("cluster {cluster}: no versions bundle for Kubernetes {version}")]
    MissingBundle {
        /// Cluster name.
        cluster: String,
        /// The version asked for.
        version: String,
    },
    /// No template names for a worker node group.
    #[error("cluster {cluster}: no template names given for worker node group {group}")]
    MissingWorkerNames {
        /// Cluster name.
        cluster: String,
        /// Worker node group name.
        group: String,
    },
    /// The registry mirror requires credentials that were not given.
    #[error(
        "cluster {cluster}: the registry mirror requires authentication; give the registry username and password"
    )]
    MissingRegistryCredentials {
        /// Cluster name.
        cluster: String,
    },
}

/// Lookups in a spec, with errors that name the cluster.
pub(crate) struct Lookup<'a> {
    pub(crate) cluster: &'a EksaCluster,
    pub(crate) name: &'a str,
    pub(crate) bundles: &'a VersionsBundleSet,
}

impl<'a> Lookup<'a> {
    pub(crate) fn new(cluster: &'a EksaCluster, bundles: &'a VersionsBundleSet) -> Self {
        Self {
            cluster,
            name: cluster_name(cluster),
            bundles,
        }
    }

    /// The error for a missing field.
    pub(crate) fn missing(&self, field: &str) -> LookupError {
        LookupError::MissingField {
            cluster: self.name.to_string(),
            field: field.to_string(),
        }
    }

    /// The versions bundle of a Kubernetes version, the cluster's when `None`.
    pub(crate) fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, LookupError> {
        let version = version
            .or(self
                .cluster
                .spec
                .kubernetes_version
                .as_ref()
                .map(|v| v.as_str()))
            .ok_or_else(|| self.missing("spec.kubernetesVersion"))?;
        self.bundles
            .get(version)
            .ok_or_else(|| LookupError::MissingBundle {
                cluster: self.name.to_string(),
                version: version.to_string(),
            })
    }

    /// A machine config by the name a reference gives, with its name.
    pub(crate) fn machine_config<'m, T>(
        &self,
        configs: &'m BTreeMap<String, T>,
        kind: &'static str,
        role: &str,
        name: Option<&str>,
    ) -> Result<(&'m str, &'m T), LookupError> {
        let name = name.unwrap_or_default();
        configs
            .get_key_value(name)
            .map(|(n, mc)| (n.as_str(), mc))
            .ok_or_else(|| LookupError::MissingMachineConfig {
                cluster: self.name.to_string(),
                role: role.to_string(),
                kind,
                name: name.to_string(),
            })
    }

    /// The cluster's registry mirror; an error when it authenticates and no credentials
    /// are given.
    pub(crate) fn registry_mirror(
        &self,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<Option<RegistryMirror>, LookupError> {
        cluster_mirror(self.cluster, credentials).ok_or_else(|| {
            LookupError::MissingRegistryCredentials {
                cluster: self.name.to_string(),
            }
        })
    }

    /// The cluster's `controlPlaneConfiguration`.
    pub(crate) fn control_plane(&self) -> Result<&'a ControlPlaneConfiguration, LookupError> {
        self.cluster
            .spec
            .control_plane_configuration
            .as_ref()
            .ok_or_else(|| self.missing("spec.controlPlaneConfiguration"))
    }

    /// The template names given for a worker node group.
    pub(crate) fn worker_names<'m, T>(
        &self,
        names: &'m BTreeMap<String, T>,
        group: &str,
    ) -> Result<&'m T, LookupError> {
        names
            .get(group)
            .ok_or_else(|| LookupError::MissingWorkerNames {
                cluster: self.name.to_string(),
                group: group.to_string(),
            })
    }
}

/// A loaded spec's machine configs of one provider, by name (`pick` returns the config when
/// it is of that provider's kind).
pub(crate) fn machine_configs_of<T: Clone>(
    spec: &ironbell_cluster_spec::Spec,
    pick: impl Fn(&ironbell_cluster_spec::MachineConfig) -> Option<&T>,
) -> BTreeMap<String, T> {
    spec.machine_configs
        .iter()
        .filter_map(|(name, mc)| Some((name.clone(), pick(mc)?.clone())))
        .collect()
}
