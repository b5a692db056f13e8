//! The network side: checking and decoding datagrams, counting, and the receive loop.

use std::io;
use std::io::IoSlice;
use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dhcproto::v4::{Message, MessageType};
use dhcproto::{Decodable, Decoder};
use ironbell_limits::{LogLimiter, RateLimiter};
use rustix::net::SocketAddrAny;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::config::Config;
use crate::packet::{MAX_PACKET, Packet, ParseError};
use crate::reservation::{Backend, MacAddr};
use crate::respond::{IgnoreReason, answer};
use crate::share::{Share, Verdict};

/// Checks one datagram as [`Packet::parse`] does, then decodes it with dhcproto into an
/// owned `Message` (for tools and tests; the server reads the [`Packet`]). Never panics on
/// any input.
pub fn parse(buf: &[u8]) -> Result<Message, ParseError> {
    Packet::parse(buf)?;
    // The checks above cover every assumption in dhcproto 0.15 that we know of; the
    // unwind guard turns any one we missed into a dropped packet instead of a dead server.
    match std::panic::catch_unwind(|| Message::decode(&mut Decoder::new(buf))) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(ParseError::Decode(e.to_string())),
        Err(_) => Err(ParseError::Decode("decoder panicked".into())),
    }
}

/// Counters of one server, safe to read while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Discovers received.
    pub discover: AtomicU64,
    /// Requests received.
    pub request: AtomicU64,
    /// Releases received.
    pub release: AtomicU64,
    /// Declines received.
    pub decline: AtomicU64,
    /// Informs received.
    pub inform: AtomicU64,
    /// Well-formed messages of any other type (or none).
    pub other: AtomicU64,
    /// Replies sent.
    pub replies: AtomicU64,
    /// Replies that could not be encoded or sent.
    pub send_errors: AtomicU64,
    /// Datagrams dropped as malformed, truncated or oversized.
    pub malformed: AtomicU64,
    /// Requests dropped by the per-MAC rate limit ([`Config::requests_per_mac`]).
    pub rate_limited: AtomicU64,
    /// Discovers and Requests dropped because another replica owns the client's bucket
    /// (see [`Share`]).
    pub not_ours: AtomicU64,
    ignored: [AtomicU64; IgnoreReason::ALL.len()],
}

impl Stats {
    /// Requests ignored for `reason`.
    pub fn ignored(&self, reason: IgnoreReason) -> u64 {
        self.ignored[reason.index()].load(Ordering::Relaxed)
    }

