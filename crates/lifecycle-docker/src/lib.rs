//! # ironbell-lifecycle-docker
//!
//! `ironbell create|upgrade|delete cluster -f docker-cluster.yaml`: EKS Anywhere's task
//! lists ([`ironbell_lifecycle::plan`]) for the Docker provider, on the same runner,
//! journal and resume as bare metal, over a plane that runs the Cluster API controllers and
//! the Docker provider's (`ironbell-provider-docker`) on a Docker engine. Each machine is a
//! container; nothing boots over the network, so the plane runs no DHCP, TFTP, HTTP or
//! metadata service: only the controllers and the phone-home receiver the `plain` node
//! bootstrapper's containers post to ([`ironbell_ops::plane::DockerOptions`]).
//!
//! What a management cluster's create does here, task by task ([`tasks`] has the details):
//! the validations (the spec, then the engine: it answers, every image the rendered objects
//! name is there, the cluster's container and network names are free); the *bootstrap
//! plane* started in this process on the embedded store in `NAME/generated/`; the Cluster
//! API objects rendered (`ironbell_provider_docker::lifecycle`), fitted to the store and
//! applied (`ironbell_lifecycle::objects`), then awaited until every machine runs and its
//! node is Ready (`ironbell_lifecycle::wait`, with [`Engine`]'s health: an engine that
//! stops answering fails the task, naming it, and the run resumes once it is back); the
//! cluster's config in `NAME/`; the plane handed over to a service that outlives the
//! command (`ironbell serve cluster --docker-host ...` on the same store:
//! `ironbell_ops::service`, a systemd unit where systemd runs, else a detached process), as
//! bare metal does. Upgrade re-renders (a changed Kubernetes version names a
//! new node image; templates whose content changed get new names, so containers are
//! replaced one at a time, `maxSurge` 1) and waits for the rollout; delete deletes the
//! Cluster and waits until the controllers removed every container, volume and network,
//! then stops the service.
//!
//! Why a crate of its own rather than a module of `ironbell-provider-docker`: the tasks
//! start a plane (`ironbell-ops`), and `ironbell-ops` runs the provider's controllers, so
//! the provider cannot depend on it; this crate sits above both, as
//! `ironbell-lifecycle-tinkerbell` does for bare metal. Both share the provider-neutral
//! halves in `ironbell-lifecycle` (`objects`, `wait`, `steps`) and the bootstrap plane
//! (`ironbell_ops::plane::BootstrapPlane`).
//!
//! **The move** (`--node-bootstrapper native`, as EKS Anywhere's Docker provider moves CAPD
//! into the cluster it made): the control-plane containers become the cluster's management
//! plane instead of a service on the admin machine. Each runs an etcd member and a replica
//! of the plane (`ironbell node up`, with the Docker controllers on the host's engine,
//! whose socket every node container mounts, and no DHCP, TFTP or syslog); the node image
//! has Debian's `etcd-server`, and the `ironbell` binary is this command's own, mounted
//! read-only at `/usr/local/bin/ironbell` into the control-plane containers (so the
//! replicas run the admin machine's version; it needs a local engine, and a binary linked
//! against a C library the node image has). The image runs no systemd: the node
//! bootstrapper's user-data starts `ironbell node up` as a process of the container
//! (`ironbell_provider_docker::cloudinit`), then `ironbell node wait`, then phones home.
//! `install-resources-on-management-cluster` waits until the plane formed and writes
//! `NAME/NAME.store`; `capi-management-move` moves the cluster onto it and stops the
//! bootstrap plane ([`ironbell_ops::native`], the same steps as bare metal); upgrade finds
//! the plane through `NAME/NAME.store`; delete moves the cluster back to a bootstrap plane
//! on the admin machine, which deletes the containers.
//!
//! Start reading at [`run`], then [`tasks::Shared`]'s tasks.

pub mod tasks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ironbell_cluster_spec::Spec;
use ironbell_lifecycle::{Command, Context, Inputs, Output, Pipeline, RunOptions, RunSummary};
use ironbell_ops::plane::PlaneConfig;
use ironbell_ops::spec::StoreHandle;
use ironbell_provider_docker::Engine;
use ironbell_provider_docker::lifecycle::Docker;

