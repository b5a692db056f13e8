//! What an operator sees of a machine's Workflows: `ironbell serve workflow` runs as a
//! process on a store file, this test plays the agent over its gRPC API on loopback
//! (Tinkerbell's `WorkflowService`), and the `ironbell` commands read the same store:
//!
//! - `get wf -w` prints one line per change: a Workflow going PENDING → RUNNING → SUCCESS,
//!   with Tinkerbell's printer columns;
//! - `describe workflow` shows a failed action's message, and `describe hardware` the
//!   machine's timeline of Events (agent connected, action started, action failed);
//! - `get events --for KIND/NAME` shows one object's Events;
//! - a template that does not render is a FAILED Workflow with the reason.

use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Instant;

use ironbell_testbed::ChildGuard;
use ironbell_workflow_proto::action_status_request::StateType;

#[path = "common/agent_api.rs"]
mod agent_api;
use agent_api::{DEADLINE, apply, connect, ironbell, report, run};

const MAC: &str = "3c:ec:ef:10:00:21";

async fn next_action(
    c: &mut ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient<
        tonic::transport::Channel,
    >,
) -> ironbell_workflow_proto::ActionResponse {
    agent_api::next_action(c, MAC).await
}

const OBJECTS: &str = "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {name: worker1, namespace: default}
spec:
  interfaces:
  - dhcp: {mac: \"3c:ec:ef:10:00:21\", ip: {address: 127.0.0.1, netmask: 255.0.0.0}}
    netboot: {allowPXE: true, allowWorkflow: true}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {name: ubuntu, namespace: default}
spec:
  data: |
    version: \"0.1\"
    name: ubuntu
    global_timeout: 1800
    tasks:
    - name: os-installation
      worker: \"{{.device_1}}\"
      actions:
      - name: stream-image
        image: quay.io/tinkerbell/actions/image2disk:latest
        timeout: 600
      - name: reboot
        image: quay.io/tinkerbell/actions/reboot:latest
        timeout: 90
---
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {name: broken, namespace: default}
spec:
  data: |
    version: \"0.1\"
    name: broken
    tasks:
    - name: os-installation
      worker: \"{{.device_1}\"
      actions:
      - name: stream-image
        image: quay.io/tinkerbell/actions/image2disk:latest
";

fn workflow(name: &str, template: &str) -> String {
    format!(
        "{{apiVersion: tinkerbell.org/v1alpha1, kind: Workflow, \
         metadata: {{name: {name}, namespace: default}}, spec: {{templateRef: {template}, \
         hardwareRef: worker1, hardwareMap: {{device_1: \"{MAC}\"}}}}}}"
    )
}

/// Polls `ironbell ARGS` until its output satisfies `ok`; returns that output.
fn until_output(db: &Path, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let done = ironbell_testbed::wait_until(DEADLINE, || {
        last = run(db, args);
        ok(&last)
    });
    assert!(
        done,
        "ironbell {args:?} never matched; last output:\n{last}"
    );
    last
}

/// Collects `wf1`'s lines from `rx` until one shows `state`.
fn wait_line(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, state: &str) {
    let deadline = Instant::now() + DEADLINE;
    while !seen
        .iter()
        .any(|l| l.split_whitespace().nth(3) == Some(state))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("no {state} line from `get wf -w` ({e}); lines so far:\n{seen:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_follows_workflows_and_sees_why_they_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    apply(&db, dir.path(), OBJECTS);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let grpc = format!("127.0.0.1:{port}");
    let _service = ChildGuard::new(
        ironbell(&db)
            .args(["serve", "workflow", "--grpc-addr", &grpc])
            .args(["--agent-auth", "none"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the workflow service"),
    );

    // `get wf -w` from before the Workflow exists.
    let mut watch = ChildGuard::new(
        ironbell(&db)
            .args(["get", "wf", "-w", "-n", "default"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start get -w"),
    );
    let rx = watch.stdout_lines().expect("piped stdout");
    let header = rx.recv_timeout(DEADLINE).expect("header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "NAMESPACE",
            "NAME",
            "TEMPLATE",
            "STATE",
            "ACTION",
            "AGENT",
            "HARDWARE",
            "AGE"
        ]
    );
    apply(&db, dir.path(), &workflow("wf1", "ubuntu"));

    let mut agent = connect(&grpc).await;
    let mut seen = Vec::new();
    wait_line(&rx, &mut seen, "PENDING");
    let first = next_action(&mut agent).await;
    assert_eq!(first.name, "stream-image");
    report(&mut agent, &first, StateType::Running, "").await;
    wait_line(&rx, &mut seen, "RUNNING");
    report(&mut agent, &first, StateType::Success, "image written").await;
    let second = next_action(&mut agent).await;
    report(&mut agent, &second, StateType::Running, "").await;
    report(&mut agent, &second, StateType::Success, "rebooting").await;
    wait_line(&rx, &mut seen, "SUCCESS");
    drop(watch);
    println!("get wf -w:\n{header}\n{}", seen.join("\n"));
    // One line per change, in order; each names the template, agent and hardware.
    let states: Vec<&str> = seen
        .iter()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter(|s| ["PENDING", "RUNNING", "SUCCESS"].contains(s))
        .collect();
    let mut order = states.clone();
    order.dedup();
    assert_eq!(order, ["PENDING", "RUNNING", "SUCCESS"], "{seen:#?}");
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "a line repeats without a change");
    }
    let running = seen
        .iter()
        .find(|l| l.split_whitespace().nth(3) == Some("RUNNING"))
        .expect("RUNNING line");
    let cells: Vec<&str> = running.split_whitespace().collect();
    assert_eq!(
        &cells[..7],
        [
            "default",
            "wf1",
            "ubuntu",
            "RUNNING",
            "stream-image",
            MAC,
            "worker1"
        ]
    );

    // A second Workflow whose first action fails.
    apply(&db, dir.path(), &workflow("wf2", "ubuntu"));
    let first = next_action(&mut agent).await;
    assert_eq!(first.workflow_id, "default/wf2");
    report(&mut agent, &first, StateType::Running, "").await;
    report(
        &mut agent,
        &first,
        StateType::Failed,
        "disk /dev/vda not found",
    )
    .await;
    let failure = "action stream-image of task os-installation FAILED: disk /dev/vda not found";
    let described = until_output(&db, &["describe", "workflow", "wf2"], |out| {
        out.contains("ActionFailed") && out.lines().any(|l| l.contains("Warning"))
    });
    println!("describe workflow wf2:\n{described}");
    assert!(
        described.contains(&format!("Reason:           {failure}")),
        "{described}"
    );
    let action_row = described
        .lines()
        .find(|l| l.trim_start().starts_with("os-installation   stream-image"))
        .expect("the failed action's row");
    assert!(
        action_row.contains("disk /dev/vda not found"),
        "{action_row}"
    );

    // The machine's timeline, oldest first.
    let hw = until_output(&db, &["describe", "hardware", "worker1"], |out| {
        out.contains("ActionFailed")
    });
    println!("describe hardware worker1:\n{hw}");
    let events = hw.split("Events:").nth(1).expect("Events section");
    let reasons: Vec<&str> = events
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let at = |r: &str| {
        reasons
            .iter()
            .rposition(|x| *x == r)
            .unwrap_or_else(|| panic!("no {r} in the timeline:\n{events}"))
    };
    assert!(at("AgentConnected") < at("ActionFailed"), "{events}");
    assert!(at("ActionStarted") < at("ActionFailed"), "{events}");
    assert!(at("ActionSucceeded") < at("ActionFailed"), "{events}");
    assert!(hw.contains(&format!("workflow wf2: {failure}")), "{hw}");
    let workflow_row = |name: &str| {
        hw.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{hw}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(workflow_row("wf1")[..3], ["wf1", "ubuntu", "SUCCESS"]);
    assert_eq!(workflow_row("wf2")[..3], ["wf2", "ubuntu", "FAILED"]);

    // `get events --for` one object.
    let for_wf2 = run(&db, &["get", "events", "--for", "workflow/wf2"]);
    assert!(for_wf2.contains("ActionFailed"), "{for_wf2}");
    assert!(!for_wf2.contains("hardware/worker1"), "{for_wf2}");
    assert!(
        for_wf2.lines().skip(1).all(|l| l.contains("workflow/wf2")),
        "{for_wf2}"
    );
    let out = ironbell(&db)
        .args(["get", "events", "--for", "worker1"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected KIND/NAME"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A template that does not render: a FAILED Workflow, and why.
    apply(&db, dir.path(), &workflow("wf3", "broken"));
    let listed = until_output(&db, &["get", "wf", "wf3"], |out| out.contains("FAILED"));
    assert!(listed.contains("broken"), "{listed}");
    let described = run(&db, &["describe", "workflow", "wf3"]);
    println!("describe workflow wf3:\n{described}");
    assert!(
        described.contains("Reason:           error rendering template default/broken:"),
        "{described}"
    );
    let cond = described
        .lines()
        .find(|l| l.contains("TemplateRenderedSuccess"))
        .expect("condition row");
    assert!(cond.contains("False"), "{cond}");
}
