//! # ironbell-store-etcd
//!
//! The replicated [`Store`] backend: ironbell's objects in etcd (v3 API), so that several
//! ironbell replicas on several machines share one state and survive the loss of a machine.
//! It also elects the one replica that runs the controllers ([`Election`], module
//! [`election`]: leases, fencing tokens, and the timing argument for why two replicas do
//! not both lead), and keeps the list of live replicas of a group ([`Membership`], module
//! [`membership`]: lease-backed keys, watched; the DHCP replicas split the clients by it). It is not an etcd server and does not manage etcd members.
//!
//! Start reading at [`Config`] and [`EtcdStore::new`], then [`EtcdStore`]'s `write` (how a
//! commit becomes one transaction) and the `watch` module; for replicas, [`election`]. The trait semantics are those
//! of [`ironbell_store::Store`], checked against a real etcd (Debian's `etcd-server`, started
//! by the tests on loopback ports) by the shared conformance suite on one member
//! (`tests/conformance.rs`) and on three (`tests/conformance_cluster.rs`); `tests/cluster.rs`
//! kills members under a running commit and watch, `tests/tls.rs` uses client certificates,
//! `tests/batches.rs` writes more than `--max-txn-ops` in batches, `tests/election.rs`
//! elects leaders among candidates (some in child processes killed by PID) while etcd
//! members die, `tests/membership.rs` follows replicas joining, dying and leaving, and etcd
//! going away, and `tests/dhcp_replicas.rs` has three DHCP replicas answer real udhcpc
//! clients by their shares, one of them killed.
//! The client is the `etcd-client` crate (tonic 0.14, as the rest of the workspace).
//!
//! ## Key layout
//!
//! Every key of a plane starts with its prefix ([`Config::prefix`], `/ironbell` by default),
//! so several planes can share one etcd cluster:
//!
//! ```text
//! <prefix>/objects/<apiVersion>/<kind>/<namespace>/<name>
//! /ironbell/objects/tinkerbell.org/v1alpha1/Hardware/default/wk01
//! /ironbell/objects/v1/Secret/default/wk01-bmc
//! ```
//!
//! The value is the object as compact JSON **without** `metadata.resourceVersion`: the
//! version is etcd's, read back from the key's `mod_revision`. Kinds whose `apiVersion` or
//! name could make two keys collide (a `/` too many, a lowercase kind) are refused with
//! [`StoreError::Invalid`]. Lists and watches of a kind are range reads and range watches
//! over `<prefix>/objects/<apiVersion>/<kind>/`, or `.../<namespace>/` for one namespace.
//!
//! ## How each guarantee maps onto etcd
//!
//! - **`resourceVersion` is the etcd revision** of the object's last write (`mod_revision`);
//!   a list returns the revision of its snapshot (the response header's). The revision is
//!   etcd's, shared by every plane on the cluster: another plane's writes move it too.
//! - **Optimistic concurrency and atomic commits** ([`Capabilities::atomic_commit`]): a
//!   commit reads the current state of every key it touches in one snapshot, applies the
//!   operations to that state in order (so a commit may create, update and delete the same
//!   object), then writes the final state of each key in **one etcd transaction** guarded by
//!   a compare per key: `mod_revision` equal to what was read, or `version == 0` for a key
//!   that did not exist. If any key changed in between, nothing is written and the commit
//!   is evaluated again on fresh state, where a stale caller version is then a
//!   [`StoreError::Conflict`]. All objects of one commit share its revision.
//! - **Watches** are etcd watches from `resourceVersion + 1` with `prev_kv` (a deletion
//!   carries the last state). A key's `version == 1` is `Added`, a later one `Modified`.
//!   When the stream breaks (the member we talk to died, lost its leader, or the
//!   connection reset), the watch resumes from the last revision it delivered on any
//!   other endpoint, so it misses and repeats nothing; a compacted start revision ends it
//!   with [`StoreError::TooOld`]. One difference from the embedded store: the objects of
//!   one multi-object commit share one revision, and only the final state of each object
//!   is seen (an object created and deleted in one commit makes no event).
//! - **Compaction** is etcd's: [`Store::compact`]`(r)` compacts etcd at `r + 1`, so that a
//!   watch from `r` still works. etcd compacts the whole cluster, not one plane; run etcd
//!   with `--auto-compaction-retention` as usual and ironbell's watches relist on
//!   `TooOld`.
//! - **Size limits** are the other backends' ([`ironbell_store::check_size`],
//!   [`ironbell_store::check_names`]). An object may be 1.5 MiB, which is also etcd's
//!   default `--max-request-bytes`: a commit carrying several large objects needs etcd
//!   started with a higher limit (the tests use 8 MiB), else it fails with etcd's "request
//!   is too large" and writes nothing.
//! - **Transaction size**: one commit writes at most [`Config::max_txn_ops`] objects, the
//!   members' `--max-txn-ops` (128 by default in etcd), which the store reports as
//!   [`Capabilities::max_commit_ops`]; a larger commit is refused with
//!   [`StoreError::Unsupported`] and writes nothing. Callers that do not need all or
//!   nothing (a `hardware import` of more than about 40 machines, each a Hardware, a BMC
//!   Machine and a Secret) write through [`ironbell_store::commit_in_batches`], batch by
//!   batch; those that do need it raise `--max-txn-ops` on the members and in the store
//!   spec (`tests/batches.rs`).
//! - **Failures**: reads retry on another endpoint while [`Config::request_timeout`]
//!   allows. A write is sent again at once when etcd cannot have applied it (the
//!   connection was refused, or the member had no leader). When its answer was lost
//!   instead (the member died under it, the leader changed, "request timed out"), the
//!   commit reads its keys: since its transaction was guarded by their revisions, they
//!   tell whether it was applied (the commit succeeds, at that revision) or not (it is
//!   evaluated and sent again); only when someone else wrote them since does the error
//!   say the outcome is unknown, and the caller reads again (controllers are
//!   level-triggered). `tests/cluster.rs` kills the leader under six writers: no update
//!   fails, none is lost or applied twice. When no member can be connected to, the error
//!   says "unreachable". A connection that goes silent without a reset (a lost path, a
//!   frozen member) is closed by HTTP/2 keepalive (a ping every 5 s, 3 s to answer), and
//!   watches on it resume on a new one (`tests/cluster.rs`).
//!   [`EtcdStore::probe`] is the one-request health check replicas run every second.
//!   With several endpoints, requests keep off a member that stopped answering its status
//!   probes and come back when it answers (the `routing` module,
//!   [`EtcdStore::routed_endpoints`]).
//!
//! ## Secrets
//!
//! etcd keeps earlier versions of a key until compaction, so an old BMC password stays in
//! etcd's history until then (unlike the embedded store, which removes it at once).
//! Protect etcd as the Kubernetes documentation says for Secrets: client certificates,
//! peer TLS, encrypted disks.

