//! Real clients on the wire: ISC dhclient, busybox udhcpc and a hand-built PXE Discover,
//! each in a network namespace joined by a veth to the server's namespace.
//!
//! Needs root and the Debian packages `isc-dhcp-client` and `busybox` (or
//! `busybox-static`).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ironbell_dhcp::dhcproto::v4::{Architecture, DhcpOption, Message, MessageType, OptionCode};
use ironbell_dhcp::dhcproto::{Decodable, Encodable};
use ironbell_dhcp::{Config, Mode, Reservation, Server, bind_server_socket};
use ironbell_testbed::{Netns, veth};

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// Two namespaces joined by a veth, the server socket bound in `srv` on `s0`, and the
/// MAC of `c0` in `cli`.
struct Lab {
    srv: Netns,
    cli: Netns,
    mac: [u8; 6],
}

fn lab() -> Lab {
    let srv = Netns::new().expect("netns");
    let cli = Netns::new().expect("netns");
    veth(&srv, "s0", &cli, "c0").expect("veth");
    srv.ip(&["addr", "add", "192.0.2.1/24", "dev", "s0"])
        .expect("addr");
    let mac = cli.mac("c0").expect("read mac");
    Lab { srv, cli, mac }
}

fn reservation() -> Reservation {
    let mut r = Reservation::new(CLIENT_IP, Ipv4Addr::new(255, 255, 255, 0));
    r.gateway = Some(Ipv4Addr::new(192, 0, 2, 254));
    r.dns_servers = vec![Ipv4Addr::new(192, 0, 2, 53)];
    r.hostname = Some("node-1".into());
    r.domain_name = Some("lab.example".into());
    r.allow_netboot = true;
    r
}

/// Binds the server socket inside `lab.srv`.
fn bind(lab: &Lab) -> std::net::UdpSocket {
    lab.srv
        .enter(|| bind_server_socket("0.0.0.0:67", Some("s0")))
        .expect("enter")
        .expect("bind :67")
}

/// Starts the server's blocking loop (the one the boot service runs) on a thread inside
/// `lab.srv`; it stops when the handle drops.
fn start(lab: &Lab, config: Config, backend: HashMap<[u8; 6], Reservation>) -> Running {
    let server = Arc::new(Server::new(config, backend));
    start_blocking(bind(lab), server)
}

fn start_blocking(sock: std::net::UdpSocket, server: Arc<Server<Backend>>) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || server.serve_blocking(sock, &flag));
    Running::Thread(stop, Some(thread))
}

/// Starts the server's Tokio loop inside `lab.srv`; it is aborted when the handle drops.
fn start_tokio(lab: &Lab, config: Config, backend: HashMap<[u8; 6], Reservation>) -> Running {
    let sock = tokio::net::UdpSocket::from_std(bind(lab)).expect("tokio socket");
    let server = Arc::new(Server::new(config, backend));
    Running::Task(tokio::spawn(async move { server.serve(sock).await }))
}

type Backend = HashMap<[u8; 6], Reservation>;

/// A running server, stopped on drop.
enum Running {
    Thread(
        Arc<AtomicBool>,
        Option<std::thread::JoinHandle<std::io::Result<()>>>,
    ),
    Task(tokio::task::JoinHandle<std::io::Result<()>>),
}

