//! A cluster's Cluster API objects made to fit what the store holds, then applied: the
//! provider-neutral half of "render and apply" (each provider renders; this names, diffs
//! and writes).
//!
//! [`plan`] is EKS Anywhere's controller path (`UpdateImmutableObjectNames`): render with
//! the template names the cluster's objects reference now (fresh ones, from the clock, for
//! what does not exist yet), then give every machine template or `KubeadmConfigTemplate`
//! whose content differs from the stored one of that name the next name (`...-<n>` →
//! `...-<n+1>`, EKS Anywhere's `IncrementName`) and point the `KubeadmControlPlane` or
//! `MachineDeployment` at it, which makes it roll its machines. A changed image, Kubernetes
//! version or template therefore replaces machines; a changed replica count only scales.
//! Rendering the same spec again gives the same names, so a task that renders and applies
//! is idempotent.
//!
//! [`apply`] writes the objects as a server-side apply by one manager would: the spec from
//! the render, labels and annotations merged, and the status, finalizers and owner
//! references the controllers wrote kept.

use std::collections::BTreeMap;

use ironbell_capi::tinkerbell::{TemplateNames, WorkerTemplateNames};
use ironbell_cluster_spec::Spec;
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, Store, StoreError};
use serde_json::Value;

use crate::NAMESPACE;

/// The label Cluster API puts on a cluster's objects.
pub const CLUSTER_NAME_LABEL: &str = ironbell_cluster_api::CLUSTER_NAME_LABEL;

/// Why the objects could not be planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// The provider's render failed.
    #[error("rendering the Cluster API objects: {0}")]
    Render(String),
    /// An object could not be read or written as JSON.
    #[error("reading the rendered objects: {0}")]
    Parse(String),
    /// The store failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// The cause.
        source: Box<StoreError>,
    },
}

fn store_error(what: impl Into<String>) -> impl FnOnce(StoreError) -> ObjectsError {
    let what = what.into();
    move |source| ObjectsError::Store {
        what,
        source: Box::new(source),
    }
}

/// What an upgrade changes in one group of machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChange {
    /// `control plane` or `worker group NAME`.
    pub role: String,
    /// The machine config's selector (a Tinkerbell `hardwareSelector`; empty elsewhere).
    pub selector: BTreeMap<String, String>,
    /// Replicas now (0 for a new group).
    pub from: i64,
    /// Replicas wanted.
    pub to: i64,
    /// Whether the machines are replaced (their template changed).
    pub replaced: bool,
    /// The group's `maxSurge` (default 1).
    pub max_surge: i64,
}

/// The objects to apply and what they change.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The objects, in the order to apply them (templates first).
    pub objects: Vec<DynamicObject>,
    /// Per group of machines, what changes.
    pub groups: Vec<GroupChange>,
}

impl Plan {
    /// The change per group, as an upgrade's checkpoint records it
    /// (`[{group, from, to, replaced}]`).
    pub fn diff(&self) -> Value {
        self.groups
            .iter()
            .map(|g| serde_json::json!({"group": g.role, "from": g.from, "to": g.to, "replaced": g.replaced}))
            .collect()
    }

    /// Whether applying changes nothing about the machines.
    pub fn machines_unchanged(&self) -> bool {
        self.groups.iter().all(|g| !g.replaced && g.from == g.to)
    }
}

fn types(api_version: &str, kind: &str) -> TypeKey {
    TypeKey {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    }
}

fn kcp_types() -> TypeKey {
    types(
        ironbell_cluster_api::kinds::CONTROL_PLANE_API_VERSION,
        "KubeadmControlPlane",
    )
}

fn md_types() -> TypeKey {
    types(
        ironbell_cluster_api::kinds::CLUSTER_API_VERSION,
        "MachineDeployment",
    )
}

/// `obj`'s field at a dotted `path` (`spec.replicas`).
pub fn field(obj: &DynamicObject, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let mut value = obj.field_value(parts.next()?)?;
    for part in parts {
        value = value.get(part)?.clone();
    }
    Some(value)
}

fn field_str(obj: &DynamicObject, path: &str) -> Option<String> {
    field(obj, path).and_then(|v| v.as_str().map(str::to_string))
}

fn replicas(obj: &DynamicObject) -> i64 {
    field(obj, "spec.replicas")
        .and_then(|v| v.as_i64())
        .unwrap_or(1)
}

