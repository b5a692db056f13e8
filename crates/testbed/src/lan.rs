//! [`Lan`]: a server namespace and several host namespaces on one bridged segment, for
//! tests where an attacker and an honest client must come from different addresses.

use std::io;
use std::net::Ipv4Addr;

use crate::{Netns, veth};

/// A server namespace holding bridge `br0` at `10.99.0.1/16`, and hosts each in a
/// namespace of its own with `eth0` at `10.99.0.<2 + i>/16` linked to the bridge. The /16
/// lets a test send from other (spoofed) addresses of `10.99.0.0/16` that the server
/// still sees as on-link, so reverse-path filtering does not drop them.
#[derive(Debug)]
pub struct Lan {
    /// The server's namespace.
    pub server: Netns,
    /// The hosts' namespaces, in address order.
    pub hosts: Vec<Netns>,
}

impl Lan {
    /// Prefix length of the segment.
    pub const PREFIX: u8 = 16;

    /// Creates the server and `hosts` host namespaces (at most 200).
    pub fn new(hosts: usize) -> io::Result<Self> {
        if hosts > 200 {
            return Err(io::Error::other("at most 200 hosts"));
        }
        let server = Netns::new()?;
        server.add_bridge("br0")?;
        server.add_address("br0", &format!("{}/16", Self::server_ip()))?;
        let mut lan = Self {
            server,
            hosts: Vec::new(),
        };
        for i in 0..hosts {
            let host = Netns::new()?;
            let port = format!("p{i}");
            veth(&lan.server, &port, &host, "eth0")?;
            lan.server.attach(&port, "br0")?;
            host.add_address("eth0", &format!("{}/16", Self::host_ip(i)))?;
            lan.hosts.push(host);
        }
        Ok(lan)
    }

    /// The server's address.
    pub fn server_ip() -> Ipv4Addr {
        Ipv4Addr::new(10, 99, 0, 1)
    }

    /// Host `i`'s address.
    pub fn host_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 99, 0, 2u8.saturating_add(i.min(200) as u8))
    }
}
