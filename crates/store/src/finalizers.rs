//! Deletion with finalizers, as the Kubernetes API server does it, for controllers.
//!
//! The store deletes an object at once ([`Store::delete`]); it keeps
//! no finalizer semantics of its own. Controllers that must finish work before an object
//! goes (a Cluster API `Machine` waiting for its infrastructure, a `TinkerbellMachine`
//! powering its Hardware off) delete through here instead:
//!
//! - [`request_delete`]: an object without finalizers is deleted now; one with finalizers
//!   gets `metadata.deletionTimestamp` (once) and stays until they are gone;
//! - [`remove_finalizer`]: the holder of a finalizer takes it off when its work is done;
//!   taking off the last one of a marked object deletes it.
//!
//! Every step is a read and a write guarded by `resourceVersion`, retried on a conflict, so
//! two controllers working on one object never lose each other's changes.

use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};

use crate::{MODIFY_ATTEMPTS, Result, SharedStore, Store, StoreError};

/// Where a deletion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// The object is gone (or never was).
    Gone,
    /// The object is marked for deletion; finalizers still hold it.
    Pending,
}

/// Whether `meta` carries `finalizer`.
pub fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// Adds `finalizer` to `meta`; `true` if it was missing.
pub fn add_finalizer(meta: &mut ObjectMeta, finalizer: &str) -> bool {
    if has_finalizer(meta, finalizer) {
        return false;
    }
    meta.finalizers
        .get_or_insert_with(Vec::new)
        .push(finalizer.to_string());
    true
}

/// Deletes an object the Kubernetes way: at once when it has no finalizers; otherwise sets
/// `deletionTimestamp` (once) and leaves the rest to the finalizers' holders. An object
/// already marked whose finalizers are all gone is deleted.
pub async fn request_delete(
    store: &SharedStore,
    types: &TypeKey,
    namespace: &str,
    name: &str,
) -> Result<Deletion> {
    request_delete_in(store.as_ref(), types, namespace, name).await
}

/// [`request_delete`] on a borrowed store (as `ironbell delete` holds one).
pub async fn request_delete_in(
    store: &dyn Store,
    types: &TypeKey,
    namespace: &str,
    name: &str,
) -> Result<Deletion> {
    let mut last = None;
    for _ in 0..MODIFY_ATTEMPTS {
        let Some(mut obj) = current(store, types, namespace, name).await? else {
            return Ok(Deletion::Gone);
        };
        if obj.metadata.finalizers.as_ref().is_none_or(Vec::is_empty) {
            let rv = obj.metadata.resource_version.clone();
            match store.delete(types, namespace, name, rv.as_deref()).await {
                Ok(_) => return Ok(Deletion::Gone),
                Err(e) if e.is_not_found() => return Ok(Deletion::Gone),
                Err(e) if e.is_conflict() => last = Some(e),
                Err(e) => return Err(e),
            }
            continue;
        }
        if obj.metadata.deletion_timestamp.is_some() {
            return Ok(Deletion::Pending);
        }
        obj.metadata.deletion_timestamp = Some(ironbell_model::values::now());
        match store.update(obj).await {
            Ok(_) => return Ok(Deletion::Pending),
            Err(e) if e.is_not_found() => return Ok(Deletion::Gone),
            Err(e) if e.is_conflict() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| kept_changing(types, namespace, name)))
}

/// Takes `finalizer` off the object; when it was the last and the object is marked for
/// deletion, deletes it. An object that is gone counts as done.
pub async fn remove_finalizer(
    store: &SharedStore,
    types: &TypeKey,
    namespace: &str,
    name: &str,
    finalizer: &str,
) -> Result<Deletion> {
    let mut removed = false;
    let mut last = None;
    for _ in 0..MODIFY_ATTEMPTS {
        let Some(mut obj) = current(store.as_ref(), types, namespace, name).await? else {
            return Ok(Deletion::Gone);
        };
        let list = obj.metadata.finalizers.get_or_insert_with(Vec::new);
        let before = list.len();
        list.retain(|f| f != finalizer);
        if list.len() == before {
            removed = true;
            break;
        }
        if list.is_empty() {
            obj.metadata.finalizers = None;
        }
        match store.update(obj).await {
            Ok(_) => {
                removed = true;
                break;
            }
            Err(e) if e.is_not_found() => return Ok(Deletion::Gone),
            Err(e) if e.is_conflict() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    if !removed {
        return Err(last.unwrap_or_else(|| kept_changing(types, namespace, name)));
    }
    finish_delete(store, types, namespace, name).await
}

/// Deletes an object marked for deletion whose finalizers are all gone (someone may have
/// taken off the last one without deleting it); says whether it is gone.
pub async fn finish_delete(
    store: &SharedStore,
    types: &TypeKey,
    namespace: &str,
    name: &str,
) -> Result<Deletion> {
    match current(store.as_ref(), types, namespace, name).await? {
        Some(o) if o.metadata.deletion_timestamp.is_some() => {
            request_delete(store, types, namespace, name).await
        }
        Some(_) => Ok(Deletion::Pending),
        None => Ok(Deletion::Gone),
    }
}

/// The object as stored, or `None` when it is gone.
async fn current(
    store: &dyn Store,
    types: &TypeKey,
    namespace: &str,
    name: &str,
) -> Result<Option<DynamicObject>> {
    match store.get(types, namespace, name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn kept_changing(types: &TypeKey, namespace: &str, name: &str) -> StoreError {
    StoreError::Invalid {
        kind: types.kind.clone(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        message: format!("kept changing while being deleted ({MODIFY_ATTEMPTS} attempts)"),
    }
}
