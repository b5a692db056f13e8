//! # ironbell-lifecycle-tinkerbell
//!
//! `ironbell create|upgrade|delete cluster` on bare metal: the tasks of EKS Anywhere's task
//! lists ([`ironbell_lifecycle::plan`]) for the Tinkerbell provider, run by the lifecycle
//! runner over an ironbell *plane* (boot, metadata, workflow and BMC services and the
//! cluster controllers over one store, [`ironbell_ops::plane`]).
//!
//! What a management cluster's create does here, task by task ([`tasks`] has the details):
//! the validations (the spec, the Hardware per selector, the ports of the Tinkerbell IP, the
//! control-plane endpoint, every BMC, and a rival DHCP server on the provisioning network);
//! the *bootstrap plane* started in this process on the embedded store in
//! `NAME/generated/`, at the spec's Tinkerbell IP (no kind, no container engine);
//! `hardware.csv` imported and the BMCs awaited; the Cluster API objects rendered
//! ([`render`]) and applied, then awaited until every machine is provisioned and its node
//! Ready ([`wait`]); the plane handed over to a service that outlives the command
//! ([`service`]: a systemd unit where systemd runs, else a detached `ironbell serve all`),
//! which stays the cluster's management plane on the admin machine. Upgrade re-renders
//! (templates whose content changed get new names, so machines roll) and waits for the
//! rollout; delete deletes the Cluster (the controllers power every machine off through its
//! BMC and release its Hardware) and stops the plane.
//!
//! What it is not: the task runner, the journal and the checkpoint file
//! ([`ironbell_lifecycle`]), the controllers that do the provisioning
//! (`ironbell-cluster-api`, `ironbell-provider-tinkerbell`), the renderer of the Cluster API
//! objects (`ironbell-capi`) or argument parsing (the CLI). The move of the management
//! plane onto the new cluster is a task of its own (`capi-management-move`), a no-op
//! while the plane stays on the admin machine.
//!
//! Start reading at [`run`], then [`tasks::Shared`]'s tasks, then [`render::plan`] and
//! [`wait::Tinkerbell`]. The provider-neutral halves (the objects fitted and applied, the
//! waits, the shared task bodies) are `ironbell_lifecycle`'s `objects`, `wait` and `steps`;
//! the bootstrap plane is `ironbell_ops::plane::BootstrapPlane`.

pub mod checks;
pub use ironbell_ops::service;
pub mod render;
pub mod tasks;
pub mod wait;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ironbell_cluster_spec::Spec;
use ironbell_lifecycle::provider::{Check, Provider, ProviderError, RenderInput};
use ironbell_lifecycle::{Command, Context, Inputs, Output, Pipeline, RunOptions, RunSummary};
use ironbell_ops::plane::PlaneConfig;
use ironbell_ops::spec::{StoreHandle, StoreSpec};

/// The namespace EKS Anywhere puts a cluster's objects and its Hardware in.
pub const NAMESPACE: &str = ironbell_lifecycle::NAMESPACE;

/// How long the lifecycle waits for things that take time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Every BMC `Contactable` after the import (EKS Anywhere's `--bmc-timeout`, 5 min).
    pub bmc: Duration,
    /// The cluster ready, a rollout done, or the cluster gone (EKS Anywhere: 1 h).
    pub cluster: Duration,
    /// The plane's service answering after it was started.
    pub service: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            bmc: Duration::from_secs(5 * 60),
            cluster: Duration::from_secs(60 * 60),
            service: Duration::from_secs(60),
        }
    }
}

/// Everything a run needs besides the spec.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The spec file (its folder holds `NAME/`).
    pub spec_path: PathBuf,
    /// `--hardware-csv`: the machines to import (required by a create).
    pub hardware_csv: Option<PathBuf>,
    /// The plane's store: the bootstrap plane's embedded store on a management create, the
    /// management plane's for the rest.
    pub store: StoreHandle,
    /// The services of the bootstrap plane, at the Tinkerbell IP.
    pub plane: PlaneConfig,
    /// On a management delete of a cluster whose plane moved onto its machines: that
    /// plane's store ([`ironbell_ops::native::moved_plane`]). The cluster moves back from it to `store`, a new
    /// bootstrap plane's, before its machines are powered off.
    pub moved_plane: Option<StoreSpec>,
    /// How the plane runs as a service once the cluster exists.
    pub service: service::ServiceSpec,
    /// How long to wait.
    pub timeouts: Timeouts,
    /// The clock, Unix milliseconds (template names).
    pub now_unix_ms: i64,
}

