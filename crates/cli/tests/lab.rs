//! End to end: `ironbell lab up` provisions QEMU machines (software emulation) from a
//! generated hardware.csv through virtual BMCs, HookOS with the real agent, the lab
//! template (image2disk, writefile, reboot) and the OS image, and each installed OS prints
//! the metadata it read from ironbell. Everything runs in a network namespace the lab
//! creates and `ironbell lab down` removes.
//!
//! While the first test's machines provision, the plane's web dashboard is watched in
//! headless Chromium (tests/dashboard/lab.mjs, playwright-core): each machine's phase
//! changes live in the machine list, the first machine's page receives its log lines as
//! they arrive and shows its timeline, and a change without the token is refused.
//! Screenshots go to `<target>/test-output/dashboard/lab-*.png`.
//!
//! HookOS (with the real agent, built by hookos/build.sh) and the OS image
//! (os-image/build.sh) are built once per run. The tests take turns: each boots
//! machines that need most of the machine's two cores.

#[path = "common/lab.rs"]
mod harness;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::{IRONBELL, Lab, action_names, artifacts, repo};
use ironbell_model::corev1::Node;

/// One lab at a time.
static LAB: Mutex<()> = Mutex::new(());

impl Lab {
    fn up(&self, extra: &[&str]) -> Output {
        let (hookos, image) = artifacts();
        let mut args = vec!["--hookos".as_ref(), hookos.as_os_str()];
        args.extend(["--os-image".as_ref(), image.as_os_str()]);
        args.extend(["--timeout", "15m"].map(std::ffi::OsStr::new));
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        self.up_with(&args, extra)
    }

    fn node(&self, name: &str) -> Option<Node> {
        let store: ironbell_store::SharedStore = std::sync::Arc::new(
            ironbell_store_sqlite::SqliteStore::open(self.dir.join("ironbell.db")).expect("store"),
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(ironbell_store::api::<Node>(&store).get("", name))
            .ok()
    }

    fn workflow(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.ironbell(&["get", "workflows", name, "-n", "lab", "-o", "json"]))
            .expect("workflow JSON")
    }

