//! `Template`: a workflow template, YAML text with Go-template placeholders that the workflow
//! service renders for one `Hardware`.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// A workflow template: the tasks and actions to run, as unrendered text.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// `apiVersion`: always `tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Template>,
    /// `kind`: always `Template`.
    #[serde(default)]
    pub kind: Kind<Template>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The template text.
    #[serde(default)]
    pub spec: TemplateSpec,
    /// Whether the template is usable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TemplateStatus>,
}
crate::impl_resource!(
    Template,
    "tinkerbell.org/v1alpha1",
    "Template",
    "templates",
    aliases = ["template", "tpl"]
);

impl Template {
    /// The template text, or `""` when unset.
    pub fn data(&self) -> &str {
        self.spec.data.as_deref().unwrap_or_default()
    }
}

/// Desired state of a [`Template`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateSpec {
    /// The template: workflow YAML with Go-template placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// Observed state of a [`Template`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateStatus {
    /// State; upstream uses `Ready` and `Error` (see [`TemplateStatus::READY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl TemplateStatus {
    /// The `Ready` state.
    pub const READY: &'static str = "Ready";
    /// The `Error` state.
    pub const ERROR: &'static str = "Error";
}
