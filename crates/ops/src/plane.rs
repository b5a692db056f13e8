//! A plane: ironbell's services over one store — boot (DHCP, TFTP, HTTP, syslog),
//! metadata, workflow (controller and agent API) and the BMC controllers — started
//! together from one [`PlaneNetwork`] and stopped together through the [`Plane`] handle.
//!
//! Controllers (workflow and BMC) must run in one process at a time, or every BMC Job runs
//! twice. How that is decided depends on the store:
//!
//! - **The embedded store** (one SQLite file, one machine): a plane that runs controllers
//!   first takes the store's controller lock ([`StoreHandle::lock_controllers`]) and holds
//!   it until stopped: a second plane on the same file with controllers fails to start
//!   with an error naming the first one's PID (it does not wait as a standby: on one
//!   machine a supervisor restarting it is the simpler standby). Planes with only boot and
//!   metadata need no lock and may run beside it.
//! - **etcd** (replicas on several machines): every replica serves boot and metadata at
//!   once; the controllers — the workflow service (its controller and the agents' API,
//!   which hand out the same actions) and the BMC controllers — run on the one replica
//!   that leads the `controllers` election ([`ironbell_store_etcd::Election`], a 15 s
//!   lease). The others wait as candidates (logged, and shown by
//!   [`ironbell_store_etcd::Election::observe`]); their workflow port answers every agent
//!   call at once with `UNAVAILABLE`, naming the leader
//!   ([`ironbell_workflow::standby`]), so that an agent given every replica
//!   (`grpc_authority=A:42113,B:42113`) moves on to the one that leads; they take over
//!   within the lease when the leader dies, the real agent API replacing the standby
//!   answer on the same socket. A leader that loses the lease (etcd unreachable past the
//!   renew deadline, 5 s before etcd can expire it) stops its controllers and the plane
//!   ends with an error saying so, for the supervisor to restart it as a candidate: a
//!   replica never runs controllers while another may lead.

use std::path::PathBuf;

use ironbell_store_sqlite::ControllerLock;
use ironbell_workflow::standby::StandbyServer;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

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
    /// Extra kernel parameters for HookOS.
    pub extra_kernel_args: Vec<String>,
    /// Where syslog from machines is kept, one file per Hardware.
    pub machine_log_dir: PathBuf,
}

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
        }
    }

    /// Whether it runs controllers (and so needs the controller lock).
    pub fn runs_controllers(&self) -> bool {
        self.workflow.is_some() || self.bmc.is_some()
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
}

/// The controllers of a plane: the workflow service (with its bound listener) and the BMC
/// controllers.
struct Controllers {
    store: ironbell_store::SharedStore,
    workflow: Option<(tokio::net::TcpListener, ironbell_workflow::Config)>,
    bmc: Option<ironbell_bmc::Config>,
}

impl Controllers {
    /// Runs each as a task of its own in `tasks`.
    fn spawn(self, tasks: &mut JoinSet<ServiceResult>) {
        if let Some((listener, workflow)) = self.workflow {
            let store = self.store.clone();
            tasks.spawn(async move {
                let render = ironbell_workflow::controller::tinkerbell_renderer();
                let r = ironbell_workflow::serve(store, listener, &workflow, render).await;
                ("workflow", r.map_err(|e| chain(&e)))
            });
        }
        if let Some(bmc) = self.bmc {
            let store = self.store;
            tasks.spawn(async move {
                ironbell_bmc::run(store, bmc).await;
                ("bmc", Ok(()))
            });
        }
    }

    /// Waits to lead the `controllers` election, runs the controllers while leading, and
    /// returns when the plane stops (`Ok`) or the leadership is lost or a controller fails
    /// (`Err`); the controllers are stopped before the leadership is given up.
    async fn lead(
        self,
        election: ironbell_store_etcd::Election,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let identity = candidate_identity();
        let standby = self.standby(&election);
        let campaign = tokio::select! {
            l = election.campaign(CONTROLLERS_ELECTION, &identity) => Some(l),
            _ = stop.wait_for(|s| *s) => None,
        };
        if let Some(standby) = standby {
            standby.stop().await;
        }
        let Some(leadership) = campaign else {
            return Ok(());
        };
        let leadership = leadership.map_err(|e| chain(&e))?;
        info!(
            identity,
            fencing_token = leadership.fencing_token(),
            "controllers: this replica leads; starting them"
        );
        let mut running: JoinSet<ServiceResult> = JoinSet::new();
        self.spawn(&mut running);
        let result = tokio::select! {
            reason = leadership.lost() => Err(format!(
                "lost the controllers' leadership ({reason}); stopped them so that no two \
                 replicas run them; restart this replica to stand as a candidate again"
            )),
            _ = stop.wait_for(|s| *s) => Ok(()),
            Some(done) = running.join_next() => match done {
                Ok((_, Ok(()))) => Ok(()),
                Ok((service, Err(message))) => Err(format!("{service}: {message}")),
                Err(join) => Err(join.to_string()),
            },
        };
        running.abort_all();
        while running.join_next().await.is_some() {}
        if let Err(e) = leadership.resign().await {
            tracing::warn!("controllers: resigning the leadership: {e}");
        }
        result
    }

    /// While this replica campaigns: the standby agent API on the workflow port, told who
    /// leads. `None` without a workflow service, or if the socket cannot be shared (then
    /// agents wait in the listen queue, as at any busy server).
    fn standby(&self, election: &ironbell_store_etcd::Election) -> Option<Standby> {
        let (listener, config) = self.workflow.as_ref()?;
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

/// The election whose leader runs the controllers.
pub const CONTROLLERS_ELECTION: &str = "controllers";

/// This replica's name in the controller election: host, process and plane, so that two
/// planes of one process (tests) are told apart.
fn candidate_identity() -> String {
    static PLANES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let n = PLANES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}:{}:{n}", host.trim(), std::process::id())
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
        let workflow = match &config.workflow {
            Some(options) => Some((
                bind("workflow", config.network.grpc).await?,
                config.network.workflow(options),
            )),
            None => None,
        };
        let controllers = Controllers {
            store: shared.clone(),
            workflow,
            bmc: config.bmc,
        };
        if let Some(election) = &election {
            let election = election.clone();
            let stop = shutdown.subscribe();
            tasks.spawn(async move { ("controllers", controllers.lead(election, stop).await) });
            info!("controllers: a candidate in the etcd election; they run on its leader");
        } else {
            controllers.spawn(&mut tasks);
            if config.workflow.is_some() {
                info!(addr = %config.network.grpc, "workflow service started");
            }
        }
        if let Some(boot) = boot {
            let store = shared.clone();
            tasks.spawn(async move {
                let r = ironbell_boot::service::run(store, boot).await;
                ("boot", r.map_err(|e| chain(&e)))
            });
        }
        Ok(Self {
            tasks,
            shutdown,
            lock,
            elects: election.is_some(),
        })
    }

    /// Whether this plane's controllers are decided by an election among replicas (etcd)
    /// rather than by the lock.
    pub fn elects_controllers(&self) -> bool {
        self.elects
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
        drop(self.lock.take());
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
