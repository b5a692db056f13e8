//! The HTTP service (default port 7172).
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the API versions: `2009-04-04` and `latest` |
//! | `GET /2009-04-04/...`, `GET /latest/...` | the EC2 tree of the client's machine (see [`crate::ec2`]) |
//! | `PUT /latest/api/token` | an IMDSv2 token; needs `X-aws-ec2-metadata-token-ttl-seconds` (1–21600) |
//! | `GET /metadata` | the Tinkerbell JSON document of the client's machine (see [`crate::document`]) |
//! | `POST /phone-home`, `POST /phone-home/<instance-id>` | cloud-init's phone-home: the client's machine is recorded as a Ready `v1 Node` (see [`crate::phone_home`]) |
//! | `GET /healthz` | `200` with a small JSON status once the index holds the store's first list, `500` before |
//! | `GET /metrics` | OpenMetrics text format (see [`crate::metrics`]) |
//!
//! **Identification.** The client address is the TCP peer, or what a trusted proxy says
//! in `X-Forwarded-For` ([`crate::client`]); the machine is the one declaring that address
//! ([`Index`]). No machine: 404 with a short reason; several: 500, and an error log
//! naming them. Nothing ever answers with another machine's data. A trusted proxy range
//! that covers a machine's address is warned about ([`crate::proxies`]).
//!
//! **Tokens.** A metadata request carrying `X-aws-ec2-metadata-token` is answered only
//! when the token is valid for its client (else 401); with [`Config::require_tokens`], a
//! request without a token gets 401 too (IMDSv2 only). `/metadata` is not an EC2 path
//! and needs no token.
//!
//! **Limits.** Connections are served by the shared accept loop
//! ([`ironbell_httpd::serve`]): HTTP/1.1 with at most 16 KiB of request head and 64
//! headers, sent within [`Config::header_read_timeout`]; at most
//! [`Config::max_connections_per_peer`] connections from one address at once (further ones
//! are closed on accept and counted in `ironbell_metadata_http_connections_refused_total`);
//! at most [`MAX_BODY_BYTES`] of body on the token `PUT` and
//! [`crate::phone_home::MAX_BODY_BYTES`] on a phone-home (413 above), and a phone-home
//! rate per source address (429 above); [`Config::request_timeout`] for a handler to
//! answer (408). Other request bodies are never read.
//!
//! **Writes.** Only the phone-home writes, and only a `v1 Node`, through the store given
//! with [`MetadataState::with_store`] ([`serve`] gives its own); without one it answers
//! 503. With a store, Events go on the machine's Hardware (`ironbell-store`'s recorder,
//! which never blocks a request): `MetadataRead` (at most once a minute per client and
//! kind of read) and `PhoneHome`.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
pub use ironbell_httpd::{MAX_HEAD_BYTES, MAX_HEADERS};
use ironbell_limits::RateLimiter;
use ironbell_model::corev1::Node;
use ironbell_store::SharedStore;
use ironbell_store::events::Recorder;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower_http::timeout::TimeoutLayer;
use tracing::{Instrument, Span, debug, error, field, info};

use crate::client::{Cidr, client_ip};
use crate::ec2;
use crate::index::{Index, Lookup};
use crate::machine::{HardwareRecord, Machine};
use crate::metrics::{IdentificationFailure, Metrics, TokenRejection};
use crate::phone_home::{self, Report};
use crate::token::{Clock, TOKEN_HEADER, TTL_HEADER, TokenKey, parse_ttl};

/// The port EKS Anywhere runs the metadata service on.
pub const DEFAULT_PORT: u16 = 7172;
/// Largest body accepted on `PUT /latest/api/token` (EC2's has none).
pub const MAX_BODY_BYTES: usize = 1024;
/// The EC2 API versions served.
pub const VERSIONS: [&str; 2] = ["2009-04-04", "latest"];

/// Settings of the metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (for the caller that binds; [`serve`] takes a bound listener).
    pub listen: SocketAddr,
    /// Proxies whose `X-Forwarded-For` names the client; empty means the header is
    /// ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// Whether EC2 paths need an IMDSv2 token (401 without one).
    pub require_tokens: bool,
    /// Time a handler has to answer.
    pub request_timeout: Duration,
    /// Time a client has to send its request head.
    pub header_read_timeout: Duration,
    /// Most connections one client address may hold open at once (cloud-init and the
    /// agent use one or two; a NAT or proxy in front needs more).
    pub max_connections_per_peer: usize,
    /// The clock IMDSv2 tokens are issued and checked by (tests move it forward).
    pub clock: Clock,
}

