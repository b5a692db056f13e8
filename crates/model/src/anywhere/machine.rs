//! Machine settings shared by every provider's machine config: the OS family, login users,
//! and host OS configuration (NTP, extra CA bundles, Bottlerocket settings).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Duration;

/// The operating system installed on a machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    /// Ubuntu.
    Ubuntu,
    /// Bottlerocket.
    Bottlerocket,
    /// Red Hat Enterprise Linux.
    Redhat,
}

/// A login user created on the machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserConfiguration {
    /// User name.
    pub name: String,
    /// SSH public keys allowed to log in as this user.
    pub ssh_authorized_keys: Vec<String>,
}

/// Settings applied to the host operating system.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostOsConfiguration {
    /// NTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp_configuration: Option<NtpConfiguration>,
    /// Bottlerocket-only settings (apply when `osFamily` is `bottlerocket`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottlerocket_configuration: Option<BottlerocketConfiguration>,
    /// Extra trusted CA certificate bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_bundles: Option<Vec<CertBundle>>,
}

/// NTP settings of the host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NtpConfiguration {
    /// NTP servers to synchronise with.
    pub servers: Vec<String>,
}

/// A named bundle of trusted CA certificates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertBundle {
    /// Bundle name.
    pub name: String,
    /// PEM certificates.
    pub data: String,
}

/// Bottlerocket host settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BottlerocketConfiguration {
    /// Kubelet settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<BottlerocketKubernetesSettings>,
    /// Kernel settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<BottlerocketKernelSettings>,
    /// Boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BottlerocketBootSettings>,
}

/// Bottlerocket's kubelet settings (Cluster API's `BottlerocketKubernetesSettings`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BottlerocketKubernetesSettings {
    /// Unsafe sysctls pods may set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_unsafe_sysctls: Option<Vec<String>>,
    /// Addresses of the cluster DNS servers.
    #[serde(
        default,
        rename = "clusterDNSIPs",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_dns_ips: Option<Vec<String>>,
    /// DNS domain of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_domain: Option<String>,
    /// Rotated container log files kept per container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_log_max_files: Option<i64>,
    /// Size at which a container log is rotated (a quantity, e.g. `10Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_log_max_size: Option<String>,
    /// Enforce CPU limits with CFS quota.
    #[serde(
        default,
        rename = "cpuCFSQuota",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_cfs_quota: Option<bool>,
    /// CPU manager policy name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_manager_policy: Option<String>,
    /// Options of the CPU manager policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_manager_policy_options: Option<BTreeMap<String, String>>,
    /// How often the CPU manager reconciles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_manager_reconcile_period: Option<Duration>,
    /// Largest burst of event creations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_burst: Option<i64>,
    /// Event creations per second.
    #[serde(
        default,
        rename = "eventRecordQPS",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_record_qps: Option<i64>,
    /// Hard eviction thresholds per signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_hard: Option<BTreeMap<String, String>>,
    /// Longest grace period, in seconds, for soft evictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_max_pod_grace_period: Option<i64>,
    /// Soft eviction thresholds per signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_soft: Option<BTreeMap<String, String>>,
    /// Grace periods of the soft eviction thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eviction_soft_grace_period: Option<BTreeMap<String, String>>,
    /// Disk usage percentage above which image garbage collection always runs.
    #[serde(
        default,
        rename = "imageGCHighThresholdPercent",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_gc_high_threshold_percent: Option<i64>,
    /// Disk usage percentage below which image garbage collection never runs.
    #[serde(
        default,
        rename = "imageGCLowThresholdPercent",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_gc_low_threshold_percent: Option<i64>,
    /// Burst allowed towards the API server.
    #[serde(
        default,
        rename = "kubeAPIBurst",
        skip_serializing_if = "Option::is_none"
    )]
    pub kube_api_burst: Option<i64>,
    /// Queries per second towards the API server.
    #[serde(
        default,
        rename = "kubeAPIQPS",
        skip_serializing_if = "Option::is_none"
    )]
    pub kube_api_qps: Option<i64>,
    /// Resources reserved for Kubernetes components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_reserved: Option<BTreeMap<String, String>>,
    /// Most pods on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<i64>,
    /// Memory manager policy name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_manager_policy: Option<String>,
    /// Most process IDs in one pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_pids_limit: Option<i64>,
    /// Provider ID of the node.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// Largest burst of image pulls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_burst: Option<i64>,
    /// Image pulls per second.
    #[serde(
        default,
        rename = "registryPullQPS",
        skip_serializing_if = "Option::is_none"
    )]
    pub registry_pull_qps: Option<i64>,
    /// How long node shutdown is delayed for pods to terminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_period: Option<Duration>,
    /// Part of the shutdown delay reserved for critical pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_period_critical_pods: Option<Duration>,
    /// Resources reserved for non-Kubernetes processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_reserved: Option<BTreeMap<String, String>>,
    /// Topology manager policy name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_manager_policy: Option<String>,
    /// Scope of the topology manager's hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_manager_scope: Option<String>,
}

/// Bottlerocket kernel settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BottlerocketKernelSettings {
    /// Sysctl keys and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctl_settings: Option<BTreeMap<String, String>>,
}

/// Bottlerocket boot settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BottlerocketBootSettings {
    /// Kernel command-line parameters and their values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_kernel_parameters: Option<BTreeMap<String, Vec<String>>>,
}
