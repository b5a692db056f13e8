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
//! Htmx was considered for the page; the script it would replace is 60 lines
//! (`assets/dashboard.js`), so the page carries no third-party code.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use ironbell_boot::machine_log::{LogFeed, LogLine, log_path};
use ironbell_limits::{ConnectionCap, ConnectionPermit};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{SharedStore, StoreError};
use tokio::sync::{broadcast, watch};
use tracing::{info, warn};

mod render;
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
        .route("/stream/{view}", get(list_stream))
        .route("/stream/machines/{namespace}/{name}", get(machine_stream))
        .route(
            "/api/machines/{namespace}/{name}/power-cycle",
            post(power_cycle),
        )
        .route(
            "/api/machines/{namespace}/{name}/allow-pxe/{value}",
            post(allow_pxe),
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

/// A `swap` event: the element `id` gets `html` as its content.
fn swap(id: &str, html: &str) -> SseEvent {
    SseEvent::default()
        .event("swap")
        .data(format!("{id}\n{html}"))
}

/// A stream permit for `peer`, or the 503 that says why not.
fn stream_permit(d: &Dashboard, peer: SocketAddr) -> Result<ConnectionPermit<IpAddr>, Refused> {
    d.streams.try_acquire(peer.ip()).ok_or(Refused {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "too many open dashboard pages; close some",
        bearer: false,
    })
}

fn sse(stream: impl Stream<Item = SseEvent> + Send + 'static) -> Response {
    let mut r = Sse::new(stream.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::default())
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What a stream waits for next.
enum Wake {
    Changed,
    Log(Result<Arc<LogLine>, broadcast::error::RecvError>),
    Stop,
}

/// Waits for a change of the views, a log line (when `log` is given) or the stop.
async fn wake(
    changes: &mut watch::Receiver<u64>,
    log: Option<&mut broadcast::Receiver<Arc<LogLine>>>,
    stop: &mut watch::Receiver<bool>,
) -> Wake {
    let log = async {
        match log {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        changed = changes.changed() => match changed {
            Ok(()) => Wake::Changed,
            Err(_) => Wake::Stop,
        },
        line = log => Wake::Log(line),
        _ = stop.wait_for(|s| *s) => Wake::Stop,
    }
}

/// The stream of a list page: its rows, rendered again after each change.
async fn list_stream(
    State(d): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(view): Path<String>,
) -> Response {
    let Some(list) = List::of(&view) else {
        return text(StatusCode::NOT_FOUND, "no such stream");
    };
    let permit = match stream_permit(&d, peer) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut changes = d.live.changes();
    changes.mark_changed(); // the rows as they are now, first
    let stop = d.stop.clone();
    let stream = futures::stream::unfold(
        (d, changes, stop, permit),
        move |(d, mut changes, mut stop, permit)| async move {
            match wake(&mut changes, None, &mut stop).await {
                Wake::Changed => {
                    let rows = d.live.read(list.rows);
                    Some((swap(list.id, &rows), (d, changes, stop, permit)))
                }
                Wake::Log(_) | Wake::Stop => None,
            }
        },
    );
    sse(stream)
}

/// The stream of a machine's page: its summary and timeline after each change, and its
/// new log lines.
async fn machine_stream(
    State(d): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let permit = match stream_permit(&d, peer) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut changes = d.live.changes();
    changes.mark_changed();
    let log = d.options.logs.feed.as_ref().map(LogFeed::subscribe);
    let stop = d.stop.clone();
    let who = Arc::new((namespace, name));
    let stream = futures::stream::unfold(
        (d, changes, log, stop, permit),
        move |(d, mut changes, mut log, mut stop, permit)| {
            let who = Arc::clone(&who);
            async move {
                loop {
                    let (namespace, name) = (&who.0, &who.1);
                    let events = match wake(&mut changes, log.as_mut(), &mut stop).await {
                        Wake::Stop => return None,
                        Wake::Changed => d.live.read(|v| match v.machine(namespace, name) {
                            Some(m) => vec![
                                swap("summary", &render::machine_summary(&m)),
                                swap("timeline", &render::timeline_rows(v, &m)),
                            ],
                            None => vec![swap(
                                "summary",
                                "<p class=\"gone\">This Hardware no longer exists.</p>",
                            )],
                        }),
                        Wake::Log(Ok(line)) if line.namespace == *namespace && line.name == *name => {
                            vec![SseEvent::default().event("log").data(line.line.replace('\r', "\\r"))]
                        }
                        Wake::Log(Ok(_)) => continue,
                        Wake::Log(Err(broadcast::error::RecvError::Lagged(n))) => {
                            vec![SseEvent::default().event("log").data(format!(
                                "[dashboard] {n} log lines of the plane were skipped: this page fell behind"
                            ))]
                        }
                        Wake::Log(Err(broadcast::error::RecvError::Closed)) => {
                            log = None;
                            continue;
                        }
                    };
                    return Some((
                        futures::stream::iter(events),
                        (d, changes, log, stop, permit),
                    ));
                }
            }
        },
    )
    .flatten();
    sse(stream)
}

/// Whether the request carries the dashboard's token; the refusal otherwise.
fn authorize(d: &Dashboard, headers: &HeaderMap) -> Result<(), Refused> {
    use subtle::ConstantTimeEq as _;
    let Some(token) = d.options.token.as_deref() else {
        return Err(Refused {
            status: StatusCode::FORBIDDEN,
            message: "changes are off: this dashboard was started without a token",
            bearer: false,
        });
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => Ok(()),
        _ => Err(Refused {
            status: StatusCode::UNAUTHORIZED,
            message: "a change needs the dashboard's token (Authorization: Bearer TOKEN)",
            bearer: true,
        }),
    }
}

fn store_error(what: &str, e: &StoreError) -> Response {
    if e.is_not_found() {
        text(StatusCode::NOT_FOUND, format!("{what}: not found"))
    } else if e.is_conflict() {
        text(
            StatusCode::CONFLICT,
            format!("{what} changed meanwhile; try again"),
        )
    } else {
        warn!("{what}: {e}");
        text(StatusCode::INTERNAL_SERVER_ERROR, format!("{what}: {e}"))
    }
}

fn hardware_key() -> TypeKey {
    TypeKey::new("tinkerbell.org/v1alpha1", "Hardware")
}

/// Power-cycles a machine: creates a BMC Job for its BMC Machine.
async fn power_cycle(
    State(d): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    if let Err(r) = authorize(&d, &headers) {
        return r.into_response();
    }
    let what = format!("Hardware {namespace}/{name}");
    let hw = match d.store.get(&hardware_key(), &namespace, &name).await {
        Ok(hw) => hw.to_value(),
        Err(e) => return store_error(&what, &e),
    };
    let bmc = views::text(&hw, "/spec/bmcRef/name");
    if bmc.is_empty() {
        return text(StatusCode::CONFLICT, format!("{what} has no BMC"));
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let job_name = format!("{name}-power-cycle-{stamp}");
    let job = serde_json::json!({
        "apiVersion": "bmc.tinkerbell.org/v1alpha1",
        "kind": "Job",
        "metadata": {"name": job_name, "namespace": namespace,
                     "labels": {"ironbell.dev/requested-by": "dashboard"}},
        "spec": {"machineRef": {"name": bmc, "namespace": namespace},
                 "tasks": [{"powerAction": "cycle"}]},
    });
    let job = match DynamicObject::from_json(&job.to_string()) {
        Ok(job) => job,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{what}: {e}")),
    };
    match d.store.create(job).await {
        Ok(_) => {
            info!(hardware = %name, namespace = %namespace, job = %job_name, "power cycle asked from the dashboard");
            text(
                StatusCode::CREATED,
                format!("BMC Job {namespace}/{job_name} created: power cycle of {name}"),
            )
        }
        Err(e) => store_error(&format!("BMC Job {namespace}/{job_name}"), &e),
    }
}

/// Sets `allowPXE` on every interface of a machine.
async fn allow_pxe(
    State(d): State<Shared>,
    headers: HeaderMap,
    Path((namespace, name, value)): Path<(String, String, String)>,
) -> Response {
    if let Err(r) = authorize(&d, &headers) {
        return r.into_response();
    }
    let allow = match value.as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        _ => return text(StatusCode::BAD_REQUEST, "allow-pxe/on or allow-pxe/off"),
    };
    let what = format!("Hardware {namespace}/{name}");
    let mut hw = match d.store.get(&hardware_key(), &namespace, &name).await {
        Ok(hw) => hw.to_value(),
        Err(e) => return store_error(&what, &e),
    };
    let Some(interfaces) = hw
        .pointer_mut("/spec/interfaces")
        .and_then(serde_json::Value::as_array_mut)
        .filter(|i| !i.is_empty())
    else {
        return text(StatusCode::CONFLICT, format!("{what} has no interfaces"));
    };
    for interface in interfaces.iter_mut() {
        let Some(interface) = interface.as_object_mut() else {
            continue;
        };
        let netboot = interface
            .entry("netboot")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(netboot) = netboot.as_object_mut() {
            netboot.insert("allowPXE".into(), serde_json::Value::Bool(allow));
        }
    }
    let hw = match DynamicObject::from_json(&hw.to_string()) {
        Ok(hw) => hw,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{what}: {e}")),
    };
    match d.store.update(hw).await {
        Ok(_) => {
            info!(hardware = %name, namespace = %namespace, allow, "allowPXE set from the dashboard");
            text(
                StatusCode::OK,
                format!("{what}: allowPXE {allow} on every interface"),
            )
        }
        Err(e) => store_error(&what, &e),
    }
}