/// The cluster's `KubeadmControlPlane` and `MachineDeployment`s in the store.
async fn current(
    store: &dyn Store,
    cluster: &str,
) -> Result<(Option<DynamicObject>, Vec<DynamicObject>), ObjectsError> {
    let kcp = match store.get(&kcp_types(), NAMESPACE, cluster).await {
        Ok(o) => Some(o),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            return Err(store_error(format!(
                "reading KubeadmControlPlane {cluster}"
            ))(e));
        }
    };
    let selector = Selector::parse(&format!("{CLUSTER_NAME_LABEL}={cluster}"))
        .map_err(|e| ObjectsError::Parse(e.to_string()))?;
    let mds = store
        .list(
            &md_types(),
            &ListParams {
                namespace: Some(NAMESPACE.to_string()),
                selector: Some(selector),
            },
        )
        .await
        .map_err(store_error(format!(
            "listing the MachineDeployments of {cluster}"
        )))?
        .items;
    Ok((kcp, mds))
}

/// The worker group of a `MachineDeployment` of `cluster`: its `pool` label, or its name
/// without `<cluster>-`.
fn group_of(cluster: &str, md: &DynamicObject) -> Option<String> {
    md.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pool").cloned())
        .or_else(|| {
            md.name()
                .strip_prefix(&format!("{cluster}-"))
                .map(str::to_string)
        })
}

/// The template names the stored objects reference, with `fresh` names for the rest.
fn names_from_store(
    cluster: &str,
    kcp: Option<&DynamicObject>,
    mds: &[DynamicObject],
    fresh: TemplateNames,
) -> TemplateNames {
    let mut names = fresh;
    if let Some(name) =
        kcp.and_then(|k| field_str(k, "spec.machineTemplate.infrastructureRef.name"))
    {
        names.control_plane = Some(name);
    }
    for md in mds {
        let Some(group) = group_of(cluster, md) else {
            continue;
        };
        let (Some(machine), Some(config)) = (
            field_str(md, "spec.template.spec.infrastructureRef.name"),
            field_str(md, "spec.template.spec.bootstrap.configRef.name"),
        ) else {
            continue;
        };
        if names.workers.contains_key(&group) {
            names.workers.insert(
                group,
                WorkerTemplateNames {
                    machine_template: machine,
                    kubeadm_config_template: config,
                },
            );
        }
    }
    names
}

/// EKS Anywhere's `IncrementName`: `a-b-7` → `a-b-8`, `a-b` → `a-b-1`.
pub fn increment_name(name: &str) -> String {
    if let Some((base, n)) = name.rsplit_once('-')
        && let Ok(n) = n.parse::<u128>()
    {
        return format!("{base}-{}", n + 1);
    }
    format!("{name}-1")
}

/// Points every reference named `from` at `to` in `value` (the `name` of an object that
/// also has a matching `kind`).
fn rename_refs(value: &mut Value, kind: &str, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            let hit = map.get("kind").and_then(Value::as_str) == Some(kind)
                && map.get("name").and_then(Value::as_str) == Some(from);
            if hit {
                map.insert("name".into(), Value::String(to.to_string()));
            }
            for v in map.values_mut() {
                rename_refs(v, kind, from, to);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rename_refs(v, kind, from, to)),
        _ => {}
    }
}

fn set_spec(obj: &mut DynamicObject, spec: &Value) -> Result<(), ObjectsError> {
    let raw =
        serde_json::value::to_raw_value(spec).map_err(|e| ObjectsError::Parse(e.to_string()))?;
    obj.body.insert("spec".into(), raw);
    Ok(())
}

/// How a provider renders and what its machine groups select.
pub struct Renderer<'a> {
    /// The objects of the spec with template names `names`, as store objects.
    pub render: &'a (dyn Fn(&TemplateNames) -> Result<Vec<DynamicObject>, String> + Sync),
    /// The kinds that get the next name when their content changes (the provider's machine
    /// template and `KubeadmConfigTemplate`).
    pub template_kinds: &'a [&'a str],
    /// The selector of the machines of a machine config (a Tinkerbell
    /// `hardwareSelector`; empty where machines are made, not chosen).
    pub selector_of: &'a (dyn Fn(&str) -> BTreeMap<String, String> + Sync),
}

