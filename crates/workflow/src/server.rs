//! The agent API: `proto.WorkflowService` (`GetAction`, `ReportActionStatus`), with the
//! semantics of Tinkerbell's workflow server.
//!
//! - `GetAction(agent_id)`: among the workflows whose `status.agentID` is the agent, the
//!   first with tasks must be PENDING or RUNNING (else `FailedPrecondition`); the task is
//!   the first one not yet successful; the action is the first one (when it is still
//!   pending), the one in progress (when the agent asks again after a restart, it gets the
//!   same action back), or the one after the last successful one. `NotFound` when there is
//!   nothing for this agent (yet), which agents treat as "ask again later". The position is
//!   written to `status.currentState`.
//! - `ReportActionStatus`: records the action's state, start, stop, duration and message;
//!   any state but SUCCESS becomes the workflow's state (RUNNING, FAILED, TIMEOUT); SUCCESS
//!   of the last action of the last task moves the workflow to POST, where the controller
//!   finishes it. Reports for finished workflows and unknown actions are refused.
//!
//! Every write is a status write with conflict retry ([`ironbell_store::Api::modify_status`]),
//! so the controller and the server never lose each other's changes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use ironbell_model::tinkerbell::{
    CurrentState, Workflow, WorkflowAction, WorkflowState, WorkflowTask,
};
use ironbell_store::{Api, ListParams, SharedStore, StoreError};
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_server::WorkflowService;
use ironbell_workflow_proto::{
    ActionRequest, ActionResponse, ActionStatusRequest, ActionStatusResponse, Namespaces,
};
use tonic::{Request, Response, Status};
use tracing::{info, warn};

use crate::status::format_time;

/// The gRPC service over a store.
#[derive(Clone)]
pub struct Server {
    workflows: Api<Workflow>,
}

impl Server {
    /// A server reading and writing workflows in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self {
            workflows: Api::new(store),
        }
    }

    /// The tonic service, to add to a `tonic::transport::Server`.
    pub fn into_service(
        self,
    ) -> ironbell_workflow_proto::workflow_service_server::WorkflowServiceServer<Self> {
        ironbell_workflow_proto::workflow_service_server::WorkflowServiceServer::new(self)
    }
}

fn internal(e: StoreError) -> Status {
    Status::internal(format!("store: {e}"))
}

/// Why no action can be handed out: a gRPC status, or a position to hand out.
enum Pick {
    Action(Box<(WorkflowTask, WorkflowAction)>),
    Refuse(Status),
}

fn is_task_successful(t: &WorkflowTask) -> bool {
    t.actions
        .last()
        .is_none_or(|a| a.state == Some(WorkflowState::Success))
}

fn is_first_action(t: &WorkflowTask) -> bool {
    t.actions.first().is_some_and(|a| {
        a.state
            .as_ref()
            .is_none_or(|s| *s == WorkflowState::Pending)
    })
}

/// The next action of `wf` for `agent`, following Tinkerbell's rules (module docs).
fn pick(wf: &Workflow, agent: &str) -> Pick {
    let Some(status) = wf.status.as_ref() else {
        return Pick::Refuse(Status::not_found("no Tasks found in Workflow"));
    };
    let tasks = status.tasks.as_deref().unwrap_or_default();
    let state = status.state.clone().unwrap_or_default();
    if state == WorkflowState::Preparing {
        return Pick::Refuse(Status::failed_precondition(
            "Workflow is in preparing state",
        ));
    }
    if state != WorkflowState::Pending && state != WorkflowState::Running {
        return Pick::Refuse(Status::failed_precondition(
            "Workflow not in pending or running state",
        ));
    }
    let task = match tasks.first() {
        Some(first) if is_first_action(first) => first,
        _ => match tasks.iter().find(|t| !is_task_successful(t)) {
            Some(t) => t,
            None => return Pick::Refuse(Status::not_found("no Tasks found")),
        },
    };
    if task.actions.is_empty() {
        return Pick::Refuse(Status::not_found("no Actions found"));
    }
    let current = status.current_state.as_ref();
    let action = if is_first_action(task) {
        &task.actions[0]
    } else if let Some(cur) = current.filter(|c| {
        matches!(
            c.state,
            Some(WorkflowState::Running) | Some(WorkflowState::Pending)
        )
    }) {
        match task
            .actions
            .iter()
            .find(|a| Some(a.id.as_str()) == cur.action_id.as_deref())
        {
            Some(a) => a,
            None => {
                return Pick::Refuse(Status::not_found("in-progress Action not found in task"));
            }
        }
    } else {
        let Some(cur) = current else {
            return Pick::Refuse(Status::failed_precondition("no current state available"));
        };
        if cur.state != Some(WorkflowState::Success) {
            return Pick::Refuse(Status::failed_precondition(
                "current Action not in success state",
            ));
        }
        // The action after the last successful one: in this task, or this task's first
        // action when the success was the previous task's last.
        match task
            .actions
            .iter()
            .position(|a| Some(a.id.as_str()) == cur.action_id.as_deref())
        {
            Some(i) if i + 1 < task.actions.len() => &task.actions[i + 1],
            Some(_) => return Pick::Refuse(Status::not_found("last Action in task")),
            None if task.actions[0].state == Some(WorkflowState::Pending)
                || task.actions[0].state.is_none() =>
            {
                &task.actions[0]
            }
            None => return Pick::Refuse(Status::not_found("no Action found")),
        }
    };
    if task.agent_id != agent {
        return Pick::Refuse(Status::not_found("Task not assigned to Agent"));
    }
    Pick::Action(Box::new((task.clone(), action.clone())))
}

