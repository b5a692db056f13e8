//! Turning a set of desired objects into one atomic store commit: create what is missing,
//! update what differs, leave alone what is the same. Used by `apply` and `hardware import`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Context, bail};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, Op, Store};

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

/// The store writes needed to make `desired` true, and the outcome per object (in input
/// order). Reads each kind and namespace involved once, so large imports stay fast.
pub async fn plan(
    store: &dyn Store,
    desired: Vec<DynamicObject>,
) -> anyhow::Result<(Vec<Op>, Vec<(DynamicObject, Outcome)>)> {
    let mut seen = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for obj in &desired {
        let key = (
            obj.types.clone(),
            obj.namespace().to_string(),
            obj.name().to_string(),
        );
        if obj.name().is_empty() {
            bail!("a {} has no metadata.name", obj.types.kind);
        }
        if !seen.insert(key) {
            bail!(
                "{} {}/{} appears twice in the input",
                obj.types.kind,
                obj.namespace(),
                obj.name()
            );
        }
        scopes.insert((obj.types.clone(), obj.namespace().to_string()));
    }

    let mut existing: BTreeMap<(TypeKey, String, String), DynamicObject> = BTreeMap::new();
    for (types, namespace) in scopes {
        let list = store
            .list(&types, &ListParams::namespace(namespace.clone()))
            .await
            .with_context(|| format!("reading existing {} in {namespace}", types.kind))?;
        for obj in list.items {
            existing.insert(
                (types.clone(), namespace.clone(), obj.name().to_string()),
                obj,
            );
        }
    }

    let mut ops = Vec::with_capacity(desired.len());
    let mut outcomes = Vec::with_capacity(desired.len());
    for obj in desired {
        let key = (
            obj.types.clone(),
            obj.namespace().to_string(),
            obj.name().to_string(),
        );
        match existing.remove(&key) {
            None => {
                ops.push(Op::Create(obj.clone()));
                outcomes.push((obj, Outcome::Created));
            }
            Some(current) if same_content(&current, &obj) => {
                outcomes.push((current, Outcome::Unchanged));
            }
            Some(current) => {
                let mut next = obj.clone();
                let meta = &mut next.metadata;
                meta.resource_version = current.metadata.resource_version.clone();
                meta.uid = current.metadata.uid.clone();
                meta.creation_timestamp = current.metadata.creation_timestamp.clone();
                meta.generation = current.metadata.generation;
                if meta.finalizers.is_none() {
                    meta.finalizers = current.metadata.finalizers.clone();
                }
                ops.push(Op::Update(next));
                outcomes.push((obj, Outcome::Configured));
            }
        }
    }
    Ok((ops, outcomes))
}

/// Whether applying `desired` over `current` would change anything the user controls:
/// labels, annotations and every top-level field but `status`.
fn same_content(current: &DynamicObject, desired: &DynamicObject) -> bool {
    let non_empty = |m: &Option<ironbell_model::Labels>| m.clone().filter(|m| !m.is_empty());
    non_empty(&current.metadata.labels) == non_empty(&desired.metadata.labels)
        && non_empty(&current.metadata.annotations) == non_empty(&desired.metadata.annotations)
        && current.same_body_except(desired, "status")
}
