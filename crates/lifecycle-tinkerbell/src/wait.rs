//! Waiting for a cluster: ready, rolled out, or gone, read from the store the controllers
//! write ([`ClusterState`]), with one progress line each time something changes (at `-v
//! 1`) and an early, named failure when a machine's provisioning fails — EKS Anywhere's
//! most reported problem is a create that waits an hour without saying why.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ironbell_lifecycle::{Output, TaskError};
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, Store};
use serde_json::Value;

use crate::NAMESPACE;
use crate::render::{CLUSTER_NAME_LABEL, field};

/// How often the store is read while waiting.
pub const POLL: Duration = Duration::from_secs(1);

/// One Cluster API machine as the wait reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineState {
    /// The `Machine`'s name.
    pub name: String,
    /// Its phase (`Pending`, `Provisioning`, `Provisioned`, `Running`, `Deleting`).
    pub phase: String,
    /// Whether it is a control-plane machine.
    pub control_plane: bool,
    /// The Hardware it runs on, once it has one.
    pub hardware: Option<String>,
    /// Its Workflow's state, once it has one.
    pub workflow: Option<String>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// What the store says about a cluster now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterState {
    /// The Cluster API `Cluster`.
    pub cluster: Option<DynamicObject>,
    /// Its `KubeadmControlPlane`.
    pub control_plane: Option<DynamicObject>,
    /// Its `MachineDeployment`s.
    pub deployments: Vec<DynamicObject>,
    /// Its machines.
    pub machines: Vec<MachineState>,
    /// Hardware owned by its machines (name → owner).
    pub owned_hardware: BTreeMap<String, String>,
}

fn key(api_version: &str, kind: &str) -> TypeKey {
    TypeKey {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    }
}

