//! Write semantics shared by the backends, so that each keeps them the same way: parsing
//! and checking a caller's `resourceVersion`, and building the object an `update` or
//! `update_status` stores from the stored one and the caller's.
//!
//! This is support for backend crates (`ironbell-store-sqlite`, `ironbell-store-etcd`),
//! not for services: they use [`Store`](crate::Store) and [`Api`](crate::Api).

use ironbell_model::{DynamicObject, TypeKey};

use crate::{Result, StoreError};

/// Parses a caller's `resourceVersion` (decimal, as every backend issues them). `required`:
/// an absent or empty one is [`StoreError::Invalid`] (updates); otherwise it is `None`
/// (a delete without precondition). A malformed one is always `Invalid`.
pub fn parse_resource_version(
    types: &TypeKey,
    namespace: &str,
    name: &str,
    rv: Option<&str>,
    required: bool,
) -> Result<Option<u64>> {
    let invalid = |message: String| StoreError::Invalid {
        kind: types.kind.clone(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        message,
    };
    match rv {
        None | Some("") if required => Err(invalid(
            "metadata.resourceVersion is required: read the object first and send it back \
             with its resourceVersion"
                .into(),
        )),
        None | Some("") => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
            invalid(format!(
                "metadata.resourceVersion {s:?} is not a resourceVersion this store issued"
            ))
        }),
    }
}

/// [`StoreError::Conflict`] unless the caller's version `given` is the stored `current`.
pub fn check_resource_version(
    types: &TypeKey,
    namespace: &str,
    name: &str,
    given: u64,
    current: u64,
) -> Result<()> {
    if given == current {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            kind: types.kind.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            given: given.to_string(),
            current: current.to_string(),
        })
    }
}

/// The object an update stores, from the stored object `old` and the caller's `obj`
/// (whose `resourceVersion` the backend has already checked). `status_only`
/// (`update_status`): `old` with `obj`'s status. Otherwise (`update`): `obj` with `old`'s
/// status, `uid` and `creationTimestamp`, and `generation` bumped when anything but
/// `metadata` and `status` changed. The backend sets `resourceVersion`.
pub fn merge_update(old: DynamicObject, obj: DynamicObject, status_only: bool) -> DynamicObject {
    if status_only {
        let mut new = old;
        copy_status(&obj, &mut new);
        return new;
    }
    let mut new = obj;
    copy_status(&old, &mut new);
    let old_gen = old.metadata.generation.unwrap_or(1);
    let changed = !old.same_body_except(&new, "status");
    let m = &mut new.metadata;
    m.uid = old.metadata.uid;
    m.creation_timestamp = old.metadata.creation_timestamp;
    m.generation = Some(old_gen + i64::from(changed));
    new
}

/// Makes `to`'s `status` that of `from` (absent if `from` has none).
pub fn copy_status(from: &DynamicObject, to: &mut DynamicObject) {
    match from.body.get("status") {
        Some(s) => to.body.insert("status".into(), s.clone()),
        None => to.body.remove("status"),
    };
}

/// [`StoreError::Invalid`] for a create without `metadata.name` or `generateName`.
pub fn name_required(obj: &DynamicObject) -> StoreError {
    StoreError::Invalid {
        kind: obj.types.kind.clone(),
        namespace: obj.namespace().to_string(),
        name: String::new(),
        message: "metadata.name is required".into(),
    }
}
