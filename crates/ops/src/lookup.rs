//! Finding kinds and objects by the names people type.

use ironbell_model::{DynamicObject, KINDS, KindInfo, find_kind};
use ironbell_store::{ListParams, Store};

use crate::OpsError;

/// The kind `name` names (kind, plural, alias or `plural.group`, any case).
pub fn resolve_kind(name: &str) -> Result<&'static KindInfo, OpsError> {
    find_kind(name).ok_or_else(|| OpsError::UnknownKind {
        name: name.to_string(),
        known: KINDS
            .iter()
            .map(|k| k.plural)
            .collect::<Vec<_>>()
            .join(", "),
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
