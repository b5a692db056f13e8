//! The rival-server probe on the wire: dnsmasq as the rival, ironbell's own server as the
//! one to leave out, ISC dhclient (or a plain socket) holding port 68, and a hand-made
//! server for the replies no real server sends (malformed ones).
//!
//! Needs root and the Debian packages `dnsmasq-base` and `isc-dhcp-client`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ironbell_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
use ironbell_dhcp::dhcproto::{Decodable, Encodable};
use ironbell_dhcp::probe::{ProbeConfig, ProbeReport, probe};
use ironbell_dhcp::{Config, MacAddr, Reservation, Server, bind_server_socket};
use ironbell_testbed::{
    Dnsmasq, Lan, Netns, Tier, require_tier, require_tool, udp_port_open, veth, wait_until,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEXT_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);

/// A server namespace (`s0` at 192.0.2.1/24) and a client namespace (`c0`, no address)
/// joined by a veth.
struct Pair {
    srv: Netns,
    cli: Netns,
}

fn pair() -> Pair {
    let srv = Netns::new().expect("netns");
    let cli = Netns::new().expect("netns");
    veth(&srv, "s0", &cli, "c0").expect("veth");
    srv.add_address("s0", "192.0.2.1/24").expect("addr");
    Pair { srv, cli }
}

/// The MAC of `iface` in `ns`.
fn mac_of(ns: &Netns, iface: &str) -> [u8; 6] {
    ns.mac(iface).expect("read mac")
}

/// dnsmasq on `iface` in `ns`, handing out `range` and, as `--dhcp-boot`,
/// `undionly.kpxe` from the TFTP server `rival-boot` at [`NEXT_SERVER`].
fn dnsmasq(ns: &Netns, iface: &str, range: &str, dir: &Path) -> Dnsmasq {
    let boot = format!("--dhcp-boot=undionly.kpxe,rival-boot,{NEXT_SERVER}");
    Dnsmasq::start(ns, iface, range, &[&boot], dir).expect("start dnsmasq")
}

/// Probes `iface` from inside `ns`.
fn probe_in(ns: &Netns, config: ProbeConfig) -> ProbeReport {
    ns.enter(move || probe(&config))
        .expect("enter")
        .expect("probe")
}

/// The probe found dnsmasq at `server` and nothing else; returns the address offered.
fn assert_dnsmasq_only(report: &ProbeReport, server: Ipv4Addr, server_mac: [u8; 6]) -> Ipv4Addr {
    assert_eq!(report.servers.len(), 1, "{report:#?}");
    let s = &report.servers[0];
    assert_eq!(s.server_id, Some(server), "{s:#?}");
    assert_eq!(s.source_ip, server);
    assert_eq!(s.source_mac, MacAddr(server_mac));
    assert_eq!(s.message_type, Some(MessageType::Offer));
    assert!(!s.from_this_host);
    assert!(s.answers >= 1);
    assert_eq!(s.boot.next_server, Some(NEXT_SERVER));
    assert_eq!(s.boot.boot_file.as_deref(), Some("undionly.kpxe"));
    assert_eq!(s.boot.tftp_server.as_deref(), Some("rival-boot"));
    assert!(s.boot.offers_pxe());
    assert!(report.rival_found());
    assert_eq!(report.malformed, 0);
    s.offered
}

#[test]
fn a_rival_dnsmasq_is_reported_with_its_offer_and_boot_data() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    let lab = pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let _rival = dnsmasq(&lab.srv, "s0", "192.0.2.100,192.0.2.150", dir.path());
    let config = ProbeConfig::new("c0");
    let timeout = config.timeout;
    let report = probe_in(&lab.cli, config);
    let offered = assert_dnsmasq_only(&report, SERVER, mac_of(&lab.srv, "s0"));
    let range = Ipv4Addr::new(192, 0, 2, 100)..=Ipv4Addr::new(192, 0, 2, 150);
    assert!(range.contains(&offered), "{offered}");
    assert_eq!(report.client_mac, MacAddr(mac_of(&lab.cli, "c0")));
    assert_eq!(report.discovers_sent, 3);
    assert!(report.elapsed >= timeout, "{:?}", report.elapsed);
    // The probe only asked: dnsmasq wrote no lease.
    let leases = std::fs::read_to_string(dir.path().join("dnsmasq-s0.leases")).unwrap_or_default();
    assert!(leases.trim().is_empty(), "{leases}");
}

