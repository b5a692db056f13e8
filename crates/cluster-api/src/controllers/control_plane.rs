//! `KubeadmControlPlane` (subset): `replicas` control-plane machines `<kcp>-<n>`, the first
//! `kubeadm init` and the rest joins, each with an infrastructure object cloned from
//! `spec.machineTemplate.infrastructureRef` and a `KubeadmConfig` from `kubeadmConfigSpec`;
//! a rollout one machine at a time when the version, the machine template or the kubeadm
//! configuration changes ([`crate::rollout::control_plane_step`]); and its status.

use std::sync::Arc;

use ironbell_capi::api::cluster::{Bootstrap, MachineSpec};
use ironbell_capi::api::kubeadm::KubeadmConfigSpec;
use ironbell_controller::{Next, Queue, Reconcile};
use ironbell_model::{Labels, TypeKey};
use ironbell_store::ListParams;
use ironbell_store::reflector::ObjectKey;
use tracing::info;

use super::{Ctx, available, create_machine, created, deleting, new_machine};
use crate::kinds::{
    BOOTSTRAP_API_VERSION, Cluster, KubeadmControlPlane, KubeadmControlPlaneStatus, Machine,
};
use crate::objects::{self, is_paused, owner_ref};
use crate::rollout::{self, ControlPlaneAction, ControlPlaneMachine, ControlPlaneOrigin};
use crate::{
    CLONED_FROM_GROUPKIND_ANNOTATION, CLONED_FROM_NAME_ANNOTATION, CLUSTER_NAME_LABEL,
    CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, Error, KUBEADM_CONFIG_HASH_ANNOTATION,
};

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
    /// The Cluster controller's queue: a control plane's status change is news to it.
    pub(super) clusters: Arc<Queue>,
}

/// The kubeadm configuration of a control-plane machine: `init` keeps the cluster and init
/// configurations, a join only the join configuration (as Cluster API's KCP does).
fn machine_config(spec: &KubeadmConfigSpec, init: bool) -> KubeadmConfigSpec {
    let mut c = spec.clone();
    if init {
        c.join_configuration = None;
    } else {
        c.init_configuration = None;
        c.cluster_configuration = None;
        c.join_configuration.get_or_insert_with(Default::default);
    }
    c
}