fn response(
    wf: &Workflow,
    agent: &str,
    task: &WorkflowTask,
    action: &WorkflowAction,
) -> ActionResponse {
    let mut env: BTreeMap<String, String> = task.environment.clone().unwrap_or_default();
    env.extend(action.environment.clone().unwrap_or_default());
    let mut volumes = task.volumes.clone().unwrap_or_default();
    volumes.extend(action.volumes.clone().unwrap_or_default());
    let mut resp = ActionResponse {
        workflow_id: format!("{}/{}", wf.metadata.namespace(), wf.metadata.name()),
        task_id: task.id.clone(),
        agent_id: agent.to_string(),
        action_id: action.id.clone(),
        name: action.name.clone().unwrap_or_default(),
        image: action.image.clone().unwrap_or_default(),
        timeout: action.timeout.unwrap_or_default(),
        command: action.command.clone().unwrap_or_default(),
        volumes,
        environment: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        pid: action.pid.clone().unwrap_or_default(),
        namespaces: None,
    };
    if let Some(ns) = &action.namespaces {
        resp.namespaces = Some(Namespaces {
            network: ns.network.clone().unwrap_or_default(),
            pid: ns.pid.clone().unwrap_or_default(),
        });
        if let Some(pid) = ns.pid.as_ref().filter(|p| !p.is_empty()) {
            resp.pid = pid.clone();
        }
    }
    resp
}

fn state_of(t: StateType) -> WorkflowState {
    match t {
        StateType::Pending => WorkflowState::Pending,
        StateType::Running => WorkflowState::Running,
        StateType::Failed => WorkflowState::Failed,
        StateType::Timeout => WorkflowState::Timeout,
        StateType::Success => WorkflowState::Success,
        StateType::Unspecified => WorkflowState::Other("UNSPECIFIED".into()),
    }
}

fn timestamp(t: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = t?;
    let secs = u64::try_from(t.seconds).ok()?;
    let nanos = u32::try_from(t.nanos).ok()?;
    Some(format_time(
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos),
    ))
}

#[tonic::async_trait]
impl WorkflowService for Server {
    async fn get_action(
        &self,
        request: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        let agent = request.into_inner().agent_id;
        if agent.is_empty() {
            return Err(Status::invalid_argument("invalid Agent ID"));
        }
        let (all, _) = self
            .workflows
            .list(&ListParams::default())
            .await
            .map_err(internal)?;
        let Some(wf) = all
            .into_iter()
            .filter(|w| {
                w.status
                    .as_ref()
                    .and_then(|s| s.agent_id.as_deref())
                    .is_some_and(|a| a == agent)
                    && w.status
                        .as_ref()
                        .and_then(|s| s.tasks.as_ref())
                        .is_some_and(|t| !t.is_empty())
            })
            // Oldest first, so a machine works through its workflows in creation order,
            // and finished ones do not hide a new one.
            .min_by_key(|w| {
                (
                    w.status
                        .as_ref()
                        .and_then(|s| s.state.as_ref())
                        .is_some_and(WorkflowState::is_terminal),
                    w.metadata.creation_timestamp.clone(),
                    w.metadata.name().to_string(),
                )
            })
        else {
            return Err(Status::not_found("no Workflows found"));
        };
        let (task, action) = match pick(&wf, &agent) {
            Pick::Action(found) => *found,
            Pick::Refuse(status) => return Err(status),
        };
        let name = wf.metadata.name().to_string();
        let ns = wf.metadata.namespace().to_string();
        let position = CurrentState {
            agent_id: Some(agent.clone()),
            task_id: Some(task.id.clone()),
            action_id: Some(action.id.clone()),
            state: action.state.clone(),
            action_name: action.name.clone(),
            task_name: Some(task.name.clone()),
        };
        self.workflows
            .modify_status(&ns, &name, |w| {
                w.status.get_or_insert_with(Default::default).current_state =
                    Some(position.clone());
            })
            .await
            .map_err(internal)?;
        info!(workflow = %name, agent = %agent, action = action.name.as_deref().unwrap_or(""), "handing out action");
        Ok(Response::new(response(&wf, &agent, &task, &action)))
    }

