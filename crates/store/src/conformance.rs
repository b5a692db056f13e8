//! The backend conformance suite: what every [`Store`](crate::Store) implementation must do.
//!
//! Each case is a `pub async fn case_xxx(store: SharedStore)` that panics on a violation.
//! A backend runs them all from an integration test with one line, which expands into one
//! `#[tokio::test]` per case (so `cargo test` reports each by name):
//!
//! ```ignore
//! ironbell_store::store_conformance_tests!(async { my_backend::open_fresh().await });
//! ```
//!
//! The expression is evaluated once per case and must yield a fresh, empty
//! [`SharedStore`]. The invoking crate needs `tokio` (with `macros` and `rt-multi-thread`)
//! in its dev-dependencies and this crate with the `conformance` feature.
//!
//! The cases use two private kinds, [`Widget`] and [`Gadget`], so they depend on no real
//! kind. This module is test support, not a benchmark: it checks semantics, not speed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ironbell_model::selector::Selector;
use ironbell_model::{ApiVersion, DynamicObject, Kind, ObjectMeta, TypeKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Api, Applied, ListParams, Op, SharedStore, StoreError, TypedEvent, WatchEvent, WatchStream,
    commit_in_batches,
};

/// A test kind with a spec and a status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Widget {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Widget>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Widget>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    #[serde(default)]
    pub spec: WidgetSpec,
    /// Observed state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WidgetStatus>,
}
ironbell_model::impl_resource!(Widget, "conformance.ironbell.dev/v1", "Widget", "widgets");

/// [`Widget`]'s spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    /// A counter the concurrency cases increment.
    #[serde(default)]
    pub count: u64,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// [`Widget`]'s status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    /// A phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// A second test kind, to check that kinds do not collide.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Gadget {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Gadget>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Gadget>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Untyped spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
}
ironbell_model::impl_resource!(Gadget, "conformance.ironbell.dev/v1", "Gadget", "gadgets");

/// Expands into one `#[tokio::test]` per conformance case, each on a fresh store from
/// `$ctor` (an expression yielding a future of [`SharedStore`]).
///
/// `store_conformance_tests!(optional: $ctor)`: `$ctor` yields a future of
/// `Option<SharedStore>`, and a case whose store is `None` returns at once (a backend whose
/// server is not installed here; its constructor says so, e.g. through
/// `ironbell_testbed::require_tool`, which fails under CI instead).
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $ctor:expr) => {
        $crate::store_conformance_tests!(@all optional $ctor);
    };
    ($ctor:expr) => {
        $crate::store_conformance_tests!(@all required $ctor);
    };
    (@all $mode:ident $ctor:expr) => {
        $crate::store_conformance_tests!(@cases $mode $ctor;
            case_create_then_get,
            case_create_existing_is_already_exists,
            case_get_missing_is_not_found,
            case_create_sets_server_fields,
            case_list_by_namespace_ordered,
            case_list_with_selectors,
            case_update_bumps_resource_version,
            case_update_stale_is_conflict_without_lost_update,
            case_update_without_resource_version_is_invalid,
            case_update_missing_is_not_found,
            case_update_keeps_status,
            case_update_status_changes_only_status,
            case_generation_tracks_spec_only,
            case_delete,
            case_delete_with_precondition,
            case_commit_applies_all_in_order,
            case_commit_is_atomic,
            case_watch_from_list_version,
            case_watch_filters_namespace_and_selector,
            case_watch_from_now,
            case_watch_replays_history,
            case_watch_from_zero_replays_everything,
            case_watch_compacted_is_too_old,
            case_concurrent_watchers_agree,
            case_concurrent_increments_lose_nothing,
            case_kinds_do_not_collide,
            case_typed_api,
            case_object_size_limit,
            case_invalid_names_are_refused,
            case_cluster_scoped_objects,
            case_commit_limit_is_kept,
            case_commit_in_batches_resumes,
        );
    };
    (@cases required $ctor:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: $crate::SharedStore = ($ctor).await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
    (@cases optional $ctor:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: Option<$crate::SharedStore> = ($ctor).await;
                let Some(store) = store else { return };
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

const NS: &str = "default";
/// How long a case waits for an expected watch event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a case waits to be sure an unexpected event does not come.
const QUIET: Duration = Duration::from_millis(600);

fn widgets() -> TypeKey {
    TypeKey::of::<Widget>()
}

fn gadgets() -> TypeKey {
    TypeKey::of::<Gadget>()
}

/// A widget with labels and a counter.
fn widget(ns: &str, name: &str, labels: &[(&str, &str)], count: u64) -> DynamicObject {
    let mut meta = ObjectMeta::named(ns, name);
    if !labels.is_empty() {
        meta.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
    }
    let mut obj = DynamicObject::new(widgets(), meta);
    obj.set_field("spec", &json!({ "count": count }))
        .expect("json field");
    obj
}

fn rv(obj: &DynamicObject) -> u64 {
    let text = obj
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or_else(|| panic!("{} has no resourceVersion", obj.name()));
    text.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {text:?} is not a decimal number"))
}

fn count(obj: &DynamicObject) -> u64 {
    obj.field_value("spec").unwrap_or_default()["count"]
        .as_u64()
        .expect("spec.count")
}

fn names(items: &[DynamicObject]) -> Vec<String> {
    items
        .iter()
        .map(|o| format!("{}/{}", o.namespace(), o.name()))
        .collect()
}

async fn create(store: &SharedStore, obj: DynamicObject) -> DynamicObject {
    let name = obj.name().to_string();
    store
        .create(obj)
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"))
}

async fn get(store: &SharedStore, name: &str) -> DynamicObject {
    store
        .get(&widgets(), NS, name)
        .await
        .unwrap_or_else(|e| panic!("get {name}: {e}"))
}

async fn list(store: &SharedStore, params: ListParams) -> (Vec<String>, u64) {
    let l = store.list(&widgets(), &params).await.expect("list");
    (names(&l.items), l.resource_version)
}

fn select(s: &str) -> ListParams {
    ListParams {
        namespace: None,
        selector: Some(Selector::parse(s).expect("selector")),
    }
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(ev))) => ev,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within {EVENT_TIMEOUT:?}"),
    }
}

