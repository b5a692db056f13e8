//! The agent loop: ask for an action, report RUNNING, execute it within its time limit,
//! report the outcome, repeat — Tinkerbell's agent loop over its gRPC transport.
//!
//! - `GetAction` → `NotFound` (no workflow for this agent) or `FailedPrecondition` (no
//!   action available yet): wait and ask again. `Unavailable` or any other error: the same
//!   with exponential backoff (0.5 s, ×1.5, ±50 % jitter, capped at `backoff_max_interval`,
//!   10 s by default), logged. The backoff resets once an action is received.
//! - Several replicas (`grpc_authority=A:42113,B:42113`, see [`Servers`]): the agent talks
//!   to one at a time and sticks with it while it answers. A call that shows the replica
//!   cannot serve (connection refused or reset, a timeout, or a standby replica's
//!   `Unavailable` "not the leader") moves it to the next one at once; once every replica
//!   failed in a row, it backs off as above before the next round.
//! - RUNNING is reported with `execution_start`; if that report fails the action is not
//!   run and the agent asks again (the service hands out the same action again).
//! - The action runs within its `timeout` seconds (if non-zero); past it the action is
//!   cancelled (downloads stop, processes and containers are killed, mounts undone) and
//!   TIMEOUT is reported.
//! - The final SUCCESS/FAILED/TIMEOUT report carries `execution_start`, `execution_stop`,
//!   `execution_duration` (Tinkerbell's two-unit Go-style string, e.g. `1m2s`) and a
//!   message; it is retried with backoff for as long as the service is unreachable, and
//!   given up only when the service rejects it (`NotFound`, `InvalidArgument`,
//!   `FailedPrecondition`), as Tinkerbell does.
//! - After a delivered SUCCESS of a reboot or kexec action, the agent reboots
//!   ([`crate::power`]); with `power_dry_run` it logs that and exits.

use crate::actions::{self, ActionSpec, Context};
use crate::config::Settings;
use crate::power::{self, AfterReport};
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;
use ironbell_workflow_proto::{ActionMessage, ActionRequest, ActionStatusRequest, AgentAttributes};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The gRPC endpoint could not be set up.
    #[error("workflow service {authority}: {reason}")]
    Endpoint {
        /// `grpc_authority`.
        authority: String,
        /// What was wrong.
        reason: String,
    },
    /// The HTTP client for the actions could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Tinkerbell's `humanDuration(d, 2)`: the two most significant non-zero units of
/// h, m, s, ms, us, ns, concatenated (`1h2m`, `3s250ms`, `15us`); zero is empty.
pub fn human_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let units: [(u128, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let mut rest = nanos;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 && parts.len() < 2 {
            parts.push(format!("{n}{name}"));
        }
    }
    parts.concat()
}

/// Exponential backoff like cenkalti/backoff's defaults (Tinkerbell's agent).
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    seed: u64,
}

impl Backoff {
    /// Starts at 500 ms, capped at `max`.
    pub fn new(max: Duration) -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(1)
            | 1;
        Self {
            next: Duration::from_millis(500).min(max),
            max,
            seed,
        }
    }

    /// Back to the first interval.
    pub fn reset(&mut self) {
        self.next = Duration::from_millis(500).min(self.max);
    }

    /// The next wait: the interval ±50 %, then the interval grows ×1.5 up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        // xorshift: jitter needs no quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let factor = 0.5 + (self.seed % 1000) as f64 / 1000.0;
        let wait = self
            .next
            .mul_f64(factor)
            .min(self.max.max(Duration::from_millis(1)));
        self.next = self.next.mul_f64(1.5).min(self.max);
        wait
    }
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// Connects (lazily: the first call connects, and a lost connection is re-established on
/// the next call) to the workflow service at `authority` (one of `settings`' replicas).
pub fn channel(settings: &Settings, authority: &str) -> Result<Channel, AgentError> {
    let authority = authority.to_string();
    let bad = |reason: String| AgentError::Endpoint {
        authority: authority.clone(),
        reason,
    };
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| bad(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if !settings.tls {
        return Ok(endpoint.connect_lazy());
    }
    let config = crate::tls::client_config(settings.insecure_tls, &[b"h2"]).map_err(bad)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let server_name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| bad(format!("TLS server name: {e}")))?;
    let addr = authority.clone();
    let svc = tower::service_fn(move |_uri: tonic::transport::Uri| {
        let connector = connector.clone();
        let server_name = server_name.clone();
        let addr = addr.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    Ok(endpoint.connect_with_connector_lazy(svc))
}

/// Adds `authorization: Bearer <token>` to every call when the agent has a token.
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// The interceptor for `settings.token`.
    pub fn new(settings: &Settings) -> Result<Self, AgentError> {
        let Some(token) = &settings.token else {
            return Ok(Self(None));
        };
        let mut value = MetadataValue::try_from(format!("Bearer {}", token.0)).map_err(|_| {
            AgentError::Endpoint {
                authority: settings.grpc_authority(),
                reason: "the agent token is not valid metadata".into(),
            }
        })?;
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Bearer(<redacted>)"
        } else {
            "Bearer(none)"
        })
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// A report's message is cut to this many bytes, as the service stores at most 4 KiB
/// (and refuses requests over 64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `message` cut to [`MAX_MESSAGE_BYTES`] on a character boundary, keeping the end (where
/// an action's error is).
fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_string();
    }
    let mut start = message.len() - (MAX_MESSAGE_BYTES - 16);
    while !message.is_char_boundary(start) {
        start += 1;
    }
    format!("[…cut] {}", &message[start..])
}