    async fn report_action_status(
        &self,
        request: Request<ActionStatusRequest>,
    ) -> Result<Response<ActionStatusResponse>, Status> {
        let req = request.into_inner();
        if req.workflow_id.is_empty() {
            return Err(Status::invalid_argument("invalid workflow id"));
        }
        if req.task_id.is_empty() {
            return Err(Status::invalid_argument("invalid task name"));
        }
        if req.action_id.is_empty() {
            return Err(Status::invalid_argument("invalid action name"));
        }
        let (ns, name) = req
            .workflow_id
            .split_once('/')
            .ok_or_else(|| Status::invalid_argument("invalid workflow id"))?;
        let new_state = state_of(req.action_state());
        let mut outcome: Result<(), Status> = Err(Status::not_found("action not found"));
        let result = self
            .workflows
            .modify_status(ns, name, |wf| {
                outcome = Err(Status::not_found("action not found"));
                let Some(status) = wf.status.as_mut() else {
                    return;
                };
                if status
                    .state
                    .as_ref()
                    .is_some_and(WorkflowState::is_terminal)
                {
                    outcome = Err(Status::failed_precondition(format!(
                        "workflow is {}; report ignored",
                        status.state.clone().unwrap_or_default()
                    )));
                    return;
                }
                let Some(tasks) = status.tasks.as_mut() else {
                    return;
                };
                let n_tasks = tasks.len();
                for (ti, task) in tasks.iter_mut().enumerate() {
                    if task.agent_id != req.agent_id {
                        continue;
                    }
                    let n_actions = task.actions.len();
                    let task_name = task.name.clone();
                    let Some((ai, action)) = task
                        .actions
                        .iter_mut()
                        .enumerate()
                        .find(|(_, a)| a.id == req.action_id)
                    else {
                        continue;
                    };
                    // A final state is final: a late RUNNING from a retried report must not
                    // undo it.
                    if action
                        .state
                        .as_ref()
                        .is_some_and(WorkflowState::is_terminal)
                        && !new_state.is_terminal()
                    {
                        outcome = Ok(());
                        return;
                    }
                    action.state = Some(new_state.clone());
                    action.execution_start = timestamp(req.execution_start.as_ref());
                    action.execution_stop = timestamp(req.execution_stop.as_ref());
                    action.execution_duration = Some(req.execution_duration.clone());
                    action.message = req.message.as_ref().map(|m| m.message.clone());
                    let last = ti + 1 == n_tasks && ai + 1 == n_actions;
                    if new_state != WorkflowState::Success {
                        status.state = Some(new_state.clone());
                    } else if last {
                        status.state = Some(WorkflowState::Post);
                    }
                    status.current_state = Some(CurrentState {
                        agent_id: Some(req.agent_id.clone()),
                        task_id: Some(req.task_id.clone()),
                        action_id: Some(req.action_id.clone()),
                        state: Some(new_state.clone()),
                        action_name: Some(req.action_name.clone()),
                        task_name: Some(task_name),
                    });
                    outcome = Ok(());
                    return;
                }
            })
            .await;
        match result {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                return Err(Status::not_found(format!(
                    "workflow {} not found",
                    req.workflow_id
                )));
            }
            Err(e) => return Err(internal(e)),
        }
        match outcome {
            Ok(()) => {
                info!(
                    workflow = %req.workflow_id,
                    agent = %req.agent_id,
                    action = %req.action_name,
                    state = %new_state,
                    duration = %req.execution_duration,
                    "action reported"
                );
                Ok(Response::new(ActionStatusResponse {}))
            }
            Err(status) => {
                warn!(workflow = %req.workflow_id, agent = %req.agent_id, action = %req.action_id, "report refused: {}", status.message());
                Err(status)
            }
        }
    }
}
