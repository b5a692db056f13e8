//! Opening a store from a spec.
//!
//! A spec is `sqlite:PATH` or a bare path (the embedded store), an etcd cluster, or a
//! Kubernetes API server; any other `scheme://` is an unknown scheme. A bare path
//! containing `:` but no `://` (`./a:b.db`) is a path.
//!
//! ## Kubernetes
//!
//! ```text
//! kube://            (also kubernetes://, k8s://)
//! kubeconfig:PATH
//! ```
//!
//! `kube://` finds the API server and credentials as kubectl does (`$KUBECONFIG`,
//! `~/.kube/config`, or the pod's service account inside a cluster); `kubeconfig:PATH` uses
//! that file's current context (`ironbell kubeconfig` writes one for a plane's API). The
//! objects are Tinkerbell's custom resources and the built-in kinds: see
//! `ironbell-store-kube` for what the cluster must serve and what is not atomic there.
//!
//! ## etcd
//!
//! ```text
//! etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?max-txn-ops=N]
//! etcds://HOST:PORT[,HOST:PORT...][/PREFIX]?cacert=PATH[&cert=PATH&key=PATH][&server-name=NAME][&max-txn-ops=N]
//! ```
//!
//! - The hosts are the members' client endpoints, as `etcdctl --endpoints` takes them; give
//!   every member so that the store keeps working while one is down. A host without a port
//!   gets etcd's 2379; IPv6 addresses go in brackets (`[fd00::1]:2379`).
//! - `PREFIX` (default `/ironbell`) is the plane's key prefix, so several planes can share
//!   one etcd (see `ironbell-store-etcd` for the key layout).
//! - `etcds://` speaks TLS. Its parameters are named after `etcdctl`'s flags: `cacert` (the
//!   CA that signed the members' certificates, required: there is no system trust store
//!   for etcd), `cert` and `key` (a client certificate, for etcd's `--client-cert-auth`),
//!   `server-name` (the name the members' certificates carry, when it is not the host).
//!   Paths are taken as written (no percent-decoding); a path holding `&` or `?` cannot be
//!   given here. TLS parameters on `etcd://` are refused, so that a missing `s` never sends
//!   in clear what was meant to be encrypted.
//! - `max-txn-ops=N` (on either scheme): the most objects one commit writes, the members'
//!   `--max-txn-ops` (etcd's default, 128, when not given). A `hardware import` commits all
//!   its objects at once (three per machine with a BMC), so large imports need it raised on
//!   the members and here.
//! - User names and passwords (`user:password@`) are refused: etcd's password
//!   authentication is not supported; use client certificates. The error does not repeat
//!   the spec, in case it holds a password.
//!
//! [`Access::Existing`] cannot tell an empty etcd prefix from a missing one: on etcd it
//! opens as [`Access::Create`] does (nothing is created by opening). On etcd the replica
//! that runs the controllers is elected ([`StoreHandle::controller_election`], see
//! `crate::plane`), and the replicas serving DHCP split the clients through a membership
//! ([`StoreHandle::dhcp_membership`]).
//!
//! A new store is private: its directory is created 0700 and the database 0600 (it holds
//! BMC credentials). Read-only commands open with [`Access::Existing`], which refuses a
//! missing database instead of creating an empty one.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use ironbell_store::SharedStore;
use ironbell_store_etcd::{
    Config as EtcdConfig, ETCD_MAX_TXN_OPS, Election, ElectionConfig, EtcdStore, Membership,
    MembershipConfig, TlsConfig,
};
use ironbell_store_kube::{KubeStore, Source};
use ironbell_store_sqlite::{ControllerLock, SqliteStore};

use crate::OpsError;

/// Where a store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded store: one SQLite file.
    Sqlite(PathBuf),
    /// An etcd cluster (see the module docs).
    Etcd(EtcdConfig),
    /// A Kubernetes API server: the kubeconfig file given, or (`None`) the one kubectl
    /// would use (see the module docs).
    Kube(Option<PathBuf>),
}

/// The schemes of [`StoreSpec::Kube`] without a file.
const KUBE_SCHEMES: &[&str] = &["kube", "kubernetes", "k8s"];

/// etcd's client port, for a host given without one.
const ETCD_PORT: u16 = 2379;

fn etcd_spec_error(reason: impl Into<String>) -> OpsError {
    OpsError::EtcdSpec {
        reason: reason.into(),
    }
}

