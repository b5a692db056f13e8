//! Bad input: unknown paths and methods, oversized, malformed and slow requests over a real
//! loopback socket, and a bounded run of random requests. Nothing panics, nothing leaks.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{app, get, send, simple};
use ironbell_metadata::{Config, Index, MetadataState, serve_state};
use ironbell_testbed::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn index() -> std::sync::Arc<Index> {
    Index::from_hardware([
        simple("lo", "127.0.0.1", "loopback-host"),
        simple("other", "10.1.0.6", "secret-host"),
    ])
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let app = app(index(), Config::default());
    let me = "127.0.0.1:1";
    for path in [
        "/nope",
        "/2009-04-04/meta-data/nope",
        "/2009-04-04/meta-data/hostname/extra",
        "/2009-04-04//meta-data",
        "/2009-04-04//",
        "/2009-04-04/meta-data//hostname",
        "/2016-09-02/meta-data/instance-id",
        "/2021-03-23/meta-data/instance-id",
        "/latest/dynamic/instance-identity/document",
        "/latest/meta-data/iam/security-credentials/",
        "/2009-04-04/meta-data/%68ostname",
        "/metadata/x",
        "/healthz/x",
    ] {
        let a = get(&app, me, path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {a:?}");
    }
    for (method, path) in [
        (Method::POST, "/2009-04-04/meta-data/hostname"),
        (Method::DELETE, "/latest/user-data"),
        (Method::PUT, "/metadata"),
        (Method::POST, "/latest/api/token"),
    ] {
        let a = send(&app, method.clone(), me, path, &[]).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    // HEAD answers like GET, without a body.
    let a = send(
        &app,
        Method::HEAD,
        me,
        "/2009-04-04/meta-data/hostname",
        &[],
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, ""));
    // A query string changes nothing.
    let a = get(&app, me, "/2009-04-04/meta-data/hostname?x=1").await;
    assert_eq!(a.body, "loopback-host");
}

#[tokio::test]
async fn random_requests_never_fail_or_leak() {
    let app = app(
        index(),
        Config {
            trusted_proxies: ironbell_metadata::Cidr::parse_list("127.0.0.0/8").expect("cidr"),
            ..Config::default()
        },
    );
    let mut rng = Rng::new(7172);
    let pieces = [
        "2009-04-04",
        "latest",
        "meta-data",
        "user-data",
        "public-keys",
        "0",
        "openssh-key",
        "operating-system",
        "license_activation",
        "state",
        "hostname",
        "api",
        "token",
        "",
        "..",
        "%2F",
        "metadata",
        "x",
    ];
    for i in 0..2000 {
        let depth = rng.below(6);
        let mut path = String::new();
        for _ in 0..depth {
            path.push('/');
            path.push_str(pieces[rng.below(pieces.len())]);
        }
        if path.is_empty() || rng.below(4) == 0 {
            path.push('/');
        }
        let method = [Method::GET, Method::PUT, Method::HEAD, Method::POST][rng.below(4)].clone();
        let junk: String = (0..rng.below(40))
            .map(|_| char::from(b' ' + (rng.next() % 95) as u8))
            .collect();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        match rng.below(4) {
            0 => headers.push(("x-forwarded-for", junk.as_str())),
            1 => headers.push(("x-aws-ec2-metadata-token", junk.as_str())),
            2 => headers.push(("x-aws-ec2-metadata-token-ttl-seconds", junk.as_str())),
            _ => {}
        }
        let a = send(&app, method.clone(), "127.0.0.1:1", &path, &headers).await;
        assert!(
            !a.status.is_server_error(),
            "#{i} {method} {path} {headers:?}: {a:?}"
        );
        assert!(!a.body.contains("secret-host"), "#{i} {path}: leaked");
    }
}

struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn server() -> Server {
    server_with(Config {
        header_read_timeout: Duration::from_millis(500),
        ..Config::default()
    })
    .await
}

async fn server_with(config: Config) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = MetadataState::new(config, index());
    let task = tokio::spawn(serve_state(state, listener, std::future::pending()));
    Server { addr, task }
}

/// A connection to `addr` that has sent `bytes`.
async fn connect_and_write(addr: SocketAddr, bytes: &[u8]) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    s
}

/// Writes `request` and reads until the server closes or 3 s pass.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may close before everything is written; that is an answer too.
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> Option<u16> {
    answer.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn malformed_and_oversized_requests_over_tcp() {
    let srv = server().await;
    let ok = exchange(
        srv.addr,
        b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.ends_with("\r\n\r\nloopback-host"), "{ok}");

    let big = format!(
        "GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let a = exchange(srv.addr, big.as_bytes()).await;
    assert!(matches!(status_of(&a), None | Some(431)), "{a}");

    let mut many = String::from("GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\n");
    for i in 0..100 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let a = exchange(srv.addr, many.as_bytes()).await;
    assert!(matches!(status_of(&a), None | Some(431)), "{a}");

    for garbage in [
        &b"\x00\x01\x02 nonsense\r\n\r\n"[..],
        b"GET /latest/meta-data/hostname HTTP/9.9\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /latest/meta-data/hostname HTTP/1.1\r\nBad Header\r\n\r\n",
    ] {
        let a = exchange(srv.addr, garbage).await;
        assert!(
            matches!(status_of(&a), None | Some(400..=499)),
            "{garbage:?}: {a}"
        );
        assert!(!a.contains("loopback-host"), "{a}");
    }

    // A token request announcing a large body is refused before it is read.
    let a = exchange(
        srv.addr,
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 10\r\nContent-Length: 1000000\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&a), Some(413), "{a}");

    // A client that never finishes its head is cut off.
    let mut s = connect_and_write(
        srv.addr,
        b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\n",
    )
    .await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "connection still open after the header timeout"
    );
    assert!(!String::from_utf8_lossy(&out).contains("loopback-host"));

    // The server is still serving.
    let ok = exchange(
        srv.addr,
        b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.ends_with("\r\n\r\nloopback-host"), "{ok}");
}

const HOSTNAME_THEN_CLOSE: &[u8] =
    b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// One client address holding its maximum of idle connections gets no more, and is served
/// again as soon as one closes.
#[tokio::test]
async fn connections_per_client_address_are_capped() {
    let srv = server_with(Config {
        max_connections_per_peer: 3,
        ..Config::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_and_write(
            srv.addr,
            b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        let mut buf = [0; 1024];
        let n = s.read(&mut buf).await.expect("answer");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The fourth is closed without an answer.
    let refused = exchange(srv.addr, HOSTNAME_THEN_CLOSE).await;
    assert_eq!(refused, "");
    drop(held.pop());
    let start = std::time::Instant::now();
    loop {
        let ok = exchange(srv.addr, HOSTNAME_THEN_CLOSE).await;
        if ok.ends_with("\r\n\r\nloopback-host") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still refused after a connection closed: {ok:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