pub mod election;
mod keys;
pub mod membership;
mod routing;
mod watch;

pub use election::{Election, ElectionConfig, ElectionError, Leader, Leadership, LossReason};
pub use membership::{
    DHCP_GROUP, Member, Membership, MembershipConfig, MembershipError, View as MembershipView,
};

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, KvClient,
    TlsOptions, Txn, TxnOp, TxnOpResponse,
};
use ironbell_model::values::Timestamp;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::backend::{
    check_resource_version, merge_update, name_required, parse_resource_version,
};
use ironbell_store::{
    Capabilities, ListParams, ObjectList, Op, Result, Store, StoreError, WatchStream,
};
use tokio::sync::OnceCell;

use keys::Prefix;

/// Objects the first page of a list reads from etcd; each next page is twice as large, up
/// to [`LIST_PAGE_MAX`] (halved while a page is too large for one gRPC message). Pages grow
/// because etcd 3.4 walks its index over the whole rest of the range for every page,
/// whatever the limit: with a fixed page of 1,000, a list of 100,000 objects cost 3x per
/// object what one of 10,000 did (`scripts/bench-store`).
const LIST_PAGE: i64 = 1000;
/// The largest page of a list (about 20 MB of Hardware).
const LIST_PAGE_MAX: i64 = 16_000;
/// The largest etcd response this client decodes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// etcd's default `--max-txn-ops`.
pub const ETCD_MAX_TXN_OPS: usize = 128;
/// How many times a commit is evaluated again when its keys change under it.
const COMMIT_ATTEMPTS: usize = 64;

/// TLS towards etcd, as `etcdctl --cacert --cert --key` take it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The CA certificate (PEM) that signed the etcd members' certificates.
    pub ca_cert: Option<PathBuf>,
    /// This client's certificate (PEM), for etcd's `--client-cert-auth`.
    pub cert: Option<PathBuf>,
    /// This client's private key (PEM), with `cert`.
    pub key: Option<PathBuf>,
    /// The name the members' certificates are checked against, when it is not the
    /// endpoint's host.
    pub server_name: Option<String>,
}

/// Where the etcd cluster is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Client URLs of the members: `host:port`, `http://host:port` or `https://host:port`.
    /// Give every member, so that the store keeps working while one is down.
    pub endpoints: Vec<String>,
    /// The key prefix of this plane (`/ironbell` by default); see the crate docs.
    pub prefix: String,
    /// TLS, when the members serve it.
    pub tls: Option<TlsConfig>,
    /// How long to wait for a TCP (and TLS) connection to a member.
    pub connect_timeout: Duration,
    /// How long one request may take, and how long reads keep retrying on other members.
    pub request_timeout: Duration,
    /// The most objects one commit may write: the members' `--max-txn-ops` (etcd's default
    /// is 128). A larger commit is refused before anything is sent
    /// ([`StoreError::Unsupported`], naming both settings).
    pub max_txn_ops: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoints: vec!["127.0.0.1:2379".into()],
            prefix: "/ironbell".into(),
            tls: None,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            max_txn_ops: ETCD_MAX_TXN_OPS,
        }
    }
}

impl Config {
    /// A configuration for `endpoints` under `prefix`, with the default timeouts.
    pub fn new(endpoints: Vec<String>, prefix: impl Into<String>) -> Self {
        Self {
            endpoints,
            prefix: prefix.into(),
            ..Self::default()
        }
    }
}

/// The configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No endpoint given.
    #[error("no etcd endpoint given")]
    NoEndpoints,
    /// The prefix cannot be used.
    #[error("etcd key prefix: {0}")]
    Prefix(String),
    /// An endpoint is malformed.
    #[error("etcd endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
}

