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
//! Every write is a status write with conflict retry on `resourceVersion`, so the controller
//! and the server never lose each other's changes, and there is no write without a change:
//! a GetAction that hands out the position already recorded, or a report identical to the
//! recorded state, writes nothing.
//!
//! **On a hostile network** (the provisioning network is shared with every machine):
//! - who may act for an agent is checked first ([`crate::auth`]: the Hardware's address, the
//!   Workflow's token), from the in-memory [`AgentIndex`], so an unknown agent or a refused
//!   caller costs no store access;
//! - a report is accepted only for the action handed to that agent (the workflow's
//!   `currentState` task and action), else `FailedPrecondition`;
//! - a report's message is cut to [`MAX_MESSAGE_BYTES`] with a marker, ids to
//!   [`MAX_ID_BYTES`]; requests larger than [`MAX_DECODING_MESSAGE_SIZE`] are refused while
//!   decoding;
//! - each client address has a token bucket ([`ironbell_limits::RateLimiter`]); past it,
//!   `ResourceExhausted`;
//! - log lines per call are rate-limited ([`ironbell_limits::LogLimiter`]) with a count of
//!   what was suppressed.
//!
//! The pure parts ([`validate_get`], [`validate_report`], [`bound_message`],
//! [`apply_report`]) are what the `agent_api` fuzz target runs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ironbell_limits::{LogLimiter, RateLimiter};
use ironbell_model::corev1::ObjectReference;
use ironbell_model::tinkerbell::{
    CurrentState, Hardware, Workflow, WorkflowAction, WorkflowState, WorkflowStatus, WorkflowTask,
};
use ironbell_store::events::Recorder;
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore, StoreError};
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_server::WorkflowService;
use ironbell_workflow_proto::{
    ActionRequest, ActionResponse, ActionStatusRequest, ActionStatusResponse, Namespaces,
};
use tonic::{Request, Response, Status};
use tracing::{Instrument, info, info_span, warn};

use crate::auth::{self, AgentAuth};
use crate::index::{AgentIndex, WorkflowEntry};

/// A report's message is cut to this many bytes (a marker says how much was cut).
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Longest agent, workflow, task or action id, action name or duration accepted.
pub const MAX_ID_BYTES: usize = 256;
/// Largest request message decoded (a report with a 4 MiB message is refused unread).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 64 * 1024;
/// Status writes retried on a `resourceVersion` conflict.
const WRITE_ATTEMPTS: usize = 16;

/// "handing out action" lines per second.
static HANDED_OUT: LogLimiter = LogLimiter::per_second(20);
/// "refused" lines per second.
static REFUSED: LogLimiter = LogLimiter::per_second(10);
/// "action reported" lines per second.
static REPORTED: LogLimiter = LogLimiter::per_second(20);

/// Per-client call rate of the agent API.
#[derive(Debug, Clone, Copy)]
pub struct CallRate {
    /// Calls per second per client address.
    pub per_second: f64,
    /// Burst per client address.
    pub burst: u32,
    /// Client addresses tracked at most (the rest share one bucket).
    pub max_clients: usize,
}

impl Default for CallRate {
    /// 20 calls/s, bursts of 40, 4,096 clients: an agent polls about once a second.
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 40,
            max_clients: 4096,
        }
    }
}

/// The gRPC service over a store.
#[derive(Clone)]
pub struct Server {
    workflows: Api<Workflow>,
    index: Arc<AgentIndex>,
    auth: Arc<AgentAuth>,
    rate: Arc<RateLimiter<IpAddr>>,
    events: Recorder,
}

impl Server {
    /// A server reading and writing workflows in `store`, looking agents up in `index`
    /// (see [`AgentIndex::start`]), checking callers as `auth` says.
    pub fn new(
        store: SharedStore,
        index: Arc<AgentIndex>,
        auth: AgentAuth,
        rate: CallRate,
    ) -> Self {
        Self {
            workflows: Api::new(store),
            index,
            auth: Arc::new(auth),
            rate: Arc::new(RateLimiter::new(
                rate.per_second,
                rate.burst,
                rate.max_clients,
            )),
            events: Recorder::disabled(),
        }
    }

    /// Records Events (agent connected, each action started, finished or failed) on the
    /// machine's Hardware with `events`; a failure also on the Workflow.
    pub fn with_events(mut self, events: Recorder) -> Self {
        self.events = events;
        self
    }

