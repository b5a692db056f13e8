//! The Redfish front end: HTTPS (rustls, a self-signed certificate made at start), one
//! `ComputerSystem` per BMC whose `Id` is the machine's name.
//!
//! Resources: the service root (readable without credentials, as the standard says),
//! `Systems` and the system (`PowerState`, `Boot` override with its allowable values, the
//! `#ComputerSystem.Reset` action), `Managers/bmc`, and `SessionService/Sessions` (POST
//! creates a session: `X-Auth-Token` and `Location`; DELETE ends it). Everything else
//! needs HTTP basic auth or a session token. Errors carry a Redfish error body with a
//! `Base` registry message id. No virtual media, no event service, no task service.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::machine::{BootSetting, BootTarget, Machine};
use crate::{Credentials, VbmcError};

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 10;
/// Reset types offered.
const RESET_TYPES: &[&str] = &[
    "On",
    "ForceOff",
    "GracefulShutdown",
    "ForceRestart",
    "GracefulRestart",
    "PowerCycle",
    "PushPowerButton",
];

#[derive(Clone)]
struct Bmc {
    machine: Arc<Machine>,
    credentials: Arc<Credentials>,
    sessions: Arc<Mutex<(u64, HashSet<String>)>>,
}

/// A JSON reply (Redfish bodies are JSON; axum's `Json` is left out of the build).
fn json_reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    json_reply(StatusCode::OK, &body)
}

fn error(status: StatusCode, id: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": format!("Base.1.8.{id}"),
            "message": message,
            "@Message.ExtendedInfo": [{
                "MessageId": format!("Base.1.8.{id}"),
                "Message": message,
                "Severity": "Warning",
            }],
        }
    });
    json_reply(status, &body)
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Bmc {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        if let Some(t) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
            return self
                .sessions
                .lock()
                .map(|s| s.1.contains(t))
                .unwrap_or(false);
        }
        let Some(basic) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        use base64::Engine;
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        text.split_once(':')
            .is_some_and(|(u, p)| self.credentials.matches(u, p))
    }

    fn system_path(&self) -> String {
        format!("/redfish/v1/Systems/{}", self.machine.name())
    }
}

async fn root() -> Response {
    ok(json!({
        "@odata.id": "/redfish/v1/",
        "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
        "Id": "RootService",
        "Name": "ironbell virtual BMC",
        "RedfishVersion": "1.6.0",
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "Managers": {"@odata.id": "/redfish/v1/Managers"},
        "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}},
    }))
}

async fn systems(State(bmc): State<Bmc>) -> Response {
    ok(json!({
        "@odata.id": "/redfish/v1/Systems",
        "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
        "Name": "Computer System Collection",
        "Members": [{"@odata.id": bmc.system_path()}],
        "Members@odata.count": 1,
    }))
}

fn target_name(t: BootTarget) -> &'static str {
    match t {
        BootTarget::Pxe => "Pxe",
        BootTarget::Disk => "Hdd",
    }
}

async fn system(State(bmc): State<Bmc>, Path(id): Path<String>) -> Response {
    if id != bmc.machine.name() {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceMissingAtURI",
            "no such system",
        );
    }
    let on = match bmc.machine.is_on().await {
        Ok(on) => on,
        Err(e) => return machine_error(&bmc, e),
    };
    let boot = bmc.machine.boot_setting().await;
    let mode = match boot.uefi {
        Some(false) => "Legacy",
        _ => "UEFI",
    };
    let path = bmc.system_path();
    ok(json!({
        "@odata.id": path,
        "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
        "Id": bmc.machine.name(),
        "Name": bmc.machine.name(),
        "SystemType": "Virtual",
        "PowerState": if on { "On" } else { "Off" },
        "Boot": {
            "BootSourceOverrideEnabled": if boot.persistent { "Continuous" } else { "Once" },
            "BootSourceOverrideTarget": target_name(boot.target),
            "BootSourceOverrideTarget@Redfish.AllowableValues": ["Pxe", "Hdd"],
            "BootSourceOverrideMode": mode,
        },
        "Actions": {
            "#ComputerSystem.Reset": {
                "target": format!("{path}/Actions/ComputerSystem.Reset"),
                "ResetType@Redfish.AllowableValues": RESET_TYPES,
            }
        },
        "Links": {"ManagedBy": [{"@odata.id": "/redfish/v1/Managers/bmc"}]},
    }))
}

