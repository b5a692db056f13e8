//! Who gets which data: identification by source address, `X-Forwarded-For` through
//! trusted proxies only, ambiguity, and isolation between machines. Requests go to the
//! router with a chosen peer address (no sockets).

mod common;

use axum::http::{Method, StatusCode};
use common::{app, get, send, simple};
use ironbell_metadata::metrics::IdentificationFailure;
use ironbell_metadata::{Cidr, Config, Index, MetadataState, router};

const HOSTNAME: &str = "/2009-04-04/meta-data/hostname";

fn two_machines() -> std::sync::Arc<Index> {
    Index::from_hardware([
        simple("a", "10.1.0.5", "host-a"),
        simple("b", "10.1.0.6", "host-b"),
        simple("v6", "fd00::6", "host-v6"),
    ])
}

fn proxied(trusted: &str) -> axum::Router {
    app(
        two_machines(),
        Config {
            trusted_proxies: Cidr::parse_list(trusted).expect("cidr"),
            ..Config::default()
        },
    )
}

async fn hostname_via(app: &axum::Router, peer: &str, xff: &[&str]) -> (StatusCode, String) {
    let headers: Vec<(&str, &str)> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
    let a = send(app, Method::GET, peer, HOSTNAME, &headers).await;
    (a.status, a.body)
}

#[tokio::test]
async fn each_machine_sees_only_its_own_data() {
    let app = app(two_machines(), Config::default());
    for (peer, host, id) in [
        ("10.1.0.5:1000", "host-a", "id-a"),
        ("10.1.0.6:1000", "host-b", "id-b"),
        ("[fd00::6]:1000", "host-v6", "id-v6"),
        // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6.
        ("[::ffff:10.1.0.5]:1000", "host-a", "id-a"),
    ] {
        assert_eq!(get(&app, peer, HOSTNAME).await.body, host, "{peer}");
        let a = get(&app, peer, "/latest/meta-data/instance-id").await;
        assert_eq!(a.body, id, "{peer}");
        let a = get(&app, peer, "/latest/user-data").await;
        assert_eq!(a.body, format!("#cloud-config\nhostname: {host}\n"));
    }
    for peer in ["10.1.0.7:1", "127.0.0.1:1", "[fd00::7]:1"] {
        let a = get(&app, peer, HOSTNAME).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{peer}");
        assert!(!a.body.contains("host-"), "{peer}: {}", a.body);
    }
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_trusted_proxies() {
    let app = app(two_machines(), Config::default());
    // Machine a claims to be b: it still gets its own data.
    assert_eq!(
        hostname_via(&app, "10.1.0.5:1", &["10.1.0.6"]).await,
        (StatusCode::OK, "host-a".into())
    );
    // An unknown client claiming to be a gets nothing.
    let (status, body) = hostname_via(&app, "192.0.2.1:1", &["10.1.0.5"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("host-a"));
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = proxied("192.0.2.0/24");
    assert_eq!(
        hostname_via(&app, "10.1.0.5:1", &["10.1.0.6"]).await,
        (StatusCode::OK, "host-a".into())
    );
    let (status, _) = hostname_via(&app, "198.51.100.1:1", &["10.1.0.5"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn trusted_proxy_names_the_client() {
    let app = proxied("192.0.2.0/24, 203.0.113.9");
    let ok = |h: &str| (StatusCode::OK, h.to_string());
    // One hop.
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["10.1.0.5"]).await,
        ok("host-a")
    );
    assert_eq!(
        hostname_via(&app, "203.0.113.9:1", &[" 10.1.0.6 "]).await,
        ok("host-b")
    );
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["fd00::6"]).await,
        ok("host-v6")
    );
    // Several hops: trusted proxies are skipped from the right.
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["10.1.0.6, 203.0.113.9, 192.0.2.7"]).await,
        ok("host-b")
    );
    // A spoofed entry left of the real client is never reached: the first untrusted
    // address from the right is the client.
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["10.1.0.6, 10.1.0.5"]).await,
        ok("host-a")
    );
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["10.1.0.6, 10.1.0.5, 192.0.2.8"]).await,
        ok("host-a")
    );
    // Several header lines are one list, in order.
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["10.1.0.6", "10.1.0.5"]).await,
        ok("host-a")
    );
    // A malformed entry stops the walk at the address to its right (Hegel's xff).
    assert_eq!(
        hostname_via(&app, "192.0.2.1:1", &["garbage, 10.1.0.5"]).await,
        ok("host-a")
    );
    // Malformed at the right: the proxy itself is the client, and no machine.
    let (status, _) = hostname_via(&app, "192.0.2.1:1", &["10.1.0.5, garbage"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hostname_via(&app, "192.0.2.1:1", &["10.1.0.5:80"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No header, an empty header: the proxy itself.
    let (status, _) = hostname_via(&app, "192.0.2.1:1", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hostname_via(&app, "192.0.2.1:1", &[""]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Every entry trusted: the leftmost is the client (here a proxy, so nothing).
    let (status, _) = hostname_via(&app, "192.0.2.1:1", &["192.0.2.9, 192.0.2.8"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_trusted_proxy_machine_is_itself_without_the_header() {
    // The proxy range covers machine a: without a header, a is a.
    let app = proxied("10.1.0.0/24");
    assert_eq!(
        hostname_via(&app, "10.1.0.5:1", &[]).await,
        (StatusCode::OK, "host-a".into())
    );
    assert_eq!(
        hostname_via(&app, "10.1.0.5:1", &["10.1.0.6"]).await,
        (StatusCode::OK, "host-b".into())
    );
}

#[tokio::test]
async fn an_address_of_several_machines_is_served_to_none() {
    let index = Index::from_hardware([
        simple("a", "10.1.0.5", "host-a"),
        simple("dup", "10.1.0.5", "host-dup"),
        simple("b", "10.1.0.6", "host-b"),
    ]);
    let state = MetadataState::new(Config::default(), index);
    let app = router(state.clone());
    for path in [HOSTNAME, "/2009-04-04", "/latest/user-data", "/metadata"] {
        let a = get(&app, "10.1.0.5:1", path).await;
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {a:?}");
        assert!(!a.body.contains("host-"), "{}", a.body);
    }
    assert_eq!(get(&app, "10.1.0.6:1", HOSTNAME).await.body, "host-b");
    assert_eq!(
        state
            .metrics()
            .identification_failures(IdentificationFailure::AmbiguousAddress),
        4
    );
    let m = get(&app, "127.0.0.1:1", "/metrics").await.body;
    assert!(m.contains("ironbell_metadata_address_conflicts 1\n"), "{m}");
    assert!(m.contains(
        "ironbell_metadata_identification_failures_total{reason=\"ambiguous_address\"} 4\n"
    ));
}

#[tokio::test]
async fn one_machine_declaring_an_address_twice_is_not_ambiguous() {
    let mut hw = simple("a", "10.1.0.5", "host-a");
    let iface = hw.spec.interfaces.as_ref().expect("ifaces")[0].clone();
    hw.spec.interfaces.as_mut().expect("ifaces").push(iface);
    let app = app(Index::from_hardware([hw]), Config::default());
    assert_eq!(get(&app, "10.1.0.5:1", HOSTNAME).await.body, "host-a");
}

#[tokio::test]
async fn missing_peer_address_is_a_bad_request() {
    use axum::body::Body;
    use tower::ServiceExt;
    let app = app(two_machines(), Config::default());
    let req = axum::http::Request::get(HOSTNAME)
        .body(Body::empty())
        .expect("req");
    let resp = app.oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
