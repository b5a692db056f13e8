//! `Machine`: `Pending` → `Provisioning` (its `KubeadmConfig` is ready:
//! `spec.bootstrap.dataSecretName`) → `Provisioned` (its infrastructure object's
//! `status.ready`; `spec.providerID` and `status.addresses` copied) → `Running` (a `v1 Node`
//! with the same `spec.providerID` is Ready: `status.nodeRef`).
//!
//! Deletion, behind the finalizer `machine.cluster.x-k8s.io`: the `KubeadmConfig` (and its
//! Secret) and the infrastructure object are deleted; the machine waits until the
//! infrastructure object is gone (its provider powers the machine off and releases the
//! Hardware behind its own finalizer), deletes the Node, then drops its finalizer.
//!
//! Nodes are looked for in every namespace: `v1 Node` is cluster-scoped, but the store
//! refuses an empty namespace today, so whoever writes a Node (the phone-home) picks one.

use ironbell_capi::api::ObjectReference;
use ironbell_controller::{Next, Reconcile};
use ironbell_model::corev1::{Node, Secret};
use ironbell_model::{Resource, TypeKey};
use ironbell_store::ListParams;
use ironbell_store::reflector::ObjectKey;
use serde_json::Value;
use tracing::info;

use super::{Ctx, NodeIndex, lock};
use crate::kinds::{KubeadmConfig, KubeadmControlPlane, Machine, MachineAddress, MachineSet};
use crate::objects::{self, Deletion, is_paused};
use crate::{CLUSTER_NAME_LABEL, Error, MACHINE_FINALIZER};

pub(super) struct Reconciler {
    pub(super) ctx: Ctx,
    pub(super) nodes: NodeIndex,
}

#[async_trait::async_trait]
impl Reconcile<Machine> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let ctx = &self.ctx;
        let Some(m) = ctx.get::<Machine>(ns, name).await? else {
            lock(&self.nodes).retain(|_, k| k != key);
            return Ok(Next::Done);
        };
        let cluster = ctx.cluster(ns, &m.spec.cluster_name).await?;
        if is_paused(cluster.as_ref(), &m.metadata) {
            return Ok(Next::Done);
        }
        if m.metadata.deletion_timestamp.is_some() {
            return self.delete(&m).await;
        }
        if ctx.collect_orphan::<Machine, MachineSet>(&m).await?
            || ctx
                .collect_orphan::<Machine, KubeadmControlPlane>(&m)
                .await?
        {
            return Ok(Next::Done);
        }
        let api = ctx.api::<Machine>();
        let what = || format!("updating Machine {ns}/{name}");

        // Finalizer and cluster label.
        let labelled = m.metadata.label(CLUSTER_NAME_LABEL) == Some(m.spec.cluster_name.as_str());
        let finalized = m
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == MACHINE_FINALIZER);
        if !labelled || !finalized {
            api.modify(ns, name, |m| {
                objects::add_finalizer(&mut m.metadata, MACHINE_FINALIZER);
                let cluster = m.spec.cluster_name.clone();
                m.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert(CLUSTER_NAME_LABEL.into(), cluster);
            })
            .await
            .map_err(Error::store(what()))?;
        }

        // Bootstrap data.
        let mut secret = m.spec.bootstrap.data_secret_name.clone();
        if secret.is_none()
            && let Some(r) = config_ref(&m)
        {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            let cfg = ctx.get::<KubeadmConfig>(rns, &r.name).await?;
            if let Some(s) = cfg
                .and_then(|c| c.status)
                .filter(|s| s.ready)
                .and_then(|s| s.data_secret_name)
            {
                info!(machine = %name, secret = %s, "bootstrap data ready");
                api.modify(ns, name, |m| {
                    m.spec.bootstrap.data_secret_name = Some(s.clone())
                })
                .await
                .map_err(Error::store(what()))?;
                secret = Some(s);
            }
        }

        // Infrastructure.
        let mut status = m.status.clone().unwrap_or_default();
        status.bootstrap_ready = secret.is_some();
        let infra = &m.spec.infrastructure_ref;
        let rns = infra.namespace.as_deref().unwrap_or(ns);
        let mut provider_id = m.spec.provider_id.clone();
        match ctx
            .store
            .get(&objects::type_key(infra), rns, &infra.name)
            .await
        {
            Ok(obj) => {
                let body = objects::body(&obj);
                status.infrastructure_ready = objects::path(&body, "status.ready")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if let Some(addrs) = objects::path(&body, "status.addresses")
                    .and_then(|v| serde_json::from_value::<Vec<MachineAddress>>(v.clone()).ok())
                {
                    status.addresses = addrs;
                }
                // As Cluster API does, the provider id is taken once the object is ready.
                let pid = objects::path(&body, "spec.providerID")
                    .and_then(Value::as_str)
                    .filter(|_| status.infrastructure_ready)
                    .map(str::to_string);
                if pid.is_some() && pid != provider_id {
                    info!(machine = %name, provider_id = ?pid, "provider id from the infrastructure object");
                    api.modify(ns, name, |m| m.spec.provider_id = pid.clone())
                        .await
                        .map_err(Error::store(what()))?;
                    provider_id = pid;
                }
            }
            Err(e) if e.is_not_found() => status.infrastructure_ready = false,
            Err(e) => {
                return Err(Error::store(format!(
                    "reading {} {rns}/{}",
                    infra.kind, infra.name
                ))(e));
            }
        }

        // Node.
        if let Some(pid) = &provider_id {
            lock(&self.nodes).insert(pid.clone(), key.clone());
            let node = self.node(pid).await?;
            status.node_ref = node
                .filter(Node::is_ready)
                .map(|n| ObjectReference::new(Node::API_VERSION, Node::KIND, n.metadata.name()));
        }
        let phase = if status.node_ref.is_some() {
            "Running"
        } else if status.infrastructure_ready {
            "Provisioned"
        } else if status.bootstrap_ready {
            "Provisioning"
        } else {
            "Pending"
        };
        if status.phase.as_deref() != Some(phase) {
            info!(machine = %name, phase, "Machine phase");
        }
        status.phase = Some(phase.into());
        status.observed_generation = m.metadata.generation;
        if m.status.as_ref() != Some(&status) {
            api.modify_status(ns, name, |m| m.status = Some(status.clone()))
                .await
                .map_err(Error::store(what()))?;
        }
        Ok(if phase == "Running" {
            Next::Done
        } else {
            Next::After(ctx.options.requeue)
        })
    }
}

