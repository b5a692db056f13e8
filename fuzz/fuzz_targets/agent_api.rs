//! The agent API's request messages as a hostile host sends them: the first byte picks
//! the message (even: `ActionRequest`, odd: `ActionStatusRequest`) and how the recorded
//! workflow relates to a report; the rest is decoded with prost and run through the
//! server's pure checks (`validate_get`, `validate_report`, `bound_message`,
//! `apply_report`). Requests over the server's decode limit are refused before decoding,
//! so they are skipped here.
//!
//! Checks: no panic; a stored message is at most `MAX_MESSAGE_BYTES`; a refused report
//! leaves the workflow's status exactly as it was; an accepted one records the reported
//! action as the current one.
#![no_main]

use ironbell_model::tinkerbell::{
    CurrentState, WorkflowAction, WorkflowState, WorkflowStatus, WorkflowTask,
};
use ironbell_workflow::server::{
    MAX_DECODING_MESSAGE_SIZE, MAX_MESSAGE_BYTES, apply_report, bound_message, validate_get,
    validate_report,
};
use ironbell_workflow_proto::{ActionRequest, ActionStatusRequest};
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// A running workflow; when `matching`, its task, action and agent are the report's, and
/// when `current` too, that action is the one handed out.
fn recorded(req: &ActionStatusRequest, matching: bool, current: bool, terminal: bool) -> WorkflowStatus {
    let (agent, task, action) = if matching {
        (req.agent_id.clone(), req.task_id.clone(), req.action_id.clone())
    } else {
        ("m1".to_string(), "t1".to_string(), "a1".to_string())
    };
    WorkflowStatus {
        agent_id: Some(agent.clone()),
        state: Some(if terminal { WorkflowState::Success } else { WorkflowState::Running }),
        tasks: Some(vec![WorkflowTask {
            id: task.clone(),
            name: "install".into(),
            agent_id: agent.clone(),
            actions: vec![
                WorkflowAction {
                    id: action.clone(),
                    state: Some(WorkflowState::Running),
                    ..WorkflowAction::default()
                },
                WorkflowAction {
                    id: format!("{action}-next"),
                    state: Some(WorkflowState::Pending),
                    ..WorkflowAction::default()
                },
            ],
            ..WorkflowTask::default()
        }]),
        current_state: Some(CurrentState {
            agent_id: Some(agent),
            task_id: Some(task),
            action_id: Some(if current { action } else { "other".into() }),
            state: Some(WorkflowState::Running),
            ..CurrentState::default()
        }),
        ..WorkflowStatus::default()
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_DECODING_MESSAGE_SIZE {
        return;
    }
    let Some((&how, body)) = data.split_first() else {
        return;
    };
    if how & 1 == 0 {
        if let Ok(req) = ActionRequest::decode(body) {
            let _ = validate_get(&req);
        }
        return;
    }
    let Ok(req) = ActionStatusRequest::decode(body) else {
        return;
    };
    if let Some(m) = &req.message {
        assert!(bound_message(&m.message).len() <= MAX_MESSAGE_BYTES);
    }
    let Ok((ns, name)) = validate_report(&req) else {
        return;
    };
    assert!(!ns.is_empty() && !name.is_empty());
    let mut status = recorded(&req, how & 2 != 0, how & 4 != 0, how & 8 != 0);
    let before = status.clone();
    match apply_report(&mut status, &req) {
        Err(_) => assert_eq!(status, before, "a refused report changed the status"),
        Ok(()) => {
            for a in status.tasks.iter().flatten().flat_map(|t| &t.actions) {
                assert!(a.message.as_ref().is_none_or(|m| m.len() <= MAX_MESSAGE_BYTES));
            }
            let cur = status.current_state.as_ref().expect("current state");
            assert_eq!(cur.action_id.as_deref(), Some(req.action_id.as_str()));
        }
    }
});
