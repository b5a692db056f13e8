//! The management plane as a service on the admin machine, once the cluster exists:
//! `ironbell serve all` (bare metal) or `ironbell serve cluster` (Docker: the controllers
//! alone) over the cluster's store, started so that it outlives the command (the issue's
//! "dedicated provisioning server", as MAAS users run one). The lifecycle of each provider
//! hands its bootstrap plane over to it.
//!
//! - Where systemd runs (and we are root), the unit `ironbell-plane-NAME.service` is
//!   installed in `/etc/systemd/system` and started with `systemctl enable --now`.
//! - Elsewhere (a container, CI, the lab) the same command runs as a detached process in a
//!   process group of its own, its output in `NAME/generated/plane.log` and its PID in
//!   `NAME/generated/plane.pid`.
//!
//! Either way the unit file is written to `NAME/generated/ironbell-plane-NAME.service`, for
//! the user to install on a real server, and the start is confirmed by the plane answering
//! on a port of its own (the metadata port, the Docker phone-home's); a plane that exits instead is reported with the end of its log.
//! Stopping (`delete cluster`) sends SIGTERM to the process the PID file names, after
//! checking it is an `ironbell serve` (a PID file may outlive its process), and waits for
//! it to exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbell_lifecycle::Layout;

/// How the plane runs as a service.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Manager {
    /// systemd where it runs and we are root, else a detached process.
    #[default]
    Auto,
    /// A systemd unit.
    Systemd,
    /// A detached process.
    Process,
}

/// What the service runs.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// The `ironbell` binary.
    pub exe: PathBuf,
    /// The `serve` subcommand: `all`, or `cluster` for the controllers alone.
    pub serve: &'static str,
    /// The plane's flags, after `serve SERVE --store STORE`.
    pub args: Vec<String>,
    /// systemd or a detached process.
    pub manager: Manager,
}

/// The service could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The plane's store is one a service here does not run on.
    #[error(
        "the plane runs as a service on the embedded store only; an etcd or Kubernetes store's replicas are run by their own service manager"
    )]
    EtcdStore,
    /// A file could not be written or read.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A command failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What it said.
        message: String,
    },
    /// The plane exited right after it was started.
    #[error("the plane service exited ({status}); the end of {}:\n{tail}", log.display())]
    Exited {
        /// How it exited.
        status: String,
        /// Its log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The plane did not answer in time.
    #[error("the plane service did not answer at {addr} within {secs} s (see {})", log.display())]
    NoAnswer {
        /// Where it should answer.
        addr: SocketAddr,
        /// How long we waited.
        secs: u64,
        /// Its log.
        log: PathBuf,
    },
    /// The plane did not stop.
    #[error("the plane service (PID {pid}) did not stop within {secs} s of SIGTERM")]
    Stuck {
        /// Its PID.
        pid: i32,
        /// How long we waited.
        secs: u64,
    },
}

/// The unit's name: `ironbell-plane-NAME.service`.
pub fn unit_name(cluster: &str) -> String {
    format!("ironbell-plane-{cluster}.service")
}

/// `NAME/generated/plane.pid`.
pub fn pid_file(layout: &Layout) -> PathBuf {
    layout.generated_dir().join("plane.pid")
}

/// `NAME/generated/plane.log`.
pub fn log_file(layout: &Layout) -> PathBuf {
    layout.generated_dir().join("plane.log")
}

/// The full argument list: `serve SERVE --store STORE` and the plane's flags.
fn argv(store: &str, spec: &ServiceSpec) -> Vec<String> {
    let mut args = vec![
        "serve".to_string(),
        spec.serve.to_string(),
        "--store".to_string(),
        store.to_string(),
    ];
    args.extend(spec.args.iter().cloned());
    args
}

