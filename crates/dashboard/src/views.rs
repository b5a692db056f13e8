//! What the pages show, kept in memory from the store: one [`Reflector`] per kind, each
//! keeping a compact row of every object (the few fields a page shows), and one
//! [`watch`] channel whose value grows with every change, which every open page's stream
//! waits on. A burst of changes is one wake-up per stream (a `watch` keeps only the
//! latest value), so a page is rendered again at most once per burst, never on a timer.
//!
//! Objects are read in their JSON form through [`Loose`] kinds (metadata plus whatever
//! else the object holds), not the strict typed structs: an object written by another
//! client with a field ironbell does not know still shows.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use ironbell_model::corev1::Event;
use ironbell_model::{ObjectMeta, Timestamp};
use ironbell_store::SharedStore;
use ironbell_store::reflector::{ObjectKey, Objects, Reflector};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

/// Defines a kind read loosely: its metadata, and the rest of the object as JSON.
macro_rules! loose {
    ($name:ident, $api:expr, $kind:expr, $plural:expr) => {
        #[derive(Clone, Debug, Serialize, Deserialize)]
        pub(crate) struct $name {
            metadata: ObjectMeta,
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        ironbell_model::impl_resource!($name, $api, $kind, $plural);
        impl Loose for $name {
            fn into_parts(self) -> (ObjectMeta, Value) {
                (self.metadata, Value::Object(self.rest))
            }
        }
    };
}

/// A kind read as metadata plus JSON.
pub(crate) trait Loose {
    /// The metadata and the rest of the object.
    fn into_parts(self) -> (ObjectMeta, Value);
}

loose!(
    HardwareObj,
    "tinkerbell.org/v1alpha1",
    "Hardware",
    "hardware"
);
loose!(
    WorkflowObj,
    "tinkerbell.org/v1alpha1",
    "Workflow",
    "workflows"
);
loose!(
    BmcMachineObj,
    "bmc.tinkerbell.org/v1alpha1",
    "Machine",
    "machines"
);
loose!(JobObj, "bmc.tinkerbell.org/v1alpha1", "Job", "jobs");
loose!(
    CapiClusterObj,
    "cluster.x-k8s.io/v1beta1",
    "Cluster",
    "clusters"
);
loose!(
    EksaClusterObj,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "Cluster",
    "clusters"
);

/// The string at `pointer`, or `""`.
pub(crate) fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The array at `pointer` (empty when missing).
fn array<'v>(v: &'v Value, pointer: &str) -> &'v [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The message of condition `type_` when its status is `status`.
fn condition(v: &Value, type_: &str) -> Option<(String, String)> {
    array(v, "/status/conditions")
        .iter()
        .find(|c| text(c, "/type") == type_)
        .map(|c| (text(c, "/status"), text(c, "/message")))
}

/// A Hardware as the machine list shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HardwareRow {
    pub mac: String,
    pub ip: String,
    /// `allowPXE` of its first interface (`None`: not set).
    pub allow_pxe: Option<bool>,
    /// Its BMC Machine's name.
    pub bmc: Option<String>,
}

fn hardware_row(o: HardwareObj) -> HardwareRow {
    let (_, v) = o.into_parts();
    let first = array(&v, "/spec/interfaces").first().cloned();
    let first = first.unwrap_or(Value::Null);
    HardwareRow {
        mac: text(&first, "/dhcp/mac"),
        ip: text(&first, "/dhcp/ip/address"),
        allow_pxe: first.pointer("/netboot/allowPXE").and_then(Value::as_bool),
        bmc: Some(text(&v, "/spec/bmcRef/name")).filter(|n| !n.is_empty()),
    }
}

/// A BMC Machine: its power state and whether it answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BmcRow {
    pub host: String,
    pub power: String,
    /// The `Contactable` condition's message when it is not `True`.
    pub problem: Option<String>,
}

