//! CAPV's `infrastructure.cluster.x-k8s.io/v1beta1` kinds: [`VSphereCluster`],
//! [`VSphereMachineTemplate`], [`VSphereFailureDomain`] and [`VSphereDeploymentZone`].
//!
//! A string EKS Anywhere's template prints bare (`server: {{.vsphereServer}}`) is an
//! `Option` here that prints `null` when the spec has no value, as the template's empty
//! output reads; one it quotes (`folder: '{{...}}'`) is a plain string, empty when unset.

use serde::{Deserialize, Serialize};

use super::cluster::ApiEndpoint;
use super::{INFRASTRUCTURE_API_VERSION, ObjectMeta};

/// A `VSphereCluster`: the vCenter, its credentials and the control-plane endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `VSphereCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The vCenter and endpoint.
    pub spec: VSphereClusterSpec,
}

impl VSphereCluster {
    /// A `VSphereCluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: VSphereClusterSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.into(),
            kind: "VSphereCluster".into(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`VSphereCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereClusterSpec {
    /// The API server endpoint.
    pub control_plane_endpoint: ApiEndpoint,
    /// The secret with the vCenter credentials.
    pub identity_ref: IdentityRef,
    /// vCenter host.
    pub server: Option<String>,
    /// vCenter certificate thumbprint (empty for a trusted certificate).
    pub thumbprint: String,
}

/// The credentials of a [`VSphereCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRef {
    /// `Secret`.
    pub kind: String,
    /// The secret's name.
    pub name: String,
}

/// A `VSphereMachineTemplate`: the virtual machine every machine of a group is cloned as.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `VSphereMachineTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: VSphereMachineTemplateSpec,
}

impl VSphereMachineTemplate {
    /// A `VSphereMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: ObjectMeta, spec: VSphereMachineSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.into(),
            kind: "VSphereMachineTemplate".into(),
            metadata,
            spec: VSphereMachineTemplateSpec {
                template: VSphereMachineTemplateResource { spec },
            },
        }
    }
}

/// The spec of a [`VSphereMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineTemplateSpec {
    /// The template resource.
    pub template: VSphereMachineTemplateResource,
}

/// The template resource of a [`VSphereMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineTemplateResource {
    /// The machine spec.
    pub spec: VSphereMachineSpec,
}

/// A vSphere virtual machine: where it is cloned from, its size and its placement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereMachineSpec {
    /// `fullClone` or `linkedClone`.
    pub clone_mode: Option<String>,
    /// The datacenter.
    pub datacenter: String,
    /// The datastore of the disks.
    pub datastore: Option<String>,
    /// System disk size.
    #[serde(rename = "diskGiB")]
    pub disk_gib: i64,
    /// VM folder.
    pub folder: String,
    /// Memory.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    /// Network interfaces.
    pub network: NetworkSpec,
    /// Virtual CPUs.
    #[serde(rename = "numCPUs")]
    pub num_cpus: i64,
    /// Resource pool.
    pub resource_pool: String,
    /// vCenter host.
    pub server: Option<String>,
    /// Storage policy of the disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_policy_name: Option<String>,
    /// The VM template cloned.
    pub template: Option<String>,
    /// vCenter certificate thumbprint.
    pub thumbprint: String,
    /// vSphere tags attached to the machine.
    #[serde(default, rename = "tagIDs", skip_serializing_if = "Option::is_none")]
    pub tag_ids: Option<Vec<String>>,
}

/// The network interfaces of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// One device per network.
    pub devices: Vec<NetworkDevice>,
}

/// One network interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkDevice {
    /// Address by DHCP.
    pub dhcp4: bool,
    /// The port group's name or path.
    pub network_name: Option<String>,
}

/// A `VSphereFailureDomain`: a region (the datacenter) and zone (a compute cluster) with
/// the datastore and network machines placed there use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereFailureDomain {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `VSphereFailureDomain`.
    pub kind: String,
    /// Name (cluster-scoped).
    pub metadata: ObjectMeta,
    /// Region, zone and topology.
    pub spec: VSphereFailureDomainSpec,
}

/// The spec of a [`VSphereFailureDomain`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereFailureDomainSpec {
    /// The region: the datacenter.
    pub region: FailureDomainLevel,
    /// The zone: a compute cluster.
    pub zone: FailureDomainLevel,
    /// Where machines of the domain go.
    pub topology: Topology,
}

/// A region or zone of a [`VSphereFailureDomain`], tagged in vCenter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailureDomainLevel {
    /// The datacenter's or compute cluster's name.
    pub name: Option<String>,
    /// `Datacenter` or `ComputeCluster`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The vCenter tag category.
    pub tag_category: String,
    /// Let CAPV create the tags.
    pub auto_configure: bool,
}

/// The placement of a [`VSphereFailureDomain`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Topology {
    /// Datacenter.
    pub datacenter: Option<String>,
    /// Compute cluster.
    pub compute_cluster: Option<String>,
    /// Datastore.
    pub datastore: Option<String>,
    /// Networks.
    pub networks: Vec<Option<String>>,
}

/// A `VSphereDeploymentZone`: a failure domain on a vCenter with its pool and folder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereDeploymentZone {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `VSphereDeploymentZone`.
    pub kind: String,
    /// Name and labels (cluster-scoped).
    pub metadata: ObjectMeta,
    /// The server, failure domain and placement.
    pub spec: VSphereDeploymentZoneSpec,
}

/// The spec of a [`VSphereDeploymentZone`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VSphereDeploymentZoneSpec {
    /// vCenter host.
    pub server: Option<String>,
    /// The [`VSphereFailureDomain`]'s name.
    pub failure_domain: String,
    /// Resource pool and folder.
    pub placement_constraint: PlacementConstraint,
}

/// The resource pool and folder of a [`VSphereDeploymentZone`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraint {
    /// Resource pool.
    pub resource_pool: Option<String>,
    /// VM folder.
    pub folder: Option<String>,
}
