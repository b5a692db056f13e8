//! The workflow's status as data: built from a rendered template, read and changed by the
//! controller and the gRPC server. No I/O.

use std::time::{Duration, SystemTime};

use ironbell_model::Timestamp;
use ironbell_model::template_def::TemplateDefinition;
use ironbell_model::tinkerbell::{
    ActionNamespaces, Workflow, WorkflowAction, WorkflowCondition, WorkflowState, WorkflowStatus,
    WorkflowTask,
};

/// Condition types, as Tinkerbell writes them.
pub mod condition {
    /// The template rendered (True) or not (False).
    pub const TEMPLATE_RENDERED_SUCCESS: &str = "TemplateRenderedSuccess";
    /// `allowPXE` was set to true on the Hardware.
    pub const TOGGLE_ALLOW_NETBOOT_TRUE: &str = "AllowNetbootTrue";
    /// `allowPXE` was set to false on the Hardware.
    pub const TOGGLE_ALLOW_NETBOOT_FALSE: &str = "AllowNetbootFalse";
    /// A boot job was created.
    pub const BOOT_JOB_SETUP_COMPLETE: &str = "BootJobSetupComplete";
    /// A boot job could not be created.
    pub const BOOT_JOB_SETUP_FAILED: &str = "BootJobSetupFailed";
    /// A boot job completed.
    pub const BOOT_JOB_COMPLETE: &str = "BootJobComplete";
    /// A boot job failed.
    pub const BOOT_JOB_FAILED: &str = "BootJobFailed";
    /// An action failed or timed out (True): its reason is the action's state, its message
    /// names the action and its task and carries the action's message. ironbell's own
    /// condition: Tinkerbell leaves the failing action to be found in `tasks`.
    pub const ACTION_FAILED: &str = "ActionFailed";
}

/// Records on `status` that action `action` of task `task` ended in `state` (FAILED or
/// TIMEOUT) with `message` ([`condition::ACTION_FAILED`]).
pub fn set_action_failed(
    status: &mut WorkflowStatus,
    task: &str,
    action: &str,
    state: &WorkflowState,
    message: &str,
) {
    let reason = match state {
        WorkflowState::Timeout => "Timeout",
        _ => "Failed",
    };
    let text = action_failure(task, action, state, message);
    set_condition(
        status,
        condition(condition::ACTION_FAILED, true, reason, text),
    );
}

/// `action A of task T FAILED: message`, as the condition and Events say it.
pub fn action_failure(task: &str, action: &str, state: &WorkflowState, message: &str) -> String {
    let message = message.trim();
    if message.is_empty() {
        format!("action {action} of task {task} {state}")
    } else {
        format!("action {action} of task {task} {state}: {message}")
    }
}

/// Why a workflow stopped, from its conditions: the failing action, else the template
/// that did not render, else the first condition that is `False`. `None` when it says
/// nothing.
pub fn failure_reason(status: &WorkflowStatus) -> Option<String> {
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let find = |t: &str, s: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t && c.status == s)
            .and_then(|c| c.message.clone())
    };
    find(condition::ACTION_FAILED, "True")
        .or_else(|| find(condition::TEMPLATE_RENDERED_SUCCESS, "False"))
        .or_else(|| {
            conditions
                .iter()
                .find(|c| c.status == "False")
                .and_then(|c| c.message.clone())
        })
}

/// A new action or task id: a ULID, as Tinkerbell uses.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

pub use ironbell_model::values::now;

