//! What the agent API looks up on every call, kept in memory and current from the store:
//! agent id → its Workflows, Hardware MAC / name → addresses, Workflow → agent token.
//!
//! Three [`Reflector`]s (Workflow, Hardware, Secret) each publish an immutable map after
//! every batch of changes; a call reads the current maps (one lock held for an `Arc`
//! clone), so its cost does not grow with the number of Workflows, and an agent with no
//! Workflow costs one hash lookup and no store access. The Workflows themselves are still
//! read from the store by key when an action is handed out, so a decision is never made on
//! a copy older than the agent's own last report.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ironbell_model::agent_token::AgentToken;
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_store::SharedStore;
use ironbell_store::reflector::{ObjectKey, Reflector};
use tokio::sync::watch;

/// One Workflow of an agent, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowEntry {
    /// `(namespace, name)`.
    pub key: ObjectKey,
    /// `spec.hardwareRef`, if set.
    pub hardware_ref: Option<String>,
}

#[derive(Debug, Default)]
struct Maps {
    /// agent id (lower case) → its Workflows.
    workflows: Arc<HashMap<String, Vec<WorkflowEntry>>>,
    /// MAC (lower case) → addresses of the Hardware with that MAC.
    by_mac: Arc<HashMap<String, Vec<IpAddr>>>,
    /// Hardware key → its addresses.
    by_name: Arc<HashMap<ObjectKey, Vec<IpAddr>>>,
    /// Workflow key → its agent token.
    tokens: Arc<HashMap<ObjectKey, String>>,
}

/// One bit per reflector in `synced`: Workflow, Hardware, Secret.
const WORKFLOWS: u8 = 1;
const HARDWARE: u8 = 2;
const SECRETS: u8 = 4;
const ALL_SYNCED: u8 = WORKFLOWS | HARDWARE | SECRETS;

/// The agent API's in-memory index (module documentation).
#[derive(Debug)]
pub struct AgentIndex {
    maps: RwLock<Maps>,
    synced: watch::Sender<u8>,
    reflectors: Mutex<Vec<Box<dyn std::any::Any + Send>>>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Every address declared by the Hardware's interfaces (`dhcp.ip.address`).
fn addresses(hw: &Hardware) -> Vec<IpAddr> {
    hw.interfaces()
        .iter()
        .filter_map(|i| i.dhcp.as_ref()?.ip.as_ref()?.address.as_deref())
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

impl AgentIndex {
    /// An empty index, updated by nobody (for tests and tools).
    pub fn empty() -> Arc<Self> {
        Arc::new(Self {
            maps: RwLock::new(Maps::default()),
            synced: watch::Sender::new(ALL_SYNCED),
            reflectors: Mutex::new(Vec::new()),
        })
    }

    /// Starts following `store`; returns at once (see [`AgentIndex::synced`]). Must be
    /// called inside a Tokio runtime; the reflectors stop when the index is dropped.
    pub fn start(store: SharedStore) -> Arc<Self> {
        let index = Arc::new(Self {
            maps: RwLock::new(Maps::default()),
            synced: watch::Sender::new(0),
            reflectors: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&index);
        let wf = Reflector::<Workflow>::start(store.clone(), move |objects, _| {
            let Some(index) = weak.upgrade() else { return };
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
            index.write(WORKFLOWS, |m| m.workflows = Arc::new(map));
        });
        let weak = Arc::downgrade(&index);
        let hw = Reflector::<Hardware>::start(store.clone(), move |objects, _| {
            let Some(index) = weak.upgrade() else { return };
            let mut by_mac: HashMap<String, Vec<IpAddr>> = HashMap::new();
            let mut by_name = HashMap::new();
            for (key, h) in objects {
                let ips = addresses(h);
                for mac in h.interfaces().iter().filter_map(|i| i.mac()) {
                    by_mac
                        .entry(mac.to_ascii_lowercase())
                        .or_default()
                        .extend(ips.iter().copied());
                }
                by_name.insert(key.clone(), ips);
            }
            index.write(HARDWARE, |m| {
                m.by_mac = Arc::new(by_mac);
                m.by_name = Arc::new(by_name);
            });
        });
        let weak = Arc::downgrade(&index);
        let secrets = Reflector::<Secret>::start(store, move |objects, _| {
            let Some(index) = weak.upgrade() else { return };
            let tokens: HashMap<ObjectKey, String> = objects
                .values()
                .filter_map(|s| AgentToken::from_secret(s))
                .map(|t| ((t.namespace, t.workflow), t.token))
                .collect();
            index.write(SECRETS, |m| m.tokens = Arc::new(tokens));
        });
        let mut slot = index
            .reflectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slot.push(Box::new(wf));
        slot.push(Box::new(hw));
        slot.push(Box::new(secrets));
        drop(slot);
        index
    }

    /// Applies `f` for the reflector `bit` and marks that reflector synced.
    fn write(&self, bit: u8, f: impl FnOnce(&mut Maps)) {
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        f(&mut maps);
        drop(maps);
        self.synced.send_if_modified(|n| {
            let was = *n;
            *n |= bit;
            *n != was
        });
    }

    /// Waits until each of the three kinds has been listed once.
    pub async fn synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|n| *n == ALL_SYNCED).await;
    }

    /// The Workflows whose agent is `agent` (compared case-insensitively).
    pub fn workflows_of(&self, agent: &str) -> Vec<WorkflowEntry> {
        let map = read(&self.maps).workflows.clone();
        map.get(&agent.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The addresses `agent` may call from: those of the Hardware with MAC `agent` and of
    /// the Hardware the Workflows in `entries` name.
    pub fn addresses_of(&self, agent: &str, entries: &[WorkflowEntry]) -> Vec<IpAddr> {
        let (by_mac, by_name) = {
            let m = read(&self.maps);
            (m.by_mac.clone(), m.by_name.clone())
        };
        let mut out: Vec<IpAddr> = by_mac
            .get(&agent.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        for e in entries {
            if let Some(h) = &e.hardware_ref
                && let Some(ips) = by_name.get(&(e.key.0.clone(), h.clone()))
            {
                out.extend(ips.iter().copied());
            }
        }
        out
    }

    /// The agent token of Workflow `key`, if it has one.
    pub fn token_of(&self, key: &ObjectKey) -> Option<String> {
        read(&self.maps).tokens.get(key).cloned()
    }
}