/// A gRPC client of one workflow service replica.
pub type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Call again at once: the agent moved to a replica not tried since one last answered.
    Now,
    /// Back off first: the replica answered with a refusal, or every replica failed in a row.
    Later,
}

/// The workflow service replicas `grpc_authority` names, and the one the agent talks to.
///
/// The agent sticks with a replica while its calls are answered (an answer such as
/// `NotFound` or `FailedPrecondition` is an answer). A failure that says this replica
/// cannot serve — `Unavailable` (connection refused or reset, or a standby replica, which
/// answers "not the leader"), `DeadlineExceeded` and `Cancelled` (timeouts), `Unknown`
/// (a connection cut mid-call) — moves it to the next replica, in the order given,
/// wrapping around. Generic over the client so that the rotation is tested without one.
#[derive(Debug)]
pub struct Servers<C = Client> {
    replicas: Vec<(String, C)>,
    current: usize,
    /// Replicas that failed in a row since one last answered.
    failed_in_a_row: usize,
}

impl<C> Servers<C> {
    /// The replicas `(authority, client)`, in the order to try them; `None` when empty.
    pub fn new(replicas: Vec<(String, C)>) -> Option<Self> {
        (!replicas.is_empty()).then_some(Self {
            replicas,
            current: 0,
            failed_in_a_row: 0,
        })
    }

    /// The authority of the replica the agent talks to now.
    pub fn authority(&self) -> &str {
        &self.replicas[self.current].0
    }

    /// The client of the replica the agent talks to now.
    pub fn client(&mut self) -> &mut C {
        &mut self.replicas[self.current].1
    }

    /// The current replica answered: stay with it.
    pub fn answered(&mut self) {
        self.failed_in_a_row = 0;
    }

    /// A call to the current replica failed with `status`: moves on when it says the
    /// replica cannot serve (see the type's docs), and says whether to call again at once.
    pub fn failed(&mut self, status: &tonic::Status) -> Retry {
        if !cannot_serve(status.code()) {
            self.answered();
            return Retry::Later;
        }
        self.failed_in_a_row += 1;
        let n = self.replicas.len();
        if n == 1 {
            return Retry::Later;
        }
        let from = self.current;
        self.current = (self.current + 1) % n;
        tracing::info!(
            server = %self.replicas[from].0,
            code = ?status.code(),
            error = %status.message(),
            next = %self.replicas[self.current].0,
            "this workflow service replica cannot serve; trying the next"
        );
        if self.failed_in_a_row < n {
            Retry::Now
        } else {
            self.failed_in_a_row = 0;
            Retry::Later
        }
    }
}

/// Whether a failed call's `code` says that the replica cannot serve (rather than that
/// it refused this request).
pub fn cannot_serve(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
    )
}

/// A lazily connecting client for every replica `settings` names.
pub fn servers(settings: &Settings) -> Result<Servers, AgentError> {
    let bearer = Bearer::new(settings)?;
    let replicas = settings
        .grpc_authorities
        .iter()
        .map(|a| {
            let client =
                WorkflowServiceClient::with_interceptor(channel(settings, a)?, bearer.clone());
            Ok((a.clone(), client))
        })
        .collect::<Result<Vec<_>, AgentError>>()?;
    Servers::new(replicas).ok_or(AgentError::Endpoint {
        authority: String::new(),
        reason: "no grpc_authority".into(),
    })
}

/// The running agent.
#[derive(Debug)]
pub struct Agent {
    settings: Arc<Settings>,
    servers: Servers,
    ctx: Context,
    attributes: AgentAttributes,
}

/// How one action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// SUCCESS, FAILED or TIMEOUT.
    pub state: StateType,
    /// The report's message.
    pub message: String,
}

