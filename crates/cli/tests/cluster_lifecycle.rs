//! `ironbell create|upgrade|delete cluster` end to end in a network namespace, with the
//! test playing the machines: the command runs as a user would run it (a spec, a
//! hardware.csv, the bootstrap plane at the spec's Tinkerbell IP on EKS Anywhere's ports,
//! then the plane as a detached service), while the test, reading the plane's store, marks
//! each Workflow successful as the agent would report it and posts cloud-init's phone-home
//! from the machine's own address with curl. The QEMU lab test (`lab_cluster.rs`) does the
//! same with real machines; this one proves the lifecycle's logic in seconds:
//!
//! - validation failures each give one ❌ line and change nothing (too few Hardware, a
//!   Hardware matching two selectors, a rival DHCP server — dnsmasq on the same link);
//! - create, killed with SIGKILL while machines provision and run again, resumes without
//!   repeating finished tasks or re-provisioning a machine (same Workflows);
//! - the `type=other` Hardware stays free; the plane keeps running as a service;
//! - upgrade with a changed worker `osImageURL` replaces the workers one at a time on the
//!   spare Hardware (never more than one extra);
//! - scale from 2 workers to 1 releases a Hardware;
//! - delete leaves every Hardware free, no Workflow, Job or Machine, and the service
//!   stopped;
//! - kubectl lists the cluster's Hardware with the kubeconfig the create wrote for the
//!   bootstrap plane (`c1/generated/c1.kind.kubeconfig`, while machines provision) and with
//!   the one for the plane that manages the cluster after it
//!   (`c1/c1-eks-a-cluster.kubeconfig`, the service).

#[path = "common/agent.rs"]
mod agent;
#[path = "common/spec.rs"]
mod common_spec;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ironbell_model::tinkerbell::{Hardware, Workflow, WorkflowState};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_ops::spec::{Access, StoreSpec, open};
use ironbell_store::{Api, ListParams, SharedStore};
use ironbell_testbed::Netns;

const NS: &str = "eksa-system";
const TINKERBELL_IP: &str = "10.77.0.1";
const OWNER_NAME: &str = "v1alpha1.tinkerbell.org/ownerName";

/// The spec of cluster `c1`: one control plane, `workers` workers whose machine config has
/// `worker_image`.
fn spec(workers: u32, worker_image: &str, worker_selector: &str) -> String {
    common_spec::spec(
        TINKERBELL_IP,
        "10.77.0.100",
        1,
        workers,
        worker_image,
        worker_selector,
    )
}

/// A hardware.csv row: `name` at `10.77.0.<last>` with labels `labels`, no BMC.
fn row(name: &str, last: u8, labels: &str) -> String {
    format!(
        "{name},10.77.0.{last},255.255.255.0,10.77.0.254,10.77.0.254,52:54:00:77:00:{last:02x},/dev/vda,{labels},,,,\n"
    )
}

const HEADER: &str = common_spec::CSV_HEADER;

/// The machines: one control plane, two workers and a spare, and one no selector wants.
fn machines() -> String {
    HEADER.to_string()
        + &row("cp-1", 11, "type=cp|dc=lab")
        + &row("worker-1", 12, "type=worker|dc=lab")
        + &row("worker-2", 13, "type=worker|dc=lab")
        + &row("worker-3", 14, "type=worker|dc=lab")
        + &row("other-1", 15, "type=other")
}

/// The test's world: the plane's namespace with the Tinkerbell IP and every machine's
/// address on `ib0`, a second namespace on the other end of the link (where a rival DHCP
/// server may run), and the folder with the spec and the CSV.
struct World {
    ns: Netns,
    peer: Netns,
    dir: tempfile::TempDir,
    artifacts: PathBuf,
}

