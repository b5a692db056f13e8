//! `Cluster`: phase, `infrastructureReady` (the infrastructure cluster's `status.ready`),
//! `spec.controlPlaneEndpoint` from the infrastructure cluster, `controlPlaneReady` and the
//! `ControlPlaneInitialized` condition from the `KubeadmControlPlane`; the infrastructure
//! cluster and the control plane get an owner reference to the `Cluster` and its
//! cluster-name label (see `Reconciler::adopt`).
//!
//! Deletion, behind the finalizer `cluster.cluster.x-k8s.io`: the cluster's
//! `MachineDeployment`s, `MachineSet`s, `KubeadmControlPlane` and `Machine`s are deleted; once
//! no Machine is left (each waits for its infrastructure object), the infrastructure cluster
//! is deleted and waited for, then the finalizer is dropped.

use ironbell_capi::api::ObjectReference;
use ironbell_capi::api::cluster::ApiEndpoint;
use ironbell_controller::{Next, Reconcile};
use ironbell_model::Condition;
use ironbell_store::reflector::ObjectKey;
use serde_json::Value;
use tracing::info;

use super::Ctx;
use crate::kinds::{Cluster, KubeadmControlPlane, Machine, MachineDeployment, MachineSet};
use crate::objects::{self, is_paused};
use crate::{CLUSTER_FINALIZER, CLUSTER_NAME_LABEL, Error};

/// The condition set once the first control-plane node is up.
pub const CONTROL_PLANE_INITIALIZED: &str = "ControlPlaneInitialized";

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
}

/// Whether the cluster's control plane has been initialized.
pub(crate) fn initialized(c: &Cluster) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|x| x.type_ == CONTROL_PLANE_INITIALIZED && x.status == "True")
    })
}

#[async_trait::async_trait]
impl Reconcile<Cluster> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let Some(c) = self.ctx.get::<Cluster>(ns, name).await? else {
            return Ok(Next::Done);
        };
        if is_paused(Some(&c), &c.metadata) {
            return Ok(Next::Done);
        }
        if c.metadata.deletion_timestamp.is_some() {
            return self.delete(&c).await;
        }
        objects::ensure_finalizer(&self.ctx.store, &c, CLUSTER_FINALIZER).await?;
        for r in [&c.spec.infrastructure_ref, &c.spec.control_plane_ref]
            .into_iter()
            .flatten()
        {
            self.adopt(&c, r).await?;
        }
        let mut status = c.status.clone().unwrap_or_default();
        let mut endpoint = None;
        if let Some(r) = &c.spec.infrastructure_ref {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            match self
                .ctx
                .store
                .get(&objects::type_key(r), rns, &r.name)
                .await
            {
                Ok(infra) => {
                    let body = objects::body(&infra);
                    status.infrastructure_ready = objects::path(&body, "status.ready")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    endpoint = objects::path(&body, "spec.controlPlaneEndpoint")
                        .and_then(|v| serde_json::from_value::<ApiEndpoint>(v.clone()).ok())
                        .filter(|e| !e.host.is_empty());
                }
                Err(e) if e.is_not_found() => status.infrastructure_ready = false,
                Err(e) => {
                    return Err(Error::store(format!("reading {} {rns}/{}", r.kind, r.name))(e));
                }
            }
        }
        if let Some(r) = c
            .spec
            .control_plane_ref
            .as_ref()
            .filter(|r| r.kind == "KubeadmControlPlane")
        {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            let kcp = self.ctx.get::<KubeadmControlPlane>(rns, &r.name).await?;
            let kst = kcp.and_then(|k| k.status).unwrap_or_default();
            status.control_plane_ready = kst.ready;
            if kst.initialized && !initialized(&c) {
                status
                    .conditions
                    .retain(|x| x.type_ != CONTROL_PLANE_INITIALIZED);
                status.conditions.push(Condition {
                    type_: CONTROL_PLANE_INITIALIZED.into(),
                    status: "True".into(),
                    last_transition_time: Some(ironbell_model::values::now()),
                    ..Condition::default()
                });
            }
        }
        let has_endpoint = c
            .spec
            .control_plane_endpoint
            .as_ref()
            .is_some_and(|e| !e.host.is_empty());
        if !has_endpoint && let Some(e) = endpoint.clone() {
            info!(cluster = %name, host = %e.host, port = e.port, "control-plane endpoint from the infrastructure cluster");
            self.ctx
                .api::<Cluster>()
                .modify(ns, name, |c| {
                    c.spec.control_plane_endpoint = Some(e.clone())
                })
                .await
                .map_err(Error::store(format!("updating Cluster {ns}/{name}")))?;
        }
        let phase = if c.metadata.deletion_timestamp.is_some() {
            "Deleting"
        } else if status.infrastructure_ready && (has_endpoint || endpoint.is_some()) {
            "Provisioned"
        } else if c.spec.infrastructure_ref.is_some() {
            "Provisioning"
        } else {
            "Pending"
        };
        status.phase = Some(phase.into());
        status.observed_generation = c.metadata.generation;
        if c.status.as_ref() != Some(&status) {
            self.ctx
                .api::<Cluster>()
                .modify_status(ns, name, |c| c.status = Some(status.clone()))
                .await
                .map_err(Error::store(format!(
                    "updating the status of Cluster {ns}/{name}"
                )))?;
        }
        Ok(
            if status.infrastructure_ready && status.control_plane_ready {
                Next::Done
            } else {
                Next::After(self.ctx.options.requeue)
            },
        )
    }
}