impl Agent {
    /// Sets the agent up from its settings (nothing is contacted yet).
    pub fn new(settings: Settings, power: Arc<dyn power::Power>) -> Result<Self, AgentError> {
        let servers = servers(&settings)?;
        let http = crate::http_client(false).map_err(AgentError::Http)?;
        let settings = Arc::new(settings);
        Ok(Self {
            ctx: Context {
                settings: settings.clone(),
                power,
                http,
            },
            settings,
            servers,
            attributes: crate::attributes::discover(std::path::Path::new("/")),
        })
    }

    /// Runs until a power action ends the agent's life (or, in dry-run, returns after it).
    pub async fn run(mut self) {
        tracing::info!(
            agent = %self.settings.worker_id,
            servers = %self.settings.grpc_authority(),
            tls = self.settings.tls,
            "agent started"
        );
        let mut backoff = Backoff::new(self.settings.backoff_max);
        loop {
            let request = ActionRequest {
                agent_id: self.settings.worker_id.clone(),
                agent_attributes: Some(self.attributes.clone()),
            };
            let response = match self.servers.client().get_action(request).await {
                Ok(r) => {
                    self.servers.answered();
                    r.into_inner()
                }
                Err(status) => {
                    if self.servers.failed(&status) == Retry::Now {
                        continue;
                    }
                    let wait = backoff.next_wait();
                    match status.code() {
                        Code::NotFound | Code::FailedPrecondition => {
                            tracing::debug!(code = ?status.code(), "no action yet")
                        }
                        _ => tracing::info!(
                            server = %self.servers.authority(),
                            code = ?status.code(),
                            error = %status.message(),
                            retry_in = ?wait,
                            "asking for an action failed"
                        ),
                    }
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            backoff.reset();
            let spec = ActionSpec::from_response(response);
            let span = tracing::info_span!(
                "action",
                workflow = %spec.workflow_id,
                task = %spec.task_id,
                action = %spec.action_id,
                name = %spec.name,
            );
            let after = self.handle(spec, &mut backoff).instrument(span).await;
            match after {
                Some(AfterReport::Nothing) => {}
                None => tokio::time::sleep(backoff.next_wait()).await,
                Some(power) => {
                    actions::container::settle().await;
                    let kexec = power == AfterReport::Kexec;
                    tracing::warn!(kexec, "rebooting");
                    match self.ctx.power.reboot(kexec) {
                        Ok(()) => {
                            tracing::info!("power action done (dry run); the agent stops");
                            return;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "reboot failed; asking for more actions")
                        }
                    }
                }
            }
        }
    }

    /// Reports RUNNING, executes, reports the outcome. `None` when RUNNING could not be
    /// reported (the caller backs off and asks again).
    async fn handle(&mut self, spec: ActionSpec, backoff: &mut Backoff) -> Option<AfterReport> {
        tracing::info!(image = %spec.image, timeout = ?spec.timeout, "received action");
        let start = SystemTime::now();
        let running = self.status(&spec, StateType::Running, start, None, "running action");
        if let Err(status) = self.servers.client().report_action_status(running).await {
            self.servers.failed(&status);
            tracing::info!(code = ?status.code(), error = %status.message(), "reporting RUNNING failed");
            return None;
        }
        let (finished, after) = run_with_timeout(&spec, &self.ctx).await;
        let stop = SystemTime::now();
        match finished.state {
            StateType::Success => tracing::info!(message = %finished.message, "action succeeded"),
            _ => {
                tracing::warn!(state = ?finished.state, message = %finished.message, "action did not succeed")
            }
        }
        let report = self.status(&spec, finished.state, start, Some(stop), &finished.message);
        let mut retry = backoff.clone();
        retry.reset();
        loop {
            match self
                .servers
                .client()
                .report_action_status(report.clone())
                .await
            {
                Ok(_) => {
                    self.servers.answered();
                    tracing::info!(state = ?finished.state, server = %self.servers.authority(), "reported");
                    break;
                }
                Err(s)
                    if matches!(
                        s.code(),
                        Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition
                    ) =>
                {
                    tracing::error!(code = ?s.code(), error = %s.message(), "the service rejected the report; giving up on it");
                    break;
                }
                Err(s) => {
                    if self.servers.failed(&s) == Retry::Now {
                        continue;
                    }
                    let wait = retry.next_wait();
                    tracing::info!(code = ?s.code(), error = %s.message(), retry_in = ?wait, "reporting failed, retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        Some(power::after_report(
            finished.state == StateType::Success,
            after,
        ))
    }

    fn status(
        &self,
        spec: &ActionSpec,
        state: StateType,
        start: SystemTime,
        stop: Option<SystemTime>,
        message: &str,
    ) -> ActionStatusRequest {
        ActionStatusRequest {
            workflow_id: spec.workflow_id.clone(),
            agent_id: self.settings.worker_id.clone(),
            task_id: spec.task_id.clone(),
            action_id: spec.action_id.clone(),
            action_name: spec.name.clone(),
            action_state: state as i32,
            execution_start: Some(timestamp(start)),
            execution_stop: stop.map(timestamp),
            execution_duration: stop
                .map(|s| human_duration(s.duration_since(start).unwrap_or_default()))
                .unwrap_or_default(),
            message: Some(ActionMessage {
                message: bounded(message),
            }),
        }
    }
}

/// Executes `spec` within its time limit.
pub async fn run_with_timeout(spec: &ActionSpec, ctx: &Context) -> (Finished, AfterReport) {
    let work = actions::execute(spec, ctx);
    let result = match spec.timeout {
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => {
                return (
                    Finished {
                        state: StateType::Timeout,
                        message: format!(
                            "action timed out after {}s and was stopped",
                            limit.as_secs()
                        ),
                    },
                    AfterReport::Nothing,
                );
            }
        },
        None => work.await,
    };
    match result {
        Ok(o) => (
            Finished {
                state: StateType::Success,
                message: if o.message.is_empty() {
                    "action completed".into()
                } else {
                    o.message
                },
            },
            o.after,
        ),
        Err(e) => (
            Finished {
                state: StateType::Failed,
                message: e.to_string(),
            },
            AfterReport::Nothing,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_tinkerbell() {
        assert_eq!(human_duration(Duration::from_secs(3723)), "1h2m");
        assert_eq!(human_duration(Duration::from_millis(3250)), "3s250ms");
        assert_eq!(human_duration(Duration::from_nanos(15_000)), "15us");
        assert_eq!(human_duration(Duration::from_nanos(1_000_001)), "1ms1ns");
        assert_eq!(human_duration(Duration::ZERO), "");
    }

    fn three() -> Servers<()> {
        Servers::new(["a:1", "b:1", "c:1"].map(|a| (a.to_string(), ())).to_vec()).expect("three")
    }

    #[test]
    fn an_answering_replica_is_kept() {
        let mut s = three();
        for code in [
            Code::NotFound,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::InvalidArgument,
        ] {
            assert_eq!(s.failed(&tonic::Status::new(code, "no")), Retry::Later);
            assert_eq!(s.authority(), "a:1", "{code:?}");
        }
        assert!(Servers::<()>::new(Vec::new()).is_none());
    }

    #[test]
    fn a_replica_that_cannot_serve_is_left_for_the_next_at_once() {
        use tonic::Status;
        let mut s = three();
        let standby = || Status::unavailable("not the leader; the controllers run on b");
        // (what the current replica says, what to do, the replica talked to next)
        let steps = [
            // a refuses, b is a standby: each moves on at once...
            (Status::unavailable("refused"), Retry::Now, "b:1"),
            (standby(), Retry::Now, "c:1"),
            // ...c times out too: every one failed in a row, so back off, then a new round.
            (Status::deadline_exceeded("t"), Retry::Later, "a:1"),
            (Status::cancelled("Timeout expired"), Retry::Now, "b:1"),
            // b leads now: a refusal is an answer, so the agent stays.
            (Status::not_found("no workflow"), Retry::Later, "b:1"),
            // b dies: on to c, then a, wrapping around; a full round backs off.
            (Status::unknown("connection reset"), Retry::Now, "c:1"),
            (standby(), Retry::Now, "a:1"),
            (standby(), Retry::Later, "b:1"),
        ];
        for (i, (status, retry, next)) in steps.into_iter().enumerate() {
            assert_eq!(
                (s.failed(&status), s.authority()),
                (retry, next),
                "step {i}"
            );
        }
        // An answer ends a round of failures: the next failure moves on at once again.
        s.answered();
        assert_eq!(s.failed(&standby()), Retry::Now);
    }

    #[test]
    fn one_replica_is_tinkerbells_single_value() {
        let mut s = Servers::new(vec![("only:42113".to_string(), ())]).expect("one");
        assert_eq!(s.failed(&tonic::Status::unavailable("down")), Retry::Later);
        assert_eq!(s.authority(), "only:42113");
    }

    #[test]
    fn backoff_grows_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(10));
        let waits: Vec<_> = (0..20).map(|_| b.next_wait()).collect();
        assert!(waits[0] >= Duration::from_millis(250) && waits[0] <= Duration::from_millis(750));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(10)));
        assert!(waits[19] >= Duration::from_secs(5));
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(750));
    }
}
