//! # ironbell-lab
//!
//! `ironbell lab`: virtual bare metal to try ironbell on, and the end-to-end proof that it
//! works. `lab up` builds a private network (a network namespace with a bridge, no uplink),
//! starts QEMU machines on it (BIOS and UEFI, software emulation) each behind a virtual BMC
//! that speaks Redfish and/or IPMI ([`ironbell_vbmc`]), runs ironbell's services on the
//! bridge, imports a generated `hardware.csv` and creates a Workflow per machine from
//! `templates/lab-os.yaml` (in process, through `ironbell-ops`, the same operations as
//! `ironbell hardware import` and `ironbell apply`), and follows every machine — power,
//! DHCP, iPXE, HookOS, each action, the reboot, the installed OS reading its metadata and
//! phoning home —
//! until all are done. It then prints the time each phase took. `lab down` stops what `lab up` started (by PID) and
//! removes the namespace and the lab directory.
//!
//! What it is not: a test harness with mocks. Every piece is the real one: ironbell's own
//! binary runs the services (in their own process, in the lab's namespace), HookOS and the OS image are the ones the project builds, and
//! the BMCs are driven through the same BMC controllers as real servers.
//!
//! `lab up --machines-only` stops after the network, the machines (powered off) and their
//! BMCs, and writes the hardware.csv: no service runs and nothing is imported, so that a
//! plane started by hand or by `ironbell create cluster` (inside the lab's namespace, at
//! [`plan::SERVER_IP`]) drives the machines as it would real ones.
//!
//! [`cluster`] writes the EKS Anywhere cluster spec a user would give such a plane for the
//! lab's machines (`crates/cli/tests/lab_cluster.rs` provisions, upgrades, scales and
//! deletes a cluster with it).
//!
//! Start reading at [`up`]; the layout (names, MACs, addresses, generated files) is in
//! [`plan`], the QEMU command line in [`vm`], the progress markers in [`progress`].

pub mod cluster;
pub mod net;
pub mod plan;
pub mod process;
pub mod progress;
pub mod replicas;
pub mod state;
mod up;
pub mod vbmc;
pub mod vm;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use up::{MachineSummary, Summary, import_and_apply, up, write_inputs};

/// The embedded default template (`templates/lab-os.yaml`).
pub const LAB_TEMPLATE: &str = include_str!("../../../templates/lab-os.yaml");

/// What went wrong in the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something needed is missing or a setup step failed.
    #[error("{0}")]
    Setup(String),
    /// A process the lab started died.
    #[error("{role} exited (log {log}):\n{tail}")]
    ProcessDied {
        /// Which process.
        role: String,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// An operation the lab ran in process (`hardware import`, `apply` of its files)
    /// failed.
    #[error("{command} failed:\n{output}")]
    Command {
        /// The command.
        command: String,
        /// What it printed.
        output: String,
    },
    /// There is no lab in the directory.
    #[error("no lab in {0} (start one with `ironbell lab up`)")]
    NoLab(PathBuf),
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(String),
}

impl LabError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Settings of `lab up`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The lab's name (several labs can exist side by side).
    pub name: String,
    /// The lab's directory (state, store, disks, logs).
    pub dir: PathBuf,
    /// The machines (in hardware.csv).
    pub machines: Vec<plan::MachineSpec>,
    /// Machines on the bridge that are not in hardware.csv (reservation mode ignores them).
    pub strangers: usize,
    /// Directory with HookOS's `vmlinuz-x86_64` and `initramfs-x86_64`.
    pub hookos_dir: PathBuf,
    /// The OS image to install (`lab-os.raw.zst` from `os-image/build.sh`).
    pub os_image: PathBuf,
    /// The `ironbell` binary that runs the services and virtual BMCs.
    pub ironbell: PathBuf,
    /// Directory of the iPXE binaries.
    pub ipxe_dir: PathBuf,
    /// The Template to install with (default: [`LAB_TEMPLATE`]).
    pub template: Option<PathBuf>,
    /// Memory of each machine (MiB).
    pub memory_mib: u32,
    /// How long to wait for every machine.
    pub timeout: Duration,
    /// Follow the machines until done (otherwise return once everything is started).
    pub wait: bool,
    /// ironbell replicas (1: one service on SQLite; 2 to [`replicas::MAX_REPLICAS`]:
    /// replicas on a three-member etcd, see [`replicas`]).
    pub replicas: usize,
    /// Machines only: the network, the machines (powered off) and their BMCs, and a
    /// hardware.csv for them; no ironbell service, nothing imported, no Workflow. What a
    /// plane started elsewhere (`ironbell create cluster`) runs against, as on real
    /// hardware. HookOS and the OS image are not needed.
    pub machines_only: bool,
    /// Serve the web dashboard there too (`serve all --dashboard`; the first replica's).
    pub dashboard: Option<std::net::SocketAddr>,
}

/// The network namespace of the lab `name`.
pub fn netns_name(name: &str) -> String {
    format!("ironbell-lab-{name}")
}

/// Stops every process the lab in `dir` started, deletes its network namespace and its
/// directory. Prints what it does to `out`.
pub fn down(dir: &Path, out: &mut dyn std::io::Write) -> Result<(), LabError> {
    let state = state::LabState::load(dir)?.ok_or_else(|| LabError::NoLab(dir.to_path_buf()))?;
    // Services first (so that nothing acts on machines going away), then machines, BMCs.
    let mut procs = state.processes.clone();
    procs.sort_by_key(|p| match p.role.as_str() {
        r if r.starts_with("ironbell") => 0,
        r if r.starts_with("qemu") => 1,
        "vbmc" => 2,
        r if r.starts_with("etcd") => 4,
        _ => 3,
    });
    for p in &procs {
        if p.is_running() {
            let _ = writeln!(out, "stopping {} (pid {})", p.role, p.pid);
            p.stop(Duration::from_secs(5));
        }
    }
    for netns in state.extra_netns.iter().chain([&state.netns]) {
        let _ = writeln!(out, "removing network namespace {netns}");
        net::delete(netns)?;
    }
    let _ = writeln!(out, "removing {}", dir.display());
    std::fs::remove_dir_all(dir).map_err(|e| LabError::io(format!("removing {}", dir.display()), e))
}
