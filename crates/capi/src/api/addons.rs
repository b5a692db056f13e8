//! Objects that carry add-ons into a workload cluster: a `v1` [`ConfigMap`], a `v1`
//! [`StringDataSecret`] (a `Secret` written with `stringData` and a `type`) and the
//! `addons.cluster.x-k8s.io/v1beta1` [`ClusterResourceSet`] that applies them to the
//! clusters it selects.

use serde::{Deserialize, Serialize};

use super::{LabelSelector, ObjectMeta, StringMap};

/// `apiVersion` of `ClusterResourceSet`.
pub const ADDONS_API_VERSION: &str = "addons.cluster.x-k8s.io/v1beta1";

/// The `type` of a secret a `ClusterResourceSet` applies.
pub const RESOURCE_SET_SECRET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";

/// A Kubernetes `v1` `ConfigMap`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// `v1`.
    pub api_version: String,
    /// `ConfigMap`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// Values.
    pub data: StringMap,
}

impl ConfigMap {
    /// A `ConfigMap` with the given metadata and data.
    pub fn new(metadata: ObjectMeta, data: StringMap) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            metadata,
            data,
        }
    }
}

/// A Kubernetes `v1` `Secret` written with plain-text `stringData`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StringDataSecret {
    /// `v1`.
    pub api_version: String,
    /// `Secret`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// Values, as text.
    pub string_data: StringMap,
    /// The secret's type.
    #[serde(rename = "type")]
    pub type_: String,
}

impl std::fmt::Debug for StringDataSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StringDataSecret")
            .field("metadata", &self.metadata)
            .field("keys", &self.string_data.keys().collect::<Vec<_>>())
            .field("type", &self.type_)
            .finish_non_exhaustive()
    }
}

impl StringDataSecret {
    /// A `Secret` of the given type with the given metadata and values.
    pub fn new(metadata: ObjectMeta, string_data: StringMap, type_: &str) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata,
            string_data,
            type_: type_.into(),
        }
    }
}

/// A `ClusterResourceSet`: objects applied to every cluster its selector matches.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResourceSet {
    /// `addons.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `ClusterResourceSet`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// Selector, resources and strategy.
    pub spec: ClusterResourceSetSpec,
}

impl ClusterResourceSet {
    /// A `ClusterResourceSet` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: ClusterResourceSetSpec) -> Self {
        Self {
            api_version: ADDONS_API_VERSION.into(),
            kind: "ClusterResourceSet".into(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`ClusterResourceSet`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResourceSetSpec {
    /// The clusters the resources are applied to.
    pub cluster_selector: LabelSelector,
    /// The resources, `ConfigMap`s and `Secret`s in the set's namespace.
    pub resources: Vec<ResourceRef>,
    /// `ApplyOnce` or `Reconcile`.
    pub strategy: String,
}

/// A `ConfigMap` or `Secret` of a [`ClusterResourceSet`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRef {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Name.
    pub name: String,
}