fn bmc_row(o: BmcMachineObj) -> BmcRow {
    let (_, v) = o.into_parts();
    BmcRow {
        host: text(&v, "/spec/connection/host"),
        power: Some(text(&v, "/status/powerState"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        problem: condition(&v, "Contactable")
            .filter(|(status, _)| status != "True")
            .map(|(_, message)| message),
    }
}

/// A Workflow: its state and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkflowRow {
    pub hardware: String,
    pub template: String,
    pub state: String,
    pub action: String,
    pub action_state: String,
    /// Why it stopped ([`ironbell_model::tinkerbell::failure_reason`]).
    pub reason: Option<String>,
    pub created: Option<Timestamp>,
}

fn workflow_row(o: WorkflowObj) -> WorkflowRow {
    let (meta, v) = o.into_parts();
    let state = text(&v, "/status/state");
    WorkflowRow {
        hardware: text(&v, "/spec/hardwareRef"),
        template: text(&v, "/spec/templateRef"),
        state: if state.is_empty() {
            "PENDING".into()
        } else {
            state
        },
        action: text(&v, "/status/currentState/actionName"),
        action_state: text(&v, "/status/currentState/state"),
        reason: ironbell_model::tinkerbell::failure_reason(&v),
        created: meta.creation_timestamp,
    }
}

/// A BMC Job: what it does to which Machine, and how it went.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobRow {
    pub machine: String,
    pub tasks: String,
    pub state: String,
    pub message: String,
    pub created: Option<Timestamp>,
}

