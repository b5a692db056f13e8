//! Create-or-update of a set of documents: create what is missing, update what differs,
//! leave alone what is the same. Used by `apply` and `hardware import`; [`parse`] reads
//! `apply`'s documents through a [`KindRegistry`].
//!
//! ## All or nothing, and what happens without it
//!
//! [`plan`] reads each kind and namespace involved once and works out the writes;
//! [`apply`] checks the inventory ([`crate::integrity`]) and then writes:
//!
//! - on a backend with atomic commits (SQLite, etcd), in **one commit**: all or nothing —
//!   as long as the backend's commit holds that many writes (etcd: `--max-txn-ops`, 128 by
//!   default; [`ironbell_store::Capabilities::max_commit_ops`]); a larger set is written
//!   like the next case, in batches of that size, or refused with [`Atomicity::Required`];
//! - on a backend without (a Kubernetes API server), with [`Atomicity::BestEffort`] (what
//!   `apply` and `import` use), **one object at a time in dependency order**: Secrets, then
//!   BMC Machines (which name their Secret), then Hardware (which names its Machine), then
//!   Templates, then everything else, then Workflows and BMC Jobs (which act on the
//!   others). A failure stops there with [`OpsError::Partial`] saying how far it got; what
//!   was written is complete and consistent on its own (nothing refers to an object not yet
//!   written), and running the same apply again finishes the job, since the plan is made
//!   afresh and finds the objects already written unchanged;
//! - with [`Atomicity::Required`], a backend without atomic commits is refused before
//!   anything is written ([`OpsError::NotAtomic`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::{ListParams, Op, Store};

use crate::OpsError;

/// What happened (or would happen) to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It existed and differed.
    Configured,
    /// It existed and was the same.
    Unchanged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
        })
    }
}

/// Whether a write must be all or nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Atomicity {
    /// All or nothing where the backend can; object by object in dependency order where it
    /// cannot (see the module docs).
    #[default]
    BestEffort,
    /// All or nothing, or nothing at all.
    Required,
}

/// How to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Check and plan everything, write nothing.
    pub dry_run: bool,
    /// All or nothing, or best effort.
    pub atomicity: Atomicity,
}

/// Reads the documents of `text` as kinds of `registry` (every field checked against the
/// kind's type, names and labels against Kubernetes' rules; an unregistered kind is an
/// error naming the known ones), putting objects of namespaced kinds that name no
/// namespace into `namespace`. Either every object or every error.
pub fn parse(
    registry: &KindRegistry,
    text: &str,
    namespace: &str,
) -> Result<Vec<DynamicObject>, OpsError> {
    ironbell_model::validate_namespace(namespace)
        .map_err(|e| OpsError::Input(format!("the default namespace is not valid: {e}")))?;
    let mut objects = registry.parse_documents(text)?;
    for o in &mut objects {
        let namespaced = registry.get(&o.types).is_some_and(|k| k.namespaced);
        if namespaced && o.metadata.namespace.as_deref().is_none_or(str::is_empty) {
            o.metadata.namespace = Some(namespace.to_string());
        }
    }
    Ok(objects)
}

/// The store writes needed to make `desired` true, and the outcome per object (in input
/// order). Reads each kind and namespace involved once, so large imports stay fast.
pub async fn plan(
    store: &dyn Store,
    desired: Vec<DynamicObject>,
) -> Result<(Vec<Op>, Vec<(DynamicObject, Outcome)>), OpsError> {
    let mut seen = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for obj in &desired {
        if obj.name().is_empty() {
            return Err(OpsError::Input(format!(
                "a {} has no metadata.name",
                obj.types.kind
            )));
        }
        if !seen.insert(key(obj)) {
            return Err(OpsError::Input(format!(
                "{} {}/{} appears twice in the input",
                obj.types.kind,
                obj.namespace(),
                obj.name()
            )));
        }
        scopes.insert((obj.types.clone(), obj.namespace().to_string()));
    }

    let mut existing: BTreeMap<(TypeKey, String, String), DynamicObject> = BTreeMap::new();
    for (types, namespace) in scopes {
        let list = store
            .list(&types, &ListParams::namespace(namespace.clone()))
            .await?;
        for obj in list.items {
            existing.insert(key(&obj), obj);
        }
    }

    let mut ops = Vec::with_capacity(desired.len());
    let mut outcomes = Vec::with_capacity(desired.len());
    for obj in desired {
        match existing.remove(&key(&obj)) {
            None => {
                ops.push(Op::Create(obj.clone()));
                outcomes.push((obj, Outcome::Created));
            }
            Some(current) if ironbell_store::same_content(&current, &obj) => {
                outcomes.push((current, Outcome::Unchanged));
            }
            Some(current) => {
                let mut next = obj.clone();
                let meta = &mut next.metadata;
                meta.resource_version = current.metadata.resource_version.clone();
                meta.uid = current.metadata.uid.clone();
                meta.creation_timestamp = current.metadata.creation_timestamp;
                meta.generation = current.metadata.generation;
                if meta.finalizers.is_none() {
                    meta.finalizers = current.metadata.finalizers.clone();
                }
                if meta.owner_references.is_none() {
                    meta.owner_references = current.metadata.owner_references.clone();
                }
                ops.push(Op::Update(next));
                outcomes.push((obj, Outcome::Configured));
            }
        }
    }
    Ok((ops, outcomes))
}

