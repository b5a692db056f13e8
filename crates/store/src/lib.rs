//! # ironbell-store
//!
//! The one storage interface every ironbell service and controller uses: [`Store`]. It holds
//! Kubernetes-style objects ([`DynamicObject`]) keyed by kind, namespace and name, with
//! optimistic concurrency on `resourceVersion`, ordered watches that resume from a
//! `resourceVersion`, and (where the backend can) atomic multi-object commits.
//!
//! This crate has no backend. Backends live in their own crates (`ironbell-store-sqlite`,
//! `ironbell-store-etcd`, `ironbell-store-kube`) and each must pass the shared test suite in `conformance`
//! (cargo feature `conformance`), which a backend runs with `store_conformance_tests!`.
//!
//! Start reading at [`Store`], then [`Api`] (the typed facade services use), then
//! [`reflector`] and [`snapshot`] (the in-memory indexes services answer from), then
//! [`events`] (how services record Events without waiting for the store), then
//! `conformance`.
//!
//! ## The contract every backend keeps, and what only some can do
//!
//! Every backend (SQLite, etcd, a Kubernetes API server) gives:
//!
//! - **single-object optimistic concurrency**: `update`, `update_status` and a `delete`
//!   with a precondition succeed only if the caller's `resourceVersion` is current, else
//!   [`StoreError::Conflict`];
//! - **ordered watches**: every change to a kind, in revision order, without gaps, resumable
//!   from any `resourceVersion` a list or watch returned (until compacted:
//!   [`StoreError::TooOld`]).
//!
//! **Atomic multi-object commits** are a capability, not part of the contract: SQLite and
//! etcd (a transaction) have them, a Kubernetes API server does not (each object is its own
//! request). [`Store::capabilities`] says which; on a backend without it, [`Store::commit`]
//! of more than one operation fails with [`StoreError::Unsupported`] and writes nothing.
//! A caller that needs all-or-nothing asks for it and fails clearly where it cannot be had;
//! the operations layer (`ironbell-ops`) makes `apply` and `hardware import` safe without it:
//! it writes object by object in dependency order, each write idempotent, so that running
//! the same command again after a failure finishes the job.
//!
//! **How many operations one commit may hold** is the other capability
//! ([`Capabilities::max_commit_ops`]): unlimited on SQLite, the members' `--max-txn-ops` on
//! etcd. [`commit_in_batches`] writes a set of operations of any size within that limit,
//! batch after batch, each batch atomic, and can be run again with the same operations
//! after a failure: it is for callers that do not need the whole set all or nothing.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use ironbell_model::selector::Selector;
use ironbell_model::{ConvertError, DynamicObject, Resource, TypeKey};

pub mod backend;
mod batch;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod events;
pub mod finalizers;
pub mod reflector;
pub mod snapshot;
mod typed;

pub use batch::{Applied, BatchError, commit_in_batches, same_content};
pub use typed::{Api, MODIFY_ATTEMPTS, TypedEvent, TypedWatchStream};

/// A store operation that failed, naming the object it was about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such object.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
    },
    /// Create of an object that exists.
    #[error("{kind} {namespace}/{name} already exists")]
    AlreadyExists {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
    },
    /// The object changed since the given `resourceVersion` was read.
    #[error(
        "{kind} {namespace}/{name} was modified (resourceVersion {given} is stale, current is {current}): read it again and retry"
    )]
    Conflict {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// The version the caller sent.
        given: String,
        /// The version the store holds.
        current: String,
    },
    /// The request itself is malformed (missing name, bad resourceVersion, ...).
    #[error("invalid {kind} {namespace}/{name}: {message}")]
    Invalid {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The object's name or namespace is not a valid Kubernetes name (see
    /// [`ironbell_model::names`]). Nothing was written. The message quotes the value with
    /// escapes, so printing this error is safe whatever the name holds.
    #[error("{kind} {namespace:?}/{name:?} cannot be created: {reason}")]
    InvalidName {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object, as given.
        namespace: String,
        /// Name of the object, as given.
        name: String,
        /// Which rule it breaks.
        reason: Box<ironbell_model::NameError>,
    },
    /// The object, as the store would keep it, is over
    /// [`MAX_OBJECT_BYTES`](ironbell_model::MAX_OBJECT_BYTES). Nothing was written.
    #[error(
        "{kind} {namespace}/{name} is {size} bytes, over the object size limit of {limit} bytes"
    )]
    TooLarge {
        /// Kind of the object.
        kind: String,
        /// Namespace of the object.
        namespace: String,
        /// Name of the object.
        name: String,
        /// Its size as stored (compact JSON).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A watch asked for history that has been compacted away (HTTP 410 Gone in Kubernetes):
    /// list again and watch from the list's version.
    #[error(
        "resourceVersion {requested} is too old: history starts after {oldest}; list again and watch from the new version"
    )]
    TooOld {
        /// The version asked for.
        requested: u64,
        /// The oldest version still watchable.
        oldest: u64,
    },
    /// The backend cannot do what was asked (e.g. an atomic commit of several objects on a
    /// backend without [`Capabilities::atomic_commit`]); nothing was written.
    #[error("the store backend cannot {what}")]
    Unsupported {
        /// What was asked.
        what: String,
    },
    /// A stored object could not be converted to its typed form.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The backend failed (I/O, corruption, lost connection).
    #[error("store backend: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether retrying the read-modify-write may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// Whether the object was not found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// `(kind, namespace, name)` of the object the error is about, when it names one.
    pub fn object(&self) -> Option<(&str, &str, &str)> {
        match self {
            Self::NotFound {
                kind,
                namespace,
                name,
            }
            | Self::AlreadyExists {
                kind,
                namespace,
                name,
            }
            | Self::Conflict {
                kind,
                namespace,
                name,
                ..
            }
            | Self::Invalid {
                kind,
                namespace,
                name,
                ..
            }
            | Self::InvalidName {
                kind,
                namespace,
                name,
                ..
            }
            | Self::TooLarge {
                kind,
                namespace,
                name,
                ..
            } => Some((kind, namespace, name)),
            Self::TooOld { .. }
            | Self::Unsupported { .. }
            | Self::Convert(_)
            | Self::Backend(_) => None,
        }
    }
}

