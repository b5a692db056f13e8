//! # ironbell-kube-api
//!
//! The Kubernetes REST API over any ironbell store, so that `kubectl`, k9s and client
//! libraries work against a plane as they do against Tinkerbell's CRDs: `ironbell serve
//! api` (port 6443), or part of `serve all` with `--api-addr`.
//!
//! What it serves, over an `Arc<dyn Store>` and a [`KindRegistry`](ironbell_model::KindRegistry):
//! discovery (legacy documents; kubectl falls back from the aggregated form), `get`,
//! `list` with label and field (`metadata.name`, `metadata.namespace`) selectors, in pages
//! (`limit` and `continue`, [`paging`]),
//! `create`, `update`, the `status` subresource, `delete` with a `resourceVersion`
//! precondition, JSON merge patch, JSON patch, server-side apply with field managers and
//! their conflicts ([`managed`]), `watch` from a `resourceVersion` with bookmarks and a 410
//! `Expired` error event once history is compacted, `Table` responses from the printer
//! columns of `ironbell_model::columns`, `Status` objects for every error, `Namespace`s
//! (derived from the objects) and a `CustomResourceDefinition` per kind.
//!
//! What it is not: a full API server. No admission, no RBAC beyond two roles, no
//! protobuf, no aggregated discovery, no `deletecollection`, no pagination (`limit` is
//! ignored and everything is returned), OpenAPI schemas only for Tinkerbell's and Rufio's
//! kinds (from their CRDs, [`crds`]; the others are open objects), enough for kubectl to
//! leave validation to the server, which checks each object against its type
//! ([`openapi`]). Namespaces cannot be created or deleted: they
//! exist while objects are in them.
//!
//! Security ([`security`]): TLS always, a CA and serving certificate made on first start,
//! bearer tokens and client certificates, roles admin and read-only, 401 without
//! credentials. Bounds: request bodies of [`ApiConfig::max_body_bytes`], requests of
//! [`ApiConfig::request_timeout`], watches of [`ApiConfig::max_watch`], the accept loop's
//! per-peer cap and head timeouts ([`server`]).
//!
//! Start reading at [`api`] (the handler), then [`discovery`] and [`security`].

pub mod api;
pub mod crds;
pub mod discovery;
pub mod managed;
pub mod openapi;
pub mod paging;
pub mod security;
pub mod server;
pub mod status;

use std::future::Future;
use std::sync::Arc;

pub use api::{ApiConfig, ApiState};
pub use security::{Role, Security, ServingCert};

/// The router of the API: every request goes to [`api::handle`].
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new().fallback(move |req: axum::extract::Request| {
        let state = state.clone();
        async move { api::handle(state, req).await }
    })
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = state.security.tls_config();
    server::serve(listener, router(state), tls, shutdown).await
}

/// A kubeconfig for the API at `server` (`https://HOST:PORT`) with `role`: the CA to trust,
/// and the role's bearer token, or (with `client_cert`) a new client certificate for
/// `user` signed by the CA. Its cluster, user and context are named `name`.
pub fn kubeconfig(
    server: &str,
    security: &Security,
    role: Role,
    client_cert: bool,
    name: &str,
) -> Result<String, security::SecurityError> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user_name = format!("{name}-{}", role.as_str());
    let user = if client_cert {
        let (cert, key) = security.issue_client_cert(&user_name, role)?;
        serde_json::json!({"client-certificate-data": b64(&cert), "client-key-data": b64(&key)})
    } else {
        serde_json::json!({"token": security.token(role)})
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server,
            "certificate-authority-data": b64(security.ca_pem()),
        }}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": user_name, "context": {
            "cluster": name, "user": user_name, "namespace": "default",
        }}],
        "current-context": user_name,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).map_err(|e| security::SecurityError::Certificate {
        what: "kubeconfig".into(),
        message: e.to_string(),
    })
}
