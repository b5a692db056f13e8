//! The boot service on a hostile provisioning network, with real peers in network
//! namespaces ([`Lan`]: a server and hosts on one bridge):
//!
//! - symlinks in the artifacts directory never lead out of it (curl);
//! - 1,100 idle TCP connections from one host do not stop curl on another host;
//! - a syslog spray from thousands of spoofed source addresses (raw socket, `IP_HDRINCL`)
//!   costs bounded memory and disk, while util-linux `logger` on a known Hardware's
//!   address still gets its lines stored.
//!
//! Figures are printed (`--nocapture`) rather than asserted tightly: the bounds asserted are
//! the design's, not timings.

mod common;

use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ironbell_boot::Index;
use ironbell_boot::http::{self, Config, HttpState};
use ironbell_boot::machine_log::{self, MachineLogs};
use ironbell_testbed::{Lan, Netns};

const SECRET: &str = "not-for-http-secret";

/// Polls `cond` every 20 ms until it holds or `limit` passes.
async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `curl` run in `ns`: (HTTP status, body).
async fn curl(ns: &Netns, url: String) -> (u16, Vec<u8>) {
    let name = ns.name().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &name, "curl", "-s", "--max-time", "10"])
            .args(["--path-as-is", "-w", "\n%{http_code}", &url])
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("run curl");
    let mut body = out.stdout;
    let split = body.iter().rposition(|b| *b == b'\n').expect("status line");
    let status = String::from_utf8_lossy(&body[split + 1..])
        .trim()
        .parse()
        .expect("status");
    body.truncate(split);
    (status, body)
}

/// An HTTP boot service in `lan.server` on a random port of the server address.
fn start_http(lan: &Lan, config: Config) -> (HttpState, u16) {
    let std_listener = lan
        .server
        .enter(|| std::net::TcpListener::bind((Lan::server_ip(), 0)))
        .expect("enter")
        .expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let port = std_listener.local_addr().expect("addr").port();
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("from_std");
    let state = HttpState::new(config, Index::from_hardware(common::example_hardware()));
    tokio::spawn(http::serve(listener, state.clone()));
    (state, port)
}

fn http_config(artifacts: &Path) -> Config {
    let mut config = Config::new(Lan::server_ip());
    config.artifacts_dir = artifacts.to_path_buf();
    config.ipxe_dir = artifacts.join("no-ipxe-here");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_symlinks_stay_inside_the_directory() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let artifacts = dir.path().join("artifacts");
    std::fs::create_dir_all(artifacts.join("sub")).expect("mkdir");
    std::fs::write(artifacts.join("vmlinuz-x86_64"), b"kernel bytes").expect("write");
    std::fs::write(dir.path().join("outside.txt"), SECRET).expect("write");
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, artifacts.join(name)).expect("symlink");
    };
    link(Path::new("vmlinuz-x86_64"), "inside");
    link(Path::new("../vmlinuz-x86_64"), "sub/up-inside");
    link(Path::new("../outside.txt"), "relative-out");
    link(&dir.path().join("outside.txt"), "absolute-out");
    link(dir.path(), "dir-out");
    link(Path::new("/proc/self/root/etc/passwd"), "magic-out");

    let lan = Lan::new(1).expect("lan (needs root)");
    let (_state, port) = start_http(&lan, http_config(&artifacts));
    let url = |p: &str| format!("http://{}:{port}/{p}", Lan::server_ip());
    for served in ["vmlinuz-x86_64", "inside", "sub/up-inside"] {
        let (status, body) = curl(&lan.hosts[0], url(served)).await;
        assert_eq!(
            (status, body.as_slice()),
            (200, &b"kernel bytes"[..]),
            "{served}"
        );
    }
    for refused in [
        "relative-out",
        "absolute-out",
        "dir-out/outside.txt",
        "magic-out",
        "sub/../../outside.txt",
        "%2e%2e/outside.txt",
    ] {
        let (status, body) = curl(&lan.hosts[0], url(refused)).await;
        let text = String::from_utf8_lossy(&body);
        assert!(matches!(status, 403 | 404), "{refused}: {status} {text}");
        assert!(
            !text.contains(SECRET) && !text.contains("root:"),
            "{refused} leaked"
        );
    }
}

