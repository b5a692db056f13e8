//! The tasks: one [`Step`] per task name of [`ironbell_lifecycle::plan`], all sharing the
//! run's [`Shared`] state (the settings, the resolved versions bundle, the bootstrap plane
//! when this process runs one).
//!
//! Each task is idempotent (the runner runs it again after a crash). What each does:
//!
//! | task | here |
//! |---|---|
//! | `setup-validate` | the spec, Hardware per selector, Tinkerbell IP and ports, endpoint, BMCs, rival DHCP ([`crate::checks`]) |
//! | `bootstrap-cluster-init` | starts the bootstrap plane in this process, on the store in `NAME/generated/` |
//! | `install-capi-components-bootstrap` | imports `hardware.csv` (Hardware that exist are left as they are), waits for every BMC `Contactable` |
//! | `workload-cluster-init`, `create-workload-cluster` | renders and applies the Cluster API objects, waits until the cluster is ready |
//! | `install-resources-on-management-cluster` | hands the plane over to a service that outlives the command ([`crate::service`]); with the `native` bootstrapper, waits for the cluster's own plane instead ([`crate::native`]) |
//! | `capi-management-move` | with the `native` bootstrapper: the move onto the cluster's plane, the bootstrap plane stopped, the cluster's plane serving ([`crate::native`]) |
//! | `write-cluster-config` | `NAME/NAME-eks-a-cluster.yaml` |
//! | `setup-and-validate`, `setup-validate-upgrade` | the spec, the change (no scale during a rolling upgrade), spare Hardware for each group that rolls |
//! | `upgrade-core-components` | imports the new Hardware of `--hardware-csv`; its checkpoint is the change |
//! | `pre-cluster-upgrade` / `post-cluster-upgrade` | a backup of the cluster's objects in `NAME/NAME-backup-<time>/`, removed after |
//! | `upgrade-workload-cluster` | renders, applies, waits until the rollout is done |
//! | `delete-management-cluster`, `delete-workload-cluster` | deletes the Cluster; the controllers power each machine off through its BMC and release its Hardware; waits until nothing is left |
//! | `kind-cluster-delete` | stops the plane's service |
//!
//! The others (registry secrets, GitOps, curated packages, the EKS Anywhere components
//! that ironbell builds in, and the move while the plane stays on the admin machine) have
//! nothing to do here and say so at `-v 1`.

use std::sync::{Arc, OnceLock};

use ironbell_cluster_spec::Spec;
use ironbell_inventory::Row;
use ironbell_lifecycle::plan::names;
use ironbell_lifecycle::{Context, Next, TaskError};
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_ops::plane::Plane;
use ironbell_ops::spec::StoreSpec;
use ironbell_provider_tinkerbell::validate::{Purpose, unowned};
use ironbell_release::ClusterRelease;
use ironbell_store::{Api, ListParams};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::render::{self, GroupChange};
use crate::wait::{self, ClusterState};
use crate::{NAMESPACE, Settings, checks, native, service};

/// What the tasks of one run share.
pub struct Shared {
    spec: Arc<Spec>,
    settings: Settings,
    release: OnceLock<ClusterRelease>,
    /// The bootstrap plane, while this process runs it.
    plane: Mutex<Option<Plane>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cluster", &self.spec.name())
            .finish_non_exhaustive()
    }
}

fn failed(what: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(what.to_string())
}

impl Shared {
    /// The state of a run on `spec` with `settings`.
    pub fn new(spec: Arc<Spec>, settings: Settings) -> Self {
        Self {
            spec,
            settings,
            release: OnceLock::new(),
            plane: Mutex::new(None),
        }
    }

    /// Whether control-plane machines become the management plane (the `native` node
    /// bootstrapper): then the create ends with the move ([`crate::native`]).
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

    /// The bootstrap plane's embedded store file, if the run's store is one.
    pub fn bootstrap_store_path(&self) -> Option<std::path::PathBuf> {
        match self.settings.store.spec() {
            StoreSpec::Sqlite(path) => Some(path.clone()),
            StoreSpec::Etcd(_) | StoreSpec::Kube(_) => None,
        }
    }

