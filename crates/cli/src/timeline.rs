//! A machine's story: `describe hardware NAME` (interfaces, BMC and its conditions, the
//! machine's Workflows, then its Events oldest first), `describe workflow NAME` (state, why
//! it stopped, conditions, each action with its message, then its Events), and the
//! `--for KIND/NAME` filter of `get events`.
//!
//! Objects are read in their JSON form, as `describe cluster` reads them
//! (`crate::describe`), so an object written by something else still shows what it has.
//! Events are matched by their `involvedObject` (kind and name), not by the label the
//! recorder sets, so Events written by any Kubernetes client show too.

use std::fmt::Write as _;

use anyhow::Context as _;
use ironbell_model::corev1::Event;
use ironbell_model::{DynamicObject, KindInfo, KindRegistry, Resource, TypeKey};
use ironbell_ops::lookup::resolve_kind;
use ironbell_store::events::events_about;
use ironbell_store::{ListParams, Store};
use serde_json::Value;

use crate::describe::{NONE, conditions, field, get, head, header, indented_table, text_or_none};
use crate::output::{age_of, text};

/// The description of Hardware `name` (in `namespace`, else the only namespace with it).
pub async fn hardware(
    store: &dyn Store,
    kinds: &KindRegistry,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<String> {
    let (hw, v, mut out) = head(store, kinds, "hardware", (name, namespace), 14).await?;
    let ns = hw.namespace().to_string();
    field(&mut out, 14, "State", text_or_none(&v, "/status/state"))?;
    writeln!(out, "Interfaces:")?;
    let interfaces = array(&v, "/spec/interfaces");
    if interfaces.is_empty() {
        writeln!(out, "  {NONE}")?;
    } else {
        let mut rows = vec![header(&["MAC", "IP", "ALLOW PXE", "ALLOW WORKFLOW"])];
        rows.extend(interfaces.iter().map(|i| {
            vec![
                text_or_none(i, "/dhcp/mac"),
                text_or_none(i, "/dhcp/ip/address"),
                text_or_none(i, "/netboot/allowPXE"),
                text_or_none(i, "/netboot/allowWorkflow"),
            ]
        }));
        indented_table(&mut out, &rows)?;
    }

    let bmc_name = text(&v, "/spec/bmcRef/name");
    let bmc = match bmc_name.as_str() {
        "" => None,
        bmc_name => get(store, kinds, "machines.bmc.tinkerbell.org", &ns, bmc_name).await?,
    };
    match &bmc {
        Some(m) => {
            let m = m.to_value();
            let at = text_or_none(&m, "/spec/connection/host");
            let power = text_or_none(&m, "/status/powerState");
            field(
                &mut out,
                14,
                "BMC",
                format_args!("Machine {bmc_name} at {at}, power {power}"),
            )?;
            writeln!(out, "Conditions:")?;
            conditions(&mut out, &m)?;
        }
        None if bmc_name.is_empty() => field(&mut out, 14, "BMC", NONE)?,
        None => field(
            &mut out,
            14,
            "BMC",
            format_args!("Machine {bmc_name} (not found)"),
        )?,
    }

    writeln!(out, "Workflows:")?;
    let workflows: Vec<DynamicObject> = store
        .list(
            &TypeKey::new("tinkerbell.org/v1alpha1", "Workflow"),
            &ListParams::namespace(&ns),
        )
        .await?
        .items
        .into_iter()
        .filter(|w| text(&w.to_value(), "/spec/hardwareRef") == hw.name())
        .collect();
    if workflows.is_empty() {
        writeln!(out, "  {NONE}")?;
    } else {
        let mut rows = vec![header(&["NAME", "TEMPLATE", "STATE", "CURRENT-ACTION"])];
        rows.extend(workflows.iter().map(|w| {
            let v = w.to_value();
            vec![
                w.name().to_string(),
                text_or_none(&v, "/spec/templateRef"),
                text_or_none(&v, "/status/state"),
                text_or_none(&v, "/status/currentState/actionName"),
            ]
        }));
        indented_table(&mut out, &rows)?;
    }

    // The machine's timeline: its Hardware's Events and its BMC's.
    let mut about = vec![("Hardware", hw.name())];
    if bmc.is_some() {
        about.push(("Machine", bmc_name.as_str()));
    }
    let events = events_about(store, &ns, &about).await?;
    write_events(&mut out, &events)?;
    Ok(out)
}

/// The description of Workflow `name` (in `namespace`, else the only namespace with it).
pub async fn workflow(
    store: &dyn Store,
    kinds: &KindRegistry,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<String> {
    const W: usize = 18;
    let kind = "workflows.tinkerbell.org";
    let (wf, v, mut out) = head(store, kinds, kind, (name, namespace), W).await?;
    let ns = wf.namespace().to_string();
    for (label, pointer) in [
        ("Template", "/spec/templateRef"),
        ("Hardware", "/spec/hardwareRef"),
        ("Agent", "/status/agentID"),
        ("State", "/status/state"),
    ] {
        field(&mut out, W, label, text_or_none(&v, pointer))?;
    }
    let action = text(&v, "/status/currentState/actionName");
    if !action.is_empty() {
        let state = text_or_none(&v, "/status/currentState/state");
        field(
            &mut out,
            W,
            "Current action",
            format_args!("{action} ({state})"),
        )?;
    }
    if let Some(reason) = ironbell_model::tinkerbell::failure_reason(&v) {
        field(&mut out, W, "Reason", reason)?;
    }
    writeln!(out, "Conditions:")?;
    conditions(&mut out, &v)?;
    writeln!(out, "Actions:")?;
    let mut rows = vec![header(&["TASK", "ACTION", "STATE", "DURATION", "MESSAGE"])];
    for task in array(&v, "/status/tasks") {
        for a in array(task, "/actions") {
            rows.push(vec![
                text(task, "/name"),
                text(a, "/name"),
                text_or_none(a, "/state"),
                text(a, "/executionDuration"),
                text(a, "/message"),
            ]);
        }
    }
    if rows.len() == 1 {
        writeln!(out, "  {NONE}")?;
    } else {
        indented_table(&mut out, &rows)?;
    }
    let events = events_about(store, &ns, &[("Workflow", wf.name())]).await?;
    write_events(&mut out, &events)?;
    Ok(out)
}

/// The `Events:` section, as kubectl describe writes it: type, reason, age (`3m (x4 over
/// 10m)` for repeats), the component, the message.
fn write_events(out: &mut String, events: &[Event]) -> anyhow::Result<()> {
    writeln!(out, "Events:")?;
    if events.is_empty() {
        writeln!(out, "  {NONE}")?;
        return Ok(());
    }
    let mut rows = vec![header(&["TYPE", "REASON", "AGE", "FROM", "MESSAGE"])];
    rows.extend(events.iter().map(|e| {
        let last = ironbell_store::events::last_seen(e).map(age_of);
        let age = match (e.count.unwrap_or(1), last, e.first_timestamp.map(age_of)) {
            (n, Some(last), Some(first)) if n > 1 => format!("{last} (x{n} over {first})"),
            (_, Some(last), _) => last,
            _ => NONE.to_string(),
        };
        vec![
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            age,
            e.source
                .as_ref()
                .and_then(|s| s.component.clone())
                .unwrap_or_default(),
            e.message.clone().unwrap_or_default(),
        ]
    }));
    indented_table(out, &rows)
}

/// For `get events`: keeps only the Events about `for_object` (`KIND/NAME`) when given,
/// and puts every list of Events in time order (oldest first), as kubectl does.
pub fn select_events(
    kinds: &KindRegistry,
    found: &mut [(&KindInfo, Vec<DynamicObject>)],
    for_object: Option<&str>,
) -> anyhow::Result<()> {
    let is_event =
        |info: &KindInfo| info.api_version == Event::API_VERSION && info.kind == Event::KIND;
    let target = match for_object {
        Some(target) => {
            if !found.iter().any(|(info, _)| is_event(info)) {
                anyhow::bail!("--for applies to events only (ironbell get events --for KIND/NAME)");
            }
            let (kind, name) = target
                .split_once('/')
                .filter(|(k, n)| !k.is_empty() && !n.is_empty())
                .with_context(|| {
                    format!("--for {target:?}: expected KIND/NAME, e.g. hardware/node1")
                })?;
            Some((resolve_kind(kinds, kind)?.kind, name))
        }
        None => None,
    };
    for (info, objects) in found.iter_mut() {
        if !is_event(info) {
            continue;
        }
        if let Some((kind, name)) = target {
            objects.retain(|o| {
                let v = o.to_value();
                text(&v, "/involvedObject/kind") == kind && text(&v, "/involvedObject/name") == name
            });
        }
        objects.sort_by_cached_key(|o| {
            o.to_typed::<Event>()
                .ok()
                .map(|e| ironbell_store::events::time_key(&e))
        });
    }
    Ok(())
}

/// The array at `pointer` (empty when missing).
fn array<'v>(v: &'v Value, pointer: &str) -> &'v [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
