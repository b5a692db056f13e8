//! The `DockerCluster` controller (CAPD's `dockercluster_controller` and its load balancer).
//!
//! **Create**, once the owner `Cluster` exists and is not paused: the finalizer; the
//! cluster's bridge network (named after the cluster, kind's cluster label; its subnet's
//! lower half kept for fixed addresses, [`crate::engine::NetworkAddresses`]); the load
//! balancer container `<cluster>-lb`, at the network's first fixed address so that the
//! endpoint stays when the engine restarts (which hands out the other addresses again in
//! whatever order containers start), from `<imageRepository>/haproxy:<imageTag>` (CAPD's
//! `kindest/haproxy` defaults when the spec gives none), started; its configuration
//! ([`haproxy::config`]) listing every control-plane `DockerMachine` of the cluster that is
//! not being deleted and has an address, written into the container and haproxy reloaded
//! (`SIGUSR2`, master-worker mode) whenever it differs from the one there; then
//! `spec.controlPlaneEndpoint` = the load balancer's address and port 6443, and
//! `status.ready`. It runs again whenever a `DockerMachine` of the cluster changes, so the
//! configuration follows the control plane as machines come and go.
//!
//! **Delete**: the load balancer container goes; the network goes once no container of the
//! cluster is left (the machines' own controller removes theirs; until then it waits);
//! then the finalizer.

use std::sync::Arc;

use base64::Engine as _;
use ironbell_cluster_api::{CONTROL_PLANE_LABEL, Machine, objects};
use ironbell_controller::{Controller, Next, Reconcile};
use ironbell_model::{Resource, TypeKey};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, ListParams, SharedStore, api};
use tracing::{Instrument, info, info_span};

use crate::api::{
    ApiEndpoint, DockerCluster, DockerClusterStatus, DockerMachine, condition, set_condition,
};
use crate::engine::ContainerSpec;
use crate::haproxy::{self, Backend};
use crate::{
    CLUSTER_FINALIZER, CONDITION_LOAD_BALANCER, Config, DEFAULT_LB_REPOSITORY, DEFAULT_LB_TAG,
    Error, KIND_CLUSTER_LABEL, container_name, get_cluster, kind_labels, load_balancer_name,
    network_name, owner_cluster_name,
};

/// Reconciles `DockerCluster`s (see the module documentation).
pub struct ClusterReconciler {
    store: SharedStore,
    config: Config,
    clusters: Api<DockerCluster>,
    machines: Api<DockerMachine>,
}

impl ClusterReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore, config: Config) -> Self {
        Self {
            clusters: api(&store),
            machines: api(&store),
            store,
            config,
        }
    }

    /// Runs the controller until the task is dropped: every `DockerCluster`, and again
    /// whenever a `DockerMachine` of its cluster changes.
    pub async fn run(self) {
        let concurrency = self.config.concurrency;
        let controller = Controller::<DockerCluster>::new("dockercluster", self.store.clone())
            .watches::<DockerMachine>(|key, m| {
            m.and_then(|m| m.metadata.label(ironbell_cluster_api::CLUSTER_NAME_LABEL))
                .map(|c| (key.0.clone(), c.to_string()))
                .into_iter()
                .collect()
        });
        controller.run(Arc::new(self), concurrency).await;
    }
}

#[async_trait::async_trait]
impl Reconcile<DockerCluster> for ClusterReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let span = info_span!("dockercluster", dockercluster = %format!("{}/{}", key.0, key.1));
        self.reconcile_cluster(key).instrument(span).await
    }
}

/// The load balancer image of `dc`: `<repository>/haproxy:<tag>`.
pub fn load_balancer_image(dc: &DockerCluster) -> String {
    let lb = &dc.spec.load_balancer;
    let repo = lb
        .image_repository
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_LB_REPOSITORY);
    let tag = lb
        .image_tag
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_LB_TAG);
    format!("{}/haproxy:{tag}", repo.trim_end_matches('/'))
}

