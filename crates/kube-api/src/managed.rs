//! Field managers: who set which field, for server-side apply (`kubectl apply
//! --server-side --field-manager=NAME`) and its conflicts.
//!
//! Each object keeps Kubernetes' `metadata.managedFields` entries (manager, operation
//! `Apply` or `Update`, `apiVersion`, time, `fieldsV1`). The stores keep no such field, so
//! the entries are kept as JSON in the annotation [`ANNOTATION`] and shown as
//! `metadata.managedFields` by the API (as kubectl keeps its client-side apply state in an
//! annotation). A client cannot set that annotation: it is taken out of every body.
//!
//! The rules are Kubernetes' for the fields this models:
//!
//! - An **apply** by manager M of a set of fields: a field M sets that another manager owns
//!   with a different value is a **conflict**: 409 `Conflict`, every such field listed with
//!   its owner, nothing written. With `force=true` (`--force-conflicts`) M takes them over.
//!   Fields M applied before and leaves out now are removed from the object, unless another
//!   manager owns them too. M then owns exactly what it applied.
//! - Any other write (update, patch, `kubectl edit`, client-side apply) by a manager
//!   (`fieldManager`, else the client's user agent up to its `/`) to an object that has
//!   entries takes the fields it changed, from whoever owned them: it never conflicts.
//!
//! Unlike Kubernetes, an object no server-side apply has touched has no entries (a create
//! or an update records none): objects written only by ironbell itself, `kubectl create`
//! or client-side apply carry no annotation, so that ironbell's idempotent re-runs (an
//! import after a `kubectl apply`) find them unchanged. The first apply to such an object
//! takes the fields it sets without conflict.
//!
//! What it does not model (documented in the README): lists are atomic (one field, as
//! `x-kubernetes-list-type: atomic`; Kubernetes merges lists of maps by key), and
//! `metadata` fields other than labels and annotations are not managed. Written by hand:
//! no Rust crate implements Kubernetes' structured-merge-diff.

use std::collections::{BTreeMap, BTreeSet};

use ironbell_model::DynamicObject;
use serde_json::{Map, Value, json};

/// The annotation the entries are kept in.
pub const ANNOTATION: &str = "ironbell.dev/managed-fields";

/// A field: the keys from the object's root (`["spec", "interfaces"]`).
pub type Field = Vec<String>;

/// `.spec.interfaces`, as Kubernetes writes a field in a conflict.
pub fn dotted(field: &Field) -> String {
    field.iter().map(|k| format!(".{k}")).collect()
}

/// One field another manager owns with a different value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner.
    pub manager: String,
    /// The field.
    pub field: Field,
}

/// The managed-fields entries of one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Managers {
    entries: Vec<Value>,
}