impl World {
    fn new() -> Self {
        let ns = Netns::new().expect("netns");
        let peer = Netns::new().expect("netns");
        ironbell_testbed::veth(&ns, "ib0", &peer, "ib1").expect("veth");
        ns.ip(&["addr", "add", &format!("{TINKERBELL_IP}/24"), "dev", "ib0"])
            .expect("address");
        for last in 11..=15 {
            ns.ip(&["addr", "add", &format!("10.77.0.{last}/32"), "dev", "ib0"])
                .expect("machine address");
        }
        peer.ip(&["addr", "add", "10.77.0.250/24", "dev", "ib1"])
            .expect("peer address");
        let dir = tempfile::tempdir().expect("tempdir");
        let artifacts = dir.path().join("artifacts");
        std::fs::create_dir_all(&artifacts).expect("artifacts");
        std::fs::write(dir.path().join("hardware.csv"), machines()).expect("csv");
        Self {
            ns,
            peer,
            dir,
            artifacts,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_spec(&self, text: &str) -> PathBuf {
        let path = self.path("c1.yaml");
        std::fs::write(&path, text).expect("spec");
        path
    }

    fn store_path(&self) -> PathBuf {
        self.path("c1/generated/c1.db")
    }

    /// The `ironbell` command line of `verb cluster -f c1.yaml` in the plane's namespace.
    fn command(&self, verb: &[&str], extra: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            self.ns.name(),
            env!("CARGO_BIN_EXE_ironbell"),
        ])
        .args(verb)
        .arg("-f")
        .arg(self.path("c1.yaml"))
        .args([
            "-v",
            "1",
            "--service-manager",
            "process",
            "--bmc-timeout",
            "30s",
        ])
        .arg("--artifacts-dir")
        .arg(&self.artifacts)
        .args(extra)
        .env_remove("IRONBELL_DB")
        .env_remove("IRONBELL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, verb: &[&str], extra: &[&str]) -> Output {
        self.command(verb, extra).output().expect("run ironbell")
    }

    /// The Hardware names kubectl lists in the plane's namespace with the kubeconfig
    /// `kubeconfig` (relative to the test's folder) and `extra` arguments.
    fn kubectl_hardware(&self, kubeconfig: &str, extra: &[&str]) -> Vec<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", self.ns.name(), "kubectl", "--kubeconfig"])
            .arg(self.path(kubeconfig))
            .arg("--cache-dir")
            .arg(self.path("kube-cache"))
            .args(["get", "hardware", "-n", NS, "-o", "name"])
            .args(extra)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .output()
            .expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl with {kubeconfig}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_start_matches("hardware.tinkerbell.org/").to_string())
            .collect()
    }

    /// The plane's service, if its PID file names a live process.
    fn service_pid(&self) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(self.path("c1/generated/plane.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|pid| *pid > 1)?;
        Path::new(&format!("/proc/{pid}/cmdline"))
            .exists()
            .then_some(pid)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
            })
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // The service was started for this test: stop it by its PID.
        if let Some(pid) = self.service_pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The test's hands on the machines: until stopped, every rendered Workflow is reported
