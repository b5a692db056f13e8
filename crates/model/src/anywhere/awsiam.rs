//! [`AWSIamConfig`]: the AWS IAM Authenticator as an identity provider for the cluster.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// AWS IAM Authenticator settings: which IAM roles and users map to which Kubernetes users.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AWSIamConfig {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `AWSIamConfig`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The authenticator's settings.
    #[serde(default)]
    pub spec: AwsIamConfigSpec,
    /// The observed state (empty in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AwsIamConfigStatus>,
}
crate::impl_resource!(
    AWSIamConfig,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "AWSIamConfig",
    "awsiamconfigs",
    aliases = ["awsiamconfig"]
);

/// Settings of the AWS IAM Authenticator server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsIamConfigSpec {
    /// AWS region of the IAM roles, e.g. `us-west-2`.
    pub aws_region: String,
    /// Where mappings are looked up, in order (e.g. `EKSConfigMap`, `CRD`).
    pub backend_mode: Vec<String>,
    /// IAM roles mapped to Kubernetes users and groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_roles: Option<Vec<MapRoles>>,
    /// IAM users mapped to Kubernetes users and groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_users: Option<Vec<MapUsers>>,
    /// AWS partition of the roles (`aws` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// An IAM role mapped to a Kubernetes user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapRoles {
    /// ARN of the role.
    #[serde(rename = "roleARN")]
    pub role_arn: String,
    /// Kubernetes user name.
    pub username: String,
    /// Kubernetes groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// An IAM user mapped to a Kubernetes user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapUsers {
    /// ARN of the user.
    #[serde(rename = "userARN")]
    pub user_arn: String,
    /// Kubernetes user name.
    pub username: String,
    /// Kubernetes groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// Observed state of an [`AWSIamConfig`]: the API defines no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsIamConfigStatus {}
