//! `ironbell move`: a cluster's management objects from one store to another, with
//! `clusterctl move`'s semantics (LIFECYCLE.md 1.4), and `--to-directory` /
//! `--from-directory`, a backup and restore of the same objects.
//!
//! ## What moves
//!
//! From the namespace given (EKS Anywhere's `eksa-system`):
//!
//! - objects of the Cluster API groups (`*.cluster.x-k8s.io`), `Secret`s and `ConfigMap`s
//!   whose *tenant* is the named Cluster. Tenancy runs from a `Cluster` to what it owns, as
//!   clusterctl's object graph does, through owner references, through *soft* ownership (a
//!   Secret named `<cluster>-<purpose>`: `kubeconfig`, `ca`, `etcd`, `proxy`, `sa`, `cca`),
//!   and, because not every object here carries owner references, through the
//!   `cluster.x-k8s.io/cluster-name` label and the references in an object's body (a
//!   `KubeadmControlPlane`'s `infrastructureRef` names its machine template). An object
//!   with two tenants is refused, as EKS Anywhere's filter refuses it;
//! - objects with no tenant that clusterctl force-moves: every `Hardware` and BMC
//!   `Machine` (their CRDs carry `clusterctl.cluster.x-k8s.io/move`), and any object
//!   labelled `clusterctl.cluster.x-k8s.io/move` (the BMC Secrets) or under one labelled
//!   `clusterctl.cluster.x-k8s.io/move-hierarchy`;
//! - EKS Anywhere's own objects, as its `ClusterMover` does: the EKS Anywhere `Cluster` of
//!   the same name (any namespace) and the objects its spec names by kind and name (the
//!   datacenter and machine configs), created on the target without owner references;
//! - the `Node`s of the cluster's Machines (cluster-scoped, matched by `spec.providerID`).
//!   Not clusterctl's: with Kubernetes the Nodes live in the workload cluster, which a move
//!   does not touch; ironbell keeps them (what a node's phone-home writes) in the plane's
//!   store, so they go with the cluster, or the target's Machines would lose their nodes.
//!
//! Templates, Workflows, BMC Jobs and Tasks, Events and the lifecycle's journal do not move:
//! their CRDs carry no move label, and a provisioned Hardware (annotated `provisioned`) makes
//! the target's `TinkerbellMachine` ready without a Workflow.
//!
//! ## The steps, each idempotent
//!
//! 1. Refuse a Cluster that someone else paused; pause ours (`spec.paused`, and the
//!    [`PAUSED_BY_MOVE_ANNOTATION`] that tells a re-run the pause is its own) and the EKS
//!    Anywhere objects (`anywhere.eks.amazonaws.com/paused`; the Cluster also gets
//!    `managed-by-cli` and loses `tinkerbell-bootstrap-ip`). Every controller leaves a
//!    paused cluster's objects alone, so nothing on either side acts on them from here on.
//! 2. Wait while an object carries `clusterctl.cluster.x-k8s.io/block-move`.
//! 3. Create the objects on the target in waves, owners before what they own, each owner
//!    reference rebuilt with the uid its owner received there; an object that exists on
//!    the target (an earlier, interrupted run made it) is updated to the source's content.
//! 4. Read every object back from the target and compare it with the source's (owners
//!    mapped): nothing is deleted from the source unless every copy checks out.
//! 5. Annotate every object of the source `clusterctl.cluster.x-k8s.io/delete-for-move`
//!    (a re-run counts an object so marked as moving, since what made it belong to the
//!    cluster may be deleted already), then delete them in reverse order (what is owned
//!    before its owner), the EKS Anywhere objects first and the Cluster API `Cluster` last. The store deletes at once (no
//!    finalizers run), as clusterctl removes the finalizers of what it deletes.
//! 6. Unpause the target.
//!
//! The source's `Cluster` is therefore the marker of where a move stands: while the
//! source has it, a run (again) does every step, each finding done what an earlier run did;
//! once it is gone, every other object is gone from the source too, and a run only unpauses
//! the target. A move killed at any write and run again ends as an uninterrupted one
//! (`crates/ops/tests/mover.rs` stops one after every single write).
//!
//! ## Directories
//!
//! [`to_directory`] pauses the source, writes each object that would move to
//! `DIR/<Kind>_<namespace>_<name>.yaml` (as clusterctl names them; the directory is created
//! private, since Secrets are among them), and unpauses the source, which keeps everything.
//! The files hold the objects as they were, paused, with their source uids, so that
//! [`from_directory`] rebuilds the owner references on any target, then unpauses it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ironbell_cluster_api::{CLUSTER_NAME_LABEL, PAUSED_ANNOTATION};
use ironbell_model::{DynamicObject, KindInfo, KindRegistry, TypeKey};
use ironbell_store::{ListParams, Store, StoreError};
use serde_json::Value;

