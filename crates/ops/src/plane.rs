//! A plane: ironbell's services over one store — boot (DHCP, TFTP, HTTP, syslog),
//! metadata, workflow (controller and agent API), the BMC controllers, the cluster
//! controllers (Cluster API's core and the Tinkerbell provider, [`ClusterOptions`]; the
//! Docker provider's and the phone-home its containers post to, [`DockerOptions`]) and
//! the Kubernetes API ([`ApiOptions`]) —
//! started together from one [`PlaneNetwork`] and stopped together through the [`Plane`]
//! handle. A lifecycle command that needs controllers starts one in its own process
//! unless another process runs them ([`BootstrapPlane`]).
//!
//! Controllers (workflow, BMC and cluster) must run in one process at a time, or every BMC
//! Job runs twice and two processes race for the same Hardware. How that is decided depends on the store:
//!
//! - **The embedded store** (one SQLite file, one machine): a plane that runs controllers
//!   first takes the store's controller lock ([`StoreHandle::lock_controllers`]) and holds
//!   it until stopped: a second plane on the same file with controllers fails to start
//!   with an error naming the first one's PID (it does not wait as a standby: on one
//!   machine a supervisor restarting it is the simpler standby). Planes with only boot and
//!   metadata need no lock and may run beside it.
//! - **etcd** (replicas on several machines): every replica serves boot and metadata at
//!   once; the controllers — the workflow service (its controller and the agents' API,
//!   which hand out the same actions), the BMC controllers and the cluster controllers —
//!   run on the one replica
//!   that leads the `controllers` election ([`ironbell_store_etcd::Election`], a 15 s
//!   lease). The others wait as candidates (logged, and shown by
//!   [`ironbell_store_etcd::Election::observe`]); their workflow port answers every agent
//!   call at once with `UNAVAILABLE`, naming the leader
//!   ([`ironbell_workflow::standby`]), so that an agent given every replica
//!   (`grpc_authority=A:42113,B:42113`) moves on to the one that leads; they take over
//!   within the lease when the leader dies, the real agent API replacing the standby
//!   answer on the same socket. A leader that loses the lease (etcd unreachable past the renew deadline,
//!   5 s before etcd can expire it) stops its controllers and stands as a candidate again
//!   (logged at `warn`); its boot and metadata services go on serving. A replica never
//!   runs controllers while another may lead.
//!
//! ## Replicas on etcd
//!
//! - **DHCP**: every replica binds DHCP, joins the membership group
//!   [`ironbell_store_etcd::DHCP_GROUP`] under its replica id ([`BootOptions::replica_id`],
//!   the host name by default) and answers only its share of the clients' MACs
//!   ([`ironbell_dhcp::share`]), recomputed from every change of the membership; a dead
//!   replica's clients are taken over when its membership lease runs out
//!   ([`StoreHandle::set_dhcp_peer_timeout`], 10 s by default). Each change is logged at
//!   `info` with the number of the 256 buckets this replica answers. Two replicas under
//!   one id: the one that sees its key taken stops with an error saying so.
//! - **Degraded mode**: a probe reads etcd's revision every [`PROBE_PERIOD`]. When it
//!   fails the replica logs one warning ("store unreachable: serving from the last view of
//!   revision N (degraded)") and one line at `info` when etcd answers again. Between the
//!   two, DHCP, iPXE and metadata answer from the in-memory views (the reflectors keep
//!   their last set), the DHCP share stays as it was, writes fail with the store's error,
//!   and the retries of the watches, the membership and the candidacy log at `debug`
//!   ([`EtcdStore::known_unreachable`]). The boot service's `/metrics` shows it as
//!   `ironbell_store_degraded`. A replica started while etcd is down has no view to
//!   serve from: its boot service waits for the first list.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ironbell_boot::metrics::StoreHealth;
use ironbell_store_etcd::{EtcdStore, Member, MembershipView};
use ironbell_store_sqlite::ControllerLock;
use ironbell_workflow::standby::StandbyServer;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use ironbell_workflow::auth::{AgentAuth, AuthMode};

use crate::OpsError;
use crate::network::PlaneNetwork;
use crate::spec::StoreHandle;

/// What the boot service does besides where it listens.
#[derive(Clone, Debug)]
pub struct BootOptions {
    /// DHCP mode (`Off` answers nothing and binds no socket).
    pub dhcp_mode: ironbell_dhcp::Mode,
    /// Serve DHCP on this interface only.
    pub interface: Option<String>,
    /// Serve TFTP.
    pub tftp: bool,
    /// Receive syslog.
    pub syslog: bool,
    /// Directory of the iPXE binaries.
    pub ipxe_dir: PathBuf,
    /// Directory of the HookOS kernel and initramfs.
    pub artifacts_dir: PathBuf,
    /// Where machines fetch the HookOS kernel and initramfs instead of this plane's HTTP
    /// service: EKS Anywhere's `hookImagesURLPath`, Smee's OSIE URL (a base URL holding
    /// `vmlinuz-x86_64` and `initramfs-x86_64`); `None`: this plane serves them.
    pub artifacts_url: Option<String>,
    /// Extra kernel parameters for HookOS.
    pub extra_kernel_args: Vec<String>,
    /// Where syslog from machines is kept, one file per Hardware.
    pub machine_log_dir: PathBuf,
    /// Where each known machine's syslog line is also sent as it arrives (the dashboard
    /// in the same process); `None`: nowhere.
    pub log_feed: Option<ironbell_boot::machine_log::LogFeed>,
    /// This replica's id among the DHCP replicas on an etcd store (unique per replica; a
    /// DNS-1123 name); `None`: the host name. Unused on the embedded store.
    pub replica_id: Option<String>,
    /// On an etcd store: start DHCP in standby, answering no client until the ConfigMap
    /// [`PLANE_CONFIG`] says `dhcp: serve` (it is followed either way: `dhcp: standby` puts
    /// a serving replica in standby). Unused on the embedded store.
    pub standby: bool,
}

