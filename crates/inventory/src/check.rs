//! Hand-written checks of single cell values. No regular expressions: each check is a scan
//! over the bytes, so a file of 10,000 rows validates in a few milliseconds.

use std::net::{IpAddr, Ipv4Addr};

use ironbell_model::{Labels, MacAddr, Netmask};

use crate::Problem;

/// Separator of nameservers and of label pairs in a cell.
pub(crate) const LIST_SEPARATOR: char = '|';

/// A dotted-quad IPv4 address.
pub(crate) fn ipv4(s: &str) -> Result<Ipv4Addr, Problem> {
    s.parse().map_err(|_| Problem::NotIpv4)
}

/// An IPv4 or IPv6 address.
pub(crate) fn ip(s: &str) -> Result<IpAddr, Problem> {
    s.parse().map_err(|_| Problem::NotIp)
}

/// An IPv4 netmask: one bits contiguous from the most significant bit.
pub(crate) fn netmask(s: &str) -> Result<Ipv4Addr, Problem> {
    let mask = ipv4(s).map_err(|_| Problem::NotNetmask)?;
    Netmask::new(mask.into())
        .map(|_| mask)
        .ok_or(Problem::NotNetmask)
}

/// `|`-separated nameserver addresses, each trimmed; at least one, none empty.
pub(crate) fn nameservers(s: &str) -> Result<Vec<IpAddr>, Problem> {
    if s.is_empty() {
        return Err(Problem::NoNameserver);
    }
    s.split(LIST_SEPARATOR)
        .enumerate()
        .map(|(i, ns)| match ns.trim() {
            "" => Err(Problem::EmptyNameserver { index: i + 1 }),
            ns => ns
                .parse()
                .map_err(|_| Problem::NotNameserverIp { index: i + 1 }),
        })
        .collect()
}

/// Why a machine cannot have `ip` as its own address or its gateway's, if it cannot.
/// Link-local addresses are refused too: DHCP does not hand them out and they are not
/// routed.
pub(crate) fn host_ipv4(ip: Ipv4Addr) -> Result<Ipv4Addr, Problem> {
    let reason = if ip.is_unspecified() {
        "0.0.0.0 is the unspecified address"
    } else if ip.is_loopback() {
        "127.0.0.0/8 is loopback"
    } else if ip.is_broadcast() {
        "255.255.255.255 is the limited broadcast address"
    } else if ip.is_multicast() {
        "224.0.0.0/4 is multicast"
    } else if ip.is_link_local() {
        "169.254.0.0/16 is link-local"
    } else if ip.octets()[0] >= 240 {
        "240.0.0.0/4 is reserved"
    } else if ip.octets()[0] == 0 {
        "0.0.0.0/8 is \"this network\""
    } else {
        return Ok(ip);
    };
    Err(Problem::UnusableIp {
        reason: reason.to_string(),
    })
}

/// The subnet `ip`/`mask` as `network/prefix`, and its network and broadcast addresses
/// when it has them (prefixes up to /30; /31 and /32 have none, RFC 3021).
fn subnet(ip: Ipv4Addr, mask: Ipv4Addr) -> (String, Option<(Ipv4Addr, Ipv4Addr)>) {
    let (bits, m) = (u32::from(ip), u32::from(mask));
    let network = Ipv4Addr::from(bits & m);
    let prefix = m.leading_ones();
    let ends = (prefix <= 30).then(|| (network, Ipv4Addr::from(bits | !m)));
    (format!("{network}/{prefix}"), ends)
}

/// `ip` is not the network or broadcast address of its own subnet.
pub(crate) fn in_own_subnet(ip: Ipv4Addr, mask: Ipv4Addr) -> Result<(), Problem> {
    let (net, ends) = subnet(ip, mask);
    match ends {
        Some((n, _)) if n == ip => Err(Problem::UnusableIp {
            reason: format!("{ip} is the network address of {net} (netmask {mask})"),
        }),
        Some((_, b)) if b == ip => Err(Problem::UnusableIp {
            reason: format!("{ip} is the broadcast address of {net} (netmask {mask})"),
        }),
        _ => Ok(()),
    }
}

