//! `/metrics`: one `prometheus-client` registry for the boot service, answered in the
//! OpenMetrics text format (see [`ironbell_httpd::metrics`]).
//!
//! The HTTP server counts its own requests with direct counters ([`HttpCounters`]: a
//! counter family by route kind and status, plus the accept loop's connection counters).
//! Everything else already keeps its statistics in atomics of its own crate (DHCP, TFTP,
//! syslog, the machine logs) or is a gauge read from the [`Index`]: those plug in as a
//! [`MetricsSource`], a collector read at scrape time, so the other crates need no metrics
//! dependency and no counter is kept twice. Pass them to
//! [`crate::http::HttpState::with_source`].
//!
//! | family | labels |
//! |---|---|
//! | `ironbell_boot_http_requests_total` | `route`, `status` |
//! | `ironbell_boot_http_connections` (gauge), `ironbell_boot_http_connections_refused_total`, `..._accepted_total`, `ironbell_boot_http_accept_errors_total` | |
//! | `ironbell_boot_hardware`, `ironbell_boot_mac_conflicts`, `ironbell_boot_index_resource_version` (gauges) | |
//! | `ironbell_dhcp_requests_total` | `type` |
//! | `ironbell_dhcp_ignored_total` | `reason` |
//! | `ironbell_dhcp_{replies,send_errors,malformed,rate_limited,not_ours}_total` | |
//! | `ironbell_tftp_transfers_total` | `result` |
//! | `ironbell_tftp_*` (requests, active transfers, bytes, retransmits...) | |
//! | `ironbell_syslog_messages_total` | `format` |
//! | `ironbell_machine_log_messages_total` | `result` |
//! | `ironbell_store_degraded`, `ironbell_store_revision` (gauges, replicas on etcd) | |
//! | `ironbell_dhcp_share_buckets`, `ironbell_dhcp_share_replicas` (gauges, DHCP replicas on etcd) | |
//! | `ironbell_boot_events_total` | `result`: `queued`, `dropped` (queue full), `written`, `failed`, `trimmed` |

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ironbell_dhcp::{IgnoreReason, Stats};
use ironbell_httpd::ConnectionStats;
use ironbell_httpd::metrics::{
    ConnectionCollector, Registry, RequestCounter, counter, counter_family, gauge,
};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::Index;

/// Something read at scrape time that writes metric families (a collector).
pub trait MetricsSource: Send + Sync {
    /// Writes its families to `enc` with [`counter`], [`gauge`] and [`counter_family`].
    /// Metric names should start with `ironbell_` and each family should be written once.
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result;
}

impl<T: MetricsSource + ?Sized> MetricsSource for Arc<T> {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        (**self).encode(enc)
    }
}

/// A [`MetricsSource`] as a registered collector.
struct SourceCollector(Arc<dyn MetricsSource>);

impl fmt::Debug for SourceCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceCollector")
    }
}

impl Collector for SourceCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        self.0.encode(&mut enc)
    }
}

/// The registry of the boot service: the HTTP counters, then each source in order.
pub fn registry(counters: &HttpCounters, sources: &[Arc<dyn MetricsSource>]) -> Registry {
    let mut registry = Registry::default();
    counters.requests.register(
        &mut registry,
        "ironbell_boot_http_requests_total",
        "HTTP requests answered by the boot service, by route kind and status code.",
    );
    registry.register_collector(Box::new(ConnectionCollector::new(
        "ironbell_boot_http",
        counters.connections.clone(),
    )));
    for source in sources {
        registry.register_collector(Box::new(SourceCollector(source.clone())));
    }
    registry
}

impl MetricsSource for Stats {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        counter_family(
            enc,
            "ironbell_dhcp_requests_total",
            "DHCP messages received, by message type.",
            "type",
            [
                ("discover", &self.discover),
                ("request", &self.request),
                ("release", &self.release),
                ("decline", &self.decline),
                ("inform", &self.inform),
                ("other", &self.other),
            ]
            .map(|(t, c)| (t, c.load(Ordering::Relaxed))),
        )?;
        for (name, help, c) in [
            (
                "ironbell_dhcp_replies_total",
                "DHCP replies sent.",
                &self.replies,
            ),
            (
                "ironbell_dhcp_send_errors_total",
                "DHCP replies that could not be encoded or sent.",
                &self.send_errors,
            ),
            (
                "ironbell_dhcp_malformed_total",
                "Datagrams dropped as malformed, truncated or oversized.",
                &self.malformed,
            ),
            (
                "ironbell_dhcp_rate_limited_total",
                "DHCP requests dropped by the per-MAC rate limit.",
                &self.rate_limited,
            ),
            (
                "ironbell_dhcp_not_ours_total",
                "DHCP requests left to the replica that owns the client's share.",
                &self.not_ours,
            ),
        ] {
            counter(enc, name, help, c.load(Ordering::Relaxed))?;
        }
        counter_family(
            enc,
            "ironbell_dhcp_ignored_total",
            "DHCP requests not answered, by reason.",
            "reason",
            IgnoreReason::ALL.map(|r| (r.as_str(), self.ignored(r))),
        )
    }
}

