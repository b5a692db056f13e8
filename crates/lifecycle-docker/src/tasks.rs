//! The tasks: one [`ironbell_lifecycle::Step`] per task name of [`ironbell_lifecycle::plan`], all sharing the
//! run's [`Shared`] state (the settings, the engine, the bootstrap plane when this process
//! runs one).
//!
//! Each task is idempotent (the runner runs it again after a crash). What each does:
//!
//! | task | here |
//! |---|---|
//! | `setup-validate`, `setup-validate-create` | the spec, the engine answers, every image present (nothing is pulled), the cluster's names free |
//! | `bootstrap-cluster-init`, `install-capi-components-bootstrap` | starts the bootstrap plane in this process: the Cluster API and Docker controllers and the phone-home, on the store in `NAME/generated/` |
//! | `workload-cluster-init`, `create-workload-cluster` | renders, fits and applies the Cluster API objects, waits until every container runs and its node is Ready |
//! | `install-resources-on-management-cluster` | hands the plane over to a service that outlives the command (`ironbell serve cluster --docker-host ...`, `ironbell_ops::service`); with the `native` bootstrapper, waits until the control-plane containers formed the cluster's plane instead and writes `NAME/NAME.store` ([`ironbell_ops::native::form`]) |
//! | `capi-management-move` | nothing: the plane stays on this machine; with the `native` bootstrapper, the cluster moves onto its plane and the bootstrap plane stops ([`ironbell_ops::native::move_onto`]) |
//! | `write-cluster-config` | `NAME/NAME-eks-a-cluster.yaml` |
//! | `delete-kind-cluster` | stops the bootstrap plane |
//! | `setup-and-validate`, `setup-validate-upgrade` | the cluster exists, the spec renders, the engine answers, every image present |
//! | `upgrade-core-components` | its checkpoint is the change per group |
//! | `pre-cluster-upgrade` / `post-cluster-upgrade` | a backup of the cluster's objects in `NAME/NAME-backup-<time>/`, removed after |
//! | `upgrade-workload-cluster` | renders, applies, waits until the rollout is done (containers replaced one at a time) |
//! | `bootstrap-cluster-for-delete-init`, `capi-management-move-for-delete` | of a cluster whose plane moved: a bootstrap plane on a new store on this machine, and the cluster moved back to it from the containers' plane ([`ironbell_ops::native::move_back`]) |
//! | `delete-management-cluster`, `delete-workload-cluster` | deletes the Cluster; the controllers remove every container, volume, the load balancer and the network; waits until nothing is left |
//! | `validate-delete-workload-success` | nothing of the cluster in the store, and nothing with its kind label on the engine |
//! | `kind-cluster-delete` | stops the plane and its service; removes `NAME/NAME.store` of a moved plane |
//!
//! The others (registry secrets, GitOps, curated packages, the EKS Anywhere components
//! that ironbell builds in) have nothing to do here and say so at `-v 1`.
//!
//! While it waits, a run checks that the engine answers ([`EngineWatch`]): an engine that
//! does not for [`crate::Settings::engine_grace`] fails the task with the engine's error
//! (which names it), the journal keeping everything done so far for a rerun.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use ironbell_capi::docker::TemplateNames;
use ironbell_cluster_spec::Spec;
use ironbell_lifecycle::objects::{self, Plan, Renderer};
use ironbell_lifecycle::plan::names;
use ironbell_lifecycle::provider::Check;
use ironbell_lifecycle::wait::{ClusterState, Observe, list};
use ironbell_lifecycle::{Context, Next, TaskError, steps};
use ironbell_model::{DynamicObject, KindRegistry, Resource, TypeKey};
use ironbell_ops::native;
use ironbell_ops::plane::BootstrapPlane;
use ironbell_ops::service;
use ironbell_provider_docker::lifecycle::{image_checks, kinds, render_named, setup_checks};
use ironbell_provider_docker::{DockerMachine, Engine, KIND_CLUSTER_LABEL};
use ironbell_store::Store;
use serde_json::{Value, json};

use crate::Settings;

fn failed(what: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(what.to_string())
}

/// The Docker provider's part of a wait: the engine answers, and each machine's
/// `DockerMachine` conditions that are not met yet as its progress.
pub struct EngineWatch {
    engine: Engine,
    grace: std::time::Duration,
    /// Since when the engine has not answered.
    down_since: Mutex<Option<Instant>>,
}

