//! The one error type of the operations layer: each variant says what failed and for which
//! object or file.

use std::path::PathBuf;

use ironbell_model::ConvertError;
use ironbell_store::StoreError;
use ironbell_store_sqlite::LockError;

/// An operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A Kubernetes store spec (`kube://`, `kubeconfig:PATH`) is malformed.
    #[error(
        "store {spec:?}: {reason} (kube:// for the kubeconfig kubectl would use, or kubeconfig:PATH)"
    )]
    KubeSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The store spec has a scheme nobody knows.
    #[error("store {spec:?}: unknown scheme {scheme:?} (use sqlite:PATH or a file path)")]
    UnknownScheme {
        /// The spec as given.
        spec: String,
        /// Its scheme.
        scheme: String,
    },
    /// An `etcd://` or `etcds://` store spec is malformed. The spec is not repeated (it
    /// may hold a password by mistake).
    #[error(
        "etcd store spec: {reason} (etcd://HOST:PORT[,HOST:PORT...][/PREFIX], or etcds://...?cacert=PATH[&cert=PATH&key=PATH] for TLS)"
    )]
    EtcdSpec {
        /// What is wrong.
        reason: String,
    },
    /// The etcd configuration cannot be used.
    #[error(transparent)]
    EtcdConfig(#[from] ironbell_store_etcd::ConfigError),
    /// The store spec is empty or names no file.
    #[error("store {spec:?}: no database file named")]
    EmptySpec {
        /// The spec as given.
        spec: String,
    },
    /// A read-only command was pointed at a store that does not exist.
    #[error(
        "the store {} does not exist (nothing was imported or applied there yet; check --db)",
        .path.display()
    )]
    MissingStore {
        /// The database file.
        path: PathBuf,
    },
    /// A directory could not be created.
    #[error("cannot create the directory {}", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store {}", .path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: Box<StoreError>,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An object could not be converted between its typed and dynamic forms.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// Documents could not be read (every error, each naming its document and field).
    #[error(transparent)]
    Parse(#[from] ironbell_model::document::ParseErrors),
    /// An object does not match its registered kind, or its kind is not registered.
    #[error(transparent)]
    Validate(#[from] ironbell_model::ValidateError),
    /// A kind name nobody knows.
    #[error(
        "unknown kind {name:?}{}; known kinds: {known}",
        suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
    )]
    UnknownKind {
        /// The name given.
        name: String,
        /// The known name closest to it, when one is close (a typo).
        suggestion: Option<String>,
        /// The known kinds, comma-separated.
        known: String,
    },
    /// No object of that kind and name in any namespace.
    #[error("{kind} {name:?} not found in any namespace")]
    NotFound {
        /// Kind.
        kind: String,
        /// Name.
        name: String,
    },
    /// The name exists in several namespaces and none was given.
    #[error("{kind} {name:?} exists in several namespaces ({}); choose one with -n", .namespaces.join(", "))]
    Ambiguous {
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// Where it exists.
        namespaces: Vec<String>,
    },
    /// The input itself is wrong (an object without a name, one object twice).
    #[error("{0}")]
    Input(String),
    /// The objects would break the inventory: each line names both objects.
    #[error("{}; nothing was written", .conflicts.join("; "))]
    Integrity {
        /// One sentence per conflict.
        conflicts: Vec<String>,
    },
    /// All-or-nothing was required and the backend cannot commit that many objects at once.
    #[error(
        "writing {count} objects all or nothing needs one commit of {count} writes, and this store backend commits at most {limit} at once (etcd: raise --max-txn-ops on the members and max-txn-ops= in the store spec); nothing was written"
    )]
    NotAtomic {
        /// How many writes.
        count: usize,
        /// The most writes one commit of the backend holds (1 without atomic commits).
        limit: usize,
    },
    /// A write object by object stopped part way (on a backend without atomic commits).
    #[error(
        "wrote {done} of {total} objects, then {kind} {namespace}/{name} failed; run the same command again to finish (each write is idempotent)"
    )]
    Partial {
        /// Writes done.
        done: usize,
        /// Writes planned.
        total: usize,
        /// Kind of the object that failed.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        source: Box<StoreError>,
    },
    /// Another process runs controllers on this store.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The controller election on etcd cannot be held (bad settings).
    #[error("controller election: {0}")]
    Election(#[from] ironbell_store_etcd::ElectionError),
    /// A service of a plane could not start or stopped.
    #[error("{service} service: {message}")]
    Service {
        /// Which service.
        service: &'static str,
        /// What happened (the service's error chain).
        message: String,
    },
    /// `store migrate` found objects in the target that are not copies of the source's;
    /// nothing was written.
    #[error(
        "the target store holds {count} object(s) that are not copies of the source's: {}; nothing was written (migrate into an empty store or another etcd prefix; a target holding only copies, left by an interrupted run, is finished)",
        .objects.join(", ")
    )]
    MigrateTarget {
        /// How many.
        count: usize,
        /// The first of them, each `Kind namespace/name (why)`, then how many more.
        objects: Vec<String>,
    },
    /// An object of the moved cluster belongs to another cluster too.
    #[error("{object} belongs to several clusters ({}): a move takes one cluster's objects only", .clusters.join(", "))]
    MoveTenants {
        /// `Kind namespace/name`.
        object: String,
        /// The clusters it belongs to.
        clusters: Vec<String>,
    },
    /// The cluster is paused, and not by a move.
    #[error(
        "cluster {cluster} is paused (spec.paused or cluster.x-k8s.io/paused): unpause it before moving it"
    )]
    MovePaused {
        /// The cluster.
        cluster: String,
    },
    /// Objects kept the `clusterctl.cluster.x-k8s.io/block-move` annotation past the wait.
    #[error("still blocked by clusterctl.cluster.x-k8s.io/block-move: {}; nothing was copied (run the move again once they are ready)", .objects.join(", "))]
    MoveBlocked {
        /// `Kind namespace/name` of each.
        objects: Vec<String>,
    },
    /// The copies read back from the target differ from the source's; nothing was deleted
    /// from the source.
    #[error("the target's copies do not match the source: {}; nothing was deleted from the source", .objects.join("; "))]
    MoveVerify {
        /// `Kind namespace/name: why` of each.
        objects: Vec<String>,
    },
    /// A move stopped on purpose after this many writes (a test's fault injection); running
    /// it again finishes it.
    #[error("the move stopped after {writes} writes; run it again to finish")]
    MoveStopped {
        /// Writes done.
        writes: usize,
    },
    /// A file could not be read or written.
    #[error("{what} {}", .path.display())]
    Io {
        /// `reading` / `writing` / `creating`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
