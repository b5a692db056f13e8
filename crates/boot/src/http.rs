//! The HTTP side of network boot (default port 7171).
//!
//! | route | answer |
//! |---|---|
//! | `GET /ipxe/script/{mac}/auto.ipxe` | the iPXE script of the machine with that MAC (`aa:bb:..` or `aa-bb-..`) |
//! | `GET /auto.ipxe` | the same, for the machine whose IPv4 address is the request's source |
//! | `GET /ipxe/binary/{mac}/{file}` | an iPXE binary from [`Config::ipxe_dir`] (read at start, the copies TFTP serves); only [`IPXE_BINARIES`] |
//! | `GET /healthz` | `ok` |
//! | `GET /metrics` | OpenMetrics text format (see [`crate::metrics`]) |
//! | `GET /{file}` (anything else) | a file of [`Config::artifacts_dir`] (the HookOS `vmlinuz-x86_64`, `initramfs-x86_64`...), with Range support; `..`, directories and symlinks leading out of the directory are refused (see [`crate::artifact`]) |
//!
//! The script of a machine is, in order of precedence: its interface's
//! `netboot.ipxe.contents` as written; `#!ipxe` + `chain <netboot.ipxe.url>`; or the HookOS
//! script ([`hook_script`]). Errors are short `text/plain` reasons: **404** for an unknown
//! MAC or source address (and for a MAC several Hardware claim), **403** when the
//! interface's `netboot.allowPXE` is not true (iPXE then fails the chain and falls back to
//! the next boot device), **400** for a malformed MAC.
//!
//! A HookOS script that carries the machine's agent token (`ironbell_token=`, see
//! [`crate::agent_tokens`]) is a credential: it is served only to a request whose source is
//! one of that Hardware's own addresses (`dhcp.ip.address`), else **403**.
//!
//! Request bodies are never read. Connections are served by the shared accept loop
//! ([`ironbell_httpd::serve`]): HTTP/1.1 with at most 16 KiB of request head and 64
//! headers, [`Config::header_read_timeout`] to send them, and [`Config::request_timeout`]
//! for the handler to produce a response head (file bodies may stream for longer). One
//! peer address holds at most [`Config::max_connections_per_peer`] connections at once;
//! further ones are closed as soon as they are accepted (counted in
//! `ironbell_boot_http_connections_refused_total`), so idle connections from one host
//! cannot use up the process's descriptors.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
pub use ironbell_httpd::{MAX_HEAD_BYTES, MAX_HEADERS};
use ironbell_tftp::FileSource;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tracing::{Instrument, Span, debug, field, info, warn};

use crate::agent_tokens::AgentTokens;
use crate::events::BootEvents;
use crate::metrics::{HttpCounters, MetricsSource};
use crate::{Index, MacLookup, Machine, parse_mac};

/// The HTTP port EKS Anywhere uses for the boot service.
pub const DEFAULT_PORT: u16 = 7171;
/// The agent gRPC port (defined once, in the agent API crate).
pub use ironbell_workflow_proto::DEFAULT_GRPC_PORT;
/// The syslog port HookOS and the agent send to when `syslog_host=` names none.
pub const DEFAULT_SYSLOG_PORT: u16 = 514;
/// The iPXE binaries served under `/ipxe/binary/`.
pub const IPXE_BINARIES: [&str; 4] = ["undionly.kpxe", "ipxe.efi", "snponly.efi", "snp.efi"];
/// Kernel parameters HookOS gets besides the per-machine ones (as Smee passes them).
const HOOK_PARAMS: &str = "modules=loop,squashfs,sd-mod,usb-storage intel_iommu=on iommu=pt";