/// The etcd store. Cheap to clone; clones share one connection pool. The connection is
/// made on first use, so [`EtcdStore::new`] works outside an async context.
#[derive(Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    prefix: Prefix,
    client: OnceCell<Client>,
    /// Which endpoints requests go to (see the `routing` module).
    routes: Arc<routing::Routes>,
    /// Whether the last [`EtcdStore::probe`] failed.
    unreachable: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.inner.config.endpoints)
            .field("prefix", &self.inner.prefix.as_str())
            .finish_non_exhaustive()
    }
}

fn backend(context: impl fmt::Display, e: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("etcd: {context}: {e}"))
}

/// An etcd client error in one line: the gRPC status's message and its innermost cause
/// ("tcp connect error: Connection refused (os error 111)"), not the nested debug dump.
fn describe(e: &etcd_client::Error) -> String {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            let mut innermost = None;
            let mut source = std::error::Error::source(s);
            while let Some(err) = source {
                innermost = Some(err.to_string());
                source = err.source();
            }
            match innermost {
                Some(cause) if !s.message().contains(&cause) => {
                    format!("{}: {cause}", s.message())
                }
                _ if s.message().is_empty() => format!("{:?}", s.code()),
                _ => s.message().to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// Whether a failed request certainly did not reach a member that could apply it: the
/// connection was never made, or the member had no leader.
fn not_applied(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            let text = format!("{} {:?}", s.message(), s.source_chain_text());
            // Not "connection reset" or "broken pipe": a request may have been applied
            // before those.
            [
                "tcp connect",
                "error trying to connect",
                "Connection refused",
                "no leader",
            ]
            .iter()
            .any(|t| text.contains(t))
        }
        _ => false,
    }
}

/// Whether a request failed because no member could be connected to.
fn unreachable(e: &etcd_client::Error) -> bool {
    not_applied(e) && !describe(e).contains("no leader")
}

/// Whether a failed read is worth trying again (on another member). `Cancelled` is a request
/// whose connection closed under it ("operation was canceled: connection closed": the member
/// it went to was killed).
fn retryable(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => matches!(
            s.code(),
            tonic::Code::Unavailable
                | tonic::Code::Cancelled
                | tonic::Code::Unknown
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Aborted
        ),
        _ => false,
    }
}

/// The text of a status's error sources (the transport's reason, e.g. "Connection refused").
trait SourceChain {
    fn source_chain_text(&self) -> String;
}

impl SourceChain for tonic::Status {
    fn source_chain_text(&self) -> String {
        let mut text = String::new();
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            text.push_str(&e.to_string());
            text.push(' ');
            source = e.source();
        }
        text
    }
}

fn to_rev(r: i64) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

fn to_etcd_rev(r: u64) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

/// A random version-4 UUID, as Kubernetes' `metadata.uid`.
fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = u128::from_be_bytes(b);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        x >> 96,
        (x >> 80) & 0xffff,
        (x >> 64) & 0xffff,
        (x >> 48) & 0xffff,
        x & 0xffff_ffff_ffff
    )
}

/// `prefix` and five characters from Kubernetes' alphabet for generated names.
fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}{suffix}")
}

/// Parses a stored value and gives it the key's revision.
fn decode(value: &[u8], mod_revision: i64, what: impl FnOnce() -> String) -> Result<DynamicObject> {
    let parsed = std::str::from_utf8(value)
        .map_err(|e| e.to_string())
        .and_then(|text| DynamicObject::from_json(text).map_err(|e| e.to_string()));
    let mut obj = parsed.map_err(|e| backend(format!("corrupt stored {}", what()), e))?;
    obj.metadata.resource_version = Some(mod_revision.to_string());
    Ok(obj)
}

/// The stored form: the object without its `resourceVersion`.
fn encode(obj: &DynamicObject) -> Result<String> {
    let mut stored = obj.clone();
    stored.metadata.resource_version = None;
    let what = || format!("{} {}/{}", obj.types.kind, obj.namespace(), obj.name());
    let text = stored
        .to_json()
        .map_err(|e| backend(format!("encoding {}", what()), e))?;
    ironbell_store::check_size(obj, &text)?;
    Ok(text)
}

/// One write of a commit.
enum Write {
    Op(Op),
    Status(DynamicObject),
}

impl Write {
    /// `(types, namespace, name)` of the object written.
    fn target(&self) -> (&TypeKey, &str, &str) {
        match self {
            Write::Op(Op::Create(o) | Op::Update(o)) | Write::Status(o) => {
                (&o.types, o.namespace(), o.name())
            }
            Write::Op(Op::Delete {
                types,
                namespace,
                name,
                ..
            }) => (types, namespace, name),
        }
    }
}

/// What a commit's transaction does to one key ([`KeyState::write`]), to learn its outcome
/// when the answer was lost.
#[derive(Debug)]
struct Planned {
    /// The revision the transaction compares against (0: absent).
    read_rev: i64,
    /// What it writes: `Some(Some(value))` a put, `Some(None)` a delete, `None` nothing.
    write: Option<Option<Vec<u8>>>,
}