#[async_trait::async_trait]
impl Reconcile<KubeadmControlPlane> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let ctx = &self.ctx;
        let Some(kcp) = ctx.get::<KubeadmControlPlane>(ns, name).await? else {
            ctx.delete_machines(ns, CONTROL_PLANE_NAME_LABEL, name)
                .await?;
            return Ok(Next::Done);
        };
        let (clusters, _) = ctx
            .api::<Cluster>()
            .list(&ListParams::namespace(ns.clone()))
            .await
            .map_err(Error::store(format!("listing clusters in {ns}")))?;
        let wait = Ok(Next::After(ctx.options.requeue));
        let Some(cluster) = clusters.into_iter().find(|c| {
            c.spec
                .control_plane_ref
                .as_ref()
                .is_some_and(|r| r.kind == "KubeadmControlPlane" && &r.name == name)
        }) else {
            return wait;
        };
        if is_paused(Some(&cluster), &kcp.metadata) || kcp.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let cname = cluster.metadata.name().to_string();
        let template = &kcp.spec.machine_template.infrastructure_ref;
        let current = ControlPlaneOrigin {
            version: Some(kcp.spec.version.clone()),
            infrastructure_template: Some((template.kind.clone(), template.name.clone())),
            config_hash: Some(rollout::hash_of(&kcp.spec.kubeadm_config_spec)),
        };
        let machines = ctx
            .labelled::<Machine>(ns, CONTROL_PLANE_NAME_LABEL, name)
            .await?;
        let mut view = Vec::with_capacity(machines.len());
        let mut outdated_count = 0;
        for m in &machines {
            let origin = self.origin(m).await?;
            let outdated = rollout::control_plane_outdated(&current, &origin);
            if let Some(why) = &outdated
                && !deleting(m)
            {
                outdated_count += 1;
                tracing::debug!(machine = m.metadata.name(), %why, "outdated control-plane machine");
            }
            view.push(ControlPlaneMachine {
                name: m.metadata.name().to_string(),
                created: created(m),
                outdated: outdated.is_some(),
                ready: available(m),
                deleting: deleting(m),
            });
        }
        let status_before = kcp.status.clone().unwrap_or_default();
        let initialized = status_before.initialized || machines.iter().any(available);

        let infra_ready = cluster
            .status
            .as_ref()
            .is_some_and(|s| s.infrastructure_ready);
        let max_surge = kcp
            .spec
            .rollout_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .map(|r| rollout::scaled_value(&r.max_surge, kcp.spec.replicas, true))
            .transpose()
            .map_err(|message| Error::Invalid {
                object: format!("KubeadmControlPlane {ns}/{name}"),
                message: format!("spec.rolloutStrategy.rollingUpdate.maxSurge: {message}"),
            })?
            .unwrap_or(1);
        let live = view.iter().filter(|m| !m.deleting).count();
        let action = if infra_ready {
            rollout::control_plane_step(kcp.spec.replicas, max_surge, &view)
        } else {
            ControlPlaneAction::Wait
        };
        match &action {
            ControlPlaneAction::Create if live > 0 && !initialized => {}
            ControlPlaneAction::Create => {
                let init = machines.is_empty() && !initialized;
                let mname = objects::next_name(name, machines.iter().map(|m| m.metadata.name()));
                let mut labels = Labels::new();
                labels.insert(CLUSTER_NAME_LABEL.into(), cname.clone());
                labels.insert(CONTROL_PLANE_LABEL.into(), String::new());
                labels.insert(CONTROL_PLANE_NAME_LABEL.into(), name.clone());
                let annotations = Some(
                    [(
                        KUBEADM_CONFIG_HASH_ANNOTATION.to_string(),
                        current.config_hash.clone().unwrap_or_default(),
                    )]
                    .into_iter()
                    .collect(),
                );
                let spec = MachineSpec {
                    bootstrap: Bootstrap {
                        config_ref: Some(ironbell_capi::api::ObjectReference::new(
                            BOOTSTRAP_API_VERSION,
                            "KubeadmConfig",
                            &mname,
                        )),
                        data_secret_name: None,
                    },
                    cluster_name: cname.clone(),
                    infrastructure_ref: template.clone(),
                    version: Some(kcp.spec.version.clone()),
                    failure_domain: None,
                    provider_id: None,
                };
                let m = new_machine(ns, &mname, labels, annotations, owner_ref(&kcp, true), spec)?;
                info!(kcp = %name, machine = %mname, init, "creating control-plane Machine");
                create_machine(ctx, &m).await?;
            }
            ControlPlaneAction::Delete(victim) => {
                info!(kcp = %name, machine = %victim, "control plane: deleting Machine");
                objects::request_delete(&ctx.store, &TypeKey::of::<Machine>(), ns, victim).await?;
            }
            ControlPlaneAction::Wait | ControlPlaneAction::Nothing => {}
        }

        // Objects of machines not provisioned yet (again after a restart).
        let machines = ctx
            .labelled::<Machine>(ns, CONTROL_PLANE_NAME_LABEL, name)
            .await?;
        let live_count = machines.iter().filter(|m| !deleting(m)).count();
        for m in machines.iter().filter(|m| !deleting(m)) {
            if m.status.as_ref().is_some_and(|s| s.infrastructure_ready) {
                continue;
            }
            let init = live_count == 1 && !initialized;
            let config = machine_config(&kcp.spec.kubeadm_config_spec, init);
            ctx.ensure_machine_objects(m, template, Some(config))
                .await?;
        }

        let live: Vec<&Machine> = machines.iter().filter(|m| !deleting(m)).collect();
        let n = |k: usize| i64::try_from(k).unwrap_or(i64::MAX);
        let ready = n(live.iter().filter(|m| available(m)).count());
        let replicas = n(live.len());
        let status = KubeadmControlPlaneStatus {
            selector: Some(format!(
                "{CLUSTER_NAME_LABEL}={cname},{CONTROL_PLANE_NAME_LABEL}={name}"
            )),
            replicas,
            updated_replicas: replicas - outdated_count,
            ready_replicas: ready,
            unavailable_replicas: replicas - ready,
            initialized,
            ready: ready > 0,
            version: if live
                .iter()
                .all(|m| m.spec.version.as_deref() == Some(kcp.spec.version.as_str()))
            {
                Some(kcp.spec.version.clone())
            } else {
                status_before.version.clone()
            },
            observed_generation: kcp.metadata.generation,
        };
        if kcp.status.as_ref() != Some(&status) {
            ctx.api::<KubeadmControlPlane>()
                .modify_status(ns, name, |k| k.status = Some(status.clone()))
                .await
                .map_err(Error::store(format!(
                    "updating the status of KubeadmControlPlane {ns}/{name}"
                )))?;
            self.clusters.add((ns.clone(), cname));
        }
        Ok(match action {
            ControlPlaneAction::Nothing => Next::Done,
            _ => Next::After(ctx.options.requeue),
        })
    }
}

impl Reconciler {
    /// What a control-plane machine was made from: its version, its config hash
    /// annotation, and the template its infrastructure object was cloned from.
    async fn origin(&self, m: &Machine) -> Result<ControlPlaneOrigin, Error> {
        let infra = &m.spec.infrastructure_ref;
        let ns = infra.namespace.as_deref().unwrap_or(m.metadata.namespace());
        let template = match self
            .ctx
            .store
            .get(&objects::type_key(infra), ns, &infra.name)
            .await
        {
            Ok(obj) => {
                let a = obj.metadata.annotations.unwrap_or_default();
                match (
                    a.get(CLONED_FROM_GROUPKIND_ANNOTATION),
                    a.get(CLONED_FROM_NAME_ANNOTATION),
                ) {
                    (Some(gk), Some(n)) => {
                        let kind = gk.split_once('.').map_or(gk.as_str(), |(k, _)| k);
                        Some((kind.to_string(), n.clone()))
                    }
                    _ => None,
                }
            }
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return Err(Error::store(format!(
                    "reading {} {ns}/{}",
                    infra.kind, infra.name
                ))(e));
            }
        };
        Ok(ControlPlaneOrigin {
            version: m.spec.version.clone(),
            infrastructure_template: template,
            config_hash: m
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(KUBEADM_CONFIG_HASH_ANNOTATION).cloned()),
        })
    }
}
