//! Rows to typed objects: a Hardware per row, and a BMC Machine and its Secret per row with
//! a BMC. See the crate documentation for every field set and why.

use std::net::IpAddr;

use ironbell_model::bmc::{Connection, Machine, MachineSpec, ProviderOptions};
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{
    Dhcp, Disk, Hardware, HardwareMetadata, HardwareSpec, Interface, Ip, MetadataFacility,
    MetadataInstance, MetadataInstanceIp, MetadataOperatingSystem, Netboot,
    TypedLocalObjectReference,
};
use ironbell_model::{Labels, NamespacedRef, Netmask, Object, ObjectMeta};

use crate::{Bmc, Row};

/// The namespace EKS Anywhere puts hardware objects in.
pub const DEFAULT_NAMESPACE: &str = "eksa-system";

/// DHCP lease time EKS Anywhere sets: 2^32 - 2 seconds, effectively infinite.
const LEASE_TIME: i64 = (1 << 32) - 2;
/// Architecture EKS Anywhere declares for every machine.
const ARCH: &str = "x86_64";
/// `spec.metadata.facility.facility_code`.
const FACILITY_CODE: &str = "onprem";
/// `spec.metadata.facility.plan_slug`.
const PLAN_SLUG: &str = "c2.medium.x86";
/// API group of Rufio's Machine, referenced by `spec.bmcRef`.
const BMC_API_GROUP: &str = "bmc.tinkerbell.org";
/// Kind referenced by `spec.bmcRef`.
const BMC_KIND: &str = "Machine";
/// The provider EKS Anywhere asks Rufio to try first (Redfish).
const PREFERRED_PROVIDER: &str = "gofish";
/// Type of the BMC credentials Secret.
const SECRET_TYPE: &str = "kubernetes.io/basic-auth";
/// Label that makes `clusterctl move` carry an object to the new management cluster.
const CLUSTERCTL_MOVE_LABEL: &str = "clusterctl.cluster.x-k8s.io/move";

/// The objects of a file, grouped by kind; each list is in row order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// One Hardware per row.
    pub hardware: Vec<Hardware>,
    /// One BMC Machine per row with a BMC.
    pub machines: Vec<Machine>,
    /// One credentials Secret per row with a BMC.
    pub secrets: Vec<Secret>,
}

/// Translates validated rows into objects in `namespace`.
pub fn translate(rows: &[Row], namespace: &str) -> Objects {
    let mut objects = Objects {
        hardware: Vec::with_capacity(rows.len()),
        ..Objects::default()
    };
    for row in rows {
        objects.hardware.push(hardware(row, namespace));
        if let Some(bmc) = &row.bmc {
            objects.machines.push(machine(row, bmc, namespace));
            objects.secrets.push(secret(row, bmc, namespace));
        }
    }
    objects
}

/// Translates validated rows into objects in `namespace`, row by row: the Hardware, then its
/// Machine and Secret when the row has a BMC (the order EKS Anywhere writes them in).
pub fn to_objects(rows: &[Row], namespace: &str) -> Vec<Object> {
    let mut out = Vec::with_capacity(rows.len() * 3);
    for row in rows {
        out.push(Object::Hardware(hardware(row, namespace)));
        if let Some(bmc) = &row.bmc {
            out.push(Object::Machine(machine(row, bmc, namespace)));
            out.push(Object::Secret(secret(row, bmc, namespace)));
        }
    }
    out
}

/// Name of the BMC Machine of a row: `bmc-<hostname>`.
fn machine_name(row: &Row) -> String {
    format!("bmc-{}", row.hostname)
}

/// Name of the Secret of a BMC Machine: `<machine>-auth`.
fn auth_secret_name_of(machine: &str) -> String {
    format!("{machine}-auth")
}

fn hardware(row: &Row, namespace: &str) -> Hardware {
    let (ip, netmask, gateway) = (
        IpAddr::V4(row.ip),
        Netmask::new(row.netmask.into()),
        IpAddr::V4(row.gateway),
    );
    let mut metadata = ObjectMeta::named(namespace, &row.hostname);
    if !row.labels.is_empty() {
        metadata.labels = Some(row.labels.clone());
    }
    let interface = Interface {
        netboot: Some(Netboot {
            allow_pxe: Some(true),
            allow_workflow: Some(true),
            ..Netboot::default()
        }),
        dhcp: Some(Dhcp {
            mac: Some(row.mac),
            hostname: Some(row.hostname.clone()),
            lease_time: Some(LEASE_TIME),
            name_servers: Some(row.nameservers.clone()),
            arch: Some(ARCH.to_string()),
            uefi: Some(true),
            ip: Some(Ip {
                address: Some(ip),
                netmask,
                gateway: Some(gateway),
                family: Some(4),
            }),
            vlan_id: row.vlan_id.map(|v| v.to_string()),
            ..Dhcp::default()
        }),
        ..Interface::default()
    };
    let instance = MetadataInstance {
        id: Some(row.mac.to_string()),
        hostname: Some(row.hostname.clone()),
        allow_pxe: Some(true),
        always_pxe: Some(true),
        operating_system: Some(MetadataOperatingSystem::default()),
        ips: Some(vec![MetadataInstanceIp {
            address: Some(ip),
            netmask,
            gateway: Some(gateway),
            family: Some(4),
            public: Some(true),
            ..MetadataInstanceIp::default()
        }]),
        ..MetadataInstance::default()
    };
    Hardware {
        metadata,
        spec: HardwareSpec {
            bmc_ref: row.bmc.as_ref().map(|_| TypedLocalObjectReference {
                api_group: Some(BMC_API_GROUP.to_string()),
                kind: BMC_KIND.to_string(),
                name: machine_name(row),
            }),
            interfaces: Some(vec![interface]),
            metadata: Some(HardwareMetadata {
                instance: Some(instance),
                facility: Some(MetadataFacility {
                    facility_code: Some(FACILITY_CODE.to_string()),
                    plan_slug: Some(PLAN_SLUG.to_string()),
                    ..MetadataFacility::default()
                }),
                ..HardwareMetadata::default()
            }),
            disks: Some(vec![Disk {
                device: Some(row.disk.clone()),
            }]),
            ..HardwareSpec::default()
        },
        ..Hardware::default()
    }
}

fn machine(row: &Row, bmc: &Bmc, namespace: &str) -> Machine {
    let name = machine_name(row);
    Machine {
        metadata: ObjectMeta::named(namespace, &name),
        spec: MachineSpec {
            connection: Connection {
                host: bmc.ip.to_string(),
                // EKS Anywhere writes an explicit 0: each provider then uses its own default
                // port (Redfish 443, IPMI 623).
                port: Some(0),
                auth_secret_ref: Some(NamespacedRef {
                    name: Some(auth_secret_name_of(&name)),
                    namespace: Some(namespace.to_string()),
                }),
                insecure_tls: true,
                provider_options: Some(ProviderOptions {
                    preferred_order: Some(vec![PREFERRED_PROVIDER.to_string()]),
                    ..ProviderOptions::default()
                }),
            },
        },
        ..Machine::default()
    }
}

fn secret(row: &Row, bmc: &Bmc, namespace: &str) -> Secret {
    let name = auth_secret_name_of(&machine_name(row));
    let mut secret = Secret::basic_auth(namespace, name, &bmc.username, &bmc.password);
    secret.type_ = Some(SECRET_TYPE.to_string());
    secret.metadata.labels = Some(Labels::from([(
        CLUSTERCTL_MOVE_LABEL.to_string(),
        "true".to_string(),
    )]));
    secret
}
