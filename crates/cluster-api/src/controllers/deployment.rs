//! `MachineDeployment` → `MachineSet`s: the set of the current template
//! (`<deployment>-<hash>`) is made, and the rolling step ([`crate::rollout::rolling_step`])
//! moves replicas from old sets to it. Old sets at 0 replicas with no machine left are
//! deleted (Cluster API keeps `revisionHistoryLimit` of them; ironbell has no rollback).

use ironbell_capi::api::LabelSelector;
use ironbell_controller::{Next, Reconcile};
use ironbell_model::{Labels, ObjectMeta, TypeKey};
use ironbell_store::StoreError;
use ironbell_store::reflector::ObjectKey;
use tracing::info;

use super::{Ctx, available, created, deleting};
use crate::kinds::{
    Machine, MachineDeployment, MachineDeploymentStatus, MachineSet, MachineSetSpec,
};
use crate::objects::{self, is_paused, owner_ref};
use crate::rollout::{self, MACHINE_TEMPLATE_HASH_LABEL, SetState};
use crate::{CLUSTER_NAME_LABEL, DEPLOYMENT_NAME_LABEL, Error, SET_NAME_LABEL};

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
}

#[async_trait::async_trait]
impl Reconcile<MachineDeployment> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let ctx = &self.ctx;
        let Some(md) = ctx.get::<MachineDeployment>(ns, name).await? else {
            ctx.delete_all::<MachineSet>(ns, |ms| {
                ms.metadata.label(DEPLOYMENT_NAME_LABEL) == Some(name.as_str())
            })
            .await?;
            return Ok(Next::Done);
        };
        let cluster = ctx.cluster(ns, &md.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), &md.metadata) || md.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let desired = desired_replicas(&md);
        let rolling = md
            .spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        let (surge, unavailable) = rollout::resolve_fenceposts(
            rolling.and_then(|r| r.max_surge.as_ref()),
            rolling.and_then(|r| r.max_unavailable.as_ref()),
            desired,
        )
        .map_err(|message| Error::Invalid {
            object: format!("MachineDeployment {ns}/{name}"),
            message: format!("spec.strategy.rollingUpdate: {message}"),
        })?;

        let hash = rollout::template_hash(&md.spec.template);
        let new_name = format!("{name}-{hash}");
        let mut sets = ctx
            .labelled::<MachineSet>(ns, DEPLOYMENT_NAME_LABEL, name)
            .await?;
        if !sets.iter().any(|s| s.metadata.name() == new_name) {
            let ms = new_set(&md, &new_name, &hash);
            info!(machineset = %new_name, "creating the MachineSet of the current template");
            match ctx.api::<MachineSet>().create(&ms).await {
                Ok(created) => sets.push(created),
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => {
                    return Err(Error::store(format!("creating MachineSet {ns}/{new_name}"))(e));
                }
            }
        }
        let machines = ctx
            .labelled::<Machine>(ns, DEPLOYMENT_NAME_LABEL, name)
            .await?;
        let state = |ms: &MachineSet| {
            let mine: Vec<&Machine> = machines
                .iter()
                .filter(|m| m.metadata.label(SET_NAME_LABEL) == ms.metadata.name.as_deref())
                .collect();
            SetState {
                name: ms.metadata.name().to_string(),
                replicas: ms.spec.replicas.unwrap_or(0),
                alive: count(mine.len()),
                available: count(mine.iter().filter(|m| available(m)).count()),
            }
        };
        sets.sort_by_key(|s| (created(s), s.metadata.name().to_string()));
        let new = sets
            .iter()
            .find(|s| s.metadata.name() == new_name)
            .map(state)
            .unwrap_or(SetState {
                name: new_name.clone(),
                replicas: 0,
                alive: 0,
                available: 0,
            });
        let old: Vec<SetState> = sets
            .iter()
            .filter(|s| s.metadata.name() != new_name)
            .map(state)
            .collect();
        for scale in rollout::rolling_step(desired, surge, unavailable, &new, &old) {
            info!(machineset = %scale.name, replicas = scale.replicas, "scaling MachineSet");
            ctx.api::<MachineSet>()
                .modify(ns, &scale.name, |ms| {
                    ms.spec.replicas = Some(scale.replicas)
                })
                .await
                .map_err(Error::store(format!(
                    "scaling MachineSet {ns}/{}",
                    scale.name
                )))?;
        }
        for s in old.iter().filter(|s| s.replicas == 0 && s.alive == 0) {
            info!(machineset = %s.name, "deleting an old MachineSet with no machine left");
            objects::request_delete(&ctx.store, &TypeKey::of::<MachineSet>(), ns, &s.name).await?;
        }

        let live = machines.iter().filter(|m| !deleting(m));
        let replicas = count(live.clone().count());
        let updated = count(
            live.clone()
                .filter(|m| m.metadata.label(SET_NAME_LABEL) == Some(new_name.as_str()))
                .count(),
        );
        let avail = count(machines.iter().filter(|m| available(m)).count());
        let status = MachineDeploymentStatus {
            observed_generation: md.metadata.generation,
            selector: Some(objects::selector_text(&selector_labels(name, None))),
            replicas,
            updated_replicas: updated,
            ready_replicas: avail,
            available_replicas: avail,
            unavailable_replicas: (desired - avail).max(0),
            phase: Some(
                if replicas < desired {
                    "ScalingUp"
                } else if replicas > desired {
                    "ScalingDown"
                } else {
                    "Running"
                }
                .into(),
            ),
        };
        if md.status.as_ref() != Some(&status) {
            ctx.api::<MachineDeployment>()
                .modify_status(ns, name, |m| m.status = Some(status.clone()))
                .await
                .map_err(Error::store(format!(
                    "updating the status of MachineDeployment {ns}/{name}"
                )))?;
        }
        Ok(Next::Done)
    }
}

