//! [`KindRegistry`]: the open set of kinds a program knows, and [`KindInfo`], what the
//! command line and the store need to know about a kind without its type.
//!
//! A registry is a plain value, not a global: [`KindRegistry::builtin`] holds the model's
//! kinds (Tinkerbell, Rufio, EKS Anywhere, `v1` Secret and Node), and any crate adds its own with
//! [`KindRegistry::register`] (the Cluster API and provider kinds are next), without editing
//! a central list. Each registered kind keeps two function pointers, instantiated for its
//! type at registration: one that reads a YAML document into the type (so a document of
//! that kind is checked field by field, with the path of a bad field) and returns its
//! canonical dynamic form, and one that does the same for a [`DynamicObject`]. Parsing
//! ([`KindRegistry::parse_documents`]), `ironbell-ops`' kind lookup and the CLI's `apply`
//! and `get` go through a registry, so an unregistered kind is an error naming the known
//! ones, and a registered one works everywhere.
//!
//! ## Why the typed [`Object`](crate::Object) enum stays
//!
//! Code that works on *specific* built-in kinds (inventory translation, the template and
//! workflow tests, the lab) matches on [`Object`](crate::Object) variants, and a match is
//! what it should be: exhaustive and typed. That enum is now only the typed view of the
//! built-in kinds ([`crate::parse_documents`]); everything *generic* (parse any registered
//! kind, resolve a kind by the name a user typed, list every kind) uses the registry.
//!
//! ## Names that two kinds share
//!
//! Two kinds may share a short name (EKS Anywhere's `Cluster` and Cluster API's `Cluster`
//! are both `clusters`). [`KindRegistry::find`] then returns the one registered first, as
//! kubectl prefers one group; `plural.group` (`clusters.cluster.x-k8s.io`) always names
//! exactly one. Registering the same `apiVersion` and `kind` twice is an error.

use serde_yaml_ng::Value as Yaml;

use crate::{ConvertError, DynamicObject, Resource, TypeKey};

/// What the command line and the store need to know about a kind without its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// `apiVersion`: `group/version`, or `version` for the core group.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Lower-case plural.
    pub plural: &'static str,
    /// Other accepted names (singular, short names).
    pub aliases: &'static [&'static str],
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
}

impl KindInfo {
    /// The information of a typed kind, from its [`Resource`] constants.
    pub const fn of<K: Resource>() -> Self {
        Self {
            api_version: K::API_VERSION,
            kind: K::KIND,
            plural: K::PLURAL,
            aliases: K::ALIASES,
            namespaced: K::NAMESPACED,
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &'static str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The API version within the group (`v1alpha1`).
    pub fn version(&self) -> &'static str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version, |(_, v)| v)
    }

    /// The store key of this kind.
    pub fn type_key(&self) -> TypeKey {
        TypeKey::new(self.api_version, self.kind)
    }

    /// Whether `name` (case-insensitive) names this kind: its kind, plural, an alias, or
    /// `plural.group`.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let group = self.group();
        name == self.kind.to_ascii_lowercase()
            || name == self.plural
            || self.aliases.contains(&name.as_str())
            || (!group.is_empty() && name == format!("{}.{group}", self.plural))
    }
}

/// A YAML document that did not read as its kind: the path of the bad field and why.
pub(crate) type FieldError = (String, String);

#[derive(Clone, Copy, Debug)]
struct Entry {
    info: KindInfo,
    from_yaml: fn(Yaml) -> Result<DynamicObject, FieldError>,
    normalize: fn(&DynamicObject) -> Result<DynamicObject, ConvertError>,
}

fn from_yaml<K: Resource>(value: Yaml) -> Result<DynamicObject, FieldError> {
    let typed = crate::document::typed::<K>(value)?;
    DynamicObject::from_typed(&typed).map_err(|e| (e.path, e.message))
}

fn normalize<K: Resource>(obj: &DynamicObject) -> Result<DynamicObject, ConvertError> {
    DynamicObject::from_typed(&obj.to_typed::<K>()?)
}