/// Settings of the HTTP boot service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (for the caller that binds; [`serve`] takes a bound listener).
    pub bind: SocketAddr,
    /// The address machines reach this host at: in script URLs, `grpc_authority` and
    /// (unless [`Config::syslog_ip`] says otherwise) `syslog_host`.
    pub public_ip: Ipv4Addr,
    /// The HTTP port machines reach this service at.
    pub http_port: u16,
    /// Base URL of the HookOS kernel and initramfs, without a trailing slash; `None` means
    /// `http://<public_ip>:<http_port>` (this service).
    pub artifacts_url: Option<String>,
    /// Port of the agent gRPC service, for `grpc_authority=<public_ip>:<port>`.
    pub grpc_port: u16,
    /// Every replica's agent gRPC service (`host:port` each, without spaces or commas),
    /// for `grpc_authority=A:42113,B:42113`: the agent tries them in turn and stays with
    /// the one that leads. Empty: this host's alone (`public_ip:grpc_port`).
    pub grpc_authorities: Vec<String>,
    /// Syslog receiver for `syslog_host=`; `None` means `public_ip`.
    pub syslog_ip: Option<Ipv4Addr>,
    /// Its UDP port: `syslog_host=<ip>` for 514, `syslog_host=<ip>:<port>` otherwise (both
    /// HookOS's busybox `syslogd -R` and the agent read `host[:port]`).
    pub syslog_port: u16,
    /// `tinkerbell_tls=`: whether the agent talks TLS to the gRPC service.
    pub tinkerbell_tls: bool,
    /// Directory the HookOS artifacts are served from.
    pub artifacts_dir: PathBuf,
    /// Directory the iPXE binaries are served from.
    pub ipxe_dir: PathBuf,
    /// Extra kernel parameters appended for every machine.
    pub extra_kernel_args: Vec<String>,
    /// Kernel consoles, each becoming `console=<value>`.
    pub console: Vec<String>,
    /// Time a handler has to produce a response head.
    pub request_timeout: Duration,
    /// Time a client has to send its request head.
    pub header_read_timeout: Duration,
    /// Most connections one peer address may hold open at once (iPXE and UEFI HTTP boot
    /// use one or two).
    pub max_connections_per_peer: usize,
}

impl Config {
    /// Defaults for a host reachable at `public_ip`: listen on `0.0.0.0:7171`, gRPC on
    /// 42113, syslog at `public_ip`, no TLS, artifacts from `/var/lib/ironbell/hookos`,
    /// iPXE from `/usr/lib/ipxe`, consoles `tty0` and `ttyS0,115200`, 30 s request and 10 s
    /// header timeouts, 32 connections per peer.
    pub fn new(public_ip: Ipv4Addr) -> Self {
        Self {
            bind: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            public_ip,
            http_port: DEFAULT_PORT,
            artifacts_url: None,
            grpc_port: DEFAULT_GRPC_PORT,
            grpc_authorities: Vec::new(),
            syslog_ip: None,
            syslog_port: DEFAULT_SYSLOG_PORT,
            tinkerbell_tls: false,
            artifacts_dir: PathBuf::from("/var/lib/ironbell/hookos"),
            ipxe_dir: PathBuf::from("/usr/lib/ipxe"),
            extra_kernel_args: Vec::new(),
            console: vec!["tty0".into(), "ttyS0,115200".into()],
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections_per_peer: 32,
        }
    }

    /// The artifacts base URL, with the default filled in and no trailing slash.
    pub fn artifacts_url(&self) -> String {
        match &self.artifacts_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}:{}", self.public_ip, self.http_port),
        }
    }

    /// The value of `grpc_authority=`: [`Config::grpc_authorities`] comma-separated, or
    /// this host's agent API when there are none.
    pub fn grpc_authority(&self) -> String {
        if self.grpc_authorities.is_empty() {
            format!("{}:{}", self.public_ip, self.grpc_port)
        } else {
            self.grpc_authorities.join(",")
        }
    }
}