/// `spec.replicas`; without it (the autoscaler owns the count), the autoscaler's minimum
/// size annotation, else 1, as Cluster API defaults it.
fn desired_replicas(md: &MachineDeployment) -> i64 {
    md.spec
        .replicas
        .or_else(|| {
            md.metadata
                .annotations
                .as_ref()?
                .get("cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size")?
                .parse()
                .ok()
        })
        .unwrap_or(1)
        .max(0)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The labels selecting a deployment's machines (and, with a hash, one set's).
fn selector_labels(deployment: &str, hash: Option<&str>) -> Labels {
    let mut l = Labels::new();
    l.insert(DEPLOYMENT_NAME_LABEL.into(), deployment.into());
    if let Some(h) = hash {
        l.insert(MACHINE_TEMPLATE_HASH_LABEL.into(), h.into());
    }
    l
}

/// The `MachineSet` of the deployment's current template, at 0 replicas (the rolling step
/// scales it).
fn new_set(md: &MachineDeployment, name: &str, hash: &str) -> MachineSet {
    let ns = md.metadata.namespace();
    let mut labels = selector_labels(md.metadata.name(), Some(hash));
    labels.insert(CLUSTER_NAME_LABEL.into(), md.spec.cluster_name.clone());
    let mut template = md.spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .extend(labels.clone());
    let mut set_labels = md
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    set_labels.extend(labels.clone());
    let mut metadata = ObjectMeta::named(ns, name);
    metadata.labels = Some(set_labels);
    metadata.owner_references = Some(vec![owner_ref(md, true)]);
    MachineSet {
        metadata,
        spec: MachineSetSpec {
            cluster_name: md.spec.cluster_name.clone(),
            replicas: Some(0),
            delete_policy: None,
            selector: LabelSelector {
                match_labels: Some(selector_labels(md.metadata.name(), Some(hash))),
            },
            template,
        },
        ..MachineSet::default()
    }
}
