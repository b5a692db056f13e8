//! Deleting an object with what it owns, so that nothing is left behind holding
//! credentials or acting on a machine nobody lists any more:
//!
//! - a Hardware owns the BMC Machine its `spec.bmcRef` names (same namespace) and the Secret
//!   that Machine's `connection.authSecretRef` names, unless another Hardware (or Machine)
//!   still refers to them: that is the link `hardware import` writes;
//! - any object owns the objects whose `ownerReferences` name its uid (a BMC Job's Tasks).
//!
//! Everything goes in one commit where the backend can; else one object at a time, the
//! owned objects first and the owner last, so that an interrupted delete is finished by
//! running it again (the owner is still there to find what it owns).

use ironbell_model::bmc::Machine;
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, KindRegistry, Resource, TypeKey};
use ironbell_store::{ListParams, Op, Store};

use crate::OpsError;
use crate::apply::in_batches;

fn type_of<K: Resource>() -> TypeKey {
    TypeKey::new(K::API_VERSION, K::KIND)
}

/// The objects `obj` owns (see the module docs), owned-most first. Owner references are
/// followed through every kind of `registry`.
pub async fn owned(
    store: &dyn Store,
    registry: &KindRegistry,
    obj: &DynamicObject,
) -> Result<Vec<DynamicObject>, OpsError> {
    let ns = obj.namespace();
    let mut out: Vec<DynamicObject> = Vec::new();
    if let Some(uid) = obj.metadata.uid.as_deref().filter(|u| !u.is_empty()) {
        for info in registry.kinds().filter(|k| k.namespaced) {
            let list = store
                .list(&info.type_key(), &ListParams::namespace(ns))
                .await?;
            out.extend(list.items.into_iter().filter(|o| {
                o.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == uid)
            }));
        }
    }
    if obj.types == type_of::<Hardware>() {
        let hw: Hardware = obj.to_typed()?;
        let machine_name = hw
            .spec
            .bmc_ref
            .as_ref()
            .filter(|r| r.kind == Machine::KIND)
            .map(|r| r.name.clone());
        if let Some(machine_name) = machine_name {
            let hardware = store
                .list(&type_of::<Hardware>(), &ListParams::namespace(ns))
                .await?;
            let shared = hardware.items.iter().any(|o| {
                o.name() != obj.name()
                    && o.to_typed::<Hardware>()
                        .is_ok_and(|h| h.spec.bmc_ref.is_some_and(|r| r.name == machine_name))
            });
            if !shared {
                match store.get(&type_of::<Machine>(), ns, &machine_name).await {
                    Ok(m) => {
                        out.extend(machine_secret(store, &m, &machine_name).await?);
                        out.push(m);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    // Owned-most first: a Machine before its Secret is fine either way, but a Secret
    // found twice (by owner and by link) is deleted once.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|o| {
        seen.insert((
            o.types.clone(),
            o.namespace().to_string(),
            o.name().to_string(),
        ))
    });
    Ok(out)
}

/// The Secret a Machine authenticates with, if no other Machine uses it.
async fn machine_secret(
    store: &dyn Store,
    machine: &DynamicObject,
    machine_name: &str,
) -> Result<Vec<DynamicObject>, OpsError> {
    let m: Machine = machine.to_typed()?;
    let Some(secret) = m.spec.connection.auth_secret_ref.as_ref() else {
        return Ok(Vec::new());
    };
    let (Some(name), ns) = (
        secret.name.as_deref(),
        secret.namespace.as_deref().unwrap_or(machine.namespace()),
    ) else {
        return Ok(Vec::new());
    };
    let machines = store
        .list(&type_of::<Machine>(), &ListParams::default())
        .await?;
    let shared = machines.items.iter().any(|o| {
        o.name() != machine_name
            && o.to_typed::<Machine>().is_ok_and(|other| {
                other.spec.connection.auth_secret_ref.is_some_and(|r| {
                    r.name.as_deref() == Some(name)
                        && r.namespace.as_deref().unwrap_or(o.namespace()) == ns
                })
            })
    });
    if shared {
        return Ok(Vec::new());
    }
    match store.get(&TypeKey::new("v1", "Secret"), ns, name).await {
        Ok(s) => Ok(vec![s]),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes `obj` and what it owns (of the kinds of `registry`); returns every object
/// deleted, the owner last.
///
/// An object with finalizers is only marked (`metadata.deletionTimestamp`, through
/// [`ironbell_store::finalizers::request_delete_in`]), as the Kubernetes API server does: the
/// controllers holding the finalizers do their cleanup (a Cluster API `Cluster` takes its
/// machines down, a `TinkerbellMachine` powers its Hardware off and releases it) and delete
/// it; nothing it owns is deleted here. It is returned alone.
pub async fn delete(
    store: &dyn Store,
    registry: &KindRegistry,
    obj: &DynamicObject,
) -> Result<Vec<DynamicObject>, OpsError> {
    if obj
        .metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| !f.is_empty())
    {
        ironbell_store::finalizers::request_delete_in(
            store,
            &obj.types,
            obj.namespace(),
            obj.name(),
        )
        .await?;
        return Ok(vec![obj.clone()]);
    }
    let mut all = owned(store, registry, obj).await?;
    // The Machine before its Secret (the Secret is found first by the link walk).
    all.sort_by_key(|o| u8::from(o.types.kind == "Secret"));
    all.push(obj.clone());
    let ops = all
        .iter()
        .map(|o| Op::Delete {
            types: o.types.clone(),
            namespace: o.namespace().to_string(),
            name: o.name().to_string(),
            resource_version: None,
        })
        .collect::<Vec<_>>();
    commit_in_order(store, ops).await?;
    Ok(all)
}

/// Commits `ops` atomically where the backend's commit holds them all, else in batches in
/// the given order (unlike [`crate::apply::commit`], which sorts for creation).
async fn commit_in_order(store: &dyn Store, ops: Vec<Op>) -> Result<(), OpsError> {
    if ops.len() <= store.capabilities().commit_limit() {
        store.commit(ops).await?;
        return Ok(());
    }
    in_batches(store, ops).await.map(drop)
}

/// What deleting a list of objects did.
#[derive(Debug, Default)]
pub struct Deleted {
    /// Every object deleted (or, holding finalizers, marked for deletion), each owner after
    /// what it owned, in the order asked.
    pub deleted: Vec<DynamicObject>,
    /// The objects asked for that the store does not have: `(kind, namespace, name)`.
    pub missing: Vec<(String, String, String)>,
}

/// Deletes each of `targets` with what it owns ([`delete`]), in order. Each is read again
/// first: one that an earlier target owned is already gone and is not reported twice, and
/// one missing from the store is listed in [`Deleted::missing`] rather than failing the
/// others (`kubectl delete -f` does the same).
pub async fn delete_all(
    store: &dyn Store,
    registry: &KindRegistry,
    targets: &[DynamicObject],
) -> Result<Deleted, OpsError> {
    let key = |o: &DynamicObject| {
        (
            o.types.clone(),
            o.namespace().to_string(),
            o.name().to_string(),
        )
    };
    let mut gone = std::collections::BTreeSet::new();
    let mut out = Deleted::default();
    for target in targets {
        if gone.contains(&key(target)) {
            continue;
        }
        let current = match store
            .get(&target.types, target.namespace(), target.name())
            .await
        {
            Ok(current) => current,
            Err(e) if e.is_not_found() => {
                out.missing.push((
                    target.types.kind.clone(),
                    target.namespace().to_string(),
                    target.name().to_string(),
                ));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for obj in delete(store, registry, &current).await? {
            gone.insert(key(&obj));
            out.deleted.push(obj);
        }
    }
    Ok(out)
}
