//! The in-memory index of Hardware by MAC and by IPv4 address, kept current from the store.
//!
//! A [`SnapshotIndex`] (a reflector following every Hardware in the store) rebuilds an
//! immutable [`Snapshot`] with [`Snapshot::build`] after each batch of changes and swaps it
//! in, so readers never wait for the store. This module is only the build function and
//! the lookups.
//!
//! The index keeps a [`BootHardware`] per Hardware, not the Hardware: the few fields DHCP,
//! the iPXE script and the machine log read (names, facility, and per interface the MAC,
//! address, reservation, `allowPXE`, architecture, VLAN and iPXE settings). A typed
//! Hardware is several kilobytes even when most fields are empty; the record is a few
//! hundred bytes, which is what lets one replica hold 100,000 machines.
//!
//! Ambiguity is never guessed away: a MAC declared by two Hardware, or an IPv4 address
//! declared by two, is served for neither, and an error naming both is logged.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ironbell_dhcp::{Backend, Reservation, Route, format_mac};
use ironbell_model::tinkerbell::{Hardware, Interface};
use ironbell_store::SharedStore;
use ironbell_store::snapshot::{self, Problems, SnapshotIndex};

/// What the boot service keeps of one Hardware (see the module docs).
#[derive(Debug, Default)]
pub struct BootHardware {
    /// `metadata.namespace`.
    pub namespace: Box<str>,
    /// `metadata.name`.
    pub name: Box<str>,
    /// `spec.metadata.facility.facility_code`, when set.
    pub facility: Option<Box<str>>,
    /// `spec.interfaces`, in order.
    pub interfaces: Box<[BootInterface]>,
}

/// What the boot service keeps of one interface of a Hardware.
#[derive(Debug, Default)]
pub struct BootInterface {
    /// `dhcp.mac`.
    pub mac: Option<[u8; 6]>,
    /// `dhcp.ip.address`.
    pub ip: Option<IpAddr>,
    /// The DHCP reservation ([`reservation_for`]).
    pub reservation: Option<Arc<Reservation>>,
    /// What [`reservation_for`] could not carry, one line each.
    pub problems: Box<[String]>,
    /// `netboot.allowPXE`.
    pub allow_pxe: bool,
    /// `dhcp.arch`.
    pub arch: Option<Box<str>>,
    /// `dhcp.vlan_id`.
    pub vlan_id: Option<Box<str>>,
    /// `netboot.ipxe.contents` (a whole script), when not empty.
    pub ipxe_contents: Option<Box<str>>,
    /// `netboot.ipxe.url` (a script to chain), when not empty.
    pub ipxe_url: Option<Box<str>>,
}

impl BootHardware {
    /// The record of `hw`.
    pub fn new(hw: &Hardware) -> Self {
        let boxed = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(Box::from);
        Self {
            namespace: hw.metadata.namespace().into(),
            name: hw.metadata.name().into(),
            facility: boxed(
                hw.spec
                    .metadata
                    .as_ref()
                    .and_then(|m| m.facility.as_ref())
                    .and_then(|f| f.facility_code.as_deref()),
            ),
            interfaces: hw
                .interfaces()
                .iter()
                .map(|iface| {
                    let (reservation, problems) = reservation_for(iface);
                    let dhcp = iface.dhcp.as_ref();
                    let ipxe = iface.netboot.as_ref().and_then(|n| n.ipxe.as_ref());
                    BootInterface {
                        mac: iface.mac().map(|m| m.octets()),
                        ip: iface.ip_address(),
                        reservation: reservation.map(Arc::new),
                        problems: problems.into(),
                        allow_pxe: iface.allow_pxe(),
                        arch: boxed(dhcp.and_then(|d| d.arch.as_deref())),
                        vlan_id: boxed(dhcp.and_then(|d| d.vlan_id.as_deref())),
                        ipxe_contents: boxed(ipxe.and_then(|x| x.contents.as_deref())),
                        ipxe_url: boxed(ipxe.and_then(|x| x.url.as_deref())),
                    }
                })
                .collect(),
        }
    }
}

