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
use tokio_stream::wrappers::ReceiverStream;
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
/// The accept task ends when the stream is dropped.
pub fn incoming(listener: TcpListener, limits: ConnLimits) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let cap = ConnectionCap::<IpAddr>::new(limits.per_peer, limits.max_peers);
    let local = listener.local_addr().ok();
    tokio::spawn(async move {
        loop {
            let (stream, peer): (TcpStream, SocketAddr) = tokio::select! {
                () = tx.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) if transient_accept_error(&e) => {
                        warn!("agent API accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                },
            };
            let ip = ironbell_metadata::client::canonical(peer.ip());
            let Some(permit) = cap.try_acquire(ip) else {
                if let Some(suppressed) = OVER_CAP.allow() {
                    warn!(%peer, suppressed, "agent API: too many connections from this peer; closed");
                }
                drop(stream);
                continue;
            };
            let sock = socket2::SockRef::from(&stream);
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(limits.tcp_keepalive)
                .with_interval(limits.tcp_keepalive);
            if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
                debug!(%peer, "TCP keepalive: {e}");
            }
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                info: TcpConnectInfo {
                    local_addr: local,
                    remote_addr: Some(peer),
                },
                stream,
                idle: Box::pin(tokio::time::sleep(limits.idle_timeout)),
                idle_timeout: limits.idle_timeout,
                _permit: permit,
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}