/// Refuses `obj` when its stored form `encoded` is over
/// [`MAX_OBJECT_BYTES`](ironbell_model::MAX_OBJECT_BYTES): every backend calls this on
/// every create and update (status included) before writing.
pub fn check_size(obj: &DynamicObject, encoded: &str) -> Result<()> {
    let limit = ironbell_model::MAX_OBJECT_BYTES;
    if encoded.len() > limit {
        return Err(StoreError::TooLarge {
            kind: obj.types.kind.clone(),
            namespace: obj.namespace().to_string(),
            name: obj.name().to_string(),
            size: encoded.len(),
            limit,
        });
    }
    Ok(())
}

/// Refuses `obj` when its name is not a DNS-1123 subdomain or its namespace neither empty
/// (a cluster-scoped kind's object, such as a `v1 Node`) nor a DNS-1123 label
/// ([`StoreError::InvalidName`]): every backend calls this on every create (after a name is
/// generated from `generateName`), before writing. Which kinds are cluster-scoped is the
/// typed layer's business ([`ironbell_model::Resource::NAMESPACED`]), not the store's.
pub fn check_names(obj: &DynamicObject) -> Result<()> {
    let invalid = |reason| StoreError::InvalidName {
        kind: obj.types.kind.clone(),
        namespace: obj.namespace().to_string(),
        name: obj.name().to_string(),
        reason: Box::new(reason),
    };
    ironbell_model::validate_name(obj.name()).map_err(invalid)?;
    if obj.namespace().is_empty() {
        return Ok(());
    }
    ironbell_model::validate_namespace(obj.namespace()).map_err(invalid)
}

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What to list or watch.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Only this namespace; `None` for all.
    pub namespace: Option<String>,
    /// Only objects whose labels match.
    pub selector: Option<Selector>,
}

impl ListParams {
    /// Objects in one namespace.
    pub fn namespace(ns: impl Into<String>) -> Self {
        Self {
            namespace: Some(ns.into()),
            selector: None,
        }
    }

    /// Whether an object passes the namespace and selector filters.
    pub fn matches(&self, obj: &DynamicObject) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| obj.namespace() == ns)
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(obj.metadata.labels.as_ref()))
    }
}

/// The result of a list: the objects, ordered by namespace then name, and the store's
/// version at the time of the list (watch from it to see every later change).
#[derive(Clone, Debug, Default)]
pub struct ObjectList {
    /// The objects.
    pub items: Vec<DynamicObject>,
    /// The store revision the list reflects.
    pub resource_version: u64,
}

/// One change seen by a watch. Each carries the object as it was after the change (for
/// `Deleted`, its last state), with `metadata.resourceVersion` set to the change's revision.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent {
    /// Created.
    Added(DynamicObject),
    /// Updated (spec, metadata or status).
    Modified(DynamicObject),
    /// Deleted.
    Deleted(DynamicObject),
}

impl WatchEvent {
    /// The object of the event.
    pub fn object(&self) -> &DynamicObject {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }
}

/// A stream of changes, in revision order, without gaps.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent>> + Send>>;

/// One write of an atomic [`Store::commit`].
#[derive(Clone, Debug)]
pub enum Op {
    /// Create; fails if the object exists.
    Create(DynamicObject),
    /// Update (everything but `status`); `metadata.resourceVersion` must be current.
    Update(DynamicObject),
    /// Delete; if `resource_version` is given it must be current.
    Delete {
        /// Kind.
        types: TypeKey,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Precondition on the current version.
        resource_version: Option<String>,
    },
}

