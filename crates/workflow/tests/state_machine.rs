//! The workflow service over a real SQLite store and its real gRPC server on loopback,
//! driven by a tonic client that plays the agent: the state machine, server-side timeouts,
//! boot jobs and allowPXE toggling, restarts, and refused reports.
//!
//! Templates are rendered by the service's own renderer (`ironbell-template`); the worker
//! comes from the workflow's `hardwareMap` (`{{.device_1}}`).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbell_model::bmc::{Job, JobCondition, JobStatus, PowerAction};
use ironbell_model::corev1::Event;
use ironbell_model::parse_documents;
use ironbell_model::tinkerbell::{Hardware, Workflow, WorkflowState};
use ironbell_store::events::events_of;
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use ironbell_workflow::controller::RenderFn;
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;
use ironbell_workflow_proto::{ActionRequest, ActionResponse, ActionStatusRequest};
use tonic::Code;
use tonic::transport::Channel;

const MAC: &str = "3c:ec:ef:10:00:21";

fn render() -> RenderFn {
    ironbell_workflow::controller::tinkerbell_renderer()
}

struct Service {
    store: SharedStore,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    async fn start(path: &std::path::Path) -> Self {
        let store: SharedStore = Arc::new(SqliteStore::open(path).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let s = store.clone();
        let task = tokio::spawn(async move {
            // These tests are about the state machine: the client plays the agent from
            // loopback without a token (agent authentication has tests of its own).
            let mut config = ironbell_workflow::Config::new(addr);
            config.concurrency = 4;
            config.auth.mode = ironbell_workflow::auth::AuthMode::None;
            let _ = ironbell_workflow::serve(s, listener, &config, render()).await;
        });
        Self { store, addr, task }
    }

    async fn client(&self) -> WorkflowServiceClient<Channel> {
        let url = format!("http://{}", self.addr);
        for _ in 0..50 {
            if let Ok(c) = WorkflowServiceClient::connect(url.clone()).await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot connect to {url}");
    }

    fn stop(self) -> SharedStore {
        self.task.abort();
        self.store
    }
}

fn objects(yaml: &str) -> Vec<ironbell_model::DynamicObject> {
    parse_documents(yaml)
        .unwrap()
        .into_iter()
        .map(|o| o.to_dynamic().unwrap())
        .collect()
}

async fn apply(store: &SharedStore, yaml: &str) {
    for o in objects(yaml) {
        store.create(o).await.unwrap();
    }
}

fn hardware_yaml(allow_pxe: bool) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: worker1, namespace: default}}
spec:
  bmcRef: {{apiGroup: bmc.tinkerbell.org, kind: Machine, name: bmc-worker1}}
  interfaces:
  - dhcp: {{mac: \"{MAC}\", uefi: true, ip: {{address: 10.0.0.21, netmask: 255.255.255.0}}}}
    netboot: {{allowPXE: {allow_pxe}, allowWorkflow: true}}
"
    )
}

fn template_yaml(name: &str, timeouts: (u32, u32), global: u32) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {{name: {name}, namespace: default}}
spec:
  data: |
    version: \"0.1\"
    name: {name}
    global_timeout: {global}
    tasks:
    - name: os-installation
      worker: \"{{{{.device_1}}}}\"
      volumes: [/dev:/dev]
      environment: {{TASK_ENV: t}}
      actions:
      - name: stream-image
        image: quay.io/tinkerbell/actions/image2disk:latest
        timeout: {}
        environment: {{DEST_DISK: /dev/vda, TASK_ENV: overridden}}
      - name: reboot
        image: quay.io/tinkerbell/actions/reboot:latest
        timeout: {}
        pid: host
",
        timeouts.0, timeouts.1
    )
}

fn workflow_yaml(name: &str, template: &str, boot: &str) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata: {{name: {name}, namespace: default}}
spec:
  templateRef: {template}
  hardwareRef: worker1
  hardwareMap: {{device_1: \"{MAC}\"}}
{boot}"
    )
}

