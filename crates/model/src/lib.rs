//! # ironbell-model
//!
//! The objects every ironbell service reads and writes, as serde types: Tinkerbell's
//! `Hardware`, `Template` and `Workflow`; Rufio's `Machine`, `Job` and `Task`; the core `v1`
//! `Secret`; and EKS Anywhere's `Cluster` with every provider's datacenter and machine
//! configs, the Tinkerbell template config, the identity providers and the GitOps configs. Field names, nesting and enums follow the upstream CRDs and Go types exactly, so
//! the YAML users already have parses unchanged; unknown fields are errors that name their
//! path.
//!
//! This crate does no I/O: it parses and prints text and converts between typed objects and
//! [`DynamicObject`], the untyped form the store keeps.
//!
//! Start reading at [`Resource`] (what every kind implements), then [`KindRegistry`] (the open
//! set of kinds) and [`document`] (how YAML streams become objects), then [`names`] (the
//! name rules) and [`values`] (MAC and IP addresses, netmasks, times), then a kind such
//! as [`tinkerbell::Hardware`].

pub mod agent_token;
pub mod anywhere;
pub mod bmc;
pub mod columns;
pub mod corev1;
pub mod document;
mod dynamic;
mod error_path;
pub mod jsonpath;
mod meta;
pub mod names;
mod registry;
mod resource;
pub mod selector;
pub mod template_def;
pub mod tinkerbell;
pub mod values;

pub use document::{
    MAX_INPUT_BYTES, MAX_OBJECT_BYTES, Object, parse_documents, read_input, to_yaml_documents,
};
pub use dynamic::{Body, ConvertError, DynamicObject};
pub use meta::{Condition, Labels, NamespacedRef, ObjectMeta, OwnerReference};
pub use names::{NameError, validate_name, validate_namespace};
pub use registry::{KindInfo, KindRegistry, RegistryError, ValidateError};
pub use resource::{ApiVersion, Kind, Resource, TypeKey};
pub use values::{MacAddr, Netmask, Timestamp, ValueError};
