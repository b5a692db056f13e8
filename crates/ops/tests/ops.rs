//! The operations layer over a real embedded store: apply plans, lookups, hardware import
//! and its integrity checks, cascading delete, and the path for backends without atomic
//! commits (a wrapper that refuses them, as a Kubernetes API server would, and can fail a
//! write part way).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ironbell_model::{DynamicObject, KindRegistry, ObjectMeta, OwnerReference, TypeKey};
use ironbell_ops::apply::{ApplyOptions, Atomicity, Outcome, apply, plan};
use ironbell_ops::import::{Counts, import};
use ironbell_ops::lookup::{find_one, resolve_kind};
use ironbell_ops::{DEFAULT_NAMESPACE, OpsError, delete};
use ironbell_store::{
    Capabilities, ListParams, ObjectList, Op, Result, Store, StoreError, WatchStream,
};
use ironbell_store_sqlite::SqliteStore;
use serde_json::json;

const CSV: &str = "\
hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password,vlan_id
cp01,10.20.0.11,255.255.255.0,10.20.0.1,10.20.0.2,3c:ec:ef:10:00:11,/dev/sda,type=cp,192.0.2.11,admin,pw-cp01,
wk01,10.20.0.21,255.255.255.0,10.20.0.1,10.20.0.2,3c:ec:ef:10:00:21,/dev/sda,type=worker,192.0.2.21,admin,pw-wk01,
";

fn rows(csv: &str) -> Vec<ironbell_inventory::Row> {
    ironbell_inventory::parse_inventory(csv).unwrap().rows
}

fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ironbell.db")).unwrap();
    (dir, Arc::new(store))
}

/// The built-in kinds.
fn kinds() -> &'static KindRegistry {
    static KINDS: std::sync::LazyLock<KindRegistry> =
        std::sync::LazyLock::new(KindRegistry::builtin);
    &KINDS
}

fn types(kind: &str) -> TypeKey {
    kinds().find(kind).unwrap().type_key()
}

fn template(ns: &str, name: &str, data: &str) -> DynamicObject {
    let mut o = DynamicObject::new(types("template"), ObjectMeta::named(ns, name));
    o.set_field("spec", &json!({ "data": data })).unwrap();
    o
}

async fn names(store: &dyn Store, kind: &str) -> Vec<String> {
    store
        .list(&types(kind), &ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|o| format!("{}/{}", o.namespace(), o.name()))
        .collect()
}

/// `KIND NAME` of each object.
fn kinds_and_names(objects: &[DynamicObject]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{} {}", o.types.kind, o.name()))
        .collect()
}

/// Imports `rows` into the default namespace.
async fn import_default(
    store: &dyn Store,
    rows: &[ironbell_inventory::Row],
) -> std::result::Result<Vec<(DynamicObject, Outcome)>, OpsError> {
    import(store, rows, DEFAULT_NAMESPACE, ApplyOptions::default()).await
}

/// A store holding [`CSV`], imported.
async fn imported() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let (dir, store) = store();
    import_default(store.as_ref(), &rows(CSV)).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn plan_creates_updates_and_leaves_alone() {
    let (_dir, store) = store();
    let first = vec![template("a", "t1", "x"), template("a", "t2", "y")];
    let out = apply(store.as_ref(), first, ApplyOptions::default())
        .await
        .unwrap();
    assert!(out.iter().all(|(_, o)| *o == Outcome::Created));

    let (ops, outcomes) = plan(
        store.as_ref(),
        vec![
            template("a", "t1", "x"),
            template("a", "t2", "changed"),
            template("b", "t1", "x"),
        ],
    )
    .await
    .unwrap();
    let got: Vec<Outcome> = outcomes.iter().map(|(_, o)| *o).collect();
    assert_eq!(
        got,
        [Outcome::Unchanged, Outcome::Configured, Outcome::Created]
    );
    assert_eq!(ops.len(), 2);
    assert!(matches!(&ops[0], Op::Update(o) if o.metadata.resource_version.is_some()));

    // Dry run writes nothing.
    let options = ApplyOptions {
        dry_run: true,
        ..ApplyOptions::default()
    };
    apply(store.as_ref(), vec![template("c", "t", "x")], options)
        .await
        .unwrap();
    assert_eq!(names(store.as_ref(), "template").await, ["a/t1", "a/t2"]);

    let twice = plan(
        store.as_ref(),
        vec![template("a", "t9", "x"), template("a", "t9", "y")],
    )
    .await
    .unwrap_err();
    assert!(twice.to_string().contains("appears twice"), "{twice}");
    let unnamed = plan(store.as_ref(), vec![template("a", "", "x")])
        .await
        .unwrap_err();
    assert!(
        unnamed.to_string().contains("no metadata.name"),
        "{unnamed}"
    );
}

