//! `ironbell create|upgrade|delete cluster -f docker-cluster.yaml --node-bootstrapper native`
//! through the binary, on a real Docker engine the test starts in a network namespace of its
//! own (as `docker_cluster.rs` does, with the images of `scripts/docker-images`, whose node
//! image has Debian's etcd-server): the management plane moves from the admin machine into
//! the cluster's control-plane containers, as EKS Anywhere's Docker provider moves CAPD into
//! the cluster it made. Nothing leaves the machine.
//!
//! - create: three control-plane containers, each running `ironbell node up` (this test's
//!   binary, mounted read-only by the lifecycle), form the cluster's plane (an etcd member
//!   and a replica each, the replicas running the Docker controllers on the engine whose
//!   socket they mount), a worker phones home; the cluster's objects move onto that plane
//!   (each kind's count in the move's report is what the plane then lists, and the
//!   bootstrap store, kept as `bootstrap.db.moved`, has none left); the admin machine's
//!   plane is stopped (no service, its phone-home port closed); `c1/c1.store` names the
//!   containers' etcd;
//! - upgrade: workers 1 → 2, with no plane on the admin machine: the command finds the
//!   plane through `c1/c1.store`, and the replicas make and bootstrap the new container;
//! - a control-plane container the engine stopped is started again by the plane, with its
//!   etcd member and replica (started again as its user-data had started them);
//! - delete: the cluster moves back to a bootstrap plane on the admin machine, which deletes
//!   every container; no container, network or volume with the cluster's kind label is left,
//!   and `c1/c1.store` is removed.
//!
//! Needs root, `dockerd` and `mmdebstrap` (the images), like `docker_cluster.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironbell_testbed::{Dockerd, Netns, wait_until};

/// The bootstrap plane's phone-home, on the namespace's loopback.
const PHONE_HOME: &str = "10.250.0.1:50062";
const LABEL: &str = "io.x-k8s.kind.cluster=c1";
const BIN: &str = env!("CARGO_BIN_EXE_ironbell");
/// The command lines of a container's processes, one a line (the image has no `ps`).
const PROCESSES: &str = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done";
/// Control-plane containers: an etcd quorum.
const CONTROL_PLANES: usize = 3;

