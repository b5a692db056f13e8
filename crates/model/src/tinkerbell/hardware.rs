//! `Hardware`: one physical machine, its network interfaces (DHCP and netboot settings), its
//! disks, the instance metadata served to it, and what Tinkerbell observed about it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::values::{MacAddr, Netmask};
use crate::{ApiVersion, Kind, ObjectMeta};

/// A physical machine Tinkerbell can boot and provision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hardware {
    /// `apiVersion`: always `tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Hardware>,
    /// `kind`: always `Hardware`.
    #[serde(default)]
    pub kind: Kind<Hardware>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired configuration of the machine.
    #[serde(default)]
    pub spec: HardwareSpec,
    /// What Tinkerbell observed about the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HardwareStatus>,
}
crate::impl_resource!(
    Hardware,
    "tinkerbell.org/v1alpha1",
    "Hardware",
    "hardware",
    aliases = ["hw"]
);

impl Hardware {
    /// The interfaces, or an empty slice when none are declared.
    pub fn interfaces(&self) -> &[Interface] {
        self.spec.interfaces.as_deref().unwrap_or_default()
    }

    /// The interface whose `dhcp.mac` is `mac`.
    pub fn interface_by_mac(&self, mac: MacAddr) -> Option<&Interface> {
        self.interfaces().iter().find(|i| i.mac() == Some(mac))
    }

    /// The interface whose `dhcp.ip.address` is `ip`.
    pub fn interface_by_ip(&self, ip: IpAddr) -> Option<&Interface> {
        self.interfaces()
            .iter()
            .find(|i| i.ip_address() == Some(ip))
    }

    /// Every MAC address declared in `spec.interfaces[].dhcp.mac`, in order.
    pub fn macs(&self) -> Vec<MacAddr> {
        self.interfaces()
            .iter()
            .filter_map(Interface::mac)
            .collect()
    }

    /// Every IP address declared in `spec.interfaces[].dhcp.ip.address`, in order.
    pub fn ips(&self) -> Vec<IpAddr> {
        self.interfaces()
            .iter()
            .filter_map(Interface::ip_address)
            .collect()
    }

    /// `spec.metadata.instance`, when present.
    pub fn instance(&self) -> Option<&MetadataInstance> {
        self.spec.metadata.as_ref()?.instance.as_ref()
    }
}

/// Desired configuration of a [`Hardware`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardwareSpec {
    /// Identifier an agent uses for this machine during discovery (usually its primary MAC).
    #[serde(default, rename = "agentID", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Settings of the automatic capabilities, such as auto-enrollment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<AutoCapabilities>,
    /// The BMC object (e.g. a `bmc.tinkerbell.org` `Machine`) in the same namespace that manages this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc_ref: Option<TypedLocalObjectReference>,
    /// Network interfaces with their DHCP and boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<Interface>>,
    /// Named links to other objects, available to templates as `.references.NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<BTreeMap<String, Reference>>,
    /// Instance metadata served to the machine by the metadata service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HardwareMetadata>,
    /// Version counter kept for compatibility with older Tinkerbell releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tink_version: Option<i64>,
    /// Disk devices of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<Disk>>,
    /// Known resources of the machine (e.g. `cpu: 8`), usable for scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<BTreeMap<String, Quantity>>,
    /// User data served in the machine's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Vendor data served in the machine's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_data: Option<String>,
}

/// Settings of the automatic capabilities of a [`Hardware`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoCapabilities {
    /// Whether auto-enrollment creates Workflows for this machine (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_enabled: Option<bool>,
}

/// A reference to an object of a given kind in the same namespace (Kubernetes'
/// `TypedLocalObjectReference`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypedLocalObjectReference {
    /// API group of the referent; absent means the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
}

/// A link from a [`Hardware`] to any other object, by group, version, resource and name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reference {
    /// Namespace of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// API group of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Lower-case plural resource name of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A Kubernetes resource quantity: an integer (`8`) or a string (`"16Gi"`), kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// A plain integer.
    Int(i64),
    /// A quantity string such as `500m` or `16Gi`.
    String(String),
}

