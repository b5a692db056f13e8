//! The web dashboard in headless Chromium: `ironbell serve all --dashboard` runs on loopback
//! over a store with two machines (imported from a hardware.csv), this test plays their
//! agents over the workflow gRPC API and sends their syslog with util-linux `logger`, and
//! `tests/dashboard/dashboard.mjs` (playwright-core driving Debian's `/usr/bin/chromium`)
//! checks what an operator sees:
//!
//! - the machine list shows each machine's phase change live (PENDING → RUNNING → SUCCESS
//!   for node1, → FAILED for node2), without a reload; an agent's message that holds markup
//!   shows as text;
//! - a machine's page shows its timeline and its log lines as they arrive;
//! - a change without the token is refused (401), with it a power cycle creates a BMC Job
//!   and allowPXE is turned off.
//!
//! Screenshots go to `<target>/test-output/dashboard/` (kept as CI artifacts). Needs `node`,
//! `chromium` and `npm ci` in `tests/dashboard` (scripts/setup does it); in CI their absence
//! fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ironbell_testbed::ChildGuard;
use ironbell_workflow_proto::action_status_request::StateType;

#[path = "common/agent_api.rs"]
mod agent_api;
use agent_api::{apply, connect, ironbell, next_action, report, run};

/// `(name, MAC, address)`: the address is where each machine's syslog comes from.
const NODES: [(&str, &str, &str); 2] = [
    ("node1", "3c:ec:ef:20:00:01", "127.0.0.1"),
    ("node2", "3c:ec:ef:20:00:02", "127.0.0.2"),
];

/// How long the browser may take for all its checks.
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

const TEMPLATE: &str = r#"{"apiVersion": "tinkerbell.org/v1alpha1", "kind": "Template",
 "metadata": {"name": "debian", "namespace": "default"},
 "spec": {"data": "version: \"0.1\"\nname: debian\nglobal_timeout: 1200\ntasks:\n- name: install\n  worker: \"{{.device_1}}\"\n  actions:\n  - {name: write-image, image: quay.io/tinkerbell/actions/image2disk:latest, timeout: 300}\n  - {name: kexec, image: quay.io/tinkerbell/actions/kexec:latest, timeout: 60}\n"}}"#;

fn workflow(name: &str, node: &str, mac: &str) -> String {
    format!(
        r#"{{"apiVersion": "tinkerbell.org/v1alpha1", "kind": "Workflow",
 "metadata": {{"name": "{name}", "namespace": "default"}},
 "spec": {{"templateRef": "debian", "hardwareRef": "{node}", "hardwareMap": {{"device_1": "{mac}"}}}}}}"#
    )
}

/// A Hardware, its BMC Machine (at `127.0.0.1:bmc_port`) and the BMC's Secret.
fn machine(name: &str, mac: &str, ip: &str, bmc_port: u16) -> String {
    format!(
        r#"{{"apiVersion": "v1", "kind": "List", "items": [
 {{"apiVersion": "tinkerbell.org/v1alpha1", "kind": "Hardware",
  "metadata": {{"name": "{name}", "namespace": "default"}},
  "spec": {{"bmcRef": {{"apiGroup": "bmc.tinkerbell.org", "kind": "Machine", "name": "bmc-{name}"}},
   "interfaces": [{{"dhcp": {{"mac": "{mac}", "ip": {{"address": "{ip}", "netmask": "255.0.0.0"}}}},
                    "netboot": {{"allowPXE": true, "allowWorkflow": true}}}}]}}}},
 {{"apiVersion": "bmc.tinkerbell.org/v1alpha1", "kind": "Machine",
  "metadata": {{"name": "bmc-{name}", "namespace": "default"}},
  "spec": {{"connection": {{"host": "127.0.0.1", "port": {bmc_port}, "insecureTLS": true,
   "authSecretRef": {{"name": "bmc-{name}-auth", "namespace": "default"}}}}}}}},
 {{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
  "metadata": {{"name": "bmc-{name}-auth", "namespace": "default"}},
  "data": {{"username": "YWRtaW4=", "password": "c2VjcmV0"}}}}]}}"#
    )
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

/// Where the screenshots go: `<target dir>/test-output/dashboard`.
fn output_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-output")
        .join("dashboard")
}

/// The browser script's lines, as they come, and what it printed so far.
struct Script {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    deadline: Instant,
}

