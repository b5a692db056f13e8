//! The event [`Recorder`] against a real SQLite store: repeats aggregate into one Event,
//! one object keeps at most `MAX_EVENTS_PER_OBJECT`, a flood never blocks the caller (what
//! does not fit is dropped and counted), and a store that refuses every write is counted,
//! not fatal.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ironbell_model::corev1::event::{Event, ObjectReference};
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::events::{MAX_EVENTS_PER_OBJECT, QUEUE, Recorder, events_of};
use ironbell_store::{
    Api, ListParams, ObjectList, Op, Result, SharedStore, Store, StoreError, WatchStream,
};
use ironbell_store_sqlite::SqliteStore;

fn store(dir: &tempfile::TempDir) -> SharedStore {
    Arc::new(SqliteStore::open(dir.path().join("db")).expect("open store"))
}

fn wk01() -> ObjectReference {
    ObjectReference::to::<Hardware>("default", "wk01")
}

#[tokio::test]
async fn repeats_count_up_on_one_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let rec = Recorder::start(store.clone(), "ironbell-boot");
    for _ in 0..3 {
        rec.normal(wk01(), "DHCPOffer", "offered 10.0.0.11");
    }
    rec.warning(wk01(), "BootArtifactNotFound", "vmlinuz-x86_64: 404");
    rec.flush().await;
    let events = events_of::<Hardware>(&store, "default", "wk01")
        .await
        .expect("list");
    assert_eq!(events.len(), 2, "{events:#?}");
    let offer = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("DHCPOffer"))
        .expect("offer");
    assert_eq!(offer.count, Some(3));
    assert_eq!(offer.type_.as_deref(), Some("Normal"));
    assert_eq!(
        offer.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("ironbell-boot")
    );
    assert_eq!(offer.involved_object.kind(), "Hardware");
    assert!(offer.first_timestamp <= offer.last_timestamp);
    let warning = events.iter().find(|e| e.is_warning()).expect("warning");
    assert_eq!(warning.count, Some(1));
    // Another object's Events are not in this one's timeline.
    rec.normal(
        ObjectReference::to::<Hardware>("default", "wk02"),
        "DHCPOffer",
        "offered 10.0.0.12",
    );
    rec.flush().await;
    let again = events_of::<Hardware>(&store, "default", "wk01")
        .await
        .expect("list");
    assert_eq!(again.len(), 2);
    assert_eq!(rec.stats().failed.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn one_object_keeps_the_most_recent_events_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let rec = Recorder::start(store.clone(), "ironbell-workflow");
    let total = MAX_EVENTS_PER_OBJECT + 10;
    for i in 0..total {
        rec.normal(wk01(), "ActionStarted", format!("action a{i:03} started"));
    }
    rec.flush().await;
    let events = events_of::<Hardware>(&store, "default", "wk01")
        .await
        .expect("list");
    assert_eq!(events.len(), MAX_EVENTS_PER_OBJECT);
    // The least recent went (timestamps are whole seconds; the store's revision orders
    // the Events of one second).
    let messages: Vec<&str> = events.iter().filter_map(|e| e.message.as_deref()).collect();
    let want: Vec<String> = (total - MAX_EVENTS_PER_OBJECT..total)
        .map(|i| format!("action a{i:03} started"))
        .collect();
    assert_eq!(messages, want);
    assert_eq!(
        rec.stats().trimmed.load(Ordering::Relaxed),
        (total - MAX_EVENTS_PER_OBJECT) as u64
    );
    let all: Vec<Event> = Api::<Event>::new(store.clone())
        .list(&ListParams::default())
        .await
        .expect("list all")
        .0;
    assert_eq!(all.len(), MAX_EVENTS_PER_OBJECT);
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_never_blocks_and_what_does_not_fit_is_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let rec = Recorder::start(store.clone(), "ironbell-boot");
    // On a current-thread runtime the writer cannot run while this loop does: everything
    // past the queue's capacity must be dropped at once, not waited for.
    let started = Instant::now();
    let sent = QUEUE * 4;
    for _ in 0..sent {
        rec.normal(wk01(), "DHCPOffer", "offered 10.0.0.11");
    }
    let queued = rec.stats().queued.load(Ordering::Relaxed);
    let dropped = rec.stats().dropped.load(Ordering::Relaxed);
    assert_eq!(queued, QUEUE as u64);
    assert_eq!(queued + dropped, sent as u64);
    eprintln!("{sent} records offered in {:?}", started.elapsed());
    rec.flush().await;
    let events = events_of::<Hardware>(&store, "default", "wk01")
        .await
        .expect("list");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].count, Some(QUEUE as i32));
}

/// A store whose every call fails: the fault a real backend produces only when its disk
/// or network goes away, which this test cannot arrange on purpose.
struct Broken;

#[async_trait::async_trait]
impl Store for Broken {
    async fn get(&self, _: &TypeKey, _: &str, _: &str) -> Result<DynamicObject> {
        Err(StoreError::Backend("disk gone".into()))
    }
    async fn list(&self, _: &TypeKey, _: &ListParams) -> Result<ObjectList> {
        Err(StoreError::Backend("disk gone".into()))
    }
    async fn update_status(&self, _: DynamicObject) -> Result<DynamicObject> {
        Err(StoreError::Backend("disk gone".into()))
    }
    async fn commit(&self, _: Vec<Op>) -> Result<Vec<DynamicObject>> {
        Err(StoreError::Backend("disk gone".into()))
    }
    async fn watch(&self, _: &TypeKey, _: &ListParams, _: Option<u64>) -> Result<WatchStream> {
        Err(StoreError::Backend("disk gone".into()))
    }
}

#[tokio::test]
async fn a_failing_store_is_counted_not_fatal() {
    let rec = Recorder::start(Arc::new(Broken), "ironbell-bmc");
    rec.normal(wk01(), "BMCJobComplete", "job done");
    rec.warning(wk01(), "BMCJobFailed", "job failed");
    rec.flush().await;
    assert_eq!(rec.stats().failed.load(Ordering::Relaxed), 2);
    assert_eq!(rec.stats().written.load(Ordering::Relaxed), 0);
    // Still accepting records.
    rec.normal(wk01(), "BMCJobComplete", "job done");
    assert_eq!(rec.stats().queued.load(Ordering::Relaxed), 3);
}
