//! Benchmark: what recording Events costs the DHCP hot path. The same DHCP server
//! (`ironbell_dhcp::Server::handle_datagram`, what the serve loop calls per datagram) over
//! the same index of 10,000 Hardware, without an observer and with the boot service's
//! [`BootEvents`] (a real recorder writing to a SQLite store), side by side:
//!
//! - known MACs, a DISCOVER and a REQUEST each (one DORA exchange), first round (each MAC
//!   records its Events: the per-MAC bucket allows them) and later rounds (the bucket
//!   refuses: the steady cost of a busy network);
//! - unknown MACs (devices no Hardware has), the same two rounds: the warning path.
//!
//! ```text
//! cargo bench -p ironbell-boot --bench dhcp_events [-- --machines N --rounds R]
//! ```
//!
//! Prints the best nanoseconds per exchange of R rounds for each case and the ratio.
//! Timings are wall clock on one thread; run it on an idle machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbell_boot::Index;
use ironbell_boot::events::BootEvents;
use ironbell_dhcp::dhcproto::Encodable;
use ironbell_dhcp::dhcproto::v4::{DhcpOption, Message, MessageType};
use ironbell_dhcp::{Config, Server};
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::SharedStore;
use ironbell_store::events::Recorder;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);

fn mac(i: usize, unknown: bool) -> [u8; 6] {
    let b = (i as u32).to_be_bytes();
    [0x02, u8::from(unknown), b[0], b[1], b[2], b[3]]
}

fn ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 10)) + i as u32)
}

fn hardware(n: usize) -> Vec<Hardware> {
    (0..n)
        .map(|i| {
            let m = ironbell_dhcp::format_mac(mac(i, false));
            let yaml = format!(
                "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\n\
                 metadata: {{name: m{i}, namespace: eksa-system}}\n\
                 spec:\n  interfaces:\n  - dhcp: {{mac: \"{m}\", hostname: m{i}, \
                 ip: {{address: {}, netmask: 255.255.0.0, gateway: 10.100.0.1}}}}\n    \
                 netboot: {{allowPXE: true, allowWorkflow: true}}\n",
                ip(i)
            );
            ironbell_model::parse_documents(&yaml)
                .ok()
                .and_then(|mut d| d.pop())
                .and_then(|o| o.to_dynamic().ok())
                .and_then(|d| d.to_typed::<Hardware>().ok())
                .unwrap_or_else(|| panic!("Hardware {i} does not parse:\n{yaml}"))
        })
        .collect()
}

/// A DISCOVER and a REQUEST from `mac` (for `ip`), encoded.
fn exchange(mac: [u8; 6], ip: Ipv4Addr) -> [Vec<u8>; 2] {
    let u = Ipv4Addr::UNSPECIFIED;
    let msg = |mt| {
        let mut m = Message::new_with_id(0x1234_5678, u, u, u, u, &mac);
        m.opts_mut().insert(DhcpOption::MessageType(mt));
        if mt == MessageType::Request {
            m.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER_IP));
            m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
        }
        m.to_vec().unwrap_or_else(|e| panic!("encode: {e}"))
    };
    [msg(MessageType::Discover), msg(MessageType::Request)]
}

/// Nanoseconds per exchange of one round over `packets`.
fn round<B: ironbell_dhcp::Backend>(server: &Server<B>, packets: &[[Vec<u8>; 2]]) -> f64 {
    let from = SocketAddr::from(([0, 0, 0, 0], 68));
    let start = Instant::now();
    let mut replies = 0usize;
    for pair in packets {
        for p in pair {
            replies += usize::from(server.handle_datagram(p, from).is_some());
        }
    }
    std::hint::black_box(replies);
    start.elapsed().as_nanos() as f64 / packets.len() as f64
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = arg("--machines", 10_000);
    let rounds = arg("--rounds", 7).max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let _in_runtime = runtime.enter();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store: SharedStore = Arc::new(
        ironbell_store_sqlite::SqliteStore::open(dir.path().join("store.db"))
            .unwrap_or_else(|e| panic!("store: {e}")),
    );
    let index = Index::from_hardware(hardware(n));
    let mut config = Config::new(SERVER_IP);
    // Every round asks again for every MAC: no per-MAC limit in the way.
    config.requests_per_mac = 1_000_000;
    config.request_burst_per_mac = 1_000_000;
    let known: Vec<[Vec<u8>; 2]> = (0..n).map(|i| exchange(mac(i, false), ip(i))).collect();
    let unknown: Vec<[Vec<u8>; 2]> = (0..n).map(|i| exchange(mac(i, true), ip(i))).collect();

    println!("{n} machines, {rounds} rounds; ns per exchange (DISCOVER + REQUEST), best round");
    println!(
        "{:<24} {:>12} {:>12} {:>8}",
        "case", "no events", "with events", "ratio"
    );
    for (name, packets) in [("known MACs", &known), ("unknown MACs", &unknown)] {
        let plain = Server::new(config.clone(), index.clone());
        let events = Arc::new(BootEvents::new(
            Recorder::start(store.clone(), "ironbell-boot"),
            index.clone(),
        ));
        let observed = Server::new(config.clone(), index.clone()).with_observer(events.clone());
        // First round: every MAC's Events pass the per-MAC bucket.
        let cold = (round(&plain, packets), round(&observed, packets));
        let mut warm = (f64::MAX, f64::MAX);
        for _ in 1..rounds {
            warm.0 = warm.0.min(round(&plain, packets));
            warm.1 = warm.1.min(round(&observed, packets));
        }
        for (label, (a, b)) in [("first round", cold), ("later rounds", warm)] {
            println!(
                "{:<24} {:>12.0} {:>12.0} {:>8.2}",
                format!("{name}, {label}"),
                a,
                b,
                b / a
            );
        }
        let stats = events.recorder().stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "  events queued {}, dropped (queue full) {}",
            load(&stats.queued),
            load(&stats.dropped)
        );
    }
    // Let the writer finish before the store's directory goes.
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
}
