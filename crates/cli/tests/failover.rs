//! Leader failover with work in flight: two `ironbell serve all` replicas on one etcd, a
//! Workflow run by the real `ironbell-agent` and a BMC Job on a real IPMI BMC (pyghmi's),
//! and the leader killed with SIGKILL while an action runs and while the Job has tasks
//! left. The other replica must lead within the lease (15 s) and a few seconds, with a
//! larger fencing token; the Workflow must reach SUCCESS with every action run exactly
//! once (each appends its name to a file); every BMC task must complete exactly once
//! (Task objects, and the BMC's own log of power calls).
//!
//! The network: a server namespace with both replicas (192.0.2.1 and 192.0.2.2), etcd
//! and the BMC (192.0.2.3:623) in it, and the machine's namespace (192.0.2.10), where the
//! agent runs with the kernel command line that the standby replica's iPXE script gives
//! it: `grpc_authority` lists both replicas, the standby first, so the agent also meets a
//! standby's answer (UNAVAILABLE, "not the leader") and moves on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{SERVER_IP, server_and_client};
use ironbell_model::bmc::{Job, Task};
use ironbell_model::tinkerbell::{Workflow, WorkflowState};
use ironbell_ops::plane::CONTROLLERS_ELECTION;
use ironbell_ops::spec::{Access, StoreHandle, StoreSpec, open};
use ironbell_store::Api;
use ironbell_store_etcd::Leader;
use ironbell_testbed::{ChildGuard, Netns};

mod common;

/// Real etcd servers (the store-etcd tests' launcher, shared rather than copied).
#[path = "../../store-etcd/tests/support/mod.rs"]
#[allow(unreachable_pub)]
mod etcd;

const SECOND_IP: &str = "192.0.2.2";
const BMC_IP: &str = "192.0.2.3";
const MACHINE_IP: &str = "192.0.2.10";
const BMC_PASSWORD: &str = "Fo-7vr-Bmc-Pw";
/// Where `hardware import` puts the machine (EKS Anywhere's namespace), and so everything.
const NS: &str = "eksa-system";
/// The BMC Job: every task changes the power state, so each is one call the BMC logs.
const JOB_TASKS: [&str; 5] = ["on", "off", "on", "off", "on"];
/// How long the slow action runs: past the kill, and done before the other replica leads,
/// so that its report waits out the takeover.
const SLOW_SECS: u32 = 8;
/// Everything the test waits for has this long at most (the whole test stays under 90 s).
const PATIENCE: Duration = Duration::from_secs(30);
/// The controllers' lease (the default): a dead leader is replaced this long after its
/// last renewal.
const LEASE: Duration = Duration::from_secs(15);

/// One `ironbell serve all` replica, its log in a file.
struct Replica {
    child: Option<ChildGuard>,
    log: PathBuf,
}

impl Replica {
    fn start(srv: &Netns, dir: &Path, store: &str, ip: &'static str) -> Replica {
        let log = dir.join(format!("replica-{ip}.log"));
        let (logs, artifacts) = (dir.join(format!("machine-logs-{ip}")), dir.join("hookos"));
        std::fs::create_dir_all(&artifacts).unwrap();
        let at = |port: u16| format!("{ip}:{port}");
        let authorities = format!("{SECOND_IP}:42113,{SERVER_IP}:42113");
        let mut cmd = srv.command(env!("CARGO_BIN_EXE_ironbell"));
        cmd.args(["--store", store, "--machine-log-dir"])
            .arg(&logs)
            .args([
                "serve",
                "all",
                "--public-ip",
                ip,
                "--dhcp-mode",
                "off",
                "--no-tftp",
            ])
            .args(["--http-addr", &at(7171), "--metadata-addr", &at(7172)])
            .args(["--grpc-addr", &at(42113), "--syslog-addr", &at(514)])
            .args(["--grpc-authorities", &authorities, "--artifacts-dir"])
            .arg(&artifacts)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let child = spawn_logged(cmd, &log);
        let health = format!("http://{ip}:7171/healthz");
        common::wait_for(&format!("replica {ip} to serve"), || {
            srv.output("curl", &["-sf", "-m", "1", &health])
                .is_ok_and(|o| o.status.success())
        });
        Replica {
            child: Some(child),
            log,
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::id)
    }

    /// SIGKILL, by PID.
    fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = child.finish();
        }
    }
}

/// Starts `cmd` (stdin closed, stdout and stderr to `log`), killed by PID on drop.
fn spawn_logged(mut cmd: Command, log: &Path) -> ChildGuard {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    ChildGuard::new(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap(),
    )
}

