//! `ironbell serve ...`: the long-running services. Each is configured by flags, each flag
//! also by an `IRONBELL_*` environment variable.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ironbell_ops::network::{DEFAULT_GRPC_PORT, PlaneNetwork};
use ironbell_ops::plane::{
    BootOptions, ClusterOptions, MetadataOptions, NodeBootstrapper, Plane, PlaneConfig,
    WorkflowOptions,
};
use ironbell_ops::spec::StoreHandle;

/// How the DHCP server answers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpMode {
    /// Addresses and boot information from each Hardware (only known MACs).
    Reservation,
    /// Boot information only, for known MACs (another DHCP server hands out addresses).
    Proxy,
    /// Boot information only, for any PXE client.
    AutoProxy,
    /// No DHCP.
    Off,
}

/// Flags of `ironbell serve boot`.
#[derive(Args, Debug)]
pub struct BootArgs {
    /// The address machines reach this host at (DHCP server id, script and artifact URLs,
    /// syslog and gRPC addresses in the kernel command line).
    #[arg(long, env = "IRONBELL_PUBLIC_IP")]
    public_ip: Ipv4Addr,
    /// Serve DHCP on this interface only.
    #[arg(long, env = "IRONBELL_INTERFACE")]
    interface: Option<String>,
    /// DHCP mode.
    #[arg(long, value_enum, default_value_t = DhcpMode::Reservation, env = "IRONBELL_DHCP_MODE")]
    dhcp_mode: DhcpMode,
    /// DHCP listen address.
    #[arg(long, default_value = "0.0.0.0:67", env = "IRONBELL_DHCP_ADDR")]
    dhcp_addr: SocketAddr,
    /// TFTP listen address (default: the public IP, port 69, so that every transfer's
    /// replies leave from the address the firmware talked to).
    #[arg(long, env = "IRONBELL_TFTP_ADDR")]
    tftp_addr: Option<SocketAddr>,
    /// Do not serve TFTP.
    #[arg(long)]
    no_tftp: bool,
    /// HTTP listen address (iPXE scripts, binaries, HookOS, /healthz, /metrics).
    #[arg(long, default_value = "0.0.0.0:7171", env = "IRONBELL_HTTP_ADDR")]
    http_addr: SocketAddr,
    /// Syslog listen address.
    #[arg(long, default_value = "0.0.0.0:514", env = "IRONBELL_SYSLOG_ADDR")]
    syslog_addr: SocketAddr,
    /// Do not receive syslog.
    #[arg(long)]
    no_syslog: bool,
    /// Directory of the iPXE binaries (Debian's `ipxe` package).
    #[arg(long, default_value = "/usr/lib/ipxe", env = "IRONBELL_IPXE_DIR")]
    ipxe_dir: PathBuf,
    /// Directory of the HookOS kernel and initramfs (`vmlinuz-x86_64`, `initramfs-x86_64`).
    #[arg(
        long,
        default_value = "/var/lib/ironbell/hookos",
        env = "IRONBELL_ARTIFACTS_DIR"
    )]
    artifacts_dir: PathBuf,
    /// Send machines to this base URL for the HookOS kernel and initramfs instead of this
    /// plane's HTTP service (EKS Anywhere's `hookImagesURLPath`, Smee's OSIE URL).
    #[arg(long, env = "IRONBELL_HOOKOS_URL")]
    hookos_url: Option<String>,
    /// Extra kernel parameters for HookOS (space-separated).
    #[arg(long, default_value = "", env = "IRONBELL_EXTRA_KERNEL_ARGS")]
    extra_kernel_args: String,
    /// This replica's id among the replicas on an etcd store (default: the host name):
    /// unique per replica, a DNS-1123 name. The DHCP clients are split among the live ids.
    #[arg(long, env = "IRONBELL_REPLICA_ID")]
    replica_id: Option<String>,
    /// On an etcd store: start DHCP in standby (answering no client) until the ConfigMap
    /// `ironbell-system/ironbell-plane` says `dhcp: serve`; `dhcp: standby` there holds any
    /// replica.
    #[arg(long, env = "IRONBELL_STANDBY")]
    standby: bool,
    /// On an etcd store: how long after a replica's last renewal the others take over its
    /// DHCP clients (whole seconds, at least 2s).
    #[arg(
        long,
        default_value = "10s",
        value_parser = humantime::parse_duration,
        env = "IRONBELL_DHCP_PEER_TIMEOUT"
    )]
    dhcp_peer_timeout: std::time::Duration,
    /// Port of the workflow service's gRPC API, named to HookOS in `grpc_authority=`
    /// (`serve boot`; default 42113. `serve all` uses the port of --grpc-addr).
    #[arg(long, env = "IRONBELL_GRPC_PORT")]
    grpc_port: Option<u16>,
    /// Every replica's gRPC API as machines reach it (`IP:PORT`, comma-separated), named
    /// to HookOS in `grpc_authority=` so that the agent finds whichever replica leads the
    /// controllers (several replicas on etcd). Default: the virtual address of `--vip` with
    /// the gRPC port, else this host's own (--public-ip and the gRPC port).
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = parse_authority,
        env = "IRONBELL_GRPC_AUTHORITIES"
    )]
    grpc_authorities: Vec<String>,
}