async fn wait_state(store: &SharedStore, name: &str, want: WorkflowState) -> Workflow {
    let api: Api<Workflow> = Api::new(store.clone());
    let start = Instant::now();
    loop {
        let wf = api.get("default", name).await.unwrap();
        let state = wf.status.as_ref().and_then(|s| s.state.clone());
        if state.as_ref() == Some(&want) {
            return wf;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "workflow {name} is {state:?}, waited for {want}: {:#?}",
            wf.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get_action(
    c: &mut WorkflowServiceClient<Channel>,
) -> Result<ActionResponse, tonic::Status> {
    c.get_action(ActionRequest {
        agent_id: MAC.into(),
        agent_attributes: None,
    })
    .await
    .map(tonic::Response::into_inner)
}

fn now_ts() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

async fn report(
    c: &mut WorkflowServiceClient<Channel>,
    a: &ActionResponse,
    state: StateType,
    message: &str,
) -> Result<(), tonic::Status> {
    let terminal = !matches!(state, StateType::Running | StateType::Pending);
    c.report_action_status(ActionStatusRequest {
        execution_start: Some(now_ts()),
        execution_stop: terminal.then(now_ts),
        execution_duration: if terminal {
            "1.5s".into()
        } else {
            String::new()
        },
        ..ActionStatusRequest::about(a, state, message)
    })
    .await
    .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_run_in_order_and_the_workflow_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &template_yaml("ubuntu", (600, 90), 1800)).await;
    // No agent may get anything before a workflow exists.
    let mut c = svc.client().await;
    assert_eq!(get_action(&mut c).await.unwrap_err().code(), Code::NotFound);
    apply(&svc.store, &workflow_yaml("wf1", "ubuntu", "")).await;
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    let status = wf.status.unwrap();
    assert_eq!(status.agent_id.as_deref(), Some(MAC));
    assert_eq!(status.global_timeout, Some(1800));
    assert_eq!(status.template_rendering.unwrap().as_str(), "successful");

    let first = get_action(&mut c).await.unwrap();
    assert_eq!(first.workflow_id, "default/wf1");
    assert_eq!(first.name, "stream-image");
    assert_eq!(first.timeout, 600);
    assert_eq!(first.volumes, vec!["/dev:/dev"]);
    // Task environment first, action environment wins, sorted.
    assert_eq!(
        first.environment,
        vec!["DEST_DISK=/dev/vda", "TASK_ENV=overridden"]
    );
    report(&mut c, &first, StateType::Running, "started")
        .await
        .unwrap();
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Running).await;
    assert_eq!(
        wf.status
            .unwrap()
            .current_state
            .unwrap()
            .action_name
            .as_deref(),
        Some("stream-image")
    );
    // An agent that restarts asks again and gets the same action back.
    let again = get_action(&mut c).await.unwrap();
    assert_eq!(again.action_id, first.action_id);
    report(&mut c, &first, StateType::Success, "done")
        .await
        .unwrap();

    let second = get_action(&mut c).await.unwrap();
    assert_eq!(second.name, "reboot");
    assert_eq!(second.pid, "host");
    report(&mut c, &second, StateType::Running, "")
        .await
        .unwrap();
    report(&mut c, &second, StateType::Success, "rebooting")
        .await
        .unwrap();
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Success).await;
    let tasks = wf.status.unwrap().tasks.unwrap();
    for a in &tasks[0].actions {
        assert_eq!(a.state, Some(WorkflowState::Success));
        assert_eq!(a.execution_duration.as_deref(), Some("1.5s"));
        assert!(a.execution_start.is_some() && a.execution_stop.is_some());
    }
    assert_eq!(tasks[0].actions[1].message.as_deref(), Some("rebooting"));
    // Finished: nothing more to hand out, and late reports are refused.
    assert_ne!(get_action(&mut c).await.unwrap_err().code(), Code::Ok);
    let late = report(&mut c, &second, StateType::Failed, "late")
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    svc.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_action_fails_the_workflow_and_unknown_actions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &template_yaml("ubuntu", (600, 90), 1800)).await;
    apply(&svc.store, &workflow_yaml("wf1", "ubuntu", "")).await;
    wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    let mut c = svc.client().await;
    let mut first = get_action(&mut c).await.unwrap();
    report(&mut c, &first, StateType::Running, "")
        .await
        .unwrap();
    let real_id = first.action_id.clone();
    first.action_id = "01NOSUCHACTION0000000000000".into();
    assert_eq!(
        report(&mut c, &first, StateType::Success, "")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    first.action_id = real_id;
    report(&mut c, &first, StateType::Failed, "disk /dev/vda not found")
        .await
        .unwrap();
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Failed).await;
    let status = wf.status.unwrap();
    let a = &status.tasks.as_ref().unwrap()[0].actions[0];
    assert_eq!(a.message.as_deref(), Some("disk /dev/vda not found"));
    // The status names the failing action and its message.
    let failure = "action stream-image of task os-installation FAILED: disk /dev/vda not found";
    let cond = condition(&status, "ActionFailed").expect("ActionFailed condition");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_deref()),
        ("True", Some("Failed"))
    );
    assert_eq!(cond.message.as_deref(), Some(failure));
    assert_eq!(
        get_action(&mut c).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // The machine's timeline: agent connected, action started, action failed; the
    // failure is also on the Workflow.
    let hw = wait_events::<Hardware>(&svc.store, "worker1", &["ActionFailed"]).await;
    let reasons: Vec<&str> = hw.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons,
        ["AgentConnected", "ActionStarted", "ActionFailed"],
        "{hw:#?}"
    );
    assert_eq!(
        hw[2].message.as_deref(),
        Some(format!("workflow wf1: {failure}").as_str())
    );
    assert!(hw[2].is_warning());
    let on_wf = wait_events::<Workflow>(&svc.store, "wf1", &["ActionFailed"]).await;
    assert!(
        on_wf
            .iter()
            .any(|e| e.message.as_deref() == Some(failure) && e.is_warning()),
        "{on_wf:#?}"
    );
    svc.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_does_not_render_fails_the_workflow_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    // `.device_1` is closed with one brace: a Go template syntax error.
    let broken = template_yaml("broken", (600, 90), 1800).replace("{{.device_1}}", "{{.device_1}");
    apply(&svc.store, &broken).await;
    apply(&svc.store, &workflow_yaml("wf1", "broken", "")).await;
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Failed).await;
    let status = wf.status.unwrap();
    assert_eq!(
        status.template_rendering.as_ref().unwrap().as_str(),
        "failed"
    );
    let cond = condition(&status, "TemplateRenderedSuccess").expect("condition");
    assert_eq!(cond.status, "False");
    let reason = cond.message.unwrap();
    assert!(
        reason.starts_with("error rendering template default/broken: "),
        "{reason}"
    );
    let events = wait_events::<Workflow>(&svc.store, "wf1", &["Failed"]).await;
    let failed = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Failed"))
        .unwrap();
    assert!(failed.is_warning());
    assert_eq!(failed.message.as_deref(), Some(reason.as_str()));
    svc.stop();
}