impl Default for Config {
    /// `0.0.0.0:7172`, no trusted proxies, tokens optional, 10 s request and header
    /// timeouts, 64 connections per client address.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            trusted_proxies: Vec::new(),
            require_tokens: false,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 64,
            clock: Clock::system(),
        }
    }
}

struct Inner {
    config: Config,
    index: Arc<Index>,
    key: TokenKey,
    metrics: Arc<Metrics>,
    started: Instant,
    /// Where phone-homes write Nodes; `None`: they answer 503.
    store: Option<SharedStore>,
    /// Phone-homes per source address.
    phone_home_rate: RateLimiter<IpAddr>,
    /// Events about machines (metadata read, phone-home); disabled without a store.
    events: Recorder,
    /// At most one `MetadataRead` Event per client and kind of read per [`READ_EVENTS`].
    read_events: RateLimiter<(IpAddr, bool)>,
}

/// At most one `MetadataRead` Event per client (and kind: EC2 tree or `/metadata`) in
/// this interval: cloud-init reads dozens of paths at each boot.
const READ_EVENTS: Duration = Duration::from_secs(60);

fn read_event_limiter() -> RateLimiter<(IpAddr, bool)> {
    RateLimiter::new(
        1.0 / READ_EVENTS.as_secs_f64(),
        1,
        phone_home::RATE_MAX_KEYS,
    )
}

fn phone_home_limiter() -> RateLimiter<IpAddr> {
    RateLimiter::new(
        1.0 / phone_home::RATE_INTERVAL.as_secs_f64(),
        phone_home::RATE_BURST,
        phone_home::RATE_MAX_KEYS,
    )
}

/// Everything the handlers share: settings, the machine index, the token key, the
/// counters.
#[derive(Clone)]
pub struct MetadataState(Arc<Inner>);

impl std::fmt::Debug for MetadataState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataState")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl MetadataState {
    /// State over `index` with a fresh random token key.
    pub fn new(config: Config, index: Arc<Index>) -> Self {
        Self::with_key(config, index, TokenKey::random())
    }

    /// State over `index` signing tokens with `key`.
    pub fn with_key(config: Config, index: Arc<Index>, key: TokenKey) -> Self {
        Self(Arc::new(Inner {
            config,
            index,
            key,
            metrics: Arc::default(),
            started: Instant::now(),
            store: None,
            phone_home_rate: phone_home_limiter(),
            events: Recorder::disabled(),
            read_events: read_event_limiter(),
        }))
    }

    /// The same state writing phone-homes' Nodes to `store` (with fresh rate limits).
    pub fn with_store(self, store: SharedStore) -> Self {
        let inner = &self.0;
        Self(Arc::new(Inner {
            config: inner.config.clone(),
            index: inner.index.clone(),
            key: inner.key.clone(),
            metrics: inner.metrics.clone(),
            started: inner.started,
            events: Recorder::start(store.clone(), "ironbell-metadata"),
            store: Some(store),
            phone_home_rate: phone_home_limiter(),
            read_events: read_event_limiter(),
        }))
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The machine index.
    pub fn index(&self) -> &Arc<Index> {
        &self.0.index
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }
}

impl MetadataState {
    /// Records that `machine` (a Hardware) read its metadata from `client` (`what`: the
    /// EC2 tree or Tinkerbell's `/metadata`), at most once per client and kind per
    /// [`READ_EVENTS`].
    fn read_event(&self, machine: &Machine, client: IpAddr, tinkerbell: bool) {
        let Machine::Hardware(hw) = machine else {
            return;
        };
        if !self.0.read_events.check(&(client, tinkerbell)) {
            return;
        }
        let what = if tinkerbell {
            "the /metadata document"
        } else {
            "EC2 metadata"
        };
        self.0.events.normal(
            hw.object_reference(),
            "MetadataRead",
            format!("{what} read from {client}"),
        );
    }
}

