//! The few fields of Cluster API's `Machine` and `Cluster` this provider reads, as small
//! serde views of their stored form ([`DynamicObject`]).
//!
//! The Cluster API kinds themselves belong to the crate that implements their controllers;
//! a view reads only what CAPT reads and ignores every other field, so it keeps working
//! whatever else those types carry.

use ironbell_model::{DynamicObject, ObjectMeta, OwnerReference, TypeKey};
use ironbell_store::{SharedStore, StoreError};
use serde::Deserialize;

use crate::PAUSED_ANNOTATION;

/// `apiVersion` of the Cluster API core kinds.
pub const CLUSTER_API_VERSION: &str = "cluster.x-k8s.io/v1beta1";

/// A view could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored object does not have the shape Cluster API gives it.
    #[error("{kind} {namespace}/{name}: {message}")]
    Shape {
        /// Kind of the object.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What did not read.
        message: String,
    },
}

/// What CAPT reads of a Cluster API `Machine`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineView {
    /// The Machine's metadata.
    pub metadata: ObjectMeta,
    /// `spec.bootstrap.dataSecretName`: the Secret holding the bootstrap data.
    pub data_secret_name: Option<String>,
    /// `spec.version`: the Kubernetes version.
    pub version: Option<String>,
    /// `spec.clusterName`, or the `cluster.x-k8s.io/cluster-name` label.
    pub cluster_name: Option<String>,
}

/// What CAPT reads of a Cluster API `Cluster`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// The Cluster's metadata.
    pub metadata: ObjectMeta,
    /// `spec.paused`, or the `cluster.x-k8s.io/paused` annotation.
    pub paused: bool,
    /// `spec.controlPlaneEndpoint` host and port.
    pub endpoint: Option<(String, i32)>,
    /// `spec.infrastructureRef.name`.
    pub infrastructure_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MachineSpec {
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default)]
    bootstrap: Option<Bootstrap>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Bootstrap {
    #[serde(default)]
    data_secret_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ClusterSpec {
    #[serde(default)]
    paused: Option<bool>,
    #[serde(default)]
    control_plane_endpoint: Option<Endpoint>,
    #[serde(default)]
    infrastructure_ref: Option<Reference>,
}

#[derive(Deserialize, Default)]
struct Endpoint {
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: i32,
}

#[derive(Deserialize, Default)]
struct Reference {
    #[serde(default)]
    name: String,
}

fn spec_of<T: Default + serde::de::DeserializeOwned>(
    obj: &DynamicObject,
    kind: &'static str,
) -> Result<T, ViewError> {
    match obj.field("spec") {
        None => Ok(T::default()),
        Some(raw) => serde_json::from_str(raw.get()).map_err(|e| ViewError::Shape {
            kind,
            namespace: obj.namespace().to_string(),
            name: obj.name().to_string(),
            message: format!("spec: {e}"),
        }),
    }
}

/// Reads `kind` `namespace/name` of Cluster API's core group; `None` when it does not exist.
async fn get(
    store: &SharedStore,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<DynamicObject>, StoreError> {
    match store
        .get(&TypeKey::new(CLUSTER_API_VERSION, kind), namespace, name)
        .await
    {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl MachineView {
    /// Reads a stored `Machine`.
    pub fn from_object(obj: &DynamicObject) -> Result<Self, ViewError> {
        let spec: MachineSpec = spec_of(obj, "Machine")?;
        let cluster_name = spec.cluster_name.filter(|n| !n.is_empty()).or_else(|| {
            obj.metadata
                .label(crate::CLUSTER_NAME_LABEL)
                .map(String::from)
        });
        Ok(Self {
            metadata: obj.metadata.clone(),
            data_secret_name: spec
                .bootstrap
                .and_then(|b| b.data_secret_name)
                .filter(|n| !n.is_empty()),
            version: spec.version.filter(|v| !v.is_empty()),
            cluster_name,
        })
    }

    /// The `Machine` `namespace/name`, if it exists.
    pub async fn get(
        store: &SharedStore,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Self>, ViewError> {
        match get(store, "Machine", namespace, name).await? {
            Some(o) => Ok(Some(Self::from_object(&o)?)),
            None => Ok(None),
        }
    }
}

impl ClusterView {
    /// Reads a stored `Cluster`.
    pub fn from_object(obj: &DynamicObject) -> Result<Self, ViewError> {
        let spec: ClusterSpec = spec_of(obj, "Cluster")?;
        let annotated = obj
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(PAUSED_ANNOTATION));
        Ok(Self {
            metadata: obj.metadata.clone(),
            paused: spec.paused.unwrap_or(false) || annotated,
            endpoint: spec
                .control_plane_endpoint
                .filter(|e| !e.host.is_empty())
                .map(|e| (e.host, e.port)),
            infrastructure_name: spec
                .infrastructure_ref
                .map(|r| r.name)
                .filter(|n| !n.is_empty()),
        })
    }

    /// The `Cluster` `namespace/name`, if it exists.
    pub async fn get(
        store: &SharedStore,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Self>, ViewError> {
        match get(store, "Cluster", namespace, name).await? {
            Some(o) => Ok(Some(Self::from_object(&o)?)),
            None => Ok(None),
        }
    }
}

/// The owner reference of `meta` of Cluster API kind `kind` (`Machine`, `Cluster`).
pub fn owner_of_kind<'a>(meta: &'a ObjectMeta, kind: &str) -> Option<&'a OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| {
        r.kind == kind
            && r.api_version
                .split('/')
                .next()
                .is_some_and(|g| g == "cluster.x-k8s.io")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_read_what_capt_reads_and_ignore_the_rest() {
        let machine = DynamicObject::from_json(
            r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Machine",
            "metadata":{"name":"m1","namespace":"eksa-system","labels":{"cluster.x-k8s.io/cluster-name":"c1"}},
            "spec":{"bootstrap":{"dataSecretName":"m1-bootstrap","configRef":{"kind":"KubeadmConfig"}},
                    "version":"v1.29.1","infrastructureRef":{"name":"tm1"},"anything":[1,2]}}"#,
        )
        .expect("json");
        let m = MachineView::from_object(&machine).expect("view");
        assert_eq!(m.data_secret_name.as_deref(), Some("m1-bootstrap"));
        assert_eq!(m.version.as_deref(), Some("v1.29.1"));
        assert_eq!(m.cluster_name.as_deref(), Some("c1"));

        let cluster = DynamicObject::from_json(
            r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Cluster",
            "metadata":{"name":"c1","namespace":"eksa-system","annotations":{"cluster.x-k8s.io/paused":""}},
            "spec":{"controlPlaneEndpoint":{"host":"10.0.0.10","port":6443},
                    "infrastructureRef":{"kind":"TinkerbellCluster","name":"c1"}}}"#,
        )
        .expect("json");
        let c = ClusterView::from_object(&cluster).expect("view");
        assert!(c.paused);
        assert_eq!(c.endpoint, Some(("10.0.0.10".to_string(), 6443)));
        assert_eq!(c.infrastructure_name.as_deref(), Some("c1"));

        let bad = DynamicObject::from_json(
            r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Machine",
            "metadata":{"name":"m2","namespace":"ns"},"spec":{"version":7}}"#,
        )
        .expect("json");
        let err = MachineView::from_object(&bad).expect_err("version is a string");
        assert!(err.to_string().starts_with("Machine ns/m2: spec:"), "{err}");
    }
}