/// The gateway is inside the subnet of `ip`/`mask`, and not its network or broadcast
/// address.
pub(crate) fn gateway(gw: Ipv4Addr, ip: Ipv4Addr, mask: Ipv4Addr) -> Result<(), Problem> {
    let (net, _) = subnet(ip, mask);
    if u32::from(gw) & u32::from(mask) != u32::from(ip) & u32::from(mask) {
        return Err(Problem::GatewayOutsideSubnet { subnet: net });
    }
    in_own_subnet(gw, mask)
}

/// A BMC address: any IPv4 or IPv6 address but the unspecified, loopback, broadcast and
/// multicast ones (link-local is allowed: some BMCs live there).
pub(crate) fn bmc_ip(s: &str) -> Result<IpAddr, Problem> {
    let ip = self::ip(s)?;
    let reason = match ip {
        IpAddr::V4(v4) if v4.is_broadcast() => "255.255.255.255 is the limited broadcast address",
        IpAddr::V4(v4) if v4.octets()[0] == 0 => "0.0.0.0/8 is \"this network\"",
        ip if ip.is_unspecified() => "the unspecified address",
        ip if ip.is_loopback() => "a loopback address",
        ip if ip.is_multicast() => "a multicast address",
        ip => return Ok(ip),
    };
    Err(Problem::UnusableIp {
        reason: reason.to_string(),
    })
}

/// A 48-bit MAC address written as six two-digit hex pairs separated by `:` or `-` (one
/// separator throughout), of a network card: not all zero, not broadcast, not multicast
/// (the group bit, the lowest bit of the first octet, clear). Returned in lower-case colon
/// form.
pub(crate) fn mac(s: &str) -> Result<MacAddr, Problem> {
    let mac: MacAddr = mac_syntax(s)?.parse().map_err(|_| Problem::NotMac)?;
    let octets = mac.octets();
    if octets == [0; 6] {
        return Err(Problem::UnusableMac(
            "the all-zero MAC address is no card's",
        ));
    }
    if octets == [0xff; 6] {
        return Err(Problem::UnusableMac(
            "ff:ff:ff:ff:ff:ff is the broadcast address",
        ));
    }
    if octets[0] & 1 == 1 {
        return Err(Problem::UnusableMac(
            "a multicast MAC address (the group bit of the first octet is set)",
        ));
    }
    Ok(mac)
}

fn mac_syntax(s: &str) -> Result<String, Problem> {
    let b = s.as_bytes();
    if b.len() != 17 {
        return Err(Problem::NotMac);
    }
    let sep = b[2];
    if sep != b':' && sep != b'-' {
        return Err(Problem::NotMac);
    }
    let mut out = String::with_capacity(17);
    for (i, &c) in b.iter().enumerate() {
        if i % 3 == 2 {
            if c != sep {
                return Err(Problem::NotMac);
            }
            out.push(':');
        } else if c.is_ascii_hexdigit() {
            out.push(char::from(c.to_ascii_lowercase()));
        } else {
            return Err(Problem::NotMac);
        }
    }
    Ok(out)
}

/// Maximum length of a DNS-1123 subdomain.
pub(crate) const MAX_SUBDOMAIN: usize = 253;

/// A DNS-1123 subdomain, as Kubernetes' `IsDNS1123Subdomain` checks it: at most 253
/// characters; dot-separated parts of lower-case letters, digits and `-`, each part starting
/// and ending with a letter or digit. The hostname becomes the Hardware's name, so this is
/// the model's object-name rule ([`ironbell_model::names`]), reported per line and column.
pub(crate) fn hostname(s: &str) -> Result<(), Problem> {
    let fail = |reason: &str| {
        Err(Problem::NotHostname {
            reason: reason.to_string(),
        })
    };
    if s.len() > MAX_SUBDOMAIN {
        return fail("must be no more than 253 characters");
    }
    if !ironbell_model::names::is_subdomain(s) {
        return fail(
            "must consist of lower case letters, digits, '-' or '.', and each dot-separated \
             part must start and end with a letter or digit",
        );
    }
    Ok(())
}

