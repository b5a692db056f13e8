//! Cluster API manifests from an EKS Anywhere cluster spec.
//!
//! Pure functions from (validated spec, versions bundle, template names, current objects when
//! upgrading) to the Cluster API objects that build the cluster: `Cluster`,
//! `KubeadmControlPlane`, `KubeadmConfigTemplate`, `MachineDeployment`, and each provider's
//! infrastructure kinds. The output is what EKS Anywhere renders for the same inputs, compared
//! as data by the golden tests (`tests/golden.rs`) against EKS Anywhere's own expected files.
//!
//! Where to start: [`tinkerbell::render`] (the bare-metal provider), which assembles the
//! typed objects of [`api`] from the provider-neutral pieces in [`kubeadm`]. The output is a
//! [`Manifests`] that prints YAML documents.
//!
//! The objects are typed builders, not text templates: EKS Anywhere renders Go text
//! templates, and a typed object cannot produce mis-indented YAML or an unquoted scalar that
//! changes type. The trade-off is that text-only quirks of EKS Anywhere's output (comments,
//! key order, `<no value>` in a field that is otherwise typed) are matched as data only.
//!
//! Not here: loading or validating the spec (`ironbell-cluster-spec`), resolving release data
//! (`ironbell-release`), applying the objects or reconciling them (the lifecycle).

pub mod api;
pub mod kubeadm;
pub mod tinkerbell;
pub mod versions;

use serde::Serialize;

use api::cluster::{Cluster, MachineDeployment};
use api::etcdadm::EtcdadmCluster;
use api::kubeadm::{KubeadmConfigTemplate, KubeadmControlPlane};
use api::tinkerbell::{TinkerbellCluster, TinkerbellMachineTemplate};

/// What Go's `text/template` prints for a missing value; EKS Anywhere's goldens carry it
/// where a template name was not given.
pub const NO_VALUE: &str = "<no value>";

/// One rendered object.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Object {
    /// A Cluster API `Cluster`.
    Cluster(Box<Cluster>),
    /// A `KubeadmControlPlane`.
    KubeadmControlPlane(Box<KubeadmControlPlane>),
    /// A `KubeadmConfigTemplate`.
    KubeadmConfigTemplate(Box<KubeadmConfigTemplate>),
    /// A `MachineDeployment`.
    MachineDeployment(Box<MachineDeployment>),
    /// An `EtcdadmCluster`.
    EtcdadmCluster(Box<EtcdadmCluster>),
    /// A `TinkerbellCluster`.
    TinkerbellCluster(Box<TinkerbellCluster>),
    /// A `TinkerbellMachineTemplate`.
    TinkerbellMachineTemplate(Box<TinkerbellMachineTemplate>),
    /// A Kubernetes `Secret` (registry credentials).
    Secret(Box<api::Secret>),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> &str {
        match self {
            Self::Cluster(o) => &o.kind,
            Self::KubeadmControlPlane(o) => &o.kind,
            Self::KubeadmConfigTemplate(o) => &o.kind,
            Self::MachineDeployment(o) => &o.kind,
            Self::EtcdadmCluster(o) => &o.kind,
            Self::TinkerbellCluster(o) => &o.kind,
            Self::TinkerbellMachineTemplate(o) => &o.kind,
            Self::Secret(o) => &o.kind,
        }
    }
}

/// The rendered objects of a cluster: the control-plane document and the workers document,
/// in the order EKS Anywhere writes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    /// `Cluster`, `KubeadmControlPlane`, etcd objects, machine templates, the provider's
    /// cluster object and secrets.
    pub control_plane: Vec<Object>,
    /// Per worker node group: `MachineDeployment`, machine template, `KubeadmConfigTemplate`.
    pub workers: Vec<Object>,
}

/// Objects as a multi-document YAML stream (`---` between documents).
pub fn to_yaml_documents(objects: &[Object]) -> Result<String, serde_yaml_ng::Error> {
    ironbell_model::to_yaml_documents(objects)
}

impl Manifests {
    /// The control-plane document as YAML.
    pub fn control_plane_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        to_yaml_documents(&self.control_plane)
    }

    /// The workers document as YAML.
    pub fn workers_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        to_yaml_documents(&self.workers)
    }

    /// Both documents as one YAML stream, control plane first.
    pub fn to_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        let all: Vec<Object> = self
            .control_plane
            .iter()
            .chain(&self.workers)
            .cloned()
            .collect();
        to_yaml_documents(&all)
    }

    /// Drop every object of a kind (EKS Anywhere omits the immutable
    /// `TinkerbellMachineTemplate` from a scale-only upgrade).
    pub fn without_kind(mut self, kind: &str) -> Self {
        self.control_plane.retain(|o| o.kind() != kind);
        self.workers.retain(|o| o.kind() != kind);
        self
    }
}
