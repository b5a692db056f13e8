//! `store migrate`: copy every object of a plane from one store to another (a SQLite file
//! to an etcd cluster when a site outgrows one machine; any pair of stores works), then
//! check the copy object by object.
//!
//! ## What is copied, and what cannot be kept
//!
//! Every object of every kind of the caller's [`KindRegistry`] (the store has no call that
//! lists its kinds; every object ironbell writes is of a registered kind), in every
//! namespace, with its `status` (a create keeps the status it is given on every backend,
//! so an object and its status are one write). The target store sets what a store always
//! sets on create: `resourceVersion` (its own revision), `uid`, `creationTimestamp` (the
//! time of the copy) and `generation` (1). Both backends overwrite a `uid` given to
//! `create` (`ironbell-store-sqlite` and `ironbell-store-etcd` both draw a new one), so
//! uids are **not** kept; instead owner references, which name their owner by uid, are
//! rebuilt: owners are created before what they own (in waves: objects with no owner in
//! the source first, then what they own, and so on), and each reference gets the uid its
//! owner received in the target. A reference to an owner that is not in the source (already
//! dangling there) is copied as it is. A `status.observedGeneration` is copied as it is,
//! so a controller may reconcile such an object once more (controllers are idempotent).
//!
//! ## Re-runs and a target that is not empty
//!
//! The target may hold objects only when each is a copy of the source's object of the same
//! kind, namespace and name (the same labels, annotations, spec, status and owners, modulo
//! what the store sets): that is what an interrupted earlier run left, and those objects
//! are kept as they are, so running `migrate` again after a crash finishes the job with no
//! duplicate and nothing lost, and running it once more writes nothing. Anything else in
//! the target (an object the source does not have, or one whose content differs) makes
//! `migrate` stop before writing anything, with [`OpsError::MigrateTarget`] naming those
//! objects (never their content: Secrets are among them). There is no `--force`: merging
//! two planes, or overwriting objects someone created in the target, is not a copy, and a
//! fresh etcd prefix (or an empty SQLite file) is always at hand.
//!
//! ## Writes and verification
//!
//! Each wave is written with [`ironbell_store::commit_in_batches`], in commits as large as
//! the target takes ([`ironbell_store::Capabilities::max_commit_ops`]: etcd's
//! `--max-txn-ops`). When every wave is written, every kind is listed again in the target
//! and checked against the source: the counts are equal, every source object has its copy
//! with equal content (owner uids mapped), and every target object has a `resourceVersion`
//! the target issued. The result, kind by kind, is a [`Migration`]; the command prints it
//! and fails unless [`Migration::verified`].
//!
//! Stop the services on the source first: the source is read kind by kind, not in one
//! snapshot, and a change made there during the copy is not carried over.

use std::collections::{BTreeMap, HashMap};

use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::{Applied, ListParams, Op, Store};

use crate::OpsError;
use crate::apply::in_batches;

/// How many objects of a refused target [`OpsError::MigrateTarget`] names.
const NAMED_CONFLICTS: usize = 10;
/// How many mismatched objects a [`KindCheck`] names.
const NAMED_MISMATCHES: usize = 10;

/// `(kind, namespace, name)`: an object's identity in any store.
pub(crate) type Key = (TypeKey, String, String);

pub(crate) fn key(obj: &DynamicObject) -> Key {
    (
        obj.types.clone(),
        obj.namespace().to_string(),
        obj.name().to_string(),
    )
}

pub(crate) fn describe(obj: &DynamicObject) -> String {
    format!("{} {}/{}", obj.types.kind, obj.namespace(), obj.name())
}

/// What happened to one kind, and whether its copy checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindCheck {
    /// The kind.
    pub types: TypeKey,
    /// Objects in the source.
    pub source: usize,
    /// Objects in the target after the copy.
    pub target: usize,
    /// Objects this run created in the target.
    pub created: usize,
    /// Objects found already copied (by an earlier run) and left alone.
    pub already_copied: usize,
    /// How many objects failed the check: missing from the target, different there, not
    /// in the source, or without a `resourceVersion`.
    pub mismatched: usize,
    /// The first of them, each `Kind namespace/name: why` (never the content).
    pub mismatches: Vec<String>,
}

impl KindCheck {
    /// Counts equal and every object checked out.
    pub fn verified(&self) -> bool {
        self.source == self.target && self.mismatched == 0
    }

    fn mismatch(&mut self, what: String) {
        self.mismatched += 1;
        if self.mismatches.len() < NAMED_MISMATCHES {
            self.mismatches.push(what);
        }
    }
}

/// The result of [`migrate`]: one [`KindCheck`] per kind of the registry, in its order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Migration {
    /// Per kind.
    pub kinds: Vec<KindCheck>,
}

impl Migration {
    /// Every kind checked out.
    pub fn verified(&self) -> bool {
        self.kinds.iter().all(KindCheck::verified)
    }

    /// Objects created by this run, all kinds.
    pub fn created(&self) -> usize {
        self.kinds.iter().map(|k| k.created).sum()
    }

