//! Rough timings of the benchmark's shape: 10,000 hardware rows imported as 30,000 objects
//! in one commit, then listed. Ignored by default; run with
//! `cargo test --release -p ironbell-store-sqlite --test perf -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{ListParams, Op, Store};
use ironbell_store_sqlite::SqliteStore;
use serde_json::json;

const ROWS: usize = 10_000;

fn object(
    api_version: &str,
    kind: &str,
    name: &str,
    labels: &[(&str, String)],
    body: serde_json::Value,
) -> DynamicObject {
    let mut metadata = ObjectMeta::named("eksa-system", name);
    metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    );
    DynamicObject {
        types: TypeKey::new(api_version, kind),
        metadata,
        body: body.as_object().cloned().unwrap_or_default(),
    }
}

fn row(i: usize) -> [DynamicObject; 3] {
    let name = format!("worker-{i:05}");
    let mac = format!(
        "00:50:56:{:02x}:{:02x}:{:02x}",
        i >> 16 & 0xff,
        i >> 8 & 0xff,
        i & 0xff
    );
    let ip = format!("10.{}.{}.{}", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
    let role = if i % 10 < 3 {
        "control-plane"
    } else {
        "worker"
    };
    let hw = object(
        "tinkerbell.org/v1alpha1",
        "Hardware",
        &name,
        &[("type", role.to_string()), ("rack", format!("r{}", i % 40))],
        json!({
            "spec": {
                "bmcRef": { "apiGroup": "bmc.tinkerbell.org", "kind": "Machine", "name": format!("bmc-{name}") },
                "disks": [{ "device": "/dev/sda" }],
                "interfaces": [{
                    "dhcp": {
                        "arch": "x86_64", "hostname": name, "mac": mac, "name_servers": ["8.8.8.8", "1.1.1.1"],
                        "uefi": true, "lease_time": 4_294_967_294u64,
                        "ip": { "address": ip, "gateway": "10.0.0.1", "netmask": "255.0.0.0" }
                    },
                    "netboot": { "allowPXE": true, "allowWorkflow": true }
                }],
                "metadata": { "facility": { "facility_code": "onprem", "plan_slug": "c2.medium.x86" },
                              "instance": { "hostname": name, "id": mac, "operating_system": { "slug": "ubuntu", "version": "22.04" } } }
            }
        }),
    );
    let bmc = object(
        "bmc.tinkerbell.org/v1alpha1",
        "Machine",
        &format!("bmc-{name}"),
        &[],
        json!({ "spec": { "connection": {
            "host": format!("192.168.{}.{}", i >> 8 & 0xff, i & 0xff), "port": 623, "insecureTLS": true,
            "authSecretRef": { "name": format!("bmc-{name}-auth"), "namespace": "eksa-system" }
        } } }),
    );
    let secret = object(
        "v1",
        "Secret",
        &format!("bmc-{name}-auth"),
        &[],
        json!({ "type": "kubernetes.io/basic-auth", "data": { "username": "YWRtaW4=", "password": "cGFzc3dvcmQ=" } }),
    );
    [hw, bmc, secret]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing; run in release with --ignored --nocapture"]
async fn import_and_list_ten_thousand_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("perf.db")).expect("open");
    let ops: Vec<Op> = (0..ROWS).flat_map(row).map(Op::Create).collect();
    let t = Instant::now();
    let written = store.commit(ops).await.expect("commit");
    eprintln!("commit of {} objects: {:?}", written.len(), t.elapsed());

    let hw = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let list = store.list(&hw, &ListParams::default()).await.expect("list");
        best = best.min(t.elapsed());
        assert_eq!(list.items.len(), ROWS);
    }
    eprintln!("list of {ROWS} Hardware: best of 5 {best:?}");
    let t = Instant::now();
    let params = ListParams {
        namespace: Some("eksa-system".into()),
        selector: Some(Selector::parse("type=control-plane").expect("selector")),
    };
    let list = store.list(&hw, &params).await.expect("list");
    eprintln!(
        "list with selector ({} items): {:?}",
        list.items.len(),
        t.elapsed()
    );
    let t = Instant::now();
    store
        .get(&hw, "eksa-system", "worker-05000")
        .await
        .expect("get");
    eprintln!("get: {:?}", t.elapsed());
    let size = std::fs::metadata(dir.path().join("perf.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.path().join("perf.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    eprintln!("database + WAL: {} MiB", size >> 20);

    // Where a list's time goes: reading the rows, then parsing them.
    let conn = rusqlite::Connection::open(dir.path().join("perf.db")).expect("open");
    let t = Instant::now();
    let mut stmt = conn
        .prepare("SELECT data FROM objects WHERE api_version = ?1 AND kind = ?2 ORDER BY namespace, name")
        .expect("prepare");
    let rows: Vec<String> = stmt
        .query_map(["tinkerbell.org/v1alpha1", "Hardware"], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    eprintln!(
        "  SQL only: {:?} ({} bytes each)",
        t.elapsed(),
        rows[0].len()
    );
    let t = Instant::now();
    for r in &rows {
        let _: serde_json::Value = serde_json::from_str(r).expect("json");
    }
    eprintln!("  parse as Value: {:?}", t.elapsed());
}
