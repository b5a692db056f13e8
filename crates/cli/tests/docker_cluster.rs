//! `ironbell create|upgrade|delete cluster -f docker-cluster.yaml` through the binary, on a
//! real Docker engine (Debian's `docker.io`) the test starts inside a network namespace of
//! its own, as `../shared/LAB-NOTES.md` says, with the node and load-balancer images of
//! `scripts/docker-images`. The command runs in the namespace too, its phone-home on an
//! address of the namespace's loopback that the containers reach through their gateway.
//! Nothing leaves the machine.
//!
//! One create proves several things (CI time is short):
//!
//! - the Docker validations refuse the spec while its images are missing, naming each;
//! - the engine stopped while the create waits for its machines: the command fails with an
//!   error naming the engine, and the journal keeps what was done;
//! - the engine started again, the same command resumes, and a `kill -9` of it while the
//!   containers are being made leaves a state the next run finishes: one control plane and
//!   two workers ready, one container each (no duplicate), the load balancer;
//! - the plane then runs on as a service (`ironbell serve cluster`): a node container the
//!   engine stopped is started again;
//! - upgrade to a new Kubernetes version (a new node image): every node container replaced;
//! - delete leaves no container, network or volume with the cluster's kind label, and stops
//!   the service.
//!
//! The time to a ready 1+2 cluster and the command's CPU share are `scripts/bench-docker`'s.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ironbell_testbed::{ChildGuard, Dockerd, Netns, wait_until};

