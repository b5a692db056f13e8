//! # ironbell-vip
//!
//! A virtual IPv4 address held by one replica of a plane at a time: the Tinkerbell IP of a
//! management cluster whose plane runs on its own machines, as kube-vip holds it for
//! EKS Anywhere's Tinkerbell stack. Machines reach the plane at that address whichever
//! replica leads; when the leader changes, the address moves with it.
//!
//! [`claim`] takes the address on this host, as RFC 5227 says a host takes an address:
//! 1. an ARP *probe* (sender address 0.0.0.0) asks for it on the interface, and any answer
//!    within [`PROBE_WAIT`] is [`VipError::InUse`], naming the MAC that holds it (the
//!    previous holder has not let go, or a host is misconfigured);
//! 2. the address is added to the interface as a `/32` (through rtnetlink, the kernel's
//!    routing socket; a host route, so that nothing else about the interface changes);
//! 3. [`ANNOUNCEMENTS`] gratuitous ARP requests (sender and target both the address) tell
//!    every neighbour the new MAC at once, instead of after their caches expire.
//!
//! [`Claim::release`] deletes the address again if this claim added it (an address that
//! was configured already is left as it was).
//!
//! What it is not: the choice of which replica holds the address (the plane's leader
//! election does that, `ironbell-ops`), a VRRP implementation or an IPv6 one.
//!
//! Why ARP frames are built here: an ARP request is 28 bytes of fixed layout behind an
//! Ethernet header; a packet crate would add a dependency for two functions. The frames go
//! out through an `AF_PACKET` socket (needs `CAP_NET_RAW`), addressed with the link address
//! that `getifaddrs` gives, so no `unsafe` is needed.
//!
//! Start reading at [`claim`].

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use nix::sys::socket::{LinkAddr, MsgFlags};
use socket2::{Domain, Protocol, Socket, Type};

/// How long a probe waits for another holder to answer.
pub const PROBE_WAIT: Duration = Duration::from_millis(600);
/// How many gratuitous ARP requests announce a claimed address.
pub const ANNOUNCEMENTS: usize = 3;
/// The gap between two announcements.
const ANNOUNCE_INTERVAL: Duration = Duration::from_millis(100);

const ETH_HEADER: usize = 14;
const ARP_LEN: usize = 28;
const ETH_P_ARP: u16 = 0x0806;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// Why the address could not be claimed or released.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// No interface of this host has an IPv4 subnet that holds the address.
    #[error(
        "VIP {address}: no interface has an IPv4 subnet holding it (name one with --interface)"
    )]
    NoInterface {
        /// The address.
        address: Ipv4Addr,
    },
    /// The named interface does not exist or is not Ethernet.
    #[error("VIP {address}: interface {interface}: {message}")]
    Interface {
        /// The address.
        address: Ipv4Addr,
        /// The interface.
        interface: String,
        /// What is wrong with it.
        message: String,
    },
    /// Another host answered the probe: it holds the address.
    #[error("VIP {address} is held by {mac} on {interface}: not claimed")]
    InUse {
        /// The address.
        address: Ipv4Addr,
        /// The interface probed.
        interface: String,
        /// The holder's MAC.
        mac: String,
    },
    /// A system call or a netlink request failed.
    #[error("VIP {address} on {interface}: {what}: {message}")]
    System {
        /// The address.
        address: Ipv4Addr,
        /// The interface.
        interface: String,
        /// What was being done.
        what: &'static str,
        /// The cause.
        message: String,
    },
}

/// A virtual address to hold, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// The address.
    pub address: Ipv4Addr,
    /// The interface to hold it on; `None`: the one whose IPv4 subnet holds it.
    pub interface: Option<String>,
}

impl Vip {
    /// The address `address` on whichever interface's subnet holds it.
    pub fn new(address: Ipv4Addr) -> Self {
        Self {
            address,
            interface: None,
        }
    }
}