impl Reconciler {
    /// Makes the object `r` names (the infrastructure cluster, the control plane) the
    /// cluster's, as Cluster API's `reconcileExternal` does: an owner reference to the
    /// `Cluster` and the cluster-name label. Their controllers find their cluster through
    /// them (CAPT's `TinkerbellCluster` waits for its owner); EKS Anywhere renders neither.
    async fn adopt(&self, c: &Cluster, r: &ObjectReference) -> Result<(), Error> {
        let (ns, name) = (c.metadata.namespace(), c.metadata.name());
        let rns = r.namespace.as_deref().unwrap_or(ns);
        let what = || {
            format!(
                "adopting {} {rns}/{} into Cluster {ns}/{name}",
                r.kind, r.name
            )
        };
        let mut obj = match self
            .ctx
            .store
            .get(&objects::type_key(r), rns, &r.name)
            .await
        {
            Ok(obj) => obj,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(Error::store(what())(e)),
        };
        let owned = objects::owned_by::<Cluster>(&obj.metadata, name);
        let labelled = obj.metadata.label(CLUSTER_NAME_LABEL) == Some(name);
        if (owned && labelled) || obj.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        if !owned {
            obj.metadata
                .owner_references
                .get_or_insert_with(Vec::new)
                .push(objects::owner_ref(c, false));
        }
        obj.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(CLUSTER_NAME_LABEL.into(), name.into());
        self.ctx
            .store
            .update(obj)
            .await
            .map_err(Error::store(what()))?;
        info!(cluster = %name, kind = %r.kind, object = %r.name, "adopted");
        Ok(())
    }

    async fn delete(&self, c: &Cluster) -> Result<Next, Error> {
        let ctx = &self.ctx;
        let (ns, name) = (c.metadata.namespace(), c.metadata.name());
        ctx.enter_deleting(c).await?;
        ctx.delete_all::<MachineDeployment>(ns, |m| m.spec.cluster_name == name)
            .await?;
        ctx.delete_all::<MachineSet>(ns, |m| m.spec.cluster_name == name)
            .await?;
        if let Some(r) = &c.spec.control_plane_ref {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            objects::request_delete(&ctx.store, &objects::type_key(r), rns, &r.name).await?;
        }
        let left = ctx
            .delete_all::<Machine>(ns, |m| m.spec.cluster_name == name)
            .await?;
        if left > 0 {
            return Ok(Next::After(ctx.options.requeue));
        }
        if let Some(r) = &c.spec.infrastructure_ref {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            if objects::request_delete(&ctx.store, &objects::type_key(r), rns, &r.name).await?
                == objects::Deletion::Pending
            {
                return Ok(Next::After(ctx.options.requeue));
            }
        }
        info!(cluster = %name, "every object of the cluster is gone");
        objects::drop_finalizer(&ctx.store, c, CLUSTER_FINALIZER).await?;
        Ok(Next::Done)
    }
}
