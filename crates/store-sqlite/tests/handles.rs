//! Several `SqliteStore` handles on one file, as several processes would use it; reopening;
//! automatic compaction; schema versioning.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{ListParams, Store, StoreError, WatchEvent};
use ironbell_store_sqlite::{Options, SqliteStore};
use serde_json::json;

fn types() -> TypeKey {
    TypeKey::new("handles.ironbell.dev/v1", "Counter")
}

fn counter(name: &str) -> DynamicObject {
    let mut obj = DynamicObject::new(types(), ObjectMeta::named("default", name));
    obj.set_field("spec", &json!({ "count": 0 }))
        .expect("json field");
    obj
}

async fn increment(store: &SqliteStore, name: &str) {
    for _ in 0..100_000 {
        let mut o = store.get(&types(), "default", name).await.expect("get");
        let n = o.field_value("spec").unwrap_or_default()["count"]
            .as_u64()
            .expect("count");
        o.set_field("spec", &json!({ "count": n + 1 }))
            .expect("json field");
        match store.update(o).await {
            Ok(_) => return,
            Err(e) if e.is_conflict() => tokio::task::yield_now().await,
            Err(e) => panic!("update: {e}"),
        }
    }
    panic!("starved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_increment_without_losing_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let a = SqliteStore::open(&path).expect("open a");
    let b = SqliteStore::open(&path).expect("open b");
    a.create(counter("c")).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                increment(&store, "c").await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    for s in [&a, &b] {
        let o = s.get(&types(), "default", "c").await.expect("get");
        assert_eq!(
            o.field_value("spec").unwrap_or_default()["count"],
            json!(400)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_on_one_handle_sees_writes_of_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let a = SqliteStore::open(&path).expect("open a");
    let b = SqliteStore::open(&path).expect("open b");
    let mut w = a
        .watch(&types(), &ListParams::default(), None)
        .await
        .expect("watch");
    let created = b.create(counter("x")).await.expect("create via b");
    let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("event within 5 s")
        .expect("stream open")
        .expect("event");
    assert_eq!(ev, WatchEvent::Added(created));
}

#[tokio::test]
async fn reopen_keeps_objects_and_revisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let (first, rev) = {
        let s = SqliteStore::open(&path).expect("open");
        let o = s.create(counter("x")).await.expect("create");
        (o, s.revision().await.expect("revision"))
    };
    let s = SqliteStore::open(&path).expect("reopen");
    assert_eq!(s.get(&types(), "default", "x").await.expect("get"), first);
    assert_eq!(s.revision().await.expect("revision"), rev);
    let second = s.create(counter("y")).await.expect("create");
    assert_eq!(
        second.metadata.resource_version,
        Some((rev + 1).to_string())
    );
    let user_version: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(user_version, ironbell_store_sqlite::SCHEMA_VERSION);
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    drop(SqliteStore::open(&path).expect("open"));
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch("PRAGMA user_version = 99")
        .expect("bump version");
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("99"), "{err}");
}

#[tokio::test]
async fn history_is_compacted_automatically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let options = Options {
        keep_events: 10,
        ..Options::default()
    };
    let s = SqliteStore::open_with(&path, options).expect("open");
    for i in 0..25 {
        s.create(counter(&format!("c{i:02}")))
            .await
            .expect("create");
    }
    let rev = s.revision().await.expect("revision");
    assert_eq!(rev, 25);
    match s.watch(&types(), &ListParams::default(), Some(0)).await {
        Err(StoreError::TooOld { requested, oldest }) => {
            assert_eq!((requested, oldest), (0, 15));
        }
        Err(e) => panic!("expected TooOld, got {e}"),
        Ok(_) => panic!("expected TooOld, got a watch"),
    }
    let mut w = s
        .watch(&types(), &ListParams::default(), Some(rev - 10))
        .await
        .expect("watch within history");
    for i in 15..25 {
        let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
            .await
            .expect("event in time")
            .expect("open")
            .expect("event");
        assert_eq!(ev.object().name(), format!("c{i:02}"));
    }
    let conn = rusqlite::Connection::open(&path).expect("open");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("count") };
    assert_eq!(count("SELECT COUNT(*) FROM events WHERE rev > 15"), 10);
    // Below the compaction point only the events holding live objects' states remain.
    assert_eq!(count("SELECT COUNT(*) FROM events WHERE rev <= 15"), 15);
    // Objects themselves are never compacted away.
    let list = s
        .list(&types(), &ListParams::default())
        .await
        .expect("list");
    assert_eq!(list.items.len(), 25);
}

#[tokio::test]
async fn generate_name_and_empty_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path().join("s.db")).expect("open");
    let mut o = counter("");
    o.metadata.name = None;
    let err = s.create(o.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    o.metadata.generate_name = Some("job-".into());
    let a = s.create(o.clone()).await.expect("create");
    let b = s.create(o).await.expect("create");
    assert!(
        a.name().starts_with("job-") && a.name().len() == 9,
        "{}",
        a.name()
    );
    assert_ne!(a.name(), b.name());
}
