//! What `get` and `delete` name on their command line, read as kubectl reads it:
//! `KIND` (several as `KIND1,KIND2`), `KIND NAME...`, or `KIND/NAME...`; and the
//! namespaces they look in: `-n NS`, `-A`, else the current namespace
//! ([`crate::CURRENT_NAMESPACE_ENV`], else `eksa-system`).

use anyhow::Context;
use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use ironbell_ops::lookup::Namespaces;
use ironbell_store::{ListParams, Store};

/// The current namespace: `$IRONBELL_NAMESPACE`, else [`ironbell_ops::DEFAULT_NAMESPACE`].
pub fn current_namespace() -> String {
    std::env::var(crate::CURRENT_NAMESPACE_ENV)
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| ironbell_ops::DEFAULT_NAMESPACE.to_string())
}

/// The namespaces a command looks in: those of `-n`, `-A` or the current namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `-n NS`: that namespace only.
    Given(String),
    /// Neither: the current namespace (a name not found there is looked for everywhere).
    Current(String),
    /// `-A`: every namespace.
    All,
}

impl Scope {
    /// The scope of `-n` and `-A`.
    pub fn of(namespace: Option<String>, all: bool) -> Self {
        match (namespace, all) {
            (_, true) => Self::All,
            (Some(ns), false) => Self::Given(ns),
            (None, false) => Self::Current(current_namespace()),
        }
    }

    /// The namespace a list is restricted to (`None`: every namespace).
    pub fn list_namespace(&self) -> Option<String> {
        match self {
            Self::Given(ns) | Self::Current(ns) => Some(ns.clone()),
            Self::All => None,
        }
    }

    /// Where a named object is looked for.
    pub fn lookup(&self) -> Namespaces<'_> {
        match self {
            Self::Given(ns) => Namespaces::Only(ns),
            Self::Current(ns) => Namespaces::Prefer(ns),
            Self::All => Namespaces::Any,
        }
    }
}

/// One object by name for the commands that take one (`describe`, `logs`, `bmc`): in
/// `namespace` if given, else in the current namespace, else in the only namespace that
/// has it, as `get` looks for names.
pub async fn find_named(
    store: &dyn Store,
    info: &KindInfo,
    name: &str,
    namespace: Option<&str>,
) -> Result<DynamicObject, ironbell_ops::OpsError> {
    let scope = Scope::of(namespace.map(str::to_string), false);
    ironbell_ops::lookup::find_in(store, info, name, scope.lookup()).await
}

/// One kind named on the command line (every kind the name matches: a short name two kinds
/// share names both) and the object names given with it (none: list).
#[derive(Debug)]
pub struct Target<'r> {
    /// The kinds.
    pub kinds: Vec<&'r KindInfo>,
    /// The names; empty for a list.
    pub names: Vec<String>,
}

/// Reads `args` (`KIND[,KIND...] [NAME...]` or `KIND/NAME...`) into targets, one per kind
/// in the order first named.
pub fn parse<'r>(registry: &'r KindRegistry, args: &[String]) -> anyhow::Result<Vec<Target<'r>>> {
    let Some((first, rest)) = args.split_first() else {
        anyhow::bail!("name a kind: KIND [NAME...] or KIND/NAME... (see `ironbell api-resources`)");
    };
    if !first.contains('/') {
        if let Some(slashed) = rest.iter().find(|a| a.contains('/')) {
            anyhow::bail!(
                "{slashed:?}: after a KIND, give plain names (or give every object as KIND/NAME)"
            );
        }
        let kinds: Vec<&str> = first.split(',').collect();
        if kinds.len() > 1 && !rest.is_empty() {
            anyhow::bail!(
                "names go with one kind: `{} NAME` or KIND/NAME...",
                kinds[0]
            );
        }
        return kinds
            .into_iter()
            .map(|kind| {
                Ok(Target {
                    kinds: kinds_named(registry, kind)?,
                    names: rest.to_vec(),
                })
            })
            .collect();
    }
    let mut targets: Vec<Target<'r>> = Vec::new();
    for arg in args {
        let (kind, name) = arg
            .split_once('/')
            .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
            .with_context(|| {
                format!("{arg:?}: expected KIND/NAME (e.g. hw/node1), or KIND NAME...")
            })?;
        let kinds = kinds_named(registry, kind)?;
        let same = |t: &&mut Target<'r>| {
            t.kinds.len() == kinds.len()
                && t.kinds
                    .iter()
                    .zip(&kinds)
                    .all(|(a, b)| std::ptr::eq(*a, *b))
        };
        match targets.iter_mut().find(same) {
            Some(target) => target.names.push(name.to_string()),
            None => targets.push(Target {
                kinds,
                names: vec![name.to_string()],
            }),
        }
    }
    Ok(targets)
}