fn condition(
    status: &ironbell_model::tinkerbell::WorkflowStatus,
    type_: &str,
) -> Option<ironbell_model::tinkerbell::WorkflowCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

/// The Events of `default/name` of kind `K` once one has each of `reasons`, oldest
/// first.
async fn wait_events<K: ironbell_model::Resource>(
    store: &SharedStore,
    name: &str,
    reasons: &[&str],
) -> Vec<Event> {
    let start = Instant::now();
    loop {
        let events = events_of::<K>(store, "default", name).await.unwrap();
        if reasons
            .iter()
            .all(|r| events.iter().any(|e| e.reason.as_deref() == Some(*r)))
        {
            return events;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} {name}: waited for {reasons:?}: {events:#?}",
            K::KIND
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_times_out_an_action_whose_agent_vanished() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &template_yaml("quick", (2, 90), 1800)).await;
    apply(&svc.store, &workflow_yaml("wf1", "quick", "")).await;
    wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    let mut c = svc.client().await;
    let first = get_action(&mut c).await.unwrap();
    report(&mut c, &first, StateType::Running, "")
        .await
        .unwrap();
    // The agent never reports again.
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Timeout).await;
    let a = &wf.status.unwrap().tasks.unwrap()[0].actions[0];
    assert_eq!(a.state, Some(WorkflowState::Timeout));
    assert!(
        a.message.as_deref().unwrap_or("").contains("timeout"),
        "{a:?}"
    );
    svc.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_timeout_ends_a_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &template_yaml("short", (600, 600), 2)).await;
    apply(&svc.store, &workflow_yaml("wf1", "short", "")).await;
    wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    let mut c = svc.client().await;
    let first = get_action(&mut c).await.unwrap();
    report(&mut c, &first, StateType::Running, "")
        .await
        .unwrap();
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Timeout).await;
    assert!(wf.status.unwrap().global_execution_stop.is_some());
    svc.stop();
}