/// The ConfigMap a plane's DHCP replicas follow, `(namespace, name)`: its `dhcp` key says
/// `standby` (answer no client) or `serve`. The move of a cluster's management onto its
/// own machines starts their replicas in standby and switches them to `serve` once the
/// plane they take over from has stopped, so that no machine hears two planes.
pub const PLANE_CONFIG: (&str, &str) = ("ironbell-system", "ironbell-plane");
/// The key of [`PLANE_CONFIG`] that holds the DHCP switch.
pub const PLANE_CONFIG_DHCP: &str = "dhcp";

/// What the metadata service does besides where it listens.
#[derive(Clone, Debug, Default)]
pub struct MetadataOptions {
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ironbell_metadata::Cidr>,
    /// Require IMDSv2 session tokens on EC2 paths.
    pub require_tokens: bool,
}

/// What the workflow service does besides where it listens.
#[derive(Clone, Debug)]
pub struct WorkflowOptions {
    /// Workflows reconciled at once.
    pub concurrency: usize,
    /// Who may act for an agent on the agent API.
    pub auth: AgentAuth,
}

impl Default for WorkflowOptions {
    /// 8 Workflows at once; token authentication (the Hardware's address and the
    /// Workflow's token).
    fn default() -> Self {
        Self {
            concurrency: 8,
            auth: AgentAuth::default(),
        }
    }
}

/// How the cluster controllers make a node's bootstrap data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeBootstrapper {
    /// A node with no Kubernetes: Ready when its installed OS posts cloud-init's
    /// phone-home to this URL (the metadata service's `/phone-home`).
    Plain {
        /// Where the node posts its phone-home.
        phone_home_url: String,
    },
    /// EKS Anywhere's kubeadm user-data (rendered; no Kubernetes binaries run here).
    Kubeadm,
    /// Control-plane machines run an etcd member and a replica of the plane (`ironbell node
    /// up`): the cluster's own management plane; workers are `Plain`.
    Native {
        /// Where every node posts its phone-home.
        phone_home_url: String,
        /// The `serve all` flags of a control-plane machine's replica.
        serve_args: Vec<String>,
    },
}

/// What the cluster controllers do: Cluster API's core (`Cluster`, `MachineDeployment`,
/// `MachineSet`, `Machine`, `KubeadmControlPlane`, `KubeadmConfig`) and the Tinkerbell
/// provider's `TinkerbellCluster` and `TinkerbellMachine` controllers.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// How bootstrap data is made.
    pub bootstrapper: NodeBootstrapper,
    /// The address the default workflow template points cloud-init at (the metadata
    /// service as machines see it).
    pub tinkerbell_ip: String,
    /// The metadata service's port there.
    pub metadata_port: u16,
    /// How soon a controller looks again at something it waits for and does not watch.
    pub requeue: Duration,
}

impl ClusterOptions {
    /// The `plain` bootstrapper posting to the plane's own metadata service
    /// (`http://<public ip>:<metadata port>/phone-home`).
    pub fn plain(network: &PlaneNetwork) -> Self {
        Self::with(
            network,
            NodeBootstrapper::Plain {
                phone_home_url: network.phone_home_url(),
            },
        )
    }

    /// `bootstrapper` for machines that reach the plane at `network.public_ip` (the
    /// default template's cloud-init reads the plane's metadata port there); looks again
    /// every 2 s.
    pub fn with(network: &PlaneNetwork, bootstrapper: NodeBootstrapper) -> Self {
        Self {
            bootstrapper,
            tinkerbell_ip: network.public_ip.to_string(),
            metadata_port: network.metadata.port(),
            requeue: Duration::from_secs(2),
        }
    }
}

/// Runs the cluster controllers over `store` until the future is dropped.
async fn run_cluster_controllers(store: ironbell_store::SharedStore, options: ClusterOptions) {
    use ironbell_provider_tinkerbell::TinkerbellMachine;
    use ironbell_provider_tinkerbell::cluster::ClusterReconciler;
    use ironbell_provider_tinkerbell::machine::{self, MachineReconciler};

    let bootstrapper: Arc<dyn ironbell_cluster_api::NodeBootstrapper> = match &options.bootstrapper
    {
        NodeBootstrapper::Plain { phone_home_url } => Arc::new(
            ironbell_cluster_api::bootstrappers::PlainBootstrapper::new(phone_home_url.clone()),
        ),
        NodeBootstrapper::Kubeadm => {
            Arc::new(ironbell_cluster_api::bootstrappers::KubeadmBootstrapper::new(store.clone()))
        }
        NodeBootstrapper::Native {
            phone_home_url,
            serve_args,
        } => Arc::new(
            ironbell_cluster_api::bootstrappers::NativeBootstrapper::new(
                store.clone(),
                phone_home_url.clone(),
                serve_args.clone(),
            ),
        ),
    };
    let capi = ironbell_cluster_api::controllers::Controllers::new(store.clone(), bootstrapper)
        .with_options(ironbell_cluster_api::controllers::Options {
            requeue: options.requeue,
            ..Default::default()
        })
        .watch_infrastructure::<TinkerbellMachine>()
        .watch_infrastructure::<ironbell_provider_docker::DockerMachine>();
    let machines = MachineReconciler::new(
        store.clone(),
        machine::Config {
            tinkerbell_ip: options.tinkerbell_ip.clone(),
            metadata_port: options.metadata_port,
            wait: options.requeue,
            ..machine::Config::default()
        },
    );
    let clusters = ClusterReconciler::new(store, options.requeue);
    tokio::join!(capi.run(), machines.run(), clusters.run());
}

