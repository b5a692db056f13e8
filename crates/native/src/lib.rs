//! # ironbell-native
//!
//! `ironbell node up` on a control-plane machine of a cluster built with the `native` node
//! bootstrapper: the machine's etcd member, which the `ironbell` command then runs a replica
//! of the plane on (`serve all` on this etcd). Together, the control-plane machines are the
//! cluster's management plane: ironbell's services on a replicated etcd, not Kubernetes.
//!
//! What [`Member::start`] does, every step safe to repeat after a crash or a reboot:
//!
//! 1. the member's certificates (server, peer, client), issued from the cluster's etcd CA
//!    for this machine's address and kept under `<dataDir>/pki` (`0600` in a `0700`
//!    directory); issued again when one is missing;
//! 2. how to start: with etcd data already in `<dataDir>/etcd`, as it was; else, with no
//!    `join` URLs, a new one-member cluster; else the member is added to the cluster at
//!    `join` (`member add`, as `etcdctl member add` does, retried while etcd refuses it,
//!    for instance while an earlier member has not started yet), unless an earlier,
//!    interrupted start added it already, and started with the cluster's member list;
//! 3. etcd started as a child process (client and peer TLS with client-certificate
//!    authentication, logging to `<dataDir>/etcd.log`), and awaited until it answers.
//!
//! What it is not: the replica (the `ironbell` command runs `serve all` in-process on
//! [`Member::store_spec`]), or the rendering of the node's user-data
//! (`ironbell_bootstrap::native`). The etcd binary is Debian's `etcd-server`.
//!
//! Start reading at [`Member::start`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ironbell_bootstrap::certs::KeyPair;
use ironbell_bootstrap::native::{CLIENT_PORT, MemberCertificates, NodeConfig, PEER_PORT};
use ironbell_store_etcd::{Config as EtcdConfig, EtcdStore, TlsConfig};
use tokio::process::{Child, Command};

/// How long a join keeps asking the cluster to add this member.
const JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// What went wrong starting a member.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read, written or created.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificates could not be issued.
    #[error("member {name}: issuing its certificates: {source}")]
    Certificates {
        /// The member.
        name: String,
        /// Why.
        source: ironbell_bootstrap::certs::CertError,
    },
    /// No address to use.
    #[error("{0}")]
    Address(String),
    /// etcd refused or did not answer.
    #[error("etcd member {name}: {message}")]
    Etcd {
        /// The member.
        name: String,
        /// What happened.
        message: String,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// This machine's address: that of `interface` when given, else the first global IPv4
/// address of any interface, with the interface's name.
pub fn host_address(interface: Option<&str>) -> Result<(String, IpAddr), Error> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| Error::Address(format!("listing the interfaces: {e}")))?;
    for ifa in addrs {
        if interface.is_some_and(|i| i != ifa.interface_name) {
            continue;
        }
        let Some(ip) = ifa
            .address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|s| s.ip())
        else {
            continue;
        };
        if ip.is_loopback() || ip.is_link_local() || ip.is_unspecified() {
            continue;
        }
        return Ok((ifa.interface_name, IpAddr::V4(ip)));
    }
    Err(Error::Address(match interface {
        Some(i) => format!("interface {i} has no IPv4 address"),
        None => "no interface has a global IPv4 address".into(),
    }))
}

/// Where a member keeps its files.
#[derive(Clone, Debug)]
pub struct Paths {
    /// `<dataDir>/pki`: `ca.crt`, `server|peer|client.crt|key`.
    pub pki: PathBuf,
    /// `<dataDir>/etcd`: etcd's data.
    pub etcd_data: PathBuf,
    /// `<dataDir>/etcd.log`.
    pub log: PathBuf,
}

impl Paths {
    /// The files under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            pki: data_dir.join("pki"),
            etcd_data: data_dir.join("etcd"),
            log: data_dir.join("etcd.log"),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.pki.join(name)
    }

    /// TLS for a client of the members: the CA and the member's client certificate.
    pub fn client_tls(&self) -> TlsConfig {
        TlsConfig {
            ca_cert: Some(self.file("ca.crt")),
            cert: Some(self.file("client.crt")),
            key: Some(self.file("client.key")),
            server_name: None,
        }
    }
}

fn private_dir(dir: &Path) -> Result<(), Error> {
    ironbell_files::private_dir(dir).map_err(io("creating", dir))
}

fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    ironbell_files::write_private(path, text.as_bytes()).map_err(io("writing", path))
}

