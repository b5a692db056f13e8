//! `/metrics`: counters in the Prometheus text exposition format (version 0.0.4), written
//! by hand — a few counters need no metrics library.
//!
//! The HTTP server counts its own requests ([`HttpCounters`]); everything else plugs in as a
//! [`MetricsSource`]: the DHCP and TFTP servers' statistics, the syslog receiver's
//! ([`SyslogStats`]) and the [`Index`] implement it here; pass them to
//! [`crate::http::HttpState::with_source`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ironbell_dhcp::{IgnoreReason, Stats};

use crate::Index;

/// Something that writes metric families in the Prometheus text format.
pub trait MetricsSource: Send + Sync {
    /// Appends `# HELP`, `# TYPE` and sample lines to `out`. Metric names should start with
    /// `ironbell_` and each family should be written once.
    fn write_metrics(&self, out: &mut String);
}

impl<T: MetricsSource + ?Sized> MetricsSource for Arc<T> {
    fn write_metrics(&self, out: &mut String) {
        (**self).write_metrics(out);
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a family.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample; `labels` values are escaped as the format requires.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

impl MetricsSource for Stats {
    fn write_metrics(&self, out: &mut String) {
        let name = "ironbell_dhcp_requests_total";
        header(
            out,
            name,
            "counter",
            "DHCP messages received, by message type.",
        );
        for (t, c) in [
            ("discover", &self.discover),
            ("request", &self.request),
            ("release", &self.release),
            ("decline", &self.decline),
            ("inform", &self.inform),
            ("other", &self.other),
        ] {
            sample(out, name, &[("type", t)], c.load(Ordering::Relaxed));
        }
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
        ] {
            header(out, name, "counter", help);
            sample(out, name, &[], c.load(Ordering::Relaxed));
        }
        let name = "ironbell_dhcp_ignored_total";
        header(
            out,
            name,
            "counter",
            "DHCP requests not answered, by reason.",
        );
        for reason in IgnoreReason::ALL {
            sample(
                out,
                name,
                &[("reason", reason.as_str())],
                self.ignored(reason),
            );
        }
    }
}

impl MetricsSource for Index {
    fn write_metrics(&self, out: &mut String) {
        let snap = self.snapshot();
        let name = "ironbell_boot_hardware";
        header(out, name, "gauge", "Hardware objects in the boot index.");
        sample(out, name, &[], snap.hardware_count() as u64);
        let name = "ironbell_boot_mac_conflicts";
        header(
            out,
            name,
            "gauge",
            "MACs declared by more than one Hardware (served for none).",
        );
        sample(out, name, &[], snap.mac_conflict_count() as u64);
        let name = "ironbell_boot_index_resource_version";
        header(
            out,
            name,
            "gauge",
            "Store revision the boot index reflects.",
        );
        sample(out, name, &[], snap.resource_version());
    }
}

/// HTTP requests answered, by route kind and status code, and connections.
#[derive(Debug, Default)]
pub struct HttpCounters {
    counts: Mutex<BTreeMap<(&'static str, u16), u64>>,
    connections_open: Arc<AtomicU64>,
    connections_refused: AtomicU64,
}

/// One open connection, counted in [`HttpCounters::connections_open`] until dropped.
#[derive(Debug)]
pub struct OpenConnection(Arc<AtomicU64>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpCounters {
    /// Counts a connection as open until the returned value is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.connections_open.clone())
    }

    /// Counts a connection closed at once by the per-peer cap.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn connections_open(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Connections closed at once by the per-peer cap so far.
    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Ordering::Relaxed)
    }

    /// Counts one answered request.
    pub fn count(&self, route: &'static str, status: u16) {
        let mut counts = match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        *counts.entry((route, status)).or_default() += 1;
    }

    /// Requests counted for `route` and `status`.
    pub fn get(&self, route: &str, status: u16) -> u64 {
        let counts = match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        counts
            .iter()
            .filter(|((r, s), _)| *r == route && *s == status)
            .map(|(_, n)| *n)
            .sum()
    }
}

impl MetricsSource for HttpCounters {
    fn write_metrics(&self, out: &mut String) {
        let name = "ironbell_boot_http_requests_total";
        header(
            out,
            name,
            "counter",
            "HTTP requests answered by the boot service, by route kind and status code.",
        );
        let counts = match self.counts.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for ((route, status), n) in counts {
            sample(
                out,
                name,
                &[("route", route), ("status", &status.to_string())],
                n,
            );
        }
        for (name, kind, help, v) in [
            (
                "ironbell_boot_http_connections",
                "gauge",
                "HTTP connections open now.",
                self.connections_open(),
            ),
            (
                "ironbell_boot_http_connections_refused_total",
                "counter",
                "HTTP connections closed at once: the peer held its maximum.",
                self.connections_refused(),
            ),
        ] {
            header(out, name, kind, help);
            sample(out, name, &[], v);
        }
    }
}

