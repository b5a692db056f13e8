//! What the agent API looks up on every call, kept in memory and current from the store:
//! agent id → its Workflows, Hardware MAC / name → addresses, Workflow → agent token.
//!
//! Three [`SnapshotIndex`]es (Workflow, Hardware, Secret) each publish an immutable map
//! after every batch of changes; this module is only their build functions and lookups. A
//! call reads the current maps (one lock held for an `Arc` clone each), so its cost does
//! not grow with the number of Workflows, and an agent with no Workflow costs one hash
//! lookup and no store access. The Workflows themselves are still read from the store by
//! key when an action is handed out, so a decision is never made on a copy older than the
//! agent's own last report.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ironbell_model::MacAddr;
use ironbell_model::agent_token::AgentToken;
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_store::SharedStore;
use ironbell_store::reflector::{ObjectKey, Objects};
use ironbell_store::snapshot::{Snapshot, SnapshotIndex};

/// One Workflow of an agent, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowEntry {
    /// `(namespace, name)`.
    pub key: ObjectKey,
    /// `spec.hardwareRef`, if set.
    pub hardware_ref: Option<String>,
}

/// agent id (lower case) → its Workflows.
#[derive(Debug, Default)]
struct AgentWorkflows(HashMap<String, Vec<WorkflowEntry>>);

impl Snapshot for AgentWorkflows {}

impl AgentWorkflows {
    fn build(objects: &Objects<Workflow>) -> Self {
        let mut map: HashMap<String, Vec<WorkflowEntry>> = HashMap::new();
        for (key, w) in objects {
            let agent = w.status.as_ref().and_then(|s| s.agent_id.as_deref());
            if let Some(agent) = agent.filter(|a| !a.is_empty()) {
                map.entry(agent.to_ascii_lowercase())
                    .or_default()
                    .push(WorkflowEntry {
                        key: key.clone(),
                        hardware_ref: w.spec.hardware_ref.clone().filter(|h| !h.is_empty()),
                    });
            }
        }
        Self(map)
    }
}

/// The addresses of every Hardware, by MAC (lower case) and by key.
#[derive(Debug, Default)]
struct HardwareAddresses {
    by_mac: HashMap<MacAddr, Vec<IpAddr>>,
    by_name: HashMap<ObjectKey, Vec<IpAddr>>,
}

impl Snapshot for HardwareAddresses {}

impl HardwareAddresses {
    fn build(objects: &Objects<Hardware>) -> Self {
        let mut snap = Self::default();
        for (key, h) in objects {
            let ips = addresses(h);
            for mac in h.interfaces().iter().filter_map(|i| i.mac()) {
                snap.by_mac
                    .entry(mac)
                    .or_default()
                    .extend(ips.iter().copied());
            }
            snap.by_name.insert(key.clone(), ips);
        }
        snap
    }
}

/// Workflow key → its agent token.
#[derive(Default)]
struct Tokens(HashMap<ObjectKey, String>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

impl Snapshot for Tokens {}

impl Tokens {
    fn build(objects: &Objects<Secret>) -> Self {
        Self(
            objects
                .values()
                .filter_map(|s| AgentToken::from_secret(s))
                .map(|t| ((t.namespace, t.workflow), t.token))
                .collect(),
        )
    }
}

/// The agent API's in-memory index (module documentation).
#[derive(Debug)]
pub struct AgentIndex {
    workflows: Arc<SnapshotIndex<AgentWorkflows>>,
    hardware: Arc<SnapshotIndex<HardwareAddresses>>,
    tokens: Arc<SnapshotIndex<Tokens>>,
}

/// Every address declared by the Hardware's interfaces (`dhcp.ip.address`).
fn addresses(hw: &Hardware) -> Vec<IpAddr> {
    hw.ips()
}

impl AgentIndex {
    /// An empty index, updated by nobody (for tests and tools).
    pub fn empty() -> Arc<Self> {
        Arc::new(Self {
            workflows: SnapshotIndex::fixed("agent workflows", AgentWorkflows::default()),
            hardware: SnapshotIndex::fixed("agent hardware", HardwareAddresses::default()),
            tokens: SnapshotIndex::fixed("agent tokens", Tokens::default()),
        })
    }

    /// Starts following `store`; returns at once (see [`AgentIndex::synced`]). Must be
    /// called inside a Tokio runtime; the reflectors stop when the index is dropped.
    pub fn start(store: SharedStore) -> Arc<Self> {
        Arc::new(Self {
            workflows: SnapshotIndex::start("agent workflows", store.clone(), |objects, _| {
                AgentWorkflows::build(objects)
            }),
            hardware: SnapshotIndex::start("agent hardware", store.clone(), |objects, _| {
                HardwareAddresses::build(objects)
            }),
            tokens: SnapshotIndex::start("agent tokens", store, |objects, _| {
                Tokens::build(objects)
            }),
        })
    }

    /// Waits until each of the three kinds has been listed once.
    pub async fn synced(&self) {
        self.workflows.synced().await;
        self.hardware.synced().await;
        self.tokens.synced().await;
    }

    /// The Workflows whose agent is `agent` (compared case-insensitively).
    pub fn workflows_of(&self, agent: &str) -> Vec<WorkflowEntry> {
        self.workflows
            .snapshot()
            .0
            .get(&agent.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The addresses `agent` may call from: those of the Hardware with MAC `agent` and of
    /// the Hardware the Workflows in `entries` name.
    pub fn addresses_of(&self, agent: &str, entries: &[WorkflowEntry]) -> Vec<IpAddr> {
        let hardware = self.hardware.snapshot();
        // An agent id that is a MAC (in any case) names the Hardware with that MAC.
        let mut out: Vec<IpAddr> = agent
            .parse::<MacAddr>()
            .ok()
            .and_then(|mac| hardware.by_mac.get(&mac).cloned())
            .unwrap_or_default();
        for e in entries {
            if let Some(h) = &e.hardware_ref
                && let Some(ips) = hardware.by_name.get(&(e.key.0.clone(), h.clone()))
            {
                out.extend(ips.iter().copied());
            }
        }
        out
    }

    /// The agent token of Workflow `key`, if it has one.
    pub fn token_of(&self, key: &ObjectKey) -> Option<String> {
        self.tokens.snapshot().0.get(key).cloned()
    }
}
