//! `ironbell create cluster`, `upgrade cluster` and `delete cluster -f FILE`: EKS Anywhere's
//! cluster lifecycle, resumable, dispatched on the spec's datacenter kind: bare metal
//! (`TinkerbellDatacenterConfig`, thin over `ironbell-lifecycle-tinkerbell`) or containers
//! (`DockerDatacenterConfig`, thin over `ironbell-lifecycle-docker`: the plane runs only the
//! cluster and Docker controllers and the phone-home, `--docker-host` and
//! `--docker-phone-home`).
//!
//! A management cluster's plane keeps its store in `NAME/generated/NAME.db` beside the spec
//! (or the `--store` given); a workload cluster is created on the management plane's store,
//! which `--store` names. The bootstrap plane listens at the spec's `tinkerbellIP` on EKS
//! Anywhere's ports (iPXE over HTTP 80, the agent API 42113, metadata 50061, so that EKS
//! Anywhere's templates work unchanged), and the same flags make the service it hands over
//! to. Both serve the Kubernetes API on 6443 (`--api-port`), its credentials in `api/`
//! beside the store: a create writes `NAME/generated/NAME.kind.kubeconfig` for the
//! bootstrap plane (where EKS Anywhere writes its kind cluster's) and
//! `NAME/NAME-eks-a-cluster.kubeconfig` for the plane that manages the cluster after it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use ironbell_cluster_spec::Spec;
use ironbell_kube_api::{Security, ServingCert};
use ironbell_lifecycle::{Command as LifecycleCommand, Output, RunOptions};
use ironbell_lifecycle_tinkerbell::{Settings, Timeouts};
use ironbell_ops::network::PlaneNetwork;
use ironbell_ops::plane::{
    ApiOptions, BootOptions, ClusterOptions, MetadataOptions, PlaneConfig, WorkflowOptions,
};
use ironbell_ops::service::{Manager, ServiceSpec};
use ironbell_ops::spec::{Access, StoreSpec};

use crate::serve::{DhcpMode, NodeBootstrapperArg};

/// `ironbell create ...`.
#[derive(Subcommand, Debug)]
pub enum CreateCommand {
    /// Create a cluster from an EKS Anywhere spec on the machines of a hardware.csv: the
    /// validations, a bootstrap plane on this machine, the machines provisioned until each
    /// node is Ready, then the plane kept as a service. Run it again to resume.
    Cluster(Box<ClusterArgs>),
}

/// `ironbell upgrade ...`.
#[derive(Subcommand, Debug)]
pub enum UpgradeCommand {
    /// Apply a changed spec to a cluster: machines whose template, OS image or Kubernetes
    /// version changed are replaced one at a time (maxSurge), counts scale. Run it again to
    /// resume.
    Cluster(Box<ClusterArgs>),
}

/// How the plane runs as a service after the create.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceManagerArg {
    /// systemd where it runs (as root), else a detached process.
    Auto,
    /// A systemd unit.
    Systemd,
    /// A detached process (log and PID file in NAME/generated/).
    Process,
}

