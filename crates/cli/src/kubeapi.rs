//! `ironbell serve api` (and `serve all --api-addr`): the Kubernetes API over the store;
//! `ironbell kubeconfig`: a kubeconfig for it. The API's credentials live in `--api-dir`
//! (default: `api/` beside the embedded store), made on first start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ironbell_kube_api::{ApiConfig, ApiState, Role, Security, ServingCert};
use ironbell_model::KindRegistry;
use ironbell_ops::spec::{StoreHandle, StoreSpec};

/// Where the API's credentials are, and the serving certificate's names.
#[derive(Args, Debug, Clone)]
pub struct ApiCredentialArgs {
    /// Directory of the API's CA, serving certificate and tokens (made on first start).
    /// Default: `api/` beside the embedded store (required on etcd).
    #[arg(long, value_name = "DIR", env = "IRONBELL_API_DIR")]
    api_dir: Option<PathBuf>,
    /// Further names or addresses of the serving certificate (besides localhost,
    /// 127.0.0.1 and ::1); repeat or separate with commas.
    #[arg(
        long,
        value_name = "NAME",
        value_delimiter = ',',
        env = "IRONBELL_API_SANS"
    )]
    api_san: Vec<String>,
    /// A serving certificate chain (PEM) to use instead of one made by the API's CA.
    #[arg(
        long,
        value_name = "FILE",
        requires = "api_tls_key",
        env = "IRONBELL_API_TLS_CERT"
    )]
    api_tls_cert: Option<PathBuf>,
    /// The key (PEM) of --api-tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "api_tls_cert",
        env = "IRONBELL_API_TLS_KEY"
    )]
    api_tls_key: Option<PathBuf>,
}

impl ApiCredentialArgs {
    fn dir(&self, spec: &StoreSpec) -> anyhow::Result<PathBuf> {
        match (&self.api_dir, spec) {
            (Some(dir), _) => Ok(dir.clone()),
            (None, StoreSpec::Sqlite(_)) => Ok(spec.state_dir().join("api")),
            (None, _) => anyhow::bail!(
                "the API's credentials need a directory on this store: give --api-dir"
            ),
        }
    }

    /// The credentials, made where missing; with a serving certificate when `serving`.
    pub fn security(&self, spec: &StoreSpec, serving: bool) -> anyhow::Result<Security> {
        let dir = self.dir(spec)?;
        let serving = match (&self.api_tls_cert, &self.api_tls_key, serving) {
            (_, _, false) => ServingCert::NotServing,
            (Some(cert), Some(key), true) => ServingCert::Given {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => ServingCert::GeneratedFor(self.api_san.clone()),
        };
        Security::load_or_create(&dir, &serving)
            .with_context(|| format!("the API's credentials in {}", dir.display()))
    }
}

/// Flags of `ironbell serve api`.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Listen address of the Kubernetes API (HTTPS).
    #[arg(long, default_value = "0.0.0.0:6443", env = "IRONBELL_API_ADDR")]
    api_addr: SocketAddr,
    #[command(flatten)]
    credentials: ApiCredentialArgs,
}

/// The API's flags in `ironbell serve all`: off unless `--api-addr` is given.
#[derive(Args, Debug)]
pub struct AllApiArgs {
    /// Also serve the Kubernetes API (HTTPS) on this address (e.g. 0.0.0.0:6443).
    #[arg(long, env = "IRONBELL_API_ADDR")]
    api_addr: Option<SocketAddr>,
    #[command(flatten)]
    credentials: ApiCredentialArgs,
}

impl AllApiArgs {
    /// Where the API's credentials are (the dashboard's token is the API's admin token).
    pub fn credentials(&self) -> &ApiCredentialArgs {
        &self.credentials
    }
}

/// Flags of `ironbell kubeconfig`.
#[derive(Args, Debug)]
pub struct KubeconfigArgs {
    /// The API's URL as clients reach it.
    #[arg(long, default_value = "https://127.0.0.1:6443")]
    server: String,
    /// admin or read-only (get, list and watch).
    #[arg(long, default_value = "admin")]
    role: Role,
    /// Authenticate with a new client certificate signed by the API's CA instead of the
    /// role's bearer token.
    #[arg(long)]
    client_cert: bool,
    /// Name of the cluster, user and context (`NAME-ROLE` for the user and context).
    #[arg(long, default_value = "ironbell")]
    name: String,
    /// Write it to this file (mode 0600) rather than standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    credentials: ApiCredentialArgs,
}

fn state(store: &StoreHandle, kinds: &KindRegistry, security: Security) -> Arc<ApiState> {
    Arc::new(ApiState::new(
        store.store().clone(),
        kinds.clone(),
        Arc::new(security),
        ApiConfig::default(),
    ))
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} for the Kubernetes API"))
}

/// `ironbell serve api`: until interrupted.
pub async fn serve(store: &StoreHandle, kinds: &KindRegistry, args: ApiArgs) -> anyhow::Result<()> {
    let security = args.credentials.security(store.spec(), true)?;
    let listener = bind(args.api_addr).await?;
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted; stopping");
    };
    ironbell_kube_api::serve(listener, state(store, kinds, security), shutdown)
        .await
        .context("the Kubernetes API")
}

/// The API of `serve all`, when asked for: its credentials read and its address bound
/// now (so a mistake fails before the plane starts), and a future that serves it until it
/// fails; without `--api-addr`, a future that never ends.
pub async fn in_serve_all(
    store: &StoreHandle,
    kinds: &KindRegistry,
    args: AllApiArgs,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>> + use<>> {
    let served = match args.api_addr {
        Some(addr) => {
            let security = args.credentials.security(store.spec(), true)?;
            Some((bind(addr).await?, state(store, kinds, security)))
        }
        None => None,
    };
    Ok(async move {
        match served {
            Some((listener, state)) => {
                ironbell_kube_api::serve(listener, state, std::future::pending())
                    .await
                    .context("the Kubernetes API")
            }
            None => std::future::pending().await,
        }
    })
}

/// `ironbell kubeconfig`.
pub fn kubeconfig(spec: &StoreSpec, args: KubeconfigArgs) -> anyhow::Result<()> {
    let security = args.credentials.security(spec, false)?;
    let text = ironbell_kube_api::kubeconfig(
        &args.server,
        &security,
        args.role,
        args.client_cert,
        &args.name,
    )?;
    match args.output {
        None => print!("{text}"),
        Some(path) => {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            f.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{}: kubeconfig for {} as {}",
                path.display(),
                args.server,
                args.role.as_str()
            );
        }
    }
    Ok(())
}
