//! `SnapshotIndex` against a real SQLite store: first list, changes followed batch by
//! batch with the revision channel, ambiguity reported and cleared, a fixed index, and the
//! reflector stopping with the index.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ironbell_model::ObjectMeta;
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::reflector::Objects;
use ironbell_store::snapshot::{Problems, Snapshot, SnapshotIndex};
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;

/// Hardware by name, whatever the namespace: a name in two namespaces is ambiguous.
#[derive(Debug, Default)]
struct ByName {
    by_name: HashMap<String, Arc<Hardware>>,
    problems: Problems,
}

impl Snapshot for ByName {
    fn problems(&self) -> &Problems {
        &self.problems
    }
}

fn build(objects: &Objects<Hardware>) -> ByName {
    let mut owners: HashMap<&str, Vec<&Arc<Hardware>>> = HashMap::new();
    for hw in objects.values() {
        owners.entry(hw.metadata.name()).or_default().push(hw);
    }
    let mut snap = ByName::default();
    for (name, hws) in owners {
        if let [one] = hws.as_slice() {
            snap.by_name.insert(name.to_string(), Arc::clone(one));
        } else {
            let mut namespaces: Vec<&str> = hws.iter().map(|h| h.metadata.namespace()).collect();
            namespaces.sort_unstable();
            snap.problems.conflict(format!(
                "{name} is in namespaces {}: served for none",
                namespaces.join(" and ")
            ));
        }
    }
    snap
}

fn hardware(namespace: &str, name: &str) -> Hardware {
    Hardware {
        metadata: ObjectMeta::named(namespace, name),
        ..Hardware::default()
    }
}

fn revision(hw: &Hardware) -> u64 {
    hw.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("a stored object has a revision")
}

async fn store(dir: &tempfile::TempDir) -> SharedStore {
    Arc::new(SqliteStore::open(dir.path().join("store.db")).expect("open store"))
}

/// Waits (bounded) until `index` reflects `rv`.
async fn reflects<T: Snapshot>(index: &SnapshotIndex<T>, rv: u64) {
    tokio::time::timeout(Duration::from_secs(5), index.reflects(rv))
        .await
        .expect("the index reflects the change within 5 s");
}

#[tokio::test]
async fn follows_the_store_and_reports_ambiguity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir).await;
    let api: Api<Hardware> = Api::new(store.clone());
    api.create(&hardware("default", "a")).await.expect("create");
    let builds = Arc::new(AtomicUsize::new(0));
    let counted = builds.clone();
    let index = SnapshotIndex::<ByName>::start("test", store, move |objects, _rv| {
        counted.fetch_add(1, Ordering::Relaxed);
        build(objects)
    });
    tokio::time::timeout(Duration::from_secs(5), index.synced())
        .await
        .expect("synced");
    assert!(index.is_synced());
    assert!(index.snapshot().by_name.contains_key("a"));
    let mut revisions = index.revisions();
    let first = index.revision().expect("a revision once synced");

    let b = api.create(&hardware("default", "b")).await.expect("create");
    reflects(&index, revision(&b)).await;
    assert!(index.snapshot().by_name.contains_key("b"));
    assert!(revisions.has_changed().expect("sender alive"));
    assert!(revisions.borrow_and_update().is_some_and(|r| r > first));

    // The same name in another namespace: served for neither, one conflict naming both.
    let other = api.create(&hardware("other", "b")).await.expect("create");
    reflects(&index, revision(&other)).await;
    let snap = index.snapshot();
    assert!(!snap.by_name.contains_key("b"));
    assert_eq!(
        snap.problems().conflicts().collect::<Vec<_>>(),
        ["b is in namespaces default and other: served for none"]
    );
    // Readers holding the old snapshot keep it; the next one clears the conflict.
    let deleted = api.delete("other", "b").await.expect("delete");
    reflects(&index, revision(&deleted)).await;
    assert_eq!(index.snapshot().problems().conflict_count(), 0);
    assert_eq!(snap.problems().conflict_count(), 1);
    assert!(index.snapshot().by_name.contains_key("b"));

    // Dropping the index stops the reflector: no more builds.
    let weak = Arc::downgrade(&index);
    drop(index);
    assert!(weak.upgrade().is_none());
    let before = builds.load(Ordering::Relaxed);
    let c = api.create(&hardware("default", "c")).await.expect("create");
    // A fresh index over the same store sees `c`: the change was published; the dropped
    // one did not build for it.
    let again =
        SnapshotIndex::<ByName>::start("again", api.store().clone(), |objects, _| build(objects));
    reflects(&again, revision(&c)).await;
    assert_eq!(builds.load(Ordering::Relaxed), before);
}

#[tokio::test]
async fn a_fixed_index_is_synced_at_revision_zero() {
    let mut snap = ByName::default();
    snap.problems.warn("x: a warning");
    let index = SnapshotIndex::fixed("fixed", snap);
    assert!(index.is_synced());
    assert_eq!(index.revision(), Some(0));
    index.synced().await;
    assert_eq!(index.snapshot().problems().warnings().count(), 1);
    index.publish(ByName::default(), 7);
    assert_eq!(index.revision(), Some(7));
    assert_eq!(index.snapshot().problems().warnings().count(), 0);
}

/// A snapshot type with nothing to report needs no `Problems` of its own.
#[test]
fn snapshots_without_problems() {
    #[derive(Default)]
    struct Count(usize);
    impl Snapshot for Count {}
    let index = SnapshotIndex::fixed("count", Count(3));
    assert_eq!(index.snapshot().0, 3);
    assert_eq!(index.snapshot().problems().conflict_count(), 0);
}
