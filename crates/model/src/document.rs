//! Multi-document YAML in and out, and [`Object`]: the typed view of the model's built-in
//! kinds. The open set of kinds, and the parse of any registered kind, is
//! [`KindRegistry`], whose docs say why both exist.
//!
//! Input may be a stream of `---`-separated documents, a document that is a YAML sequence of
//! objects (Tinkerbell's file backend writes that), or a `kind: List` with `items`. Every
//! document is checked; all errors are returned together, each naming the document, its kind
//! and name, and the path of the offending field. `metadata.name`, `metadata.namespace` and
//! the labels are checked first, as Kubernetes names ([`crate::names`]): a name with a
//! newline, an escape or an upper-case letter is an error naming the document and quoting
//! the name escaped.
//!
//! ## Limits
//!
//! An object whose JSON form is over [`MAX_OBJECT_BYTES`] (1.5 MiB, the request limit of
//! the etcd behind Kubernetes) is refused, by [`parse_documents`] here and by every store
//! backend. The whole input is bounded by [`MAX_INPUT_BYTES`], checked before anything is
//! parsed; [`read_input`] reads a file or standard input without ever holding more.
//!
//! ## Secrets in errors
//!
//! An error about a `Secret` names the field and what type was expected, never the value
//! found there: serde's `invalid type: string "hunter2", expected ...` becomes
//! `invalid type: string, expected ...`, and any other message about a value under `data`
//! or `stringData` is replaced (see [`redact_secret_message`]).

use std::fmt;
use std::io::Read;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as Yaml;

use crate::registry::FieldError;
use crate::{ConvertError, DynamicObject, KindInfo, KindRegistry, ObjectMeta, Resource};

macro_rules! kinds {
    ($($variant:ident => $ty:ty),* $(,)?) => {
        /// An object of any kind ironbell knows, typed.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant($ty),
            )*
        }

        /// Adds the built-in kinds to `registry`, in this order.
        pub(crate) fn register_builtin(registry: &mut KindRegistry) {
            $(
                // The built-in kinds are distinct, so none is refused as a duplicate.
                let _ = registry.register::<$ty>();
            )*
        }

        impl Object {
            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self { $(Self::$variant(o) => Resource::metadata(o),)* }
            }

            /// The object's metadata, mutable.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Self::$variant(o) => Resource::metadata_mut(o),)* }
            }

            /// What kind it is.
            pub fn kind_info(&self) -> KindInfo {
                match self { $(Self::$variant(_) => KindInfo::of::<$ty>(),)* }
            }

            /// The dynamic form, for the store.
            pub fn to_dynamic(&self) -> Result<DynamicObject, ConvertError> {
                match self { $(Self::$variant(o) => DynamicObject::from_typed(o),)* }
            }

            /// The typed form of a dynamic object; `Ok(None)` when the kind is unknown.
            pub fn from_dynamic(obj: &DynamicObject) -> Result<Option<Self>, ConvertError> {
                $(
                    if obj.types.api_version == <$ty as Resource>::API_VERSION
                        && obj.types.kind == <$ty as Resource>::KIND
                    {
                        return obj.to_typed::<$ty>().map(|o| Some(Self::$variant(o)));
                    }
                )*
                Ok(None)
            }

            fn from_yaml(api_version: &str, kind: &str, value: Yaml) -> Option<Result<Self, FieldError>> {
                $(
                    if api_version == <$ty as Resource>::API_VERSION && kind == <$ty as Resource>::KIND {
                        return Some(typed::<$ty>(value).map(Self::$variant));
                    }
                )*
                None
            }
        }

        impl Serialize for Object {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $(Self::$variant(o) => o.serialize(s),)* }
            }
        }
    };
}

kinds! {
    Hardware => crate::tinkerbell::Hardware,
    Template => crate::tinkerbell::Template,
    Workflow => crate::tinkerbell::Workflow,
    Machine => crate::bmc::Machine,
    Job => crate::bmc::Job,
    Task => crate::bmc::Task,
    Secret => crate::corev1::Secret,
    Cluster => crate::anywhere::Cluster,
    TinkerbellDatacenterConfig => crate::anywhere::TinkerbellDatacenterConfig,
    TinkerbellMachineConfig => crate::anywhere::TinkerbellMachineConfig,
    TinkerbellTemplateConfig => crate::anywhere::TinkerbellTemplateConfig,
    OidcConfig => crate::anywhere::OIDCConfig,
    AwsIamConfig => crate::anywhere::AWSIamConfig,
    DockerDatacenterConfig => crate::anywhere::DockerDatacenterConfig,
    VSphereDatacenterConfig => crate::anywhere::VSphereDatacenterConfig,
    VSphereMachineConfig => crate::anywhere::VSphereMachineConfig,
    CloudStackDatacenterConfig => crate::anywhere::CloudStackDatacenterConfig,
    CloudStackMachineConfig => crate::anywhere::CloudStackMachineConfig,
    NutanixDatacenterConfig => crate::anywhere::NutanixDatacenterConfig,
    NutanixMachineConfig => crate::anywhere::NutanixMachineConfig,
    SnowDatacenterConfig => crate::anywhere::SnowDatacenterConfig,
    SnowMachineConfig => crate::anywhere::SnowMachineConfig,
    SnowIpPool => crate::anywhere::SnowIPPool,
    GitOpsConfig => crate::anywhere::GitOpsConfig,
    FluxConfig => crate::anywhere::FluxConfig,
}