impl Drop for Running {
    fn drop(&mut self) {
        match self {
            Running::Thread(stop, thread) => {
                stop.store(true, Ordering::Relaxed);
                if let Some(t) = thread.take() {
                    let result = t.join().expect("server thread panicked");
                    result.expect("server loop failed");
                }
            }
            Running::Task(task) => task.abort(),
        }
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    let mut perm = std::fs::metadata(path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).expect("chmod");
}

/// `KEY=value` lines of an env dump.
fn env_file(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// Kills the daemonized dhclient named by its pid file (by that PID only).
struct PidFileGuard(std::path::PathBuf);
impl PidFileGuard {
    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.0).ok()?.trim().parse().ok()
    }
}
impl Drop for PidFileGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isc_dhclient_gets_the_reservation() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("dhclient");
    let lab = lab();
    let _server = start(
        &lab,
        Config::new(SERVER),
        HashMap::from([(lab.mac, reservation())]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("env");
    let script = dir.path().join("script");
    write_script(
        &script,
        &format!(
            "[ \"$reason\" = BOUND ] && env > {0}.tmp && mv {0}.tmp {0}\nexit 0",
            out.display()
        ),
    );
    let lease = dir.path().join("lease");
    let pidfile = dir.path().join("pid");
    let guard = PidFileGuard(pidfile.clone());
    let args: Vec<String> = vec![
        "30".into(),
        "dhclient".into(),
        "-1".into(),
        "-v".into(),
        "-sf".into(),
        script.display().to_string(),
        "-lf".into(),
        lease.display().to_string(),
        "-pf".into(),
        pidfile.display().to_string(),
        "c0".into(),
    ];
    let cli = lab.cli.name().to_string();
    let result = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &cli, "timeout"])
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("run dhclient");
    let env = env_file(&out);
    assert!(
        result.status.success(),
        "dhclient failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        env.get("new_ip_address").map(String::as_str),
        Some("192.0.2.10"),
        "{env:?}"
    );
    assert_eq!(
        env.get("new_subnet_mask").map(String::as_str),
        Some("255.255.255.0")
    );
    assert_eq!(
        env.get("new_routers").map(String::as_str),
        Some("192.0.2.254")
    );
    assert_eq!(
        env.get("new_domain_name_servers").map(String::as_str),
        Some("192.0.2.53")
    );
    assert_eq!(env.get("new_host_name").map(String::as_str), Some("node-1"));
    assert_eq!(
        env.get("new_dhcp_server_identifier").map(String::as_str),
        Some("192.0.2.1")
    );
    let lease_text = std::fs::read_to_string(&lease).unwrap_or_default();
    assert!(
        lease_text.contains("fixed-address 192.0.2.10;"),
        "{lease_text}"
    );
    // dhclient daemonized after binding: kill it by its PID and check that it is gone.
    let pid = guard.pid().expect("dhclient pid file");
    drop(guard);
    for _ in 0..50 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || state.contains(") Z"),
        "dhclient {pid} still running"
    );
}