/// The Docker provider's controllers (CAPD's `DockerCluster` and `DockerMachine`,
/// `ironbell-provider-docker`) on an engine, and the phone-home receiver its node
/// containers post to. They run with the cluster controllers (which then also watch
/// `DockerMachine`s); no boot service is needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerOptions {
    /// The engine: `unix:///var/run/docker.sock`, a socket path or `tcp://HOST:PORT`.
    pub engine: String,
    /// Where the phone-home receiver listens: an address the containers reach (through
    /// their network's gateway), as the `plain` bootstrapper's URL names it.
    pub phone_home: std::net::SocketAddr,
    /// How soon the Docker controllers look again at what they wait for.
    pub wait: Duration,
    /// How often they look at what is ready (a container the engine stopped, after the
    /// engine restarted, is started again).
    pub resync: Duration,
}

impl DockerOptions {
    /// The engine at `engine`, the phone-home on `phone_home`, looking again every 500 ms
    /// while waiting and every 5 s once ready.
    pub fn new(engine: impl Into<String>, phone_home: std::net::SocketAddr) -> Self {
        Self {
            engine: engine.into(),
            phone_home,
            wait: Duration::from_millis(500),
            resync: Duration::from_secs(5),
        }
    }

    /// The `serve all` flags of the replica in a `native` control-plane container: the
    /// Docker controllers on this engine as the container reaches it (a local engine
    /// through the host's socket, which the renderer mounts into every node container at
    /// [`NODE_DOCKER_SOCKET`], as CAPD's manager reaches it in a kind cluster; a `tcp://`
    /// engine as it is), their phone-home on every address of the container at this
    /// phone-home's port, and nothing that network-boots: a Docker cluster has no machine
    /// to boot, so no DHCP, TFTP or syslog receiver.
    pub fn replica_serve_args(&self) -> Vec<String> {
        let engine = if self.engine.starts_with("tcp://") || self.engine.starts_with("http") {
            self.engine.clone()
        } else {
            NODE_DOCKER_SOCKET.to_string()
        };
        vec![
            format!("--docker-host={engine}"),
            format!(
                "--docker-phone-home={}",
                std::net::SocketAddr::from((
                    std::net::Ipv4Addr::UNSPECIFIED,
                    self.phone_home.port()
                ))
            ),
            "--dhcp-mode=off".into(),
            "--no-tftp".into(),
            "--no-syslog".into(),
        ]
    }
}

/// Where a Docker node container reaches the host's engine: the host's socket, mounted
/// there by the renderer (CAPD's `extraMounts` of `/var/run/docker.sock`).
pub const NODE_DOCKER_SOCKET: &str = "unix:///var/run/docker.sock";

/// Which services a plane runs, and how.
#[derive(Clone, Debug)]
pub struct PlaneConfig {
    /// Where everything listens.
    pub network: PlaneNetwork,
    /// The boot service, if run.
    pub boot: Option<BootOptions>,
    /// The metadata service, if run.
    pub metadata: Option<MetadataOptions>,
    /// The workflow service, if run.
    pub workflow: Option<WorkflowOptions>,
    /// The BMC controllers, if run.
    pub bmc: Option<ironbell_bmc::Config>,
    /// The cluster controllers, if run.
    pub cluster: Option<ClusterOptions>,
    /// A virtual address (the Tinkerbell IP) held by the replica that runs the controllers
    /// while its DHCP serves ([`ironbell_vip`]); on the embedded store, for the plane's whole
    /// life. `None`: the address is the host's own business.
    pub vip: Option<ironbell_vip::Vip>,
    /// The Docker provider's controllers and phone-home, if run (with `cluster`).
    pub docker: Option<DockerOptions>,
    /// The Kubernetes API, if served.
    pub api: Option<ApiOptions>,
}

/// The Kubernetes API of a plane (`ironbell-kube-api`), so that kubectl works against it
/// (the bootstrap plane serves it as EKS Anywhere's kind cluster does).
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its URL as clients reach it (`https://TINKERBELL-IP:6443`), for kubeconfigs.
    pub server: String,
    /// Its CA, serving certificate and tokens.
    pub security: Arc<ironbell_kube_api::Security>,
    /// The kinds it serves.
    pub kinds: ironbell_model::KindRegistry,
}

impl ApiOptions {
    /// An admin kubeconfig for this API whose cluster, user and context are named after
    /// `name` (bearer token; the CA inline).
    pub fn kubeconfig(
        &self,
        name: &str,
    ) -> Result<String, ironbell_kube_api::security::SecurityError> {
        ironbell_kube_api::kubeconfig(
            &self.server,
            &self.security,
            ironbell_kube_api::Role::Admin,
            false,
            name,
        )
    }
}

impl PlaneConfig {
    /// Nothing running yet on `network`.
    pub fn new(network: PlaneNetwork) -> Self {
        Self {
            network,
            boot: None,
            metadata: None,
            workflow: None,
            bmc: None,
            cluster: None,
            vip: None,
            docker: None,
            api: None,
        }
    }

    /// Whether it runs controllers (and so needs the controller lock).
    pub fn runs_controllers(&self) -> bool {
        self.workflow.is_some()
            || self.bmc.is_some()
            || self.cluster.is_some()
            || self.docker.is_some()
    }
}