/// The Docker spec of cluster `c1` as `ironbell generate clusterconfig` writes it, with
/// stacked etcd, [`CONTROL_PLANES`] control-plane nodes and `workers` workers.
fn spec(workers: usize) -> String {
    let out = Command::new(BIN)
        .args(["generate", "clusterconfig", "c1", "--provider", "docker"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout)
        .replace("  externalEtcdConfiguration:\n    count: 1\n", "")
        .replace(
            "  controlPlaneConfiguration:\n    count: 1\n",
            &format!("  controlPlaneConfiguration:\n    count: {CONTROL_PLANES}\n"),
        )
        .replace(
            "  - count: 1\n    name: md-0\n",
            &format!("  - count: {workers}\n    name: md-0\n"),
        );
    assert!(
        !text.contains("externalEtcd") && text.contains(&format!("count: {CONTROL_PLANES}")),
        "{text}"
    );
    text
}

struct World {
    ns: Netns,
    dockerd: Dockerd,
    dir: tempfile::TempDir,
    runs: usize,
}

impl World {
    fn spec_path(&self) -> PathBuf {
        self.dir.path().join("c1.yaml")
    }

    fn store_file(&self) -> PathBuf {
        self.dir.path().join("c1/c1.store")
    }

    /// `ironbell VERB cluster -f c1.yaml --node-bootstrapper native` in the namespace: its
    /// exit status and output.
    fn run(&mut self, verb: &str) -> (bool, String) {
        self.runs += 1;
        let log = self
            .dir
            .path()
            .join(format!("run-{}-{verb}.log", self.runs));
        let file = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let status = self
            .ns
            .command(BIN)
            .args(["-v", "1", verb, "cluster", "-f"])
            .arg(self.spec_path())
            .args([
                "--node-bootstrapper",
                "native",
                "--docker-host",
                &self.dockerd.host(),
                "--docker-phone-home",
                PHONE_HOME,
                "--timeout",
                "3m",
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        eprintln!(
            "--- ironbell {verb} cluster ({status}, {:.1} s):\n{text}",
            started.elapsed().as_secs_f64()
        );
        (status.success(), text)
    }

    /// `ironbell --store STORE ARGS...` in the namespace (the containers' addresses live
    /// there): its standard output.
    fn ironbell(&self, store: &str, args: &[&str]) -> String {
        let out = self
            .ns
            .command(BIN)
            .args(["--store", store])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ironbell {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// How many objects of `kind` the store lists in the cluster's namespace.
    fn count(&self, store: &str, kind: &str) -> usize {
        self.ironbell(store, &["get", kind, "-n", "eksa-system", "-o", "name"])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }

    /// The cluster's containers (by kind's label): (name, role).
    fn containers(&self) -> Vec<(String, String)> {
        let out = self
            .dockerd
            .docker(&[
                "ps",
                "-a",
                "--filter",
                &format!("label={LABEL}"),
                "--format",
                r#"{{.Names}} {{.Label "io.x-k8s.kind.role"}}"#,
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.to_string(), f.next()?.to_string()))
            })
            .collect()
    }

    fn role_count(&self, role: &str) -> usize {
        self.containers().iter().filter(|(_, r)| r == role).count()
    }

    /// Whether something in the namespace accepts connections on `addr`.
    fn listens(&self, addr: &str) -> bool {
        let (host, port) = addr.split_once(':').unwrap();
        self.ns
            .command("bash")
            .args(["-c", &format!("exec 3<>/dev/tcp/{host}/{port}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// The per-kind counts of the move's report line: `Moved N objects to the cluster's plane
/// (3 Machine, 1 Cluster, ...)`.
fn moved_counts(text: &str) -> Vec<(String, usize)> {
    let line = text
        .lines()
        .find(|l| l.contains("Moved ") && l.contains("objects to the cluster's plane"))
        .unwrap_or_else(|| panic!("no move report:\n{text}"));
    let inner = line
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(i, _)| i)
        .unwrap();
    inner
        .split(", ")
        .filter_map(|p| {
            let (n, kind) = p.trim().split_once(' ')?;
            Some((kind.to_string(), n.parse().ok()?))
        })
        .collect()
}

fn moved(counts: &[(String, usize)], kind: &str) -> usize {
    counts
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, n)| n)
        .sum()
}

/// The kind label's networks and volumes left on the engine.
fn leftovers(w: &World) -> String {
    let mut left = String::new();
    for what in ["network", "volume"] {
        let out = w
            .dockerd
            .docker(&[what, "ls", "-q", "--filter", &format!("label={LABEL}")])
            .unwrap();
        if !out.trim().is_empty() {
            left.push_str(&format!("{what}s: {out}\n"));
        }
    }
    left
}

fn tag_missing_images(w: &World, text: &str, key: &str) {
    let missing: Vec<String> = text
        .lines()
        .filter(|l| l.contains("not pulled"))
        .filter_map(|l| {
            l.split("Image ")
                .nth(1)?
                .split(" is present")
                .next()
                .map(str::to_string)
        })
        .collect();
    assert!(!missing.is_empty(), "{text}");
    for image in &missing {
        let from = if image.contains("/haproxy:") {
            format!("ironbell-test/haproxy:{key}")
        } else {
            "ironbell-test/node:v1".to_string()
        };
        w.dockerd.docker(&["tag", &from, image]).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_native_docker_cluster_takes_its_management_plane_scales_and_moves_it_back_to_delete() {
    let ip = PHONE_HOME.split(':').next().unwrap();
    let Some((ns, dockerd, key)) = ironbell_testbed::engine_with_test_images(ip) else {
        return;
    };
    let started = Instant::now();
    let mut w = World {
        ns,
        dockerd,
        dir: tempfile::tempdir().unwrap(),
        runs: 0,
    };
    std::fs::write(w.spec_path(), spec(1)).unwrap();
    // The images the spec names are missing: the Docker validations name them.
    let (ok, text) = w.run("create");
    assert!(!ok, "{text}");
    tag_missing_images(&w, &text, &key);
    assert!(w.containers().is_empty());

    // Create: the plane forms in the control-plane containers and the cluster moves there.
    let (ok, text) = w.run("create");
    assert!(ok, "{text}");
    assert!(text.contains("Cluster created"), "{text}");
    assert!(
        text.contains(&format!(
            "The cluster's plane formed: {CONTROL_PLANES} etcd members"
        )),
        "{text}"
    );
    assert_eq!(
        w.role_count("control-plane"),
        CONTROL_PLANES,
        "{:?}",
        w.containers()
    );
    assert_eq!(w.role_count("worker"), 1, "{:?}", w.containers());
    let store = read(&w.store_file()).trim().to_string();
    assert!(store.starts_with("etcds://"), "{store}");
    // The objects moved: what the report counts is what the containers' plane lists, and
    // the bootstrap store (kept for inspection) has none of them left.
    let counts = moved_counts(&text);
    let generated = w.dir.path().join("c1/generated");
    let bootstrap = format!("sqlite:{}", generated.join("bootstrap.db.moved").display());
    assert!(!generated.join("c1.db").exists());
    for (kind, name, want) in [
        ("Cluster", "clusters.cluster.x-k8s.io", 1),
        ("KubeadmControlPlane", "kcp", 1),
        ("Machine", "ma", CONTROL_PLANES + 1),
        ("DockerMachine", "dockermachines", CONTROL_PLANES + 1),
        ("DockerCluster", "dockerclusters", 1),
    ] {
        assert_eq!(moved(&counts, kind), want, "{kind}: {counts:?}");
        assert_eq!(w.count(&store, name), want, "{kind} in the cluster's plane");
        assert_eq!(
            w.count(&bootstrap, name),
            0,
            "{kind} left in the bootstrap store"
        );
    }
    // The admin machine runs no plane: no service, the bootstrap phone-home closed.
    assert!(!generated.join("plane.pid").exists(), "a plane service");
    assert!(
        !w.listens(PHONE_HOME),
        "the bootstrap plane's phone-home still answers"
    );
    // Each control-plane container runs its member and replica (as processes of the
    // container: no systemd there).
    for (name, _) in w
        .containers()
        .into_iter()
        .filter(|(_, r)| r == "control-plane")
    {
        let ps = w
            .dockerd
            .docker(&["exec", &name, "sh", "-c", PROCESSES])
            .unwrap();
        assert!(ps.contains("ironbell node up"), "{name}: {ps}");
        assert!(ps.contains("/usr/bin/etcd"), "{name}: {ps}");
    }
    // The binary is mounted read-only into the control-plane containers only.
    for (name, role) in w.containers() {
        if role == "external-load-balancer" {
            continue;
        }
        let mounts = w
            .dockerd
            .docker(&[
                "inspect",
                "-f",
                "{{range .Mounts}}{{.Destination}}:{{.RW}} {{end}}",
                &name,
            ])
            .unwrap();
        let binary = mounts.contains("/usr/local/bin/ironbell:false");
        assert_eq!(binary, role == "control-plane", "{name} ({role}): {mounts}");
    }
    eprintln!(
        "created and moved in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Scale: workers 1 → 2, made by the replicas (nothing runs a plane on this machine).
    std::fs::write(w.spec_path(), spec(2)).unwrap();
    let (ok, text) = w.run("upgrade");
    assert!(ok, "{text}");
    assert!(!text.contains("Starting the bootstrap plane"), "{text}");
    assert_eq!(w.role_count("worker"), 2, "{:?}", w.containers());
    assert_eq!(w.count(&store, "ma"), CONTROL_PLANES + 2);
    let ready = wait_until(Duration::from_secs(30), || {
        w.ironbell(&store, &["get", "ma", "-n", "eksa-system"])
            .lines()
            .skip(1)
            .all(|l| l.contains("Running"))
    });
    assert!(
        ready,
        "{}",
        w.ironbell(&store, &["get", "ma", "-n", "eksa-system"])
    );
    eprintln!("scaled in {:.0} s", started.elapsed().as_secs_f64());

    // A control-plane container the engine stopped: the plane (the other two members keep
    // etcd's quorum) starts it again, and in it the member and the replica its user-data
    // had started (no systemd there to restart them); the member answers again.
    let cp = w
        .containers()
        .into_iter()
        .find(|(_, r)| r == "control-plane")
        .map(|(n, _)| n)
        .unwrap();
    w.dockerd.docker(&["stop", "-t", "1", &cp]).unwrap();
    let back = wait_until(Duration::from_secs(90), || {
        w.dockerd
            .docker(&["exec", &cp, "sh", "-c", PROCESSES])
            .is_ok_and(|ps| ps.contains("ironbell node up") && ps.contains("/usr/bin/etcd"))
    });
    assert!(back, "{cp}: its member and replica not started again");
    w.dockerd
        .docker(&[
            "exec",
            &cp,
            "/usr/local/bin/ironbell",
            "node",
            "wait",
            "--config",
            "/etc/ironbell/node.yaml",
            "--timeout",
            "60s",
        ])
        .unwrap();
    assert_eq!(w.count(&store, "ma"), CONTROL_PLANES + 2);
    eprintln!(
        "{cp} restarted with its member in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Delete: back to a bootstrap plane here, which removes everything.
    let (ok, text) = w.run("delete");
    assert!(ok, "{text}");
    assert!(
        text.contains("objects back to the bootstrap plane on this machine"),
        "{text}"
    );
    assert!(w.containers().is_empty(), "{:?}", w.containers());
    let left = leftovers(&w);
    assert!(left.is_empty(), "{left}");
    assert!(!w.store_file().exists(), "c1/c1.store left");
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
}