/// One `HOST:PORT` of `--grpc-authorities`: something that can stand in a kernel parameter.
fn parse_authority(value: &str) -> Result<String, String> {
    let bad = || format!("{value:?} is not HOST:PORT");
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let plain = value
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, ',' | '"' | '\'' | '$' | '\\'));
    if host.is_empty() || !plain {
        return Err(bad());
    }
    Ok(value.to_string())
}

impl From<DhcpMode> for ironbell_dhcp::Mode {
    fn from(mode: DhcpMode) -> Self {
        match mode {
            DhcpMode::Reservation => Self::Reservation,
            DhcpMode::Proxy => Self::Proxy,
            DhcpMode::AutoProxy => Self::AutoProxy,
            DhcpMode::Off => Self::Off,
        }
    }
}

impl BootArgs {
    /// The network this service's flags describe; `grpc` is where the workflow service
    /// listens (for `grpc_authority=`).
    fn network(&self, grpc: SocketAddr) -> PlaneNetwork {
        PlaneNetwork {
            dhcp: self.dhcp_addr,
            tftp: self.tftp_addr,
            http: self.http_addr,
            syslog: self.syslog_addr,
            grpc,
            grpc_authorities: self.grpc_authorities.clone(),
            ..PlaneNetwork::new(self.public_ip)
        }
    }

    /// What the boot service does besides listening.
    fn options(&self, machine_log_dir: PathBuf) -> BootOptions {
        BootOptions {
            dhcp_mode: self.dhcp_mode.into(),
            interface: self.interface.clone(),
            tftp: !self.no_tftp,
            syslog: !self.no_syslog,
            ipxe_dir: self.ipxe_dir.clone(),
            artifacts_dir: self.artifacts_dir.clone(),
            artifacts_url: self.hookos_url.clone(),
            extra_kernel_args: self
                .extra_kernel_args
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            machine_log_dir,
            log_feed: None,
            replica_id: self.replica_id.clone(),
            standby: self.standby,
        }
    }

    /// `store` with the DHCP membership timed by `--dhcp-peer-timeout`.
    fn replica_store(&self, store: &StoreHandle) -> anyhow::Result<StoreHandle> {
        let mut store = store.clone();
        store.set_dhcp_peer_timeout(self.dhcp_peer_timeout)?;
        Ok(store)
    }
}

/// How long stopping may take before the process leaves anyway: systemd's default
/// `TimeoutStopSec` is 90 s, the unit's 30 s; the services stop in well under a second.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGTERM (systemd, `kill`) and SIGINT (Ctrl-C), caught from when this is made.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Catches both signals from now on (their default action, ending the process at
    /// once, no longer applies).
    fn catch() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    /// Waits for either, naming which.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Runs `plane` until a service fails or SIGTERM or SIGINT arrives, then stops every
