//! STUB: placeholder kinds, to be replaced by the real typed definitions.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// STUB `Hardware`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Hardware {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Hardware>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Hardware>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Untyped spec (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Untyped status (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}
crate::impl_resource!(Hardware, "tinkerbell.org/v1alpha1", "Hardware", "hardware");

/// STUB `Template`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Template>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Template>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Untyped spec (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Untyped status (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}
crate::impl_resource!(Template, "tinkerbell.org/v1alpha1", "Template", "templates");

/// STUB `Workflow`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Workflow>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Workflow>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Untyped spec (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<serde_json::Value>,
    /// Untyped status (stub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}
crate::impl_resource!(Workflow, "tinkerbell.org/v1alpha1", "Workflow", "workflows");