async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(QUIET, stream.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}

/// `(type, namespace/name, resourceVersion)` of an event.
fn describe(ev: &WatchEvent) -> (&'static str, String, u64) {
    let t = match ev {
        WatchEvent::Added(_) => "Added",
        WatchEvent::Modified(_) => "Modified",
        WatchEvent::Deleted(_) => "Deleted",
    };
    let o = ev.object();
    (t, format!("{}/{}", o.namespace(), o.name()), rv(o))
}

/// Create then get returns the stored object.
pub async fn case_create_then_get(store: SharedStore) {
    let created = create(&store, widget(NS, "a", &[("app", "web")], 7)).await;
    let got = get(&store, "a").await;
    assert_eq!(got, created);
    assert_eq!(got.metadata.label("app"), Some("web"));
    assert_eq!(count(&got), 7);
    assert_eq!(got.types, widgets());
}

/// Create of an existing object fails with `AlreadyExists` and changes nothing.
pub async fn case_create_existing_is_already_exists(store: SharedStore) {
    let first = create(&store, widget(NS, "a", &[], 1)).await;
    let err = store.create(widget(NS, "a", &[], 2)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AlreadyExists { name, namespace, .. } if name == "a" && namespace == NS),
        "{err:?}"
    );
    assert_eq!(get(&store, "a").await, first);
}

/// Get of a missing object fails with `NotFound` naming it.
pub async fn case_get_missing_is_not_found(store: SharedStore) {
    let err = store.get(&widgets(), NS, "nope").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}

/// Create sets `resourceVersion`, `uid`, `generation` and `creationTimestamp`.
pub async fn case_create_sets_server_fields(store: SharedStore) {
    let mut input = widget(NS, "a", &[], 0);
    input.metadata.resource_version = Some("12345".into());
    input.metadata.uid = Some("made-up".into());
    let a = create(&store, input).await;
    let b = create(&store, widget(NS, "b", &[], 0)).await;
    assert!(rv(&b) > rv(&a));
    assert_ne!(a.metadata.uid.as_deref(), Some("made-up"));
    assert_ne!(a.metadata.uid, b.metadata.uid);
    assert!(a.metadata.uid.as_ref().is_some_and(|u| u.len() >= 16));
    assert_eq!(a.metadata.generation, Some(1));
    let ts = a
        .metadata
        .creation_timestamp
        .expect("timestamp")
        .to_string();
    assert!(
        ts.len() == 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "creationTimestamp {ts:?} is not RFC 3339 UTC at the whole second"
    );
    assert!(ts.starts_with("20"), "{ts}");
}

/// List filters by namespace and orders by namespace, then name.
pub async fn case_list_by_namespace_ordered(store: SharedStore) {
    for (ns, name) in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "b"), ("c", "m")] {
        create(&store, widget(ns, name, &[], 0)).await;
    }
    create(&store, {
        let mut g = widget("a", "a", &[], 0);
        g.types = gadgets();
        g
    })
    .await;
    let (all, rev) = list(&store, ListParams::default()).await;
    assert_eq!(all, ["a/b", "a/y", "b/a", "b/z", "c/m"]);
    let (in_b, rev_b) = list(&store, ListParams::namespace("b")).await;
    assert_eq!(in_b, ["b/a", "b/z"]);
    let (none, _) = list(&store, ListParams::namespace("zzz")).await;
    assert!(none.is_empty());
    assert!(rev > 0 && rev_b >= rev);
    let items = store
        .list(&widgets(), &ListParams::default())
        .await
        .expect("list")
        .items;
    assert!(items.iter().all(|o| rv(o) <= rev));
    // `list_each` hands over the same objects (in any order) at a revision as recent.
    for (params, expected) in [
        (ListParams::default(), &all),
        (ListParams::namespace("b"), &in_b),
    ] {
        let mut seen = Vec::new();
        let each_rev = store
            .list_each(&widgets(), &params, &mut |o| {
                seen.push(format!("{}/{}", o.namespace(), o.name()));
            })
            .await
            .expect("list_each");
        seen.sort();
        assert_eq!(&seen, expected);
        assert!(each_rev >= rev);
    }
}

/// List with each selector form.
pub async fn case_list_with_selectors(store: SharedStore) {
    create(
        &store,
        widget(NS, "web1", &[("app", "web"), ("tier", "front")], 0),
    )
    .await;
    create(&store, widget(NS, "web2", &[("app", "web")], 0)).await;
    create(
        &store,
        widget(NS, "db", &[("app", "db"), ("tier", "back")], 0),
    )
    .await;
    create(&store, widget(NS, "cache", &[("app", "cache")], 0)).await;
    create(&store, widget(NS, "bare", &[], 0)).await;
    let cases: &[(&str, &[&str])] = &[
        ("", &["bare", "cache", "db", "web1", "web2"]),
        ("tier", &["db", "web1"]),
        ("!tier", &["bare", "cache", "web2"]),
        ("app=web", &["web1", "web2"]),
        ("app==db", &["db"]),
        ("app!=web", &["bare", "cache", "db"]),
        ("app in (db,cache)", &["cache", "db"]),
        ("app notin (db,cache)", &["bare", "web1", "web2"]),
        ("app=web,tier=front", &["web1"]),
        ("app=web,!tier", &["web2"]),
        ("app=nothing", &[]),
    ];
    for (sel, want) in cases {
        let (got, _) = list(&store, select(sel)).await;
        let want: Vec<String> = want.iter().map(|n| format!("{NS}/{n}")).collect();
        assert_eq!(got, want, "selector {sel:?}");
    }
    let mut p = select("app=web");
    p.namespace = Some("other".into());
    assert!(list(&store, p).await.0.is_empty());
}