/// The flags of the lifecycle commands.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// The EKS Anywhere cluster spec.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The flags of a lifecycle run (shared by `delete cluster`).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The machines: EKS Anywhere's hardware.csv (required by create).
    #[arg(long, value_name = "FILE")]
    pub hardware_csv: Option<PathBuf>,
    /// The store of the plane that manages the cluster: for a workload cluster, its
    /// management cluster's (`mgmt/generated/mgmt.db`, or `etcd://...`); a management
    /// cluster's own is `NAME/generated/NAME.db` beside the spec. Same as --store.
    #[arg(long, value_name = "STORE")]
    pub management: Option<String>,
    /// Start over instead of resuming after the last finished task.
    #[arg(long)]
    pub restart: bool,
    /// Detail: the global `-v N` (0 one line per task, 1 what each task does, 4 debug),
    /// set by the caller.
    #[arg(skip)]
    pub verbosity: u8,
    /// How long the BMCs get to become contactable after the import.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub bmc_timeout: Duration,
    /// How long the cluster gets to be ready, rolled out or gone.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Serve DHCP on this interface only (default: every interface; the rival-DHCP check
    /// probes the one holding the Tinkerbell IP).
    #[arg(long)]
    pub interface: Option<String>,
    /// DHCP mode of the plane.
    #[arg(long, value_enum, default_value_t = DhcpMode::Reservation)]
    pub dhcp_mode: DhcpMode,
    /// Directory of the iPXE binaries (Debian's `ipxe` package).
    #[arg(long, default_value = "/usr/lib/ipxe")]
    pub ipxe_dir: PathBuf,
    /// Directory of the HookOS kernel and initramfs.
    #[arg(long, default_value = "/var/lib/ironbell/hookos")]
    pub artifacts_dir: PathBuf,
    /// Send machines to this base URL for the HookOS kernel and initramfs instead of the
    /// plane's HTTP service (default: the TinkerbellDatacenterConfig's `hookImagesURLPath`).
    #[arg(long)]
    pub hookos_url: Option<String>,
    /// Extra kernel parameters for HookOS (space-separated).
    #[arg(long, default_value = "")]
    pub extra_kernel_args: String,
    /// How nodes are bootstrapped: `plain` (Ready when the installed OS phones home),
    /// `kubeadm` (EKS Anywhere's user-data; needs Kubernetes in the OS image) or `native`
    /// (the control-plane machines, or a Docker cluster's control-plane containers, run an
    /// etcd member and a replica each, and the management plane moves onto them).
    #[arg(long, value_enum, default_value_t = NodeBootstrapperArg::Plain)]
    pub node_bootstrapper: NodeBootstrapperArg,
    /// Where a `plain` node posts its phone-home (default: the plane's metadata service).
    #[arg(long)]
    pub phone_home_url: Option<String>,
    /// HTTP port of the plane (iPXE scripts, HookOS).
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// Port of the plane's metadata service (Hegel's 50061, which EKS Anywhere's templates
    /// point cloud-init at).
    #[arg(long, default_value_t = 50061)]
    pub metadata_port: u16,
    /// Port of the agent API (Tink's 42113).
    #[arg(long, default_value_t = 42113)]
    pub grpc_port: u16,
    /// Port of the plane's Kubernetes API (HTTPS; kubectl with the kubeconfigs the create
    /// writes); 0: not served.
    #[arg(long, default_value_t = 6443)]
    pub api_port: u16,
    /// How the plane runs as a service once the cluster exists.
    #[arg(long, value_enum, default_value_t = ServiceManagerArg::Auto)]
    pub service_manager: ServiceManagerArg,
    /// Docker clusters: the engine the containers run on.
    #[arg(long, default_value = crate::serve::DEFAULT_DOCKER_HOST, env = "DOCKER_HOST", value_name = "ENGINE")]
    pub docker_host: String,
    /// Docker clusters: where the phone-home of the `plain` node containers listens. The
    /// URL they post to is --phone-home-url, by default this address (when it names one)
    /// or the engine's default bridge gateway 172.17.0.1, on this port.
    #[arg(long, default_value_t = crate::serve::DEFAULT_DOCKER_PHONE_HOME)]
    pub docker_phone_home: SocketAddr,
}

impl RunArgs {
    /// A Docker cluster's plane: the cluster controllers with the `plain` bootstrapper
    /// posting to the Docker phone-home, and the Docker controllers; nothing else. With
    /// `native`, the control-plane containers' replicas get this plane's ports and the
    /// Docker controllers (`DockerOptions::replica_serve_args`).
    fn docker_plane(&self, native: bool) -> PlaneConfig {
        let listen = self.docker_phone_home;
        let url = self.docker_phone_home_url();
        let network = PlaneNetwork::new(Ipv4Addr::LOCALHOST);
        let mut config = PlaneConfig::new(network.clone());
        let docker = ironbell_ops::plane::DockerOptions::new(self.docker_host.clone(), listen);
        let bootstrapper = if native {
            let mut serve_args = network.serve_args();
            serve_args.extend(["--node-bootstrapper".into(), "native".into()]);
            serve_args.extend(docker.replica_serve_args());
            ironbell_ops::plane::NodeBootstrapper::Native {
                phone_home_url: url,
                serve_args,
            }
        } else {
            ironbell_ops::plane::NodeBootstrapper::Plain {
                phone_home_url: url,
            }
        };
        let mut cluster = ClusterOptions::with(&network, bootstrapper);
        cluster.requeue = Duration::from_millis(500);
        config.cluster = Some(cluster);
        config.docker = Some(docker);
        config
    }