fn job_row(o: JobObj) -> JobRow {
    let (meta, v) = o.into_parts();
    let tasks = array(&v, "/spec/tasks")
        .iter()
        .filter_map(|t| t.as_object())
        .flat_map(|t| {
            t.iter().map(|(k, v)| match v {
                Value::String(s) => format!("{} {s}", k.trim_end_matches("Action")),
                _ => k.trim_end_matches("Action").to_string(),
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (state, message) =
        if let Some((_, m)) = condition(&v, "Failed").filter(|(s, _)| s == "True") {
            ("Failed".to_string(), m)
        } else if let Some((_, m)) = condition(&v, "Completed").filter(|(s, _)| s == "True") {
            ("Completed".to_string(), m)
        } else if v.pointer("/status/startTime").is_some() {
            ("Running".to_string(), String::new())
        } else {
            ("Pending".to_string(), String::new())
        };
    JobRow {
        machine: text(&v, "/spec/machineRef/name"),
        tasks,
        state,
        message,
        created: meta.creation_timestamp,
    }
}

/// A cluster (Cluster API or EKS Anywhere): its phase and what it waits for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterRow {
    pub phase: String,
    pub message: String,
}

fn capi_cluster_row(o: CapiClusterObj) -> ClusterRow {
    let (_, v) = o.into_parts();
    let phase = text(&v, "/status/phase");
    ClusterRow {
        phase: if phase.is_empty() {
            "Pending".into()
        } else {
            phase
        },
        message: text(&v, "/status/failureMessage"),
    }
}

fn eksa_cluster_row(o: EksaClusterObj) -> ClusterRow {
    let (_, v) = o.into_parts();
    let failure = text(&v, "/status/failureMessage");
    let (phase, message) = match condition(&v, "Ready") {
        _ if !failure.is_empty() => ("Failed".to_string(), failure),
        Some((s, _)) if s == "True" => ("Ready".to_string(), String::new()),
        Some((_, m)) => ("NotReady".to_string(), m),
        None => ("Pending".to_string(), String::new()),
    };
    ClusterRow { phase, message }
}

/// Everything the pages show, by kind, each by `(namespace, name)`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Views {
    pub hardware: Objects<HardwareRow>,
    pub bmc_machines: Objects<BmcRow>,
    pub workflows: Objects<WorkflowRow>,
    pub jobs: Objects<JobRow>,
    pub events: Objects<Event>,
    pub capi_clusters: Objects<ClusterRow>,
    pub eksa_clusters: Objects<ClusterRow>,
}

/// The machine a Hardware is, with what the machine list shows of it.
#[derive(Debug)]
pub(crate) struct MachineSummary<'v> {
    pub namespace: &'v str,
    pub name: &'v str,
    pub hardware: &'v HardwareRow,
    pub bmc: Option<&'v BmcRow>,
    /// Its latest Workflow.
    pub workflow: Option<(&'v str, &'v WorkflowRow)>,
    /// Its Workflows, newest first.
    pub workflows: Vec<(&'v str, &'v WorkflowRow)>,
    /// Its newest Event (about the Hardware, its BMC Machine or its Workflows).
    pub last_event: Option<&'v Event>,
}

impl<'v> MachineSummary<'v> {
    /// `(kind, name)` of every object whose Events are the machine's.
    pub fn about(&self) -> Vec<(&'static str, &'v str)> {
        let mut about = vec![("Hardware", self.name)];
        if let Some(bmc) = &self.hardware.bmc {
            about.push(("Machine", bmc.as_str()));
        }
        about.extend(self.workflows.iter().map(|(name, _)| ("Workflow", *name)));
        about
    }
}

impl Views {
    /// Every machine (Hardware), by namespace then name.
    pub fn machines(&self) -> Vec<MachineSummary<'_>> {
        // Newest Event per involved object, and Workflows per Hardware: one pass each.
        let mut newest: HashMap<(&str, &str, &str), &Event> = HashMap::new();
        for ((ns, _), e) in &self.events {
            let key = (
                ns.as_str(),
                e.involved_object.kind(),
                e.involved_object.name(),
            );
            let later = newest.get(&key).is_none_or(|seen| {
                ironbell_store::events::time_key(seen) <= ironbell_store::events::time_key(e)
            });
            if later {
                newest.insert(key, e);
            }
        }
        let mut by_hardware: HashMap<(&str, &str), Vec<(&str, &WorkflowRow)>> = HashMap::new();
        for ((ns, name), w) in &self.workflows {
            by_hardware
                .entry((ns.as_str(), w.hardware.as_str()))
                .or_default()
                .push((name.as_str(), w));
        }
        self.hardware
            .iter()
            .map(|((ns, name), hw)| {
                let mut workflows = by_hardware
                    .remove(&(ns.as_str(), name.as_str()))
                    .unwrap_or_default();
                workflows.sort_by(|a, b| (b.1.created, b.0).cmp(&(a.1.created, a.0)));
                let summary = MachineSummary {
                    namespace: ns,
                    name,
                    hardware: hw,
                    bmc: hw
                        .bmc
                        .as_ref()
                        .and_then(|b| self.bmc_machines.get(&(ns.clone(), b.clone())))
                        .map(Arc::as_ref),
                    workflow: workflows.first().copied(),
                    workflows,
                    last_event: None,
                };
                let last_event = summary
                    .about()
                    .into_iter()
                    .filter_map(|(kind, n)| newest.get(&(ns.as_str(), kind, n)).copied())
                    .max_by_key(|e| ironbell_store::events::time_key(e));
                MachineSummary {
                    last_event,
                    ..summary
                }
            })
            .collect()
    }

    /// One machine, or `None` when no such Hardware exists.
    pub fn machine(&self, namespace: &str, name: &str) -> Option<MachineSummary<'_>> {
        // The list is built for one machine as for all: what it costs is the Events pass.
        self.machines()
            .into_iter()
            .find(|m| m.namespace == namespace && m.name == name)
    }
}

/// The views, kept current by the reflectors while this lives.
pub(crate) struct Live {
    views: Arc<RwLock<Views>>,
    changed: watch::Receiver<u64>,
    /// One bit per reflector that has published its first list.
    synced: Arc<AtomicU32>,
    kinds: u32,
    _reflectors: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("generation", &*self.changed.borrow())
            .finish_non_exhaustive()
    }
}

/// Where a reflector publishes: the views, the change counter, and its bit in the mask of
/// reflectors that have listed once.
struct Publish<'a> {
    views: &'a Arc<RwLock<Views>>,
    tx: &'a Arc<watch::Sender<u64>>,
    synced: &'a Arc<AtomicU32>,
    bit: u32,
}