impl Script {
    /// Waits for the line `want`; fails the test on `FAIL` or at the deadline.
    fn wait(&mut self, want: &str, serve_log: &Path) {
        while !self.seen.iter().any(|l| l == want) {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    println!("browser: {line}");
                    self.seen.push(line);
                }
                Err(e) => panic!(
                    "no {want:?} from the browser ({e}); it said:\n{}\n\nthe plane's log:\n{}",
                    self.seen.join("\n"),
                    std::fs::read_to_string(serve_log).unwrap_or_default()
                ),
            }
            if let Some(fail) = self.seen.iter().find(|l| l.starts_with("FAIL")) {
                panic!(
                    "the browser's checks failed: {fail}\n{}\n\nthe plane's log:\n{}",
                    self.seen.join("\n"),
                    std::fs::read_to_string(serve_log).unwrap_or_default()
                );
            }
        }
    }

    /// The phases the machine list showed for `machine`, in order.
    fn phases(&self, machine: &str) -> Vec<&str> {
        let prefix = format!("SAW {machine} ");
        self.seen
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_watches_machines_provision_in_the_dashboard() {
    let node = ironbell_testbed::require_tool!("node");
    let chromium = ironbell_testbed::require_tool!("chromium");
    ironbell_testbed::require_tool!("logger");
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/dashboard");
    if !script_dir.join("node_modules/playwright-core").is_dir() {
        let why = format!(
            "playwright-core is not installed: run `npm ci` in {} (scripts/setup does)",
            script_dir.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let bmc_port = free_tcp_port(); // nothing answers there: the BMCs are unreachable
    for (name, mac, ip) in NODES {
        apply(&db, dir.path(), &machine(name, mac, ip, bmc_port));
    }
    apply(&db, dir.path(), TEMPLATE);
    for (name, mac, _) in NODES {
        apply(&db, dir.path(), &workflow(&format!("wf-{name}"), name, mac));
    }
    let token = "dashboard-test-token-0123456789abcdef";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).expect("token");

    let (http, metadata, grpc, dashboard) = (
        free_tcp_port(),
        free_tcp_port(),
        free_tcp_port(),
        free_tcp_port(),
    );
    let syslog = free_udp_port();
    let at = |port: u16| format!("127.0.0.1:{port}");
    let artifacts = dir.path().join("hookos");
    std::fs::create_dir(&artifacts).expect("mkdir");
    let serve_log = dir.path().join("serve.log");
    let _plane = ChildGuard::new(
        ironbell(&db)
            .args(["serve", "all", "--public-ip", "127.0.0.1"])
            .args(["--http-addr", &at(http), "--metadata-addr", &at(metadata)])
            .args(["--grpc-addr", &at(grpc), "--syslog-addr", &at(syslog)])
            .args(["--dhcp-mode", "off", "--no-tftp", "--agent-auth", "none"])
            .args(["--dashboard", &at(dashboard)])
            .arg("--dashboard-token-file")
            .arg(&token_file)
            .arg("--artifacts-dir")
            .arg(&artifacts)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&serve_log).expect("log"))
            .spawn()
            .expect("start serve all"),
    );
    let up = ironbell_testbed::wait_until(agent_api::DEADLINE, || {
        std::net::TcpStream::connect(("127.0.0.1", dashboard)).is_ok()
    });
    assert!(
        up,
        "the dashboard never listened:\n{}",
        std::fs::read_to_string(&serve_log).unwrap_or_default()
    );

    let out = output_dir();
    let _ = std::fs::remove_dir_all(&out); // no screenshot of an earlier run is left
    let mut browser = ChildGuard::new(
        Command::new(node)
            .arg(script_dir.join("dashboard.mjs"))
            .current_dir(&script_dir)
            .env("DASHBOARD_URL", format!("http://{}", at(dashboard)))
            .env("DASHBOARD_TOKEN", token)
            .env("OUT_DIR", &out)
            .env("CHROMIUM", chromium)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node"),
    );
    let lines = browser.stdout_lines().expect("piped stdout");
    let mut script = Script {
        lines,
        seen: Vec::new(),
        deadline: Instant::now() + BROWSER_DEADLINE,
    };

    // 1. The machine list, live: each step waits until the browser has shown the phase.
    script.wait("READY machines", &serve_log);
    let mut agent = connect(&at(grpc)).await;
    let (node1, node2) = (NODES[0].1, NODES[1].1);
    let first = next_action(&mut agent, node1).await;
    report(&mut agent, &first, StateType::Running, "").await;
    script.wait("SAW default/node1 RUNNING", &serve_log);
    report(&mut agent, &first, StateType::Success, "image written").await;
    let second = next_action(&mut agent, node1).await;
    report(&mut agent, &second, StateType::Running, "").await;
    report(&mut agent, &second, StateType::Success, "kexec").await;
    script.wait("SAW default/node1 SUCCESS", &serve_log);
    let failing = next_action(&mut agent, node2).await;
    report(&mut agent, &failing, StateType::Running, "").await;
    script.wait("SAW default/node2 RUNNING", &serve_log);
    let markup = "<img src=x onerror=alert(1)>";
    report(&mut agent, &failing, StateType::Failed, markup).await;
    script.wait("SAW default/node2 FAILED", &serve_log);
    // Every phase shown, in order (the workflow service may pass through POST, its
    // after-actions state, on the way to SUCCESS).
    let node1_phases = script.phases("default/node1");
    let node1_phases: Vec<&str> = node1_phases.into_iter().filter(|p| *p != "POST").collect();
    assert_eq!(node1_phases, ["PENDING", "RUNNING", "SUCCESS"]);
    assert_eq!(
        script.phases("default/node2"),
        ["PENDING", "RUNNING", "FAILED"]
    );

    // 2. node1's page: log lines and a new Workflow's Events as they arrive.
    script.wait("READY machine", &serve_log);
    for n in 1..=3 {
        let sent = Command::new("logger")
            .args([
                "--server",
                "127.0.0.1",
                "--udp",
                "--port",
                &syslog.to_string(),
            ])
            .args(["-t", "hook", &format!("installing step {n}/3")])
            .status()
            .expect("logger");
        assert!(sent.success());
    }
    apply(&db, dir.path(), &workflow("wf-node1-retry", "node1", node1));
    let again = next_action(&mut agent, node1).await;
    assert_eq!(again.workflow_id, "default/wf-node1-retry");
    report(&mut agent, &again, StateType::Running, "").await;
    report(
        &mut agent,
        &again,
        StateType::Failed,
        "disk /dev/vda not found",
    )
    .await;

    // 3. Changes (the script checks them), then every screenshot is there.
    script.wait("PASS", &serve_log);
    let jobs = run(&db, &["get", "jobs", "-n", "default"]);
    assert!(jobs.contains("node1-power-cycle-"), "{jobs}");
    for shot in [
        "machines.png",
        "machine.png",
        "jobs.png",
        "machines-after.png",
    ] {
        let len = std::fs::metadata(out.join(shot)).map_or(0, |m| m.len());
        assert!(len > 1000, "{shot}: {len} bytes");
    }
    println!("screenshots in {}", out.display());
}

