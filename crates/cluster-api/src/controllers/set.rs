//! `MachineSet` → `Machine`s: creates machines `<set>-<n>` up to `spec.replicas`, deletes
//! the surplus in [`crate::rollout::deletion_order`], and makes each new machine's
//! infrastructure object and `KubeadmConfig` from the set's templates.

use ironbell_controller::{Next, Reconcile};
use ironbell_model::{Labels, TypeKey};
use ironbell_store::reflector::ObjectKey;
use tracing::info;

use super::{Ctx, available, create_machine, created, deleting, new_machine};
use crate::kinds::{Machine, MachineDeployment, MachineSet, MachineSetStatus};
use crate::objects::{self, is_paused, owner_ref};
use crate::rollout::{Candidate, deletion_order};
use crate::{CLUSTER_NAME_LABEL, Error, SET_NAME_LABEL};

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
}

#[async_trait::async_trait]
impl Reconcile<MachineSet> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let ctx = &self.ctx;
        let Some(ms) = ctx.get::<MachineSet>(ns, name).await? else {
            ctx.delete_machines(ns, SET_NAME_LABEL, name).await?;
            return Ok(Next::Done);
        };
        let cluster = ctx.cluster(ns, &ms.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), &ms.metadata) {
            return Ok(Next::Done);
        }
        if ms.metadata.deletion_timestamp.is_some()
            || ctx
                .collect_orphan::<MachineSet, MachineDeployment>(&ms)
                .await?
        {
            return Ok(Next::Done);
        }
        let replicas = usize::try_from(ms.spec.replicas.unwrap_or(1)).unwrap_or(0);
        let machines = ctx.labelled::<Machine>(ns, SET_NAME_LABEL, name).await?;
        let live: Vec<&Machine> = machines.iter().filter(|m| !deleting(m)).collect();
        let template = &ms.spec.template;

        if live.len() < replicas {
            let mut taken: Vec<String> = machines
                .iter()
                .map(|m| m.metadata.name().to_string())
                .collect();
            let mut labels: Labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(SET_NAME_LABEL.into(), name.clone());
            labels.insert(CLUSTER_NAME_LABEL.into(), ms.spec.cluster_name.clone());
            let annotations = template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.clone());
            for _ in live.len()..replicas {
                let mname = objects::next_name(name, taken.iter().map(String::as_str));
                let m = new_machine(
                    ns,
                    &mname,
                    labels.clone(),
                    annotations.clone(),
                    owner_ref(&ms, true),
                    template.spec.clone(),
                )?;
                create_machine(ctx, &m).await?;
                taken.push(mname);
            }
        } else if live.len() > replicas {
            let candidates = live
                .iter()
                .map(|m| Candidate {
                    name: m.metadata.name().to_string(),
                    deleting: false,
                    ready: available(m),
                    created: created(*m),
                })
                .collect();
            for c in deletion_order(candidates)
                .into_iter()
                .take(live.len() - replicas)
            {
                info!(machine = %c.name, "scaling down: deleting Machine");
                objects::request_delete(&ctx.store, &TypeKey::of::<Machine>(), ns, &c.name).await?;
            }
        }

        // Every machine not provisioned yet gets its objects (again, after a restart).
        let config = ctx
            .config_from_template(ns, template.spec.bootstrap.config_ref.as_ref())
            .await?;
        let machines = ctx.labelled::<Machine>(ns, SET_NAME_LABEL, name).await?;
        for m in machines.iter().filter(|m| !deleting(m)) {
            if !m.status.as_ref().is_some_and(|s| s.infrastructure_ready) {
                ctx.ensure_machine_objects(m, &template.spec.infrastructure_ref, config.clone())
                    .await?;
            }
        }

        let live = machines.iter().filter(|m| !deleting(m));
        let n = |k: usize| i64::try_from(k).unwrap_or(i64::MAX);
        let avail = n(live.clone().filter(|m| available(m)).count());
        let status = MachineSetStatus {
            selector: ms
                .spec
                .selector
                .match_labels
                .as_ref()
                .map(objects::selector_text),
            replicas: n(live.clone().count()),
            fully_labeled_replicas: n(live.count()),
            ready_replicas: avail,
            available_replicas: avail,
            observed_generation: ms.metadata.generation,
        };
        if ms.status.as_ref() != Some(&status) {
            ctx.api::<MachineSet>()
                .modify_status(ns, name, |m| m.status = Some(status.clone()))
                .await
                .map_err(Error::store(format!(
                    "updating the status of MachineSet {ns}/{name}"
                )))?;
        }
        Ok(Next::Done)
    }
}
