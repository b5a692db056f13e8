//! Shared by the tests that run `ironbell serve ...` inside a network namespace; each test
//! binary uses part of it.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use ironbell_testbed::{ChildGuard, Netns};

/// The server's address on the test network.
pub const SERVER_IP: &str = "192.0.2.1";

/// Starts `ironbell serve boot` in `ns` on `interface` with the store `db` and HookOS
/// artifacts from `artifacts`, plus `extra` flags, and returns once `/healthz` answers
/// (polled from `ns` itself, since a client may have no address yet).
pub fn start_boot_service(
    ns: &Netns,
    db: &Path,
    interface: &str,
    artifacts: &Path,
    extra: &[&str],
) -> ChildGuard {
    let (db, artifacts) = (db.display().to_string(), artifacts.display().to_string());
    let mut args = vec![
        "--db",
        &db,
        "serve",
        "boot",
        "--public-ip",
        SERVER_IP,
        "--interface",
        interface,
        "--artifacts-dir",
        &artifacts,
    ];
    args.extend_from_slice(extra);
    let server = ns
        .spawn(env!("CARGO_BIN_EXE_ironbell"), &args)
        .expect("start ironbell");
    let health = format!("http://{SERVER_IP}:7171/healthz");
    wait_for("ironbell's HTTP service", || {
        ns.output("curl", &["-sf", "-m", "1", &health])
            .is_ok_and(|o| o.status.success())
    });
    server
}

/// Polls `ok` every 100 ms; fails the test after 30 s.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
