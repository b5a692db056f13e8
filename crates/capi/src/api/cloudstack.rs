//! CAPC's kinds (`infrastructure.cluster.x-k8s.io/v1beta3`): [`CloudStackCluster`] (the
//! endpoint and the failure domains, one per availability zone) and
//! [`CloudStackMachineTemplate`] (template, offerings and placement of a machine group), and
//! the [`CredentialsSecret`] each availability zone's `acsEndpoint` names.
//!
//! Field names follow CAPC v1beta3. A machine template prints what EKS Anywhere's Go
//! marshalling prints: `creationTimestamp: null`, an empty `sshKey`, and every disk offering
//! field but the identifier even when the machine config has no disk offering.

use serde::{Deserialize, Serialize};

use super::StringMap;

/// `apiVersion` of CAPC's kinds.
pub const CLOUDSTACK_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta3";

/// Metadata as Kubernetes' Go types marshal it for a new object: `creationTimestamp: null`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GoObjectMeta {
    /// Annotations, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Always `null` for an object that was never stored.
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    /// Name (omitted when empty, as Go's `omitempty` does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// A `CloudStackCluster`: the control-plane endpoint and where machines may be placed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudStackCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta3`.
    pub api_version: String,
    /// `CloudStackCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: super::ObjectMeta,
    /// The desired cluster.
    pub spec: CloudStackClusterSpec,
}

impl CloudStackCluster {
    /// A `CloudStackCluster` with the given metadata and spec.
    pub fn new(metadata: super::ObjectMeta, spec: CloudStackClusterSpec) -> Self {
        Self {
            api_version: CLOUDSTACK_API_VERSION.to_string(),
            kind: "CloudStackCluster".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`CloudStackCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudStackClusterSpec {
    /// The API server endpoint.
    pub control_plane_endpoint: super::cluster::ApiEndpoint,
    /// One failure domain per availability zone (`null` when there are none).
    pub failure_domains: Option<Vec<FailureDomain>>,
}

/// A CAPC failure domain: a zone and network of one CloudStack account and endpoint.
/// Unset names and identifiers print as `null`, as EKS Anywhere's template prints them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailureDomain {
    /// Availability zone name.
    pub name: Option<String>,
    /// Zone and network.
    pub zone: FailureDomainZone,
    /// CloudStack domain.
    pub domain: Option<String>,
    /// CloudStack account.
    pub account: Option<String>,
    /// The credentials secret of the zone's management endpoint.
    pub acs_endpoint: SecretRef,
}

/// A secret by name and namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// Secret namespace.
    pub namespace: String,
}

/// The zone of a [`FailureDomain`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureDomainZone {
    /// Zone ID.
    pub id: Option<String>,
    /// Zone name.
    pub name: Option<String>,
    /// Network of the zone.
    pub network: FailureDomainNetwork,
}

/// The network of a [`FailureDomainZone`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureDomainNetwork {
    /// Network ID.
    pub id: Option<String>,
    /// Network name.
    pub name: Option<String>,
}

/// A `CloudStackMachineTemplate`: the instances of one machine group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudStackMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta3`.
    pub api_version: String,
    /// `CloudStackMachineTemplate`.
    pub kind: String,
    /// Name, namespace and the disk offering and symlink annotations.
    pub metadata: GoObjectMeta,
    /// The template.
    pub spec: CloudStackMachineTemplateSpec,
}

impl CloudStackMachineTemplate {
    /// A `CloudStackMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: GoObjectMeta, machine: CloudStackMachineSpec) -> Self {
        Self {
            api_version: CLOUDSTACK_API_VERSION.to_string(),
            kind: "CloudStackMachineTemplate".to_string(),
            metadata,
            spec: CloudStackMachineTemplateSpec {
                template: CloudStackMachineTemplateResource { spec: machine },
            },
        }
    }
}

/// The spec of a [`CloudStackMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudStackMachineTemplateSpec {
    /// The template resource.
    pub template: CloudStackMachineTemplateResource,
}

/// The template resource of a [`CloudStackMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudStackMachineTemplateResource {
    /// The machine spec.
    pub spec: CloudStackMachineSpec,
}

/// A CloudStack instance's spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudStackMachineSpec {
    /// Host affinity of the group (`pro`, `anti`, `no`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    /// Existing affinity groups.
    #[serde(
        default,
        rename = "affinityGroupIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub affinity_group_ids: Option<Vec<String>>,
    /// Instance details passed to CloudStack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StringMap>,
    /// The data disk.
    pub disk_offering: DiskOffering,
    /// Compute offering.
    pub offering: ResourceIdentifier,
    /// SSH key pair name (EKS Anywhere leaves it empty: users come from cloud-init).
    pub ssh_key: String,
    /// The VM template.
    pub template: ResourceIdentifier,
}

/// A CloudStack resource by ID or name (each printed only when set).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceIdentifier {
    /// ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A disk offering and where its disk is mounted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiskOffering {
    /// The offering.
    #[serde(flatten)]
    pub offering: ResourceIdentifier,
    /// Size in GB of a custom-size offering (0 otherwise).
    #[serde(rename = "customSizeInGB")]
    pub custom_size_in_gb: i64,
    /// Mount point.
    pub mount_path: String,
    /// Device.
    pub device: String,
    /// File system type.
    pub filesystem: String,
    /// File system label.
    pub label: String,
}

/// A `v1` `Secret` with `stringData`, as EKS Anywhere writes the CloudStack credentials.
/// Its `Debug` hides the values.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecret {
    /// `v1`.
    pub api_version: String,
    /// `Secret`.
    pub kind: String,
    /// Name (the profile) and namespace.
    pub metadata: GoObjectMeta,
    /// Values in clear; the API server encodes them.
    pub string_data: StringMap,
}

impl std::fmt::Debug for CredentialsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsSecret")
            .field("metadata", &self.metadata)
            .field("keys", &self.string_data.keys().collect::<Vec<_>>())
            .finish()
    }
}
