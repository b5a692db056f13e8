//! Cluster API object types, as serde structs that print the YAML Cluster API reads.
//!
//! One module per API group: [`cluster`] (`cluster.x-k8s.io/v1beta1`: `Cluster`,
//! `MachineDeployment`), [`kubeadm`] (`controlplane.cluster.x-k8s.io` `KubeadmControlPlane`
//! and `bootstrap.cluster.x-k8s.io` `KubeadmConfigTemplate` with the shared
//! [`kubeadm::KubeadmConfigSpec`], including the Bottlerocket fields of EKS Anywhere's fork),
//! [`etcdadm`] (`EtcdadmCluster`), [`tinkerbell`] (CAPT's `TinkerbellCluster` and
//! `TinkerbellMachineTemplate`), [`docker`] (CAPD's `DockerCluster` and
//! `DockerMachineTemplate`), [`cloudstack`] (CAPC's `CloudStackCluster` and
//! `CloudStackMachineTemplate`), [`nutanix`] (CAPX's `NutanixCluster` and
//! `NutanixMachineTemplate`), [`snow`] (CAPAS's `AWSSnowCluster`, `AWSSnowMachineTemplate`,
//! `AWSSnowIPPool`), [`vsphere`] (CAPV's `VSphereCluster`, `VSphereMachineTemplate`,
//! `VSphereFailureDomain`, `VSphereDeploymentZone`) and [`core`] (`ConfigMap`, a general
//! `Secret` and the `ClusterResourceSet` that carries them to a workload cluster). Every
//! optional field is skipped when unset, so a rendered object holds only what a provider put
//! in it. Provider-specific kinds live in their own module; the common ones carry nothing
//! provider-specific.
//!
//! Field names and nesting follow the Go types of Cluster API v1beta1, EKS Anywhere's
//! fork of the kubeadm bootstrap types, etcdadm-controller and CAPT v0.6.5. Only the fields
//! EKS Anywhere renders are modelled.

pub mod cloudstack;
pub mod cluster;
pub mod core;
pub mod docker;
pub mod etcdadm;
pub mod kubeadm;
pub mod nutanix;
pub mod snow;
pub mod tinkerbell;
pub mod vsphere;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use ironbell_model::ObjectMeta;

/// The namespace every Cluster API object of an EKS Anywhere cluster lives in.
pub const EKSA_SYSTEM_NAMESPACE: &str = "eksa-system";

/// `apiVersion` of `Cluster` and `MachineDeployment`.
pub const CLUSTER_API_VERSION: &str = "cluster.x-k8s.io/v1beta1";
/// `apiVersion` of `KubeadmControlPlane`.
pub const CONTROL_PLANE_API_VERSION: &str = "controlplane.cluster.x-k8s.io/v1beta1";
/// `apiVersion` of `KubeadmConfigTemplate`.
pub const BOOTSTRAP_API_VERSION: &str = "bootstrap.cluster.x-k8s.io/v1beta1";
/// `apiVersion` of the infrastructure kinds (`TinkerbellCluster`, ...).
pub const INFRASTRUCTURE_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";
/// `apiVersion` of `EtcdadmCluster`.
pub const ETCDADM_API_VERSION: &str = "etcdcluster.cluster.x-k8s.io/v1beta1";

/// A string map (labels, annotations, extra arguments), printed sorted by key.
pub type StringMap = BTreeMap<String, String>;

/// A reference to another object (`corev1.ObjectReference` as Cluster API uses it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// API version of the referent.
    pub api_version: String,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent, when it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ObjectReference {
    /// A reference by API version, kind and name.
    pub fn new(api_version: &str, kind: &str, name: impl Into<String>) -> Self {
        Self {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.into(),
            namespace: None,
        }
    }

    /// The same reference with a namespace.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }
}

/// Metadata with a name and namespace (and nothing else).
pub fn meta(name: impl Into<String>, namespace: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.to_string()),
        ..ObjectMeta::default()
    }
}

/// A Kubernetes label selector.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must all match; `None` prints `null` (a nil map), `Some` of an empty map
    /// prints `{}`.
    pub match_labels: Option<StringMap>,
}

/// A node taint (`corev1.Taint`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value; printed as `null` when there is none, as EKS Anywhere's templates do.
    #[serde(default)]
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
    /// When the taint was added (only for `NoExecute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

/// A Kubernetes `v1` `Secret` (base64 `data`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `v1`.
    pub api_version: String,
    /// `Secret`.
    pub kind: String,
    /// Name, namespace and labels.
    pub metadata: ObjectMeta,
    /// Values, base64-encoded.
    pub data: StringMap,
}