use crate::OpsError;
use crate::migrate::{describe, mapped, portable, waves};

/// The label that makes clusterctl move an object with no tenant (and that Tinkerbell's
/// Hardware and BMC Machine CRDs carry).
pub const MOVE_LABEL: &str = "clusterctl.cluster.x-k8s.io/move";
/// The label that makes clusterctl move an object with everything it owns.
pub const MOVE_HIERARCHY_LABEL: &str = "clusterctl.cluster.x-k8s.io/move-hierarchy";
/// While an object carries this annotation, a move waits.
pub const BLOCK_MOVE_ANNOTATION: &str = "clusterctl.cluster.x-k8s.io/block-move";
/// Put on each source object just before the move deletes it.
pub const DELETE_FOR_MOVE_ANNOTATION: &str = "clusterctl.cluster.x-k8s.io/delete-for-move";
/// Put on a `Cluster` the move paused (value: the cluster's name), so that a re-run knows
/// the pause is its own and carries on instead of refusing a paused cluster.
pub const PAUSED_BY_MOVE_ANNOTATION: &str = "move.ironbell.dev/paused";

const EKSA_GROUP: &str = "anywhere.eks.amazonaws.com";
const EKSA_PAUSED_ANNOTATION: &str = "anywhere.eks.amazonaws.com/paused";
const EKSA_MANAGED_BY_CLI_ANNOTATION: &str = "anywhere.eks.amazonaws.com/managed-by-cli";
const EKSA_BOOTSTRAP_IP_ANNOTATION: &str = "anywhere.eks.amazonaws.com/tinkerbell-bootstrap-ip";
/// The purposes of the Secrets a Cluster soft-owns by name (`<cluster>-<purpose>`).
const SECRET_PURPOSES: &[&str] = &["kubeconfig", "ca", "etcd", "proxy", "sa", "cca"];
/// Attempts of a read-modify-write that meets a conflict.
const ATTEMPTS: usize = 5;
/// How long a move waits for `block-move` annotations to go (clusterctl: about 2 min).
pub const BLOCK_MOVE_TIMEOUT: Duration = Duration::from_secs(120);

/// The API group of a kind (`""` for the core group).
fn group(types: &TypeKey) -> &str {
    types.api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

fn cluster_types() -> TypeKey {
    TypeKey::new("cluster.x-k8s.io/v1beta1", "Cluster")
}

/// Called before every write a move makes, with the number of writes done so far;
/// returning `false` stops the move there with [`OpsError::MoveStopped`]. For tests that
/// stop a move at each step (the `ironbell` command turns one into a `SIGKILL` of itself).
pub type WriteHook = Arc<dyn Fn(usize) -> bool + Send + Sync>;

/// What to move.
#[derive(Clone)]
pub struct MoveOptions {
    /// The namespace of the Cluster API objects (EKS Anywhere: `eksa-system`).
    pub namespace: String,
    /// The Cluster API `Cluster`'s name (for [`from_directory`]: ignored, every Cluster of
    /// the directory is unpaused).
    pub cluster: String,
    /// How long to wait for `block-move` annotations to go.
    pub block_timeout: Duration,
    /// See [`WriteHook`].
    pub before_write: Option<WriteHook>,
}

impl MoveOptions {
    /// The cluster `cluster` in `namespace`, default waits, no hook.
    pub fn new(namespace: impl Into<String>, cluster: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            cluster: cluster.into(),
            block_timeout: BLOCK_MOVE_TIMEOUT,
            before_write: None,
        }
    }
}

impl std::fmt::Debug for MoveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoveOptions")
            .field("namespace", &self.namespace)
            .field("cluster", &self.cluster)
            .field("block_timeout", &self.block_timeout)
            .field("before_write", &self.before_write.is_some())
            .finish()
    }
}

/// What a move did with one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MovedKind {
    /// Objects of this kind that moved (or were written to the directory).
    pub objects: usize,
    /// Created on the target by this run.
    pub created: usize,
    /// Found on the target with other content and updated to the source's.
    pub updated: usize,
    /// Found on the target as the source has them (an earlier run copied them).
    pub unchanged: usize,
}

/// The result of a move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveReport {
    /// Per kind (`Kind.apiVersion` order).
    pub kinds: BTreeMap<TypeKey, MovedKind>,
    /// Source objects this run deleted.
    pub deleted: usize,
    /// The source no longer had the cluster: an earlier run had moved everything, and this
    /// one only finished (unpaused the target).
    pub already_moved: bool,
    /// Writes this run made, on either side.
    pub writes: usize,
}