fn machine_error(bmc: &Bmc, e: crate::qmp::QmpError) -> Response {
    tracing::warn!(bmc = %bmc.machine.name(), "redfish: the machine did not answer: {e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        &format!("the machine did not answer: {e}"),
    )
}

async fn patch_system(State(bmc): State<Bmc>, Path(id): Path<String>, body: Bytes) -> Response {
    if id != bmc.machine.name() {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceMissingAtURI",
            "no such system",
        );
    }
    let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "MalformedJSON",
            "the body is not JSON",
        );
    };
    let Some(boot) = doc.get("Boot") else {
        return error(
            StatusCode::BAD_REQUEST,
            "PropertyNotWritable",
            "only Boot can be changed",
        );
    };
    let str_of = |k: &str| boot.get(k).and_then(Value::as_str);
    let now = bmc.machine.boot_setting().await;
    let target = match str_of("BootSourceOverrideTarget") {
        None => now.target,
        Some("Pxe") => BootTarget::Pxe,
        Some("Hdd") => BootTarget::Disk,
        Some("None") => BootTarget::Disk,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "PropertyValueNotInList",
                &format!("BootSourceOverrideTarget {other} is not supported (Pxe, Hdd)"),
            );
        }
    };
    let persistent = match str_of("BootSourceOverrideEnabled") {
        None => now.persistent,
        Some("Once") => false,
        Some("Continuous") | Some("Disabled") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "PropertyValueNotInList",
                &format!(
                    "BootSourceOverrideEnabled {other} is not one of Once, Continuous, Disabled"
                ),
            );
        }
    };
    let uefi = match str_of("BootSourceOverrideMode") {
        None => now.uefi,
        Some("UEFI") => Some(true),
        Some("Legacy") => Some(false),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "PropertyValueNotInList",
                &format!("BootSourceOverrideMode {other} is not one of UEFI, Legacy"),
            );
        }
    };
    let setting = BootSetting {
        target,
        persistent,
        uefi,
    };
    tracing::info!(
        bmc = %bmc.machine.name(),
        "redfish: boot override {target:?} {}",
        if persistent { "continuous" } else { "once" }
    );
    match bmc.machine.set_boot(setting).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => machine_error(&bmc, e),
    }
}

async fn reset(State(bmc): State<Bmc>, Path(id): Path<String>, body: Bytes) -> Response {
    if id != bmc.machine.name() {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceMissingAtURI",
            "no such system",
        );
    }
    let kind = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("ResetType")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(kind) = kind else {
        return error(
            StatusCode::BAD_REQUEST,
            "ActionParameterMissing",
            "ResetType is required",
        );
    };
    tracing::info!(bmc = %bmc.machine.name(), "redfish: Reset {kind}");
    let m = &bmc.machine;
    let result = match kind.as_str() {
        "On" => m.power_on().await,
        "ForceOff" => m.power_off().await,
        "GracefulShutdown" => m.soft_off().await,
        "ForceRestart" | "GracefulRestart" | "PowerCycle" => m.reset().await,
        "PushPowerButton" => match m.is_on().await {
            Ok(true) => m.soft_off().await,
            Ok(false) => m.power_on().await,
            Err(e) => Err(e),
        },
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "ActionParameterNotSupported",
                &format!("ResetType {other} is not supported"),
            );
        }
    };
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => machine_error(&bmc, e),
    }
}

async fn managers() -> Response {
    ok(json!({
        "@odata.id": "/redfish/v1/Managers",
        "Members": [{"@odata.id": "/redfish/v1/Managers/bmc"}],
        "Members@odata.count": 1,
    }))
}

async fn manager() -> Response {
    ok(json!({
        "@odata.id": "/redfish/v1/Managers/bmc",
        "@odata.type": "#Manager.v1_5_0.Manager",
        "Id": "bmc",
        "Name": "ironbell virtual BMC",
        "ManagerType": "BMC",
    }))
}

async fn session_service() -> Response {
    ok(json!({
        "@odata.id": "/redfish/v1/SessionService",
        "Id": "SessionService",
        "ServiceEnabled": true,
        "Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"},
    }))
}

