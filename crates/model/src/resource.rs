//! The [`Resource`] trait every kind implements, and the zero-sized `apiVersion` / `kind`
//! tags that make a typed object serialize with its type fields.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::ObjectMeta;

/// Identifies a kind: its `apiVersion` and `kind`. The store keys objects by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeKey {
    /// `group/version`, or just `version` for the core group (`v1`).
    pub api_version: String,
    /// The kind, e.g. `Hardware`.
    pub kind: String,
}

impl TypeKey {
    /// A key from its parts.
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }

    /// The key of a typed kind.
    pub fn of<K: Resource>() -> Self {
        Self::new(K::API_VERSION, K::KIND)
    }
}

impl fmt::Display for TypeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version, self.kind)
    }
}

/// A typed Kubernetes-style kind.
pub trait Resource:
    Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static
{
    /// `apiVersion`, e.g. `tinkerbell.org/v1alpha1`.
    const API_VERSION: &'static str;
    /// `kind`, e.g. `Hardware`.
    const KIND: &'static str;
    /// Lower-case plural used on the command line, e.g. `hardware`.
    const PLURAL: &'static str;
    /// Other names accepted on the command line (singular, short names).
    const ALIASES: &'static [&'static str] = &[];
    /// Whether objects of this kind live in a namespace (all of ironbell's do).
    const NAMESPACED: bool = true;

    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The object's metadata, mutable.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;

    /// The object's name, or `""`.
    fn name(&self) -> &str {
        self.metadata().name()
    }
    /// The object's namespace, or `""`.
    fn namespace(&self) -> &str {
        self.metadata().namespace()
    }
}

/// Implements [`Resource`] for a struct with a `metadata: ObjectMeta` field.
#[macro_export]
macro_rules! impl_resource {
    ($ty:ty, $api:expr, $kind:expr, $plural:expr $(, aliases = [$($alias:expr),* $(,)?])?) => {
        impl $crate::Resource for $ty {
            const API_VERSION: &'static str = $api;
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            $(const ALIASES: &'static [&'static str] = &[$($alias),*];)?
            fn metadata(&self) -> &$crate::ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut $crate::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

macro_rules! tag {
    ($(#[$doc:meta])* $name:ident, $konst:ident) => {
        $(#[$doc])*
        pub struct $name<K>(PhantomData<fn() -> K>);

        impl<K> Default for $name<K> {
            fn default() -> Self {
                Self(PhantomData)
            }
        }
        impl<K> Clone for $name<K> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<K> Copy for $name<K> {}
        impl<K> PartialEq for $name<K> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<K> Eq for $name<K> {}
        impl<K: Resource> fmt::Debug for $name<K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(K::$konst)
            }
        }
        impl<K: Resource> Serialize for $name<K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(K::$konst)
            }
        }
        impl<'de, K: Resource> Deserialize<'de> for $name<K> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let got = String::deserialize(d)?;
                if got == K::$konst {
                    Ok(Self(PhantomData))
                } else {
                    Err(de::Error::custom(format_args!(
                        "expected {:?}, found {:?}",
                        K::$konst,
                        got
                    )))
                }
            }
        }
    };
}

tag!(
    /// Zero-sized `apiVersion` field of a typed object: serializes as `K::API_VERSION` and
    /// accepts only that value.
    ApiVersion,
    API_VERSION
);
tag!(
    /// Zero-sized `kind` field of a typed object: serializes as `K::KIND` and accepts only
    /// that value.
    Kind,
    KIND
);
