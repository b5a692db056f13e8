//! What every provider's renderer reads the same way from an EKS Anywhere `Cluster`: its
//! name, worker node groups, networks, endpoint, versions bundle, and the containerd
//! restart and etcd preparation commands of cloud-config machines.

use ironbell_model::anywhere::{Cluster as EksaCluster, ResolvConf, WorkerNodeGroupConfiguration};

use crate::api::StringMap;
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

/// Why a versions bundle could not be found.
pub(crate) enum BundleLookup {
    /// Neither the group nor the cluster names a Kubernetes version.
    NoVersion,
    /// No bundle for this version.
    NoBundle(String),
}

/// The versions bundle of a Kubernetes version, the cluster's when `version` is `None`.
pub(crate) fn bundle<'a>(
    bundles: &'a VersionsBundleSet,
    cluster: &EksaCluster,
    version: Option<&str>,
) -> Result<&'a VersionsBundle, BundleLookup> {
    let version = version
        .or(cluster.spec.kubernetes_version.as_ref().map(|v| v.as_str()))
        .ok_or(BundleLookup::NoVersion)?;
    bundles
        .get(version)
        .ok_or_else(|| BundleLookup::NoBundle(version.to_string()))
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
        .and_then(|b| b.cidr_blocks.clone())
        .unwrap_or_default()
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

/// The commands that make containerd read its mirror configuration and proxy drop-in.
pub(crate) fn containerd_restart_commands(mirror: bool, proxy: bool) -> Vec<String> {
    let mut cmds = Vec::new();
    if mirror {
        cmds.push("cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".into());
    }
    if mirror || proxy {
        cmds.push("sudo systemctl daemon-reload".into());
        cmds.push("sudo systemctl restart containerd".into());
    }
    cmds
}

/// The commands an etcd machine runs before etcdadm: its host name and `/etc/hosts`.
pub(crate) fn etcd_pre_commands() -> Vec<String> {
    vec![
        format!("hostname \"{HOSTNAME}\""),
        "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts".into(),
        "echo \"127.0.0.1   localhost\" >>/etc/hosts".into(),
        format!("echo \"127.0.0.1   {HOSTNAME}\" >>/etc/hosts"),
        format!("echo \"{HOSTNAME}\" >/etc/hostname"),
    ]
}

/// The cluster autoscaler's size annotations of a worker node group's `MachineDeployment`.
pub(crate) fn autoscaler_annotations(wng: &WorkerNodeGroupConfiguration) -> Option<StringMap> {
    let a = wng.autoscaling_configuration.as_ref()?;
    Some(
        [
            (
                "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size".to_string(),
                a.min_count.unwrap_or(0).to_string(),
            ),
            (
                "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size".to_string(),
                a.max_count.unwrap_or(0).to_string(),
            ),
        ]
        .into_iter()
        .collect(),
    )
}