/// A registry could not take a kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The `apiVersion` and `kind` are registered already.
    #[error("kind {key} is already registered")]
    Duplicate {
        /// The kind.
        key: TypeKey,
    },
}

/// An object could not be checked against its registered kind.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// No kind with that `apiVersion` and `kind` is registered.
    #[error(
        "{kind} {name:?}: unknown kind {kind} (apiVersion {api_version}); known kinds: {known}"
    )]
    UnknownKind {
        /// `apiVersion` of the object.
        api_version: String,
        /// `kind` of the object.
        kind: String,
        /// Its name.
        name: String,
        /// The registered kinds, comma-separated.
        known: String,
    },
    /// A field does not read as the kind's type.
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

/// The kinds a program knows (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct KindRegistry {
    entries: Vec<Entry>,
}

impl KindRegistry {
    /// A registry with no kinds.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A registry with the model's built-in kinds.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        crate::document::register_builtin(&mut registry);
        // Node is not one of the typed `Object` variants (no code matches on it), but the
        // CLI and the store know it like any built-in kind.
        let _ = registry.register::<crate::corev1::Node>();
        // Events likewise: services write them, the CLI shows them.
        let _ = registry.register::<crate::corev1::Event>();
        // ConfigMaps: settings a plane reads (its DHCP standby switch); they move with a
        // cluster when labelled for it.
        let _ = registry.register::<crate::corev1::ConfigMap>();
        registry
    }

    /// Adds kind `K`, described by its [`Resource`] constants ([`KindInfo::of`]).
    pub fn register<K: Resource>(&mut self) -> Result<&mut Self, RegistryError> {
        let info = KindInfo::of::<K>();
        if self.get(&info.type_key()).is_some() {
            return Err(RegistryError::Duplicate {
                key: info.type_key(),
            });
        }
        self.entries.push(Entry {
            info,
            from_yaml: from_yaml::<K>,
            normalize: normalize::<K>,
        });
        Ok(self)
    }

    /// Every registered kind, in registration order.
    pub fn kinds(&self) -> impl Iterator<Item = &KindInfo> {
        self.entries.iter().map(|e| &e.info)
    }

    /// The kind a user's `name` names (see [`KindInfo::matches`]); the first registered
    /// when several share it.
    pub fn find(&self, name: &str) -> Option<&KindInfo> {
        self.kinds().find(|k| k.matches(name))
    }

    /// The kind with this `apiVersion` and `kind`.
    pub fn get(&self, key: &TypeKey) -> Option<&KindInfo> {
        self.entry(&key.api_version, &key.kind).map(|e| &e.info)
    }

    fn entry(&self, api_version: &str, kind: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.info.api_version == api_version && e.info.kind == kind)
    }

    /// The kind `typed` is probably a misspelling of (any case), with the name of it that
    /// `typed` is closest to: the kind, plural, alias or `plural.group` at the smallest edit
    /// distance (Damerau-Levenshtein, a swap of two letters counting as one edit), if that
    /// distance is at most a third of `typed`'s length (at least 1; none for a name of one
    /// letter). For "did you mean" hints.
    pub fn closest(&self, typed: &str) -> Option<(&KindInfo, String)> {
        let typed = typed.to_ascii_lowercase();
        let mut best: Option<(usize, &KindInfo, String)> = None;
        for info in self.kinds() {
            let names = [
                info.plural.to_string(),
                info.kind.to_ascii_lowercase(),
                format!("{}.{}", info.plural, info.group()),
            ]
            .into_iter()
            .chain(info.aliases.iter().map(|a| a.to_string()));
            for name in names {
                let distance = strsim::damerau_levenshtein(&typed, &name);
                if best.as_ref().is_none_or(|(d, _, _)| distance < *d) {
                    best = Some((distance, info, name));
                }
            }
        }
        // A name of one letter is too short to tell a typo from anything else.
        let len = typed.chars().count();
        let limit = if len < 2 { 0 } else { (len / 3).max(1) };
        best.filter(|(d, _, _)| *d <= limit)
            .map(|(_, info, name)| (info, name))
    }

    /// The plurals of every kind, comma-separated, for errors.
    pub fn known(&self) -> String {
        self.kinds()
            .map(|k| k.plural)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks `obj` against its registered type and returns its canonical form (what the
    /// type serializes to: defaults filled, fields in order).
    pub fn validate(&self, obj: &DynamicObject) -> Result<DynamicObject, ValidateError> {
        let Some(entry) = self.entry(&obj.types.api_version, &obj.types.kind) else {
            return Err(ValidateError::UnknownKind {
                api_version: obj.types.api_version.clone(),
                kind: obj.types.kind.clone(),
                name: obj.name().to_string(),
                known: self.known(),
            });
        };
        Ok((entry.normalize)(obj)?)
    }

    /// Reads one YAML document of a registered kind; `None` when the kind is not
    /// registered.
    pub(crate) fn read_yaml(
        &self,
        api_version: &str,
        kind: &str,
        value: Yaml,
    ) -> Option<Result<DynamicObject, FieldError>> {
        self.entry(api_version, kind).map(|e| (e.from_yaml)(value))
    }

    /// Parses a multi-document YAML (or JSON) stream of registered kinds into their
    /// canonical dynamic forms: every check of [`crate::parse_documents`] (limits, names,
    /// labels, each field against the kind's type), for any registered kind.
    pub fn parse_documents(
        &self,
        text: &str,
    ) -> Result<Vec<DynamicObject>, crate::document::ParseErrors> {
        crate::document::walk(text, self, |api, kind, value| {
            self.read_yaml(api, kind, value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_kinds_and_names() {
        let r = KindRegistry::builtin();
        let hw = r
            .find("HW")
            .or_else(|| r.find("hardware"))
            .expect("hardware");
        assert_eq!(hw.kind, "Hardware");
        assert_eq!(hw.group(), "tinkerbell.org");
        assert_eq!(hw.version(), "v1alpha1");
        assert!(hw.namespaced);
        let secret = r.find("secrets").expect("secrets");
        assert_eq!((secret.group(), secret.version()), ("", "v1"));
        assert!(r.find("gadgets").is_none());
        assert!(r.known().contains("hardware"));
    }

    #[test]
    fn duplicate_is_refused() {
        let mut r = KindRegistry::builtin();
        let err = r
            .register::<crate::tinkerbell::Hardware>()
            .expect_err("twice");
        assert!(err.to_string().contains("tinkerbell.org/v1alpha1/Hardware"));
    }

    #[test]
    fn validate_checks_a_dynamic_object_against_its_type() {
        use crate::{ObjectMeta, TypeKey};
        let r = KindRegistry::builtin();
        let mut hw = DynamicObject::new(
            TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
            ObjectMeta::named("default", "wk01"),
        );
        hw.set_field("spec", &serde_json::json!({})).expect("field");
        let canonical = r.validate(&hw).expect("a valid Hardware");
        assert_eq!(canonical.name(), "wk01");
        hw.set_field("spec", &serde_json::json!({ "interfaces": "no" }))
            .expect("field");
        let err = r.validate(&hw).expect_err("interfaces is a list");
        assert!(err.to_string().contains("spec.interfaces"), "{err}");
        let gadget = DynamicObject::new(
            TypeKey::new("example.com/v1", "Gadget"),
            ObjectMeta::named("default", "g"),
        );
        let err = r.validate(&gadget).expect_err("unknown").to_string();
        assert!(
            err.contains("unknown kind Gadget") && err.contains("hardware"),
            "{err}"
        );
    }

    #[test]
    fn the_closest_kind_to_a_typo_and_none_for_a_stranger() {
        let r = KindRegistry::builtin();
        let closest = |typed: &str| r.closest(typed).map(|(k, name)| (k.kind, name));
        assert_eq!(closest("Hardwre"), Some(("Hardware", "hardware".into())));
        assert_eq!(closest("wrokflows"), Some(("Workflow", "workflows".into())));
        assert_eq!(closest("tempalte"), Some(("Template", "template".into())));
        assert_eq!(closest("Gadget"), None);
        assert_eq!(closest(""), None);
        assert_eq!(closest("x"), None);
    }
}
