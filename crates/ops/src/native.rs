//! The management plane moving onto the cluster it created, with the `native` node
//! bootstrapper: the control-plane machines run an etcd member and an ironbell replica each
//! (`ironbell node up`, started in DHCP standby), and the create ends on them. The same for
//! every provider that has it: bare metal (`ironbell-lifecycle-tinkerbell`, the machines)
//! and Docker (`ironbell-lifecycle-docker`, the control-plane containers).
//!
//! - `install-resources-on-management-cluster` ([`form`]): a client certificate for this
//!   machine is issued from the cluster's etcd CA into `NAME/generated/pki/`
//!   ([`credentials`]), and the task waits until the cluster's etcd has one started member
//!   per control-plane machine, each answering, and each replica's metadata port accepts
//!   connections ([`wait_for_plane`]); then `NAME/NAME.store` names the plane's store
//!   ([`store_file`]), which `upgrade`/`delete cluster` and `ironbell --store` use from then
//!   on ([`moved_plane`]);
//! - `capi-management-move` ([`move_onto`], [`move_and_serve`]): the cluster's objects move
//!   from the bootstrap plane's store to the cluster's etcd ([`crate::mover`]), the
//!   bootstrap plane stops, and only then the replicas leave standby (the ConfigMap
//!   `ironbell-system/ironbell-plane` says `dhcp: serve`): at no moment do two planes answer
//!   DHCP for one machine (the bootstrap plane stops answering a machine when its Hardware
//!   leaves its store, and the replicas answer nobody before the switch). The bootstrap
//!   plane's store is kept as `bootstrap.db.moved` ([`keep_moved`]).
//!
//! `delete cluster` goes the other way, as EKS Anywhere's delete moves the management back
//! to a new kind cluster: a bootstrap plane starts on a new embedded store on the admin
//! machine once the cluster's plane is in DHCP standby, the cluster moves back to it
//! ([`move_back`]), its controllers delete the machines, and `NAME/NAME.store` is removed
//! with the plane it named ([`remove_store_file`]).
//!
//! This is an ironbell management plane on etcd, not Kubernetes.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbell_bootstrap::certs::{ClusterCertificates, Purpose};
use ironbell_bootstrap::native::CLIENT_PORT;
use ironbell_lifecycle::{Context, Layout, NAMESPACE, TaskError};
use ironbell_model::corev1::{ConfigMap, Secret};
use ironbell_store::{SharedStore, api};

use crate::mover::{MoveOptions, MoveReport};
use crate::plane::{PLANE_CONFIG, PLANE_CONFIG_DHCP};
use crate::spec::{Access, StoreHandle, StoreSpec};

fn failed(what: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(what.to_string())
}

/// The file `write-cluster-config` leaves the moved plane's store spec in: `NAME/NAME.store`.
pub fn store_file(cluster_dir: &Path, cluster: &str) -> PathBuf {
    cluster_dir.join(format!("{cluster}.store"))
}

/// The addresses (`InternalIP`) of the cluster's control-plane machines, sorted.
pub async fn control_plane_addresses(
    store: &SharedStore,
    cluster: &str,
) -> Result<Vec<Ipv4Addr>, TaskError> {
    let found =
        ironbell_cluster_api::objects::control_plane_addresses(store, NAMESPACE, cluster).await?;
    Ok(found.iter().filter_map(|(_, a)| a.parse().ok()).collect())
}