/// The largest object, as compact JSON, that ironbell accepts anywhere: 1.5 MiB, the
/// default `--max-request-bytes` of the etcd behind the Kubernetes API server.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// The largest input (file or standard input) [`parse_documents`] and [`read_input`]
/// accept: 64 MiB, room for thousands of objects.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn typed<K: Resource + DeserializeOwned>(value: Yaml) -> Result<K, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let message = if K::KIND == crate::corev1::Secret::KIND {
            redact_secret_message(&path, &message)
        } else {
            message
        };
        (path, message)
    })
}

/// A deserialization error message about a `Secret` at `path`, without the value it quotes.
///
/// serde's `invalid type: <what> <value>, expected <type>` and `invalid value: ...` keep
/// the category of what was found (`string`, `integer`, `sequence`...) and drop the value;
/// messages that cannot quote a value (`unknown field`, `missing field`, this crate's
/// base64 errors, which name only the key) are kept; anything else about a field under
/// `data` or `stringData` becomes `invalid value (a Secret's values are never shown)`.
pub fn redact_secret_message(path: &str, message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let Some((found, expected)) = rest.split_once(", expected ") else {
                break;
            };
            let category = found
                .split([' ', '`', '"'])
                .take_while(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let category = match category.as_str() {
                "" => "a value",
                "floating" => "floating point",
                c => c,
            };
            return format!("{prefix}{category}, expected {expected}");
        }
    }
    let under_values = ["data", "stringData"]
        .iter()
        .any(|f| path == *f || path.starts_with(&format!("{f}.")));
    let safe = [
        "unknown field",
        "missing field",
        "key ",
        "invalid base64",
        "invalid length",
    ]
    .iter()
    .any(|p| message.starts_with(p));
    if under_values && !safe {
        "invalid value (a Secret's values are never shown)".to_string()
    } else {
        message.to_string()
    }
}

/// Reads a whole input, refusing one over [`MAX_INPUT_BYTES`] without reading more than
/// one byte past the limit. `what` names the input in the error (a path, `standard input`).
pub fn read_input(reader: impl Read, what: &str) -> std::io::Result<String> {
    let mut text = String::new();
    let limit = u64::try_from(MAX_INPUT_BYTES).unwrap_or(u64::MAX);
    reader.take(limit + 1).read_to_string(&mut text)?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what} is larger than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// One document (or list item) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based index of the YAML document in the stream.
    pub document: usize,
    /// 1-based index within a list document, if the object came from one.
    pub item: Option<usize>,
    /// `kind`, if the document had one.
    pub kind: Option<String>,
    /// `metadata.name`, if the document had one.
    pub name: Option<String>,
    /// Path of the offending field (`.` for the document itself).
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(item) = self.item {
            write!(f, " item {item}")?;
        }
        match (&self.kind, &self.name) {
            (Some(k), Some(n)) => write!(f, " ({k} {n:?})")?,
            (Some(k), None) => write!(f, " ({k})")?,
            (None, Some(n)) => write!(f, " ({n:?})")?,
            (None, None) => {}
        }
        write!(f, ": field `{}`: {}", self.path, self.message)
    }
}

/// Every error found in a YAML stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseErrors(pub Vec<DocumentError>);

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} invalid document{}", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Parses a multi-document YAML (or JSON) stream of built-in kinds into typed objects.
/// Empty documents are skipped. Either every object is returned, or every error. An input
/// over [`MAX_INPUT_BYTES`] is refused before parsing, an object over [`MAX_OBJECT_BYTES`]
/// before it is typed; names, namespaces and labels are checked
/// ([`crate::names::validate_metadata`]) before the rest of the object.
///
/// This is the typed view of the built-in kinds; for any registered kind, use
/// [`KindRegistry::parse_documents`].
pub fn parse_documents(text: &str) -> Result<Vec<Object>, ParseErrors> {
    walk(text, &KindRegistry::builtin(), Object::from_yaml)
}