/// The endpoint label of an answer, set by handlers for the metrics layer.
#[derive(Clone, Copy)]
struct Endpoint(&'static str);

/// The router of every route above, with metrics, tracing and the request timeout.
/// Requests must carry the peer address as [`ConnectInfo<SocketAddr>`] (as [`serve`] adds
/// it); without it EC2 paths answer 400.
pub fn router(state: MetadataState) -> Router {
    let registry = Arc::new(state.0.metrics.registry(state.0.index.clone()));
    let metrics = move || {
        let registry = registry.clone();
        async move { with_endpoint(ironbell_httpd::metrics::response(&registry), "metrics") }
    };
    let mut router = Router::new()
        .route("/", get(versions))
        .route("/latest/api/token", put(token))
        .route("/metadata", get(metadata_document))
        .route("/phone-home", post(phone_home))
        .route("/phone-home/{id}", post(phone_home))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    for version in VERSIONS {
        for path in [
            format!("/{version}"),
            format!("/{version}/"),
            format!("/{version}/{{*rest}}"),
        ] {
            router = router.route(&path, get(ec2_tree));
        }
    }
    router
        .fallback(unknown)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.0.config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Follows `store`, waits for its first list of Hardware, then serves on `listener` until
/// `shutdown` completes (open connections are then closed) or an accept fails for good.
pub async fn serve(
    store: SharedStore,
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let index = Index::start(store.clone());
    let state = MetadataState::new(config, index.clone()).with_store(store);
    tokio::pin!(shutdown);
    tokio::select! {
        _ = index.synced() => {}
        _ = &mut shutdown => return Ok(()),
    }
    info!(
        machines = index.snapshot().machine_count(),
        "metadata index synced"
    );
    serve_state(state, listener, shutdown).await
}

/// Serves `router(state)` on `listener` with the shared accept loop
/// ([`ironbell_httpd::serve`]) until `shutdown` completes (open connections then finish
/// their request, within a grace period) or an accept fails for good. Each connection
/// gets the peer address as [`ConnectInfo<SocketAddr>`].
pub async fn serve_state(
    state: MetadataState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    // Aborted when this function returns (the set is dropped).
    let mut watchers = JoinSet::new();
    watchers.spawn(crate::proxies::warn_overlaps(
        state.0.index.clone(),
        state.0.config.trusted_proxies.clone(),
        crate::proxies::WARNING_INTERVAL,
    ));
    let config = &state.0.config;
    let limits = ironbell_httpd::Limits {
        header_read_timeout: config.header_read_timeout,
        max_connections_per_peer: config.max_connections_per_peer,
        ..ironbell_httpd::Limits::default()
    };
    let stats = state.0.metrics.connections().clone();
    ironbell_httpd::serve("metadata", listener, router(state), limits, stats, shutdown).await
}

/// Counts every answer by endpoint and status, inside a span that handlers fill with the
/// client address and the machine's name.
async fn observe(State(state): State<MetadataState>, req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "metadata",
        method = %req.method(),
        path = %req.uri().path(),
        client = field::Empty,
        hardware = field::Empty,
    );
    let resp = next.run(req).instrument(span.clone()).await;
    let endpoint = resp
        .extensions()
        .get::<Endpoint>()
        .map_or("unknown", |e| e.0);
    let status = resp.status().as_u16();
    state.0.metrics.count_request(endpoint, status);
    span.in_scope(|| debug!(status, endpoint, "answered"));
    resp
}

fn with_endpoint(mut resp: Response, endpoint: &'static str) -> Response {
    resp.extensions_mut().insert(Endpoint(endpoint));
    resp
}

/// A `text/plain` answer; error reasons get a final newline, data is sent as is.
fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    if !status.is_success() && !body.ends_with('\n') {
        body.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A request answered without data: the status and a short reason.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        text(self.status, self.reason)
    }
}

fn peer_of(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The client of `req`, recorded in the span; `Err` is the answer when the peer address
/// is missing.
fn client_of(state: &MetadataState, req: &Request) -> Result<IpAddr, Refusal> {
    let Some(peer) = peer_of(req) else {
        state
            .0
            .metrics
            .count_identification_failure(IdentificationFailure::NoPeer);
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid remote address",
        ));
    };
    let client = client_ip(peer.ip(), req.headers(), &state.0.config.trusted_proxies);
    Span::current().record("client", field::display(client));
    Ok(client)
}

