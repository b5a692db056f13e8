//! # ironbell-cluster-api
//!
//! Cluster API's core as ironbell controllers on the plane's store: `Cluster`,
//! `MachineDeployment` → `MachineSet` → `Machine` (scale, rolling replacement with
//! `maxSurge`/`maxUnavailable`), the subset of `KubeadmControlPlane` the cluster lifecycle
//! needs (replicas, one-at-a-time rollout when its spec changes) and the kubeadm
//! bootstrap-data step (`KubeadmConfig` → user-data in a Secret) behind the
//! [`NodeBootstrapper`] trait. Every controller is level-triggered and restart-safe: each
//! step is idempotent and every name is deterministic, so a restarted controller never
//! duplicates a Machine. Infrastructure providers (Tinkerbell, a test provider) are other
//! crates: they see a `Machine`'s infrastructure object, cloned here generically from its
//! `<X>Template`.
//!
//! What it is not: no Kubernetes API server (objects live in ironbell's store), no
//! admission webhooks (defaults and validation are the spec layer's), no ClusterClass or
//! topology, no MachineHealthCheck, no etcd or API-server health checks on the control plane
//! (a machine is "ready" when its `v1 Node` is Ready).
//!
//! Start reading at [`kinds`] (the store kinds), then [`rollout`] (the pure rules: what
//! triggers a replacement, the rolling step, deletion order, spare Hardware), then
//! [`controllers`] ([`controllers::Controllers::run`] starts them all) and [`bootstrap`].
//!
//! ## Deletion and finalizers
//!
//! The store deletes at once and does not act on finalizers. Objects with finalizers are
//! therefore deleted in two steps, Kubernetes' way, by [`objects::request_delete`]: it sets
//! `metadata.deletionTimestamp`; the holder of each finalizer does its cleanup and removes
//! it ([`objects::remove_finalizer`]), and whoever removes the last one deletes the object.
//! An object left with a deletion timestamp and no finalizer is deleted by the next
//! controller that waits for it.

pub mod bootstrap;
pub mod bootstrappers;
pub mod controllers;
pub mod kinds;
pub mod objects;
pub mod rollout;

pub use bootstrap::{BootstrapData, BootstrapError, BootstrapInput, NodeBootstrapper, Role};
pub use kinds::{
    Cluster, KubeadmConfig, KubeadmConfigTemplate, KubeadmControlPlane, Machine, MachineDeployment,
    MachineSet, register_kinds,
};

/// Label naming the cluster an object belongs to.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// Label naming the `MachineDeployment` of a `MachineSet` or `Machine`.
pub const DEPLOYMENT_NAME_LABEL: &str = "cluster.x-k8s.io/deployment-name";
/// Label naming the `MachineSet` of a `Machine`.
pub const SET_NAME_LABEL: &str = "cluster.x-k8s.io/set-name";
/// Label marking a control-plane `Machine` (value empty).
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// Label naming the `KubeadmControlPlane` of a control-plane `Machine`.
pub const CONTROL_PLANE_NAME_LABEL: &str = "cluster.x-k8s.io/control-plane-name";
/// Annotation that pauses reconciliation of the object (or, on a `Cluster`, of all its
/// objects).
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";
/// Annotation on a cloned infrastructure object: the template's name.
pub const CLONED_FROM_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cloned-from-name";
/// Annotation on a cloned infrastructure object: the template's `Kind.group`.
pub const CLONED_FROM_GROUPKIND_ANNOTATION: &str = "cluster.x-k8s.io/cloned-from-groupkind";
/// Annotation on a control-plane `Machine`: the hash of the `kubeadmConfigSpec` it was made
/// from (ironbell's; Cluster API compares the configs themselves).
pub const KUBEADM_CONFIG_HASH_ANNOTATION: &str =
    "controlplane.cluster.x-k8s.io/kubeadm-config-hash";
/// Finalizer of a `Machine`: its infrastructure object, bootstrap config and Node go first.
pub const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
/// Finalizer of a `Cluster`: its machines and infrastructure cluster go first.
pub const CLUSTER_FINALIZER: &str = "cluster.cluster.x-k8s.io";
/// `type` of a bootstrap-data Secret.
pub const BOOTSTRAP_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";

/// A controller step failed; retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store operation on the named object failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done, naming the object.
        what: String,
        /// The store's error.
        #[source]
        source: Box<ironbell_store::StoreError>,
    },
    /// An object is not as the controllers need it (a missing reference, a bad bound).
    #[error("{object}: {message}")]
    Invalid {
        /// The object, `Kind NS/NAME`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// The node bootstrapper failed.
    #[error("bootstrap data for KubeadmConfig {object}: {source}")]
    Bootstrap {
        /// The `KubeadmConfig`, `NS/NAME`.
        object: String,
        /// Why.
        #[source]
        source: BootstrapError,
    },
}

impl Error {
    /// A store error while doing `what`.
    pub fn store(what: impl Into<String>) -> impl FnOnce(ironbell_store::StoreError) -> Self {
        let what = what.into();
        move |source| Self::Store {
            what,
            source: Box::new(source),
        }
    }
}
