//! The agent API's calls as Prometheus metrics (`prometheus-client`):
//! `ironbell_workflow_agent_calls_total{method, code}`, `code` being the gRPC status the
//! call ended with (`Ok`, `NotFound` for an agent with no Workflow, `PermissionDenied` for
//! a caller that may not act for the agent, `ResourceExhausted` for a rate-limited client,
//! ...). A machine whose agent keeps getting `PermissionDenied` shows here before anyone
//! reads the logs.
//!
//! Process-wide ([`global`]), as the controllers' ([`ironbell_controller::metrics`]): the
//! service that serves `/metrics` writes them with [`AgentCallMetrics::encode`].

use std::fmt;
use std::sync::OnceLock;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The labels of one call count.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct CallLabels {
    method: &'static str,
    code: tonic::Code,
}

impl EncodeLabelSet for CallLabels {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelSetEncoder) -> fmt::Result {
        let code = format!("{:?}", self.code);
        [("method", self.method), ("code", code.as_str())].encode(encoder)
    }
}

/// The agent API's call counters; see the module docs.
#[derive(Debug, Default)]
pub struct AgentCallMetrics {
    calls: Family<CallLabels, Counter>,
}

/// The process's agent API counters.
pub fn global() -> &'static AgentCallMetrics {
    static METRICS: OnceLock<AgentCallMetrics> = OnceLock::new();
    METRICS.get_or_init(AgentCallMetrics::default)
}

impl AgentCallMetrics {
    /// Counts one call of `method` that ended with `result`.
    pub fn count<T>(&self, method: &'static str, result: &Result<T, tonic::Status>) {
        let code = result
            .as_ref()
            .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        self.calls.get_or_create(&CallLabels { method, code }).inc();
    }

    /// Calls of `method` that ended with `code` so far.
    pub fn calls(&self, method: &'static str, code: tonic::Code) -> u64 {
        self.calls
            .get(&CallLabels { method, code })
            .map_or(0, |c| c.get())
    }

    /// Writes the family to `enc`.
    pub fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let family = enc.encode_descriptor(
            "ironbell_workflow_agent_calls",
            "Calls of the agent API, by method and the gRPC status they ended with.",
            None,
            Family::<CallLabels, Counter>::TYPE,
        )?;
        self.calls.encode(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_method_and_status() {
        let metrics = AgentCallMetrics::default();
        metrics.count("GetAction", &Ok::<(), tonic::Status>(()));
        metrics.count::<()>("GetAction", &Err(tonic::Status::not_found("none")));
        metrics.count::<()>("GetAction", &Err(tonic::Status::not_found("none")));
        assert_eq!(metrics.calls("GetAction", tonic::Code::NotFound), 2);
        let mut registry = prometheus_client::registry::Registry::default();
        #[derive(Debug)]
        struct Source(AgentCallMetrics);
        impl prometheus_client::collector::Collector for Source {
            fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
                self.0.encode(&mut enc)
            }
        }
        registry.register_collector(Box::new(Source(metrics)));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
        for line in [
            "# TYPE ironbell_workflow_agent_calls counter\n",
            "ironbell_workflow_agent_calls_total{method=\"GetAction\",code=\"NotFound\"} 2\n",
            "ironbell_workflow_agent_calls_total{method=\"GetAction\",code=\"Ok\"} 1\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
    }
}
