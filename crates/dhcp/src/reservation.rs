//! What the server knows about one MAC address, and the trait through which it asks.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The lease time used when a reservation does not set one: 7 days (Smee's default).
pub const DEFAULT_LEASE_TIME: u32 = 604_800;

/// One classless static route (option 121).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Destination network address.
    pub destination: Ipv4Addr,
    /// Destination prefix length, 0–32 (a longer one is left out of the reply).
    pub prefix_len: u8,
    /// Next hop.
    pub gateway: Ipv4Addr,
}

/// The DHCP settings of one machine interface, keyed by its MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The address the machine gets (`yiaddr`).
    pub ip: Ipv4Addr,
    /// Subnet mask (option 1).
    pub netmask: Ipv4Addr,
    /// Default gateway (option 3).
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns_servers: Vec<Ipv4Addr>,
    /// Host name (option 12).
    pub hostname: Option<String>,
    /// Domain name (option 15).
    pub domain_name: Option<String>,
    /// Domain search list (option 119).
    pub domain_search: Vec<String>,
    /// NTP servers (option 42).
    pub ntp_servers: Vec<Ipv4Addr>,
    /// Lease time in seconds (option 51); `None` means [`DEFAULT_LEASE_TIME`].
    pub lease_time: Option<u32>,
    /// Broadcast address (option 28); `None` means derived from `ip` and `netmask`.
    pub broadcast: Option<Ipv4Addr>,
    /// Classless static routes (option 121).
    pub classless_routes: Vec<Route>,
    /// VLAN of the interface. Not sent in DHCP; carried for the iPXE script.
    pub vlan_id: Option<u16>,
    /// Whether the machine may network-boot now. When false, a netbooting client gets its
    /// address but the "netboot not allowed" boot answer.
    pub allow_netboot: bool,
    /// Whether DHCP is switched off for this MAC: no answer at all.
    pub dhcp_disabled: bool,
    /// Replaces the iPXE binary chosen from option 93 (for firmware PXE clients).
    pub boot_file: Option<String>,
    /// Replaces the default iPXE script URL (for clients that are already iPXE).
    pub ipxe_script_url: Option<String>,
}

impl Reservation {
    /// A reservation of `ip`/`netmask` with every other field empty, netboot not allowed
    /// and DHCP enabled.
    pub fn new(ip: Ipv4Addr, netmask: Ipv4Addr) -> Self {
        Self {
            ip,
            netmask,
            gateway: None,
            dns_servers: Vec::new(),
            hostname: None,
            domain_name: None,
            domain_search: Vec::new(),
            ntp_servers: Vec::new(),
            lease_time: None,
            broadcast: None,
            classless_routes: Vec::new(),
            vlan_id: None,
            allow_netboot: false,
            dhcp_disabled: false,
            boot_file: None,
            ipxe_script_url: None,
        }
    }

    /// The lease time, with the default filled in.
    pub fn lease_time(&self) -> u32 {
        self.lease_time.unwrap_or(DEFAULT_LEASE_TIME)
    }

    /// The broadcast address, derived from address and mask when not set.
    pub fn broadcast(&self) -> Ipv4Addr {
        self.broadcast
            .unwrap_or_else(|| Ipv4Addr::from(u32::from(self.ip) | !u32::from(self.netmask)))
    }
}

/// Where the server looks MAC addresses up. The boot service implements it over the
/// store (an in-memory index kept current by watches); tests use a `HashMap`.
///
/// A reservation is shared (`Arc`), so that a lookup on the serve loop copies no host
/// names or address lists.
pub trait Backend: Send + Sync {
    /// The reservation for `mac`, or `None` when the MAC is unknown.
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>>;
}

impl Backend for HashMap<[u8; 6], Arc<Reservation>> {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        self.get(&mac).cloned()
    }
}

/// For tests: each lookup copies the reservation.
impl Backend for HashMap<[u8; 6], Reservation> {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        self.get(&mac).cloned().map(Arc::new)
    }
}

impl<B: Backend + ?Sized> Backend for Arc<B> {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        (**self).lookup(mac)
    }
}

impl<B: Backend + ?Sized> Backend for &B {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        (**self).lookup(mac)
    }
}

/// Formats a MAC as Smee does in URLs: lower-case hex pairs joined by colons.
pub fn format_mac(mac: [u8; 6]) -> String {
    MacAddr(mac).to_string()
}

/// Displays a MAC as lower-case colon-separated hex without allocating, for log fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacAddr(pub [u8; 6]);

impl std::fmt::Display for MacAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}
