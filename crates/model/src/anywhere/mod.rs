//! EKS Anywhere's `anywhere.eks.amazonaws.com/v1alpha1` kinds that a cluster spec is made
//! of: [`Cluster`]; each provider's datacenter and machine configs — Tinkerbell
//! ([`TinkerbellDatacenterConfig`], [`TinkerbellMachineConfig`], [`TinkerbellTemplateConfig`]),
//! Docker ([`DockerDatacenterConfig`]), vSphere ([`VSphereDatacenterConfig`],
//! [`VSphereMachineConfig`]), CloudStack ([`CloudStackDatacenterConfig`],
//! [`CloudStackMachineConfig`]), Nutanix ([`NutanixDatacenterConfig`],
//! [`NutanixMachineConfig`]) and Snow ([`SnowDatacenterConfig`], [`SnowMachineConfig`],
//! [`SnowIPPool`]); the identity providers [`OIDCConfig`] and [`AWSIamConfig`]; and GitOps
//! ([`FluxConfig`], the older [`GitOpsConfig`]).
//!
//! Field names, nesting, types and enum values follow the EKS Anywhere v0.24.6 Go types and
//! CRDs, so the `NAME.yaml` a user already has parses unchanged; unknown fields are errors
//! that name their path. Fields the API marks required are plain values (missing ones are
//! errors); everything optional is an `Option` so that what was written is what is printed.
//! In the other providers' kinds, every field is an `Option` even where Go marks it
//! required: EKS Anywhere's decoder accepts it missing and its validation reports it, so a
//! spec that lacks it loads and `ironbell-cluster-spec`'s validation names the field.
//!
//! This module holds types only: no defaulting, no validation, no rendering (those are in
//! `ironbell-cluster-spec`). The workflow template inside a [`TinkerbellTemplateConfig`] is
//! [`crate::template_def::TemplateDefinition`].
//!
//! Start reading at [`Cluster`] and [`ClusterSpec`]; the per-machine settings are in
//! [`TinkerbellMachineConfigSpec`].

mod awsiam;
mod cloudstack;
mod cluster;
mod docker;
mod gitops;
mod machine;
mod nutanix;
mod oidc;
mod snow;
mod tinkerbell;
mod vsphere;

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

pub use awsiam::*;
pub use cloudstack::*;
pub use cluster::*;
pub use docker::*;
pub use gitops::*;
pub use machine::*;
pub use nutanix::*;
pub use oidc::*;
pub use snow::*;
pub use tinkerbell::*;
pub use vsphere::*;

/// The `apiVersion` of every kind in this module.
pub const API_VERSION: &str = "anywhere.eks.amazonaws.com/v1alpha1";

/// A Go `metav1.Duration` as written in YAML, e.g. `10m0s` or `3s`.
pub type Duration = String;

/// Defines a top-level kind of this API group: the struct with `apiVersion`, `kind`,
/// `metadata`, `spec` and an optional `status`, and its [`crate::Resource`] implementation.
macro_rules! eksa_kind {
    (
        $(#[$doc:meta])*
        $ty:ident {
            spec: $spec:ty,
            status: $status:ty,
            plural: $plural:literal,
            aliases: [$($alias:literal),* $(,)?] $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $ty {
            /// `apiVersion`: always `anywhere.eks.amazonaws.com/v1alpha1`.
            #[serde(default)]
            pub api_version: crate::ApiVersion<Self>,
            #[doc = concat!("`kind`: always `", stringify!($ty), "`.")]
            #[serde(default)]
            pub kind: crate::Kind<Self>,
            /// Standard metadata.
            #[serde(default)]
            pub metadata: crate::ObjectMeta,
            /// The desired settings.
            #[serde(default)]
            pub spec: $spec,
            /// The observed state, as the controller reports it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
        }
        crate::impl_resource!(
            $ty,
            $crate::anywhere::API_VERSION,
            stringify!($ty),
            $plural,
            aliases = [$($alias),*]
        );
    };
}
pub(crate) use eksa_kind;

/// The status of a kind whose API defines no status fields.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EmptyStatus {}

/// The status a provider's controller writes after checking a datacenter or machine config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecValidStatus {
    /// Whether the spec passed the controller's checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_valid: Option<bool>,
    /// Generation of the spec the status describes (datacenter configs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Why the spec is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
}

/// A reference to another object of the same spec by kind and name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ref {
    /// Kind of the referenced object, e.g. `TinkerbellMachineConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Ref {
    /// A reference from its kind and name.
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: Some(kind.into()),
            name: Some(name.into()),
        }
    }

    /// The referenced kind, or `""`.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or_default()
    }

    /// The referenced name, or `""`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// A value that is either a whole number or a string (Kubernetes' `IntOrString`), kept in the
/// form it was written.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum IntOrString {
    /// Written as a number, e.g. `maxUnhealthy: 2`.
    Int(i64),
    /// Written as a string, e.g. `maxUnhealthy: "40%"`.
    String(String),
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(i) => write!(f, "{i}"),
            Self::String(s) => f.write_str(s),
        }
    }
}

/// A Kubernetes minor version such as `1.30`, always kept as a string.
///
/// EKS Anywhere quotes an unquoted `kubernetesVersion: 1.30` before parsing (YAML would read
/// it as the number 1.3); this type does the same on the parsed number, printing it with two
/// decimals, so `1.20` stays `"1.20"`.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct KubernetesVersion(pub String);

impl KubernetesVersion {
    /// The version text, e.g. `1.30`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for KubernetesVersion {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl<'de> Deserialize<'de> for KubernetesVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KubernetesVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes version such as \"1.30\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KubernetesVersion(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(KubernetesVersion(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(KubernetesVersion(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Minor versions have two digits since 1.10: 1.2 was written `1.20`.
                let two = format!("{v:.2}");
                if two.parse::<f64>().is_ok_and(|p| p == v) {
                    Ok(KubernetesVersion(two))
                } else {
                    Ok(KubernetesVersion(v.to_string()))
                }
            }
        }
        d.deserialize_any(V)
    }
}
