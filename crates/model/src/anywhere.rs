//! STUB: placeholder kinds, to be replaced by the real typed definitions.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// STUB `Cluster`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<Cluster>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<Cluster>,
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
crate::impl_resource!(Cluster, "anywhere.eks.amazonaws.com/v1alpha1", "Cluster", "clusters");

/// STUB `TinkerbellDatacenterConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellDatacenterConfig {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellDatacenterConfig>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<TinkerbellDatacenterConfig>,
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
crate::impl_resource!(TinkerbellDatacenterConfig, "anywhere.eks.amazonaws.com/v1alpha1", "TinkerbellDatacenterConfig", "tinkerbelldatacenterconfigs");

/// STUB `TinkerbellMachineConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellMachineConfig {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellMachineConfig>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<TinkerbellMachineConfig>,
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
crate::impl_resource!(TinkerbellMachineConfig, "anywhere.eks.amazonaws.com/v1alpha1", "TinkerbellMachineConfig", "tinkerbellmachineconfigs");

/// STUB `TinkerbellTemplateConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellTemplateConfig {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellTemplateConfig>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<TinkerbellTemplateConfig>,
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
crate::impl_resource!(TinkerbellTemplateConfig, "anywhere.eks.amazonaws.com/v1alpha1", "TinkerbellTemplateConfig", "tinkerbelltemplateconfigs");

/// STUB `OIDCConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OIDCConfig {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<OIDCConfig>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<OIDCConfig>,
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
crate::impl_resource!(OIDCConfig, "anywhere.eks.amazonaws.com/v1alpha1", "OIDCConfig", "oidcconfigs");

/// STUB `AWSIamConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AWSIamConfig {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<AWSIamConfig>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<AWSIamConfig>,
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
crate::impl_resource!(AWSIamConfig, "anywhere.eks.amazonaws.com/v1alpha1", "AWSIamConfig", "awsiamconfigs");