/// Creates or updates `desired` (see the module docs for atomicity) after checking the
/// inventory against the store, and returns what happened to each object, in input order.
pub async fn apply(
    store: &dyn Store,
    desired: Vec<DynamicObject>,
    options: ApplyOptions,
) -> Result<Vec<(DynamicObject, Outcome)>, OpsError> {
    crate::integrity::check_hardware(store, &desired).await?;
    let (ops, outcomes) = plan(store, desired).await?;
    if !options.dry_run {
        commit(store, ops, options.atomicity).await?;
    }
    Ok(outcomes)
}

/// Writes `ops`: in one commit where the backend can hold them all; else, with
/// [`Atomicity::BestEffort`], in dependency order, in batches as large as the backend's
/// commit holds (one at a time without atomic commits; etcd's `--max-txn-ops` with it).
pub async fn commit(
    store: &dyn Store,
    mut ops: Vec<Op>,
    atomicity: Atomicity,
) -> Result<(), OpsError> {
    if ops.is_empty() {
        return Ok(());
    }
    let limit = store.capabilities().commit_limit();
    if ops.len() <= limit {
        store.commit(ops).await?;
        return Ok(());
    }
    if atomicity == Atomicity::Required {
        return Err(OpsError::NotAtomic {
            count: ops.len(),
            limit,
        });
    }
    ops.sort_by_key(|op| rank(op_types(op)));
    in_batches(store, ops).await.map(drop)
}

/// Commits `ops` in the order given, in batches the backend can hold
/// ([`ironbell_store::commit_in_batches`]); stops at the first failing batch with
/// [`OpsError::Partial`]. Running the same operations again finishes the job. Returns what
/// happened to each operation, in the order given.
pub(crate) async fn in_batches(
    store: &dyn Store,
    ops: Vec<Op>,
) -> Result<Vec<ironbell_store::Applied>, OpsError> {
    let described: Vec<(String, String, String)> = ops.iter().map(describe).collect();
    ironbell_store::commit_in_batches(store, ops)
        .await
        .map_err(|e| {
            let (kind, namespace, name) = e
                .source
                .object()
                .map(|(k, ns, n)| (k.to_string(), ns.to_string(), n.to_string()))
                .or_else(|| described.get(e.committed).cloned())
                .unwrap_or_default();
            OpsError::Partial {
                done: e.committed,
                total: e.total,
                kind,
                namespace,
                name,
                source: Box::new(e.source),
            }
        })
}

/// Write order without atomic commits: what is referred to before what refers to it.
fn rank(types: &TypeKey) -> u8 {
    match (types.api_version.as_str(), types.kind.as_str()) {
        ("v1", "Secret") => 0,
        ("bmc.tinkerbell.org/v1alpha1", "Machine") => 1,
        ("tinkerbell.org/v1alpha1", "Hardware") => 2,
        ("tinkerbell.org/v1alpha1", "Template") => 3,
        ("tinkerbell.org/v1alpha1", "Workflow") => 5,
        ("bmc.tinkerbell.org/v1alpha1", "Job" | "Task") => 6,
        _ => 4,
    }
}

fn op_types(op: &Op) -> &TypeKey {
    match op {
        Op::Create(o) | Op::Update(o) => &o.types,
        Op::Delete { types, .. } => types,
    }
}

/// `(kind, namespace, name)` of an operation's object.
fn describe(op: &Op) -> (String, String, String) {
    match op {
        Op::Create(o) | Op::Update(o) => (
            o.types.kind.clone(),
            o.namespace().to_string(),
            o.name().to_string(),
        ),
        Op::Delete {
            types,
            namespace,
            name,
            ..
        } => (types.kind.clone(), namespace.clone(), name.clone()),
    }
}

fn key(obj: &DynamicObject) -> (TypeKey, String, String) {
    (
        obj.types.clone(),
        obj.namespace().to_string(),
        obj.name().to_string(),
    )
}