    /// Requests ignored for any reason.
    pub fn ignored_total(&self) -> u64 {
        self.ignored.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn count_type(&self, mt: Option<MessageType>) {
        let c = match mt {
            Some(MessageType::Discover) => &self.discover,
            Some(MessageType::Request) => &self.request,
            Some(MessageType::Release) => &self.release,
            Some(MessageType::Decline) => &self.decline,
            Some(MessageType::Inform) => &self.inform,
            _ => &self.other,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Client MACs the per-MAC rate limit tracks at once; past it, new MACs share one bucket.
/// Ten times the 10,000 machines of the benchmark.
const MAX_TRACKED_MACS: usize = 100_000;

/// Log lines per second about replies and freed reservations (one per message would let
/// a flood fill the disk through the service log).
static REPLY_LOG: LogLimiter = LogLimiter::per_second(20);
/// Log lines per second about send and encode failures.
static ERROR_LOG: LogLimiter = LogLimiter::per_second(5);

/// A DHCP server: configuration, reservations and counters.
pub struct Server<B> {
    config: Config,
    backend: B,
    stats: Arc<Stats>,
    per_mac: RateLimiter<[u8; 6]>,
    share: Option<Arc<Share>>,
    observer: Option<Arc<dyn crate::Observer>>,
}

impl<B: Backend> Server<B> {
    /// A server answering from `backend` as `config` says.
    pub fn new(config: Config, backend: B) -> Self {
        let per_mac = RateLimiter::new(
            f64::from(config.requests_per_mac),
            config.request_burst_per_mac,
            MAX_TRACKED_MACS,
        );
        Self {
            config,
            backend,
            stats: Arc::default(),
            per_mac,
            share: None,
            observer: None,
        }
    }

    /// `observer` is told of each decision about a client (see [`crate::Observer`]).
    pub fn with_observer(mut self, observer: Arc<dyn crate::Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// This server answers only the clients of `share` (one replica of several on a
    /// network); without a share it answers every client.
    pub fn with_share(mut self, share: Arc<Share>) -> Self {
        self.share = Some(share);
        self
    }

    /// The share this server answers, if it has one.
    pub fn share(&self) -> Option<&Arc<Share>> {
        self.share.as_ref()
    }

    /// The counters (shared; they keep counting while the server runs).
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one datagram: parse, decide, encode, count. Returns the bytes to send and
    /// where, or `None`. Never panics on any input. [`Server::handle_into`] without the
    /// allocation of the reply's buffer.
    pub fn handle_datagram(&self, buf: &[u8], from: SocketAddr) -> Option<(Vec<u8>, SocketAddrV4)> {
        let mut out = Vec::new();
        self.handle_into(buf, from, &mut out).map(|to| (out, to))
    }

    /// Handles one datagram: parse, decide, encode the reply into `out` (cleared first; its
    /// capacity is reused), count. Returns where to send `out`, or `None` when there is
    /// nothing to send. Never panics on any input.
    pub fn handle_into(
        &self,
        buf: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddrV4> {
        let msg = match Packet::parse(buf) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%from, error = %e, "dropped malformed DHCP datagram");
                return None;
            }
        };
        let mt = msg.message_type();
        self.stats.count_type(mt);
        let mac = msg.mac();
        if let Some(mac) = mac
            && !self.per_mac.check(&mac)
        {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // Span fields are only evaluated when the span is enabled, and written only when
        // logged: the MAC is recorded as a `Display` value, without a string per packet.
        let span = tracing::info_span!(
            "dhcp",
            mac = mac.map(|m| tracing::field::display(MacAddr(m))),
            xid = msg.xid(),
            ?mt
        );
        let _guard = span.enter();
        if let (Some(share), Some(mac)) = (&self.share, mac) {
            match share.verdict(&msg, mac, self.config.server_ip) {
                Verdict::Ours => {}
                Verdict::NotOurs { bucket } => {
                    self.stats.not_ours.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(mac = %MacAddr(mac), bucket, "another replica's client");
                    return None;
                }
                Verdict::Held => {
                    self.stats.not_ours.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(mac = %MacAddr(mac), "in standby: not answering");
                    return None;
                }
            }
        }
        match answer(&self.config, &self.backend, &msg, out) {
            Err(reason) => {
                self.stats.ignored[reason.index()].fetch_add(1, Ordering::Relaxed);
                if let (Some(observer), Some(mac)) = (&self.observer, mac) {
                    observer.ignored(mac, &msg, reason);
                }
                match reason {
                    IgnoreReason::Release | IgnoreReason::Decline => {
                        if let Some(suppressed) = REPLY_LOG.allow() {
                            tracing::info!(
                                reason = reason.as_str(),
                                suppressed,
                                "nothing to free for a reservation"
                            );
                        }
                    }
                    _ => tracing::debug!(reason = reason.as_str(), "no reply"),
                }
                None
            }
            Ok(to) => {
                let observed = self.observer.as_ref().zip(mac);
                let log = REPLY_LOG.allow();
                if observed.is_some() || log.is_some() {
                    // What was just written reads back (the fuzz target checks it).
                    if let Ok(reply) = Packet::parse_within(out, usize::from(u16::MAX)) {
                        if let Some((observer, mac)) = observed {
                            observer.replied(mac, &msg, &reply);
                        }
                        if let Some(suppressed) = log {
                            tracing::info!(
                                reply = ?reply.message_type(),
                                yiaddr = %reply.yiaddr(),
                                %to,
                                suppressed,
                                "replying"
                            );
                        }
                    }
                }
                Some(to)
            }
        }
    }

    /// Receives and answers requests on `socket` until receiving fails. The socket should
    /// be bound to port 67 with `SO_BROADCAST` on (see [`bind_server_socket`]).
    pub async fn serve(&self, socket: UdpSocket) -> io::Result<()> {
        // One byte more than the limit, so that oversized datagrams are seen as such.
        let mut buf = vec![0u8; MAX_PACKET + 1];
        let mut reply = Vec::with_capacity(MAX_PACKET);
        loop {
            let (n, from) = match socket.recv_from(&mut buf).await {
                Ok(got) => got,
                // Left over from an earlier send (ICMP errors) or a signal: not fatal.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    tracing::debug!(error = %e, "transient receive error");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(to) = self.handle_into(&buf[..n], from, &mut reply) else {
                continue;
            };
            match socket.send_to(&reply, to).await {
                Ok(_) => {
                    self.stats.replies.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => self.send_failed(to, &e),
            }
        }
    }
}

impl<B> Server<B> {
    fn send_failed(&self, to: SocketAddrV4, e: &io::Error) {
        self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = ERROR_LOG.allow() {
            tracing::warn!(%to, error = %e, suppressed, "could not send DHCP reply");
        }
    }
}

/// Most datagrams taken from the kernel (and replies handed to it) per system call in
/// [`Server::serve_blocking`].
pub const BATCH: usize = 64;

/// How often [`Server::serve_blocking`] looks at its stop flag while the network is quiet.
pub const STOP_POLL: Duration = Duration::from_millis(200);

/// Most replies sent as one UDP GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_MAX_SEGMENTS: usize = 64;
/// Most payload bytes of one UDP GSO send (an IPv4 datagram's 65,535 less its headers).
const GSO_MAX_BYTES: usize = 65_507;

/// The replies of one batch: their encoded bytes (buffers kept from batch to batch, so that
/// encoding allocates nothing once they have grown) and destinations.
///
/// [`Outbox::flush`] sends replies of equal size to one destination (a relay, or the
/// broadcast address in a PXE storm) with one `sendmsg(2)` and UDP generic segmentation
/// offload (`UDP_SEGMENT`, Linux 4.18): the stack routes and builds one packet and splits it
/// into the same datagrams at the device (or in software), so each client receives
/// exactly what it would have. A socket whose device refuses it (no checksum offload, an
/// older kernel) is not asked again. The other replies go out with one `sendmmsg(2)`
/// (rustix's safe wrapper; nix's result iterator reads addresses it never initialised).
struct Outbox {
    bufs: Vec<Vec<u8>>,
    to: Vec<SocketAddrV4>,
    /// Reply indices by (destination, size), for the GSO runs.
    order: Vec<usize>,
    /// Reply indices left for `sendmmsg`.
    rest: Vec<usize>,
    addrs: Vec<SocketAddrAny>,
    gso: bool,
}

impl Outbox {
    fn new() -> Self {
        Self {
            bufs: (0..BATCH).map(|_| Vec::with_capacity(MAX_PACKET)).collect(),
            to: Vec::with_capacity(BATCH),
            order: Vec::with_capacity(BATCH),
            rest: Vec::with_capacity(BATCH),
            addrs: Vec::with_capacity(BATCH),
            gso: true,
        }
    }

    /// The buffer the next reply is encoded into.
    fn next_buf(&mut self) -> &mut Vec<u8> {
        let i = self.to.len();
        &mut self.bufs[i]
    }

    /// Keeps the reply just encoded into [`Outbox::next_buf`], for `to`.
    fn push(&mut self, to: SocketAddrV4) {
        self.to.push(to);
    }

    /// Sends every reply kept, counting each sent or failed, and empties the box.
    fn flush<B>(&mut self, socket: &std::net::UdpSocket, server: &Server<B>) {
        let n = self.to.len();
        self.rest.clear();
        if self.gso && n > 1 {
            self.order.clear();
            self.order.extend(0..n);
            let (to, bufs) = (&self.to, &self.bufs);
            self.order.sort_unstable_by_key(|&i| (to[i], bufs[i].len()));
            let mut start = 0;
            while start < n {
                let key = (to[self.order[start]], bufs[self.order[start]].len());
                let max = GSO_MAX_SEGMENTS.min(GSO_MAX_BYTES / key.1.max(1));
                let mut end = start + 1;
                while end < n
                    && end - start < max
                    && (to[self.order[end]], bufs[self.order[end]].len()) == key
                {
                    end += 1;
                }
                let run = &self.order[start..end];
                if run.len() < 2 || !self.gso {
                    self.rest.extend_from_slice(run);
                } else if let Err(e) = send_gso(socket, key.0, key.1, run, bufs) {
                    // Sent one by one below, where each failure is counted.
                    self.rest.extend_from_slice(run);
                    if matches!(
                        e,
                        nix::errno::Errno::EIO
                            | nix::errno::Errno::EINVAL
                            | nix::errno::Errno::ENOPROTOOPT
                            | nix::errno::Errno::EOPNOTSUPP
                    ) {
                        self.gso = false;
                        tracing::info!(error = %e, "UDP segmentation offload refused; replies go out one datagram each");
                    }
                } else {
                    server
                        .stats
                        .replies
                        .fetch_add(run.len() as u64, Ordering::Relaxed);
                }
                start = end;
            }
        } else {
            self.rest.extend(0..n);
        }
        self.send_rest(socket, server);
        self.to.clear();
    }

    /// Sends the replies listed in `rest` with `sendmmsg(2)`.
    fn send_rest<B>(&mut self, socket: &std::net::UdpSocket, server: &Server<B>) {
        use rustix::io::Errno;
        use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags};

        let n = self.rest.len();
        if n == 0 {
            return;
        }
        self.addrs.clear();
        self.addrs
            .extend(self.rest.iter().map(|&i| SocketAddrAny::from(self.to[i])));
        let iovs: Vec<[IoSlice<'_>; 1]> = self
            .rest
            .iter()
            .map(|&i| [IoSlice::new(&self.bufs[i])])
            .collect();
        let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> =
            (0..n).map(|_| SendAncillaryBuffer::default()).collect();
        let mut msgs: Vec<MMsgHdr<'_>> = self
            .addrs
            .iter()
            .zip(&iovs)
            .zip(controls.iter_mut())
            .map(|((addr, iov), control)| MMsgHdr::new_with_addr(addr, iov, control))
            .collect();
        let mut sent = 0;
        while sent < n {
            match rustix::net::sendmmsg(socket, &mut msgs[sent..], SendFlags::empty()) {
                Ok(k) if k > 0 => {
                    server.stats.replies.fetch_add(k as u64, Ordering::Relaxed);
                    sent += k;
                }
                Err(Errno::INTR) => {}
                // The message at `sent` failed (sendmmsg reports an error only when it sent
                // none): count it and go on with the next.
                other => {
                    let e = match other {
                        Err(e) => io::Error::from(e),
                        Ok(_) => io::Error::other("sendmmsg sent nothing"),
                    };
                    server.send_failed(self.to[self.rest[sent]], &e);
                    sent += 1;
                }
            }
        }
    }
}

/// Sends the replies `run` (indices into `bufs`, each `size` bytes) to `to` as one UDP GSO
/// send: the kernel cuts the concatenation into datagrams of `size` bytes.
fn send_gso(
    socket: &std::net::UdpSocket,
    to: SocketAddrV4,
    size: usize,
    run: &[usize],
    bufs: &[Vec<u8>],
) -> nix::Result<()> {
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg};

    let segment = u16::try_from(size).map_err(|_| nix::errno::Errno::EINVAL)?;
    let iov: Vec<IoSlice<'_>> = run.iter().map(|&i| IoSlice::new(&bufs[i])).collect();
    let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
    let addr = SockaddrIn::from(to);
    loop {
        match sendmsg(
            socket.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::empty(),
            Some(&addr),
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
}

impl<B: Backend> Server<B> {
    /// Receives and answers requests on `socket` on the calling thread until `stop` is set
    /// (checked at least every `STOP_POLL`) or receiving fails.
    ///
    /// This is the fast path, and the one the boot service runs on a thread of its own.
    /// What a DHCP exchange costs the server is mostly the kernel's: waking the thread,
    /// and one system call per datagram in each direction; parsing and building the
    /// messages is a small part (see `benches/`). So the loop
    /// - blocks in `recvmmsg(2)` (no event loop, no cross-thread wake-up per datagram) and
    ///   takes up to `BATCH` datagrams per call;
    /// - sends the batch's replies with one `sendmmsg(2)`, which also wakes a client that
    ///   waits for several of them once;
    /// - while requests keep coming (more than one per call, or calls less than
    ///   [`Config::batch_window`] apart), sleeps for that window after each batch, so that
    ///   the next call finds several datagrams queued instead of waking up for each; a lone
    ///   request is answered at once;
    /// - encodes replies into buffers kept from batch to batch.
    ///
    /// [`Server::serve`] is the same server on a Tokio socket, one datagram at a time.
    pub fn serve_blocking(&self, socket: std::net::UdpSocket, stop: &AtomicBool) -> io::Result<()> {
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        use nix::errno::Errno;
        use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        let fd = socket.as_raw_fd();
        let window = self.config.batch_window;
        // One byte more than the limit per buffer, so that oversized datagrams are seen.
        let mut bufs = vec![[0u8; MAX_PACKET + 1]; BATCH];
        let mut recv_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut received: Vec<(usize, Option<SocketAddr>)> = Vec::with_capacity(BATCH);
        let mut outbox = Outbox::new();
        let mut last_batch: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            received.clear();
            {
                let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                    .iter_mut()
                    .map(|b| [IoSliceMut::new(&mut b[..])])
                    .collect();
                // MSG_WAITFORONE: block for the first datagram, then take what is queued.
                match recvmmsg(
                    fd,
                    &mut recv_headers,
                    iovs.iter_mut(),
                    MsgFlags::MSG_WAITFORONE,
                    None,
                ) {
                    Ok(msgs) => {
                        for m in msgs {
                            let from = m.address.and_then(|a| {
                                a.as_sockaddr_in()
                                    .map(|v4| SocketAddr::V4(SocketAddrV4::from(*v4)))
                            });
                            // A datagram cut to the buffer is oversized: report its full size.
                            let n = if m.flags.contains(MsgFlags::MSG_TRUNC) {
                                MAX_PACKET + 1
                            } else {
                                m.bytes
                            };
                            received.push((n, from));
                        }
                    }
                    // Timeout (SO_RCVTIMEO): look at the stop flag.
                    Err(Errno::EAGAIN | Errno::EINTR) => continue,
                    // Left over from an earlier send (ICMP errors): not fatal.
                    Err(e @ (Errno::ECONNREFUSED | Errno::ECONNRESET)) => {
                        tracing::debug!(error = %e, "transient receive error");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for (i, (n, from)) in received.iter().enumerate() {
                let Some(from) = from else { continue };
                let datagram = &bufs[i][..(*n).min(MAX_PACKET + 1)];
                if let Some(to) = self.handle_into(datagram, *from, outbox.next_buf()) {
                    outbox.push(to);
                }
            }
            outbox.flush(&socket, self);
            if window.is_zero() || received.len() == BATCH {
                continue;
            }
            let now = Instant::now();
            let busy =
                received.len() > 1 || last_batch.is_some_and(|t| now.duration_since(t) < window);
            last_batch = Some(now);
            if busy {
                std::thread::sleep(window);
            }
        }
        Ok(())
    }
}

/// Receive buffer asked for the server socket: a PXE storm (a rack powering on at once)
/// arrives in bursts, and datagrams that do not fit are dropped by the kernel before the
/// server sees them. 4 MiB holds about 7,000 requests.
pub const RECV_BUFFER: usize = 4 << 20;

/// Creates a non-blocking UDP socket for DHCP: `SO_REUSEADDR`, `SO_BROADCAST`, a receive
/// buffer of [`RECV_BUFFER`] (forced past `net.core.rmem_max` when the process has
/// `CAP_NET_ADMIN`), bound to `addr` and, when `interface` is given, to that device
/// (`SO_BINDTODEVICE`, needs `CAP_NET_RAW`). Pass it to `tokio::net::UdpSocket::from_std`.
pub fn bind_server_socket(
    addr: impl ToSocketAddrs,
    interface: Option<&str>,
) -> io::Result<std::net::UdpSocket> {
    let addr = addr
        .to_socket_addrs()?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no IPv4 address to bind"))?;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it, ask within rmem_max.
    if nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::RcvBufForce,
        &RECV_BUFFER,
    )
    .is_err()
    {
        socket.set_recv_buffer_size(RECV_BUFFER)?;
    }
    if let Some(dev) = interface {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
