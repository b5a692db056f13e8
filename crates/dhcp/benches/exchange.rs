//! The DHCP hot path without the network: parse a request, look its MAC up among 10,000
//! reservations, decide and encode the answer (`Server::handle_into`, what the serve loop
//! does between `recvmmsg` and `sendmmsg`), for a PXE firmware's Discover and Request from
//! each of 10,000 machines.
//!
//! `cargo bench -p ironbell-dhcp --bench exchange` prints the time per exchange (noisy on a
//! shared machine); `crates/dhcp/bench/callgrind.sh` runs it under
//! `valgrind --tool=callgrind` and prints instructions per exchange, which the machine's
//! load does not change (the approach of rustls' benchmarks). Instructions are counted in
//! `exchanges` only, not in building the inputs.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ironbell_dhcp::dhcproto::Encodable;
use ironbell_dhcp::dhcproto::v4::{Architecture, DhcpOption, Message, MessageType, OptionCode};
use ironbell_dhcp::{Config, Reservation, Server};

/// Machines in the index, each with its reservation.
const MACHINES: u32 = 10_000;
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);

fn mac(i: u32) -> [u8; 6] {
    let [_, a, b, c] = i.to_be_bytes();
    [2, 0, 0, a, b, c]
}

fn reservation(i: u32) -> Reservation {
    let mut r = Reservation::new(
        Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 10)) + i),
        Ipv4Addr::new(255, 255, 0, 0),
    );
    r.gateway = Some(Ipv4Addr::new(10, 100, 0, 254));
    r.dns_servers = vec![Ipv4Addr::new(10, 100, 0, 53)];
    r.hostname = Some(format!("node-{i}"));
    r.allow_netboot = true;
    r
}

/// A PXE firmware's request, with the options UEFI firmware sends.
fn request(i: u32, mt: MessageType) -> Vec<u8> {
    let u = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(0x1000_0000 | i, u, u, u, u, &mac(i));
    let opts = m.opts_mut();
    opts.insert(DhcpOption::MessageType(mt));
    opts.insert(DhcpOption::MaxMessageSize(1472));
    opts.insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::DomainNameServer,
        OptionCode::Hostname,
        OptionCode::DomainName,
        OptionCode::ClassIdentifier,
        OptionCode::TFTPServerName,
        OptionCode::BootfileName,
    ]));
    opts.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00007:UNDI:003016".to_vec(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(Architecture::from(7)));
    opts.insert(DhcpOption::ClientNetworkInterface(1, 3, 16));
    let mut guid = vec![0u8; 17];
    guid[1..5].copy_from_slice(&i.to_be_bytes());
    opts.insert(DhcpOption::ClientMachineIdentifier(guid));
    if mt == MessageType::Request {
        opts.insert(DhcpOption::RequestedIpAddress(Ipv4Addr::from(
            u32::from(Ipv4Addr::new(10, 100, 0, 10)) + i,
        )));
        opts.insert(DhcpOption::ServerIdentifier(SERVER_IP));
    }
    m.to_vec().expect("encode a request")
}

/// The measured part: every request through `handle_into`; returns the answered count.
#[inline(never)]
fn exchanges(server: &Server<HashMap<[u8; 6], Arc<Reservation>>>, requests: &[Vec<u8>]) -> usize {
    let from = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68));
    let mut out = Vec::with_capacity(1500);
    let mut answered = 0;
    for req in requests {
        if server.handle_into(black_box(req), from, &mut out).is_some() {
            answered += 1;
            black_box(&out);
        }
    }
    answered
}

fn main() {
    let backend: HashMap<[u8; 6], Arc<Reservation>> = (0..MACHINES)
        .map(|i| (mac(i), Arc::new(reservation(i))))
        .collect();
    let requests: Vec<Vec<u8>> = (0..MACHINES)
        .flat_map(|i| {
            [
                request(i, MessageType::Discover),
                request(i, MessageType::Request),
            ]
        })
        .collect();
    // Each MAC sends two messages, well within the per-MAC limit.
    let server = Server::new(Config::new(SERVER_IP), backend);
    let started = Instant::now();
    let cpu_started = cpu_time();
    let answered = exchanges(&server, &requests);
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_started);
    assert_eq!(answered, requests.len(), "every request answered");
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / f64::from(MACHINES);
    println!(
        "exchange: {MACHINES} exchanges (Discover + Request, {} messages): {:.0} ns per exchange wall, {:.0} ns CPU",
        requests.len(),
        per(wall),
        per(cpu)
    );
}

/// This thread's CPU time.
fn cpu_time() -> std::time::Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(std::time::Duration::from)
        .unwrap_or_default()
}