/// service and returns (a signal is a clean stop: exit status 0). Under systemd
/// (`Type=notify`) it sends `READY=1` once every service listens, `WATCHDOG=1` at half
/// `WatchdogSec` and `STOPPING=1` as it stops (see [`crate::systemd`]).
async fn run_plane(store: &StoreHandle, config: PlaneConfig) -> anyhow::Result<()> {
    // Signals are caught from the start: one during start-up stops cleanly too.
    let mut signals = StopSignals::catch()?;
    let notifier = crate::systemd::Notifier::from_env().map(std::sync::Arc::new);
    let mut plane = tokio::select! {
        plane = Plane::start(store, config) => plane?,
        signal = signals.recv() => {
            tracing::info!("{signal}: stopping while the services start");
            return Ok(());
        }
    };
    // `Some(signal)`: stopped by a signal before every service listened.
    let early_stop = tokio::select! {
        r = plane.listening() => r.map(|()| None).map_err(anyhow::Error::new),
        signal = signals.recv() => Ok(Some(signal)),
    };
    let result = match early_stop {
        Err(e) => Err(e),
        Ok(Some(signal)) => {
            tracing::info!("{signal}: stopping before every service listened");
            Ok(())
        }
        Ok(None) => {
            tracing::info!("every service listens");
            let watchdog = notifier.as_ref().and_then(|n| {
                n.notify("READY=1");
                n.spawn_watchdog()
            });
            let result = tokio::select! {
                r = plane.wait() => r.map_err(anyhow::Error::new),
                signal = signals.recv() => {
                    tracing::info!("{signal}: stopping every service");
                    Ok(())
                }
            };
            if let Some(watchdog) = watchdog {
                watchdog.abort();
            }
            result
        }
    };
    if let Some(n) = &notifier {
        n.notify("STOPPING=1");
    }
    let started = std::time::Instant::now();
    if tokio::time::timeout(STOP_TIMEOUT, plane.stop())
        .await
        .is_err()
    {
        tracing::warn!("the services did not stop within {STOP_TIMEOUT:?}; leaving anyway");
    } else {
        tracing::info!(elapsed = ?started.elapsed(), "every service stopped");
    }
    result
}

/// Runs the boot service until it fails or the process is interrupted.
pub async fn boot(
    store: &StoreHandle,
    args: BootArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<()> {
    let port = args.grpc_port.unwrap_or(DEFAULT_GRPC_PORT);
    let grpc = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let store = args.replica_store(store)?;
    let mut config = PlaneConfig::new(args.network(grpc));
    config.boot = Some(args.options(machine_log_dir));
    run_plane(&store, config).await
}

/// Flags of `ironbell serve metadata`.
#[derive(Args, Debug)]
pub struct MetadataArgs {
    /// Listen address (EC2-style metadata, user-data, /metadata, /healthz, /metrics).
    #[arg(
        long,
        visible_alias = "metadata-addr",
        default_value = "0.0.0.0:7172",
        env = "IRONBELL_METADATA_ADDR"
    )]
    listen: SocketAddr,
    /// Proxies (comma-separated CIDRs) whose `X-Forwarded-For` names the client. Empty:
    /// the header is ignored and the client is the TCP peer.
    #[arg(long, default_value = "", env = "IRONBELL_TRUSTED_PROXIES")]
    trusted_proxies: String,
    /// Require IMDSv2 session tokens (`PUT /latest/api/token`) on EC2 paths.
    #[arg(long, env = "IRONBELL_REQUIRE_TOKENS")]
    require_tokens: bool,
}

impl MetadataArgs {
    fn options(&self) -> anyhow::Result<MetadataOptions> {
        let trusted_proxies = ironbell_metadata::Cidr::parse_list(&self.trusted_proxies)
            .with_context(|| format!("--trusted-proxies {:?}", self.trusted_proxies))?;
        Ok(MetadataOptions {
            trusted_proxies,
            require_tokens: self.require_tokens,
        })
    }
}

/// Runs the metadata service until it fails or the process is interrupted.
pub async fn metadata(store: &StoreHandle, args: MetadataArgs) -> anyhow::Result<()> {
    let mut network = PlaneNetwork::new(Ipv4Addr::UNSPECIFIED);
    network.metadata = args.listen;
    let mut config = PlaneConfig::new(network);
    config.metadata = Some(args.options()?);
    run_plane(store, config).await
}