impl Default for Quantity {
    fn default() -> Self {
        Self::Int(0)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::String(s) => f.write_str(s),
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Int(i) => s.serialize_i64(*i),
            Self::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a quantity string such as \"16Gi\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                i64::try_from(v)
                    .map(Quantity::Int)
                    .map_err(|_| E::custom(format_args!("quantity {v} is too large")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::String(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One network interface of a [`Hardware`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Interface {
    /// Network boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netboot: Option<Netboot>,
    /// ISO boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isoboot: Option<Isoboot>,
    /// DHCP settings: address, lease and options handed to the interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<Dhcp>,
    /// Whether DHCP is disabled for this interface (default false).
    #[serde(
        default,
        rename = "disableDhcp",
        skip_serializing_if = "Option::is_none"
    )]
    pub disable_dhcp: Option<bool>,
}

impl Interface {
    /// `dhcp.mac`.
    pub fn mac(&self) -> Option<MacAddr> {
        self.dhcp.as_ref()?.mac
    }

    /// `dhcp.ip.address`.
    pub fn ip_address(&self) -> Option<IpAddr> {
        self.dhcp.as_ref()?.ip.as_ref()?.address
    }

    /// `netboot.allowPXE`, false when unset.
    pub fn allow_pxe(&self) -> bool {
        self.netboot
            .as_ref()
            .and_then(|n| n.allow_pxe)
            .unwrap_or(false)
    }

    /// `netboot.allowWorkflow`, false when unset.
    pub fn allow_workflow(&self) -> bool {
        self.netboot
            .as_ref()
            .and_then(|n| n.allow_workflow)
            .unwrap_or(false)
    }

    /// `disableDhcp`, false when unset.
    pub fn dhcp_disabled(&self) -> bool {
        self.disable_dhcp.unwrap_or(false)
    }
}

/// Network boot settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Netboot {
    /// Whether the interface may network-boot at all.
    #[serde(default, rename = "allowPXE", skip_serializing_if = "Option::is_none")]
    pub allow_pxe: Option<bool>,
    /// Whether the interface may boot into the workflow environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_workflow: Option<bool>,
    /// iPXE script settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipxe: Option<Ipxe>,
    /// Settings of the installation environment (OSIE) to boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osie: Option<Osie>,
    /// PXELinux (u-boot `pxelinux.cfg`) settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pxelinux: Option<Pxelinux>,
    /// Raspberry Pi firmware network boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpi: Option<Rpi>,
}

/// ISO boot settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Isoboot {
    /// HTTP(S) URL of the installation environment ISO.
    #[serde(default, rename = "sourceISO", skip_serializing_if = "Option::is_none")]
    pub source_iso: Option<String>,
}

/// iPXE settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ipxe {
    /// URL of an iPXE script to chain-load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An inline iPXE script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<String>,
    /// iPXE binary to serve instead of the one mapped from the architecture (e.g. `ipxe.efi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

/// Installation environment (OSIE) settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Osie {
    /// Base URL the kernel and initrd are fetched from.
    #[serde(default, rename = "baseURL", skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Kernel file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Initrd file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<String>,
    /// Kernel command line parameters replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_params: Option<Vec<String>>,
}

/// PXELinux settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pxelinux {
    /// extlinux-format configuration replacing the generated `pxelinux.cfg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// Raspberry Pi firmware network boot settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rpi {
    /// Content served as the Pi's `config.txt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_txt: Option<String>,
    /// Directory the generic firmware files are served from instead of the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_path: Option<String>,
    /// The Pi's serial number (full, or its last 8 characters).
    pub serial_num: String,
}

/// DHCP settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Dhcp {
    /// MAC address (printed lower-case and colon-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Host name handed out (option 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Domain name handed out (option 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Lease time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_time: Option<i64>,
    /// DNS servers handed out (option 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_servers: Option<Vec<IpAddr>>,
    /// NTP servers handed out (option 42).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_servers: Option<Vec<IpAddr>>,
    /// CPU architecture, e.g. `x86_64` or `aarch64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Whether the machine boots with UEFI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uefi: Option<bool>,
    /// Name of the interface in the operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface_name: Option<String>,
    /// IP address settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ip>,
    /// VLAN id(s), a comma-separated list of numbers from 0 to 4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<String>,
    /// Static routes handed out in option 121 (RFC 3442).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classless_static_routes: Option<Vec<ClasslessStaticRoute>>,
    /// TFTP server name (option 66); set together with `boot_file_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tftp_server_name: Option<String>,
    /// Boot file name (option 67); set together with `tftp_server_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_file_name: Option<String>,
}

/// IP address settings of an interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Ip {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Subnet mask in dotted form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<Netmask>,
    /// Default gateway (option 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Address family: 4 or 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<i64>,
}

/// A static route for DHCP option 121.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClasslessStaticRoute {
    /// Destination network as `address/prefix-length`, e.g. `192.168.1.0/24`.
    pub destination_descriptor: ipnet::Ipv4Net,
    /// IPv4 address of the router for the destination.
    pub router: Ipv4Addr,
}