/// A proxyDHCP server answers PXE clients only, with boot data and no address: the
/// probe's PXE-like Discover draws it out.
#[test]
fn a_proxy_dhcp_dnsmasq_is_reported_too() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    let lab = pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let rival = Dnsmasq::start(
        &lab.srv,
        "s0",
        "192.0.2.0,proxy",
        &["--pxe-service=x86PC,Rival boot,undionly"],
        dir.path(),
    )
    .expect("dnsmasq");
    let report = probe_in(&lab.cli, ProbeConfig::new("c0"));
    assert_eq!(report.servers.len(), 1, "{report:#?}\n{}", rival.log());
    let s = &report.servers[0];
    assert_eq!(s.server_id, Some(SERVER));
    assert_eq!(s.offered, Ipv4Addr::UNSPECIFIED);
    assert!(s.boot.pxe_class && s.boot.vendor_options, "{s:#?}");
    assert!(s.boot.offers_pxe());
    assert!(s.to_string().contains(": proxyDHCP offer, PXE:"), "{s}");
}

#[test]
fn no_server_means_an_empty_report_at_the_timeout() {
    require_tier!(Tier::Root);
    let lab = pair();
    let mut config = ProbeConfig::new("c0");
    config.timeout = Duration::from_secs(1);
    config.attempts = 2;
    let report = probe_in(&lab.cli, config);
    assert!(!report.rival_found(), "{report:#?}");
    assert_eq!(
        (report.ours, report.malformed, report.discovers_sent),
        (0, 0, 2)
    );
    // Bounded by its timeout: not a speed claim, a check that it stops.
    assert!(
        report.elapsed >= Duration::from_secs(1) && report.elapsed < Duration::from_secs(3),
        "{:?}",
        report.elapsed
    );
}

#[test]
fn errors_name_the_interface() {
    require_tier!(Tier::Root);
    let lab = pair();
    let run = |name: &str| {
        let config = ProbeConfig::new(name);
        lab.cli
            .enter(move || probe(&config))
            .expect("enter")
            .expect_err("probe of a bad interface")
            .to_string()
    };
    assert_eq!(run("c9"), "interface c9 does not exist");
    assert_eq!(run("lo"), "interface lo is not an Ethernet interface");
    lab.cli.ip(&["link", "set", "c0", "down"]).expect("down");
    assert_eq!(run("c0"), "interface c0 is down");
}

/// A running ironbell DHCP server (the blocking loop the boot service runs), stopped on
/// drop.
struct Ours(
    Arc<AtomicBool>,
    Option<std::thread::JoinHandle<std::io::Result<()>>>,
);

impl Drop for Ours {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.1.take() {
            t.join().expect("server thread").expect("server loop");
        }
    }
}