/// Issues this machine's client certificate of the cluster's etcd (from the etcd CA the
/// bootstrap store keeps, `<cluster>-etcd`) into `dir` (`0700`; files `0600`), unless it is
/// there; returns the store spec of the cluster's plane at `members`.
pub async fn credentials(
    store: &SharedStore,
    cluster: &str,
    dir: &Path,
    members: &[Ipv4Addr],
) -> Result<String, TaskError> {
    let (ca, cert, key) = (
        dir.join("ca.crt"),
        dir.join("admin.crt"),
        dir.join("admin.key"),
    );
    if !(ca.is_file() && cert.is_file() && key.is_file()) {
        let secrets = api::<Secret>(store);
        let mut found = Vec::new();
        for purpose in Purpose::ALL {
            found.push(
                secrets
                    .get(NAMESPACE, &purpose.secret_name(cluster))
                    .await?,
            );
        }
        let certs = ClusterCertificates::from_secrets(cluster, &found).map_err(failed)?;
        let admin = ironbell_bootstrap::native::client_certificate(
            &certs.etcd_ca,
            "ironbell-admin",
            ironbell_model::values::now(),
        )
        .map_err(failed)?;
        private_dir(dir)?;
        write_private(&ca, certs.etcd_ca.cert_pem())?;
        write_private(&key, admin.key_pem())?;
        write_private(&cert, admin.cert_pem())?;
    }
    let hosts: Vec<String> = members
        .iter()
        .map(|ip| format!("{ip}:{CLIENT_PORT}"))
        .collect();
    Ok(format!(
        "etcds://{}/ironbell?cacert={}&cert={}&key={}",
        hosts.join(","),
        absolute(&ca)?.display(),
        absolute(&cert)?.display(),
        absolute(&key)?.display()
    ))
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> TaskError + 'a {
    move |source| TaskError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn absolute(path: &Path) -> Result<PathBuf, TaskError> {
    std::path::absolute(path).map_err(io("resolving", path))
}

fn private_dir(dir: &Path) -> Result<(), TaskError> {
    ironbell_files::private_dir(dir).map_err(io("creating", dir))
}

fn write_private(path: &Path, text: &str) -> Result<(), TaskError> {
    ironbell_files::write_private(path, text.as_bytes()).map_err(io("writing", path))
}

/// Opens the cluster plane's store, given as text (`NAME/NAME.store`).
pub fn open(spec: &str) -> Result<StoreHandle, TaskError> {
    let spec: StoreSpec = spec.parse().map_err(failed)?;
    open_spec(&spec)
}

/// Opens the cluster plane's store.
pub fn open_spec(spec: &StoreSpec) -> Result<StoreHandle, TaskError> {
    crate::spec::open(spec, Access::Existing)
        .map_err(|e| failed(format!("opening the cluster's plane: {e}")))
}

/// Waits until the cluster's etcd at `plane` has `members.len()` started members, each
/// answering, and each member's replica accepts connections on `metadata_port`.
pub async fn wait_for_plane(
    plane: &StoreHandle,
    members: &[Ipv4Addr],
    metadata_port: u16,
    timeout: Duration,
) -> Result<(), TaskError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match plane_state(plane, members, metadata_port).await {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() >= deadline => {
                return Err(failed(format!(
                    "the cluster's plane did not form in {timeout:?}: {why}"
                )));
            }
            Err(why) => {
                if why != last {
                    tracing::info!("waiting for the cluster's plane: {why}");
                    last = why;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `Ok` when the plane is formed, else what it waits for.
async fn plane_state(
    plane: &StoreHandle,
    members: &[Ipv4Addr],
    metadata_port: u16,
) -> Result<(), String> {
    let Some(etcd) = plane.etcd() else {
        return Err("the plane's store is not etcd".into());
    };
    let mut client = etcd.client().await.map_err(|e| e.to_string())?;
    let list = client.member_list().await.map_err(|e| e.to_string())?;
    let started = list
        .members()
        .iter()
        .filter(|m| !m.name().is_empty())
        .count();
    if started < members.len() {
        return Err(format!(
            "{started} of {} etcd members started",
            members.len()
        ));
    }
    for ip in members {
        let addr = std::net::SocketAddr::from((*ip, metadata_port));
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| format!("the replica at {addr} does not answer"))?
            .map_err(|e| format!("the replica at {addr}: {e}"))?;
    }
    Ok(())
}

/// Moves the cluster from `bootstrap` to `plane`, then (once `stop_bootstrap` has stopped
/// the bootstrap plane) lets the plane's DHCP serve.
pub async fn move_and_serve<F: std::future::Future<Output = ()>>(
    ctx: &Context,
    bootstrap: &SharedStore,
    plane: &StoreHandle,
    stop_bootstrap: F,
) -> Result<MoveReport, TaskError> {
    let kinds = crate::lookup::kinds();
    let report = crate::mover::move_cluster(
        bootstrap.as_ref(),
        plane.store().as_ref(),
        &kinds,
        &MoveOptions::new(NAMESPACE, ctx.cluster()),
    )
    .await
    .map_err(|e| failed(format!("moving cluster {}: {e}", ctx.cluster())))?;
    stop_bootstrap.await;
    set_dhcp(plane.store(), "serve").await?;
    Ok(report)
}

/// The delete's way back (`capi-management-move-for-delete`): the cluster's plane goes to
/// DHCP standby first (so that it answers no machine once the bootstrap plane holds them),
/// then the cluster moves from it to `bootstrap`.
pub async fn move_back(
    ctx: &Context,
    plane: &StoreHandle,
    bootstrap: &SharedStore,
) -> Result<MoveReport, TaskError> {
    set_dhcp(plane.store(), "standby").await?;
    let kinds = crate::lookup::kinds();
    crate::mover::move_cluster(
        plane.store().as_ref(),
        bootstrap.as_ref(),
        &kinds,
        &MoveOptions::new(NAMESPACE, ctx.cluster()),
    )
    .await
    .map_err(|e| failed(format!("moving cluster {} back: {e}", ctx.cluster())))
}

/// Sets the plane's DHCP switch (the ConfigMap [`PLANE_CONFIG`]) to `mode` (`serve` or
/// `standby`).
pub async fn set_dhcp(plane: &SharedStore, mode: &str) -> Result<(), TaskError> {
    let (namespace, name) = PLANE_CONFIG;
    let configs = api::<ConfigMap>(plane);
    let mut switch = ConfigMap {
        metadata: ironbell_model::ObjectMeta::named(namespace, name),
        data: Some([(PLANE_CONFIG_DHCP.to_string(), mode.to_string())].into()),
        ..ConfigMap::default()
    };
    match configs.get(namespace, name).await {
        Ok(current) => {
            if current.data != switch.data {
                switch.metadata = current.metadata;
                configs.update(&switch).await?;
            }
        }
        Err(e) if e.is_not_found() => {
            configs.create(&switch).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Why `NAME/NAME.store` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreFileError {
    /// The cluster's folder cannot be named after it.
    #[error(transparent)]
    Layout(#[from] ironbell_lifecycle::task::LayoutError),
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not hold a store spec.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The store of management cluster `cluster` (spec at `spec_path`) when its plane moved
/// onto the cluster's machines: the one `NAME/NAME.store` names; `None` while the plane is
/// on the admin machine.
pub fn moved_plane(spec_path: &Path, cluster: &str) -> Result<Option<StoreSpec>, StoreFileError> {
    let layout = Layout::beside(spec_path, cluster)?;
    let file = store_file(layout.cluster_dir(), cluster);
    match std::fs::read_to_string(&file) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| StoreFileError::Parse {
                path: file,
                message: format!("{e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreFileError::Read { path: file, source }),
    }
}

/// Renames the bootstrap plane's embedded store `path` (and its `-wal`/`-shm` files) to
/// `bootstrap.db.moved` beside it, for inspection: the plane moved onto the cluster.
pub fn keep_moved(path: &Path) -> Result<(), StoreFileError> {
    let moved = path.with_file_name("bootstrap.db.moved");
    for suffix in ["", "-wal", "-shm"] {
        let (from, to) = (
            PathBuf::from(format!("{}{suffix}", path.display())),
            PathBuf::from(format!("{}{suffix}", moved.display())),
        );
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreFileError::Read { path: from, source }),
        }
    }
    Ok(())
}

/// The cluster's plane once formed ([`form`]).
#[derive(Clone, Debug)]
pub struct Formed {
    /// The control-plane machines' addresses: one etcd member and one replica each.
    pub members: Vec<Ipv4Addr>,
    /// `NAME/NAME.store`, which names the plane's store.
    pub file: PathBuf,
}

impl Formed {
    /// The members' addresses, as text.
    pub fn addresses(&self) -> Vec<String> {
        self.members.iter().map(Ipv4Addr::to_string).collect()
    }
}

/// `install-resources-on-management-cluster` with the `native` bootstrapper: waits until the
/// control-plane machines of `cluster` (its `controlPlaneConfiguration.count`) formed its plane (an etcd member each,
/// answering, and a replica accepting connections on `metadata_port`), for at most
/// `timeout`, then writes `NAME/NAME.store` naming it.
pub async fn form(
    ctx: &Context,
    cluster: &ironbell_model::anywhere::Cluster,
    metadata_port: u16,
    timeout: Duration,
) -> Result<Formed, TaskError> {
    let want = cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.count)
        .unwrap_or(1);
    let want = usize::try_from(want).unwrap_or(usize::MAX);
    let members = control_plane_addresses(ctx.store(), ctx.cluster()).await?;
    if members.len() < want {
        return Err(failed(format!(
            "{} of {want} control-plane machines have an address",
            members.len()
        )));
    }
    let pki = ctx.layout().generated_dir().join("pki");
    let spec = credentials(ctx.store(), ctx.cluster(), &pki, &members).await?;
    let plane = open(&spec)?;
    wait_for_plane(&plane, &members, metadata_port, timeout).await?;
    let file = store_file(ctx.layout().cluster_dir(), ctx.cluster());
    std::fs::write(&file, format!("{spec}\n")).map_err(io("writing", &file))?;
    Ok(Formed { members, file })
}

/// `capi-management-move` with the `native` bootstrapper: the cluster moves from the
/// bootstrap plane's store (the run's) onto the plane `NAME/NAME.store` names, then
/// `stop_bootstrap` stops the bootstrap plane and the cluster's plane serves
/// ([`move_and_serve`]).
pub async fn move_onto<F: std::future::Future<Output = ()>>(
    ctx: &Context,
    stop_bootstrap: F,
) -> Result<MoveReport, TaskError> {
    let file = store_file(ctx.layout().cluster_dir(), ctx.cluster());
    let spec = std::fs::read_to_string(&file).map_err(io("reading", &file))?;
    let plane = open(spec.trim())?;
    move_and_serve(ctx, ctx.store(), &plane, stop_bootstrap).await
}

/// The journal record of a move task: objects moved, source objects deleted.
pub fn journal(report: &MoveReport) -> serde_json::Value {
    serde_json::json!({
        "objects": report.objects(),
        "deleted": report.deleted,
    })
}

/// The end of a delete of a cluster whose plane had moved: `NAME/NAME.store` removed (the
/// plane it named was the cluster's machines, gone now). The file removed, if it was there.
pub fn remove_store_file(ctx: &Context) -> Result<Option<PathBuf>, TaskError> {
    let file = store_file(ctx.layout().cluster_dir(), ctx.cluster());
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TaskError::Io {
            what: "removing",
            path: file,
            source,
        }),
    }
}