/// One interface of one Hardware: what DHCP and HTTP need to know about a MAC.
#[derive(Debug)]
pub struct Machine {
    /// The Hardware the interface belongs to.
    pub hardware: Arc<BootHardware>,
    /// Position of the interface in `spec.interfaces`.
    pub interface: usize,
    /// The interface's MAC.
    pub mac: [u8; 6],
}

impl Machine {
    /// The interface itself.
    pub fn interface(&self) -> &BootInterface {
        // `interface` is an index taken from this same Hardware when the Machine was built.
        &self.hardware.interfaces[self.interface]
    }

    /// The DHCP reservation, when the interface declares a valid address and netmask.
    pub fn reservation(&self) -> Option<&Reservation> {
        self.interface().reservation.as_deref()
    }

    /// `namespace/name` of the Hardware, for logs.
    pub fn name(&self) -> String {
        format!("{}/{}", self.hardware.namespace, self.hardware.name)
    }

    /// The MAC as lower-case colon-separated hex.
    pub fn mac_string(&self) -> String {
        format_mac(self.mac)
    }
}

/// The answer to "who has this MAC?".
#[derive(Debug, Clone)]
pub enum MacLookup {
    /// Exactly one Hardware declares it.
    Found(Arc<Machine>),
    /// Several Hardware declare it (their `namespace/name`s); none is served.
    Conflict(Vec<String>),
    /// No Hardware declares it.
    Unknown,
}

/// One consistent view of every Hardware, rebuilt on each change.
#[derive(Debug, Default)]
pub struct Snapshot {
    by_mac: HashMap<[u8; 6], Arc<Machine>>,
    by_ip: HashMap<Ipv4Addr, Arc<Machine>>,
    mac_conflicts: HashMap<[u8; 6], Vec<String>>,
    /// Conflicts and problems with single Hardware (unreadable fields), one line each.
    problems: Problems,
    hardware: usize,
    resource_version: u64,
}

