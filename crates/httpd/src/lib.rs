//! # ironbell-httpd
//!
//! The HTTP/1.1 accept loop every ironbell HTTP service facing the provisioning network
//! shares (the boot service's iPXE/HookOS server, the metadata service), and the
//! Prometheus `/metrics` answer ([`metrics`]).
//!
//! [`serve`] runs an axum [`Router`] on a bound [`TcpListener`] with the bounds a hostile
//! or broken host on that network must not get around:
//!
//! - at most [`Limits::max_connections_per_peer`] connections per peer address at once
//!   (and at most [`Limits::max_peers`] addresses tracked); further connections are closed
//!   as soon as they are accepted and counted in [`ConnectionStats::refused`], so idle
//!   connections from one host cannot use up the process's descriptors;
//! - [`Limits::header_read_timeout`] to send a request head, also on an idle keep-alive
//!   connection (hyper's header-read timer), and at most [`Limits::max_head_bytes`] of head
//!   in [`Limits::max_headers`] headers;
//! - accept errors that pass (a peer that reset before the accept, out of descriptors) are
//!   logged at most a few times a second and retried after a short pause;
//! - when the `shutdown` future completes, no more connections are accepted, open ones are
//!   asked to close after their current request (hyper's graceful shutdown), and whatever
//!   is still open after [`Limits::shutdown_grace`] is dropped.
//!
//! A client that shuts its write side after sending its request (half-close, as `nc` does)
//! still gets its answer: the handler is not cancelled.
//!
//! Each request carries the peer address as [`ConnectInfo<SocketAddr>`]. Request timeouts,
//! routes and request counting stay with each service's router: this crate knows nothing
//! of the routes.
//!
//! Written here on hyper rather than with `axum::serve`: `axum::serve` has no per-peer cap,
//! no header timeout and no hook between accept and serve. Start reading at [`serve`].

pub mod metrics;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use ironbell_limits::{ConnectionCap, LogLimiter, transient_accept_error};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tracing::{Instrument, debug, info, info_span, warn};

/// The bounds of one HTTP service's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request head (from connect, or from the end of the
    /// previous response on a keep-alive connection).
    pub header_read_timeout: Duration,
    /// Most connections one peer address may hold open at once.
    pub max_connections_per_peer: usize,
    /// Most peer addresses the cap tracks at once; connections from further addresses are
    /// refused until some close.
    pub max_peers: usize,
    /// Largest request head (request line plus headers) accepted, in bytes.
    pub max_head_bytes: usize,
    /// Most request headers accepted.
    pub max_headers: usize,
    /// Time open connections get to finish after shutdown before they are dropped.
    pub shutdown_grace: Duration,
}

/// Largest request head accepted by default, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most request headers accepted by default.
pub const MAX_HEADERS: usize = 64;
/// Peer addresses tracked by default.
pub const MAX_PEERS: usize = 16_384;

impl Default for Limits {
    /// 10 s header timeout, 32 connections per peer, 16 384 peers, 16 KiB of head in 64
    /// headers, 5 s of shutdown grace.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 32,
            max_peers: MAX_PEERS,
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Connection counters of one service, updated by [`serve`].
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: Arc<AtomicU64>,
    accepted: AtomicU64,
    refused: AtomicU64,
    accept_errors: AtomicU64,
}

/// One open connection, counted in [`ConnectionStats::open`] until dropped.
#[derive(Debug)]
struct OpenConnection(Arc<AtomicU64>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionStats {
    fn opened(&self) -> OpenConnection {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.open.clone())
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections served so far (refused ones not included).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections closed at once because their peer held its maximum (or the peer table
    /// was full).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Accept calls that failed and were retried.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }
}

/// Log lines per second about refused connections and accept errors (all services).
static ACCEPT_LOG: LogLimiter = LogLimiter::per_second(5);

/// Pause after an accept error that passes (out of descriptors: give connections time to
/// close rather than spin).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` within `limits` until `shutdown` completes (then see the
/// crate doc) or an accept fails for good. `service` names the service in logs; `stats`
/// is updated as connections come and go.
pub async fn serve(
    service: &'static str,
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let span = info_span!("httpd", service);
    if let Ok(addr) = listener.local_addr() {
        span.in_scope(|| info!(%addr, "listening"));
    }
    let limits = Arc::new(limits);
    let per_peer = ConnectionCap::<IpAddr>::new(limits.max_connections_per_peer, limits.max_peers);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    let result = async {
        loop {
            while conns.try_join_next().is_some() {}
            let accepted = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(c) => c,
                Err(e) if transient_accept_error(&e) => {
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(suppressed) = ACCEPT_LOG.allow() {
                        warn!(suppressed, "HTTP accept: {e}");
                    }
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(permit) = per_peer.try_acquire(peer.ip()) else {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = ACCEPT_LOG.allow() {
                    warn!(%peer, suppressed, "too many connections from this peer; closed");
                }
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let open = stats.opened();
            let conn = connection(stream, peer, app.clone(), &limits, stop_rx.clone());
            conns.spawn(async move {
                let _permit = permit;
                let _open = open;
                conn.await;
            });
        }
    }
    .instrument(span.clone())
    .await;
    let _ = stop_tx.send(true);
    let open = conns.len();
    if open > 0 {
        span.in_scope(|| debug!(open, "closing open connections"));
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            span.in_scope(|| debug!(left = conns.len(), "grace over; connections dropped"));
        }
    }
    result
}

/// Serves one connection until it ends, shutting it down gracefully once `stop` is set.
fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let service = hyper::service::service_fn(move |mut req: Request<_>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_head_bytes)
        .max_headers(limits.max_headers)
        // A client may shut its write side once its request is sent (HTTP/1.0 clients such
        // as `nc`: the lab OS's phone-home). Without this hyper takes that EOF for a gone
        // client, drops the connection and cancels a handler still working (a store write),
        // and the client gets no answer.
        .half_close(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    async move {
        tokio::pin!(conn);
        let ended = tokio::select! {
            r = conn.as_mut() => Some(r),
            _ = stop.wait_for(|s| *s) => None,
        };
        let ended = match ended {
            Some(r) => r,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = ended {
            debug!(%peer, "HTTP connection ended: {e}");
        }
    }
}