/// Plays the BMC service for the netboot job: marks it Completed.
async fn complete_job(store: &SharedStore, name: &str) -> Job {
    let api: Api<Job> = Api::new(store.clone());
    let start = Instant::now();
    let job = loop {
        if let Ok(j) = api.get("default", name).await {
            break j;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "job {name} never created"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    api.modify_status("default", name, |j| {
        j.status = Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: "Completed".into(),
                status: "True".into(),
                message: None,
            }]),
            ..JobStatus::default()
        });
    })
    .await
    .unwrap();
    job
}

async fn allow_pxe(store: &SharedStore) -> Option<bool> {
    let hw: Hardware = Api::new(store.clone())
        .get("default", "worker1")
        .await
        .unwrap();
    hw.interfaces()[0]
        .netboot
        .as_ref()
        .and_then(|n| n.allow_pxe)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netboot_prepares_with_a_bmc_job_and_toggles_allow_pxe_around_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let svc = Service::start(&path).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &template_yaml("ubuntu", (600, 90), 1800)).await;
    apply(
        &svc.store,
        &workflow_yaml(
            "wf1",
            "ubuntu",
            "  bootOptions: {toggleAllowNetboot: true, bootMode: netboot}\n",
        ),
    )
    .await;
    wait_state(&svc.store, "wf1", WorkflowState::Preparing).await;
    let mut c = svc.client().await;
    assert_eq!(
        get_action(&mut c).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // Restart while preparing: the job is neither lost nor created twice.
    let store = svc.stop();
    drop(store);
    let svc = Service::start(&path).await;
    let job = complete_job(&svc.store, "netboot-wf1").await;
    assert_eq!(allow_pxe(&svc.store).await, Some(true));
    let tasks = &job.spec.tasks;
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0].power_action, Some(PowerAction::Off));
    let boot = tasks[1].one_time_boot_device_action.as_ref().unwrap();
    assert_eq!(boot.device, vec!["pxe"]);
    assert_eq!(boot.efi_boot, Some(true));
    assert_eq!(tasks[2].power_action, Some(PowerAction::On));
    assert_eq!(job.spec.machine_ref.name, "bmc-worker1");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Workflow", "wf1")
    );

    wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    let mut c = svc.client().await;
    let first = get_action(&mut c).await.unwrap();
    report(&mut c, &first, StateType::Running, "")
        .await
        .unwrap();
    report(&mut c, &first, StateType::Success, "")
        .await
        .unwrap();
    // Restart mid-run: the finished action is not handed out again.
    let store = svc.stop();
    drop(store);
    let svc = Service::start(&path).await;
    let mut c = svc.client().await;
    let second = get_action(&mut c).await.unwrap();
    assert_eq!(second.name, "reboot");
    report(&mut c, &second, StateType::Running, "")
        .await
        .unwrap();
    report(&mut c, &second, StateType::Success, "")
        .await
        .unwrap();
    let wf = wait_state(&svc.store, "wf1", WorkflowState::Success).await;
    assert_eq!(allow_pxe(&svc.store).await, Some(false));
    let boot = wf.status.unwrap().boot_options.unwrap();
    let flags = boot.allow_netboot.unwrap();
    assert_eq!(
        (flags.toggled_true, flags.toggled_false),
        (Some(true), Some(true))
    );
    assert_eq!(boot.jobs.unwrap()["netboot-wf1"].complete, Some(true));
    svc.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_template_is_reported_on_the_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&dir.path().join("s.db")).await;
    apply(&svc.store, &hardware_yaml(false)).await;
    apply(&svc.store, &workflow_yaml("wf1", "nosuch", "")).await;
    let api: Api<Workflow> = Api::new(svc.store.clone());
    let start = Instant::now();
    loop {
        let wf = api.get("default", "wf1").await.unwrap();
        let cond = wf
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| {
                c.iter()
                    .find(|c| c.type_ == "TemplateRenderedSuccess")
                    .cloned()
            });
        if let Some(c) = cond {
            assert_eq!(c.status, "False");
            assert_eq!(c.message.as_deref(), Some("template not found"));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Creating the template later lets the workflow go on (the failure is retried).
    apply(&svc.store, &template_yaml("nosuch", (600, 90), 1800)).await;
    wait_state(&svc.store, "wf1", WorkflowState::Pending).await;
    svc.stop();
}