/// A disk path as EKS Anywhere accepts it: one or more repetitions of `/dev/` followed by at
/// least one ASCII letter, digit, `_` or `-` (the regular expression `^(/dev/[\w-]+)+$`).
pub(crate) fn disk(s: &str) -> Result<(), Problem> {
    const PREFIX: &str = "/dev/";
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut rest = s;
    if rest.is_empty() {
        return Err(Problem::NotDisk);
    }
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(PREFIX) else {
            return Err(Problem::NotDisk);
        };
        let end = after.find(|c| !name_char(c)).unwrap_or(after.len());
        if end == 0 {
            return Err(Problem::NotDisk);
        }
        rest = &after[end..];
    }
    Ok(())
}

/// `k=v|k2=v2` labels (an empty cell is no labels). Keys and values are trimmed and must be
/// valid Kubernetes label keys and values; a key may appear once.
pub(crate) fn labels(s: &str) -> Result<Labels, Problem> {
    let mut labels = Labels::new();
    if s.is_empty() {
        return Ok(labels);
    }
    for entry in s.split(LIST_SEPARATOR) {
        let mut parts = entry.trim().split('=');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Problem::LabelNotPair {
                entry: entry.to_string(),
            });
        };
        let (key, value) = (key.trim(), value.trim());
        ironbell_model::selector::validate_label_key(key).map_err(|e| Problem::LabelKey {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        ironbell_model::selector::validate_label_value(value).map_err(|e| Problem::LabelValue {
            key: key.to_string(),
            value: value.to_string(),
            reason: e.to_string(),
        })?;
        if labels.insert(key.to_string(), value.to_string()).is_some() {
            return Err(Problem::LabelDuplicate {
                key: key.to_string(),
            });
        }
    }
    Ok(labels)
}