async fn create_session(State(bmc): State<Bmc>, body: Bytes) -> Response {
    let doc = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let user = doc.get("UserName").and_then(Value::as_str).unwrap_or("");
    let pass = doc.get("Password").and_then(Value::as_str).unwrap_or("");
    if !bmc.credentials.matches(user, pass) {
        tracing::info!(bmc = %bmc.machine.name(), "redfish: session refused (wrong credentials)");
        return error(
            StatusCode::UNAUTHORIZED,
            "NoValidSession",
            "wrong credentials",
        );
    }
    let t = token();
    let id = {
        let Ok(mut s) = bmc.sessions.lock() else {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "sessions",
            );
        };
        s.0 += 1;
        // Bounded: the oldest are not tracked by age, so cap the set instead.
        if s.1.len() >= 64 {
            s.1.clear();
        }
        s.1.insert(t.clone());
        s.0
    };
    let location = format!("/redfish/v1/SessionService/Sessions/{id}-{}", &t[..8]);
    let mut resp = json_reply(
        StatusCode::CREATED,
        &json!({"@odata.id": location, "Id": id.to_string(), "UserName": user}),
    );
    if let (Ok(tv), Ok(lv)) = (HeaderValue::from_str(&t), HeaderValue::from_str(&location)) {
        resp.headers_mut().insert("X-Auth-Token", tv);
        resp.headers_mut().insert(header::LOCATION, lv);
    }
    resp
}

async fn delete_session(State(bmc): State<Bmc>, headers: HeaderMap) -> Response {
    if let Some(t) = headers.get("x-auth-token").and_then(|v| v.to_str().ok())
        && let Ok(mut s) = bmc.sessions.lock()
    {
        s.1.remove(t);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn auth(State(bmc): State<Bmc>, req: Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path().trim_end_matches('/');
    let open = (path == "/redfish/v1" || path == "/redfish")
        || (path == "/redfish/v1/SessionService/Sessions"
            && req.method() == axum::http::Method::POST);
    if !open && !bmc.authorized(req.headers()) {
        tracing::info!(bmc = %bmc.machine.name(), "redfish: {} {path} refused (no valid credentials)", req.method());
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "NoValidSession",
            "authentication required",
        );
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ironbell\""),
        );
        return resp;
    }
    next.run(req).await
}

fn router(bmc: Bmc) -> Router {
    Router::new()
        .route("/redfish", get(root))
        .route("/redfish/v1", get(root))
        .route("/redfish/v1/", get(root))
        .route("/redfish/v1/Systems", get(systems))
        .route("/redfish/v1/Systems/{id}", get(system).patch(patch_system))
        .route(
            "/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset",
            post(reset),
        )
        .route("/redfish/v1/Managers", get(managers))
        .route("/redfish/v1/Managers/bmc", get(manager))
        .route("/redfish/v1/SessionService", get(session_service))
        .route("/redfish/v1/SessionService/Sessions", post(create_session))
        .route(
            "/redfish/v1/SessionService/Sessions/{id}",
            delete(delete_session),
        )
        .fallback(async || {
            error(
                StatusCode::NOT_FOUND,
                "ResourceMissingAtURI",
                "no such resource",
            )
        })
        .layer(axum::middleware::from_fn_with_state(bmc.clone(), auth))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(bmc)
}

/// A TLS configuration with a fresh self-signed certificate for `addr`'s IP.
pub fn self_signed_tls(addr: SocketAddr) -> Result<Arc<rustls::ServerConfig>, VbmcError> {
    let tls = |e: String| VbmcError::Tls(e);
    let key = rcgen::KeyPair::generate().map_err(|e| tls(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec![addr.ip().to_string()])
        .map_err(|e| tls(e.to_string()))?;
    let cert = params.self_signed(&key).map_err(|e| tls(e.to_string()))?;
    let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| tls(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der_key)
        .map_err(|e| tls(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Serves Redfish for `machine` on `listener` (TLS with `tls`) until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    machine: Arc<Machine>,
    credentials: Arc<Credentials>,
) {
    let bmc = Bmc {
        machine,
        credentials,
        sessions: Arc::new(Mutex::new((0, HashSet::new()))),
    };
    let app = router(bmc);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                tracing::debug!(%peer, "redfish: TLS handshake failed");
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 << 10);
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "redfish connection ended: {e}");
            }
        });
    }
}
