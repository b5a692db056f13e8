//! [`Cluster`]: the top-level EKS Anywhere object that names the Kubernetes version, the
//! control plane and worker node groups, networking, and the provider objects it uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Duration, IntOrString, KubernetesVersion, Ref};
use crate::{ApiVersion, Condition, Kind, ObjectMeta};

/// An EKS Anywhere cluster: the spec a user writes and the status the controller reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Cluster`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata; the name is the cluster's name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What the cluster should look like.
    #[serde(default)]
    pub spec: ClusterSpec,
    /// What the controller last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClusterStatus>,
}
crate::impl_resource!(
    Cluster,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "Cluster",
    "clusters",
    aliases = ["cluster", "eksacluster"]
);

/// The desired state of a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// Kubernetes minor version of the control plane (and of workers without their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<KubernetesVersion>,
    /// Control-plane machines: count, endpoint, machine config and node settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_configuration: Option<ControlPlaneConfiguration>,
    /// The worker node groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_node_group_configurations: Option<Vec<WorkerNodeGroupConfiguration>>,
    /// The provider's datacenter config, e.g. a `TinkerbellDatacenterConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter_ref: Option<Ref>,
    /// Identity providers for the API server (`OIDCConfig`, `AWSIamConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider_refs: Option<Vec<Ref>>,
    /// GitOps configuration (`FluxConfig` or `GitOpsConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ops_ref: Option<Ref>,
    /// Pod and service networks, CNI and DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<ClusterNetwork>,
    /// Etcd on machines of its own instead of stacked on the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_etcd_configuration: Option<ExternalEtcdConfiguration>,
    /// HTTP(S) proxy the nodes use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<ProxyConfiguration>,
    /// Local registry that mirrors the public images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_mirror_configuration: Option<RegistryMirrorConfiguration>,
    /// The cluster that manages this one; itself for a management cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_cluster: Option<ManagementCluster>,
    /// IAM roles for service accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_iam_config: Option<PodIamConfig>,
    /// Curated packages controller settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageConfiguration>,
    /// The release bundle the cluster was built from (older clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundles_ref: Option<BundlesRef>,
    /// The EKS Anywhere release the cluster runs, e.g. `v0.24.6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eksa_version: Option<String>,
    /// Timeouts and limits for replacing unhealthy machines, for every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_health_check: Option<MachineHealthCheck>,
    /// Encryption of resources at rest in etcd through KMS plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_encryption: Option<Vec<EtcdEncryption>>,
    /// License token for extended Kubernetes version support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_token: Option<String>,
}

/// HTTP(S) proxy settings for the nodes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfiguration {
    /// Proxy for plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_proxy: Option<String>,
    /// Proxy for HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_proxy: Option<String>,
    /// Hosts, domains and CIDRs reached without the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<Vec<String>>,
}

/// A local registry that mirrors the images the cluster pulls.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryMirrorConfiguration {
    /// Host name or IP address of the mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Port of the mirror. A string in the API; YAML often writes it bare (`port: 443`), which
    /// EKS Anywhere accepts, so both forms are accepted and kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// Upstream registries mapped to namespaces of the mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_namespaces: Option<Vec<OciNamespace>>,
    /// PEM CA certificate that signed the mirror's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_content: Option<String>,
    /// Whether the mirror needs credentials (taken from the environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticate: Option<bool>,
    /// Skip verification of the mirror's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// One upstream registry served from a namespace of the mirror.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OciNamespace {
    /// Upstream registry, e.g. `public.ecr.aws`.
    pub registry: String,
    /// Namespace on the mirror that holds its images.
    pub namespace: String,
}