/// A disk device of a [`Hardware`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disk {
    /// Device path, e.g. `/dev/sda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Instance metadata of a [`Hardware`], in the Equinix Metal-style layout Hegel serves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HardwareMetadata {
    /// Free-form state of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Network bonding mode number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonding_mode: Option<i64>,
    /// Manufacturer of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<MetadataManufacturer>,
    /// The instance (operating system installation) on the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<MetadataInstance>,
    /// Custom data: preinstalled OS and private subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<MetadataCustom>,
    /// Facility and plan of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<MetadataFacility>,
}

/// Manufacturer part of the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataManufacturer {
    /// Manufacturer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Manufacturer slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// The instance installed on the machine, as served by the metadata service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstance {
    /// Instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Instance state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Instance host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Whether the instance may network-boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_pxe: Option<bool>,
    /// Whether the instance is in rescue mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescue: Option<bool>,
    /// Operating system of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<MetadataOperatingSystem>,
    /// Whether the instance network-boots on every boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_pxe: Option<bool>,
    /// URL of a custom iPXE script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipxe_script_url: Option<String>,
    /// IP addresses of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<MetadataInstanceIp>>,
    /// User data of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata: Option<String>,
    /// Crypted root password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypted_root_password: Option<String>,
    /// Tags of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Storage layout: disks, RAID arrays and filesystems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<MetadataInstanceStorage>,
    /// SSH public keys authorized on the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_keys: Option<Vec<String>>,
    /// Whether the instance's network is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_ready: Option<bool>,
}

/// An operating system description in the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataOperatingSystem {
    /// OS slug, e.g. `ubuntu_22_04`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Distribution name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Distribution version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Tag of the OS image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// Alternative OS slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_slug: Option<String>,
}

/// An IP address of the instance in the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceIp {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// Subnet mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<Netmask>,
    /// Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Address family: 4 or 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<i64>,
    /// Whether the address is public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// Whether the address is the management address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<bool>,
}

/// Storage layout of the instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorage {
    /// Disks and their partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<MetadataInstanceStorageDisk>>,
    /// Software RAID arrays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raid: Option<Vec<MetadataInstanceStorageRaid>>,
    /// Filesystems to create and mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystems: Option<Vec<MetadataInstanceStorageFilesystem>>,
}

/// A disk in the storage layout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageDisk {
    /// Device path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Whether to wipe the partition table first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe_table: Option<bool>,
    /// Partitions to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Vec<MetadataInstanceStorageDiskPartition>>,
}

/// A partition of a disk in the storage layout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageDiskPartition {
    /// Partition label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Partition number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    /// Partition size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Start offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<i64>,
    /// GPT partition type GUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_guid: Option<String>,
}

/// A software RAID array in the storage layout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageRaid {
    /// Array name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RAID level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Member devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
    /// Number of spare devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spare: Option<i64>,
}

/// A filesystem in the storage layout.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageFilesystem {
    /// How the filesystem is created and mounted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<MetadataInstanceStorageMount>,
}

/// Creation and mount settings of a filesystem.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageMount {
    /// Device holding the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Filesystem format, e.g. `ext4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Files to write into the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<MetadataInstanceStorageFile>>,
    /// Options for creating the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<MetadataInstanceStorageMountFilesystemOptions>,
    /// Mount point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
}

/// A file written into a filesystem.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageFile {
    /// Path of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Content of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<String>,
    /// Permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i64>,
    /// Owner user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    /// Owner group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
}

/// Options for creating a filesystem.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataInstanceStorageMountFilesystemOptions {
    /// Whether to overwrite an existing filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Extra options passed to mkfs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// Custom part of the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataCustom {
    /// Operating system preinstalled on the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preinstalled_operating_system_version: Option<MetadataOperatingSystem>,
    /// Private subnets of the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnets: Option<Vec<String>>,
}

/// Facility part of the metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetadataFacility {
    /// Plan slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_slug: Option<String>,
    /// Plan version slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_version_slug: Option<String>,
    /// Facility code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_code: Option<String>,
}

/// Observed state of a [`Hardware`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardwareStatus {
    /// Overall state; upstream uses `Ready` and `Error` (see [`HardwareStatus::READY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Hardware attributes observed by Tinkerbell, one subtree per collection path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<HardwareAttributes>,
}

impl HardwareStatus {
    /// The `Ready` state.
    pub const READY: &'static str = "Ready";
    /// The `Error` state.
    pub const ERROR: &'static str = "Error";
}

/// Observed hardware attributes, split by the path that collected them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardwareAttributes {
    /// Attributes collected through the BMC before the machine boots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_band: Option<Attributes>,
}

