//! Finding kinds and objects by the names people type. Kinds come from a
//! [`KindRegistry`] the caller builds (the built-in kinds plus whatever its crates
//! register), so a kind registered outside the model resolves like a built-in one.

use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use ironbell_store::{ListParams, Store};

use crate::OpsError;

/// Every kind ironbell knows: the model's built-in kinds, then Cluster API's
/// (`clusters.cluster.x-k8s.io`, `machines.cluster.x-k8s.io`, `machinedeployments`,
/// `machinesets`, `kubeadmcontrolplanes`, `kubeadmconfigs`, `kubeadmconfigtemplates`), the
/// Tinkerbell provider's (`tinkerbellclusters`, `tinkerbellmachinetemplates`,
/// `tinkerbellmachines`), the Docker provider's (`dockerclusters`, `dockermachinetemplates`,
/// `dockermachines`) and the lifecycle's journal (`clusteroperations`). Where a short name
/// is shared, [`resolve_kind`] takes the built-in kind (`clusters` is EKS Anywhere's,
/// `machines` Rufio's, as kubectl orders groups) and `plural.group` names the other one.
pub fn kinds() -> KindRegistry {
    let mut registry = KindRegistry::builtin();
    // The only possible error is a kind registered twice, and these sets are disjoint
    // (a test checks it): nothing to report.
    let _ = ironbell_cluster_api::register_kinds(&mut registry);
    let _ = ironbell_provider_tinkerbell::register_kinds(&mut registry);
    let _ = ironbell_provider_docker::register_kinds(&mut registry);
    let _ = ironbell_lifecycle::journal::register_kinds(&mut registry);
    registry
}

/// The kind of `registry` that `name` names (kind, plural, alias or `plural.group`, any
/// case); [`OpsError::UnknownKind`] naming the known ones, and the closest when the name
/// looks like a typo of one ([`suggest_kind`]), when none does.
pub fn resolve_kind<'r>(registry: &'r KindRegistry, name: &str) -> Result<&'r KindInfo, OpsError> {
    registry.find(name).ok_or_else(|| OpsError::UnknownKind {
        name: name.to_string(),
        suggestion: suggest_kind(registry, name),
        known: registry.known(),
    })
}

/// The name of a kind of `registry` that `typed` is probably a misspelling of
/// ([`KindRegistry::closest`]): a short alias as it is (`hw`), anything else as the kind's
/// plural (`hardware`, `workflows`).
pub fn suggest_kind(registry: &KindRegistry, typed: &str) -> Option<String> {
    registry.closest(typed).map(|(info, name)| {
        if name.len() <= 3 {
            name
        } else {
            info.plural.to_string()
        }
    })
}

/// Where to look for an object named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespaces<'a> {
    /// In this namespace only (`-n NS`).
    Only(&'a str),
    /// In this namespace (the current one), else in the only namespace that has it.
    Prefer(&'a str),
    /// In the only namespace that has it (`-A`).
    Any,
}

/// One object by name, looked for where `namespaces` says (see [`find_one`]).
pub async fn find_in(
    store: &dyn Store,
    info: &KindInfo,
    name: &str,
    namespaces: Namespaces<'_>,
) -> Result<DynamicObject, OpsError> {
    match namespaces {
        Namespaces::Only(ns) => find_one(store, info, name, Some(ns)).await,
        Namespaces::Any => find_one(store, info, name, None).await,
        Namespaces::Prefer(ns) => match store.get(&info.type_key(), ns, name).await {
            Ok(obj) => Ok(obj),
            Err(e) if e.is_not_found() => find_one(store, info, name, None).await,
            Err(e) => Err(e.into()),
        },
    }
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

#[cfg(test)]
mod tests {
    use super::{kinds, resolve_kind, suggest_kind};

    #[test]
    fn a_misspelled_kind_is_told_the_closest_one() {
        let registry = kinds();
        for (typed, expected) in [
            ("hardwre", "hardware"),
            ("Hardwares", "hardware"),
            ("workflw", "workflows"),
            ("wrokflows", "workflows"),
            ("secert", "secrets"),
            ("tempaltes", "templates"),
            ("hx", "hw"),
            ("machinedeployment", "machinedeployments"),
        ] {
            assert_eq!(
                suggest_kind(&registry, typed).as_deref(),
                Some(expected),
                "{typed}"
            );
        }
        for unrelated in ["gizmos", "zzzz", "kubernetes"] {
            assert_eq!(suggest_kind(&registry, unrelated), None, "{unrelated}");
        }
        let err = resolve_kind(&registry, "hardwre")
            .expect_err("unknown")
            .to_string();
        assert!(
            err.starts_with("unknown kind \"hardwre\" (did you mean \"hardware\"?); known kinds:"),
            "{err}"
        );
    }
}
