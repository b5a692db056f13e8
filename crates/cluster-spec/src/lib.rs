//! EKS Anywhere cluster specs.
//!
//! A cluster spec is a multi-document YAML file of `anywhere.eks.amazonaws.com/v1alpha1`
//! objects: one `Cluster`, its provider's datacenter config and machine configs, and
//! optional `TinkerbellTemplateConfig`, `OIDCConfig`, `AWSIamConfig`, `GitOpsConfig` and
//! `FluxConfig` documents. This crate loads such a file into typed values ([`Spec`]), applies
//! EKS Anywhere's defaults and validates it offline, reporting every error of a spec together.
//!
//! The object types themselves are in `ironbell_model::anywhere`; this crate is what EKS
//! Anywhere's `pkg/cluster` does with them.
//!
//! Not here: release data (`ironbell-release`), rendering Cluster API objects
//! (`ironbell-capi`), anything that touches infrastructure.
//!
//! Start reading at [`Spec::parse`] and the accessors of [`Spec`].

pub mod defaults;
mod error;
mod generate;
mod spec;
pub mod validate;

pub use defaults::CliDefaults;
pub use error::{SpecError, SpecIssue};
pub use generate::{DEFAULT_KUBERNETES_VERSION, generate};
pub use spec::{DatacenterConfig, IgnoredDocument, MachineConfig, Provider, Spec, UnknownProvider};
pub use validate::{Check, CheckResult, Finding, Report, validate};
