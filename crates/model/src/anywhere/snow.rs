//! The Snow provider's objects: [`SnowDatacenterConfig`] (the credentials of the Snowball
//! devices), [`SnowMachineConfig`] (instance type, AMI, devices, volumes and network of one
//! machine group) and [`SnowIPPool`] (static address pools for direct network interfaces).

use serde::{Deserialize, Serialize};

use super::{EmptyStatus, HostOsConfiguration, OsFamily, Ref, SpecValidStatus, eksa_kind};

eksa_kind! {
    /// The Snowball devices' credentials for a cluster.
    SnowDatacenterConfig {
        spec: SnowDatacenterConfigSpec,
        status: EmptyStatus,
        plural: "snowdatacenterconfigs",
        aliases: ["snowdatacenterconfig"],
    }
}

/// Settings of a [`SnowDatacenterConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowDatacenterConfigSpec {
    /// The `Secret` that holds the devices' credentials and CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_ref: Option<Ref>,
}

eksa_kind! {
    /// The Snow EC2 instances of one machine group.
    SnowMachineConfig {
        spec: SnowMachineConfigSpec,
        status: SpecValidStatus,
        plural: "snowmachineconfigs",
        aliases: ["snowmachineconfig"],
    }
}

/// Instance type, image, devices and network of the machines of a group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowMachineConfigSpec {
    /// ID of the AMI the instances boot; the release's when absent.
    #[serde(default, rename = "amiID", skip_serializing_if = "Option::is_none")]
    pub ami_id: Option<String>,
    /// EC2 instance type, e.g. `sbe-c.large`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Physical network connector of the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_network_connector: Option<PhysicalNetworkConnectorType>,
    /// Name of the EC2 key pair for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_name: Option<String>,
    /// Addresses of the Snowball devices the instances may run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
    /// Volume for the container runtime's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers_volume: Option<SnowVolume>,
    /// Extra volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_root_volumes: Option<Vec<SnowVolume>>,
    /// Operating system of the AMI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<OsFamily>,
    /// Network interfaces of the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<SnowNetwork>,
    /// Host OS settings: NTP, CA bundles, Bottlerocket settings.
    #[serde(
        default,
        rename = "hostOSConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_os_configuration: Option<HostOsConfiguration>,
}

/// Physical network connector of a Snowball device.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhysicalNetworkConnectorType {
    /// SFP+.
    #[serde(rename = "SFP_PLUS")]
    SfpPlus,
    /// QSFP.
    #[serde(rename = "QSFP")]
    Qsfp,
    /// RJ45.
    #[serde(rename = "RJ45")]
    Rj45,
}

/// A volume of a Snow instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowVolume {
    /// Device name, e.g. `/dev/sdc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// Size in GiB (at least 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Volume type: `sbp1` (capacity HDD) or `sbg1` (performance SSD).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// Network interfaces of Snow instances.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowNetwork {
    /// Direct network interfaces (DNIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_network_interfaces: Option<Vec<SnowDirectNetworkInterface>>,
}

/// One direct network interface of a Snow instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowDirectNetworkInterface {
    /// Index of the interface, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    /// VLAN the interface is on.
    #[serde(default, rename = "vlanID", skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<i32>,
    /// Take an address by DHCP.
    #[serde(default, rename = "dhcp", skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<bool>,
    /// The [`SnowIPPool`] static addresses come from (without DHCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_pool_ref: Option<Ref>,
    /// Whether this is the instance's primary interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

eksa_kind! {
    /// Static address pools for Snow instances' direct network interfaces.
    SnowIPPool {
        spec: SnowIpPoolSpec,
        status: EmptyStatus,
        plural: "snowippools",
        aliases: ["snowippool"],
    }
}

/// The pools of a [`SnowIPPool`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnowIpPoolSpec {
    /// Address ranges with their subnet and gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<IpPool>>,
}

/// A range of addresses in one subnet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpPool {
    /// First address of the range.
    #[serde(default, rename = "ipStart", skip_serializing_if = "Option::is_none")]
    pub ip_start: Option<String>,
    /// Last address of the range.
    #[serde(default, rename = "ipEnd", skip_serializing_if = "Option::is_none")]
    pub ip_end: Option<String>,
    /// Subnet of the range, as a CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Gateway of the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}
