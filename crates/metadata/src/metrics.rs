//! `/metrics`: the metadata service's counters in the Prometheus text exposition format
//! (version 0.0.4), written by hand.
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

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::index::Snapshot;
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

/// The counters of one service.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    identification: [AtomicU64; 3],
    tokens: [AtomicU64; 4],
    issued: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn count_request(&self, endpoint: &'static str, status: u16) {
        let mut counts = match self.requests.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        *counts.entry((endpoint, status)).or_default() += 1;
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
    pub fn requests(&self, endpoint: &str, status: u16) -> u64 {
        let counts = match self.requests.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        counts
            .iter()
            .filter(|((e, s), _)| *e == endpoint && *s == status)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Identification failures counted for `why`.
    pub fn identification_failures(&self, why: IdentificationFailure) -> u64 {
        IdentificationFailure::ALL
            .iter()
            .position(|w| *w == why)
            .map_or(0, |i| self.identification[i].load(Ordering::Relaxed))
    }

    /// The text of `/metrics`, with the index gauges of `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        let name = "ironbell_metadata_http_requests_total";
        header(
            &mut out,
            name,
            "counter",
            "HTTP requests answered by the metadata service, by endpoint and status code.",
        );
        let counts = match self.requests.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for ((endpoint, status), n) in counts {
            sample(
                &mut out,
                name,
                &[("endpoint", endpoint), ("status", &status.to_string())],
                n,
            );
        }
        let name = "ironbell_metadata_identification_failures_total";
        header(
            &mut out,
            name,
            "counter",
            "Requests that could not be tied to exactly one machine, by reason.",
        );
        for (i, why) in IdentificationFailure::ALL.iter().enumerate() {
            sample(
                &mut out,
                name,
                &[("reason", why.as_str())],
                self.identification[i].load(Ordering::Relaxed),
            );
        }
        let name = "ironbell_metadata_token_rejections_total";
        header(
            &mut out,
            name,
            "counter",
            "Requests refused for their IMDSv2 token, by reason.",
        );
        for (i, reason) in TOKEN_REASONS.iter().enumerate() {
            sample(
                &mut out,
                name,
                &[("reason", reason)],
                self.tokens[i].load(Ordering::Relaxed),
            );
        }
        for (name, kind, help, v) in [
            (
                "ironbell_metadata_tokens_issued_total",
                "counter",
                "IMDSv2 tokens issued.",
                self.issued.load(Ordering::Relaxed),
            ),
            (
                "ironbell_metadata_machines",
                "gauge",
                "Machines in the metadata index.",
                snapshot.machine_count() as u64,
            ),
            (
                "ironbell_metadata_address_conflicts",
                "gauge",
                "Addresses declared by more than one machine (served to none).",
                snapshot.conflict_count() as u64,
            ),
            (
                "ironbell_metadata_index_resource_version",
                "gauge",
                "Store revision the metadata index reflects.",
                snapshot.resource_version(),
            ),
        ] {
            header(&mut out, name, kind, help);
            sample(&mut out, name, &[], v);
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let m = Metrics::default();
        m.count_request("meta-data/hostname", 200);
        m.count_request("meta-data/hostname", 200);
        m.count_identification_failure(IdentificationFailure::AmbiguousAddress);
        m.count_token_rejection(TokenRejection::Failed(TokenError::Expired));
        let out = m.render(&Snapshot::default());
        assert!(out.contains(
            "ironbell_metadata_http_requests_total{endpoint=\"meta-data/hostname\",status=\"200\"} 2\n"
        ));
        assert!(out.contains(
            "ironbell_metadata_identification_failures_total{reason=\"ambiguous_address\"} 1\n"
        ));
        assert!(out.contains("ironbell_metadata_token_rejections_total{reason=\"expired\"} 1\n"));
        assert!(out.contains("# TYPE ironbell_metadata_machines gauge\n"));
        assert_eq!(m.requests("meta-data/hostname", 200), 2);
    }
}
