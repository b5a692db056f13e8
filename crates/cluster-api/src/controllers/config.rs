//! `KubeadmConfig` → bootstrap data: once its machine's cluster has its infrastructure and
//! endpoint (and, for a join, an initialized control plane), the [`NodeBootstrapper`] makes
//! the user-data, written to the Secret `<config-name>` (`data.value`, `data.format`, type
//! `cluster.x-k8s.io/secret`, owner → the config); then `status.dataSecretName` and
//! `status.ready`. Ready data is never made again.

use std::sync::Arc;

use ironbell_controller::{Next, Reconcile};
use ironbell_model::corev1::Secret;
use ironbell_store::StoreError;
use ironbell_store::reflector::ObjectKey;
use tracing::info;

use super::Ctx;
use super::cluster::initialized;
use super::machine::delete_bootstrap_secret;
use crate::bootstrap::{BootstrapInput, NodeBootstrapper, Role};
use crate::kinds::{KubeadmConfig, Machine};
use crate::objects::{self, is_paused, owner_ref};
use crate::{BOOTSTRAP_SECRET_TYPE, CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, Error};

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
    pub(super) bootstrapper: Arc<dyn NodeBootstrapper>,
}

/// A machine's role, from its control-plane label and its config.
pub fn role(machine: &Machine, config: &KubeadmConfig) -> Role {
    let control_plane = machine
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(CONTROL_PLANE_LABEL));
    match (control_plane, config.spec.join_configuration.is_some()) {
        (true, false) => Role::Init,
        (true, true) => Role::JoinControlPlane,
        (false, _) => Role::JoinWorker,
    }
}

#[async_trait::async_trait]
impl Reconcile<KubeadmConfig> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let ctx = &self.ctx;
        let Some(cfg) = ctx.get::<KubeadmConfig>(ns, name).await? else {
            delete_bootstrap_secret(ctx, ns, name).await?;
            return Ok(Next::Done);
        };
        if cfg.status.as_ref().is_some_and(|s| s.ready) || cfg.metadata.deletion_timestamp.is_some()
        {
            return Ok(Next::Done);
        }
        let Some(owner) = objects::owner_name::<Machine>(&cfg.metadata) else {
            return Ok(Next::Done);
        };
        let Some(machine) = ctx.get::<Machine>(ns, owner).await? else {
            return Ok(Next::Done);
        };
        let wait = Ok(Next::After(ctx.options.requeue));
        let Some(cluster) = ctx.cluster(ns, &machine.spec.cluster_name).await? else {
            return wait;
        };
        if is_paused(Some(&cluster), &cfg.metadata) {
            return Ok(Next::Done);
        }
        let infra_ready = cluster
            .status
            .as_ref()
            .is_some_and(|s| s.infrastructure_ready);
        let endpoint = cluster
            .spec
            .control_plane_endpoint
            .as_ref()
            .is_some_and(|e| !e.host.is_empty());
        let role = role(&machine, &cfg);
        if !infra_ready || !endpoint || (role != Role::Init && !initialized(&cluster)) {
            return wait;
        }
        let data = self
            .bootstrapper
            .bootstrap(BootstrapInput {
                config: &cfg,
                machine: &machine,
                cluster: &cluster,
                role,
            })
            .await
            .map_err(|source| Error::Bootstrap {
                object: format!("{ns}/{name}"),
                source,
            })?;
        let mut secret = Secret::new(ns.clone(), name.clone());
        secret.type_ = Some(BOOTSTRAP_SECRET_TYPE.into());
        secret.insert("value", data.value);
        secret.insert("format", data.format);
        secret.metadata.labels = Some(
            [(
                CLUSTER_NAME_LABEL.to_string(),
                machine.spec.cluster_name.clone(),
            )]
            .into_iter()
            .collect(),
        );
        secret.metadata.owner_references = Some(vec![owner_ref(&cfg, true)]);
        let secrets = ctx.api::<Secret>();
        match secrets.create(&secret).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let current = secrets
                    .get(ns, name)
                    .await
                    .map_err(Error::store(format!("reading Secret {ns}/{name}")))?;
                if !objects::owned_by::<KubeadmConfig>(&current.metadata, name) {
                    return Err(Error::Invalid {
                        object: format!("Secret {ns}/{name}"),
                        message: "exists and is not this KubeadmConfig's bootstrap data".into(),
                    });
                }
                secret.metadata.resource_version = current.metadata.resource_version;
                secrets
                    .update(&secret)
                    .await
                    .map_err(Error::store(format!("updating Secret {ns}/{name}")))?;
            }
            Err(e) => return Err(Error::store(format!("creating Secret {ns}/{name}"))(e)),
        }
        info!(kubeadmconfig = %name, machine = owner, ?role, "bootstrap data written");
        ctx.api::<KubeadmConfig>()
            .modify_status(ns, name, |c| {
                let s = c.status.get_or_insert_with(Default::default);
                s.ready = true;
                s.data_secret_name = Some(name.clone());
                s.failure_message = None;
                s.observed_generation = c.metadata.generation;
            })
            .await
            .map_err(Error::store(format!(
                "updating the status of KubeadmConfig {ns}/{name}"
            )))?;
        Ok(Next::Done)
    }
}