/// Flags of `ironbell serve workflow`.
#[derive(Args, Debug)]
pub struct WorkflowArgs {
    /// gRPC listen address for agents (Tinkerbell's WorkflowService).
    #[arg(long, default_value = "0.0.0.0:42113", env = "IRONBELL_GRPC_ADDR")]
    grpc_addr: SocketAddr,
    /// Workflows reconciled at once.
    #[arg(long, default_value_t = 8, env = "IRONBELL_WORKFLOW_CONCURRENCY")]
    concurrency: usize,
    /// Who may act for an agent: `token` (the Hardware's address and the Workflow's
    /// token, which HookOS gets on its kernel command line), `address` (the Hardware's
    /// address only: a stock tink-worker cannot send the token), `none` (no check: machines
    /// behind NAT; any host can then read and report any machine's actions).
    #[arg(long, default_value = "token", env = "IRONBELL_AGENT_AUTH")]
    agent_auth: ironbell_ops::plane::AuthMode,
    /// Proxies (comma-separated IPs or CIDRs) allowed to name the agent's address in the
    /// `x-forwarded-for` gRPC metadata.
    #[arg(long, default_value = "", env = "IRONBELL_AGENT_TRUSTED_PROXIES")]
    agent_trusted_proxies: String,
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// Where the controllers' `/metrics` listens.
#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// HTTP listen address of the controllers' `/metrics` and `/healthz` (workflow, BMC and
    /// cluster controllers: reconciles, their durations, queues). Default: none; `serve
    /// all` also has them on the boot service's `/metrics`.
    #[arg(long, env = "IRONBELL_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
}

/// Flags of `ironbell serve bmc`.
#[derive(Args, Debug)]
pub struct BmcArgs {
    #[command(flatten)]
    metrics: MetricsArgs,
}

impl WorkflowArgs {
    fn options(&self) -> anyhow::Result<WorkflowOptions> {
        let trusted_proxies = ironbell_metadata::Cidr::parse_list(&self.agent_trusted_proxies)
            .with_context(|| format!("--agent-trusted-proxies {:?}", self.agent_trusted_proxies))?;
        Ok(WorkflowOptions {
            concurrency: self.concurrency,
            auth: ironbell_ops::plane::AgentAuth {
                mode: self.agent_auth,
                trusted_proxies,
            },
        })
    }
}

/// Runs the workflow service until it fails or the process is interrupted. It runs the
/// workflow controller, so it takes the store's controller lock.
pub async fn workflow(store: &StoreHandle, args: WorkflowArgs) -> anyhow::Result<()> {
    let mut network = PlaneNetwork::new(Ipv4Addr::UNSPECIFIED);
    network.grpc = args.grpc_addr;
    network.metrics = args.metrics.metrics_addr;
    let mut config = PlaneConfig::new(network);
    config.workflow = Some(args.options()?);
    run_plane(store, config).await
}

/// Runs the BMC controllers (Machine, Job, Task) until the process is interrupted; takes
/// the store's controller lock.
pub async fn bmc(store: &StoreHandle, args: BmcArgs) -> anyhow::Result<()> {
    let mut network = PlaneNetwork::new(Ipv4Addr::UNSPECIFIED);
    network.metrics = args.metrics.metrics_addr;
    let mut config = PlaneConfig::new(network);
    config.bmc = Some(ironbell_bmc::Config::default());
    run_plane(store, config).await
}

/// How the cluster controllers make a node's bootstrap data.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeBootstrapperArg {
    /// No Kubernetes: a node is Ready when its installed OS phones home to the metadata
    /// service (cloud-init's `phone_home`).
    Plain,
    /// EKS Anywhere's kubeadm user-data (cloud-config or Bottlerocket settings).
    Kubeadm,
    /// Control-plane machines run an etcd member and a replica of this plane (`ironbell
    /// node up`, with this plane's ports): the cluster's own management plane, on etcd;
    /// workers are `plain`.
    Native,
}

impl NodeBootstrapperArg {
    /// The bootstrapper of a plane on `network`: a `plain` node posts its phone-home to
    /// `phone_home_url`, by default the plane's metadata service.
    pub fn bootstrapper(
        self,
        phone_home_url: Option<&str>,
        network: &PlaneNetwork,
    ) -> NodeBootstrapper {
        match self {
            Self::Plain => NodeBootstrapper::Plain {
                phone_home_url: phone_home_url
                    .map(str::to_string)
                    .unwrap_or_else(|| network.phone_home_url()),
            },
            Self::Kubeadm => NodeBootstrapper::Kubeadm,
            Self::Native => {
                let mut serve_args = network.serve_args();
                serve_args.extend(["--node-bootstrapper".into(), "native".into()]);
                NodeBootstrapper::Native {
                    phone_home_url: phone_home_url
                        .map(str::to_string)
                        .unwrap_or_else(|| network.phone_home_url()),
                    serve_args,
                }
            }
        }
    }
}