/// Update with the current `resourceVersion` succeeds and bumps it.
pub async fn case_update_bumps_resource_version(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 2 }))
        .expect("json field");
    let b = store.update(change).await.expect("update");
    assert!(rv(&b) > rv(&a));
    assert_eq!(count(&b), 2);
    assert_eq!(b.metadata.uid, a.metadata.uid);
    assert_eq!(b.metadata.creation_timestamp, a.metadata.creation_timestamp);
    assert_eq!(get(&store, "a").await, b);
    let (_, list_rev) = list(&store, ListParams::default()).await;
    assert!(list_rev >= rv(&b));
}

/// Update with a stale `resourceVersion` fails with `Conflict`; the stored object keeps the
/// first writer's change.
pub async fn case_update_stale_is_conflict_without_lost_update(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    let mut first = a.clone();
    first
        .set_field("spec", &json!({ "count": 10 }))
        .expect("json field");
    let mut second = a.clone();
    second
        .set_field("spec", &json!({ "count": 20 }))
        .expect("json field");
    let written = store.update(first).await.expect("first update");
    let err = store.update(second).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    match &err {
        StoreError::Conflict {
            name,
            given,
            current,
            ..
        } => {
            assert_eq!(name, "a");
            assert_eq!(given, &rv(&a).to_string());
            assert_eq!(current, &rv(&written).to_string());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(get(&store, "a").await, written);
    // A stale status update is refused too.
    let mut stale = a.clone();
    stale
        .set_field("status", &json!({ "phase": "x" }))
        .expect("json field");
    assert!(store.update_status(stale).await.unwrap_err().is_conflict());
    assert_eq!(get(&store, "a").await, written);
}

/// Update without (or with a malformed) `resourceVersion` is `Invalid`.
pub async fn case_update_without_resource_version_is_invalid(store: SharedStore) {
    create(&store, widget(NS, "a", &[], 1)).await;
    let err = store.update(widget(NS, "a", &[], 2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    let err = store
        .update_status(widget(NS, "a", &[], 2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    let mut bad = widget(NS, "a", &[], 2);
    bad.metadata.resource_version = Some("not-a-number".into());
    let err = store.update(bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert_eq!(count(&get(&store, "a").await), 1);
}

/// Update of a missing object is `NotFound`.
pub async fn case_update_missing_is_not_found(store: SharedStore) {
    let mut ghost = widget(NS, "ghost", &[], 1);
    ghost.metadata.resource_version = Some("1".into());
    assert!(store.update(ghost).await.unwrap_err().is_not_found());
}

/// Update keeps the stored status, whatever the caller sends.
pub async fn case_update_keeps_status(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    let mut s = a.clone();
    s.set_field("status", &json!({ "phase": "Ready" }))
        .expect("json field");
    let a = store.update_status(s).await.expect("update_status");
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 5 }))
        .expect("json field");
    change
        .set_field("status", &json!({ "phase": "Hacked" }))
        .expect("json field");
    let b = store.update(change).await.expect("update");
    assert_eq!(b.field_value("status"), Some(json!({ "phase": "Ready" })));
    assert_eq!(count(&b), 5);
    let mut drop_status = b.clone();
    drop_status.remove_field("status");
    let c = store.update(drop_status).await.expect("update");
    assert_eq!(c.field_value("status"), Some(json!({ "phase": "Ready" })));
    assert_eq!(get(&store, "a").await, c);
}

/// Update of status changes only status.
pub async fn case_update_status_changes_only_status(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[("k", "v")], 1)).await;
    let mut s = a.clone();
    s.set_field("spec", &json!({ "count": 99 }))
        .expect("json field");
    s.set_field("status", &json!({ "phase": "Ready" }))
        .expect("json field");
    s.metadata.labels = None;
    let b = store.update_status(s).await.expect("update_status");
    assert!(rv(&b) > rv(&a));
    assert_eq!(count(&b), 1);
    assert_eq!(b.metadata.label("k"), Some("v"));
    assert_eq!(b.field_value("status"), Some(json!({ "phase": "Ready" })));
    assert_eq!(get(&store, "a").await, b);
}

/// `generation` bumps when the spec changes, not on status or label changes.
pub async fn case_generation_tracks_spec_only(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    assert_eq!(a.metadata.generation, Some(1));
    let mut s = a.clone();
    s.set_field("status", &json!({ "phase": "Ready" }))
        .expect("json field");
    let b = store.update_status(s).await.expect("update_status");
    assert_eq!(b.metadata.generation, Some(1));
    let mut l = b.clone();
    l.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let c = store.update(l).await.expect("update labels");
    assert_eq!(c.metadata.generation, Some(1));
    let mut sp = c.clone();
    sp.set_field("spec", &json!({ "count": 2 }))
        .expect("json field");
    let d = store.update(sp).await.expect("update spec");
    assert_eq!(d.metadata.generation, Some(2));
    let mut caller_gen = d.clone();
    caller_gen.metadata.generation = Some(100);
    caller_gen
        .set_field("spec", &json!({ "count": 3 }))
        .expect("json field");
    let e = store.update(caller_gen).await.expect("update spec");
    assert_eq!(e.metadata.generation, Some(3));
}

/// Delete without precondition removes the object and returns its last state; a second
/// delete is `NotFound`.
pub async fn case_delete(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 4)).await;
    let gone = store
        .delete(&widgets(), NS, "a", None)
        .await
        .expect("delete");
    assert_eq!(gone.name(), "a");
    assert_eq!(count(&gone), 4);
    assert_eq!(gone.metadata.uid, a.metadata.uid);
    assert!(
        store
            .get(&widgets(), NS, "a")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store
            .delete(&widgets(), NS, "a", None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The name can be reused, as a new object.
    let again = create(&store, widget(NS, "a", &[], 0)).await;
    assert_ne!(again.metadata.uid, a.metadata.uid);
    assert!(rv(&again) > rv(&a));
}

/// Delete with a current precondition succeeds; with a stale one it is `Conflict` and the
/// object stays.
pub async fn case_delete_with_precondition(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 2 }))
        .expect("json field");
    let b = store.update(change).await.expect("update");
    let stale = rv(&a).to_string();
    let err = store
        .delete(&widgets(), NS, "a", Some(&stale))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(get(&store, "a").await, b);
    let current = rv(&b).to_string();
    store
        .delete(&widgets(), NS, "a", Some(&current))
        .await
        .expect("delete with current precondition");
    assert!(
        store
            .get(&widgets(), NS, "a")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// On a backend without atomic commits (see [`crate::Capabilities`]), a commit of several
/// operations fails with [`StoreError::Unsupported`] and writes nothing.
async fn batches_are_refused(store: &SharedStore) {
    let (_, before) = list(store, ListParams::default()).await;
    let err = store
        .commit(vec![
            Op::Create(widget(NS, "a", &[], 0)),
            Op::Create(widget(NS, "b", &[], 0)),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    let (all, rev) = list(store, ListParams::default()).await;
    assert!(
        all.is_empty() && rev == before,
        "a refused batch wrote {all:?}"
    );
}

/// A successful commit applies every op and returns the objects in order.
pub async fn case_commit_applies_all_in_order(store: SharedStore) {
    if !store.capabilities().atomic_commit {
        return batches_are_refused(&store).await;
    }
    let x = create(&store, widget(NS, "x", &[], 1)).await;
    let mut ux = x.clone();
    ux.set_field("spec", &json!({ "count": 2 }))
        .expect("json field");
    let out = store
        .commit(vec![
            Op::Create(widget(NS, "b", &[], 0)),
            Op::Update(ux),
            Op::Create(widget(NS, "a", &[], 0)),
            Op::Delete {
                types: widgets(),
                namespace: NS.into(),
                name: "b".into(),
                resource_version: None,
            },
        ])
        .await
        .expect("commit");
    assert_eq!(
        out.iter().map(|o| o.name()).collect::<Vec<_>>(),
        ["b", "x", "a", "b"]
    );
    assert_eq!(count(&out[1]), 2);
    let (all, rev) = list(&store, ListParams::default()).await;
    assert_eq!(all, [format!("{NS}/a"), format!("{NS}/x")]);
    assert!(rev >= rv(&out[2]));
    assert!(rv(&out[1]) > rv(&x));
}

/// A commit with one failing op applies none, and the store's revision does not move.
pub async fn case_commit_is_atomic(store: SharedStore) {
    if !store.capabilities().atomic_commit {
        return batches_are_refused(&store).await;
    }
    let x = create(&store, widget(NS, "x", &[], 1)).await;
    let (_, before) = list(&store, ListParams::default()).await;
    let mut stale = x.clone();
    stale.metadata.resource_version = Some((rv(&x) - 1).to_string());
    type Expect = fn(&StoreError) -> bool;
    let batches: Vec<(Vec<Op>, Expect)> = vec![
        (
            vec![
                Op::Create(widget(NS, "a", &[], 0)),
                Op::Create(widget(NS, "b", &[], 0)),
                Op::Update(stale),
            ],
            StoreError::is_conflict,
        ),
        (
            vec![
                Op::Create(widget(NS, "a", &[], 0)),
                Op::Create(widget(NS, "a", &[], 0)),
            ],
            |e| matches!(e, StoreError::AlreadyExists { .. }),
        ),
        (
            vec![
                Op::Create(widget(NS, "a", &[], 0)),
                Op::Delete {
                    types: widgets(),
                    namespace: NS.into(),
                    name: "missing".into(),
                    resource_version: None,
                },
            ],
            StoreError::is_not_found,
        ),
        (
            vec![
                Op::Delete {
                    types: widgets(),
                    namespace: NS.into(),
                    name: "x".into(),
                    resource_version: None,
                },
                Op::Create(widget(NS, "x", &[], 0)),
                Op::Create(widget(NS, "x", &[], 0)),
            ],
            |e| matches!(e, StoreError::AlreadyExists { .. }),
        ),
    ];
    for (i, (ops, expected)) in batches.into_iter().enumerate() {
        let err = store.commit(ops).await.unwrap_err();
        assert!(expected(&err), "batch {i}: {err:?}");
        let (all, rev) = list(&store, ListParams::default()).await;
        assert_eq!(all, [format!("{NS}/x")], "batch {i}");
        assert_eq!(rev, before, "batch {i} moved the revision");
        assert_eq!(get(&store, "x").await, x, "batch {i}");
    }
    // Nothing of the failed batches shows up in a watch either.
    let mut w = store
        .watch(&widgets(), &ListParams::default(), Some(before))
        .await
        .expect("watch");
    assert_quiet(&mut w).await;
}

/// A watch from a list's version sees Added, Modified, Deleted in order, without gaps.
pub async fn case_watch_from_list_version(store: SharedStore) {
    create(&store, widget(NS, "old", &[], 0)).await;
    let l = store
        .list(&widgets(), &ListParams::default())
        .await
        .expect("list");
    let mut w = store
        .watch(&widgets(), &ListParams::default(), Some(l.resource_version))
        .await
        .expect("watch");
    let a = create(&store, widget(NS, "a", &[], 1)).await;
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 2 }))
        .expect("json field");
    let b = store.update(change).await.expect("update");
    let mut st = b.clone();
    st.set_field("status", &json!({ "phase": "Ready" }))
        .expect("json field");
    let c = store.update_status(st).await.expect("update_status");
    let d = store
        .delete(&widgets(), NS, "a", None)
        .await
        .expect("delete");

    let e1 = next_event(&mut w).await;
    assert_eq!(e1, WatchEvent::Added(a.clone()));
    let e2 = next_event(&mut w).await;
    assert_eq!(e2, WatchEvent::Modified(b.clone()));
    let e3 = next_event(&mut w).await;
    assert_eq!(e3, WatchEvent::Modified(c.clone()));
    let e4 = next_event(&mut w).await;
    assert!(matches!(e4, WatchEvent::Deleted(_)), "{e4:?}");
    assert_eq!(e4.object().name(), "a");
    assert_eq!(count(e4.object()), 2);
    assert!(rv(e4.object()) > rv(&c));
    assert_eq!(d.metadata.uid, a.metadata.uid);
    assert_quiet(&mut w).await;
}