/// Quotes `arg` for a systemd `ExecStart=` line.
fn unit_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
    {
        arg.to_string()
    } else {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The unit ironbell ships, `deploy/ironbell.service`: a cluster's plane runs the same
/// unit (readiness, watchdog, hardening) with its own description and command line.
pub const DEPLOY_UNIT: &str = include_str!("../../../deploy/ironbell.service");

/// The systemd unit of cluster `cluster`'s plane: [`DEPLOY_UNIT`] with this cluster's
/// description, `serve all` over `store` with the plane's flags instead of the environment
/// file, and `writable` (the cluster's `generated` directory: its store and machine logs)
/// as the one writable directory instead of `/var/lib/ironbell`.
pub fn unit_text(cluster: &str, store: &str, spec: &ServiceSpec, writable: &Path) -> String {
    let exec: Vec<String> = std::iter::once(spec.exe.display().to_string())
        .chain(argv(store, spec))
        .map(|a| unit_quote(&a))
        .collect();
    let writable = std::path::absolute(writable).unwrap_or_else(|_| writable.to_path_buf());
    let mut out = format!(
        "# The management plane of cluster {cluster}: ironbell's boot, metadata, workflow and\n\
         # BMC services and the cluster controllers over the cluster's store. Written by\n\
         # `ironbell create cluster` from deploy/ironbell.service.\n"
    );
    // The shipped unit's own header comment is about installing it by hand: left out.
    let body = DEPLOY_UNIT
        .find("[Unit]")
        .map_or(DEPLOY_UNIT, |at| &DEPLOY_UNIT[at..]);
    for line in body.lines() {
        let key = line.split_once('=').map(|(k, _)| k);
        let replaced = match key {
            Some("Description") => {
                format!("Description=ironbell management plane of cluster {cluster}")
            }
            Some("ExecStart") => format!("ExecStart={}", exec.join(" ")),
            Some("EnvironmentFile" | "StateDirectoryMode") => continue,
            Some("StateDirectory") => {
                format!(
                    "ReadWritePaths={}",
                    unit_quote(&writable.display().to_string())
                )
            }
            _ => line.to_string(),
        };
        out.push_str(&replaced);
        out.push('\n');
    }
    out
}

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir() && nix::unistd::Uid::effective().is_root()
}

fn use_systemd(manager: Manager) -> bool {
    match manager {
        Manager::Auto => systemd_runs(),
        Manager::Systemd => true,
        Manager::Process => false,
    }
}

fn write(path: &Path, text: &str) -> Result<(), ServiceError> {
    std::fs::write(path, text).map_err(|source| ServiceError::File {
        what: "writing",
        path: path.to_path_buf(),
        source,
    })
}