/// Flags of the cluster controllers in `ironbell serve all`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Do not run the cluster controllers (Cluster API's core and the Tinkerbell provider).
    #[arg(long, env = "IRONBELL_NO_CLUSTER_CONTROLLERS")]
    no_cluster_controllers: bool,
    /// How nodes are bootstrapped.
    #[arg(
        long,
        value_enum,
        default_value_t = NodeBootstrapperArg::Plain,
        env = "IRONBELL_NODE_BOOTSTRAPPER"
    )]
    node_bootstrapper: NodeBootstrapperArg,
    /// Where a `plain` node posts its phone-home (default:
    /// `http://<public ip>:<metadata port>/phone-home`; with --docker-host, the Docker
    /// phone-home's `http://<public ip>:<its port>/phone-home`).
    #[arg(long, env = "IRONBELL_PHONE_HOME_URL")]
    phone_home_url: Option<String>,
    /// A virtual address (the spec's Tinkerbell IP) that the replica running the
    /// controllers holds while its DHCP serves: probed for, added to the interface as a
    /// /32 and announced with gratuitous ARP, released when another replica leads. Machines
    /// are sent there (templates, phone-home); a new native control-plane machine gets it too.
    #[arg(long, env = "IRONBELL_VIP")]
    vip: Option<Ipv4Addr>,
    /// The interface for `--vip` (default: the one whose IPv4 subnet holds it).
    #[arg(long, requires = "vip", env = "IRONBELL_VIP_INTERFACE")]
    vip_interface: Option<String>,
    /// Also run the Docker provider's controllers (CAPD's DockerCluster and DockerMachine)
    /// on this engine, and the phone-home its node containers post to. Without a value:
    /// unix:///var/run/docker.sock.
    #[arg(
        long,
        env = "IRONBELL_DOCKER_HOST",
        num_args = 0..=1,
        default_missing_value = DEFAULT_DOCKER_HOST,
        value_name = "ENGINE"
    )]
    docker_host: Option<String>,
    /// Where the Docker node containers' phone-home listens (an address they reach).
    #[arg(long, default_value_t = DEFAULT_DOCKER_PHONE_HOME, env = "IRONBELL_DOCKER_PHONE_HOME")]
    docker_phone_home: SocketAddr,
}

/// The engine the Docker controllers drive by default.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// Where the Docker nodes' phone-home listens by default: every address, port 50062 (the
/// metadata service keeps 50061).
pub const DEFAULT_DOCKER_PHONE_HOME: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 50062);

impl ClusterArgs {
    /// The cluster controllers' options for `network`, `None` when turned off. With
    /// `--vip`, machines are sent to the virtual address.
    fn options(&self, network: &PlaneNetwork) -> Option<ClusterOptions> {
        if self.no_cluster_controllers {
            return None;
        }
        let mut facing = network.clone();
        if let Some(vip) = self.vip {
            facing.public_ip = vip;
        }
        let docker_url = self.docker().map(|d| {
            format!(
                "http://{}:{}/phone-home",
                network.public_ip,
                d.phone_home.port()
            )
        });
        let url = self.phone_home_url.clone().or(docker_url);
        let mut bootstrapper = self.node_bootstrapper.bootstrapper(url.as_deref(), &facing);
        if let (Some(vip), NodeBootstrapper::Native { serve_args, .. }) =
            (self.vip, &mut bootstrapper)
        {
            serve_args.extend(["--vip".into(), vip.to_string()]);
        }
        // A control-plane container of a Docker cluster runs the Docker controllers too.
        if let (Some(docker), NodeBootstrapper::Native { serve_args, .. }) =
            (self.docker(), &mut bootstrapper)
        {
            serve_args.extend(docker.replica_serve_args());
        }
        Some(ClusterOptions::with(&facing, bootstrapper))
    }

    /// The virtual address of `--vip`.
    fn vip(&self) -> Option<ironbell_vip::Vip> {
        self.vip.map(|address| ironbell_vip::Vip {
            address,
            interface: self.vip_interface.clone(),
        })
    }

    /// The Docker controllers' options, when asked for.
    fn docker(&self) -> Option<ironbell_ops::plane::DockerOptions> {
        let engine = self.docker_host.clone()?;
        Some(ironbell_ops::plane::DockerOptions::new(
            engine,
            self.docker_phone_home,
        ))
    }
}

