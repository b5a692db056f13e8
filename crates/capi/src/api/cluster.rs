//! `cluster.x-k8s.io/v1beta1`: [`Cluster`] and [`MachineDeployment`].

use serde::{Deserialize, Serialize};

use ironbell_model::anywhere::IntOrString;

use super::{CLUSTER_API_VERSION, LabelSelector, ObjectMeta, ObjectReference, StringMap};

/// A Cluster API `Cluster`: the network, the endpoint and the references to the control
/// plane, the infrastructure cluster and (with external etcd) the etcd cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// `cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `Cluster`.
    pub kind: String,
    /// Name, namespace and the `cluster.x-k8s.io/cluster-name` label.
    pub metadata: ObjectMeta,
    /// The desired cluster.
    pub spec: ClusterSpec,
}

impl Cluster {
    /// A `Cluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: ClusterSpec) -> Self {
        Self {
            api_version: CLUSTER_API_VERSION.to_string(),
            kind: "Cluster".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`Cluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Pod and service CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<ClusterNetwork>,
    /// The API server endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// The control plane object (a `KubeadmControlPlane`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_ref: Option<ObjectReference>,
    /// The provider's cluster object (`TinkerbellCluster`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ref: Option<ObjectReference>,
    /// The external etcd cluster (an `EtcdadmCluster`), EKS Anywhere's fork only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_external_etcd_ref: Option<ObjectReference>,
    /// Paused clusters are not reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// Pod and service networks of a [`Cluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetwork {
    /// Pod CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NetworkRanges>,
    /// Service CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<NetworkRanges>,
    /// DNS domain of services (`cluster.local`), when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_domain: Option<String>,
}

/// A list of CIDR blocks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRanges {
    /// The blocks, e.g. `192.168.0.0/16`.
    pub cidr_blocks: Vec<String>,
}

/// A host and port.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// Address or name.
    pub host: String,
    /// Port, 6443 for the Kubernetes API.
    pub port: u16,
}

/// A Cluster API `MachineDeployment`: a group of identical worker machines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeployment {
    /// `cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `MachineDeployment`.
    pub kind: String,
    /// Name, namespace, labels and the autoscaler annotations.
    pub metadata: ObjectMeta,
    /// The desired group.
    pub spec: MachineDeploymentSpec,
}

impl MachineDeployment {
    /// A `MachineDeployment` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: MachineDeploymentSpec) -> Self {
        Self {
            api_version: CLUSTER_API_VERSION.to_string(),
            kind: "MachineDeployment".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`MachineDeployment`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentSpec {
    /// The owning cluster's name.
    pub cluster_name: String,
    /// Number of machines; absent when the autoscaler owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Machine selector (EKS Anywhere writes an empty one).
    pub selector: LabelSelector,
    /// The machine template.
    pub template: MachineTemplateSpec,
    /// How machines are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<MachineDeploymentStrategy>,
}

/// The machine template of a [`MachineDeployment`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineTemplateSpec {
    /// Labels of the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMeta>,
    /// The machine spec.
    pub spec: MachineSpec,
}

/// Labels and annotations for objects created from a template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// A machine's spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    /// Where the bootstrap data comes from.
    pub bootstrap: Bootstrap,
    /// The owning cluster's name.
    pub cluster_name: String,
    /// The provider's machine template.
    pub infrastructure_ref: ObjectReference,
    /// Kubernetes version, e.g. `v1.21.2-eks-1-21-4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The failure domain the machines are placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,
}

/// The bootstrap configuration of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The bootstrap config template (a `KubeadmConfigTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_ref: Option<ObjectReference>,
}

/// How a [`MachineDeployment`] replaces machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStrategy {
    /// `RollingUpdate` or EKS Anywhere's `InPlace`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
    /// Surge and unavailability bounds of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

/// Bounds of a rolling update; integers or percentages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Machines created above the desired count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Machines that may be unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}
