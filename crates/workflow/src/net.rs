//! The agent API's connections: a per-peer cap, TCP keepalive and an idle timeout, so idle
//! or half-open sockets cannot pile up and starve the process of descriptors.
//!
//! [`incoming`] accepts on the listener and hands tonic a stream of [`Conn`]s. A peer
//! already holding [`ConnLimits::per_peer`] connections has its new one closed at once
//! (counted by [`ironbell_limits::ConnectionCap`], released when the connection ends).
//! Each [`Conn`] closes itself when nothing has been read from it for
//! [`ConnLimits::idle_timeout`]: a socket that never sends the HTTP/2 preface, or a client
//! that stopped answering. (tonic's own HTTP/2 keepalive pings, set in [`crate::serve`],
//! are answered by live clients, so their connections stay; hyper has no idle timeout of
//! its own for HTTP/2 server connections, hence this wrapper.)

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ironbell_limits::{ConnectionCap, ConnectionPermit, LogLimiter, transient_accept_error};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tracing::{debug, warn};

/// Bounds on the agent API's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Concurrent connections per peer address.
    pub per_peer: usize,
    /// Peer addresses tracked at once (connections from further peers are closed).
    pub max_peers: usize,
    /// A connection from which nothing was read for this long is closed.
    pub idle_timeout: Duration,
    /// TCP keepalive idle time (dead peers are found even without traffic).
    pub tcp_keepalive: Duration,
}

impl Default for ConnLimits {
    /// 16 connections per peer, 4,096 peers, 60 s idle, 30 s TCP keepalive.
    fn default() -> Self {
        Self {
            per_peer: 16,
            max_peers: 4096,
            idle_timeout: Duration::from_secs(60),
            tcp_keepalive: Duration::from_secs(30),
        }
    }
}

static OVER_CAP: LogLimiter = LogLimiter::per_second(5);

/// One accepted connection: the socket, its permit, and its idle timer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    info: TcpConnectInfo,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    _permit: ConnectionPermit<IpAddr>,
}

impl Conn {
    fn touch(&mut self) {
        self.idle.as_mut().reset(Instant::now() + self.idle_timeout);
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "agent API connection idle; closed",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Accepts on `listener` with `limits`; the stream ends when the listener fails for good.
///
/// The stream owns the listener and accepts as it is polled (no task of its own), so the
/// port is free again the moment the server that polls it is dropped: a stopped service
/// can be started again on the same address at once.
pub fn incoming(listener: TcpListener, limits: ConnLimits) -> Incoming {
    Incoming {
        cap: ConnectionCap::<IpAddr>::new(limits.per_peer, limits.max_peers),
        local: listener.local_addr().ok(),
        listener: Some(listener),
        limits,
        backoff: None,
    }
}

/// The stream of accepted connections that [`incoming`] returns.
#[derive(Debug)]
pub struct Incoming {
    /// `None` once accepting failed for good (the stream has ended).
    listener: Option<TcpListener>,
    cap: std::sync::Arc<ConnectionCap<IpAddr>>,
    limits: ConnLimits,
    local: Option<SocketAddr>,
    /// After a transient accept error (out of descriptors): wait before the next accept.
    backoff: Option<Pin<Box<Sleep>>>,
}

impl Incoming {
    /// Wraps an accepted socket, or closes it when its peer is over the cap.
    fn admit(&self, stream: TcpStream, peer: SocketAddr) -> Option<Conn> {
        let ip = ironbell_metadata::client::canonical(peer.ip());
        let Some(permit) = self.cap.try_acquire(ip) else {
            if let Some(suppressed) = OVER_CAP.allow() {
                warn!(%peer, suppressed, "agent API: too many connections from this peer; closed");
            }
            return None;
        };
        let sock = socket2::SockRef::from(&stream);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(self.limits.tcp_keepalive)
            .with_interval(self.limits.tcp_keepalive);
        if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
            debug!(%peer, "TCP keepalive: {e}");
        }
        let _ = stream.set_nodelay(true);
        Some(Conn {
            info: TcpConnectInfo {
                local_addr: self.local,
                remote_addr: Some(peer),
            },
            stream,
            idle: Box::pin(tokio::time::sleep(self.limits.idle_timeout)),
            idle_timeout: self.limits.idle_timeout,
            _permit: permit,
        })
    }
}

impl tokio_stream::Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(backoff) = self.backoff.as_mut() {
                if backoff.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.backoff = None;
            }
            let Some(listener) = self.listener.as_ref() else {
                return Poll::Ready(None);
            };
            match listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((stream, peer))) => {
                    if let Some(conn) = self.admit(stream, peer) {
                        return Poll::Ready(Some(Ok(conn)));
                    }
                }
                Poll::Ready(Err(e)) if transient_accept_error(&e) => {
                    warn!("agent API accept: {e}");
                    self.backoff = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                }
                Poll::Ready(Err(e)) => {
                    self.listener = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
