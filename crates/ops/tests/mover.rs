//! `ironbell move` (`ironbell_ops::mover`): a management cluster's objects from one store
//! to another with clusterctl's semantics, on SQLite and on a real etcd: what moves and
//! what stays, owner references rebuilt, paused during and unpaused after, a move stopped
//! after every single write and run again ending as an uninterrupted one, and the
//! directory backup and restore.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use ironbell_model::{DynamicObject, KindRegistry, OwnerReference, TypeKey};
use ironbell_ops::OpsError;
use ironbell_ops::mover::{MoveOptions, from_directory, move_cluster, to_directory};
use ironbell_ops::spec::{Access, StoreSpec, open};
use ironbell_store::{ListParams, Store};
use ironbell_store_sqlite::SqliteStore;
use serde_json::{Value, json};

/// Real etcd servers (the store-etcd tests' launcher, shared rather than copied).
#[path = "../../store-etcd/tests/support/mod.rs"]
mod etcd;

const NS: &str = "eksa-system";
const CAPI: &str = "cluster.x-k8s.io/v1beta1";
const INFRA: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
const BOOTSTRAP: &str = "bootstrap.cluster.x-k8s.io/v1beta1";
const CONTROL_PLANE: &str = "controlplane.cluster.x-k8s.io/v1beta1";
const TINK: &str = "tinkerbell.org/v1alpha1";
const BMC: &str = "bmc.tinkerbell.org/v1alpha1";
const EKSA: &str = "anywhere.eks.amazonaws.com/v1alpha1";

fn kinds() -> KindRegistry {
    ironbell_ops::lookup::kinds()
}

fn sqlite(dir: &Path, name: &str) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir.join(name)).unwrap())
}

fn opts() -> MoveOptions {
    MoveOptions::new(NS, "mgmt")
}