impl MetricsSource for ironbell_tftp::Stats {
    fn write_metrics(&self, out: &mut String) {
        let s = self.snapshot();
        let name = "ironbell_tftp_transfers_total";
        header(out, name, "counter", "TFTP transfers, by result.");
        for (result, v) in [
            ("ok", s.transfers_ok),
            ("failed", s.transfers_failed),
            ("aborted", s.transfers_aborted),
            ("busy", s.busy),
            ("client_busy", s.client_busy),
        ] {
            sample(out, name, &[("result", result)], v);
        }
        for (name, kind, help, v) in [
            (
                "ironbell_tftp_requests_total",
                "counter",
                "TFTP read requests received.",
                s.requests,
            ),
            (
                "ironbell_tftp_active_transfers",
                "gauge",
                "TFTP transfers in progress.",
                s.active,
            ),
            (
                "ironbell_tftp_bytes_sent_total",
                "counter",
                "File bytes sent over TFTP.",
                s.bytes_sent,
            ),
            (
                "ironbell_tftp_retransmits_total",
                "counter",
                "TFTP windows sent again.",
                s.retransmits,
            ),
            (
                "ironbell_tftp_packets_malformed_total",
                "counter",
                "TFTP packets dropped as malformed.",
                s.packets_malformed,
            ),
            (
                "ironbell_tftp_requests_rate_limited_total",
                "counter",
                "TFTP read requests dropped by the per-client rate limit.",
                s.rate_limited,
            ),
            (
                "ironbell_tftp_transfers_deadline_total",
                "counter",
                "TFTP transfers ended by the transfer deadline (also counted as failed).",
                s.deadline_expired,
            ),
            (
                "ironbell_tftp_timeout_option_refused_total",
                "counter",
                "TFTP timeout options above the cap, left out of the OACK.",
                s.timeout_refused,
            ),
        ] {
            header(out, name, kind, help);
            sample(out, name, &[], v);
        }
    }
}

impl MetricsSource for crate::machine_log::MachineLogStats {
    fn write_metrics(&self, out: &mut String) {
        let s = self.snapshot();
        let name = "ironbell_machine_log_messages_total";
        header(
            out,
            name,
            "counter",
            "Syslog messages from machines, by what was done with them.",
        );
        for (result, v) in [
            ("known", s.known),
            ("unknown", s.unknown),
            ("unknown_sampled", s.sampled),
            ("not_written", s.not_written),
            ("write_error", s.write_errors),
        ] {
            sample(out, name, &[("result", result)], v);
        }
    }
}

/// The syslog receiver's counters as a [`MetricsSource`].
pub struct SyslogStats<S>(pub Arc<ironbell_syslog::Receiver<S>>);

impl<S: ironbell_syslog::Sink> MetricsSource for SyslogStats<S> {
    fn write_metrics(&self, out: &mut String) {
        let s = self.0.stats().snapshot();
        let name = "ironbell_syslog_messages_total";
        header(
            out,
            name,
            "counter",
            "Syslog datagrams received, by how they were read.",
        );
        for (format, v) in [
            ("rfc5424", s.rfc5424),
            ("rfc3164", s.rfc3164),
            ("raw", s.raw),
            ("invalid", s.invalid),
            ("rate_limited", s.rate_limited),
        ] {
            sample(out, name, &[("format", format)], v);
        }
        header(
            out,
            "ironbell_syslog_truncated_total",
            "counter",
            "Syslog datagrams cut to the size limit.",
        );
        sample(out, "ironbell_syslog_truncated_total", &[], s.truncated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let c = HttpCounters::default();
        c.count("script", 200);
        c.count("script", 200);
        c.count("script", 404);
        let mut out = String::new();
        c.write_metrics(&mut out);
        assert!(out.contains("# TYPE ironbell_boot_http_requests_total counter\n"));
        assert!(
            out.contains("ironbell_boot_http_requests_total{route=\"script\",status=\"200\"} 2\n")
        );
        let mut out = String::new();
        sample(&mut out, "x", &[("a", "q\"\\\n")], 1);
        assert_eq!(out, "x{a=\"q\\\"\\\\\\n\"} 1\n");
        let stats = Stats::default();
        stats.discover.fetch_add(3, Ordering::Relaxed);
        let mut out = String::new();
        stats.write_metrics(&mut out);
        assert!(out.contains("ironbell_dhcp_requests_total{type=\"discover\"} 3\n"));
        assert!(out.contains("ironbell_dhcp_ignored_total{reason=\"unknown_mac\"} 0\n"));
    }
}