#[tokio::test]
async fn find_one_by_name_and_namespace() {
    let (_dir, store) = store();
    let objs = vec![
        template("a", "only", "x"),
        template("a", "both", "x"),
        template("b", "both", "x"),
    ];
    apply(store.as_ref(), objs, ApplyOptions::default())
        .await
        .unwrap();
    let info = resolve_kind(kinds(), "templates").unwrap();
    let one = find_one(store.as_ref(), info, "only", None).await.unwrap();
    assert_eq!(one.namespace(), "a");
    let b = find_one(store.as_ref(), info, "both", Some("b"))
        .await
        .unwrap();
    assert_eq!(b.namespace(), "b");
    let err = find_one(store.as_ref(), info, "both", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpsError::Ambiguous { namespaces, .. } if namespaces == &["a", "b"]),
        "{err}"
    );
    let err = find_one(store.as_ref(), info, "none", None)
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::NotFound { .. }), "{err}");
    let err = find_one(store.as_ref(), info, "none", Some("a"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OpsError::Store(StoreError::NotFound { .. })),
        "{err}"
    );
    let err = resolve_kind(kinds(), "gadgets").unwrap_err().to_string();
    assert!(
        err.contains("unknown kind \"gadgets\"") && err.contains("hardware"),
        "{err}"
    );
}

#[tokio::test]
async fn import_writes_hardware_machines_and_secrets_and_is_idempotent() {
    let (_dir, store) = store();
    let rows = rows(CSV);
    let out = import_default(store.as_ref(), &rows).await.unwrap();
    assert_eq!(
        Counts::of(&out),
        Counts {
            created: 6,
            configured: 0,
            unchanged: 0
        }
    );
    let again = import_default(store.as_ref(), &rows).await.unwrap();
    assert_eq!(Counts::of(&again).unchanged, 6);
    assert_eq!(
        names(store.as_ref(), "machines").await,
        ["eksa-system/bmc-cp01", "eksa-system/bmc-wk01"]
    );
}

#[tokio::test]
async fn a_mac_or_ip_held_by_another_hardware_is_refused_naming_both() {
    let (_dir, store) = imported().await;
    // A new machine reusing cp01's MAC (in another case) and wk01's IP.
    let clash = "\
hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password,vlan_id
new01,10.20.0.21,255.255.255.0,10.20.0.1,10.20.0.2,3C:EC:EF:10:00:11,/dev/sda,,,,,
";
    let err = import_default(store.as_ref(), &rows(clash))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "Hardware eksa-system/new01 has MAC 3c:ec:ef:10:00:11, which Hardware eksa-system/cp01 already holds"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "Hardware eksa-system/new01 has IP address 10.20.0.21, which Hardware eksa-system/wk01 already holds"
        ),
        "{err}"
    );
    assert_eq!(
        names(store.as_ref(), "hardware").await.len(),
        2,
        "nothing written"
    );

    // Two rows of one input clash with each other too (another namespace: still refused).
    let twins = "\
hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password,vlan_id
a1,10.30.0.1,255.255.255.0,10.30.0.254,10.30.0.2,52:54:00:00:00:01,/dev/sda,,,,,
a2,10.30.0.2,255.255.255.0,10.30.0.254,10.30.0.2,52:54:00:00:00:01,/dev/sda,,,,,
";
    // The CSV parser may catch the duplicate itself; if it does not, the store check must.
    if let Ok(inventory) = ironbell_inventory::parse_inventory(twins) {
        let err = import(
            store.as_ref(),
            &inventory.rows,
            "other",
            ApplyOptions::default(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("other/a2") && err.contains("other/a1"),
            "{err}"
        );
    }

    // Re-applying a Hardware over itself is no conflict.
    import_default(store.as_ref(), &rows(CSV)).await.unwrap();
}