/// `t` at the whole second, as Kubernetes keeps `metav1.Time`, clamped to 1970 through
/// [`Timestamp::MAX`] (late on 9999-12-30; times come from agents' clocks and templates'
/// timeouts).
pub fn timestamp(t: SystemTime) -> Timestamp {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secs = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .min(Timestamp::MAX.as_second());
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The status of a workflow whose template rendered to `def`: every action pending, with
/// fresh ids; the first task's worker is the workflow's agent.
pub fn from_template(def: &TemplateDefinition) -> WorkflowStatus {
    let tasks: Vec<WorkflowTask> = def
        .tasks
        .iter()
        .map(|t| WorkflowTask {
            id: new_id(),
            name: t.name.clone(),
            agent_id: t.worker.clone(),
            actions: t
                .actions
                .iter()
                .map(|a| WorkflowAction {
                    id: new_id(),
                    name: Some(a.name.clone()),
                    image: Some(a.image.clone()),
                    timeout: a.timeout,
                    command: a.command.clone(),
                    volumes: a.volumes.clone(),
                    pid: a.pid.clone(),
                    namespaces: a.namespaces.as_ref().and_then(|n| {
                        let network = n.network.clone().filter(|s| !s.is_empty());
                        let pid = n.pid.clone().filter(|s| !s.is_empty());
                        (network.is_some() || pid.is_some())
                            .then_some(ActionNamespaces { network, pid })
                    }),
                    environment: a.environment.clone(),
                    state: Some(WorkflowState::Pending),
                    ..WorkflowAction::default()
                })
                .collect(),
            volumes: t.volumes.clone(),
            environment: t.environment.clone(),
        })
        .collect();
    WorkflowStatus {
        agent_id: tasks.first().map(|t| t.agent_id.clone()),
        global_timeout: def.global_timeout,
        tasks: Some(tasks),
        ..WorkflowStatus::default()
    }
}

/// Sets `cond` on `status`, replacing a condition of the same type.
pub fn set_condition(status: &mut WorkflowStatus, cond: WorkflowCondition) {
    let list = status.conditions.get_or_insert_with(Vec::new);
    list.retain(|c| c.type_ != cond.type_);
    list.push(cond);
}

/// A condition stamped now.
pub fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: impl Into<String>,
) -> WorkflowCondition {
    WorkflowCondition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.into()),
        time: Some(now()),
    }
}

/// The workflow's state ("" when new).
pub fn state(wf: &Workflow) -> Option<&WorkflowState> {
    wf.status.as_ref().and_then(|s| s.state.as_ref())
}

/// The action the workflow is at (from `status.currentState`), with its task.
pub fn current_action(status: &WorkflowStatus) -> Option<(&WorkflowTask, &WorkflowAction)> {
    let cur = status.current_state.as_ref()?;
    let action_id = cur.action_id.as_deref()?;
    status
        .tasks
        .as_deref()?
        .iter()
        .find_map(|t| t.actions.iter().find(|a| a.id == action_id).map(|a| (t, a)))
}

/// When the action that is running now must have finished: its start plus its timeout.
pub fn action_deadline(action: &WorkflowAction) -> Option<SystemTime> {
    if action.state != Some(WorkflowState::Running) {
        return None;
    }
    let start = SystemTime::from(action.execution_start?);
    let timeout = u64::try_from(action.timeout?).ok().filter(|t| *t > 0)?;
    start.checked_add(Duration::from_secs(timeout))
}

/// The first action of the first task, if any.
pub fn first_action(status: &WorkflowStatus) -> Option<&WorkflowAction> {
    status.tasks.as_deref()?.first()?.actions.first()
}

/// A duration as Go's `time.Duration.String()` writes it (`1h2m3.5s`, `350ms`), which is
/// what agents report and Tinkerbell stores.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos as f64 / 1e6));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let frac = d.subsec_nanos();
    let seconds = if frac == 0 {
        format!("{s}")
    } else {
        let f = format!("{frac:09}");
        format!("{s}.{}", f.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

fn trim_fraction(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(3)), "3s");
        assert_eq!(go_duration(Duration::from_millis(3500)), "3.5s");
        assert_eq!(go_duration(Duration::from_secs(62)), "1m2s");
        assert_eq!(go_duration(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }

    #[test]
    fn absurd_times_format_clamped() {
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(timestamp(far).to_string(), "9999-12-30T22:00:00Z");
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(timestamp(before).to_string(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn times_round_trip() {
        let t: Timestamp = "2026-11-22T08:00:00Z".parse().expect("parse");
        assert_eq!(timestamp(SystemTime::from(t)), t);
        assert_eq!(t.to_string(), "2026-11-22T08:00:00Z");
    }
}