impl Reconciler {
    /// The Node with this provider id, if any.
    async fn node(&self, provider_id: &str) -> Result<Option<Node>, Error> {
        let (nodes, _) = self
            .ctx
            .api::<Node>()
            .list(&ListParams::default())
            .await
            .map_err(Error::store("listing nodes"))?;
        Ok(nodes
            .into_iter()
            .find(|n| n.spec.provider_id.as_deref() == Some(provider_id)))
    }

    async fn delete(&self, m: &Machine) -> Result<Next, Error> {
        let ctx = &self.ctx;
        let (ns, name) = (m.metadata.namespace(), m.metadata.name());
        ctx.enter_deleting(m).await?;
        // The bootstrap config and its data.
        if let Some(r) = config_ref(m) {
            let rns = r.namespace.as_deref().unwrap_or(ns);
            objects::request_delete(&ctx.store, &TypeKey::of::<KubeadmConfig>(), rns, &r.name)
                .await?;
            delete_bootstrap_secret(ctx, rns, &r.name).await?;
        }
        // The infrastructure object, and wait for it to be gone.
        let infra = &m.spec.infrastructure_ref;
        let rns = infra.namespace.as_deref().unwrap_or(ns);
        if objects::request_delete(&ctx.store, &objects::type_key(infra), rns, &infra.name).await?
            == Deletion::Pending
        {
            return Ok(Next::After(ctx.options.requeue));
        }
        // The Node.
        if let Some(pid) = &m.spec.provider_id
            && let Some(node) = self.node(pid).await?
        {
            info!(machine = %name, node = node.metadata.name(), "deleting Node");
            match ctx
                .store
                .delete(
                    &TypeKey::of::<Node>(),
                    node.metadata.namespace(),
                    node.metadata.name(),
                    None,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(Error::store(format!(
                        "deleting Node {}",
                        node.metadata.name()
                    ))(e));
                }
            }
            lock(&self.nodes).remove(pid);
        }
        objects::drop_finalizer(&ctx.store, m, MACHINE_FINALIZER).await?;
        Ok(Next::Done)
    }
}

/// The machine's `KubeadmConfig` reference, when its bootstrap config is one.
fn config_ref(m: &Machine) -> Option<&ObjectReference> {
    let r = m.spec.bootstrap.config_ref.as_ref()?;
    (r.kind == KubeadmConfig::KIND).then_some(r)
}

/// Deletes the bootstrap Secret of the `KubeadmConfig` `name` (it carries its name) when
/// that config owns it and is gone (or going).
///
/// The config is read again *after* the Secret: a caller that found no config may have
/// looked before a move (or the config's own reconcile) created the config and then its
/// Secret, owner before owned; finding the Secret means that a config made before it is
/// visible now, and its Secret stays.
pub(super) async fn delete_bootstrap_secret(ctx: &Ctx, ns: &str, name: &str) -> Result<(), Error> {
    let Some(s) = ctx.get::<Secret>(ns, name).await? else {
        return Ok(());
    };
    if !objects::owned_by::<KubeadmConfig>(&s.metadata, name) {
        return Ok(());
    }
    if ctx
        .get::<KubeadmConfig>(ns, name)
        .await?
        .is_some_and(|c| c.metadata.deletion_timestamp.is_none())
    {
        return Ok(());
    }
    match ctx.api::<Secret>().delete(ns, name).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::store(format!("deleting Secret {ns}/{name}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use ironbell_model::ObjectMeta;

    use super::*;
    use crate::controllers::Options;

    /// A move (or the config's own reconcile) creates the config, then its Secret; a
    /// reconcile that found no config just before must not delete that Secret.
    #[tokio::test]
    async fn a_bootstrap_secret_stays_while_its_config_exists() {
        let dir = tempfile::tempdir().unwrap();
        let store = ironbell_store_sqlite::SqliteStore::open(dir.path().join("s.db")).unwrap();
        let ctx = Ctx {
            store: Arc::new(store),
            options: Options::default(),
        };
        let configs = ctx.api::<KubeadmConfig>();
        let secrets = ctx.api::<Secret>();
        let mut cfg = KubeadmConfig {
            metadata: ObjectMeta::named("ns", "c-0"),
            ..KubeadmConfig::default()
        };
        cfg = configs.create(&cfg).await.unwrap();
        let mut secret = Secret {
            metadata: ObjectMeta::named("ns", "c-0"),
            ..Secret::default()
        };
        secret.metadata.owner_references = Some(vec![objects::owner_ref(&cfg, true)]);
        secrets.create(&secret).await.unwrap();

        delete_bootstrap_secret(&ctx, "ns", "c-0").await.unwrap();
        assert!(
            secrets.get("ns", "c-0").await.is_ok(),
            "deleted while its config exists"
        );

        configs.delete("ns", "c-0").await.unwrap();
        delete_bootstrap_secret(&ctx, "ns", "c-0").await.unwrap();
        assert!(secrets.get("ns", "c-0").await.unwrap_err().is_not_found());
    }
}