/// The control-plane machines and their Kubernetes settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneConfiguration {
    /// Not part of the API. Some of EKS Anywhere's own sample specs name the control plane
    /// and its lenient decoder drops the name; it is accepted, kept and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of control-plane machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Address the API server is reached at (the virtual IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The machine config the control-plane machines use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_group_ref: Option<Ref>,
    /// Taints put on control-plane nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Labels put on control-plane nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// How control-plane machines are replaced on upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_rollout_strategy: Option<ControlPlaneUpgradeRolloutStrategy>,
    /// Do not deploy a load balancer for the API server endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_load_balancer_deployment: Option<bool>,
    /// Extra subject alternative names for the API server certificate. Go's decoder matches
    /// keys regardless of case and EKS Anywhere's own samples write `certSANs` and `certSANS`;
    /// those spellings are accepted too and printed as `certSans`.
    #[serde(
        default,
        alias = "certSANs",
        alias = "certSANS",
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_sans: Option<Vec<String>>,
    /// Unhealthy-machine remediation for the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_health_check: Option<MachineHealthCheck>,
    /// Extra command-line flags for the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_extra_args: Option<BTreeMap<String, String>>,
    /// Free-form kubelet configuration for control-plane nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_configuration: Option<serde_json::Value>,
    /// Audit policy document for the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_policy_content: Option<String>,
    /// Whether admission webhooks skip system resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_admission_for_system_resources: Option<bool>,
}

/// Remediation settings for machines that fail to start or become unhealthy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineHealthCheck {
    /// How long a new machine may take to join before it is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_startup_timeout: Option<Duration>,
    /// How long a node may be unhealthy before its machine is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_machine_timeout: Option<Duration>,
    /// How many (or what percentage of) machines may be unhealthy before remediation stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unhealthy: Option<IntOrString>,
}

/// A Kubernetes node taint (`corev1.Taint`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What the taint does to pods that do not tolerate it.
    pub effect: TaintEffect,
    /// When a `NoExecute` taint was added (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<crate::Timestamp>,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    /// New pods are not scheduled on the node.
    #[default]
    NoSchedule,
    /// The scheduler avoids the node when it can.
    PreferNoSchedule,
    /// Running pods are evicted and new ones are not scheduled.
    NoExecute,
}

/// Where the API server is reached.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    /// IP address (or `host:port`) of the API server endpoint.
    pub host: String,
}

/// One group of worker machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerNodeGroupConfiguration {
    /// Group name, unique within the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of machines in the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Bounds for the cluster autoscaler.
    #[serde(
        default,
        rename = "autoscalingConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub autoscaling_configuration: Option<AutoScalingConfiguration>,
    /// The machine config the group's machines use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_group_ref: Option<Ref>,
    /// Taints put on the group's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Labels put on the group's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// How the group's machines are replaced on upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_rollout_strategy: Option<WorkerNodesUpgradeRolloutStrategy>,
    /// Kubernetes version of this group when it differs from the control plane's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<KubernetesVersion>,
    /// Unhealthy-machine remediation for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_health_check: Option<MachineHealthCheck>,
    /// Free-form kubelet configuration for this group's nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_configuration: Option<serde_json::Value>,
    /// Failure domains the group is spread over (providers that have them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domains: Option<Vec<String>>,
}

/// Networking of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterNetwork {
    /// The pod network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<CidrBlocks>,
    /// The service network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<CidrBlocks>,
    /// The CNI plugin (deprecated in favour of `cniConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni: Option<Cni>,
    /// The CNI plugin and its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_config: Option<CniConfig>,
    /// Cluster DNS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    /// Per-node pod address ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Nodes>,
    /// Not part of the API (it is `nodes`). Some of EKS Anywhere's own sample specs write
    /// `node`, which its lenient decoder drops; it is accepted, kept and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Nodes>,
}

/// A network given as CIDR blocks (`pods` and `services`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CidrBlocks {
    /// The address ranges, e.g. `192.168.0.0/16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_blocks: Option<Vec<ipnet::IpNet>>,
}

/// Cluster DNS settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dns {
    /// The resolv.conf the kubelet hands to pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<ResolvConf>,
}

/// Location of a resolv.conf file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolvConf {
    /// Path of the file on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Per-node pod address ranges.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nodes {
    /// Prefix length of each node's slice of the pod network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_mask_size: Option<i64>,
}

/// A CNI plugin EKS Anywhere installs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cni {
    /// Cilium.
    #[serde(rename = "cilium")]
    Cilium,
    /// Cilium Enterprise.
    #[serde(rename = "cilium-enterprise")]
    CiliumEnterprise,
    /// kindnetd (Docker provider).
    #[serde(rename = "kindnetd")]
    Kindnetd,
}

