//! The TLS accept loop: each connection's handshake (bounded in time), the role its client
//! certificate gives, then HTTP/1.1 with hyper under the same head bounds as the other
//! services (`ironbell_httpd`'s defaults: 10 s to send a head, 16 KiB of head in 64
//! headers), at most [`MAX_CONNECTIONS_PER_PEER`] connections per peer.
//!
//! Not `ironbell_httpd::serve`: that loop serves plain TCP to the provisioning network; this
//! one must finish a TLS handshake and read the client's certificate before HTTP starts.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use ironbell_limits::{ConnectionCap, LogLimiter, transient_accept_error};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt as _;
use tracing::{debug, info, warn};

use crate::api::CertRole;
use crate::security::role_of_cert;

/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections one peer address may hold (kubectl opens a few; a watch holds one).
pub const MAX_CONNECTIONS_PER_PEER: usize = 64;

static ACCEPT_LOG: LogLimiter = LogLimiter::per_second(5);

/// Serves `app` over TLS on `listener` until `shutdown` completes; then open connections
/// are dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "Kubernetes API listening (TLS)");
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let per_peer = ConnectionCap::<IpAddr>::new(MAX_CONNECTIONS_PER_PEER, 16_384);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut shutdown => return Ok(()),
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(c) => c,
            Err(e) if transient_accept_error(&e) => {
                if let Some(suppressed) = ACCEPT_LOG.allow() {
                    warn!(suppressed, "API accept: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(permit) = per_peer.try_acquire(peer.ip()) else {
            if let Some(suppressed) = ACCEPT_LOG.allow() {
                warn!(%peer, suppressed, "too many API connections from this peer; closed");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        conns.spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let role = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|c| role_of_cert(c));
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(CertRole(role));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(ironbell_httpd::MAX_HEAD_BYTES)
                .max_headers(ironbell_httpd::MAX_HEADERS);
            if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
                debug!(%peer, "API connection ended: {e}");
            }
        });
    }
}
