//! ironbell's web dashboard: what every machine is doing, in a browser.
//!
//! Pages (server-rendered HTML, one small hand-written script, no CDN: the script and the
//! style sheet are compiled into the binary):
//!
//! - **Machines** (`/`): each Hardware with its BMC Machine's power state, its provisioning
//!   phase (its latest Workflow's state), the current action and its last Event;
//! - **a machine** (`/machines/NAMESPACE/NAME`): the same, its timeline (the Events of its
//!   Hardware, BMC Machine and Workflows, oldest first, as `ironbell describe hardware`
//!   shows them) and its machine log (what HookOS and the agent sent over syslog), the
//!   lines streaming in as they arrive;
//! - **Workflows**, **BMC jobs**, **Clusters** (EKS Anywhere and Cluster API).
//!
//! Updates are pushed: reflectors follow the store's watches (`views.rs`), and each open
//! page holds one Server-Sent Events stream that sends the parts of the page that changed
//! (rendered again on the server) and the machine's new log lines. Neither the server nor
//! the page polls. Streams are bounded per client address and in all
//! ([`Options::streams_per_peer`], [`Options::peers`]).
//!
//! Reading needs nothing; the few changes (power-cycle a machine, which creates a BMC Job;
//! allow or disallow PXE on its interfaces) need `Authorization: Bearer TOKEN` with the
//! token given in [`Options::token`]: without it, 401; when the dashboard has no token,
//! every change is 403. The page keeps a token typed into it in the tab's session storage
//! and sends it only in that header (never a cookie, so another site cannot make a
//! browser send it). The dashboard speaks plain HTTP: keep it on a trusted network.
//!
//! What it is not: an API (use `ironbell serve api` and kubectl), nor a log store (the
//! machine logs are the boot service's files, [`ironbell_boot::machine_log`]; live lines
//! come from the boot service in the same process through a
//! [`ironbell_boot::machine_log::LogFeed`]).
//!
//! Start reading at [`serve`], then `views.rs` (what is kept) and `render.rs` (the HTML).
//! Htmx was considered for the page; the script it would replace is 70 lines
//! (`assets/dashboard.js`), so the page carries no third-party code.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ironbell_boot::machine_log::{LogFeed, log_path};
use ironbell_limits::ConnectionCap;
use ironbell_store::SharedStore;
use tokio::sync::watch;
use tracing::{info, warn};

mod changes;
mod render;
mod stream;
mod views;

use views::Live;

/// The dashboard's default port.
pub const DEFAULT_PORT: u16 = 7180;

/// Lines of a machine's log file shown when its page opens.
pub const LOG_HISTORY_LINES: usize = 500;

/// Bytes read from the end of a machine's log file for [`LOG_HISTORY_LINES`].
const LOG_HISTORY_BYTES: u64 = 256 << 10;

const SCRIPT: &str = include_str!("../assets/dashboard.js");
const STYLE: &str = include_str!("../assets/dashboard.css");

/// What the page may load: only what the binary serves, no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self'; frame-ancestors 'none'; form-action 'self'";

/// Where machine logs come from.
#[derive(Clone, Debug, Default)]
pub struct MachineLogSource {
    /// The boot service's machine log directory (the history shown when a page opens).
    pub dir: Option<PathBuf>,
    /// The boot service's feed of new lines, when it runs in this process.
    pub feed: Option<LogFeed>,
}

/// How the dashboard runs.
#[derive(Clone)]
pub struct Options {
    /// The bearer token that allows changes; `None`: no changes at all.
    pub token: Option<String>,
    /// Machine logs.
    pub logs: MachineLogSource,
    /// Open streams (pages) per client address.
    pub streams_per_peer: usize,
    /// Client addresses with open streams.
    pub peers: usize,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("logs", &self.logs)
            .field("streams_per_peer", &self.streams_per_peer)
            .field("peers", &self.peers)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: None,
            logs: MachineLogSource::default(),
            streams_per_peer: 16,
            peers: 64,
        }
    }
}

/// The dashboard failed.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// Serving connections failed.
    #[error("serving the dashboard on {addr}: {source}")]
    Serve {
        /// Where it listened.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
}

struct Dashboard {
    store: SharedStore,
    live: Live,
    options: Options,
    streams: Arc<ConnectionCap<IpAddr>>,
    stop: watch::Receiver<bool>,
}

type Shared = Arc<Dashboard>;

