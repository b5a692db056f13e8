//! The real agent binary against ironbell's real workflow service (controller, template
//! rendering and gRPC server over a SQLite store) on loopback: a workflow runs to SUCCESS,
//! survives a restart of the service in the middle of an action without repeating the
//! finished one, and a failing action fails the workflow with the agent's message. The
//! service runs in its default `token` agent-auth mode: the machine's Hardware is at
//! 127.0.0.1 and the agent reads the Workflow's token from its kernel command line.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ironbell_model::parse_documents;
use ironbell_model::tinkerbell::{Workflow, WorkflowState};
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;

/// The workflow service on `addr` (port 0: any) over the store file `db`.
struct WorkflowService {
    addr: SocketAddr,
    store: SharedStore,
    task: tokio::task::JoinHandle<()>,
}

impl WorkflowService {
    async fn start(db: &Path, addr: SocketAddr) -> Self {
        let store: SharedStore = Arc::new(SqliteStore::open(db).unwrap());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = store.clone();
        let task = tokio::spawn(async move {
            let render = ironbell_workflow::controller::tinkerbell_renderer();
            let mut config = ironbell_workflow::Config::new(addr);
            config.concurrency = 4;
            let _ = ironbell_workflow::serve(s, listener, &config, render).await;
        });
        Self { addr, store, task }
    }

    fn stop(self) {
        self.task.abort();
    }
}

async fn apply(store: &SharedStore, yaml: &str) {
    for o in parse_documents(yaml).unwrap() {
        store.create(o.to_dynamic().unwrap()).await.unwrap();
    }
}

fn objects(actions: &str) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: m1, namespace: default}}
spec:
  disks: [{{device: /dev/vda}}]
  interfaces:
  - dhcp: {{mac: \"02:00:00:00:00:01\", ip: {{address: 127.0.0.1, netmask: 255.0.0.0}}}}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {{name: install, namespace: default}}
spec:
  data: |
    version: \"0.1\"
    name: install
    global_timeout: 300
    tasks:
    - name: os-installation
      worker: \"{{{{.device_1}}}}\"
      actions:
{actions}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata: {{name: wf1, namespace: default}}
spec:
  templateRef: install
  hardwareRef: m1
  hardwareMap: {{device_1: agent-1}}
"
    )
}

fn image_action(name: &str, url: &str, disk: &Path, compressed: bool) -> String {
    format!(
        "      - name: {name}
        image: quay.io/tinkerbell/actions/image2disk:latest
        timeout: 120
        environment: {{IMG_URL: \"{url}\", DEST_DISK: \"{}\", COMPRESSED: \"{compressed}\"}}
",
        disk.display()
    )
}

const REBOOT: &str = "      - name: reboot
        image: quay.io/tinkerbell/actions/reboot:latest
        timeout: 60
";

/// The agent with the Workflow's token on its kernel command line, once the controller
/// has created it.
async fn spawn_agent(store: &SharedStore, addr: SocketAddr) -> AgentProcess {
    let token = wait_token(store, "wf1").await;
    AgentProcess::spawn_in(
        None,
        addr,
        &format!("console=ttyS0 ironbell_token={token}"),
        &[],
    )
}

async fn wait_state(store: &SharedStore, want: WorkflowState, limit: Duration) -> Workflow {
    let api: Api<Workflow> = Api::new(store.clone());
    let start = Instant::now();
    loop {
        let wf = api.get("default", "wf1").await.unwrap();
        if wf.status.as_ref().and_then(|s| s.state.as_ref()) == Some(&want) {
            return wf;
        }
        assert!(
            start.elapsed() < limit,
            "workflow not {want} after {limit:?}: {:#?}",
            wf.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The state of action `i` of the first task.
async fn action_state(store: &SharedStore, i: usize) -> Option<WorkflowState> {
    let wf: Workflow = Api::new(store.clone()).get("default", "wf1").await.ok()?;
    wf.status?.tasks?.first()?.actions.get(i)?.state.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_runs_to_success_across_a_service_restart() {
    let first = test_image((3 << 20) + 123);
    let second = test_image(2 << 20);
    let mut routes = HashMap::new();
    routes.insert(
        "/first.img.zst".into(),
        Route::bytes(compress(&first, "zstd")),
    );
    // Slow enough (32 pieces, 80 ms apart) for the service to restart meanwhile.
    routes.insert(
        "/second.img".into(),
        Route {
            throttle: Some(Duration::from_millis(80)),
            ..Route::bytes(second.clone())
        },
    );
    let http = HttpServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let (disk1, disk2) = (dir.path().join("disk1"), dir.path().join("disk2"));
    std::fs::write(&disk1, b"").unwrap();
    std::fs::write(&disk2, b"").unwrap();
    let db = dir.path().join("store.db");

    let svc = WorkflowService::start(&db, "127.0.0.1:0".parse().unwrap()).await;
    let actions = image_action("first", &http.url("/first.img.zst"), &disk1, true)
        + &image_action("second", &http.url("/second.img"), &disk2, false)
        + REBOOT;
    apply(&svc.store, &objects(&actions)).await;
    let mut agent = spawn_agent(&svc.store, svc.addr).await;

    // Restart the service while the second action streams.
    let start = Instant::now();
    while action_state(&svc.store, 1).await != Some(WorkflowState::Running) {
        assert!(start.elapsed() < Duration::from_secs(60), "{}", agent.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let addr = svc.addr;
    svc.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let svc = WorkflowService::start(&db, addr).await;

    let wf = wait_state(&svc.store, WorkflowState::Success, Duration::from_secs(90)).await;
    let task = &wf.status.unwrap().tasks.unwrap()[0];
    for a in &task.actions {
        assert_eq!(a.state, Some(WorkflowState::Success), "{a:?}");
        assert!(
            a.execution_duration
                .as_deref()
                .is_some_and(|d| !d.is_empty())
        );
    }
    assert_eq!(std::fs::read(&disk1).unwrap(), first);
    assert_eq!(std::fs::read(&disk2).unwrap(), second);
    // The finished first action was not run again after the restart.
    let hits = http.hits.lock().unwrap().clone();
    assert_eq!(
        hits.iter().filter(|h| h.contains("/first.img.zst")).count(),
        1,
        "{hits:?}"
    );
    // After reporting the reboot's success, the agent "reboots" (dry run) and exits.
    assert!(
        agent.wait_exit(Duration::from_secs(30)).await.is_some(),
        "{}",
        agent.log()
    );
    svc.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_action_fails_the_workflow_with_the_agents_message() {
    let http = HttpServer::start(HashMap::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::write(&disk, b"").unwrap();
    let svc =
        WorkflowService::start(&dir.path().join("store.db"), "127.0.0.1:0".parse().unwrap()).await;
    let actions = image_action("missing", &http.url("/missing.img"), &disk, false) + REBOOT;
    apply(&svc.store, &objects(&actions)).await;
    let agent = spawn_agent(&svc.store, svc.addr).await;
    let wf = wait_state(&svc.store, WorkflowState::Failed, Duration::from_secs(60)).await;
    let task = &wf.status.unwrap().tasks.unwrap()[0];
    let msg = task.actions[0].message.clone().unwrap_or_default();
    assert!(msg.contains("404"), "{msg}\n{}", agent.log());
    // The reboot never ran.
    assert_eq!(task.actions[1].state, Some(WorkflowState::Pending));
    svc.stop();
}
