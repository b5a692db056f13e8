//! [`OIDCConfig`]: an OpenID Connect identity provider for the cluster's API server.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta};

/// An OpenID Connect provider the API server accepts tokens from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OIDCConfig {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `OIDCConfig`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The provider's settings.
    #[serde(default)]
    pub spec: OidcConfigSpec,
    /// The observed state (empty in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OidcConfigStatus>,
}
crate::impl_resource!(
    OIDCConfig,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "OIDCConfig",
    "oidcconfigs",
    aliases = ["oidcconfig"]
);

/// How the API server validates OpenID Connect tokens.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfigSpec {
    /// Client ID tokens must be issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Claim that lists the user's groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_claim: Option<String>,
    /// Prefix added to every group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups_prefix: Option<String>,
    /// HTTPS URL of the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
    /// Claims that must be present in the token with the given values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_claims: Option<Vec<OidcConfigRequiredClaim>>,
    /// Claim used as the user name (default `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_claim: Option<String>,
    /// Prefix added to user names; `-` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_prefix: Option<String>,
}

/// A claim a token must carry, with its value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcConfigRequiredClaim {
    /// Claim name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Required value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Observed state of an [`OIDCConfig`]: the API defines no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfigStatus {}
