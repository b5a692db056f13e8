//! The cluster lifecycle end to end on QEMU machines, as on real hardware: the lab provides
//! only machines, BMCs and a hardware.csv (`lab up --machines-only`), and `ironbell create
//! cluster -f lab.yaml --hardware-csv hardware.csv` does the rest inside the lab's network:
//! the validations, the bootstrap plane at the Tinkerbell IP, the import, every machine
//! network-booted through its BMC and installed by EKS Anywhere's default template (no
//! `TinkerbellTemplateConfig`), each installed lab OS phoning home so that every Cluster API
//! Machine is Running on a Ready Node, then the plane kept as a detached service. On the
//! same lab:
//!
//! - **validation**: a hardware.csv whose BMC does not answer gives one ❌ line and changes
//!   nothing;
//! - **resume**: the create is killed with SIGKILL twice — once with the bootstrap plane up
//!   (before any machine is touched), once while the first machine provisions — and each
//!   run again resumes after its last finished task, the machines' Workflows kept, and no
//!   machine's action runs twice (this is also the lab's proof that a plane killed
//!   mid-provisioning resumes from its store);
//! - **upgrade** (`upgrade cluster` with a new worker `osImageURL`): the workers are
//!   replaced one at a time (`maxSurge` 1: never more than one Hardware beyond the
//!   cluster's three), the spare `type=worker` Hardware used, all Running again;
//! - **scale** of the workers 2 → 1 (`upgrade cluster`): a Hardware is released and its
//!   machine powered off (asked of its BMC with ipmitool, from inside the namespace);
//! - **delete** (`delete cluster`): every machine powered off through its BMC, all Hardware
//!   free, no Workflow, BMC Job or Cluster API Machine left, the plane's service stopped.
//!
//! The `type=other` Hardware is never taken. The control plane keeps its image: replacing
//! its one machine with `maxSurge` 1 needs a spare `type=cp` Hardware, which this lab (five
//! machines) does not have. The timings and the `create`'s own CPU time and peak RSS (the
//! bootstrap plane runs in it) are printed: issue 15's benchmark.

#[path = "common/lab.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{IRONBELL, Lab, action_names, artifacts};
use ironbell_lab::cluster::{LabCluster, os_image_file, os_image_url};
use ironbell_model::corev1::Node;
use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, SharedStore, api};

const NS: &str = "eksa-system";
const CLUSTER: &str = "lab";
const OWNER_NAME: &str = "v1alpha1.tinkerbell.org/ownerName";
const OWNER_NAMESPACE: &str = "v1alpha1.tinkerbell.org/ownerNamespace";
/// The lab's machines: `node-1` the control plane, `node-2..4` workers (one a spare),
/// `node-5` matching no selector.
const MACHINES: [&str; 5] = [
    "bios,ipmi,type=cp",
    "uefi,both,type=worker",
    "bios,ipmi,type=worker",
    "bios,both,type=worker",
    "bios,ipmi,type=other",
];
const OTHER: &str = "node-5";
/// Generous: machines boot under TCG while other builds share the two cores.
const PROVISION: Duration = Duration::from_secs(20 * 60);

/// The plane's store, read in process while `ironbell serve all` writes it.
struct Plane {
    store: SharedStore,
    rt: tokio::runtime::Runtime,
}