/// The address, held on this host until [`Claim::release`].
#[derive(Debug)]
pub struct Claim {
    vip: Vip,
    interface: String,
    index: u32,
    /// Whether this claim added the address (else it was configured already).
    added: bool,
}

impl Claim {
    /// The interface the address is on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Whether this claim added the address (`false`: it was on the interface already and
    /// stays there after [`Claim::release`]).
    pub fn added(&self) -> bool {
        self.added
    }

    /// Deletes the address from the interface if this claim added it.
    pub async fn release(self) -> Result<(), VipError> {
        if !self.added {
            return Ok(());
        }
        delete_host_address(self.vip.address, &self.interface, self.index).await?;
        tracing::info!(vip = %self.vip.address, interface = %self.interface, "VIP released");
        Ok(())
    }
}

/// Deletes `vip`'s address from its interface if it is there as a `/32`, the way a claim
/// adds it: what a holder that was killed left behind. A replica calls it as it starts, so
/// that its host does not answer for an address it no longer holds.
pub async fn clear_stale(vip: &Vip) -> Result<bool, VipError> {
    let (interface, link) = find(vip)?;
    if !link.has_address {
        return Ok(false);
    }
    let deleted = delete_host_address(vip.address, &interface, link.index).await?;
    if deleted {
        tracing::info!(vip = %vip.address, %interface, "VIP left by an earlier holder removed");
    }
    Ok(deleted)
}

/// Deletes `address/32` from link `index`; `false` if it was not there.
async fn delete_host_address(
    address: Ipv4Addr,
    interface: &str,
    index: u32,
) -> Result<bool, VipError> {
    let handle = netlink(&address, interface)?;
    let found = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .set_address_filter(address.into())
        .set_prefix_length_filter(32)
        .execute()
        .try_next()
        .await
        .map_err(|e| sys(address, interface, "listing addresses", e))?;
    let Some(message) = found else {
        return Ok(false);
    };
    handle
        .address()
        .del(message)
        .execute()
        .await
        .map_err(|e| sys(address, interface, "deleting the address", e))?;
    Ok(true)
}

