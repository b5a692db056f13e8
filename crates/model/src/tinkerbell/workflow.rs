//! `Workflow`: a [`Template`](super::Template) rendered for one [`Hardware`](super::Hardware),
//! with the state of every task and action the agent runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bmc;
use crate::{ApiVersion, Kind, ObjectMeta};

/// A template rendered for one machine, and its progress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    /// `apiVersion`: always `tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Workflow>,
    /// `kind`: always `Workflow`.
    #[serde(default)]
    pub kind: Kind<Workflow>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Template, hardware and boot options.
    #[serde(default)]
    pub spec: WorkflowSpec,
    /// Progress of the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WorkflowStatus>,
}
crate::impl_resource!(
    Workflow,
    "tinkerbell.org/v1alpha1",
    "Workflow",
    "workflows",
    aliases = ["workflow", "wf"]
);

impl Workflow {
    /// The overall state, [`WorkflowState::Pending`] when not yet reported.
    pub fn state(&self) -> WorkflowState {
        self.status
            .as_ref()
            .and_then(|s| s.state.clone())
            .unwrap_or_default()
    }

    /// Whether processing is disabled (`spec.disabled`).
    pub fn is_disabled(&self) -> bool {
        self.spec.disabled.unwrap_or(false)
    }
}

/// Why a Workflow stopped, read from its JSON form (so that one written by another client
/// still says it): the failing action's message (condition `ActionFailed`), else the
/// template that did not render (`TemplateRenderedSuccess` false), else the first `False`
/// condition's message; `None` unless its state is `FAILED` or `TIMEOUT`. `describe
/// workflow` and the dashboard both show it.
pub fn failure_reason(workflow: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if !matches!(
        text(workflow, "/status/state").as_str(),
        "FAILED" | "TIMEOUT"
    ) {
        return None;
    }
    let conditions = workflow
        .pointer("/status/conditions")
        .and_then(serde_json::Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        conditions
            .iter()
            .find(|c| pred(c))
            .map(|c| text(c, "/message"))
            .filter(|m| !m.is_empty())
    };
    find(&|c| text(c, "/type") == "ActionFailed" && text(c, "/status") == "True")
        .or_else(|| {
            find(&|c| {
                text(c, "/type") == "TemplateRenderedSuccess" && text(c, "/status") == "False"
            })
        })
        .or_else(|| find(&|c| text(c, "/status") == "False"))
}

/// Desired state of a [`Workflow`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Whether the workflow is not processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Name of the Template to render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<String>,
    /// Name of the Hardware the workflow runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_ref: Option<String>,
    /// Template device names mapped to MAC addresses (e.g. `device_1: 00:00:00:00:00:01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_map: Option<BTreeMap<String, String>>,
    /// How the Hardware is booted; applies only with a `hardwareRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_options: Option<BootOptions>,
}

/// How the machine of a workflow is booted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootOptions {
    /// Whether the controller sets the Hardware's `allowPXE` for the run and clears it after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toggle_allow_netboot: Option<bool>,
    /// URL of an ISO to boot once through the BMC's virtual media.
    #[serde(default, rename = "isoURL", skip_serializing_if = "Option::is_none")]
    pub iso_url: Option<String>,
    /// How the machine is booted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_mode: Option<BootMode>,
    /// User-defined BMC actions for the `customboot` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customboot_config: Option<CustombootConfig>,
}

/// How the machine of a workflow is booted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BootMode {
    /// Network boot (PXE / iPXE) through a BMC job.
    #[serde(rename = "netboot")]
    Netboot,
    /// Boot the installation environment ISO through virtual media.
    #[serde(rename = "isoboot")]
    Isoboot,
    /// Boot the ISO at `isoURL` through virtual media.
    #[serde(rename = "iso")]
    Iso,
    /// Run the user-defined BMC actions of `custombootConfig`.
    #[serde(rename = "customboot")]
    Customboot,
}

/// BMC actions run around a workflow in `customboot` mode.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustombootConfig {
    /// BMC actions run before any workflow action (typically: get the machine to boot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparing_actions: Option<Vec<bmc::Action>>,
    /// BMC actions run after every workflow action has completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_actions: Option<Vec<bmc::Action>>,
}

/// Defines a string enum whose known values are variants and whose other values are kept
/// in `Other`, so that every string the CRD accepts parses and round-trips.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// The value as written in YAML.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($value => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}

