//! Shared test plumbing: a server running inside a throw-away network namespace, and a
//! small TFTP client built on the crate's own codec (no stock client here sends
//! `windowsize`, drops ACKs on purpose or aborts like OVMF).

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ironbell_testbed::Netns;
use ironbell_tftp::packet::{Mode, Packet, Request};
use ironbell_tftp::{Config, FileSource, Server, Stats};
use tokio::net::UdpSocket;
use tokio::runtime::Runtime;

/// What a test body gets: the namespace (for `ns.output("curl", ...)`), the server's
/// address, its counters and a runtime whose threads live in the namespace.
pub struct Harness<'a> {
    pub ns: &'a Netns,
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    pub rt: &'a Runtime,
}

impl Harness<'_> {
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits (up to 5 s) until `cond` holds on the counters.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&ironbell_tftp::StatsSnapshot) -> bool) {
        for _ in 0..500 {
            if cond(&self.stats.snapshot()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}: {:?}", self.stats.snapshot());
    }
}

/// The default settings without the per-client bounds: every client of these tests is
/// 127.0.0.1 (the bounds have their own test, `tests/hostile.rs`).
pub fn one_address() -> Config {
    Config {
        max_transfers_per_client: usize::MAX,
        requests_per_second: f64::MAX,
        request_burst: u32::MAX,
        ..Config::default()
    }
}

/// Runs `body` with a server listening on 127.0.0.1 inside a fresh namespace (no route
/// out). The runtime is built on a thread inside the namespace, so the server's per-
/// transfer sockets and the test client's sockets are created there too.
pub fn with_server<T: Send>(
    config: Config,
    source: FileSource,
    body: impl FnOnce(&Harness) -> T + Send,
) -> T {
    with_server_after(config, source, |_, _| (), |h, ()| body(h))
}

/// [`with_server`], but the listening socket is bound before `before` runs and read only
/// after it returns: what clients send meanwhile waits in the socket's queue (a server
/// slow to answer). `before` runs inside the namespace; what it returns goes to `body`.
pub fn with_server_after<T: Send, B>(
    config: Config,
    source: FileSource,
    before: impl FnOnce(&Netns, SocketAddr) -> B + Send,
    body: impl FnOnce(&Harness, B) -> T + Send,
) -> T {
    let ns = Netns::new().expect("netns (needs root)");
    ns.enter(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        std_sock.set_nonblocking(true).expect("nonblocking");
        let addr = std_sock.local_addr().expect("addr");
        let early = before(&ns, addr);
        let server = Server::new(config, source);
        let sock = {
            let _guard = rt.enter();
            UdpSocket::from_std(std_sock).expect("from_std")
        };
        let task = rt.spawn(server.serve(sock));
        let h = Harness {
            ns: &ns,
            addr,
            stats: server.stats(),
            rt: &rt,
        };
        let out = body(&h, early);
        assert!(
            !task.is_finished(),
            "server stopped: {:?}",
            rt.block_on(task)
        );
        task.abort();
        out
    })
    .expect("the test body panicked inside the namespace")
}

/// Bytes waiting in the receive queue of the UDP socket bound to `addr` (IPv4), from
/// `/proc/thread-self/net/udp` (the calling thread's namespace; `/proc/self` is the
/// process's, whose main thread stays outside).
pub fn udp_queued(addr: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/thread-self/net/udp").ok()?;
    let local = match addr {
        SocketAddr::V4(a) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(a.ip().octets()),
            a.port()
        ),
        SocketAddr::V6(_) => return None,
    };
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&local.as_str()) {
            return None;
        }
        let (_, rx) = f.get(4)?.split_once(':')?;
        u64::from_str_radix(rx, 16).ok()
    })
}

