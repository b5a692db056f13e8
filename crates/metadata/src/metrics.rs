//! `/metrics`: the metadata service's counters through one `prometheus-client` registry,
//! answered in the OpenMetrics text format (see [`ironbell_httpd::metrics`]). Requests are
//! direct counters (a family by endpoint and status); the other counters are atomics
//! bumped on the request path and read, with the index gauges, by a collector at scrape
//! time, so a scrape sees one consistent index snapshot.
//!
//! | family | labels | what |
//! |---|---|---|
//! | `ironbell_metadata_http_requests_total` | `endpoint`, `status` | requests answered; `endpoint` is one of a fixed set (the tree paths of [`crate::ec2`], `token`, `metadata`, `versions`, `healthz`, `metrics`, `unknown`) |
//! | `ironbell_metadata_identification_failures_total` | `reason` | requests whose client matched no machine (`unknown_address`), several (`ambiguous_address`), or had no usable peer address (`no_peer`) |
//! | `ironbell_metadata_token_rejections_total` | `reason` | requests refused for their IMDSv2 token: `missing`, `invalid`, `wrong_client`, `expired` |
//! | `ironbell_metadata_tokens_issued_total` | | tokens handed out |
//! | `ironbell_metadata_machines` | | machines in the index |
//! | `ironbell_metadata_address_conflicts` | | addresses declared by several machines |
//! | `ironbell_metadata_index_resource_version` | | store revision the index reflects |
//! | `ironbell_metadata_http_connections` (gauge), `..._connections_refused_total`, `..._connections_accepted_total`, `ironbell_metadata_http_accept_errors_total` | | connections of the accept loop; refused ones hit the per-peer cap |

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ironbell_httpd::ConnectionStats;
use ironbell_httpd::metrics::{
    ConnectionCollector, Registry, RequestCounter, counter, counter_family, gauge,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::index::Index;
use crate::token::TokenError;

/// Why a request could not be tied to one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentificationFailure {
    /// No machine has the client's address.
    UnknownAddress,
    /// Several machines have it.
    AmbiguousAddress,
    /// The peer address was not available.
    NoPeer,
}

impl IdentificationFailure {
    const ALL: [Self; 3] = [Self::UnknownAddress, Self::AmbiguousAddress, Self::NoPeer];

    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAddress => "unknown_address",
            Self::AmbiguousAddress => "ambiguous_address",
            Self::NoPeer => "no_peer",
        }
    }
}

/// Why a token check refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRejection {
    /// Tokens are required and none was sent.
    Missing,
    /// The token failed the check.
    Failed(TokenError),
}

impl TokenRejection {
    fn slot(self) -> usize {
        match self {
            Self::Missing => 0,
            Self::Failed(TokenError::Invalid) => 1,
            Self::Failed(TokenError::WrongClient) => 2,
            Self::Failed(TokenError::Expired) => 3,
        }
    }
}

const TOKEN_REASONS: [&str; 4] = ["missing", "invalid", "wrong_client", "expired"];

/// The counters of one service: requests by endpoint and status as direct counters, the
/// rest in atomics read at scrape time by the service's collector (with the index gauges).
#[derive(Debug)]
pub struct Metrics {
    requests: RequestCounter,
    identification: [AtomicU64; 3],
    tokens: [AtomicU64; 4],
    issued: AtomicU64,
    connections: Arc<ConnectionStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: RequestCounter::new("endpoint"),
            identification: Default::default(),
            tokens: Default::default(),
            issued: AtomicU64::new(0),
            connections: Arc::default(),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn count_request(&self, endpoint: &'static str, status: u16) {
        self.requests.count(endpoint, status);
    }

