//! `/metrics` of the services that run controllers (workflow, BMC, cluster): the
//! controllers' families ([`ironbell_controller::metrics`]: reconciles by controller and
//! result, their durations, the queues) and the workflow service's agent API calls
//! ([`ironbell_workflow::metrics`]), through `prometheus-client`.
//!
//! Served two ways: on the boot service's `/metrics` when the plane runs it too (`serve
//! all`: one port to scrape, [`ControllerSource`]), and on a listener of their own at
//! [`crate::network::PlaneNetwork::metrics`] when given (`--metrics-addr`, for `serve
//! workflow` and `serve bmc` alone), with `/healthz`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use ironbell_httpd::ConnectionStats;
use ironbell_httpd::metrics::{ConnectionCollector, Registry};
use prometheus_client::encoding::DescriptorEncoder;
use tokio::net::TcpListener;

/// The controllers' and the agent API's families as a source of the boot service's
/// `/metrics`.
#[derive(Debug)]
pub struct ControllerSource;

impl ironbell_boot::metrics::MetricsSource for ControllerSource {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        ironbell_controller::metrics::global().encode(enc)?;
        ironbell_workflow::metrics::global().encode(enc)
    }
}

impl prometheus_client::collector::Collector for ControllerSource {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        ironbell_boot::metrics::MetricsSource::encode(self, &mut enc)
    }
}

/// The registry of the controllers' own `/metrics`: their families and the listener's
/// connection counters (`ironbell_controllers_http_*`).
pub fn registry(connections: Arc<ConnectionStats>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ControllerSource));
    registry.register_collector(Box::new(ConnectionCollector::new(
        "ironbell_controllers_http",
        connections,
    )));
    registry
}

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Arc::new(ConnectionStats::default());
    let registry = Arc::new(registry(connections.clone()));
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { ironbell_httpd::metrics::response(&registry) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    let limits = ironbell_httpd::Limits::default();
    ironbell_httpd::serve("metrics", listener, app, limits, connections, shutdown).await
}