/// The objects of `spec` fitted to the store (see the module docs), and what they change;
/// `now_unix_ms` names what does not exist yet.
pub async fn plan(
    store: &dyn Store,
    spec: &Spec,
    renderer: &Renderer<'_>,
    now_unix_ms: i64,
) -> Result<Plan, ObjectsError> {
    let cluster = spec.name().to_string();
    let (kcp, mds) = current(store, &cluster).await?;
    let fresh = TemplateNames::from_cluster_clock(&spec.cluster, now_unix_ms);
    let names = names_from_store(&cluster, kcp.as_ref(), &mds, fresh);
    let mut objects = (renderer.render)(&names).map_err(ObjectsError::Render)?;

    // Templates whose content changed get the next free name.
    let mut renames: Vec<(String, String, String)> = Vec::new();
    for obj in objects.iter_mut() {
        let kind = obj.types.kind.clone();
        if !renderer.template_kinds.contains(&kind.as_str()) {
            continue;
        }
        let wanted = obj.field_value("spec");
        let original = obj.name().to_string();
        let mut name = original.clone();
        loop {
            match store.get(&obj.types, NAMESPACE, &name).await {
                Ok(existing) if existing.field_value("spec") != wanted => {
                    name = increment_name(&name);
                }
                Ok(_) => break,
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(store_error(format!("reading {kind} {name}"))(e)),
            }
        }
        if name != original {
            obj.metadata.name = Some(name.clone());
            renames.push((kind, original, name));
        }
    }
    for obj in objects.iter_mut() {
        if !matches!(
            obj.types.kind.as_str(),
            "KubeadmControlPlane" | "MachineDeployment"
        ) {
            continue;
        }
        if let Some(mut body) = obj.field_value("spec") {
            for (kind, from, to) in &renames {
                rename_refs(&mut body, kind, from, to);
            }
            set_spec(obj, &body)?;
        }
    }

    let groups = group_changes(
        spec,
        &cluster,
        kcp.as_ref(),
        &mds,
        &objects,
        renderer.selector_of,
    );
    // Templates first, so that nothing refers to an object not yet written.
    objects.sort_by_key(|o| !o.types.kind.ends_with("Template"));
    Ok(Plan { objects, groups })
}

/// What the rendered `objects` change against the stored `kcp` and `mds`.
fn group_changes(
    spec: &Spec,
    cluster: &str,
    kcp: Option<&DynamicObject>,
    mds: &[DynamicObject],
    objects: &[DynamicObject],
    selector: &(dyn Fn(&str) -> BTreeMap<String, String> + Sync),
) -> Vec<GroupChange> {
    let selector_of = |machine_ref: Option<&str>| machine_ref.map(selector).unwrap_or_default();
    let max_surge = |v: Option<i64>| v.unwrap_or(1);
    let mut groups = Vec::new();
    for obj in objects {
        match obj.types.kind.as_str() {
            "KubeadmControlPlane" => {
                let before = kcp;
                let cp = spec.control_plane();
                groups.push(GroupChange {
                    role: "control plane".into(),
                    selector: selector_of(
                        cp.and_then(|c| c.machine_group_ref.as_ref())
                            .and_then(|r| r.name.as_deref()),
                    ),
                    from: before.map(replicas).unwrap_or(0),
                    to: replicas(obj),
                    replaced: before.is_some_and(|b| {
                        let pick = |o: &DynamicObject| {
                            let mut s = field(o, "spec").unwrap_or(Value::Null);
                            if let Value::Object(m) = &mut s {
                                m.remove("replicas");
                            }
                            s
                        };
                        pick(b) != pick(obj)
                    }),
                    max_surge: max_surge(
                        cp.and_then(|c| c.upgrade_rollout_strategy.as_ref())
                            .and_then(|s| s.rolling_update.as_ref())
                            .map(|r| r.max_surge),
                    ),
                });
            }
            "MachineDeployment" => {
                let group = group_of(cluster, obj).unwrap_or_default();
                let before = mds.iter().find(|m| m.name() == obj.name());
                let wng = spec
                    .worker_node_groups()
                    .iter()
                    .find(|w| w.name.as_deref() == Some(group.as_str()));
                groups.push(GroupChange {
                    role: format!("worker group {group}"),
                    selector: selector_of(
                        wng.and_then(|w| w.machine_group_ref.as_ref())
                            .and_then(|r| r.name.as_deref()),
                    ),
                    from: before.map(replicas).unwrap_or(0),
                    to: replicas(obj),
                    replaced: before
                        .is_some_and(|b| field(b, "spec.template") != field(obj, "spec.template")),
                    max_surge: max_surge(
                        wng.and_then(|w| w.upgrade_rollout_strategy.as_ref())
                            .and_then(|s| s.rolling_update.as_ref())
                            .map(|r| r.max_surge),
                    ),
                });
            }
            _ => {}
        }
    }
    groups
}

/// What [`apply`] did, by object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// `Kind/name` of the objects created.
    pub created: Vec<String>,
    /// `Kind/name` of the objects changed.
    pub configured: Vec<String>,
    /// How many were already as rendered.
    pub unchanged: usize,
}