    /// Stops the bootstrap plane if this process runs it.
    pub async fn stop_bootstrap_plane(&self) {
        if let Some(plane) = self.plane.lock().await.take() {
            plane.stop().await;
        }
    }

    fn release(&self) -> Result<&ClusterRelease, TaskError> {
        if let Some(r) = self.release.get() {
            return Ok(r);
        }
        let r = render::release(&self.spec).map_err(failed)?;
        Ok(self.release.get_or_init(|| r))
    }

    /// The rows of `--hardware-csv` (none without it).
    fn rows(&self) -> Result<Vec<Row>, TaskError> {
        let Some(path) = &self.settings.hardware_csv else {
            return Ok(Vec::new());
        };
        let text = std::fs::read_to_string(path).map_err(|source| TaskError::Io {
            what: "reading",
            path: path.clone(),
            source,
        })?;
        ironbell_inventory::parse_inventory(&text)
            .map(|inv| inv.rows)
            .map_err(|e| failed(format!("{}: {e}", path.display())))
    }

    /// Makes sure controllers run on the store: the plane's service, or another process
    /// holding the controller lock, or else a bootstrap plane started here.
    async fn ensure_controllers(&self, ctx: &Context) -> Result<(), TaskError> {
        let mut plane = self.plane.lock().await;
        if plane.is_some() {
            return Ok(());
        }
        match self.settings.store.lock_controllers() {
            // Someone runs controllers on this store already.
            Err(ironbell_ops::OpsError::Lock(ironbell_store_sqlite::LockError::Held {
                ..
            })) => {
                return Ok(());
            }
            Err(e) => return Err(failed(e)),
            // An etcd store: its replicas elect who runs them.
            Ok(None) => return Ok(()),
            // Nobody does: start the bootstrap plane (which takes the lock itself).
            Ok(Some(probe)) => drop(probe),
        }
        let config = self.settings.plane.clone();
        let network = &config.network;
        ctx.out().detail(format_args!(
            "Starting the bootstrap plane at {} (DHCP, TFTP, HTTP :{}, metadata :{}, agent API :{}) on {}",
            network.public_ip,
            network.http.port(),
            network.metadata.port(),
            network.grpc.port(),
            store_text(self.settings.store.spec()),
        ));
        let api = config.api.clone();
        let started = Plane::start(&self.settings.store, config)
            .await
            .map_err(|e| failed(format!("starting the bootstrap plane: {e}")))?;
        *plane = Some(started);
        if let Some(api) = &api {
            // Where EKS Anywhere writes its kind cluster's kubeconfig.
            let path = ctx
                .layout()
                .generated_dir()
                .join(format!("{}.kind.kubeconfig", ctx.cluster()));
            write_kubeconfig(&path, api, ctx.cluster())?;
            ctx.out().detail(format_args!(
                "The bootstrap plane's Kubernetes API: {} (kubectl --kubeconfig {})",
                api.server,
                path.display()
            ));
        }
        Ok(())
    }

    /// Imports the rows of `--hardware-csv` whose Hardware does not exist yet (Hardware in
    /// use keep their ownership labels); returns how many were new.
    async fn import_new_hardware(&self, ctx: &Context) -> Result<usize, TaskError> {
        let rows = self.rows()?;
        if rows.is_empty() {
            return Ok(0);
        }
        let api: Api<Hardware> = Api::new(ctx.store().clone());
        let (existing, _) = api.list(&ListParams::namespace(NAMESPACE)).await?;
        let fresh: Vec<Row> = rows
            .into_iter()
            .filter(|r| !existing.iter().any(|h| h.metadata.name() == r.hostname))
            .collect();
        if fresh.is_empty() {
            return Ok(0);
        }
        ironbell_ops::import::import(
            ctx.store().as_ref(),
            &fresh,
            NAMESPACE,
            ironbell_ops::apply::ApplyOptions::default(),
        )
        .await
        .map_err(|e| failed(format!("importing the hardware: {e}")))?;
        Ok(fresh.len())
    }

