//! Writes larger than etcd's `--max-txn-ops`, against a real etcd started with the limit
//! lowered to 16: an import-like set of 102 objects (34 machines, each a Secret, a BMC
//! Machine and a Hardware, in that order) is refused as one commit, by the store and by
//! etcd itself, and written by `commit_in_batches` in seven batches; an interrupted run
//! is finished by running it again; two runs at once both succeed with one copy of each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{Applied, ListParams, Op, Store, StoreError, commit_in_batches};
use ironbell_store_etcd::EtcdStore;
use serde_json::json;
use support::Cluster;

const MAX_TXN_OPS: usize = 16;
const MACHINES: usize = 34;

fn kinds() -> [TypeKey; 3] {
    [
        TypeKey::new("v1", "Secret"),
        TypeKey::new("bmc.tinkerbell.org/v1alpha1", "Machine"),
        TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
    ]
}

/// What `hardware import` of `MACHINES` rows writes, in its dependency order.
fn import_ops() -> Vec<Op> {
    let mut ops = Vec::new();
    for (k, types) in kinds().into_iter().enumerate() {
        for i in 0..MACHINES {
            let name = match k {
                0 => format!("bmc-wk{i:02}-auth"),
                1 => format!("bmc-wk{i:02}"),
                _ => format!("wk{i:02}"),
            };
            let mut o = DynamicObject::new(types.clone(), ObjectMeta::named("eksa-system", &name));
            let field = if k == 0 { "data" } else { "spec" };
            o.set_field(field, &json!({ "row": i })).unwrap();
            ops.push(Op::Create(o));
        }
    }
    ops
}

async fn count_all(store: &EtcdStore) -> usize {
    let mut n = 0;
    for types in kinds() {
        n += store
            .list(&types, &ListParams::default())
            .await
            .unwrap()
            .items
            .len();
    }
    n
}

fn rv(o: &DynamicObject) -> u64 {
    o.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_larger_than_max_txn_ops() {
    let Some(cluster) = Cluster::start_with_max_txn_ops(1, MAX_TXN_OPS).await else {
        return;
    };
    let store = cluster.store("/import");
    assert_eq!(store.capabilities().max_commit_ops, Some(MAX_TXN_OPS));
    let ops = import_ops();
    assert_eq!(ops.len(), 3 * MACHINES);

    // One commit: refused by the store before anything is sent.
    let err = store.commit(ops.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    // A store that believes the limit is etcd's default: etcd itself refuses 17.
    let mut config = store.config().clone();
    config.max_txn_ops = ironbell_store_etcd::ETCD_MAX_TXN_OPS;
    let unaware = EtcdStore::new(config).unwrap();
    let err = unaware
        .commit(ops[..MAX_TXN_OPS + 1].to_vec())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many operations"), "{err}");
    assert_eq!(
        count_all(&store).await,
        0,
        "a refused commit wrote something"
    );

    let before = store.revision().await.unwrap();
    let out = commit_in_batches(&store, ops.clone())
        .await
        .expect("batches");
    assert_eq!(out.len(), ops.len());
    let revisions: Vec<u64> = out
        .iter()
        .map(|a| match a {
            Applied::Written(o) => rv(o),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(revisions.windows(2).all(|w| w[0] <= w[1]), "{revisions:?}");
    let distinct: BTreeSet<u64> = revisions.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ops.len().div_ceil(MAX_TXN_OPS),
        "one revision per batch"
    );
    assert!(revisions[0] > before);
    assert_eq!(count_all(&store).await, ops.len());

    // Run again: everything is found done, nothing is written.
    let after = store.revision().await.unwrap();
    let again = commit_in_batches(&store, ops).await.expect("again");
    assert!(
        again
            .iter()
            .all(|a| matches!(a, Applied::AlreadyExisted(_)))
    );
    assert_eq!(store.revision().await.unwrap(), after);
}

/// A batch in the middle fails (another writer made one of its objects differently): the
/// batches before it are written, it writes nothing; once the conflict is gone, the same
/// operations run again finish the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_import_is_finished_by_running_it_again() {
    let Some(cluster) = Cluster::start_with_max_txn_ops(1, MAX_TXN_OPS).await else {
        return;
    };
    let store = cluster.store("/import");
    let ops = import_ops();
    let Op::Create(target) = &ops[50] else {
        unreachable!()
    };
    let mut other = target.clone();
    other
        .set_field("spec", &json!({ "row": "someone else's" }))
        .unwrap();
    let other = store.create(other).await.unwrap();

    let err = commit_in_batches(&store, ops.clone()).await.unwrap_err();
    assert_eq!(err.committed, 48, "{err}");
    assert_eq!((err.total, err.batch_limit), (ops.len(), MAX_TXN_OPS));
    assert!(
        matches!(&err.source, StoreError::AlreadyExists { name, .. } if name == target.name()),
        "{:?}",
        err.source
    );
    assert_eq!(count_all(&store).await, 48 + 1);

    store
        .delete(&other.types, other.namespace(), other.name(), None)
        .await
        .unwrap();
    let out = commit_in_batches(&store, ops.clone())
        .await
        .expect("re-run");
    let existed = out
        .iter()
        .filter(|a| matches!(a, Applied::AlreadyExisted(_)))
        .count();
    assert_eq!(existed, 48);
    assert_eq!(count_all(&store).await, ops.len());
}

/// Two runs of the same import at once (two operators, one CSV): both succeed, and every
/// object exists once, written by one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_imports_at_once_both_succeed() {
    let Some(cluster) = Cluster::start_with_max_txn_ops(1, MAX_TXN_OPS).await else {
        return;
    };
    let a = cluster.store("/import");
    let b = cluster.store("/import");
    let ops = import_ops();
    let (ra, rb) = tokio::join!(
        commit_in_batches(&a, ops.clone()),
        commit_in_batches(&b, ops.clone())
    );
    let (ra, rb) = (ra.expect("first"), rb.expect("second"));
    for (i, (x, y)) in ra.iter().zip(&rb).enumerate() {
        let written = usize::from(matches!(x, Applied::Written(_)))
            + usize::from(matches!(y, Applied::Written(_)));
        assert_eq!(written, 1, "operation {i}: {x:?} / {y:?}");
        assert_eq!(
            x.object().map(|o| o.metadata.uid.clone()),
            y.object().map(|o| o.metadata.uid.clone()),
            "operation {i}: one object"
        );
    }
    assert_eq!(count_all(&a).await, ops.len());
}