/// Parses what follows `etcd://` or `etcds://`.
fn parse_etcd(rest: &str, tls: bool) -> Result<EtcdConfig, OpsError> {
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (hosts, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if hosts.contains('@') {
        return Err(etcd_spec_error(
            "user names and passwords are not supported (etcd password authentication); use \
             etcds:// with a client certificate",
        ));
    }
    let mut endpoints = Vec::new();
    for host in hosts.split(',') {
        let host = host.trim();
        if host.is_empty() {
            return Err(etcd_spec_error("an endpoint is empty"));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(etcd_spec_error(format!(
                "endpoint {host:?} contains white space"
            )));
        }
        let has_port = match host.rfind(']') {
            Some(close) => host[close..].contains(':'),
            None => host.contains(':'),
        };
        if let Some((_, port)) = host.rsplit_once(':').filter(|_| has_port)
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(etcd_spec_error(format!(
                "endpoint {host:?}: {port:?} is not a port"
            )));
        }
        let host = if has_port {
            host.to_string()
        } else {
            format!("{host}:{ETCD_PORT}")
        };
        endpoints.push(if tls {
            format!("https://{host}")
        } else {
            format!("http://{host}")
        });
    }
    let mut config = EtcdConfig::new(
        endpoints,
        if prefix.is_empty() {
            "/ironbell"
        } else {
            prefix
        },
    );
    let mut options = TlsConfig::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if value.is_empty() {
            return Err(etcd_spec_error(format!("parameter {name:?} has no value")));
        }
        match name {
            "cacert" => options.ca_cert = Some(PathBuf::from(value)),
            "cert" => options.cert = Some(PathBuf::from(value)),
            "key" => options.key = Some(PathBuf::from(value)),
            "server-name" => options.server_name = Some(value.to_string()),
            "max-txn-ops" => {
                config.max_txn_ops = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    etcd_spec_error(format!("max-txn-ops={value:?} is not a positive number"))
                })?;
            }
            other => {
                return Err(etcd_spec_error(format!(
                    "unknown parameter {other:?} (cacert, cert, key, server-name, max-txn-ops)"
                )));
            }
        }
    }
    if !tls {
        if options != TlsConfig::default() {
            return Err(etcd_spec_error(
                "TLS parameters on etcd:// (plain text): use etcds://",
            ));
        }
        return Ok(config);
    }
    if options.ca_cert.is_none() {
        return Err(etcd_spec_error("etcds:// needs cacert=PATH"));
    }
    if options.cert.is_some() != options.key.is_some() {
        return Err(etcd_spec_error(
            "a client certificate needs both cert=PATH and key=PATH",
        ));
    }
    config.tls = Some(options);
    Ok(config)
}

impl FromStr for StoreSpec {
    type Err = OpsError;

    fn from_str(spec: &str) -> Result<Self, OpsError> {
        let empty = || OpsError::EmptySpec {
            spec: spec.to_string(),
        };
        if spec.trim().is_empty() {
            return Err(empty());
        }
        let scheme = spec.split_once(':').map(|(s, _)| s).filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let Some(scheme) = scheme else {
            return Ok(Self::Sqlite(PathBuf::from(spec)));
        };
        let lower = scheme.to_ascii_lowercase();
        let rest = &spec[scheme.len() + 1..];
        if lower == "sqlite" {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(empty());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if lower == "etcd" || lower == "etcds" {
            let rest = rest
                .strip_prefix("//")
                .ok_or_else(|| etcd_spec_error(format!("{lower}: must be followed by //")))?;
            let config = parse_etcd(rest, lower == "etcds")?;
            // Refuse what the store would refuse, at parse time.
            EtcdStore::new(config.clone())?;
            return Ok(Self::Etcd(config));
        }
        let kube_error = |reason| OpsError::KubeSpec {
            spec: spec.to_string(),
            reason,
        };
        if KUBE_SCHEMES.contains(&lower.as_str()) {
            return match rest {
                "//" => Ok(Self::Kube(None)),
                _ => Err(kube_error(
                    "nothing may follow kube://: the server and credentials come from a kubeconfig",
                )),
            };
        }
        if lower == "kubeconfig" {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(kube_error("kubeconfig: needs the file's path"));
            }
            return Ok(Self::Kube(Some(PathBuf::from(path))));
        }
        if rest.starts_with("//") {
            return Err(OpsError::UnknownScheme {
                spec: spec.to_string(),
                scheme: scheme.to_string(),
            });
        }
        Ok(Self::Sqlite(PathBuf::from(spec)))
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Kube(None) => f.write_str("kube://"),
            Self::Kube(Some(path)) => write!(f, "kubeconfig:{}", path.display()),
            Self::Etcd(config) => {
                let tls = config.tls.as_ref();
                let hosts: Vec<&str> = config
                    .endpoints
                    .iter()
                    .map(|e| {
                        e.trim_start_matches("http://")
                            .trim_start_matches("https://")
                    })
                    .collect();
                let scheme = if tls.is_some() { "etcds" } else { "etcd" };
                write!(f, "{scheme}://{}{}", hosts.join(","), config.prefix)?;
                let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
                let params = [
                    ("cacert", tls.and_then(|t| path(&t.ca_cert))),
                    ("cert", tls.and_then(|t| path(&t.cert))),
                    ("key", tls.and_then(|t| path(&t.key))),
                    ("server-name", tls.and_then(|t| t.server_name.clone())),
                    (
                        "max-txn-ops",
                        (config.max_txn_ops != ETCD_MAX_TXN_OPS)
                            .then(|| config.max_txn_ops.to_string()),
                    ),
                ];
                let mut sep = '?';
                for (name, value) in params {
                    if let Some(v) = value {
                        write!(f, "{sep}{name}={v}")?;
                        sep = '&';
                    }
                }
                Ok(())
            }
        }
    }
}