impl MoveReport {
    /// Objects moved, every kind.
    pub fn objects(&self) -> usize {
        self.kinds.values().map(|k| k.objects).sum()
    }

    /// The objects per kind, `4 Hardware, 12 Secret`; a kind whose name two groups share
    /// is qualified by its group (`4 Machine.cluster.x-k8s.io, 4 Machine.bmc.tinkerbell.org`).
    pub fn summary(&self) -> String {
        self.kinds
            .iter()
            .map(|(t, k)| {
                let shared = self
                    .kinds
                    .keys()
                    .any(|o| o.kind == t.kind && o.api_version != t.api_version);
                match t.api_version.rsplit_once('/') {
                    Some((group, _)) if shared => format!("{} {}.{group}", k.objects, t.kind),
                    _ => format!("{} {}", k.objects, t.kind),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How an object of a kind qualifies for a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// When the named Cluster is its tenant, or it has no tenant and a move label.
    Tenancy,
    /// Always, unless another Cluster is its tenant.
    Force,
    /// EKS Anywhere's objects: the Cluster of the same name and what its spec names.
    EksA,
}

fn rule(info: &KindInfo) -> Option<Rule> {
    match (info.group(), info.kind) {
        ("tinkerbell.org", "Hardware") | ("bmc.tinkerbell.org", "Machine") => Some(Rule::Force),
        ("", "Secret" | "ConfigMap") => Some(Rule::Tenancy),
        (EKSA_GROUP, _) => Some(Rule::EksA),
        (g, _) if g == "cluster.x-k8s.io" || g.ends_with(".cluster.x-k8s.io") => {
            Some(Rule::Tenancy)
        }
        _ => None,
    }
}

/// The objects of one move, as the source holds them.
#[derive(Debug, Default)]
struct Graph {
    /// The Cluster API `Cluster`, if the source still has it.
    cluster: Option<DynamicObject>,
    /// Everything that moves but EKS Anywhere's objects (the Cluster among them).
    objects: Vec<DynamicObject>,
    /// EKS Anywhere's objects that move.
    eksa: Vec<DynamicObject>,
}

impl Graph {
    fn all(&self) -> impl Iterator<Item = &DynamicObject> {
        self.objects.iter().chain(&self.eksa)
    }
}

fn label<'a>(obj: &'a DynamicObject, name: &str) -> Option<&'a str> {
    obj.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(name))
        .map(String::as_str)
}

fn annotation<'a>(obj: &'a DynamicObject, name: &str) -> Option<&'a str> {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|l| l.get(name))
        .map(String::as_str)
}

fn set_annotation(obj: &mut DynamicObject, name: &str, value: Option<&str>) -> bool {
    let annotations = obj
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let changed = match value {
        Some(v) => {
            annotations
                .insert(name.to_string(), v.to_string())
                .as_deref()
                != Some(v)
        }
        None => annotations.remove(name).is_some(),
    };
    if annotations.is_empty() {
        obj.metadata.annotations = None;
    }
    changed
}

/// Every `{kind, name}` pair in `value` (a reference to another object).
fn references(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(kind)), Some(Value::String(name))) =
                (map.get("kind"), map.get("name"))
            {
                out.push((kind.clone(), name.clone()));
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// The references in an object's body other than its status.
fn body_references(obj: &DynamicObject) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in obj.body.keys().filter(|k| *k != "status") {
        if let Some(v) = obj.field_value(name) {
            references(&v, &mut out);
        }
    }
    out
}

/// Whether `obj` is the Cluster API `Cluster` paused, and by whom: `Some(true)` by this
/// move, `Some(false)` by someone else.
fn paused_by(obj: &DynamicObject, cluster: &str) -> Option<bool> {
    let spec_paused = obj
        .field_value("spec")
        .and_then(|s| s.get("paused").and_then(Value::as_bool))
        .unwrap_or(false);
    if !spec_paused && annotation(obj, PAUSED_ANNOTATION).is_none() {
        return None;
    }
    Some(annotation(obj, PAUSED_BY_MOVE_ANNOTATION) == Some(cluster))
}

