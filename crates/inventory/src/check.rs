//! Hand-written checks of single cell values. No regular expressions: each check is a scan
//! over the bytes, so a file of 10,000 rows validates in a few milliseconds.

use std::net::{IpAddr, Ipv4Addr};

use ironbell_model::Labels;

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
    let bits = u32::from(mask);
    if bits.leading_ones() + bits.trailing_zeros() == 32 {
        Ok(mask)
    } else {
        Err(Problem::NotNetmask)
    }
}

/// `|`-separated nameservers, each trimmed; at least one, none empty.
pub(crate) fn nameservers(s: &str) -> Result<Vec<String>, Problem> {
    if s.is_empty() {
        return Err(Problem::NoNameserver);
    }
    s.split(LIST_SEPARATOR)
        .enumerate()
        .map(|(i, ns)| match ns.trim() {
            "" => Err(Problem::EmptyNameserver { index: i + 1 }),
            ns => Ok(ns.to_string()),
        })
        .collect()
}

/// A 48-bit MAC address written as six two-digit hex pairs separated by `:` or `-` (one
/// separator throughout). Returned in lower-case colon form.
pub(crate) fn mac(s: &str) -> Result<String, Problem> {
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
/// and ending with a letter or digit.
pub(crate) fn hostname(s: &str) -> Result<(), Problem> {
    let fail = |reason: &str| {
        Err(Problem::NotHostname {
            reason: reason.to_string(),
        })
    };
    if s.len() > MAX_SUBDOMAIN {
        return fail("must be no more than 253 characters");
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    for part in s.split('.') {
        let p = part.as_bytes();
        let ok = match (p.first(), p.last()) {
            (Some(&first), Some(&last)) => {
                alnum(first) && alnum(last) && p.iter().all(|&c| alnum(c) || c == b'-')
            }
            _ => false,
        };
        if !ok {
            return fail(
                "must consist of lower case letters, digits, '-' or '.', and each dot-separated \
                 part must start and end with a letter or digit",
            );
        }
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
        assert_eq!(mac("AA:bb:0C:dd:EE:0f").as_deref(), Ok("aa:bb:0c:dd:ee:0f"));
        assert_eq!(mac("AA-bb-0C-dd-EE-0f").as_deref(), Ok("aa:bb:0c:dd:ee:0f"));
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
            Ok(vec!["1.1.1.1".to_string(), "8.8.8.8".to_string()])
        );
        assert_eq!(nameservers(""), Err(Problem::NoNameserver));
        assert_eq!(
            nameservers("1.1.1.1|"),
            Err(Problem::EmptyNameserver { index: 2 })
        );
    }
}