/// `ironbell serve dashboard` alone: pages for anyone, changes with the token it made into
/// the plane's directory (the Kubernetes API's admin token), and none without it.
#[test]
fn serve_dashboard_alone_takes_the_planes_admin_token() {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    apply(
        &db,
        dir.path(),
        &machine("node1", NODES[0].1, NODES[0].2, free_tcp_port()),
    );
    let port = free_tcp_port();
    let _dashboard = ChildGuard::new(
        ironbell(&db)
            .args([
                "serve",
                "dashboard",
                "--dashboard-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve dashboard"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let status = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let up = ironbell_testbed::wait_until(agent_api::DEADLINE, || status(&[&base]) == "200");
    assert!(up, "serve dashboard never answered");
    let pxe_off = format!("{base}/api/machines/default/node1/allow-pxe/off");
    assert_eq!(status(&["-X", "POST", &pxe_off]), "401");
    let token = std::fs::read_to_string(dir.path().join("api/admin.token")).expect("admin token");
    let bearer = format!("Authorization: Bearer {}", token.trim());
    assert_eq!(status(&["-X", "POST", "-H", &bearer, &pxe_off]), "200");
    let hw = run(
        &db,
        &[
            "get",
            "hardware",
            "node1",
            "-o",
            "jsonpath={.spec.interfaces[0].netboot.allowPXE}",
        ],
    );
    assert_eq!(hw.trim(), "false");
}
