//! Finding kinds and objects by the names people type. Kinds come from a
//! [`KindRegistry`] the caller builds (the built-in kinds plus whatever its crates
//! register), so a kind registered outside the model resolves like a built-in one.

use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use ironbell_store::{ListParams, Store};

use crate::OpsError;

/// The kind of `registry` that `name` names (kind, plural, alias or `plural.group`, any
/// case); [`OpsError::UnknownKind`] naming the known ones when none does.
pub fn resolve_kind<'r>(registry: &'r KindRegistry, name: &str) -> Result<&'r KindInfo, OpsError> {
    registry.find(name).ok_or_else(|| OpsError::UnknownKind {
        name: name.to_string(),
        known: registry.known(),
    })
}

/// One object by name: in `namespace` if given, else in the only namespace that has it
/// (several is [`OpsError::Ambiguous`], none [`OpsError::NotFound`]).
pub async fn find_one(
    store: &dyn Store,
    info: &KindInfo,
    name: &str,
    namespace: Option<&str>,
) -> Result<DynamicObject, OpsError> {
    if let Some(ns) = namespace {
        return Ok(store.get(&info.type_key(), ns, name).await?);
    }
    let all = store.list(&info.type_key(), &ListParams::default()).await?;
    let mut matches: Vec<DynamicObject> =
        all.items.into_iter().filter(|o| o.name() == name).collect();
    match matches.len() {
        0 => Err(OpsError::NotFound {
            kind: info.kind.to_string(),
            name: name.to_string(),
        }),
        1 => Ok(matches.remove(0)),
        _ => Err(OpsError::Ambiguous {
            kind: info.kind.to_string(),
            name: name.to_string(),
            namespaces: matches.iter().map(|o| o.namespace().to_string()).collect(),
        }),
    }
}