/// How a commit's transaction went, learnt from its keys after its answer was lost.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Every key it writes is at the revision compared against: nothing was written, and
    /// the commit can be evaluated and sent again.
    NotApplied,
    /// Every written key holds what the transaction wrote: it was applied, at that
    /// revision (`None` when it only deleted: the keys hold no revision to read).
    Applied(Option<i64>),
    /// Someone else wrote a key since: the outcome cannot be told.
    Unknown,
}

/// The [`Outcome`] of the transaction `planned`, given its keys as they are `now` (mod
/// revision and value; `None`: absent), in the same order.
///
/// A transaction that was applied changed the revision of every key it wrote, and left
/// each holding exactly the value it put (a create's value carries a fresh uid) or absent.
/// One history reads as "not applied" while it was: a create applied, then deleted by
/// someone else before this read; the commit then creates the object again. Its window is
/// the milliseconds between a lost answer and this read, and only the creator knew the
/// new object's uid. A transaction still in flight in raft when the keys are read may be
/// applied after "not applied" was decided: the revision guard keeps it and the one sent
/// again from both applying, and the commit then ends as a conflict (or "already
/// exists") on the keys it finds written.
fn outcome(planned: &[Planned], now: &[Option<(i64, Vec<u8>)>]) -> Outcome {
    let rev_now = |n: &Option<(i64, Vec<u8>)>| n.as_ref().map_or(0, |(r, _)| *r);
    if planned
        .iter()
        .zip(now)
        .filter(|(p, _)| p.write.is_some())
        .all(|(p, n)| rev_now(n) == p.read_rev)
    {
        return Outcome::NotApplied;
    }
    let mut revision = None;
    for (p, n) in planned.iter().zip(now) {
        match (&p.write, n) {
            (None, _) | (Some(None), None) => {}
            (Some(Some(want)), Some((rev, value))) if value == want && *rev != p.read_rev => {
                if revision.is_some_and(|r| r != *rev) {
                    return Outcome::Unknown;
                }
                revision = Some(*rev);
            }
            _ => return Outcome::Unknown,
        }
    }
    Outcome::Applied(revision)
}

/// What sending a commit's transaction gave.
enum Sent {
    /// etcd's answer (whether the compares held).
    Answered(etcd_client::TxnResponse),
    /// No answer, and the transaction may have been applied.
    Unknown(etcd_client::Error),
}

/// A key's state while a commit is planned: as read, then as the commit's operations leave
/// it.
struct KeyState {
    /// The revision read (0: absent), which the transaction compares against.
    read_rev: i64,
    /// The object now (`None`: absent), and whether this commit wrote it.
    object: Option<DynamicObject>,
    written: bool,
}

impl KeyState {
    /// What the commit's transaction does to the key: `Some(Some(value))` puts the
    /// encoded object, `Some(None)` deletes it, `None` leaves it (only compares it).
    fn write(&self) -> Result<Option<Option<String>>> {
        if !self.written {
            return Ok(None);
        }
        Ok(match &self.object {
            Some(obj) => Some(Some(encode(obj)?)),
            None if self.read_rev != 0 => Some(None),
            None => None,
        })
    }
}

