//! An index fed by a [`Reflector`]: an immutable snapshot of every object of one kind,
//! rebuilt by a service's build function after each batch of changes and swapped in, so
//! readers never wait on the store or on a rebuild.
//!
//! The boot service (Hardware by MAC and IPv4), the metadata service (machines by client
//! address) and the workflow service (agent identity) each bring only their build
//! function and their snapshot type; [`SnapshotIndex`] does the rest: the reflector, the
//! swap, "synced" once the first list is in, a watch channel of the revision each
//! published snapshot reflects, and reporting of the [`Problems`] a build found (each
//! conflict logged as an error and each warning as a warning once, when it first appears,
//! not again on every rebuild).
//!
//! Ambiguity is the build function's to decide (typically: a key several objects claim is
//! served for none of them, and a conflict line names them all).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ironbell_model::Resource;
use tokio::sync::watch;
use tracing::{error, warn};

use crate::SharedStore;
use crate::reflector::{Objects, Reflector};

/// Problems a build found, one line each: conflicts (several objects claim one key; served
/// for none) and warnings (one object's field could not be read).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems {
    conflicts: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

impl Problems {
    /// Records a conflict; the line should name every object involved.
    pub fn conflict(&mut self, line: impl Into<String>) {
        self.conflicts.insert(line.into());
    }

    /// Records a warning about one object; the line should name it.
    pub fn warn(&mut self, line: impl Into<String>) {
        self.warnings.insert(line.into());
    }

    /// The conflicts, sorted.
    pub fn conflicts(&self) -> impl Iterator<Item = &str> {
        self.conflicts.iter().map(String::as_str)
    }

    /// The warnings, sorted.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.warnings.iter().map(String::as_str)
    }

    /// How many conflicts.
    pub fn conflict_count(&self) -> usize {
        self.conflicts.len()
    }

    /// Logs what `self` has that `old` had not, under `index`.
    fn log_new(&self, old: &Problems, index: &str) {
        for c in self.conflicts.difference(&old.conflicts) {
            error!(index, "{c}");
        }
        for w in self.warnings.difference(&old.warnings) {
            warn!(index, "{w}");
        }
    }
}

/// No problems, for snapshots that never have any.
static NO_PROBLEMS: Problems = Problems {
    conflicts: BTreeSet::new(),
    warnings: BTreeSet::new(),
};

/// A view a [`SnapshotIndex`] holds: built whole from every object, never changed after.
/// `Default` is the empty view served before the first list.
pub trait Snapshot: Default + Send + Sync + 'static {
    /// What the build found wrong; none unless the type says otherwise.
    fn problems(&self) -> &Problems {
        &NO_PROBLEMS
    }
}

/// The latest snapshot of type `T`, swapped in as the store changes (see the module doc).
pub struct SnapshotIndex<T> {
    name: &'static str,
    current: RwLock<Arc<T>>,
    /// The store revision of the published snapshot; `None` until the first list.
    revision: watch::Sender<Option<u64>>,
    /// The reflector feeding the index, kept for as long as the index lives.
    reflector: Mutex<Option<Box<dyn Send + Sync>>>,
}

impl<T> fmt::Debug for SnapshotIndex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotIndex")
            .field("name", &self.name)
            .field("revision", &*self.revision.borrow())
            .finish_non_exhaustive()
    }
}

impl<T: Snapshot> SnapshotIndex<T> {
    fn new(name: &'static str, snapshot: T, revision: Option<u64>) -> Self {
        Self {
            name,
            current: RwLock::new(Arc::new(snapshot)),
            revision: watch::Sender::new(revision),
            reflector: Mutex::new(None),
        }
    }

    /// An index holding `snapshot` for good (a fixed set, for tests and tools), synced at
    /// revision 0. `name` names the index in logs.
    pub fn fixed(name: &'static str, snapshot: T) -> Arc<Self> {
        snapshot.problems().log_new(&Problems::default(), name);
        Arc::new(Self::new(name, snapshot, Some(0)))
    }

    /// Starts following every `K` of `store`: returns at once with the empty snapshot;
    /// after the first list and after each batch of changes, `build` makes the next one
    /// from every object and the revision they reflect (see [`SnapshotIndex::synced`]).
    /// The background task ends when the index is dropped. Must be called inside a Tokio
    /// runtime.
    pub fn start<K, F>(name: &'static str, store: SharedStore, build: F) -> Arc<Self>
    where
        K: Resource,
        F: FnMut(&Objects<K>, u64) -> T + Send + 'static,
    {
        Self::start_mapped(name, store, |k: K| k, build)
    }

    /// [`SnapshotIndex::start`] over the records `map` makes of each `K` (see
    /// [`Reflector::start_mapped`]) rather than the typed objects.
    pub fn start_mapped<K, P, M, F>(
        name: &'static str,
        store: SharedStore,
        map: M,
        mut build: F,
    ) -> Arc<Self>
    where
        K: Resource,
        P: Send + Sync + 'static,
        M: Fn(K) -> P + Send + Sync + 'static,
        F: FnMut(&Objects<P>, u64) -> T + Send + 'static,
    {
        let index = Arc::new(Self::new(name, T::default(), None));
        let weak = Arc::downgrade(&index);
        let reflector = Reflector::<K>::start_mapped(
            store,
            |_| true,
            map,
            move |objects, rv| {
                if let Some(index) = weak.upgrade() {
                    index.publish(build(objects, rv), rv);
                }
            },
        );
        *index
            .reflector
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(reflector));
        index
    }

    /// Swaps in `snapshot`, reflecting store revision `revision`, and logs its new
    /// problems. The reflector calls this; tests and tools may too.
    pub fn publish(&self, snapshot: T, revision: u64) {
        let snapshot = Arc::new(snapshot);
        let old = {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, snapshot.clone())
        };
        snapshot.problems().log_new(old.problems(), self.name);
        self.revision.send_replace(Some(revision));
    }

    /// The current snapshot: one lock held for an `Arc` clone.
    pub fn snapshot(&self) -> Arc<T> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the index holds the store's first full list.
    pub async fn synced(&self) {
        let mut rx = self.revision.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// Whether the first full list has been published.
    pub fn is_synced(&self) -> bool {
        self.revision.borrow().is_some()
    }

    /// The store revision of the current snapshot (`None` before the first list).
    pub fn revision(&self) -> Option<u64> {
        *self.revision.borrow()
    }

    /// A receiver of the revision of each published snapshot.
    pub fn revisions(&self) -> watch::Receiver<Option<u64>> {
        self.revision.subscribe()
    }

    /// Waits until the snapshot reflects store revision `revision` or a later one.
    pub async fn reflects(&self, revision: u64) {
        let mut rx = self.revision.subscribe();
        let _ = rx.wait_for(|r| r.is_some_and(|r| r >= revision)).await;
    }
}