/// The CNI plugin and its settings: exactly one of the fields is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CniConfig {
    /// Use Cilium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cilium: Option<CiliumConfig>,
    /// Use kindnetd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kindnetd: Option<KindnetdConfig>,
}

/// Cilium settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumConfig {
    /// How network policies are enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_enforcement_mode: Option<CiliumPolicyEnforcementMode>,
    /// Interfaces whose egress traffic is masqueraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_masquerade_interfaces: Option<String>,
    /// Leave Cilium alone on cluster upgrades (user-managed CNI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_upgrade: Option<bool>,
    /// Overlay (tunnel) or direct routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_mode: Option<CiliumRoutingMode>,
    /// IPv4 range routed natively in direct routing mode.
    #[serde(
        default,
        rename = "ipv4NativeRoutingCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_native_routing_cidr: Option<ipnet::Ipv4Net>,
    /// IPv6 range routed natively in direct routing mode.
    #[serde(
        default,
        rename = "ipv6NativeRoutingCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_native_routing_cidr: Option<ipnet::Ipv6Net>,
    /// Whether Cilium removes other CNI configuration files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_exclusive: Option<bool>,
    /// Free-form Helm values merged into Cilium's chart values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_values: Option<serde_json::Value>,
}

/// kindnetd has no settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KindnetdConfig {}

/// Cilium's network policy enforcement mode.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum CiliumPolicyEnforcementMode {
    /// Enforce only for endpoints selected by a policy.
    Default,
    /// Enforce for every endpoint; deny what no policy allows.
    Always,
    /// Never enforce.
    Never,
}

/// How Cilium routes pod traffic between nodes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum CiliumRoutingMode {
    /// Encapsulate in a tunnel.
    Overlay,
    /// Route natively through the underlying network.
    Direct,
}

/// Why the controller could not reconcile a cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// An object the cluster refers to does not exist.
    MissingDependentObjects,
    /// The management cluster reference is wrong.
    ManagementClusterRefInvalid,
    /// The cluster spec is invalid.
    ClusterInvalid,
    /// The datacenter config is invalid.
    DatacenterConfigInvalid,
    /// A machine config is invalid.
    MachineConfigInvalid,
    /// A failure domain is invalid.
    FailureDomainInvalid,
    /// The control-plane endpoint IP is already in use.
    UnavailableControlPlaneIP,
    /// The EKS Anywhere version is invalid.
    EksaVersionInvalid,
    /// No release bundle exists for the cluster's version.
    #[serde(rename = "BundleNotFoundForCluster")]
    BundleNotFound,
    /// Extended Kubernetes version support is not available.
    #[serde(rename = "ExtendedKubernetesVersionSupportNotSupported")]
    ExtendedK8sVersionSupportNotSupported,
    /// The hardware inventory does not fit the cluster.
    HardwareInvalid,
    /// A machine is invalid.
    MachineInvalid,
}

/// How long a machine's certificates remain valid.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterCertificateInfo {
    /// Machine name.
    pub machine: String,
    /// Days until its certificates expire.
    pub expires_in_days: i64,
}

/// The observed state of a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterStatus {
    /// Human-readable reason reconciliation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Machine-readable reason reconciliation stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<FailureReason>,
    /// The EKS Distro release the cluster uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eksd_release_ref: Option<EksdReleaseRef>,
    /// Cluster API style conditions (`Ready`, `ControlPlaneReady`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Certificate expiry per machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_certificate_info: Option<Vec<ClusterCertificateInfo>>,
    /// Generation of the spec last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_generation: Option<i64>,
    /// Sum of the generations of the child objects last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children_reconciled_generation: Option<i64>,
    /// Generation of the spec the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A reference to an EKS Distro release object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EksdReleaseRef {
    /// API version of the release object.
    pub api_version: String,
    /// Kind of the release object.
    pub kind: String,
    /// Name of the release object.
    pub name: String,
    /// Namespace of the release object.
    pub namespace: String,
}