fn udhcpc(lab: &Lab, extra: &[&str], out: &Path, dir: &Path) -> std::process::Output {
    let script = dir.join("udhcpc.sh");
    write_script(
        &script,
        &format!(
            "[ \"$1\" = bound ] && env > {0}.tmp && mv {0}.tmp {0}\nexit 0",
            out.display()
        ),
    );
    let script = script.display().to_string();
    let mut args = vec![
        "30", "busybox", "udhcpc", "-i", "c0", "-n", "-q", "-f", "-s",
    ];
    args.push(&script);
    args.extend_from_slice(extra);
    lab.cli.output("timeout", &args).expect("run udhcpc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_udhcpc_gets_the_reservation_and_unknown_mac_gets_nothing() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("busybox");
    let lab = lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("env");
    {
        let _server = start(
            &lab,
            Config::new(SERVER),
            HashMap::from([(lab.mac, reservation())]),
        );
        let result =
            tokio::task::block_in_place(|| udhcpc(&lab, &["-t", "3", "-T", "2"], &out, dir.path()));
        assert!(
            result.status.success(),
            "udhcpc failed: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let env = env_file(&out);
        assert_eq!(
            env.get("ip").map(String::as_str),
            Some("192.0.2.10"),
            "{env:?}"
        );
        assert_eq!(env.get("subnet").map(String::as_str), Some("255.255.255.0"));
        assert_eq!(env.get("router").map(String::as_str), Some("192.0.2.254"));
        assert_eq!(env.get("dns").map(String::as_str), Some("192.0.2.53"));
        assert_eq!(env.get("hostname").map(String::as_str), Some("node-1"));
        assert_eq!(env.get("domain").map(String::as_str), Some("lab.example"));
        assert_eq!(env.get("serverid").map(String::as_str), Some("192.0.2.1"));
        assert_eq!(env.get("lease").map(String::as_str), Some("604800"));
    }
    // Unknown MAC: the server knows only another address; udhcpc gets no lease.
    std::fs::remove_file(&out).ok();
    let other = HashMap::from([([2, 0, 0, 0, 0, 1], reservation())]);
    let _server = start(&lab, Config::new(SERVER), other);
    let result =
        tokio::task::block_in_place(|| udhcpc(&lab, &["-t", "2", "-T", "1"], &out, dir.path()));
    assert!(
        !result.status.success(),
        "udhcpc got a lease for an unknown MAC"
    );
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_offers_boot_information_without_an_address() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let lab = lab();
    let mut config = Config::new(SERVER);
    config.mode = Mode::Proxy;
    let _server = start_tokio(&lab, config, HashMap::from([(lab.mac, reservation())]));

    let u = Ipv4Addr::UNSPECIFIED;
    let mut discover = Message::new_with_id(0x0bad_cafe, u, u, u, u, &lab.mac);
    let o = discover.opts_mut();
    o.insert(DhcpOption::MessageType(MessageType::Discover));
    o.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00007:UNDI:003000".to_vec(),
    ));
    o.insert(DhcpOption::ClientSystemArchitecture(Architecture::X64));
    o.insert(DhcpOption::ClientNetworkInterface(1, 3, 0));
    o.insert(DhcpOption::ClientMachineIdentifier(vec![0; 17]));
    let bytes = discover.to_vec().expect("encode");

    let sock = lab
        .cli
        .enter(|| bind_server_socket("0.0.0.0:68", Some("c0")))
        .expect("enter")
        .expect("bind :68");
    let offer = tokio::task::block_in_place(move || {
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))?;
        let mut buf = [0u8; 1500];
        // Retransmit like firmware does, in case the first one raced the server start.
        for _ in 0..10 {
            sock.send_to(&bytes, (Ipv4Addr::BROADCAST, 67))?;
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let m = Message::from_bytes(&buf[..n]).map_err(std::io::Error::other)?;
                if m.xid() == 0x0bad_cafe && m.opts().msg_type() == Some(MessageType::Offer) {
                    return Ok(m);
                }
            }
        }
        Err(std::io::Error::other("no offer"))
    })
    .expect("offer");
    assert_eq!(offer.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(offer.siaddr(), SERVER);
    // The file field on the wire is NUL-terminated; dhcproto keeps the NUL.
    let fname = offer.fname().unwrap_or_default();
    assert_eq!(fname.strip_suffix(b"\0").unwrap_or(fname), b"ipxe.efi");
    assert_eq!(
        offer.opts().get(OptionCode::BootfileName),
        Some(&DhcpOption::BootfileName(b"ipxe.efi".to_vec()))
    );
    assert_eq!(
        offer.opts().get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
    );
    assert_eq!(
        offer.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert!(offer.opts().get(OptionCode::SubnetMask).is_none());
}

/// Truncated, oversized, garbage and wrong-cookie datagrams reach the blocking loop, are
/// counted as malformed and dropped; a good Discover after them is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_are_counted_and_dropped() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let lab = lab();
    let server = Arc::new(Server::new(
        Config::new(SERVER),
        HashMap::from([(lab.mac, reservation())]),
    ));
    let stats = server.stats();
    let running = start_blocking(bind(&lab), server);

    let u = Ipv4Addr::UNSPECIFIED;
    let mut discover = Message::new_with_id(0x5eed_0001, u, u, u, u, &lab.mac);
    discover
        .opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    let good = discover.to_vec().expect("encode");
    let mut bad_cookie = good.clone();
    bad_cookie[236] ^= 0xff;
    let mut overrun = good[..240].to_vec();
    overrun.extend_from_slice(&[53, 200, 1]); // option 53 claims 200 bytes
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![1; 10],
        good[..239].to_vec(),
        vec![0x41; 4000],
        bad_cookie,
        overrun,
    ];
    let sock = lab
        .cli
        .enter(|| bind_server_socket("0.0.0.0:68", Some("c0")))
        .expect("enter")
        .expect("bind :68");
    let offer = tokio::task::block_in_place(|| {
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(Duration::from_millis(300)))?;
        let mut buf = [0u8; 1500];
        for _ in 0..10 {
            for b in &bad {
                sock.send_to(b, (Ipv4Addr::BROADCAST, 67))?;
            }
            sock.send_to(&good, (Ipv4Addr::BROADCAST, 67))?;
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let m = Message::from_bytes(&buf[..n]).map_err(std::io::Error::other)?;
                if m.xid() == 0x5eed_0001 && m.opts().msg_type() == Some(MessageType::Offer) {
                    return Ok(m);
                }
            }
        }
        Err(std::io::Error::other("no offer"))
    })
    .expect("offer after the malformed datagrams");
    assert_eq!(offer.yiaddr(), CLIENT_IP);
    let malformed = stats.malformed.load(Ordering::Relaxed);
    let rounds = stats.discover.load(Ordering::Relaxed);
    assert!(rounds >= 1);
    // Every round sent six malformed datagrams before its good one.
    assert!(
        malformed >= 6 * rounds,
        "{malformed} malformed counted for {rounds} rounds"
    );
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_mac_is_dropped_and_udhcpc_still_gets_its_lease() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("busybox");
    let lab = lab();
    let flooder: [u8; 6] = [2, 0, 0, 0, 0, 0x66];
    let mut flooder_lease = reservation();
    flooder_lease.ip = Ipv4Addr::new(192, 0, 2, 66);
    let config = Config::new(SERVER);
    let (rate, burst) = (config.requests_per_mac, config.request_burst_per_mac);
    let server = Arc::new(Server::new(
        config,
        HashMap::from([(lab.mac, reservation()), (flooder, flooder_lease)]),
    ));
    let stats = server.stats();
    let running = start_blocking(bind(&lab), server);

    // The flood: Discovers from one (reserved) MAC, broadcast on the client's link from
    // a port other than 68 (udhcpc's), for 3 s or 30,000 datagrams.
    let sock = lab
        .cli
        .enter(|| bind_server_socket("0.0.0.0:6868", Some("c0")))
        .expect("enter")
        .expect("bind");
    let u = Ipv4Addr::UNSPECIFIED;
    let mut discover = Message::new_with_id(0xf100_d000, u, u, u, u, &flooder);
    discover
        .opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Discover));
    let flood = discover.to_vec().expect("encode");
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut sent = 0u64;
            while sent < 30_000
                && started.elapsed() < Duration::from_secs(3)
                && !stop.load(Ordering::Relaxed)
            {
                if sock.send_to(&flood, (Ipv4Addr::BROADCAST, 67)).is_ok() {
                    sent += 1;
                }
            }
            (sent, started.elapsed())
        })
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("env");
    let result =
        tokio::task::block_in_place(|| udhcpc(&lab, &["-t", "3", "-T", "2"], &out, dir.path()));
    let flood_running = !flooding.is_finished();
    stop.store(true, Ordering::Relaxed);
    let (sent, took) = flooding.join().expect("flood thread");
    assert!(
        result.status.success(),
        "udhcpc failed during the flood: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(
        env_file(&out).get("ip").map(String::as_str),
        Some("192.0.2.10")
    );
    drop(running);
    let limited = stats.rate_limited.load(Ordering::Relaxed);
    let replies = stats.replies.load(Ordering::Relaxed);
    let received = stats.discover.load(Ordering::Relaxed) + stats.request.load(Ordering::Relaxed);
    eprintln!(
        "figures: {sent} Discovers from one MAC in {took:?} (still flooding when udhcpc \
         finished: {flood_running}); {limited} dropped by the per-MAC limit, {replies} replies \
         in all ({received} requests read)"
    );
    // What got through for the flooder: the burst and the rate over the flood's time.
    let allowed = u64::from(burst) + u64::from(rate) * (took.as_secs() + 1);
    assert!(
        replies <= allowed + 4,
        "{replies} replies, at most {allowed} for the flooder and 4 for udhcpc"
    );
    assert!(
        received - limited <= allowed + 4,
        "{received} received, {limited} dropped"
    );
}