impl Snapshot {
    /// Builds the view of `objects` (at store revision `resource_version`).
    pub fn build<'a>(
        objects: impl IntoIterator<Item = &'a Arc<BootHardware>>,
        resource_version: u64,
    ) -> Self {
        let mut snap = Snapshot {
            resource_version,
            ..Snapshot::default()
        };
        let mut macs: BTreeMap<[u8; 6], Vec<Arc<Machine>>> = BTreeMap::new();
        for hw in objects {
            snap.hardware += 1;
            let hw_name = format!("{}/{}", hw.namespace, hw.name);
            for (i, iface) in hw.interfaces.iter().enumerate() {
                let Some(mac) = iface.mac else {
                    continue;
                };
                let owners = macs.entry(mac).or_default();
                if owners.iter().any(|m| Arc::ptr_eq(&m.hardware, hw)) {
                    snap.problems.warn(format!(
                        "Hardware {hw_name}: MAC {} is declared on more than one interface; the first is used",
                        format_mac(mac)
                    ));
                    continue;
                }
                for p in &iface.problems {
                    snap.problems
                        .warn(format!("Hardware {hw_name} MAC {}: {p}", format_mac(mac)));
                }
                owners.push(Arc::new(Machine {
                    hardware: hw.clone(),
                    interface: i,
                    mac,
                }));
            }
        }
        let mut ips: BTreeMap<Ipv4Addr, Vec<Arc<Machine>>> = BTreeMap::new();
        for (mac, owners) in macs {
            if owners.len() > 1 {
                let names: Vec<String> = owners.iter().map(|m| m.name()).collect();
                snap.problems.conflict(format!(
                    "MAC {} is declared by Hardware {}: serving none of them for this MAC",
                    format_mac(mac),
                    names.join(" and ")
                ));
                snap.mac_conflicts.insert(mac, names);
                continue;
            }
            for machine in owners {
                // The same address the reservation hands out (parsed once, in the model).
                if let Some(IpAddr::V4(ip)) = machine.interface().ip {
                    ips.entry(ip).or_default().push(machine.clone());
                }
                snap.by_mac.insert(mac, machine);
            }
        }
        for (ip, owners) in ips {
            if owners.len() > 1 {
                let names: Vec<String> = owners
                    .iter()
                    .map(|m| format!("{} ({})", m.name(), m.mac_string()))
                    .collect();
                snap.problems.conflict(format!(
                    "IP {ip} is declared by Hardware {}: serving none of them by this address",
                    names.join(" and ")
                ));
                continue;
            }
            for machine in owners {
                snap.by_ip.insert(ip, machine);
            }
        }
        snap
    }

    /// Who has `mac`.
    pub fn by_mac(&self, mac: [u8; 6]) -> MacLookup {
        if let Some(m) = self.by_mac.get(&mac) {
            MacLookup::Found(m.clone())
        } else if let Some(names) = self.mac_conflicts.get(&mac) {
            MacLookup::Conflict(names.clone())
        } else {
            MacLookup::Unknown
        }
    }

    /// The one interface that declares `ip`, if exactly one does.
    pub fn by_ip(&self, ip: Ipv4Addr) -> Option<Arc<Machine>> {
        self.by_ip.get(&ip).cloned()
    }

    /// How many Hardware objects the view holds.
    pub fn hardware_count(&self) -> usize {
        self.hardware
    }

    /// How many MACs are declared by more than one Hardware.
    pub fn mac_conflict_count(&self) -> usize {
        self.mac_conflicts.len()
    }

    /// The store revision the view reflects.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Conflicts found while building (one line each, naming the Hardware involved).
    pub fn conflicts(&self) -> impl Iterator<Item = &str> {
        self.problems.conflicts()
    }
}

impl snapshot::Snapshot for Snapshot {
    fn problems(&self) -> &Problems {
        &self.problems
    }
}

/// The DHCP reservation of one interface, and the problems found on the way: `None` when
/// the interface has no IPv4 `dhcp.ip.address` and `dhcp.ip.netmask`. Values are already
/// parsed (the model rejects a malformed address when the Hardware is read); what is left
/// to report is an IPv6 value where DHCPv4 needs an IPv4 one, which is left out.
///
/// Mapping: `name_servers` → DNS, `time_servers` → NTP, `lease_time` clamped to
/// 1..=`u32::MAX` (0 or less means the default), `vlan_id` when it is one number 1–4094,
/// `netboot.allowPXE` → `allow_netboot`, `disableDhcp` → `dhcp_disabled`,
/// `netboot.ipxe.binary` → `boot_file`, `netboot.ipxe.url` → `ipxe_script_url`.
pub fn reservation_for(iface: &Interface) -> (Option<Reservation>, Vec<String>) {
    let mut problems = Vec::new();
    let Some(dhcp) = iface.dhcp.as_ref() else {
        return (None, problems);
    };
    let ip_cfg = dhcp.ip.as_ref();
    let ip = match ip_cfg.and_then(|i| i.address) {
        None => {
            problems.push("no dhcp.ip.address: no DHCP reservation".to_string());
            None
        }
        Some(a) => v4(a, "dhcp.ip.address", &mut problems),
    };
    let netmask = match ip_cfg.and_then(|i| i.netmask) {
        None => {
            if ip.is_some() {
                problems.push("no dhcp.ip.netmask: no DHCP reservation".to_string());
            }
            None
        }
        Some(m) => v4(m.addr(), "dhcp.ip.netmask", &mut problems),
    };
    let (Some(ip), Some(netmask)) = (ip, netmask) else {
        return (None, problems);
    };
    let mut r = Reservation::new(ip, netmask);
    r.gateway = ip_cfg
        .and_then(|i| i.gateway)
        .and_then(|g| v4(g, "dhcp.ip.gateway", &mut problems));
    r.dns_servers = v4_list(dhcp.name_servers.as_deref(), "name_servers", &mut problems);
    r.ntp_servers = v4_list(dhcp.time_servers.as_deref(), "time_servers", &mut problems);
    r.hostname = dhcp.hostname.clone().filter(|h| !h.is_empty());
    r.domain_name = dhcp.domain_name.clone().filter(|d| !d.is_empty());
    r.lease_time = dhcp
        .lease_time
        .filter(|t| *t > 0)
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    r.vlan_id = dhcp
        .vlan_id
        .as_deref()
        .filter(|v| !v.is_empty())
        .and_then(|v| match v.parse::<u16>() {
            Ok(id @ 1..=4094) => Some(id),
            _ => {
                problems.push(format!(
                    "dhcp.vlan_id {v:?} is not one VLAN id 1-4094; not carried in the reservation"
                ));
                None
            }
        });
    r.classless_routes = dhcp
        .classless_static_routes
        .iter()
        .flatten()
        .map(|route| Route {
            destination: route.destination_descriptor.addr(),
            prefix_len: route.destination_descriptor.prefix_len(),
            gateway: route.router,
        })
        .collect();
    r.allow_netboot = iface.allow_pxe();
    r.dhcp_disabled = iface.dhcp_disabled();
    let ipxe = iface.netboot.as_ref().and_then(|n| n.ipxe.as_ref());
    r.boot_file = ipxe
        .and_then(|x| x.binary.clone())
        .filter(|b| !b.is_empty());
    r.ipxe_script_url = ipxe.and_then(|x| x.url.clone()).filter(|u| !u.is_empty());
    (Some(r), problems)
}