#[tokio::test]
async fn deleting_hardware_deletes_its_bmc_machine_and_secret_and_a_job_its_tasks() {
    let (_dir, store) = imported().await;
    let info = resolve_kind(kinds(), "hardware").unwrap();
    let hw = find_one(store.as_ref(), info, "cp01", None).await.unwrap();
    let gone = delete::delete(store.as_ref(), kinds(), &hw).await.unwrap();
    assert_eq!(
        kinds_and_names(&gone),
        ["Machine bmc-cp01", "Secret bmc-cp01-auth", "Hardware cp01"]
    );
    assert_eq!(
        names(store.as_ref(), "machines").await,
        ["eksa-system/bmc-wk01"]
    );
    assert_eq!(
        names(store.as_ref(), "secrets").await,
        ["eksa-system/bmc-wk01-auth"]
    );

    // A Job and the Tasks it controls (ownerReferences by uid), plus an unrelated Task.
    let mut job = DynamicObject::new(types("job"), ObjectMeta::named(DEFAULT_NAMESPACE, "j"));
    job.set_field(
        "spec",
        &json!({ "machineRef": { "name": "bmc-wk01", "namespace": DEFAULT_NAMESPACE }, "tasks": [] }),
    )
    .unwrap();
    let job = store.create(job).await.unwrap();
    for (name, owner) in [
        ("j-task-0", true),
        ("j-task-1", true),
        ("other-task-0", false),
    ] {
        let mut meta = ObjectMeta::named(DEFAULT_NAMESPACE, name);
        if owner {
            meta.owner_references = Some(vec![controller_ref(&job)]);
        }
        let mut task = DynamicObject::new(types("task"), meta);
        task.set_field("spec", &json!({ "task": { "powerAction": "on" } }))
            .unwrap();
        store.create(task).await.unwrap();
    }
    delete::delete(store.as_ref(), kinds(), &job).await.unwrap();
    assert_eq!(
        names(store.as_ref(), "tasks").await,
        ["eksa-system/other-task-0"]
    );
    assert!(names(store.as_ref(), "jobs").await.is_empty());
}

/// `delete -f FILE` and `delete -l SELECTOR`: several targets, each with what it owns; a
/// target an earlier one owned is not deleted twice, a missing one is reported and the
/// others still go.
#[tokio::test]
async fn deleting_several_objects_cascades_once_and_reports_the_missing() {
    let (_dir, store) = imported().await;
    let named = |kind: &str, name: &str| {
        DynamicObject::new(types(kind), ObjectMeta::named(DEFAULT_NAMESPACE, name))
    };
    // As the documents of a file: cp01's Hardware, then its BMC Machine (which the
    // Hardware owns), then a Hardware nobody created.
    let targets = [
        named("hardware", "cp01"),
        named("machines", "bmc-cp01"),
        named("hardware", "nosuch"),
    ];
    let done = delete::delete_all(store.as_ref(), kinds(), &targets)
        .await
        .unwrap();
    assert_eq!(
        kinds_and_names(&done.deleted),
        ["Machine bmc-cp01", "Secret bmc-cp01-auth", "Hardware cp01"]
    );
    assert_eq!(
        done.missing,
        [(
            "Hardware".to_string(),
            DEFAULT_NAMESPACE.to_string(),
            "nosuch".to_string()
        )]
    );
    assert_eq!(
        names(store.as_ref(), "hardware").await,
        ["eksa-system/wk01"]
    );
    assert_eq!(
        names(store.as_ref(), "secrets").await,
        ["eksa-system/bmc-wk01-auth"]
    );
}

