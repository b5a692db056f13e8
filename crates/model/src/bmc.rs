//! STUB: placeholder kinds, to be replaced by the real typed definitions.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// STUB `Machine`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Machine>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Machine>,
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
crate::impl_resource!(Machine, "bmc.tinkerbell.org/v1alpha1", "Machine", "machines");

/// STUB `Job`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Job>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Job>,
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
crate::impl_resource!(Job, "bmc.tinkerbell.org/v1alpha1", "Job", "jobs");

/// STUB `Task`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Task>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Task>,
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
crate::impl_resource!(Task, "bmc.tinkerbell.org/v1alpha1", "Task", "tasks");
