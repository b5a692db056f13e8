//! The shared accept loop against real TCP clients on loopback: the per-peer cap, the
//! header (idle) timeout, graceful shutdown and the peer address handed to handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use ironbell_httpd::{ConnectionStats, Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    stats: Arc<ConnectionStats>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        // A handler that takes a while (as a store write does).
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
    let stats = Arc::new(ConnectionStats::default());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        "test",
        listener,
        app,
        limits,
        stats.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    Server {
        addr,
        stats,
        stop: Some(tx),
        task,
    }
}

/// Sends one keep-alive request and reads its whole answer (the body is short).
async fn request(conn: &mut TcpStream) -> String {
    conn.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0; 4096];
    let mut got = String::new();
    while !got.contains("\r\n\r\n") || !got.ends_with("127.0.0.1") {
        let n = tokio::time::timeout(DEADLINE, conn.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "closed before the answer: {got:?}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    got
}

/// Waits until the server closes `conn` (EOF or reset) and says how long it took.
async fn closed(conn: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0; 64];
    loop {
        match tokio::time::timeout(DEADLINE, conn.read(&mut buf)).await {
            Err(_) => panic!("connection still open after {DEADLINE:?}"),
            Ok(Ok(0) | Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn per_peer_cap_refuses_extra_connections_until_one_closes() {
    let server = start(Limits {
        max_connections_per_peer: 2,
        ..Limits::default()
    })
    .await;
    let mut a = TcpStream::connect(server.addr).await.expect("connect");
    let mut b = TcpStream::connect(server.addr).await.expect("connect");
    let answer = request(&mut a).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    request(&mut b).await;
    assert_eq!(server.stats.open(), 2);

    let mut c = TcpStream::connect(server.addr).await.expect("connect");
    closed(&mut c).await;
    assert_eq!(server.stats.refused(), 1);
    // The held connections still work.
    request(&mut a).await;

    drop(b);
    wait_for("the closed connection to be released", || {
        server.stats.open() == 1
    })
    .await;
    let mut d = TcpStream::connect(server.addr).await.expect("connect");
    request(&mut d).await;
    assert_eq!(server.stats.refused(), 1);
    assert_eq!(server.stats.accepted(), 3);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_timeout() {
    let server = start(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    // Silent from the start.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let took = closed(&mut silent).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"GET /peer HTTP/1.1\r\nHost:")
        .await
        .expect("write");
    closed(&mut slow).await;
    // Idle on keep-alive after an answer.
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    request(&mut idle).await;
    closed(&mut idle).await;
    wait_for("every connection to be released", || {
        server.stats.open() == 0
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_accepting_and_closes_idle_connections() {
    let mut server = start(Limits::default()).await;
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    request(&mut idle).await;
    if let Some(stop) = server.stop.take() {
        let _ = stop.send(());
    }
    let result = tokio::time::timeout(DEADLINE, &mut server.task)
        .await
        .expect("serve returns after shutdown")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    closed(&mut idle).await;
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let server = start(Limits::default()).await;
    let mut conn = TcpStream::connect(server.addr).await.expect("connect");
    conn.write_all(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    // What `nc` does once its input ends: no more to send, still reading.
    conn.shutdown().await.expect("shut the write side");
    let mut answer = String::new();
    tokio::time::timeout(DEADLINE, conn.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer:?}");
    assert!(answer.ends_with("done"), "{answer:?}");
}
