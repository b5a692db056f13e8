//! The virtual address against the Linux kernel's own ARP: three hosts on one bridged
//! segment (network namespaces, no route out). Hosts 0 and 1 are replicas, each serving
//! its name on TCP port 7000 on every address; host 2 is a machine that connects to the
//! virtual address.
//!
//! - host 0 claims the address: the machine reaches host 0 there;
//! - host 1's claim while host 0 holds it is refused, naming host 0's MAC (the probe);
//! - host 0 releases it and host 1 claims it: the machine's very next connection reaches
//!   host 1, because the announcement replaced the machine's cached MAC (without it, the
//!   machine would keep sending to host 0 until its neighbour entry went stale).
//!
//! Needs root (namespaces, packet sockets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use ironbell_testbed::{Lan, Netns};
use ironbell_vip::{Claim, Vip, VipError, claim};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);

fn in_ns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    ns.enter(f).expect("enter")
}

fn take(ns: &Netns) -> Result<Claim, VipError> {
    in_ns(ns, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(claim(&Vip::new(VIP)))
    })
}

fn release(ns: &Netns, c: Claim) {
    in_ns(ns, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(c.release())
    })
    .expect("release");
}

/// Serves `name` to every connection on port 7000 of namespace `ns`, on a thread of its own.
fn serve_name(ns: &Netns, name: &'static str) {
    let listener = ns.tcp_listener("0.0.0.0:7000").expect("listen");
    listener.set_nonblocking(false).unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(name.as_bytes());
        }
    });
}

/// Who answers at the virtual address, seen from namespace `ns` (one attempt, 1 s).
fn who(ns: &Netns) -> Option<String> {
    in_ns(ns, || {
        let addr = SocketAddr::from((VIP, 7000));
        let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        let mut name = String::new();
        conn.read_to_string(&mut name).ok()?;
        Some(name)
    })
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn the_address_moves_between_hosts_and_a_neighbour_follows_at_once() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let lan = Lan::new(3).expect("lan");
    let (a, b, machine) = (&lan.hosts[0], &lan.hosts[1], &lan.hosts[2]);
    // As on a server: a host that lost the address drops what still comes to it there
    // (new namespaces here inherit forwarding from the machine, which would pass it on).
    for host in &lan.hosts {
        in_ns(host, || {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "0")
        })
        .expect("forwarding off");
    }
    serve_name(a, "host0");
    serve_name(b, "host1");

    let first = take(a).expect("host 0 claims");
    assert!(first.added());
    assert_eq!(first.interface(), "eth0");
    assert_eq!(who(machine).as_deref(), Some("host0"));

    match take(b) {
        Err(VipError::InUse { mac, .. }) => assert_eq!(mac, mac_text(a.mac("eth0").unwrap())),
        other => panic!("host 1 claimed a held address: {other:?}"),
    }

    release(a, first);
    let second = take(b).expect("host 1 claims");
    assert_eq!(
        who(machine).as_deref(),
        Some("host1"),
        "the machine still sends to host 0"
    );
    release(b, second);
    assert_eq!(who(machine), None, "the address answers after its release");
}