/// Why a command could not start (a task's failure is the runner's
/// [`ironbell_lifecycle::RunError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster's folder cannot be named after it.
    #[error(transparent)]
    Layout(#[from] ironbell_lifecycle::task::LayoutError),
    /// The run itself failed (a task, the journal, the lock).
    #[error(transparent)]
    Run(#[from] ironbell_lifecycle::RunError),
    /// An input file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The spec could not be hashed for the journal.
    #[error("the spec cannot be written as YAML: {0}")]
    Spec(#[from] serde_yaml_ng::Error),
    /// `NAME/NAME.store` could not be read, or does not hold a store spec.
    #[error(transparent)]
    StoreFile(#[from] ironbell_ops::native::StoreFileError),
    /// The spec is not a Tinkerbell spec.
    #[error("cluster {cluster}: the {provider} provider cannot run here (only Tinkerbell)")]
    Provider {
        /// The cluster.
        cluster: String,
        /// Its provider.
        provider: String,
    },
}

/// The Tinkerbell provider as the lifecycle sees it: its name and its offline checks (the
/// network checks need the run's settings: [`checks`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tinkerbell;

impl Provider for Tinkerbell {
    fn name(&self) -> &str {
        "Tinkerbell"
    }

    fn validations(&self, spec: &Spec, command: Command) -> Vec<Check> {
        let _ = command;
        checks::spec_checks(spec)
    }

    fn render(
        &self,
        input: &RenderInput<'_>,
    ) -> Result<Vec<ironbell_model::DynamicObject>, ProviderError> {
        let release = render::release(input.spec)?;
        Ok(render::render(
            input.spec,
            &release,
            None,
            &ironbell_capi::tinkerbell::TemplateNames::from_cluster_clock(
                &input.spec.cluster,
                input.now_unix_ms,
            ),
        )?)
    }
}

/// Runs `command` on the cluster of `spec` (read from `settings.spec_path`), printing to
/// `out`: the journal decides what runs (see [`ironbell_lifecycle::runner`]).
pub async fn run(
    command: Command,
    spec: Spec,
    mut settings: Settings,
    out: Output,
    options: RunOptions,
) -> Result<RunSummary, Error> {
    if spec.provider() != ironbell_cluster_spec::Provider::Tinkerbell {
        return Err(Error::Provider {
            cluster: spec.name().to_string(),
            provider: spec.provider().name().to_string(),
        });
    }
    let spec = Arc::new(spec.with_defaults());
    let mut inputs = Inputs::new().spec("spec", &spec)?;
    if let Some(csv) = &settings.hardware_csv {
        inputs = inputs
            .file("hardware-csv", csv)
            .map_err(|source| Error::Read {
                path: csv.clone(),
                source,
            })?;
    }
    // The replicas of a native plane wait in DHCP standby until the move is done; the
    // Tinkerbell IP is a virtual address that the bootstrap plane holds until it stops, and
    // then the replica that leads.
    let tinkerbell_ip = settings.plane.network.public_ip;
    // DHCP on the provisioning interface: the one holding the Tinkerbell IP (or whose
    // subnet holds it, for a virtual one not taken yet), unless --interface names one. A
    // socket bound to no interface cannot broadcast its replies on a host without a
    // default route.
    if let Some(boot) = settings.plane.boot.as_mut()
        && boot.interface.is_none()
    {
        boot.interface = checks::provisioning_interface(tinkerbell_ip);
        if let Some(i) = &boot.interface
            && !settings
                .service
                .args
                .iter()
                .any(|a| a.starts_with("--interface"))
        {
            settings.service.args.push(format!("--interface={i}"));
        }
    }
    let hookos_url = settings
        .plane
        .boot
        .as_ref()
        .and_then(|b| b.artifacts_url.clone());
    if let Some(ironbell_ops::plane::NodeBootstrapper::Native { serve_args, .. }) =
        settings.plane.cluster.as_mut().map(|c| &mut c.bootstrapper)
    {
        if let Some(url) = hookos_url
            && !serve_args.iter().any(|a| a == "--hookos-url")
        {
            serve_args.extend(["--hookos-url".into(), url]);
        }
        if !serve_args.iter().any(|a| a == "--standby") {
            serve_args.push("--standby".into());
        }
        if !serve_args.iter().any(|a| a == "--vip") {
            serve_args.extend(["--vip".into(), tinkerbell_ip.to_string()]);
        }
        settings.plane.vip = Some(ironbell_vip::Vip::new(tinkerbell_ip));
    }
    let store = settings.store.store().clone();
    let spec_path = settings.spec_path.clone();
    let shared = Arc::new(tasks::Shared::new(spec.clone(), settings));
    let pipeline = Pipeline::of_steps(command, &shared)?;
    let mut ctx = Context::new(spec, &spec_path, store, Arc::new(Tinkerbell), out)?;
    let result = ironbell_lifecycle::run(&pipeline, &mut ctx, &inputs, options).await;
    // A bootstrap plane this run started in-process stops with it (a resumed run starts it
    // again); the service plane, if started, lives on.
    shared.stop_bootstrap_plane().await;
    let moved = result.is_ok() && command == Command::CreateManagement && shared.native();
    let bootstrap_store = shared.bootstrap_store_path();
    drop((pipeline, ctx, shared));
    if moved && let Some(path) = bootstrap_store {
        ironbell_ops::native::keep_moved(&path)?;
    }
    Ok(result?)
}

/// The store of management cluster `cluster`'s plane: the one `NAME/NAME.store` names once
/// the plane moved onto the cluster's machines ([`ironbell_ops::native::moved_plane`]), else
/// the embedded store in `NAME/generated/NAME.db` ([`default_store_path`]).
pub fn management_store(spec_path: &Path, cluster: &str) -> Result<StoreSpec, Error> {
    match ironbell_ops::native::moved_plane(spec_path, cluster)? {
        Some(spec) => Ok(spec),
        None => Ok(StoreSpec::Sqlite(default_store_path(spec_path, cluster)?)),
    }
}

/// `NAME/generated/NAME.db` beside `spec_path`: where a management cluster's plane keeps
/// its store.
pub fn default_store_path(spec_path: &Path, cluster: &str) -> Result<PathBuf, Error> {
    let layout = ironbell_lifecycle::Layout::beside(spec_path, cluster)?;
    Ok(layout.generated_dir().join(format!("{cluster}.db")))
}