/// The document walk shared by [`parse_documents`] and [`KindRegistry::parse_documents`]:
/// splits the stream, checks each object's shape, size and metadata, and hands it to
/// `read`, which returns `None` for a kind it does not know (an error naming the kinds of
/// `registry`).
pub(crate) fn walk<T>(
    text: &str,
    registry: &KindRegistry,
    mut read: impl FnMut(&str, &str, Yaml) -> Option<Result<T, FieldError>>,
) -> Result<Vec<T>, ParseErrors> {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    if text.len() > MAX_INPUT_BYTES {
        return Err(ParseErrors(vec![DocumentError {
            document: 1,
            item: None,
            kind: None,
            name: None,
            path: ".".into(),
            message: format!(
                "the input is {} bytes, over the limit of {MAX_INPUT_BYTES} bytes",
                text.len()
            ),
        }]));
    }
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let value = match Yaml::deserialize(de) {
            Ok(v) => v,
            Err(e) => {
                errors.push(DocumentError {
                    document,
                    item: None,
                    kind: None,
                    name: None,
                    path: ".".into(),
                    message: format!("invalid YAML: {e}"),
                });
                // A syntax error ends the stream: the parser cannot resynchronise.
                break;
            }
        };
        let items = match value {
            Yaml::Null => continue,
            Yaml::Sequence(items) => items.into_iter().map(Some).enumerate().collect(),
            Yaml::Mapping(ref m) if m.get("kind").and_then(Yaml::as_str) == Some("List") => {
                match m.get("items") {
                    Some(Yaml::Sequence(items)) => {
                        items.iter().cloned().map(Some).enumerate().collect()
                    }
                    _ => vec![(0, None)],
                }
            }
            other => vec![(usize::MAX, Some(other))],
        };
        for (j, item) in items {
            let item_no = j.checked_add(1);
            let Some(item) = item else {
                errors.push(DocumentError {
                    document,
                    item: None,
                    kind: Some("List".into()),
                    name: None,
                    path: "items".into(),
                    message: "a List needs a sequence of `items`".into(),
                });
                continue;
            };
            match parse_one(item, registry, &mut read) {
                Ok(obj) => objects.push(obj),
                Err(mut e) => {
                    e.document = document;
                    e.item = item_no;
                    errors.push(e);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(ParseErrors(errors))
    }
}

fn parse_one<T>(
    value: Yaml,
    registry: &KindRegistry,
    read: &mut impl FnMut(&str, &str, Yaml) -> Option<Result<T, FieldError>>,
) -> Result<T, DocumentError> {
    let field = |name: &str| value.get(name).and_then(Yaml::as_str).map(str::to_string);
    let kind = field("kind");
    let api_version = field("apiVersion");
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Yaml::as_str)
        .map(str::to_string);
    let err = |path: &str, message: String| DocumentError {
        document: 0,
        item: None,
        kind: kind.clone(),
        name: name.clone(),
        path: path.into(),
        message,
    };
    if !value.is_mapping() {
        return Err(err(".", "expected an object (a YAML mapping)".into()));
    }
    let size = json_size(&value);
    if size > MAX_OBJECT_BYTES {
        return Err(err(
            ".",
            format!(
                "the object is {size} bytes as JSON, over the limit of {MAX_OBJECT_BYTES} bytes"
            ),
        ));
    }
    let Some(k) = kind.as_deref() else {
        return Err(err("kind", "missing `kind`".into()));
    };
    let Some(api) = api_version.as_deref() else {
        return Err(err("apiVersion", "missing `apiVersion`".into()));
    };
    if let Some(meta) = value.get("metadata") {
        // A metadata of the wrong shape is reported by `read`, with its path.
        if let Ok(meta) = serde_yaml_ng::from_value::<ObjectMeta>(meta.clone()) {
            crate::names::validate_metadata(&meta).map_err(|e| err(&e.path, e.message))?;
        }
    }
    match read(api, k, value) {
        Some(Ok(obj)) => Ok(obj),
        Some(Err((path, message))) => Err(err(&path, message)),
        None => {
            let known = registry
                .kinds()
                .filter(|i| i.kind == k)
                .map(|i| i.api_version)
                .collect::<Vec<_>>();
            Err(if known.is_empty() {
                let kinds = registry.kinds().map(|i| i.kind).collect::<Vec<_>>();
                let hint = registry
                    .closest(k)
                    .map(|(info, _)| format!(" (did you mean {:?}?)", info.kind))
                    .unwrap_or_default();
                err(
                    "kind",
                    format!(
                        "unknown kind {k:?}{hint} (apiVersion {api:?}); known kinds: {}",
                        kinds.join(", ")
                    ),
                )
            } else {
                err(
                    "apiVersion",
                    format!(
                        "unknown apiVersion {api:?} for kind {k}; expected {}",
                        known.join(" or ")
                    ),
                )
            })
        }
    }
}

/// The length of `value` as compact JSON (YAML-only values such as non-string keys count
/// as their YAML text).
fn json_size(value: &Yaml) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => {
            let mut counter = Counter(0);
            let _ = serde_yaml_ng::to_writer(&mut counter, value);
            counter.0
        }
    }
}

/// Writes objects as a multi-document YAML stream (`---` between documents).
pub fn to_yaml_documents<T: Serialize>(objects: &[T]) -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml_ng::to_string(o)?);
    }
    Ok(out)
}
