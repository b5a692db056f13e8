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
//! Start reading at [`controller`] (the state machine), then [`server`] (the agent API),
//! then [`status`] (the data both work on).

pub mod controller;
pub mod server;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use ironbell_controller::Controller;
use ironbell_model::bmc::Job;
use ironbell_model::tinkerbell::Workflow;
use ironbell_store::SharedStore;

pub use ironbell_workflow_proto::DEFAULT_GRPC_PORT;

/// Where the workflow service listens and how much it does at once.
#[derive(Debug, Clone)]
pub struct Config {
    /// The gRPC listen address (agents connect here).
    pub grpc_addr: SocketAddr,
    /// Workflows reconciled at once.
    pub concurrency: usize,
}

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
    serve(store, listener, config.concurrency, render).await
}

/// [`run`] on a listener the caller bound (tests bind port 0).
pub async fn serve(
    store: SharedStore,
    listener: tokio::net::TcpListener,
    concurrency: usize,
    render: controller::RenderFn,
) -> Result<(), ServiceError> {
    let reconciler = Arc::new(controller::Reconciler::new(store.clone(), render));
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
    let controller = tokio::spawn(controller.run(reconciler, concurrency));
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, "workflow gRPC listening");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let result = tonic::transport::Server::builder()
        .add_service(server::Server::new(store).into_service())
        .serve_with_incoming(incoming)
        .await
        .map_err(ServiceError::Grpc);
    controller.abort();
    result
}
