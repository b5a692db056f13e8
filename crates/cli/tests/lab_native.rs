//! A management cluster on QEMU machines whose plane moves onto its own machines, as EKS
//! Anywhere's create does (`LIFECYCLE.md` 1.1, 1.4, 1.5), with the `native` node
//! bootstrapper: the lab provides only machines, BMCs and a hardware.csv (`lab up
//! --machines-only`), and `ironbell create cluster --node-bootstrapper native` does the rest
//! from the admin machine (the lab's server namespace):
//!
//! - **create**: three control-plane machines and one worker from the first four rows of
//!   hardware.csv. The bootstrap plane holds the Tinkerbell IP (`10.42.0.99`, a virtual
//!   address) and provisions every machine; the control-plane machines install the lab OS's
//!   native variant (etcd and the tests' `ironbell` build in it, `NATIVE_IRONBELL` in
//!   os-image/build.sh), whose
//!   init runs `ironbell node up` from the user-data: an etcd member and a replica of the
//!   plane in DHCP standby. Once the three members form a quorum, the cluster's objects move
//!   onto it, the bootstrap plane stops (its store kept as `bootstrap.db.moved`), and a
//!   replica on the machines takes the Tinkerbell IP and serves DHCP;
//! - **after the move**: a worker added to hardware.csv (row five) is network-booted,
//!   installed and Ready through the moved plane (`upgrade cluster`, which finds the plane in
//!   `NAME/NAME.store`); HookOS and the OS images come from an HTTP server on the admin
//!   machine (`hookImagesURLPath`, `osImageURL`), as they would from a web server in a data
//!   center;
//! - **a control-plane machine lost**: the one holding the Tinkerbell IP is powered off
//!   through its BMC (ipmitool, inside the lab's namespace); the address moves to another
//!   replica and the plane keeps answering on the two members left;
//! - **delete**: the management moves back to a bootstrap plane on the admin machine, which
//!   powers every machine off and frees every Hardware.
//!
//! tcpdump captures the DHCP traffic on the lab's bridge for the whole run: no DHCP
//! Discover is offered an address by two planes. The create's task times and the move's
//! object count are printed.

#[path = "common/dhcp_capture.rs"]
mod dhcp_capture;
#[path = "common/lab.rs"]
mod harness;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use harness::{IRONBELL, Lab, artifacts, repo, work};
use ironbell_lab::cluster::{LabCluster, os_image_file};

const NS: &str = "eksa-system";
const CLUSTER: &str = "mgmt";
/// The spec's Tinkerbell IP: a free lab address, held by whichever plane serves.
const TINKERBELL_IP: Ipv4Addr = Ipv4Addr::new(10, 42, 0, 99);
/// The admin machine's HTTP server for HookOS and the OS images.
const ARTIFACTS_PORT: u16 = 8090;
/// Three control-plane machines, a worker, and a worker added after the move.
const MACHINES: [&str; 5] = [
    "bios,ipmi,type=cp",
    "bios,ipmi,type=cp",
    "bios,ipmi,type=cp",
    "uefi,both,type=worker",
    "bios,ipmi,type=worker",
];
/// Memory of each machine: the control-plane machines run etcd and a replica.
const MEMORY_MIB: &str = "1024";

/// The lab OS's native variant, built once with the tests' own `ironbell` in it: the
/// debug build (with the libraries it links), so the test needs no release build of its
/// own. The machines run it well enough under software emulation: the create took 174 s
/// with it here, 216 s with the static release build on a busier machine.
fn native_image() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = work().join("os-image-native");
        let start = Instant::now();
        let result = Command::new("bash")
            .arg(repo().join("os-image/build.sh"))
            .arg(&out)
            .env("NATIVE_IRONBELL", IRONBELL)
            .output()
            .expect("run os-image/build.sh");
        assert!(
            result.status.success(),
            "os-image/build.sh (native) failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
        eprintln!(
            "os-image/build.sh (native): {:.1} s\n{}",
            start.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&result.stderr).trim()
        );
        out.join("lab-os.raw.zst")
    })
}

