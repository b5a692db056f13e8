//! Writing more operations than one commit may hold: [`commit_in_batches`].
//!
//! etcd refuses a transaction of more than `--max-txn-ops` operations (128 by default), so
//! a `hardware import` of a few hundred machines cannot be one commit there. Callers that
//! need all or nothing refuse such a set up front (see [`Capabilities::max_commit_ops`]);
//! the others write it here, batch after batch. The contract is the one the operations
//! layer keeps on a backend without atomic commits: the caller orders the operations so
//! that what is written first never refers to what comes later (Secrets, then BMC
//! Machines, then Hardware); a failure stops at one batch, of which nothing was written,
//! and everything before it was; running the same operations again finishes the job.
//!
//! [`Capabilities::max_commit_ops`]: crate::Capabilities::max_commit_ops

use futures::{StreamExt, stream};
use ironbell_model::{DynamicObject, Labels, TypeKey};

use crate::{Op, Result, Store, StoreError};

/// How many existence checks one batch runs at once when a re-run finds its objects there.
const CHECKS_IN_FLIGHT: usize = 16;
/// How many times one batch is sent again after leaving out what an earlier run did.
const BATCH_ATTEMPTS: usize = 8;

/// What [`commit_in_batches`] did with one operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// Written by this call: the object as written (for a delete, its last state).
    Written(DynamicObject),
    /// A create of an object that existed already with the same content (an earlier run
    /// wrote it; see [`same_content`]): left alone; the object as stored.
    AlreadyExisted(DynamicObject),
    /// A delete without a `resourceVersion` precondition of an object that was gone
    /// already.
    AlreadyDeleted,
}

impl Applied {
    /// The object written or found, if any.
    pub fn object(&self) -> Option<&DynamicObject> {
        match self {
            Self::Written(o) | Self::AlreadyExisted(o) => Some(o),
            Self::AlreadyDeleted => None,
        }
    }
}

/// [`commit_in_batches`] stopped at a batch that could not be written. That batch wrote
/// nothing; every operation before it is written. `source` names the object at fault
/// (see [`StoreError::object`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "wrote {committed} of {total} operations in batches of at most {batch_limit}, then a batch failed and wrote nothing; run the same operations again to finish (each batch is idempotent)"
)]
pub struct BatchError {
    /// Operations written (or found done) before the failing batch: the first `committed`
    /// of those given.
    pub committed: usize,
    /// Operations given.
    pub total: usize,
    /// The most operations one commit held ([`crate::Capabilities::commit_limit`]).
    pub batch_limit: usize,
    /// Why the batch failed.
    #[source]
    pub source: StoreError,
}

/// Writes `ops` in order, in batches of at most the backend's
/// [`commit_limit`](crate::Capabilities::commit_limit), each batch one atomic commit.
///
/// Unlike [`Store::commit`], the whole set is not all or nothing: a failure leaves the
/// batches before it written (see [`BatchError`]). Running the same `ops` again finishes
/// the job: a create of an object that exists with the same content ([`same_content`]) and
/// a delete (without precondition) of an object that is gone are found done, not errors.
/// Updates carry a `resourceVersion`, so a caller that re-runs plans them afresh (as
/// `ironbell-ops`' `apply` does). An operation is left out as done only when no other
/// operation of its batch is about the same object.
///
/// Returns what happened to each operation, in the order given.
pub async fn commit_in_batches(
    store: &dyn Store,
    ops: Vec<Op>,
) -> std::result::Result<Vec<Applied>, BatchError> {
    let total = ops.len();
    let batch_limit = store.capabilities().commit_limit();
    let mut done = Vec::with_capacity(total);
    let mut rest = ops.into_iter();
    loop {
        let batch: Vec<Op> = rest.by_ref().take(batch_limit).collect();
        if batch.is_empty() {
            return Ok(done);
        }
        tracing::debug!(
            from = done.len(),
            ops = batch.len(),
            total,
            "committing a batch"
        );
        match commit_batch(store, &batch).await {
            Ok(applied) => done.extend(applied),
            Err(source) => {
                return Err(BatchError {
                    committed: done.len(),
                    total,
                    batch_limit,
                    source,
                });
            }
        }
    }
}

/// Whether `current` (as stored) already holds what `desired` asks for: the same labels,
/// annotations and every top-level field but `status` (which the store and controllers
/// own). Empty label and annotation maps equal absent ones.
pub fn same_content(current: &DynamicObject, desired: &DynamicObject) -> bool {
    let non_empty = |m: &Option<Labels>| m.clone().filter(|m| !m.is_empty());
    non_empty(&current.metadata.labels) == non_empty(&desired.metadata.labels)
        && non_empty(&current.metadata.annotations) == non_empty(&desired.metadata.annotations)
        && current.same_body_except(desired, "status")
}