impl ClusterReconciler {
    async fn reconcile_cluster(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let object = format!("DockerCluster {ns}/{name}");
        let dc = match self.clusters.get(ns, name).await {
            Ok(dc) => dc,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => return Err(Error::store(format!("get {object}"))(e)),
        };
        let cluster_name = owner_cluster_name(&dc.metadata).unwrap_or_else(|| name.clone());
        let cluster = get_cluster(&self.store, ns, &cluster_name).await?;
        if objects::is_paused(cluster.as_ref(), &dc.metadata) {
            return Ok(Next::After(self.config.wait));
        }
        if dc.metadata.deletion_timestamp.is_some() {
            return self.delete(&dc, &cluster_name, &object).await;
        }
        if cluster.is_none() {
            return Ok(Next::After(self.config.wait));
        }
        objects::ensure_finalizer(&self.store, &dc, CLUSTER_FINALIZER).await?;
        let engine = &self.config.engine;
        let network = network_name(&cluster_name);
        let lb = load_balancer_name(&cluster_name);
        let result = async {
            let addresses = engine
                .ensure_network(&network, &kind_labels(&cluster_name, None))
                .await?;
            if engine.container(&lb).await?.is_none() {
                let ip = addresses.load_balancer();
                info!(container = %lb, network = %network, ?ip, "creating the load balancer");
                engine
                    .create_container(&ContainerSpec {
                        name: lb.clone(),
                        image: load_balancer_image(&dc),
                        labels: kind_labels(&cluster_name, Some("external-load-balancer")),
                        network: network.clone(),
                        ip,
                        ..ContainerSpec::default()
                    })
                    .await?;
            }
            engine.start(&lb, false).await?;
            engine.container(&lb).await
        }
        .await;
        let info = match result {
            Ok(Some(info)) if info.running => info,
            Ok(_) => {
                return self
                    .fail(&dc, format!("load balancer container {lb} is not running"))
                    .await;
            }
            Err(e) => {
                let e = Error::engine(&object)(e);
                self.fail(&dc, e.to_string()).await?;
                return Err(e);
            }
        };
        let Some(address) = info.addresses.get(&network).cloned() else {
            return self
                .fail(
                    &dc,
                    format!("load balancer {lb} has no address on {network}"),
                )
                .await;
        };
        let backends = self.backends(ns, &cluster_name).await?;
        if let Err(e) = self.configure(&lb, &backends).await {
            let e = Error::engine(&object)(e);
            self.fail(&dc, e.to_string()).await?;
            return Err(e);
        }
        let endpoint = ApiEndpoint {
            host: address,
            port: haproxy::API_PORT,
        };
        let mut dc = dc;
        if dc.spec.control_plane_endpoint.as_ref() != Some(&endpoint) {
            info!(host = %endpoint.host, port = endpoint.port, "control-plane endpoint");
            dc = self
                .clusters
                .modify(ns, name, |d| {
                    d.spec.control_plane_endpoint = Some(endpoint.clone())
                })
                .await
                .map_err(Error::store(format!("set the endpoint of {object}")))?;
        }
        self.set_status(&dc, true, None).await?;
        Ok(Next::After(self.config.resync))
    }

