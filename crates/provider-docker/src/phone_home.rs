//! Where node containers report in: `POST /phone-home` (or `/phone-home/<instance-id>`),
//! the form cloud-init's `phone_home` module posts and the `plain` node bootstrapper's
//! user-data asks for ([`crate::cloudinit`] turns it into a `curl` in the container).
//!
//! The metadata service does this for Hardware (`ironbell-metadata`, which identifies a
//! machine by its source address among the Hardware); a container is no Hardware, so this
//! is the same exchange with the `DockerMachine`s as the inventory: the caller is the
//! machine whose `status.addresses` hold its source address, its `instance_id` must be that
//! machine's container name (403 otherwise: a node reports only for itself), and the Node
//! written is the container's (`ironbell_metadata::phone_home::record_ready_node`: named
//! after the container, provider ID `docker:////<container>`, `Ready`). Bodies are bounded
//! ([`ironbell_metadata::phone_home::MAX_BODY_BYTES`]), each source address is rate
//! limited as the metadata service does it, and connections are served by
//! `ironbell-httpd` (head size, per-peer connection cap, timeouts).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use ironbell_limits::RateLimiter;
use ironbell_metadata::phone_home::{
    MAX_BODY_BYTES, RATE_BURST, RATE_INTERVAL, RATE_MAX_KEYS, Report, record_ready_node,
};
use ironbell_model::Resource;
use ironbell_store::{ListParams, SharedStore, api};
use tokio::net::TcpListener;
use tracing::{Instrument, Span, info, info_span, warn};

use crate::api::DockerMachine;
use crate::{container_name, owner_cluster_name, provider_id};

struct Inner {
    store: SharedStore,
    rate: RateLimiter<IpAddr>,
}

type Answer = (StatusCode, String);

/// The phone-home routes over `store`.
pub fn router(store: SharedStore) -> Router {
    let state = Arc::new(Inner {
        store,
        rate: RateLimiter::new(1.0 / RATE_INTERVAL.as_secs_f64(), RATE_BURST, RATE_MAX_KEYS),
    });
    Router::new()
        .route("/phone-home", post(phone_home))
        .route("/phone-home/{id}", post(phone_home_id))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the phone-home on `listener` until `shutdown` completes.
pub async fn serve(
    store: SharedStore,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    ironbell_httpd::serve(
        "docker-phone-home",
        listener,
        router(store),
        ironbell_httpd::Limits::default(),
        Arc::default(),
        shutdown,
    )
    .await
}

async fn phone_home(
    State(state): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: axum::body::Bytes,
) -> Answer {
    answer(&state, peer.ip(), None, &body).await
}

async fn phone_home_id(
    State(state): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    answer(&state, peer.ip(), Some(id), &body).await
}

async fn answer(state: &Inner, client: IpAddr, path_id: Option<String>, body: &[u8]) -> Answer {
    let span = info_span!("phone-home", %client, container = tracing::field::Empty);
    answer_in(state, client, path_id, body)
        .instrument(span)
        .await
}

async fn answer_in(state: &Inner, client: IpAddr, path_id: Option<String>, body: &[u8]) -> Answer {
    if !state.rate.check(&client) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many phone-homes from {client}: at most {RATE_BURST} at once, then one every {} s",
                RATE_INTERVAL.as_secs()
            ),
        );
    }
    let report = match Report::parse(body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let machines = match api::<DockerMachine>(&state.store)
        .list(&ListParams::default())
        .await
    {
        Ok((m, _)) => m,
        Err(e) => {
            warn!("listing DockerMachines: {e}");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("listing DockerMachines: {e}"),
            );
        }
    };
    let address = client.to_string();
    let Some((machine, container)) = machines.iter().find_map(|m| {
        let at = m
            .status
            .as_ref()?
            .addresses
            .iter()
            .any(|a| a.type_ == "InternalIP" && a.address == address);
        let cluster = owner_cluster_name(&m.metadata)?;
        at.then(|| (m, container_name(&cluster, m.name())))
    }) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no DockerMachine has address {client}"),
        );
    };
    Span::current().record("container", tracing::field::display(&container));
    let claimed = [Some(report.instance_id.as_str()), path_id.as_deref()];
    if claimed.iter().flatten().any(|c| *c != container) {
        return (
            StatusCode::FORBIDDEN,
            format!(
                "instance {} is not DockerMachine {}/{}'s ({container})",
                report.instance_id,
                machine.namespace(),
                machine.name()
            ),
        );
    }
    match record_ready_node(
        &state.store,
        &container,
        &provider_id(&container),
        client,
        &report,
    )
    .await
    {
        Ok(node) => {
            info!(node = node.metadata.name(), "phone-home: node ready");
            (
                StatusCode::OK,
                format!("node {} is ready\n", node.metadata.name()),
            )
        }
        Err(e) => {
            warn!("{e}");
            let status = match e {
                ironbell_metadata::phone_home::RecordError::Conflict { .. } => StatusCode::CONFLICT,
                ironbell_metadata::phone_home::RecordError::Busy { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                ironbell_metadata::phone_home::RecordError::Store { .. } => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            (status, e.to_string())
        }
    }
}