/// Reads what moves from `store` (see the module docs).
async fn discover(
    store: &dyn Store,
    registry: &KindRegistry,
    opts: &MoveOptions,
) -> Result<Graph, OpsError> {
    let mut candidates: Vec<(DynamicObject, Rule)> = Vec::new();
    let mut eksa = Vec::new();
    for info in registry.kinds() {
        let Some(rule) = rule(info) else { continue };
        let params = if rule == Rule::EksA {
            ListParams::default()
        } else {
            ListParams::namespace(opts.namespace.clone())
        };
        let items = store.list(&info.type_key(), &params).await?.items;
        if rule == Rule::EksA {
            eksa.extend(items);
        } else {
            candidates.extend(items.into_iter().map(|o| (o, rule)));
        }
    }

    // Edges from an object to what it holds: owner references, the cluster-name label,
    // soft ownership of Secrets by name, and references in bodies.
    let n = candidates.len();
    let by_uid: HashMap<&str, usize> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, (o, _))| o.metadata.uid.as_deref().map(|u| (u, i)))
        .collect();
    let mut by_kind_name: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut clusters: HashMap<&str, usize> = HashMap::new();
    for (i, (o, _)) in candidates.iter().enumerate() {
        by_kind_name
            .entry((o.types.kind.as_str(), o.name()))
            .or_default()
            .push(i);
        if o.types == cluster_types() {
            clusters.insert(o.name(), i);
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, (o, _)) in candidates.iter().enumerate() {
        for r in o.metadata.owner_references.iter().flatten() {
            if let Some(&p) = by_uid.get(r.uid.as_str()) {
                children[p].push(i);
            }
        }
        if let Some(&p) = label(o, CLUSTER_NAME_LABEL).and_then(|c| clusters.get(c)) {
            children[p].push(i);
        }
        if o.types.kind == "Secret"
            && let Some((c, purpose)) = o.name().rsplit_once('-')
            && SECRET_PURPOSES.contains(&purpose)
            && let Some(&p) = clusters.get(c)
        {
            children[p].push(i);
        }
        for (kind, name) in body_references(o) {
            for &c in by_kind_name
                .get(&(kind.as_str(), name.as_str()))
                .into_iter()
                .flatten()
            {
                if c != i {
                    children[i].push(c);
                }
            }
        }
    }
    let reach = |from: usize| {
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([from]);
        seen[from] = true;
        while let Some(i) = queue.pop_front() {
            for &c in &children[i] {
                if !seen[c] {
                    seen[c] = true;
                    queue.push_back(c);
                }
            }
        }
        seen
    };
    let mut tenants: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); n];
    for (&name, &c) in &clusters {
        for (i, reached) in reach(c).into_iter().enumerate() {
            if reached {
                tenants[i].insert(name);
            }
        }
    }
    let mut forced = vec![false; n];
    for (i, (o, rule)) in candidates.iter().enumerate() {
        if *rule == Rule::Force || label(o, MOVE_LABEL).is_some() {
            forced[i] = true;
        }
        if label(o, MOVE_HIERARCHY_LABEL).is_some() {
            for (j, reached) in reach(i).into_iter().enumerate() {
                forced[j] |= reached;
            }
        }
    }

    let ours = opts.cluster.as_str();
    let mut keep = vec![false; n];
    for i in 0..n {
        let t = &tenants[i];
        if t.len() > 1 && t.contains(ours) {
            return Err(OpsError::MoveTenants {
                object: describe(&candidates[i].0),
                clusters: t.iter().map(|s| s.to_string()).collect(),
            });
        }
        let marked = annotation(&candidates[i].0, DELETE_FOR_MOVE_ANNOTATION).is_some();
        keep[i] = if t.is_empty() {
            forced[i] || marked
        } else {
            t.contains(ours)
        };
    }
    let cluster = clusters.get(ours).map(|&i| candidates[i].0.clone());
    let mut objects: Vec<DynamicObject> = candidates
        .into_iter()
        .zip(keep)
        .filter_map(|((o, _), k)| k.then_some(o))
        .collect();

    // The Nodes of the cluster's Machines (cluster-scoped, matched by provider ID).
    let node_types = TypeKey::new("v1", "Node");
    if registry.get(&node_types).is_some() {
        let provider_id = |o: &DynamicObject| {
            o.field_value("spec")
                .and_then(|s| s.get("providerID")?.as_str().map(str::to_string))
        };
        let machines: BTreeSet<String> = objects
            .iter()
            .filter(|o| o.types.kind == "Machine" && group(&o.types) == "cluster.x-k8s.io")
            .filter_map(provider_id)
            .collect();
        let nodes = store.list(&node_types, &ListParams::default()).await?.items;
        objects.extend(nodes.into_iter().filter(|n| {
            provider_id(n).is_some_and(|p| machines.contains(&p))
                || annotation(n, DELETE_FOR_MOVE_ANNOTATION).is_some()
        }));
    }

    // EKS Anywhere's Cluster of the same name and what its spec names, in its namespace.
    let eksa_cluster = eksa
        .iter()
        .find(|o| o.types.kind == "Cluster" && o.name() == ours)
        .cloned();
    let eksa = match eksa_cluster {
        None => eksa
            .into_iter()
            .filter(|o| annotation(o, DELETE_FOR_MOVE_ANNOTATION).is_some())
            .collect(),
        Some(c) => {
            let named: BTreeSet<(String, String)> = body_references(&c).into_iter().collect();
            let mut out: Vec<DynamicObject> = eksa
                .into_iter()
                .filter(|o| {
                    o.namespace() == c.namespace()
                        && o.types.kind != "Cluster"
                        && named.contains(&(o.types.kind.clone(), o.name().to_string()))
                })
                .collect();
            out.insert(0, c);
            out
        }
    };
    Ok(Graph {
        cluster,
        objects,
        eksa,
    })
}

