//! The whole boot service in one call: [`run`] binds DHCP, TFTP, HTTP and syslog, starts the
//! Hardware index over the store, and serves until one of them fails. `ironbell serve boot`
//! is a thin command line over it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ironbell_store::SharedStore;
use tokio::task::JoinSet;
use tracing::{error, info};

use crate::http::{self, HttpState};
use crate::machine_log::MachineLogs;

/// Where each part listens, and how it answers. A part whose address is `None` is off.
#[derive(Clone, Debug)]
pub struct Config {
    /// DHCP (UDP 67), and how it answers.
    pub dhcp: Option<(SocketAddr, ironbell_dhcp::Config)>,
    /// TFTP (UDP 69), serving the iPXE binaries from the HTTP config's `ipxe_dir`.
    pub tftp: Option<(SocketAddr, ironbell_tftp::Config)>,
    /// HTTP (TCP 7171): iPXE scripts and binaries, HookOS artifacts, `/healthz`, `/metrics`.
    pub http: http::Config,
    /// Syslog (UDP 514) from machines' installer environment.
    pub syslog: Option<(SocketAddr, ironbell_syslog::Config)>,
    /// Where syslog from machines is written, one file per Hardware (see
    /// [`crate::machine_log`]); `None` keeps only the recent messages in memory.
    pub machine_log_dir: Option<PathBuf>,
    /// Where each known machine's log line is also sent as it arrives (the dashboard).
    pub log_feed: Option<crate::machine_log::LogFeed>,
    /// Bind DHCP to this interface only (`SO_BINDTODEVICE`), so that it never answers on
    /// another network.
    pub interface: Option<String>,
}

/// A part of the boot service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A socket could not be bound.
    #[error("cannot listen for {service} on {addr}")]
    Bind {
        /// Which part.
        service: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The iPXE binaries directory cannot be served.
    #[error("cannot serve iPXE binaries from {dir}")]
    IpxeDir {
        /// The directory.
        dir: String,
        /// Why.
        source: io::Error,
    },
    /// A running part failed.
    #[error("{service} stopped")]
    Stopped {
        /// Which part.
        service: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// The iPXE binaries firmware asks for, read into memory from `dir`. Read once rather than
/// served from the directory because Debian's `/usr/lib/ipxe/ipxe.efi` is a symlink to
/// `/boot/ipxe.efi`, which a confined directory source rightly refuses; the directory is the
/// operator's, so following its links here is fine. Names that are missing are skipped; none
/// at all is an error.
pub fn ipxe_binaries(dir: &std::path::Path) -> io::Result<ironbell_tftp::FileSource> {
    let mut files = Vec::new();
    for name in IPXE_BINARIES {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => files.push((name.to_string(), bytes.into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{name}: {e}"))),
        }
    }
    if files.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("none of {} found", IPXE_BINARIES.join(", ")),
        ));
    }
    Ok(ironbell_tftp::FileSource::memory(files))
}

/// The iPXE binaries served over TFTP.
pub const IPXE_BINARIES: &[&str] = &["undionly.kpxe", "ipxe.efi", "snponly.efi", "snp.efi"];

async fn udp(
    service: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::UdpSocket, ServiceError> {
    tokio::net::UdpSocket::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind {
            service,
            addr,
            source,
        })
}

/// How often machines waiting for their agent are checked (see
/// [`crate::events::BootEvents::watch_agents`]).
const AGENT_WATCH_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// Sets its flag when dropped.
struct RaiseOnDrop(Arc<AtomicBool>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts every configured part over `store` and serves until one fails.
pub async fn run(store: SharedStore, config: Config) -> Result<(), ServiceError> {
    run_sharing(store, config, None).await
}

/// [`run`] for one replica of several on a network: DHCP answers only the clients of
/// `dhcp_share` (see [`ironbell_dhcp::share`]), which the caller keeps current from the
/// replicas' membership while the service runs. `None` answers every client.
pub async fn run_sharing(
    store: SharedStore,
    config: Config,
    dhcp_share: Option<Arc<ironbell_dhcp::Share>>,
) -> Result<(), ServiceError> {
    let replica = Replica {
        dhcp_share,
        ..Replica::default()
    };
    run_replica(store, config, replica).await
}

/// What a replica of several adds to the boot service (see [`run_replica`]).
#[derive(Default)]
pub struct Replica {
    /// The share of the DHCP clients this replica answers (`None`: every client).
    pub dhcp_share: Option<Arc<ironbell_dhcp::Share>>,
    /// More families for `/metrics`, such as the store's health
    /// ([`crate::metrics::StoreHealth`]).
    pub metrics: Vec<Arc<dyn crate::metrics::MetricsSource>>,
    /// Told once every socket of the service is bound (DHCP, TFTP, syslog, HTTP): what a
    /// service manager's readiness waits for. Dropped unsent if binding fails.
    pub listening: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("dhcp_share", &self.dhcp_share)
            .field("metrics", &self.metrics.len())
            .field("listening", &self.listening.is_some())
            .finish()
    }
}