#[test]
fn ironbell_own_server_is_left_out_and_a_rival_beside_it_is_not() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    // One segment: ironbell in the server namespace (br0, 10.99.0.1), the prober on host
    // 0, dnsmasq on host 1 (10.99.0.3).
    let lan = Lan::new(2).expect("lan");
    let probe_mac = mac_of(&lan.hosts[0], "eth0");
    let mut reservation = Reservation::new(Ipv4Addr::new(10, 99, 0, 50), [255, 255, 0, 0].into());
    reservation.allow_netboot = true;
    let server = Arc::new(Server::new(
        Config::new(Lan::server_ip()),
        HashMap::from([(probe_mac, reservation)]),
    ));
    let stats = server.stats();
    let socket = lan
        .server
        .enter(|| bind_server_socket("0.0.0.0:67", Some("br0")))
        .expect("enter")
        .expect("bind :67");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ours = Ours(
        stop,
        Some(std::thread::spawn(move || {
            server.serve_blocking(socket, &flag)
        })),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let _rival = dnsmasq(&lan.hosts[1], "eth0", "10.99.1.10,10.99.1.50", dir.path());
    let rival_ip = Lan::host_ip(1);
    let rival_mac = mac_of(&lan.hosts[1], "eth0");

    // Nothing ignored: both answer, ironbell with the reservation and its iPXE binary.
    let mut config = ProbeConfig::new("eth0");
    let all = probe_in(&lan.hosts[0], config.clone());
    let ids: Vec<_> = all.servers.iter().map(|s| s.server_id).collect();
    assert_eq!(all.servers.len(), 2, "{all:#?}\n{}", _rival.log());
    assert!(ids.contains(&Some(Lan::server_ip())) && ids.contains(&Some(rival_ip)));
    let ironbell = all
        .servers
        .iter()
        .find(|s| s.server_id == Some(Lan::server_ip()))
        .expect("ironbell answered");
    assert_eq!(ironbell.offered, Ipv4Addr::new(10, 99, 0, 50));
    assert_eq!(ironbell.boot.boot_file.as_deref(), Some("undionly.kpxe"));
    assert!(stats.replies.load(Ordering::Relaxed) >= 1);

    // ironbell's address ignored: only dnsmasq is reported, ironbell's answers counted.
    config.ignore = vec![Lan::server_ip()];
    let report = probe_in(&lan.hosts[0], config);
    assert_dnsmasq_only(&report, rival_ip, rival_mac);
    assert!(report.ours >= 1, "{report:#?}");

    // Only ironbell on the segment: nothing to report.
    drop(_rival);
    let mut config = ProbeConfig::new("eth0");
    config.timeout = Duration::from_secs(1);
    config.ignore = vec![Lan::server_ip()];
    let report = probe_in(&lan.hosts[0], config);
    assert!(!report.rival_found(), "{report:#?}");
    assert!(report.ours >= 1);
}

#[test]
fn a_socket_holding_port_68_without_reuse_does_not_stop_the_probe() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    let lab = pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let _rival = dnsmasq(&lab.srv, "s0", "192.0.2.100,192.0.2.150", dir.path());
    // The holder sets neither SO_REUSEADDR nor SO_REUSEPORT: no UDP socket can share the
    // port, whatever its own flags (the measurement behind the packet socket).
    let _holder = lab
        .cli
        .enter(|| std::net::UdpSocket::bind("0.0.0.0:68"))
        .expect("enter")
        .expect("hold port 68");
    let shared = lab
        .cli
        .enter(|| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
            s.set_reuse_address(true)?;
            s.set_reuse_port(true)?;
            s.bind_device(Some(b"c0"))?;
            s.bind(&std::net::SocketAddr::from(([0, 0, 0, 0], 68)).into())
        })
        .expect("enter");
    assert_eq!(
        shared.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::AddrInUse)
    );
    let report = probe_in(&lab.cli, ProbeConfig::new("c0"));
    assert_dnsmasq_only(&report, SERVER, mac_of(&lab.srv, "s0"));
}