/// A watch sees only its namespace and selector.
pub async fn case_watch_filters_namespace_and_selector(store: SharedStore) {
    let params = ListParams {
        namespace: Some("a".into()),
        selector: Some(Selector::parse("app=web").expect("selector")),
    };
    let mut w = store.watch(&widgets(), &params, None).await.expect("watch");
    let mut all = store
        .watch(&widgets(), &ListParams::default(), None)
        .await
        .expect("watch all");
    create(&store, widget("b", "web", &[("app", "web")], 0)).await;
    create(&store, widget("a", "db", &[("app", "db")], 0)).await;
    let mut g = widget("a", "gadget", &[("app", "web")], 0);
    g.types = gadgets();
    create(&store, g).await;
    let web = create(&store, widget("a", "web", &[("app", "web")], 0)).await;
    let ev = next_event(&mut w).await;
    assert_eq!(ev, WatchEvent::Added(web));
    assert_quiet(&mut w).await;
    let seen: Vec<_> = [
        next_event(&mut all).await,
        next_event(&mut all).await,
        next_event(&mut all).await,
    ]
    .iter()
    .map(|e| describe(e).1)
    .collect();
    assert_eq!(seen, ["b/web", "a/db", "a/web"]);
}

/// A watch without a version sees only later changes.
pub async fn case_watch_from_now(store: SharedStore) {
    create(&store, widget(NS, "before", &[], 0)).await;
    let mut w = store
        .watch(&widgets(), &ListParams::default(), None)
        .await
        .expect("watch");
    let after = create(&store, widget(NS, "after", &[], 0)).await;
    assert_eq!(next_event(&mut w).await, WatchEvent::Added(after));
    assert_quiet(&mut w).await;
}