/// Everything the handlers share: settings, the Hardware index and the metrics.
#[derive(Clone)]
pub struct HttpState {
    config: Arc<Config>,
    index: Arc<Index>,
    counters: Arc<HttpCounters>,
    sources: Arc<[Arc<dyn MetricsSource>]>,
    artifacts: FileSource,
    ipxe: FileSource,
    tokens: Option<Arc<AgentTokens>>,
    events: Option<Arc<BootEvents>>,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("config", &self.config)
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// State over `index`; `/metrics` reports the HTTP counters and the index. The iPXE
    /// binaries are read from [`Config::ipxe_dir`] now (none served if none is there; see
    /// [`HttpState::with_ipxe`] to share the TFTP server's copies).
    pub fn new(config: Config, index: Arc<Index>) -> Self {
        let sources: Vec<Arc<dyn MetricsSource>> = vec![index.clone()];
        let dir = &config.artifacts_dir;
        // A directory missing now may appear later: every lookup then opens it again.
        // Machines sent elsewhere for HookOS (`artifacts_url`) need no directory here.
        let artifacts = FileSource::dir(dir).unwrap_or_else(|e| {
            if config.artifacts_url.is_none() {
                warn!(
                    dir = %dir.display(),
                    "the artifacts directory (--artifacts-dir) cannot be read: {e}; machines \
                     will get 404 for the HookOS kernel and initramfs until it exists"
                );
            }
            FileSource::Dir(dir.clone())
        });
        let ipxe = crate::service::ipxe_binaries(&config.ipxe_dir).unwrap_or_else(|e| {
            warn!(
                dir = %config.ipxe_dir.display(),
                "no iPXE binaries served over HTTP: {e}; UEFI HTTP boot will fail (set the \
                 iPXE directory, e.g. /usr/lib/ipxe from Debian's ipxe package)"
            );
            FileSource::memory([])
        });
        Self {
            config: Arc::new(config),
            index,
            counters: Arc::new(HttpCounters::default()),
            sources: sources.into(),
            artifacts,
            ipxe,
            tokens: None,
            events: None,
        }
    }

    /// Records Events about machines (script served or refused, artifacts fetched or
    /// missing) and warns about what keeps one from booting (see [`crate::events`]).
    pub fn with_events(mut self, events: Arc<BootEvents>) -> Self {
        self.events = Some(events);
        self
    }

    /// Serves these iPXE binaries under `/ipxe/binary/` (the TFTP server's copies).
    pub fn with_ipxe(mut self, ipxe: FileSource) -> Self {
        self.ipxe = ipxe;
        self
    }

    /// Puts each machine's agent token on its HookOS kernel command line
    /// (`ironbell_token=`), and serves such a script only to the machine's own address.
    pub fn with_agent_tokens(mut self, tokens: Arc<AgentTokens>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Adds a source to `/metrics` (the DHCP server's `Arc<ironbell_dhcp::Stats>`, the TFTP
    /// server's statistics once they implement [`MetricsSource`], ...).
    pub fn with_source(mut self, source: Arc<dyn MetricsSource>) -> Self {
        let mut all: Vec<Arc<dyn MetricsSource>> = self.sources.iter().cloned().collect();
        all.push(source);
        self.sources = all.into();
        self
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The HTTP request counters.
    pub fn counters(&self) -> &HttpCounters {
        &self.counters
    }
}

/// The router of every route above, with metrics, tracing and the request timeout.
pub fn router(state: HttpState) -> Router {
    let registry = Arc::new(crate::metrics::registry(&state.counters, &state.sources));
    Router::new()
        .route("/ipxe/script/{mac}/auto.ipxe", get(script_by_mac))
        .route("/auto.ipxe", get(script_by_ip))
        .route("/ipxe/binary/{mac}/{file}", get(binary))
        .route("/healthz", get(healthz))
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { ironbell_httpd::metrics::response(&registry) }
            }),
        )
        .fallback(artifact)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Serves `router(state)` on `listener` with the shared accept loop
/// ([`ironbell_httpd::serve`]) until an accept fails for good. Each connection gets the
/// peer address as [`ConnectInfo<SocketAddr>`]; dropping the future closes every
/// connection.
pub async fn serve(listener: TcpListener, state: HttpState) -> io::Result<()> {
    let limits = ironbell_httpd::Limits {
        header_read_timeout: state.config.header_read_timeout,
        max_connections_per_peer: state.config.max_connections_per_peer,
        ..ironbell_httpd::Limits::default()
    };
    let stats = state.counters.connections().clone();
    ironbell_httpd::serve(
        "boot",
        listener,
        router(state),
        limits,
        stats,
        std::future::pending(),
    )
    .await
}

fn route_kind(matched: Option<&str>) -> &'static str {
    match matched {
        Some("/ipxe/script/{mac}/auto.ipxe") => "script",
        Some("/auto.ipxe") => "auto_script",
        Some("/ipxe/binary/{mac}/{file}") => "binary",
        Some("/healthz") => "healthz",
        Some("/metrics") => "metrics",
        Some(_) => "other",
        None => "artifact",
    }
}