impl EngineWatch {
    /// Watches `engine`, failing after `grace` without an answer.
    pub fn new(engine: Engine, grace: std::time::Duration) -> Self {
        Self {
            engine,
            grace,
            down_since: Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Observe for EngineWatch {
    async fn observe(&self, store: &dyn Store, state: &mut ClusterState) -> Result<(), TaskError> {
        let answer = self.engine.ping().await;
        {
            let mut down = self
                .down_since
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match answer {
                Ok(()) => *down = None,
                Err(e) => {
                    let since = *down.get_or_insert_with(Instant::now);
                    if since.elapsed() >= self.grace {
                        return Err(failed(format!(
                            "{e}; what was done is kept: start the engine again and run the same command to resume"
                        )));
                    }
                }
            }
        }
        if state.machines.is_empty() {
            return Ok(());
        }
        let types = TypeKey {
            api_version: DockerMachine::API_VERSION.to_string(),
            kind: DockerMachine::KIND.to_string(),
        };
        let docker_machines = list(store, types, None).await?;
        for m in &mut state.machines {
            let Some(dm) = docker_machines
                .iter()
                .find(|d| d.name() == m.infrastructure)
            else {
                continue;
            };
            let conditions = dm
                .field_value("status")
                .and_then(|s| s.get("conditions").cloned());
            m.progress = conditions.and_then(|c| {
                c.as_array()?.iter().find_map(|c| {
                    (c.get("status")?.as_str()? == "False").then(|| {
                        let kind = c.get("type").and_then(Value::as_str).unwrap_or("?");
                        match c.get("message").and_then(Value::as_str) {
                            Some(message) if !message.is_empty() => format!("{kind}: {message}"),
                            _ => format!("not {kind}"),
                        }
                    })
                })
            });
        }
        Ok(())
    }
}

/// What the tasks of one run share.
pub struct Shared {
    spec: Arc<Spec>,
    settings: Settings,
    engine: Engine,
    watch: EngineWatch,
    plane: BootstrapPlane,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cluster", &self.spec.name())
            .field("engine", &self.engine.host())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The state of a run on `spec` with `settings`, on `engine`.
    pub fn new(spec: Arc<Spec>, settings: Settings, engine: Engine) -> Self {
        let watch = EngineWatch::new(engine.clone(), settings.engine_grace);
        Self {
            spec,
            settings,
            engine,
            watch,
            plane: BootstrapPlane::default(),
        }
    }

    /// Stops the plane if this process runs it.
    pub async fn stop_plane(&self) {
        self.plane.stop().await;
    }

    /// Whether the control-plane containers become the management plane (the `native`
    /// node bootstrapper): then the create ends with the move.
    pub fn native(&self) -> bool {
        matches!(
            self.settings
                .plane
                .cluster
                .as_ref()
                .map(|c| &c.bootstrapper),
            Some(ironbell_ops::plane::NodeBootstrapper::Native { .. })
        )
    }

    /// The run's store.
    pub fn store_spec(&self) -> &ironbell_ops::spec::StoreSpec {
        self.settings.store.spec()
    }

    /// The Docker checks of a `native` cluster: its control-plane containers mount this
    /// command's binary and the engine's socket, so the engine is a local one.
    fn native_checks(&self) -> Vec<Check> {
        if !self.native() {
            return Vec::new();
        }
        let host = self.engine.host();
        let exe = &self.settings.service.exe;
        vec![
            Check {
                name: "The engine is local (the native plane's containers mount its socket and this binary)".into(),
                outcome: if host.starts_with("unix://") {
                    Ok(())
                } else {
                    Err(format!(
                        "engine {host} is not a local socket: the control-plane containers of a \
                         native plane mount the engine's socket and {} from this machine",
                        exe.display()
                    ))
                },
            },
            Check {
                name: "The ironbell binary can be mounted into the control-plane containers".into(),
                outcome: if exe.is_absolute() && exe.is_file() {
                    Ok(())
                } else {
                    Err(format!("{} is not a file", exe.display()))
                },
            },
        ]
    }

    /// Makes sure the controllers run on the store (see [`BootstrapPlane::ensure`]).
    async fn ensure_controllers(&self, ctx: &Context) -> Result<(), TaskError> {
        let config = self.settings.plane.clone();
        let phone_home = config
            .docker
            .as_ref()
            .map(|d| d.phone_home.to_string())
            .unwrap_or_default();
        self.plane
            .ensure(&self.settings.store, config, || {
                ctx.out().detail(format_args!(
                    "Starting the bootstrap plane: the Cluster API and Docker controllers on \
                     engine {}, the phone-home on {phone_home}, on {}",
                    self.engine.host(),
                    self.settings.store.spec()
                ));
            })
            .await
            .map_err(|e| failed(format!("starting the bootstrap plane: {e}")))?;
        Ok(())
    }

    /// The objects of the spec with template `names`, each labelled with the cluster's
    /// name (Cluster API's label, by which the lifecycle finds a cluster's deployments,
    /// backs its objects up and deletes what the Cluster does not own), the nodes' mounts
    /// of the host's Docker socket pointing at the engine this run drives (CAPD in a node
    /// drives the host's engine).
    fn render(&self, names: &TemplateNames) -> Result<Vec<DynamicObject>, String> {
        let mut objects = render_named(&self.spec, names).map_err(|e| e.to_string())?;
        for o in &mut objects {
            o.metadata
                .labels
                .get_or_insert_with(Default::default)
                .entry(objects::CLUSTER_NAME_LABEL.to_string())
                .or_insert_with(|| self.spec.name().to_string());
        }
        // With `native`, the control-plane template also mounts this binary read-only
        // where the user-data runs it.
        let control_plane_template = objects
            .iter()
            .find(|o| o.types.kind == "KubeadmControlPlane")
            .and_then(|o| o.field_value("spec"))
            .and_then(|s| {
                s.pointer("/machineTemplate/infrastructureRef/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|_| self.native());
        let socket = self.engine.host().strip_prefix("unix://");
        for o in objects
            .iter_mut()
            .filter(|o| o.types.kind == "DockerMachineTemplate")
        {
            let Some(mut spec) = o.field_value("spec") else {
                continue;
            };
            let binary = control_plane_template.as_deref() == Some(o.name());
            if let Some(Value::Array(mounts)) = spec.pointer_mut("/template/spec/extraMounts") {
                if let Some(socket) = socket {
                    for m in mounts.iter_mut() {
                        if m["hostPath"] == "/var/run/docker.sock" {
                            m["hostPath"] = Value::String(socket.to_string());
                        }
                    }
                }
                if binary {
                    mounts.push(json!({
                        "containerPath": ironbell_bootstrap::native::IRONBELL_PATH,
                        "hostPath": self.settings.service.exe.display().to_string(),
                        "readOnly": true,
                    }));
                }
            }
            o.set_field("spec", &spec).map_err(|e| e.to_string())?;
        }
        Ok(objects)
    }

    /// The cluster's objects rendered and fitted to the store ([`objects::plan`]).
    async fn plan(&self, ctx: &Context) -> Result<Plan, TaskError> {
        let render = |names: &TemplateNames| self.render(names);
        let renderer = Renderer {
            render: &render,
            template_kinds: &["DockerMachineTemplate", "KubeadmConfigTemplate"],
            selector_of: &|_| Default::default(),
        };
        objects::plan(
            ctx.store().as_ref(),
            &self.spec,
            &renderer,
            self.settings.now_unix_ms,
        )
        .await
        .map_err(failed)
    }

    /// Renders, applies, and waits until the cluster is ready (`what`).
    async fn apply_and_wait(&self, ctx: &Context, what: &str) -> Result<Plan, TaskError> {
        self.ensure_controllers(ctx).await?;
        let plan = self.plan(ctx).await?;
        steps::apply(ctx, &plan.objects).await?;
        if plan.machines_unchanged() {
            ctx.out().detail("No machine changes");
        }
        steps::wait_ready(ctx, &self.watch, self.settings.timeout, what).await?;
        Ok(plan)
    }

    /// The spec's own checks, then those of the engine.
    async fn validate(&self, ctx: &Context, engine: Vec<Check>) -> Result<(), TaskError> {
        let mut all = ironbell_lifecycle::Provider::validations(
            &ironbell_provider_docker::lifecycle::Docker,
            &self.spec,
            ironbell_lifecycle::Command::create(&self.spec),
        );
        all.extend(engine);
        ctx.validate(all.into_iter().map(|c| (c.name, c.outcome)))
    }

    /// Where the plane's service answers once started: its phone-home (on loopback when it
    /// listens on every address).
    fn probe(&self) -> std::net::SocketAddr {
        let mut addr = self
            .settings
            .plane
            .docker
            .as_ref()
            .map(|d| d.phone_home)
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        addr
    }

    /// The kinds of a Docker cluster's objects.
    fn kinds(&self) -> KindRegistry {
        kinds()
    }
}

/// Each task of a Docker run, by name (the table of the module docs).
#[async_trait::async_trait]
impl ironbell_lifecycle::Steps for Shared {
    async fn run_step(&self, task: &'static str, ctx: &mut Context) -> Result<Next, TaskError> {
        match task {
            names::SETUP_VALIDATE | names::SETUP_VALIDATE_CREATE => {
                let names = TemplateNames::from_cluster_clock(&self.spec.cluster, 0);
                let objects = self.render(&names).map_err(failed)?;
                let mut engine = setup_checks(&self.engine, ctx.cluster(), &objects).await;
                engine.extend(self.native_checks());
                self.validate(ctx, engine).await?;
                Ok(Next::proceed())
            }
            names::BOOTSTRAP_CLUSTER_INIT | names::BOOTSTRAP_CLUSTER_FOR_DELETE_INIT => {
                self.ensure_controllers(ctx).await?;
                Ok(Next::proceed())
            }
            names::INSTALL_CAPI_COMPONENTS_BOOTSTRAP => {
                self.ensure_controllers(ctx).await?;
                ctx.out()
                    .detail("The Cluster API and Docker controllers are part of the plane");
                Ok(Next::proceed())
            }
            names::WORKLOAD_CLUSTER_INIT | names::CREATE_WORKLOAD_CLUSTER => {
                self.apply_and_wait(ctx, "the cluster to be ready").await?;
                Ok(Next::proceed())
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER if self.native() => {
                // The plane formed in the control-plane containers.
                let formed = native::form(
                    ctx,
                    &self.spec.cluster,
                    self.settings.plane.network.metadata.port(),
                    self.settings.timeout,
                )
                .await?;
                let list = formed.addresses();
                ctx.out().detail(format_args!(
                    "The cluster's plane formed: {} etcd members and replicas in the \
                     control-plane containers at {}; its store: {}",
                    formed.members.len(),
                    list.join(", "),
                    formed.file.display()
                ));
                Ok(Next::proceed_with(json!({ "members": list })))
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER => {
                // The bootstrap plane hands over to the service on the same store.
                self.stop_plane().await;
                let store = service::store_arg(self.settings.store.spec()).map_err(failed)?;
                let how = service::start(
                    ctx.layout(),
                    &store,
                    &self.settings.service,
                    self.probe(),
                    self.settings.service_timeout,
                )
                .await
                .map_err(failed)?;
                ctx.out().detail(format_args!(
                    "The management plane runs as a service on this machine: {how}"
                ));
                Ok(Next::proceed_with(json!({ "service": how })))
            }
            names::CAPI_MANAGEMENT_MOVE if self.native() => {
                // The bootstrap plane may not run (a resumed run): nothing to stop then.
                self.ensure_controllers(ctx).await?;
                let report = native::move_onto(ctx, self.stop_plane()).await?;
                ctx.out().detail(format_args!(
                    "Moved {} objects to the cluster's plane ({}); the bootstrap plane stopped; \
                     the control-plane containers manage the cluster",
                    report.objects(),
                    report.summary()
                ));
                Ok(Next::proceed_with(native::journal(&report)))
            }
            names::CAPI_MANAGEMENT_MOVE_FOR_DELETE if self.settings.moved_plane.is_some() => {
                let spec = self
                    .settings
                    .moved_plane
                    .as_ref()
                    .ok_or_else(|| failed("no plane"))?;
                let plane = native::open_spec(spec)?;
                self.ensure_controllers(ctx).await?;
                let report = native::move_back(ctx, &plane, ctx.store()).await?;
                ctx.out().detail(format_args!(
                    "Moved {} objects back to the bootstrap plane on this machine ({})",
                    report.objects(),
                    self.settings.store.spec()
                ));
                Ok(Next::proceed_with(native::journal(&report)))
            }
            names::CAPI_MANAGEMENT_MOVE => {
                ctx.out().detail(format_args!(
                    "The management plane stays on this machine ({}); nothing to move",
                    self.settings.store.spec()
                ));
                Ok(Next::proceed())
            }
            names::SETUP_AND_VALIDATE | names::SETUP_VALIDATE_UPGRADE => {
                steps::require_cluster(ctx, &(), &self.settings.store.spec().to_string()).await?;
                let plan = self.plan(ctx).await?;
                let engine = image_checks(&self.engine, &plan.objects).await;
                self.validate(ctx, engine).await?;
                Ok(Next::proceed())
            }
            names::UPGRADE_CORE_COMPONENTS => {
                let plan = self.plan(ctx).await?;
                Ok(Next::proceed_with(json!({ "changeDiff": plan.diff() })))
            }
            names::PRE_CLUSTER_UPGRADE => {
                steps::backup(ctx, &self.kinds(), self.settings.now_unix_ms).await
            }
            names::UPGRADE_WORKLOAD_CLUSTER => {
                self.apply_and_wait(ctx, "the rollout").await?;
                Ok(Next::proceed())
            }
            names::POST_CLUSTER_UPGRADE => steps::remove_backup(ctx),
            names::SETUP_AND_VALIDATE_DELETE => steps::note_gone(ctx, &()).await,
            names::DELETE_MANAGEMENT_CLUSTER | names::DELETE_WORKLOAD_CLUSTER => {
                self.ensure_controllers(ctx).await?;
                steps::delete_cluster(
                    ctx,
                    &self.kinds(),
                    &self.watch,
                    self.settings.timeout,
                    "the cluster's containers, volumes and network to be removed",
                )
                .await?;
                Ok(Next::proceed())
            }
            names::VALIDATE_DELETE_WORKLOAD_SUCCESS => {
                steps::check_gone(ctx, &self.watch).await?;
                let left = self
                    .engine
                    .containers_labelled(KIND_CLUSTER_LABEL, ctx.cluster())
                    .await
                    .map_err(failed)?;
                if !left.is_empty() {
                    return Err(failed(format!(
                        "cluster {}: containers left on the engine: {}",
                        ctx.cluster(),
                        left.join(", ")
                    )));
                }
                Ok(Next::proceed())
            }
            // The last task of a create or a delete: the plane this run started stops.
            names::DELETE_KIND_CLUSTER | names::KIND_CLUSTER_DELETE => {
                self.stop_plane().await;
                if task == names::DELETE_KIND_CLUSTER {
                    return steps::created(ctx);
                }
                if self.settings.moved_plane.is_some()
                    && let Some(file) = native::remove_store_file(ctx)?
                {
                    // The plane it named was the cluster's control-plane containers, gone.
                    ctx.out().detail(format_args!("Removed {}", file.display()));
                }
                let stopped = service::stop(
                    ctx.layout(),
                    self.settings.service.manager,
                    self.settings.service_timeout,
                )
                .await
                .map_err(failed)?;
                if let Some(what) = stopped {
                    ctx.out()
                        .detail(format_args!("Stopped the management plane: {what}"));
                }
                steps::deleted(ctx)
            }
            names::WRITE_CLUSTER_CONFIG => steps::write_cluster_config(ctx),
            other => {
                ctx.out()
                    .detail(format_args!("{other}: nothing to do for ironbell"));
                Ok(Next::proceed())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_engine_that_does_not_answer_fails_the_wait_after_its_grace_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            ironbell_store_sqlite::SqliteStore::open(dir.path().join("s.db")).expect("store");
        // A file where the socket would be: nothing listens.
        let socket = dir.path().join("no-engine.sock");
        std::fs::write(&socket, "").expect("file");
        let engine = Engine::connect(&format!("unix://{}", socket.display())).expect("engine");
        let mut state = ClusterState::default();
        // Within its grace, a silent engine is waited for.
        let patient = EngineWatch::new(engine.clone(), Duration::from_secs(3600));
        patient
            .observe(&store, &mut state)
            .await
            .expect("within the grace");
        // Past it, the wait fails with the engine's error, which names the engine.
        let impatient = EngineWatch::new(engine, Duration::ZERO);
        let err = impatient
            .observe(&store, &mut state)
            .await
            .expect_err("past the grace");
        let text = err.to_string();
        assert!(text.contains(&socket.display().to_string()), "{text}");
        assert!(text.contains("is unreachable"), "{text}");
        assert!(text.contains("run the same command to resume"), "{text}");
    }
}