#[test]
fn dhclient_holding_port_68_does_not_stop_the_probe() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    require_tool!("dhclient");
    let lab = pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let _rival = dnsmasq(&lab.srv, "s0", "192.0.2.100,192.0.2.150", dir.path());
    // dhclient in the foreground (killed by PID on drop), with a script that changes
    // nothing (the stock one would write the host's /etc/resolv.conf).
    let lease = dir.path().join("dhclient.lease");
    let lease_arg = lease.display().to_string();
    let pid_arg = dir.path().join("dhclient.pid").display().to_string();
    let _dhclient = lab
        .cli
        .spawn(
            "dhclient",
            &[
                "-d",
                "-1",
                "-sf",
                "/bin/true",
                "-lf",
                &lease_arg,
                "-pf",
                &pid_arg,
                "c0",
            ],
        )
        .expect("start dhclient");
    let leased = || {
        let text = std::fs::read_to_string(&lease).unwrap_or_default();
        let addr = text.split("fixed-address ").nth(1)?.split(';').next()?;
        addr.parse::<Ipv4Addr>().ok()
    };
    assert!(
        wait_until(Duration::from_secs(30), || leased().is_some()),
        "dhclient got no lease"
    );
    assert!(
        udp_port_open(&lab.cli, 68),
        "dhclient does not hold port 68"
    );
    let report = probe_in(&lab.cli, ProbeConfig::new("c0"));
    let offered = assert_dnsmasq_only(&report, SERVER, mac_of(&lab.srv, "s0"));
    // The probe's MAC is the interface's, so dnsmasq offers it dhclient's address again.
    assert_eq!(Some(offered), leased());
}

/// Replies no real server sends: for each Discover, five malformed datagrams, an Offer to
/// another client, then a good Offer. The probe counts the first six and reports the last.
#[test]
fn malformed_replies_on_the_wire_are_counted_and_dropped() {
    require_tier!(Tier::Root);
    let lab = pair();
    let sock = lab
        .srv
        .enter(|| bind_server_socket("0.0.0.0:67", Some("s0")))
        .expect("enter")
        .expect("bind :67");
    let answering = std::thread::spawn(move || -> std::io::Result<u32> {
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut buf = [0u8; 1500];
        let mut answered = 0;
        // The probe sends three Discovers; the read timeout ends the loop otherwise.
        while answered < 3 {
            let Ok((n, _)) = sock.recv_from(&mut buf) else {
                break;
            };
            let discover = Message::from_bytes(&buf[..n]).map_err(std::io::Error::other)?;
            let mut offer = discover.clone();
            offer
                .set_opcode(Opcode::BootReply)
                .set_yiaddr(Ipv4Addr::new(192, 0, 2, 77));
            offer.opts_mut().clear();
            offer
                .opts_mut()
                .insert(DhcpOption::MessageType(MessageType::Offer));
            offer
                .opts_mut()
                .insert(DhcpOption::ServerIdentifier(SERVER));
            let good = offer.to_vec().map_err(std::io::Error::other)?;
            let mut other = offer.clone();
            other.set_xid(discover.xid().wrapping_add(1));
            let mut bad_cookie = good.clone();
            bad_cookie[236] ^= 0xff;
            let mut overrun = good[..240].to_vec();
            overrun.extend_from_slice(&[53, 200, 2]);
            let replies = [
                vec![],
                vec![2; 10],
                good[..239].to_vec(),
                bad_cookie,
                overrun,
                other.to_vec().map_err(std::io::Error::other)?,
                good,
            ];
            for r in &replies {
                sock.send_to(r, (Ipv4Addr::BROADCAST, 68))?;
            }
            answered += 1;
        }
        Ok(answered)
    });
    let report = probe_in(&lab.cli, ProbeConfig::new("c0"));
    let answered = answering.join().expect("server thread").expect("server");
    assert_eq!(answered, 3);
    assert_eq!(report.malformed, 5 * u64::from(answered), "{report:#?}");
    assert_eq!(report.other_clients, u64::from(answered));
    assert_eq!(report.servers.len(), 1);
    let s = &report.servers[0];
    assert_eq!(
        (s.server_id, s.offered, s.answers),
        (Some(SERVER), Ipv4Addr::new(192, 0, 2, 77), 3)
    );
    assert!(!s.boot.offers_pxe());
}
