//! Real etcd servers for the tests: Debian's `etcd` binary on loopback ports picked here,
//! data in a temporary directory (in `/dev/shm` where there is one), killed by PID when
//! dropped. [`Cluster::start_in`] runs them in a test's network namespace instead, at one
//! of its addresses, for clients in other namespaces of that network (the CLI's replica
//! tests include this file).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod membership;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ironbell_store::Store;
use ironbell_store_etcd::{Config, EtcdStore, TlsConfig};
use ironbell_testbed::ChildGuard;

/// The largest request the test servers take: above the 1.5 MiB default, so that a commit
/// of several large objects fits (see the crate docs).
const MAX_REQUEST_BYTES: &str = "8388608";

/// One etcd member.
pub struct Member {
    pub name: String,
    pub client_url: String,
    pub peer_url: String,
    child: Option<ChildGuard>,
    /// How it was started, to start it again on its data.
    command: Option<(PathBuf, Vec<std::ffi::OsString>, PathBuf)>,
    /// The network namespace it runs in (`None`: this process's).
    netns: Option<String>,
}

impl Member {
    /// The member's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(ChildGuard::id)
    }

    /// Kills the member (SIGKILL, by its PID) and reaps it.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = child.finish();
        }
    }

    /// Starts the killed member again on its data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "member {} runs", self.name);
        let (etcd, args, log) = self.command.clone().expect("started once");
        self.child =
            Some(spawn(self.netns.as_deref(), &etcd, &args, &log).expect("restarting etcd"));
    }

    /// Its client URL.
    pub fn endpoint(&self) -> String {
        self.client_url.clone()
    }
}

/// A running etcd cluster of one or more members.
pub struct Cluster {
    pub members: Vec<Member>,
    /// TLS the members' client URLs serve, as a store needs it.
    pub tls: Option<TlsConfig>,
    /// The members' `--max-txn-ops`, when not etcd's default; stores are given it.
    pub max_txn_ops: Option<usize>,
    dir: tempfile::TempDir,
}

/// TLS for the members' client URLs: `(server certificate, server key, CA that signed
/// client certificates)`, PEM files; with it members require a client certificate.
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
    /// What a store presents: the CA of the server certificate and a client certificate.
    pub client: TlsConfig,
}

fn spawn(
    netns: Option<&str>,
    etcd: &Path,
    args: &[std::ffi::OsString],
    log: &Path,
) -> Result<ChildGuard, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    // `ip netns exec` execs etcd in place: the PID is etcd's.
    let mut command = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(etcd);
            c
        }
        None => Command::new(etcd),
    };
    let child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawning etcd: {e}"))?;
    Ok(ChildGuard::new(child))
}

/// A loopback port free now and not handed out before by this process: the kernel may
/// offer a port again once its probe listener is closed, and two members (of clusters that
/// parallel tests start) given the same port would leave one of them dead while the other
/// answers for it.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Where the member `name` of a cluster in `dir` logs.
fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("ironbell-etcd")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("temporary directory")
}

impl Cluster {
    /// Starts `n` members and waits until every one answers with a leader. `None` when
    /// the `etcd` binary is missing (outside CI; under CI the test fails).
    pub async fn start(n: usize) -> Option<Self> {
        Self::start_with(n, None).await
    }

    /// [`Cluster::start`], the client URLs serving TLS when `tls` is given.
    pub async fn start_with(n: usize, tls: Option<&ServerTls>) -> Option<Self> {
        Self::start_full(n, tls, None).await
    }

    /// [`Cluster::start`] with the members' `--max-txn-ops` set to `max_txn_ops`.
    pub async fn start_with_max_txn_ops(n: usize, max_txn_ops: usize) -> Option<Self> {
        Self::start_full(n, None, Some(max_txn_ops)).await
    }

    /// [`Cluster::start`] inside the network namespace `netns`, listening on its address
    /// `ip`. Readiness is checked from inside it (curl on each member's `/health`); stores
    /// of this process cannot reach the members, so use their endpoints from processes run
    /// in the namespace's network.
    pub async fn start_in(n: usize, netns: &str, ip: std::net::Ipv4Addr) -> Option<Self> {
        Self::start_placed(n, None, None, Some((netns, ip))).await
    }

    async fn start_full(
        n: usize,
        tls: Option<&ServerTls>,
        max_txn_ops: Option<usize>,
    ) -> Option<Self> {
        Self::start_placed(n, tls, max_txn_ops, None).await
    }

    async fn start_placed(
        n: usize,
        tls: Option<&ServerTls>,
        max_txn_ops: Option<usize>,
        place: Option<(&str, std::net::Ipv4Addr)>,
    ) -> Option<Self> {
        let etcd = ironbell_testbed::require_tool("etcd")?;
        for attempt in 0..3 {
            match Self::try_start(&etcd, n, tls, max_txn_ops, place).await {
                Ok(c) => return Some(c),
                Err(e) if attempt < 2 => eprintln!("etcd did not start ({e}); again"),
                Err(e) => panic!("etcd did not start: {e}"),
            }
        }
        None
    }