impl Plane {
    fn open(db: &Path) -> Self {
        let store: SharedStore = std::sync::Arc::new(
            ironbell_store_sqlite::SqliteStore::open(db).expect("open the plane's store"),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Self { store, rt }
    }

    fn list(&self, api_version: &str, kind: &str) -> Vec<DynamicObject> {
        self.rt
            .block_on(
                self.store
                    .list(&TypeKey::new(api_version, kind), &ListParams::namespace(NS)),
            )
            .map(|l| l.items)
            .unwrap_or_default()
    }

    fn hardware(&self) -> Vec<Hardware> {
        self.rt
            .block_on(api::<Hardware>(&self.store).list(&ListParams::namespace(NS)))
            .map(|(items, _)| items)
            .unwrap_or_default()
    }

    /// Hardware name → owning TinkerbellMachine, for the owned ones.
    fn owned(&self) -> BTreeMap<String, String> {
        self.hardware()
            .into_iter()
            .filter_map(|h| {
                let owner = h.metadata.label(OWNER_NAME)?.to_string();
                Some((h.metadata.name().to_string(), owner))
            })
            .collect()
    }

    /// Cluster API Machines: name → phase.
    fn machines(&self) -> BTreeMap<String, String> {
        self.list("cluster.x-k8s.io/v1beta1", "Machine")
            .into_iter()
            .map(|m| {
                let phase = m
                    .to_value()
                    .pointer("/status/phase")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string();
                (m.name().to_string(), phase)
            })
            .collect()
    }

    fn ready_nodes(&self) -> BTreeSet<String> {
        self.rt
            .block_on(api::<Node>(&self.store).list(&ListParams::default()))
            .map(|(items, _)| items)
            .unwrap_or_default()
            .into_iter()
            .filter(Node::is_ready)
            .map(|n| n.metadata.name().to_string())
            .collect()
    }

    fn count(&self, api_version: &str, kind: &str) -> usize {
        self.list(api_version, kind).len()
    }

    /// Each Workflow as one object: `name@uid` (one created again has another uid).
    fn workflow_ids(&self) -> BTreeSet<String> {
        self.workflows()
            .iter()
            .map(|w| {
                format!(
                    "{}@{}",
                    w.metadata.name(),
                    w.metadata.uid.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    fn workflows(&self) -> Vec<Workflow> {
        self.rt
            .block_on(api::<Workflow>(&self.store).list(&ListParams::namespace(NS)))
            .map(|(items, _)| items)
            .unwrap_or_default()
    }
}

/// The plane's artifacts directory: HookOS and the lab OS under two names (revisions 1 and
/// 2 of the image), as a user would put them where the HTTP boot service serves them.
fn artifacts_dir(dir: &Path) -> PathBuf {
    let (hookos, image) = artifacts();
    let out = dir.join("artifacts");
    std::fs::create_dir_all(&out).expect("artifacts dir");
    for f in ["vmlinuz-x86_64", "initramfs-x86_64"] {
        std::fs::copy(hookos.join(f), out.join(f)).expect("copy HookOS");
    }
    std::fs::copy(image, out.join(os_image_file(1))).expect("copy the OS image");
    std::fs::hard_link(out.join(os_image_file(1)), out.join(os_image_file(2)))
        .expect("second name of the OS image");
    out
}

/// Polls `cond` (also feeding `watch`, e.g. to record a maximum) until it holds or the
/// deadline passes; fails with `what` and the lab's diagnostics.
fn wait(lab: &Lab, what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let ok = ironbell_testbed::wait_until(deadline, &mut cond);
    assert!(ok, "timed out waiting for {what}\n{}", lab.diagnostics());
}

fn all_running(machines: &BTreeMap<String, String>, want: usize) -> bool {
    machines.len() == want && machines.values().all(|p| p == "Running")
}

/// `ironbell VERB cluster -f SPEC` run in the lab's namespace with the lab's plane flags.
fn lifecycle(netns: &str, verb: &str, spec: &Path, artifacts: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, IRONBELL, verb, "cluster", "-f"])
        .arg(spec)
        .args(["-v", "1", "--service-manager", "process", "--interface"])
        .arg(ironbell_lab::plan::BRIDGE)
        .args([
            "--http-port",
            &ironbell_lab::plan::network().http.port().to_string(),
            "--node-bootstrapper",
            "plain",
            "--artifacts-dir",
        ])
        .arg(artifacts)
        .args(extra)
        .env_remove("IRONBELL_DB")
        .env_remove("IRONBELL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` to its end while `watch` samples the plane's store; returns its output.
fn run_watching(mut cmd: Command, mut watch: impl FnMut()) -> std::process::Output {
    let mut child = cmd.spawn().expect("run ironbell");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        watch();
        std::thread::sleep(Duration::from_millis(250));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default().into_bytes(),
        stderr: err.join().unwrap_or_default().into_bytes(),
    }
}

/// Starts `cmd`, waits until `at` holds (polled), then kills it with SIGKILL; returns what
/// it printed.
fn kill_when(lab: &Lab, what: &str, mut cmd: Command, mut at: impl FnMut() -> bool) -> String {
    let mut child = cmd.spawn().expect("run ironbell");
    let hit = ironbell_testbed::wait_until(PROVISION, &mut at);
    child.kill().expect("SIGKILL");
    let out = child.wait_with_output().expect("reap");
    let text = output_text(&out);
    assert!(hit, "never reached {what}:\n{text}\n{}", lab.diagnostics());
    eprintln!("killed {what}:\n{text}");
    text
}

/// The task lines of a run that say `done earlier`.
fn done_earlier(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('[') && l.ends_with("done earlier"))
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
        .collect()
}

/// `ironbell`'s own figures from a run's `-v 1` line `this process: ...`.
fn usage(text: &str) -> String {
    text.lines()
        .find(|l| l.contains("this process:"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn create_upgrade_scale_and_delete_a_cluster_on_lab_machines() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    for tool in ["ipmitool", "curl"] {
        ironbell_testbed::require_tool!(tool);
    }
    let lab = Lab::new("c");
    let (netns, dir) = lab.up_machines_only(&MACHINES, &[]);
    let artifacts = artifacts_dir(&dir);
    let csv = lab.dir.join("hardware.csv");
    let csv_arg = csv.to_str().expect("UTF-8").to_string();

    // A BMC that does not answer: one line, nothing imported, no plane.
    let bad_csv = dir.join("bad-hardware.csv");
    let text = lab.file("hardware.csv");
    let node2_bmc = text
        .lines()
        .find(|l| l.starts_with("node-2,"))
        .and_then(|l| l.split(',').nth(1))
        .expect("node-2's BMC")
        .to_string();
    std::fs::write(
        &bad_csv,
        text.replace(&format!(",{node2_bmc},"), ",10.42.0.250,"),
    )
    .expect("bad csv");
    let bad_spec = dir.join("bad.yaml");
    std::fs::write(&bad_spec, LabCluster::new("bad").spec()).expect("bad spec");
    let out = lifecycle(
        &netns,
        "create",
        &bad_spec,
        &artifacts,
        &["--hardware-csv", bad_csv.to_str().expect("UTF-8")],
    )
    .output()
    .expect("create");
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    let failed: Vec<&str> = text.lines().filter(|l| l.contains('❌')).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains("10.42.0.250") && failed[0].contains("not contactable"),
        "{text}"
    );
    let bad = Plane::open(&dir.join("bad/generated/bad.db"));
    assert!(
        bad.hardware().is_empty(),
        "a failed validation imported Hardware"
    );

    // Create, killed twice and resumed.
    let spec = dir.join("lab.yaml");
    std::fs::write(&spec, LabCluster::new(CLUSTER).spec()).expect("spec");
    let db = dir.join("lab/generated/lab.db");
    let checkpoint = dir.join("lab/generated/lab-checkpoint.yaml");
    let create = || {
        lifecycle(
            &netns,
            "create",
            &spec,
            &artifacts,
            &["--hardware-csv", &csv_arg],
        )
    };
    let created = Instant::now();
    kill_when(&lab, "the bootstrap plane up", create(), || {
        std::fs::read_to_string(&checkpoint).is_ok_and(|c| c.contains("bootstrap-cluster-init"))
    });
    let plane = Plane::open(&db);
    let second = kill_when(&lab, "a machine provisioning", create(), || {
        !plane.workflows().is_empty()
    });
    assert!(
        done_earlier(&second).contains(&"bootstrap-cluster-init".to_string()),
        "{second}"
    );
    let workflows_before: BTreeSet<String> = plane.workflow_ids();
    let mut max_owned = 0;
    let mut ever_owned = BTreeSet::new();
    let mut track = |plane: &Plane| {
        let owned = plane.owned();
        max_owned = max_owned.max(owned.len());
        ever_owned.extend(owned.into_keys());
    };
    let out = run_watching(create(), || track(&plane));
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "create failed:\n{text}\n{}",
        lab.diagnostics()
    );
    let create_time = created.elapsed();
    eprintln!("create (third run):\n{text}");
    for task in [
        "setup-validate",
        "bootstrap-cluster-init",
        "install-capi-components-bootstrap",
    ] {
        assert!(
            done_earlier(&text).contains(&task.to_string()),
            "{task} ran again:\n{text}"
        );
    }
    let workflows_after: BTreeSet<String> = plane.workflow_ids();
    for w in &workflows_before {
        assert!(
            workflows_after.contains(w),
            "{w} was provisioned again: {workflows_after:?}"
        );
    }
    let machines = plane.machines();
    assert!(all_running(&machines, 3), "{machines:?}");
    let owned = plane.owned();
    assert_eq!(owned.len(), 3, "{owned:?}");
    assert!(
        owned.contains_key("node-1"),
        "the control plane on type=cp: {owned:?}"
    );
    assert!(!owned.contains_key(OTHER), "{owned:?}");
    let nodes = plane.ready_nodes();
    for hw in owned.keys() {
        assert!(nodes.contains(hw), "{hw} has no Ready Node: {nodes:?}");
        let console = lab.console(hw);
        assert!(
            console.contains("ironbell-os: phoned home (200)"),
            "{hw} did not phone home\n{}",
            lab.diagnostics()
        );
        // The plane died twice, yet no action of the machine's workflow ran twice.
        let mut succeeded = BTreeSet::new();
        for action in action_names(&console, "reported state=Success") {
            assert!(
                succeeded.insert(action),
                "{hw}: {action} succeeded twice\n{console}"
            );
        }
        assert!(!succeeded.is_empty(), "{hw}: no action reported\n{console}");
    }
    assert!(
        dir.join("lab/generated/plane.pid").is_file(),
        "the plane runs as a service after the create"
    );
    let spare: Vec<String> = (2..=4)
        .map(|n| format!("node-{n}"))
        .filter(|h| !owned.contains_key(h))
        .collect();
    assert_eq!(spare.len(), 1, "{owned:?}");
    let first_machines = plane.machines();
    let create_usage = usage(&text);

    // Upgrade the workers to revision 2 of the image.
    let upgraded = Instant::now();
    std::fs::write(
        &spec,
        LabCluster {
            worker_os_image_url: Some(os_image_url(2)),
            ..LabCluster::new(CLUSTER)
        }
        .spec(),
    )
    .expect("spec");
    let out = run_watching(lifecycle(&netns, "upgrade", &spec, &artifacts, &[]), || {
        track(&plane)
    });
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "upgrade failed:\n{text}\n{}",
        lab.diagnostics()
    );
    let upgrade_time = upgraded.elapsed();
    let now = plane.machines();
    let replaced = now
        .keys()
        .filter(|m| !first_machines.contains_key(*m))
        .count();
    assert_eq!(replaced, 2, "{first_machines:?} → {now:?}\n{text}");
    assert!(all_running(&now, 3), "{now:?}");
    assert!(
        max_owned <= 4,
        "more than one extra Hardware in use: {max_owned}"
    );
    assert!(
        ever_owned.contains(&spare[0]),
        "the spare was not used: {ever_owned:?}"
    );
    assert!(!ever_owned.contains(OTHER), "{ever_owned:?}");

    // Scale the workers 2 → 1.
    let before = plane.owned();
    std::fs::write(
        &spec,
        LabCluster {
            workers: 1,
            worker_os_image_url: Some(os_image_url(2)),
            ..LabCluster::new(CLUSTER)
        }
        .spec(),
    )
    .expect("spec");
    let out = lifecycle(&netns, "upgrade", &spec, &artifacts, &[])
        .output()
        .expect("scale");
    assert!(out.status.success(), "scale failed:\n{}", output_text(&out));
    let after = plane.owned();
    let released: Vec<&String> = before.keys().filter(|h| !after.contains_key(*h)).collect();
    assert_eq!(released.len(), 1, "{before:?} → {after:?}");
    let released_n: usize = released[0]
        .trim_start_matches("node-")
        .parse()
        .expect("node-N");
    wait(
        &lab,
        "the released machine powered off",
        Duration::from_secs(120),
        || lab.powered_off(&netns, released_n),
    );
    let hw = plane
        .hardware()
        .into_iter()
        .find(|h| h.metadata.name() == released[0])
        .expect("released Hardware");
    assert_eq!(hw.metadata.label(OWNER_NAMESPACE), None);

    // Delete: the plane takes everything down, then stops.
    let deleted = Instant::now();
    let out = lifecycle(&netns, "delete", &spec, &artifacts, &[])
        .output()
        .expect("delete");
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "delete failed:\n{text}\n{}",
        lab.diagnostics()
    );
    let delete_time = deleted.elapsed();
    assert!(plane.owned().is_empty(), "{:?}", plane.owned());
    assert!(plane.machines().is_empty() && plane.workflows().is_empty());
    assert_eq!(plane.count("bmc.tinkerbell.org/v1alpha1", "Job"), 0);
    assert_eq!(plane.count("cluster.x-k8s.io/v1beta1", "Cluster"), 0);
    wait(
        &lab,
        "every machine powered off",
        Duration::from_secs(120),
        || (1..=MACHINES.len()).all(|n| lab.powered_off(&netns, n)),
    );
    assert!(
        !dir.join("lab/generated/plane.pid").is_file(),
        "the plane's service stopped"
    );
    eprintln!(
        "timings: create (three runs) to all Ready {:.0} s ({create_usage}), upgrade {:.0} s, delete {:.0} s",
        create_time.as_secs_f64(),
        upgrade_time.as_secs_f64(),
        delete_time.as_secs_f64()
    );
}