/// A reference to an EKS Anywhere `Bundles` object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundlesRef {
    /// API version of the bundles object.
    pub api_version: String,
    /// Name of the bundles object.
    pub name: String,
    /// Namespace of the bundles object.
    pub namespace: String,
}

/// Curated packages settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageConfiguration {
    /// Do not install the packages controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable: Option<bool>,
    /// The packages controller deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<PackageControllerConfiguration>,
    /// The cron job that refreshes registry credentials.
    #[serde(default, rename = "cronjob", skip_serializing_if = "Option::is_none")]
    pub cron_job: Option<PackageControllerCronJob>,
}

/// The packages controller deployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageControllerConfiguration {
    /// Image repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Image digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Do not install the controller's webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_webhooks: Option<bool>,
    /// Environment variables, each `NAME=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// CPU and memory requests and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<PackageControllerResources>,
}

/// Requests and limits of the packages controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageControllerResources {
    /// Resources reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ImageResource>,
    /// Resources allowed at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ImageResource>,
}

/// A CPU and memory amount, as Kubernetes quantities.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageResource {
    /// CPU, e.g. `500m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory, e.g. `256Mi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// The credentials cron job of the packages controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageControllerCronJob {
    /// Image repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Image digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Do not install the cron job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable: Option<bool>,
}

/// Etcd on machines of its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalEtcdConfiguration {
    /// Not part of the API. Some of EKS Anywhere's own sample specs name the etcd group and
    /// its lenient decoder drops the name; it is accepted, kept and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Number of etcd machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// The machine config the etcd machines use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_group_ref: Option<Ref>,
}

/// The cluster that manages this one.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagementCluster {
    /// Name of the management cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// IAM roles for service accounts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodIamConfig {
    /// Issuer URL of the service account tokens.
    pub service_account_issuer: String,
}

/// Bounds for the cluster autoscaler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoScalingConfiguration {
    /// Fewest machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<i64>,
    /// Most machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<i64>,
}

/// How machines are replaced on upgrade.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpgradeRolloutStrategyType {
    /// Create new machines, then delete old ones.
    RollingUpdate,
    /// Upgrade the existing machines in place.
    InPlace,
}

/// Upgrade strategy of the control plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneUpgradeRolloutStrategy {
    /// Rolling or in-place.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<UpgradeRolloutStrategyType>,
    /// Parameters of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<ControlPlaneRollingUpdateParams>,
}

/// Parameters of a rolling control-plane update.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneRollingUpdateParams {
    /// Machines created above the desired count during the update.
    pub max_surge: i64,
    /// Not part of the API for the control plane (only workers have it). EKS Anywhere's own
    /// sample specs set it and its lenient decoder drops it; it is accepted, kept and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<i64>,
}

/// Upgrade strategy of a worker node group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerNodesUpgradeRolloutStrategy {
    /// Rolling or in-place.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<UpgradeRolloutStrategyType>,
    /// Parameters of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<WorkerNodesRollingUpdateParams>,
}

/// Parameters of a rolling worker update.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerNodesRollingUpdateParams {
    /// Machines created above the desired count during the update.
    pub max_surge: i64,
    /// Machines that may be unavailable during the update.
    pub max_unavailable: i64,
}

/// One etcd encryption configuration: which resources, through which KMS providers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EtcdEncryption {
    /// KMS providers, the first one encrypts.
    pub providers: Vec<EtcdEncryptionProvider>,
    /// Resources to encrypt, e.g. `secrets`.
    pub resources: Vec<String>,
}

/// One encryption provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EtcdEncryptionProvider {
    /// The KMS plugin.
    pub kms: Kms,
}

/// A KMS plugin the API server encrypts through.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Kms {
    /// Encrypted objects cached in memory; negative disables the cache.
    #[serde(default, rename = "cachesize", skip_serializing_if = "Option::is_none")]
    pub cache_size: Option<i32>,
    /// Name of the plugin.
    pub name: String,
    /// UNIX socket the plugin listens on, e.g. `unix:///var/run/kms.sock`.
    pub socket_listen_address: String,
    /// How long the API server waits for the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}