/// An object with finalizers is deleted the Kubernetes way: marked with a
/// `deletionTimestamp` and left, with what it owns, to the finalizers' holders (a Cluster API
/// `Cluster` whose controller powers its machines off); taking the last finalizer off
/// deletes it.
#[tokio::test]
async fn deleting_an_object_with_finalizers_marks_it_and_leaves_what_it_owns() {
    let (_dir, store) = imported().await;
    let mut meta = ObjectMeta::named(DEFAULT_NAMESPACE, "held");
    meta.finalizers = Some(vec!["example.com/cleanup".into()]);
    let mut job = DynamicObject::new(types("job"), meta);
    job.set_field(
        "spec",
        &json!({ "machineRef": { "name": "bmc-wk01", "namespace": DEFAULT_NAMESPACE }, "tasks": [] }),
    )
    .unwrap();
    let job = store.create(job).await.unwrap();
    let mut meta = ObjectMeta::named(DEFAULT_NAMESPACE, "held-task-0");
    meta.owner_references = Some(vec![controller_ref(&job)]);
    let mut task = DynamicObject::new(types("task"), meta);
    task.set_field("spec", &json!({ "task": { "powerAction": "off" } }))
        .unwrap();
    store.create(task).await.unwrap();

    let marked = delete::delete(store.as_ref(), kinds(), &job).await.unwrap();
    assert_eq!(marked.len(), 1, "the object alone");
    let held = store
        .get(&job.types, DEFAULT_NAMESPACE, "held")
        .await
        .expect("still there while its finalizer holds it");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        names(store.as_ref(), "tasks").await,
        ["eksa-system/held-task-0"]
    );
    // Again: still marked, nothing more.
    delete::delete(store.as_ref(), kinds(), &held)
        .await
        .unwrap();
    let shared: ironbell_store::SharedStore = store.clone();
    let gone = ironbell_store::finalizers::remove_finalizer(
        &shared,
        &job.types,
        DEFAULT_NAMESPACE,
        "held",
        "example.com/cleanup",
    )
    .await
    .unwrap();
    assert_eq!(gone, ironbell_store::finalizers::Deletion::Gone);
    assert!(names(store.as_ref(), "jobs").await.is_empty());
}

/// A store without atomic multi-object commits (as a Kubernetes API server): a commit of
/// more than one operation is refused; single writes can be made to fail after a count.
/// With `limit`, it commits atomically up to that many operations (as etcd with
/// `--max-txn-ops`) and refuses more.
struct NoAtomic {
    inner: SqliteStore,
    /// Atomic commits of at most this many operations; `None`: one at a time.
    limit: Option<usize>,
    /// Where the database lives (removed when the store goes).
    _dir: Option<tempfile::TempDir>,
    /// Single writes allowed before every later one fails (usize::MAX: no fault).
    budget: AtomicUsize,
    /// Kinds written, in order.
    written: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Store for NoAtomic {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        self.inner.get(types, namespace, name).await
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        self.inner.list(types, params).await
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        self.inner.update_status(obj).await
    }

    async fn compact(&self, keep_after: u64) -> Result<()> {
        self.inner.compact(keep_after).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_commit: self.limit.is_some(),
            max_commit_ops: self.limit,
            ..Capabilities::default()
        }
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        if ops.len() > self.limit.unwrap_or(1) {
            return Err(StoreError::Unsupported {
                what: format!("commit {} objects atomically", ops.len()),
            });
        }
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(StoreError::Backend("connection lost".into()));
        }
        if left != usize::MAX {
            self.budget.store(left - 1, Ordering::SeqCst);
        }
        let out = self.inner.commit(ops).await?;
        let mut written = self.written.lock().unwrap();
        written.extend(out.iter().map(|o| o.types.kind.clone()));
        Ok(out)
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        self.inner.watch(types, params, resource_version).await
    }
}