/// The boot service's configuration for `network` and `options`. Fails if the iPXE
/// binaries directory, needed by TFTP, does not exist.
pub fn boot_config(
    network: &PlaneNetwork,
    options: &BootOptions,
) -> Result<ironbell_boot::service::Config, OpsError> {
    if options.tftp && !options.ipxe_dir.is_dir() {
        return Err(OpsError::Service {
            service: "boot",
            message: format!(
                "iPXE binaries directory {} does not exist (install Debian's `ipxe` package, \
                 or pass --ipxe-dir)",
                options.ipxe_dir.display()
            ),
        });
    }
    let mut http = network.boot_http();
    http.ipxe_dir = options.ipxe_dir.clone();
    http.artifacts_dir = options.artifacts_dir.clone();
    http.artifacts_url = options
        .artifacts_url
        .as_ref()
        .map(|u| u.trim_end_matches('/').to_string());
    http.extra_kernel_args = options.extra_kernel_args.clone();
    let dhcp_on = options.dhcp_mode != ironbell_dhcp::Mode::Off;
    Ok(ironbell_boot::service::Config {
        dhcp: dhcp_on.then(|| {
            (
                network.dhcp,
                network.dhcp(options.dhcp_mode, options.syslog),
            )
        }),
        tftp: options
            .tftp
            .then(|| (network.tftp_addr(), ironbell_tftp::Config::default())),
        http,
        syslog: options
            .syslog
            .then(|| (network.syslog, ironbell_syslog::Config::default())),
        machine_log_dir: options.syslog.then(|| options.machine_log_dir.clone()),
        log_feed: options.log_feed.clone(),
        interface: options.interface.clone(),
    })
}

