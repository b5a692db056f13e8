//! Crash safety: a child process writes in a loop and reports each commit after it returns;
//! the parent kills it with SIGKILL at different moments, reopens the file, and checks that
//! the database is intact and holds everything the child reported.
//!
//! The child is this test binary itself, re-run with `IRONBELL_DURABILITY_CHILD` set so
//! that only [`durability_child`] does anything.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{ListParams, Op, Store};
use ironbell_store_sqlite::SqliteStore;
use serde_json::json;

const CHILD_ENV: &str = "IRONBELL_DURABILITY_CHILD";
const ROUNDS: usize = 5;

fn types() -> TypeKey {
    TypeKey::new("durability.ironbell.dev/v1", "Item")
}

fn item(name: &str, n: u64) -> DynamicObject {
    let mut obj = DynamicObject::new(types(), ObjectMeta::named("default", name));
    obj.set_field("spec", &json!({ "n": n, "pad": "x".repeat(200) }))
        .expect("json field");
    obj
}

/// The writer, active only in the child process: creates objects (singly and in batches of
/// five) and updates a progress object, printing each after its commit returned.
#[test]
fn durability_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (round, path) = spec.split_once(':').expect("ROUND:PATH");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(path).expect("open");
        let progress = format!("progress-{round}");
        let mut prog = store
            .create(item(&progress, 0))
            .await
            .expect("create progress");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut i: u64 = 0;
        while Instant::now() < deadline {
            i += 1;
            if i.is_multiple_of(3) {
                let names: Vec<String> = (0..5).map(|j| format!("r{round}-{i}-{j}")).collect();
                let ops = names.iter().map(|n| Op::Create(item(n, i))).collect();
                store.commit(ops).await.expect("commit batch");
                for n in names {
                    println!("CREATED {n}");
                }
            } else if i.is_multiple_of(4) {
                prog.set_field("spec", &json!({ "n": i }))
                    .expect("json field");
                prog = store.update(prog).await.expect("update progress");
                println!("PROGRESS {progress} {i}");
            } else {
                let n = format!("r{round}-{i}");
                store.create(item(&n, i)).await.expect("create");
                println!("CREATED {n}");
            }
        }
    });
}

#[derive(Default)]
struct Reported {
    created: Vec<String>,
    progress: BTreeMap<String, u64>,
}

impl Reported {
    fn take(&mut self, line: &str) {
        if let Some(name) = line.strip_prefix("CREATED ") {
            self.created.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("PROGRESS ") {
            let (name, n) = rest.split_once(' ').expect("PROGRESS name n");
            self.progress
                .insert(name.to_string(), n.parse().expect("progress count"));
        }
    }
}

/// Opens the file directly and checks SQLite's integrity and the store's invariants.
fn check_file(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open with rusqlite");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    let meta = |k: &str| -> i64 {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .expect("meta")
    };
    let (revision, compacted) = (meta("revision"), meta("compacted"));
    let (events, max_event): (i64, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(*), MAX(rev) FROM events WHERE rev > ?1",
            [compacted],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("events");
    assert_eq!(
        max_event.unwrap_or(compacted),
        revision,
        "history ends at the revision"
    );
    assert_eq!(events, revision - compacted, "history has no gaps");
    let (objects, distinct, max_rv): (i64, i64, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT rv), MAX(rv) FROM objects",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("objects");
    assert_eq!(objects, distinct, "every object has its own revision");
    assert!(max_rv.unwrap_or(0) <= revision);
    let mut stmt = conn
        .prepare("SELECT o.rv, e.data FROM objects o JOIN events e ON e.rev = o.rv")
        .expect("prepare");
    let rows: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows.len() as i64,
        objects,
        "each object's last write is in history"
    );
    for (rv, data) in rows {
        let obj: DynamicObject = serde_json::from_str(&data).expect("object JSON");
        assert_eq!(obj.metadata.resource_version, Some(rv.to_string()));
    }
}

#[test]
fn killed_writer_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let exe = std::env::current_exe().expect("current_exe");
    let mut reported = Reported::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "durability_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{round}:{}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Kill after a different number of acknowledged writes each round, and a different
        // pause after the last one read, so the kill lands at varied points of a commit.
        let kill_after = 15 + round * 37;
        let mut seen = 0;
        let started = Instant::now();
        for line in lines.by_ref() {
            let line = line.expect("read child output");
            if line.starts_with("CREATED ") || line.starts_with("PROGRESS ") {
                seen += 1;
            }
            reported.take(&line);
            if seen >= kill_after {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "child too slow"
            );
        }
        assert!(
            seen >= kill_after,
            "child stopped early after {seen} writes"
        );
        std::thread::sleep(Duration::from_micros(300 * round as u64 + 50));
        child.kill().expect("SIGKILL the child");
        child.wait().expect("reap the child");
        // What the child printed before it died was acknowledged too.
        for line in lines {
            reported.take(&line.expect("read child output"));
        }

        check_file(&path);
        rt.block_on(async {
            let store = SqliteStore::open(&path).expect("reopen");
            let list = store
                .list(&types(), &ListParams::default())
                .await
                .expect("list");
            let present: std::collections::HashSet<&str> =
                list.items.iter().map(|o| o.name()).collect();
            for name in &reported.created {
                assert!(
                    present.contains(name.as_str()),
                    "round {round}: {name} was lost"
                );
            }
            for (name, n) in &reported.progress {
                let obj = store
                    .get(&types(), "default", name)
                    .await
                    .expect("progress");
                let stored = obj.field_value("spec").unwrap_or_default()["n"]
                    .as_u64()
                    .expect("n");
                assert!(
                    stored >= *n,
                    "round {round}: {name} went back from {n} to {stored}"
                );
            }
            // The store keeps working after recovery.
            store
                .create(item(&format!("after-{round}"), 0))
                .await
                .expect("write after recovery");
        });
    }
    assert!(reported.created.len() >= ROUNDS * 15);
    eprintln!(
        "{} creates and {} progress objects survived {ROUNDS} kills",
        reported.created.len(),
        reported.progress.len()
    );
}
