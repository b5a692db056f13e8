//! CAPT's `infrastructure.cluster.x-k8s.io/v1beta1` kinds: [`TinkerbellCluster`] and
//! [`TinkerbellMachineTemplate`] (CAPT v0.6.5).

use serde::{Deserialize, Serialize};

use super::{INFRASTRUCTURE_API_VERSION, LabelSelector, ObjectMeta};

/// A `TinkerbellCluster`: where CAPT looks up OS images.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `TinkerbellCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// Image lookup settings.
    pub spec: TinkerbellClusterSpec,
}

impl TinkerbellCluster {
    /// A `TinkerbellCluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: TinkerbellClusterSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.to_string(),
            kind: "TinkerbellCluster".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`TinkerbellCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellClusterSpec {
    /// Image name format, e.g. `--kube-v1.21.2-eks-1-21-4.raw.gz`.
    pub image_lookup_format: String,
    /// Registry the images are looked up in.
    pub image_lookup_base_registry: String,
}

/// A `TinkerbellMachineTemplate`: how CAPT picks Hardware for a machine and what it
/// installs on it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `TinkerbellMachineTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: TinkerbellMachineTemplateSpec,
}

impl TinkerbellMachineTemplate {
    /// A `TinkerbellMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: ObjectMeta, machine: TinkerbellMachineSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.to_string(),
            kind: "TinkerbellMachineTemplate".to_string(),
            metadata,
            spec: TinkerbellMachineTemplateSpec {
                template: TinkerbellMachineTemplateResource { spec: machine },
            },
        }
    }
}

/// The spec of a [`TinkerbellMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellMachineTemplateSpec {
    /// The template.
    pub template: TinkerbellMachineTemplateResource,
}

/// The template resource of a [`TinkerbellMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellMachineTemplateResource {
    /// The machine spec (`spec: {}` when empty).
    pub spec: TinkerbellMachineSpec,
}

/// A Tinkerbell machine's spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TinkerbellMachineSpec {
    /// Which Hardware may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_affinity: Option<HardwareAffinity>,
    /// How the machine boots into the provisioning OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_options: Option<BootOptions>,
    /// The Tinkerbell workflow template, as YAML text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_override: Option<String>,
    /// The Hardware CAPT picked (set by CAPT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_name: Option<String>,
    /// `tinkerbell://<namespace>/<hardware>` (set by CAPT).
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
}

/// Hardware selection terms.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HardwareAffinity {
    /// Terms ORed together; a Hardware must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<HardwareAffinityTerm>,
    /// Weighted terms that order the candidates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<WeightedHardwareAffinityTerm>,
}

/// One hardware selection term.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HardwareAffinityTerm {
    /// Labels the Hardware must carry.
    pub label_selector: LabelSelector,
}

/// A weighted hardware selection term.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WeightedHardwareAffinityTerm {
    /// Weight, 1 to 100.
    pub weight: i32,
    /// The term.
    pub hardware_affinity_term: HardwareAffinityTerm,
}

/// How a machine boots into the provisioning OS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BootOptions {
    /// `netboot` or `iso`.
    pub boot_mode: String,
    /// The HookOS ISO URL (iso mode).
    #[serde(default, rename = "isoURL", skip_serializing_if = "Option::is_none")]
    pub iso_url: Option<String>,
}