    async fn try_start(
        etcd: &Path,
        n: usize,
        tls: Option<&ServerTls>,
        max_txn_ops: Option<usize>,
        place: Option<(&str, std::net::Ipv4Addr)>,
    ) -> Result<Self, String> {
        let dir = scratch_dir();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = place.map_or("127.0.0.1".to_string(), |(_, ip)| ip.to_string());
        let netns = place.map(|(ns, _)| ns.to_string());
        let mut members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_url: format!("{scheme}://{host}:{}", free_port()),
                peer_url: format!("http://{host}:{}", free_port()),
                child: None,
                command: None,
                netns: netns.clone(),
            })
            .collect();
        let initial: Vec<String> = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        let initial = initial.join(",");
        // Unique per cluster: a member of another test's cluster reached by mistake belongs
        // to another cluster ID, which the identity check below sees.
        let token = format!(
            "ironbell-test-{}",
            dir.path()
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        );
        for m in &mut members {
            let data: PathBuf = dir.path().join(&m.name);
            let log = log_path(dir.path(), &m.name);
            let args: Vec<std::ffi::OsString> = [
                "--name",
                &m.name,
                "--data-dir",
                &data.display().to_string(),
                "--listen-client-urls",
                &m.client_url,
                "--advertise-client-urls",
                &m.client_url,
                "--listen-peer-urls",
                &m.peer_url,
                "--initial-advertise-peer-urls",
                &m.peer_url,
                "--initial-cluster",
                &initial,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                &token,
                "--heartbeat-interval",
                "50",
                "--election-timeout",
                "500",
                "--max-request-bytes",
                MAX_REQUEST_BYTES,
                "--logger",
                "zap",
                "--log-level",
                "info",
            ]
            .iter()
            .map(Into::into)
            .collect();
            let mut args = args;
            if let Some(ops) = max_txn_ops {
                args.push("--max-txn-ops".into());
                args.push(ops.to_string().into());
            }
            if let Some(t) = tls {
                args.push("--client-cert-auth".into());
                for (flag, path) in [
                    ("--cert-file", &t.cert),
                    ("--key-file", &t.key),
                    ("--trusted-ca-file", &t.client_ca),
                ] {
                    args.push(flag.into());
                    args.push(path.into());
                }
            }
            m.child = Some(spawn(m.netns.as_deref(), etcd, &args, &log)?);
            m.command = Some((etcd.to_path_buf(), args, log));
        }
        let cluster = Self {
            members,
            tls: tls.map(|t| t.client.clone()),
            max_txn_ops,
            dir,
        };
        for m in &cluster.members {
            let store = cluster.store_on(&[m.endpoint()], "/probe");
            let up = wait_async(Duration::from_secs(20), || {
                let store = store.clone();
                let health = m
                    .netns
                    .clone()
                    .map(|ns| (ns, format!("{}/health", m.client_url)));
                async move {
                    match health {
                        None => store.revision().await.is_ok(),
                        Some((ns, url)) => tokio::task::spawn_blocking(move || {
                            Command::new("ip")
                                .args(["netns", "exec", &ns, "curl", "-sf", "-m", "1", &url])
                                .output()
                                .is_ok_and(|o| {
                                    o.status.success()
                                        && String::from_utf8_lossy(&o.stdout).contains("true")
                                })
                        })
                        .await
                        .unwrap_or(false),
                    }
                }
            })
            .await;
            if !up {
                return Err(format!(
                    "member {} did not answer:\n{}",
                    m.name,
                    cluster.log_tail(m)
                ));
            }
        }
        if netns.is_none() {
            cluster.check_identities().await?;
        }
        Ok(cluster)
    }

    /// Checks that each member's client URL is answered by that member of this cluster
    /// (its name, one cluster ID for all).
    pub async fn check_identities(&self) -> Result<(), String> {
        let mut cluster_id = None;
        for m in &self.members {
            let store = self.store_on(&[m.endpoint()], "/probe");
            let mut client = store.client().await.map_err(|e| e.to_string())?;
            let status = client.status().await.map_err(|e| e.to_string())?;
            let header = status.header().ok_or("a status without a header")?;
            let list = client.member_list().await.map_err(|e| e.to_string())?;
            let name = list
                .members()
                .iter()
                .find(|x| x.id() == header.member_id())
                .map(|x| x.name().to_string());
            if name.as_deref() != Some(m.name.as_str()) {
                return Err(format!(
                    "{} is answered by member {name:?}, not {}",
                    m.client_url, m.name
                ));
            }
            if *cluster_id.get_or_insert(header.cluster_id()) != header.cluster_id() {
                return Err(format!("{} belongs to another cluster", m.client_url));
            }
        }
        Ok(())
    }

    /// Every member's `host:port`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// A store on `endpoints` under `prefix`, with short timeouts.
    pub fn store_on(&self, endpoints: &[String], prefix: &str) -> EtcdStore {
        let mut config = Config::new(endpoints.to_vec(), prefix);
        config.connect_timeout = Duration::from_secs(1);
        config.request_timeout = Duration::from_secs(10);
        config.tls = self.tls.clone();
        if let Some(ops) = self.max_txn_ops {
            config.max_txn_ops = ops;
        }
        EtcdStore::new(config).expect("etcd config")
    }

    /// A store on every member under `prefix`.
    pub fn store(&self, prefix: &str) -> EtcdStore {
        self.store_on(&self.endpoints(), prefix)
    }

    /// The name of the member that leads, as a member reports it.
    pub async fn leader(&self, store: &EtcdStore) -> Option<usize> {
        let mut client = store.client().await.ok()?;
        let status = client.status().await.ok()?;
        let leader = status.leader();
        let members = client.member_list().await.ok()?;
        let name = members
            .members()
            .iter()
            .find(|m| m.id() == leader)?
            .name()
            .to_string();
        self.members.iter().position(|m| m.name == name)
    }
}

