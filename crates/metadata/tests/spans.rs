//! Logging: every answer is logged inside a span naming the client and the Hardware.
//! Alone in its binary, so that no other test's thread shares tracing's callsite cache.

mod common;

use axum::http::Method;
use common::{LogBuffer, app, send, simple};
use ironbell_metadata::{Cidr, Config, Index};

const HOSTNAME: &str = "/2009-04-04/meta-data/hostname";

/// Every answer is logged inside a span naming the client address and the Hardware.
#[tokio::test]
async fn spans_carry_client_and_hardware() {
    let buf = LogBuffer::default();
    let _guard = buf.capture(tracing::Level::DEBUG);
    let app = app(
        Index::from_hardware([simple("b", "10.1.0.6", "host-b")]),
        Config {
            trusted_proxies: Cidr::parse_list("192.0.2.1").expect("cidr"),
            ..Config::default()
        },
    );
    send(
        &app,
        Method::GET,
        "192.0.2.1:1",
        HOSTNAME,
        &[("x-forwarded-for", "10.1.0.6")],
    )
    .await;
    send(&app, Method::GET, "10.9.9.9:1", HOSTNAME, &[]).await;
    let logs = buf.text();
    assert!(
        logs.lines().any(|l| l.contains("client=10.1.0.6")
            && l.contains("hardware=default/b")
            && l.contains("answered")),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("client=10.9.9.9") && l.contains("status=404")),
        "{logs}"
    );
}