/// Whether a replica reaches its shared store (etcd), as its health probe last found:
/// while it does not, the replica serves from its last view (degraded). Written by the
/// probe (`ironbell_ops::plane`), read at scrape time.
#[derive(Debug, Default)]
pub struct StoreHealth {
    degraded: AtomicBool,
    revision: AtomicU64,
}

impl StoreHealth {
    /// Whether the last probe failed.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The store revision the last successful probe read (0: none yet).
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Records a probe that read `revision`; whether the store was unreachable before.
    pub fn reached(&self, revision: u64) -> bool {
        self.revision.fetch_max(revision, Ordering::Relaxed);
        self.degraded.swap(false, Ordering::Relaxed)
    }

    /// Records a failed probe; whether the store was reachable before (or never probed).
    pub fn unreachable(&self) -> bool {
        !self.degraded.swap(true, Ordering::Relaxed)
    }
}

impl MetricsSource for crate::events::BootEvents {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let stats = self.recorder().stats();
        counter_family(
            enc,
            "ironbell_boot_events_total",
            "Events about machines: queued, dropped (the queue was full), written, failed \
             (the store refused), trimmed (over the bound per object).",
            "result",
            [
                ("queued", &stats.queued),
                ("dropped", &stats.dropped),
                ("written", &stats.written),
                ("failed", &stats.failed),
                ("trimmed", &stats.trimmed),
            ]
            .map(|(r, c)| (r, c.load(Ordering::Relaxed))),
        )
    }
}

impl MetricsSource for StoreHealth {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        gauge(
            enc,
            "ironbell_store_degraded",
            "1 while the store (etcd) does not answer and this replica serves from its last \
             view of it, else 0.",
            u64::from(self.degraded()),
        )?;
        gauge(
            enc,
            "ironbell_store_revision",
            "The store revision this replica last read from etcd.",
            self.revision(),
        )
    }
}

impl MetricsSource for ironbell_dhcp::Share {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        gauge(
            enc,
            "ironbell_dhcp_share_buckets",
            "How many of the 256 client buckets this DHCP replica answers.",
            self.owned().len() as u64,
        )?;
        gauge(
            enc,
            "ironbell_dhcp_share_replicas",
            "The live DHCP replicas this one splits the clients with, itself included.",
            self.members().len() as u64,
        )
    }
}

impl MetricsSource for Index {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let snap = self.snapshot();
        gauge(
            enc,
            "ironbell_boot_hardware",
            "Hardware objects in the boot index.",
            snap.hardware_count() as u64,
        )?;
        gauge(
            enc,
            "ironbell_boot_mac_conflicts",
            "MACs declared by more than one Hardware (served for none).",
            snap.mac_conflict_count() as u64,
        )?;
        gauge(
            enc,
            "ironbell_boot_index_resource_version",
            "Store revision the boot index reflects.",
            snap.resource_version(),
        )
    }
}

/// HTTP requests answered, by route kind and status code, and connections.
#[derive(Debug)]
pub struct HttpCounters {
    requests: RequestCounter,
    connections: Arc<ConnectionStats>,
}

impl Default for HttpCounters {
    fn default() -> Self {
        Self {
            requests: RequestCounter::new("route"),
            connections: Arc::default(),
        }
    }
}

impl HttpCounters {
    /// The accept loop's connection counters.
    pub fn connections(&self) -> &Arc<ConnectionStats> {
        &self.connections
    }

    /// Connections open now.
    pub fn connections_open(&self) -> u64 {
        self.connections.open()
    }

    /// Connections closed at once by the per-peer cap so far.
    pub fn connections_refused(&self) -> u64 {
        self.connections.refused()
    }

    /// Counts one answered request.
    pub fn count(&self, route: &'static str, status: u16) {
        self.requests.count(route, status);
    }

    /// Requests counted for `route` and `status`.
    pub fn get(&self, route: &'static str, status: u16) -> u64 {
        self.requests.get(route, status)
    }
}

