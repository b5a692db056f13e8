//! IMDSv2 session tokens through the router: issuing, binding to the client, expiry,
//! optional and required modes.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{app, get, send, simple};
use ironbell_metadata::token::Clock;
use ironbell_metadata::{Cidr, Config, Index};

const HOSTNAME: &str = "/latest/meta-data/hostname";
const A: &str = "10.1.0.5:1000";
const B: &str = "10.1.0.6:1000";

fn index() -> std::sync::Arc<Index> {
    Index::from_hardware([
        simple("a", "10.1.0.5", "host-a"),
        simple("b", "10.1.0.6", "host-b"),
    ])
}

async fn token(app: &axum::Router, peer: &str, ttl: &str) -> String {
    let a = send(
        app,
        Method::PUT,
        peer,
        "/latest/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", ttl)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.headers["x-aws-ec2-metadata-token-ttl-seconds"], ttl);
    assert!(!a.body.is_empty() && a.body.is_ascii() && !a.body.contains('\n'));
    a.body
}

async fn with_token(app: &axum::Router, peer: &str, token: &str) -> common::Answer {
    send(
        app,
        Method::GET,
        peer,
        HOSTNAME,
        &[("x-aws-ec2-metadata-token", token)],
    )
    .await
}

#[tokio::test]
async fn tokens_are_optional_by_default_but_checked_when_sent() {
    let app = app(index(), Config::default());
    assert_eq!(get(&app, A, HOSTNAME).await.body, "host-a");
    let t = token(&app, A, "21600").await;
    let a = with_token(&app, A, &t).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "host-a"));
    // Another machine cannot use a's token.
    let a = with_token(&app, B, &t).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
    // Garbage is refused, not ignored.
    for junk in ["", "x", "AAAA.BBBB", &t[1..]] {
        let a = with_token(&app, A, junk).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{junk:?}: {a:?}");
    }
}

#[tokio::test]
async fn required_tokens() {
    let config = Config {
        require_tokens: true,
        ..Config::default()
    };
    let app = app(index(), config);
    for path in [
        HOSTNAME,
        "/2009-04-04/meta-data/",
        "/latest/user-data",
        "/latest",
    ] {
        let a = get(&app, A, path).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}: {a:?}");
        assert!(!a.body.contains("host-a"));
    }
    let t = token(&app, A, "60").await;
    let a = with_token(&app, A, &t).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "host-a"));
    let a = send(
        &app,
        Method::GET,
        A,
        "/2009-04-04/user-data",
        &[("X-aws-ec2-metadata-token", &t)],
    )
    .await;
    assert_eq!(a.body, "#cloud-config\nhostname: host-a\n");
    // Not an EC2 path: no token needed.
    assert_eq!(get(&app, A, "/metadata").await.status, StatusCode::OK);
    assert_eq!(get(&app, A, "/healthz").await.status, StatusCode::OK);
    let m = get(&app, A, "/metrics").await.body;
    assert!(m.contains("ironbell_metadata_token_rejections_total{reason=\"missing\"} 4\n"));
    assert!(m.contains("ironbell_metadata_tokens_issued_total 1\n"));
}

#[tokio::test]
async fn tokens_expire() {
    let clock = Clock::adjustable();
    let config = Config {
        clock: clock.clone(),
        ..Config::default()
    };
    let app = app(index(), config);
    let t = token(&app, A, "1").await;
    assert_eq!(with_token(&app, A, &t).await.status, StatusCode::OK);
    // Rounded up to a whole second, a 1 s token lives at most 2 s.
    clock.advance(Duration::from_millis(2100));
    let a = with_token(&app, A, &t).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
    assert!(a.body.contains("expired"), "{}", a.body);
}

#[tokio::test]
async fn tokens_are_bound_to_the_forwarded_client() {
    let config = Config {
        trusted_proxies: Cidr::parse_list("192.0.2.1").expect("cidr"),
        require_tokens: true,
        ..Config::default()
    };
    let app = app(index(), config);
    let proxy = "192.0.2.1:5000";
    let a = send(
        &app,
        Method::PUT,
        proxy,
        "/latest/api/token",
        &[
            ("x-aws-ec2-metadata-token-ttl-seconds", "30"),
            ("x-forwarded-for", "10.1.0.5"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let t = a.body;
    let via = |xff: &'static str| {
        let app = app.clone();
        let t = t.clone();
        async move {
            send(
                &app,
                Method::GET,
                proxy,
                HOSTNAME,
                &[("x-aws-ec2-metadata-token", &t), ("x-forwarded-for", xff)],
            )
            .await
        }
    };
    let a = via("10.1.0.5").await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "host-a"));
    assert_eq!(via("10.1.0.6").await.status, StatusCode::UNAUTHORIZED);
    // The machine itself, directly: the token names it, so it works there too.
    assert_eq!(with_token(&app, A, &t).await.status, StatusCode::OK);
}

#[tokio::test]
async fn token_requests_are_checked() {
    let app = app(index(), Config::default());
    let put = |headers: Vec<(&'static str, &'static str)>| {
        let app = app.clone();
        async move { send(&app, Method::PUT, A, "/latest/api/token", &headers).await }
    };
    assert_eq!(put(vec![]).await.status, StatusCode::BAD_REQUEST);
    for bad in ["0", "21601", "-5", "abc", "1e3", ""] {
        let a = put(vec![("x-aws-ec2-metadata-token-ttl-seconds", bad)]).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    // GET on the token path is not how tokens are asked for.
    let a = get(&app, A, "/latest/api/token").await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{a:?}");
    // Only under /latest, as EC2.
    let a = send(
        &app,
        Method::PUT,
        A,
        "/2009-04-04/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "10")],
    )
    .await;
    assert!(a.status.is_client_error(), "{a:?}");
    // Tokens are issued to any client (they open nothing by themselves).
    let t = token(&app, "192.0.2.77:1", "10").await;
    let a = with_token(&app, "192.0.2.77:1", &t).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn token_request_body_is_bounded() {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    let app = app(index(), Config::default());
    for (len, want) in [
        (10usize, StatusCode::OK),
        (5000, StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let mut req = axum::http::Request::put("/latest/api/token")
            .header("x-aws-ec2-metadata-token-ttl-seconds", "10")
            .body(Body::from(vec![b'x'; len]))
            .expect("req");
        req.extensions_mut().insert(ConnectInfo(
            A.parse::<std::net::SocketAddr>().expect("addr"),
        ));
        let resp = app.clone().oneshot(req).await.expect("infallible");
        assert_eq!(resp.status(), want, "{len}");
    }
}
