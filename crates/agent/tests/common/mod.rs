//! Test helpers: a scripted workflow service (the generated `WorkflowService` trait),
//! a tiny HTTP/1.1 file server, the agent binary as a child process, loop devices.
#![allow(dead_code, clippy::unwrap_used)]

use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_server::{WorkflowService, WorkflowServiceServer};
use ironbell_workflow_proto::{
    ActionRequest, ActionResponse, ActionStatusRequest, ActionStatusResponse,
};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------- workflow service

/// What the scripted service has seen.
#[derive(Debug, Default)]
pub struct Script {
    /// Actions still to hand out; the front one is handed out until its final report.
    pub actions: VecDeque<ActionResponse>,
    /// Every report, in arrival order.
    pub reports: Vec<ActionStatusRequest>,
    /// GetAction requests seen.
    pub requests: Vec<ActionRequest>,
}

#[derive(Clone, Default)]
pub struct Harness {
    pub state: Arc<Mutex<Script>>,
}

#[tonic::async_trait]
impl WorkflowService for Harness {
    async fn get_action(
        &self,
        request: tonic::Request<ActionRequest>,
    ) -> Result<tonic::Response<ActionResponse>, tonic::Status> {
        let mut s = self.state.lock().unwrap();
        s.requests.push(request.into_inner());
        match s.actions.front() {
            Some(a) => Ok(tonic::Response::new(a.clone())),
            None => Err(tonic::Status::not_found("no workflow")),
        }
    }

    async fn report_action_status(
        &self,
        request: tonic::Request<ActionStatusRequest>,
    ) -> Result<tonic::Response<ActionStatusResponse>, tonic::Status> {
        let r = request.into_inner();
        let mut s = self.state.lock().unwrap();
        let final_state = r.action_state != StateType::Running as i32;
        if final_state
            && s.actions
                .front()
                .is_some_and(|a| a.action_id == r.action_id)
        {
            s.actions.pop_front();
        }
        s.reports.push(r);
        Ok(tonic::Response::new(ActionStatusResponse {}))
    }
}

/// A running scripted service that can be stopped and restarted on the same port.
pub struct Service {
    pub harness: Harness,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Service {
    pub async fn start(actions: Vec<ActionResponse>) -> Self {
        let harness = Harness::default();
        harness.state.lock().unwrap().actions = actions.into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut s = Self {
            harness,
            addr,
            stop: None,
            task: None,
        };
        s.serve(listener);
        s
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = WorkflowServiceServer::new(self.harness.clone());
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        self.task = Some(tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await;
        }));
        self.stop = Some(tx);
    }

    /// Stops listening (connections closed).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn reports(&self) -> Vec<ActionStatusRequest> {
        self.harness.state.lock().unwrap().reports.clone()
    }

    pub fn remaining(&self) -> usize {
        self.harness.state.lock().unwrap().actions.len()
    }

    /// Waits until `f` holds on the reports, or panics after `limit`.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        f: impl Fn(&[ActionStatusRequest]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if f(&self.reports()) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; reports: {:#?}",
                    self.reports()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn action(id: &str, image: &str, timeout: i64, env: &[(&str, &str)]) -> ActionResponse {
    ActionResponse {
        workflow_id: "wf-1".into(),
        task_id: "task-1".into(),
        agent_id: "agent-1".into(),
        action_id: id.into(),
        name: format!("name-{id}"),
        image: image.into(),
        timeout,
        environment: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        ..Default::default()
    }
}

pub fn state(r: &ActionStatusRequest) -> StateType {
    StateType::try_from(r.action_state).unwrap_or(StateType::Unspecified)
}

