//! The listening loop: [`Server`] reads requests from the caller's socket, refuses what it
//! must, and starts one transfer thread per read request.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ironbell_limits::{ConnectionCap, LogLimiter, RateLimiter};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use crate::packet::{ErrorCode, MAX_PACKET_LEN, Packet};
use crate::source::FileSource;
use crate::transfer::{self, Outcome};

/// Server settings. `Config::default()` suits a 1500-byte MTU network.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest block size granted (clients may ask for up to 65464). Default 1468: a DATA
    /// packet then fits a 1500-byte MTU without IP fragmentation.
    pub max_blksize: u16,
    /// Largest window size granted (RFC 7440 allows up to 65535). Default 64.
    pub max_windowsize: u16,
    /// How long to wait for an ACK before sending the window again, unless the client's
    /// `timeout` option says otherwise. Default 1 s.
    pub timeout: Duration,
    /// Largest `timeout` option granted (RFC 2349 asks the server to echo the client's
    /// value or leave the option out, so a larger request is left out of the OACK and
    /// [`Config::timeout`] is used). Default 5 s.
    pub max_timeout: Duration,
    /// Longest a transfer may run, whatever its client does; past it the transfer is
    /// ended with error 0 "transfer deadline" and counted in
    /// [`StatsSnapshot::deadline_expired`]. Default 2 minutes (an iPXE binary takes well
    /// under a second; HookOS is served over HTTP).
    pub transfer_deadline: Duration,
    /// Most transfers at once for one client IP address; a request beyond it gets error 0
    /// and is counted in [`StatsSnapshot::client_busy`]. Default 8.
    pub max_transfers_per_client: usize,
    /// Read requests per second accepted from one client IP address (token bucket);
    /// requests beyond it are dropped without an answer and counted in
    /// [`StatsSnapshot::rate_limited`]. Default 10 per second.
    pub requests_per_second: f64,
    /// Burst of read requests one client IP address may send at once. Default 20.
    pub request_burst: u32,
    /// How many times a window is sent again before the transfer is given up. Default 5.
    pub retries: u32,
    /// Most transfers at once; requests beyond it get error 0 "server busy". Default 256.
    pub max_transfers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_blksize: 1468,
            max_windowsize: 64,
            timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(5),
            transfer_deadline: Duration::from_secs(120),
            max_transfers_per_client: 8,
            requests_per_second: 10.0,
            request_burst: 20,
            retries: 5,
            max_transfers: 256,
        }
    }
}

/// Counters for the boot service's metrics. All only grow, except `active`.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) transfers_ok: AtomicU64,
    pub(crate) transfers_failed: AtomicU64,
    pub(crate) transfers_aborted: AtomicU64,
    pub(crate) busy: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) retransmits: AtomicU64,
    pub(crate) packets_malformed: AtomicU64,
    pub(crate) packets_wrong_tid: AtomicU64,
    pub(crate) client_busy: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) deadline_expired: AtomicU64,
    pub(crate) timeout_refused: AtomicU64,
    pub(crate) duplicate_requests: AtomicU64,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Read and write requests received (including refused ones).
    pub requests: u64,
    /// Transfers whose last block was acknowledged.
    pub transfers_ok: u64,
    /// Transfers that ended in an error on our side: file not found, refused, write
    /// request, timeout, socket error.
    pub transfers_failed: u64,
    /// Transfers the client ended with an ERROR packet (OVMF's size query among them).
    pub transfers_aborted: u64,
    /// Requests refused because `max_transfers` were running.
    pub busy: u64,
    /// Transfers running now.
    pub active: u64,
    /// DATA payload bytes put on the wire, retransmissions included.
    pub bytes_sent: u64,
    /// DATA and OACK packets sent again after a timeout.
    pub retransmits: u64,
    /// Datagrams dropped because they were malformed, truncated, oversized or not
    /// expected where they arrived.
    pub packets_malformed: u64,
    /// Datagrams that reached a transfer's socket from another address (answered with
    /// error 5).
    pub packets_wrong_tid: u64,
    /// Requests refused because their client already ran
    /// [`Config::max_transfers_per_client`] transfers.
    pub client_busy: u64,
    /// Requests dropped unanswered by the per-client rate limit.
    pub rate_limited: u64,
    /// Transfers ended by [`Config::transfer_deadline`] (also counted as failed).
    pub deadline_expired: u64,
    /// `timeout` options above [`Config::max_timeout`], left out of the OACK.
    pub timeout_refused: u64,
    /// Read requests dropped as a retransmission: the same bytes from the same address
    /// and port as a running transfer that has not heard from its client yet (that
    /// transfer answers; a second one would send the client a second OACK from another
    /// TID).
    pub duplicate_requests: u64,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: r(&self.requests),
            transfers_ok: r(&self.transfers_ok),
            transfers_failed: r(&self.transfers_failed),
            transfers_aborted: r(&self.transfers_aborted),
            busy: r(&self.busy),
            active: r(&self.active),
            bytes_sent: r(&self.bytes_sent),
            retransmits: r(&self.retransmits),
            packets_malformed: r(&self.packets_malformed),
            packets_wrong_tid: r(&self.packets_wrong_tid),
            client_busy: r(&self.client_busy),
            rate_limited: r(&self.rate_limited),
            deadline_expired: r(&self.deadline_expired),
            timeout_refused: r(&self.timeout_refused),
            duplicate_requests: r(&self.duplicate_requests),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) source: FileSource,
    pub(crate) stats: Arc<Stats>,
    slots: Arc<Semaphore>,
    per_client: Arc<ConnectionCap<IpAddr>>,
    requests: RateLimiter<IpAddr>,
    /// The running transfers by client address and port, to recognise a retransmitted
    /// read request. At most [`Config::max_transfers`] entries: each holds a slot.
    running: Mutex<HashMap<SocketAddr, Arc<Running>>>,
}

