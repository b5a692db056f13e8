//! # ironbell-provider-docker
//!
//! The Docker infrastructure provider: what Cluster API's Docker provider (CAPD) does, as
//! ironbell controllers over the store, driving a real Docker engine through its API
//! (`bollard`). Each machine of a cluster is a container, as with kind: how EKS Anywhere's
//! developers test, and here the proof that providers sit on one lifecycle core.
//!
//! - [`api`]: CAPD's kinds `DockerCluster`, `DockerMachineTemplate` and `DockerMachine`;
//!   [`register_kinds`] adds them to a [`KindRegistry`].
//! - [`cluster`]: the `DockerCluster` controller: the cluster's network and its load
//!   balancer container (`<cluster>-lb`, haproxy), whose configuration lists the
//!   control-plane containers and is rewritten and reloaded as they come and go
//!   ([`haproxy`]); its address becomes the control-plane endpoint.
//! - [`machine`]: the `DockerMachine` controller: the node container (kind's labels, CAPD's
//!   name, a `/var` volume), the user-data applied in it as CAPD does ([`cloudinit`]:
//!   files written and commands run through the exec API), the provider ID
//!   `docker:////<container>` and the container's addresses.
//! - [`phone_home`]: where node containers running the `plain` node bootstrapper's
//!   user-data report in; their `v1 Node` becomes Ready, which is what the Cluster API
//!   `Machine` controller waits for.
//! - [`engine`]: the engine calls, idempotent, with errors that name the engine and the
//!   object (and the capability refused, when the engine refuses one).
//! - [`lifecycle`]: the provider as the cluster lifecycle sees it: the render of an EKS
//!   Anywhere Docker spec into these kinds, and the validations that need the engine.
//!
//! Containers never run `--privileged` by default: engines that lack `CAP_SYS_RESOURCE`
//! (this CI's) refuse it, so nodes get every capability but `SYS_RESOURCE` and no seccomp
//! filter ([`engine::Security`]).
//!
//! What it is not: the Cluster API core controllers (`ironbell-cluster-api`), the rendering
//! of a Docker cluster's objects from an EKS Anywhere spec (`ironbell-capi`'s `docker`
//! module), or Kubernetes: the `kubeadm` node bootstrapper's user-data is rendered for these
//! nodes but cannot run here (no Kubernetes binaries can be installed); the `plain` one runs
//! end to end. Images are never pulled (no registry is reachable here): the spec names
//! images the engine has (`scripts/docker-images` builds the tests').
//!
//! The store deletes at once, so a delete that must wait for a controller goes through
//! `ironbell_store::finalizers::request_delete` (as with every provider here).
//!
//! Start reading at [`machine::MachineReconciler`], then [`cluster::ClusterReconciler`].

pub mod api;
pub mod cloudinit;
pub mod cluster;
pub mod engine;
pub mod haproxy;
pub mod lifecycle;
pub mod machine;
pub mod phone_home;

use std::collections::HashMap;
use std::time::Duration;

use ironbell_cluster_api::{Cluster, objects};
use ironbell_model::{KindRegistry, ObjectMeta, RegistryError};
use ironbell_store::{SharedStore, StoreError, api as store_api};

pub use api::{DockerCluster, DockerMachine, DockerMachineTemplate};
pub use engine::{Engine, EngineError, Security};

/// kind's label naming the cluster of a container (and here of its network and volumes).
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// kind's label giving a container's role: `control-plane`, `worker` or
/// `external-load-balancer`.
pub const KIND_ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// Finalizer of a `DockerMachine`: its container and volume go first.
pub const MACHINE_FINALIZER: &str = "dockermachine.infrastructure.cluster.x-k8s.io";
/// Finalizer of a `DockerCluster`: its load balancer and network go first.
pub const CLUSTER_FINALIZER: &str = "dockercluster.infrastructure.cluster.x-k8s.io";
/// The file CAPD writes in a node once its user-data ran (kubeadm's bootstrap sentinel).
pub const BOOTSTRAP_SENTINEL: &str = "/run/cluster-api/bootstrap-success.complete";
/// Condition: the container exists and runs (`False` with the engine's error otherwise).
pub const CONDITION_CONTAINER: &str = "ContainerProvisioned";
/// Condition: the user-data ran in the container.
pub const CONDITION_BOOTSTRAP: &str = "BootstrapExecSucceeded";
/// Condition: the load balancer container runs with its configuration.
pub const CONDITION_LOAD_BALANCER: &str = "LoadBalancerAvailable";
/// CAPD's default load balancer image repository and tag (kindest/haproxy).
pub const DEFAULT_LB_REPOSITORY: &str = "kindest";
/// CAPD's default load balancer image tag.
pub const DEFAULT_LB_TAG: &str = "v20230606-42a2262b";