/// Commits one batch; on `AlreadyExists` or `NotFound`, leaves out what an earlier run did
/// and sends the rest again.
async fn commit_batch(store: &dyn Store, batch: &[Op]) -> Result<Vec<Applied>> {
    let mut out: Vec<Option<Applied>> = vec![None; batch.len()];
    let mut last_error = None;
    for _ in 0..BATCH_ATTEMPTS {
        let pending: Vec<usize> = (0..batch.len()).filter(|&i| out[i].is_none()).collect();
        if pending.is_empty() {
            break;
        }
        let ops: Vec<Op> = pending.iter().map(|&i| batch[i].clone()).collect();
        match store.commit(ops).await {
            Ok(objs) if objs.len() == pending.len() => {
                for (i, o) in pending.into_iter().zip(objs) {
                    out[i] = Some(Applied::Written(o));
                }
                break;
            }
            Ok(objs) => {
                return Err(StoreError::Backend(format!(
                    "a commit of {} operations returned {} objects",
                    pending.len(),
                    objs.len()
                )));
            }
            Err(e @ (StoreError::AlreadyExists { .. } | StoreError::NotFound { .. })) => {
                if find_done(store, batch, &pending, &mut out).await? == 0 {
                    return Err(e);
                }
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    let mut applied = Vec::with_capacity(out.len());
    for a in out {
        match a {
            Some(a) => applied.push(a),
            // Objects kept appearing and disappearing under the batch.
            None => {
                return Err(last_error.unwrap_or_else(|| {
                    StoreError::Backend("a batch could not be written".into())
                }));
            }
        }
    }
    Ok(applied)
}

/// `(types, namespace, name)` of an operation's object.
fn target(op: &Op) -> (&TypeKey, &str, &str) {
    match op {
        Op::Create(o) | Op::Update(o) => (&o.types, o.namespace(), o.name()),
        Op::Delete {
            types,
            namespace,
            name,
            ..
        } => (types, namespace, name),
    }
}

/// Marks in `out` the `pending` operations of `batch` that an earlier run did (see
/// [`commit_in_batches`]); returns how many.
async fn find_done(
    store: &dyn Store,
    batch: &[Op],
    pending: &[usize],
    out: &mut [Option<Applied>],
) -> Result<usize> {
    let alone = |i: usize| {
        let t = target(&batch[i]);
        batch
            .iter()
            .enumerate()
            .all(|(j, other)| j == i || target(other) != t)
    };
    let candidates: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&i| match &batch[i] {
            Op::Create(o) => !o.name().is_empty() && alone(i),
            Op::Delete {
                resource_version, ..
            } => resource_version.as_deref().is_none_or(str::is_empty) && alone(i),
            Op::Update(_) => false,
        })
        .collect();
    let mut checks = stream::iter(candidates)
        .map(|i| async move {
            let (types, ns, name) = target(&batch[i]);
            (i, store.get(types, ns, name).await)
        })
        .buffer_unordered(CHECKS_IN_FLIGHT);
    let mut found = 0;
    while let Some((i, current)) = checks.next().await {
        let done = match (&batch[i], current) {
            (Op::Create(desired), Ok(current)) if same_content(&current, desired) => {
                Applied::AlreadyExisted(current)
            }
            (Op::Delete { .. }, Err(e)) if e.is_not_found() => Applied::AlreadyDeleted,
            (_, Err(e)) if !e.is_not_found() => return Err(e),
            _ => continue,
        };
        out[i] = Some(done);
        found += 1;
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ironbell_model::ObjectMeta;
    use serde_json::json;

    fn thing(name: &str, spec: serde_json::Value) -> DynamicObject {
        let mut o = DynamicObject::new(
            TypeKey::new("test.ironbell.dev/v1", "Thing"),
            ObjectMeta::named("default", name),
        );
        o.set_field("spec", &spec).unwrap();
        o
    }

    #[test]
    fn content_ignores_status_and_empty_maps() {
        let a = thing("a", json!({"x": 1}));
        let mut b = a.clone();
        b.set_field("status", &json!({"phase": "done"})).unwrap();
        b.metadata.labels = Some(Default::default());
        b.metadata.resource_version = Some("7".into());
        assert!(same_content(&b, &a));
        let c = thing("a", json!({"x": 2}));
        assert!(!same_content(&c, &a));
        let mut d = a.clone();
        d.metadata.labels = Some([("k".to_string(), "v".to_string())].into());
        assert!(!same_content(&d, &a));
    }
}