/// How many of each member's last notable log lines a failing test prints.
const LOG_TAIL: usize = 20;

/// One line of a member's JSON log, shortened to its time, level, message and error, when
/// it is notable: a warning or worse, or a Raft event (votes, elections, leader changes).
fn notable(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    let level = field("level");
    if level == "info" && !field("caller").starts_with("raft/") {
        return None;
    }
    let time = field("ts").split('T').nth(1).unwrap_or("");
    let error = field("error");
    let error = if error.is_empty() {
        String::new()
    } else {
        format!(" ({error})")
    };
    Some(format!("{time} {level} {}{error}", field("msg")))
}

impl Cluster {
    /// Each member's last [`LOG_TAIL`] notable log lines (elections, leader changes,
    /// lost peers, slow disk or heartbeats): what a failing test prints, so that a failure
    /// in CI says what etcd was doing.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let state = if m.child.is_some() {
                "running"
            } else {
                "killed"
            };
            out.push_str(&format!(
                "--- etcd member {} ({state}), its last notable log lines:\n",
                m.name
            ));
            out.push_str(&self.log_tail(m));
        }
        out
    }

    /// The last [`LOG_TAIL`] notable lines of `member`'s log, one per line.
    fn log_tail(&self, member: &Member) -> String {
        let log =
            std::fs::read_to_string(log_path(self.dir.path(), &member.name)).unwrap_or_default();
        let lines: Vec<String> = log.lines().filter_map(notable).collect();
        let from = lines.len().saturating_sub(LOG_TAIL);
        lines[from..].iter().map(|l| format!("{l}\n")).collect()
    }
}

impl Drop for Cluster {
    /// A test that panics while the cluster runs prints the members' log tails.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails());
        }
    }
}

/// Polls the async condition `cond` until it holds or `timeout` passes: whether it held.
pub async fn wait_async<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// A store that keeps its etcd cluster running as long as it lives: what the conformance
/// cases get, so that each case has a fresh server (its revisions and compactions are its
/// own) which is killed when the case ends.
pub struct Served {
    pub store: EtcdStore,
    _cluster: Cluster,
}

impl Served {
    /// A fresh cluster of `members` and a store on all of them; `None` when etcd is not
    /// installed.
    pub async fn start(members: usize, prefix: &str) -> Option<Self> {
        let cluster = Cluster::start(members).await?;
        Some(Self {
            store: cluster.store(prefix),
            _cluster: cluster,
        })
    }
}

#[async_trait::async_trait]
impl Store for Served {
    async fn get(
        &self,
        types: &ironbell_model::TypeKey,
        namespace: &str,
        name: &str,
    ) -> ironbell_store::Result<ironbell_model::DynamicObject> {
        self.store.get(types, namespace, name).await
    }

    async fn list(
        &self,
        types: &ironbell_model::TypeKey,
        params: &ironbell_store::ListParams,
    ) -> ironbell_store::Result<ironbell_store::ObjectList> {
        self.store.list(types, params).await
    }

    async fn update_status(
        &self,
        obj: ironbell_model::DynamicObject,
    ) -> ironbell_store::Result<ironbell_model::DynamicObject> {
        self.store.update_status(obj).await
    }

    fn capabilities(&self) -> ironbell_store::Capabilities {
        self.store.capabilities()
    }

    async fn commit(
        &self,
        ops: Vec<ironbell_store::Op>,
    ) -> ironbell_store::Result<Vec<ironbell_model::DynamicObject>> {
        self.store.commit(ops).await
    }

    async fn watch(
        &self,
        types: &ironbell_model::TypeKey,
        params: &ironbell_store::ListParams,
        resource_version: Option<u64>,
    ) -> ironbell_store::Result<ironbell_store::WatchStream> {
        self.store.watch(types, params, resource_version).await
    }

    async fn compact(&self, keep_after: u64) -> ironbell_store::Result<()> {
        self.store.compact(keep_after).await
    }
}