    /// Waits until every BMC Machine of the rows of `--hardware-csv` is `Contactable`.
    async fn wait_for_bmcs(&self, ctx: &Context) -> Result<(), TaskError> {
        let rows = self.rows()?;
        let names: Vec<String> = rows
            .iter()
            .filter(|r| r.bmc.is_some())
            .map(|r| format!("bmc-{}", r.hostname))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let api: Api<ironbell_model::bmc::Machine> = Api::new(ctx.store().clone());
        let deadline = std::time::Instant::now() + self.settings.timeouts.bmc;
        loop {
            let (machines, _) = api.list(&ListParams::namespace(NAMESPACE)).await?;
            let waiting: Vec<&String> = names
                .iter()
                .filter(|n| {
                    !machines.iter().any(|m| {
                        m.metadata.name() == n.as_str()
                            && m.status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| {
                                    c.iter()
                                        .any(|c| c.type_ == "Contactable" && c.status == "True")
                                })
                    })
                })
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(failed(format!(
                    "BMC Machines not Contactable after {}: {}",
                    ironbell_lifecycle::output::elapsed(self.settings.timeouts.bmc),
                    waiting
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            tokio::time::sleep(wait::POLL).await;
        }
    }

    /// The cluster's objects rendered and fitted to the store ([`render::plan`]).
    async fn plan(&self, ctx: &Context) -> Result<render::Plan, TaskError> {
        render::plan(
            ctx.store().as_ref(),
            &self.spec,
            self.release()?,
            self.settings.now_unix_ms,
        )
        .await
        .map_err(failed)
    }

    /// Renders, applies and prints what changed.
    async fn apply(&self, ctx: &Context) -> Result<render::Plan, TaskError> {
        let plan = self.plan(ctx).await?;
        let applied = render::apply(ctx.store().as_ref(), &plan.objects)
            .await
            .map_err(failed)?;
        for name in &applied.created {
            ctx.out().detail(format_args!("{name} created"));
        }
        for name in &applied.configured {
            ctx.out().detail(format_args!("{name} configured"));
        }
        Ok(plan)
    }

    /// Waits until the cluster is ready.
    async fn wait_ready(&self, ctx: &Context, what: &str) -> Result<ClusterState, TaskError> {
        let state = wait::until(
            ctx.store().as_ref(),
            ctx.cluster(),
            what,
            self.settings.timeouts.cluster,
            ctx.out(),
            ClusterState::ready,
        )
        .await?;
        ctx.out()
            .detail(format_args!("Cluster ready: {}", state.summary()));
        Ok(state)
    }
}

/// Writes an admin kubeconfig of `api` to `path` (mode 0600: it holds the admin token).
fn write_kubeconfig(
    path: &std::path::Path,
    api: &ironbell_ops::plane::ApiOptions,
    cluster: &str,
) -> Result<(), TaskError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = api
        .kubeconfig(cluster)
        .map_err(|e| failed(format!("the kubeconfig of {}: {e}", api.server)))?;
    let io = |source| TaskError::Io {
        what: "writing",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

fn store_text(spec: &StoreSpec) -> String {
    match spec {
        StoreSpec::Sqlite(path) => path.display().to_string(),
        StoreSpec::Etcd(_) => "etcd".to_string(),
        StoreSpec::Kube(_) => spec.to_string(),
    }
}

/// The `--store` argument of the plane's service: `sqlite:ABSOLUTE-PATH`.
fn service_store_arg(spec: &StoreSpec) -> Result<String, TaskError> {
    match spec {
        StoreSpec::Sqlite(path) => {
            let abs = std::path::absolute(path).map_err(|source| TaskError::Io {
                what: "resolving",
                path: path.clone(),
                source,
            })?;
            Ok(format!("sqlite:{}", abs.display()))
        }
        StoreSpec::Etcd(_) | StoreSpec::Kube(_) => Err(failed(
            "the plane runs as a service on the embedded store only; an etcd or Kubernetes \
             store's replicas are run by their own service manager",
        )),
    }
}

/// One task of a pipeline (see the module docs).
pub struct Step {
    name: &'static str,
    shared: Arc<Shared>,
}

impl Step {
    /// The task `name` of a run sharing `shared`.
    pub fn new(name: &'static str, shared: Arc<Shared>) -> Self {
        Self { name, shared }
    }
}

/// The objects of cluster `name` a backup keeps: the Cluster API and provider objects
/// labelled with its name, and the Hardware they own.
async fn backup_objects(
    store: &dyn ironbell_store::Store,
    cluster: &str,
) -> Result<Vec<DynamicObject>, TaskError> {
    let registry = ironbell_ops::lookup::kinds();
    let selector = ironbell_model::selector::Selector::parse(&format!(
        "{}={cluster}",
        render::CLUSTER_NAME_LABEL
    ))
    .map_err(failed)?;
    let mut objects = Vec::new();
    for info in registry.kinds().filter(|k| k.namespaced) {
        let types: TypeKey = info.type_key();
        let params = ListParams {
            namespace: Some(NAMESPACE.to_string()),
            selector: Some(selector.clone()),
        };
        let list = store.list(&types, &params).await?;
        objects.extend(list.items);
    }
    Ok(objects)
}

#[async_trait::async_trait]
impl ironbell_lifecycle::Task for Step {
    fn name(&self) -> &str {
        self.name
    }

    async fn run(&self, ctx: &mut Context) -> Result<Next, TaskError> {
        let s = &self.shared;
        match self.name {
            names::SETUP_VALIDATE | names::SETUP_VALIDATE_CREATE => {
                let rows = s.rows()?;
                if rows.is_empty() {
                    return Err(failed(
                        "a Tinkerbell cluster needs --hardware-csv: the machines to build it on",
                    ));
                }
                let mut all = checks::spec_checks(&s.spec);
                let hardware = if self.name == names::SETUP_VALIDATE_CREATE {
                    // A workload cluster also gets the management plane's free Hardware.
                    candidate_hardware(ctx, &rows).await?
                } else {
                    checks::hardware_of(&rows, NAMESPACE)
                };
                all.extend(checks::hardware_checks(&s.spec, &hardware, Purpose::Create));
                if self.name == names::SETUP_VALIDATE {
                    all.extend(checks::network_checks(&s.spec, &s.settings.plane, &rows).await);
                } else {
                    all.extend(checks::bmc_checks(&rows).await);
                }
                ctx.validate(all.into_iter().map(|c| (c.name, c.outcome)))?;
                Ok(Next::proceed())
            }
            names::BOOTSTRAP_CLUSTER_INIT => {
                s.ensure_controllers(ctx).await?;
                Ok(Next::proceed())
            }
            names::INSTALL_CAPI_COMPONENTS_BOOTSTRAP => {
                s.ensure_controllers(ctx).await?;
                let new = s.import_new_hardware(ctx).await?;
                ctx.out().detail(format_args!(
                    "Hardware imported: {new} new (namespace {NAMESPACE})"
                ));
                s.wait_for_bmcs(ctx).await?;
                Ok(Next::proceed())
            }
            names::WORKLOAD_CLUSTER_INIT | names::CREATE_WORKLOAD_CLUSTER => {
                s.ensure_controllers(ctx).await?;
                if self.name == names::CREATE_WORKLOAD_CLUSTER {
                    s.import_new_hardware(ctx).await?;
                    s.wait_for_bmcs(ctx).await?;
                }
                s.apply(ctx).await?;
                s.wait_ready(ctx, "the cluster to be ready").await?;
                Ok(Next::proceed())
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER if s.native() => {
                // The plane formed on the control-plane machines, its DHCP in standby.
                let members = native::control_plane_addresses(ctx.store(), ctx.cluster()).await?;
                let want = s
                    .spec
                    .cluster
                    .spec
                    .control_plane_configuration
                    .as_ref()
                    .and_then(|c| c.count)
                    .unwrap_or(1);
                if members.len() < usize::try_from(want).unwrap_or(usize::MAX) {
                    return Err(failed(format!(
                        "{} of {want} control-plane machines have an address",
                        members.len()
                    )));
                }
                let pki = ctx.layout().generated_dir().join("pki");
                let spec = native::credentials(ctx.store(), ctx.cluster(), &pki, &members).await?;
                let plane = native::open(&spec)?;
                native::wait_for_plane(
                    &plane,
                    &members,
                    s.settings.plane.network.metadata.port(),
                    s.settings.timeouts.cluster,
                )
                .await?;
                let file = native::store_file(ctx.layout().cluster_dir(), ctx.cluster());
                std::fs::write(&file, format!("{spec}\n")).map_err(|source| TaskError::Io {
                    what: "writing",
                    path: file.clone(),
                    source,
                })?;
                let list: Vec<String> = members.iter().map(|m| m.to_string()).collect();
                ctx.out().detail(format_args!(
                    "The cluster's plane formed: {} etcd members and replicas at {} (DHCP in \
                     standby until the move); its store: {}",
                    members.len(),
                    list.join(", "),
                    file.display()
                ));
                Ok(Next::proceed_with(json!({ "members": list })))
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER => {
                // The bootstrap plane hands over to the service on the same store.
                s.stop_bootstrap_plane().await;
                let store = service_store_arg(s.settings.store.spec())?;
                let network = &s.settings.plane.network;
                let probe =
                    std::net::SocketAddr::from((network.public_ip, network.metadata.port()));
                let how = service::start(
                    ctx.layout(),
                    &store,
                    &s.settings.service,
                    probe,
                    s.settings.timeouts.service,
                )
                .await
                .map_err(failed)?;
                ctx.out().detail(format_args!(
                    "The management plane runs as a service on this machine: {how}"
                ));
                if let Some(api) = &s.settings.plane.api {
                    // The service serves the API with the same credentials and port.
                    let path = ctx
                        .layout()
                        .cluster_dir()
                        .join(format!("{}-eks-a-cluster.kubeconfig", ctx.cluster()));
                    write_kubeconfig(&path, api, ctx.cluster())?;
                    ctx.out().detail(format_args!(
                        "The management plane's Kubernetes API: {} (kubectl --kubeconfig {})",
                        api.server,
                        path.display()
                    ));
                }
                Ok(Next::proceed_with(json!({ "service": how })))
            }
            names::CAPI_MANAGEMENT_MOVE if s.native() => {
                let file = native::store_file(ctx.layout().cluster_dir(), ctx.cluster());
                let spec = std::fs::read_to_string(&file).map_err(|source| TaskError::Io {
                    what: "reading",
                    path: file.clone(),
                    source,
                })?;
                let plane = native::open(spec.trim())?;
                // The bootstrap plane may not run (a resumed run): nothing to stop then.
                s.ensure_controllers(ctx).await?;
                let report =
                    native::move_and_serve(ctx, ctx.store(), &plane, s.stop_bootstrap_plane())
                        .await?;
                let counts: Vec<String> = report
                    .kinds
                    .iter()
                    .map(|(t, k)| format!("{} {}", k.objects, t.kind))
                    .collect();
                ctx.out().detail(format_args!(
                    "Moved {} objects to the cluster's plane ({}); the bootstrap plane stopped; \
                     the cluster's plane serves DHCP",
                    report.objects(),
                    counts.join(", ")
                ));
                Ok(Next::proceed_with(json!({
                    "objects": report.objects(),
                    "deleted": report.deleted,
                })))
            }
            names::CAPI_MANAGEMENT_MOVE => {
                ctx.out().detail(format_args!(
                    "The management plane stays on this machine ({}); nothing to move",
                    store_text(s.settings.store.spec())
                ));
                Ok(Next::proceed())
            }
            names::WRITE_CLUSTER_CONFIG => {
                let dir = ctx.layout().cluster_dir().to_path_buf();
                let path = dir.join(format!("{}-eks-a-cluster.yaml", ctx.cluster()));
                let yaml = s.spec.to_yaml().map_err(failed)?;
                std::fs::write(&path, yaml).map_err(|source| TaskError::Io {
                    what: "writing",
                    path: path.clone(),
                    source,
                })?;
                ctx.out().detail(format_args!("Wrote {}", path.display()));
                Ok(Next::proceed())
            }
            names::DELETE_KIND_CLUSTER => {
                s.stop_bootstrap_plane().await;
                ctx.out().info("🎉 Cluster created!");
                Ok(Next::proceed())
            }
            names::SETUP_AND_VALIDATE | names::SETUP_VALIDATE_UPGRADE => {
                let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster()).await?;
                if state.cluster.is_none() {
                    return Err(failed(format!(
                        "cluster {} does not exist in the plane's store ({}); create it first",
                        ctx.cluster(),
                        store_text(s.settings.store.spec())
                    )));
                }
                let plan = s.plan(ctx).await?;
                let hardware = candidate_hardware(ctx, &s.rows()?).await?;
                let mut all: Vec<(String, Result<(), String>)> = checks::spec_checks(&s.spec)
                    .into_iter()
                    .map(|c| (c.name, c.outcome))
                    .collect();
                all.push(upgrade_change_check(&plan.groups));
                all.push(spare_hardware_check(&plan.groups, &hardware));
                ctx.validate(all)?;
                Ok(Next::proceed())
            }
            names::UPGRADE_CORE_COMPONENTS => {
                let new = s.import_new_hardware(ctx).await?;
                if new > 0 {
                    ctx.out()
                        .detail(format_args!("Hardware imported: {new} new"));
                    s.wait_for_bmcs(ctx).await?;
                }
                let plan = s.plan(ctx).await?;
                let diff: Vec<Value> = plan
                    .groups
                    .iter()
                    .map(|g| json!({"group": g.role, "from": g.from, "to": g.to, "replaced": g.replaced}))
                    .collect();
                Ok(Next::proceed_with(json!({ "changeDiff": diff })))
            }
            names::PRE_CLUSTER_UPGRADE => {
                let objects = backup_objects(ctx.store().as_ref(), ctx.cluster()).await?;
                let dir = ctx.layout().cluster_dir().join(format!(
                    "{}-backup-{}",
                    ctx.cluster(),
                    s.settings.now_unix_ms / 1000
                ));
                std::fs::create_dir_all(&dir).map_err(|source| TaskError::Io {
                    what: "creating",
                    path: dir.clone(),
                    source,
                })?;
                let mut text = String::new();
                for o in &objects {
                    text.push_str("---\n");
                    text.push_str(&serde_yaml_ng::to_string(&o.to_value()).map_err(failed)?);
                }
                let file = dir.join("objects.yaml");
                std::fs::write(&file, text).map_err(|source| TaskError::Io {
                    what: "writing",
                    path: file.clone(),
                    source,
                })?;
                ctx.out().detail(format_args!(
                    "Backed up {} objects to {}",
                    objects.len(),
                    dir.display()
                ));
                Ok(Next::proceed_with(
                    json!({ "backup": dir.display().to_string() }),
                ))
            }
            names::UPGRADE_WORKLOAD_CLUSTER => {
                s.ensure_controllers(ctx).await?;
                let plan = s.apply(ctx).await?;
                if plan.machines_unchanged() {
                    ctx.out().detail("No machine changes");
                }
                s.wait_ready(ctx, "the rollout").await?;
                Ok(Next::proceed())
            }
            names::POST_CLUSTER_UPGRADE => {
                if let Some(dir) = ctx
                    .checkpoint_of(names::PRE_CLUSTER_UPGRADE)
                    .and_then(|c| c.get("backup"))
                    .and_then(Value::as_str)
                {
                    let _ = std::fs::remove_dir_all(dir);
                }
                Ok(Next::proceed())
            }
            names::SETUP_AND_VALIDATE_DELETE => {
                let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster()).await?;
                if state.gone() {
                    ctx.out().detail(format_args!(
                        "Cluster {} has no objects left",
                        ctx.cluster()
                    ));
                }
                Ok(Next::proceed())
            }
            names::BOOTSTRAP_CLUSTER_FOR_DELETE_INIT => {
                s.ensure_controllers(ctx).await?;
                Ok(Next::proceed())
            }
            names::DELETE_MANAGEMENT_CLUSTER | names::DELETE_WORKLOAD_CLUSTER => {
                s.ensure_controllers(ctx).await?;
                delete_cluster(ctx, s).await?;
                Ok(Next::proceed())
            }
            names::VALIDATE_DELETE_WORKLOAD_SUCCESS => {
                let state = ClusterState::read(ctx.store().as_ref(), ctx.cluster()).await?;
                if state.gone() {
                    Ok(Next::proceed())
                } else {
                    Err(failed(format!(
                        "cluster {} is not gone: {}",
                        ctx.cluster(),
                        state.summary()
                    )))
                }
            }
            names::KIND_CLUSTER_DELETE => {
                s.stop_bootstrap_plane().await;
                match service::stop(
                    ctx.layout(),
                    s.settings.service.manager,
                    s.settings.timeouts.service,
                )
                .await
                .map_err(failed)?
                {
                    Some(what) => ctx
                        .out()
                        .detail(format_args!("Stopped the management plane: {what}")),
                    None => ctx.out().detail("No management plane service was running"),
                }
                ctx.out()
                    .info(format_args!("🎉 Cluster {} deleted", ctx.cluster()));
                Ok(Next::proceed())
            }
            other => {
                ctx.out()
                    .detail(format_args!("{other}: nothing to do for ironbell"));
                Ok(Next::proceed())
            }
        }
    }
}

/// The free Hardware a change can use: the store's unowned Hardware and the rows of
/// `--hardware-csv` not in the store yet.
async fn candidate_hardware(ctx: &Context, rows: &[Row]) -> Result<Vec<Hardware>, TaskError> {
    let api: Api<Hardware> = Api::new(ctx.store().clone());
    let (stored, _) = api.list(&ListParams::namespace(NAMESPACE)).await?;
    let new: Vec<Hardware> = checks::hardware_of(rows, NAMESPACE)
        .into_iter()
        .filter(|h| {
            !stored
                .iter()
                .any(|x| x.metadata.name() == h.metadata.name())
        })
        .collect();
    Ok(stored.into_iter().filter(unowned).chain(new).collect())
}

/// EKS Anywhere's `AssertionsForScaleUpDown`: a group is scaled or rolled, not both.
fn upgrade_change_check(groups: &[GroupChange]) -> (String, Result<(), String>) {
    let name = "Scaling is not combined with a rolling upgrade".to_string();
    let both: Vec<&str> = groups
        .iter()
        .filter(|g| g.replaced && g.from != g.to && g.from > 0)
        .map(|g| g.role.as_str())
        .collect();
    if both.is_empty() {
        (name, Ok(()))
    } else {
        (
            name,
            Err(format!(
                "cannot perform scale up or down during rolling upgrades ({}): change the count or the machines, not both",
                both.join(", ")
            )),
        )
    }
}

/// Spare Hardware for the upgrade: `maxSurge` per rolling group and the added machines of
/// a scale-up, per hardware selector, among `free` Hardware.
fn spare_hardware_check(groups: &[GroupChange], free: &[Hardware]) -> (String, Result<(), String>) {
    let name = "Enough spare Hardware is available for the upgrade".to_string();
    let mut problems = Vec::new();
    // Per selector (as sorted pairs): the Hardware needed and who needs it.
    type Demand<'a> = (i64, Vec<&'a str>);
    let mut demand: std::collections::BTreeMap<Vec<(String, String)>, Demand<'_>> =
        Default::default();
    for g in groups {
        let need = if g.replaced {
            g.max_surge.max(0)
        } else {
            (g.to - g.from).max(0)
        };
        if need == 0 {
            continue;
        }
        let key: Vec<(String, String)> = g.selector.clone().into_iter().collect();
        let entry = demand.entry(key).or_default();
        entry.0 += need;
        entry.1.push(g.role.as_str());
    }
    for (selector, (need, roles)) in &demand {
        let have = free
            .iter()
            .filter(|h| {
                let labels = h.metadata.labels.clone().unwrap_or_default();
                selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .count();
        if (have as i64) < *need {
            let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            problems.push(format!(
                "{} need {need} free Hardware matching {}, {have} available",
                roles.join(" and "),
                sel.join(",")
            ));
        }
    }
    if problems.is_empty() {
        (name, Ok(()))
    } else {
        (name, Err(problems.join("; ")))
    }
}

/// Deletes the Cluster and waits until its machines are gone and their Hardware released,
/// then deletes the templates left.
async fn delete_cluster(ctx: &Context, s: &Shared) -> Result<(), TaskError> {
    use ironbell_cluster_api::kinds::CLUSTER_API_VERSION;
    let types = TypeKey {
        api_version: CLUSTER_API_VERSION.to_string(),
        kind: "Cluster".to_string(),
    };
    let store = ctx.store().clone();
    ironbell_store::finalizers::request_delete(&store, &types, NAMESPACE, ctx.cluster()).await?;
    wait::until(
        store.as_ref(),
        ctx.cluster(),
        "the cluster's machines to be powered off and released",
        s.settings.timeouts.cluster,
        ctx.out(),
        ClusterState::gone,
    )
    .await?;
    // What the Cluster does not own: the templates and the secrets labelled with its name.
    let left = backup_objects(store.as_ref(), ctx.cluster()).await?;
    for o in left {
        match store.delete(&o.types, o.namespace(), o.name(), None).await {
            Ok(_) => ctx
                .out()
                .detail(format_args!("{}/{} deleted", o.types.kind, o.name())),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(role: &str, selector: &str, from: i64, to: i64, replaced: bool) -> GroupChange {
        let (k, v) = selector.split_once('=').unwrap_or(("type", selector));
        GroupChange {
            role: role.into(),
            selector: [(k.to_string(), v.to_string())].into_iter().collect(),
            from,
            to,
            replaced,
            max_surge: 1,
        }
    }

    fn hardware(name: &str, labels: &[(&str, &str)]) -> Hardware {
        let mut h = Hardware::default();
        h.metadata.name = Some(name.into());
        h.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        h
    }

    #[test]
    fn a_group_is_scaled_or_rolled_not_both() {
        let ok = [group("worker group md-0", "type=worker", 2, 2, true)];
        assert!(upgrade_change_check(&ok).1.is_ok());
        let both = [group("worker group md-0", "type=worker", 2, 3, true)];
        let err = upgrade_change_check(&both).1.expect_err("refused");
        assert!(
            err.contains("cannot perform scale up or down during rolling upgrades"),
            "{err}"
        );
        assert!(err.contains("worker group md-0"), "{err}");
        // A new group (from 0) is neither.
        assert!(
            upgrade_change_check(&[group("worker group md-1", "type=w", 0, 2, false)])
                .1
                .is_ok()
        );
    }

    #[test]
    fn rolling_groups_need_max_surge_spares_and_scale_ups_the_added_machines() {
        let free = [
            hardware("w3", &[("type", "worker")]),
            hardware("c2", &[("type", "cp")]),
        ];
        // A rolling worker group needs one spare worker: there is one.
        let roll = [group("worker group md-0", "type=worker", 2, 2, true)];
        assert!(spare_hardware_check(&roll, &free).1.is_ok());
        // Rolling the control plane too needs a spare cp: there is one.
        let both = [
            group("control plane", "type=cp", 1, 1, true),
            group("worker group md-0", "type=worker", 2, 2, true),
        ];
        assert!(spare_hardware_check(&both, &free).1.is_ok());
        // Scaling workers 2 → 4 needs two spare workers: one is free.
        let up = [group("worker group md-0", "type=worker", 2, 4, false)];
        let err = spare_hardware_check(&up, &free).1.expect_err("short");
        assert!(
            err.contains("need 2 free Hardware matching type=worker, 1 available"),
            "{err}"
        );
        // Scaling down needs nothing.
        let down = [group("worker group md-0", "type=worker", 2, 1, false)];
        assert!(spare_hardware_check(&down, &[]).1.is_ok());
    }
}
