//! STUB: placeholder kinds, to be replaced by the real typed definitions.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// STUB `Secret`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Secret>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Secret>,
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
crate::impl_resource!(Secret, "v1", "Secret", "secrets");