/// Opens `n` TCP connections to `addr` from `ns` and keeps them open until killed (a
/// Python process, so that its descriptors are not the test process's).
const HOLD_CONNECTIONS: &str = r#"
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.create_connection((ip, port), timeout=10)
    held.append(s)
print(len(held), flush=True)
time.sleep(600)
"#;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_flood_does_not_starve_other_hosts() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    ironbell_testbed::require_tool!("python3");
    let dir = tempfile::tempdir().expect("tempdir");
    let lan = Lan::new(2).expect("lan (needs root)");
    let config = http_config(dir.path());
    let per_peer = config.max_connections_per_peer as u64;
    let (state, port) = start_http(&lan, config);
    let before = open_fds();

    let server = Lan::server_ip().to_string();
    let mut flood = lan.hosts[0]
        .spawn(
            "python3",
            &["-c", HOLD_CONNECTIONS, &server, &port.to_string(), "1100"],
        )
        .expect("python3");
    let stdout = flood.child().and_then(|c| c.stdout.take()).expect("stdout");
    let opened = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await
    .expect("join")
    .expect("read");
    assert_eq!(
        opened.trim(),
        "1100",
        "the flood could not open its connections"
    );
    let counters = state.counters();
    wait_until(Duration::from_secs(10), "refused connections", || {
        counters.connections_refused() >= 1100 - per_peer
    })
    .await;
    let during = open_fds();
    let held = counters.connections_open();
    assert!(held <= per_peer, "{held} connections held for one peer");

    let (status, body) = curl(&lan.hosts[1], format!("http://{server}:{port}/healthz")).await;
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    eprintln!(
        "figures: 1100 idle connections from one host: {held} held by the server \
         ({} closed at once); server process descriptors {before} before, {during} during; \
         curl from another host: {status}",
        counters.connections_refused()
    );
    drop(flood);
}

