//! GitOps: [`FluxConfig`] (Flux, with GitHub or any Git server) and the older
//! [`GitOpsConfig`] (Flux with GitHub only), referenced from a cluster's `gitOpsRef`.

use serde::{Deserialize, Serialize};

use super::{EmptyStatus, eksa_kind};

eksa_kind! {
    /// Flux GitOps settings: which repository holds the cluster's configuration.
    FluxConfig {
        spec: FluxConfigSpec,
        status: EmptyStatus,
        plural: "fluxconfigs",
        aliases: ["fluxconfig"],
    }
}

/// Where Flux finds the cluster's configuration. Exactly one of `github` and `git` is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FluxConfigSpec {
    /// Namespace Flux's controllers run in (`flux-system` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_namespace: Option<String>,
    /// Path of the cluster's configuration in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_config_path: Option<String>,
    /// Branch of the repository (`main` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// A GitHub repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubProviderConfig>,
    /// A repository on any Git server, reached by SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitProviderConfig>,
}

/// A GitHub repository for Flux.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubProviderConfig {
    /// User or organization that owns the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Name of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Whether the owner is a user rather than an organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<bool>,
}

/// A generic Git repository for Flux.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitProviderConfig {
    /// SSH URL of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_url: Option<String>,
    /// Algorithm of the SSH key (`ecdsa` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_algorithm: Option<String>,
}

eksa_kind! {
    /// The older GitOps settings (Flux with GitHub), superseded by [`FluxConfig`].
    GitOpsConfig {
        spec: GitOpsConfigSpec,
        status: EmptyStatus,
        plural: "gitopsconfigs",
        aliases: ["gitopsconfig"],
    }
}

/// Settings of a [`GitOpsConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitOpsConfigSpec {
    /// Flux's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<GitOpsFlux>,
}

/// Flux settings of a [`GitOpsConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitOpsFlux {
    /// The GitHub repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GitOpsGithub>,
}

/// The GitHub repository of a [`GitOpsConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitOpsGithub {
    /// User or organization that owns the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Name of the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Namespace Flux's controllers run in (`flux-system` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux_system_namespace: Option<String>,
    /// Branch of the repository (`main` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Path of the cluster's configuration in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_config_path: Option<String>,
    /// Whether the owner is a user rather than an organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<bool>,
}
