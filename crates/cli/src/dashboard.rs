//! `ironbell serve dashboard` (and `serve all --dashboard ADDR`): the web dashboard
//! (`ironbell_dashboard`) over the store. Reading needs nothing; changes need a bearer
//! token: the one in `--dashboard-token-file`, else the Kubernetes API's admin token
//! (`api/admin.token` beside the embedded store, made on first start, as `serve api` and
//! `ironbell kubeconfig` make it). Plain HTTP: keep it off untrusted networks.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ironbell_boot::machine_log::LogFeed;
use ironbell_dashboard::{MachineLogSource, Options};
use ironbell_kube_api::Role;
use ironbell_ops::spec::StoreHandle;

use crate::kubeapi::ApiCredentialArgs;

/// Where the dashboard's token comes from.
#[derive(Args, Debug, Clone)]
pub struct TokenArgs {
    /// A file holding the bearer token that allows changes from the dashboard. Default:
    /// the Kubernetes API's admin token (`api/admin.token` beside the embedded store).
    #[arg(long, value_name = "FILE", env = "IRONBELL_DASHBOARD_TOKEN_FILE")]
    dashboard_token_file: Option<PathBuf>,
    /// No changes from the dashboard at all (every write is 403).
    #[arg(long, env = "IRONBELL_DASHBOARD_READ_ONLY")]
    dashboard_read_only: bool,
}

impl TokenArgs {
    /// The token, read or made (see the module docs); `None` when read-only.
    fn token(
        &self,
        store: &StoreHandle,
        credentials: &ApiCredentialArgs,
    ) -> anyhow::Result<Option<String>> {
        if self.dashboard_read_only {
            return Ok(None);
        }
        let token = match &self.dashboard_token_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the dashboard token {}", file.display()))?
                .trim()
                .to_string(),
            None => credentials
                .security(store.spec(), false)?
                .token(Role::Admin)
                .to_string(),
        };
        anyhow::ensure!(
            token.len() >= 16,
            "the dashboard token must be at least 16 characters"
        );
        Ok(Some(token))
    }
}

/// Flags of `ironbell serve dashboard`.
#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// Listen address of the dashboard (plain HTTP; a trusted network only).
    #[arg(
        long,
        default_value = "127.0.0.1:7180",
        env = "IRONBELL_DASHBOARD_ADDR",
        value_name = "ADDR"
    )]
    dashboard_addr: SocketAddr,
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    credentials: ApiCredentialArgs,
}

/// The dashboard's flags in `ironbell serve all`: off unless `--dashboard` is given.
#[derive(Args, Debug)]
pub struct AllDashboardArgs {
    /// Also serve the web dashboard (plain HTTP) on this address, e.g. 127.0.0.1:7180;
    /// keep it off untrusted networks.
    #[arg(
        long = "dashboard",
        value_name = "ADDR",
        env = "IRONBELL_DASHBOARD_ADDR"
    )]
    addr: Option<SocketAddr>,
    #[command(flatten)]
    token: TokenArgs,
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} for the dashboard"))
}

/// `ironbell serve dashboard`: until SIGTERM or SIGINT. Machine logs are read from
/// `machine_log_dir` when a page opens; new lines stream only from a boot service in the
/// same process (`serve all --dashboard`).
pub async fn serve(
    store: &StoreHandle,
    args: DashboardArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<()> {
    let options = Options {
        token: args.token.token(store, &args.credentials)?,
        logs: MachineLogSource {
            dir: Some(machine_log_dir),
            feed: None,
        },
        ..Options::default()
    };
    let listener = bind(args.dashboard_addr).await?;
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("stopping the dashboard");
    };
    ironbell_dashboard::serve(listener, store.store().clone(), options, shutdown)
        .await
        .context("the dashboard")
}

/// The dashboard of `serve all`, when asked for: its token read and its address bound now
/// (a mistake fails before the plane starts), the feed the boot service sends machine log
/// lines to, and a future that serves it until it fails; without `--dashboard`, no feed
/// and a future that never ends.
pub async fn in_serve_all(
    store: &StoreHandle,
    args: AllDashboardArgs,
    credentials: &ApiCredentialArgs,
    machine_log_dir: PathBuf,
) -> anyhow::Result<(
    Option<LogFeed>,
    impl std::future::Future<Output = anyhow::Result<()>> + use<>,
)> {
    let served = match args.addr {
        Some(addr) => {
            let feed = LogFeed::new();
            let options = Options {
                token: args.token.token(store, credentials)?,
                logs: MachineLogSource {
                    dir: Some(machine_log_dir),
                    feed: Some(feed.clone()),
                },
                ..Options::default()
            };
            Some((bind(addr).await?, store.store().clone(), options))
        }
        None => None,
    };
    let feed = served
        .as_ref()
        .and_then(|(_, _, options)| options.logs.feed.clone());
    Ok((feed, async move {
        match served {
            Some((listener, store, options)) => {
                ironbell_dashboard::serve(listener, store, options, std::future::pending())
                    .await
                    .context("the dashboard")
            }
            None => std::future::pending().await,
        }
    }))
}