/// A VLAN id: an integer from 1 to 4094 (an optional `+` sign and leading zeros are
/// accepted, as Go's `strconv.Atoi` does).
pub(crate) fn vlan_id(s: &str) -> Result<u16, Problem> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Problem::VlanNotInteger);
    }
    let significant = digits.trim_start_matches('0');
    if negative && !significant.is_empty() || significant.len() > 4 {
        return Err(Problem::VlanOutOfRange);
    }
    let n: u16 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| Problem::VlanNotInteger)?
    };
    if (1..=4094).contains(&n) {
        Ok(n)
    } else {
        Err(Problem::VlanOutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            mac("AA:bb:0C:dd:EE:0f").map(|m| m.to_string()).as_deref(),
            Ok("aa:bb:0c:dd:ee:0f")
        );
        assert_eq!(
            mac("AA-bb-0C-dd-EE-0f").map(|m| m.to_string()).as_deref(),
            Ok("aa:bb:0c:dd:ee:0f")
        );
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb-cc:dd:ee:ff",
            "aa.bb.cc.dd.ee.ff",
            "ag:bb:cc:dd:ee:ff",
            "a:bb:cc:dd:ee:fff",
            "aabb.ccdd.eeff",
        ] {
            assert_eq!(mac(bad), Err(Problem::NotMac), "{bad}");
        }
    }

    #[test]
    fn unusable_macs() {
        for (bad, why) in [
            ("00:00:00:00:00:00", "all-zero"),
            ("FF-FF-FF-FF-FF-FF", "broadcast"),
            ("01:00:5e:00:00:01", "multicast"),
            ("33:33:00:00:00:01", "multicast"),
        ] {
            match mac(bad) {
                Err(Problem::UnusableMac(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(mac("00:00:00:00:00:01").is_ok());
        assert!(
            mac("02:00:00:00:00:01").is_ok(),
            "locally administered is fine"
        );
    }

    #[test]
    fn unusable_ips() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "255.255.255.255",
            "224.0.0.1",
            "239.1.1.1",
            "169.254.10.1",
            "240.0.0.1",
        ] {
            assert!(host_ipv4(ip(bad)).is_err(), "{bad}");
        }
        for good in ["10.0.0.1", "192.168.1.254", "100.64.0.1", "8.8.8.8"] {
            assert!(host_ipv4(ip(good)).is_ok(), "{good}");
        }
        let m24 = ip("255.255.255.0");
        assert!(in_own_subnet(ip("10.0.0.0"), m24).is_err());
        assert!(in_own_subnet(ip("10.0.0.255"), m24).is_err());
        assert!(in_own_subnet(ip("10.0.0.1"), m24).is_ok());
        // /31 and /32 have no network or broadcast address (RFC 3021).
        assert!(in_own_subnet(ip("10.0.0.0"), ip("255.255.255.254")).is_ok());
        assert!(in_own_subnet(ip("10.0.0.7"), ip("255.255.255.255")).is_ok());
        assert_eq!(
            gateway(ip("10.0.1.1"), ip("10.0.0.5"), m24),
            Err(Problem::GatewayOutsideSubnet {
                subnet: "10.0.0.0/24".into()
            })
        );
        assert!(gateway(ip("10.0.0.255"), ip("10.0.0.5"), m24).is_err());
        assert!(gateway(ip("10.0.0.1"), ip("10.0.0.5"), m24).is_ok());
        for bad in [
            "0.0.0.0",
            "::",
            "127.0.0.1",
            "::1",
            "255.255.255.255",
            "ff02::1",
            "224.0.0.5",
        ] {
            assert!(bmc_ip(bad).is_err(), "{bad}");
        }
        for good in ["192.0.2.10", "fe80::1", "169.254.0.5", "2001:db8::5"] {
            assert!(bmc_ip(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn netmasks() {
        for good in [
            "255.255.255.0",
            "255.255.252.0",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            assert!(netmask(good).is_ok(), "{good}");
        }
        for bad in ["255.0.255.0", "255.255.255.1", "24", "", "255.255.255"] {
            assert_eq!(netmask(bad), Err(Problem::NotNetmask), "{bad}");
        }
    }

    #[test]
    fn hostnames() {
        for good in [
            "a",
            "worker1",
            "eksa-cp-01.example.com",
            "0",
            &"a".repeat(253),
        ] {
            assert!(hostname(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Worker1",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "a b",
            &"a".repeat(254),
        ] {
            assert!(hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn disks() {
        for good in ["/dev/sda", "/dev/nvme0n1", "/dev/md_0", "/dev/sda/dev/sdb"] {
            assert!(disk(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "sda",
            "/dev/",
            "/dev/sda/",
            "/dev/disk/by-id/x",
            "/dev/sda1 ",
            "/dev/sdå",
            "/devsda",
        ] {
            assert_eq!(disk(bad), Err(Problem::NotDisk), "{bad}");
        }
    }

    #[test]
    fn vlans() {
        assert_eq!(vlan_id("1"), Ok(1));
        assert_eq!(vlan_id("4094"), Ok(4094));
        assert_eq!(vlan_id("+10"), Ok(10));
        assert_eq!(vlan_id("0010"), Ok(10));
        assert_eq!(vlan_id("0"), Err(Problem::VlanOutOfRange));
        assert_eq!(vlan_id("4095"), Err(Problem::VlanOutOfRange));
        assert_eq!(vlan_id("-1"), Err(Problem::VlanOutOfRange));
        assert_eq!(
            vlan_id("99999999999999999999"),
            Err(Problem::VlanOutOfRange)
        );
        for bad in ["abc", "1.5", "+", "-", "+-1", "1e3", "0x10"] {
            assert_eq!(vlan_id(bad), Err(Problem::VlanNotInteger), "{bad}");
        }
    }

    #[test]
    fn nameserver_lists() {
        assert_eq!(
            nameservers("1.1.1.1| 8.8.8.8"),
            Ok(vec![IpAddr::from([1, 1, 1, 1]), IpAddr::from([8, 8, 8, 8])])
        );
        assert_eq!(
            nameservers("1.1.1.1|dns.example"),
            Err(Problem::NotNameserverIp { index: 2 })
        );
        assert_eq!(nameservers(""), Err(Problem::NoNameserver));
        assert_eq!(
            nameservers("1.1.1.1|"),
            Err(Problem::EmptyNameserver { index: 2 })
        );
    }
}