/// [`run_sharing`], with more metric families.
pub async fn run_replica(
    store: SharedStore,
    config: Config,
    replica: Replica,
) -> Result<(), ServiceError> {
    let Replica {
        dhcp_share,
        metrics,
        listening,
    } = replica;
    let index = crate::start_index(store.clone()).await;
    info!(
        hardware = index.snapshot().hardware_count(),
        "hardware index ready"
    );
    let events = Arc::new(crate::events::BootEvents::new(
        ironbell_store::events::Recorder::start(store.clone(), "ironbell-boot"),
        index.clone(),
    ));
    let mut state = HttpState::new(config.http.clone(), index.clone())
        .with_agent_tokens(crate::agent_tokens::AgentTokens::start(store.clone()))
        .with_events(events.clone())
        .with_source(events.clone());
    for source in metrics {
        state = state.with_source(source);
    }
    let mut tasks: JoinSet<Result<(), ServiceError>> = JoinSet::new();
    let stopped = |service: &'static str| move |source| ServiceError::Stopped { service, source };

    if let Some((addr, dhcp_config)) = config.dhcp {
        let std_socket = ironbell_dhcp::bind_server_socket(addr, config.interface.as_deref())
            .map_err(|source| ServiceError::Bind {
                service: "DHCP",
                addr,
                source,
            })?;
        let mut server =
            ironbell_dhcp::Server::new(dhcp_config, index.clone()).with_observer(events.clone());
        if let Some(share) = dhcp_share {
            info!(
                replica = share.replica(),
                "DHCP answers this replica's share of the clients"
            );
            state = state.with_source(share.clone());
            server = server.with_share(share);
        }
        let server = Arc::new(server);
        state = state.with_source(server.stats());
        info!(%addr, interface = config.interface.as_deref().unwrap_or("any"), "DHCP listening");
        // DHCP runs its blocking, batched loop on a thread of its own; dropping this task
        // (service shutdown) raises the stop flag and the thread ends within a poll period.
        tasks.spawn(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let _raise_on_drop = RaiseOnDrop(stop.clone());
            let thread =
                tokio::task::spawn_blocking(move || server.serve_blocking(std_socket, &stop));
            match thread.await {
                Ok(result) => result.map_err(stopped("DHCP")),
                Err(join) => Err(stopped("DHCP")(io::Error::other(join.to_string()))),
            }
        });
    }
    if let Some((addr, tftp_config)) = config.tftp {
        let dir = &config.http.ipxe_dir;
        let source = ipxe_binaries(dir).map_err(|source| ServiceError::IpxeDir {
            dir: dir.display().to_string(),
            source,
        })?;
        let socket = udp("TFTP", addr).await?;
        let server = ironbell_tftp::Server::new(tftp_config, source.clone());
        state = state.with_source(server.stats()).with_ipxe(source);
        info!(%addr, dir = %dir.display(), "TFTP listening");
        tasks.spawn(async move { server.serve(socket).await.map_err(stopped("TFTP")) });
    }
    if let Some((addr, syslog_config)) = config.syslog {
        let socket = udp("syslog", addr).await?;
        let receiver = Arc::new(ironbell_syslog::Receiver::new(
            syslog_config,
            MachineLogs::new(index.clone(), 1000, config.machine_log_dir.clone())
                .with_feed(config.log_feed.clone()),
        ));
        state = state
            .with_source(Arc::new(crate::metrics::SyslogStats(receiver.clone())))
            .with_source(receiver.sink().stats());
        info!(%addr, "syslog listening");
        tasks.spawn(async move { receiver.serve(socket).await.map_err(stopped("syslog")) });
    }
    let addr = config.http.bind;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind {
            service: "HTTP",
            addr,
            source,
        })?;
    info!(%addr, "HTTP listening");
    tasks.spawn(async move { http::serve(listener, state).await.map_err(stopped("HTTP")) });
    if let Some(listening) = listening {
        // Nobody waiting is fine: readiness is optional.
        let _ = listening.send(());
    }

    let watch = events.watch_agents(store, AGENT_WATCH_PERIOD);
    tasks.spawn(async move {
        watch.await;
        Ok(())
    });
    // Every part serves forever; the first to return ends the service.
    let result = match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(join)) => Err(ServiceError::Stopped {
            service: "boot service task",
            source: io::Error::other(join.to_string()),
        }),
        None => Ok(()),
    };
    if let Err(e) = &result {
        error!("{e}");
    }
    tasks.shutdown().await;
    result
}