/// An IPv4 + UDP datagram from `src` (any address: the socket is raw).
fn spoofed(src: Ipv4Addr, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let total = (20 + 8 + payload.len()) as u16;
    let mut p = Vec::with_capacity(usize::from(total));
    // Version 4, header length 5 words; total length, ID and checksum are filled in by
    // the kernel for IPPROTO_RAW sockets.
    p.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(&40_000u16.to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    p.extend_from_slice(payload);
    p
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn disk_bytes(dir: &Path) -> (u64, usize) {
    let mut total = (0, 0);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                let (b, n) = disk_bytes(&path);
                total = (total.0 + b, total.1 + n);
            } else if let Ok(m) = e.metadata() {
                total = (total.0 + m.len(), total.1 + 1);
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_syslog_spray_is_bounded_and_known_machines_are_kept() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("logger");
    let lan = Lan::new(2).expect("lan (needs root)");
    let known_ip = Lan::host_ip(1);
    let base = common::example_hardware().remove(0);
    let hw = common::variant(&base, "logged", "3c:ec:ef:10:99:03", &known_ip.to_string());
    let (namespace, name) = (
        hw.metadata.namespace().to_owned(),
        hw.metadata.name().to_owned(),
    );
    let index = Index::from_hardware([hw]);
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = MachineLogs::new(index, 1000, Some(dir.path().to_path_buf()));
    let receiver = Arc::new(ironbell_syslog::Receiver::new(
        ironbell_syslog::Config::default(),
        logs,
    ));
    let std_sock = lan
        .server
        .enter(|| std::net::UdpSocket::bind((Lan::server_ip(), 0)))
        .expect("enter")
        .expect("bind");
    std_sock.set_nonblocking(true).expect("nonblocking");
    let addr = match std_sock.local_addr().expect("addr") {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => unreachable!("bound to IPv4"),
    };
    let sock = tokio::net::UdpSocket::from_std(std_sock).expect("from_std");
    let serving = {
        let r = receiver.clone();
        tokio::spawn(async move { r.serve(sock).await })
    };
    let rss_before = vm_rss_kib();
    let disk_before = disk_bytes(dir.path());

    // The spray: a raw socket in the attacker's namespace, 20,000 source addresses of
    // 10.99.128.0/17, for 5 s or 400,000 datagrams, whichever comes first.
    let raw = lan.hosts[0]
        .enter(|| {
            socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(255)),
            )
        })
        .expect("enter")
        .expect("raw socket (needs CAP_NET_RAW)");
    let stop = Arc::new(AtomicBool::new(false));
    let sprayer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let payload = format!("<13>Dec  4 10:00:00 spoof app: {}", "x".repeat(400));
            let dst = socket2::SockAddr::from(addr);
            let started = Instant::now();
            let mut sent = 0u64;
            while sent < 400_000
                && started.elapsed() < Duration::from_secs(5)
                && !stop.load(Ordering::Relaxed)
            {
                let i = (sent % 20_000) as u32;
                let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 99, 128, 0)) + i);
                if raw
                    .send_to(&spoofed(src, addr, payload.as_bytes()), &dst)
                    .is_ok()
                {
                    sent += 1;
                }
            }
            (sent, started.elapsed())
        })
    };

    // Meanwhile the known machine logs through util-linux logger. A datagram can be lost
    // in the flood (the socket buffer overflows): each line is sent again until stored.
    let file = machine_log::log_path(dir.path(), &namespace, &name).expect("log path");
    let port = addr.port().to_string();
    let server = Lan::server_ip().to_string();
    let mut attempts = 0;
    for n in 0..5 {
        let line = format!("known-machine-line-{n}");
        let mut stored = false;
        for _ in 0..20 {
            attempts += 1;
            let out = lan.hosts[1]
                .output(
                    "logger",
                    &["-n", &server, "-P", &port, "-d", "--rfc5424", &line],
                )
                .expect("logger");
            assert!(out.status.success(), "logger: {out:?}");
            let end = Instant::now() + Duration::from_millis(500);
            while Instant::now() < end {
                if std::fs::read_to_string(&file).is_ok_and(|t| t.contains(&line)) {
                    stored = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if stored {
                break;
            }
        }
        assert!(stored, "{line} never stored during the spray");
    }
    let (sent, took) = tokio::task::spawn_blocking(move || sprayer.join())
        .await
        .expect("join")
        .expect("sprayer");
    stop.store(true, Ordering::Relaxed);
    // Let the receiver drain what the kernel still holds.
    let mut last = u64::MAX;
    wait_until(Duration::from_secs(10), "the receiver to drain", || {
        let now = receiver.stats().snapshot().received;
        std::mem::replace(&mut last, now) == now
    })
    .await;

    let rss_after = vm_rss_kib();
    let disk_after = disk_bytes(dir.path());
    let logs = receiver.sink();
    let s = logs.stats().snapshot();
    let r = receiver.stats().snapshot();
    eprintln!(
        "figures: spray of {sent} datagrams from 20000 spoofed sources in {took:?}; \
         received {} ({} rate-limited); unknown {} of which {} sampled to disk; \
         RSS {rss_before} KiB before, {rss_after} KiB after; disk {} B in {} files before, \
         {} B in {} files after; recent messages {} B from {} sources; logger lines stored \
         after {attempts} sends for 5 lines",
        r.received,
        r.rate_limited,
        s.unknown,
        s.sampled,
        disk_before.0,
        disk_before.1,
        disk_after.0,
        disk_after.1,
        logs.recent_bytes(),
        logs.recent_sources(),
    );
    assert!(s.unknown > 1000, "the spray did not arrive: {s:?}");
    assert!(logs.recent_sources() <= 1, "unknown sources kept in memory");
    // Sampling: 20 a second over the spray and drain, plus each second's suppressed note.
    let secs = took.as_secs() + 12;
    assert!(s.sampled <= 20 * secs, "{s:?}");
    // Files: the known machine's and the sampled file, nothing per address.
    assert!(disk_after.1 <= 2, "{disk_after:?}");
    assert!(disk_after.0 <= 2 * 2 * machine_log::MAX_FILE_BYTES);
    // Memory: the spray leaves at most the recent-message budget behind, with slack for
    // the allocator and the runtime.
    let grown_kib = rss_after.saturating_sub(rss_before);
    assert!(
        grown_kib < (machine_log::MAX_RECENT_BYTES as u64 / 1024) + 32 * 1024,
        "RSS grew by {grown_kib} KiB"
    );
    serving.abort();
}