    /// Records `reason`/`message` about Workflow `key` on its Hardware (when it has one)
    /// and, when `also_workflow`, on the Workflow itself.
    fn record(
        &self,
        entry: Option<&WorkflowEntry>,
        key: &ObjectKey,
        warning: bool,
        reason: &str,
        message: &str,
        also_workflow: bool,
    ) {
        let mut involved = Vec::with_capacity(2);
        if let Some(hw) = entry.and_then(|e| e.hardware_ref.as_deref()) {
            involved.push((
                ObjectReference::to::<Hardware>(&key.0, hw),
                format!("workflow {}: {message}", key.1),
            ));
        }
        if also_workflow || involved.is_empty() {
            involved.push((
                ObjectReference::to::<Workflow>(&key.0, &key.1),
                message.to_string(),
            ));
        }
        for (obj, message) in involved {
            if warning {
                self.events.warning(obj, reason, message);
            } else {
                self.events.normal(obj, reason, message);
            }
        }
    }

    /// The tonic service, to add to a `tonic::transport::Server`, decoding at most
    /// [`MAX_DECODING_MESSAGE_SIZE`] per request.
    pub fn into_service(
        self,
    ) -> ironbell_workflow_proto::workflow_service_server::WorkflowServiceServer<Self> {
        ironbell_workflow_proto::workflow_service_server::WorkflowServiceServer::new(self)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// The client address of `request` (after trusted proxies), checked against the rate
    /// limit.
    fn admit<T>(&self, request: &Request<T>) -> Result<IpAddr, Status> {
        let peer = request
            .remote_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let client = auth::client_ip(peer, request.metadata(), &self.auth.trusted_proxies);
        if !self.rate.check(&client) {
            return Err(Status::resource_exhausted(format!(
                "too many calls from {client}; slow down"
            )));
        }
        Ok(client)
    }

    /// Refuses unless the caller may act for `agent` on Workflow `key`; with no key yet
    /// (before a Workflow is chosen), only the address is checked.
    fn authorize<T>(
        &self,
        request: &Request<T>,
        client: IpAddr,
        agent: &str,
        entries: &[WorkflowEntry],
        key: Option<&ObjectKey>,
    ) -> Result<(), Status> {
        let allowed = self.index.addresses_of(agent, entries);
        let expected = key.and_then(|k| self.index.token_of(k));
        let mode = match (self.auth.mode, key) {
            (auth::AuthMode::Token, None) => auth::AuthMode::Address,
            (mode, _) => mode,
        };
        auth::authorize(
            mode,
            agent,
            client,
            &allowed,
            expected.as_deref(),
            auth::bearer(request.metadata()),
        )
    }

    /// Reads Workflow `ns/name`, applies `change` to a copy of its status, and writes it
    /// back only when it changed, retrying on conflicts. `Ok(true)` when written.
    async fn change_status<F>(&self, ns: &str, name: &str, mut change: F) -> Result<bool, Status>
    where
        F: FnMut(&mut WorkflowStatus) -> Result<(), Status>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut wf = match self.workflows.get(ns, name).await {
                Ok(wf) => wf,
                Err(StoreError::NotFound { .. }) => {
                    return Err(Status::not_found(format!("workflow {ns}/{name} not found")));
                }
                Err(e) => return Err(internal(e)),
            };
            let mut status = wf.status.clone().unwrap_or_default();
            change(&mut status)?;
            if wf.status.as_ref() == Some(&status) {
                return Ok(false);
            }
            wf.status = Some(status);
            match self.workflows.update_status(&wf).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_conflict() && attempt < WRITE_ATTEMPTS => {
                    tokio::task::yield_now().await;
                }
                Err(e) => return Err(internal(e)),
            }
        }
    }
}