    /// Objects in the source, all kinds.
    pub fn total(&self) -> usize {
        self.kinds.iter().map(|k| k.source).sum()
    }
}

/// `obj` as it can be compared across stores: without what a store sets on create, with
/// each owner reference's uid through `owner_uid` (`None` drops it).
pub(crate) fn portable(
    obj: &DynamicObject,
    owner_uid: impl Fn(&str) -> Option<String>,
) -> DynamicObject {
    let mut o = obj.clone();
    let m = &mut o.metadata;
    m.resource_version = None;
    m.uid = None;
    m.creation_timestamp = None;
    m.generation = None;
    let non_empty = |l: &mut Option<ironbell_model::Labels>| {
        if l.as_ref().is_some_and(|l| l.is_empty()) {
            *l = None;
        }
    };
    non_empty(&mut m.labels);
    non_empty(&mut m.annotations);
    for r in m.owner_references.iter_mut().flatten() {
        r.uid = owner_uid(&r.uid).unwrap_or_default();
    }
    o
}

/// The target uid of the source uid `uid`; `uid` itself when its object is not in the
/// source (a reference that was dangling there already).
pub(crate) fn mapped(uids: &HashMap<String, String>, uid: &str) -> String {
    uids.get(uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// Every object of every kind of `kinds` in `store`, by kind.
async fn read_all(
    store: &dyn Store,
    kinds: &[TypeKey],
) -> Result<Vec<Vec<DynamicObject>>, OpsError> {
    let mut out = Vec::with_capacity(kinds.len());
    for types in kinds {
        out.push(store.list(types, &ListParams::default()).await?.items);
    }
    Ok(out)
}

/// Source objects grouped in creation waves: a wave holds the objects whose owners (those
/// in the source) are all in earlier waves, the core group's first (Secrets and ConfigMaps,
/// which others name without owning them: a BMC Machine's credentials exist before it does
/// on the target). Indexes into `objects`.
pub(crate) fn waves(objects: &[&DynamicObject]) -> Result<Vec<Vec<usize>>, OpsError> {
    let by_uid: HashMap<&str, usize> = objects
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.metadata.uid.as_deref().map(|u| (u, i)))
        .collect();
    let owners: Vec<Vec<usize>> = objects
        .iter()
        .map(|o| {
            o.metadata
                .owner_references
                .iter()
                .flatten()
                .filter_map(|r| by_uid.get(r.uid.as_str()).copied())
                .collect()
        })
        .collect();
    let mut placed = vec![false; objects.len()];
    let mut left: Vec<usize> = (0..objects.len()).collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        let (mut ready, rest): (Vec<usize>, Vec<usize>) = left
            .iter()
            .partition(|&&i| owners[i].iter().all(|&o| placed[o]));
        ready.sort_by_key(|&i| objects[i].types.api_version != "v1");
        if ready.is_empty() {
            let names: Vec<String> = rest.iter().take(3).map(|&i| describe(objects[i])).collect();
            return Err(OpsError::Input(format!(
                "the source's owner references form a cycle ({} objects, among them {}): \
                 no order creates every owner before what it owns",
                rest.len(),
                names.join(", ")
            )));
        }
        for &i in &ready {
            placed[i] = true;
        }
        out.push(ready);
        left = rest;
    }
    Ok(out)
}