/// Everything a run needs besides the spec.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The spec file (its folder holds `NAME/`).
    pub spec_path: PathBuf,
    /// The plane's store: the embedded store in `NAME/generated/NAME.db` of a management
    /// cluster, or the one given (the cluster's own plane, `NAME/NAME.store`, once moved).
    pub store: StoreHandle,
    /// On a management delete of a cluster whose plane moved onto its control-plane
    /// containers: that plane's store ([`ironbell_ops::native::moved_plane`]). The cluster
    /// moves back from it to `store`, a new bootstrap plane's, which deletes the containers.
    pub moved_plane: Option<ironbell_ops::spec::StoreSpec>,
    /// The plane: the cluster controllers (the `plain` bootstrapper posting to the
    /// phone-home) and the Docker options (engine, phone-home address).
    pub plane: PlaneConfig,
    /// The cluster ready, a rollout done, or the cluster gone.
    pub timeout: Duration,
    /// How long the engine may not answer during a wait before the task fails.
    pub engine_grace: Duration,
    /// How a management cluster's plane runs as a service once it exists (`ironbell
    /// serve cluster` with the same controllers), and how long it gets to answer.
    pub service: ironbell_ops::service::ServiceSpec,
    /// How long the service gets to answer, or to stop.
    pub service_timeout: Duration,
    /// The clock, Unix milliseconds (template names).
    pub now_unix_ms: i64,
}

/// Why a run failed: it could not start, or the runner's error (a task, the journal,
/// the lock; the runner printed it with how to resume).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run itself failed.
    #[error(transparent)]
    Run(#[from] ironbell_lifecycle::RunError),
    /// The bootstrap plane's store could not be kept as `bootstrap.db.moved` after the
    /// move.
    #[error(transparent)]
    Moved(#[from] ironbell_ops::native::StoreFileError),
    /// The run could not start (the spec's provider or folder, the engine's address).
    #[error("cluster {cluster}: {message}")]
    Start {
        /// The cluster.
        cluster: String,
        /// What is wrong.
        message: String,
    },
}

/// Runs `command` on the Docker cluster of `spec` (read from `settings.spec_path`),
/// printing to `out`: the journal decides what runs (see [`ironbell_lifecycle::runner`]).
pub async fn run(
    command: Command,
    spec: Spec,
    settings: Settings,
    out: Output,
    options: RunOptions,
) -> Result<RunSummary, Error> {
    let cluster = spec.name().to_string();
    let start = |message: String| Error::Start {
        cluster: cluster.clone(),
        message,
    };
    if spec.provider() != ironbell_cluster_spec::Provider::Docker {
        return Err(start(format!(
            "the {} provider cannot run here (only Docker)",
            spec.provider().name()
        )));
    }
    let Some(docker) = &settings.plane.docker else {
        return Err(start(
            "the plane runs no Docker controllers (no engine given)".into(),
        ));
    };
    let engine = Engine::connect(&docker.engine).map_err(|e| start(e.to_string()))?;
    let spec = Arc::new(spec.with_defaults());
    let inputs = Inputs::new()
        .spec("spec", &spec)
        .map_err(|e| start(format!("the spec cannot be written as YAML: {e}")))?;
    let store = settings.store.store().clone();
    let spec_path = settings.spec_path.clone();
    let shared = Arc::new(tasks::Shared::new(spec.clone(), settings, engine));
    let pipeline = Pipeline::of_steps(command, &shared)?;
    let mut ctx = Context::new(spec, &spec_path, store, Arc::new(Docker), out)
        .map_err(|e| start(e.to_string()))?;
    let result = ironbell_lifecycle::run(&pipeline, &mut ctx, &inputs, options).await;
    // The plane this run started stops with it (a resumed run starts it again).
    shared.stop_plane().await;
    let moved = result.is_ok() && command == Command::CreateManagement && shared.native();
    let bootstrap_store = match shared.store_spec() {
        ironbell_ops::spec::StoreSpec::Sqlite(path) => Some(path.clone()),
        _ => None,
    };
    drop((pipeline, ctx, shared));
    if moved && let Some(path) = bootstrap_store {
        ironbell_ops::native::keep_moved(&path)?;
    }
    Ok(result?)
}