/// Flags of `ironbell serve cluster`.
#[derive(Args, Debug)]
pub struct ClusterServeArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The address machines reach this plane at (the default phone-home URL's host).
    #[arg(long, default_value = "127.0.0.1", env = "IRONBELL_PUBLIC_IP")]
    public_ip: std::net::Ipv4Addr,
}

/// Runs the cluster controllers alone (and the Docker provider's with --docker-host) over
/// one store, until they fail or the process is interrupted: the management plane of
/// Docker clusters between two lifecycle commands.
pub async fn cluster(store: &StoreHandle, args: ClusterServeArgs) -> anyhow::Result<()> {
    let network = PlaneNetwork::new(args.public_ip);
    let mut config = PlaneConfig::new(network.clone());
    config.cluster = args.cluster.options(&network);
    config.docker = args.cluster.docker();
    anyhow::ensure!(
        config.runs_controllers(),
        "nothing to run: the cluster controllers are turned off"
    );
    run_plane(store, config).await
}

/// Flags of `ironbell serve all`: those of each service.
#[derive(Args, Debug)]
pub struct AllArgs {
    #[command(flatten)]
    boot: BootArgs,
    #[command(flatten)]
    metadata: MetadataArgs,
    #[command(flatten)]
    workflow: WorkflowArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten, next_help_heading = "Kubernetes API")]
    api: crate::kubeapi::AllApiArgs,
    #[command(flatten, next_help_heading = "Dashboard")]
    dashboard: crate::dashboard::AllDashboardArgs,
}