pub fn message(r: &ActionStatusRequest) -> String {
    r.message
        .as_ref()
        .map(|m| m.message.clone())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- HTTP server

#[derive(Clone, Default)]
pub struct Route {
    pub body: Arc<Vec<u8>>,
    pub content_type: String,
    /// Pause between 64 KiB pieces.
    pub throttle: Option<Duration>,
    /// Send this many bytes, then nothing more (connection kept open).
    pub stall_after: Option<usize>,
}

impl Route {
    pub fn bytes(body: Vec<u8>) -> Self {
        Self {
            body: Arc::new(body),
            content_type: "application/octet-stream".into(),
            ..Default::default()
        }
    }
}

pub struct HttpServer {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    pub async fn start(routes: HashMap<String, Route>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, routes)
    }

    /// Serves `routes` on a listener the caller bound (e.g. inside a namespace).
    pub fn start_on(listener: tokio::net::TcpListener, routes: HashMap<String, Route>) -> Self {
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(routes);
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                let hits = h.clone();
                tokio::spawn(async move {
                    let _ = serve_conn(conn, routes, hits).await;
                });
            }
        });
        Self { addr, hits, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn serve_conn(
    mut conn: tokio::net::TcpStream,
    routes: Arc<HashMap<String, Route>>,
    hits: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // read one request head
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        buf.drain(..head_end);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        hits.lock().unwrap().push(path.clone());
        let Some(route) = routes.get(&path) else {
            conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await?;
            continue;
        };
        let header = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
            route.content_type,
            route.body.len()
        );
        conn.write_all(header.as_bytes()).await?;
        let limit = route
            .stall_after
            .unwrap_or(route.body.len())
            .min(route.body.len());
        for piece in route.body[..limit].chunks(64 * 1024) {
            conn.write_all(piece).await?;
            if let Some(t) = route.throttle {
                tokio::time::sleep(t).await;
            }
        }
        if route.stall_after.is_some() {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

// ---------------------------------------------------------------- the agent binary

pub struct AgentProcess {
    pub child: std::process::Child,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl AgentProcess {
    pub fn spawn(authority: SocketAddr, env: &[(&str, &str)]) -> Self {
        Self::spawn_in(None, authority, "console=ttyS0", env)
    }

    /// The agent with `cmdline` as its kernel command line, inside network namespace
    /// `netns` when given (`ip netns exec` execs the agent: the PID is the agent's).
    pub fn spawn_in(
        netns: Option<&str>,
        authority: SocketAddr,
        cmdline_text: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("agent.log");
        let cmdline = dir.path().join("cmdline");
        std::fs::write(&cmdline, cmdline_text).unwrap();
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let bin = env!("CARGO_BIN_EXE_ironbell-agent");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "exec", ns, bin]);
                c
            }
            None => std::process::Command::new(bin),
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("IRONBELL_CMDLINE", &cmdline)
            .env("GRPC_AUTHORITY", authority.to_string())
            .env("WORKER_ID", "agent-1")
            .env("BACKOFF_MAX_INTERVAL", "1s")
            .env("DOCKER_SOCKET", dir.path().join("no-docker.sock"))
            .env("POWER_DRY_RUN", "true")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- data and devices

/// A compressible test image: a repeated pattern with pseudo-random blocks.
pub fn test_image(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = 0usize;
    while v.len() < len {
        if block % 7 == 3 {
            for _ in 0..4096 / 8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes());
            }
        } else {
            v.extend((0..4096u32).map(|i| (i % 61) as u8 ^ block as u8));
        }
        block += 1;
    }
    v.truncate(len);
    v
}

pub fn compress(data: &[u8], format: &str) -> Vec<u8> {
    use std::io::Write;
    match format {
        "raw" => data.to_vec(),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        other => panic!("unknown format {other}"),
    }
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A loop device, detached (by its name) on drop.
pub struct Loop {
    pub dev: String,
}

impl Loop {
    /// Attaches `file` (with `offset`/`size` in bytes, if given). `None` (after printing
    /// why) when this machine cannot: not root, or no loop support.
    pub fn attach(file: &Path, range: Option<(u64, u64)>, partscan: bool) -> Option<Self> {
        if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Root)
            || ironbell_testbed::require_tool("losetup").is_none()
        {
            return None;
        }
        if !Path::new("/dev/loop-control").exists() {
            ironbell_testbed::missing("loop devices are missing (no /dev/loop-control)");
            return None;
        }
        let mut args = vec!["-f".to_string(), "--show".into()];
        if partscan {
            args.push("-P".into());
        }
        if let Some((off, size)) = range {
            args.extend([
                "-o".into(),
                off.to_string(),
                "--sizelimit".into(),
                size.to_string(),
            ]);
        }
        args.push(file.display().to_string());
        let out = std::process::Command::new("losetup")
            .args(&args)
            .output()
            .unwrap();
        if !out.status.success() {
            ironbell_testbed::missing(&format!(
                "losetup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        Some(Self {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.dev])
            .status();
    }
}

// ---------------------------------------------------------------- agent tokens

/// The agent token the workflow controller created for Workflow `default/<workflow>`,
/// waited for (polled) up to 30 s.
pub async fn wait_token(store: &ironbell_store::SharedStore, workflow: &str) -> String {
    use ironbell_model::agent_token::{AgentToken, secret_name};
    use ironbell_model::corev1::Secret;
    let api: ironbell_store::Api<Secret> = ironbell_store::Api::new(store.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = api.get("default", &secret_name(workflow)).await
            && let Some(t) = AgentToken::from_secret(&s)
        {
            return t.token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agent token for {workflow}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
