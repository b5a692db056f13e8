//! What the Tinkerbell provider adds to the lifecycle's waits
//! ([`ironbell_lifecycle::wait`]): the Hardware each machine runs on and holds until it is
//! released, its Workflow's state, and a failed Workflow's action as the machine's failure.

use ironbell_lifecycle::TaskError;
use ironbell_lifecycle::wait::{ClusterState, Observe, list, text};
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::Store;
use serde_json::Value;

use crate::render::field;

pub use ironbell_lifecycle::wait::POLL;

/// The Tinkerbell observer: Hardware and Workflows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tinkerbell;

fn key(kind: &str) -> TypeKey {
    TypeKey {
        api_version: "tinkerbell.org/v1alpha1".to_string(),
        kind: kind.to_string(),
    }
}

#[async_trait::async_trait]
impl Observe for Tinkerbell {
    async fn observe(&self, store: &dyn Store, state: &mut ClusterState) -> Result<(), TaskError> {
        let owner_selector = Selector::parse(ironbell_provider_tinkerbell::OWNER_NAME_LABEL)
            .map_err(|e| TaskError::Failed(e.to_string()))?;
        let hardware = list(store, key("Hardware"), Some(&owner_selector)).await?;
        let owner_of = |hw: &DynamicObject| {
            hw.metadata.labels.as_ref().and_then(|l| {
                l.get(ironbell_provider_tinkerbell::OWNER_NAME_LABEL)
                    .cloned()
            })
        };
        let workflows = list(store, key("Workflow"), None).await?;
        let infra_names: Vec<String> = state
            .machines
            .iter()
            .map(|m| m.infrastructure.clone())
            .collect();
        state.held = hardware
            .iter()
            .filter_map(|hw| owner_of(hw).map(|o| (hw.name().to_string(), o)))
            .filter(|(_, owner)| infra_names.contains(owner))
            .collect();
        for m in &mut state.machines {
            let infra = m.infrastructure.clone();
            let workflow = workflows.iter().find(|w| w.name() == infra);
            let workflow_state = workflow.and_then(|w| text(w, "status.state"));
            let failed_workflow = workflow_state
                .as_deref()
                .is_some_and(|s| matches!(s.trim_start_matches("STATE_"), "FAILED" | "TIMEOUT"));
            if m.failure.is_none() && failed_workflow {
                let action = workflow.and_then(failed_action).unwrap_or_default();
                m.failure = Some(format!(
                    "its Workflow {infra} is {}{action}",
                    workflow_state.clone().unwrap_or_default()
                ));
            }
            m.host = hardware
                .iter()
                .find(|hw| owner_of(hw).as_deref() == Some(infra.as_str()))
                .map(|hw| format!("Hardware {}", hw.name()));
            m.progress = workflow_state.map(|w| format!("workflow {w}"));
        }
        Ok(())
    }

    fn hint(&self, cluster: &str) -> String {
        format!(
            "`ironbell describe cluster {cluster}` shows every machine; `ironbell logs HARDWARE` what its installer logged"
        )
    }
}

/// The failing action of a Workflow and its message, as ` at action NAME: MESSAGE`.
fn failed_action(workflow: &DynamicObject) -> Option<String> {
    let tasks = field(workflow, "status.tasks")?;
    for task in tasks.as_array()? {
        for action in task.get("actions")?.as_array()? {
            let status = action.get("status").and_then(Value::as_str).unwrap_or("");
            if matches!(status.trim_start_matches("STATE_"), "FAILED" | "TIMEOUT") {
                let name = action.get("name").and_then(Value::as_str).unwrap_or("?");
                let message = action
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Some(format!(" at action {name}{message}"));
            }
        }
    }
    None
}
