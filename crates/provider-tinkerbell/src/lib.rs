//! # ironbell-provider-tinkerbell
//!
//! The Tinkerbell infrastructure provider: what the Cluster API Provider Tinkerbell (CAPT
//! v0.6.5) does, as ironbell controllers over the store, plus EKS Anywhere's Tinkerbell
//! `setup-validate` checks.
//!
//! - [`api`]: CAPT's kinds, `TinkerbellCluster`, `TinkerbellMachineTemplate` and
//!   `TinkerbellMachine`, with their status; [`register_kinds`] adds them to a
//!   [`KindRegistry`].
//! - [`selection`]: which Hardware a machine gets (assigned first, then the required terms
//!   OR'd, preferred weights, namespace and name). Pure.
//! - [`cluster`]: the `TinkerbellCluster` controller (endpoint, `ready`).
//! - [`machine`]: the `TinkerbellMachine` controller: gate on the owner Cluster API
//!   `Machine`, take the Hardware (ownership labels, finalizer, user-data), create the
//!   Template and Workflow that provision it, mark it provisioned; on delete power it off
//!   through its BMC and release it.
//! - [`validate`]: the checks of `setup-validate` as the lifecycle's
//!   [`Check`](ironbell_lifecycle::provider::Check)s: hardware per selector, one selector per
//!   Hardware, the Tinkerbell IP, ports, BMCs, and a rival DHCP server on the network.
//!
//! What it is not: the Cluster API core kinds and controllers (`Cluster`, `Machine`...,
//! read here only through small serde views of their stored form, [`capi_view`]), the
//! rendering of the CAPI objects from a spec (`ironbell-capi`), the workflow service that
//! runs a Workflow and creates its `netboot-<workflow>` BMC Job (`ironbell-workflow`), or
//! the BMC service that runs Jobs (`ironbell-bmc`).
//!
//! The store has no finalizer semantics of its own (a delete removes the object at once),
//! so a delete that must wait for this provider goes through [`request_delete`]: it sets
//! `metadata.deletionTimestamp` on an object that has finalizers, and the controller deletes
//! the object when it has removed its own.
//!
//! Start reading at [`machine::MachineReconciler`], then [`selection::select`].

pub mod api;
pub mod capi_view;
pub mod cluster;
pub mod error;
pub mod machine;
pub mod selection;
pub mod template;
pub mod validate;

use ironbell_model::{KindRegistry, RegistryError, Resource};
use ironbell_store::finalizers;
use ironbell_store::{Api, StoreError};

pub use api::{TinkerbellCluster, TinkerbellMachine, TinkerbellMachineTemplate};

/// Label on a Hardware naming the `TinkerbellMachine` that owns it.
pub const OWNER_NAME_LABEL: &str = "v1alpha1.tinkerbell.org/ownerName";
/// Label on a Hardware naming the namespace of the `TinkerbellMachine` that owns it.
pub const OWNER_NAMESPACE_LABEL: &str = "v1alpha1.tinkerbell.org/ownerNamespace";
/// Annotation on a Hardware once its machine is provisioned (`"true"`).
pub const PROVISIONED_ANNOTATION: &str = "v1alpha1.tinkerbell.org/provisioned";
/// Finalizer CAPT v0.6.5 puts on a `TinkerbellMachine` and on the Hardware it owns.
pub const MACHINE_FINALIZER: &str = "tinkerbellmachine.infrastructure.cluster.x-k8s.io";
/// The placeholder in bootstrap data replaced by the machine's provider ID.
pub const PROVIDER_ID_PLACEHOLDER: &str = "PROVIDER_ID";
/// The condition a `TinkerbellMachine` reports its provisioning in.
pub const CONDITION_PROVISIONED: &str = "Provisioned";
/// Label Cluster API puts on objects of a cluster, naming it.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// Annotation that pauses reconciliation of a Cluster API object.
pub const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

/// Adds this provider's kinds to `registry`.
pub fn register_kinds(registry: &mut KindRegistry) -> Result<(), RegistryError> {
    registry
        .register::<TinkerbellCluster>()?
        .register::<TinkerbellMachineTemplate>()?
        .register::<TinkerbellMachine>()?;
    Ok(())
}

/// Deletes `namespace/name` the way a Kubernetes API server does when finalizers are
/// involved ([`ironbell_store::finalizers::request_delete`]): an object with finalizers gets
/// `metadata.deletionTimestamp` (its controller finishes the job), one without is deleted
/// now. Returns whether it is gone already.
pub async fn request_delete<K: Resource>(
    api: &Api<K>,
    namespace: &str,
    name: &str,
) -> Result<bool, StoreError> {
    let types = ironbell_model::TypeKey::of::<K>();
    let deletion = finalizers::request_delete(api.store(), &types, namespace, name).await?;
    Ok(deletion == finalizers::Deletion::Gone)
}

/// Whether `obj` carries `finalizer`.
pub(crate) fn has_finalizer<K: Resource>(obj: &K, finalizer: &str) -> bool {
    finalizers::has_finalizer(obj.metadata(), finalizer)
}

/// Adds `finalizer` to `obj` (once).
pub(crate) fn add_finalizer<K: Resource>(obj: &mut K, finalizer: &str) {
    finalizers::add_finalizer(obj.metadata_mut(), finalizer);
}

/// Removes `finalizer` from `obj` (an empty list becomes none).
pub(crate) fn remove_finalizer<K: Resource>(obj: &mut K, finalizer: &str) {
    let meta = obj.metadata_mut();
    if let Some(list) = meta.finalizers.as_mut() {
        list.retain(|x| x != finalizer);
        if list.is_empty() {
            meta.finalizers = None;
        }
    }
}
