//! The DHCP offers in a tcpdump capture, for the tests that show that at no moment two
//! planes answer one machine (`native_cluster.rs`, `lab_native.rs`). Included with `#[path]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The DHCP offers in the capture `pcap`: (client MAC, xid) → the servers that offered.
fn offers(pcap: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let out = Command::new("tcpdump")
        .args(["-r", &pcap.display().to_string(), "-n", "-v"])
        .output()
        .expect("tcpdump -r");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut offers: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    // One packet: a line that does not start with a blank, then its indented lines.
    let mut packets: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            if let Some(p) = packets.last_mut() {
                p.push('\n');
                p.push_str(line);
            }
        } else {
            packets.push(line.to_string());
        }
    }
    let after = |p: &str, key: &str| {
        p.split(key)
            .nth(1)
            .and_then(|rest| rest.split([' ', ',', '\n']).find(|w| !w.is_empty()))
            .map(str::to_string)
    };
    for p in packets {
        if !p.contains("DHCP-Message (53), length 1: Offer") {
            continue;
        }
        let (Some(mac), Some(xid), Some(server)) = (
            after(&p, "Client-Ethernet-Address"),
            after(&p, "xid"),
            after(&p, "Server-ID (54), length 4:"),
        ) else {
            continue;
        };
        offers.entry((mac, xid)).or_default().insert(server);
    }
    offers
}

/// Asserts that the capture `pcap` holds DHCP offers and that no Discover (client MAC and
/// xid) was offered an address by two servers; prints how many exchanges and which servers.
pub fn assert_one_plane_per_offer(pcap: &Path) {
    let offers = offers(pcap);
    assert!(!offers.is_empty(), "the capture holds no DHCP offer");
    let doubled: Vec<_> = offers.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "machines offered addresses by two planes at once: {doubled:?}"
    );
    let servers: BTreeSet<&String> = offers.values().flatten().collect();
    eprintln!(
        "{} DHCP exchanges captured, each offered by one plane (servers {servers:?})",
        offers.len()
    );
}
