//! The lab's network without QEMU: [`net::create`] builds the namespace `lab up` needs
//! (bridge, server, BMC and IPv6 addresses, one tap per machine, forwarding), the probes
//! see inside it, a failed build leaves nothing behind, and [`net::delete`] removes it.
//! Needs root (`ip netns add`).

use std::process::Command;

use ironbell_lab::net;
use ironbell_lab::plan::{self, BmcProtocols, Firmware, MachineSpec, SERVER_IP};
use ironbell_testbed::{Tier, require_tier};

/// Deletes the namespace when the test ends, whatever happened.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = net::delete(&self.0);
    }
}

fn ip_output(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_lab_network_is_built_probed_and_removed() {
    require_tier!(Tier::Root);
    let name = format!("iblab{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let machines = plan::layout(
        &[
            MachineSpec::new(Firmware::Bios, BmcProtocols::Both),
            MachineSpec::new(Firmware::Uefi, BmcProtocols::Ipmi),
        ],
        1,
    );
    net::create(&name, &machines).expect("create");
    assert!(net::exists(&name));

    // The taps are on the bridge, which holds the server's, the BMCs' and the IPv6 address.
    let taps = ip_output(&["-n", &name, "-o", "link", "show", "master", plan::BRIDGE]);
    for m in &machines {
        assert!(
            taps.contains(&format!(" {}:", m.tap)),
            "{} missing: {taps}",
            m.tap
        );
    }
    let addrs = ip_output(&["-n", &name, "-o", "addr", "show", "dev", plan::BRIDGE]);
    assert!(addrs.contains(&format!("{SERVER_IP}/24")), "{addrs}");
    for bmc in machines.iter().filter_map(|m| m.bmc_ip) {
        assert!(addrs.contains(&format!("{bmc}/32")), "{bmc}: {addrs}");
    }
    assert!(addrs.contains("fd42:1b::1/64"), "{addrs}");
    let forwarding = ip_output(&[
        "netns",
        "exec",
        &name,
        "sysctl",
        "-n",
        "net.ipv6.conf.all.forwarding",
    ]);
    assert_eq!(forwarding.trim(), "1");

    // The probes see what listens inside, and only that.
    let listener = net::within(&name, || std::net::TcpListener::bind((SERVER_IP, 0)))
        .expect("inside")
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert!(net::tcp_open(&name, SERVER_IP, port));
    drop(listener);
    assert!(!net::tcp_open(&name, SERVER_IP, port));
    let bmc = machines[0].bmc_ip.expect("bmc address");
    let socket = net::within(&name, || std::net::UdpSocket::bind((bmc, 0)))
        .expect("inside")
        .expect("bind at a BMC address");
    let udp = socket.local_addr().expect("addr").port();
    assert!(net::udp_bound(&name, bmc, udp));

    // A second lab of the same name is refused and leaves the first alone.
    assert!(net::create(&name, &machines).is_err());
    assert!(net::exists(&name));

    net::delete(&name).expect("delete");
    assert!(!net::exists(&name));
    net::delete(&name).expect("deleting what is gone is no error");
}

#[test]
fn a_failed_build_leaves_no_namespace() {
    require_tier!(Tier::Root);
    let name = format!("iblabf{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let mut machines = plan::layout(
        &[MachineSpec::new(Firmware::Bios, BmcProtocols::Redfish)],
        0,
    );
    // Longer than an interface name may be (15 bytes): `ip tuntap add` fails.
    machines[0].tap = "tap-name-far-too-long".into();
    let err = net::create(&name, &machines)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("tap-name-far-too-long"), "{err}");
    assert!(!net::exists(&name), "the half-built namespace was removed");
}