/// A description of a machine's hardware; every field is optional because each collector
/// reports only what it can see.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attributes {
    /// RFC 3339 time this subtree was last refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<crate::Timestamp>,
    /// What produced the subtree: `agent`, or the BMC driver (e.g. `redfish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_method: Option<String>,
    /// CPU totals and sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory totals and modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Storage drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_devices: Option<Vec<BlockDevice>>,
    /// The host's network adapters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<NetworkInterface>>,
    /// GPUs and accelerators.
    #[serde(
        default,
        rename = "gpuDevices",
        skip_serializing_if = "Option::is_none"
    )]
    pub gpu_devices: Option<Vec<GpuDevice>>,
    /// PCI devices.
    #[serde(
        default,
        rename = "pciDevices",
        skip_serializing_if = "Option::is_none"
    )]
    pub pci_devices: Option<Vec<PciDevice>>,
    /// The enclosure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chassis: Option<Chassis>,
    /// The mainboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseboard: Option<Baseboard>,
    /// The BIOS firmware.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios: Option<Bios>,
    /// The system's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    /// The BMC itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc: Option<Bmc>,
    /// Power supply units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psus: Option<Vec<Psu>>,
    /// Trusted platform modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpms: Option<Vec<Tpm>>,
    /// Storage controllers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_controllers: Option<Vec<StorageController>>,
}

/// Aggregate CPU totals and per-socket detail.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cpu {
    /// Total number of cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cores: Option<i32>,
    /// Total number of hardware threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_threads: Option<i32>,
    /// The physical CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<CpuSocket>>,
}

/// One physical CPU.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuSocket {
    /// Socket name, e.g. `CPU1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Number of cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<i32>,
    /// Number of hardware threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<i32>,
    /// Clock speed in MHz.
    #[serde(
        default,
        rename = "clockSpeedMHz",
        skip_serializing_if = "Option::is_none"
    )]
    pub clock_speed_mhz: Option<i32>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// CPU feature flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// Firmware (microcode) version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
}

/// Aggregate memory totals and per-module detail.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Memory {
    /// Installed memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<i64>,
    /// Memory usable by the OS in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_bytes: Option<i64>,
    /// The memory modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modules: Option<Vec<MemoryModule>>,
}

/// One memory module.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryModule {
    /// Slot name, e.g. `DIMM.A1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Part number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_number: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Speed in MHz.
    #[serde(default, rename = "speedMHz", skip_serializing_if = "Option::is_none")]
    pub speed_mhz: Option<i32>,
    /// Form factor, e.g. `RDIMM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_factor: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
}

/// One storage drive.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockDevice {
    /// OS device name, e.g. `nvme0n1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Controller type, e.g. `NVMe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_type: Option<String>,
    /// Drive type, e.g. `SSD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_type: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// World Wide Name, the key that joins in-band and out-of-band reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wwn: Option<String>,
    /// Capacity in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Physical block size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_block_size_bytes: Option<i64>,
    /// SMART health status, e.g. `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_status: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// A network adapter and its ports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkInterface {
    /// OS interface name, e.g. `eno1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Physical ports of the adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPort>>,
}

/// One physical port of a network adapter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPort {
    /// Port name as the BMC reports it, e.g. `NIC.Embedded.1`.
    #[serde(default, rename = "portID", skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// MAC address of the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Link speed in Mbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_mbps: Option<i32>,
    /// MTU in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i32>,
    /// Link status, e.g. `Up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_status: Option<String>,
    /// Enabled offloads and features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_capabilities: Option<Vec<String>>,
}

/// A GPU or accelerator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GpuDevice {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// PCI device class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Loaded kernel driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// A device on the PCI bus.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PciDevice {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// PCI device class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Loaded kernel driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// The enclosure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Chassis {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// The mainboard.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Baseboard {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// The BIOS firmware.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bios {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Release date as reported, format unspecified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Health, state and POST code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// The system's own identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    /// Product name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number (service tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// The BMC's own firmware and management NIC.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bmc {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// The BMC's management network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<NetworkInterface>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// A power supply unit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Psu {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Rated capacity in watts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_capacity_watts: Option<i64>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// A trusted platform module.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tpm {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Interface type, e.g. `TPM2_0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// A storage controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageController {
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// Health and state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComponentStatus>,
}

/// Health and state reported for one component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentStatus {
    /// Health, e.g. `OK` or `Warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// State, e.g. `Enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Last POST code (0 means success); meaningful for the BIOS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code: Option<i32>,
    /// Meaning of the POST code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code_status: Option<String>,
}
