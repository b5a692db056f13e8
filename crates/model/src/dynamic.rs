//! [`DynamicObject`]: any object as its type key, metadata and untyped body. This is what the
//! store keeps; typed kinds convert to and from it.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ObjectMeta, Resource, TypeKey};

/// An object of any kind: `apiVersion`, `kind`, `metadata`, and every other top-level field
/// (`spec`, `status`, `data`, ...) kept as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicObject {
    /// `apiVersion` and `kind`.
    pub types: TypeKey,
    /// Standard metadata.
    pub metadata: ObjectMeta,
    /// All other top-level fields.
    pub body: Map<String, Value>,
}

/// A typed object could not be converted to or from its dynamic form.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {name:?}: field `{path}`: {message}")]
pub struct ConvertError {
    /// The kind being converted.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Path of the offending field, `.` when it is the object itself.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl DynamicObject {
    /// The dynamic form of a typed object.
    pub fn from_typed<K: Resource>(obj: &K) -> Result<Self, ConvertError> {
        let err = |message: String| ConvertError {
            kind: K::KIND.to_string(),
            name: obj.name().to_string(),
            path: ".".into(),
            message,
        };
        let value = serde_json::to_value(obj).map_err(|e| err(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| err(e.to_string()))
    }

    /// The typed form of this object; fails if the kind differs or a field has a wrong type.
    pub fn to_typed<K: Resource>(&self) -> Result<K, ConvertError> {
        let name = self.metadata.name().to_string();
        if self.types != TypeKey::of::<K>() {
            return Err(ConvertError {
                kind: K::KIND.to_string(),
                name,
                path: "kind".into(),
                message: format!("object is a {}", self.types),
            });
        }
        let value = serde_json::to_value(self).map_err(|e| ConvertError {
            kind: K::KIND.to_string(),
            name: name.clone(),
            path: ".".into(),
            message: e.to_string(),
        })?;
        serde_path_to_error::deserialize(value).map_err(|e| ConvertError {
            kind: K::KIND.to_string(),
            name,
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }

    /// The object's name, or `""`.
    pub fn name(&self) -> &str {
        self.metadata.name()
    }

    /// The object's namespace, or `""`.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace()
    }

    /// `status`, if the object has one.
    pub fn status(&self) -> Option<&Value> {
        self.body.get("status")
    }
}

impl Serialize for DynamicObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3 + self.body.len()))?;
        map.serialize_entry("apiVersion", &self.types.api_version)?;
        map.serialize_entry("kind", &self.types.kind)?;
        map.serialize_entry("metadata", &self.metadata)?;
        for (k, v) in &self.body {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DynamicObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut body = Map::<String, Value>::deserialize(d)?;
        let mut take_str = |field: &'static str| match body.remove(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(de::Error::custom(format_args!(
                "`{field}` must be a string"
            ))),
            None => Err(de::Error::missing_field(field)),
        };
        let api_version = take_str("apiVersion")?;
        let kind = take_str("kind")?;
        let metadata = match body.remove("metadata") {
            Some(v) => serde_json::from_value(v).map_err(de::Error::custom)?,
            None => ObjectMeta::default(),
        };
        Ok(Self {
            types: TypeKey { api_version, kind },
            metadata,
            body,
        })
    }
}
