//! The tasks: one [`ironbell_lifecycle::Step`] per task name of [`ironbell_lifecycle::plan`], all sharing the
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
//! | `install-resources-on-management-cluster` | hands the plane over to a service that outlives the command ([`crate::service`]); with the `native` bootstrapper, waits for the cluster's own plane instead ([`ironbell_ops::native`]) |
//! | `capi-management-move` | with the `native` bootstrapper: the move onto the cluster's plane, the bootstrap plane stopped, the cluster's plane serving ([`ironbell_ops::native`]) |
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
use ironbell_lifecycle::steps;
use ironbell_lifecycle::wait::ClusterState;
use ironbell_lifecycle::{Context, Next, TaskError};
use ironbell_model::tinkerbell::Hardware;
use ironbell_ops::plane::BootstrapPlane;
use ironbell_ops::spec::StoreSpec;
use ironbell_provider_tinkerbell::validate::{Purpose, unowned};
use ironbell_release::ClusterRelease;
use ironbell_store::{Api, ListParams};
use serde_json::json;

use crate::render::{self, GroupChange};
use crate::wait;
use crate::{NAMESPACE, Settings, checks, service};
use ironbell_ops::native;

/// What the tasks of one run share.
pub struct Shared {
    spec: Arc<Spec>,
    settings: Settings,
    release: OnceLock<ClusterRelease>,
    /// The bootstrap plane, while this process runs it.
    plane: BootstrapPlane,
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
            plane: BootstrapPlane::default(),
        }
    }

    /// Whether control-plane machines become the management plane (the `native` node
    /// bootstrapper): then the create ends with the move ([`ironbell_ops::native`]).
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
        self.plane.stop().await;
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
        let config = self.settings.plane.clone();
        let network = config.network.clone();
        let api = config.api.clone();
        let started = self
            .plane
            .ensure(&self.settings.store, config, || {
                ctx.out().detail(format_args!(
                    "Starting the bootstrap plane at {} (DHCP, TFTP, HTTP :{}, metadata :{}, agent API :{}) on {}",
                    network.public_ip,
                    network.http.port(),
                    network.metadata.port(),
                    network.grpc.port(),
                    store_text(self.settings.store.spec()),
                ));
            })
            .await
            .map_err(|e| failed(format!("starting the bootstrap plane: {e}")))?;
        if started && let Some(api) = &api {
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
        steps::apply(ctx, &plan.objects).await?;
        Ok(plan)
    }

    /// Waits until the cluster is ready.
    async fn wait_ready(&self, ctx: &Context, what: &str) -> Result<ClusterState, TaskError> {
        steps::wait_ready(ctx, &wait::Tinkerbell, self.settings.timeouts.cluster, what).await
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

/// The tasks (see the module docs).
#[async_trait::async_trait]
impl ironbell_lifecycle::Steps for Shared {
    async fn run_step(&self, task: &'static str, ctx: &mut Context) -> Result<Next, TaskError> {
        let s = self;
        match task {
            names::SETUP_VALIDATE | names::SETUP_VALIDATE_CREATE => {
                let rows = s.rows()?;
                if rows.is_empty() {
                    return Err(failed(
                        "a Tinkerbell cluster needs --hardware-csv: the machines to build it on",
                    ));
                }
                let mut all = checks::spec_checks(&s.spec);
                let hardware = if task == names::SETUP_VALIDATE_CREATE {
                    // A workload cluster also gets the management plane's free Hardware.
                    candidate_hardware(ctx, &rows).await?
                } else {
                    checks::hardware_of(&rows, NAMESPACE)
                };
                all.extend(checks::hardware_checks(&s.spec, &hardware, Purpose::Create));
                if task == names::SETUP_VALIDATE {
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
                if task == names::CREATE_WORKLOAD_CLUSTER {
                    s.import_new_hardware(ctx).await?;
                    s.wait_for_bmcs(ctx).await?;
                }
                s.apply(ctx).await?;
                s.wait_ready(ctx, "the cluster to be ready").await?;
                Ok(Next::proceed())
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER if s.native() => {
                // The plane formed on the control-plane machines, its DHCP in standby.
                let formed = native::form(
                    ctx,
                    &s.spec.cluster,
                    s.settings.plane.network.metadata.port(),
                    s.settings.timeouts.cluster,
                )
                .await?;
                let list = formed.addresses();
                ctx.out().detail(format_args!(
                    "The cluster's plane formed: {} etcd members and replicas at {} (DHCP in \
                     standby until the move); its store: {}",
                    formed.members.len(),
                    list.join(", "),
                    formed.file.display()
                ));
                Ok(Next::proceed_with(json!({ "members": list })))
            }
            names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER => {
                // The bootstrap plane hands over to the service on the same store.
                s.stop_bootstrap_plane().await;
                let store = service::store_arg(s.settings.store.spec()).map_err(failed)?;
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
                // The bootstrap plane may not run (a resumed run): nothing to stop then.
                s.ensure_controllers(ctx).await?;
                let report = native::move_onto(ctx, s.stop_bootstrap_plane()).await?;
                ctx.out().detail(format_args!(
                    "Moved {} objects to the cluster's plane ({}); the bootstrap plane stopped; \
                     the cluster's plane serves DHCP",
                    report.objects(),
                    report.summary()
                ));
                Ok(Next::proceed_with(native::journal(&report)))
            }
            names::CAPI_MANAGEMENT_MOVE => {
                ctx.out().detail(format_args!(
                    "The management plane stays on this machine ({}); nothing to move",
                    store_text(s.settings.store.spec())
                ));
                Ok(Next::proceed())
            }
            names::WRITE_CLUSTER_CONFIG => steps::write_cluster_config(ctx),
            names::DELETE_KIND_CLUSTER => {
                s.stop_bootstrap_plane().await;
                steps::created(ctx)
            }
            names::SETUP_AND_VALIDATE | names::SETUP_VALIDATE_UPGRADE => {
                steps::require_cluster(
                    ctx,
                    &wait::Tinkerbell,
                    &store_text(s.settings.store.spec()),
                )
                .await?;
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
                Ok(Next::proceed_with(json!({ "changeDiff": plan.diff() })))
            }
            names::PRE_CLUSTER_UPGRADE => {
                steps::backup(ctx, &ironbell_ops::lookup::kinds(), s.settings.now_unix_ms).await
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
            names::POST_CLUSTER_UPGRADE => steps::remove_backup(ctx),
            names::SETUP_AND_VALIDATE_DELETE => steps::note_gone(ctx, &wait::Tinkerbell).await,
            names::BOOTSTRAP_CLUSTER_FOR_DELETE_INIT => {
                if let Some(spec) = &s.settings.moved_plane {
                    // The cluster's plane answers no machine from here on: the bootstrap
                    // plane takes them once they move back.
                    let plane = native::open_spec(spec)?;
                    native::set_dhcp(plane.store(), "standby").await?;
                    ctx.out().detail(format_args!(
                        "The cluster's plane ({}) is in DHCP standby",
                        store_text(spec)
                    ));
                }
                s.ensure_controllers(ctx).await?;
                Ok(Next::proceed())
            }
            names::CAPI_MANAGEMENT_MOVE_FOR_DELETE if s.settings.moved_plane.is_some() => {
                let spec = s
                    .settings
                    .moved_plane
                    .as_ref()
                    .ok_or_else(|| failed("no plane"))?;
                let plane = native::open_spec(spec)?;
                s.ensure_controllers(ctx).await?;
                let report = native::move_back(ctx, &plane, ctx.store()).await?;
                ctx.out().detail(format_args!(
                    "Moved {} objects back to the bootstrap plane on this machine ({})",
                    report.objects(),
                    store_text(s.settings.store.spec())
                ));
                Ok(Next::proceed_with(native::journal(&report)))
            }
            names::DELETE_MANAGEMENT_CLUSTER | names::DELETE_WORKLOAD_CLUSTER => {
                s.ensure_controllers(ctx).await?;
                delete_cluster(ctx, s).await?;
                Ok(Next::proceed())
            }
            names::VALIDATE_DELETE_WORKLOAD_SUCCESS => {
                steps::check_gone(ctx, &wait::Tinkerbell).await
            }
            names::KIND_CLUSTER_DELETE => {
                s.stop_bootstrap_plane().await;
                if s.settings.moved_plane.is_some()
                    && let Some(file) = native::remove_store_file(ctx)?
                {
                    // The plane it named was the cluster's machines, now off.
                    ctx.out().detail(format_args!("Removed {}", file.display()));
                }
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
                steps::deleted(ctx)
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
    steps::delete_cluster(
        ctx,
        &ironbell_ops::lookup::kinds(),
        &wait::Tinkerbell,
        s.settings.timeouts.cluster,
        "the cluster's machines to be powered off and released",
    )
    .await
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