impl EtcdStore {
    /// A store for `config`. Checks the configuration; connects on first use.
    pub fn new(config: Config) -> std::result::Result<Self, ConfigError> {
        if config.endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        for e in &config.endpoints {
            if e.is_empty() || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::Endpoint {
                    endpoint: e.clone(),
                    reason: "empty, or contains white space".into(),
                });
            }
        }
        let prefix = Prefix::new(&config.prefix).map_err(ConfigError::Prefix)?;
        let endpoints = (config.endpoints.iter())
            .map(|e| routing::normalize(e, config.tls.is_some()))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                prefix,
                client: OnceCell::new(),
                routes: Arc::new(routing::Routes::new(endpoints)),
                unreachable: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The normalised key prefix (`/ironbell`).
    pub fn prefix(&self) -> &str {
        self.inner.prefix.as_str()
    }

    /// The etcd client, connected on first use.
    pub async fn client(&self) -> Result<Client> {
        let config = &self.inner.config;
        let client = self
            .inner
            .client
            .get_or_try_init(|| async {
                let mut options = ConnectOptions::new()
                    .with_connect_timeout(config.connect_timeout)
                    .with_timeout(config.request_timeout)
                    .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3));
                if let Some(tls) = &config.tls {
                    options = options.with_tls(tls_options(tls)?);
                }
                let endpoints = self.inner.routes.routed();
                let client =
                    Client::connect(&endpoints, Some(options.clone().with_require_leader(true)))
                        .await
                        .map_err(|e| self.failed("connecting", &e))?;
                if endpoints.len() > 1 {
                    routing::watch(
                        Arc::downgrade(&self.inner),
                        client.clone(),
                        self.inner.routes.clone(),
                        options,
                        config.connect_timeout,
                    );
                }
                Ok::<_, StoreError>(client)
            })
            .await?;
        Ok(client.clone())
    }

    /// The endpoints requests go to now, as URLs: every endpoint but those whose member
    /// did not answer its last status probe (see the `routing` module; never none).
    pub fn routed_endpoints(&self) -> Vec<String> {
        self.inner.routes.routed()
    }

    async fn kv(&self) -> Result<KvClient> {
        Ok(self
            .client()
            .await?
            .kv_client()
            .max_decoding_message_size(MAX_RESPONSE_BYTES))
    }

    /// Runs the read `f` again while it fails in a way another member may not, until
    /// [`Config::request_timeout`] has passed.
    async fn read<T, F, Fut>(&self, what: impl Fn() -> String, mut f: F) -> Result<T>
    where
        F: FnMut(KvClient) -> Fut,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            match f(self.kv().await?).await {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(error = %e, "etcd: {}: retrying", what());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) => return Err(self.failed(what(), &e)),
            }
        }
    }

    /// A failed request, naming the endpoints it was sent to; "unreachable (...)" when no
    /// connection could be made.
    fn failed(&self, context: impl fmt::Display, e: &etcd_client::Error) -> StoreError {
        let endpoints = self.inner.config.endpoints.join(",");
        let cause = describe(e);
        StoreError::Backend(if unreachable(e) {
            format!("etcd at {endpoints}: {context}: unreachable ({cause})")
        } else {
            format!("etcd at {endpoints}: {context}: {cause}")
        })
    }

    /// The current etcd revision.
    pub async fn revision(&self) -> Result<u64> {
        let key = format!("{}/", self.prefix());
        let resp = self
            .read(
                || "reading the revision".into(),
                |mut kv| {
                    let key = key.clone();
                    async move { kv.get(key, Some(GetOptions::new().with_count_only())).await }
                },
            )
            .await?;
        Ok(resp.header().map_or(0, |h| to_rev(h.revision())))
    }

    /// Asks etcd once for its current revision, within `timeout`: one linearizable read of
    /// one key (answered only by a member that has a leader), not retried. What a health
    /// probe calls every second or so: it costs etcd one index lookup however many objects
    /// the plane holds. Fails naming the endpoints and the cause.
    pub async fn probe(&self, timeout: Duration) -> Result<u64> {
        let key = format!("{}/", self.prefix());
        let attempt = async {
            let mut kv = self.kv().await?;
            kv.get(key, Some(GetOptions::new().with_count_only()))
                .await
                .map_err(|e| self.failed("probing", &e))
        };
        let result = match tokio::time::timeout(timeout, attempt).await {
            Ok(resp) => resp.map(|r| r.header().map_or(0, |h| to_rev(h.revision()))),
            Err(_) => Err(StoreError::Backend(format!(
                "etcd at {}: probing: no answer within {timeout:?}",
                self.inner.config.endpoints.join(",")
            ))),
        };
        self.inner
            .unreachable
            .store(result.is_err(), std::sync::atomic::Ordering::Relaxed);
        result
    }

    /// Whether the last [`EtcdStore::probe`] failed. The caller of the probe has then said
    /// once that etcd is unreachable, so the retries of watches, memberships and
    /// candidacies on this store log at `debug` instead of `warn` until a probe succeeds.
    pub fn known_unreachable(&self) -> bool {
        self.inner
            .unreachable
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads the keys a commit touches, in one snapshot.
    async fn read_keys(&self, keys: &[String]) -> Result<Vec<Option<(i64, Vec<u8>)>>> {
        Ok(self.read_keys_at(keys).await?.0)
    }

    /// [`Self::read_keys`], with the revision of the snapshot.
    async fn read_keys_at(&self, keys: &[String]) -> Result<(Vec<Option<(i64, Vec<u8>)>>, i64)> {
        let resp = self
            .read(
                || "reading the objects of a commit".into(),
                |mut kv| {
                    let ops: Vec<TxnOp> =
                        keys.iter().map(|k| TxnOp::get(k.clone(), None)).collect();
                    async move { kv.txn(Txn::new().and_then(ops)).await }
                },
            )
            .await?;
        let revision = resp.header().map_or(0, |h| h.revision());
        let mut out = Vec::with_capacity(keys.len());
        for r in resp.op_responses() {
            let TxnOpResponse::Get(mut g) = r else {
                return Err(backend("reading a commit", "unexpected response"));
            };
            out.push(
                g.take_kvs()
                    .into_iter()
                    .next()
                    .map(|kv| (kv.mod_revision(), kv.into_key_value().1)),
            );
        }
        if out.len() != keys.len() {
            return Err(backend("reading a commit", "short response"));
        }
        Ok((out, revision))
    }

    /// Fills server-set fields of a create; names it from `generateName`.
    fn prepare_create(mut obj: DynamicObject, now: Timestamp) -> Result<DynamicObject> {
        if obj.metadata.name().is_empty() {
            match obj.metadata.generate_name.as_deref() {
                Some(prefix) if !prefix.is_empty() => {
                    obj.metadata.name = Some(generated_name(prefix));
                }
                _ => return Err(name_required(&obj)),
            }
        }
        ironbell_store::check_names(&obj)?;
        let m = &mut obj.metadata;
        m.resource_version = None;
        m.uid = Some(new_uid());
        m.generation = Some(1);
        m.creation_timestamp = Some(now);
        Ok(obj)
    }

    async fn write(&self, writes: Vec<Write>) -> Result<Vec<DynamicObject>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let now = ironbell_model::values::now();
        let writes = writes
            .into_iter()
            .map(|w| match w {
                Write::Op(Op::Create(o)) => {
                    Self::prepare_create(o, now).map(|o| Write::Op(Op::Create(o)))
                }
                other => Ok(other),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut keys: Vec<String> = Vec::new();
        let mut key_of = Vec::with_capacity(writes.len());
        for w in &writes {
            let (types, ns, name) = w.target();
            let key = self.inner.prefix.object(types, ns, name)?;
            let i = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            key_of.push(i);
        }
        let limit = self.inner.config.max_txn_ops;
        if keys.len() > limit {
            return Err(StoreError::Unsupported {
                what: format!(
                    "write {} objects in one commit: one etcd transaction holds at most {limit} \
                     (the members' --max-txn-ops; raise it there and give max-txn-ops=N in the \
                     store spec); nothing was written",
                    keys.len()
                ),
            });
        }
        // A commit whose outcome was unknown and turned out not applied is sent again
        // while the request timeout allows.
        let unknown_deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        for _ in 0..COMMIT_ATTEMPTS {
            let read = self.read_keys(&keys).await?;
            let mut states = Vec::with_capacity(keys.len());
            for (i, r) in read.into_iter().enumerate() {
                let state = match r {
                    Some((rev, value)) => KeyState {
                        read_rev: rev,
                        object: Some(decode(&value, rev, || keys[i].clone())?),
                        written: false,
                    },
                    None => KeyState {
                        read_rev: 0,
                        object: None,
                        written: false,
                    },
                };
                states.push(state);
            }
            let mut out = Vec::with_capacity(writes.len());
            for (w, &k) in writes.iter().zip(&key_of) {
                out.push(apply(w, &mut states[k])?);
            }
            let mut compares = Vec::with_capacity(keys.len());
            let mut ops = Vec::new();
            for (key, state) in keys.iter().zip(&states) {
                compares.push(if state.read_rev == 0 {
                    Compare::version(key.clone(), CompareOp::Equal, 0)
                } else {
                    Compare::mod_revision(key.clone(), CompareOp::Equal, state.read_rev)
                });
                match state.write()? {
                    Some(Some(value)) => ops.push(TxnOp::put(key.clone(), value, None)),
                    Some(None) => ops.push(TxnOp::delete(key.clone(), None)),
                    None => {}
                }
            }
            let txn = Txn::new().when(compares).and_then(ops);
            let rev = match self.commit_txn(txn).await? {
                Sent::Answered(resp) if resp.succeeded() => {
                    resp.header().map_or(0, |h| h.revision())
                }
                Sent::Answered(_) => {
                    tracing::debug!("etcd commit: an object changed while it was read; again");
                    continue;
                }
                Sent::Unknown(e) => {
                    // The request may or may not have been applied (the member died or lost
                    // its leader under it): the keys say which, since the transaction was
                    // guarded by their revisions.
                    // What was sent, encoded again (the same bytes) only on this rare path.
                    let planned = states
                        .iter()
                        .map(|state| {
                            Ok(Planned {
                                read_rev: state.read_rev,
                                write: state.write()?.map(|w| w.map(String::into_bytes)),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let (now, header_rev) = self.read_keys_at(&keys).await?;
                    match outcome(&planned, &now) {
                        Outcome::NotApplied if tokio::time::Instant::now() < unknown_deadline => {
                            tracing::debug!(error = %e, "etcd commit was not applied; again");
                            continue;
                        }
                        Outcome::Applied(rev) => {
                            tracing::debug!(error = %e, "etcd commit was applied after all");
                            rev.unwrap_or(header_rev)
                        }
                        Outcome::NotApplied => {
                            return Err(self.failed("commit (nothing was written)", &e));
                        }
                        Outcome::Unknown => {
                            return Err(self.failed(
                                "commit: the outcome is unknown (read the objects again)",
                                &e,
                            ));
                        }
                    }
                }
            };
            let rev = rev.to_string();
            for o in &mut out {
                o.metadata.resource_version = Some(rev.clone());
            }
            return Ok(out);
        }
        Err(StoreError::Backend(format!(
            "etcd: commit: the objects kept changing during {COMMIT_ATTEMPTS} attempts; try again"
        )))
    }

    /// Sends a commit's transaction, again only while it cannot have been applied. An
    /// error after which it may have been is [`Sent::Unknown`] when it is of the kind that
    /// another attempt may not meet (a lost connection, a lost leader, a timeout), so that
    /// the caller reads the keys to learn the outcome; any other error fails the commit.
    async fn commit_txn(&self, txn: Txn) -> Result<Sent> {
        let deadline = tokio::time::Instant::now() + self.inner.config.request_timeout;
        let mut pause = Duration::from_millis(20);
        loop {
            match self.kv().await?.txn(txn.clone()).await {
                Ok(r) => return Ok(Sent::Answered(r)),
                Err(e) if not_applied(&e) && tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(error = %e, "etcd commit not sent; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(e) if not_applied(&e) => {
                    return Err(self.failed("commit (nothing was written)", &e));
                }
                Err(e) if retryable(&e) => return Ok(Sent::Unknown(e)),
                Err(e) => {
                    return Err(self.failed(
                        "commit: the outcome is unknown (read the objects again)",
                        &e,
                    ));
                }
            }
        }
    }
}

/// Applies one write to its key's planned state; returns the object as written (for a
/// delete, its last state).
fn apply(w: &Write, state: &mut KeyState) -> Result<DynamicObject> {
    let (types, ns, name) = w.target();
    let not_found = || StoreError::NotFound {
        kind: types.kind.clone(),
        namespace: ns.to_string(),
        name: name.to_string(),
    };
    let current_rev =
        |state: &KeyState| -> Option<u64> { (!state.written).then(|| to_rev(state.read_rev)) };
    match w {
        Write::Op(Op::Create(obj)) => {
            if state.object.is_some() {
                return Err(StoreError::AlreadyExists {
                    kind: types.kind.clone(),
                    namespace: ns.to_string(),
                    name: name.to_string(),
                });
            }
            encode(obj)?;
            state.object = Some(obj.clone());
        }
        Write::Op(Op::Update(obj)) | Write::Status(obj) => {
            let given = parse_resource_version(
                types,
                ns,
                name,
                obj.metadata.resource_version.as_deref(),
                true,
            )?
            .unwrap_or_default();
            let old = state.object.clone().ok_or_else(not_found)?;
            match current_rev(state) {
                Some(current) => check_resource_version(types, ns, name, given, current)?,
                None => {
                    return Err(StoreError::Conflict {
                        kind: types.kind.clone(),
                        namespace: ns.to_string(),
                        name: name.to_string(),
                        given: given.to_string(),
                        current: "(written earlier in this commit)".into(),
                    });
                }
            }
            let new = merge_update(old, obj.clone(), matches!(w, Write::Status(_)));
            encode(&new)?;
            state.object = Some(new);
        }
        Write::Op(Op::Delete {
            resource_version, ..
        }) => {
            let given =
                parse_resource_version(types, ns, name, resource_version.as_deref(), false)?;
            let last = state.object.take().ok_or_else(not_found)?;
            if let Some(given) = given {
                let current = current_rev(state).unwrap_or(0);
                if let Err(e) = check_resource_version(types, ns, name, given, current) {
                    state.object = Some(last);
                    return Err(e);
                }
            }
            state.written = true;
            return Ok(last);
        }
    }
    state.written = true;
    state.object.clone().ok_or_else(not_found)
}

fn tls_options(tls: &TlsConfig) -> Result<TlsOptions> {
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| backend(format_args!("reading the {what} {}", path.display()), e))
    };
    let mut options = TlsOptions::new();
    if let Some(ca) = &tls.ca_cert {
        options = options.ca_certificate(Certificate::from_pem(read("CA certificate", ca)?));
    }
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            options = options.identity(Identity::from_pem(
                read("client certificate", cert)?,
                read("client key", key)?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(StoreError::Backend(
                "etcd TLS: a client certificate needs its key, and a key its certificate".into(),
            ));
        }
    }
    if let Some(name) = &tls.server_name {
        options = options.domain_name(name.clone());
    }
    Ok(options)
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        let key = self.inner.prefix.object(types, namespace, name)?;
        let resp = self
            .read(
                || format!("reading {} {namespace}/{name}", types.kind),
                |mut kv| {
                    let key = key.clone();
                    async move { kv.get(key, None).await }
                },
            )
            .await?;
        match resp.kvs().first() {
            Some(kv) => decode(kv.value(), kv.mod_revision(), || {
                format!("{} {namespace}/{name}", types.kind)
            }),
            None => Err(StoreError::NotFound {
                kind: types.kind.clone(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
        }
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        let mut items = Vec::new();
        let resource_version = self
            .list_each(types, params, &mut |obj| items.push(obj))
            .await?;
        // Keys sort `ns/name` bytewise, where `/` comes after `-` and `.`; the contract's
        // order is by namespace, then name.
        items.sort_by(|a, b| (a.namespace(), a.name()).cmp(&(b.namespace(), b.name())));
        Ok(ObjectList {
            items,
            resource_version,
        })
    }

    async fn list_each(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        let prefix = match &params.namespace {
            Some(ns) => self.inner.prefix.namespace(types, ns)?,
            None => self.inner.prefix.kind(types)?,
        };
        let kind_prefix = self.inner.prefix.kind(types)?;
        let end = keys::range_end(&prefix);
        let mut start = prefix.clone().into_bytes();
        let mut revision = 0i64;
        let mut page = LIST_PAGE;
        let mut page_max = LIST_PAGE_MAX;
        loop {
            let options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(page)
                .with_revision(revision);
            let key = start.clone();
            let got = self
                .read(
                    || format!("listing {}", types.kind),
                    |mut kv| {
                        let (key, options) = (key.clone(), options.clone());
                        async move { kv.get(key, Some(options)).await }
                    },
                )
                .await;
            let mut resp = match got {
                Ok(r) => r,
                Err(StoreError::Backend(m))
                    if m.contains("message length too large") && page > 1 =>
                {
                    page /= 2;
                    page_max = page;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if revision == 0 {
                revision = resp.header().map_or(0, |h| h.revision());
            }
            let more = resp.more();
            let kvs = resp.take_kvs();
            for kv in &kvs {
                let obj = decode(kv.value(), kv.mod_revision(), || {
                    let (ns, name) = keys::split_key(&kind_prefix, kv.key()).unwrap_or(("?", "?"));
                    format!("{} {ns}/{name}", types.kind)
                })?;
                if params.matches(&obj) {
                    each(obj);
                }
            }
            match kvs.last() {
                Some(last) if more => {
                    start = last.key().to_vec();
                    start.push(0);
                    page = (page * 2).min(page_max);
                }
                _ => break,
            }
        }
        Ok(to_rev(revision))
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        single(self.write(vec![Write::Status(obj)]).await?)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_commit: true,
            max_commit_ops: Some(self.inner.config.max_txn_ops),
            ..Capabilities::default()
        }
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        self.write(ops.into_iter().map(Write::Op).collect()).await
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        let prefix = match &params.namespace {
            Some(ns) => self.inner.prefix.namespace(types, ns)?,
            None => self.inner.prefix.kind(types)?,
        };
        let last = match resource_version {
            Some(r) => r,
            None => self.revision().await?,
        };
        Ok(watch::start(
            self.clone(),
            types.clone(),
            params.clone(),
            prefix,
            last,
        ))
    }

    async fn compact(&self, keep_after: u64) -> Result<()> {
        let current = self.revision().await?;
        let target = keep_after.saturating_add(1).min(current);
        if target == 0 {
            return Ok(());
        }
        let options = etcd_client::CompactionOptions::new().with_physical();
        let result = self
            .kv()
            .await?
            .compact(to_etcd_rev(target), Some(options))
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already compacted at or past it.
            Err(e) if e.to_string().contains("compacted") => Ok(()),
            Err(e) => Err(self.failed(format_args!("compacting at revision {target}"), &e)),
        }
    }
}

fn single(mut objs: Vec<DynamicObject>) -> Result<DynamicObject> {
    objs.pop()
        .ok_or_else(|| StoreError::Backend("etcd: a write returned no object".into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_uuid_v4() {
        let a = new_uid();
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
        assert_ne!(a, new_uid());
    }

    fn put(read_rev: i64, value: &str) -> Planned {
        Planned {
            read_rev,
            write: Some(Some(value.as_bytes().to_vec())),
        }
    }

    fn at(rev: i64, value: &str) -> Option<(i64, Vec<u8>)> {
        Some((rev, value.as_bytes().to_vec()))
    }

    /// A commit whose answer was lost: what its keys say of it.
    #[test]
    fn the_outcome_of_a_lost_commit_is_read_from_its_keys() {
        let delete = |read_rev| Planned {
            read_rev,
            write: Some(None),
        };
        let compare = |read_rev| Planned {
            read_rev,
            write: None,
        };
        // A create, an update and a delete, compared against one key they do not write.
        let planned = [put(0, "new"), put(7, "b2"), delete(8), compare(9)];
        // Nothing moved: send again.
        let before = [None, at(7, "b1"), at(8, "c"), at(9, "d")];
        assert_eq!(outcome(&planned, &before), Outcome::NotApplied);
        // Only the compared key moved (someone else wrote it): ours was not applied.
        let other = [None, at(7, "b1"), at(8, "c"), at(12, "d2")];
        assert_eq!(outcome(&planned, &other), Outcome::NotApplied);
        // Applied at revision 10, whatever became of the compared key since.
        let applied = [at(10, "new"), at(10, "b2"), None, at(11, "d3")];
        assert_eq!(outcome(&planned, &applied), Outcome::Applied(Some(10)));
        // Applied, then someone else updated a key it wrote: cannot be told.
        let overwritten = [at(10, "new"), at(11, "b3"), None, at(9, "d")];
        assert_eq!(outcome(&planned, &overwritten), Outcome::Unknown);
        // The deleted key is back: cannot be told.
        let recreated = [at(10, "new"), at(10, "b2"), at(11, "c"), at(9, "d")];
        assert_eq!(outcome(&planned, &recreated), Outcome::Unknown);
        // Two written keys at different revisions: not one transaction.
        let split = [at(10, "new"), at(11, "b2"), None, at(9, "d")];
        assert_eq!(outcome(&planned, &split), Outcome::Unknown);
        // A commit that only deletes: applied, at a revision the keys do not hold.
        assert_eq!(
            outcome(&[delete(5), delete(6)], &[None, None]),
            Outcome::Applied(None)
        );
        // The value this commit put, at a new revision: taken as applied. Only a writer
        // that put the very same bytes (for a create, the same fresh uid) could fool it,
        // and the key would then hold what this commit wanted anyway.
        assert_eq!(
            outcome(&[put(7, "b2")], &[at(10, "b2")]),
            Outcome::Applied(Some(10))
        );
    }

    #[test]
    fn generated_names_have_five_characters() {
        let n = generated_name("wk-");
        assert_eq!(n.len(), 8);
        assert!(n.starts_with("wk-"));
    }

    #[test]
    fn config_is_checked() {
        let bad = |c: Config| EtcdStore::new(c).map(|_| ()).unwrap_err().to_string();
        assert!(bad(Config::new(vec![], "/x")).contains("no etcd endpoint"));
        assert!(bad(Config::new(vec!["a b:1".into()], "/x")).contains("white space"));
        assert!(bad(Config::new(vec!["a:1".into()], "/")).contains("prefix"));
        let ok = EtcdStore::new(Config::new(vec!["a:1".into()], "planes/one/"));
        assert_eq!(
            ok.map(|s| s.prefix().to_string()).ok().as_deref(),
            Some("/planes/one")
        );
    }
}