/// What a backend can do beyond the contract every backend keeps (see the crate docs).
/// The [`Default`] is what the embedded store can: atomic commits of any size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// [`Store::commit`] applies several operations all or nothing. Without it, `commit`
    /// accepts one operation at a time.
    pub atomic_commit: bool,
    /// The most operations one [`Store::commit`] may hold; `None`: no limit beyond memory
    /// (the embedded store). etcd's is the members' `--max-txn-ops` (128 by default); a
    /// larger commit is refused with [`StoreError::Unsupported`] and writes nothing.
    /// Callers that need all or nothing refuse a larger set of writes up front; callers that
    /// do not write it with [`commit_in_batches`], which splits it within this limit.
    /// Meaningful only with [`Capabilities::atomic_commit`] (without it the limit is one).
    pub max_commit_ops: Option<usize>,
    /// One kind may hold objects with and without a namespace. Not on a Kubernetes API
    /// server, where a kind is namespaced or cluster-scoped.
    pub mixed_scope: bool,
    /// A watch from version 0 replays the whole history. Not on a Kubernetes API server,
    /// where `resourceVersion=0` means "from any state": the current objects, then changes.
    pub watch_from_zero: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            atomic_commit: true,
            max_commit_ops: None,
            mixed_scope: true,
            watch_from_zero: true,
        }
    }
}

impl Capabilities {
    /// The most operations one commit may hold on this backend (at least one).
    pub fn commit_limit(&self) -> usize {
        if self.atomic_commit {
            self.max_commit_ops.unwrap_or(usize::MAX).max(1)
        } else {
            1
        }
    }
}

/// The storage interface. Objects are namespaced, or cluster-scoped with an empty namespace;
/// every write gets a new store-wide revision,
/// which becomes the object's `metadata.resourceVersion`.
///
/// Every backend refuses an object over
/// [`MAX_OBJECT_BYTES`](ironbell_model::MAX_OBJECT_BYTES) with [`StoreError::TooLarge`]
/// (see [`check_size`]).
///
/// Semantics follow the Kubernetes API server with a status subresource: `update` keeps the
/// stored `status`, `update_status` changes only `status`; both require the caller's
/// `metadata.resourceVersion` to equal the stored one and fail with
/// [`StoreError::Conflict`] otherwise.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// One object.
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject>;

    /// Objects of one kind, filtered, ordered by namespace then name.
    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList>;

    /// The objects [`Store::list`] returns, handed to `each` one at a time in the backend's
    /// order instead of collected, and the revision they reflect: for a reader that keeps
    /// only a little of each object (a reflector's compact records), so that a backend that
    /// reads in pages never holds the whole list. On an error, `each` may have seen part of
    /// the list. The default collects with [`Store::list`].
    async fn list_each(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        let list = self.list(types, params).await?;
        list.items.into_iter().for_each(each);
        Ok(list.resource_version)
    }

    /// Creates an object. The store sets `resourceVersion`, `uid`, `generation` and
    /// `creationTimestamp`.
    async fn create(&self, obj: DynamicObject) -> Result<DynamicObject> {
        single(self.commit(vec![Op::Create(obj)]).await?)
    }

    /// Replaces an object except its `status`.
    async fn update(&self, obj: DynamicObject) -> Result<DynamicObject> {
        single(self.commit(vec![Op::Update(obj)]).await?)
    }

    /// Replaces only the object's `status`.
    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject>;

    /// Deletes an object and returns its last state.
    async fn delete(
        &self,
        types: &TypeKey,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<DynamicObject> {
        single(
            self.commit(vec![Op::Delete {
                types: types.clone(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                resource_version: resource_version.map(str::to_string),
            }])
            .await?,
        )
    }

    /// What this backend can do beyond the contract. The default is what the embedded
    /// store can ([`Capabilities::default`]); a backend without atomic multi-object commits
    /// (a Kubernetes API server) or with a limit on their size (etcd) must override it.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Applies every operation or none. Returns the objects as written (for deletes, their
    /// last state), in the order given. On a backend without
    /// [`Capabilities::atomic_commit`], more than one operation fails with
    /// [`StoreError::Unsupported`].
    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>>;

    /// Changes to objects of one kind after `resource_version` (`None`: from now on),
    /// filtered like [`Store::list`]. Fails with [`StoreError::TooOld`] if that history is
    /// gone.
    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream>;

    /// Drops watch history up to and including revision `keep_after`: afterwards a watch
    /// from any revision older than `keep_after` fails with [`StoreError::TooOld`], one from
    /// `keep_after` or later still sees every change. A `keep_after` beyond the current
    /// revision compacts up to the current revision. Backends without history may keep the
    /// default, which does nothing.
    async fn compact(&self, keep_after: u64) -> Result<()> {
        let _ = keep_after;
        Ok(())
    }
}

fn single(mut objs: Vec<DynamicObject>) -> Result<DynamicObject> {
    objs.pop()
        .ok_or_else(|| StoreError::Backend("commit returned no object".into()))
}

/// A shared handle to any store.
pub type SharedStore = Arc<dyn Store>;

/// The typed facade for kind `K` on a shared store.
pub fn api<K: Resource>(store: &SharedStore) -> Api<K> {
    Api::new(store.clone())
}