/// What the admin machine's HTTP server holds: HookOS, the native image (revision 1, the
/// control planes') and the plain one (revision 2, the workers').
fn artifacts_dir(dir: &Path) -> PathBuf {
    let (hookos, plain) = artifacts();
    let out = dir.join("artifacts");
    std::fs::create_dir_all(&out).expect("artifacts dir");
    for f in ["vmlinuz-x86_64", "initramfs-x86_64"] {
        std::fs::copy(hookos.join(f), out.join(f)).expect("copy HookOS");
    }
    std::fs::copy(native_image(), out.join(os_image_file(1))).expect("copy the native image");
    std::fs::copy(plain, out.join(os_image_file(2))).expect("copy the plain image");
    out
}

fn artifacts_url(file: &str) -> String {
    format!(
        "http://{}:{ARTIFACTS_PORT}/{file}",
        ironbell_lab::plan::SERVER_IP
    )
}

fn spec(workers: u32) -> String {
    LabCluster {
        control_plane: 3,
        workers,
        os_image_url: artifacts_url(&os_image_file(1)),
        worker_os_image_url: Some(artifacts_url(&os_image_file(2))),
        tinkerbell_ip: TINKERBELL_IP,
        hook_images_url: Some(artifacts_url("").trim_end_matches('/').to_string()),
        ..LabCluster::new(CLUSTER)
    }
    .spec()
}

fn output_text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `ironbell VERB cluster -f SPEC` in the lab's namespace, as an admin would run it.
fn lifecycle(netns: &str, verb: &str, spec: &Path, extra: &[&str]) -> Output {
    let start = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", netns, IRONBELL, verb, "cluster", "-f"])
        .arg(spec)
        .args([
            "-v",
            "1",
            "--service-manager",
            "process",
            "--node-bootstrapper",
            "native",
        ])
        .args(extra)
        .env_remove("IRONBELL_DB")
        // `-v 1`'s level, and the etcd store's retries and lost answers: what a failure
        // on the moved plane needs explained.
        .env("IRONBELL_LOG", "info,ironbell_store_etcd=debug")
        .stdin(Stdio::null())
        .output()
        .expect("run ironbell");
    eprintln!(
        "--- {verb} cluster ({:.0} s, {}):\n{}",
        start.elapsed().as_secs_f64(),
        out.status,
        output_text(&out)
    );
    out
}

/// `ironbell ARGS` in the lab's namespace (the moved plane's store is reached there).
fn ironbell(netns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", netns, IRONBELL])
        .args(args)
        .env_remove("IRONBELL_DB")
        .env_remove("IRONBELL_LOG")
        .output()
        .expect("run ironbell")
}

/// Runs `program ARGS` in the lab's namespace.
fn run_in(netns: &str, program: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", netns, program])
        .args(args)
        .output()
        .expect("run in the lab's namespace")
}

/// Machine `n`'s (1-based) hardware.csv cells.
fn row(lab: &Lab, n: usize) -> Vec<String> {
    lab.file("hardware.csv")
        .lines()
        .nth(n)
        .map(|r| r.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Whether the metadata service answers at the Tinkerbell IP from the admin machine.
fn vip_answers(netns: &str) -> bool {
    let url = format!("http://{TINKERBELL_IP}:50061/healthz");
    run_in(netns, "curl", &["-sf", "-m", "3", &url])
        .status
        .success()
}

/// The lab machine (1-based) whose MAC answers for the Tinkerbell IP, after a request to it.
fn vip_holder(lab: &Lab, netns: &str) -> Option<usize> {
    vip_answers(netns).then_some(())?;
    let neigh = run_in(netns, "ip", &["neigh", "show", &TINKERBELL_IP.to_string()]);
    let text = String::from_utf8_lossy(&neigh.stdout).to_lowercase();
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)?;
    (1..=MACHINES.len()).find(|&n| {
        row(lab, n)
            .iter()
            .any(|c| c.to_lowercase() == mac.to_lowercase())
    })
}

/// A background process in the lab's namespace, killed (its process group) when dropped.
struct Background(Child);

impl Background {
    fn spawn(netns: &str, argv: &[&str], log: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", netns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn");
        Self(child)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.0.wait();
    }
}