/// A watch from an older version replays the history after it.
pub async fn case_watch_replays_history(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 0)).await;
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 1 }))
        .expect("json field");
    let a2 = store.update(change).await.expect("update");
    let b = create(&store, widget(NS, "b", &[], 0)).await;
    let d = store
        .delete(&widgets(), NS, "b", None)
        .await
        .expect("delete");
    let mut w = store
        .watch(&widgets(), &ListParams::default(), Some(rv(&a)))
        .await
        .expect("watch");
    assert_eq!(next_event(&mut w).await, WatchEvent::Modified(a2.clone()));
    assert_eq!(next_event(&mut w).await, WatchEvent::Added(b));
    let del = next_event(&mut w).await;
    assert!(
        matches!(&del, WatchEvent::Deleted(o) if o.name() == "b"),
        "{del:?}"
    );
    assert_eq!(d.name(), "b");
    // Resuming from any version seen continues without gaps or repeats.
    let mut w2 = store
        .watch(&widgets(), &ListParams::default(), Some(rv(&a2)))
        .await
        .expect("watch");
    assert_eq!(describe(&next_event(&mut w2).await).1, format!("{NS}/b"));
    assert_eq!(next_event(&mut w2).await, del);
    assert_quiet(&mut w2).await;
}

/// A watch from version zero replays the whole history, from the first create (where the
/// backend can: [`Capabilities::watch_from_zero`](crate::Capabilities::watch_from_zero)).
pub async fn case_watch_from_zero_replays_everything(store: SharedStore) {
    if !store.capabilities().watch_from_zero {
        return;
    }
    let a = create(&store, widget(NS, "a", &[], 0)).await;
    let mut change = a.clone();
    change
        .set_field("spec", &json!({ "count": 1 }))
        .expect("json field");
    store.update(change).await.expect("update");
    let mut w0 = store
        .watch(&widgets(), &ListParams::default(), Some(0))
        .await
        .expect("watch");
    assert_eq!(next_event(&mut w0).await, WatchEvent::Added(a));
}

/// A watch from a compacted version fails with `TooOld`; from the compaction point on it
/// works.
pub async fn case_watch_compacted_is_too_old(store: SharedStore) {
    let a = create(&store, widget(NS, "a", &[], 0)).await;
    let b = create(&store, widget(NS, "b", &[], 0)).await;
    let c = create(&store, widget(NS, "c", &[], 0)).await;
    store.compact(rv(&b)).await.expect("compact");
    match store
        .watch(&widgets(), &ListParams::default(), Some(rv(&a)))
        .await
    {
        Err(StoreError::TooOld { requested, .. }) => assert_eq!(requested, rv(&a)),
        Err(e) => panic!("expected TooOld, got {e:?}"),
        Ok(mut w) => match tokio::time::timeout(EVENT_TIMEOUT, w.next()).await {
            Ok(Some(Err(StoreError::TooOld { .. }))) => {}
            other => panic!("expected TooOld, got {other:?}"),
        },
    }
    let mut w = store
        .watch(&widgets(), &ListParams::default(), Some(rv(&b)))
        .await
        .expect("watch from the compaction point");
    assert_eq!(next_event(&mut w).await, WatchEvent::Added(c));
}