type ServiceResult = (&'static str, Result<(), String>);

/// Running services; see the module docs.
#[derive(Debug)]
pub struct Plane {
    tasks: JoinSet<ServiceResult>,
    shutdown: watch::Sender<bool>,
    lock: Option<ControllerLock>,
    elects: bool,
    /// This replica's DHCP membership, left when the plane stops.
    dhcp_member: Option<Member>,
    /// Whether this replica runs the controllers now (on etcd, while it leads).
    leading: Arc<AtomicBool>,
    health: Option<Arc<StoreHealth>>,
    /// Told when the boot service's sockets are all bound (see [`Plane::listening`]).
    boot_listening: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The virtual address while this plane holds it, released when it stops.
    vip: VipHold,
}

/// The plane's claim on its virtual address, shared with the task that follows the
/// leadership (a claim must outlive that task: [`Plane::stop`] releases it).
type VipHold = Arc<tokio::sync::Mutex<Option<ironbell_vip::Claim>>>;

/// The controllers of a plane: the workflow service (with its bound listener), the BMC
/// controllers and the cluster controllers.
struct Controllers {
    store: ironbell_store::SharedStore,
    /// The workflow service: its listener while bound, its address to bind it again after
    /// a lost leadership, and its configuration.
    workflow: Option<(
        Option<tokio::net::TcpListener>,
        std::net::SocketAddr,
        ironbell_workflow::Config,
    )>,
    bmc: Option<ironbell_bmc::Config>,
    cluster: Option<ClusterOptions>,
    docker: Option<ironbell_provider_docker::Config>,
}

/// How a leadership ended.
enum Ended {
    /// The plane stops.
    Stopped,
    /// The lease was lost: stand as a candidate again.
    Lost(String),
    /// A controller failed.
    Failed(String),
}

impl Controllers {
    /// Runs each as a task of its own in `tasks`. The workflow listener is used up; see
    /// [`Controllers::rebind`].
    fn spawn(&mut self, tasks: &mut JoinSet<ServiceResult>) {
        if let Some((listener, _, workflow)) = &mut self.workflow
            && let Some(listener) = listener.take()
        {
            let store = self.store.clone();
            let workflow = workflow.clone();
            tasks.spawn(async move {
                let render = ironbell_workflow::controller::tinkerbell_renderer();
                let r = ironbell_workflow::serve(store, listener, &workflow, render).await;
                ("workflow", r.map_err(|e| chain(&e)))
            });
        }
        if let Some(bmc) = self.bmc {
            let store = self.store.clone();
            tasks.spawn(async move {
                ironbell_bmc::run(store, bmc).await;
                ("bmc", Ok(()))
            });
        }
        if let Some(cluster) = &self.cluster {
            let (store, cluster) = (self.store.clone(), cluster.clone());
            tasks.spawn(async move {
                run_cluster_controllers(store, cluster).await;
                ("cluster controllers", Ok(()))
            });
        }
        if let Some(docker) = &self.docker {
            let (store, docker) = (self.store.clone(), docker.clone());
            tasks.spawn(async move {
                ironbell_provider_docker::run(store, docker).await;
                ("Docker controllers", Ok(()))
            });
        }
    }

    /// Binds the workflow port again (agents then wait in its queue until this replica
    /// leads again). The stopped service's accept loop lets go of the port as it ends, a
    /// moment after it was stopped: binding is tried again for up to [`REBIND_PATIENCE`].
    async fn rebind(&mut self) -> Result<(), String> {
        let Some((listener, addr, _)) = &mut self.workflow else {
            return Ok(());
        };
        if listener.is_some() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + REBIND_PATIENCE;
        loop {
            match bind("workflow", *addr).await {
                Ok(l) => {
                    *listener = Some(l);
                    return Ok(());
                }
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.to_string()),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Stands in the `controllers` election, runs the controllers while leading, and after
    /// a lost leadership stands again, until the plane stops (`Ok`) or a controller fails
    /// (`Err`).
    async fn lead(
        mut self,
        election: ironbell_store_etcd::Election,
        mut stop: watch::Receiver<bool>,
        leading: Arc<AtomicBool>,
    ) -> Result<(), String> {
        let identity = candidate_identity();
        loop {
            match self
                .lead_once(&election, &identity, &mut stop, &leading)
                .await?
            {
                Ended::Stopped => return Ok(()),
                Ended::Failed(message) => return Err(message),
                Ended::Lost(reason) => {
                    warn!(
                        identity,
                        "controllers: lost the leadership ({reason}); stopped them so that no \
                         two replicas run them; standing as a candidate again"
                    );
                    self.rebind().await?;
                }
            }
        }
    }

    /// One candidacy: waits to lead, runs the controllers while leading; they are stopped
    /// before the leadership is given up.
    async fn lead_once(
        &mut self,
        election: &ironbell_store_etcd::Election,
        identity: &str,
        stop: &mut watch::Receiver<bool>,
        leading: &AtomicBool,
    ) -> Result<Ended, String> {
        let standby = self.standby(election);
        let campaign = tokio::select! {
            l = election.campaign(CONTROLLERS_ELECTION, identity) => Some(l),
            _ = stop.wait_for(|s| *s) => None,
        };
        if let Some(standby) = standby {
            standby.stop().await;
        }
        let Some(leadership) = campaign else {
            return Ok(Ended::Stopped);
        };
        let leadership = leadership.map_err(|e| chain(&e))?;
        info!(
            identity,
            fencing_token = leadership.fencing_token(),
            "controllers: this replica leads; starting them"
        );
        let mut running: JoinSet<ServiceResult> = JoinSet::new();
        self.spawn(&mut running);
        leading.store(true, Ordering::Relaxed);
        let ended = tokio::select! {
            reason = leadership.lost() => Ended::Lost(reason.to_string()),
            _ = stop.wait_for(|s| *s) => Ended::Stopped,
            Some(done) = running.join_next() => match done {
                Ok((_, Ok(()))) => Ended::Stopped,
                Ok((service, Err(message))) => Ended::Failed(format!("{service}: {message}")),
                Err(join) => Ended::Failed(join.to_string()),
            },
        };
        running.abort_all();
        while running.join_next().await.is_some() {}
        leading.store(false, Ordering::Relaxed);
        if let Err(e) = leadership.resign().await {
            warn!("controllers: resigning the leadership: {e}");
        }
        Ok(ended)
    }

    /// While this replica campaigns: the standby agent API on the workflow port, told who
    /// leads. `None` without a workflow service, or if the socket cannot be shared (then
    /// agents wait in the listen queue, as at any busy server).
    fn standby(&self, election: &ironbell_store_etcd::Election) -> Option<Standby> {
        let (listener, _, config) = self.workflow.as_ref()?;
        let listener = listener.as_ref()?;
        let (leader_tx, leader) = watch::channel(String::new());
        let server = StandbyServer::start(listener, config, leader)
            .map_err(|e| tracing::warn!("workflow: no standby answer on the agent port: {e}"))
            .ok()?;
        let election = election.clone();
        let observer = tokio::spawn(async move {
            loop {
                if let Ok(Some(leader)) = election.observe(CONTROLLERS_ELECTION).await {
                    leader_tx.send_replace(leader.identity);
                }
                tokio::time::sleep(election.config().retry_period).await;
            }
        });
        Some(Standby { server, observer })
    }
}

/// A candidate's standby agent API, and the task that keeps it told who leads.
struct Standby {
    server: StandbyServer,
    observer: tokio::task::JoinHandle<()>,
}

impl Standby {
    async fn stop(self) {
        self.observer.abort();
        self.server.stop().await;
    }
}

/// How long a replica that lost the leadership waits for its workflow port to be free.
const REBIND_PATIENCE: Duration = Duration::from_secs(5);

/// The election whose leader runs the controllers.
pub const CONTROLLERS_ELECTION: &str = "controllers";

/// This replica's name in the controller election: host, process and plane, so that two
/// planes of one process (tests) are told apart.
fn candidate_identity() -> String {
    static PLANES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PLANES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}:{}:{n}", host_name(), std::process::id())
}

/// This machine's host name (empty if unreadable).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The error chain of `e` on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl Plane {
    /// Starts the services `config` names over `store`. Listen sockets of metadata and
    /// workflow are bound before this returns (their errors are returned here); the boot
    /// service's appear through [`Plane::wait`].
    pub async fn start(store: &StoreHandle, config: PlaneConfig) -> Result<Self, OpsError> {
        let vip: VipHold = Arc::default();
        let started = Self::start_holding(store, config, vip.clone()).await;
        // A plane that did not start lets go of the address it took for its services.
        if started.is_err()
            && let Some(claim) = vip.lock().await.take()
            && let Err(e) = claim.release().await
        {
            warn!("{e}");
        }
        started
    }

    /// [`Plane::start`], keeping the virtual address it takes in `vip`.
    async fn start_holding(
        store: &StoreHandle,
        config: PlaneConfig,
        vip: VipHold,
    ) -> Result<Self, OpsError> {
        let election = if config.runs_controllers() {
            store.controller_election()?
        } else {
            None
        };
        let lock = if config.runs_controllers() && election.is_none() {
            store.lock_controllers()?
        } else {
            None
        };
        let boot = config
            .boot
            .as_ref()
            .map(|b| boot_config(&config.network, b))
            .transpose()?;
        let (shutdown, _) = watch::channel(false);
        let mut tasks: JoinSet<ServiceResult> = JoinSet::new();
        let shared = store.store().clone();
        if let Some(address) = config.vip.as_ref().filter(|_| election.is_none()) {
            // One plane on the embedded store: it holds the address for its whole life, and
            // before its services bind to it.
            let claim = ironbell_vip::claim_patiently(address, VIP_PATIENCE)
                .await
                .map_err(|e| OpsError::Service {
                    service: "VIP",
                    message: e.to_string(),
                })?;
            *vip.lock().await = Some(claim);
        }

        if let Some(options) = &config.metadata {
            let addr = config.network.metadata;
            let listener = bind("metadata", addr).await?;
            let metadata_config = ironbell_metadata::Config {
                listen: addr,
                trusted_proxies: options.trusted_proxies.clone(),
                require_tokens: options.require_tokens,
                ..ironbell_metadata::Config::default()
            };
            let mut stop = shutdown.subscribe();
            let store = shared.clone();
            tasks.spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let r = ironbell_metadata::serve(store, metadata_config, listener, stopped).await;
                ("metadata", r.map_err(|e| chain(&e)))
            });
        }
        if let Some(api) = &config.api {
            let listener = bind("Kubernetes API", api.addr).await?;
            let state = Arc::new(ironbell_kube_api::ApiState::new(
                shared.clone(),
                api.kinds.clone(),
                api.security.clone(),
                ironbell_kube_api::ApiConfig::default(),
            ));
            let mut stop = shutdown.subscribe();
            let addr = api.addr;
            tasks.spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let r = ironbell_kube_api::serve(listener, state, stopped).await;
                (
                    "Kubernetes API",
                    r.map_err(|e| format!("HTTPS on {addr}: {e}")),
                )
            });
        }
        if let Some(addr) = config.network.metrics.filter(|_| config.runs_controllers()) {
            let listener = bind("metrics", addr).await?;
            let mut stop = shutdown.subscribe();
            tasks.spawn(async move {
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let r = crate::metrics::serve(listener, stopped).await;
                ("metrics", r.map_err(|e| format!("HTTP on {addr}: {e}")))
            });
        }
        let workflow = match &config.workflow {
            Some(options) => Some((
                Some(bind("workflow", config.network.grpc).await?),
                config.network.grpc,
                config.network.workflow(options),
            )),
            None => None,
        };
        let docker = match &config.docker {
            Some(options) => {
                let engine =
                    ironbell_provider_docker::Engine::connect(&options.engine).map_err(|e| {
                        OpsError::Service {
                            service: "Docker controllers",
                            message: e.to_string(),
                        }
                    })?;
                let listener = bind("phone-home", options.phone_home).await?;
                let mut stop = shutdown.subscribe();
                let store = shared.clone();
                tasks.spawn(async move {
                    let stopped = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    let r =
                        ironbell_provider_docker::phone_home::serve(store, listener, stopped).await;
                    ("phone-home", r.map_err(|e| e.to_string()))
                });
                let mut docker = ironbell_provider_docker::Config::new(engine);
                docker.wait = options.wait;
                docker.resync = options.resync;
                Some(docker)
            }
            None => None,
        };
        let controllers = Controllers {
            store: shared.clone(),
            workflow,
            bmc: config.bmc,
            cluster: config.cluster.clone(),
            docker,
        };
        let leading = Arc::new(AtomicBool::new(false));
        if let Some(election) = &election {
            let (election, stop, leads) = (election.clone(), shutdown.subscribe(), leading.clone());
            tasks.spawn(async move {
                let r = controllers.lead(election, stop, leads).await;
                ("controllers", r)
            });
            info!("controllers: a candidate in the etcd election; they run on its leader");
        } else {
            let mut controllers = controllers;
            controllers.spawn(&mut tasks);
            leading.store(config.runs_controllers(), Ordering::Relaxed);
            if config.workflow.is_some() {
                info!(addr = %config.network.grpc, "workflow service started");
            }
            if let Some(cluster) = &config.cluster {
                info!(bootstrapper = ?cluster.bootstrapper, "cluster controllers started");
            }
            if let Some(docker) = &config.docker {
                info!(engine = docker.engine, phone_home = %docker.phone_home, "Docker controllers started");
            }
        }
        let health = store.etcd().map(|etcd| {
            let health = Arc::new(StoreHealth::default());
            let (etcd, probe, stop) = (etcd.clone(), health.clone(), shutdown.subscribe());
            tasks.spawn(async move { ("store probe", probe_store(etcd, probe, stop).await) });
            health
        });
        let mut dhcp_member = None;
        let mut dhcp_share = None;
        let mut boot_listening = None;
        if let (Some(boot), Some(options)) = (boot, &config.boot) {
            let mut replica = ironbell_boot::service::Replica::default();
            let (listening, bound) = tokio::sync::oneshot::channel();
            replica.listening = Some(listening);
            boot_listening = Some(bound);
            if let Some(health) = &health {
                replica.metrics.push(health.clone());
            }
            if config.runs_controllers() {
                replica
                    .metrics
                    .push(Arc::new(crate::metrics::ControllerSource));
            }
            if boot.dhcp.is_some()
                && let Some(membership) = store.dhcp_membership()?
            {
                let id = options.replica_id.clone().unwrap_or_else(host_name);
                let member = membership
                    .join(ironbell_store_etcd::DHCP_GROUP, &id)
                    .map_err(|e| OpsError::Service {
                        service: "DHCP",
                        message: format!("{e} (set a unique --replica-id)"),
                    })?;
                let share = Arc::new(ironbell_dhcp::Share::all(id.as_str()));
                info!(
                    replica = id,
                    ttl = ?membership.config().ttl,
                    "DHCP: a replica of group {}; answers all 256 buckets until the members \
                     are read",
                    ironbell_store_etcd::DHCP_GROUP
                );
                let (views, follower, stop) =
                    (member.subscribe(), share.clone(), shutdown.subscribe());
                tasks.spawn(
                    async move { ("DHCP share", follow_share(views, follower, stop).await) },
                );
                if share.hold(options.standby) {
                    info!(
                        replica = id,
                        "DHCP starts in standby: answering no client until {}/{} says {}: serve",
                        PLANE_CONFIG.0,
                        PLANE_CONFIG.1,
                        PLANE_CONFIG_DHCP
                    );
                }
                let (follower, stop, store) = (share.clone(), shutdown.subscribe(), shared.clone());
                let standby = options.standby;
                tasks.spawn(async move {
                    follow_standby(store, follower, standby, stop).await;
                    ("DHCP standby switch", Ok(()))
                });
                replica.dhcp_share = Some(share.clone());
                dhcp_share = Some(share);
                dhcp_member = Some(member);
            }
            let store = shared.clone();
            tasks.spawn(async move {
                let r = ironbell_boot::service::run_replica(store, boot, replica).await;
                ("boot", r.map_err(|e| chain(&e)))
            });
        }
        if let Some(address) = config.vip.clone().filter(|_| election.is_some()) {
            let follow = FollowVip {
                address,
                hold: vip.clone(),
                leading: leading.clone(),
                share: dhcp_share,
            };
            if let Err(e) = ironbell_vip::clear_stale(&follow.address).await {
                warn!("{e}");
            }
            let stop = shutdown.subscribe();
            tasks.spawn(async move {
                follow.run(stop).await;
                ("VIP", Ok(()))
            });
        }
        Ok(Self {
            tasks,
            shutdown,
            lock,
            elects: election.is_some(),
            dhcp_member,
            leading,
            health,
            boot_listening,
            vip,
        })
    }

    /// Waits until every service listens: metadata and workflow bind before
    /// [`Plane::start`] returns, the boot service's sockets after, as it starts. A service
    /// that stops first is returned as [`Plane::wait`] returns it (a plane whose services
    /// all return is an error here: nothing listens). What `sd_notify` readiness waits for.
    pub async fn listening(&mut self) -> Result<(), OpsError> {
        let Some(bound) = self.boot_listening.take() else {
            return Ok(());
        };
        let before = |r: Result<(), OpsError>| {
            r.and(Err(OpsError::Service {
                service: "plane",
                message: "a service stopped before every service listened".into(),
            }))
        };
        let bound = tokio::select! {
            bound = bound => bound.is_ok(),
            r = self.wait() => return before(r),
        };
        if bound {
            Ok(())
        } else {
            // The boot service dropped the signal: it failed binding; say why.
            before(self.wait().await)
        }
    }

    /// The store's health as the probe last found it, on etcd (`None` on the embedded
    /// store, which has no probe).
    pub fn store_health(&self) -> Option<&StoreHealth> {
        self.health.as_deref()
    }

    /// Whether this plane's controllers are decided by an election among replicas (etcd)
    /// rather than by the lock.
    pub fn elects_controllers(&self) -> bool {
        self.elects
    }

    /// Whether this plane runs the controllers now: on etcd while it leads their election
    /// (a replica that lost the leadership stands again and runs none meanwhile), on the
    /// embedded store whenever it was started with them.
    pub fn runs_controllers(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// Whether this plane holds the controller lock.
    pub fn holds_controller_lock(&self) -> bool {
        self.lock.is_some()
    }

    /// Waits until the first service stops (each serves until it fails), and returns why.
    /// A plane with no services returns at once.
    pub async fn wait(&mut self) -> Result<(), OpsError> {
        match self.tasks.join_next().await {
            None | Some(Ok((_, Ok(())))) => Ok(()),
            Some(Ok((service, Err(message)))) => Err(OpsError::Service { service, message }),
            Some(Err(join)) => Err(OpsError::Service {
                service: "plane",
                message: join.to_string(),
            }),
        }
    }

    /// Stops every service at once (each is safe to stop at any point: controllers are
    /// level-triggered and idempotent, and a machine retries a request cut short), waits
    /// until their tasks are gone, and releases the controller lock.
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if let Some(claim) = self.vip.lock().await.take()
            && let Err(e) = claim.release().await
        {
            warn!("{e}");
        }
        drop(self.lock.take());
        // No longer answering: leave at once, so that the peers take this replica's
        // clients now rather than when its lease runs out.
        if let Some(member) = self.dhcp_member.take() {
            member.leave().await;
        }
    }
}

