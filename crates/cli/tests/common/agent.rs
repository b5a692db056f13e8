//! What the agent reports for a machine whose Workflow ran through: every action, and
//! the Workflow, `STATE_SUCCESS`. Shared by the tests that play the machines
//! (`cluster_plane.rs`, `cluster_lifecycle.rs`); included with `#[path]`.

use ironbell_model::tinkerbell::{CurrentState, WorkflowState, WorkflowStatus};

/// Marks every action of `status` successful, the last one current, and the Workflow
/// successful. Returns false (changing nothing) while the Workflow has no tasks yet (the
/// workflow service has not rendered it).
pub fn report_success(status: &mut WorkflowStatus) -> bool {
    if status.tasks.as_ref().is_none_or(|t| t.is_empty()) {
        return false;
    }
    let mut last = CurrentState::default();
    for task in status.tasks.iter_mut().flatten() {
        for action in &mut task.actions {
            action.state = Some(WorkflowState::Success);
            last = CurrentState {
                agent_id: Some(task.agent_id.clone()),
                task_id: Some(task.id.clone()),
                task_name: Some(task.name.clone()),
                action_id: Some(action.id.clone()),
                action_name: action.name.clone(),
                state: Some(WorkflowState::Success),
            };
        }
    }
    status.current_state = Some(last);
    status.state = Some(WorkflowState::Success);
    true
}