/// The Event of an accepted report: `(warning, reason, message)`.
fn action_event(req: &ActionStatusRequest, task: &str) -> (bool, &'static str, String) {
    let action = &req.action_name;
    let state = state_of(req.action_state());
    match state {
        WorkflowState::Running => (
            false,
            "ActionStarted",
            format!("action {action} of task {task} started"),
        ),
        WorkflowState::Success => (
            false,
            "ActionSucceeded",
            format!(
                "action {action} of task {task} succeeded in {}",
                req.execution_duration
            ),
        ),
        WorkflowState::Timeout | WorkflowState::Failed => {
            let message = req
                .message
                .as_ref()
                .map(|m| bound_message(&m.message))
                .unwrap_or_default();
            let reason = if state == WorkflowState::Timeout {
                "ActionTimedOut"
            } else {
                "ActionFailed"
            };
            (
                true,
                reason,
                crate::status::action_failure(task, action, &state, &message),
            )
        }
        other => (
            false,
            "ActionReported",
            format!("action {action} of task {task} {other}"),
        ),
    }
}

/// Logs a refused call (rate-limited) and returns its status.
fn refused(what: &str, agent: &str, client: IpAddr, status: Status) -> Status {
    if let Some(suppressed) = REFUSED.allow() {
        warn!(%agent, %client, code = ?status.code(), suppressed, "{what} refused: {}", status.message());
    }
    status
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

/// The last second RFC 3339 can write (9999-12-31T23:59:59Z).
const MAX_TIMESTAMP_SECS: u64 = 253_402_300_799;

/// A report's time as RFC 3339; `None` when unset or not writable (negative, past year
/// 9999, nanoseconds out of range): an agent's clock is not trusted to be sane.
fn timestamp(t: Option<&prost_types::Timestamp>) -> Option<ironbell_model::Timestamp> {
    let t = t?;
    let secs = u64::try_from(t.seconds)
        .ok()
        .filter(|s| *s <= MAX_TIMESTAMP_SECS)?;
    let nanos = u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos))
        .map(crate::status::timestamp)
}

fn too_long(what: &str, value: &str) -> Option<Status> {
    (value.len() > MAX_ID_BYTES).then(|| {
        Status::invalid_argument(format!(
            "{what} is {} bytes; at most {MAX_ID_BYTES}",
            value.len()
        ))
    })
}

/// Checks a GetAction request: the agent id is set and not over [`MAX_ID_BYTES`].
pub fn validate_get(req: &ActionRequest) -> Result<(), Status> {
    if req.agent_id.is_empty() {
        return Err(Status::invalid_argument("invalid Agent ID"));
    }
    too_long("agent id", &req.agent_id).map_or(Ok(()), Err)
}

/// Checks a report's ids and returns the workflow's `(namespace, name)`.
pub fn validate_report(req: &ActionStatusRequest) -> Result<ObjectKey, Status> {
    if req.workflow_id.is_empty() {
        return Err(Status::invalid_argument("invalid workflow id"));
    }
    if req.task_id.is_empty() {
        return Err(Status::invalid_argument("invalid task name"));
    }
    if req.action_id.is_empty() {
        return Err(Status::invalid_argument("invalid action name"));
    }
    if req.agent_id.is_empty() {
        return Err(Status::invalid_argument("invalid Agent ID"));
    }
    for (what, value) in [
        ("workflow id", &req.workflow_id),
        ("task id", &req.task_id),
        ("action id", &req.action_id),
        ("agent id", &req.agent_id),
        ("action name", &req.action_name),
        ("execution duration", &req.execution_duration),
    ] {
        if let Some(e) = too_long(what, value) {
            return Err(e);
        }
    }
    let (ns, name) = req
        .workflow_id
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
        .ok_or_else(|| Status::invalid_argument("invalid workflow id: not namespace/name"))?;
    Ok((ns.to_string(), name.to_string()))
}

/// `message` cut to at most [`MAX_MESSAGE_BYTES`] (on a character boundary), with a
/// marker saying how many bytes were cut.
pub fn bound_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_string();
    }
    let mut end = MAX_MESSAGE_BYTES - 64;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [{} bytes cut by ironbell]",
        &message[..end],
        message.len() - end
    )
}

