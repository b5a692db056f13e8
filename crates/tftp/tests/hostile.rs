//! A hostile host on the provisioning network: read requests asking `timeout=255` from a
//! socket that never acknowledges, sent from one namespace host, while tftp-hpa's `tftp`
//! on another host downloads a file. The attacker gets a bounded number of transfers,
//! which end by the transfer deadline; the honest client is served meanwhile.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{pseudo_random, rrq};
use ironbell_testbed::Lan;
use ironbell_tftp::{Config, FileSource, Server, StatsSnapshot};

/// Polls `cond` on the counters until it holds or `limit` passes.
fn poll(
    server: &Server,
    limit: Duration,
    what: &str,
    cond: impl Fn(&StatsSnapshot) -> bool,
) -> StatsSnapshot {
    let end = Instant::now() + limit;
    loop {
        let s = server.stats().snapshot();
        if cond(&s) {
            return s;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn never_acking_flood_is_capped_and_tftp_hpa_is_served() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("tftp");
    let lan = Lan::new(2).expect("lan (needs root)");
    let data = pseudo_random(300_000, 13);
    let source = FileSource::memory([("boot.bin".to_string(), data.clone().into())]);
    let deadline = Duration::from_secs(4);
    // Many retries, so that only the deadline can end the attacker's transfers.
    let config = Config {
        transfer_deadline: deadline,
        retries: 1000,
        ..Config::default()
    };
    let per_client = config.max_transfers_per_client as u64;
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("boot.bin");
    lan.server
        .enter(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let std_sock = std::net::UdpSocket::bind((Lan::server_ip(), 0)).unwrap();
            std_sock.set_nonblocking(true).unwrap();
            let addr: SocketAddr = std_sock.local_addr().unwrap();
            let server = Server::new(config, source);
            let sock = {
                let _guard = rt.enter();
                tokio::net::UdpSocket::from_std(std_sock).unwrap()
            };
            let task = rt.spawn(server.serve(sock));

            // The attacker: 256 requests with timeout=255, never an ACK, each from a port
            // of its own (the same request again from one port would be dropped as a
            // retransmission). Sent in batches the server has read before the next, so
            // that none is lost in socket buffers.
            let attackers: Vec<std::net::UdpSocket> = lan.hosts[0]
                .enter(|| {
                    (0..256)
                        .map(|_| std::net::UdpSocket::bind((Lan::host_ip(0), 0)).unwrap())
                        .collect()
                })
                .unwrap();
            let attack = rrq("boot.bin", &[("timeout", "255")]);
            let started = Instant::now();
            for (batch, sockets) in (1..=8u64).zip(attackers.chunks(32)) {
                for attacker in sockets {
                    attacker.send_to(&attack, addr).unwrap();
                }
                poll(&server, Duration::from_secs(5), "requests read", |s| {
                    s.requests == batch * 32
                });
            }
            let held = poll(&server, Duration::from_secs(5), "capped transfers", |s| {
                s.active == per_client
            });
            assert_eq!(held.timeout_refused, per_client, "timeout=255 not granted");
            assert_eq!(
                held.active + held.client_busy + held.rate_limited,
                256,
                "every request is a transfer, refused or dropped: {held:?}"
            );

            // The honest client, while the attacker holds its transfers.
            let port = addr.port().to_string();
            let t0 = Instant::now();
            let out = lan.hosts[1]
                .output(
                    "tftp",
                    &[
                        &Lan::server_ip().to_string(),
                        &port,
                        "-m",
                        "binary",
                        "-c",
                        "get",
                        "/boot.bin",
                        out_path.to_str().unwrap(),
                    ],
                )
                .unwrap();
            let took = t0.elapsed();
            assert!(out.status.success(), "tftp-hpa: {out:?}");
            assert!(std::fs::read(&out_path).unwrap() == data, "file differs");
            let during = server.stats().snapshot();
            assert_eq!(during.transfers_ok, 1);
            assert!(during.active >= per_client.min(1), "{during:?}");

            // The attacker's transfers end by the deadline.
            let end = poll(
                &server,
                deadline + Duration::from_secs(10),
                "the deadline",
                |s| s.active == 0,
            );
            assert_eq!(end.deadline_expired, per_client, "{end:?}");
            let ended_after = started.elapsed();
            eprintln!(
                "figures: attacker held {} of {} slots ({} refused per client, {} rate-limited); \
                 tftp-hpa fetched {} bytes in {:?}; attacker transfers ended after {:?} \
                 (deadline {:?})",
                held.active,
                Config::default().max_transfers,
                held.client_busy,
                held.rate_limited,
                data.len(),
                took,
                ended_after,
                deadline
            );
            drop(attackers);
            assert!(!task.is_finished(), "server stopped");
            task.abort();
        })
        .unwrap();
}
