//! `ironbell store migrate` from a SQLite store to a real etcd (Debian's `etcd`, one member
//! on loopback with `--max-txn-ops` lowered so that the copy takes several commits): a
//! `hardware.csv` imported through the binary (Hardware, BMC Machine and Secret per row),
//! Templates, Workflows with status, BMC Jobs owned by a Workflow and Tasks owned by the
//! Jobs (three generations of owner references). The copy is checked through the Store
//! API on etcd; a second run writes nothing; a run after part of the copy is lost (an
//! interrupted run) finishes it; a target holding a different object is refused, naming
//! it, with nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Real etcd servers (the store-etcd tests' launcher, shared rather than copied).
#[path = "../../store-etcd/tests/support/mod.rs"]
#[allow(unreachable_pub)]
mod etcd;

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use ironbell_model::{DynamicObject, KindRegistry, ObjectMeta, OwnerReference, TypeKey};
use ironbell_store::{ListParams, Store};
use ironbell_store_etcd::EtcdStore;
use ironbell_store_sqlite::SqliteStore;
use serde_json::json;

const NS: &str = "eksa-system";
const MACHINES: usize = 40;
/// The etcd members' `--max-txn-ops`: the 120 objects of the import take several commits.
const MAX_TXN_OPS: usize = 32;
const PASSWORD: &str = "s3cret-bmc-pw";