fn no_atomic(dir: &tempfile::TempDir, budget: usize) -> NoAtomic {
    NoAtomic {
        inner: SqliteStore::open(dir.path().join("ironbell.db")).unwrap(),
        limit: None,
        _dir: None,
        budget: AtomicUsize::new(budget),
        written: Mutex::new(Vec::new()),
    }
}

#[tokio::test]
async fn without_atomic_commits_import_writes_in_dependency_order_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // Fails after four single writes, as a lost connection would.
    let store = no_atomic(&dir, 4);
    let rows = rows(CSV);
    let err = import_default(&store, &rows).await.unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            OpsError::Partial {
                done: 4,
                total: 6,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("run the same command again"), "{message}");
    // Secrets, then Machines: nothing written refers to something missing.
    assert_eq!(
        *store.written.lock().unwrap(),
        ["Secret", "Secret", "Machine", "Machine"]
    );

    // The connection is back: the same import finishes the job.
    store.budget.store(usize::MAX, Ordering::SeqCst);
    let out = import_default(&store, &rows).await.unwrap();
    assert_eq!(
        Counts::of(&out),
        Counts {
            created: 2,
            configured: 0,
            unchanged: 4
        }
    );
    assert_eq!(
        names(&store, "hardware").await,
        ["eksa-system/cp01", "eksa-system/wk01"]
    );

    // Deleting object by object: owned objects first, the owner last.
    store.written.lock().unwrap().clear();
    let hw = find_one(
        &store,
        resolve_kind(kinds(), "hardware").unwrap(),
        "wk01",
        None,
    )
    .await
    .unwrap();
    delete::delete(&store, kinds(), &hw).await.unwrap();
    assert_eq!(
        *store.written.lock().unwrap(),
        ["Machine", "Secret", "Hardware"]
    );
}

#[tokio::test]
async fn all_or_nothing_is_refused_where_the_backend_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let store = no_atomic(&dir, usize::MAX);
    let options = ApplyOptions {
        dry_run: false,
        atomicity: Atomicity::Required,
    };
    let err = apply(
        &store,
        vec![template("a", "t1", "x"), template("a", "t2", "x")],
        options,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OpsError::NotAtomic { count: 2, .. }), "{err}");
    assert!(names(&store, "template").await.is_empty());
    // One object needs no atomicity.
    apply(&store, vec![template("a", "t1", "x")], options)
        .await
        .unwrap();
}

/// The wrapper is a backend like any other: it passes the shared conformance suite (whose
/// commit cases check that it refuses batches and writes nothing).
mod no_atomic_conformance {
    use super::*;

    async fn fresh() -> ironbell_store::SharedStore {
        let dir = tempfile::tempdir().unwrap();
        let mut store = no_atomic(&dir, usize::MAX);
        store._dir = Some(dir);
        Arc::new(store)
    }

    ironbell_store::store_conformance_tests!(fresh());
}