fn int(obj: &DynamicObject, path: &str) -> i64 {
    field(obj, path).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn text(obj: &DynamicObject, path: &str) -> Option<String> {
    field(obj, path).and_then(|v| v.as_str().map(str::to_string))
}

async fn list(
    store: &dyn Store,
    types: TypeKey,
    selector: Option<&Selector>,
) -> Result<Vec<DynamicObject>, TaskError> {
    Ok(store
        .list(
            &types,
            &ListParams {
                namespace: Some(NAMESPACE.to_string()),
                selector: selector.cloned(),
            },
        )
        .await?
        .items)
}

async fn get(
    store: &dyn Store,
    types: TypeKey,
    name: &str,
) -> Result<Option<DynamicObject>, TaskError> {
    match store.get(&types, NAMESPACE, name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl ClusterState {
    /// Reads cluster `name`'s objects.
    pub async fn read(store: &dyn Store, name: &str) -> Result<Self, TaskError> {
        use ironbell_cluster_api::kinds::{CLUSTER_API_VERSION, CONTROL_PLANE_API_VERSION};
        let selector = Selector::parse(&format!("{CLUSTER_NAME_LABEL}={name}"))
            .map_err(|e| TaskError::Failed(format!("cluster name {name:?}: {e}")))?;
        let cluster = get(store, key(CLUSTER_API_VERSION, "Cluster"), name).await?;
        let control_plane = get(
            store,
            key(CONTROL_PLANE_API_VERSION, "KubeadmControlPlane"),
            name,
        )
        .await?;
        let deployments = list(
            store,
            key(CLUSTER_API_VERSION, "MachineDeployment"),
            Some(&selector),
        )
        .await?;
        let machines = list(store, key(CLUSTER_API_VERSION, "Machine"), None)
            .await?
            .into_iter()
            .filter(|m| text(m, "spec.clusterName").as_deref() == Some(name))
            .collect::<Vec<_>>();
        let owner_selector = Selector::parse(ironbell_provider_tinkerbell::OWNER_NAME_LABEL)
            .map_err(|e| TaskError::Failed(e.to_string()))?;
        let hardware = list(
            store,
            key("tinkerbell.org/v1alpha1", "Hardware"),
            Some(&owner_selector),
        )
        .await?;
        let owner_of = |hw: &DynamicObject| {
            hw.metadata.labels.as_ref().and_then(|l| {
                l.get(ironbell_provider_tinkerbell::OWNER_NAME_LABEL)
                    .cloned()
            })
        };
        let workflows = list(store, key("tinkerbell.org/v1alpha1", "Workflow"), None).await?;
        let infra_names: Vec<String> = machines
            .iter()
            .filter_map(|m| text(m, "spec.infrastructureRef.name"))
            .collect();
        let owned_hardware = hardware
            .iter()
            .filter_map(|hw| owner_of(hw).map(|o| (hw.name().to_string(), o)))
            .filter(|(_, owner)| infra_names.contains(owner))
            .collect();
        let machines =
            machines
                .iter()
                .map(|m| {
                    let infra = text(m, "spec.infrastructureRef.name").unwrap_or_default();
                    let workflow = workflows.iter().find(|w| w.name() == infra);
                    let workflow_state = workflow.and_then(|w| text(w, "status.state"));
                    let failed_workflow = workflow_state.as_deref().is_some_and(|s| {
                        matches!(s.trim_start_matches("STATE_"), "FAILED" | "TIMEOUT")
                    });
                    let failure = text(m, "status.failureMessage").or_else(|| {
                        failed_workflow.then(|| {
                            let action = workflow.and_then(failed_action).unwrap_or_default();
                            format!(
                                "its Workflow {infra} is {}{action}",
                                workflow_state.clone().unwrap_or_default()
                            )
                        })
                    });
                    MachineState {
                        name: m.name().to_string(),
                        phase: text(m, "status.phase").unwrap_or_else(|| "Pending".into()),
                        control_plane: m.metadata.labels.as_ref().is_some_and(|l| {
                            l.contains_key(ironbell_cluster_api::CONTROL_PLANE_LABEL)
                        }),
                        hardware: hardware
                            .iter()
                            .find(|hw| owner_of(hw).as_deref() == Some(infra.as_str()))
                            .map(|hw| hw.name().to_string()),
                        workflow: workflow_state,
                        failure,
                    }
                })
                .collect();
        Ok(Self {
            cluster,
            control_plane,
            deployments,
            machines,
            owned_hardware,
        })
    }

    /// Whether every object of the cluster is gone (its Hardware released).
    pub fn gone(&self) -> bool {
        self.cluster.is_none()
            && self.control_plane.is_none()
            && self.deployments.is_empty()
            && self.machines.is_empty()
            && self.owned_hardware.is_empty()
    }

    /// Whether the cluster is up as its objects say: the Cluster provisioned with its
    /// control plane ready; the control plane and every deployment at their replicas, all
    /// up to date and ready, with no machine more; every machine running.
    pub fn ready(&self) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        let provisioned = text(cluster, "status.phase").as_deref() == Some("Provisioned")
            && field(cluster, "status.controlPlaneReady") == Some(Value::Bool(true));
        // A status written before the last change of the spec says nothing about it.
        let observed = |o: &DynamicObject| {
            o.metadata
                .generation
                .is_none_or(|g| int(o, "status.observedGeneration") >= g)
        };
        let settled = |o: &DynamicObject| {
            let want = field(o, "spec.replicas")
                .and_then(|v| v.as_i64())
                .unwrap_or(1);
            observed(o)
                && int(o, "status.replicas") == want
                && int(o, "status.updatedReplicas") == want
                && int(o, "status.readyReplicas") == want
        };
        let control_plane = self.control_plane.as_ref().is_some_and(|kcp| {
            settled(kcp) && field(kcp, "status.ready") == Some(Value::Bool(true))
        });
        let wanted: i64 = self
            .control_plane
            .iter()
            .chain(&self.deployments)
            .map(|o| {
                field(o, "spec.replicas")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(1)
            })
            .sum();
        provisioned
            && observed(cluster)
            && control_plane
            && self.deployments.iter().all(settled)
            && usize::try_from(wanted).ok() == Some(self.machines.len())
            && self.machines.iter().all(|m| m.phase == "Running")
    }

    /// The first machine that failed, and why, in one line.
    pub fn failure(&self) -> Option<String> {
        self.machines.iter().find_map(|m| {
            m.failure.as_ref().map(|why| {
                format!(
                    "machine {}{} failed: {why}",
                    m.name,
                    m.hardware
                        .as_ref()
                        .map(|h| format!(" (Hardware {h})"))
                        .unwrap_or_default()
                )
            })
        })
    }

    /// One line: the control plane's and the workers' readiness, then each machine.
    pub fn summary(&self) -> String {
        let count = |o: &DynamicObject| {
            (
                int(o, "status.readyReplicas"),
                field(o, "spec.replicas")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(1),
            )
        };
        let mut line = String::new();
        if let Some(kcp) = &self.control_plane {
            let (ready, want) = count(kcp);
            let _ = write!(line, "control plane {ready}/{want} ready");
        }
        let (ready, want) = self
            .deployments
            .iter()
            .map(count)
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        if !self.deployments.is_empty() {
            let _ = write!(line, ", workers {ready}/{want} ready");
        }
        if !self.machines.is_empty() {
            line.push_str("; machines:");
        }
        for m in &self.machines {
            let _ = write!(line, " {} {}", m.name, m.phase);
            let mut extra = Vec::new();
            if let Some(h) = &m.hardware {
                extra.push(format!("Hardware {h}"));
            }
            if let Some(w) = &m.workflow {
                extra.push(format!("workflow {w}"));
            }
            if !extra.is_empty() {
                let _ = write!(line, " ({})", extra.join(", "));
            }
            line.push(',');
        }
        line.trim_end_matches(',').to_string()
    }
}

/// The failing action of a Workflow and its message, as ` at action NAME: MESSAGE`.
fn failed_action(workflow: &DynamicObject) -> Option<String> {
    let tasks = field(workflow, "status.tasks")?;
    for task in tasks.as_array()? {
        for action in task.get("actions")?.as_array()? {
            let status = action.get("status").and_then(Value::as_str).unwrap_or("");
            if matches!(status.trim_start_matches("STATE_"), "FAILED" | "TIMEOUT") {
                let name = action.get("name").and_then(Value::as_str).unwrap_or("?");
                let message = action
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Some(format!(" at action {name}{message}"));
            }
        }
    }
    None
}

/// Waits until `done` holds for cluster `name`'s state, printing each new summary at `-v 1`.
/// Fails when a machine fails (named, with its Hardware and the failing action) or at
/// `timeout`, saying what was still missing.
pub async fn until(
    store: &dyn Store,
    name: &str,
    what: &str,
    timeout: Duration,
    out: &Output,
    done: impl Fn(&ClusterState) -> bool,
) -> Result<ClusterState, TaskError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let state = ClusterState::read(store, name).await?;
        if done(&state) {
            return Ok(state);
        }
        if let Some(failure) = state.failure() {
            return Err(TaskError::Failed(format!(
                "cluster {name}: {failure} (`ironbell describe cluster {name}` shows every machine; `ironbell logs HARDWARE` what its installer logged)"
            )));
        }
        let summary = state.summary();
        if summary != last {
            out.detail(format_args!("Waiting for {what}: {summary}"));
            last = summary;
        }
        if Instant::now() >= deadline {
            return Err(TaskError::Failed(format!(
                "cluster {name}: {what} did not happen within {}: {last}",
                ironbell_lifecycle::output::elapsed(timeout)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
