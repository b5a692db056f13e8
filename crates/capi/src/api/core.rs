//! Core Kubernetes kinds and Cluster API add-ons a provider renders besides its own:
//! [`GenericSecret`] (a `v1` `Secret` with `data`, `stringData` and `type`), [`ConfigMap`] and
//! `addons.cluster.x-k8s.io/v1beta1` [`ClusterResourceSet`] (objects Cluster API applies to
//! the workload cluster once it is up, such as vSphere's cloud provider).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LabelSelector, ObjectMeta, StringMap};

/// `apiVersion` of `ClusterResourceSet`.
pub const ADDONS_API_VERSION: &str = "addons.cluster.x-k8s.io/v1beta1";

/// The `type` of a `Secret` a `ClusterResourceSet` applies.
pub const RESOURCE_SET_SECRET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";

/// A `v1` `Secret`. A `data` value that is `None` prints as `null`, as EKS Anywhere's
/// templates print an empty credential. It carries credentials: `Debug` shows its keys, never
/// its values.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GenericSecret {
    /// `v1`.
    pub api_version: String,
    /// `Secret`.
    pub kind: String,
    /// Name, namespace and labels.
    pub metadata: ObjectMeta,
    /// Values, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, Option<String>>>,
    /// Values in clear text (the API server encodes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_data: Option<StringMap>,
    /// Secret type, e.g. `addons.cluster.x-k8s.io/resource-set`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

impl std::fmt::Debug for GenericSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericSecret")
            .field("metadata", &self.metadata)
            .field(
                "data",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field(
                "string_data",
                &self
                    .string_data
                    .as_ref()
                    .map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("type", &self.type_)
            .finish_non_exhaustive()
    }
}

impl GenericSecret {
    /// A secret of base64-encoded values: each value is encoded, an empty one is `null`.
    pub fn encoded(metadata: ObjectMeta, values: &[(&str, &str)]) -> Self {
        use base64::Engine as _;
        let data = values
            .iter()
            .map(|(k, v)| {
                let encoded =
                    (!v.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(v));
                (k.to_string(), encoded)
            })
            .collect();
        Self {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata,
            data: Some(data),
            string_data: None,
            type_: None,
        }
    }

    /// A secret a `ClusterResourceSet` applies: one `stringData` key holding a manifest.
    pub fn resource_set(metadata: ObjectMeta, key: &str, manifest: String) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata,
            data: None,
            string_data: Some([(key.to_string(), manifest)].into_iter().collect()),
            type_: Some(RESOURCE_SET_SECRET_TYPE.into()),
        }
    }
}

/// A `v1` `ConfigMap`.
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
    /// A `ConfigMap` with the given metadata and values.
    pub fn new(metadata: ObjectMeta, data: StringMap) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            metadata,
            data,
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
    /// Name, namespace and labels.
    pub metadata: ObjectMeta,
    /// What to apply where.
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
    /// `ApplyOnce` or `Reconcile`.
    pub strategy: String,
    /// The clusters it applies to.
    pub cluster_selector: LabelSelector,
    /// The secrets and config maps applied.
    pub resources: Vec<ResourceRef>,
}

/// A secret or config map of a [`ClusterResourceSet`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// `Secret` or `ConfigMap`.
    pub kind: String,
    /// Its name, in the set's namespace.
    pub name: String,
}