fn ironbell(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .args(args)
        .env_remove("IRONBELL_DB")
        .output()
        .expect("run ironbell")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn types(api_version: &str, kind: &str) -> TypeKey {
    TypeKey::new(api_version, kind)
}

fn owned_by(owner: &DynamicObject) -> OwnerReference {
    OwnerReference {
        api_version: owner.types.api_version.clone(),
        kind: owner.types.kind.clone(),
        name: owner.name().to_string(),
        uid: owner.metadata.uid.clone().unwrap(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

async fn create(
    store: &SqliteStore,
    t: TypeKey,
    name: &str,
    spec: serde_json::Value,
    status: Option<serde_json::Value>,
    owner: Option<&DynamicObject>,
) -> DynamicObject {
    let mut meta = ObjectMeta::named(NS, name);
    meta.owner_references = owner.map(|o| vec![owned_by(o)]);
    let mut o = DynamicObject::new(t, meta);
    o.set_field("spec", &spec).unwrap();
    let mut o = store.create(o).await.unwrap();
    if let Some(status) = status {
        o.set_field("status", &status).unwrap();
        o = store.update_status(o).await.unwrap();
    }
    o
}

/// Fills the SQLite store at `db`: the import through the binary, the rest through the
/// Store API (as the controllers write them).
async fn fill(db: &Path, dir: &Path) {
    let csv = dir.join("hardware.csv");
    let mut rows = String::from(
        "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password\n",
    );
    for i in 0..MACHINES {
        rows.push_str(&format!(
            "wk{i:02},10.20.0.{},255.255.255.0,10.20.0.1,10.20.0.2,3c:ec:ef:10:00:{i:02x},/dev/sda,type=worker,192.0.2.{},admin,{PASSWORD}\n",
            i + 10,
            i + 10
        ));
    }
    std::fs::write(&csv, rows).unwrap();
    let db_arg = format!("sqlite:{}", db.display());
    let out = ironbell(&[
        "--db",
        &db_arg,
        "hardware",
        "import",
        &csv.display().to_string(),
        "-n",
        NS,
    ]);
    assert!(out.status.success(), "{:?}", text(&out));

    let store = SqliteStore::open(db).unwrap();
    let template = types("tinkerbell.org/v1alpha1", "Template");
    let workflow = types("tinkerbell.org/v1alpha1", "Workflow");
    let job = types("bmc.tinkerbell.org/v1alpha1", "Job");
    let task = types("bmc.tinkerbell.org/v1alpha1", "Task");
    for t in ["ubuntu", "flatcar"] {
        create(
            &store,
            template.clone(),
            t,
            json!({"data": format!("name: {t}\nversion: \"0.1\"\n")}),
            None,
            None,
        )
        .await;
    }
    for i in 0..3 {
        let wf = create(
            &store,
            workflow.clone(),
            &format!("wf{i}"),
            json!({"templateRef": "ubuntu", "hardwareRef": format!("wk{i:02}")}),
            Some(json!({"state": "STATE_RUNNING", "currentAction": "stream-image"})),
            None,
        )
        .await;
        let j = create(
            &store,
            job.clone(),
            &format!("wf{i}-netboot"),
            json!({"machineRef": {"name": format!("bmc-wk{i:02}"), "namespace": NS}, "tasks": [{"powerAction": "off"}, {"powerAction": "on"}]}),
            Some(json!({"conditions": [{"type": "Running", "status": "True"}]})),
            Some(&wf),
        )
        .await;
        for n in 0..2 {
            create(
                &store,
                task.clone(),
                &format!("wf{i}-netboot-task-{n}"),
                json!({"task": {"powerAction": if n == 0 { "off" } else { "on" }}}),
                Some(json!({"conditions": [{"type": "Completed", "status": "True"}]})),
                Some(&j),
            )
            .await;
        }
    }
}

/// Every object of every built-in kind in `store`, by kind.
async fn contents(store: &dyn Store) -> HashMap<TypeKey, Vec<DynamicObject>> {
    let mut out = HashMap::new();
    for k in KindRegistry::builtin().kinds() {
        let items = store
            .list(&k.type_key(), &ListParams::default())
            .await
            .unwrap()
            .items;
        if !items.is_empty() {
            out.insert(k.type_key(), items);
        }
    }
    out
}

fn migrate(from: &str, to: &str) -> Output {
    ironbell(&["store", "migrate", "--from", from, "--to", to])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_etcd_copies_checks_resumes_and_refuses_a_different_target() {
    let Some(cluster) = etcd::Cluster::start_with_max_txn_ops(1, MAX_TXN_OPS).await else {
        eprintln!("skipped: etcd is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ironbell.db");
    fill(&db, dir.path()).await;
    let from = format!("sqlite:{}", db.display());
    let host = cluster.endpoints()[0]
        .trim_start_matches("http://")
        .to_string();
    let to = format!("etcd://{host}/site-a?max-txn-ops={MAX_TXN_OPS}");

    let out = migrate(&from, &to);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    let total = 3 * MACHINES + 2 + 3 + 3 + 6;
    assert!(
        stdout.contains(&format!("{total} objects in etcd://{host}/site-a")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{total} copied now, 0 already there")),
        "{stdout}"
    );
    for line in ["Hardware.tinkerbell.org/v1alpha1", "Secret.v1", "Task.bmc"] {
        let row = stdout.lines().find(|l| l.starts_with(line)).unwrap();
        assert!(row.trim_end().ends_with("yes"), "{row}");
    }

    // Checked again here through the Store API on etcd.
    let source = SqliteStore::open(&db).unwrap();
    let target: EtcdStore = cluster.store("/site-a");
    let (src, dst) = (contents(&source).await, contents(&target).await);
    assert_eq!(src.keys().len(), 7, "{:?}", src.keys());
    let mut target_uid = HashMap::new();
    let mut source_uid = HashMap::new();
    for (t, items) in &src {
        let copies = &dst[t];
        assert_eq!(items.len(), copies.len(), "{t:?}");
        for (s, d) in items.iter().zip(copies) {
            assert_eq!((s.namespace(), s.name()), (d.namespace(), d.name()));
            assert!(
                d.metadata
                    .resource_version
                    .as_deref()
                    .is_some_and(|v| v.parse::<u64>().is_ok())
            );
            assert_ne!(s.metadata.uid, d.metadata.uid, "the target assigns uids");
            assert!(
                s.same_body_except(d, ""),
                "{t:?} {}: spec, data and status",
                s.name()
            );
            assert_eq!(s.metadata.labels, d.metadata.labels);
            source_uid.insert(
                s.metadata.uid.clone().unwrap(),
                (t.clone(), s.name().to_string()),
            );
            target_uid.insert(
                (t.clone(), d.name().to_string()),
                d.metadata.uid.clone().unwrap(),
            );
        }
    }
    // Owner references name the owners' new uids.
    let mut owned = 0;
    for (t, items) in &src {
        for (s, d) in items.iter().zip(&dst[t]) {
            let (Some(so), Some(d_o)) =
                (&s.metadata.owner_references, &d.metadata.owner_references)
            else {
                assert_eq!(s.metadata.owner_references, d.metadata.owner_references);
                continue;
            };
            assert_eq!(so.len(), d_o.len());
            for (a, b) in so.iter().zip(d_o) {
                assert_eq!(
                    (&a.kind, &a.name, a.controller),
                    (&b.kind, &b.name, b.controller)
                );
                assert_eq!(&target_uid[&source_uid[&a.uid]], &b.uid);
                owned += 1;
            }
        }
    }
    assert_eq!(owned, 3 + 6, "Jobs owned by Workflows, Tasks by Jobs");

    // Again: nothing to do, nothing written.
    let revision = target.revision().await.unwrap();
    let out = migrate(&from, &to);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("0 copied now, {total} already there")),
        "{stdout}"
    );
    assert_eq!(target.revision().await.unwrap(), revision);

    // An interrupted run: part of the copy is missing (a Job whose Tasks are there is
    // not possible: Tasks come after their Job; here a Job with its Tasks and some
    // imported objects). The next run finishes it; the Tasks point to the new Job.
    let job = types("bmc.tinkerbell.org/v1alpha1", "Job");
    let task = types("bmc.tinkerbell.org/v1alpha1", "Task");
    for n in 0..2 {
        target
            .delete(&task, NS, &format!("wf1-netboot-task-{n}"), None)
            .await
            .unwrap();
    }
    target.delete(&job, NS, "wf1-netboot", None).await.unwrap();
    for name in ["wk05", "wk06"] {
        target
            .delete(
                &types("tinkerbell.org/v1alpha1", "Hardware"),
                NS,
                name,
                None,
            )
            .await
            .unwrap();
    }
    let out = migrate(&from, &to);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("5 copied now, {} already there", total - 5)),
        "{stdout}"
    );
    let new_job = target.get(&job, NS, "wf1-netboot").await.unwrap();
    let t0 = target.get(&task, NS, "wf1-netboot-task-0").await.unwrap();
    assert_eq!(
        t0.metadata.owner_references.unwrap()[0].uid,
        new_job.metadata.uid.unwrap()
    );

    // A target holding an object that differs: refused, named, nothing written.
    let hw = types("tinkerbell.org/v1alpha1", "Hardware");
    let mut changed = target.get(&hw, NS, "wk07").await.unwrap();
    changed.metadata.labels = Some([("type".to_string(), "cp".to_string())].into());
    target.update(changed).await.unwrap();
    let revision = target.revision().await.unwrap();
    let out = migrate(&from, &to);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stderr.contains("Hardware eksa-system/wk07 (differs from the source's)")
            && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert_eq!(target.revision().await.unwrap(), revision);

    // An object the source does not have, in a fresh prefix: refused, named.
    let other = cluster.store("/site-b");
    let mut stray = DynamicObject::new(
        types("tinkerbell.org/v1alpha1", "Template"),
        ObjectMeta::named(NS, "stray"),
    );
    stray.set_field("spec", &json!({"data": "x"})).unwrap();
    other.create(stray).await.unwrap();
    let out = migrate(
        &from,
        &format!("etcd://{host}/site-b?max-txn-ops={MAX_TXN_OPS}"),
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Template eksa-system/stray (not in the source)"),
        "{stderr}"
    );
    assert_eq!(
        contents(&other).await.values().map(Vec::len).sum::<usize>(),
        1
    );

    // The same store twice is refused.
    let out = migrate(&from, &from);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("same store"), "{:?}", text(&out));
}