/// Two watchers from the same version see the same sequence, strictly increasing.
pub async fn case_concurrent_watchers_agree(store: SharedStore) {
    let (_, from) = list(&store, ListParams::default()).await;
    let mut w1 = store
        .watch(&widgets(), &ListParams::default(), Some(from))
        .await
        .expect("watch");
    let mut w2 = store
        .watch(&widgets(), &ListParams::default(), Some(from))
        .await
        .expect("watch");
    const N: usize = 30;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..N / 3 {
                let name = format!("o{i}");
                let o = create(&store, widget(NS, &name, &[], 0)).await;
                let mut ch = o.clone();
                ch.set_field("spec", &json!({ "count": 1 }))
                    .expect("json field");
                store.update(ch).await.expect("update");
                if i % 2 == 0 {
                    store
                        .delete(&widgets(), NS, &name, None)
                        .await
                        .expect("delete");
                } else {
                    create(&store, widget(NS, &format!("p{i}"), &[], 0)).await;
                }
            }
        })
    };
    let reader = |mut w: WatchStream| async move {
        let mut seen = Vec::new();
        for _ in 0..N {
            seen.push(describe(&next_event(&mut w).await));
        }
        seen
    };
    let (s1, s2) = tokio::join!(reader(w1), reader(w2));
    writer.await.expect("writer");
    assert_eq!(s1, s2);
    assert!(
        s1.windows(2).all(|p| p[0].2 < p[1].2),
        "not increasing: {s1:?}"
    );
    w1 = store
        .watch(&widgets(), &ListParams::default(), Some(s1[N - 1].2))
        .await
        .expect("watch");
    w2 = store
        .watch(&widgets(), &ListParams::default(), Some(s1[N / 2].2))
        .await
        .expect("watch");
    assert_quiet(&mut w1).await;
    assert_eq!(describe(&next_event(&mut w2).await), s1[N / 2 + 1]);
}