impl MetricsSource for ironbell_tftp::Stats {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let s = self.snapshot();
        counter_family(
            enc,
            "ironbell_tftp_transfers_total",
            "TFTP transfers, by result.",
            "result",
            [
                ("ok", s.transfers_ok),
                ("failed", s.transfers_failed),
                ("aborted", s.transfers_aborted),
                ("busy", s.busy),
                ("client_busy", s.client_busy),
            ],
        )?;
        gauge(
            enc,
            "ironbell_tftp_active_transfers",
            "TFTP transfers in progress.",
            s.active,
        )?;
        for (name, help, v) in [
            (
                "ironbell_tftp_requests_total",
                "TFTP read requests received.",
                s.requests,
            ),
            (
                "ironbell_tftp_bytes_sent_total",
                "File bytes sent over TFTP.",
                s.bytes_sent,
            ),
            (
                "ironbell_tftp_retransmits_total",
                "TFTP windows sent again.",
                s.retransmits,
            ),
            (
                "ironbell_tftp_packets_malformed_total",
                "TFTP packets dropped as malformed.",
                s.packets_malformed,
            ),
            (
                "ironbell_tftp_requests_rate_limited_total",
                "TFTP read requests dropped by the per-client rate limit.",
                s.rate_limited,
            ),
            (
                "ironbell_tftp_transfers_deadline_total",
                "TFTP transfers ended by the transfer deadline (also counted as failed).",
                s.deadline_expired,
            ),
            (
                "ironbell_tftp_timeout_option_refused_total",
                "TFTP timeout options above the cap, left out of the OACK.",
                s.timeout_refused,
            ),
            (
                "ironbell_tftp_requests_duplicate_total",
                "TFTP read requests dropped as a client's retransmission of a running transfer's request.",
                s.duplicate_requests,
            ),
        ] {
            counter(enc, name, help, v)?;
        }
        Ok(())
    }
}

impl MetricsSource for crate::machine_log::MachineLogStats {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let s = self.snapshot();
        counter_family(
            enc,
            "ironbell_machine_log_messages_total",
            "Syslog messages from machines, by what was done with them.",
            "result",
            [
                ("known", s.known),
                ("unknown", s.unknown),
                ("unknown_sampled", s.sampled),
                ("not_written", s.not_written),
                ("write_error", s.write_errors),
            ],
        )
    }
}

/// The syslog receiver's counters as a [`MetricsSource`].
pub struct SyslogStats<S>(pub Arc<ironbell_syslog::Receiver<S>>);

impl<S: ironbell_syslog::Sink> MetricsSource for SyslogStats<S> {
    fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let s = self.0.stats().snapshot();
        counter_family(
            enc,
            "ironbell_syslog_messages_total",
            "Syslog datagrams received, by how they were read.",
            "format",
            [
                ("rfc5424", s.rfc5424),
                ("rfc3164", s.rfc3164),
                ("raw", s.raw),
                ("invalid", s.invalid),
                ("rate_limited", s.rate_limited),
            ],
        )?;
        counter(
            enc,
            "ironbell_syslog_truncated_total",
            "Syslog datagrams cut to the size limit.",
            s.truncated,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_text() {
        let c = HttpCounters::default();
        c.count("script", 200);
        c.count("script", 200);
        c.count("script", 404);
        let stats = Arc::new(Stats::default());
        stats.discover.fetch_add(3, Ordering::Relaxed);
        stats.not_ours.fetch_add(2, Ordering::Relaxed);
        let sources: Vec<Arc<dyn MetricsSource>> = vec![stats];
        let out = ironbell_httpd::metrics::render(&registry(&c, &sources));
        assert!(out.contains("# TYPE ironbell_boot_http_requests counter\n"));
        assert!(
            out.contains("ironbell_boot_http_requests_total{route=\"script\",status=\"200\"} 2\n")
        );
        assert!(out.contains("ironbell_boot_http_connections_refused_total 0\n"));
        assert!(out.contains("ironbell_dhcp_requests_total{type=\"discover\"} 3\n"));
        assert!(out.contains("ironbell_dhcp_ignored_total{reason=\"unknown_mac\"} 0\n"));
        assert!(out.contains("ironbell_dhcp_not_ours_total 2\n"));
        assert!(out.ends_with("# EOF\n"));
    }

    #[test]
    fn store_health_says_each_change_once() {
        let health = Arc::new(StoreHealth::default());
        assert!(!health.reached(7), "reachable from the start: no change");
        assert!(health.unreachable(), "the first failure is a change");
        assert!(!health.unreachable(), "the next ones are not");
        assert!(health.degraded());
        assert_eq!(health.revision(), 7, "the last revision read is kept");
        let share = Arc::new(ironbell_dhcp::Share::all("replica-a"));
        share.set_members(&["replica-a", "replica-b", "replica-c"]);
        let sources: Vec<Arc<dyn MetricsSource>> = vec![health.clone(), share];
        let out = ironbell_httpd::metrics::render(&registry(&HttpCounters::default(), &sources));
        assert!(out.contains("ironbell_store_degraded 1\n"), "{out}");
        assert!(out.contains("ironbell_store_revision 7\n"), "{out}");
        assert!(out.contains("ironbell_dhcp_share_buckets 86\n"), "{out}");
        assert!(out.contains("ironbell_dhcp_share_replicas 3\n"), "{out}");
        assert!(health.reached(9), "back: a change");
        assert!(!health.degraded());
        assert_eq!(health.revision(), 9);
    }
}
