//! Typed values the objects hold instead of strings: [`MacAddr`] and [`Netmask`] here,
//! [`std::net::IpAddr`]/[`std::net::Ipv4Addr`] for addresses, [`ipnet::Ipv4Net`] for
//! networks and [`jiff::Timestamp`] for times (re-exported as [`Timestamp`]).
//!
//! A value is parsed once, when a document is deserialized (YAML, JSON, the store's rows),
//! so a bad value is an error naming its field path there, and every service downstream
//! sees only valid, canonical values: nothing re-parses, trims or compares
//! case-insensitively. Each type serializes as the string Tinkerbell writes, so objects
//! round-trip byte for byte.
//!
//! Addresses are strict: `" 10.0.0.5"` (with a space) is rejected with the field named,
//! not trimmed, because a value that means two things to two readers is the bug this
//! module exists to prevent. A MAC address is accepted in either case and kept in the
//! lower-case form the CRD's pattern (`([0-9a-f]{2}[:]){5}([0-9a-f]{2})`) requires; the
//! CRD does not allow `-` separators, so neither does this type.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use jiff::Timestamp;

/// A value that does not parse as the type its field requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not six hexadecimal byte pairs separated by `:`.
    #[error("{0:?} is not a MAC address (six hexadecimal pairs separated by ':')")]
    Mac(String),
    /// Not an IP address, or not a contiguous netmask.
    #[error("{0:?} is not a netmask (a contiguous mask such as 255.255.255.0)")]
    Netmask(String),
}

/// An Ethernet (EUI-48) MAC address. Parsed from `aa:bb:cc:dd:ee:ff` in any case;
/// printed and serialized in lower case, the form Tinkerbell's CRD requires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr([u8; 6]);

impl MacAddr {
    /// The address of these six bytes.
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// The six bytes.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The address of the first six bytes of `bytes` (e.g. a DHCP `chaddr`), if there are six.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.get(..6)?.try_into().ok()?))
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }
}

impl FromStr for MacAddr {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::Mac(s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A subnet mask in address form (`255.255.255.0`), checked to be contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Netmask {
    mask: IpAddr,
    prefix_len: u8,
}

impl Netmask {
    /// The mask of an IPv4 network with this prefix length (at most 32).
    pub fn v4(prefix_len: u8) -> Option<Self> {
        let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::UNSPECIFIED, prefix_len).ok()?;
        Some(Self {
            mask: IpAddr::V4(net.netmask()),
            prefix_len,
        })
    }

    /// `mask` as a netmask, if its one bits are contiguous from the most significant bit.
    pub fn new(mask: IpAddr) -> Option<Self> {
        let prefix_len = ipnet::ip_mask_to_prefix(mask).ok()?;
        Some(Self { mask, prefix_len })
    }

    /// The mask as an address.
    pub fn addr(&self) -> IpAddr {
        self.mask
    }

    /// The number of leading one bits (`24` for `255.255.255.0`).
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The network of `addr` under this mask, when both are of one family.
    pub fn network_of(&self, addr: IpAddr) -> Option<ipnet::IpNet> {
        ipnet::IpNet::new(addr, self.prefix_len)
            .ok()
            .filter(|_| addr.is_ipv4() == self.mask.is_ipv4())
    }
}

impl FromStr for Netmask {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, ValueError> {
        s.parse()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| ValueError::Netmask(s.to_string()))
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.mask.fmt(f)
    }
}

/// Serde as the `Display` string, parsed back with `FromStr` (whose error names the value;
/// `serde_path_to_error` adds the field path).
macro_rules! serde_as_string {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

serde_as_string!(MacAddr, "a MAC address such as \"52:54:00:12:34:56\"");
serde_as_string!(Netmask, "a netmask such as \"255.255.255.0\"");

/// The current time at the whole second, as Kubernetes' `metav1.Time` keeps it (and prints
/// it: `2024-01-02T03:04:05Z`).
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Time elapsed since `t`; zero when `t` is in the future.
pub fn since(t: Timestamp) -> std::time::Duration {
    std::time::Duration::try_from(Timestamp::now().duration_since(t)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_any_case_and_prints_lower_case() {
        let m: MacAddr = "52:54:00:AB:cd:Ef".parse().expect("parses");
        assert_eq!(m.to_string(), "52:54:00:ab:cd:ef");
        assert_eq!(m.octets(), [0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:ef:01",
            "52-54-00-ab-cd-ef",
            " 52:54:00:ab:cd:ef",
            "52:54:00:ab:cd:e",
            "52:54:00:ab:cd:+f",
            "5254.00ab.cdef",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn netmask_must_be_contiguous() {
        let m: Netmask = "255.255.255.0".parse().expect("parses");
        assert_eq!(m.prefix_len(), 24);
        assert_eq!(m.to_string(), "255.255.255.0");
        assert_eq!(Netmask::v4(24), Some(m));
        assert!("255.0.255.0".parse::<Netmask>().is_err());
        assert!(" 255.255.255.0".parse::<Netmask>().is_err());
        assert_eq!(
            m.network_of("10.0.0.5".parse().expect("ip"))
                .map(|n| n.trunc().to_string()),
            Some("10.0.0.0/24".into())
        );
    }

    #[test]
    fn serde_names_the_bad_value() {
        let err = serde_json::from_str::<MacAddr>("\"zz:54:00:ab:cd:ef\"")
            .expect_err("rejected")
            .to_string();
        assert!(err.contains("zz:54:00:ab:cd:ef"), "{err}");
        let m: MacAddr = serde_json::from_str("\"AA:BB:CC:DD:EE:FF\"").expect("parses");
        assert_eq!(
            serde_json::to_string(&m).expect("prints"),
            "\"aa:bb:cc:dd:ee:ff\""
        );
    }

    #[test]
    fn now_is_whole_seconds() {
        assert_eq!(now().subsec_nanosecond(), 0);
        let t: Timestamp = "2021-05-05T18:43:56Z".parse().expect("parses");
        assert_eq!(t.to_string(), "2021-05-05T18:43:56Z");
        assert!(since(t) > std::time::Duration::from_secs(3600));
        let future = Timestamp::now() + jiff::SignedDuration::from_secs(60);
        assert_eq!(since(future), std::time::Duration::ZERO);
    }
}