/// `desired` laid over `current` as a JSON merge patch without deletions: objects merge key
/// by key, anything else is replaced.
fn overlay(current: &mut Value, desired: &Value) {
    match (current, desired) {
        (Value::Object(cur), Value::Object(want)) => {
            for (k, v) in want {
                match cur.get_mut(k) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        cur.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, want) => *slot = want.clone(),
    }
}

/// `current` with what `desired` says: every top-level field but `status` laid over the
/// current one ([`overlay`]: fields a controller filled in and the render leaves out, such
/// as a `TinkerbellCluster`'s `controlPlaneEndpoint`, stay), labels and annotations merged
/// (`desired` wins). A field the render stops giving is not removed (server-side apply
/// would remove it; the renders here only add or change fields).
fn merged(current: &DynamicObject, desired: &DynamicObject) -> DynamicObject {
    let mut next = current.clone();
    for k in desired.body.keys() {
        if k == "status" {
            continue;
        }
        let (Some(want), cur) = (desired.field_value(k), current.field_value(k)) else {
            continue;
        };
        let mut value = cur.unwrap_or(Value::Null);
        overlay(&mut value, &want);
        if let Ok(raw) = serde_json::value::to_raw_value(&value) {
            next.body.insert(k.clone(), raw);
        }
    }
    let merge = |mine: &mut Option<BTreeMap<String, String>>,
                 theirs: &Option<BTreeMap<String, String>>| {
        if let Some(theirs) = theirs {
            let map = mine.get_or_insert_with(BTreeMap::new);
            for (k, v) in theirs {
                map.insert(k.clone(), v.clone());
            }
        }
    };
    merge(&mut next.metadata.labels, &desired.metadata.labels);
    merge(
        &mut next.metadata.annotations,
        &desired.metadata.annotations,
    );
    next
}

/// Whether two objects say the same (their fields compared as JSON values).
fn same(a: &DynamicObject, b: &DynamicObject) -> bool {
    a.metadata == b.metadata
        && a.body.len() == b.body.len()
        && a.body.keys().all(|k| a.field_value(k) == b.field_value(k))
}

/// A write that lost a race with a controller (or another writer): read again and retry.
fn retryable(e: &StoreError) -> bool {
    e.is_conflict() || matches!(e, StoreError::AlreadyExists { .. })
}

/// Creates what is missing and updates what differs (see the module docs); a conflict
/// with a controller's write is retried on the fresh object.
pub async fn apply(store: &dyn Store, objects: &[DynamicObject]) -> Result<Applied, ObjectsError> {
    let mut applied = Applied::default();
    for desired in objects {
        let label = format!("{}/{}", desired.types.kind, desired.name());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = match store
                .get(&desired.types, desired.namespace(), desired.name())
                .await
            {
                Ok(o) => Some(o),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(store_error(format!("reading {label}"))(e)),
            };
            let result = match &current {
                None => store.create(desired.clone()).await.map(|_| {
                    applied.created.push(label.clone());
                }),
                Some(cur) => {
                    let next = merged(cur, desired);
                    if same(&next, cur) {
                        applied.unchanged += 1;
                        Ok(())
                    } else {
                        store.update(next).await.map(|_| {
                            applied.configured.push(label.clone());
                        })
                    }
                }
            };
            match result {
                Ok(()) => break,
                Err(e) if retryable(&e) && attempts < 10 => continue,
                Err(e) => return Err(store_error(format!("writing {label}"))(e)),
            }
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_increment_as_eks_anywhere_does() {
        assert_eq!(
            increment_name("c1-control-plane-template-1733000000000"),
            "c1-control-plane-template-1733000000001"
        );
        assert_eq!(increment_name("c1-md-0-1"), "c1-md-0-2");
        assert_eq!(increment_name("plain"), "plain-1");
        assert_eq!(increment_name("x-y"), "x-y-1");
    }

    #[test]
    fn references_are_renamed_by_kind_and_name() {
        let mut v = serde_json::json!({
            "machineTemplate": {"infrastructureRef": {"kind": "TinkerbellMachineTemplate", "name": "a-1"}},
            "other": {"kind": "KubeadmConfigTemplate", "name": "a-1"},
        });
        rename_refs(&mut v, "TinkerbellMachineTemplate", "a-1", "a-2");
        assert_eq!(v["machineTemplate"]["infrastructureRef"]["name"], "a-2");
        assert_eq!(v["other"]["name"], "a-1");
    }
}