/// A storm through the batched loop: 400 Discovers and Requests of 200 reserved MACs sent
/// at once, half through a relay (replies unicast to its port 67) and half as local clients
/// (replies broadcast to port 68), with host names of several lengths so that replies come
/// in runs of equal and of different sizes (UDP GSO and `sendmmsg` both used). Every
/// datagram received is byte for byte what `Server::handle_datagram` builds for its request,
/// and every request gets exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_answered_datagram_for_datagram_as_one_at_a_time() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    const CLIENTS: u8 = 200;
    let lab = lab();
    lab.cli
        .ip(&["addr", "add", "192.0.2.250/24", "dev", "c0"])
        .expect("relay address");
    let relay = Ipv4Addr::new(192, 0, 2, 250);
    let mut backend = HashMap::new();
    for i in 0..CLIENTS {
        let mut r = reservation();
        r.ip = Ipv4Addr::new(198, 51, 100, i);
        r.hostname = Some(format!("node-{}", "x".repeat(usize::from(i % 3))));
        backend.insert([2, 0, 0, 0, 1, i], r);
    }
    // The expected answers come from a second server with the same settings.
    let oracle = Server::new(Config::new(SERVER), backend.clone());
    let server = Arc::new(Server::new(Config::new(SERVER), backend));
    let stats = server.stats();
    let running = start_blocking(bind(&lab), server);

    let u = Ipv4Addr::UNSPECIFIED;
    let mut requests = Vec::new();
    for i in 0..CLIENTS {
        let giaddr = if i % 2 == 0 { relay } else { u };
        for mt in [MessageType::Discover, MessageType::Request] {
            let xid = (u32::from(i) << 8) | u32::from(u8::from(mt));
            let mut m = Message::new_with_id(xid, u, u, u, giaddr, &[2, 0, 0, 0, 1, i]);
            m.opts_mut().insert(DhcpOption::MessageType(mt));
            if mt == MessageType::Request {
                let ip = Ipv4Addr::new(198, 51, 100, i);
                m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
                m.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
            }
            requests.push((xid, m.to_vec().expect("encode")));
        }
    }
    let from = std::net::SocketAddr::from((Ipv4Addr::new(192, 0, 2, 250), 67));
    let mut expected: HashMap<u32, Vec<u8>> = requests
        .iter()
        .map(|(xid, req)| {
            let (bytes, _) = oracle.handle_datagram(req, from).expect("an answer");
            (*xid, bytes)
        })
        .collect();
    let sizes: std::collections::HashSet<usize> = expected.values().map(Vec::len).collect();
    assert!(sizes.len() >= 3, "replies of several sizes: {sizes:?}");

    let bind_in_cli = |addr: &str| {
        let s = lab
            .cli
            .enter(|| bind_server_socket(addr, Some("c0")))
            .expect("enter")
            .expect("bind");
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        s
    };
    let relay_sock = bind_in_cli("192.0.2.250:67");
    let client_sock = bind_in_cli("0.0.0.0:68");
    let received = tokio::task::block_in_place(|| {
        for (_, req) in &requests {
            client_sock
                .send_to(req, (Ipv4Addr::BROADCAST, 67))
                .expect("send");
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut buf = [0u8; 1600];
        while got.len() < requests.len() && std::time::Instant::now() < deadline {
            for sock in [&relay_sock, &client_sock] {
                while let Ok((n, _)) = sock.recv_from(&mut buf) {
                    got.push(buf[..n].to_vec());
                }
            }
        }
        got
    });
    drop(running);
    assert_eq!(received.len(), requests.len(), "one reply per request");
    for bytes in received {
        let m = Message::from_bytes(&bytes).expect("a DHCP reply");
        let want = expected
            .remove(&m.xid())
            .unwrap_or_else(|| panic!("a second reply, or one for no request: {m:?}"));
        assert_eq!(bytes, want, "reply to xid {:#x}", m.xid());
    }
    assert_eq!(stats.replies.load(Ordering::Relaxed), requests.len() as u64);
    assert_eq!(stats.send_errors.load(Ordering::Relaxed), 0);
}
