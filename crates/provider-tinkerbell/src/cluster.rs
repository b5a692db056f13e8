//! The `TinkerbellCluster` controller (CAPT v0.6.5 `controller/cluster`): once the owner
//! Cluster API `Cluster` exists and is not paused, fill `spec.controlPlaneEndpoint` from
//! the `Cluster` when it is unset (port 6443 when none is given) and set `status.ready`.

use std::sync::Arc;
use std::time::Duration;

use ironbell_controller::{Controller, Next, Reconcile};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore, api};
use tracing::info;

use crate::api::{ApiEndpoint, TinkerbellCluster, TinkerbellClusterStatus};
use crate::capi_view::{ClusterView, owner_of_kind};
use crate::error::Error;
use crate::{CLUSTER_NAME_LABEL, PAUSED_ANNOTATION};

/// The API server port when neither object gives one.
pub const DEFAULT_API_PORT: i32 = 6443;

/// Reconciles `TinkerbellCluster`s.
pub struct ClusterReconciler {
    store: SharedStore,
    clusters: Api<TinkerbellCluster>,
    wait: Duration,
}

impl ClusterReconciler {
    /// A reconciler over `store` that looks again every `wait` while the owner `Cluster` is
    /// missing or paused.
    pub fn new(store: SharedStore, wait: Duration) -> Self {
        Self {
            clusters: api(&store),
            store,
            wait,
        }
    }

    /// Runs the controller until the task is dropped.
    pub async fn run(self) {
        let controller =
            Controller::<TinkerbellCluster>::new("tinkerbellcluster", self.store.clone());
        controller.run(Arc::new(self), 2).await;
    }
}

/// The owner `Cluster`'s name: an owner reference, else the cluster-name label.
fn owner_cluster(tc: &TinkerbellCluster) -> Option<String> {
    owner_of_kind(&tc.metadata, "Cluster")
        .map(|r| r.name.clone())
        .or_else(|| tc.metadata.label(CLUSTER_NAME_LABEL).map(String::from))
}

#[async_trait::async_trait]
impl Reconcile<TinkerbellCluster> for ClusterReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let object = format!("TinkerbellCluster {ns}/{name}");
        let tc = match self.clusters.get(ns, name).await {
            Ok(tc) => tc,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => return Err(Error::store(format!("get {object}"))(e)),
        };
        if tc.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let Some(cluster_name) = owner_cluster(&tc) else {
            return Ok(Next::After(self.wait));
        };
        let Some(cluster) = ClusterView::get(&self.store, ns, &cluster_name).await? else {
            return Ok(Next::After(self.wait));
        };
        let paused_here = tc
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(PAUSED_ANNOTATION));
        if cluster.paused || paused_here {
            return Ok(Next::After(self.wait));
        }
        let mut endpoint = tc.spec.control_plane_endpoint.clone().unwrap_or_default();
        if endpoint.host.is_empty()
            && let Some((host, port)) = &cluster.endpoint
        {
            endpoint = ApiEndpoint {
                host: host.clone(),
                port: *port,
            };
        }
        if endpoint.host.is_empty() {
            return Err(Error::Invalid {
                object,
                message: format!(
                    "no control plane endpoint: neither it nor Cluster {ns}/{cluster_name} has spec.controlPlaneEndpoint.host"
                ),
            });
        }
        if endpoint.port == 0 {
            endpoint.port = DEFAULT_API_PORT;
        }
        let mut tc = tc;
        if tc.spec.control_plane_endpoint.as_ref() != Some(&endpoint) {
            tc.spec.control_plane_endpoint = Some(endpoint);
            tc = self
                .clusters
                .update(&tc)
                .await
                .map_err(Error::store(format!("set the endpoint of {object}")))?;
        }
        if !tc.status.as_ref().is_some_and(|s| s.ready) {
            tc.status = Some(TinkerbellClusterStatus { ready: true });
            self.clusters
                .update_status(&tc)
                .await
                .map_err(Error::store(format!("mark {object} ready")))?;
            info!(tinkerbellcluster = %format!("{ns}/{name}"), "ready");
        }
        Ok(Next::Done)
    }
}
