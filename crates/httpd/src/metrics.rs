//! `/metrics` through [`prometheus_client`]: one [`Registry`] per service, answered in the
//! OpenMetrics text format ([`response`]).
//!
//! Two ways in, both used:
//!
//! - **Direct counters** for what the HTTP service counts itself: [`RequestCounter`] (a
//!   `Family` of counters by route and status code), registered once.
//! - **Collectors** for statistics other crates already keep in atomics (the DHCP, TFTP
//!   and syslog servers' `Stats`, the connection counters of [`crate::serve`], an index's
//!   gauges): a [`Collector`] reads them at scrape time, so those crates need no metrics
//!   dependency and their counters are never copied. [`counter`], [`gauge`] and
//!   [`counter_family`] write one family each from such a collector.
//!
//! Counter names are written here as they appear on the wire (`..._total`); the
//! OpenMetrics family name (in `# TYPE`) is the same without `_total`.

use std::fmt;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, LabelSetEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
pub use prometheus_client::registry::Registry;

use crate::ConnectionStats;

/// The content type of [`response`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `registry` in the OpenMetrics text format, ending with `# EOF`.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String fails only if a collector reports an error of its own; what was
    // written until then is still worth serving.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!("encoding metrics: {e}");
    }
    out
}

/// The `/metrics` answer for `registry`.
pub fn response(registry: &Registry) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        render(registry),
    )
        .into_response()
}

/// The family name of a counter written as `name` (`_total` taken off).
fn family_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// Writes one counter without labels (`name` ends in `_total`).
pub fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(enc.encode_descriptor(family_name(name), help, None, metric.metric_type())?)
}

/// Writes one gauge without labels.
pub fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// Writes a counter family with one label `label` (`name` ends in `_total`): one sample
/// per `(value of label, count)`.
pub fn counter_family<'a>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, u64)>,
) -> fmt::Result {
    let mut family = enc.encode_descriptor(family_name(name), help, None, MetricType::Counter)?;
    for (value, n) in samples {
        let labels = [(label, value)];
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The labels of one [`RequestCounter`] sample: the route label and the status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RequestLabels {
    key: &'static str,
    route: &'static str,
    status: u16,
}

impl EncodeLabelSet for RequestLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        [(self.key, self.route)].encode(encoder)?;
        [("status", self.status)].encode(encoder)
    }
}

/// HTTP requests answered, by route (under a label name of the service's choice) and
/// status code: a direct `Family` of counters.
#[derive(Clone, Debug)]
pub struct RequestCounter {
    key: &'static str,
    family: Family<RequestLabels, Counter>,
}

impl RequestCounter {
    /// Counters whose route label is named `key` (`route`, `endpoint`...).
    pub fn new(key: &'static str) -> Self {
        Self {
            key,
            family: Family::default(),
        }
    }

    /// Registers the family as `name` (ending in `_total`).
    pub fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(family_name(name), help, self.family.clone());
    }

    fn labels(&self, route: &'static str, status: u16) -> RequestLabels {
        RequestLabels {
            key: self.key,
            route,
            status,
        }
    }

    /// Counts one answered request.
    pub fn count(&self, route: &'static str, status: u16) {
        self.family.get_or_create(&self.labels(route, status)).inc();
    }

    /// Requests counted for `route` and `status`.
    pub fn get(&self, route: &'static str, status: u16) -> u64 {
        self.family
            .get(&self.labels(route, status))
            .map_or(0, |c| c.get())
    }
}

/// The connection counters of [`crate::serve`] as `<prefix>_connections` (gauge, open
/// now), `<prefix>_connections_accepted_total`, `<prefix>_connections_refused_total` (the
/// peer held its maximum) and `<prefix>_accept_errors_total`.
#[derive(Debug)]
pub struct ConnectionCollector {
    names: [String; 4],
    stats: Arc<ConnectionStats>,
}

impl ConnectionCollector {
    /// A collector of `stats` with metric names starting with `prefix`
    /// (`ironbell_boot_http`...).
    pub fn new(prefix: &str, stats: Arc<ConnectionStats>) -> Self {
        Self {
            names: [
                format!("{prefix}_connections"),
                format!("{prefix}_connections_accepted_total"),
                format!("{prefix}_connections_refused_total"),
                format!("{prefix}_accept_errors_total"),
            ],
            stats,
        }
    }
}

impl Collector for ConnectionCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let [open, accepted, refused, errors] = &self.names;
        gauge(
            &mut enc,
            open,
            "HTTP connections open now.",
            self.stats.open(),
        )?;
        counter(
            &mut enc,
            accepted,
            "HTTP connections accepted and served.",
            self.stats.accepted(),
        )?;
        counter(
            &mut enc,
            refused,
            "HTTP connections closed at once: the peer held its maximum.",
            self.stats.refused(),
        )?;
        counter(
            &mut enc,
            errors,
            "Failed accept calls, retried.",
            self.stats.accept_errors(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_text() {
        let mut registry = Registry::default();
        let requests = RequestCounter::new("route");
        requests.register(&mut registry, "x_requests_total", "Requests.");
        requests.count("script", 200);
        requests.count("script", 200);
        requests.count("script", 404);
        registry.register_collector(Box::new(ConnectionCollector::new(
            "x_http",
            Arc::new(ConnectionStats::default()),
        )));
        let out = render(&registry);
        assert!(out.contains("# TYPE x_requests counter\n"), "{out}");
        assert!(
            out.contains("x_requests_total{route=\"script\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("x_http_connections 0\n"), "{out}");
        assert!(
            out.contains("x_http_connections_refused_total 0\n"),
            "{out}"
        );
        assert!(out.ends_with("# EOF\n"), "{out}");
        assert_eq!(requests.get("script", 404), 1);
        assert_eq!(requests.get("healthz", 200), 0);
    }

    #[derive(Debug)]
    struct Labelled;

    impl Collector for Labelled {
        fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
            counter_family(&mut enc, "y_total", "Y.", "kind", [("a\"b\\", 3)])
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Labelled));
        let out = render(&registry);
        assert!(out.contains("y_total{kind=\"a\\\"b\\\\\"} 3\n"), "{out}");
    }
}
