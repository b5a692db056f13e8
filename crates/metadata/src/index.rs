//! The in-memory map from client address to machine, kept current from the store.
//!
//! A [`SnapshotIndex`] (a reflector following every Hardware) builds an immutable
//! [`Snapshot`] (address → machines) with [`Snapshot::build`] after each batch of changes
//! and swaps it in, so a request never waits on the store or on a rebuild, and sees a
//! change as soon as its batch is published. This module is only the build function and
//! the lookup.
//! An address declared by several machines is kept with all of them: the lookup then says
//! [`Lookup::Ambiguous`] and the request is refused, never guessed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ironbell_model::tinkerbell::Hardware;
use ironbell_model::tinkerbell::hegel::FlatFileInstance;
use ironbell_store::SharedStore;
use ironbell_store::snapshot::{self, Problems, SnapshotIndex};

use crate::client::canonical;
use crate::machine::{HardwareRecord, Machine};

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
    problems: Problems,
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
            for ip in machine.addresses() {
                snap.by_ip.entry(ip).or_default().push(machine.clone());
            }
        }
        for (ip, owners) in &snap.by_ip {
            if owners.len() > 1 {
                snap.problems.conflict(format!(
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
        self.problems.conflict_count()
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

impl snapshot::Snapshot for Snapshot {
    fn problems(&self) -> &Problems {
        &self.problems
    }
}

fn names(machines: &[Machine]) -> Vec<String> {
    let mut names: Vec<String> = machines.iter().map(Machine::name).collect();
    names.sort();
    names
}

/// The machine index: the latest [`Snapshot`], swapped in as the store changes.
#[derive(Debug)]
pub struct Index(Arc<SnapshotIndex<Snapshot>>);

impl Index {
    fn fixed(snap: Snapshot) -> Arc<Self> {
        Arc::new(Self(SnapshotIndex::fixed("metadata", snap)))
    }

    /// A fixed set of Hardware, never updated.
    pub fn from_hardware(items: impl IntoIterator<Item = Hardware>) -> Arc<Self> {
        Self::fixed(Snapshot::build(
            items
                .into_iter()
                .map(|h| Machine::Hardware(Arc::new(HardwareRecord::new(&h)))),
            0,
        ))
    }

    /// The instances of a Hegel flat file (see
    /// [`parse_flatfile`](ironbell_model::tinkerbell::hegel::parse_flatfile)), never
    /// updated; each is identified by its `metadata.ipv4.public`.
    pub fn from_flatfile(items: impl IntoIterator<Item = FlatFileInstance>) -> Arc<Self> {
        Self::fixed(Snapshot::build(
            items
                .into_iter()
                .enumerate()
                .map(|(i, f)| Machine::FlatFile(i, Arc::new(f))),
            0,
        ))
    }

    /// Starts following every Hardware of `store`, keeping a [`HardwareRecord`] of each:
    /// returns at once with an empty index that the first list fills (see
    /// [`Index::synced`]). The background task ends when the index is dropped. Must be
    /// called inside a Tokio runtime.
    pub fn start(store: SharedStore) -> Arc<Self> {
        Arc::new(Self(SnapshotIndex::start_mapped(
            "metadata",
            store,
            |hw: Hardware| HardwareRecord::new(&hw),
            |objects: &ironbell_store::reflector::Objects<HardwareRecord>, rv| {
                let machines = objects.values().map(|h| Machine::Hardware(h.clone()));
                Snapshot::build(machines, rv)
            },
        )))
    }

    /// Waits until the index holds the store's first full list.
    pub async fn synced(&self) {
        self.0.synced().await;
    }

    /// A receiver that sees a change each time a new snapshot is published (its value is
    /// the store revision the snapshot reflects).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Option<u64>> {
        self.0.revisions()
    }

    /// Whether the first full list has been applied.
    pub fn is_synced(&self) -> bool {
        self.0.is_synced()
    }

    /// The current view: one lock held for an `Arc` clone.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.0.snapshot()
    }

    /// The generic index underneath (revision channel, synced state).
    pub fn inner(&self) -> &SnapshotIndex<Snapshot> {
        &self.0
    }

    /// Who is at `ip` now.
    pub fn lookup(&self, ip: IpAddr) -> Lookup {
        self.snapshot().lookup(ip)
    }
}