/// The one machine at `client`, recorded in the span; `Err` is the 404 or 500 answer.
fn machine_at(state: &MetadataState, client: IpAddr) -> Result<Machine, Refusal> {
    match state.0.index.lookup(client) {
        Lookup::Found(machine) => {
            Span::current().record("hardware", field::display(machine.name()));
            Ok(machine)
        }
        Lookup::Unknown => {
            state
                .0
                .metrics
                .count_identification_failure(IdentificationFailure::UnknownAddress);
            debug!("no machine has the client's address");
            Err(Refusal::new(
                StatusCode::NOT_FOUND,
                format!("no hardware found for source ip {client}"),
            ))
        }
        Lookup::Ambiguous(names) => {
            state
                .0
                .metrics
                .count_identification_failure(IdentificationFailure::AmbiguousAddress);
            error!(
                "address {client} is declared by {}: metadata not served",
                names.join(" and ")
            );
            Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("several hardware declare source ip {client}; not served"),
            ))
        }
    }
}

/// Checks the IMDSv2 token of a request from `client`; `Err` is the 401 answer.
fn check_token(state: &MetadataState, headers: &HeaderMap, client: IpAddr) -> Result<(), Refusal> {
    let rejection = match headers.get(TOKEN_HEADER) {
        None if state.0.config.require_tokens => TokenRejection::Missing,
        None => return Ok(()),
        Some(value) => {
            let token = value.to_str().unwrap_or_default();
            match state
                .0
                .key
                .verify(token, client, state.0.config.clock.now())
            {
                Ok(()) => return Ok(()),
                Err(e) => TokenRejection::Failed(e),
            }
        }
    };
    state.0.metrics.count_token_rejection(rejection);
    let reason = match rejection {
        TokenRejection::Missing => "an IMDSv2 token is required (PUT /latest/api/token)".into(),
        TokenRejection::Failed(e) => e.to_string(),
    };
    debug!("refused: {reason}");
    Err(Refusal::new(StatusCode::UNAUTHORIZED, reason))
}

async fn versions() -> Response {
    with_endpoint(text(StatusCode::OK, VERSIONS.join("\n")), "versions")
}

async fn unknown() -> Response {
    with_endpoint(text(StatusCode::NOT_FOUND, "not found"), "unknown")
}

async fn ec2_tree(State(state): State<MetadataState>, req: Request) -> Response {
    let path = req.uri().path();
    let rest = VERSIONS
        .iter()
        .find_map(|v| path.strip_prefix('/')?.strip_prefix(v))
        .unwrap_or(path);
    let Some(node) = ec2::resolve(rest) else {
        return with_endpoint(text(StatusCode::NOT_FOUND, "not found"), "unknown");
    };
    let endpoint = node.endpoint();
    let answer = (|| {
        let client = client_of(&state, &req)?;
        check_token(&state, req.headers(), client)?;
        let machine = machine_at(&state, client)?;
        Ok::<_, Refusal>(match ec2::render(node, &machine) {
            Some(body) => {
                state.read_event(&machine, client, false);
                text(StatusCode::OK, body.into_owned())
            }
            None => text(
                StatusCode::NOT_FOUND,
                format!("{} has no value at {endpoint}", machine.name()),
            ),
        })
    })();
    with_endpoint(answer.unwrap_or_else(IntoResponse::into_response), endpoint)
}

async fn token(State(state): State<MetadataState>, req: Request) -> Response {
    let answer = async {
        let client = client_of(&state, &req)?;
        let ttl = match req.headers().get(TTL_HEADER) {
            None => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("missing header {TTL_HEADER}"),
                ));
            }
            Some(v) => v.to_str().ok().and_then(parse_ttl).ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("{TTL_HEADER} must be a whole number of seconds from 1 to 21600"),
                )
            })?,
        };
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let too_large = announced.is_some_and(|n| n > MAX_BODY_BYTES as u64)
            || axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
                .await
                .is_err();
        if too_large {
            return Err(Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY_BYTES} bytes"),
            ));
        }
        let token = state.0.key.issue(client, ttl, state.0.config.clock.now());
        state.0.metrics.count_token_issued();
        debug!(ttl = ttl.as_secs(), "token issued");
        let mut resp = text(StatusCode::OK, token);
        resp.headers_mut()
            .insert(TTL_HEADER, HeaderValue::from(ttl.as_secs()));
        Ok(resp)
    }
    .await;
    with_endpoint(answer.unwrap_or_else(IntoResponse::into_response), "token")
}