    /// The URL the Docker nodes post their phone-home to (see --docker-phone-home).
    fn docker_phone_home_url(&self) -> String {
        let listen = self.docker_phone_home;
        let host = match listen.ip() {
            ip if ip.is_unspecified() => std::net::IpAddr::V4(Ipv4Addr::new(172, 17, 0, 1)),
            ip => ip,
        };
        self.phone_home_url.clone().unwrap_or_else(|| {
            format!("http://{}/phone-home", SocketAddr::new(host, listen.port()))
        })
    }

    /// `serve cluster`'s flags for the same Docker plane.
    fn docker_service(&self, exe: PathBuf) -> ServiceSpec {
        ServiceSpec {
            exe,
            serve: "cluster",
            args: vec![
                format!("--docker-host={}", self.docker_host),
                format!("--docker-phone-home={}", self.docker_phone_home),
                format!("--phone-home-url={}", self.docker_phone_home_url()),
            ],
            manager: self.manager(),
        }
    }

    /// How the plane runs as a service.
    fn manager(&self) -> Manager {
        match self.service_manager {
            ServiceManagerArg::Auto => Manager::Auto,
            ServiceManagerArg::Systemd => Manager::Systemd,
            ServiceManagerArg::Process => Manager::Process,
        }
    }

    /// The plane's network at `ip`.
    fn network(&self, ip: Ipv4Addr) -> PlaneNetwork {
        let any = |port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        PlaneNetwork {
            http: any(self.http_port),
            metadata: any(self.metadata_port),
            grpc: any(self.grpc_port),
            ..PlaneNetwork::new(ip)
        }
    }

    /// The plane's Kubernetes API at `ip`, its credentials in `dir` (made on first use,
    /// the serving certificate for `ip`); `None` with `--api-port 0`.
    fn api(&self, ip: Ipv4Addr, dir: &Path) -> anyhow::Result<Option<ApiOptions>> {
        if self.api_port == 0 {
            return Ok(None);
        }
        let security =
            Security::load_or_create(dir, &ServingCert::GeneratedFor(vec![ip.to_string()]))
                .with_context(|| {
                    format!("the Kubernetes API's credentials in {}", dir.display())
                })?;
        Ok(Some(ApiOptions {
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, self.api_port)),
            server: format!("https://{ip}:{}", self.api_port),
            security: std::sync::Arc::new(security),
            kinds: ironbell_model::KindRegistry::builtin(),
        }))
    }

    /// The bootstrap plane: every service and controller at `ip`.
    fn plane(
        &self,
        ip: Ipv4Addr,
        machine_log_dir: PathBuf,
        api: Option<ApiOptions>,
    ) -> PlaneConfig {
        let network = self.network(ip);
        let bootstrapper = self
            .node_bootstrapper
            .bootstrapper(self.phone_home_url.as_deref(), &network);
        let mut config = PlaneConfig::new(network.clone());
        config.boot = Some(BootOptions {
            dhcp_mode: self.dhcp_mode.into(),
            interface: self.interface.clone(),
            tftp: true,
            syslog: true,
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
            replica_id: None,
            standby: false,
        });
        config.metadata = Some(MetadataOptions::default());
        config.workflow = Some(WorkflowOptions::default());
        config.bmc = Some(ironbell_bmc::Config::default());
        config.cluster = Some(ClusterOptions::with(&network, bootstrapper));
        config.api = api;
        config
    }

    /// `serve all`'s flags for the same plane (its API with the same credentials).
    fn service_args(&self, ip: Ipv4Addr, machine_log_dir: &Path, api_dir: &Path) -> Vec<String> {
        let mut args = vec![
            format!("--public-ip={ip}"),
            format!("--http-addr=0.0.0.0:{}", self.http_port),
            format!("--metadata-addr=0.0.0.0:{}", self.metadata_port),
            format!("--grpc-addr=0.0.0.0:{}", self.grpc_port),
            format!(
                "--dhcp-mode={}",
                self.dhcp_mode
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ),
            format!("--ipxe-dir={}", self.ipxe_dir.display()),
            format!("--artifacts-dir={}", self.artifacts_dir.display()),
            format!("--machine-log-dir={}", machine_log_dir.display()),
            format!(
                "--node-bootstrapper={}",
                self.node_bootstrapper
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            ),
        ];
        if let Some(i) = &self.interface {
            args.push(format!("--interface={i}"));
        }
        if let Some(url) = &self.hookos_url {
            args.push(format!("--hookos-url={url}"));
        }
        if !self.extra_kernel_args.is_empty() {
            args.push(format!("--extra-kernel-args={}", self.extra_kernel_args));
        }
        if let Some(url) = &self.phone_home_url {
            args.push(format!("--phone-home-url={url}"));
        }
        if self.api_port != 0 {
            args.push(format!("--api-addr=0.0.0.0:{}", self.api_port));
            args.push(format!("--api-dir={}", api_dir.display()));
            args.push(format!("--api-san={ip}"));
        }
        args
    }
}

