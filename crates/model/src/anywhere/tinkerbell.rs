//! The Tinkerbell provider's objects: [`TinkerbellDatacenterConfig`] (where the Tinkerbell
//! stack runs and which images it serves), [`TinkerbellMachineConfig`] (which hardware a
//! machine group takes and what it installs), and [`TinkerbellTemplateConfig`] (a workflow
//! template that overrides the default one).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{HostOsConfiguration, OsFamily, Ref, UserConfiguration};
use crate::template_def::TemplateDefinition;
use crate::{ApiVersion, Kind, ObjectMeta};

/// Where the Tinkerbell stack runs for a cluster and which boot and OS images it serves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellDatacenterConfig {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `TinkerbellDatacenterConfig`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired settings.
    #[serde(default)]
    pub spec: TinkerbellDatacenterConfigSpec,
    /// The observed state (empty in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TinkerbellDatacenterConfigStatus>,
}
crate::impl_resource!(
    TinkerbellDatacenterConfig,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "TinkerbellDatacenterConfig",
    "tinkerbelldatacenterconfigs",
    aliases = ["tinkerbelldatacenterconfig", "tdc"]
);

/// Settings of the Tinkerbell stack for one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellDatacenterConfigSpec {
    /// Virtual IP the Tinkerbell services are reached at.
    #[serde(rename = "tinkerbellIP")]
    pub tinkerbell_ip: String,
    /// URL of the OS image to install, overriding the release's default.
    #[serde(
        default,
        rename = "osImageURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_image_url: Option<String>,
    /// Base URL of the HookOS kernel and initramfs, overriding the release's default.
    #[serde(
        default,
        rename = "hookImagesURLPath",
        skip_serializing_if = "Option::is_none"
    )]
    pub hook_images_url_path: Option<String>,
    /// Do not deploy the load balancer in front of the Tinkerbell stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_load_balancer_deployment: Option<bool>,
    /// Network interface the load balancer announces the virtual IP on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_interface: Option<String>,
    /// Boot machines from a HookOS ISO through the BMC instead of the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso_boot: Option<bool>,
    /// URL of the HookOS ISO used with `isoBoot`.
    #[serde(
        default,
        rename = "hookIsoURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub hook_iso_url: Option<String>,
}

/// Observed state of a [`TinkerbellDatacenterConfig`]: the API defines no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TinkerbellDatacenterConfigStatus {}

/// Which hardware a machine group takes and what it installs there.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellMachineConfig {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `TinkerbellMachineConfig`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired settings.
    #[serde(default)]
    pub spec: TinkerbellMachineConfigSpec,
    /// The observed state (empty in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TinkerbellMachineConfigStatus>,
}
crate::impl_resource!(
    TinkerbellMachineConfig,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "TinkerbellMachineConfig",
    "tinkerbellmachineconfigs",
    aliases = ["tinkerbellmachineconfig", "tmc"]
);

/// Labels a `Hardware` must carry to be picked for a machine group.
pub type HardwareSelector = BTreeMap<String, String>;

/// Settings of the machines of one group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellMachineConfigSpec {
    /// Hardware labels that select the machines for this group.
    pub hardware_selector: HardwareSelector,
    /// The `TinkerbellTemplateConfig` used to provision, instead of the default template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<Ref>,
    /// The operating system installed (EKS Anywhere assumes Bottlerocket when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<OsFamily>,
    /// URL of the OS image to install, overriding the datacenter config's and the release's.
    #[serde(
        default,
        rename = "osImageURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_image_url: Option<String>,
    /// Login users created on the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserConfiguration>>,
    /// Host OS settings: NTP, CA bundles, Bottlerocket settings.
    #[serde(
        default,
        rename = "hostOSConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_os_configuration: Option<HostOsConfiguration>,
}

/// Observed state of a [`TinkerbellMachineConfig`]: the API defines no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TinkerbellMachineConfigStatus {}

/// A user-supplied Tinkerbell workflow template, referenced from machine configs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellTemplateConfig {
    /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `TinkerbellTemplateConfig`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The template.
    #[serde(default)]
    pub spec: TinkerbellTemplateConfigSpec,
    /// The observed state (empty in the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TinkerbellTemplateConfigStatus>,
}
crate::impl_resource!(
    TinkerbellTemplateConfig,
    "anywhere.eks.amazonaws.com/v1alpha1",
    "TinkerbellTemplateConfig",
    "tinkerbelltemplateconfigs",
    aliases = ["tinkerbelltemplateconfig", "ttc"]
);

/// The template of a [`TinkerbellTemplateConfig`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellTemplateConfigSpec {
    /// The workflow template: tasks and actions, written inline as YAML (not as a string).
    pub template: TemplateDefinition,
}

/// Observed state of a [`TinkerbellTemplateConfig`]: the API defines no fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TinkerbellTemplateConfigStatus {}
