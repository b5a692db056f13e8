//! # ironbell-store-kube
//!
//! The [`Store`] trait on a Kubernetes API server, with `kube` (kube-rs): ironbell's
//! objects as Tinkerbell's custom resources (`tinkerbell.org`, `bmc.tinkerbell.org`) and
//! the built-in kinds (`v1 Secret`, `ConfigMap`, `Event`, ...), so that ironbell's services
//! run inside a Kubernetes cluster where Tinkerbell runs and its objects stay readable by
//! Tinkerbell's tools. It is not an API server (that is `ironbell-kube-api`), and it
//! installs no CRDs: the cluster must serve every kind the plane uses.
//!
//! Start reading at [`KubeStore::new`] and [`Source`], then the `Store` impl (each verb is
//! one request) and [`watch`] (a Kubernetes watch that resumes by itself).
//!
//! ## How each guarantee maps onto Kubernetes
//!
//! - **Objects** are read and written by path (`/apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME`),
//!   the plural and scope from the [`KindRegistry`] (a kind not in it gets kube-rs's guessed
//!   plural and is taken as namespaced). JSON in, JSON out: no typed Kubernetes structs sit
//!   between the server and ironbell's [`DynamicObject`].
//! - **`resourceVersion`** is the server's. ironbell's stores issue decimal versions and
//!   the [`Store`] contract orders them; Kubernetes calls them opaque, but an API server on
//!   etcd issues etcd revisions, which are decimal and increasing. A version that does not
//!   read as a number is an error naming the object.
//! - **Optimistic concurrency**: `update`, `update_status` and `delete` send the caller's
//!   `resourceVersion` (`PUT` with `metadata.resourceVersion`, `DELETE` with a precondition);
//!   the server's 409 `Conflict` is [`StoreError::Conflict`]. An update without a version is
//!   refused here ([`StoreError::Invalid`]), never sent as Kubernetes' unconditional update.
//! - **Status** is written through the `status` subresource (every kind must have it, as
//!   Tinkerbell's CRDs do). A `create` given a `status` (an import's) creates, then writes the
//!   status: two requests.
//! - **Lists** are read in pages (`limit`, `continue`, [`KubeStore::with_page_size`]); the
//!   list's `resourceVersion` is the first page's. A continue token that expired (410) makes
//!   [`Store::list`] start again, a few times; [`Store::list_each`], which has handed part of
//!   the list out already, fails instead.
//! - **Watches** are Kubernetes watches from a `resourceVersion`, with bookmarks. When the
//!   server ends one (its timeout) or the connection drops, the stream watches again from
//!   the last version it delivered or was bookmarked, skipping anything not newer, so it
//!   misses and repeats nothing. A 410 `Expired` (the history was compacted) ends it with
//!   [`StoreError::TooOld`]: the caller lists again (ironbell's reflectors do). A watch
//!   "from now" lists one object to learn the current version, then watches from it. A
//!   watch from version 0 has Kubernetes' meaning: every current object as `Added`, then
//!   the changes (the other backends replay the whole history from 0).
//! - **Compaction** is the API server's business (etcd compacts every five minutes by
//!   default): [`Store::compact`] does nothing here.
//!
//! ## What is no longer atomic, and how callers stay safe
//!
//! Kubernetes writes one object per request, so this backend has no atomic multi-object
//! commit ([`Capabilities::atomic_commit`] is false, the commit limit is one):
//! [`Store::commit`] of more than one operation is refused with
//! [`StoreError::Unsupported`] and writes nothing. What was one transaction elsewhere is
//! here a sequence of **idempotent, ordered writes**:
//!
//! - `hardware import` and `apply` (`ironbell-ops`) write object by object in dependency
//!   order (Secrets, then BMC Machines, then Hardware) through
//!   [`commit_in_batches`](ironbell_store::commit_in_batches): a failure leaves a prefix
//!   written and nothing that refers to a missing object; running the same command again
//!   finds the objects already there with the same content, and finishes.
//! - A `create` with a status is two writes; if the second fails, the object exists
//!   without its status until a controller (level-triggered) or a re-run writes it.
//! - Watches of different kinds are separate streams: an observer may see a Workflow's
//!   change before the Hardware change that came first. ironbell's controllers are
//!   level-triggered (they read the current state of what they need and resync
//!   periodically), so the order between kinds does not matter to them.
//!
//! Two processes must not run controllers on one such store: there is no election here
//! (no Kubernetes `Lease`s), and `ironbell-ops` takes no lock for it.
//!
//! ## What it relies on in the API server
//!
//! Paths and verbs of the Kubernetes REST API (`GET`, `POST`, `PUT`, `DELETE`, `?watch=1`);
//! `Status` objects with `code` and `reason` (`NotFound`, `AlreadyExists`, `Conflict`,
//! `Invalid`, `Expired`); `limit`/`continue`; watch bookmarks; the `status` subresource;
//! delete preconditions; decimal `resourceVersion`s. It has been run against ironbell's own
//! API server (`ironbell serve api`, the conformance suite in `tests/`) only: no other
//! Kubernetes API server can be installed on the machines that build ironbell.

use std::path::PathBuf;
use std::sync::Arc;

use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::backend::{name_required, parse_resource_version};
use ironbell_store::{
    Capabilities, ListParams, ObjectList, Op, Result, Store, StoreError, WatchStream, check_names,
    check_size,
};
use kube::core::params::{DeleteParams, ListParams as KubeList, PostParams, Preconditions};
use kube::core::{GroupVersionKind, Request};
use serde_json::Value;

pub mod watch;

/// Objects one list page asks for (what kubectl's `--chunk-size` defaults to).
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// `metadata` fields API servers send that ironbell's objects do not have: dropped on read.
const SERVER_METADATA: &[&str] = &["managedFields", "selfLink", "deletionGracePeriodSeconds"];
/// How many times [`Store::list`] starts again when its continue token expires.
const LIST_ATTEMPTS: usize = 3;

/// Where the API server and the credentials come from.
#[derive(Clone)]
pub enum Source {
    /// As kubectl and kube-rs find them: `$KUBECONFIG`, `~/.kube/config`, or the pod's
    /// service account inside a cluster (store spec `kube://`).
    Infer,
    /// This kubeconfig file, its current context (store spec `kubeconfig:PATH`).
    Kubeconfig(PathBuf),
    /// A configuration built by the caller.
    Config(Box<kube::Config>),
}

impl std::fmt::Display for Source {
    /// Where, without credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Infer => f.write_str("kube://"),
            Self::Kubeconfig(path) => write!(f, "kubeconfig:{}", path.display()),
            Self::Config(config) => write!(f, "kube:{}", config.cluster_url),
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({self})")
    }
}

/// The store on a Kubernetes API server (see the crate docs). Cheap to clone; the client
/// is made on first use, so that opening never blocks and a server that is down at start
/// is an error of the first request, not of opening.
#[derive(Clone)]
pub struct KubeStore {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    client: tokio::sync::OnceCell<kube::Client>,
    kinds: KindRegistry,
    page_size: u32,
}

impl std::fmt::Debug for KubeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStore")
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

/// Where a kind's objects are: its collection path and whether it is namespaced.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    group_version: String,
    plural: String,
    pub(crate) namespaced: bool,
}

impl Resource {
    /// The collection path in `namespace` (all namespaces, or a cluster-scoped kind, when
    /// `None` or empty).
    pub(crate) fn request(&self, namespace: Option<&str>) -> Request {
        let base = if self.group_version.contains('/') {
            format!("/apis/{}", self.group_version)
        } else {
            format!("/api/{}", self.group_version)
        };
        let path = match namespace.filter(|ns| self.namespaced && !ns.is_empty()) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        };
        Request::new(path)
    }
}

impl KubeStore {
    /// A store on the API server `source` names, for the kinds of `kinds` (others are
    /// guessed, see the crate docs). Nothing is contacted until the first request.
    pub fn new(source: Source, kinds: KindRegistry) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                client: tokio::sync::OnceCell::new(),
                kinds,
                page_size: DEFAULT_PAGE_SIZE,
            }),
        }
    }

    /// The same store reading lists in pages of `size` objects (at least one).
    pub fn with_page_size(self, size: u32) -> Self {
        let inner = Inner {
            source: self.inner.source.clone(),
            client: self.inner.client.clone(),
            kinds: self.inner.kinds.clone(),
            page_size: size.max(1),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Where the store is, without credentials.
    pub fn source(&self) -> &Source {
        &self.inner.source
    }

    pub(crate) async fn client(&self) -> Result<kube::Client> {
        let source = &self.inner.source;
        self.inner
            .client
            .get_or_try_init(|| async {
                let config = match source {
                    Source::Infer => kube::Config::infer().await.map_err(|e| e.to_string()),
                    Source::Kubeconfig(path) => match kube::config::Kubeconfig::read_from(path) {
                        Ok(kc) => kube::Config::from_custom_kubeconfig(kc, &Default::default())
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    },
                    Source::Config(config) => Ok((**config).clone()),
                };
                config
                    .and_then(|c| kube::Client::try_from(c).map_err(|e| e.to_string()))
                    .map_err(|e| {
                        StoreError::Backend(format!("the Kubernetes API at {source}: {e}"))
                    })
            })
            .await
            .cloned()
    }

    pub(crate) fn resource(&self, types: &TypeKey) -> Resource {
        if let Some(kind) = self.inner.kinds.get(types) {
            return Resource {
                group_version: kind.api_version.to_string(),
                plural: kind.plural.to_string(),
                namespaced: kind.namespaced,
            };
        }
        let (group, version) = types
            .api_version
            .split_once('/')
            .unwrap_or(("", types.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &types.kind);
        Resource {
            group_version: types.api_version.clone(),
            plural: kube::core::ApiResource::from_gvk(&gvk).plural,
            namespaced: true,
        }
    }

    /// One list page: its items (as given), its `resourceVersion` and continue token.
    async fn page(
        &self,
        types: &TypeKey,
        params: &ListParams,
        token: Option<String>,
    ) -> Result<(Vec<Value>, u64, Option<String>)> {
        let resource = self.resource(types);
        let lp = KubeList {
            label_selector: params.selector.as_ref().map(ToString::to_string),
            limit: Some(self.inner.page_size),
            continue_token: token,
            ..KubeList::default()
        };
        let req = resource
            .request(params.namespace.as_deref())
            .list(&lp)
            .map_err(|e| build_error(types, "", &e))?;
        let mut page: Value = self
            .client()
            .await?
            .request(req)
            .await
            .map_err(|e| list_error(types, &resource, e))?;
        let rv = version_of(types, "", page.pointer("/metadata/resourceVersion"))?;
        let token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let items = match page.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(StoreError::Backend(format!(
                    "the {} list's items are not an array",
                    types.kind
                )));
            }
        };
        Ok((items, rv, token))
    }

    /// Every page of a list, each object handed to `each`; the first page's version.
    async fn pages(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        let (mut items, rv, mut token) = self.page(types, params, None).await?;
        loop {
            for item in items {
                let obj = object(types, item)?;
                if params.matches(&obj) {
                    each(obj);
                }
            }
            let Some(next) = token.take() else {
                return Ok(rv);
            };
            (items, _, token) = self.page(types, params, Some(next)).await?;
        }
    }

    async fn get_object(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<Value> {
        if ironbell_model::validate_name(name).is_err() {
            // No object can have that name, and it may not fit in a path.
            return Err(not_found(types, namespace, name));
        }
        let req = self
            .resource(types)
            .request(Some(namespace))
            .get(name, &Default::default())
            .map_err(|e| build_error(types, name, &e))?;
        self.client()
            .await?
            .request(req)
            .await
            .map_err(|e| object_error(types, namespace, name, None, e))
    }

    async fn create_object(&self, mut obj: DynamicObject) -> Result<DynamicObject> {
        let types = obj.types.clone();
        if obj.name().is_empty() {
            if obj
                .metadata
                .generate_name
                .as_deref()
                .is_none_or(str::is_empty)
            {
                return Err(name_required(&obj));
            }
        } else {
            check_names(&obj)?;
        }
        let body = obj.to_json().map_err(|e| encode_error(&obj, &e))?;
        check_size(&obj, &body)?;
        let status = obj
            .body
            .get("status")
            .filter(|raw| !matches!(raw.get().trim(), "null" | "{}"))
            .cloned();
        obj.metadata.resource_version = None;
        let resource = self.resource(&types);
        let req = resource
            .request(Some(obj.namespace()))
            .create(&PostParams::default(), body.into_bytes())
            .map_err(|e| build_error(&types, obj.name(), &e))?;
        let created: Value = self
            .client()
            .await?
            .request(req)
            .await
            .map_err(|e| object_error(&types, obj.namespace(), obj.name(), None, e))?;
        let mut created = object(&types, created)?;
        if let Some(status) = status {
            // A status given on create (an import's) is written through the subresource.
            created.body.insert("status".into(), status);
            created = self.replace(created, true).await?;
        }
        Ok(created)
    }

    async fn replace(&self, obj: DynamicObject, status: bool) -> Result<DynamicObject> {
        let types = obj.types.clone();
        let (ns, name) = (obj.namespace().to_string(), obj.name().to_string());
        let given = obj.metadata.resource_version.clone();
        parse_resource_version(&types, &ns, &name, given.as_deref(), true)?;
        if ironbell_model::validate_name(&name).is_err() {
            return Err(not_found(&types, &ns, &name));
        }
        let body = obj.to_json().map_err(|e| encode_error(&obj, &e))?;
        check_size(&obj, &body)?;
        let request = self.resource(&types).request(Some(&ns));
        let pp = PostParams::default();
        let req = if status {
            request.replace_subresource("status", &name, &pp, body.into_bytes())
        } else {
            request.replace(&name, &pp, body.into_bytes())
        }
        .map_err(|e| build_error(&types, &name, &e))?;
        let result = self.client().await?.request::<Value>(req).await;
        match result {
            Ok(v) => object(&types, v),
            Err(e) => {
                let mut err = object_error(&types, &ns, &name, given.as_deref(), e);
                self.fill_current(&types, &mut err).await;
                Err(err)
            }
        }
    }

    async fn delete_object(
        &self,
        types: &TypeKey,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<DynamicObject> {
        parse_resource_version(types, namespace, name, resource_version, false)?;
        if ironbell_model::validate_name(name).is_err() {
            return Err(not_found(types, namespace, name));
        }
        let dp = DeleteParams {
            preconditions: resource_version
                .filter(|v| !v.is_empty())
                .map(|v| Preconditions {
                    resource_version: Some(v.to_string()),
                    uid: None,
                }),
            ..DeleteParams::default()
        };
        let req = self
            .resource(types)
            .request(Some(namespace))
            .delete(name, &dp)
            .map_err(|e| build_error(types, name, &e))?;
        match self.client().await?.request::<Value>(req).await {
            Ok(v) if v.get("kind").and_then(Value::as_str) == Some("Status") => {
                // Some servers answer a delete with a Status, not the object.
                Ok(DynamicObject::new(
                    types.clone(),
                    ironbell_model::ObjectMeta::named(namespace, name),
                ))
            }
            Ok(v) => object(types, v),
            Err(e) => {
                let mut err = object_error(types, namespace, name, resource_version, e);
                self.fill_current(types, &mut err).await;
                Err(err)
            }
        }
    }

    /// Puts the stored version into a [`StoreError::Conflict`] (the server's 409 does not
    /// carry it), when it can be read.
    async fn fill_current(&self, types: &TypeKey, err: &mut StoreError) {
        if let StoreError::Conflict {
            namespace,
            name,
            current,
            ..
        } = err
            && let Ok(v) = self.get_object(types, namespace, name).await
            && let Some(rv) = v
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
        {
            *current = rv.to_string();
        }
    }
}

#[async_trait::async_trait]
impl Store for KubeStore {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        object(types, self.get_object(types, namespace, name).await?)
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        let mut attempt = 0;
        loop {
            let mut items = Vec::new();
            match self
                .pages(types, params, &mut |o: DynamicObject| items.push(o))
                .await
            {
                Ok(resource_version) => {
                    return Ok(ObjectList {
                        items,
                        resource_version,
                    });
                }
                Err(StoreError::TooOld { .. }) if attempt + 1 < LIST_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(kind = %types.kind, attempt, "a list's continue token expired; listing again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn list_each(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        self.pages(types, params, each).await
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        self.replace(obj, true).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_commit: false,
            max_commit_ops: Some(1),
            mixed_scope: false,
            watch_from_zero: false,
        }
    }

    async fn commit(&self, mut ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        if ops.len() > 1 {
            return Err(StoreError::Unsupported {
                what: format!(
                    "write {} objects atomically on a Kubernetes API server (one object per request): write them one by one, in order",
                    ops.len()
                ),
            });
        }
        let Some(op) = ops.pop() else {
            return Ok(Vec::new());
        };
        let written = match op {
            Op::Create(obj) => self.create_object(obj).await?,
            Op::Update(obj) => self.replace(obj, false).await?,
            Op::Delete {
                types,
                namespace,
                name,
                resource_version,
            } => {
                self.delete_object(&types, &namespace, &name, resource_version.as_deref())
                    .await?
            }
        };
        Ok(vec![written])
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        let from = match resource_version {
            Some(rv) => rv,
            None => self.page(types, params, None).await.map(|(_, rv, _)| rv)?,
        };
        watch::start(self.clone(), types.clone(), params.clone(), from).await
    }
}

/// ironbell's object from the server's JSON, `apiVersion` and `kind` filled in when a list
/// left them out.
pub(crate) fn object(types: &TypeKey, mut value: Value) -> Result<DynamicObject> {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        // What API servers add that ironbell's objects do not keep (an update without
        // them leaves the server's as they are).
        for server_only in SERVER_METADATA {
            meta.remove(*server_only);
        }
    }
    if let Some(map) = value.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::from(types.api_version.clone()));
        map.entry("kind")
            .or_insert_with(|| Value::from(types.kind.clone()));
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let obj: DynamicObject = serde_json::from_value(value).map_err(|e| {
        StoreError::Backend(format!(
            "the API server sent {} {name:?} that does not read as an object: {e}",
            types.kind
        ))
    })?;
    version_of(
        types,
        &name,
        obj.metadata
            .resource_version
            .as_deref()
            .map(Value::from)
            .as_ref(),
    )?;
    Ok(obj)
}

/// A `resourceVersion` the server sent, as a number.
pub(crate) fn version_of(types: &TypeKey, name: &str, rv: Option<&Value>) -> Result<u64> {
    let text = rv.and_then(Value::as_str).unwrap_or_default();
    text.parse().map_err(|_| {
        StoreError::Backend(format!(
            "the API server sent {} {name:?} with resourceVersion {text:?}, not a decimal number (see the crate docs of ironbell-store-kube)",
            types.kind
        ))
    })
}

fn not_found(types: &TypeKey, namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: types.kind.clone(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

fn encode_error(obj: &DynamicObject, e: &serde_json::Error) -> StoreError {
    StoreError::Invalid {
        kind: obj.types.kind.clone(),
        namespace: obj.namespace().to_string(),
        name: obj.name().to_string(),
        message: format!("does not encode as JSON: {e}"),
    }
}

fn build_error(types: &TypeKey, name: &str, e: &kube::core::request::Error) -> StoreError {
    StoreError::Backend(format!(
        "building the request for {} {name:?}: {e}",
        types.kind
    ))
}

/// The server's `Status` of a failed request, if it sent one.
pub(crate) fn status_of(e: &kube::Error) -> Option<&kube::core::Status> {
    match e {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

/// A failed list: a 404 means the server does not serve the kind (no CRD).
fn list_error(types: &TypeKey, resource: &Resource, e: kube::Error) -> StoreError {
    match status_of(&e).map(|s| s.code) {
        Some(404) => StoreError::Backend(format!(
            "the API server does not serve {} ({}): is its CustomResourceDefinition installed?",
            resource.plural, types.api_version
        )),
        Some(410) => StoreError::TooOld {
            requested: 0,
            oldest: 0,
        },
        _ => other_error(types, "", e),
    }
}

/// A failed request about one object, as the [`StoreError`] the server's reason means.
fn object_error(
    types: &TypeKey,
    namespace: &str,
    name: &str,
    given: Option<&str>,
    e: kube::Error,
) -> StoreError {
    let Some(status) = status_of(&e) else {
        return other_error(types, name, e);
    };
    let (kind, namespace, name) = (types.kind.clone(), namespace.to_string(), name.to_string());
    match (status.code, status.reason.as_str()) {
        (404, _) => StoreError::NotFound {
            kind,
            namespace,
            name,
        },
        (409, "AlreadyExists") => StoreError::AlreadyExists {
            kind,
            namespace,
            name,
        },
        (409, _) => StoreError::Conflict {
            kind,
            namespace,
            name,
            given: given.unwrap_or_default().to_string(),
            current: "newer".into(),
        },
        (400 | 422, _) => StoreError::Invalid {
            kind,
            namespace,
            name,
            message: status.message.clone(),
        },
        _ => other_error(types, &name, e),
    }
}

fn other_error(types: &TypeKey, name: &str, e: kube::Error) -> StoreError {
    match status_of(&e) {
        Some(s) => StoreError::Backend(format!(
            "the API server refused a request about {} {name:?}: {} {}: {}",
            types.kind, s.code, s.reason, s.message
        )),
        None => StoreError::Backend(format!(
            "the Kubernetes API, about {} {name:?}: {e}",
            types.kind
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_metadata_is_dropped_and_versions_must_be_numbers() {
        let types = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
        let value = json!({
            "metadata": {
                "name": "h1", "namespace": "default", "resourceVersion": "42",
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                "selfLink": "/apis/tinkerbell.org/v1alpha1/namespaces/default/hardware/h1",
            },
            "spec": {},
        });
        let obj = object(&types, value).expect("an object");
        assert_eq!((obj.name(), obj.types.kind.as_str()), ("h1", "Hardware"));
        assert_eq!(obj.metadata.resource_version.as_deref(), Some("42"));
        let opaque = json!({"metadata": {"name": "h2", "resourceVersion": "abc"}});
        let err = object(&types, opaque).expect_err("not a number");
        assert!(err.to_string().contains("\"abc\""), "{err}");
    }

    #[test]
    fn paths_follow_the_kind_and_scope() {
        let store = KubeStore::new(Source::Infer, KindRegistry::builtin());
        let hw = store.resource(&TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"));
        assert_eq!(
            hw.request(Some("eksa-system")).url_path,
            "/apis/tinkerbell.org/v1alpha1/namespaces/eksa-system/hardware"
        );
        assert_eq!(
            hw.request(None).url_path,
            "/apis/tinkerbell.org/v1alpha1/hardware"
        );
        let secret = store.resource(&TypeKey::new("v1", "Secret"));
        assert_eq!(
            secret.request(Some("default")).url_path,
            "/api/v1/namespaces/default/secrets"
        );
        let guessed = store.resource(&TypeKey::new("example.com/v1", "Gizmo"));
        assert_eq!(
            guessed.request(None).url_path,
            "/apis/example.com/v1/gizmos"
        );
    }
}