/// This process's CPU time and peak memory (the bootstrap plane runs in it), for `-v 1`.
fn own_usage() -> Option<String> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let (user, system) = (secs(usage.user_time()), secs(usage.system_time()));
    Some(format!(
        "this process: {:.1} CPU-s (user {user:.1}, system {system:.1}), peak RSS {} MiB",
        user + system,
        usage.max_rss() / 1024
    ))
}

/// Loads the spec, printing its problems; `Err` is the exit status.
fn load(file: &Path) -> Result<Spec, ExitCode> {
    crate::cluster::load(file)
}

/// Runs `verb` on the cluster of `file` with `args`; `db` is the global `--store`.
pub async fn run(
    verb: fn(&Spec) -> LifecycleCommand,
    file: &Path,
    args: &RunArgs,
    db: Option<&str>,
    machine_log_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let spec = match load(file) {
        Ok(spec) => spec,
        Err(code) => return Ok(code),
    };
    let command = verb(&spec);
    // A management cluster whose plane moved onto its machines is deleted from a new
    // bootstrap plane on this machine, as EKS Anywhere deletes from a new kind cluster.
    let moved_plane = match args.management.as_deref().or(db) {
        None if command == LifecycleCommand::DeleteManagement => {
            ironbell_ops::native::moved_plane(file, spec.name())?
        }
        _ => None,
    };
    let store_spec: StoreSpec = match args.management.as_deref().or(db) {
        Some(db) => db.parse()?,
        None if moved_plane.is_some() => StoreSpec::Sqlite(
            ironbell_lifecycle_tinkerbell::default_store_path(file, spec.name())?,
        ),
        // A create (and its resumption) runs on the bootstrap plane's store, whatever it
        // moves to.
        None if command == LifecycleCommand::CreateManagement => StoreSpec::Sqlite(
            ironbell_lifecycle_tinkerbell::default_store_path(file, spec.name())?,
        ),
        None if command.is_management() => {
            ironbell_lifecycle_tinkerbell::management_store(file, spec.name())?
        }
        None => anyhow::bail!(
            "cluster {} is a workload cluster (managed by {}): name the management plane's \
             store with --management (or --store)",
            spec.name(),
            spec.cluster
                .spec
                .management_cluster
                .as_ref()
                .and_then(|m| m.name.clone())
                .unwrap_or_default()
        ),
    };
    let access = if command == LifecycleCommand::CreateManagement || moved_plane.is_some() {
        Access::Create
    } else {
        Access::Existing
    };
    let store = ironbell_ops::spec::open(&store_spec, access)
        .with_context(|| format!("opening the plane's store for cluster {}", spec.name()))?;
    let out = Output::stdout(args.verbosity);
    let options = RunOptions {
        restart: args.restart,
    };
    let exe = std::env::current_exe().context("finding the ironbell binary")?;
    if spec.provider() == ironbell_cluster_spec::Provider::Docker {
        // A cluster whose plane moved onto its containers stays `native` (its control-plane
        // template mounts the binary) whatever --node-bootstrapper says.
        let native = args.node_bootstrapper == NodeBootstrapperArg::Native
            || ironbell_ops::native::moved_plane(file, spec.name())?.is_some();
        let settings = ironbell_lifecycle_docker::Settings {
            service: args.docker_service(exe),
            service_timeout: Duration::from_secs(60),
            spec_path: file.to_path_buf(),
            store,
            moved_plane,
            plane: args.docker_plane(native),
            timeout: args.timeout,
            engine_grace: Duration::from_secs(5),
            now_unix_ms: now_unix_ms(),
        };
        let result =
            ironbell_lifecycle_docker::run(command, spec, settings, out.clone(), options).await;
        return finish(&out, result.map(drop), |e| {
            matches!(e, ironbell_lifecycle_docker::Error::Run(_))
        });
    }
    let ip = ironbell_lifecycle_tinkerbell::checks::tinkerbell_ip(&spec).with_context(|| {
        format!(
            "cluster {}: the TinkerbellDatacenterConfig needs an IPv4 tinkerbellIP",
            spec.name()
        )
    })?;
    // The plane's files (machine logs, the API's credentials): beside an embedded store,
    // else (the cluster's etcd after a move) in the cluster's NAME/generated/, never in the
    // working directory.
    let state_dir = match &store_spec {
        StoreSpec::Sqlite(_) => store_spec.state_dir(),
        _ => ironbell_lifecycle_tinkerbell::default_store_path(file, spec.name())?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let log_dir = machine_log_dir.unwrap_or_else(|| state_dir.join("machine-logs"));
    let api_dir = std::path::absolute(state_dir.join("api"))
        .context("resolving the API's credentials directory")?;
    let api = args.api(ip, &api_dir)?;
    // HookOS from the spec's hookImagesURLPath unless --hookos-url says otherwise.
    let mut plane = args.plane(ip, log_dir.clone(), api);
    let mut service_args = args.service_args(ip, &log_dir, &api_dir);
    let hook_images = spec
        .tinkerbell_datacenter()
        .and_then(|d| d.spec.hook_images_url_path.clone())
        .filter(|u| !u.trim().is_empty());
    if let (None, Some(url), Some(boot)) = (&args.hookos_url, hook_images, plane.boot.as_mut()) {
        service_args.push(format!("--hookos-url={url}"));
        boot.artifacts_url = Some(url);
    }
    let settings = Settings {
        spec_path: file.to_path_buf(),
        hardware_csv: args.hardware_csv.clone(),
        store,
        plane,
        moved_plane,
        service: ServiceSpec {
            exe,
            serve: "all",
            args: service_args,
            manager: args.manager(),
        },
        timeouts: Timeouts {
            bmc: args.bmc_timeout,
            cluster: args.timeout,
            ..Timeouts::default()
        },
        now_unix_ms: now_unix_ms(),
    };
    let result =
        ironbell_lifecycle_tinkerbell::run(command, spec, settings, out.clone(), options).await;
    finish(&out, result.map(drop), |e| {
        matches!(e, ironbell_lifecycle_tinkerbell::Error::Run(_))
    })
}

/// The clock in Unix milliseconds (template names).
fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The exit status of a run: a task's failure was printed by the runner (the error, the
/// task and how to resume), anything else is returned; `-v 1` gets this process's usage.
fn finish<E: std::error::Error + Send + Sync + 'static>(
    out: &Output,
    result: Result<(), E>,
    printed: impl Fn(&E) -> bool,
) -> anyhow::Result<ExitCode> {
    if let Some(usage) = own_usage() {
        out.detail(usage);
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if printed(&e) => Ok(ExitCode::FAILURE),
        Err(e) => Err(e.into()),
    }
}