async fn metadata_document(State(state): State<MetadataState>, req: Request) -> Response {
    let answer = (|| {
        let client = client_of(&state, &req)?;
        let machine = machine_at(&state, client)?;
        let Machine::Hardware(hw) = &machine else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                format!(
                    "{} is a flat-file instance: no /metadata document",
                    machine.name()
                ),
            ));
        };
        let doc = hw.document().map_err(|e| {
            error!("{e}");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        })?;
        let body = serde_json::to_vec(doc).map_err(|e| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("writing the document: {e}"),
            )
        })?;
        state.read_event(&machine, client, true);
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            Body::from(body),
        )
            .into_response())
    })();
    with_endpoint(
        answer.unwrap_or_else(IntoResponse::into_response),
        "metadata",
    )
}

/// Reads a body of at most `limit` bytes; `Err` is the 413 answer.
async fn bounded_body(req: Request, limit: usize) -> Result<axum::body::Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {limit} bytes"),
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large())
}

async fn phone_home(State(state): State<MetadataState>, req: Request) -> Response {
    let answer = async {
        let client = client_of(&state, &req)?;
        if !state.0.phone_home_rate.check(&client) {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many phone-homes from {client}: at most {} at once, then one every {} s",
                    phone_home::RATE_BURST,
                    phone_home::RATE_INTERVAL.as_secs()
                ),
            ));
        }
        let Some(store) = state.0.store.clone() else {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this metadata service has no store to record phone-homes in",
            ));
        };
        let machine = machine_at(&state, client)?;
        let Machine::Hardware(hw) = &machine else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                format!(
                    "{} is a flat-file instance: no Node to record",
                    machine.name()
                ),
            ));
        };
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if form.is_some_and(|t| !t.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a phone-home is an application/x-www-form-urlencoded form",
            ));
        }
        let path_id = req
            .uri()
            .path()
            .strip_prefix("/phone-home/")
            .map(str::to_string);
        let body = bounded_body(req, phone_home::MAX_BODY_BYTES).await?;
        let report = Report::parse(&body)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        let own = hw.instance_id();
        let claimed = [Some(report.instance_id.as_str()), path_id.as_deref()];
        if own.is_none() || claimed.iter().flatten().any(|c| Some(*c) != own) {
            debug!(instance_id = %report.instance_id, "phone-home for another instance refused");
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!(
                    "instance {} is not {}'s",
                    report.instance_id,
                    machine.name()
                ),
            ));
        }
        let node = record_node(&store, hw, client, &report).await?;
        info!(node = node.metadata.name(), "phone-home: node ready");
        state.0.events.normal(
            hw.object_reference(),
            "PhoneHome",
            format!(
                "the installed OS phoned home from {client}: node {} is ready",
                node.metadata.name()
            ),
        );
        Ok(text(
            StatusCode::OK,
            format!("node {} is ready\n", node.metadata.name()),
        ))
    }
    .await;
    with_endpoint(
        answer.unwrap_or_else(IntoResponse::into_response),
        "phone-home",
    )
}

/// Creates or updates the Node of `hw` after a phone-home (see
/// [`phone_home::record_ready_node`]); a Node of that name that is another Hardware's is
/// left alone (409).
async fn record_node(
    store: &SharedStore,
    hw: &HardwareRecord,
    client: IpAddr,
    report: &Report,
) -> Result<Node, Refusal> {
    let name = hw.name();
    let want = phone_home::provider_id_of(hw.namespace(), name);
    phone_home::record_ready_node(store, name, &want, client, report)
        .await
        .map_err(|e| {
            let status = match &e {
                phone_home::RecordError::Conflict { .. } => StatusCode::CONFLICT,
                phone_home::RecordError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                phone_home::RecordError::Store { .. } => {
                    error!("{e}");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            Refusal::new(status, e.to_string())
        })
}

async fn healthz(State(state): State<MetadataState>) -> Response {
    let synced = state.0.index.is_synced();
    let body = serde_json::json!({
        "git_rev": env!("CARGO_PKG_VERSION"),
        "uptime": state.0.started.elapsed().as_secs_f64(),
        "hardware_client_status": synced,
    });
    let status = if synced {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    with_endpoint(
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response(),
        "healthz",
    )
}
