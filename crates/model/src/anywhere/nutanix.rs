//! The Nutanix provider's objects: [`NutanixDatacenterConfig`] (the Prism Central endpoint,
//! its credentials and optional failure domains) and [`NutanixMachineConfig`] (size, image,
//! cluster, subnet and categories of one machine group).

use serde::{Deserialize, Serialize};

use super::{EmptyStatus, IntOrString, OsFamily, Ref, UserConfiguration, eksa_kind};
use crate::Condition;

eksa_kind! {
    /// The Prism Central a cluster's virtual machines are created through.
    NutanixDatacenterConfig {
        spec: NutanixDatacenterConfigSpec,
        status: EmptyStatus,
        plural: "nutanixdatacenterconfigs",
        aliases: ["nutanixdatacenterconfig"],
    }
}

/// How Prism Central is reached.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixDatacenterConfigSpec {
    /// Host name or address of Prism Central.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Port of Prism Central (9440 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// PEM CA certificates that signed Prism Central's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_trust_bundle: Option<String>,
    /// Skip verification of Prism Central's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// The `Secret` that holds the Prism Central credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_ref: Option<Ref>,
    /// Failure domains machines can be spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domains: Option<Vec<NutanixDatacenterFailureDomain>>,
    /// Node addresses, ranges (`a-b`) and CIDRs the cloud controller manager ignores. Go's
    /// decoder matches keys regardless of case and EKS Anywhere's samples also write
    /// `ccmExcludeNodeIps`; that spelling is accepted and printed as `ccmExcludeNodeIPs`.
    #[serde(
        default,
        rename = "ccmExcludeNodeIPs",
        alias = "ccmExcludeNodeIps",
        skip_serializing_if = "Option::is_none"
    )]
    pub ccm_exclude_node_ips: Option<Vec<String>>,
}

/// A Nutanix failure domain: a Prism Element cluster and its subnets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixDatacenterFailureDomain {
    /// Name of the failure domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The Prism Element cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<NutanixResourceIdentifier>,
    /// Subnets of the failure domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<NutanixResourceIdentifier>>,
    /// Worker node groups (names) placed in this failure domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_machine_groups: Option<Vec<String>>,
}

/// How a Nutanix object is identified.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum NutanixIdentifierType {
    /// By UUID.
    Uuid,
    /// By name.
    #[default]
    Name,
}

/// A Nutanix object named by UUID or by name, as `type` says.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixResourceIdentifier {
    /// Which of `uuid` and `name` identifies the object.
    #[serde(rename = "type")]
    pub type_: NutanixIdentifierType,
    /// UUID of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

eksa_kind! {
    /// The Nutanix virtual machines of one machine group.
    NutanixMachineConfig {
        spec: NutanixMachineConfigSpec,
        status: NutanixMachineConfigStatus,
        plural: "nutanixmachineconfigs",
        aliases: ["nutanixmachineconfig"],
    }
}

/// Size, image and placement of the machines of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixMachineConfigSpec {
    /// Operating system of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<OsFamily>,
    /// Login users created on the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserConfiguration>>,
    /// Virtual CPUs per socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus_per_socket: Option<i64>,
    /// CPU sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu_sockets: Option<i64>,
    /// Memory, a Kubernetes quantity such as `8Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<IntOrString>,
    /// The disk image the machines boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<NutanixResourceIdentifier>,
    /// The Prism Element cluster the machines run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<NutanixResourceIdentifier>,
    /// The subnet the machines are attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<NutanixResourceIdentifier>,
    /// The Prism Central project the machines belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<NutanixResourceIdentifier>,
    /// Size of the system disk, a Kubernetes quantity such as `40Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_size: Option<IntOrString>,
    /// Prism Central categories attached to the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_categories: Option<Vec<NutanixCategoryIdentifier>>,
    /// GPUs attached to the machines.
    #[serde(default, rename = "gpus", skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<NutanixGpuIdentifier>>,
    /// Firmware the machines boot with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_type: Option<NutanixBootType>,
}

/// A Prism Central category, key and value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixCategoryIdentifier {
    /// Category key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Category value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// How a GPU is identified.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NutanixGpuIdentifierType {
    /// By PCI device ID.
    #[serde(rename = "deviceID")]
    DeviceId,
    /// By name.
    #[serde(rename = "name")]
    Name,
}

/// A GPU attached to a machine, by device ID or by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixGpuIdentifier {
    /// Which of `deviceID` and `name` identifies the GPU.
    #[serde(rename = "type")]
    pub type_: NutanixGpuIdentifierType,
    /// PCI device ID of the GPU.
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<i64>,
    /// Name of the GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Firmware a Nutanix machine boots with.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum NutanixBootType {
    /// BIOS.
    Legacy,
    /// UEFI.
    Uefi,
}

/// What the Nutanix controller last observed of a machine config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NutanixMachineConfigStatus {
    /// Whether the machine is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Addresses of the machine (Cluster API `MachineAddress`es).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<serde_json::Value>>,
    /// UUID of the virtual machine.
    #[serde(default, rename = "vmUUID", skip_serializing_if = "Option::is_none")]
    pub vm_uuid: Option<String>,
    /// The node of the machine (a `corev1.ObjectReference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<serde_json::Value>,
    /// Cluster API style conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}