/// Writes the member's certificates unless all are there.
fn ensure_certificates(
    config: &NodeConfig,
    paths: &Paths,
    name: &str,
    address: IpAddr,
) -> Result<(), Error> {
    private_dir(&paths.pki)?;
    let names = [
        "ca.crt",
        "server.crt",
        "server.key",
        "peer.crt",
        "peer.key",
        "client.crt",
        "client.key",
    ];
    if names.iter().all(|n| paths.file(n).is_file()) {
        return Ok(());
    }
    let MemberCertificates {
        server,
        peer,
        client,
    } = ironbell_bootstrap::native::member_certificates(
        &config.etcd_ca(),
        name,
        address,
        ironbell_model::values::now(),
    )
    .map_err(|source| Error::Certificates {
        name: name.to_string(),
        source,
    })?;
    write_private(&paths.file("ca.crt"), &config.etcd_ca_cert)?;
    for (stem, pair) in [("server", &server), ("peer", &peer), ("client", &client)] {
        let pair: &KeyPair = pair;
        write_private(&paths.file(&format!("{stem}.key")), pair.key_pem())?;
        write_private(&paths.file(&format!("{stem}.crt")), pair.cert_pem())?;
    }
    Ok(())
}

fn url(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(a) => format!("https://{a}:{port}"),
        IpAddr::V6(a) => format!("https://[{a}]:{port}"),
    }
}

/// How etcd is to start: `--initial-cluster` and `--initial-cluster-state`.
#[derive(Debug, PartialEq, Eq)]
struct Start {
    initial_cluster: String,
    state: &'static str,
}

/// A running etcd member on this machine.
#[derive(Debug)]
pub struct Member {
    child: Child,
    /// The member's name.
    pub name: String,
    /// The address it serves on.
    pub address: IpAddr,
    /// Its files.
    pub paths: Paths,
}