    /// Workflow `name` of a replicated lab, read from its etcd inside the lab's namespace
    /// (where the members listen).
    fn workflow_in(&self, netns: &str, name: &str) -> serde_json::Value {
        let out = Command::new("ip")
            .args(["netns", "exec", netns, IRONBELL, "--db"])
            .arg(ironbell_lab::replicas::store_spec())
            .args(["get", "workflows", name, "-n", "lab", "-o", "json"])
            .output()
            .expect("run ironbell in the lab's namespace");
        assert!(out.status.success(), "get workflows {name}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("workflow JSON")
    }
}

/// Runs tests/dashboard/lab.mjs (Chromium through playwright-core) in the lab's namespace
/// against the dashboard at `addr` once it answers, until `machines` (namespace/name) all
/// succeeded; returns what it printed, or `None` without node, chromium or playwright-core
/// (a failure in CI).
fn watch_dashboard(lab: &Lab, addr: &str, machines: &[&str]) -> Option<String> {
    let node = ironbell_testbed::require_tool("node")?;
    let chromium = ironbell_testbed::require_tool("chromium")?;
    let scripts = repo().join("tests/dashboard");
    if !scripts.join("node_modules/playwright-core").is_dir() {
        let why = "playwright-core is not installed: run `npm ci` in tests/dashboard (scripts/setup does)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED the dashboard part: {why}");
        return None;
    }
    let netns = ironbell_lab::netns_name(&lab.name);
    let health = format!("http://{addr}/healthz");
    let up = ironbell_testbed::wait_until(Duration::from_secs(600), || {
        Command::new("ip")
            .args(["netns", "exec", &netns, "curl", "-sf", "-m", "2", &health])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(up, "the lab's dashboard never answered at {addr}");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-output/dashboard");
    let out = Command::new("ip")
        .args(["netns", "exec", &netns, "env"])
        .arg(format!("DASHBOARD_URL=http://{addr}"))
        .arg(format!("MACHINES={}", machines.join(",")))
        .arg(format!("OUT_DIR={}", out_dir.display()))
        .arg(format!("CHROMIUM={}", chromium.display()))
        .arg(node)
        .arg(scripts.join("lab.mjs"))
        .current_dir(&scripts)
        .output()
        .expect("run node");
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn ok_line(console: &str, mac: &str, hostname: &str) -> bool {
    console.contains(&format!(
        "ironbell-os: instance-id={mac} hostname={hostname}"
    ))
}

#[test]
fn bios_over_ipmi_and_uefi_over_redfish_are_provisioned_concurrently_and_a_stranger_is_ignored() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("a");
    // The dashboard watched in Chromium while the machines provision (tests/dashboard/lab.mjs).
    let dashboard = format!("{}:7180", ironbell_lab::replicas::replica_ip(0));
    let (out, watched) = std::thread::scope(|scope| {
        let up = scope.spawn(|| {
            lab.up(&[
                "--machine",
                "bios,ipmi",
                "--machine",
                "uefi,redfish",
                "--strangers",
                "1",
                "--dashboard",
                &dashboard,
            ])
        });
        let watched = watch_dashboard(&lab, &dashboard, &["lab/node-1", "lab/node-2"]);
        (up.join().expect("lab up"), watched)
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "lab up failed\n{}", lab.diagnostics());
    if let Some(watched) = watched {
        assert!(
            watched.lines().any(|l| l.starts_with("PASS")),
            "the dashboard did not show the provisioning live:\n{watched}"
        );
        eprintln!("dashboard: {}", watched.lines().last().unwrap_or_default());
    }

    // Both workflows succeeded, and each installed OS printed what the store holds.
    for (machine, mac) in [
        ("node-1", "52:54:00:42:00:01"),
        ("node-2", "52:54:00:42:00:02"),
    ] {
        let wf = lab.workflow(machine);
        assert_eq!(wf["status"]["state"], "SUCCESS", "{machine}: {wf:#}");
        let hw: serde_json::Value = serde_json::from_str(
            &lab.ironbell(&["get", "hardware", machine, "-n", "lab", "-o", "json"]),
        )
        .expect("hardware JSON");
        let instance = &hw["spec"]["metadata"]["instance"];
        assert_eq!(instance["id"], mac);
        assert_eq!(instance["hostname"], machine);
        assert!(
            ok_line(&lab.console(machine), mac, machine),
            "{machine} did not print its metadata\n{}",
            lab.diagnostics()
        );
        // It booted from its disk: the OS came after HookOS's reboot, not from the network.
        let console = lab.console(machine);
        let hookos = console.rfind("hookos: starting agent").expect("HookOS ran");
        let os = console.rfind("ironbell-os: ").expect("the OS ran");
        assert!(hookos < os);
        // It phoned home, and its Node is Ready.
        assert!(
            console.contains("ironbell-os: phoned home (200)"),
            "{machine} did not phone home\n{}",
            lab.diagnostics()
        );
        let node = lab.node(machine).unwrap_or_else(|| {
            panic!(
                "{machine} has no Node after its phone-home\n{}",
                lab.diagnostics()
            )
        });
        assert_eq!(
            node.spec.provider_id.as_deref(),
            Some(format!("tinkerbell://lab/{machine}").as_str()),
            "{node:?}"
        );
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone());
        assert_eq!(ready.as_deref(), Some("True"), "{machine}: {node:?}");
    }

    // node-1's BMC speaks only IPMI and node-2's only Redfish: each was driven over it.
    let vbmc = lab.file("logs/vbmc.log");
    let lines = |machine: &str, proto: &str| {
        vbmc.lines()
            .filter(|l| l.contains(machine) && l.to_lowercase().contains(proto))
            .count()
    };
    assert!(lines("node-1", "ipmi") > 0, "no IPMI for node-1:\n{vbmc}");
    assert!(
        lines("node-2", "redfish") > 0,
        "no Redfish for node-2:\n{vbmc}"
    );

    // The stranger (not in hardware.csv) was never answered.
    let stranger = lab.console("stranger-1");
    assert!(
        stranger.contains("iPXE") || stranger.contains("SeaBIOS"),
        "the stranger did not boot:\n{stranger}"
    );
    assert!(
        !stranger.contains("net0: 10.42.")
            && !stranger.contains("Loading HookOS")
            && !stranger.contains("hookos:"),
        "the stranger was served:\n{stranger}"
    );
    assert!(!stdout.contains("got a DHCP answer"), "{stdout}");

    // HookOS's kernel sends its command line over syslog: the agent token on it is redacted
    // before the line reaches the service log or the machine log. (The service log echoes
    // machine messages rate-limited, so only the machine log is sure to hold the line.)
    let log = lab.file("logs/ironbell.log");
    let machine_log = lab.file("machine-logs/lab/node-1.log");
    assert!(
        machine_log.contains("ironbell_token=<redacted>"),
        "{machine_log}"
    );
    for (what, text) in [("service log", &log), ("machine log", &machine_log)] {
        let leaked = text
            .lines()
            .any(|l| l.contains("ironbell_token=") && !l.contains("ironbell_token=<redacted>"));
        assert!(!leaked, "the agent token is not redacted in the {what}");
    }

    // A soft power-off, over IPMI for node-1 and Redfish for node-2, presses the ACPI power
    // button: each installed OS notices and powers off. (The Job finishes only once its
    // BMC reports the machine off; the test itself sends nothing to the lab's network.)
    std::thread::scope(|s| {
        for machine in ["node-1", "node-2"] {
            let lab = &lab;
            s.spawn(move || {
                let bmc = format!("bmc-{machine}");
                let args = ["bmc", "power", "soft", &bmc, "-n", "lab", "--timeout", "3m"];
                lab.ironbell(&args);
            });
        }
    });
    for machine in ["node-1", "node-2"] {
        assert!(
            lab.console(machine)
                .contains("ironbell-os: power button pressed: powering off"),
            "{machine} did not see the power button\n{}",
            lab.diagnostics()
        );
    }

    // Figures for the report.
    eprintln!("{}", lab.file("summary.txt"));

    let down = lab.down();
    assert!(down.status.success(), "lab down: {down:?}");
    assert!(!lab.dir.exists());
    assert!(
        !Path::new("/run/netns")
            .join(format!("ironbell-lab-{}", lab.name))
            .exists()
    );
}

/// Issue 16's lab: the default three machines provisioned by two replicas on a
/// three-member etcd (`lab up --replicas 2`), the leading replica killed with SIGKILL once
/// every machine's agent runs. The other replica takes over the controllers, the agents
/// move to it, and every machine finishes without an action handed out twice.
#[test]
fn two_replicas_on_three_etcd_members_finish_every_machine_when_the_leader_is_killed() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("c");
    let (hookos, image) = artifacts();
    let progress = lab.dir.with_extension("up.log");
    let log = std::fs::File::create(&progress).expect("progress log");
    let started = Instant::now();
    let mut up = Command::new(IRONBELL)
        .args(["lab", "up", "--name", &lab.name, "--dir"])
        .arg(&lab.dir)
        .arg("--hookos")
        .arg(hookos)
        .arg("--os-image")
        .arg(image)
        .args(["--timeout", "15m", "--replicas", "2"])
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("run ironbell lab up");
    let machines = ["node-1", "node-2", "node-3"];

    // Every agent runs: the middle of the provisioning.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = std::fs::read_to_string(&progress).unwrap_or_default();
        let agents = machines
            .iter()
            .filter(|m| {
                text.lines()
                    .any(|l| l.contains(&format!(" {m} ")) && l.contains("hookos-up"))
            })
            .count();
        if agents == machines.len() {
            break;
        }
        if let Ok(Some(status)) = up.try_wait() {
            panic!(
                "lab up ended early ({status}):\n{text}\n{}",
                lab.diagnostics()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the agents did not all start:\n{text}\n{}",
            lab.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&progress).unwrap_or_default();
    assert!(
        text.contains("ironbell-1 leads the controllers"),
        "replica 1 was to lead:\n{text}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&lab.file("state.json")).expect("state.json");
    let leader = state["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["role"] == "ironbell-1")
        .and_then(|p| p["pid"].as_u64())
        .expect("the leader's pid");
    let killed = Command::new("kill")
        .args(["-KILL", &leader.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    eprintln!(
        "killed the leading replica (pid {leader}) at {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let status = up.wait().expect("lab up");
    let text = std::fs::read_to_string(&progress).unwrap_or_default();
    eprintln!("lab up --replicas 2: {status}\n{text}");
    assert!(status.success(), "{text}\n{}", lab.diagnostics());
    let survivor = lab.file("logs/ironbell.log");
    assert!(
        survivor.contains("controllers: this replica leads"),
        "replica 0 did not take over the controllers\n{survivor}"
    );
    let netns = state["netns"].as_str().expect("netns");
    for (i, m) in machines.iter().enumerate() {
        let wf = lab.workflow_in(netns, m);
        assert_eq!(wf["status"]["state"], "SUCCESS", "{wf:#}");
        let console = lab.console(m);
        assert!(
            ok_line(&console, &format!("52:54:00:42:00:0{}", i + 1), m),
            "{}",
            lab.diagnostics()
        );
        for action in wf["status"]["tasks"][0]["actions"]
            .as_array()
            .expect("actions")
        {
            // Each action ran once. It may have been handed out again when the leader died
            // between handing it out and hearing it start: the agent does not run an action
            // whose RUNNING report failed, and asks the next replica.
            let name = action["name"].as_str().expect("name");
            let count = |what: &str| {
                action_names(&console, what)
                    .iter()
                    .filter(|n| **n == name)
                    .count()
            };
            let (handed, unstarted, succeeded) = (
                count("received action"),
                count("reporting RUNNING failed"),
                count("reported state=Success"),
            );
            assert_eq!(
                succeeded, 1,
                "{m}: {name} succeeded {succeeded} times\n{console}"
            );
            assert_eq!(
                handed,
                1 + unstarted,
                "{m}: {name} handed out {handed} times, {unstarted} not started\n{console}"
            );
        }
    }
}

/// Issue 15's lab: `lab up --machines-only` gives machines (powered off), BMCs and a
/// hardware.csv with the labels asked for, and nothing else: no ironbell service listens in
/// the lab's network. Nothing boots, so it needs no HookOS or OS image.
#[test]
fn machines_only_gives_powered_off_machines_answering_bmcs_and_a_hardware_csv_and_no_plane() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    for tool in ["ipmitool", "curl", "ss"] {
        ironbell_testbed::require_tool!(tool);
    }
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("m");
    let specs = [
        "bios,ipmi,type=cp",
        "uefi,redfish,type=worker,rack=r1",
        "bios,both,type=worker",
    ];
    let mut args = Vec::new();
    for spec in specs {
        args.extend(["--machine", spec]);
    }
    args.push("--machines-only");
    let out = lab.up_with(
        &args.iter().map(std::ffi::OsStr::new).collect::<Vec<_>>(),
        &args,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "lab up --machines-only failed\n{}",
        lab.diagnostics()
    );
    let netns = format!("ironbell-lab-{}", lab.name);
    let csv_path = lab.dir.join("hardware.csv");
    for shown in [
        format!("hardware.csv:  {}", csv_path.display()),
        "Tinkerbell IP: 10.42.0.1".to_string(),
        format!("ip netns exec {netns} COMMAND"),
    ] {
        assert!(stdout.contains(&shown), "{shown:?} not in:\n{stdout}");
    }

    // The CSV: EKS Anywhere's columns, one row per machine with its labels, readable by
    // the owner only (it holds the BMC password).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&csv_path)
        .expect("hardware.csv")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let csv = lab.file("hardware.csv");
    let rows = ironbell_inventory::parse_inventory(&csv)
        .unwrap_or_else(|e| panic!("hardware.csv does not import: {e}\n{csv}"))
        .rows;
    assert_eq!(rows.len(), 3, "{csv}");
    let label = |i: usize, key: &str| rows[i].labels.get(key).cloned();
    assert_eq!(label(0, "type").as_deref(), Some("cp"));
    assert_eq!(label(1, "type").as_deref(), Some("worker"));
    assert_eq!(label(1, "rack").as_deref(), Some("r1"));
    assert_eq!(label(2, "type").as_deref(), Some("worker"));
    let header = csv.lines().next().unwrap_or_default();
    for column in [
        "hostname",
        "bmc_ip",
        "bmc_username",
        "bmc_password",
        "mac",
        "ip_address",
        "netmask",
        "gateway",
        "nameservers",
        "labels",
        "disk",
    ] {
        assert!(
            header.split(',').any(|c| c == column),
            "no {column} in {header}"
        );
    }

    // Each BMC answers from inside the lab's namespace, with the CSV's credentials, over
    // the protocols it speaks: every machine is off.
    let in_lab = |program: &str, args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &netns, program])
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("run in the lab's namespace");
        assert!(out.status.success(), "{program} {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lines: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for (i, row) in lines.iter().enumerate() {
        let (name, bmc, user, password) = (row[0], row[1], row[2], row[3]);
        if specs[i].contains("ipmi") || specs[i].contains("both") {
            let status = in_lab(
                "ipmitool",
                &[
                    "-I", "lanplus", "-H", bmc, "-U", user, "-E", "chassis", "power", "status",
                ],
                &[("IPMI_PASSWORD", password)],
            );
            assert!(
                status.contains("Chassis Power is off"),
                "{name} over IPMI: {status}"
            );
        }
        if specs[i].contains("redfish") || specs[i].contains("both") {
            let url = format!("https://{bmc}/redfish/v1/Systems/{name}");
            let netrc = lab.dir.with_extension(format!("{name}.netrc"));
            std::fs::write(
                &netrc,
                format!("machine {bmc} login {user} password {password}\n"),
            )
            .expect("netrc");
            let body = in_lab(
                "curl",
                &["-sSk", "--netrc-file", netrc.to_str().expect("UTF-8"), &url],
                &[],
            );
            let _ = std::fs::remove_file(&netrc);
            let system: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
            assert_eq!(
                system["PowerState"], "Off",
                "{name} over Redfish: {system:#}"
            );
        }
    }

    // The machines exist (their QEMU runs, paused: powered off) and nothing of ironbell's
    // plane runs: only the machines, their BMCs and the router advertisements.
    let state: serde_json::Value =
        serde_json::from_str(&lab.file("state.json")).expect("state.json");
    let roles: Vec<&str> = state["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["role"].as_str())
        .collect();
    for machine in ["node-1", "node-2", "node-3"] {
        assert!(
            roles.contains(&format!("qemu {machine}").as_str()),
            "{roles:?}"
        );
    }
    assert!(
        roles
            .iter()
            .all(|r| r.starts_with("qemu ") || *r == "vbmc" || *r == "radvd"),
        "{roles:?}"
    );
    let net = ironbell_lab::plan::network();
    let plane_ports = [
        net.dhcp.port(),
        net.tftp_addr().port(),
        net.syslog.port(),
        net.http.port(),
        net.metadata.port(),
        net.grpc.port(),
    ];
    let sockets = in_lab("ss", &["-Hlntu"], &[]);
    for line in sockets.lines() {
        let port = line
            .split_whitespace()
            .nth(4)
            .and_then(|local| local.rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok());
        assert!(
            port.is_none_or(|p| !plane_ports.contains(&p)),
            "a plane port is in use in the lab:\n{sockets}"
        );
    }
    assert!(!lab.dir.join("ironbell.db").exists());

    let down = lab.down();
    assert!(down.status.success(), "lab down: {down:?}");
    assert!(!lab.dir.exists());
    assert!(!Path::new("/run/netns").join(&netns).exists());
}