    /// Counts one identification failure.
    pub fn count_identification_failure(&self, why: IdentificationFailure) {
        let i = IdentificationFailure::ALL
            .iter()
            .position(|w| *w == why)
            .unwrap_or(0);
        self.identification[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one token rejection.
    pub fn count_token_rejection(&self, why: TokenRejection) {
        self.tokens[why.slot()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one issued token.
    pub fn count_token_issued(&self) {
        self.issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted for `endpoint` and `status`.
    pub fn requests(&self, endpoint: &'static str, status: u16) -> u64 {
        self.requests.get(endpoint, status)
    }

    /// Identification failures counted for `why`.
    pub fn identification_failures(&self, why: IdentificationFailure) -> u64 {
        IdentificationFailure::ALL
            .iter()
            .position(|w| *w == why)
            .map_or(0, |i| self.identification[i].load(Ordering::Relaxed))
    }

    /// The accept loop's connection counters.
    pub fn connections(&self) -> &Arc<ConnectionStats> {
        &self.connections
    }

    /// The registry of `/metrics`: these counters, the connection counters
    /// (`ironbell_metadata_http_connections`...) and the gauges of `index`.
    pub fn registry(self: &Arc<Self>, index: Arc<Index>) -> Registry {
        let mut registry = Registry::default();
        self.requests.register(
            &mut registry,
            "ironbell_metadata_http_requests_total",
            "HTTP requests answered by the metadata service, by endpoint and status code.",
        );
        registry.register_collector(Box::new(MetadataCollector {
            metrics: self.clone(),
            index,
        }));
        registry.register_collector(Box::new(ConnectionCollector::new(
            "ironbell_metadata_http",
            self.connections.clone(),
        )));
        registry
    }
}

/// The atomics of [`Metrics`] and the index gauges, read at scrape time.
#[derive(Debug)]
struct MetadataCollector {
    metrics: Arc<Metrics>,
    index: Arc<Index>,
}

impl Collector for MetadataCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let m = &self.metrics;
        counter_family(
            &mut enc,
            "ironbell_metadata_identification_failures_total",
            "Requests that could not be tied to exactly one machine, by reason.",
            "reason",
            IdentificationFailure::ALL
                .iter()
                .zip(&m.identification)
                .map(|(why, n)| (why.as_str(), n.load(Ordering::Relaxed))),
        )?;
        counter_family(
            &mut enc,
            "ironbell_metadata_token_rejections_total",
            "Requests refused for their IMDSv2 token, by reason.",
            "reason",
            TOKEN_REASONS
                .iter()
                .zip(&m.tokens)
                .map(|(reason, n)| (*reason, n.load(Ordering::Relaxed))),
        )?;
        counter(
            &mut enc,
            "ironbell_metadata_tokens_issued_total",
            "IMDSv2 tokens issued.",
            m.issued.load(Ordering::Relaxed),
        )?;
        let snapshot = self.index.snapshot();
        gauge(
            &mut enc,
            "ironbell_metadata_machines",
            "Machines in the metadata index.",
            snapshot.machine_count() as u64,
        )?;
        gauge(
            &mut enc,
            "ironbell_metadata_address_conflicts",
            "Addresses declared by more than one machine (served to none).",
            snapshot.conflict_count() as u64,
        )?;
        gauge(
            &mut enc,
            "ironbell_metadata_index_resource_version",
            "Store revision the metadata index reflects.",
            snapshot.resource_version(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let m = Arc::new(Metrics::default());
        m.count_request("meta-data/hostname", 200);
        m.count_request("meta-data/hostname", 200);
        m.count_identification_failure(IdentificationFailure::AmbiguousAddress);
        m.count_token_rejection(TokenRejection::Failed(TokenError::Expired));
        let out = ironbell_httpd::metrics::render(&m.registry(Index::from_hardware([])));
        assert!(out.contains(
            "ironbell_metadata_http_requests_total{endpoint=\"meta-data/hostname\",status=\"200\"} 2\n"
        ));
        assert!(out.contains(
            "ironbell_metadata_identification_failures_total{reason=\"ambiguous_address\"} 1\n"
        ));
        assert!(out.contains("ironbell_metadata_token_rejections_total{reason=\"expired\"} 1\n"));
        assert!(out.contains("# TYPE ironbell_metadata_machines gauge\n"));
        assert!(out.contains("ironbell_metadata_http_connections_refused_total 0\n"));
        assert!(out.ends_with("# EOF\n"));
        assert_eq!(m.requests("meta-data/hostname", 200), 2);
    }
}