open_string_enum! {
    /// State of a workflow, a task's action, or the current position. The CRD allows any
    /// string; the values Tinkerbell writes are variants.
    #[derive(Default)]
    WorkflowState {
        /// BMC preparation (boot jobs) is running.
        Preparing = "PREPARING",
        /// Waiting for an agent; the state of a new workflow.
        #[default]
        Pending = "PENDING",
        /// Actions are running.
        Running = "RUNNING",
        /// Post actions are running.
        Post = "POST",
        /// Finished successfully.
        Success = "SUCCESS",
        /// An action failed.
        Failed = "FAILED",
        /// An action or the workflow ran out of time.
        Timeout = "TIMEOUT",
    }
}

impl WorkflowState {
    /// Whether the state is final (success, failure or timeout).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Timeout)
    }
}

open_string_enum! {
    /// Whether the template rendered. The CRD allows any string; the values Tinkerbell
    /// writes are variants.
    TemplateRendering {
        /// Rendered.
        Successful = "successful",
        /// Failed to render.
        Failed = "failed",
        /// Not known yet.
        Unknown = "unknown",
    }
}

/// Observed state of a [`Workflow`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowStatus {
    /// Id of the agent running the workflow.
    #[serde(default, rename = "agentID", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Overall state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<WorkflowState>,
    /// State of the boot options (netboot toggles, BMC jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_options: Option<BootOptionsStatus>,
    /// Whether the template rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_rendering: Option<TemplateRendering>,
    /// Maximum run time of the whole workflow, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_timeout: Option<i64>,
    /// RFC 3339 time after which the workflow times out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_execution_stop: Option<crate::Timestamp>,
    /// Where the workflow currently is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<CurrentState>,
    /// Tasks the agent(s) run, with their actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<WorkflowTask>>,
    /// Latest observations (boot job and rendering conditions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<WorkflowCondition>>,
}

/// State of the boot options of a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootOptionsStatus {
    /// What the controller did to the Hardware's `allowPXE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_netboot: Option<AllowNetbootStatus>,
    /// BMC jobs created for the workflow, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<BTreeMap<String, BootJobStatus>>,
}

/// What the controller did to the Hardware's `allowPXE`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowNetbootStatus {
    /// Set to true before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toggled_true: Option<bool>,
    /// Set to false after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toggled_false: Option<bool>,
}

/// State of one BMC job created for a workflow.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootJobStatus {
    /// UID of the job object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Whether the job reported completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// Whether a previous job of the same name was deleted first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_job_deleted: Option<bool>,
}

/// Where a workflow currently is.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrentState {
    /// Agent running the current action.
    #[serde(default, rename = "agentID", skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Id of the current task.
    #[serde(default, rename = "taskID", skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Id of the current action.
    #[serde(default, rename = "actionID", skip_serializing_if = "Option::is_none")]
    pub action_id: Option<String>,
    /// State of the current action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<WorkflowState>,
    /// Name of the current action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_name: Option<String>,
    /// Name of the current task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_name: Option<String>,
}

/// A condition of a [`Workflow`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowCondition {
    /// Condition type, e.g. `BootJobComplete` or `TemplateRenderedSuccess`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Brief machine-readable reason of the last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// RFC 3339 time the condition was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<crate::Timestamp>,
}

/// A series of actions run by one agent.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowTask {
    /// Task id.
    pub id: String,
    /// Task name.
    pub name: String,
    /// Agent that runs the task (usually the worker's MAC address).
    #[serde(rename = "agentID")]
    pub agent_id: String,
    /// Actions, run in order.
    pub actions: Vec<WorkflowAction>,
    /// Volumes mounted into every action (`host:container[:mode]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// Environment variables of every action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
}

/// One action of a workflow task: a container image run with its settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowAction {
    /// Action id.
    pub id: String,
    /// Action name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Container image, e.g. `quay.io/tinkerbell/actions/image2disk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Time limit in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Command overriding the image's entry point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Volumes (`host:container[:mode]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// PID namespace (deprecated upstream; use `namespaces.pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Linux namespaces the action container joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<ActionNamespaces>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    /// State of the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<WorkflowState>,
    /// RFC 3339 time the action started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_start: Option<crate::Timestamp>,
    /// RFC 3339 time the action stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_stop: Option<crate::Timestamp>,
    /// How long the action ran, as a duration string (e.g. `1m2s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_duration: Option<String>,
    /// Message reported by the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Linux namespaces of an action container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionNamespaces {
    /// Network namespace, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// PID namespace, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
}