async fn bind(
    service: &'static str,
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, OpsError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| OpsError::Service {
            service,
            message: format!("cannot listen on {addr}: {e}"),
        })
}

/// How often a replica on etcd checks that etcd answers.
pub const PROBE_PERIOD: Duration = Duration::from_secs(1);
/// How long one probe may take before etcd counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Probes `etcd` every [`PROBE_PERIOD`] until `stop`, recording the outcome in `health`
/// and logging each change between reachable and not once (see the module docs).
async fn probe_store(
    etcd: EtcdStore,
    health: Arc<StoreHealth>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    loop {
        match etcd.probe(PROBE_TIMEOUT).await {
            Ok(revision) => {
                if health.reached(revision) {
                    info!(
                        revision,
                        "store reachable again at revision {revision}; the views catch up \
                         from their last revision"
                    );
                }
            }
            Err(e) => {
                if health.unreachable() {
                    let revision = health.revision();
                    warn!(
                        revision,
                        "store unreachable: serving from the last view of revision {revision} \
                         (degraded): {e}"
                    );
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(PROBE_PERIOD) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// How long a plane on the embedded store waits for another holder of its virtual address
/// to let go (a cluster's plane told to stand by, during a delete).
const VIP_PATIENCE: Duration = Duration::from_secs(15);
/// How often a replica on etcd checks whether it should hold the virtual address.
const VIP_PERIOD: Duration = Duration::from_millis(500);

/// The virtual address on etcd: held while this replica runs the controllers and its DHCP
/// is not in standby (so that during a move the bootstrap plane keeps it until it stops,
/// and the cluster's plane takes it only when it serves), released otherwise.
struct FollowVip {
    address: ironbell_vip::Vip,
    hold: VipHold,
    leading: Arc<AtomicBool>,
    share: Option<Arc<ironbell_dhcp::Share>>,
}

impl FollowVip {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut refused = String::new();
        loop {
            let want = self.leading.load(Ordering::Relaxed)
                && !self.share.as_ref().is_some_and(|s| s.is_held());
            let mut hold = self.hold.lock().await;
            match (want, hold.is_some()) {
                (true, false) => match ironbell_vip::claim(&self.address).await {
                    Ok(claim) => {
                        *hold = Some(claim);
                        refused.clear();
                    }
                    Err(e) => {
                        // Once per cause: the previous holder may take a moment to let go.
                        let why = e.to_string();
                        if why != refused {
                            warn!("{why}; trying again");
                            refused = why;
                        }
                    }
                },
                (false, true) => {
                    if let Some(claim) = hold.take()
                        && let Err(e) = claim.release().await
                    {
                        warn!("{e}");
                    }
                }
                _ => {}
            }
            drop(hold);
            tokio::select! {
                _ = tokio::time::sleep(VIP_PERIOD) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// Holds `share` in standby or releases it as [`PLANE_CONFIG`] says (as `standby` says
/// when the ConfigMap says nothing), looking once a second until `stop`; a store that does
/// not answer changes nothing.
async fn follow_standby(
    store: ironbell_store::SharedStore,
    share: Arc<ironbell_dhcp::Share>,
    standby: bool,
    mut stop: watch::Receiver<bool>,
) {
    use ironbell_model::corev1::ConfigMap;
    let configs = ironbell_store::api::<ConfigMap>(&store);
    let (namespace, name) = PLANE_CONFIG;
    loop {
        let held = match configs.get(namespace, name).await {
            Ok(c) => match c.data.as_ref().and_then(|d| d.get(PLANE_CONFIG_DHCP)) {
                Some(v) if v == "serve" => Some(false),
                Some(v) if v == "standby" => Some(true),
                _ => Some(standby),
            },
            Err(e) if e.is_not_found() => Some(standby),
            Err(_) => None,
        };
        if let Some(held) = held
            && share.hold(held)
        {
            info!(
                replica = share.replica(),
                "DHCP {} ({namespace}/{name} {PLANE_CONFIG_DHCP})",
                if held {
                    "in standby: answering no client"
                } else {
                    "serving"
                }
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Keeps `share` current from the membership's `views` until `stop`, logging who joined
/// and who is gone; fails when another replica claims this one's id.
async fn follow_share(
    mut views: watch::Receiver<MembershipView>,
    share: Arc<ironbell_dhcp::Share>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut known: Vec<String> = Vec::new();
    loop {
        let view = views.borrow_and_update().clone();
        if let Some(other) = view.conflict {
            return Err(format!(
                "replica id {:?} is claimed by another replica too ({other}): give each \
                 replica its own --replica-id",
                share.replica()
            ));
        }
        if !view.members.is_empty() && view.members != known {
            let joined: Vec<&String> = view.members.iter().filter(|m| !known.contains(m)).collect();
            let gone: Vec<&String> = known.iter().filter(|m| !view.members.contains(m)).collect();
            let owned = share.set_members(&view.members);
            info!(
                replica = share.replica(),
                members = ?view.members,
                ?joined,
                ?gone,
                buckets = owned.len(),
                "DHCP replicas changed: this replica answers {} of 256 buckets{}",
                owned.len(),
                if gone.is_empty() { "" } else { " (taking over the clients of those gone)" }
            );
            known = view.members;
        }
        tokio::select! {
            changed = views.changed() => if changed.is_err() && views.borrow().conflict.is_none() {
                return Err("the DHCP membership ended".into());
            },
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// The plane a lifecycle command runs in its own process while it needs controllers and no
/// other process runs them on the store (the bootstrap plane of a create, or the plane of
/// an upgrade or a delete when no service runs), stopped when the command ends.
#[derive(Default)]
pub struct BootstrapPlane {
    plane: tokio::sync::Mutex<Option<Plane>>,
}

impl std::fmt::Debug for BootstrapPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapPlane").finish_non_exhaustive()
    }
}

impl BootstrapPlane {
    /// Makes sure controllers run on `store`: this plane already, or another process
    /// holding the controller lock, or the replicas of an etcd store; else starts `config`
    /// here, calling `announce` first. Returns whether it started one.
    pub async fn ensure(
        &self,
        store: &StoreHandle,
        config: PlaneConfig,
        announce: impl FnOnce(),
    ) -> Result<bool, OpsError> {
        let mut plane = self.plane.lock().await;
        if plane.is_some() {
            return Ok(false);
        }
        match store.lock_controllers() {
            // Someone runs controllers on this store already.
            Err(OpsError::Lock(ironbell_store_sqlite::LockError::Held { .. })) => {
                return Ok(false);
            }
            Err(e) => return Err(e),
            // An etcd store: its replicas elect who runs them.
            Ok(None) => return Ok(false),
            // Nobody does: start the plane (which takes the lock itself).
            Ok(Some(probe)) => drop(probe),
        }
        announce();
        *plane = Some(Plane::start(store, config).await?);
        Ok(true)
    }

    /// Stops the plane if this process runs it.
    pub async fn stop(&self) {
        if let Some(plane) = self.plane.lock().await.take() {
            plane.stop().await;
        }
    }

    /// Whether this process runs it now.
    pub async fn running(&self) -> bool {
        self.plane.lock().await.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(artifacts_url: Option<&str>) -> BootOptions {
        BootOptions {
            dhcp_mode: ironbell_dhcp::Mode::Off,
            interface: None,
            tftp: false,
            syslog: false,
            ipxe_dir: PathBuf::from("/nonexistent"),
            artifacts_dir: PathBuf::from("/var/lib/ironbell/hookos"),
            artifacts_url: artifacts_url.map(str::to_string),
            extra_kernel_args: Vec::new(),
            machine_log_dir: PathBuf::from("/tmp"),
            log_feed: None,
            replica_id: None,
            standby: false,
        }
    }

    #[test]
    fn hookos_comes_from_the_plane_unless_a_url_is_given() {
        let network = PlaneNetwork::new(std::net::Ipv4Addr::new(10, 0, 0, 1));
        let own = boot_config(&network, &boot(None)).expect("config");
        assert_eq!(own.http.artifacts_url(), "http://10.0.0.1:7171");
        let given =
            boot_config(&network, &boot(Some("http://10.0.0.9:8080/hook/"))).expect("config");
        assert_eq!(given.http.artifacts_url(), "http://10.0.0.9:8080/hook");
    }
}