/// How long the dashboard waits for its first view of the store before serving anyway
/// (the pages then fill in as the lists arrive).
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The dashboard's routes over `store`, once its reflectors have a first list (or after
/// [`SYNC_WAIT`]). Streams end when `stop` turns true.
async fn router(store: SharedStore, options: Options, stop: watch::Receiver<bool>) -> Router {
    let live = Live::start(&store);
    if tokio::time::timeout(SYNC_WAIT, live.synced())
        .await
        .is_err()
    {
        warn!("the store did not list every kind within {SYNC_WAIT:?}; serving what arrived");
    }
    let state = Arc::new(Dashboard {
        live,
        store,
        streams: ConnectionCap::new(options.streams_per_peer, options.peers),
        options,
        stop,
    });
    Router::new()
        .route("/", get(machines))
        .route("/workflows", get(list_page))
        .route("/jobs", get(list_page))
        .route("/clusters", get(list_page))
        .route("/machines/{namespace}/{name}", get(machine))
        .route("/stream/{view}", get(stream::list_stream))
        .route(
            "/stream/machines/{namespace}/{name}",
            get(stream::machine_stream),
        )
        .route(
            "/api/machines/{namespace}/{name}/power-cycle",
            post(changes::power_cycle),
        )
        .route(
            "/api/machines/{namespace}/{name}/allow-pxe/{value}",
            post(changes::allow_pxe),
        )
        .route("/assets/dashboard.js", get(script))
        .route("/assets/dashboard.css", get(style))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(state)
}

/// Serves the dashboard on `listener` over `store` until `shutdown` completes (then every
/// open stream ends and the server returns) or serving fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: SharedStore,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let (stop_tx, stop) = watch::channel(false);
    let app = router(store, options, stop.clone()).await;
    info!(%addr, "dashboard listening");
    let mut stopped = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|s| *s).await;
    })
    .await
    .map_err(|source| DashboardError::Serve { addr, source })
}

/// An HTML page, with the headers every page carries.
fn html(body: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    message.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn machines(State(d): State<Shared>) -> Response {
    html(d.live.read(render::machines_page))
}

/// The list pages, by path.
async fn list_page(State(d): State<Shared>, uri: axum::http::Uri) -> Response {
    match List::of(uri.path().trim_start_matches('/')) {
        Some(list) => html(d.live.read(list.page)),
        None => text(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// Renders a page or a part of one from the views.
type Render = fn(&views::Views) -> String;

/// A list page: its page, the `id` of its rows and their rendering.
#[derive(Clone, Copy)]
struct List {
    page: Render,
    id: &'static str,
    rows: Render,
}

impl List {
    fn of(view: &str) -> Option<Self> {
        let (page, rows): (Render, Render) = match view {
            "machines" => (render::machines_page, render::machine_rows),
            "workflows" => (render::workflows_page, render::workflow_rows),
            "jobs" => (render::jobs_page, render::job_rows),
            "clusters" => (render::clusters_page, render::cluster_rows),
            _ => return None,
        };
        let id = match view {
            "machines" => "machines",
            "workflows" => "workflows",
            "jobs" => "jobs",
            _ => "clusters",
        };
        Some(Self { page, id, rows })
    }
}

async fn machine(
    State(d): State<Shared>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let (logs, ns, n) = (d.options.logs.clone(), namespace.clone(), name.clone());
    let log = tokio::task::spawn_blocking(move || log_history(&logs, &ns, &n))
        .await
        .unwrap_or_default();
    let page = d.live.read(|v| {
        v.machine(&namespace, &name)
            .map(|m| render::machine_page(v, &m, &log))
    });
    match page {
        Some(page) => html(page),
        None => text(
            StatusCode::NOT_FOUND,
            format!("no Hardware {namespace}/{name}"),
        ),
    }
}

/// The last [`LOG_HISTORY_LINES`] lines of a machine's log file (none when there is no
/// file or it cannot be read: the page says nothing rather than failing).
fn log_history(logs: &MachineLogSource, namespace: &str, name: &str) -> Vec<String> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Some(path) = logs
        .dir
        .as_deref()
        .and_then(|dir| log_path(dir, namespace, name))
    else {
        return Vec::new();
    };
    let Ok(mut file) = std::fs::File::open(&path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_HISTORY_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err()
        || file
            .take(LOG_HISTORY_BYTES)
            .read_to_end(&mut bytes)
            .is_err()
    {
        warn!(hardware = %name, path = %path.display(), "cannot read the machine log");
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    let skip = lines.len().saturating_sub(LOG_HISTORY_LINES);
    lines[skip..].iter().map(|l| (*l).to_string()).collect()
}

/// A request refused before it did anything: its status and why.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    message: &'static str,
    /// Ask for a bearer token (`WWW-Authenticate`).
    bearer: bool,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut r = text(self.status, self.message);
        if self.bearer {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ironbell\""),
            );
        }
        r
    }
}
