//! What `tests/bounds.rs` and `benches/get_action.rs` share: a machine's Hardware, a
//! rendered Workflow for an agent, and the agent API's server called in-process.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use ironbell_model::tinkerbell::{
    Workflow, WorkflowAction, WorkflowState, WorkflowStatus, WorkflowTask,
};
use ironbell_model::{ObjectMeta, parse_documents};
use ironbell_store::{Api, SharedStore};
use ironbell_workflow::auth::{AgentAuth, AuthMode};
use ironbell_workflow::index::AgentIndex;
use ironbell_workflow::server::{CallRate, Server};
use ironbell_workflow_proto::ActionRequest;

/// The MAC (agent ID) of the machine `m1` that [`hardware_at`] creates.
pub const MAC: &str = "02:00:00:00:00:01";

/// Creates Hardware `m1` with [`MAC`] at `ip`.
pub async fn hardware_at(store: &SharedStore, ip: &str) {
    let yaml = format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: m1, namespace: default}}
spec:
  interfaces:
  - dhcp: {{mac: \"{MAC}\", ip: {{address: {ip}, netmask: 255.0.0.0}}}}
"
    );
    for o in parse_documents(&yaml).unwrap() {
        store.create(o.to_dynamic().unwrap()).await.unwrap();
    }
}

/// A rendered, PENDING workflow for `agent` with two actions (what the controller makes).
pub fn workflow(name: &str, agent: &str) -> Workflow {
    let action = |id: &str| WorkflowAction {
        id: format!("{name}-{id}"),
        name: Some(id.into()),
        image: Some("quay.io/tinkerbell/actions/image2disk:latest".into()),
        timeout: Some(60),
        state: Some(WorkflowState::Pending),
        ..WorkflowAction::default()
    };
    Workflow {
        metadata: ObjectMeta::named("default", name),
        status: Some(WorkflowStatus {
            agent_id: Some(agent.into()),
            state: Some(WorkflowState::Pending),
            tasks: Some(vec![WorkflowTask {
                id: format!("{name}-t"),
                name: "install".into(),
                agent_id: agent.into(),
                actions: vec![action("a1"), action("a2")],
                ..WorkflowTask::default()
            }]),
            ..WorkflowStatus::default()
        }),
        ..Workflow::default()
    }
}

/// Stores `wf`, status included.
pub async fn create(store: &SharedStore, wf: &Workflow) {
    let api: Api<Workflow> = Api::new(store.clone());
    let mut created = api.create(wf).await.unwrap();
    if created.status != wf.status {
        created.status = wf.status.clone();
        api.update_status(&created).await.unwrap();
    }
}

/// The agent ID of the `i`th Workflow (the 1st is [`MAC`]'s).
pub fn agent(i: u32) -> String {
    format!(
        "02:00:00:{:02x}:{:02x}:{:02x}",
        i >> 16,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

/// The agent API's server over `store` in `address` mode, its index synced, no practical
/// call rate limit: what a gRPC call reaches once decoded.
pub async fn in_process_server(store: SharedStore) -> Server {
    let index: Arc<AgentIndex> = AgentIndex::start(store.clone());
    index.synced().await;
    Server::new(
        store,
        index,
        AgentAuth {
            mode: AuthMode::Address,
            trusted_proxies: Vec::new(),
        },
        CallRate {
            per_second: 1e9,
            burst: u32::MAX,
            max_clients: 16,
        },
    )
}

/// A GetAction request from `agent`, as if it came over TCP from 127.0.0.1.
pub fn local_request(agent: &str) -> tonic::Request<ActionRequest> {
    let mut r = tonic::Request::new(ActionRequest {
        agent_id: agent.into(),
        agent_attributes: None,
    });
    r.extensions_mut()
        .insert(tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(([127, 0, 0, 1], 40000).into()),
        });
    r
}
