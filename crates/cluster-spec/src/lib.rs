//! EKS Anywhere cluster specs: loading, defaults, offline validation and generation.
//!
//! A cluster spec is a multi-document YAML file of `anywhere.eks.amazonaws.com/v1alpha1`
//! objects: one `Cluster`, its provider's datacenter config and machine configs, and
//! optional `TinkerbellTemplateConfig`, `OIDCConfig`, `AWSIamConfig`, `GitOpsConfig`,
//! `FluxConfig` and `SnowIPPool` documents, for any of the six providers (Tinkerbell, Docker,
//! vSphere, CloudStack, Nutanix, Snow). This crate is what EKS Anywhere v0.24.6's
//! `pkg/cluster` and its validations do with them:
//!
//! - [`Spec::parse`] / [`Spec::load`]: the file into a [`Spec`] with every reference
//!   resolved; all problems of a file together, each naming the document and field.
//! - [`defaults`]: EKS Anywhere's defaults, in the layers it applies them
//!   ([`Spec::with_defaults`] applies all).
//! - [`validate()`]: every offline rule, as named checks of a [`Report`]; with a parsed
//!   `hardware.csv` also Tinkerbell's hardware rules.
//! - [`generate()`]: a starting spec per provider, as `eksctl anywhere generate
//!   clusterconfig` prints.
//!
//! The object types themselves are in `ironbell_model::anywhere`. Not here: release data
//! (`ironbell-release`), rendering Cluster API objects (`ironbell-capi`), anything that
//! touches infrastructure (whether an address answers, what vCenter says).
//!
//! Start reading at [`Spec::parse`] and the accessors of [`Spec`], then [`validate()`].

pub mod defaults;
mod error;
mod generate;
mod spec;
pub mod validate;

pub use defaults::CliDefaults;
pub use error::{SpecError, SpecIssue};
pub use generate::{DEFAULT_KUBERNETES_VERSION, generate};
pub use spec::{
    DEFAULT_CONTROL_PLANE_PORT, DatacenterConfig, IgnoredDocument, MachineConfig, Provider, Spec,
    UnknownProvider,
};
pub use validate::{Check, CheckResult, Finding, Report, validate};
