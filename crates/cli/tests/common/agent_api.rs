//! `ironbell` commands on a store file, and the agent's side of the workflow service's
//! gRPC API (Tinkerbell's `WorkflowService`) played by a test on loopback. Shared by
//! `timeline.rs` and `dashboard.rs`; included with `#[path]`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;
use ironbell_workflow_proto::{ActionRequest, ActionResponse, ActionStatusRequest};
use tonic::transport::Channel;

/// How long any one wait lasts at most.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `ironbell` on the store `db`, with the default log level.
pub fn ironbell(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbell"));
    cmd.env("IRONBELL_DB", db).env_remove("IRONBELL_LOG");
    cmd
}

/// Runs `ironbell ARGS` and returns its standard output; fails the test if it fails.
pub fn run(db: &Path, args: &[&str]) -> String {
    let out = ironbell(db).args(args).output().expect("run ironbell");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ironbell {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `ironbell apply -f` of `yaml` (written into `dir`).
pub fn apply(db: &Path, dir: &Path, yaml: &str) {
    let file = dir.join("objects.yaml");
    std::fs::write(&file, yaml).expect("write");
    run(db, &["apply", "-f", file.to_str().expect("utf-8")]);
}

/// A client of the workflow service at `grpc` (`HOST:PORT`), once it answers.
pub async fn connect(grpc: &str) -> WorkflowServiceClient<Channel> {
    let url = format!("http://{grpc}");
    let start = Instant::now();
    loop {
        match WorkflowServiceClient::connect(url.clone()).await {
            Ok(c) => return c,
            Err(e) => assert!(start.elapsed() < DEADLINE, "connect {url}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent's side: the first action for `agent`, once the service has one.
pub async fn next_action(c: &mut WorkflowServiceClient<Channel>, agent: &str) -> ActionResponse {
    let start = Instant::now();
    loop {
        let got = c
            .get_action(ActionRequest {
                agent_id: agent.into(),
                agent_attributes: None,
            })
            .await;
        match got {
            Ok(a) => return a.into_inner(),
            Err(s) => assert!(start.elapsed() < DEADLINE, "GetAction: {s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reports `state` (with `message`) for action `a`.
pub async fn report(
    c: &mut WorkflowServiceClient<Channel>,
    a: &ActionResponse,
    state: StateType,
    message: &str,
) {
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let done = !matches!(state, StateType::Running);
    c.report_action_status(ActionStatusRequest {
        execution_start: Some(now),
        execution_stop: done.then_some(now),
        execution_duration: if done { "2s".into() } else { String::new() },
        ..ActionStatusRequest::about(a, state, message)
    })
    .await
    .expect("report");
}