/// 16 tasks each increment a counter 25 times with get-modify-update-retry: the result is
/// exactly 400, so no update was lost.
pub async fn case_concurrent_increments_lose_nothing(store: SharedStore) {
    const TASKS: u64 = 16;
    const EACH: u64 = 25;
    create(&store, widget(NS, "counter", &[], 0)).await;
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        let conflicts = conflicts.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(attempts < 10_000, "starved");
                    let mut o = get(&store, "counter").await;
                    let n = count(&o);
                    o.set_field("spec", &json!({ "count": n + 1 }))
                        .expect("json field");
                    match store.update(o).await {
                        Ok(_) => break,
                        Err(e) if e.is_conflict() => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tokio::task::yield_now().await;
                        }
                        Err(e) => panic!("update: {e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let o = get(&store, "counter").await;
    assert_eq!(count(&o), TASKS * EACH);
    assert_eq!(o.metadata.generation, Some(1 + (TASKS * EACH) as i64));
}

/// Objects of different kinds with the same namespace and name are distinct.
pub async fn case_kinds_do_not_collide(store: SharedStore) {
    let w = create(&store, widget(NS, "same", &[], 1)).await;
    let mut g = widget(NS, "same", &[], 2);
    g.types = gadgets();
    let g = create(&store, g).await;
    assert_eq!(store.get(&widgets(), NS, "same").await.expect("get"), w);
    assert_eq!(store.get(&gadgets(), NS, "same").await.expect("get"), g);
    let mut w_watch = store
        .watch(&widgets(), &ListParams::default(), Some(rv(&w)))
        .await
        .expect("watch");
    store
        .delete(&gadgets(), NS, "same", None)
        .await
        .expect("delete");
    assert_eq!(store.get(&widgets(), NS, "same").await.expect("get"), w);
    assert!(
        store
            .list(&gadgets(), &ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert_eq!(list(&store, ListParams::default()).await.0.len(), 1);
    assert_quiet(&mut w_watch).await;
}

/// The typed facade: create, get, list, modify (with retries), modify_status, watch, delete.
pub async fn case_typed_api(store: SharedStore) {
    let api: Api<Widget> = crate::api(&store);
    let w = Widget {
        metadata: ObjectMeta::named(NS, "t"),
        spec: WidgetSpec {
            count: 0,
            note: Some("hello".into()),
        },
        ..Widget::default()
    };
    let created = api.create(&w).await.expect("create");
    assert!(created.metadata.resource_version.is_some());
    assert_eq!(api.get(NS, "t").await.expect("get"), created);
    let (items, rev) = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(items, vec![created.clone()]);
    let mut events = api
        .watch(&ListParams::default(), Some(rev))
        .await
        .expect("watch");

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                api.modify(NS, "t", |w| w.spec.count += 1)
                    .await
                    .expect("modify");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let done = api
        .modify_status(NS, "t", |w| {
            w.status = Some(WidgetStatus {
                phase: Some("Done".into()),
            });
            w.spec.count = 0;
        })
        .await
        .expect("modify_status");
    assert_eq!(done.spec.count, 20);
    assert_eq!(done.spec.note.as_deref(), Some("hello"));
    assert_eq!(
        done.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Done")
    );
    let mut last = None;
    for _ in 0..21 {
        let ev = tokio::time::timeout(EVENT_TIMEOUT, events.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        assert!(matches!(ev, TypedEvent::Modified(_)), "{ev:?}");
        last = Some(ev.into_object());
    }
    assert_eq!(last.as_ref(), Some(&done));
    let gone = api.delete(NS, "t").await.expect("delete");
    assert_eq!(gone.spec.count, 20);
    assert!(api.get(NS, "t").await.unwrap_err().is_not_found());
    assert!(
        api.modify(NS, "t", |_| {})
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// A widget whose `spec.note` makes it about `bytes` long.
fn widget_of_size(name: &str, bytes: usize) -> DynamicObject {
    let mut obj = widget(NS, name, &[], 1);
    obj.set_field("spec", &json!({ "count": 1, "note": "x".repeat(bytes) }))
        .expect("json field");
    obj
}

async fn assert_absent(store: &SharedStore, name: &str) {
    let err = store.get(&widgets(), NS, name).await.unwrap_err();
    assert!(err.is_not_found(), "{name}: {err:?}");
}

fn assert_too_large(err: StoreError, name: &str) {
    match &err {
        StoreError::TooLarge {
            kind,
            namespace,
            name: n,
            size,
            limit,
        } => {
            assert_eq!(
                (kind.as_str(), namespace.as_str(), n.as_str()),
                ("Widget", NS, name)
            );
            assert!(size > limit, "{err}");
            assert_eq!(*limit, ironbell_model::MAX_OBJECT_BYTES);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&format!("Widget {NS}/{name}")),
        "{err}"
    );
}

/// An object over [`MAX_OBJECT_BYTES`](ironbell_model::MAX_OBJECT_BYTES) (1.5 MiB) is
/// refused by create, update, update_status and commit with `TooLarge` naming it, and
/// nothing is written; a 1 MiB object is accepted.
pub async fn case_object_size_limit(store: SharedStore) {
    const MIB: usize = 1024 * 1024;
    let err = store
        .create(widget_of_size("big", 2 * MIB))
        .await
        .unwrap_err();
    assert_too_large(err, "big");
    assert_absent(&store, "big").await;
    let (_, rev_before) = list(&store, ListParams::default()).await;

    let ok = create(&store, widget_of_size("ok", MIB)).await;
    assert!(rv(&ok) > rev_before);

    let mut grow = ok.clone();
    grow.set_field("spec", &json!({ "count": 2, "note": "y".repeat(2 * MIB) }))
        .expect("json field");
    assert_too_large(store.update(grow).await.unwrap_err(), "ok");

    // A status that pushes the object (1 MiB spec) over the limit.
    let mut status = ok.clone();
    status
        .set_field("status", &json!({ "phase": "z".repeat(MIB) }))
        .expect("json field");
    assert_too_large(store.update_status(status).await.unwrap_err(), "ok");

    let err = store
        .commit(vec![
            Op::Create(widget(NS, "small", &[], 1)),
            Op::Create(widget_of_size("huge", 2 * MIB)),
        ])
        .await
        .unwrap_err();
    if store.capabilities().atomic_commit {
        assert_too_large(err, "huge");
    } else {
        // A commit of several objects is refused before anything is written.
        assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    }
    assert_absent(&store, "small").await;
    assert_eq!(get(&store, "ok").await, ok);
}

/// A name that is not a DNS-1123 subdomain, or a namespace that is not a DNS-1123 label, is
/// refused by create and commit with `InvalidName` naming it (escaped), and nothing is
/// written.
pub async fn case_invalid_names_are_refused(store: SharedStore) {
    let long = "a".repeat(254);
    let (_, rev_before) = list(&store, ListParams::default()).await;
    for (ns, name) in [
        (NS, "wk01\nchain http://198.51.100.1/x"),
        (NS, "red\u{1b}[31m"),
        (NS, "Upper"),
        (NS, "a_b"),
        (NS, long.as_str()),
        ("a.b", "fine"),
        ("Default", "fine"),
    ] {
        let err = store.create(widget(ns, name, &[], 1)).await.unwrap_err();
        let StoreError::InvalidName {
            kind,
            namespace,
            name: n,
            ..
        } = &err
        else {
            panic!("{name:?}: expected InvalidName, got {err:?}");
        };
        assert_eq!(
            (kind.as_str(), namespace.as_str(), n.as_str()),
            ("Widget", ns, name)
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("{name:?}")) || text.contains("254"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
    }
    // In one commit, an invalid name fails the whole commit (where commits are atomic;
    // elsewhere a commit of several objects is refused before anything is written).
    let err = store
        .commit(vec![
            Op::Create(widget(NS, "good", &[], 1)),
            Op::Create(widget(NS, "bad\nname", &[], 1)),
        ])
        .await
        .unwrap_err();
    if store.capabilities().atomic_commit {
        assert!(matches!(err, StoreError::InvalidName { .. }), "{err:?}");
    } else {
        assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
        let err = store
            .commit(vec![Op::Create(widget(NS, "bad\nname", &[], 1))])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidName { .. }), "{err:?}");
    }
    assert_absent(&store, "good").await;
    let (items, rev_after) = list(&store, ListParams::default()).await;
    assert!(items.is_empty(), "{items:?}");
    assert_eq!(rev_after, rev_before, "nothing was written");
    create(&store, widget(NS, "good.name-1", &[], 1)).await;
}

/// An object with an empty namespace (a cluster-scoped kind's, such as a `v1 Node`) is
/// stored, read, listed (alone under the namespace `""`, with the others across all
/// namespaces), updated and deleted like any other, and never mixed with a namespaced
/// object of the same name (where the backend can:
/// [`Capabilities::mixed_scope`](crate::Capabilities::mixed_scope)).
pub async fn case_cluster_scoped_objects(store: SharedStore) {
    if !store.capabilities().mixed_scope {
        return;
    }
    let scoped = create(&store, widget("", "node-1", &[], 1)).await;
    assert_eq!(scoped.namespace(), "");
    create(&store, widget(NS, "node-1", &[], 2)).await;
    let got = store.get(&widgets(), "", "node-1").await.expect("get");
    assert_eq!(got, scoped);
    assert_eq!(count(&got), 1);
    let (all, _) = list(&store, ListParams::default()).await;
    assert_eq!(all, ["/node-1", "default/node-1"]);
    let (cluster, _) = list(&store, ListParams::namespace("")).await;
    assert_eq!(cluster, ["/node-1"]);
    let (namespaced, _) = list(&store, ListParams::namespace(NS)).await;
    assert_eq!(namespaced, ["default/node-1"]);
    let mut changed = got.clone();
    changed
        .set_field("spec", &json!({ "count": 5 }))
        .expect("json field");
    let updated = store.update(changed).await.expect("update");
    assert_eq!(count(&updated), 5);
    assert!(rv(&updated) > rv(&got));
    store
        .delete(&widgets(), "", "node-1", None)
        .await
        .expect("delete");
    let err = store.get(&widgets(), "", "node-1").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        count(&get(&store, "node-1").await),
        2,
        "the namespaced one stays"
    );
}

/// A commit of [`Capabilities::max_commit_ops`](crate::Capabilities::max_commit_ops)
/// operations succeeds; one more is refused with `Unsupported` and writes nothing. (A
/// backend without a limit has nothing to check.)
pub async fn case_commit_limit_is_kept(store: SharedStore) {
    let caps = store.capabilities();
    let Some(limit) = caps.max_commit_ops.filter(|_| caps.atomic_commit) else {
        return;
    };
    let creates = |from: usize, n: usize| -> Vec<Op> {
        (from..from + n)
            .map(|i| Op::Create(widget(NS, &format!("w{i:04}"), &[], 0)))
            .collect()
    };
    let (_, before) = list(&store, ListParams::default()).await;
    let err = store.commit(creates(0, limit + 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    let (items, rev) = list(&store, ListParams::default()).await;
    assert!(
        items.is_empty() && rev == before,
        "a refused commit wrote {items:?}"
    );
    let out = store
        .commit(creates(0, limit))
        .await
        .expect("a full commit");
    assert_eq!(out.len(), limit);
}

/// [`commit_in_batches`] writes more operations than one commit may hold, in order, batch
/// by batch. A batch that fails writes nothing and the batches before it stay written;
/// the same operations run again finish the job (what exists with the same content is
/// found done), and a third run changes nothing. Deletes of objects already gone are done.
pub async fn case_commit_in_batches_resumes(store: SharedStore) {
    let limit = store.capabilities().commit_limit();
    let n = limit.min(40) * 2 + 3;
    let name = |i: usize| format!("w{i:04}");
    let creates: Vec<Op> = (0..n)
        .map(|i| Op::Create(widget(NS, &name(i), &[("batch", "yes")], i as u64)))
        .collect();
    // Someone else made the last object, differently: the batch holding it fails.
    let (_, before) = list(&store, ListParams::default()).await;
    let squatter = create(&store, widget(NS, &name(n - 1), &[], 999)).await;
    let err = commit_in_batches(&*store, creates.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err.source, StoreError::AlreadyExists { .. }),
        "{err:?}"
    );
    assert_eq!((err.total, err.batch_limit), (n, limit));
    let squatter_name = name(n - 1);
    assert_eq!(
        err.source.object(),
        Some(("Widget", NS, squatter_name.as_str()))
    );
    let failed_batch = (n - 1) / limit * limit;
    assert_eq!(err.committed, failed_batch, "{err}");
    let (items, _) = list(&store, ListParams::default()).await;
    let mut expected: Vec<String> = (0..failed_batch)
        .map(|i| format!("{NS}/{}", name(i)))
        .collect();
    expected.push(format!("{NS}/{}", name(n - 1)));
    assert_eq!(
        items, expected,
        "the batches before the failure, and nothing of it"
    );

    store
        .delete(&widgets(), NS, squatter.name(), None)
        .await
        .expect("delete");
    let again = commit_in_batches(&*store, creates.clone())
        .await
        .expect("the same operations again");
    assert_eq!(again.len(), n);
    for (i, a) in again.iter().enumerate() {
        let written = matches!(a, Applied::Written(_));
        assert_eq!(written, i >= failed_batch, "operation {i}: {a:?}");
        assert_eq!(a.object().map(count), Some(i as u64));
    }
    let (items, rev) = list(&store, ListParams::default()).await;
    assert_eq!(items.len(), n);
    let third = commit_in_batches(&*store, creates)
        .await
        .expect("a third run");
    assert!(
        third
            .iter()
            .all(|a| matches!(a, Applied::AlreadyExisted(_)))
    );
    let (_, unchanged) = list(&store, ListParams::default()).await;
    assert_eq!(unchanged, rev, "a run with everything done writes nothing");
    assert!(rev > before);

    store
        .delete(&widgets(), NS, &name(0), None)
        .await
        .expect("delete");
    let deletes: Vec<Op> = (0..n)
        .map(|i| Op::Delete {
            types: widgets(),
            namespace: NS.into(),
            name: name(i),
            resource_version: None,
        })
        .collect();
    let gone = commit_in_batches(&*store, deletes).await.expect("deletes");
    assert_eq!(gone[0], Applied::AlreadyDeleted);
    assert!(gone[1..].iter().all(|a| matches!(a, Applied::Written(_))));
    let (items, _) = list(&store, ListParams::default()).await;
    assert!(items.is_empty(), "{items:?}");
}