impl StoreSpec {
    /// The directory files that belong with the store go in by default (machine logs):
    /// the database's directory. On etcd, where nothing is local, the working directory.
    pub fn state_dir(&self) -> PathBuf {
        match self {
            Self::Etcd(_) | Self::Kube(_) => PathBuf::from("."),
            Self::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        }
    }
}

/// Whether opening may create the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Create it (private) if it does not exist: commands that write, services.
    Create,
    /// Refuse a store that does not exist: read-only commands (`get`, `logs`,
    /// `bmc power status`).
    Existing,
}

/// An open store.
#[derive(Clone)]
pub struct StoreHandle {
    spec: StoreSpec,
    store: SharedStore,
    sqlite: Option<SqliteStore>,
    etcd: Option<EtcdStore>,
    election: ElectionConfig,
    membership: MembershipConfig,
}

impl fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreHandle")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl StoreHandle {
    /// The store, for services and operations.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Where it is.
    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }

    /// Takes the right to run controllers on this store, so that two processes never run
    /// the same controllers (every BMC Job twice). On the embedded store this is an
    /// exclusive `flock` beside the database; a second process fails with an error naming
    /// the holder's PID.
    pub fn lock_controllers(&self) -> Result<Option<ControllerLock>, OpsError> {
        match &self.sqlite {
            Some(s) => Ok(Some(s.lock_controllers()?)),
            None => Ok(None),
        }
    }

    /// The election among replicas that decides which one runs the controllers, on a
    /// store that several processes share (etcd); `None` on the embedded store, where the
    /// lock ([`StoreHandle::lock_controllers`]) decides.
    pub fn controller_election(&self) -> Result<Option<Election>, OpsError> {
        match &self.etcd {
            Some(etcd) => Ok(Some(Election::new(etcd, self.election)?)),
            None => Ok(None),
        }
    }

    /// Times the controller election (default: Kubernetes' 15 s lease, 10 s renew
    /// deadline, 2 s retry period); tests shorten it.
    pub fn set_election_config(&mut self, config: ElectionConfig) {
        self.election = config;
    }

    /// The live replicas' membership on a store that several processes share (etcd), by
    /// which the DHCP replicas split the clients (`crate::plane`); `None` on the embedded
    /// store, where one process answers every client.
    pub fn dhcp_membership(&self) -> Result<Option<Membership>, OpsError> {
        match &self.etcd {
            Some(etcd) => Ok(Some(Membership::new(etcd, self.membership).map_err(
                |e| OpsError::Service {
                    service: "DHCP",
                    message: e.to_string(),
                },
            )?)),
            None => Ok(None),
        }
    }

    /// How long after a DHCP replica's last renewal its peers take over its clients: the
    /// TTL of its membership lease (default 10 s; whole seconds, at least 2, else an
    /// error saying so). `--dhcp-peer-timeout` sets it.
    pub fn set_dhcp_peer_timeout(&mut self, ttl: std::time::Duration) -> Result<(), OpsError> {
        let config = MembershipConfig { ttl };
        config.check().map_err(|e| OpsError::Service {
            service: "DHCP",
            message: format!("--dhcp-peer-timeout: {e}"),
        })?;
        self.membership = config;
        Ok(())
    }

    /// The etcd store under this handle, if that is the backend (for its health probe).
    pub fn etcd(&self) -> Option<&EtcdStore> {
        self.etcd.as_ref()
    }

    /// A handle over any store (tests, wrappers); it has no controller lock.
    pub fn from_store(spec: StoreSpec, store: SharedStore) -> Self {
        Self {
            spec,
            store,
            sqlite: None,
            etcd: None,
            election: ElectionConfig::default(),
            membership: MembershipConfig::default(),
        }
    }
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), OpsError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| OpsError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Opens the store `spec` names. Blocks on file I/O (call it at startup).
pub fn open(spec: &StoreSpec, access: Access) -> Result<StoreHandle, OpsError> {
    match spec {
        StoreSpec::Sqlite(path) => {
            if access == Access::Existing && !path.is_file() {
                return Err(OpsError::MissingStore { path: path.clone() });
            }
            if let Some(parent) = path.parent() {
                create_private_dir(parent)?;
            }
            let sqlite = SqliteStore::open(path).map_err(|source| OpsError::Open {
                path: path.clone(),
                source: Box::new(source),
            })?;
            Ok(StoreHandle {
                spec: spec.clone(),
                store: Arc::new(sqlite.clone()),
                sqlite: Some(sqlite),
                etcd: None,
                election: ElectionConfig::default(),
                membership: MembershipConfig::default(),
            })
        }
        StoreSpec::Etcd(config) => {
            let store = EtcdStore::new(config.clone())?;
            tracing::info!(store = %spec, "using the etcd store");
            Ok(StoreHandle {
                spec: spec.clone(),
                store: Arc::new(store.clone()),
                sqlite: None,
                etcd: Some(store),
                election: ElectionConfig::default(),
                membership: MembershipConfig::default(),
            })
        }
        StoreSpec::Kube(kubeconfig) => {
            let source = match kubeconfig {
                // Read on the first request, whose error names the file.
                Some(path) => Source::Kubeconfig(path.clone()),
                None => Source::Infer,
            };
            tracing::info!(store = %spec, "using a Kubernetes API server as the store");
            let store = KubeStore::new(source, ironbell_model::KindRegistry::builtin());
            Ok(StoreHandle::from_store(spec.clone(), Arc::new(store)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StoreSpec, OpsError> {
        s.parse()
    }

    #[test]
    fn specs() {
        let sqlite = |p: &str| Ok::<_, ()>(StoreSpec::Sqlite(PathBuf::from(p)));
        assert_eq!(
            parse("sqlite:/var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(
            parse("sqlite:///var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(parse("SQLite:rel.db").map_err(drop), sqlite("rel.db"));
        assert_eq!(
            parse("/var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(parse("rel/x.db").map_err(drop), sqlite("rel/x.db"));
        for (text, spec) in [
            ("kube://", StoreSpec::Kube(None)),
            ("K8s://", StoreSpec::Kube(None)),
            (
                "kubeconfig:/etc/ironbell/plane.kubeconfig",
                StoreSpec::Kube(Some(PathBuf::from("/etc/ironbell/plane.kubeconfig"))),
            ),
        ] {
            let parsed = parse(text).map_err(drop);
            assert_eq!(parsed, Ok(spec.clone()), "{text}");
            assert_eq!(parse(&spec.to_string()).map_err(drop), Ok(spec), "{text}");
        }
        assert_eq!(parse("./a:b.db").map_err(drop), sqlite("./a:b.db"));
        assert_eq!(parse("a:b.db").map_err(drop), sqlite("a:b.db"));
        assert_eq!(
            parse("sqlite:/x.db").map(|s| s.to_string()).ok(),
            Some("sqlite:/x.db".to_string())
        );
    }

    fn etcd(s: &str) -> EtcdConfig {
        match parse(s).unwrap() {
            StoreSpec::Etcd(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn etcd_specs() {
        let c = etcd("etcd://10.0.0.1:2379,10.0.0.2,[fd00::3]:2379");
        assert_eq!(
            c.endpoints,
            [
                "http://10.0.0.1:2379",
                "http://10.0.0.2:2379",
                "http://[fd00::3]:2379"
            ]
        );
        assert_eq!(c.prefix, "/ironbell");
        assert_eq!(c.tls, None);
        assert_eq!(etcd("ETCD://h:1/site/a").prefix, "/site/a");
        let t = etcd(
            "etcds://h:2379/p?cacert=/etc/etcd/ca.pem&cert=/c.pem&key=/k.pem&server-name=etcd.local",
        );
        assert_eq!(t.endpoints, ["https://h:2379"]);
        let tls = t.tls.clone().unwrap();
        assert_eq!(tls.ca_cert.as_deref(), Some(Path::new("/etc/etcd/ca.pem")));
        assert_eq!(tls.cert.as_deref(), Some(Path::new("/c.pem")));
        assert_eq!(tls.key.as_deref(), Some(Path::new("/k.pem")));
        assert_eq!(tls.server_name.as_deref(), Some("etcd.local"));
        // Display gives back a spec that parses to the same thing.
        assert_eq!(etcd("etcd://h:1?max-txn-ops=5000").max_txn_ops, 5000);
        assert_eq!(etcd("etcd://h:1").max_txn_ops, ETCD_MAX_TXN_OPS);
        for spec in [
            "etcd://a:1,b:2/x/y?max-txn-ops=1000",
            "etcds://h:2379/p?cacert=/ca.pem&cert=/c.pem&key=/k.pem",
        ] {
            let parsed = parse(spec).unwrap();
            assert_eq!(parsed.to_string(), spec);
            assert_eq!(parse(&parsed.to_string()).unwrap(), parsed);
        }
        assert_eq!(parse("etcd://h:1").unwrap().state_dir(), PathBuf::from("."));
    }

    #[test]
    fn bad_etcd_specs_say_why() {
        let message = |s: &str| parse(s).map(|_| ()).unwrap_err().to_string();
        for (spec, why) in [
            ("etcd:h:1", "must be followed by //"),
            ("etcd://", "endpoint is empty"),
            ("etcd://a:1,,b:2", "endpoint is empty"),
            ("etcd://a:http", "is not a port"),
            ("etcd://a:0", "is not a port"),
            ("etcd://a:1/", "prefix"),
            ("etcd://a:1/x/../y", "prefix"),
            ("etcd://a:1?cacert=/ca.pem", "use etcds://"),
            ("etcds://a:1", "needs cacert"),
            (
                "etcds://a:1?cacert=/ca&cert=/c",
                "both cert=PATH and key=PATH",
            ),
            (
                "etcds://a:1?cacert=/ca&verify=no",
                "unknown parameter \"verify\"",
            ),
            ("etcds://a:1?cacert=", "has no value"),
            ("etcd://a:1?max-txn-ops=0", "not a positive number"),
            ("etcd://a:1?max-txn-ops=many", "not a positive number"),
        ] {
            let m = message(spec);
            assert!(m.contains(why), "{spec}: {m}");
        }
        let m = message("etcd://root:s3cret@h:2379");
        assert!(m.contains("passwords are not supported"), "{m}");
        assert!(!m.contains("s3cret"), "{m}");
    }

    #[test]
    fn refused_specs_say_why() {
        let message = |s: &str| parse(s).map(|_| ()).unwrap_err().to_string();
        let k8s = message("kubernetes:in-cluster");
        assert!(k8s.contains("nothing may follow kube://"), "{k8s}");
        assert!(message("kubeconfig:").contains("needs the file's path"));
        let unknown = message("redis://localhost");
        assert!(unknown.contains("unknown scheme \"redis\""), "{unknown}");
        assert!(message("").contains("no database file"));
        assert!(message("sqlite:").contains("no database file"));
    }

    #[test]
    fn existing_access_refuses_a_missing_store_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/ironbell.db");
        let spec = StoreSpec::Sqlite(path.clone());
        let err = open(&spec, Access::Existing).map(|_| ()).unwrap_err();
        assert!(matches!(err, OpsError::MissingStore { .. }), "{err}");
        assert!(!path.exists() && !path.parent().is_some_and(Path::exists));
    }

    #[test]
    fn created_store_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/ironbell.db");
        let spec = StoreSpec::Sqlite(path.clone());
        assert!(open(&spec, Access::Create).is_ok());
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(&path), Some(0o600));
        assert_eq!(mode(&dir.path().join("a/b")), Some(0o700));
        assert_eq!(mode(&dir.path().join("a")), Some(0o700));
    }
}
