//! Two processes serving from one store: only one runs controllers. A second `serve bmc`
//! (or `serve workflow`, or `serve all`) on the same database exits at once with an error
//! naming the first one's PID; once the first is gone, the next one takes over.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::wait_for;
use ironbell_testbed::{ChildGuard, Netns};

mod common;

/// Runs `ironbell ARGS` in `ns` and waits (at most 30 s) for it to exit on its own.
fn exits(ns: &Netns, args: &[&str]) -> Output {
    let mut guard = ns
        .spawn(env!("CARGO_BIN_EXE_ironbell"), args)
        .expect("start ironbell");
    let start = Instant::now();
    loop {
        let child = guard.child().expect("child");
        if child.try_wait().expect("try_wait").is_some() {
            return guard.finish().expect("output");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ironbell {args:?} kept running: the controller lock did not stop it"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `ironbell --db DB serve bmc` in `ns` and waits until it holds the controller
/// lock (its PID in `lock`).
fn serve_bmc(ns: &Netns, db: &str, lock: &Path) -> (ChildGuard, String) {
    let child = ns
        .spawn(
            env!("CARGO_BIN_EXE_ironbell"),
            &["--db", db, "serve", "bmc"],
        )
        .expect("serve bmc");
    let pid = child.id().expect("pid").to_string();
    wait_for("serve bmc to hold the controller lock", || {
        std::fs::read_to_string(lock).is_ok_and(|t| t.trim() == pid)
    });
    (child, pid)
}

#[test]
fn a_second_process_does_not_run_controllers_on_the_same_store() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let lock = dir.path().join("store.db.lock");
    let db_arg = db.display().to_string();
    let ns = Netns::new().expect("netns");

    let (first, first_pid) = serve_bmc(&ns, &db_arg, &lock);

    for args in [
        &["--db", &db_arg, "serve", "bmc"][..],
        &[
            "--db",
            &db_arg,
            "serve",
            "workflow",
            "--grpc-addr",
            "127.0.0.1:0",
        ],
    ] {
        let out = exits(&ns, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "(PID {first_pid}) already runs controllers on this store"
            )),
            "{args:?}: {stderr}"
        );
    }

    // The first one stops (killed, as a crash would): the lock goes with it.
    drop(first);
    serve_bmc(&ns, &db_arg, &lock);
}