/// Every kind `name` matches. A short name shared by several kinds (`clusters`: EKS
/// Anywhere's and Cluster API's; `machines`: Rufio's and Cluster API's) names each of them;
/// `plural.group` names one. None is an unknown-kind error with a suggestion.
pub fn kinds_named<'r>(
    registry: &'r KindRegistry,
    name: &str,
) -> anyhow::Result<Vec<&'r KindInfo>> {
    let all: Vec<&KindInfo> = registry.kinds().filter(|k| k.matches(name)).collect();
    if all.is_empty() {
        ironbell_ops::lookup::resolve_kind(registry, name)?;
    }
    Ok(all)
}

/// The objects `targets` name in `scope` (`params` carries the label selector for lists),
/// grouped by kind in the order named.
pub async fn find<'r>(
    store: &dyn Store,
    targets: &[Target<'r>],
    scope: &Scope,
    params: &ListParams,
) -> anyhow::Result<Vec<(&'r KindInfo, Vec<DynamicObject>)>> {
    let mut found: Vec<(&'r KindInfo, Vec<DynamicObject>)> = Vec::new();
    let mut add = |info: &'r KindInfo, objects: Vec<DynamicObject>| match found
        .iter_mut()
        .find(|(k, _)| std::ptr::eq(*k, info))
    {
        Some((_, existing)) => existing.extend(objects),
        None => found.push((info, objects)),
    };
    for target in targets {
        if target.names.is_empty() {
            for info in &target.kinds {
                add(info, store.list(&info.type_key(), params).await?.items);
            }
            continue;
        }
        for name in &target.names {
            let (info, obj) = get_one(store, &target.kinds, name, scope.lookup()).await?;
            add(info, vec![obj]);
        }
    }
    Ok(found)
}

/// The object `name` of one of `infos`: found in exactly one of them (else not found, or
/// ambiguous naming the kinds to choose from by group).
async fn get_one<'r>(
    store: &dyn Store,
    infos: &[&'r KindInfo],
    name: &str,
    namespaces: Namespaces<'_>,
) -> anyhow::Result<(&'r KindInfo, DynamicObject)> {
    let mut found = Vec::new();
    let mut first_error = None;
    for info in infos {
        match ironbell_ops::lookup::find_in(store, info, name, namespaces).await {
            Ok(obj) => found.push((*info, obj)),
            Err(e) if infos.len() > 1 && is_not_found(&e) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(first_error.map_or_else(|| anyhow::anyhow!("{name} not found"), Into::into)),
        _ => anyhow::bail!(
            "{name} is an object of several kinds: name one of {}",
            found
                .iter()
                .map(|(k, _)| format!("{}.{}", k.plural, k.group()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn is_not_found(e: &ironbell_ops::OpsError) -> bool {
    match e {
        ironbell_ops::OpsError::NotFound { .. } => true,
        ironbell_ops::OpsError::Store(s) => s.is_not_found(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn read(args: &[&str]) -> anyhow::Result<Vec<(Vec<&'static str>, Vec<String>)>> {
        static KINDS: std::sync::LazyLock<ironbell_model::KindRegistry> =
            std::sync::LazyLock::new(ironbell_ops::lookup::kinds);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Ok(parse(&KINDS, &args)?
            .into_iter()
            .map(|t| (t.kinds.iter().map(|k| k.kind).collect(), t.names))
            .collect())
    }

    #[test]
    fn kind_and_names_or_kind_slash_name() {
        assert_eq!(read(&["hw"]).expect("list"), [(vec!["Hardware"], vec![])]);
        assert_eq!(
            read(&["hw", "a", "b"]).expect("names"),
            [(vec!["Hardware"], vec!["a".to_string(), "b".to_string()])]
        );
        assert_eq!(
            read(&["hw/a", "wf/b", "hardware/c"]).expect("slashes"),
            [
                (vec!["Hardware"], vec!["a".to_string(), "c".to_string()]),
                (vec!["Workflow"], vec!["b".to_string()])
            ]
        );
        assert_eq!(
            read(&["hw,wf"]).expect("two kinds"),
            [(vec!["Hardware"], vec![]), (vec!["Workflow"], vec![])]
        );
        // A short name two kinds share names both.
        assert_eq!(read(&["machines"]).expect("shared")[0].0.len(), 2);
    }

    #[test]
    fn mixed_or_malformed_forms_are_refused_naming_the_argument() {
        for (args, says) in [
            (&["hw", "wf/b"][..], "\"wf/b\": after a KIND"),
            (&["hw/a", "b"], "\"b\": expected KIND/NAME"),
            (&["hw/"], "\"hw/\": expected KIND/NAME"),
            (&["hw/a/b"], "\"hw/a/b\": expected KIND/NAME"),
            (&["hw,wf", "a"], "names go with one kind"),
            (&["hardwre/a"], "did you mean \"hardware\"?"),
            (&[], "name a kind"),
        ] {
            let err = read(args).expect_err("refused").to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