/// The writes of one move, counted, each asked of the [`WriteHook`] first.
struct Writes {
    hook: Option<WriteHook>,
    done: AtomicUsize,
}

impl Writes {
    fn new(hook: Option<WriteHook>) -> Self {
        Self {
            hook,
            done: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> Result<(), OpsError> {
        let done = self.done.load(Ordering::SeqCst);
        if let Some(hook) = &self.hook
            && !hook(done)
        {
            return Err(OpsError::MoveStopped { writes: done });
        }
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn count(&self) -> usize {
        self.done.load(Ordering::SeqCst)
    }

    async fn create(
        &self,
        store: &dyn Store,
        obj: DynamicObject,
    ) -> Result<DynamicObject, OpsError> {
        self.next()?;
        Ok(store.create(obj).await?)
    }

    async fn update(
        &self,
        store: &dyn Store,
        obj: DynamicObject,
    ) -> Result<DynamicObject, OpsError> {
        self.next()?;
        Ok(store.update(obj).await?)
    }

    async fn update_status(
        &self,
        store: &dyn Store,
        obj: DynamicObject,
    ) -> Result<DynamicObject, OpsError> {
        self.next()?;
        Ok(store.update_status(obj).await?)
    }

    /// Reads the object afresh, applies `change` (which says whether it changed anything)
    /// and writes it, again on a conflict. `Ok(false)`: gone, or nothing to change.
    async fn modify(
        &self,
        store: &dyn Store,
        obj: &DynamicObject,
        change: impl Fn(&mut DynamicObject) -> bool,
    ) -> Result<bool, OpsError> {
        for _ in 0..ATTEMPTS {
            let mut current = match store.get(&obj.types, obj.namespace(), obj.name()).await {
                Ok(o) => o,
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            if !change(&mut current) {
                return Ok(false);
            }
            match self.update(store, current).await {
                Ok(_) => return Ok(true),
                Err(OpsError::Store(e)) if e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(OpsError::Store(StoreError::Conflict {
            kind: obj.types.kind.clone(),
            namespace: obj.namespace().to_string(),
            name: obj.name().to_string(),
            given: obj.metadata.resource_version.clone().unwrap_or_default(),
            current: String::from("(changed on every attempt)"),
        }))
    }

    async fn delete(&self, store: &dyn Store, obj: &DynamicObject) -> Result<bool, OpsError> {
        self.next()?;
        match store
            .delete(&obj.types, obj.namespace(), obj.name(), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Pauses (or unpauses) the Cluster API `Cluster`s and the EKS Anywhere objects among
/// `objects`, as they are now in `store`.
async fn set_paused<'a>(
    store: &dyn Store,
    writes: &Writes,
    objects: impl Iterator<Item = &'a DynamicObject>,
    cluster: &str,
    paused: bool,
) -> Result<(), OpsError> {
    for obj in objects {
        if obj.types == cluster_types() {
            writes
                .modify(store, obj, |o| {
                    let mut spec = o
                        .field_value("spec")
                        .unwrap_or_else(|| Value::Object(Default::default()));
                    let was = spec.get("paused").and_then(Value::as_bool).unwrap_or(false);
                    if let Value::Object(map) = &mut spec {
                        if paused {
                            map.insert("paused".into(), Value::Bool(true));
                        } else {
                            map.remove("paused");
                        }
                    }
                    let mut changed = was != paused;
                    if changed && o.set_field("spec", &spec).is_err() {
                        return false;
                    }
                    changed |=
                        set_annotation(o, PAUSED_BY_MOVE_ANNOTATION, paused.then_some(cluster));
                    changed
                })
                .await?;
        } else if group(&obj.types) == EKSA_GROUP {
            writes
                .modify(store, obj, |o| {
                    set_annotation(o, EKSA_PAUSED_ANNOTATION, paused.then_some("true"))
                })
                .await?;
        }
    }
    Ok(())
}

/// Waits while an object of `graph` carries `block-move` in `store`.
async fn wait_unblocked(
    store: &dyn Store,
    registry: &KindRegistry,
    opts: &MoveOptions,
) -> Result<Graph, OpsError> {
    let deadline = Instant::now() + opts.block_timeout;
    loop {
        let graph = discover(store, registry, opts).await?;
        let blocked: Vec<String> = graph
            .all()
            .filter(|o| annotation(o, BLOCK_MOVE_ANNOTATION).is_some())
            .map(describe)
            .collect();
        if blocked.is_empty() {
            return Ok(graph);
        }
        if Instant::now() >= deadline {
            return Err(OpsError::MoveBlocked { objects: blocked });
        }
        tracing::info!(objects = ?blocked, "waiting for block-move annotations to go");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Creates or updates every object of `graph` on `to` (steps 3 and 4 of the module docs).
async fn copy(
    to: &dyn Store,
    writes: &Writes,
    graph: &Graph,
    report: &mut MoveReport,
) -> Result<(), OpsError> {
    let objects: Vec<&DynamicObject> = graph.objects.iter().collect();
    let mut uids: HashMap<String, String> = HashMap::new();
    // Each copy with the resource version this move left it at.
    let mut expected: Vec<(&DynamicObject, DynamicObject, Option<String>)> = Vec::new();
    let order: Vec<usize> = waves(&objects)?.into_iter().flatten().collect();
    let eksa = graph.eksa.iter().map(|o| {
        let mut o = o.clone();
        o.metadata.owner_references = None;
        o
    });
    let eksa: Vec<DynamicObject> = eksa.collect();
    for src in order.into_iter().map(|i| objects[i]).chain(&eksa) {
        // A run stopped between marking an object for deletion and deleting it left the
        // mark in the source: it is not the object's.
        let mut want = portable(src, |u| Some(mapped(&uids, u)));
        set_annotation(&mut want, DELETE_FOR_MOVE_ANNOTATION, None);
        let tally = report.kinds.entry(src.types.clone()).or_default();
        tally.objects += 1;
        let written = match to.get(&src.types, src.namespace(), src.name()).await {
            Err(e) if e.is_not_found() => {
                tally.created += 1;
                writes.create(to, want.clone()).await?
            }
            Err(e) => return Err(e.into()),
            Ok(there) if portable(&there, |u| Some(u.to_string())) == want => {
                tally.unchanged += 1;
                there
            }
            Ok(there) => {
                tally.updated += 1;
                let mut update = want.clone();
                update.metadata.resource_version = there.metadata.resource_version.clone();
                update.metadata.uid = there.metadata.uid.clone();
                let mut done = writes.update(to, update).await?;
                if !done.same_body_except(&want, "") {
                    let mut status = done.clone();
                    match want.field("status") {
                        Some(s) => {
                            status.body.insert("status".into(), s.to_owned());
                        }
                        None => {
                            status.remove_field("status");
                        }
                    }
                    done = writes.update_status(to, status).await?;
                }
                done
            }
        };
        if let (Some(s), Some(d)) = (&src.metadata.uid, &written.metadata.uid) {
            uids.insert(s.clone(), d.clone());
        }
        let version = written.metadata.resource_version.clone();
        expected.push((src, want, version));
    }

    // Read back: every copy as the source has it, before anything is deleted there. A copy
    // that someone wrote after this move (its resource version moved on) is compared
    // without its status: the target's controllers own the status of what is not paused
    // (a BMC Machine's power state, refreshed as soon as the object exists there).
    let mut mismatched = Vec::new();
    for (src, want, version) in expected {
        let want = portable(&want, |u| Some(mapped(&uids, u)));
        match to.get(&src.types, src.namespace(), src.name()).await {
            Ok(there) => {
                let mut got = portable(&there, |u| Some(u.to_string()));
                let same = if there.metadata.resource_version == version {
                    got == want
                } else {
                    let mut want = want.clone();
                    got.remove_field("status");
                    want.remove_field("status");
                    got == want
                };
                if !same {
                    mismatched.push(format!("{}: differs from the source's", describe(src)));
                }
            }
            Err(e) if e.is_not_found() => {
                mismatched.push(format!("{}: missing", describe(src)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if mismatched.is_empty() {
        Ok(())
    } else {
        Err(OpsError::MoveVerify {
            objects: mismatched,
        })
    }
}

/// Deletes `graph`'s objects from `from`: EKS Anywhere's first (its `Cluster` after the
/// objects it names), then what is owned before its owner, the Cluster API `Cluster` last.
async fn delete_source(
    from: &dyn Store,
    writes: &Writes,
    graph: &Graph,
    report: &mut MoveReport,
) -> Result<(), OpsError> {
    let objects: Vec<&DynamicObject> = graph.objects.iter().collect();
    // EKS Anywhere's Cluster (first) names the others: it goes after them.
    let mut order: Vec<&DynamicObject> = graph.eksa.iter().rev().collect();
    let mut waves = waves(&objects)?;
    waves.reverse();
    let (clusters, rest): (Vec<&DynamicObject>, Vec<&DynamicObject>) = waves
        .into_iter()
        .flatten()
        .map(|i| objects[i])
        .partition(|o| o.types == cluster_types());
    order.extend(rest);
    order.extend(clusters);
    // Every object is marked before any is deleted: an object may belong to the cluster
    // only through another one (a template through the control plane naming it), and a
    // run stopped after deleting that other one finds it by its mark.
    for &obj in &order {
        writes
            .modify(from, obj, |o| {
                set_annotation(o, DELETE_FOR_MOVE_ANNOTATION, Some(""))
            })
            .await?;
    }
    for obj in order {
        if writes.delete(from, obj).await? {
            report.deleted += 1;
        }
    }
    Ok(())
}

/// Moves the cluster `opts.cluster` (see the module docs) from `from` to `to`.
pub async fn move_cluster(
    from: &dyn Store,
    to: &dyn Store,
    registry: &KindRegistry,
    opts: &MoveOptions,
) -> Result<MoveReport, OpsError> {
    let writes = Writes::new(opts.before_write.clone());
    let mut report = MoveReport::default();
    let graph = discover(from, registry, opts).await?;
    let Some(cluster) = &graph.cluster else {
        // Gone from the source: moved already if the target has it.
        let there = match to
            .get(&cluster_types(), &opts.namespace, &opts.cluster)
            .await
        {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Err(not_found(opts)),
            Err(e) => return Err(e.into()),
        };
        let moved = discover(to, registry, opts).await?;
        set_paused(
            to,
            &writes,
            std::iter::once(&there).chain(&moved.eksa),
            &opts.cluster,
            false,
        )
        .await?;
        report.already_moved = true;
        report.writes = writes.count();
        return Ok(report);
    };
    if paused_by(cluster, &opts.cluster) == Some(false) {
        return Err(OpsError::MovePaused {
            cluster: opts.cluster.clone(),
        });
    }
    tracing::info!(cluster = %opts.cluster, objects = graph.objects.len() + graph.eksa.len(), "moving");
    set_paused(from, &writes, graph.all(), &opts.cluster, true).await?;
    // As EKS Anywhere's mover: the CLI manages the cluster from here on, and the target's
    // Tinkerbell stack is not the bootstrap one.
    if let Some(c) = graph.eksa.first() {
        writes
            .modify(from, c, |o| {
                set_annotation(o, EKSA_MANAGED_BY_CLI_ANNOTATION, Some("true"))
                    | set_annotation(o, EKSA_BOOTSTRAP_IP_ANNOTATION, None)
            })
            .await?;
    }
    let graph = wait_unblocked(from, registry, opts).await?;
    copy(to, &writes, &graph, &mut report).await?;
    delete_source(from, &writes, &graph, &mut report).await?;
    let moved = discover(to, registry, opts).await?;
    set_paused(to, &writes, moved.all(), &opts.cluster, false).await?;
    report.writes = writes.count();
    Ok(report)
}

fn not_found(opts: &MoveOptions) -> OpsError {
    OpsError::NotFound {
        kind: "clusters.cluster.x-k8s.io".into(),
        name: format!("{}/{}", opts.namespace, opts.cluster),
    }
}

/// The file name clusterctl gives an object in a move directory.
fn file_name(obj: &DynamicObject) -> String {
    format!("{}_{}_{}.yaml", obj.types.kind, obj.namespace(), obj.name())
}

/// Writes the objects that would move to `dir` (see the module docs); the source keeps
/// them.
pub async fn to_directory(
    from: &dyn Store,
    dir: &Path,
    registry: &KindRegistry,
    opts: &MoveOptions,
) -> Result<MoveReport, OpsError> {
    let writes = Writes::new(opts.before_write.clone());
    let mut report = MoveReport::default();
    let graph = discover(from, registry, opts).await?;
    let Some(cluster) = &graph.cluster else {
        return Err(not_found(opts));
    };
    if paused_by(cluster, &opts.cluster) == Some(false) {
        return Err(OpsError::MovePaused {
            cluster: opts.cluster.clone(),
        });
    }
    set_paused(from, &writes, graph.all(), &opts.cluster, true).await?;
    let graph = wait_unblocked(from, registry, opts).await?;
    create_private_dir(dir)?;
    for obj in graph.all() {
        let path = dir.join(file_name(obj));
        let yaml = serde_yaml_ng::to_string(obj).map_err(|e| {
            OpsError::Input(format!("{}: cannot write it as YAML: {e}", describe(obj)))
        })?;
        write_private(&path, yaml.as_bytes())?;
        let tally = report.kinds.entry(obj.types.clone()).or_default();
        tally.objects += 1;
        tally.created += 1;
    }
    set_paused(from, &writes, graph.all(), &opts.cluster, false).await?;
    report.writes = writes.count();
    Ok(report)
}

/// Creates (or updates) on `to` every object of the `*.yaml` files of `dir`, owner
/// references rebuilt, and unpauses them (see the module docs).
pub async fn from_directory(
    dir: &Path,
    to: &dyn Store,
    registry: &KindRegistry,
    opts: &MoveOptions,
) -> Result<MoveReport, OpsError> {
    let writes = Writes::new(opts.before_write.clone());
    let mut report = MoveReport::default();
    let mut graph = Graph::default();
    for path in yaml_files(dir)? {
        let obj = read_object(&path, registry)?;
        if group(&obj.types) == EKSA_GROUP {
            graph.eksa.push(obj);
        } else {
            graph.objects.push(obj);
        }
    }
    if graph.objects.is_empty() && graph.eksa.is_empty() {
        return Err(OpsError::Input(format!(
            "{}: no object files (*.yaml) to restore",
            dir.display()
        )));
    }
    copy(to, &writes, &graph, &mut report).await?;
    let restored: Vec<DynamicObject> = graph.all().cloned().collect();
    for c in restored.iter().filter(|o| o.types == cluster_types()) {
        set_paused(to, &writes, std::iter::once(c), c.name(), false).await?;
    }
    set_paused(to, &writes, graph.eksa.iter(), &opts.cluster, false).await?;
    report.writes = writes.count();
    Ok(report)
}

fn io_error<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> OpsError + 'a {
    move |source| OpsError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<(), OpsError> {
    ironbell_files::private_dir(dir).map_err(io_error("creating", dir))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), OpsError> {
    ironbell_files::write_private(path, bytes).map_err(io_error("writing", path))
}

/// The `*.yaml` files of `dir`, by name.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, OpsError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("reading", dir))? {
        let path = entry.map_err(io_error("reading", dir))?.path();
        if path.extension().is_some_and(|e| e == "yaml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One object file of a move directory, of a kind `registry` knows.
fn read_object(path: &Path, registry: &KindRegistry) -> Result<DynamicObject, OpsError> {
    const MAX_FILE: u64 = 4 << 20;
    let size = std::fs::metadata(path)
        .map_err(io_error("reading", path))?
        .len();
    if size > MAX_FILE {
        return Err(OpsError::Input(format!(
            "{}: {size} bytes, more than an object may have ({MAX_FILE})",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io_error("reading", path))?;
    let bad = |e: String| OpsError::Input(format!("{}: {e}", path.display()));
    let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let obj: DynamicObject = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if !registry
        .kinds()
        .any(|k| k.api_version == obj.types.api_version && k.kind == obj.types.kind)
    {
        return Err(bad(format!(
            "unknown kind {} {}",
            obj.types.api_version, obj.types.kind
        )));
    }
    ironbell_store::check_names(&obj).map_err(|e| bad(e.to_string()))?;
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_qualifies_only_kinds_whose_name_two_groups_share() {
        let mut report = MoveReport::default();
        for (api_version, kind, n) in [
            ("cluster.x-k8s.io/v1beta1", "Machine", 4),
            ("bmc.tinkerbell.org/v1alpha1", "Machine", 5),
            ("tinkerbell.org/v1alpha1", "Hardware", 5),
            ("v1", "Secret", 12),
        ] {
            report.kinds.insert(
                TypeKey::new(api_version, kind),
                MovedKind {
                    objects: n,
                    ..MovedKind::default()
                },
            );
        }
        let summary = report.summary();
        for part in [
            "4 Machine.cluster.x-k8s.io",
            "5 Machine.bmc.tinkerbell.org",
            "5 Hardware",
            "12 Secret",
        ] {
            assert!(summary.contains(part), "{summary}");
        }
        assert!(!summary.contains("Hardware."), "{summary}");
        assert_eq!(report.objects(), 26);
    }
}