/// What the listening loop knows of a running transfer.
pub(crate) struct Running {
    /// The read request's bytes as received.
    request: Box<[u8]>,
    /// Set by the transfer when a first packet from its client arrives: from then on the
    /// client has the transfer's TID, and the same request again is a new request.
    pub(crate) heard: AtomicBool,
}

impl Inner {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Running>>> {
        // The map holds no invariant a panicking holder could break.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `request` from `peer` repeats the request of a transfer that has not heard
    /// from its client yet: a client retransmitting because the answer was slow.
    fn is_retransmission(&self, peer: SocketAddr, request: &[u8]) -> bool {
        self.running()
            .get(&peer)
            .is_some_and(|r| !r.heard.load(Ordering::Relaxed) && *r.request == *request)
    }
}

/// Removes a transfer's entry from [`Inner::running`] when the transfer ends (unless a
/// newer transfer for the same client has replaced it).
struct Registered<'a> {
    inner: &'a Inner,
    peer: SocketAddr,
    running: Arc<Running>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut map = self.inner.running();
        if map
            .get(&self.peer)
            .is_some_and(|r| Arc::ptr_eq(r, &self.running))
        {
            map.remove(&self.peer);
        }
    }
}

/// A read-only TFTP server. Cheap to clone; clones share counters and the transfer limit.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.config)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server with these settings, serving files from `source`.
    pub fn new(config: Config, source: FileSource) -> Self {
        let slots = Arc::new(Semaphore::new(config.max_transfers));
        // A client holding a transfer holds a slot, so no more keys than slots are needed.
        let per_client = ConnectionCap::new(config.max_transfers_per_client, config.max_transfers);
        let requests = RateLimiter::new(
            config.requests_per_second,
            config.request_burst,
            MAX_TRACKED_CLIENTS,
        );
        Self {
            inner: Arc::new(Inner {
                config,
                source,
                stats: Arc::new(Stats::default()),
                slots,
                per_client,
                requests,
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The server's counters (shared, live).
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.inner.stats)
    }

    /// Serves requests arriving on `socket` (already bound by the caller, usually to port
    /// 69 of the provisioning address) until a fatal socket error. Dropping the future
    /// stops the server; its running transfers send error 0 "server stopped" and end
    /// within 200 ms.
    pub fn serve(
        &self,
        socket: UdpSocket,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        async move { listen(inner, socket).await }
    }
}

/// Sets the stop flag of the transfer threads when the listening future ends or is
/// dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Client addresses the request rate limiter tracks; past it new addresses share one
/// bucket (spoofed sources cannot grow the table).
const MAX_TRACKED_CLIENTS: usize = 4096;

/// Log lines per second for refused requests (busy, per-client cap), so that a flood of
/// requests cannot fill the disk through the service log.
static REFUSED_LOG: LogLimiter = LogLimiter::per_second(5);

/// Small: a transfer keeps one window and its read-ahead on the heap, and calls nothing
/// deep.
const TRANSFER_STACK: usize = 256 * 1024;

async fn listen(inner: Arc<Inner>, socket: UdpSocket) -> io::Result<()> {
    let local_ip = socket.local_addr()?.ip();
    tracing::info!(addr = %socket.local_addr()?, "TFTP server listening");
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) if is_transient(&e) => {
                tracing::debug!(error = %e, "transient receive error");
                continue;
            }
            Err(e) => return Err(e),
        };
        let stats = &inner.stats;
        let req = match Packet::parse(&buf[..n]) {
            Ok(Packet::Rrq(req)) => req,
            Ok(Packet::Wrq(req)) => {
                Stats::add(&stats.requests, 1);
                Stats::add(&stats.transfers_failed, 1);
                tracing::info!(client = %peer, file = %req.filename, "write request refused");
                reply(
                    &socket,
                    peer,
                    ErrorCode::AccessViolation,
                    "read-only server",
                )
                .await;
                continue;
            }
            Ok(other) => {
                Stats::add(&stats.packets_malformed, 1);
                tracing::debug!(client = %peer, packet = ?other, "unexpected packet on the listening port");
                continue;
            }
            Err(e) => {
                Stats::add(&stats.packets_malformed, 1);
                tracing::debug!(client = %peer, error = %e, "malformed packet dropped");
                continue;
            }
        };
        Stats::add(&stats.requests, 1);
        if inner.is_retransmission(peer, &buf[..n]) {
            Stats::add(&stats.duplicate_requests, 1);
            tracing::debug!(client = %peer, file = %req.filename, "retransmitted read request dropped: its transfer is answering");
            continue;
        }
        if !inner.requests.check(&peer.ip()) {
            Stats::add(&stats.rate_limited, 1);
            continue;
        }
        let Some(client_permit) = inner.per_client.try_acquire(peer.ip()) else {
            Stats::add(&stats.client_busy, 1);
            if let Some(suppressed) = REFUSED_LOG.allow() {
                tracing::warn!(client = %peer, file = %req.filename, suppressed, "too many transfers for this client, request refused");
            }
            reply(
                &socket,
                peer,
                ErrorCode::NotDefined,
                "too many transfers from your address",
            )
            .await;
            continue;
        };
        let Ok(permit) = Arc::clone(&inner.slots).try_acquire_owned() else {
            Stats::add(&stats.busy, 1);
            if let Some(suppressed) = REFUSED_LOG.allow() {
                tracing::warn!(client = %peer, file = %req.filename, suppressed, "server busy, request refused");
            }
            reply(&socket, peer, ErrorCode::NotDefined, "server busy").await;
            continue;
        };
        // The transfer's socket (its TID) is bound here, on the listening socket's thread,
        // so that it lives in the same network namespace whatever thread runs the transfer.
        let sock = match std::net::UdpSocket::bind(SocketAddr::new(local_ip, 0)) {
            Ok(s) => s,
            Err(e) => {
                Stats::add(&stats.transfers_failed, 1);
                tracing::warn!(client = %peer, error = %e, "cannot bind a transfer socket");
                continue;
            }
        };
        let span = tracing::info_span!("tftp", client = %peer, file = %req.filename);
        let running = Arc::new(Running {
            request: buf[..n].into(),
            heard: AtomicBool::new(false),
        });
        inner.running().insert(peer, Arc::clone(&running));
        let inner2 = Arc::clone(&inner);
        let stop2 = Arc::clone(&stop.0);
        Stats::add(&stats.active, 1);
        let spawned = std::thread::Builder::new()
            .name("tftp-transfer".into())
            .stack_size(TRANSFER_STACK)
            .spawn(move || {
                let _entered = span.enter();
                let registered = Registered {
                    inner: &inner2,
                    peer,
                    running,
                };
                let outcome =
                    transfer::run(&inner2, sock, peer, req, &stop2, &registered.running.heard);
                drop(registered);
                finish(&inner2.stats, outcome);
                drop(permit);
                drop(client_permit);
            });
        if let Err(e) = spawned {
            tracing::warn!(client = %peer, error = %e, "cannot start a transfer thread");
            inner.running().remove(&peer);
            finish(stats, Outcome::Failed);
        }
    }
}

fn finish(stats: &Stats, outcome: Outcome) {
    stats.active.fetch_sub(1, Ordering::Relaxed);
    let counter = match outcome {
        Outcome::Ok => &stats.transfers_ok,
        Outcome::Failed => &stats.transfers_failed,
        Outcome::Aborted => &stats.transfers_aborted,
    };
    Stats::add(counter, 1);
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

async fn reply(socket: &UdpSocket, peer: SocketAddr, code: ErrorCode, message: &str) {
    let pkt = Packet::error(code, message).encode();
    if let Err(e) = socket.send_to(&pkt, peer).await {
        tracing::debug!(client = %peer, error = %e, "cannot send error reply");
    }
}