impl Member {
    /// Starts this machine's member (see the crate docs) and waits up to `timeout` for it
    /// to answer.
    pub async fn start(
        config: &NodeConfig,
        name: &str,
        address: IpAddr,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let span = tracing::info_span!("etcd member", member = name, %address);
        let _enter = span.enter();
        let paths = Paths::new(&config.data_dir);
        private_dir(&config.data_dir)?;
        ensure_certificates(config, &paths, name, address)?;
        let peer_url = url(address, PEER_PORT);
        let start = if paths.etcd_data.join("member").is_dir() {
            tracing::info!("restarting with the data in {}", paths.etcd_data.display());
            Start {
                initial_cluster: format!("{name}={peer_url}"),
                state: "existing",
            }
        } else if config.join.is_empty() {
            tracing::info!("starting a new etcd cluster");
            Start {
                initial_cluster: format!("{name}={peer_url}"),
                state: "new",
            }
        } else {
            join(config, &paths, name, &peer_url).await?
        };
        let client_url = url(address, CLIENT_PORT);
        let pki = |n: &str| paths.file(n).display().to_string();
        let args: Vec<String> = vec![
            "--name".into(),
            name.into(),
            "--data-dir".into(),
            paths.etcd_data.display().to_string(),
            "--listen-client-urls".into(),
            format!("{client_url},https://127.0.0.1:{CLIENT_PORT}"),
            "--advertise-client-urls".into(),
            client_url,
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url,
            "--initial-cluster".into(),
            start.initial_cluster,
            "--initial-cluster-state".into(),
            start.state.into(),
            "--initial-cluster-token".into(),
            config.cluster.clone(),
            "--client-cert-auth".into(),
            "--trusted-ca-file".into(),
            pki("ca.crt"),
            "--cert-file".into(),
            pki("server.crt"),
            "--key-file".into(),
            pki("server.key"),
            "--peer-client-cert-auth".into(),
            "--peer-trusted-ca-file".into(),
            pki("ca.crt"),
            "--peer-cert-file".into(),
            pki("peer.crt"),
            "--peer-key-file".into(),
            pki("peer.key"),
            "--max-txn-ops".into(),
            "1000".into(),
            "--logger".into(),
            "zap".into(),
        ];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&paths.log)
            .map_err(io("opening", &paths.log))?;
        let log2 = log.try_clone().map_err(io("opening", &paths.log))?;
        let child = Command::new(&config.etcd)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true)
            .spawn()
            .map_err(io("starting", &config.etcd))?;
        let mut member = Self {
            child,
            name: name.to_string(),
            address,
            paths,
        };
        member.wait_ready(timeout).await?;
        tracing::info!("etcd member serving");
        Ok(member)
    }

    /// The replica's store: this member first, then the ones it joined, with the client
    /// certificate.
    pub fn store_spec(&self, join: &[String]) -> String {
        let mut hosts = vec![url(self.address, CLIENT_PORT)];
        hosts.extend(join.iter().cloned());
        let hosts: Vec<String> = hosts
            .iter()
            .map(|h| h.trim_start_matches("https://").to_string())
            .collect();
        let tls = self.paths.client_tls();
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        format!(
            "etcds://{}/ironbell?cacert={}&cert={}&key={}",
            hosts.join(","),
            path(&tls.ca_cert),
            path(&tls.cert),
            path(&tls.key)
        )
    }

    /// Waits until the member answers a status request, or fails if etcd exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let endpoint = url(self.address, CLIENT_PORT);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io("waiting for", &self.paths.log))?
            {
                return Err(Error::Etcd {
                    name: self.name.clone(),
                    message: format!("etcd exited ({status}); see {}", self.paths.log.display()),
                });
            }
            match status(&endpoint, &self.paths).await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::Etcd {
                        name: self.name.clone(),
                        message: format!("not answering after {timeout:?}: {e}"),
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// Stops etcd (SIGTERM, then SIGKILL after 10 s).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// A client of the members at `endpoints` with the member's client certificate.
async fn client(endpoints: Vec<String>, paths: &Paths) -> Result<etcd_client::Client, String> {
    let mut config = EtcdConfig::new(endpoints, "/ironbell");
    config.tls = Some(paths.client_tls());
    config.connect_timeout = Duration::from_secs(2);
    let store = EtcdStore::new(config).map_err(|e| e.to_string())?;
    store.client().await.map_err(|e| e.to_string())
}

/// Asks the member at `endpoint` for its status.
async fn status(endpoint: &str, paths: &Paths) -> Result<(), String> {
    let mut c = client(vec![endpoint.to_string()], paths).await?;
    tokio::time::timeout(Duration::from_secs(3), c.status())
        .await
        .map_err(|_| "no status in 3 s".to_string())?
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Adds this member to the cluster at `config.join` (unless an earlier start did) and
/// returns how to start it.
async fn join(
    config: &NodeConfig,
    paths: &Paths,
    name: &str,
    peer_url: &str,
) -> Result<Start, Error> {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    let failed = |message: String| Error::Etcd {
        name: name.to_string(),
        message,
    };
    loop {
        let attempt = async {
            let mut c = client(config.join.clone(), paths).await?;
            let members = c.member_list().await.map_err(|e| e.to_string())?;
            let ours = members
                .members()
                .iter()
                .find(|m| m.peer_urls().iter().any(|u| u == peer_url))
                .map(|m| m.id());
            let (new_id, list) = match ours {
                Some(id) => (id, members.members().to_vec()),
                None => {
                    let added = c
                        .member_add([peer_url], None)
                        .await
                        .map_err(|e| e.to_string())?;
                    let id = added.member().map(|m| m.id()).unwrap_or_default();
                    (id, added.member_list().to_vec())
                }
            };
            // etcdctl member add's ETCD_INITIAL_CLUSTER: every member, the new one named.
            let mut parts = Vec::new();
            for m in &list {
                let n = if m.id() == new_id { name } else { m.name() };
                for u in m.peer_urls() {
                    parts.push(format!("{n}={u}"));
                }
            }
            Ok::<_, String>(parts.join(","))
        };
        match attempt.await {
            Ok(initial_cluster) => {
                tracing::info!(%initial_cluster, "added to the etcd cluster");
                return Ok(Start {
                    initial_cluster,
                    state: "existing",
                });
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(failed(format!("joining {}: {e}", config.join.join(","))));
            }
            Err(e) => {
                tracing::info!("joining {}: {e}; again", config.join.join(","));
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Waits until the member of this machine (at `address`, files under `config.data_dir`)
/// answers: `ironbell node wait`.
pub async fn wait_for_member(
    config: &NodeConfig,
    address: IpAddr,
    timeout: Duration,
) -> Result<(), Error> {
    let paths = Paths::new(&config.data_dir);
    let endpoint = url(address, CLIENT_PORT);
    let deadline = Instant::now() + timeout;
    loop {
        match status(&endpoint, &paths).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Etcd {
                    name: config.name.clone().unwrap_or_default(),
                    message: format!("not answering at {endpoint} after {timeout:?}: {e}"),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