/// Counts every answer by route kind and status, inside a span that handlers fill with
/// the MAC and the Hardware name.
async fn observe(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let kind = route_kind(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let span = tracing::info_span!(
        "http",
        route = kind,
        method = %req.method(),
        path = %req.uri().path(),
        mac = field::Empty,
        hardware = field::Empty,
    );
    let resp = next.run(req).instrument(span.clone()).await;
    state.counters.count(kind, resp.status().as_u16());
    span.in_scope(|| debug!(status = resp.status().as_u16(), "answered"));
    resp
}

/// A short `text/plain` answer, with a final newline.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn script_by_mac(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(mac): Path<String>,
) -> Response {
    Span::current().record("mac", mac.as_str());
    let Some(parsed) = parse_mac(&mac) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{mac:?} is not a MAC address"),
        );
    };
    match state.index.by_mac(parsed) {
        MacLookup::Found(machine) => script(&state, &machine, peer.ip()),
        MacLookup::Conflict(names) => text(
            StatusCode::NOT_FOUND,
            format!(
                "MAC {} is claimed by several Hardware ({}); not served",
                ironbell_dhcp::format_mac(parsed),
                names.join(", ")
            ),
        ),
        MacLookup::Unknown => text(
            StatusCode::NOT_FOUND,
            format!("no Hardware has MAC {}", ironbell_dhcp::format_mac(parsed)),
        ),
    }
}

async fn script_by_ip(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let ip = match peer.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(ip) => ip.to_ipv4_mapped(),
    };
    let Some(ip) = ip else {
        return text(
            StatusCode::NOT_FOUND,
            format!("no Hardware has address {}", peer.ip()),
        );
    };
    match state.index.by_ip(ip) {
        Some(machine) => {
            Span::current().record("mac", machine.mac_string().as_str());
            script(&state, &machine, IpAddr::V4(ip))
        }
        None => text(
            StatusCode::NOT_FOUND,
            format!("no Hardware (or more than one) has address {ip}"),
        ),
    }
}

/// The script answer for a known machine, asked for from `client`.
fn script(state: &HttpState, machine: &Machine, client: IpAddr) -> Response {
    let name = machine.name();
    Span::current().record("hardware", name.as_str());
    let iface = machine.interface();
    if !iface.allow_pxe {
        info!("iPXE script refused: netboot.allowPXE is not true");
        if let Some(events) = &state.events {
            events.script_refused(machine);
        }
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "Hardware {name} MAC {} may not network-boot (netboot.allowPXE is not true)",
                machine.mac_string()
            ),
        );
    }
    let body = if let Some(contents) = iface.ipxe_contents.as_deref() {
        contents.to_string()
    } else if let Some(url) = iface.ipxe_url.as_deref() {
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            warn!("netboot.ipxe.url {url:?} contains whitespace");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Hardware {name}: netboot.ipxe.url contains whitespace; not served"),
            );
        }
        format!("#!ipxe\nchain {url}\n")
    } else {
        let token = state
            .tokens
            .as_ref()
            .and_then(|t| t.token_for(&machine.mac_string()));
        if token.is_some() && !is_own_address(machine, client) {
            warn!(%client, "iPXE script with an agent token refused: not the machine's address");
            return text(
                StatusCode::FORBIDDEN,
                format!(
                    "Hardware {name}: its script carries a credential and is served only to \
                     the machine's own address; this request came from {client}"
                ),
            );
        }
        hook_script_with_token(&state.config, machine, token.as_deref())
    };
    info!("iPXE script served");
    if let Some(events) = &state.events {
        events.script_served(machine);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Whether `client` is one of the addresses the machine's Hardware declares.
fn is_own_address(machine: &Machine, client: IpAddr) -> bool {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    machine
        .hardware
        .interfaces
        .iter()
        .any(|i| i.ip == Some(client))
}

/// Whether `s` can stand as one kernel parameter value (no spaces, quotes or controls).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '$' | '\\'))
}