async fn systemctl(args: &[&str]) -> Result<(), ServiceError> {
    let out = tokio::process::Command::new("systemctl")
        .args(args)
        .output()
        .await
        .map_err(|e| ServiceError::Command {
            command: format!("systemctl {}", args.join(" ")),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ServiceError::Command {
            command: format!("systemctl {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The PID in `NAME/generated/plane.pid`, if that process still runs `ironbell serve`.
pub fn running(layout: &Layout) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(layout))
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|pid| *pid > 1)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let serves = args
        .windows(2)
        .any(|w| w[0] == b"serve" && (w[1] == b"all" || w[1] == b"cluster"));
    // A zombie has an empty command line: it no longer serves.
    serves.then_some(pid)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts the plane of `layout`'s cluster over `store` (see the module docs) and waits
/// until it answers at `probe`. Does nothing when it runs already.
pub async fn start(
    layout: &Layout,
    store: &str,
    spec: &ServiceSpec,
    probe: SocketAddr,
    timeout: Duration,
) -> Result<String, ServiceError> {
    let cluster = layout.name();
    let unit = unit_text(cluster, store, spec, &layout.generated_dir());
    let local_unit = layout.generated_dir().join(unit_name(cluster));
    write(&local_unit, &unit)?;
    let log = log_file(layout);
    if use_systemd(spec.manager) {
        let installed = Path::new("/etc/systemd/system").join(unit_name(cluster));
        write(&installed, &unit)?;
        systemctl(&["daemon-reload"]).await?;
        systemctl(&["enable", "--now", &unit_name(cluster)]).await?;
        answer(probe, timeout, None, &log).await?;
        return Ok(format!("systemd unit {}", unit_name(cluster)));
    }
    if let Some(pid) = running(layout) {
        return Ok(format!("process {pid} (already running)"));
    }
    let log_out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| ServiceError::File {
            what: "opening",
            path: log.clone(),
            source,
        })?;
    let log_err = log_out.try_clone().map_err(|source| ServiceError::File {
        what: "opening",
        path: log.clone(),
        source,
    })?;
    let mut child = tokio::process::Command::new(&spec.exe)
        .args(argv(store, spec))
        .stdin(std::process::Stdio::null())
        .stdout(log_out)
        .stderr(log_err)
        .env(
            "IRONBELL_LOG",
            std::env::var("IRONBELL_LOG").unwrap_or_else(|_| "info".into()),
        )
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| ServiceError::Command {
            command: format!("{} serve all", spec.exe.display()),
            message: e.to_string(),
        })?;
    let Some(pid) = child.id() else {
        return Err(ServiceError::Exited {
            status: "at once".into(),
            log: log.clone(),
            tail: tail(&log, 20),
        });
    };
    write(&pid_file(layout), &format!("{pid}\n"))?;
    answer(probe, timeout, Some(&mut child), &log).await?;
    Ok(format!("process {pid}, log {}", log.display()))
}

/// Waits until something accepts a TCP connection at `probe`, or `child` exits.
async fn answer(
    probe: SocketAddr,
    timeout: Duration,
    mut child: Option<&mut tokio::process::Child>,
    log: &Path,
) -> Result<(), ServiceError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(child) = child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(ServiceError::Exited {
                status: status.to_string(),
                log: log.to_path_buf(),
                tail: tail(log, 20),
            });
        }
        if tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(probe),
        )
        .await
        .is_ok_and(|r| r.is_ok())
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ServiceError::NoAnswer {
                addr: probe,
                secs: timeout.as_secs(),
                log: log.to_path_buf(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stops the plane of `layout`'s cluster, if it runs: the systemd unit, or the process of
/// the PID file (SIGTERM, then waits up to `timeout`). Returns what was stopped.
pub async fn stop(
    layout: &Layout,
    manager: Manager,
    timeout: Duration,
) -> Result<Option<String>, ServiceError> {
    let cluster = layout.name();
    let installed = Path::new("/etc/systemd/system").join(unit_name(cluster));
    if use_systemd(manager) && installed.is_file() {
        systemctl(&["disable", "--now", &unit_name(cluster)]).await?;
        let _ = std::fs::remove_file(&installed);
        let _ = systemctl(&["daemon-reload"]).await;
        return Ok(Some(format!("systemd unit {}", unit_name(cluster))));
    }
    let Some(pid) = running(layout) else {
        let _ = std::fs::remove_file(pid_file(layout));
        return Ok(None);
    };
    let target = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + timeout;
    while running(layout).is_some() {
        if Instant::now() >= deadline {
            return Err(ServiceError::Stuck {
                pid,
                secs: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_file(pid_file(layout));
    Ok(Some(format!("process {pid}")))
}

/// The `--store` argument of the plane's service: `sqlite:ABSOLUTE-PATH`.
pub fn store_arg(spec: &crate::spec::StoreSpec) -> Result<String, ServiceError> {
    match spec {
        crate::spec::StoreSpec::Sqlite(path) => {
            let abs = std::path::absolute(path).map_err(|source| ServiceError::File {
                what: "resolving",
                path: path.clone(),
                source,
            })?;
            Ok(format!("sqlite:{}", abs.display()))
        }
        crate::spec::StoreSpec::Etcd(_) | crate::spec::StoreSpec::Kube(_) => {
            Err(ServiceError::EtcdStore)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `systemd-analyze verify` says of `unit` (empty: nothing), with `exe` replaced
    /// by a binary that exists (verify checks ExecStart's). Skipped (empty) without
    /// systemd-analyze, which `scripts/setup` installs; the CLI's test of
    /// deploy/ironbell.service requires it.
    fn verify(unit: &str, exe: &Path) -> String {
        let Ok(dir) = tempfile::tempdir() else {
            return "no temporary directory".into();
        };
        let path = dir.path().join("ironbell-plane-c1.service");
        let unit = unit.replace(&exe.display().to_string(), "/bin/true");
        if std::fs::write(&path, unit).is_err() {
            return "cannot write the unit".into();
        }
        match std::process::Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
        {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                if out.status.success() { "" } else { "failed" }
            ),
            Err(_) => String::new(),
        }
    }

    #[test]
    fn the_unit_runs_serve_all_on_the_store_with_the_planes_flags() {
        let spec = ServiceSpec {
            exe: "/usr/local/bin/ironbell".into(),
            serve: "all",
            args: vec![
                "--public-ip".into(),
                "10.0.0.2".into(),
                "--extra-kernel-args".into(),
                "a b".into(),
            ],
            manager: Manager::Process,
        };
        let generated = Path::new("/srv/c1/generated");
        let unit = unit_text("c1", "sqlite:/srv/c1/generated/c1.db", &spec, generated);
        assert!(unit.contains(
            "ExecStart=/usr/local/bin/ironbell serve all --store sqlite:/srv/c1/generated/c1.db --public-ip 10.0.0.2 --extra-kernel-args \"a b\"\n"
        ), "{unit}");
        // The shipped unit's settings, this plane's description and directory.
        for line in [
            "Description=ironbell management plane of cluster c1\n",
            "Restart=on-failure\n",
            "Type=notify\n",
            "WatchdogSec=30\n",
            "ProtectSystem=strict\n",
            "ReadWritePaths=/srv/c1/generated\n",
        ] {
            assert!(unit.contains(line), "{line}{unit}");
        }
        for gone in ["EnvironmentFile", "StateDirectory", "IRONBELL_PUBLIC_IP"] {
            assert!(!unit.contains(gone), "{gone}: {unit}");
        }
        assert_eq!(unit.matches("ExecStart=").count(), 1);
        let said = verify(&unit, &spec.exe);
        assert!(said.is_empty(), "systemd-analyze verify: {said}\n{unit}");
        assert_eq!(unit_name("c1"), "ironbell-plane-c1.service");
    }
}