/// The phone-home's address, on the namespace's loopback.
const PHONE_HOME: &str = "10.250.0.1:50062";
const DEADLINE: Duration = Duration::from_secs(240);
const LABEL: &str = "io.x-k8s.kind.cluster=c1";
/// The Docker spec of cluster `c1` as `ironbell generate clusterconfig` writes it, with
/// stacked etcd, two workers and Kubernetes `version`.
fn spec(version: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .args(["generate", "clusterconfig", "c1", "--provider", "docker"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout)
        .replace("  externalEtcdConfiguration:\n    count: 1\n", "")
        .replace(
            "  - count: 1\n    name: md-0\n",
            "  - count: 2\n    name: md-0\n",
        );
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in &mut lines {
        if l.starts_with("  kubernetesVersion: ") {
            *l = format!("  kubernetesVersion: '{version}'");
        }
    }
    assert!(
        !text.contains("externalEtcd") && text.contains("count: 2"),
        "{text}"
    );
    lines.join("\n") + "\n"
}

/// The test's world: the namespace, its engine, the folder with the spec.
struct World {
    ns: Netns,
    dockerd: Dockerd,
    dir: tempfile::TempDir,
    runs: usize,
}

impl Drop for World {
    /// The plane's service, if a failed test left it running (by the PID its file names).
    fn drop(&mut self) {
        if let Some(pid) = self.service_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

impl World {
    /// The PID of the plane's service, while its process runs.
    fn service_pid(&self) -> Option<i32> {
        let file = self.dir.path().join("c1/generated/plane.pid");
        let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        alive.then_some(pid)
    }

    fn spec_path(&self) -> PathBuf {
        self.dir.path().join("c1.yaml")
    }

    fn write_spec(&self, version: &str) {
        std::fs::write(self.spec_path(), spec(version)).unwrap();
    }

    /// `ironbell VERB cluster -f c1.yaml` in the namespace, its output to a file of its own.
    fn command(&mut self, verb: &str) -> (Command, PathBuf) {
        self.runs += 1;
        let log = self
            .dir
            .path()
            .join(format!("run-{}-{verb}.log", self.runs));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = self.ns.command(env!("CARGO_BIN_EXE_ironbell"));
        cmd.args(["-v", "1", verb, "cluster", "-f"])
            .arg(self.spec_path())
            .args([
                "--docker-host",
                &self.dockerd.host(),
                "--docker-phone-home",
                PHONE_HOME,
                "--timeout",
                "4m",
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        (cmd, log)
    }

    /// Runs `ironbell VERB cluster` to the end: its exit status and output.
    fn run(&mut self, verb: &str) -> (bool, String) {
        let (mut cmd, log) = self.command(verb);
        let status = cmd.status().unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!("--- ironbell {verb} cluster ({status}):\n{text}");
        (status.success(), text)
    }

    /// Starts `ironbell VERB cluster` in the background.
    fn spawn(&mut self, verb: &str) -> (ChildGuard, PathBuf) {
        let (mut cmd, log) = self.command(verb);
        let child: Child = cmd.spawn().unwrap();
        (ChildGuard::new(child), log)
    }

    /// The cluster's containers (by kind's label): name → (role, image).
    fn containers(&self) -> Vec<(String, String, String)> {
        let out = self
            .dockerd
            .docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("label={LABEL}"),
                "--format",
                r#"{{.Names}} {{.Label "io.x-k8s.kind.role"}} {{.Image}}"#,
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((
                    f.next()?.to_string(),
                    f.next()?.to_string(),
                    f.next()?.to_string(),
                ))
            })
            .collect()
    }

    fn nodes(&self) -> BTreeSet<String> {
        self.containers()
            .into_iter()
            .filter(|(_, role, _)| role != "external-load-balancer")
            .map(|(name, _, _)| name)
            .collect()
    }

    /// Waits until more than `than` node containers exist.
    fn wait_for_nodes(&self, than: usize) {
        assert!(
            wait_until(DEADLINE, || self.nodes().len() > than),
            "no more than {than} node containers: {:?}",
            self.containers()
        );
    }

    /// Checks one control plane, two workers, one load balancer, every node on `image`.
    fn check_cluster(&self, image: &str) {
        let all = self.containers();
        let count = |role: &str| all.iter().filter(|(_, r, _)| r == role).count();
        assert_eq!(count("control-plane"), 1, "{all:?}");
        assert_eq!(count("worker"), 2, "{all:?}");
        assert_eq!(count("external-load-balancer"), 1, "{all:?}");
        for (name, role, img) in &all {
            if role != "external-load-balancer" {
                assert_eq!(img, image, "{name}");
            }
        }
        let running = self
            .dockerd
            .docker(&[
                "ps",
                "--filter",
                &format!("label={LABEL}"),
                "--format",
                "{{.Names}}",
            ])
            .unwrap();
        assert_eq!(running.lines().count(), 4, "not all running: {running}");
    }

    /// The node images the spec's Kubernetes `version` names (its rendered objects').
    fn rendered_images(&mut self, version: &str) -> Vec<String> {
        self.write_spec(version);
        let out = Command::new(env!("CARGO_BIN_EXE_ironbell"))
            .args(["generate", "manifests", "-f"])
            .arg(self.spec_path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut images: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("customImage: "))
            .map(str::to_string)
            .collect();
        images.sort();
        images.dedup();
        images
    }
}

/// The `❌` lines of `text` naming a missing image: the images.
fn missing_images(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("not pulled"))
        .filter_map(|l| {
            l.split("Image ")
                .nth(1)?
                .split(" is present")
                .next()
                .map(str::to_string)
        })
        .collect()
}

fn output_of(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn a_docker_cluster_through_the_cli_survives_a_stopped_engine_and_kill_9_upgrades_and_deletes() {
    let ip = PHONE_HOME.split(':').next().unwrap();
    let Some((ns, dockerd, key)) = ironbell_testbed::engine_with_test_images(ip) else {
        return;
    };
    let mut w = World {
        ns,
        dockerd,
        dir: tempfile::tempdir().unwrap(),
        runs: 0,
    };
    let v2_images = w.rendered_images("1.32");
    let v1_images = w.rendered_images("1.31");
    assert_eq!(v1_images.len(), 1, "{v1_images:?}");
    assert_ne!(v1_images, v2_images);

    // The images the spec names are not there: refused, each named, nothing made.
    let (ok, text) = w.run("create");
    assert!(!ok);
    let missing = missing_images(&text);
    assert!(missing.contains(&v1_images[0]), "{missing:?}\n{text}");
    assert!(
        missing.iter().any(|i| i.contains("/haproxy:")),
        "{missing:?}"
    );
    assert!(w.containers().is_empty());
    let lb = format!("ironbell-test/haproxy:{key}");
    for image in &missing {
        let from = if image.contains("/haproxy:") {
            &lb
        } else {
            "ironbell-test/node:v1"
        };
        w.dockerd.docker(&["tag", from, image]).unwrap();
    }
    w.dockerd
        .docker(&["tag", "ironbell-test/node:v1", &v2_images[0]])
        .unwrap();

    // The engine stops while the create waits for its machines: a clear error naming the
    // engine; the journal keeps what was done.
    let (mut create, log) = w.spawn("create");
    w.wait_for_nodes(0);
    w.dockerd.stop();
    let child = create.child().unwrap();
    let done = wait_until(DEADLINE, || child.try_wait().unwrap().is_some());
    assert!(done, "create still running with the engine stopped");
    let status = child.try_wait().unwrap().unwrap();
    let text = output_of(&log);
    eprintln!("--- create with the engine stopped ({status}):\n{text}");
    assert!(!status.success());
    let socket = w.dockerd.socket().display().to_string();
    assert!(
        text.contains("is unreachable") && text.contains(&socket),
        "{text}"
    );
    assert!(text.contains("resume at workload-cluster-init"), "{text}");
    drop(create);

    // Started again: the same command resumes; killed with SIGKILL while it makes the
    // containers, and run again, it finishes without duplicates.
    w.dockerd.start_again().unwrap();
    let before = w.nodes().len();
    let (mut create, log) = w.spawn("create");
    w.wait_for_nodes(before);
    let pid = create.id().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = create.child().unwrap().wait();
    eprintln!("--- create killed:\n{}", output_of(&log));
    drop(create);
    let (ok, text) = w.run("create");
    assert!(ok, "{text}");
    assert!(text.contains("Cluster created"), "{text}");
    // Resumed: the tasks finished before were not run again.
    assert!(text.contains("resuming `create` of cluster c1"), "{text}");
    assert!(text.contains("done earlier"), "{text}");
    w.check_cluster(&v1_images[0]);
    let config = w.dir.path().join("c1/c1-eks-a-cluster.yaml");
    assert!(config.is_file(), "no {}", config.display());
    // The plane runs on as a service (`serve cluster`): a node container the engine
    // stopped is started again.
    let service = w
        .service_pid()
        .unwrap_or_else(|| panic!("no plane service:\n{text}"));
    let node = w.nodes().into_iter().next().unwrap();
    w.dockerd.docker(&["stop", "-t", "1", &node]).unwrap();
    let running = || {
        w.dockerd
            .docker(&["inspect", "-f", "{{.State.Running}}", &node])
            .is_ok_and(|r| r.trim() == "true")
    };
    assert!(wait_until(DEADLINE, running), "{node} not started again");

    // Upgrade to 1.32: a new node image, every node container replaced.
    let old = w.nodes();
    w.write_spec("1.32");
    let (ok, text) = w.run("upgrade");
    assert!(ok, "{text}");
    w.check_cluster(&v2_images[0]);
    let new = w.nodes();
    assert!(old.is_disjoint(&new), "{old:?} {new:?}");

    // Delete: nothing with the cluster's label is left on the engine.
    let (ok, text) = w.run("delete");
    assert!(ok, "{text}");
    assert!(w.service_pid().is_none(), "the plane service still runs");
    let cmdline = std::fs::read(format!("/proc/{service}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("serve"),
        "the plane service {service} still runs"
    );
    assert!(w.containers().is_empty(), "{:?}", w.containers());
    for what in ["network", "volume"] {
        let left = w
            .dockerd
            .docker(&[what, "ls", "-q", "--filter", &format!("label={LABEL}")])
            .unwrap();
        assert!(left.trim().is_empty(), "{what}s left: {left}");
    }
}