/// The HookOS iPXE script of a machine: loads `vmlinuz-<arch>` and `initramfs-<arch>` from
/// [`Config::artifacts_url`] with the agent's parameters (`facility`, `vlan_id` when set,
/// `syslog_host`, `grpc_authority`, `tinkerbell_tls`, `worker_id` and `hw_addr` = the MAC;
/// see [`hook_script_with_token`] for `ironbell_token`),
/// the extra arguments, `initrd=initramfs-<arch>` (EFI iPXE needs it) and the consoles.
/// The architecture is `aarch64` when the interface's `dhcp.arch` says `aarch64`/`arm64`,
/// else `x86_64`.
pub fn hook_script(config: &Config, machine: &Machine) -> String {
    hook_script_with_token(config, machine, None)
}

/// [`hook_script`] with the machine's agent token as `ironbell_token=` (when it is a
/// base64url token; anything else is left off with a warning).
pub fn hook_script_with_token(config: &Config, machine: &Machine, token: Option<&str>) -> String {
    let iface = machine.interface();
    let arch = match iface.arch.as_deref() {
        Some("aarch64" | "arm64") => "aarch64",
        _ => "x86_64",
    };
    let mac = machine.mac_string();
    let base = config.artifacts_url();
    let mut params: Vec<String> = Vec::new();
    if let Some(vlan) = iface
        .vlan_id
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if vlan.chars().all(|c| c.is_ascii_digit() || c == ',') {
            params.push(format!("vlan_id={vlan}"));
        } else {
            warn!("dhcp.vlan_id {vlan:?} is not a list of numbers; left off the kernel line");
        }
    }
    if let Some(facility) = machine.hardware.facility.as_deref().filter(|f| is_token(f)) {
        params.push(format!("facility={facility}"));
    }
    let syslog_ip = config.syslog_ip.unwrap_or(config.public_ip);
    params.push(match config.syslog_port {
        DEFAULT_SYSLOG_PORT => format!("syslog_host={syslog_ip}"),
        port => format!("syslog_host={syslog_ip}:{port}"),
    });
    params.push(format!("grpc_authority={}", config.grpc_authority()));
    params.push(format!("tinkerbell_tls={}", config.tinkerbell_tls));
    params.push(format!("worker_id={mac}"));
    params.push(format!("hw_addr={mac}"));
    if let Some(token) = token {
        if !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            params.push(format!("ironbell_token={token}"));
        } else {
            warn!("the agent token is not base64url; left off the kernel line");
        }
    }
    params.push(HOOK_PARAMS.to_string());
    params.extend(config.extra_kernel_args.iter().cloned());
    params.push(format!("initrd=initramfs-{arch}"));
    params.extend(config.console.iter().map(|c| format!("console={c}")));
    format!(
        "#!ipxe\n\
         \n\
         echo Loading HookOS for {name} ({mac}) from ironbell...\n\
         set arch {arch}\n\
         kernel {base}/vmlinuz-{arch} {params}\n\
         initrd {base}/initramfs-{arch}\n\
         boot\n",
        name = machine.name(),
        params = params.join(" "),
    )
}

async fn binary(
    State(state): State<HttpState>,
    Path((mac, file)): Path<(String, String)>,
    req: Request,
) -> Response {
    Span::current().record("mac", mac.as_str());
    if parse_mac(&mac).is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{mac:?} is not a MAC address"),
        );
    }
    if !IPXE_BINARIES.contains(&file.as_str()) {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "no iPXE binary {file:?}; known: {}",
                IPXE_BINARIES.join(", ")
            ),
        );
    }
    let resp = crate::artifact::serve(
        &state.ipxe,
        &file,
        req.method(),
        req.headers().get(header::RANGE),
    )
    .await;
    if resp.status().is_success() {
        info!(file = %file, "iPXE binary served");
    }
    resp
}

/// Any other path: a file of the artifacts directory (see [`crate::artifact`]).
async fn artifact(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let name = req.uri().path().to_owned();
    let resp = crate::artifact::serve(
        &state.artifacts,
        &name,
        req.method(),
        req.headers().get(header::RANGE),
    )
    .await;
    if let Some(events) = &state.events
        && req.method() == axum::http::Method::GET
    {
        let dir = &state.config.artifacts_dir;
        events.artifact(peer.ip(), &name, resp.status().as_u16(), dir);
    }
    resp
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok")
}
