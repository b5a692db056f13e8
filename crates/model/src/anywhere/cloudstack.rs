//! The CloudStack provider's objects: [`CloudStackDatacenterConfig`] (the availability zones
//! — zone, network, domain, account and API endpoint — a cluster may use) and
//! [`CloudStackMachineConfig`] (template, offerings and placement of one machine group).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{SpecValidStatus, UserConfiguration, eksa_kind};

eksa_kind! {
    /// The CloudStack availability zones a cluster's machines are placed in.
    CloudStackDatacenterConfig {
        spec: CloudStackDatacenterConfigSpec,
        status: SpecValidStatus,
        plural: "cloudstackdatacenterconfigs",
        aliases: ["cloudstackdatacenterconfig"],
    }
}

/// Where in CloudStack the cluster runs. The top-level `domain`, `zones`, `account` and
/// `managementApiEndpoint` are the deprecated form of one availability zone.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackDatacenterConfigSpec {
    /// Deprecated: domain of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Deprecated: zones and their networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<Vec<CloudStackZone>>,
    /// Deprecated: account the resources belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Deprecated: URL of the CloudStack API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_api_endpoint: Option<String>,
    /// The availability zones machines are spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<CloudStackAvailabilityZone>>,
}

/// A CloudStack object named by ID or by name (one of them is set).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackResourceIdentifier {
    /// ID of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A CloudStack zone and the network machines are attached to there.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackZone {
    /// ID of the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name of the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The network in the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<CloudStackResourceIdentifier>,
}

/// One availability zone: a zone reached through one endpoint with one set of credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackAvailabilityZone {
    /// Name of the availability zone, unique in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Name of the credentials profile (a section of the CloudStack `.ini` file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<String>,
    /// The zone and its network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<CloudStackZone>,
    /// Domain of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Account the resources belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// URL of the CloudStack API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_api_endpoint: Option<String>,
}

eksa_kind! {
    /// The CloudStack virtual machines of one machine group.
    CloudStackMachineConfig {
        spec: CloudStackMachineConfigSpec,
        status: SpecValidStatus,
        plural: "cloudstackmachineconfigs",
        aliases: ["cloudstackmachineconfig"],
    }
}

/// Template, offerings and placement of the machines of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackMachineConfigSpec {
    /// The template the machines are created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<CloudStackResourceIdentifier>,
    /// The compute offering (CPU and memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_offering: Option<CloudStackResourceIdentifier>,
    /// An extra data disk, mounted on the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_offering: Option<CloudStackResourceDiskOffering>,
    /// Login users created on the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserConfiguration>>,
    /// Placement of the machines relative to each other: `pro`, `anti` or `no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    /// Existing affinity groups the machines join (instead of `affinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_group_ids: Option<Vec<String>>,
    /// Extra details passed to CloudStack when deploying a machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_custom_details: Option<BTreeMap<String, String>>,
    /// Symbolic links created on the machine, link path to target path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlinks: Option<BTreeMap<String, String>>,
}

/// A data disk from a disk offering, formatted and mounted on the machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudStackResourceDiskOffering {
    /// ID of the disk offering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name of the disk offering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Size in GB, for an offering with a custom size.
    #[serde(
        default,
        rename = "customSizeInGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_size_in_gb: Option<i64>,
    /// Where the disk is mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    /// Device of the disk, e.g. `/dev/vdb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// File system created on it, e.g. `ext4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<String>,
    /// File system label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}
