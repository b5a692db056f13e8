//! What every controller does, as Prometheus metrics (`prometheus-client`), the way
//! controller-runtime reports its controllers: reconciles by controller and result, how
//! long they took, and how many keys wait in each queue.
//!
//! - `ironbell_controller_reconciles_total{controller, result}`: `result` is `done` (nothing
//!   more until a change), `requeue` (look again later) or `error` (retried with backoff);
//! - `ironbell_controller_reconcile_duration_seconds{controller}`: a histogram;
//! - `ironbell_controller_queue_ready{controller}`, `..._queue_delayed`, `..._queue_active`:
//!   keys ready now, waiting for their time, being reconciled.
//!
//! The counters are process-wide ([`global`]), as controller-runtime's: a service adds
//! them to the registry of its `/metrics` with [`ControllerMetrics::register`]. The
//! workflow controller (`workflow`) and the BMC controllers (`bmc-machine`, `bmc-job`,
//! `bmc-task`) are the ones an operator watches first: a rising `error` count is a
//! machine whose BMC or template fails.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::Queue;

/// How a reconcile ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing more until a change.
    Done,
    /// Look again after a delay.
    Requeue,
    /// Failed; retried with backoff.
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Requeue => "requeue",
            Self::Error => "error",
        }
    }
}

/// The labels of a reconcile count.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ReconcileLabels {
    controller: &'static str,
    result: Outcome,
}

impl EncodeLabelSet for ReconcileLabels {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelSetEncoder) -> fmt::Result {
        [
            ("controller", self.controller),
            ("result", self.result.as_str()),
        ]
        .encode(encoder)
    }
}

/// The label of a per-controller family.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct ControllerLabel {
    controller: &'static str,
}

impl EncodeLabelSet for ControllerLabel {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelSetEncoder) -> fmt::Result {
        [("controller", self.controller)].encode(encoder)
    }
}

/// A queue's keys ready, delayed and active ([`Queue::len`]).
type Lengths = (usize, usize, usize);

/// The gauge families of [`Lengths`], in its order.
const QUEUE_FAMILIES: [(&str, &str); 3] = [
    (
        "ironbell_controller_queue_ready",
        "Keys ready to reconcile now.",
    ),
    (
        "ironbell_controller_queue_delayed",
        "Keys waiting for their time (a requeue or a retry).",
    ),
    ("ironbell_controller_queue_active", "Keys being reconciled."),
];

type DurationFamily = Family<ControllerLabel, Histogram, fn() -> Histogram>;

/// The metrics of every controller of the process; see the module docs.
#[derive(Debug)]
pub struct ControllerMetrics {
    reconciles: Family<ReconcileLabels, Counter>,
    durations: DurationFamily,
    queues: Mutex<Vec<(&'static str, Weak<Queue>)>>,
}

/// Reconcile durations from 1 ms to about 33 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The process's controller metrics.
pub fn global() -> &'static ControllerMetrics {
    static METRICS: OnceLock<ControllerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| ControllerMetrics {
        reconciles: Family::default(),
        durations: Family::new_with_constructor(duration_histogram),
        queues: Mutex::default(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ControllerMetrics {
    /// Counts one reconcile of `controller` that took `took`.
    pub fn reconciled(&self, controller: &'static str, result: Outcome, took: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels { controller, result })
            .inc();
        self.durations
            .get_or_create(&ControllerLabel { controller })
            .observe(took.as_secs_f64());
    }

    /// Reconciles of `controller` that ended with `result` so far.
    pub fn reconciles(&self, controller: &'static str, result: Outcome) -> u64 {
        self.reconciles
            .get(&ReconcileLabels { controller, result })
            .map_or(0, |c| c.get())
    }

    /// Reports `queue`'s lengths as `controller`'s while it exists.
    pub fn watch_queue(&self, controller: &'static str, queue: &Arc<Queue>) {
        let mut queues = lock(&self.queues);
        queues.retain(|(_, q)| q.strong_count() > 0);
        queues.push((controller, Arc::downgrade(queue)));
    }

    /// Adds these families to `registry`.
    pub fn register(&'static self, registry: &mut Registry) {
        registry.register_collector(Box::new(Registered(self)));
    }

    /// Writes these families to `enc` (for a service whose `/metrics` gathers families
    /// from several sources).
    pub fn encode(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let reconciles = enc.encode_descriptor(
            "ironbell_controller_reconciles",
            "Reconciles by controller and result (done, requeue, error).",
            None,
            self.reconciles.metric_type(),
        )?;
        self.reconciles.encode(reconciles)?;
        let durations = enc.encode_descriptor(
            "ironbell_controller_reconcile_duration_seconds",
            "Time one reconcile took, by controller.",
            None,
            self.durations.metric_type(),
        )?;
        self.durations.encode(durations)?;
        let lengths: Vec<(&'static str, Lengths)> = lock(&self.queues)
            .iter()
            .filter_map(|(name, q)| q.upgrade().map(|q| (*name, q.len())))
            .collect();
        for (at, (name, help)) in QUEUE_FAMILIES.into_iter().enumerate() {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (controller, (ready, delayed, active)) in &lengths {
                let len = [ready, delayed, active][at];
                let value = i64::try_from(*len).unwrap_or(i64::MAX);
                ConstGauge::new(value)
                    .encode(family.encode_family(&[("controller", *controller)])?)?;
            }
        }
        Ok(())
    }
}

/// [`ControllerMetrics`] as a registered collector.
#[derive(Debug)]
struct Registered(&'static ControllerMetrics);

impl Collector for Registered {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        self.0.encode(&mut enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_durations_and_queues_are_rendered() {
        let metrics = global();
        let queue = Arc::new(Queue::default());
        queue.add(("ns".into(), "a".into()));
        metrics.watch_queue("test-controller", &queue);
        metrics.reconciled("test-controller", Outcome::Error, Duration::from_millis(3));
        metrics.reconciled("test-controller", Outcome::Done, Duration::from_millis(1));
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encode");
        for line in [
            "# TYPE ironbell_controller_reconciles counter\n",
            "ironbell_controller_reconciles_total{controller=\"test-controller\",result=\"error\"} 1\n",
            "ironbell_controller_reconcile_duration_seconds_count{controller=\"test-controller\"} 2\n",
            "ironbell_controller_queue_ready{controller=\"test-controller\"} 1\n",
        ] {
            assert!(out.contains(line), "{line}{out}");
        }
        assert_eq!(metrics.reconciles("test-controller", Outcome::Done), 1);
    }
}