/// The three iPXE binaries from Debian's `ipxe` package, loaded into memory.
pub fn ipxe_files() -> Vec<(String, Bytes)> {
    ["undionly.kpxe", "ipxe.efi", "snponly.efi"]
        .iter()
        .map(|n| {
            let data = std::fs::read(format!("/usr/lib/ipxe/{n}"))
                .unwrap_or_else(|e| panic!("/usr/lib/ipxe/{n} (package ipxe): {e}"));
            (n.to_string(), Bytes::from(data))
        })
        .collect()
}

/// Deterministic pseudo-random bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    ironbell_testbed::Rng::new(seed).bytes(len)
}

pub fn rrq(name: &str, options: &[(&str, &str)]) -> Vec<u8> {
    Packet::Rrq(Request {
        filename: name.into(),
        mode: Mode::Octet,
        options: options
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    })
    .encode()
}

/// Receives one packet (any source) within `wait`.
pub async fn recv(sock: &UdpSocket, wait: Duration) -> Option<(Packet, SocketAddr)> {
    let mut buf = vec![0u8; 70_000];
    let (n, from) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some((
        Packet::parse(&buf[..n]).expect("server sent a valid packet"),
        from,
    ))
}

/// What [`fetch`] saw.
#[derive(Debug)]
pub struct Fetched {
    pub data: Vec<u8>,
    pub oack: Option<Vec<(String, String)>>,
    /// DATA packets received that were not the next expected block.
    pub duplicates: usize,
}

fn opt(oack: &[(String, String)], name: &str) -> Option<u64> {
    oack.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.parse().ok())
}

/// Downloads `name`, asking for `options`; ACKs every window (RFC 7440) and re-ACKs the
/// last in-order block when an unexpected block arrives. `drop_ack` names a wire block
/// number whose first ACK is not sent, to make the server retransmit. Errors are
/// returned as `Err((code, message))`.
pub async fn fetch(
    server: SocketAddr,
    name: &str,
    options: &[(&str, &str)],
    drop_ack: Option<u16>,
) -> Result<Fetched, (u16, String)> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("client bind");
    sock.send_to(&rrq(name, options), server)
        .await
        .expect("send");
    let wait = Duration::from_secs(10);
    let mut out = Fetched {
        data: Vec::new(),
        oack: None,
        duplicates: 0,
    };
    let (mut bs, mut window) = (512usize, 1u64);
    let mut expected: u16 = 1;
    let mut in_window = 0u64;
    let mut dropped = false;
    let mut tid: Option<SocketAddr> = None;
    loop {
        let (pkt, from) = recv(&sock, wait).await.expect("server went silent");
        if let Some(t) = tid {
            assert_eq!(from, t, "a packet from another TID");
        } else {
            assert_ne!(from, server, "the transfer must use its own TID");
            tid = Some(from);
        }
        match pkt {
            Packet::Oack(o) if out.oack.is_none() && out.data.is_empty() => {
                bs = opt(&o, "blksize").unwrap_or(512) as usize;
                window = opt(&o, "windowsize").unwrap_or(1);
                out.oack = Some(o);
                sock.send_to(&Packet::Ack(0).encode(), from)
                    .await
                    .expect("send");
            }
            Packet::Data { block, data } if block == expected => {
                out.data.extend_from_slice(&data);
                in_window += 1;
                let last = data.len() < bs;
                if in_window == window || last {
                    in_window = 0;
                    if drop_ack == Some(block) && !dropped {
                        dropped = true;
                    } else {
                        sock.send_to(&Packet::Ack(block).encode(), from)
                            .await
                            .expect("send");
                    }
                }
                expected = expected.wrapping_add(1);
                if last {
                    return Ok(out);
                }
            }
            Packet::Data { .. } => {
                out.duplicates += 1;
                in_window = 0;
                let ack = Packet::Ack(expected.wrapping_sub(1)).encode();
                sock.send_to(&ack, from).await.expect("send");
            }
            Packet::Error { code, message } => return Err((code, message)),
            other => panic!("unexpected packet {other:?}"),
        }
    }
}