/// Starts a reflector of kind `K` that keeps `map(object)` of each in the views' `field`.
fn follow<K, P>(
    store: &SharedStore,
    to: Publish<'_>,
    map: fn(K) -> P,
    field: fn(&mut Views) -> &mut Objects<P>,
) -> Box<dyn std::any::Any + Send + Sync>
where
    K: ironbell_model::Resource,
    P: Send + Sync + 'static,
{
    let (views, tx, synced) = (
        Arc::clone(to.views),
        Arc::clone(to.tx),
        Arc::clone(to.synced),
    );
    let bit = to.bit;
    Box::new(Reflector::<K>::start_mapped(
        store.clone(),
        |_| true,
        map,
        move |objects: &Objects<P>, _revision| {
            let copy: BTreeMap<ObjectKey, Arc<P>> = objects.clone();
            *field(&mut views.write().unwrap_or_else(PoisonError::into_inner)) = copy;
            synced.fetch_or(1 << bit, Ordering::Relaxed);
            tx.send_modify(|generation| *generation += 1);
        },
    ))
}

impl Live {
    /// Starts following every kind the pages show in `store`.
    pub fn start(store: &SharedStore) -> Self {
        let views = Arc::new(RwLock::new(Views::default()));
        let (tx, changed) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let synced = Arc::new(AtomicU32::new(0));
        let to = |bit| Publish {
            views: &views,
            tx: &tx,
            synced: &synced,
            bit,
        };
        let reflectors = vec![
            follow(store, to(0), hardware_row, |v| &mut v.hardware),
            follow(store, to(1), bmc_row, |v| &mut v.bmc_machines),
            follow(store, to(2), workflow_row, |v| &mut v.workflows),
            follow(store, to(3), job_row, |v| &mut v.jobs),
            follow(store, to(4), |e: Event| e, |v| &mut v.events),
            follow(store, to(5), capi_cluster_row, |v| &mut v.capi_clusters),
            follow(store, to(6), eksa_cluster_row, |v| &mut v.eksa_clusters),
        ];
        Self {
            kinds: u32::try_from(reflectors.len()).unwrap_or(u32::MAX),
            views,
            changed,
            synced,
            _reflectors: reflectors,
        }
    }

    /// Waits until every reflector has published its first list (the pages are complete).
    pub async fn synced(&self) {
        let all = (1u32 << self.kinds) - 1;
        let mut changes = self.changed.clone();
        let _ = changes
            .wait_for(|_| self.synced.load(Ordering::Relaxed) & all == all)
            .await;
    }

    /// Reads the views now.
    pub fn read<T>(&self, f: impl FnOnce(&Views) -> T) -> T {
        f(&self.views.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A receiver that wakes on every change (see the module docs).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loose<K: ironbell_model::Resource>(json: Value) -> K {
        let obj = ironbell_model::DynamicObject::from_json(&json.to_string()).expect("object");
        obj.to_typed().expect("typed")
    }

    #[test]
    fn a_failed_job_and_a_failed_workflow_say_why() {
        let job: JobObj = loose(serde_json::json!({
            "apiVersion": "bmc.tinkerbell.org/v1alpha1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "default"},
            "spec": {"machineRef": {"name": "bmc1", "namespace": "default"},
                     "tasks": [{"powerAction": "off"}, {"oneTimeBootDeviceAction": {"device": ["pxe"]}}],
                     "somethingNew": 1},
            "status": {"conditions": [{"type": "Failed", "status": "True", "message": "no route"}]}
        }));
        let row = job_row(job);
        assert_eq!(
            (
                row.machine.as_str(),
                row.state.as_str(),
                row.message.as_str()
            ),
            ("bmc1", "Failed", "no route")
        );
        assert_eq!(row.tasks, "power off, oneTimeBootDevice");
        let wf: WorkflowObj = loose(serde_json::json!({
            "apiVersion": "tinkerbell.org/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "w", "namespace": "default"},
            "spec": {"hardwareRef": "node1", "templateRef": "t"},
            "status": {"state": "FAILED", "conditions": [
                {"type": "ActionFailed", "status": "True", "message": "disk gone"}]}
        }));
        let row = workflow_row(wf);
        assert_eq!(row.reason.as_deref(), Some("disk gone"));
        assert_eq!(row.state, "FAILED");
    }
}
