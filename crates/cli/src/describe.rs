//! `ironbell describe cluster NAME`: a Cluster API cluster's phase and conditions, its
//! control plane and machine deployments (replicas ready of desired), then one row per
//! Machine: its role, its `TinkerbellMachine`, the Hardware that holds it, the
//! Machine's phase and Node, and its Workflow's state and current action.
//!
//! Objects are read in their JSON form, as the `get` tables are (`crate::output`), so an
//! object written by something else (another version, a partial status) still shows what
//! it has; what is missing shows as `<none>`.

use std::fmt::Write as _;

use ironbell_model::{DynamicObject, KindRegistry};
use ironbell_ops::lookup::resolve_kind;
use ironbell_store::{ListParams, Store};
use serde_json::Value;

use crate::output::write_table;

/// Label naming the cluster of a Cluster API object.
const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// Label marking a control-plane Machine.
const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";
/// What a missing value shows as.
pub(crate) const NONE: &str = "<none>";

/// The description of the Cluster API `Cluster` `name` (in `namespace`, else the only
/// namespace that has it).
pub async fn cluster(
    store: &dyn Store,
    kinds: &KindRegistry,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<String> {
    let (cluster, v, mut out) = head(
        store,
        kinds,
        "clusters.cluster.x-k8s.io",
        (name, namespace),
        22,
    )
    .await?;
    let ns = cluster.namespace().to_string();
    writeln!(
        out,
        "Phase:                {}",
        text_or_none(&v, "/status/phase")
    )?;
    writeln!(
        out,
        "Infrastructure ready: {}",
        flag(&v, "/status/infrastructureReady")
    )?;
    writeln!(
        out,
        "Control plane ready:  {}",
        flag(&v, "/status/controlPlaneReady")
    )?;
    writeln!(out, "Conditions:")?;
    conditions(&mut out, &v)?;

    let control_plane = text(&v, "/spec/controlPlaneRef/name");
    match get(store, kinds, "kubeadmcontrolplanes", &ns, &control_plane).await? {
        Some(kcp) => {
            let k = kcp.to_value();
            writeln!(
                out,
                "Control plane:        KubeadmControlPlane {control_plane}: {}/{} ready, \
                 version {}",
                count(&k, "/status/readyReplicas"),
                count(&k, "/spec/replicas"),
                text_or_none(&k, "/spec/version")
            )?;
        }
        None => writeln!(out, "Control plane:        {NONE}")?,
    }
    writeln!(out, "Machine deployments:")?;
    let deployments: Vec<DynamicObject> = objects_of(store, kinds, "machinedeployments", &ns)
        .await?
        .into_iter()
        .filter(|d| text(&d.to_value(), "/spec/clusterName") == name)
        .collect();
    if deployments.is_empty() {
        writeln!(out, "  {NONE}")?;
    } else {
        let mut rows = vec![header(&["NAME", "REPLICAS", "READY", "PHASE", "VERSION"])];
        rows.extend(deployments.iter().map(|d| {
            let v = d.to_value();
            vec![
                d.name().to_string(),
                count(&v, "/spec/replicas"),
                count(&v, "/status/readyReplicas"),
                text_or_none(&v, "/status/phase"),
                text_or_none(&v, "/spec/template/spec/version"),
            ]
        }));
        indented_table(&mut out, &rows)?;
    }

    writeln!(out, "Machines:")?;
    let machines = objects_of(store, kinds, "machines.cluster.x-k8s.io", &ns)
        .await?
        .into_iter()
        .filter(|m| m.metadata.label(CLUSTER_NAME_LABEL) == Some(name))
        .collect::<Vec<_>>();
    if machines.is_empty() {
        writeln!(out, "  {NONE}")?;
        return Ok(out);
    }
    let mut rows = vec![header(&[
        "MACHINE",
        "ROLE",
        "TINKERBELLMACHINE",
        "HARDWARE",
        "PHASE",
        "NODE",
        "WORKFLOW",
        "ACTION",
    ])];
    for m in &machines {
        rows.push(machine_row(store, kinds, m).await?);
    }
    indented_table(&mut out, &rows)?;
    Ok(out)
}

/// One Machine's row (see the module docs).
async fn machine_row(
    store: &dyn Store,
    kinds: &KindRegistry,
    machine: &DynamicObject,
) -> anyhow::Result<Vec<String>> {
    let ns = machine.namespace();
    let v = machine.to_value();
    let role = if machine.metadata.label(CONTROL_PLANE_LABEL).is_some() {
        "control-plane"
    } else {
        "worker"
    };
    let infra_kind = text(&v, "/spec/infrastructureRef/kind");
    let infra = text(&v, "/spec/infrastructureRef/name");
    let tinkerbell = if infra_kind == "TinkerbellMachine" && !infra.is_empty() {
        get(store, kinds, "tinkerbellmachines", ns, &infra).await?
    } else {
        None
    };
    let hardware = tinkerbell
        .as_ref()
        .map(|t| text_or_none(&t.to_value(), "/spec/hardwareName"))
        .unwrap_or_else(|| NONE.to_string());
    // CAPT names the Workflow after the TinkerbellMachine.
    let workflow = match &tinkerbell {
        Some(_) => get(store, kinds, "workflows.tinkerbell.org", ns, &infra).await?,
        None => None,
    };
    let (state, action) = match &workflow {
        Some(w) => {
            let w = w.to_value();
            let action = match (
                text(&w, "/status/currentState/actionName"),
                text(&w, "/status/currentState/state"),
            ) {
                (a, _) if a.is_empty() => NONE.to_string(),
                (a, s) if s.is_empty() => a,
                (a, s) => format!("{a} ({s})"),
            };
            (text_or_none(&w, "/status/state"), action)
        }
        None => (NONE.to_string(), NONE.to_string()),
    };
    Ok(vec![
        machine.name().to_string(),
        role.to_string(),
        if tinkerbell.is_some() {
            infra
        } else {
            NONE.to_string()
        },
        hardware,
        text_or_none(&v, "/status/phase"),
        text_or_none(&v, "/status/nodeRef/name"),
        state,
        action,
    ])
}

/// The object `name` (in `namespace`, else the only namespace that has it) of the kind
/// `kind` names, its JSON form, and the start of its description: `Name:` and
/// `Namespace:` lines, values at column `width`.
pub(crate) async fn head(
    store: &dyn Store,
    kinds: &KindRegistry,
    kind: &str,
    (name, namespace): (&str, Option<&str>),
    width: usize,
) -> anyhow::Result<(DynamicObject, Value, String)> {
    let info = resolve_kind(kinds, kind)?;
    let obj = crate::targets::find_named(store, info, name, namespace).await?;
    let v = obj.to_value();
    let mut out = String::new();
    field(&mut out, width, "Name", obj.name())?;
    field(&mut out, width, "Namespace", obj.namespace())?;
    Ok((obj, v, out))
}

/// One `Label:   value` line, the value at column `width`.
pub(crate) fn field(
    out: &mut String,
    width: usize,
    label: &str,
    value: impl std::fmt::Display,
) -> std::fmt::Result {
    writeln!(out, "{:<width$}{value}", format!("{label}:"))
}

/// `v`'s `status.conditions` as an indented table (or `<none>`).
pub(crate) fn conditions(out: &mut String, v: &Value) -> anyhow::Result<()> {
    let conditions = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if conditions.is_empty() {
        writeln!(out, "  {NONE}")?;
        return Ok(());
    }
    let mut rows = vec![header(&["TYPE", "STATUS", "REASON", "MESSAGE"])];
    rows.extend(conditions.iter().map(|c| {
        ["/type", "/status", "/reason", "/message"]
            .iter()
            .map(|p| text(c, p))
            .collect()
    }));
    indented_table(out, &rows)
}

/// Every object of the kind `kind` names in `namespace`.
async fn objects_of(
    store: &dyn Store,
    kinds: &KindRegistry,
    kind: &str,
    namespace: &str,
) -> anyhow::Result<Vec<DynamicObject>> {
    let info = resolve_kind(kinds, kind)?;
    let params = ListParams {
        namespace: Some(namespace.to_string()),
        selector: None,
    };
    Ok(store.list(&info.type_key(), &params).await?.items)
}

/// `namespace/name` of the kind `kind` names; `None` when there is none.
pub(crate) async fn get(
    store: &dyn Store,
    kinds: &KindRegistry,
    kind: &str,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<DynamicObject>> {
    let info = resolve_kind(kinds, kind)?;
    match store.get(&info.type_key(), namespace, name).await {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

/// `rows` as a table indented by two spaces.
pub(crate) fn indented_table(out: &mut String, rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut table = Vec::new();
    write_table(&mut table, rows)?;
    for line in String::from_utf8_lossy(&table).lines() {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

fn text(v: &Value, pointer: &str) -> String {
    crate::output::text(v, pointer)
}

pub(crate) fn text_or_none(v: &Value, pointer: &str) -> String {
    let t = text(v, pointer);
    if t.is_empty() { NONE.to_string() } else { t }
}

/// A count that may be missing (none yet is 0).
fn count(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

fn flag(v: &Value, pointer: &str) -> bool {
    v.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}
