//! Waiting for a cluster: ready, rolled out, or gone, read from the store the controllers
//! write ([`ClusterState`]), with one progress line each time something changes (at `-v
//! 1`) and an early, named failure when a machine's provisioning fails — EKS Anywhere's
//! most reported problem is a create that waits an hour without saying why.
//!
//! Cluster API's objects say most of it; a provider adds what only it knows through
//! [`Observe`] (Tinkerbell: the Hardware each machine runs on and its Workflow; Docker
//! needs nothing more, its failures are the `Machine`'s `failureMessage`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, Store};
use serde_json::Value;

use crate::objects::{CLUSTER_NAME_LABEL, field};
use crate::{NAMESPACE, Output, TaskError};

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
    /// The name of its infrastructure object (`spec.infrastructureRef.name`).
    pub infrastructure: String,
    /// What it runs on, once known, as the provider names it (`Hardware w1`).
    pub host: Option<String>,
    /// How far its provisioning got, as the provider says it (`workflow STATE_RUNNING`).
    pub progress: Option<String>,
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
    /// What its machines still hold and must release before it is gone (a Tinkerbell
    /// Hardware's name → its owner).
    pub held: BTreeMap<String, String>,
}

/// What a provider adds to a [`ClusterState`] read from Cluster API's objects.
#[async_trait::async_trait]
pub trait Observe: Send + Sync {
    /// Fills in each machine's host, progress and failure, and what the machines hold.
    async fn observe(&self, store: &dyn Store, state: &mut ClusterState) -> Result<(), TaskError>;

    /// Where to look when a machine of `cluster` failed.
    fn hint(&self, cluster: &str) -> String {
        format!("`ironbell describe cluster {cluster}` shows every machine")
    }
}

/// Nothing but Cluster API's objects.
#[async_trait::async_trait]
impl Observe for () {
    async fn observe(&self, _: &dyn Store, _: &mut ClusterState) -> Result<(), TaskError> {
        Ok(())
    }
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

/// `obj`'s string field at a dotted `path`.
pub fn text(obj: &DynamicObject, path: &str) -> Option<String> {
    field(obj, path).and_then(|v| v.as_str().map(str::to_string))
}

/// The objects of kind `types` in [`NAMESPACE`] matching `selector`.
pub async fn list(
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
    /// Reads cluster `name`'s objects, then what `observe` adds.
    pub async fn read(
        store: &dyn Store,
        name: &str,
        observe: &dyn Observe,
    ) -> Result<Self, TaskError> {
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
            .map(|m| MachineState {
                name: m.name().to_string(),
                phase: text(&m, "status.phase").unwrap_or_else(|| "Pending".into()),
                control_plane: m
                    .metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(ironbell_cluster_api::CONTROL_PLANE_LABEL)),
                infrastructure: text(&m, "spec.infrastructureRef.name").unwrap_or_default(),
                host: None,
                progress: None,
                failure: text(&m, "status.failureMessage"),
            })
            .collect();
        let mut state = Self {
            cluster,
            control_plane,
            deployments,
            machines,
            held: BTreeMap::new(),
        };
        observe.observe(store, &mut state).await?;
        Ok(state)
    }

    /// Whether every object of the cluster is gone (and what its machines held released).
    pub fn gone(&self) -> bool {
        self.cluster.is_none()
            && self.control_plane.is_none()
            && self.deployments.is_empty()
            && self.machines.is_empty()
            && self.held.is_empty()
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
                    m.host
                        .as_ref()
                        .map(|h| format!(" ({h})"))
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
            let extra: Vec<&str> = m
                .host
                .iter()
                .chain(&m.progress)
                .map(String::as_str)
                .collect();
            if !extra.is_empty() {
                let _ = write!(line, " ({})", extra.join(", "));
            }
            line.push(',');
        }
        line.trim_end_matches(',').to_string()
    }
}

/// Waits until `done` holds for cluster `name`'s state (as `observe` completes it),
/// printing each new summary at `-v 1`. Fails when a machine fails (named, with what it
/// runs on and why) or at `timeout`, saying what was still missing.
pub async fn until(
    store: &dyn Store,
    name: &str,
    what: &str,
    timeout: Duration,
    out: &Output,
    observe: &dyn Observe,
    done: impl Fn(&ClusterState) -> bool,
) -> Result<ClusterState, TaskError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let state = ClusterState::read(store, name, observe).await?;
        if done(&state) {
            return Ok(state);
        }
        if let Some(failure) = state.failure() {
            return Err(TaskError::Failed(format!(
                "cluster {name}: {failure} ({})",
                observe.hint(name)
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
                crate::output::elapsed(timeout)
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}