/// Creates `doc` (metadata.namespace defaults to eksa-system) owned by `owners`.
async fn put(store: &dyn Store, doc: Value, owners: &[&DynamicObject]) -> DynamicObject {
    let mut obj: DynamicObject = serde_json::from_value(doc).unwrap();
    if obj.metadata.namespace.is_none() {
        obj.metadata.namespace = Some(NS.into());
    }
    if !owners.is_empty() {
        obj.metadata.owner_references = Some(
            owners
                .iter()
                .map(|o| OwnerReference {
                    api_version: o.types.api_version.clone(),
                    kind: o.types.kind.clone(),
                    name: o.name().to_string(),
                    uid: o.metadata.uid.clone().unwrap(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                })
                .collect(),
        );
    }
    store.create(obj).await.unwrap()
}

fn doc(api: &str, kind: &str, name: &str, rest: Value) -> Value {
    let mut v = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
    if let (Value::Object(m), Value::Object(r)) = (&mut v, rest) {
        for (k, x) in r {
            if k == "metadata" {
                if let (Some(Value::Object(meta)), Value::Object(extra)) =
                    (m.get_mut("metadata"), x)
                {
                    meta.extend(extra);
                }
            } else {
                m.insert(k, x);
            }
        }
    }
    v
}

fn cluster_label(c: &str) -> Value {
    json!({"labels": {"cluster.x-k8s.io/cluster-name": c}})
}

/// A management cluster as the controllers leave it (one control-plane machine, one
/// worker, three Hardware, the machines' Nodes), a second cluster in the same namespace,
/// and what never moves: Template, Workflow, an unrelated Secret, an EKS-A machine config
/// nobody names, a Node of no machine of the cluster's.
async fn fixture(store: &dyn Store) {
    let s = store;
    let cluster = put(s, doc(CAPI, "Cluster", "mgmt", json!({
        "metadata": cluster_label("mgmt"),
        "spec": {
            "controlPlaneRef": {"apiVersion": CONTROL_PLANE, "kind": "KubeadmControlPlane", "name": "mgmt"},
            "infrastructureRef": {"apiVersion": INFRA, "kind": "TinkerbellCluster", "name": "mgmt"}
        },
        "status": {"phase": "Provisioned"}
    })), &[]).await;
    put(
        s,
        doc(
            INFRA,
            "TinkerbellCluster",
            "mgmt",
            json!({"spec": {"imageLookupBaseRegistry": "r"}, "status": {"ready": true}}),
        ),
        &[&cluster],
    )
    .await;
    let kcp = put(s, doc(CONTROL_PLANE, "KubeadmControlPlane", "mgmt", json!({
        "metadata": cluster_label("mgmt"),
        "spec": {"replicas": 1, "version": "v1.31.0", "machineTemplate": {"infrastructureRef": {"apiVersion": INFRA, "kind": "TinkerbellMachineTemplate", "name": "mgmt-control-plane-template-1"}}}
    })), &[&cluster]).await;
    put(
        s,
        doc(
            INFRA,
            "TinkerbellMachineTemplate",
            "mgmt-control-plane-template-1",
            json!({"spec": {"template": {}}}),
        ),
        &[],
    )
    .await;
    put(
        s,
        doc(
            INFRA,
            "TinkerbellMachineTemplate",
            "mgmt-md-0-1",
            json!({"spec": {"template": {}}}),
        ),
        &[],
    )
    .await;
    put(
        s,
        doc(
            BOOTSTRAP,
            "KubeadmConfigTemplate",
            "mgmt-md-0-1",
            json!({"spec": {"template": {}}}),
        ),
        &[],
    )
    .await;
    let md = put(s, doc(CAPI, "MachineDeployment", "mgmt-md-0", json!({
        "metadata": cluster_label("mgmt"),
        "spec": {"clusterName": "mgmt", "replicas": 1, "template": {"spec": {
            "infrastructureRef": {"apiVersion": INFRA, "kind": "TinkerbellMachineTemplate", "name": "mgmt-md-0-1"},
            "bootstrap": {"configRef": {"apiVersion": BOOTSTRAP, "kind": "KubeadmConfigTemplate", "name": "mgmt-md-0-1"}}}}}
    })), &[]).await;
    let ms = put(
        s,
        doc(
            CAPI,
            "MachineSet",
            "mgmt-md-0-abc",
            json!({"metadata": cluster_label("mgmt"), "spec": {"clusterName": "mgmt"}}),
        ),
        &[&md],
    )
    .await;
    // The Nodes the machines' phone-homes wrote (cluster-scoped), and one of no machine
    // of the cluster's.
    for hw in ["hw1", "hw2", "hw9"] {
        let node: DynamicObject = serde_json::from_value(doc(
            "v1",
            "Node",
            hw,
            json!({"spec": {"providerID": format!("tinkerbell://{NS}/{hw}")},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        ))
        .unwrap();
        s.create(node).await.unwrap();
    }
    for (machine, owner, hw) in [
        ("mgmt-cp-x1", &kcp, "hw1"),
        ("mgmt-md-0-abc-y2", &ms, "hw2"),
    ] {
        let m = put(s, doc(CAPI, "Machine", machine, json!({
            "metadata": cluster_label("mgmt"),
            "spec": {"clusterName": "mgmt", "providerID": format!("tinkerbell://{NS}/{hw}"),
                "infrastructureRef": {"apiVersion": INFRA, "kind": "TinkerbellMachine", "name": machine},
                "bootstrap": {"configRef": {"apiVersion": BOOTSTRAP, "kind": "KubeadmConfig", "name": machine}, "dataSecretName": machine}},
            "status": {"phase": "Running", "nodeRef": {"name": hw}}
        })), &[owner]).await;
        put(
            s,
            doc(
                INFRA,
                "TinkerbellMachine",
                machine,
                json!({"spec": {"hardwareName": hw}, "status": {"ready": true}}),
            ),
            &[&m],
        )
        .await;
        let cfg = put(
            s,
            doc(
                BOOTSTRAP,
                "KubeadmConfig",
                machine,
                json!({"spec": {}, "status": {"ready": true, "dataSecretName": machine}}),
            ),
            &[&m],
        )
        .await;
        put(
            s,
            doc(
                "v1",
                "Secret",
                machine,
                json!({"type": "cluster.x-k8s.io/secret", "data": {"value": "dXNlcmRhdGE="}}),
            ),
            &[&cfg],
        )
        .await;
    }
    for purpose in ["kubeconfig", "ca"] {
        put(
            s,
            doc(
                "v1",
                "Secret",
                &format!("mgmt-{purpose}"),
                json!({"data": {"x": "eA=="}}),
            ),
            &[],
        )
        .await;
    }
    for (hw, owner) in [
        ("hw1", Some("mgmt-cp-x1")),
        ("hw2", Some("mgmt-md-0-abc-y2")),
        ("hw3", None),
    ] {
        let mut meta = json!({"labels": {"type": "cp"}});
        if let Some(o) = owner {
            meta = json!({"labels": {"type": "cp", "v1alpha1.tinkerbell.org/ownerName": o, "v1alpha1.tinkerbell.org/ownerNamespace": NS},
                "annotations": {"v1alpha1.tinkerbell.org/provisioned": "true"}});
        }
        put(
            s,
            doc(
                "v1",
                "Secret",
                &format!("bmc-{hw}-auth"),
                json!({
                    "metadata": {"labels": {"clusterctl.cluster.x-k8s.io/move": "true"}},
                    "data": {"username": "YWRtaW4=", "password": "cGFzcw=="}
                }),
            ),
            &[],
        )
        .await;
        put(s, doc(BMC, "Machine", &format!("bmc-{hw}"), json!({"spec": {"connection": {"host": "10.0.0.9", "authSecretRef": {"name": format!("bmc-{hw}-auth"), "namespace": NS}}}})), &[]).await;
        put(s, doc(TINK, "Hardware", hw, json!({"metadata": meta, "spec": {"bmcRef": {"kind": "Machine", "name": format!("bmc-{hw}")}}})), &[]).await;
    }
    // Never moves.
    put(
        s,
        doc(
            TINK,
            "Template",
            "mgmt-cp-x1",
            json!({"spec": {"data": "version: \"0.1\""}}),
        ),
        &[],
    )
    .await;
    put(
        s,
        doc(
            TINK,
            "Workflow",
            "mgmt-cp-x1",
            json!({"spec": {"templateRef": "mgmt-cp-x1", "hardwareRef": "hw1"}}),
        ),
        &[],
    )
    .await;
    put(
        s,
        doc("v1", "Secret", "unrelated", json!({"data": {}})),
        &[],
    )
    .await;
    // Another cluster in the namespace: stays.
    let other = put(s, doc(CAPI, "Cluster", "other", json!({"spec": {"infrastructureRef": {"apiVersion": INFRA, "kind": "TinkerbellCluster", "name": "other"}}})), &[]).await;
    put(
        s,
        doc(INFRA, "TinkerbellCluster", "other", json!({"spec": {}})),
        &[&other],
    )
    .await;
    put(
        s,
        doc("v1", "Secret", "other-kubeconfig", json!({"data": {}})),
        &[],
    )
    .await;
    // EKS Anywhere's objects: the Cluster and what it names move; a stray config stays.
    put(s, doc(EKSA, "Cluster", "mgmt", json!({
        "metadata": {"namespace": "default", "annotations": {"anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip": "10.0.0.2"}},
        "spec": {"kubernetesVersion": "1.31",
            "datacenterRef": {"kind": "TinkerbellDatacenterConfig", "name": "mgmt"},
            "controlPlaneConfiguration": {"count": 1, "endpoint": {"host": "10.0.0.100"}, "machineGroupRef": {"kind": "TinkerbellMachineConfig", "name": "mgmt-cp"}},
            "workerNodeGroupConfigurations": [{"name": "md-0", "count": 1, "machineGroupRef": {"kind": "TinkerbellMachineConfig", "name": "mgmt-cp"}}]}
    })), &[]).await;
    put(
        s,
        doc(
            EKSA,
            "TinkerbellDatacenterConfig",
            "mgmt",
            json!({"metadata": {"namespace": "default"}, "spec": {"tinkerbellIP": "10.0.0.3"}}),
        ),
        &[],
    )
    .await;
    put(s, doc(EKSA, "TinkerbellMachineConfig", "mgmt-cp", json!({"metadata": {"namespace": "default"}, "spec": {"osFamily": "ubuntu", "hardwareSelector": {"type": "cp"}}})), &[]).await;
    put(
        s,
        doc(
            EKSA,
            "TinkerbellMachineConfig",
            "stray",
            json!({"metadata": {"namespace": "default"}, "spec": {"osFamily": "ubuntu"}}),
        ),
        &[],
    )
    .await;
}

/// What moves from the fixture, `Kind/name`.
const MOVED: &[&str] = &[
    "Cluster/mgmt",
    "TinkerbellCluster/mgmt",
    "KubeadmControlPlane/mgmt",
    "TinkerbellMachineTemplate/mgmt-control-plane-template-1",
    "TinkerbellMachineTemplate/mgmt-md-0-1",
    "KubeadmConfigTemplate/mgmt-md-0-1",
    "MachineDeployment/mgmt-md-0",
    "MachineSet/mgmt-md-0-abc",
    "Machine/mgmt-cp-x1",
    "Machine/mgmt-md-0-abc-y2",
    "TinkerbellMachine/mgmt-cp-x1",
    "TinkerbellMachine/mgmt-md-0-abc-y2",
    "KubeadmConfig/mgmt-cp-x1",
    "KubeadmConfig/mgmt-md-0-abc-y2",
    "Secret/mgmt-cp-x1",
    "Secret/mgmt-md-0-abc-y2",
    "Secret/mgmt-kubeconfig",
    "Secret/mgmt-ca",
    "Secret/bmc-hw1-auth",
    "Secret/bmc-hw2-auth",
    "Secret/bmc-hw3-auth",
    "Machine/bmc-hw1",
    "Machine/bmc-hw2",
    "Machine/bmc-hw3",
    "Hardware/hw1",
    "Hardware/hw2",
    "Hardware/hw3",
    "Node/hw1",
    "Node/hw2",
    "Cluster/mgmt@eksa",
    "TinkerbellDatacenterConfig/mgmt",
    "TinkerbellMachineConfig/mgmt-cp",
];

/// Every object of `store`, keyed `Kind/name` (`@eksa` for EKS-A's Cluster), in a form
/// that compares across stores: what a store sets dropped, each owner reference as the
/// `Kind/name` its uid resolves to in the same store (`?` when it resolves to nothing).
async fn snapshot(store: &dyn Store) -> BTreeMap<String, Value> {
    let mut objects = Vec::new();
    for info in kinds().kinds() {
        objects.extend(
            store
                .list(&info.type_key(), &ListParams::default())
                .await
                .unwrap()
                .items,
        );
    }
    let by_uid: HashMap<String, String> = objects
        .iter()
        .map(|o| {
            (
                o.metadata.uid.clone().unwrap(),
                format!("{}/{}", o.types.kind, o.name()),
            )
        })
        .collect();
    objects
        .into_iter()
        .map(|mut o| {
            let name = if o.types.api_version == EKSA && o.types.kind == "Cluster" {
                format!("{}/{}@eksa", o.types.kind, o.name())
            } else {
                format!("{}/{}", o.types.kind, o.name())
            };
            let m = &mut o.metadata;
            m.resource_version = None;
            m.uid = None;
            m.creation_timestamp = None;
            m.generation = None;
            for r in m.owner_references.iter_mut().flatten() {
                r.uid = by_uid.get(&r.uid).cloned().unwrap_or_else(|| "?".into());
            }
            (name, serde_json::to_value(&o).unwrap())
        })
        .collect()
}

/// Asserts two snapshots are equal, naming the objects that differ (not dumping both).
fn same(got: &BTreeMap<String, Value>, want: &BTreeMap<String, Value>, what: &str) {
    let differ: Vec<String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| format!("{k}: got {:?}, want {:?}", got.get(k), want.get(k)))
        .collect();
    assert!(differ.is_empty(), "{what}:\n{}", differ.join("\n"));
}

fn names(snapshot: &BTreeMap<String, Value>) -> Vec<String> {
    snapshot.keys().cloned().collect()
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_takes_the_clusters_objects_rebuilds_owners_and_unpauses_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (
        sqlite(dir.path(), "bootstrap.db"),
        sqlite(dir.path(), "cluster.db"),
    );
    fixture(from.as_ref()).await;
    let before = snapshot(from.as_ref()).await;

    let report = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    let after_from = snapshot(from.as_ref()).await;
    let after_to = snapshot(to.as_ref()).await;

    assert_eq!(names(&after_to), sorted(MOVED));
    let mut stayed: Vec<String> = names(&before)
        .into_iter()
        .filter(|n| !MOVED.contains(&n.as_str()))
        .collect();
    stayed.sort();
    assert_eq!(names(&after_from), stayed, "what stays in the source");
    assert!(
        stayed.contains(&"Workflow/mgmt-cp-x1".to_string())
            && stayed.contains(&"Cluster/other".to_string())
    );
    assert_eq!(
        (report.objects(), report.deleted, report.already_moved),
        (MOVED.len(), MOVED.len(), false)
    );

    // Contents equal, owner references resolving to the target's own objects; the only
    // differences are the move's marks.
    for name in MOVED {
        let (mut was, mut now) = (before[*name].clone(), after_to[*name].clone());
        for v in [&mut was, &mut now] {
            let meta = v.pointer_mut("/metadata").unwrap().as_object_mut().unwrap();
            if let Some(Value::Object(a)) = meta.get_mut("annotations") {
                a.remove("anywhere.eks.amazonaws.com/managed-by-cli");
                a.remove("anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip");
                if a.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
        assert_eq!(was, now, "{name}");
        for r in now
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert_ne!(
                r["uid"], "?",
                "{name}: an owner reference resolves to nothing"
            );
        }
    }
    let eksa = &after_to["Cluster/mgmt@eksa"]["metadata"]["annotations"];
    assert_eq!(eksa["anywhere.eks.amazonaws.com/managed-by-cli"], "true");
    assert!(
        eksa.get("anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip")
            .is_none()
    );
    assert!(
        eksa.get("anywhere.eks.amazonaws.com/paused").is_none(),
        "unpaused"
    );
    assert!(
        after_to["Cluster/mgmt"]["spec"].get("paused").is_none(),
        "unpaused"
    );

    // Once more: nothing to do, nothing written.
    let again = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    assert!(again.already_moved);
    assert_eq!(again.writes, 0);
    same(
        &snapshot(to.as_ref()).await,
        &after_to,
        "after a second run",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_stopped_after_any_write_and_run_again_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (sqlite(dir.path(), "a.db"), sqlite(dir.path(), "b.db"));
    fixture(from.as_ref()).await;
    let clean = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    let (want_from, want_to) = (snapshot(from.as_ref()).await, snapshot(to.as_ref()).await);
    assert!(clean.writes > MOVED.len(), "{} writes", clean.writes);

    for stop in 0..clean.writes {
        let run = dir.path().join(format!("run-{stop}"));
        std::fs::create_dir(&run).unwrap();
        let (from, to) = (sqlite(&run, "a.db"), sqlite(&run, "b.db"));
        fixture(from.as_ref()).await;
        let mut o = opts();
        o.before_write = Some(Arc::new(move |done| done < stop));
        let err = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &o)
            .await
            .unwrap_err();
        assert!(
            matches!(err, OpsError::MoveStopped { writes } if writes == stop),
            "{err}"
        );
        move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
            .await
            .unwrap();
        same(
            &snapshot(from.as_ref()).await,
            &want_from,
            &format!("source, stopped after {stop} writes"),
        );
        same(
            &snapshot(to.as_ref()).await,
            &want_to,
            &format!("target, stopped after {stop} writes"),
        );
        drop((from, to));
        std::fs::remove_dir_all(&run).unwrap();
    }
}

/// The target's BMC controller at work during the move: before each of the move's writes,
/// every BMC Machine already on the target gets a fresh power state (its status, which
/// the controllers own; BMC Machines are not paused with the cluster). The move checks
/// its copies without the status someone else wrote, and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_controller_writing_a_copys_status_during_the_move_does_not_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (sqlite(dir.path(), "a.db"), sqlite(dir.path(), "b.db"));
    fixture(from.as_ref()).await;
    let target = to.clone();
    let refreshed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = refreshed.clone();
    let mut o = opts();
    o.before_write = Some(Arc::new(move |_| {
        let (target, count) = (target.clone(), count.clone());
        // The hook is synchronous: the controller's writes run on a thread of their own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                let types = TypeKey::new(BMC, "Machine");
                let list = target.list(&types, &ListParams::namespace(NS)).await;
                for mut m in list.map(|l| l.items).unwrap_or_default() {
                    let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    m.set_field("status", &json!({"powerState": "on", "probe": n}))
                        .unwrap();
                    let _ = target.update_status(m).await;
                }
            });
        })
        .join()
        .unwrap();
        true
    }));
    move_cluster(from.as_ref(), to.as_ref(), &kinds(), &o)
        .await
        .unwrap();
    assert!(
        refreshed.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the controller wrote nothing"
    );
    let after = snapshot(to.as_ref()).await;
    assert_eq!(names(&after), sorted(MOVED));
    assert_eq!(
        after["Machine/bmc-hw1"]["status"]["powerState"], "on",
        "the controller's status stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_paused_by_someone_else_or_an_object_of_two_clusters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (sqlite(dir.path(), "a.db"), sqlite(dir.path(), "b.db"));
    fixture(from.as_ref()).await;
    let types = TypeKey::new(CAPI, "Cluster");
    let mut c = from.get(&types, NS, "mgmt").await.unwrap();
    c.set_field("spec", &json!({"paused": true})).unwrap();
    from.update(c).await.unwrap();
    let err = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::MovePaused { .. }), "{err}");
    assert!(
        snapshot(to.as_ref()).await.is_empty(),
        "nothing written to the target"
    );

    let dir = tempfile::tempdir().unwrap();
    let from = sqlite(dir.path(), "a.db");
    fixture(from.as_ref()).await;
    let mut s = from
        .get(&TypeKey::new("v1", "Secret"), NS, "mgmt-kubeconfig")
        .await
        .unwrap();
    s.metadata.labels = Some(
        [(
            "cluster.x-k8s.io/cluster-name".to_string(),
            "other".to_string(),
        )]
        .into(),
    );
    from.update(s).await.unwrap();
    let err = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpsError::MoveTenants { object, clusters } if object.contains("mgmt-kubeconfig") && clusters.len() == 2),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_directory_keeps_the_source_and_from_directory_restores_what_a_move_gives() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (from, moved) = (sqlite(dir.path(), "a.db"), sqlite(dir.path(), "moved.db"));
    fixture(from.as_ref()).await;
    let before = snapshot(from.as_ref()).await;
    let backup = dir.path().join("backup");
    let saved = to_directory(from.as_ref(), &backup, &kinds(), &opts())
        .await
        .unwrap();
    assert_eq!(saved.objects(), MOVED.len());
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::read_dir(&backup).unwrap().count(), MOVED.len());
    assert!(backup.join("Hardware_eksa-system_hw1.yaml").is_file());
    same(
        &snapshot(from.as_ref()).await,
        &before,
        "the source after to_directory",
    );

    let restored = sqlite(dir.path(), "restored.db");
    let report = from_directory(&backup, restored.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    assert_eq!(report.objects(), MOVED.len());
    // What a move would have given, but for the marks only a move makes.
    move_cluster(from.as_ref(), moved.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    let (mut got, mut want) = (
        snapshot(restored.as_ref()).await,
        snapshot(moved.as_ref()).await,
    );
    let got_before_again = got.clone();
    for s in [&mut got, &mut want] {
        s.get_mut("Cluster/mgmt@eksa").unwrap()["metadata"]["annotations"] = Value::Null;
    }
    same(&got, &want, "restored vs moved");
    // Restoring again creates nothing and ends where the first restore did (the objects
    // the files hold paused are paused and unpaused once more).
    let again = from_directory(&backup, restored.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    assert_eq!(again.kinds.values().map(|k| k.created).sum::<usize>(), 0);
    same(
        &snapshot(restored.as_ref()).await,
        &got_before_again,
        "restored twice",
    );
}

/// SQLite to a real etcd: the same result as SQLite to SQLite, also when stopped midway
/// (every fifth write) and run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_etcd_gives_what_sqlite_to_sqlite_gives_even_when_stopped() {
    let Some(cluster) = etcd::Cluster::start(1).await else {
        return;
    };
    let host = cluster.endpoints()[0]
        .trim_start_matches("http://")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (sqlite(dir.path(), "a.db"), sqlite(dir.path(), "b.db"));
    fixture(from.as_ref()).await;
    let clean = move_cluster(from.as_ref(), to.as_ref(), &kinds(), &opts())
        .await
        .unwrap();
    let want = snapshot(to.as_ref()).await;

    for (n, stop) in (0..clean.writes)
        .step_by(5)
        .chain([clean.writes])
        .enumerate()
    {
        let spec: StoreSpec = format!("etcd://{host}/move-{n}").parse().unwrap();
        let target = open(&spec, Access::Create).unwrap();
        let from = sqlite(dir.path(), &format!("src-{n}.db"));
        fixture(from.as_ref()).await;
        let mut o = opts();
        o.before_write = Some(Arc::new(move |done| done < stop));
        if let Err(err) = move_cluster(from.as_ref(), target.store().as_ref(), &kinds(), &o).await {
            assert!(matches!(err, OpsError::MoveStopped { .. }), "{err}");
            move_cluster(from.as_ref(), target.store().as_ref(), &kinds(), &opts())
                .await
                .unwrap();
        }
        same(
            &snapshot(target.store().as_ref()).await,
            &want,
            &format!("etcd, stopped after {stop} writes"),
        );
    }
}