/// `ip` when it is IPv4; otherwise a problem naming `field`.
fn v4(ip: IpAddr, field: &str, problems: &mut Vec<String>) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => {
            problems.push(format!("{field} {ip} is not an IPv4 address; left out"));
            None
        }
    }
}

fn v4_list(items: Option<&[IpAddr]>, field: &str, problems: &mut Vec<String>) -> Vec<Ipv4Addr> {
    items
        .unwrap_or_default()
        .iter()
        .filter_map(|ip| v4(*ip, field, problems))
        .collect()
}

/// The Hardware index: lookups by MAC and IPv4 address from the latest [`Snapshot`].
///
/// Built by [`Index::start`] (kept current from a store) or [`Index::from_hardware`] (a
/// fixed set, for tests and tools). Implements [`ironbell_dhcp::Backend`].
#[derive(Debug)]
pub struct Index(Arc<SnapshotIndex<Snapshot>>);

impl Index {
    /// An index of a fixed set of Hardware, never updated.
    pub fn from_hardware(items: impl IntoIterator<Item = Hardware>) -> Arc<Self> {
        let items: Vec<Arc<BootHardware>> = items
            .into_iter()
            .map(|hw| Arc::new(BootHardware::new(&hw)))
            .collect();
        let snap = Snapshot::build(&items, 0);
        Arc::new(Self(SnapshotIndex::fixed("boot", snap)))
    }

    /// Starts following `store`: returns at once with an empty index; the first list fills
    /// it (see [`Index::synced`]). The background task ends when the index is dropped.
    /// Must be called inside a Tokio runtime.
    pub fn start(store: SharedStore) -> Arc<Self> {
        Arc::new(Self(SnapshotIndex::start_mapped(
            "boot",
            store,
            |hw: Hardware| BootHardware::new(&hw),
            |objects, rv| Snapshot::build(objects.values(), rv),
        )))
    }

    /// Waits until the index holds the store's first full list of Hardware.
    pub async fn synced(&self) {
        self.0.synced().await;
    }

    /// Whether the first full list has been applied.
    pub fn is_synced(&self) -> bool {
        self.0.is_synced()
    }

