//! A Docker engine started by the test ([`Dockerd`]), as `../shared/LAB-NOTES.md` says it
//! starts here: its own socket, data and exec roots in a temporary directory, no default
//! bridge and no iptables rules, optionally inside a test [`Netns`] (then the bridges of its
//! networks, and every container address, live in that namespace only). Stopped by its PID
//! (SIGTERM, it stops its containers and containerd; SIGKILL after a deadline) and started
//! again on the same directories ([`Dockerd::stop`], [`Dockerd::start_again`]).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Netns, wait_until};

/// How long the engine gets to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long it gets to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// A `dockerd` the test started (see the module documentation).
#[derive(Debug)]
pub struct Dockerd {
    dir: PathBuf,
    netns: Option<String>,
    child: Option<Child>,
}

impl Dockerd {
    /// Starts an engine with its directories under a fresh directory of `/tmp`, inside
    /// `netns` when given, and waits until it answers.
    pub fn start(netns: Option<&Netns>) -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "ib-dockerd-{}-{}",
            std::process::id(),
            crate::NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut me = Self {
            dir,
            netns: netns.map(|n| n.name().to_string()),
            child: None,
        };
        me.start_again()?;
        Ok(me)
    }

    /// The engine's socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// `unix://<socket>`, for `DOCKER_HOST` and clients.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The engine's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// The last lines of the engine's log.
    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Starts the engine (again) on the same directories and waits until it answers.
    pub fn start_again(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let d = self.dir.display().to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))?;
        let mut cmd = match &self.netns {
            // Only the network namespace: `ip netns exec` would also mount a fresh /sys,
            // without the cgroup file systems dockerd needs.
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}/{ns}", ironbell_netns::NETNS_DIR))
                    .args(["--", "dockerd"]);
                c
            }
            None => Command::new("dockerd"),
        };
        let child = cmd
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--data-root",
                &format!("{d}/data"),
                "--exec-root",
                &format!("{d}/exec"),
                "--pidfile",
                &format!("{d}/dockerd.pid"),
                "-H",
                &self.host(),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let mut exited = None;
        let up = wait_until(START_TIMEOUT, || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                exited = Some(status);
                return true;
            }
            self.socket().exists() && self.docker(&["version"]).is_ok()
        });
        if let Some(status) = exited {
            self.child = None;
            return Err(io::Error::other(format!(
                "dockerd exited ({status}): {}",
                self.log_tail()
            )));
        }
        if !up {
            return Err(io::Error::other(format!(
                "dockerd did not answer within {START_TIMEOUT:?}: {}",
                self.log_tail()
            )));
        }
        Ok(())
    }

    /// Stops the engine: SIGTERM to its PID, SIGKILL if it has not exited in time.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if !wait_until(STOP_TIMEOUT, || matches!(child.try_wait(), Ok(Some(_)))) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Runs the `docker` client against this engine; its standard output, or an error with
    /// its standard error.
    pub fn docker(&self, args: &[&str]) -> io::Result<String> {
        let out = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "docker {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `docker import` of the root file system `tarball` as `tag`, with Dockerfile
    /// `changes` (`CMD [...]`).
    pub fn import(&self, tarball: &Path, tag: &str, changes: &[&str]) -> io::Result<()> {
        let mut args = vec!["import".to_string()];
        for c in changes {
            args.push("--change".into());
            args.push((*c).to_string());
        }
        args.push(tarball.display().to_string());
        args.push(tag.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.docker(&args).map(|_| ())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
        // The engine's data (images, layers) goes with it; nothing of it is mounted once
        // it has stopped.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The node and load-balancer images of `scripts/docker-images`, built (once: the script
/// keys them by its contents) under `$CARGO_TARGET_DIR/docker-images`: (node tarball,
/// haproxy tarball, key). `None`, said as for a missing tool, without `mmdebstrap`.
pub fn test_images() -> Option<(PathBuf, PathBuf, String)> {
    crate::require_tool("mmdebstrap")?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let out = Command::new("bash")
        .arg(repo.join("scripts/docker-images"))
        .arg(target.join("docker-images"))
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "scripts/docker-images: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str, i: usize| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(i))
            .map(str::to_string)
    };
    Some((
        field("node", 1)?.into(),
        field("haproxy", 1)?.into(),
        field("node", 2)?,
    ))
}

/// The command of the node image of [`test_images`] (its init: the stand-in API server).
pub const NODE_CMD: &str = r#"CMD ["/usr/local/sbin/ironbell-node-init"]"#;
/// The command of its load-balancer image (haproxy in master-worker mode).
pub const LB_CMD: &str =
    r#"CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]"#;

/// The world of a Docker test: a fresh namespace with `ip` on its loopback (where the
/// test's phone-home listens; containers reach it through their gateway), an engine in it,
/// and the images of [`test_images`] imported as `ironbell-test/node:v1` and
/// `ironbell-test/haproxy:<key>`: (namespace, engine, key). `None` without root, an
/// engine or `mmdebstrap` (said as for a missing tool).
pub fn engine_with_test_images(ip: &str) -> Option<(crate::Netns, Dockerd, String)> {
    if !crate::require_tier(crate::Tier::Docker) {
        return None;
    }
    let (node_tar, lb_tar, key) = test_images()?;
    let setup = || -> io::Result<(crate::Netns, Dockerd)> {
        let ns = crate::Netns::new()?;
        ns.ip(&["addr", "add", &format!("{ip}/32"), "dev", "lo"])?;
        let dockerd = Dockerd::start(Some(&ns))?;
        dockerd.import(&node_tar, "ironbell-test/node:v1", &[NODE_CMD])?;
        dockerd.import(&lb_tar, &format!("ironbell-test/haproxy:{key}"), &[LB_CMD])?;
        Ok((ns, dockerd))
    };
    match setup() {
        Ok((ns, dockerd)) => Some((ns, dockerd, key)),
        Err(e) => panic!("starting the test's Docker engine: {e}"),
    }
}