    /// The control-plane machines of `cluster` behind the load balancer: not being deleted,
    /// with an address.
    async fn backends(&self, ns: &str, cluster: &str) -> Result<Vec<Backend>, Error> {
        let (machines, _) = self
            .machines
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!(
                "list the DockerMachines of {ns}/{cluster}"
            )))?;
        let (owners, _) = api::<Machine>(&self.store)
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!("list the Machines of {ns}/{cluster}")))?;
        let control_plane = |m: &DockerMachine| {
            objects::owner_name::<Machine>(&m.metadata).is_some_and(|owner| {
                owners
                    .iter()
                    .any(|o| o.name() == owner && o.metadata.label(CONTROL_PLANE_LABEL).is_some())
            })
        };
        Ok(machines
            .iter()
            .filter(|m| {
                m.metadata.label(ironbell_cluster_api::CLUSTER_NAME_LABEL) == Some(cluster)
                    && m.metadata.deletion_timestamp.is_none()
                    && control_plane(m)
            })
            .filter_map(|m| {
                let address = m
                    .status
                    .as_ref()?
                    .addresses
                    .iter()
                    .find(|a| a.type_ == "InternalIP")?
                    .address
                    .clone();
                Some(Backend {
                    name: container_name(cluster, m.name()),
                    address,
                })
            })
            .collect())
    }

    /// Writes the configuration for `backends` into the load balancer and reloads haproxy,
    /// unless the one there is it already.
    async fn configure(&self, lb: &str, backends: &[Backend]) -> Result<(), crate::EngineError> {
        let engine = &self.config.engine;
        let want = haproxy::config(backends);
        let cat = vec!["cat".to_string(), haproxy::CONFIG_PATH.to_string()];
        let current = engine.exec(lb, "read the configuration", &cat).await?;
        if current == want {
            return Ok(());
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&want);
        let script = format!(
            "printf %s '{encoded}' | base64 -d > {path}.new && mv {path}.new {path}",
            path = haproxy::CONFIG_PATH
        );
        engine
            .exec(
                lb,
                "write the configuration",
                &["/bin/sh".into(), "-c".into(), script],
            )
            .await?;
        engine.signal(lb, "SIGUSR2").await?;
        let names: Vec<&str> = backends.iter().map(|b| b.name.as_str()).collect();
        info!(container = %lb, servers = ?names, "load balancer reconfigured");
        Ok(())
    }

    /// Records a failure in the `LoadBalancerAvailable` condition and looks again later.
    async fn fail(&self, dc: &DockerCluster, message: String) -> Result<Next, Error> {
        self.set_status(dc, false, Some(("LoadBalancerProvisioningFailed", message)))
            .await?;
        Ok(Next::After(self.config.wait))
    }

    async fn set_status(
        &self,
        dc: &DockerCluster,
        ready: bool,
        failure: Option<(&str, String)>,
    ) -> Result<(), Error> {
        let mut status = dc.status.clone().unwrap_or_default();
        let mut want = DockerClusterStatus {
            ready: ready || status.ready,
            conditions: status.conditions.clone(),
        };
        set_condition(
            &mut want.conditions,
            condition(CONDITION_LOAD_BALANCER, failure),
        );
        let same_condition = |a: &DockerClusterStatus, b: &DockerClusterStatus| {
            a.conditions
                .iter()
                .map(|c| (&c.type_, &c.status, &c.message))
                .eq(b
                    .conditions
                    .iter()
                    .map(|c| (&c.type_, &c.status, &c.message)))
        };
        if status.ready == want.ready && same_condition(&status, &want) {
            return Ok(());
        }
        status = want;
        self.clusters
            .modify_status(dc.namespace(), dc.name(), |d| {
                d.status = Some(status.clone())
            })
            .await
            .map_err(Error::store(format!(
                "update the status of DockerCluster {}/{}",
                dc.namespace(),
                dc.name()
            )))?;
        Ok(())
    }

    async fn delete(&self, dc: &DockerCluster, cluster: &str, object: &str) -> Result<Next, Error> {
        let engine = &self.config.engine;
        let lb = load_balancer_name(cluster);
        engine
            .remove_container(&lb)
            .await
            .map_err(Error::engine(object))?;
        let left = engine
            .containers_labelled(KIND_CLUSTER_LABEL, cluster)
            .await
            .map_err(Error::engine(object))?;
        if !left.is_empty() {
            info!(containers = ?left, "waiting for the cluster's containers to go");
            return Ok(Next::After(self.config.wait));
        }
        engine
            .remove_network(&network_name(cluster))
            .await
            .map_err(Error::engine(object))?;
        info!(container = %lb, "removed the load balancer and the network");
        objects::remove_finalizer(
            &self.store,
            &TypeKey::of::<DockerCluster>(),
            dc.namespace(),
            dc.name(),
            CLUSTER_FINALIZER,
        )
        .await?;
        Ok(Next::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_capi::api::docker::DockerLoadBalancer;

    #[test]
    fn the_load_balancer_image_is_capds() {
        let mut dc = DockerCluster::default();
        assert_eq!(
            load_balancer_image(&dc),
            "kindest/haproxy:v20230606-42a2262b"
        );
        dc.spec.load_balancer = DockerLoadBalancer {
            image_repository: Some("ironbell-test/".into()),
            image_tag: Some("abc".into()),
        };
        assert_eq!(load_balancer_image(&dc), "ironbell-test/haproxy:abc");
    }
}