/// [`claim`], trying again while another host answers for the address, for up to
/// `patience`: the previous holder lets go within moments of being told to.
pub async fn claim_patiently(vip: &Vip, patience: Duration) -> Result<Claim, VipError> {
    let deadline = Instant::now() + patience;
    loop {
        match claim(vip).await {
            Err(VipError::InUse { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

fn sys(
    address: Ipv4Addr,
    interface: &str,
    what: &'static str,
    e: impl std::fmt::Display,
) -> VipError {
    VipError::System {
        address,
        interface: interface.to_string(),
        what,
        message: e.to_string(),
    }
}

fn netlink(address: &Ipv4Addr, interface: &str) -> Result<rtnetlink::Handle, VipError> {
    let (connection, handle, _) = rtnetlink::new_connection()
        .map_err(|e| sys(*address, interface, "opening a netlink socket", e))?;
    tokio::spawn(connection);
    Ok(handle)
}

/// An interface as the kernel knows it.
#[derive(Clone, Copy)]
struct Link {
    addr: LinkAddr,
    index: u32,
    mac: [u8; 6],
    /// Whether the address is on it already.
    has_address: bool,
}

/// Finds where `vip` goes: the named interface, or the one with an IPv4 subnet holding the
/// address (a `/32` of the address itself does not count: that is a claim).
fn find(vip: &Vip) -> Result<(String, Link), VipError> {
    let address = vip.address;
    let addrs: Vec<_> = nix::ifaddrs::getifaddrs()
        .map_err(|e| {
            let interface = vip.interface.clone().unwrap_or_default();
            sys(address, &interface, "listing interfaces", e)
        })?
        .collect();
    let ipv4 = |ifa: &nix::ifaddrs::InterfaceAddress| {
        let ip = ifa.address.as_ref()?.as_sockaddr_in()?.ip();
        let mask = ifa.netmask.as_ref()?.as_sockaddr_in()?.ip();
        Some((ip, mask))
    };
    let name = match &vip.interface {
        Some(name) => name.clone(),
        None => addrs
            .iter()
            .find(|ifa| {
                ipv4(ifa).is_some_and(|(ip, mask)| {
                    let m = u32::from(mask);
                    m != u32::MAX && u32::from(ip) & m == u32::from(address) & m
                })
            })
            .map(|ifa| ifa.interface_name.clone())
            .ok_or(VipError::NoInterface { address })?,
    };
    let bad = |message: &str| VipError::Interface {
        address,
        interface: name.clone(),
        message: message.to_string(),
    };
    let mine = || addrs.iter().filter(|a| a.interface_name == name);
    let link = mine()
        .find_map(|ifa| ifa.address.as_ref()?.as_link_addr().copied())
        .ok_or_else(|| bad("no such interface"))?;
    let mac = link
        .addr()
        .filter(|_| link.hatype() == libc::ARPHRD_ETHER)
        .ok_or_else(|| bad("not an Ethernet interface"))?;
    let index = u32::try_from(link.ifindex()).map_err(|_| bad("interface index out of range"))?;
    let has_address = mine().any(|ifa| ipv4(ifa).is_some_and(|(ip, _)| ip == address));
    Ok((
        name,
        Link {
            addr: link,
            index,
            mac,
            has_address,
        },
    ))
}

/// The interface `vip` goes on: the one named, or the one whose IPv4 subnet holds it.
pub fn interface_for(vip: &Vip) -> Result<String, VipError> {
    find(vip).map(|(name, _)| name)
}

/// Takes `vip` on this host (see the crate docs): probes for another holder, adds the
/// address unless it is there, and announces it.
pub async fn claim(vip: &Vip) -> Result<Claim, VipError> {
    let (interface, link) = find(vip)?;
    let address = vip.address;
    if !link.has_address {
        let (probe_vip, probe_if) = (address, interface.clone());
        let holder = tokio::task::spawn_blocking(move || probe(&probe_if, link, probe_vip))
            .await
            .map_err(|e| sys(address, &interface, "probing", e))??;
        if let Some(mac) = holder {
            return Err(VipError::InUse {
                address,
                interface,
                mac: format_mac(&mac),
            });
        }
        netlink(&address, &interface)?
            .address()
            .add(link.index, address.into(), 32)
            .execute()
            .await
            .map_err(|e| sys(address, &interface, "adding the address", e))?;
    }
    let (announce_if, announce_vip) = (interface.clone(), address);
    tokio::task::spawn_blocking(move || announce(&announce_if, link, announce_vip))
        .await
        .map_err(|e| sys(address, &interface, "announcing", e))??;
    tracing::info!(vip = %address, %interface, added = !link.has_address, "VIP claimed and announced");
    Ok(Claim {
        vip: vip.clone(),
        interface,
        index: link.index,
        added: !link.has_address,
    })
}

fn arp_socket(address: Ipv4Addr, interface: &str) -> Result<Socket, VipError> {
    let protocol = i32::from(ETH_P_ARP.to_be());
    Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(protocol)))
        .map_err(|e| sys(address, interface, "opening a packet socket", e))
}

fn send(
    socket: &Socket,
    link: &Link,
    frame: &[u8],
    address: Ipv4Addr,
    interface: &str,
) -> Result<(), VipError> {
    nix::sys::socket::sendto(socket.as_raw_fd(), frame, &link.addr, MsgFlags::empty())
        .map(drop)
        .map_err(|e| sys(address, interface, "sending an ARP frame", e))
}

/// Sends an ARP probe for `address` and returns the MAC of a host that answers within
/// [`PROBE_WAIT`], if one does.
fn probe(interface: &str, link: Link, address: Ipv4Addr) -> Result<Option<[u8; 6]>, VipError> {
    let socket = arp_socket(address, interface)?;
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| sys(address, interface, "setting a timeout", e))?;
    let frame = arp_frame(link.mac, ARP_REQUEST, Ipv4Addr::UNSPECIFIED, address);
    send(&socket, &link, &frame, address, interface)?;
    let deadline = Instant::now() + PROBE_WAIT;
    let mut buf = [0u8; 128];
    while Instant::now() < deadline {
        match nix::sys::socket::recvfrom::<LinkAddr>(socket.as_raw_fd(), &mut buf) {
            Ok((n, from)) => {
                let on_link = from.is_some_and(|f| f.ifindex() == link.addr.ifindex());
                if let Some(mac) = holder_of(buf.get(..n).unwrap_or_default(), address)
                    && on_link
                    && mac != link.mac
                {
                    return Ok(Some(mac));
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(sys(address, interface, "receiving", e)),
        }
    }
    Ok(None)
}

/// Sends [`ANNOUNCEMENTS`] gratuitous ARP requests for `address` from this link's MAC.
fn announce(interface: &str, link: Link, address: Ipv4Addr) -> Result<(), VipError> {
    let socket = arp_socket(address, interface)?;
    let frame = arp_frame(link.mac, ARP_REQUEST, address, address);
    for i in 0..ANNOUNCEMENTS {
        if i > 0 {
            std::thread::sleep(ANNOUNCE_INTERVAL);
        }
        send(&socket, &link, &frame, address, interface)?;
    }
    Ok(())
}

/// An Ethernet broadcast frame carrying an ARP message of operation `op` from `mac`, with
/// sender address `sender` and target address `target`.
fn arp_frame(
    mac: [u8; 6],
    op: u16,
    sender: Ipv4Addr,
    target: Ipv4Addr,
) -> [u8; ETH_HEADER + ARP_LEN] {
    let mut f = [0u8; ETH_HEADER + ARP_LEN];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    let arp = &mut f[ETH_HEADER..];
    arp[..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    arp[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    arp[4] = 6;
    arp[5] = 4;
    arp[6..8].copy_from_slice(&op.to_be_bytes());
    arp[8..14].copy_from_slice(&mac);
    arp[14..18].copy_from_slice(&sender.octets());
    // Target MAC stays zero.
    arp[24..28].copy_from_slice(&target.octets());
    f
}

/// The sender MAC of `frame` if it is an ARP message whose sender address is `address`
/// (a reply to the probe, or another host announcing or probing with it).
fn holder_of(frame: &[u8], address: Ipv4Addr) -> Option<[u8; 6]> {
    let arp = frame.get(ETH_HEADER..ETH_HEADER + ARP_LEN)?;
    if frame.get(12..14)? != ETH_P_ARP.to_be_bytes() || arp[..6] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    let sender = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    if (op == ARP_REPLY || op == ARP_REQUEST) && sender == address {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&arp[8..14]);
        Some(mac)
    } else {
        None
    }
}

fn format_mac(mac: &[u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_is_a_broadcast_request_from_and_for_the_address() {
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let vip = Ipv4Addr::new(10, 99, 0, 100);
        let f = arp_frame(mac, ARP_REQUEST, vip, vip);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(holder_of(&f, vip), Some(mac));
        assert_eq!(format_mac(&mac), "52:54:00:12:34:56");
    }

    #[test]
    fn a_probe_names_no_holder_and_short_or_foreign_frames_are_ignored() {
        let mac = [2, 0, 0, 0, 0, 1];
        let vip = Ipv4Addr::new(10, 0, 0, 9);
        let probe = arp_frame(mac, ARP_REQUEST, Ipv4Addr::UNSPECIFIED, vip);
        assert_eq!(holder_of(&probe, vip), None);
        assert_eq!(holder_of(&probe[..20], vip), None);
        let mut ip = probe;
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(holder_of(&ip, vip), None);
        let reply = arp_frame(mac, ARP_REPLY, vip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(holder_of(&reply, vip), Some(mac));
    }
}