/// Runs every service over one store (boot, metadata, workflow, BMC, and the cluster
/// controllers unless turned off) until one fails or the process is interrupted. Every
/// address machines are told comes from the same flags the services listen on (see
/// `ironbell_ops::network`).
pub async fn all(
    store: &StoreHandle,
    args: AllArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<()> {
    if let Some(port) = args.boot.grpc_port
        && port != args.workflow.grpc_addr.port()
    {
        anyhow::bail!(
            "--grpc-port {port} disagrees with --grpc-addr {}: in `serve all` machines are \
             sent to the port the workflow service listens on; drop --grpc-port",
            args.workflow.grpc_addr
        );
    }
    let store = &args.boot.replica_store(store)?;
    let mut network = args.boot.network(args.workflow.grpc_addr);
    if let Some(vip) = args.cluster.vip
        && network.grpc_authorities.is_empty()
    {
        // The agent follows the virtual address to whichever replica leads.
        network.grpc_authorities = vec![format!("{vip}:{}", args.workflow.grpc_addr.port())];
    }
    network.metadata = args.metadata.listen;
    network.metrics = args.workflow.metrics.metrics_addr;
    let mut config = PlaneConfig::new(network);
    let (log_feed, dashboard) = crate::dashboard::in_serve_all(
        store,
        args.dashboard,
        args.api.credentials(),
        machine_log_dir.clone(),
    )
    .await?;
    let mut boot = args.boot.options(machine_log_dir);
    boot.log_feed = log_feed;
    config.boot = Some(boot);
    config.metadata = Some(args.metadata.options()?);
    config.workflow = Some(args.workflow.options()?);
    config.bmc = Some(ironbell_bmc::Config::default());
    config.cluster = args.cluster.options(&config.network);
    config.vip = args.cluster.vip();
    config.docker = args.cluster.docker();
    let api = crate::kubeapi::in_serve_all(store, &ironbell_ops::lookup::kinds(), args.api).await?;
    tokio::select! {
        r = run_plane(store, config) => r,
        r = api => r,
        r = dashboard => r,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_authority;

    /// The cluster controllers' flags alone.
    #[derive(clap::Parser)]
    struct ClusterFlags {
        #[command(flatten)]
        cluster: super::ClusterArgs,
    }

    #[test]
    fn cluster_controllers_run_plain_by_default_phoning_home_to_the_metadata_port() {
        use clap::Parser;
        use ironbell_ops::plane::NodeBootstrapper;
        let mut network = super::PlaneNetwork::new(std::net::Ipv4Addr::new(10, 0, 0, 1));
        network.metadata = "0.0.0.0:50061".parse().expect("addr");
        let options = |args: &[&str]| {
            let flags = ClusterFlags::try_parse_from([&["serve"], args].concat())
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            flags.cluster.options(&network)
        };
        let plain = options(&[]).expect("on by default");
        assert_eq!(
            plain.bootstrapper,
            NodeBootstrapper::Plain {
                phone_home_url: "http://10.0.0.1:50061/phone-home".into()
            }
        );
        assert_eq!(plain.tinkerbell_ip, "10.0.0.1");
        let kubeadm = options(&["--node-bootstrapper", "kubeadm"]).expect("on");
        assert_eq!(kubeadm.bootstrapper, NodeBootstrapper::Kubeadm);
        let url = options(&["--phone-home-url", "http://lb:80/phone-home"]).expect("on");
        assert_eq!(
            url.bootstrapper,
            NodeBootstrapper::Plain {
                phone_home_url: "http://lb:80/phone-home".into()
            }
        );
        assert!(options(&["--no-cluster-controllers"]).is_none());
        let native = options(&["--node-bootstrapper", "native"]).expect("on");
        let NodeBootstrapper::Native {
            phone_home_url,
            serve_args,
        } = native.bootstrapper
        else {
            panic!("native: {:?}", native.bootstrapper);
        };
        assert_eq!(phone_home_url, "http://10.0.0.1:50061/phone-home");
        // The control-plane machines' replicas listen on this plane's ports.
        assert!(
            serve_args
                .windows(2)
                .any(|w| w == ["--listen", "0.0.0.0:50061"]),
            "{serve_args:?}"
        );
        assert!(ClusterFlags::try_parse_from(["serve", "--node-bootstrapper", "etcd"]).is_err());
    }

    #[test]
    fn docker_host_adds_the_docker_controllers_and_points_plain_nodes_at_their_phone_home() {
        use clap::Parser;
        use ironbell_ops::plane::NodeBootstrapper;
        let network = super::PlaneNetwork::new(std::net::Ipv4Addr::new(10, 0, 0, 1));
        let flags = |args: &[&str]| {
            ClusterFlags::try_parse_from([&["serve"], args].concat())
                .unwrap_or_else(|e| panic!("{args:?}: {e}"))
                .cluster
        };
        assert!(flags(&[]).docker().is_none());
        let docker = flags(&["--docker-host"]);
        let options = docker.docker().expect("docker");
        assert_eq!(options.engine, super::DEFAULT_DOCKER_HOST);
        assert_eq!(options.phone_home, super::DEFAULT_DOCKER_PHONE_HOME);
        assert_eq!(
            docker.options(&network).expect("on").bootstrapper,
            NodeBootstrapper::Plain {
                phone_home_url: "http://10.0.0.1:50062/phone-home".into()
            }
        );
        let tcp = flags(&[
            "--docker-host=tcp://127.0.0.1:2375",
            "--docker-phone-home",
            "10.9.0.1:9000",
        ]);
        let options = tcp.docker().expect("docker");
        assert_eq!(options.engine, "tcp://127.0.0.1:2375");
        assert_eq!(options.phone_home.to_string(), "10.9.0.1:9000");
        // A native control-plane container's replica runs the Docker controllers on the
        // host's socket mounted into it, and nothing that network-boots.
        let native = flags(&["--docker-host", "--node-bootstrapper", "native"]);
        let NodeBootstrapper::Native { serve_args, .. } =
            native.options(&network).expect("on").bootstrapper
        else {
            panic!("not native");
        };
        for flag in [
            "--node-bootstrapper",
            "--docker-host=unix:///var/run/docker.sock",
            "--docker-phone-home=0.0.0.0:50062",
            "--dhcp-mode=off",
            "--no-tftp",
            "--no-syslog",
        ] {
            assert!(
                serve_args.iter().any(|a| a == flag),
                "{flag}: {serve_args:?}"
            );
        }
    }

    #[test]
    fn grpc_authorities_are_host_and_port() {
        for good in ["10.0.0.1:42113", "tink.example:50051", "[fd00::1]:42113"] {
            assert_eq!(parse_authority(good).as_deref(), Ok(good));
        }
        for bad in [
            "10.0.0.1",
            "10.0.0.1:x",
            ":42113",
            "a b:1",
            "a\"b:1",
            "a:70000",
        ] {
            let e = parse_authority(bad).expect_err(bad);
            assert!(e.contains("HOST:PORT"), "{e}");
        }
    }
}