/// Polls async `cond` every 100 ms until it gives a value; panics with `what` and the logs
/// after `limit`.
async fn poll<T, F, Fut>(what: &str, limit: Duration, logs: impl Fn() -> String, cond: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = cond().await {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "timed out ({limit:?}) waiting for {what}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The agent binary, which `cargo test --workspace` builds beside `ironbell` (this package
/// cannot depend on another's binary); when it is not there, the test fails under CI and
/// is skipped elsewhere (`cargo build -p ironbell-agent` first).
fn agent_binary() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_ironbell")).with_file_name("ironbell-agent");
    if path.is_file() {
        return Some(path);
    }
    ironbell_testbed::missing(&format!(
        "{} is not built (cargo build -p ironbell-agent)",
        path.display()
    ));
    None
}

/// The PID in a candidate identity (`host:pid:n`).
fn pid_of(leader: &Leader) -> Option<u32> {
    leader.identity.split(':').nth(1)?.parse().ok()
}

/// Runs `ironbell --store STORE ARGS` in `ns` to success.
fn ironbell(ns: &Netns, store: &str, args: &[&str]) {
    let mut all = vec!["--store", store];
    all.extend_from_slice(args);
    let out = ns.output(env!("CARGO_BIN_EXE_ironbell"), &all).unwrap();
    assert!(
        out.status.success(),
        "ironbell {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Template (three `cexec` actions that append their name to `runs`, the second then
/// sleeping [`SLOW_SECS`], so that the leader can be killed while it runs) and the Workflow
/// for the machine with MAC `mac`.
fn workflow_yaml(runs: &Path, mac: &str) -> String {
    let runs = runs.display();
    let action = |name: &str, sleep: u32| {
        format!(
            "      - name: {name}
        image: quay.io/tinkerbell/actions/cexec:latest
        timeout: 90
        environment:
          BLOCK_DEVICE: none
          FS_TYPE: tmpfs
          DEFAULT_INTERPRETER: /bin/sh -c
          CMD_LINE: echo {name} >> {runs}; sleep {sleep}
"
        )
    };
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {{name: failover, namespace: {NS}}}
spec:
  data: |
    version: \"0.1\"
    name: failover
    global_timeout: 600
    tasks:
    - name: install
      worker: \"{{{{.device_1}}}}\"
      actions:
{}{}{}---
apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata: {{name: wf1, namespace: {NS}}}
spec:
  templateRef: failover
  hardwareRef: node1
  hardwareMap: {{device_1: \"{mac}\"}}
",
        action("first", 0),
        action("slow", SLOW_SECS),
        action("last", 0)
    )
}

/// The BMC Job: [`JOB_TASKS`] on the machine's BMC.
fn job_yaml() -> String {
    let tasks: String = JOB_TASKS
        .iter()
        .map(|t| format!("  - powerAction: \"{t}\"\n"))
        .collect();
    format!(
        "apiVersion: bmc.tinkerbell.org/v1alpha1
kind: Job
metadata: {{name: cycle, namespace: {NS}}}
spec:
  machineRef: {{name: bmc-node1, namespace: {NS}}}
  tasks:
{tasks}"
    )
}

/// Whether a Job's or Task's conditions say `Completed=True`.
fn completed(conditions: Option<&Vec<ironbell_model::bmc::JobCondition>>) -> bool {
    conditions
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Completed" && c.status == "True")
}

/// The state of the Workflow's action `i`.
fn action_state(wf: &Workflow, i: usize) -> Option<WorkflowState> {
    wf.status
        .as_ref()?
        .tasks
        .as_ref()?
        .first()?
        .actions
        .get(i)?
        .state
        .clone()
}

/// The kernel parameters of the `kernel` line of an iPXE script (after the kernel URL).
fn kernel_params(script: &str) -> Option<String> {
    let line = script.lines().find(|l| l.starts_with("kernel "))?;
    let (_, params) = line.trim_start_matches("kernel ").split_once(' ')?;
    Some(params.to_string())
}

#[test]
fn the_leader_dies_with_a_workflow_and_a_bmc_job_in_flight() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    ironbell_testbed::require_tool!("etcd");
    let python = ironbell_testbed::require_tool!("python");
    let Some(agent) = agent_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (srv, cli, mac) = server_and_client();
    for ip in [SECOND_IP, BMC_IP] {
        srv.ip(&["addr", "add", &format!("{ip}/24"), "dev", "s0"])
            .unwrap();
    }
    cli.ip(&["addr", "add", &format!("{MACHINE_IP}/24"), "dev", "c0"])
        .unwrap();

    // Everything the test itself talks to (etcd, the BMC) lives in the server namespace.
    srv.enter(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(failover(&srv, &cli, &mac, dir.path(), &python, &agent))
    })
    .expect("the test body ran in the server namespace");
}

async fn failover(
    srv: &Netns,
    cli: &Netns,
    mac: &str,
    dir: &Path,
    python: &Path,
    agent_binary: &Path,
) {
    let started = Instant::now();
    let cluster = etcd::Cluster::start(1).await.expect("etcd");
    let store = format!(
        "etcd://{}/failover",
        cluster.endpoints()[0].trim_start_matches("http://")
    );
    let handle: StoreHandle = open(&store.parse::<StoreSpec>().unwrap(), Access::Create).unwrap();
    let election = handle.controller_election().unwrap().unwrap();
    let leader = || async { election.observe(CONTROLLERS_ELECTION).await.ok().flatten() };

    // The BMC: pyghmi's, power off, logging every power call; a power change takes effect
    // a second after the call, so each power task is in flight for a few seconds (until the
    // BMC controller looks again).
    let bmc_log = dir.join("bmc-calls.log");
    let mut bmc = srv.command(python.to_str().unwrap());
    bmc.arg(ironbell_testbed::pyghmi_bmc_script())
        .args(["--address", BMC_IP, "--port", "623", "--user", "admin"])
        .args(["--password", BMC_PASSWORD, "--power-delay", "1", "--log"])
        .arg(&bmc_log);
    let bmc_out = dir.join("bmc.out");
    let _bmc = spawn_logged(bmc, &bmc_out);
    common::wait_for("the BMC to start", || {
        std::fs::read_to_string(&bmc_out).is_ok_and(|o| o.contains("READY"))
    });

    // The machine, its BMC Machine and credentials, from a hardware.csv.
    let csv = dir.join("hardware.csv");
    std::fs::write(
        &csv,
        format!(
            "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password\n\
             node1,{MACHINE_IP},255.255.255.0,{SERVER_IP},198.51.100.53,{mac},/dev/vda,type=cp,{BMC_IP},admin,{BMC_PASSWORD}\n"
        ),
    )
    .unwrap();
    ironbell(srv, &store, &["hardware", "import", csv.to_str().unwrap()]);

    // Replica A first, so that it leads; then B, a candidate.
    let mut a = Replica::start(srv, dir, &store, SERVER_IP);
    let mut b = Replica::start(srv, dir, &store, SECOND_IP);
    let agent_log = dir.join("agent.log");
    let all_logs = [
        ("replica A", a.log.clone()),
        ("replica B", b.log.clone()),
        ("agent", agent_log.clone()),
        ("BMC calls", bmc_log.clone()),
    ];
    let logs = || {
        all_logs
            .iter()
            .map(|(name, path)| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                format!("--- {name} (last 40 lines) ---\n{tail}\n")
            })
            .collect::<String>()
    };
    let first = poll("replica A to lead", PATIENCE, &logs, || async {
        leader().await.filter(|l| pid_of(l) == a.pid())
    })
    .await;

    // The Workflow: the controller on A renders it and makes its agent token.
    let runs = dir.join("runs");
    let yaml = dir.join("workflow.yaml");
    std::fs::write(&yaml, workflow_yaml(&runs, mac)).unwrap();
    ironbell(srv, &store, &["apply", "-f", yaml.to_str().unwrap()]);

    // The machine boots from the standby replica B: its iPXE script carries the token and
    // names both replicas.
    let url = format!("http://{SECOND_IP}:7171/ipxe/script/{mac}/auto.ipxe");
    let params = poll(
        "B's iPXE script with the agent token",
        PATIENCE,
        &logs,
        || {
            let out = cli.output("curl", &["-sf", "-m", "2", &url]);
            async move {
                let script = String::from_utf8(out.ok()?.stdout).ok()?;
                kernel_params(&script).filter(|p| p.contains("ironbell_token="))
            }
        },
    )
    .await;
    let both = format!("grpc_authority={SECOND_IP}:42113,{SERVER_IP}:42113");
    assert!(params.split(' ').any(|p| p == both), "{params}");

    // The agent, with that kernel command line, in the machine's namespace.
    let cmdline = dir.join("cmdline");
    std::fs::write(&cmdline, &params).unwrap();
    let mut agent = cli.command(agent_binary.to_str().unwrap());
    agent
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IRONBELL_CMDLINE", &cmdline)
        .env("BACKOFF_MAX_INTERVAL", "1s")
        .env("DOCKER_SOCKET", dir.join("no-docker.sock"))
        .env("POWER_DRY_RUN", "true")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    let _agent = spawn_logged(agent, &agent_log);

    // While the slow action runs, the BMC Job starts; once its first task is done, the
    // leader dies.
    let workflows = Api::<Workflow>::new(handle.store().clone());
    let wf = || async { workflows.get(NS, "wf1").await.ok() };
    poll("the slow action to run", PATIENCE, &logs, || async {
        wf().await
            .filter(|w| action_state(w, 1) == Some(WorkflowState::Running))
    })
    .await;
    let job_file = dir.join("job.yaml");
    std::fs::write(&job_file, job_yaml()).unwrap();
    ironbell(srv, &store, &["apply", "-f", job_file.to_str().unwrap()]);
    let tasks = Api::<Task>::new(handle.store().clone());
    let task_done = |i: usize| {
        let tasks = tasks.clone();
        async move {
            let t = tasks.get(NS, &format!("cycle-task-{i}")).await.ok()?;
            completed(t.status.as_ref()?.conditions.as_ref()).then_some(t)
        }
    };
    poll("the Job's first task", PATIENCE, &logs, || task_done(0)).await;

    let jobs = Api::<Job>::new(handle.store().clone());
    let job = jobs.get(NS, "cycle").await.unwrap();
    assert!(
        !completed(job.status.as_ref().and_then(|s| s.conditions.as_ref())),
        "the Job finished before the kill"
    );
    assert!(
        task_done(JOB_TASKS.len() - 1).await.is_none(),
        "the Job's last task finished before the kill"
    );
    let w = wf().await.unwrap();
    assert_eq!(
        action_state(&w, 1),
        Some(WorkflowState::Running),
        "{logs}",
        logs = logs()
    );
    let killed = Instant::now();
    a.kill();

    // B leads within the lease and a few seconds, with a larger fencing token.
    let second = poll("B to lead", LEASE + PATIENCE, &logs, || async {
        leader().await.filter(|l| pid_of(l) == b.pid())
    })
    .await;
    let takeover = killed.elapsed();
    assert!(
        takeover <= LEASE + Duration::from_secs(5),
        "B led {takeover:?} after the kill"
    );
    assert!(
        second.fencing_token > first.fencing_token,
        "{first:?} then {second:?}"
    );

    // The Workflow finishes, every action having run exactly once.
    let done = poll("the Workflow to succeed", PATIENCE, &logs, || async {
        wf().await.filter(|w| {
            w.status.as_ref().and_then(|s| s.state.as_ref()) == Some(&WorkflowState::Success)
        })
    })
    .await;
    let actions = &done.status.as_ref().unwrap().tasks.as_ref().unwrap()[0].actions;
    assert!(
        actions
            .iter()
            .all(|a| a.state == Some(WorkflowState::Success)),
        "{actions:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "first\nslow\nlast\n",
        "each action ran once"
    );

    // The Job completes, each task once; the BMC got each power call once.
    poll("the Job to complete", PATIENCE, &logs, || async {
        let job = jobs.get(NS, "cycle").await.ok()?;
        completed(job.status.as_ref()?.conditions.as_ref()).then_some(())
    })
    .await;
    for i in 0..JOB_TASKS.len() {
        assert!(task_done(i).await.is_some(), "task {i}\n{}", logs());
    }
    let calls = std::fs::read_to_string(&bmc_log).unwrap();
    let expected: Vec<String> = JOB_TASKS.iter().map(|t| format!("power {t}")).collect();
    assert_eq!(calls.lines().collect::<Vec<_>>(), expected, "{}", logs());

    // The agent met the standby's answer and moved on: first when it started (B is first
    // in its list), then while the slow action's report waited out the takeover.
    let agent_said = std::fs::read_to_string(&agent_log).unwrap();
    let standby_answers = agent_said
        .lines()
        .filter(|l| l.contains("not the leader; the controllers run on"));
    assert!(
        standby_answers.clone().next().is_some(),
        "no standby answer:\n{agent_said}"
    );
    assert!(
        standby_answers.clone().any(|l| l.contains("name=slow")),
        "the slow action's report did not wait for the new leader:\n{agent_said}"
    );
    eprintln!(
        "takeover {takeover:?} after the kill; fencing token {} -> {}; whole test {:?}",
        first.fencing_token,
        second.fencing_token,
        started.elapsed()
    );
    if std::env::var_os("FAILOVER_LOGS").is_some() {
        eprintln!("{}", logs());
    }
    b.kill();
}
