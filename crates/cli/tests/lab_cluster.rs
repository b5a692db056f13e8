//! End to end, below the cluster lifecycle: an EKS Anywhere Tinkerbell spec
//! ([`ironbell_lab::cluster`]) rendered by `ironbell generate manifests` and applied with
//! `ironbell apply -f` to a plane (`ironbell serve all`, `plain` node bootstrapper) inside a
//! lab of `lab up --machines-only`, provisions the lab's QEMU machines through their BMCs with
//! EKS Anywhere's default template (no `TinkerbellTemplateConfig`), and each installed lab OS
//! phones home, so that every Cluster API Machine is Running on a Ready Node. Then, on the
//! same lab:
//!
//! - **upgrade**: the worker group's `osImageURL` changes; the workers are replaced one at a
//!   time (`maxSurge` 1: never more than one Hardware beyond the cluster's three), the spare
//!   `type=worker` Hardware is used, and all end Running again;
//! - **scale** of the workers 2 → 1: a Hardware is released (ownership labels gone) and its
//!   machine is powered off (asked of its BMC with ipmitool, from inside the namespace);
//! - **delete** of the Cluster (`ironbell delete`: its finalizer holds it, the controllers
//!   take it down):
//!   every machine powered off through its BMC, all Hardware free, no Workflow, BMC Job or
//!   Cluster API Machine left.
//!
//! The `type=other` Hardware is never taken. The timings (create to all Ready, upgrade,
//! delete) are printed.
//!
//! Only the control-plane machine's image stays: with one control-plane machine and
//! `maxSurge` 1, replacing it needs a spare `type=cp` Hardware, which this lab (five
//! machines) does not have; the upgrade applies the rendered worker objects only, as EKS
//! Anywhere's upgrade keeps the control plane's template when its machine config is unchanged.

#[path = "common/lab.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{IRONBELL, Lab, artifacts};
use ironbell_lab::cluster::{LabCluster, os_image_file, os_image_url};
use ironbell_model::corev1::Node;
use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, SharedStore, api};
use ironbell_testbed::ChildGuard;

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

    fn workflows(&self) -> Vec<Workflow> {
        self.rt
            .block_on(api::<Workflow>(&self.store).list(&ListParams::namespace(NS)))
            .map(|(items, _)| items)
            .unwrap_or_default()
    }
}