/// Applies a validated report to a workflow's status (see the module documentation):
/// `Ok` when accepted (the status may be unchanged when the report repeats the recorded
/// state), or the status to refuse with.
pub fn apply_report(status: &mut WorkflowStatus, req: &ActionStatusRequest) -> Result<(), Status> {
    if status
        .state
        .as_ref()
        .is_some_and(WorkflowState::is_terminal)
    {
        return Err(Status::failed_precondition(format!(
            "workflow is {}; report ignored",
            status.state.clone().unwrap_or_default()
        )));
    }
    let new_state = state_of(req.action_state());
    let current = status.current_state.clone().unwrap_or_default();
    let tasks = status.tasks.as_deref_mut().unwrap_or_default();
    let n_tasks = tasks.len();
    let found = tasks.iter_mut().enumerate().find_map(|(ti, task)| {
        if task.agent_id != req.agent_id {
            return None;
        }
        let n_actions = task.actions.len();
        let task_name = task.name.clone();
        let task_id = task.id.clone();
        task.actions
            .iter_mut()
            .enumerate()
            .find(|(_, a)| a.id == req.action_id)
            .map(|(ai, a)| {
                (
                    ti + 1 == n_tasks && ai + 1 == n_actions,
                    task_id,
                    task_name,
                    a,
                )
            })
    });
    let Some((last, task_id, task_name, action)) = found else {
        return Err(Status::not_found("action not found"));
    };
    if task_id != req.task_id
        || current.action_id.as_deref() != Some(req.action_id.as_str())
        || current.task_id.as_deref() != Some(req.task_id.as_str())
    {
        return Err(Status::failed_precondition(format!(
            "action {} of task {} is not the action handed to agent {} (current: action {} of task {})",
            req.action_id,
            req.task_id,
            req.agent_id,
            current.action_id.as_deref().unwrap_or("none"),
            current.task_id.as_deref().unwrap_or("none"),
        )));
    }
    // A final state is final: a late RUNNING from a retried report must not undo it.
    if action
        .state
        .as_ref()
        .is_some_and(WorkflowState::is_terminal)
        && !new_state.is_terminal()
    {
        return Ok(());
    }
    action.state = Some(new_state.clone());
    action.execution_start = timestamp(req.execution_start.as_ref());
    action.execution_stop = timestamp(req.execution_stop.as_ref());
    action.execution_duration = Some(req.execution_duration.clone());
    action.message = req.message.as_ref().map(|m| bound_message(&m.message));
    if matches!(new_state, WorkflowState::Failed | WorkflowState::Timeout) {
        let message = action.message.clone().unwrap_or_default();
        crate::status::set_action_failed(
            status,
            &task_name,
            &req.action_name,
            &new_state,
            &message,
        );
    }
    if new_state != WorkflowState::Success {
        status.state = Some(new_state.clone());
    } else if last {
        status.state = Some(WorkflowState::Post);
    }
    status.current_state = Some(CurrentState {
        agent_id: Some(req.agent_id.clone()),
        task_id: Some(req.task_id.clone()),
        action_id: Some(req.action_id.clone()),
        state: Some(new_state),
        action_name: Some(req.action_name.clone()),
        task_name: Some(task_name),
    });
    Ok(())
}

/// Each call counted by method and outcome in [`crate::metrics`].
#[tonic::async_trait]
impl WorkflowService for Server {
    async fn get_action(
        &self,
        request: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        let result = self.get_action_call(request).await;
        crate::metrics::global().count("GetAction", &result);
        result
    }

    async fn report_action_status(
        &self,
        request: Request<ActionStatusRequest>,
    ) -> Result<Response<ActionStatusResponse>, Status> {
        let result = self.report_action_status_call(request).await;
        crate::metrics::global().count("ReportActionStatus", &result);
        result
    }
}