impl Managers {
    /// The entries kept in `obj` (none when the annotation is missing or does not read).
    pub fn of(obj: &DynamicObject) -> Self {
        let entries = obj
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION))
            .and_then(|text| serde_json::from_str::<Vec<Value>>(text).ok())
            .unwrap_or_default();
        Self { entries }
    }

    /// Keeps the entries in `obj`'s annotation (removed when there are none).
    pub fn store(&self, obj: &mut DynamicObject) {
        let annotations = obj.metadata.annotations.get_or_insert_with(BTreeMap::new);
        if self.entries.is_empty() {
            annotations.remove(ANNOTATION);
        } else {
            annotations.insert(
                ANNOTATION.to_string(),
                Value::from(self.entries.clone()).to_string(),
            );
        }
        if annotations.is_empty() {
            obj.metadata.annotations = None;
        }
    }

    fn owned(&self) -> Vec<(String, String, BTreeSet<Field>)> {
        self.entries
            .iter()
            .map(|e| {
                let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
                let mut fields = BTreeSet::new();
                if let Some(f) = e.get("fieldsV1") {
                    read_fields(f, &mut Vec::new(), &mut fields);
                }
                (
                    text("manager").to_string(),
                    text("operation").to_string(),
                    fields,
                )
            })
            .collect()
    }

    fn set(&mut self, owned: Vec<(String, String, BTreeSet<Field>)>, api_version: &str, now: &str) {
        let old: BTreeMap<(String, String), Value> = self
            .entries
            .drain(..)
            .map(|e| {
                let key = |k: &str| {
                    e.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                ((key("manager"), key("operation")), e)
            })
            .collect();
        for (manager, operation, fields) in owned.into_iter().filter(|(_, _, f)| !f.is_empty()) {
            let mut entry = json!({
                "manager": manager,
                "operation": operation,
                "apiVersion": api_version,
                "time": now,
                "fieldsType": "FieldsV1",
                "fieldsV1": write_fields(&fields),
            });
            if let Some(before) = old.get(&(manager.clone(), operation.clone()))
                && before.get("fieldsV1") == entry.get("fieldsV1")
            {
                entry = before.clone();
            }
            self.entries.push(entry);
        }
    }

    /// An apply of `applied` by `manager` to `current` (`None`: a create). On success, the
    /// fields to remove from the object (those `manager` applied before and no longer does,
    /// owned by nobody else); the entries are updated. With conflicts and no `force`,
    /// nothing changes.
    pub fn apply(
        &mut self,
        manager: &str,
        api_version: &str,
        now: &str,
        applied: &Value,
        current: Option<&Value>,
        force: bool,
    ) -> Result<Vec<Field>, Vec<Conflict>> {
        let mut wanted = BTreeSet::new();
        leaves(applied, &mut Vec::new(), &mut wanted);
        let mut owned = self.owned();
        let mut conflicts = Vec::new();
        for (other, _, fields) in owned
            .iter()
            .filter(|(m, op, _)| !(m == manager && op == "Apply"))
        {
            for field in fields.intersection(&wanted) {
                let (mine, theirs) = (at(applied, field), current.and_then(|c| at(c, field)));
                if mine != theirs {
                    conflicts.push(Conflict {
                        manager: other.clone(),
                        field: field.clone(),
                    });
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }
        let before = owned
            .iter()
            .find(|(m, op, _)| m == manager && op == "Apply")
            .map(|(_, _, f)| f.clone())
            .unwrap_or_default();
        for (m, op, fields) in &mut owned {
            if m == manager && op == "Apply" {
                continue;
            }
            if force {
                fields.retain(|f| !wanted.contains(f));
            }
        }
        let removed: Vec<Field> = before
            .difference(&wanted)
            .filter(|f| {
                !owned
                    .iter()
                    .any(|(m, op, fields)| !(m == manager && op == "Apply") && fields.contains(*f))
            })
            .cloned()
            .collect();
        owned.retain(|(m, op, _)| !(m == manager && op == "Apply"));
        owned.push((manager.to_string(), "Apply".into(), wanted));
        self.set(owned, api_version, now);
        Ok(removed)
    }

    /// Any other write by `manager`, from `old` (`None`: a create) to `new`: `manager`
    /// takes every field whose value it changed.
    pub fn update(
        &mut self,
        manager: &str,
        api_version: &str,
        now: &str,
        old: Option<&Value>,
        new: &Value,
    ) {
        let mut fields = BTreeSet::new();
        leaves(new, &mut Vec::new(), &mut fields);
        let changed: BTreeSet<Field> = fields
            .into_iter()
            .filter(|f| old.and_then(|o| at(o, f)) != at(new, f))
            .collect();
        if changed.is_empty() {
            return;
        }
        let mut owned = self.owned();
        for (_, _, fields) in &mut owned {
            fields.retain(|f| !changed.contains(f));
        }
        match owned
            .iter_mut()
            .find(|(m, op, _)| m == manager && op == "Update")
        {
            Some((_, _, fields)) => fields.extend(changed),
            None => owned.push((manager.to_string(), "Update".into(), changed)),
        }
        self.set(owned, api_version, now);
    }
}

/// The fields a body sets: every leaf (a scalar, a list, an empty map) outside `apiVersion`,
/// `kind` and `status`, and in `metadata` only labels and annotations (not
/// [`ANNOTATION`]).
fn leaves(v: &Value, path: &mut Field, out: &mut BTreeSet<Field>) {
    match v {
        Value::Object(map) if !map.is_empty() || path.is_empty() => {
            for (k, child) in map {
                let skip = match path.as_slice() {
                    [] => matches!(k.as_str(), "apiVersion" | "kind" | "status"),
                    [m] if m == "metadata" => !matches!(k.as_str(), "labels" | "annotations"),
                    [m, a] if m == "metadata" && a == "annotations" => k == ANNOTATION,
                    _ => false,
                };
                if skip {
                    continue;
                }
                path.push(k.clone());
                leaves(child, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at `field`.
fn at<'v>(v: &'v Value, field: &Field) -> Option<&'v Value> {
    field.iter().try_fold(v, |v, k| v.get(k))
}

/// Removes `field` from `v`, and the maps it leaves empty.
pub fn remove(v: &mut Value, field: &Field) {
    let Some((last, parents)) = field.split_last() else {
        return;
    };
    if let Some(parent) = parents.iter().try_fold(&mut *v, |v, k| v.get_mut(k))
        && let Some(map) = parent.as_object_mut()
    {
        map.remove(last);
        if map.is_empty() && !parents.is_empty() {
            remove(v, &parents.to_vec());
        }
    }
}

/// Kubernetes' `fieldsV1`: `{"f:spec": {"f:x": {}}}`.
fn write_fields(fields: &BTreeSet<Field>) -> Value {
    let mut root = Map::new();
    for field in fields {
        let mut node = &mut root;
        for key in field {
            let Some(next) = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
            else {
                break;
            };
            node = next;
        }
    }
    Value::Object(root)
}

fn read_fields(v: &Value, path: &mut Field, out: &mut BTreeSet<Field>) {
    let Some(map) = v.as_object() else { return };
    let children: Vec<(&String, &Value)> =
        map.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if (children.is_empty() || map.contains_key(".")) && !path.is_empty() {
        out.insert(path.clone());
    }
    for (k, child) in children {
        path.push(k[2..].to_string());
        read_fields(child, path, out);
        path.pop();
    }
}

/// Shows the entries kept in `value`'s annotation as `metadata.managedFields`.
pub fn present(value: &mut Value) {
    let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(text) = annotations.remove(ANNOTATION) else {
        return;
    };
    if annotations.is_empty() {
        meta.remove("annotations");
    }
    if let Some(entries) = text
        .as_str()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        meta.insert("managedFields".into(), entries);
    }
}

/// Takes [`ANNOTATION`] out of a client's body.
pub fn strip(value: &mut Value) {
    if let Some(annotations) = value
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(ANNOTATION);
    }
}

/// Whether `obj` has entries to show.
pub fn has_entries(obj: &DynamicObject) -> bool {
    obj.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-05T12:00:00Z";
    const V: &str = "tinkerbell.org/v1alpha1";

    fn f(s: &str) -> Field {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn two_appliers_conflict_and_force_takes_over() {
        let mut m = Managers::default();
        let a = json!({"spec": {"x": 1, "y": [1, 2]}, "metadata": {"labels": {"k": "v"}}});
        assert_eq!(m.apply("a", V, NOW, &a, None, false), Ok(vec![]));
        // b sets y differently: a conflict on .spec.y only (x is not b's, z is new).
        let b = json!({"spec": {"y": [3], "z": true}});
        let err = m
            .apply("b", V, NOW, &b, Some(&a), false)
            .expect_err("b conflicts");
        assert_eq!(
            err,
            vec![Conflict {
                manager: "a".into(),
                field: f("spec.y")
            }]
        );
        // The same value is no conflict: both own it.
        let same = json!({"spec": {"x": 1}});
        assert_eq!(m.apply("c", V, NOW, &same, Some(&a), false), Ok(vec![]));
        assert_eq!(m.apply("b", V, NOW, &b, Some(&a), true), Ok(vec![]));
        let owned = m.owned();
        let of = |name: &str| {
            owned
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, f)| f.clone())
                .unwrap_or_default()
        };
        assert!(!of("a").contains(&f("spec.y")) && of("a").contains(&f("spec.x")));
        assert!(of("b").contains(&f("spec.y")));
        // a drops its label: removed (nobody else owns it); drops x: kept (c owns it).
        let a2 = json!({"spec": {}});
        let removed = m.apply("a", V, NOW, &a2, Some(&a), false).expect("apply");
        assert_eq!(removed, vec![f("metadata.labels.k")]);
    }

    #[test]
    fn updates_take_what_they_change_and_fields_round_trip() {
        let mut m = Managers::default();
        let a = json!({"spec": {"x": 1, "y": 2}});
        m.apply("a", V, NOW, &a, None, false).expect("apply");
        let edited = json!({"spec": {"x": 5, "y": 2}});
        m.update("kubectl-edit", V, NOW, Some(&a), &edited);
        let err = m
            .apply("a", V, NOW, &a, Some(&edited), false)
            .expect_err("edited");
        assert_eq!(err[0].manager, "kubectl-edit");
        assert_eq!(dotted(&err[0].field), ".spec.x");
        let mut obj = DynamicObject::new(
            ironbell_model::TypeKey::new(V, "Hardware"),
            ironbell_model::ObjectMeta::named("default", "h"),
        );
        m.store(&mut obj);
        assert_eq!(Managers::of(&obj), m);
        let mut shown = obj.to_value();
        present(&mut shown);
        assert_eq!(shown["metadata"]["managedFields"][0]["manager"], "a");
        assert!(shown["metadata"].get("annotations").is_none());
        let mut v = json!({"spec": {"a": {"b": 1}, "c": 2}});
        remove(&mut v, &f("spec.a.b"));
        assert_eq!(v, json!({"spec": {"c": 2}}));
    }
}
