//! # ironbell-workflow
//!
//! The workflow service, ironbell's replacement for Tinkerbell's tink controller and tink
//! server: a Workflow binds a Template to a Hardware; this crate renders the template into
//! the workflow's tasks and actions, gets the machine network-booted through a BMC Job,
//! hands the actions to the agent on the machine over gRPC (`proto.WorkflowService`, port
//! 42113), records what the agent reports, and enforces the global and per-action
//! timeouts even when the agent vanishes.
//!
//! What it is not: the template engine (`ironbell-template`), the BMC (`ironbell-bmc` runs
//! the Jobs this crate creates), or the agent (`ironbell-agent`).
//!
//! The agent API faces the provisioning network, where any host can connect: who may act
//! for an agent is checked ([`auth`]: the Hardware's address and a per-Workflow token the
//! controller generates and the boot service hands to HookOS), calls are answered from an
//! in-memory [`index`], requests and stored messages are bounded, and connections are
//! capped per peer and closed when idle ([`net`]).
//!
//! Start reading at [`controller`] (the state machine), then [`server`] (the agent API),
//! then [`status`] (the data both work on), then [`auth`], [`index`] and [`net`] (and
//! [`metrics`], the calls counted);
//! [`standby`] is what a replica that does not lead answers agents.

pub mod auth;
pub mod controller;
pub mod index;
pub mod metrics;
pub mod net;
pub mod server;
pub mod standby;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ironbell_controller::Controller;
use ironbell_model::bmc::Job;
use ironbell_model::tinkerbell::Workflow;
use ironbell_store::SharedStore;

pub use ironbell_workflow_proto::DEFAULT_GRPC_PORT;

/// Where the workflow service listens, how much it does at once, and how it treats agents.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC listen address (agents connect here).
    pub grpc_addr: SocketAddr,
    /// Workflows reconciled at once.
    pub concurrency: usize,
    /// Who may act for an agent (`--agent-auth`, `--agent-trusted-proxies`).
    pub auth: auth::AgentAuth,
    /// Calls per client address.
    pub rate: server::CallRate,
    /// Connections per peer, idle timeout, keepalive.
    pub connections: net::ConnLimits,
}

impl Config {
    /// Listens on `grpc_addr`, 8 workflows at once, token auth, default bounds.
    pub fn new(grpc_addr: SocketAddr) -> Self {
        Self {
            grpc_addr,
            concurrency: 8,
            auth: auth::AgentAuth::default(),
            rate: server::CallRate::default(),
            connections: net::ConnLimits::default(),
        }
    }
}

/// HTTP/2 keepalive ping interval of the agent API (and the time to answer one).
pub const HTTP2_KEEPALIVE: Duration = Duration::from_secs(30);
/// Time a call has to complete.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The workflow service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The gRPC address could not be bound.
    #[error("cannot listen for gRPC on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gRPC server stopped.
    #[error("the gRPC server stopped")]
    Grpc(#[source] tonic::transport::Error),
}

/// Runs the workflow controller and the agent API over `store` until the gRPC server
/// fails. `render` turns a template into tasks (see [`controller::RenderFn`]; the service
/// uses [`controller::tinkerbell_renderer`]).
pub async fn run(
    store: SharedStore,
    config: Config,
    render: controller::RenderFn,
) -> Result<(), ServiceError> {
    let listener = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.grpc_addr,
            source,
        })?;
    serve(store, listener, &config, render).await
}

/// [`run`] on a listener the caller bound (tests bind port 0); `config.grpc_addr` is not
/// used.
pub async fn serve(
    store: SharedStore,
    listener: tokio::net::TcpListener,
    config: &Config,
    render: controller::RenderFn,
) -> Result<(), ServiceError> {
    let concurrency = config.concurrency;
    let reconciler = Arc::new(
        controller::Reconciler::new(store.clone(), render)
            .with_agent_tokens(config.auth.mode == auth::AuthMode::Token)
            .with_events(events(&store)),
    );
    let controller = Controller::<Workflow>::new("workflow", store.clone()).watches::<Job>(
        // A boot job's progress wakes the workflow that owns it.
        |key, job| {
            job.and_then(|j| j.metadata.owner_references.as_ref())
                .into_iter()
                .flatten()
                .filter(|o| o.kind == "Workflow" && o.controller == Some(true))
                .map(|o| (key.0.clone(), o.name.clone()))
                .collect()
        },
    );
    // Aborted when this future ends or is dropped (a replica that loses the controllers'
    // leadership drops it): no controller may outlive the service.
    let controller = AbortOnDrop(tokio::spawn(controller.run(reconciler, concurrency)));
    let result = serve_api(store, listener, config).await;
    drop(controller);
    result
}

/// The Event recorder of the workflow service (`source.component` `ironbell-workflow`).
fn events(store: &SharedStore) -> ironbell_store::events::Recorder {
    ironbell_store::events::Recorder::start(store.clone(), "ironbell-workflow")
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The agent API alone (no controller) on a listener the caller bound: what [`serve`] runs
/// besides the controller.
pub async fn serve_api(
    store: SharedStore,
    listener: tokio::net::TcpListener,
    config: &Config,
) -> Result<(), ServiceError> {
    let addr = listener.local_addr().ok();
    let index = index::AgentIndex::start(store.clone());
    index.synced().await;
    tracing::info!(?addr, auth = %config.auth.mode, "workflow gRPC listening");
    if config.auth.mode == auth::AuthMode::None {
        tracing::warn!(
            "--agent-auth none: any host that can reach the agent API can read any machine's \
             actions and report for it"
        );
    }
    let incoming = net::incoming(listener, config.connections);
    let service = server::Server::new(store.clone(), index, config.auth.clone(), config.rate)
        .with_events(events(&store))
        .into_service();
    grpc_server()
        .add_service(service)
        // A shutdown signal that never fires, so that the connections watch it: when this
        // future is dropped (the service stopped), each connection shuts down gracefully
        // instead of serving on in a task of its own.
        .serve_with_incoming_shutdown(incoming, std::future::pending::<()>())
        .await
        .map_err(ServiceError::Grpc)
}

/// The gRPC server settings of the agent API (keepalive, call timeout, streams per
/// connection), shared by the real service and the [`standby`] answer.
fn grpc_server() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE))
        .timeout(CALL_TIMEOUT)
        .max_concurrent_streams(Some(16))
}