impl Server {
    async fn get_action_call(
        &self,
        request: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        let client = self.admit(&request)?;
        let agent = request.get_ref().agent_id.clone();
        validate_get(request.get_ref())?;
        let span = info_span!("get_action", %agent, %client);
        async {
            let entries = self.index.workflows_of(&agent);
            if entries.is_empty() {
                // An unknown agent costs one lookup: no store access, no log line.
                return Err(Status::not_found("no Workflows found"));
            }
            self.authorize(&request, client, &agent, &entries, None)
                .map_err(|s| refused("GetAction", &agent, client, s))?;
            let mut candidates = Vec::with_capacity(entries.len());
            for e in &entries {
                match self.workflows.get(&e.key.0, &e.key.1).await {
                    Ok(wf) => candidates.push(wf),
                    Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(internal(e)),
                }
            }
            let Some(wf) = candidates
                .into_iter()
                .filter(|w| {
                    w.status.as_ref().is_some_and(|s| {
                        s.agent_id
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(&agent))
                            && s.tasks.as_ref().is_some_and(|t| !t.is_empty())
                    })
                })
                // Oldest first, so a machine works through its workflows in creation
                // order, and finished ones do not hide a new one.
                .min_by_key(|w| {
                    (
                        w.status
                            .as_ref()
                            .and_then(|s| s.state.as_ref())
                            .is_some_and(WorkflowState::is_terminal),
                        w.metadata.creation_timestamp,
                        w.metadata.name().to_string(),
                    )
                })
            else {
                return Err(Status::not_found("no Workflows found"));
            };
            let name = wf.metadata.name().to_string();
            let ns = wf.metadata.namespace().to_string();
            self.authorize(&request, client, &agent, &entries, Some(&(ns.clone(), name.clone())))
                .map_err(|s| refused("GetAction", &agent, client, s))?;
            let (task, action) = match pick(&wf, &agent) {
                Pick::Action(found) => *found,
                Pick::Refuse(status) => return Err(status),
            };
            let position = CurrentState {
                agent_id: Some(agent.clone()),
                task_id: Some(task.id.clone()),
                action_id: Some(action.id.clone()),
                state: action.state.clone(),
                action_name: action.name.clone(),
                task_name: Some(task.name.clone()),
            };
            let mut connected = false;
            let written = self
                .change_status(&ns, &name, |s| {
                    connected = s.current_state.is_none();
                    s.current_state = Some(position.clone());
                    Ok(())
                })
                .await?;
            if written && connected {
                let key = (ns.clone(), name.clone());
                let entry = entries.iter().find(|e| e.key == key);
                let message = format!(
                    "agent {agent} connected from {client}; first action: {}",
                    action.name.as_deref().unwrap_or_default()
                );
                self.record(entry, &key, false, "AgentConnected", &message, true);
            }
            if let Some(suppressed) = HANDED_OUT.allow() {
                info!(workflow = %name, action = action.name.as_deref().unwrap_or(""), written, suppressed, "handing out action");
            }
            Ok(Response::new(response(&wf, &agent, &task, &action)))
        }
        .instrument(span)
        .await
    }

    async fn report_action_status_call(
        &self,
        request: Request<ActionStatusRequest>,
    ) -> Result<Response<ActionStatusResponse>, Status> {
        let client = self.admit(&request)?;
        let req = request.get_ref();
        let key = validate_report(req)?;
        let agent = req.agent_id.clone();
        let span = info_span!("report", %agent, %client, workflow = %req.workflow_id);
        async {
            let entries = self.index.workflows_of(&agent);
            if !entries.iter().any(|e| e.key == key) {
                return Err(refused(
                    "report",
                    &agent,
                    client,
                    Status::not_found(format!(
                        "workflow {} not found for agent {agent}",
                        req.workflow_id
                    )),
                ));
            }
            self.authorize(&request, client, &agent, &entries, Some(&key))
                .map_err(|s| refused("report", &agent, client, s))?;
            let mut task_name = None;
            let written = self
                .change_status(&key.0, &key.1, |s| {
                    apply_report(s, req)?;
                    task_name = s.current_state.as_ref().and_then(|c| c.task_name.clone());
                    Ok(())
                })
                .await
                .map_err(|s| refused("report", &agent, client, s))?;
            if written {
                let entry = entries.iter().find(|e| e.key == key);
                let task = task_name.as_deref().unwrap_or(req.task_id.as_str());
                let (warning, reason, message) = action_event(req, task);
                self.record(entry, &key, warning, reason, &message, warning);
            }
            if let Some(suppressed) = REPORTED.allow() {
                info!(
                    action = %req.action_name,
                    state = %state_of(req.action_state()),
                    duration = %req.execution_duration,
                    written,
                    suppressed,
                    "action reported"
                );
            }
            Ok(Response::new(ActionStatusResponse {}))
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_workflow_proto::ActionMessage;

    fn status() -> WorkflowStatus {
        WorkflowStatus {
            agent_id: Some("m1".into()),
            state: Some(WorkflowState::Pending),
            tasks: Some(vec![WorkflowTask {
                id: "t1".into(),
                name: "install".into(),
                agent_id: "m1".into(),
                actions: ["a1", "a2"]
                    .into_iter()
                    .map(|id| WorkflowAction {
                        id: id.into(),
                        name: Some(id.into()),
                        state: Some(WorkflowState::Pending),
                        ..WorkflowAction::default()
                    })
                    .collect(),
                ..WorkflowTask::default()
            }]),
            current_state: Some(CurrentState {
                agent_id: Some("m1".into()),
                task_id: Some("t1".into()),
                action_id: Some("a1".into()),
                state: Some(WorkflowState::Pending),
                ..CurrentState::default()
            }),
            ..WorkflowStatus::default()
        }
    }

    fn report(action: &str, state: StateType, message: &str) -> ActionStatusRequest {
        ActionStatusRequest {
            workflow_id: "default/wf1".into(),
            task_id: "t1".into(),
            action_id: action.into(),
            agent_id: "m1".into(),
            action_name: action.into(),
            action_state: state as i32,
            message: Some(ActionMessage {
                message: message.into(),
            }),
            ..ActionStatusRequest::default()
        }
    }

    #[test]
    fn only_the_handed_out_action_may_be_reported() {
        let mut s = status();
        let e =
            apply_report(&mut s, &report("a2", StateType::Success, "")).expect_err("not current");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert_eq!(s, status(), "a refused report changes nothing");
        let e = apply_report(&mut s, &report("zz", StateType::Success, "")).expect_err("unknown");
        assert_eq!(e.code(), tonic::Code::NotFound);
        apply_report(&mut s, &report("a1", StateType::Running, "")).expect("current");
        assert_eq!(s.state, Some(WorkflowState::Running));
        // The same report again changes nothing (so nothing is written).
        let before = s.clone();
        apply_report(&mut s, &report("a1", StateType::Running, "")).expect("repeat");
        assert_eq!(s, before);
    }

    /// Found by the `agent_api` fuzz target: a start time past year 9999 made the RFC 3339
    /// formatting panic.
    #[test]
    fn absurd_report_times_are_dropped_not_fatal() {
        for (seconds, nanos) in [
            (i64::MAX, 0),
            (253_402_300_800, 0),
            (-1, 0),
            (0, -1),
            (0, 1_000_000_000),
            (0x7878_8b87_87fa_c8c6, 0),
        ] {
            let mut s = status();
            let mut r = report("a1", StateType::Running, "");
            r.execution_start = Some(prost_types::Timestamp { seconds, nanos });
            apply_report(&mut s, &r).expect("accepted");
            let a = &s.tasks.as_ref().expect("tasks")[0].actions[0];
            assert_eq!(a.execution_start, None, "{seconds} {nanos}");
        }
        let mut s = status();
        let mut r = report("a1", StateType::Running, "");
        r.execution_start = Some(prost_types::Timestamp {
            seconds: 253_402_300_799,
            nanos: 999_999_999,
        });
        apply_report(&mut s, &r).expect("accepted");
        let a = &s.tasks.as_ref().expect("tasks")[0].actions[0];
        assert_eq!(
            a.execution_start.map(|t| t.to_string()).as_deref(),
            Some("9999-12-30T22:00:00Z")
        );
    }

    #[test]
    fn messages_and_ids_are_bounded() {
        let big = "é".repeat(3 << 20);
        let cut = bound_message(&big);
        assert!(cut.len() <= MAX_MESSAGE_BYTES, "{}", cut.len());
        assert!(cut.ends_with("bytes cut by ironbell]"));
        assert_eq!(bound_message("short"), "short");
        let mut s = status();
        apply_report(&mut s, &report("a1", StateType::Failed, &big)).expect("accepted");
        let a = &s.tasks.as_ref().expect("tasks")[0].actions[0];
        assert!(
            a.message
                .as_ref()
                .is_some_and(|m| m.len() <= MAX_MESSAGE_BYTES)
        );
        let mut r = report("a1", StateType::Running, "");
        r.agent_id = "x".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            validate_report(&r).expect_err("long").code(),
            tonic::Code::InvalidArgument
        );
        r.agent_id = "m1".into();
        r.workflow_id = "nonamespace".into();
        assert!(validate_report(&r).is_err());
        r.workflow_id = "/x".into();
        assert!(validate_report(&r).is_err());
        assert!(validate_get(&ActionRequest::default()).is_err());
    }
}
