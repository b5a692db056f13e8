//! The Tinkerbell workflow template document: the YAML a Tinkerbell `Template` carries as
//! the string `spec.data`, and an EKS Anywhere `TinkerbellTemplateConfig` carries inline as
//! `spec.template`.
//!
//! ```yaml
//! version: "0.1"
//! name: ubuntu
//! global_timeout: 1800
//! tasks:
//!   - name: os-installation
//!     worker: "{{.device_1}}"
//!     volumes: ["/dev:/dev"]
//!     actions:
//!       - name: stream-image
//!         image: quay.io/tinkerbell/actions/image2disk:latest
//!         timeout: 600
//!         environment: {DEST_DISK: /dev/sda}
//! ```
//!
//! Keys are Tinkerbell's own, in snake_case and kebab-case (`global_timeout`, `on-timeout`),
//! not Kubernetes camelCase. Unknown keys are errors naming their path.
//!
//! This module parses and prints the document only. Rendering the Go-template expressions
//! (`{{.device_1}}`) and validating names and images happen elsewhere. Start at
//! [`TemplateDefinition::from_yaml`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A template document could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TemplateDefError {
    /// The text is not a valid template: bad YAML, a missing or unknown field, a wrong type.
    #[error("workflow template: field `{path}`: {message}")]
    Invalid {
        /// Path of the offending field (`.` for the document itself).
        path: String,
        /// What was wrong, with the line and column when known.
        message: String,
    },
    /// The template could not be written as YAML.
    #[error("workflow template: cannot write YAML: {0}")]
    Write(#[from] serde_yaml_ng::Error),
}

/// A workflow template: tasks, each run by one worker, each a sequence of actions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TemplateDefinition {
    /// Template format version, `"0.1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Template name (empty only in an empty template `{}`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Template identifier (often empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Time limit for the whole workflow, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_timeout: Option<i64>,
    /// The tasks, run in order (none only in an empty template `{}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TemplateTask>,
}

/// One task: actions that run in order on one worker machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TemplateTask {
    /// Task name, unique within the template.
    pub name: String,
    /// The worker that runs the task: usually a template expression such as `{{.device_1}}`
    /// that becomes the hardware's MAC address.
    pub worker: String,
    /// The actions, run in order.
    pub actions: Vec<TemplateAction>,
    /// Volumes (`host:container[:ro]`) mounted into every action of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// Environment variables given to every action of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
}

/// One action: a container image run with a command, environment and volumes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TemplateAction {
    /// Action name, unique within the task.
    pub name: String,
    /// Container image that implements the action, e.g. `image2disk:v1.0.0`.
    pub image: String,
    /// Time limit for the action, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Command (and arguments) run instead of the image's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Command run when the action times out.
    #[serde(
        default,
        rename = "on-timeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_timeout: Option<Vec<String>>,
    /// Command run when the action fails.
    #[serde(
        default,
        rename = "on-failure",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_failure: Option<Vec<String>>,
    /// Volumes (`host:container[:ro]`) mounted into the action's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// Environment variables of the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    /// PID namespace of the container; `host` shares the worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Linux namespaces of the container (newer Tinkerbell; takes precedence over `pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<ActionNamespaces>,
}

/// The Linux namespaces an action's container joins.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ActionNamespaces {
    /// Network namespace; `host` shares the worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// PID namespace; `host` shares the worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
}

impl TemplateDefinition {
    /// Parses a template document. Errors name the path of the offending field, e.g.
    /// `tasks[0].actions[2].timeout`.
    pub fn from_yaml(text: &str) -> Result<Self, TemplateDefError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            TemplateDefError::Invalid {
                path,
                message: e.into_inner().to_string(),
            }
        })
    }

    /// Writes the template as a YAML document.
    pub fn to_yaml(&self) -> Result<String, TemplateDefError> {
        Ok(serde_yaml_ng::to_string(self)?)
    }

    /// Every action of every task, in execution order, with its task.
    pub fn actions(&self) -> impl Iterator<Item = (&TemplateTask, &TemplateAction)> {
        self.tasks
            .iter()
            .flat_map(|t| t.actions.iter().map(move |a| (t, a)))
    }
}

impl std::str::FromStr for TemplateDefinition {
    type Err = TemplateDefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_yaml(s)
    }
}
