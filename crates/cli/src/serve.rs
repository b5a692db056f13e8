//! `ironbell serve ...`: the long-running services. Each is configured by flags, each flag
//! also by an `IRONBELL_*` environment variable.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

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
    /// Extra kernel parameters for HookOS (space-separated).
    #[arg(long, default_value = "", env = "IRONBELL_EXTRA_KERNEL_ARGS")]
    extra_kernel_args: String,
}

/// Builds the boot service's configuration from the flags.
pub fn boot_config(
    args: BootArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<ironbell_boot::service::Config> {
    if !args.ipxe_dir.is_dir() && !args.no_tftp {
        anyhow::bail!(
            "iPXE binaries directory {} does not exist (install Debian's `ipxe` package, or \
             pass --ipxe-dir)",
            args.ipxe_dir.display()
        );
    }
    let mut http = ironbell_boot::http::Config::new(args.public_ip);
    http.bind = args.http_addr;
    http.http_port = args.http_addr.port();
    http.ipxe_dir = args.ipxe_dir;
    http.artifacts_dir = args.artifacts_dir;
    http.extra_kernel_args = args
        .extra_kernel_args
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let syslog = (!args.no_syslog).then(|| (args.syslog_addr, ironbell_syslog::Config::default()));
    let mut dhcp = ironbell_dhcp::Config::new(args.public_ip);
    dhcp.mode = match args.dhcp_mode {
        DhcpMode::Reservation => ironbell_dhcp::Mode::Reservation,
        DhcpMode::Proxy => ironbell_dhcp::Mode::Proxy,
        DhcpMode::AutoProxy => ironbell_dhcp::Mode::AutoProxy,
        DhcpMode::Off => ironbell_dhcp::Mode::Off,
    };
    dhcp.http_base = Some(format!(
        "http://{}:{}",
        args.public_ip,
        args.http_addr.port()
    ));
    if syslog.is_some() {
        dhcp.syslog_server = Some(args.public_ip);
    }
    Ok(ironbell_boot::service::Config {
        dhcp: (args.dhcp_mode != DhcpMode::Off).then_some((args.dhcp_addr, dhcp)),
        tftp: (!args.no_tftp).then(|| {
            let addr = args
                .tftp_addr
                .unwrap_or(SocketAddr::from((args.public_ip, 69)));
            (addr, ironbell_tftp::Config::default())
        }),
        http,
        machine_log_dir: syslog.is_some().then_some(machine_log_dir),
        syslog,
        interface: args.interface,
    })
}

/// Runs the boot service until it fails or the process is interrupted.
pub async fn boot(
    store: ironbell_store::SharedStore,
    args: BootArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<()> {
    let config = boot_config(args, machine_log_dir)?;
    tokio::select! {
        result = ironbell_boot::service::run(store, config) => result.context("boot service"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted; stopping");
            Ok(())
        }
    }
}

/// Flags of `ironbell serve metadata`.
#[derive(Args, Debug)]
pub struct MetadataArgs {
    /// Listen address (EC2-style metadata, user-data, /metadata, /healthz, /metrics).
    #[arg(long, default_value = "0.0.0.0:7172", env = "IRONBELL_METADATA_ADDR")]
    listen: SocketAddr,
    /// Proxies (comma-separated CIDRs) whose `X-Forwarded-For` names the client. Empty:
    /// the header is ignored and the client is the TCP peer.
    #[arg(long, default_value = "", env = "IRONBELL_TRUSTED_PROXIES")]
    trusted_proxies: String,
    /// Require IMDSv2 session tokens (`PUT /latest/api/token`) on EC2 paths.
    #[arg(long, env = "IRONBELL_REQUIRE_TOKENS")]
    require_tokens: bool,
}

/// Runs the metadata service until it fails or the process is interrupted.
pub async fn metadata(
    store: ironbell_store::SharedStore,
    args: MetadataArgs,
) -> anyhow::Result<()> {
    let trusted_proxies = ironbell_metadata::Cidr::parse_list(&args.trusted_proxies)
        .with_context(|| format!("--trusted-proxies {:?}", args.trusted_proxies))?;
    let config = ironbell_metadata::Config {
        listen: args.listen,
        trusted_proxies,
        require_tokens: args.require_tokens,
        ..ironbell_metadata::Config::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen for metadata on {}", args.listen))?;
    tracing::info!(addr = %args.listen, "metadata service listening");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted; stopping");
    };
    ironbell_metadata::serve(store, config, listener, shutdown)
        .await
        .context("metadata service")
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
    agent_auth: ironbell_workflow::auth::AuthMode,
    /// Proxies (comma-separated IPs or CIDRs) allowed to name the agent's address in the
    /// `x-forwarded-for` gRPC metadata.
    #[arg(long, default_value = "", env = "IRONBELL_AGENT_TRUSTED_PROXIES")]
    agent_trusted_proxies: String,
}

/// Runs the workflow service until it fails or the process is interrupted.
pub async fn workflow(
    store: ironbell_store::SharedStore,
    args: WorkflowArgs,
) -> anyhow::Result<()> {
    let mut config = ironbell_workflow::Config::new(args.grpc_addr);
    config.concurrency = args.concurrency;
    config.auth.mode = args.agent_auth;
    config.auth.trusted_proxies =
        ironbell_metadata::client::Cidr::parse_list(&args.agent_trusted_proxies)
            .with_context(|| format!("--agent-trusted-proxies {:?}", args.agent_trusted_proxies))?;
    let render = ironbell_workflow::controller::tinkerbell_renderer();
    tokio::select! {
        result = ironbell_workflow::run(store, config, render) => result.context("workflow service"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted; stopping");
            Ok(())
        }
    }
}

/// Runs the BMC controllers (Machine, Job, Task) until the process is interrupted.
pub async fn bmc(store: ironbell_store::SharedStore) -> anyhow::Result<()> {
    tokio::select! {
        () = ironbell_bmc::run(store, ironbell_bmc::Config::default()) => Ok(()),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted; stopping");
            Ok(())
        }
    }
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
}

/// Runs every service over one store (boot, metadata, workflow, BMC) until one fails or
/// the process is interrupted.
pub async fn all(
    store: ironbell_store::SharedStore,
    args: AllArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<()> {
    let boot = boot(store.clone(), args.boot, machine_log_dir);
    let metadata = metadata(store.clone(), args.metadata);
    let workflow = workflow(store.clone(), args.workflow);
    let bmc = bmc(store);
    // Each returns on failure or on Ctrl-C; the first to return ends the process.
    tokio::select! {
        r = boot => r,
        r = metadata => r,
        r = workflow => r,
        r = bmc => r,
    }
}