/// Runs the `ironbell` binary on store `db`; returns stdout, failing on an error.
fn ironbell(db: &Path, args: &[&str]) -> String {
    let out = Command::new(IRONBELL)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("IRONBELL_LOG")
        .output()
        .expect("run ironbell");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ironbell {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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

/// `generate manifests` of `spec` (written to `dir/<file>`) with the lab's hardware.csv.
fn render(lab: &Lab, dir: &Path, file: &str, spec: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, spec).expect("write spec");
    let csv = lab.dir.join("hardware.csv");
    ironbell(
        &dir.join("ironbell.db"),
        &[
            "generate",
            "manifests",
            "-f",
            path.to_str().expect("UTF-8"),
            "--hardware-csv",
            csv.to_str().expect("UTF-8"),
        ],
    )
}

/// `ironbell apply -f` of `yaml` (written to `dir/<file>`).
fn apply(dir: &Path, file: &str, yaml: &str) -> String {
    let path = dir.join(file);
    std::fs::write(&path, yaml).expect("write manifests");
    ironbell(
        &dir.join("ironbell.db"),
        &["apply", "-f", path.to_str().expect("UTF-8")],
    )
}

/// Whether ipmitool, from inside the lab, says machine `n`'s (1-based) chassis is off.
fn powered_off(lab: &Lab, netns: &str, n: usize) -> bool {
    let csv = lab.file("hardware.csv");
    let Some(row) = csv.lines().nth(n) else {
        return false;
    };
    let cells: Vec<&str> = row.split(',').collect();
    let out = Command::new("ip")
        .args(["netns", "exec", netns, "ipmitool", "-I", "lanplus", "-H"])
        .args([cells[1], "-U", cells[2], "-E", "chassis", "power", "status"])
        .env("IPMI_PASSWORD", cells[3])
        .output()
        .expect("run ipmitool");
    String::from_utf8_lossy(&out.stdout).contains("Chassis Power is off")
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

#[test]
fn an_eks_anywhere_spec_provisions_upgrades_scales_and_deletes_a_cluster_on_lab_machines() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    for tool in ["ipmitool", "curl"] {
        ironbell_testbed::require_tool!(tool);
    }
    let lab = Lab::new("c");
    let mut args = Vec::new();
    for spec in MACHINES {
        args.extend(["--machine", spec]);
    }
    args.push("--machines-only");
    let out = lab.up_with(
        &args.iter().map(std::ffi::OsStr::new).collect::<Vec<_>>(),
        &args,
    );
    assert!(
        out.status.success(),
        "lab up --machines-only failed\n{}",
        lab.diagnostics()
    );
    let netns = ironbell_lab::netns_name(&lab.name);
    let dir = lab.dir.join("plane");
    std::fs::create_dir_all(&dir).expect("plane dir");
    let db = dir.join("ironbell.db");
    let artifacts = artifacts_dir(&dir);

    // The plane, as a user runs it on the provisioning network: every service, the cluster
    // controllers with the plain bootstrapper, the metadata service where EKS Anywhere's
    // template sends cloud-init (port 50061).
    let log = std::fs::File::create(lab.dir.join("logs/plane.log")).expect("plane log");
    let net = ironbell_lab::plan::network();
    let plane_argv = [
        "netns".to_string(),
        "exec".into(),
        netns.clone(),
        IRONBELL.into(),
        "--db".into(),
        db.display().to_string(),
        "--machine-log-dir".into(),
        dir.join("machine-logs").display().to_string(),
        "serve".into(),
        "all".into(),
        "--public-ip".into(),
        ironbell_lab::plan::SERVER_IP.to_string(),
        "--interface".into(),
        ironbell_lab::plan::BRIDGE.into(),
        "--artifacts-dir".into(),
        artifacts.display().to_string(),
        "--metadata-addr".into(),
        "0.0.0.0:50061".into(),
        "--node-bootstrapper".into(),
        "plain".into(),
    ];
    let _plane = ChildGuard::new(
        Command::new("ip")
            .args(&plane_argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ironbell serve all"),
    );
    wait(&lab, "the plane to listen", Duration::from_secs(60), || {
        [net.http.port(), 50061, net.grpc.port()]
            .iter()
            .all(|p| ironbell_lab::net::tcp_open(&netns, ironbell_lab::plan::SERVER_IP, *p))
    });

    // Create: the machines of the CSV, then the rendered cluster.
    let csv = lab.dir.join("hardware.csv");
    ironbell(
        &db,
        &["hardware", "import", csv.to_str().expect("UTF-8"), "-n", NS],
    );
    let created = Instant::now();
    let manifests = render(&lab, &dir, "lab.yaml", &LabCluster::new(CLUSTER).spec());
    assert!(
        manifests.contains("metadata_urls: [http://10.42.0.1:50061"),
        "EKS Anywhere's default template: {manifests}"
    );
    apply(&dir, "manifests.yaml", &manifests);
    let plane = Plane::open(&db);
    let mut max_owned = 0;
    let mut ever_owned = BTreeSet::new();
    let mut track = |plane: &Plane| {
        let owned = plane.owned();
        max_owned = max_owned.max(owned.len());
        ever_owned.extend(owned.into_keys());
    };
    wait(&lab, "every Machine Running", PROVISION, || {
        track(&plane);
        all_running(&plane.machines(), 3)
    });
    let create_time = created.elapsed();
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
        assert!(
            console.contains(
                "ironbell-os: phone-home URL from the user-data: http://10.42.0.1:50061/phone-home"
            ),
            "{hw} did not read its user-data\n{console}"
        );
    }
    let spare: Vec<String> = (2..=4)
        .map(|n| format!("node-{n}"))
        .filter(|h| !owned.contains_key(h))
        .collect();
    assert_eq!(spare.len(), 1, "{owned:?}");
    let first_machines = plane.machines();
    eprintln!(
        "create: every Machine Running in {:.0} s",
        create_time.as_secs_f64()
    );

    // Upgrade the workers to revision 2 of the image: the rendered worker objects (the
    // MachineDeployment and its new templates) only.
    let upgraded = Instant::now();
    let spec = LabCluster {
        worker_os_image_url: Some(os_image_url(2)),
        ..LabCluster::new(CLUSTER)
    }
    .spec();
    let manifests = render(&lab, &dir, "lab-upgrade.yaml", &spec);
    let workers: Vec<&str> = manifests
        .split("\n---\n")
        .filter(|d| d.contains(&format!("name: {CLUSTER}-md-0")))
        .collect();
    assert_eq!(
        workers.len(),
        3,
        "MachineDeployment and its two templates: {manifests}"
    );
    assert!(workers.iter().any(|d| d.contains(&os_image_url(2))));
    apply(&dir, "upgrade.yaml", &workers.join("\n---\n"));
    wait(
        &lab,
        "the workers replaced, every Machine Running",
        PROVISION,
        || {
            track(&plane);
            let now = plane.machines();
            let replaced = now
                .keys()
                .filter(|m| !first_machines.contains_key(*m))
                .count();
            replaced == 2 && all_running(&now, 3)
        },
    );
    let upgrade_time = upgraded.elapsed();
    assert!(
        max_owned <= 4,
        "more than one extra Hardware in use: {max_owned}"
    );
    assert!(
        ever_owned.contains(&spare[0]),
        "the spare was not used: {ever_owned:?}"
    );
    assert!(!ever_owned.contains(OTHER), "{ever_owned:?}");
    eprintln!(
        "upgrade: workers replaced in {:.0} s, at most {max_owned} Hardware owned",
        upgrade_time.as_secs_f64()
    );

    // Scale the workers 2 → 1, as a user edits the MachineDeployment.
    let before = plane.owned();
    let md = ironbell(
        &db,
        &[
            "get",
            "machinedeployments",
            "lab-md-0",
            "-n",
            NS,
            "-o",
            "yaml",
        ],
    );
    assert!(md.contains("\n  replicas: 2\n"), "{md}");
    apply(
        &dir,
        "scale.yaml",
        &md.replacen("\n  replicas: 2\n", "\n  replicas: 1\n", 1),
    );
    wait(&lab, "a worker released", PROVISION, || {
        plane.owned().len() == 2 && all_running(&plane.machines(), 2)
    });
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
        || powered_off(&lab, &netns, released_n),
    );
    let hw = plane
        .hardware()
        .into_iter()
        .find(|h| h.metadata.name() == released[0])
        .expect("released Hardware");
    assert_eq!(hw.metadata.label(OWNER_NAMESPACE), None);

    // Delete the Cluster through its finalizer: the controllers take everything down.
    let deleted = Instant::now();
    let said = ironbell(
        &db,
        &["delete", "clusters.cluster.x-k8s.io", CLUSTER, "-n", NS],
    );
    assert!(said.contains(CLUSTER), "{said}");
    wait(&lab, "the cluster gone", PROVISION, || {
        plane.owned().is_empty()
            && plane.machines().is_empty()
            && plane.workflows().is_empty()
            && plane.count("bmc.tinkerbell.org/v1alpha1", "Job") == 0
            && plane.count("cluster.x-k8s.io/v1beta1", "Cluster") == 0
    });
    wait(
        &lab,
        "every machine powered off",
        Duration::from_secs(120),
        || (1..=MACHINES.len()).all(|n| powered_off(&lab, &netns, n)),
    );
    let delete_time = deleted.elapsed();
    for h in plane.hardware() {
        assert_eq!(h.metadata.label(OWNER_NAME), None, "{}", h.metadata.name());
    }
    eprintln!(
        "timings: create to all Ready {:.0} s, upgrade {:.0} s, delete {:.0} s",
        create_time.as_secs_f64(),
        upgrade_time.as_secs_f64(),
        delete_time.as_secs_f64()
    );
}