#[tokio::test]
async fn a_set_larger_than_one_commit_is_written_in_batches_or_refused_when_atomicity_is_required()
{
    let dir = tempfile::tempdir().unwrap();
    // Atomic commits of at most 8 writes, as etcd started with --max-txn-ops 8.
    let mut store = no_atomic(&dir, usize::MAX);
    store.limit = Some(8);
    let mut csv = CSV.lines().next().unwrap().to_string();
    for i in 0..10 {
        csv.push_str(&format!(
            "\nm{i:02},10.20.1.{},255.255.255.0,10.20.1.254,10.20.0.2,3c:ec:ef:10:01:{i:02x},/dev/sda,type=worker,192.0.2.{},admin,pw-{i},",
            10 + i,
            100 + i
        ));
    }
    let rows = rows(&csv);

    // All or nothing cannot be had in one commit of 30 writes: refused, nothing written.
    let required = ApplyOptions {
        dry_run: false,
        atomicity: Atomicity::Required,
    };
    let err = import(&store, &rows, DEFAULT_NAMESPACE, required)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpsError::NotAtomic {
                count: 30,
                limit: 8
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max-txn-ops"), "{err}");
    assert!(names(&store, "hardware").await.is_empty());

    // The default (best effort) writes every object, in batches, in dependency order.
    let out = import_default(&store, &rows).await.unwrap();
    assert_eq!(Counts::of(&out).created, 30);
    assert_eq!(names(&store, "hardware").await.len(), 10);
    let written = store.written.lock().unwrap().clone();
    let first_hardware = written.iter().position(|k| k == "Hardware").unwrap();
    assert!(
        written[..first_hardware].iter().all(|k| k != "Hardware")
            && written[first_hardware..].iter().all(|k| k == "Hardware"),
        "Secrets and Machines before any Hardware: {written:?}"
    );
    // Again: nothing to write.
    let out = import_default(&store, &rows).await.unwrap();
    assert_eq!(Counts::of(&out).unchanged, 30);
}

/// `store migrate` into a store without atomic commits whose connection is lost part way:
/// the next run finishes the copy (nothing twice, nothing lost), owners are written before
/// what they own and owner references name the owners' new uids; a third run writes nothing.
#[tokio::test]
async fn migrate_resumes_after_a_failure_part_way_and_rebuilds_owner_references() {
    let (_src_dir, source) = store();
    import_default(source.as_ref(), &rows(CSV)).await.unwrap();
    let mut job = DynamicObject::new(types("job"), ObjectMeta::named(DEFAULT_NAMESPACE, "j"));
    job.set_field(
        "spec",
        &json!({ "machineRef": { "name": "bmc-wk01" }, "tasks": [] }),
    )
    .unwrap();
    let job = source.create(job).await.unwrap();
    for n in 0..2 {
        let mut meta = ObjectMeta::named(DEFAULT_NAMESPACE, format!("j-task-{n}"));
        meta.owner_references = Some(vec![controller_ref(&job)]);
        let mut task = DynamicObject::new(types("task"), meta);
        task.set_field("spec", &json!({ "task": { "powerAction": "on" } }))
            .unwrap();
        let mut task = source.create(task).await.unwrap();
        task.set_field(
            "status",
            &json!({ "conditions": [{ "type": "Completed", "status": "True" }] }),
        )
        .unwrap();
        source.update_status(task).await.unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let target = no_atomic(&dir, 5);
    let err = ironbell_ops::migrate::migrate(source.as_ref(), &target, kinds())
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::Partial { .. }), "{err}");
    assert_eq!(target.written.lock().unwrap().len(), 5);

    target.budget.store(usize::MAX, Ordering::SeqCst);
    let done = ironbell_ops::migrate::migrate(source.as_ref(), &target, kinds())
        .await
        .unwrap();
    assert!(done.verified(), "{done:?}");
    assert_eq!((done.total(), done.created()), (9, 4));
    let written = target.written.lock().unwrap().clone();
    let job_at = written.iter().position(|k| k == "Job").unwrap();
    let first_task = written.iter().position(|k| k == "Task").unwrap();
    assert!(job_at < first_task, "{written:?}");
    let new_job = target
        .get(&types("job"), DEFAULT_NAMESPACE, "j")
        .await
        .unwrap();
    assert_ne!(new_job.metadata.uid, job.metadata.uid);
    let task = target
        .get(&types("task"), DEFAULT_NAMESPACE, "j-task-1")
        .await
        .unwrap();
    assert_eq!(
        task.metadata.owner_references.as_ref().unwrap()[0].uid,
        new_job.metadata.uid.unwrap()
    );
    assert!(
        task.field_value("status")
            .unwrap()
            .to_string()
            .contains("Completed")
    );

    let again = ironbell_ops::migrate::migrate(source.as_ref(), &target, kinds())
        .await
        .unwrap();
    assert!(again.verified() && again.created() == 0, "{again:?}");
    assert_eq!(target.written.lock().unwrap().len(), 9);
}

/// A controller owner reference to `owner` (a created object: its uid is set).
fn controller_ref(owner: &DynamicObject) -> OwnerReference {
    OwnerReference {
        api_version: owner.types.api_version.clone(),
        kind: owner.types.kind.clone(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}
