//! `ironbell node up` as the tests that play control-plane machines start and kill it
//! (`native.rs`, `native_cluster.rs`); included with `#[path]`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `ironbell node up --config CONFIG` in namespace `ns`, in a process group of its
/// own (so that [`kill_group`] takes its etcd along), appending its log to `log`.
pub fn node_up(ns: &str, config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("node log");
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_ironbell"),
            "node",
            "up",
            "--config",
        ])
        .arg(config)
        .env("IRONBELL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("node up")
}

/// Kills `child`'s process group (the replica and its etcd member), SIGKILL, by its PGID,
/// and reaps it.
pub fn kill_group(mut child: Child) {
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
}