/// The `[N/M] task ... (T s)` lines of a lifecycle run.
fn task_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with('[')).collect()
}

#[test]
fn a_management_cluster_moves_its_plane_onto_its_lab_machines() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    for tool in ["ipmitool", "curl", "etcd", "tcpdump", "python3"] {
        ironbell_testbed::require_tool!(tool);
    }
    let lab = Lab::new("n");
    let (netns, dir) = lab.up_machines_only(&MACHINES, &["--memory", MEMORY_MIB]);
    let artifacts = artifacts_dir(&dir);
    let _http = Background::spawn(
        &netns,
        &[
            "python3",
            "-m",
            "http.server",
            &ARTIFACTS_PORT.to_string(),
            "--bind",
            &ironbell_lab::plan::SERVER_IP.to_string(),
            "--directory",
            &artifacts.display().to_string(),
        ],
        &dir.join("http.log"),
    );
    let pcap = dir.join("dhcp.pcap");
    let _capture = Background::spawn(
        &netns,
        &[
            "tcpdump",
            "-i",
            ironbell_lab::plan::BRIDGE,
            "-n",
            "-U",
            "-w",
            &pcap.display().to_string(),
            "udp and (port 67 or port 68)",
        ],
        &dir.join("tcpdump.log"),
    );
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(10), || pcap.is_file()
            && run_in(
                &netns,
                "curl",
                &["-sfI", "-m", "2", &artifacts_url("vmlinuz-x86_64")]
            )
            .status
            .success()),
        "tcpdump or the artifacts server did not start"
    );
    // hardware.csv without its last row: the worker added after the move.
    let full_csv = lab.file("hardware.csv");
    let csv4 = dir.join("hardware.csv");
    let first: Vec<&str> = full_csv.lines().take(5).collect();
    std::fs::write(&csv4, format!("{}\n", first.join("\n"))).expect("hardware.csv");
    let csv_arg = csv4.display().to_string();
    let spec_path = dir.join(format!("{CLUSTER}.yaml"));
    std::fs::write(&spec_path, spec(1)).expect("spec");

    // Create: the plane moves onto the three control-plane machines.
    let created = Instant::now();
    let out = lifecycle(&netns, "create", &spec_path, &["--hardware-csv", &csv_arg]);
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "create failed:\n{text}\n{}",
        lab.diagnostics()
    );
    let create_time = created.elapsed();
    let create_tasks: Vec<String> = task_lines(&text).into_iter().map(str::to_string).collect();
    assert!(
        text.contains("The cluster's plane formed: 3 etcd members"),
        "{text}"
    );
    let moved = text
        .lines()
        .find(|l| l.contains("Moved ") && l.contains("objects to the cluster's plane"))
        .unwrap_or_else(|| panic!("no move line:\n{text}"))
        .trim()
        .to_string();
    let generated = dir.join(CLUSTER).join("generated");
    assert!(generated.join("bootstrap.db.moved").is_file());
    assert!(!generated.join(format!("{CLUSTER}.db")).exists());
    assert!(
        !generated.join("plane.pid").exists(),
        "the bootstrap plane still runs"
    );
    let store = std::fs::read_to_string(dir.join(CLUSTER).join(format!("{CLUSTER}.store")))
        .expect("NAME/NAME.store names the moved plane");
    let store = store.trim().to_string();
    for n in 1..=4 {
        assert!(
            lab.console(&format!("node-{n}"))
                .contains("ironbell-os: phoned home (200)"),
            "node-{n} did not phone home\n{}",
            lab.diagnostics()
        );
    }
    for n in 1..=3 {
        assert!(
            lab.console(&format!("node-{n}"))
                .contains("ironbell-os: native node: etcd member"),
            "node-{n}'s member did not come up\n{}",
            lab.diagnostics()
        );
    }
    let addresses = run_in(&netns, "ip", &["-4", "addr", "show"]);
    assert!(
        !String::from_utf8_lossy(&addresses.stdout).contains(&format!("{TINKERBELL_IP}/32")),
        "the admin machine still holds the Tinkerbell IP"
    );
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(120), || vip_holder(&lab, &netns)
            .is_some_and(|n| n <= 3)),
        "no control-plane machine answers at the Tinkerbell IP\n{}",
        lab.diagnostics()
    );
    let out = ironbell(&netns, &["--store", &store, "get", "hardware", "-n", NS]);
    assert!(out.status.success(), "{}", output_text(&out));
    for n in 1..=4 {
        assert!(
            output_text(&out).contains(&format!("node-{n}")),
            "node-{n} is not on the moved plane:\n{}",
            output_text(&out)
        );
    }

    // After the move: a worker added to hardware.csv is provisioned by the moved plane.
    let csv5 = dir.join("hardware-5.csv");
    std::fs::write(&csv5, &full_csv).expect("hardware.csv, five rows");
    std::fs::write(&spec_path, spec(2)).expect("spec");
    let scaled = Instant::now();
    let out = lifecycle(
        &netns,
        "upgrade",
        &spec_path,
        &["--hardware-csv", &csv5.display().to_string()],
    );
    assert!(
        out.status.success(),
        "scale up on the moved plane failed:\n{}\n{}",
        output_text(&out),
        lab.diagnostics()
    );
    let scale_time = scaled.elapsed();
    assert!(
        lab.console("node-5")
            .contains("ironbell-os: phoned home (200)"),
        "node-5 did not phone home\n{}",
        lab.diagnostics()
    );
    let out = ironbell(
        &netns,
        &[
            "--store", &store, "get", "hardware", "node-5", "-n", NS, "-o", "yaml",
        ],
    );
    assert!(
        output_text(&out).contains("ownerName"),
        "node-5 is not taken by the cluster:\n{}",
        output_text(&out)
    );

    // The control-plane machine holding the Tinkerbell IP powered off through its BMC.
    let holder = vip_holder(&lab, &netns).expect("a machine holds the Tinkerbell IP");
    assert!(holder <= 3, "node-{holder} holds the Tinkerbell IP");
    lab.ipmi_power(&netns, holder, "off");
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(60), || lab.powered_off(&netns, holder)),
        "node-{holder} did not power off"
    );
    let lost = Instant::now();
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(180), || vip_holder(&lab, &netns)
            .is_some_and(|n| n != holder && n <= 3)),
        "the Tinkerbell IP did not move to another replica\n{}",
        lab.diagnostics()
    );
    let failover = lost.elapsed();
    let out = ironbell(
        &netns,
        &[
            "--store",
            &store,
            "get",
            "machines.cluster.x-k8s.io",
            "-n",
            NS,
        ],
    );
    assert!(
        out.status.success(),
        "the plane with one of three members lost: {}",
        output_text(&out)
    );

    // Delete: the management moves back to the admin machine, which takes everything down.
    let deleted = Instant::now();
    let out = lifecycle(&netns, "delete", &spec_path, &[]);
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "delete failed:\n{text}\n{}",
        lab.diagnostics()
    );
    assert!(
        text.contains("objects back to the bootstrap plane on this machine"),
        "{text}"
    );
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(180), || (1..=MACHINES.len())
            .all(|n| lab.powered_off(&netns, n))),
        "a machine is still on\n{}",
        lab.diagnostics()
    );
    let delete_time = deleted.elapsed();
    let local = generated
        .join(format!("{CLUSTER}.db"))
        .display()
        .to_string();
    let out = ironbell(
        &netns,
        &["--store", &local, "get", "hardware", "-n", NS, "-o", "yaml"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        !output_text(&out).contains("ownerName"),
        "a Hardware is still owned:\n{}",
        output_text(&out)
    );

    // The capture: every DHCP offer came from one plane.
    drop(_capture);
    dhcp_capture::assert_one_plane_per_offer(&pcap);
    eprintln!(
        "timings: create {:.0} s ({moved}), scale-up on the moved plane {:.0} s, \
         Tinkerbell IP moved {:.0} s after node-{holder} powered off, delete {:.0} s",
        create_time.as_secs_f64(),
        scale_time.as_secs_f64(),
        failover.as_secs_f64(),
        delete_time.as_secs_f64()
    );
    eprintln!("create's tasks:\n{}", create_tasks.join("\n"));
}
