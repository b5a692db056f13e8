//! The in-memory map from client address to machine, kept current from the store.
//!
//! A [`Reflector`] follows every Hardware; after each batch of changes an immutable
//! [`Snapshot`] (address → machines) is built and swapped in, so a request never waits on
//! the store or on a rebuild, and sees a change as soon as its batch is published.
//! An address declared by several machines is kept with all of them: the lookup then says
//! [`Lookup::Ambiguous`] and the request is refused, never guessed.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use ironbell_model::tinkerbell::Hardware;
use ironbell_model::tinkerbell::hegel::FlatFileInstance;
use ironbell_store::SharedStore;
use ironbell_store::reflector::Reflector;
use tokio::sync::watch;
use tracing::{error, warn};

use crate::client::canonical;
use crate::machine::Machine;

/// The answer to "who is at this address?".
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Exactly one machine.
    Found(Machine),
    /// Several machines (their names, sorted); none is served.
    Ambiguous(Vec<String>),
    /// None.
    Unknown,
}

/// One consistent view of every machine.
#[derive(Debug, Default)]
pub struct Snapshot {
    by_ip: HashMap<IpAddr, Vec<Machine>>,
    machines: usize,
    conflicts: BTreeSet<String>,
    warnings: BTreeSet<String>,
    resource_version: u64,
}

impl Snapshot {
    /// Builds the view of `machines` (at store revision `resource_version`).
    pub fn build(machines: impl IntoIterator<Item = Machine>, resource_version: u64) -> Self {
        let mut snap = Snapshot {
            resource_version,
            ..Snapshot::default()
        };
        for machine in machines {
            snap.machines += 1;
            let (ips, bad) = machine.addresses();
            for text in bad {
                snap.warnings.insert(format!(
                    "{}: address {text:?} is not an IP address; ignored",
                    machine.name()
                ));
            }
            for ip in ips {
                snap.by_ip.entry(ip).or_default().push(machine.clone());
            }
        }
        for (ip, owners) in &snap.by_ip {
            if owners.len() > 1 {
                snap.conflicts.insert(format!(
                    "address {ip} is declared by {}: metadata is served to none of them",
                    names(owners).join(" and ")
                ));
            }
        }
        snap
    }

    /// Who is at `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Lookup {
        match self.by_ip.get(&canonical(ip)).map(Vec::as_slice) {
            None | Some([]) => Lookup::Unknown,
            Some([one]) => Lookup::Found(one.clone()),
            Some(many) => Lookup::Ambiguous(names(many)),
        }
    }

    /// How many machines the view holds.
    pub fn machine_count(&self) -> usize {
        self.machines
    }

    /// How many addresses are declared by more than one machine.
    pub fn conflict_count(&self) -> usize {
        self.conflicts.len()
    }

    /// The store revision the view reflects.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Every declared address with the name of one machine declaring it.
    pub fn addresses(&self) -> impl Iterator<Item = (IpAddr, String)> + '_ {
        self.by_ip
            .iter()
            .filter_map(|(ip, owners)| owners.first().map(|m| (*ip, m.name())))
    }
}

fn names(machines: &[Machine]) -> Vec<String> {
    let mut names: Vec<String> = machines.iter().map(Machine::name).collect();
    names.sort();
    names
}

/// The machine index: the latest [`Snapshot`], swapped in as the store changes.
#[derive(Debug)]
pub struct Index {
    current: RwLock<Arc<Snapshot>>,
    synced: watch::Sender<bool>,
    /// Counts the snapshots published.
    changes: watch::Sender<u64>,
    reflector: Mutex<Option<Reflector<Hardware>>>,
}

impl Index {
    fn new(snapshot: Snapshot, synced: bool) -> Self {
        Self {
            current: RwLock::new(Arc::new(snapshot)),
            synced: watch::Sender::new(synced),
            changes: watch::Sender::new(0),
            reflector: Mutex::new(None),
        }
    }

    /// A fixed set of Hardware, never updated.
    pub fn from_hardware(items: impl IntoIterator<Item = Hardware>) -> Arc<Self> {
        let snap = Snapshot::build(items.into_iter().map(|h| Machine::Hardware(Arc::new(h))), 0);
        log_problems(&Snapshot::default(), &snap);
        Arc::new(Self::new(snap, true))
    }

    /// The instances of a Hegel flat file (see
    /// [`parse_flatfile`](ironbell_model::tinkerbell::hegel::parse_flatfile)), never
    /// updated; each is identified by its `metadata.ipv4.public`.
    pub fn from_flatfile(items: impl IntoIterator<Item = FlatFileInstance>) -> Arc<Self> {
        let snap = Snapshot::build(
            items
                .into_iter()
                .enumerate()
                .map(|(i, f)| Machine::FlatFile(i, Arc::new(f))),
            0,
        );
        log_problems(&Snapshot::default(), &snap);
        Arc::new(Self::new(snap, true))
    }

    /// Starts following every Hardware of `store`: returns at once with an empty index that
    /// the first list fills (see [`Index::synced`]). The background task ends when the
    /// index is dropped. Must be called inside a Tokio runtime.
    pub fn start(store: SharedStore) -> Arc<Self> {
        let index = Arc::new(Self::new(Snapshot::default(), false));
        let weak = Arc::downgrade(&index);
        let reflector = Reflector::<Hardware>::start(store, move |objects, rv| {
            if let Some(index) = weak.upgrade() {
                let machines = objects.values().map(|h| Machine::Hardware(h.clone()));
                index.publish(Snapshot::build(machines, rv));
                index.synced.send_replace(true);
            }
        });
        if let Ok(mut slot) = index.reflector.lock() {
            *slot = Some(reflector);
        }
        index
    }

    /// Waits until the index holds the store's first full list.
    pub async fn synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// A receiver that sees a change each time a new snapshot is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether the first full list has been applied.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// The current view: one lock held for an `Arc` clone.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Who is at `ip` now.
    pub fn lookup(&self, ip: IpAddr) -> Lookup {
        self.snapshot().lookup(ip)
    }

    fn publish(&self, snap: Snapshot) {
        let snap = Arc::new(snap);
        let old = {
            let mut cur = match self.current.write() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::replace(&mut *cur, snap.clone())
        };
        log_problems(&old, &snap);
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Logs the problems of `new` that `old` did not have, so each is said once.
fn log_problems(old: &Snapshot, new: &Snapshot) {
    for c in new.conflicts.difference(&old.conflicts) {
        error!("{c}");
    }
    for w in new.warnings.difference(&old.warnings) {
        warn!("{w}");
    }
}