/// successful and, once it is, its machine phones home from its own address (once per
/// Workflow). Counts the most Hardware owned at once.
struct Machines {
    stop: Arc<AtomicBool>,
    max_owned: Arc<AtomicUsize>,
    provisioned: Arc<std::sync::Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Machines {
    fn start(db: PathBuf, ns_name: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max_owned = Arc::new(AtomicUsize::new(0));
        let provisioned = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let (s, m, p) = (stop.clone(), max_owned.clone(), provisioned.clone());
        let task = tokio::spawn(async move {
            let mut store: Option<SharedStore> = None;
            let mut phoned: BTreeSet<String> = BTreeSet::new();
            while !s.load(Ordering::Relaxed) {
                if store.is_none() && db.is_file() {
                    store = open(&StoreSpec::Sqlite(db.clone()), Access::Existing)
                        .ok()
                        .map(|h| h.store().clone());
                }
                if let Some(store) = &store {
                    play(store, &ns_name, &mut phoned, &m, &p).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self {
            stop,
            max_owned,
            provisioned,
            task,
        }
    }

    async fn finish(self) -> (usize, BTreeSet<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let provisioned = self
            .provisioned
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        (self.max_owned.load(Ordering::Relaxed), provisioned)
    }
}

/// A Workflow as one object: `name@uid` (a Workflow created again has another uid).
fn identity(w: &Workflow) -> String {
    format!(
        "{}@{}",
        w.metadata.name(),
        w.metadata.uid.clone().unwrap_or_default()
    )
}

/// One round of [`Machines`].
async fn play(
    store: &SharedStore,
    ns_name: &str,
    phoned: &mut BTreeSet<String>,
    max_owned: &AtomicUsize,
    provisioned: &std::sync::Mutex<BTreeSet<String>>,
) {
    let hardware: Api<Hardware> = Api::new(store.clone());
    let Ok((all, _)) = hardware.list(&ListParams::namespace(NS)).await else {
        return;
    };
    let owned = all
        .iter()
        .filter(|h| h.metadata.label(OWNER_NAME).is_some())
        .count();
    max_owned.fetch_max(owned, Ordering::Relaxed);
    let workflows: Api<Workflow> = Api::new(store.clone());
    let Ok((wfs, _)) = workflows.list(&ListParams::namespace(NS)).await else {
        return;
    };
    for mut wf in wfs {
        let name = wf.metadata.name().to_string();
        let Some(status) = wf.status.as_mut() else {
            continue;
        };
        match status.state.clone() {
            Some(WorkflowState::Success) => {
                if phoned.contains(&name) {
                    continue;
                }
                let Some(hw) = all.iter().find(|h| {
                    h.metadata.name() == wf.spec.hardware_ref.as_deref().unwrap_or_default()
                }) else {
                    continue;
                };
                let Some(ip) = hw
                    .spec
                    .interfaces
                    .iter()
                    .flatten()
                    .find_map(|i| i.dhcp.as_ref()?.ip.as_ref()?.address)
                else {
                    continue;
                };
                let hostname = hw.metadata.name().to_string();
                // cloud-init posts the instance id its metadata gave it: the Hardware's.
                let instance = hw
                    .spec
                    .metadata
                    .as_ref()
                    .and_then(|m| m.instance.as_ref())
                    .and_then(|i| i.id.clone())
                    .unwrap_or_default();
                let form = format!("instance_id={instance}&hostname={hostname}&fqdn={hostname}");
                let ok = Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        ns_name,
                        "curl",
                        "-sf",
                        "-m",
                        "5",
                        "--interface",
                    ])
                    .arg(ip.to_string())
                    .args(["--data", &form])
                    .arg(format!("http://{TINKERBELL_IP}:50061/phone-home"))
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ok {
                    phoned.insert(name.clone());
                    if let Ok(mut p) = provisioned.lock() {
                        p.insert(identity(&wf));
                    }
                }
            }
            Some(WorkflowState::Pending | WorkflowState::Running)
                if agent::report_success(status) =>
            {
                let _ = workflows.update_status(&wf).await;
            }
            _ => {}
        }
    }
}

/// What is left of the cluster: (kind, name) of each Workflow, BMC Job, Cluster API Machine
/// and Cluster, and TinkerbellMachine.
async fn leftovers(store: &SharedStore) -> Vec<(String, String)> {
    let mut left = Vec::new();
    for (api_version, kind) in [
        ("tinkerbell.org/v1alpha1", "Workflow"),
        ("bmc.tinkerbell.org/v1alpha1", "Job"),
        ("cluster.x-k8s.io/v1beta1", "Machine"),
        ("cluster.x-k8s.io/v1beta1", "Cluster"),
        (
            "infrastructure.cluster.x-k8s.io/v1beta1",
            "TinkerbellMachine",
        ),
    ] {
        let list = store
            .list(&TypeKey::new(api_version, kind), &ListParams::namespace(NS))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        left.extend(
            list.into_iter()
                .map(|o: DynamicObject| (kind.to_string(), o.name().to_string())),
        );
    }
    left
}

async fn owners(store: &SharedStore) -> Vec<(String, Option<String>)> {
    let hardware: Api<Hardware> = Api::new(store.clone());
    let (all, _) = hardware
        .list(&ListParams::namespace(NS))
        .await
        .expect("hardware");
    all.iter()
        .map(|h| {
            (
                h.metadata.name().to_string(),
                h.metadata.label(OWNER_NAME).map(str::to_string),
            )
        })
        .collect()
}

/// Validation failures: one ❌ line each, exit 1, nothing imported, no plane left.
fn refuses(world: &World, spec_text: &str, expect: &str) {
    world.write_spec(spec_text);
    let out = world.run(
        &["create", "cluster"],
        &[
            "--hardware-csv",
            world.path("hardware.csv").to_str().expect("utf-8"),
        ],
    );
    let all = text(&out);
    assert!(!out.status.success(), "create should fail: {all}");
    let failed: Vec<&str> = all.lines().filter(|l| l.contains('❌')).collect();
    assert_eq!(failed.len(), 1, "one failed validation expected: {all}");
    assert!(
        failed[0].contains(expect),
        "{expect:?} not in {failed:?}\n{all}"
    );
    assert!(
        world.service_pid().is_none(),
        "no plane may be left running"
    );
    if world.store_path().is_file() {
        let handle = open(&StoreSpec::Sqlite(world.store_path()), Access::Existing).expect("open");
        let hardware: Api<Hardware> = Api::new(handle.store().clone());
        let rt = tokio::runtime::Handle::current();
        let n = tokio::task::block_in_place(|| {
            rt.block_on(async {
                hardware
                    .list(&ListParams::namespace(NS))
                    .await
                    .map(|(h, _)| h.len())
            })
        })
        .expect("list");
        assert_eq!(n, 0, "a failed validation imported hardware");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_resume_upgrade_scale_and_delete_a_cluster_on_played_machines() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    for tool in ["curl", "dnsmasq", "kubectl"] {
        ironbell_testbed::require_tool!(tool);
    }
    let world = World::new();
    let csv = world.path("hardware.csv");
    let csv = csv.to_str().expect("utf-8");
    let image_a = format!("http://{TINKERBELL_IP}/ubuntu-1-31-a.raw.gz");
    let image_b = format!("http://{TINKERBELL_IP}/ubuntu-1-31-b.raw.gz");

    // Validation failures change nothing.
    refuses(
        &world,
        &spec(4, &image_a, "type: worker"),
        "Enough Hardware",
    );
    refuses(&world, &spec(2, &image_a, "dc: lab"), "cp-1");
    {
        let _rival = ironbell_testbed::Dnsmasq::start(
            &world.peer,
            "ib1",
            "10.77.0.100,10.77.0.120",
            &[],
            world.dir.path(),
        )
        .expect("dnsmasq");
        refuses(
            &world,
            &spec(2, &image_a, "type: worker"),
            "another DHCP server answers on ib0",
        );
    }

    // Create, killed while the machines provision, then run again.
    world.write_spec(&spec(2, &image_a, "type: worker"));
    let mut first: Child = world
        .command(&["create", "cluster"], &["--hardware-csv", csv])
        .spawn()
        .expect("create");
    let db = world.store_path();
    let handle = loop {
        if let Ok(h) = open(&StoreSpec::Sqlite(db.clone()), Access::Existing) {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let store = handle.store().clone();
    // Wait for the first Workflow (machines are being provisioned), then kill.
    let workflows: Api<Workflow> = Api::new(store.clone());
    let seen = ironbell_testbed::wait_until_async(Duration::from_secs(60), || async {
        workflows
            .list(&ListParams::namespace(NS))
            .await
            .is_ok_and(|(w, _)| !w.is_empty())
    })
    .await;
    // kubectl against the bootstrap plane while the machines provision.
    let during = seen.then(|| world.kubectl_hardware("c1/generated/c1.kind.kubeconfig", &[]));
    first.kill().expect("SIGKILL the create");
    let killed = first.wait_with_output().expect("reap");
    assert!(seen, "no Workflow within 60 s:\n{}", text(&killed));
    assert_eq!(
        during.unwrap_or_default(),
        ["cp-1", "other-1", "worker-1", "worker-2", "worker-3"],
        "the bootstrap plane's Hardware through kubectl"
    );
    let before: BTreeSet<String> = workflows
        .list(&ListParams::namespace(NS))
        .await
        .expect("workflows")
        .0
        .iter()
        .map(identity)
        .collect();

    let machines = Machines::start(db.clone(), world.ns.name().to_string());
    let out = tokio::task::spawn_blocking({
        let mut cmd = world.command(&["create", "cluster"], &["--hardware-csv", csv]);
        move || cmd.output().expect("create again")
    })
    .await
    .expect("join");
    let (_, provisioned) = machines.finish().await;
    let all = text(&out);
    assert!(
        out.status.success(),
        "create (resumed) failed:\n{all}\nfirst run:\n{}",
        text(&killed)
    );
    for task in [
        "setup-validate",
        "bootstrap-cluster-init",
        "install-capi-components-bootstrap",
    ] {
        let skipped = all
            .lines()
            .any(|l| l.contains(&format!("] {task} ")) && l.ends_with("done earlier"));
        assert!(skipped, "{task} ran again:\n{all}");
    }
    assert!(all.contains("Cluster created!"), "{all}");
    // The Workflows of before the kill are the same objects: nothing provisioned twice.
    for w in &before {
        assert!(provisioned.contains(w), "{w} was replaced: {provisioned:?}");
    }
    let owned = owners(&store).await;
    let other = owned.iter().find(|(n, _)| n == "other-1").expect("other-1");
    assert_eq!(other.1, None, "other-1 matches no selector and stays free");
    assert_eq!(
        owned.iter().filter(|(_, o)| o.is_some()).count(),
        3,
        "{owned:?}"
    );
    assert!(
        world.service_pid().is_some(),
        "the plane runs as a service after the create"
    );
    assert!(world.path("c1/c1-eks-a-cluster.yaml").is_file());
    // kubectl against the plane that manages the cluster now: the three owned Hardware.
    let owned_names = world.kubectl_hardware("c1/c1-eks-a-cluster.kubeconfig", &["-l", OWNER_NAME]);
    assert_eq!(owned_names.len(), 3, "{owned_names:?}");
    assert!(
        !owned_names.contains(&"other-1".to_string()),
        "{owned_names:?}"
    );
    let checkpoint =
        std::fs::read_to_string(world.path("c1/generated/c1-checkpoint.yaml")).expect("checkpoint");
    assert!(checkpoint.contains("delete-kind-cluster"), "{checkpoint}");

    // Upgrade: a new worker image replaces the workers one at a time on the spare.
    world.write_spec(&spec(2, &image_b, "type: worker"));
    let machines = Machines::start(db.clone(), world.ns.name().to_string());
    let out = tokio::task::spawn_blocking({
        let mut cmd = world.command(&["upgrade", "cluster"], &[]);
        move || cmd.output().expect("upgrade")
    })
    .await
    .expect("join");
    let (max_owned, _) = machines.finish().await;
    eprintln!("upgrade:\n{}", text(&out));
    assert!(out.status.success(), "upgrade failed:\n{}", text(&out));
    assert_eq!(
        max_owned, 4,
        "one spare at a time (3 machines + maxSurge 1)"
    );
    let owned = owners(&store).await;
    assert_eq!(
        owned.iter().filter(|(_, o)| o.is_some()).count(),
        3,
        "{owned:?}"
    );

    // Scale the workers from 2 to 1: a Hardware is released.
    world.write_spec(&spec(1, &image_b, "type: worker"));
    let out = world.run(&["upgrade", "cluster"], &[]);
    assert!(out.status.success(), "scale failed:\n{}", text(&out));
    let owned = owners(&store).await;
    assert_eq!(
        owned.iter().filter(|(_, o)| o.is_some()).count(),
        2,
        "{owned:?}"
    );

    // The move (issue 17), on the live cluster while its plane runs: a backup to a
    // directory, a move to another store killed (SIGKILL) after 20 writes and run again,
    // and the move back, after which the cluster is deleted as if it had never left.
    let moved_db = world.path("moved.db");
    let backup = world.path("backup");
    let mv = |args: &[&str], kill_after: Option<usize>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbell"));
        cmd.arg("move").args(["--cluster", "c1"]).args(args);
        if let Some(n) = kill_after {
            cmd.env("IRONBELL_MOVE_KILL_AFTER_WRITES", n.to_string());
        }
        cmd.env_remove("IRONBELL_DB")
            .output()
            .expect("ironbell move")
    };
    let db_arg = db.to_str().expect("UTF-8 path");
    let moved_arg = moved_db.to_str().expect("UTF-8 path");
    let out = mv(
        &[
            "--store",
            db_arg,
            "--to-directory",
            backup.to_str().expect("UTF-8 path"),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "move --to-directory failed:\n{}",
        text(&out)
    );
    let saved = std::fs::read_dir(&backup).expect("backup").count();
    let before_move = owners(&store).await;
    let out = mv(&["--store", db_arg, "--to", moved_arg], Some(20));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "killed after 20 writes:\n{}",
        text(&out)
    );
    let out = mv(&["--store", db_arg, "--to", moved_arg], None);
    eprintln!("move:\n{}", text(&out));
    assert!(
        out.status.success(),
        "move (run again) failed:\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!("cluster c1: {saved} objects moved from")),
        "every object of the backup moved:\n{}",
        text(&out)
    );
    assert!(
        owners(&store).await.is_empty(),
        "the Hardware left the source"
    );
    let out = mv(&["--store", moved_arg, "--to", db_arg], None);
    assert!(out.status.success(), "move back failed:\n{}", text(&out));
    assert_eq!(
        owners(&store).await,
        before_move,
        "the Hardware came back as it left"
    );

    // Delete: every Hardware free, nothing left, the service stopped.
    let out = world.run(&["delete", "cluster"], &[]);
    assert!(out.status.success(), "delete failed:\n{}", text(&out));
    let owned = owners(&store).await;
    assert!(owned.iter().all(|(_, o)| o.is_none()), "{owned:?}");
    assert_eq!(leftovers(&store).await, Vec::<(String, String)>::new());
    assert!(world.service_pid().is_none(), "the service stopped");
}
