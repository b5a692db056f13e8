//! The agent API of a replica that does not lead the controllers.
//!
//! With several replicas on etcd, only the leader runs the workflow service (its controller
//! and the agent API hand out the same actions, so one at a time). A standby replica still
//! binds the agent port, and [`serve_standby`] answers every call on it at once with gRPC
//! `UNAVAILABLE` — `not the leader; the controllers run on IDENTITY` — so that an agent
//! given every replica (`grpc_authority=A:42113,B:42113`) moves on to the next one instead
//! of waiting in a listen queue. When the replica comes to lead, the plane stops this server
//! (its connections are closed with an HTTP/2 GOAWAY, so agents reconnect) and serves the
//! real API ([`crate::serve`]) on the same socket.
//!
//! Nothing here reads the store or the request: the answer is the same for every call, and
//! the connections are bounded as the real API's are ([`crate::net`]).

use std::future::Future;
use std::os::fd::AsFd;
use std::time::Duration;

use ironbell_workflow_proto::workflow_service_server::{WorkflowService, WorkflowServiceServer};
use ironbell_workflow_proto::{
    ActionRequest, ActionResponse, ActionStatusRequest, ActionStatusResponse,
};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::{Config, ServiceError};

/// The standby answer; `leader` holds the current leader's identity (empty while none is
/// known).
#[derive(Debug, Clone)]
pub struct Standby {
    leader: watch::Receiver<String>,
}

impl Standby {
    /// Answers naming whoever `leader` holds at the time of each call.
    pub fn new(leader: watch::Receiver<String>) -> Self {
        Self { leader }
    }

    /// The status every call gets.
    pub fn status(&self) -> Status {
        let leader = self.leader.borrow();
        if leader.is_empty() {
            Status::unavailable("not the leader; no replica leads the controllers yet")
        } else {
            Status::unavailable(format!(
                "not the leader; the controllers run on {}",
                leader.as_str()
            ))
        }
    }
}

#[tonic::async_trait]
impl WorkflowService for Standby {
    async fn get_action(
        &self,
        _: Request<ActionRequest>,
    ) -> Result<Response<ActionResponse>, Status> {
        Err(self.status())
    }

    async fn report_action_status(
        &self,
        _: Request<ActionStatusRequest>,
    ) -> Result<Response<ActionStatusResponse>, Status> {
        Err(self.status())
    }
}

/// The standby answer served on a second descriptor of a bound agent-API socket, so that
/// the socket's owner keeps it for the real service; see the module docs.
#[derive(Debug)]
pub struct StandbyServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl StandbyServer {
    /// How long the standby's connections get to close after their GOAWAY.
    pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

    /// Starts answering on `listener` (which stays the caller's) with `config`'s connection
    /// bounds, naming whoever `leader` holds. Fails only if the socket cannot be shared
    /// (out of descriptors).
    pub fn start(
        listener: &tokio::net::TcpListener,
        config: &Config,
        leader: watch::Receiver<String>,
    ) -> std::io::Result<Self> {
        let shared = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned()?);
        shared.set_nonblocking(true)?;
        let shared = tokio::net::TcpListener::from_std(shared)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = config.clone();
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            if let Err(e) = serve_standby(shared, &config, leader, stopped).await {
                tracing::warn!("the standby agent API stopped: {e}");
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops answering: connected agents are sent a GOAWAY (they reconnect, to whatever
    /// serves the socket next); connections still open after [`Self::CLOSE_TIMEOUT`] are
    /// dropped. The socket is no longer accepted on here when this returns.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Self::CLOSE_TIMEOUT, self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// Serves the standby answer on `listener`, with `config`'s connection bounds, until
/// `stop` resolves; then closes its connections (in-flight calls are answered first) and
/// returns.
pub async fn serve_standby(
    listener: tokio::net::TcpListener,
    config: &Config,
    leader: watch::Receiver<String>,
    stop: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let incoming = crate::net::incoming(listener, config.connections);
    crate::grpc_server()
        .add_service(WorkflowServiceServer::new(Standby::new(leader)))
        .serve_with_incoming_shutdown(incoming, stop)
        .await
        .map_err(ServiceError::Grpc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_names_the_leader() {
        let (tx, rx) = watch::channel(String::new());
        let standby = Standby::new(rx);
        let s = standby.status();
        assert_eq!(s.code(), tonic::Code::Unavailable);
        assert!(s.message().contains("no replica leads"), "{}", s.message());
        tx.send_replace("host-a:4242:0".into());
        let s = standby.status();
        assert_eq!(
            s.message(),
            "not the leader; the controllers run on host-a:4242:0"
        );
    }
}