/// Copies every object of every kind of `registry` from `from` to `to` and checks the copy
/// (see the module docs). Refuses a target holding anything but copies of the source's
/// objects before writing anything ([`OpsError::MigrateTarget`]); a check that fails is
/// not an error but a [`Migration`] that is not [`Migration::verified`].
pub async fn migrate(
    from: &dyn Store,
    to: &dyn Store,
    registry: &KindRegistry,
) -> Result<Migration, OpsError> {
    let kinds: Vec<TypeKey> = registry.kinds().map(|k| k.type_key()).collect();
    let source = read_all(from, &kinds).await?;
    let existing = read_all(to, &kinds).await?;
    tracing::info!(
        objects = source.iter().map(Vec::len).sum::<usize>(),
        kinds = kinds.len(),
        "read the source store"
    );

    // What the target holds must be copies of the source's objects.
    let source_by_key: HashMap<Key, &DynamicObject> =
        source.iter().flatten().map(|o| (key(o), o)).collect();
    let mut target_by_key: HashMap<Key, &DynamicObject> = HashMap::new();
    let mut conflicts = Vec::new();
    for obj in existing.iter().flatten() {
        match source_by_key.get(&key(obj)) {
            None => conflicts.push(format!("{} (not in the source)", describe(obj))),
            Some(src) if portable(src, |_| None) != portable(obj, |_| None) => {
                conflicts.push(format!("{} (differs from the source's)", describe(obj)));
            }
            Some(_) => {
                target_by_key.insert(key(obj), obj);
            }
        }
    }
    if !conflicts.is_empty() {
        let count = conflicts.len();
        let mut objects: Vec<String> = conflicts.into_iter().take(NAMED_CONFLICTS).collect();
        if count > objects.len() {
            objects.push(format!("and {} more", count - objects.len()));
        }
        return Err(OpsError::MigrateTarget { count, objects });
    }

    // Source uid -> target uid, for the objects already there and those created below.
    let mut uids: HashMap<String, String> = HashMap::new();
    fn record(uids: &mut HashMap<String, String>, src: &DynamicObject, dst: &DynamicObject) {
        if let (Some(s), Some(d)) = (&src.metadata.uid, &dst.metadata.uid) {
            uids.insert(s.clone(), d.clone());
        }
    }
    for (k, obj) in &target_by_key {
        if let Some(src) = source_by_key.get(k) {
            record(&mut uids, src, obj);
        }
    }

    let all: Vec<&DynamicObject> = source.iter().flatten().collect();
    let mut created: HashMap<TypeKey, usize> = HashMap::new();
    for (n, wave) in waves(&all)?.into_iter().enumerate() {
        let todo: Vec<&DynamicObject> = wave
            .into_iter()
            .map(|i| all[i])
            .filter(|o| !target_by_key.contains_key(&key(o)))
            .collect();
        if todo.is_empty() {
            continue;
        }
        tracing::info!(wave = n, objects = todo.len(), "copying");
        let ops: Vec<Op> = todo
            .iter()
            .map(|o| Op::Create(portable(o, |u| Some(mapped(&uids, u)))))
            .collect();
        let applied = in_batches(to, ops).await?;
        for (src, done) in todo.iter().zip(&applied) {
            if let Some(dst) = done.object() {
                record(&mut uids, src, dst);
            }
            if matches!(done, Applied::Written(_)) {
                *created.entry(src.types.clone()).or_default() += 1;
            }
        }
    }

    // Check the copy against the source, kind by kind, as the target now lists it.
    let after = read_all(to, &kinds).await?;
    let mut report = Migration::default();
    for ((types, src), dst) in kinds.into_iter().zip(&source).zip(after) {
        let made = created.get(&types).copied().unwrap_or(0);
        let mut check = KindCheck {
            source: src.len(),
            target: dst.len(),
            created: made,
            already_copied: src.len().saturating_sub(made),
            mismatched: 0,
            mismatches: Vec::new(),
            types,
        };
        let mut copies: BTreeMap<(String, String), DynamicObject> = dst
            .into_iter()
            .map(|o| ((o.namespace().to_string(), o.name().to_string()), o))
            .collect();
        for s in src {
            let Some(d) = copies.remove(&(s.namespace().to_string(), s.name().to_string())) else {
                check.mismatch(format!("{}: missing in the target", describe(s)));
                continue;
            };
            let rv_ok = d
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|v| v > 0);
            if !rv_ok {
                check.mismatch(format!(
                    "{}: no resourceVersion in the target",
                    describe(&d)
                ));
            } else if portable(s, |u| Some(mapped(&uids, u))) != portable(&d, |u| Some(u.into())) {
                check.mismatch(format!("{}: differs from the source's", describe(&d)));
            }
        }
        for d in copies.into_values() {
            check.mismatch(format!(
                "{}: in the target, not in the source",
                describe(&d)
            ));
        }
        report.kinds.push(check);
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ironbell_model::{ObjectMeta, OwnerReference};

    fn obj(name: &str, uid: &str, owner: Option<&str>) -> DynamicObject {
        let mut m = ObjectMeta::named("default", name);
        m.uid = Some(uid.into());
        m.owner_references = owner.map(|o| {
            vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Thing".into(),
                name: o.into(),
                uid: o.into(),
                controller: None,
                block_owner_deletion: None,
            }]
        });
        DynamicObject::new(TypeKey::new("v1", "Thing"), m)
    }

    #[test]
    fn owners_come_first_and_cycles_are_refused() {
        let a = obj("a", "a", None);
        let b = obj("b", "b", Some("a"));
        let c = obj("c", "c", Some("b"));
        let dangling = obj("d", "d", Some("gone"));
        let w = waves(&[&c, &b, &a, &dangling]).unwrap();
        assert_eq!(w, vec![vec![2, 3], vec![1], vec![0]]);
        let x = obj("x", "x", Some("y"));
        let y = obj("y", "y", Some("x"));
        let err = waves(&[&a, &x, &y]).unwrap_err().to_string();
        assert!(
            err.contains("cycle") && err.contains("Thing default/x"),
            "{err}"
        );
    }

    #[test]
    fn portable_form_drops_what_the_store_sets() {
        let mut a = obj("a", "uid-1", Some("o1"));
        a.metadata.resource_version = Some("7".into());
        a.metadata.generation = Some(3);
        let mut b = obj("a", "uid-2", Some("o1"));
        b.metadata.owner_references.as_mut().unwrap()[0].uid = "o2".into();
        b.metadata.labels = Some(Default::default());
        assert_eq!(portable(&a, |_| None), portable(&b, |_| None));
        let mapped = portable(&a, |u| Some(format!("{u}-new")));
        assert_ne!(mapped, portable(&b, |u| Some(u.into())));
        assert_eq!(
            mapped.metadata.owner_references.unwrap()[0].uid,
            "o1-new".to_string()
        );
    }
}
