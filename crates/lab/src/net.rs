//! The lab network: a named network namespace with a bridge and one tap per machine, no
//! uplink and no route out. Built with [`ironbell_netns`] (iproute2, as an administrator
//! would; the same code the real-packet tests' namespaces use); nothing here touches the
//! host's own namespace except creating and deleting the namespace itself.

use std::net::Ipv4Addr;

use ironbell_netns::{Netns, NetnsError};

use crate::LabError;
use crate::plan::{BRIDGE, MachinePlan, PREFIX_LEN, SERVER_IP, ULA_PREFIX};

impl From<NetnsError> for LabError {
    fn from(e: NetnsError) -> Self {
        LabError::Setup(e.to_string())
    }
}

/// Whether the named namespace exists.
pub fn exists(netns: &str) -> bool {
    Netns::exists(netns)
}

/// Creates namespace `netns` with `lo` up, bridge [`BRIDGE`] holding [`SERVER_IP`], every
/// BMC address, the IPv6 ULA prefix's `::1`, and one tap per machine on the bridge. On
/// failure nothing is left; on success the namespace outlives this process (`lab down`
/// removes it).
pub fn create(netns: &str, machines: &[MachinePlan]) -> Result<(), LabError> {
    let ns = Netns::create(netns)?;
    ns.add_bridge(BRIDGE)?;
    ns.add_address(BRIDGE, &format!("{SERVER_IP}/{PREFIX_LEN}"))?;
    for bmc in machines.iter().filter_map(|m| m.bmc_ip) {
        ns.add_address(BRIDGE, &format!("{bmc}/32"))?;
    }
    let ula = ULA_PREFIX.trim_end_matches("/64");
    ns.add_address(BRIDGE, &format!("{ula}1/64"))?;
    for m in machines {
        ns.add_tap(&m.tap, BRIDGE)?;
    }
    // radvd only advertises as a router; forwarding inside the namespace only.
    ns.sysctl("net.ipv6.conf.all.forwarding=1")?;
    ns.persist();
    Ok(())
}

/// Deletes the namespace (its bridge and taps go with it). Not an error when it is gone.
pub fn delete(netns: &str) -> Result<(), LabError> {
    Ok(Netns::delete(netns)?)
}

/// Runs `f` on a thread that has joined the namespace (to probe the services from inside).
pub fn within<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> Result<T, LabError> {
    Ok(Netns::existing(netns).enter(f)?)
}

/// Whether something accepts TCP connections at `ip:port` inside the namespace.
pub fn tcp_open(netns: &str, ip: Ipv4Addr, port: u16) -> bool {
    within(netns, || {
        std::net::TcpStream::connect_timeout(
            &(ip, port).into(),
            std::time::Duration::from_millis(300),
        )
        .is_ok()
    })
    .unwrap_or(false)
}

/// Whether a UDP socket is bound at `ip:port` inside the namespace (binding it fails).
pub fn udp_bound(netns: &str, ip: Ipv4Addr, port: u16) -> bool {
    within(netns, || std::net::UdpSocket::bind((ip, port)).is_err()).unwrap_or(false)
}
