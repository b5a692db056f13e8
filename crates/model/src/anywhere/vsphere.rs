//! The vSphere provider's objects: [`VSphereDatacenterConfig`] (the vCenter, its datacenter
//! and network, and optional failure domains) and [`VSphereMachineConfig`] (the virtual
//! machines of one group: template, size, placement and OS).

use serde::{Deserialize, Serialize};

use super::{
    EmptyStatus, HostOsConfiguration, OsFamily, SpecValidStatus, UserConfiguration, eksa_kind,
};

eksa_kind! {
    /// The vCenter a cluster's virtual machines are created in.
    VSphereDatacenterConfig {
        spec: VSphereDatacenterConfigSpec,
        status: SpecValidStatus,
        plural: "vspheredatacenterconfigs",
        aliases: ["vspheredatacenterconfig"],
    }
}

/// Where in vCenter the cluster runs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VSphereDatacenterConfigSpec {
    /// The vSphere datacenter, a name or an inventory path (`/SDDC-Datacenter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// The VM network, a name or a full path (`/SDDC-Datacenter/network/sddc-cgw-network-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Host name or address of the vCenter server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// SHA-1 thumbprint of the vCenter certificate, for a self-signed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// Skip verification of the vCenter certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Failure domains machines can be spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domains: Option<Vec<VSphereFailureDomain>>,
}

/// One vSphere failure domain: a compute cluster with its pool, datastore, folder and
/// network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VSphereFailureDomain {
    /// Name, referenced from worker node groups' `failureDomains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Path of the compute cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_cluster: Option<String>,
    /// Path of the resource pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_pool: Option<String>,
    /// Path of the datastore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<String>,
    /// Path of the VM folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Path of the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

eksa_kind! {
    /// The virtual machines of one machine group on vSphere.
    VSphereMachineConfig {
        spec: VSphereMachineConfigSpec,
        status: EmptyStatus,
        plural: "vspheremachineconfigs",
        aliases: ["vspheremachineconfig"],
    }
}

/// Size, placement and OS of the virtual machines of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VSphereMachineConfigSpec {
    /// Size of the system disk in GiB.
    #[serde(default, rename = "diskGiB", skip_serializing_if = "Option::is_none")]
    pub disk_gib: Option<i64>,
    /// Datastore the disks are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<String>,
    /// VM folder the machines are put in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Virtual CPUs.
    #[serde(default, rename = "numCPUs", skip_serializing_if = "Option::is_none")]
    pub num_cpus: Option<i64>,
    /// Memory in MiB.
    #[serde(default, rename = "memoryMiB", skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<i64>,
    /// Operating system of the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<OsFamily>,
    /// Resource pool the machines run in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_pool: Option<String>,
    /// Storage policy for the disks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_policy_name: Option<String>,
    /// Networks attached to the machines; the datacenter's network when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    /// Path of the VM template the machines are cloned from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Login users created on the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserConfiguration>>,
    /// vSphere tag IDs attached to the machines.
    #[serde(default, rename = "tags", skip_serializing_if = "Option::is_none")]
    pub tag_ids: Option<Vec<String>>,
    /// How the template is cloned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_mode: Option<CloneMode>,
    /// Host OS settings: NTP, CA bundles, Bottlerocket settings.
    #[serde(
        default,
        rename = "hostOSConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_os_configuration: Option<HostOsConfiguration>,
}

/// How a vSphere template is cloned into a machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub enum CloneMode {
    /// An independent copy of the template's disks.
    FullClone,
    /// A copy-on-write clone sharing the template's disks (needs a snapshot).
    LinkedClone,
}