/// How the controllers behave.
#[derive(Clone, Debug)]
pub struct Config {
    /// The engine containers run on.
    pub engine: Engine,
    /// The node image of a machine whose `customImage` is null (CAPD: kind's node image).
    pub default_node_image: String,
    /// How node containers are confined.
    pub security: Security,
    /// How long to wait before looking again while something is not there yet.
    pub wait: Duration,
    /// How often a ready object is looked at again: a container the engine stopped (the
    /// engine restarted, a container killed) is started again.
    pub resync: Duration,
    /// Objects reconciled at once per controller.
    pub concurrency: usize,
}

impl Config {
    /// Defaults for `engine`: kind's node image, no `--privileged`, look again after 2 s
    /// while waiting and every 30 s once ready, 4 at once.
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            default_node_image: "kindest/node:v1.29.2".into(),
            security: Security::default(),
            wait: Duration::from_secs(2),
            resync: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// Runs both controllers until the future is dropped.
pub async fn run(store: SharedStore, config: Config) {
    let clusters = cluster::ClusterReconciler::new(store.clone(), config.clone());
    let machines = machine::MachineReconciler::new(store, config);
    tokio::join!(clusters.run(), machines.run());
}

/// Adds this provider's kinds to `registry`.
pub fn register_kinds(registry: &mut KindRegistry) -> Result<(), RegistryError> {
    registry
        .register::<DockerCluster>()?
        .register::<DockerMachineTemplate>()?
        .register::<DockerMachine>()?;
    Ok(())
}

/// CAPD's container name of machine `machine` of `cluster`: the machine's name when it
/// starts with the cluster's, else `<cluster>-<machine>`.
pub fn container_name(cluster: &str, machine: &str) -> String {
    if machine.starts_with(cluster) {
        machine.to_string()
    } else {
        format!("{cluster}-{machine}")
    }
}

/// The load balancer container of `cluster`.
pub fn load_balancer_name(cluster: &str) -> String {
    format!("{cluster}-lb")
}

/// The Docker network of `cluster` (one per cluster, named after it).
pub fn network_name(cluster: &str) -> String {
    cluster.to_string()
}

/// The provider ID of container `name`.
pub fn provider_id(name: &str) -> String {
    format!("docker:////{name}")
}

/// kind's labels for a container, network or volume of `cluster` with `role`.
pub fn kind_labels(cluster: &str, role: Option<&str>) -> HashMap<String, String> {
    let mut labels = HashMap::from([(KIND_CLUSTER_LABEL.to_string(), cluster.to_string())]);
    if let Some(role) = role {
        labels.insert(KIND_ROLE_LABEL.into(), role.into());
    }
    labels
}

/// A reconcile failed, naming the object it was about; retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store operation failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done, naming the object.
        what: String,
        /// The store's error.
        source: StoreError,
    },
    /// A Cluster API helper failed.
    #[error(transparent)]
    ClusterApi(#[from] ironbell_cluster_api::Error),
    /// The engine failed or refused.
    #[error("{object}: {source}")]
    Engine {
        /// The object, `Kind NS/NAME`.
        object: String,
        /// The engine's error.
        source: EngineError,
    },
    /// The user-data cannot be applied.
    #[error("{object}: bootstrap data: {source}")]
    UserData {
        /// The object.
        object: String,
        /// Why.
        source: cloudinit::UserDataError,
    },
}

impl Error {
    /// A closure wrapping a store error with what was being done.
    pub(crate) fn store(what: impl Into<String>) -> impl FnOnce(StoreError) -> Self {
        let what = what.into();
        move |source| Self::Store { what, source }
    }

    /// A closure wrapping an engine error with the object.
    pub(crate) fn engine(object: &str) -> impl FnOnce(EngineError) -> Self + '_ {
        move |source| Self::Engine {
            object: object.to_string(),
            source,
        }
    }
}

/// The owner `Cluster`'s name of an infrastructure object: an owner reference, else the
/// cluster-name label.
pub(crate) fn owner_cluster_name(meta: &ObjectMeta) -> Option<String> {
    objects::owner_name::<Cluster>(meta)
        .map(str::to_string)
        .or_else(|| {
            meta.label(ironbell_cluster_api::CLUSTER_NAME_LABEL)
                .map(str::to_string)
        })
}

/// The `Cluster` `ns/name`, if it exists.
pub(crate) async fn get_cluster(
    store: &SharedStore,
    ns: &str,
    name: &str,
) -> Result<Option<Cluster>, Error> {
    match store_api::<Cluster>(store).get(ns, name).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::store(format!("get Cluster {ns}/{name}"))(e)),
    }
}
