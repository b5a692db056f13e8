//! Who is asking: the client address of a request, from the TCP peer and, only when the
//! peer is a trusted proxy, the `X-Forwarded-For` header.
//!
//! The walk over `X-Forwarded-For` is Hegel's (its `xff` middleware, from
//! `github.com/packethost/xff`): entries are read from the right; each trusted proxy is
//! skipped; the first untrusted address is the client. When every entry is trusted, the
//! leftmost is the client; when an entry is not an IP address, the walk stops and the last
//! address read before it (to its right) is the client, or the peer when there is none.
//! Without trusted proxies the header is never read. Several `X-Forwarded-For` header
//! lines are read as one list, in order (RFC 9110 §5.3), so a client cannot hide an entry
//! in a second line that the proxy did not write.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// The header a proxy names its client in.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// `addr` with IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack listener
/// reports IPv4 peers) turned into IPv4.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/64`), or one
/// address (`10.0.0.1`, read as `/32`, or `/128` for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A trusted-proxy entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an IP address or CIDR network: {reason}")]
pub struct CidrError {
    /// The entry as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Cidr {
    /// The network of `addr` with `prefix` significant bits; `None` when `prefix` is longer
    /// than the address. Host bits are cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = canonical_with_prefix(addr, prefix)?;
        let (addr, prefix) = addr;
        Some(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }

    /// Reads a comma-separated list, as Hegel's `--trusted-proxies` takes it; blank entries
    /// are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, CidrError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }
}

/// IPv4-mapped networks (`::ffff:10.0.0.0/104`) become IPv4 networks.
fn canonical_with_prefix(addr: IpAddr, prefix: u8) -> Option<(IpAddr, u8)> {
    match addr {
        IpAddr::V4(_) if prefix <= 32 => Some((addr, prefix)),
        IpAddr::V6(v6) if prefix <= 128 => match v6.to_ipv4_mapped() {
            Some(v4) if prefix >= 96 => Some((IpAddr::V4(v4), prefix - 96)),
            _ => Some((addr, prefix)),
        },
        _ => None,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, CidrError> {
        let err = |reason| CidrError {
            text: text.to_string(),
            reason,
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => {
                let p: u8 = p
                    .parse()
                    .map_err(|_| err("the prefix length is not a number"))?;
                (a, Some(p))
            }
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err("not an IP address"))?;
        let prefix = prefix.unwrap_or(match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        });
        Self::new(addr, prefix).ok_or_else(|| err("the prefix length is too long"))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The client of a request that came from `peer` with `headers`: see the module
/// documentation. Always an address in [`canonical`] form.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if trusted.is_empty() || !is_trusted(peer) {
        return peer;
    }
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else {
            // Not text: the header is unusable as a whole.
            return peer;
        };
        if value.trim().is_empty() {
            continue;
        }
        entries.extend(value.split(',').map(str::trim));
    }
    let mut client = None;
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.parse::<IpAddr>() else {
            break;
        };
        let ip = canonical(ip);
        client = Some(ip);
        if !is_trusted(ip) {
            break;
        }
    }
    client.unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn cidr_forms() {
        let c: Cidr = "10.1.2.3/8".parse().expect("cidr");
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.200.0.1")));
        assert!(c.contains(ip("::ffff:10.200.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        let one: Cidr = "192.168.0.7".parse().expect("ip");
        assert_eq!(one.prefix(), 32);
        assert!(one.contains(ip("192.168.0.7")) && !one.contains(ip("192.168.0.8")));
        let v6: Cidr = "fd00::/64".parse().expect("v6");
        assert!(v6.contains(ip("fd00::1")) && !v6.contains(ip("fd01::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().expect("mapped");
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        let all: Cidr = "0.0.0.0/0".parse().expect("all");
        assert!(all.contains(ip("1.2.3.4")));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0/8",
            "x",
            "10.0.0.0/",
            "fd00::/129",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(
            Cidr::parse_list(" 10.0.0.0/8, ,127.0.0.1").expect("list"),
            vec![
                "10.0.0.0/8".parse().expect("a"),
                "127.0.0.1/32".parse().expect("b")
            ]
        );
        assert!(Cidr::parse_list("10.0.0.0/8,nope").is_err());
    }
}