    /// The current view. Cheap: one lock held for an `Arc` clone.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.0.snapshot()
    }

    /// The generic index underneath (revision channel, synced state).
    pub fn inner(&self) -> &SnapshotIndex<Snapshot> {
        &self.0
    }

    /// Who has `mac`.
    pub fn by_mac(&self, mac: [u8; 6]) -> MacLookup {
        self.snapshot().by_mac(mac)
    }

    /// The one interface that declares `ip`, if exactly one does.
    pub fn by_ip(&self, ip: Ipv4Addr) -> Option<Arc<Machine>> {
        self.snapshot().by_ip(ip)
    }
}

impl Backend for Index {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        match self.by_mac(mac) {
            MacLookup::Found(m) => m.interface().reservation.clone(),
            MacLookup::Conflict(_) | MacLookup::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::ObjectMeta;
    use ironbell_model::tinkerbell::{Dhcp, HardwareSpec, Ip, Ipxe, Netboot};

    fn hw(name: &str, mac: &str, ip: &str) -> Hardware {
        Hardware {
            metadata: ObjectMeta::named("default", name),
            spec: HardwareSpec {
                interfaces: Some(vec![Interface {
                    dhcp: Some(Dhcp {
                        mac: Some(mac.parse().expect("test MAC")),
                        ip: Some(Ip {
                            address: Some(ip.parse().expect("test IP")),
                            netmask: "255.255.255.0".parse().ok(),
                            gateway: Some([10, 0, 0, 1].into()),
                            family: Some(4),
                        }),
                        lease_time: Some(1 << 40),
                        vlan_id: Some("12".into()),
                        // DHCPv4 cannot hand out the IPv6 one: one problem.
                        name_servers: Some(vec![
                            [10, 0, 0, 2].into(),
                            "fd00::2".parse().expect("v6"),
                        ]),
                        ..Dhcp::default()
                    }),
                    netboot: Some(Netboot {
                        allow_pxe: Some(true),
                        ipxe: Some(Ipxe {
                            binary: Some("snp.efi".into()),
                            ..Ipxe::default()
                        }),
                        ..Netboot::default()
                    }),
                    ..Interface::default()
                }]),
                ..HardwareSpec::default()
            },
            ..Hardware::default()
        }
    }

    #[test]
    fn reservation_mapping() {
        let h = hw("a", "AA:BB:CC:DD:EE:01", "10.0.0.5");
        let (r, problems) = reservation_for(&h.interfaces()[0]);
        let r = r.expect("reservation");
        assert_eq!(r.ip, Ipv4Addr::new(10, 0, 0, 5));
        assert_eq!(r.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(r.dns_servers, vec![Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(r.lease_time, Some(u32::MAX));
        assert_eq!(r.vlan_id, Some(12));
        assert!(r.allow_netboot);
        assert_eq!(r.boot_file.as_deref(), Some("snp.efi"));
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn duplicates_are_served_for_neither() {
        let idx = Index::from_hardware([
            hw("a", "aa:bb:cc:dd:ee:01", "10.0.0.5"),
            hw("b", "aa:bb:cc:dd:ee:01", "10.0.0.6"),
            hw("c", "aa:bb:cc:dd:ee:03", "10.0.0.7"),
            hw("d", "aa:bb:cc:dd:ee:04", "10.0.0.7"),
        ]);
        let snap = idx.snapshot();
        match snap.by_mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 1]) {
            MacLookup::Conflict(names) => assert_eq!(names, ["default/a", "default/b"]),
            other => panic!("{other:?}"),
        }
        assert!(idx.lookup([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 1]).is_none());
        assert!(idx.lookup([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 3]).is_some());
        assert!(snap.by_ip(Ipv4Addr::new(10, 0, 0, 5)).is_none());
        assert!(snap.by_ip(Ipv4Addr::new(10, 0, 0, 7)).is_none());
        assert_eq!(snap.conflicts().count(), 2);
        assert_eq!(snap.hardware_count(), 4);
    }
}
