//! Core `v1` kinds ironbell stores: [`Secret`], which holds BMC credentials,
//! [`ConfigMap`], non-secret settings (a plane's DHCP standby switch), [`Node`],
//! the record of a cluster node that reported in (cluster-scoped, as in Kubernetes), and
//! [`Event`], what a service did or saw for one object (see [`event`]).
//!
//! `data` values are bytes, written as standard base64 in YAML and JSON ([`Bytes`]); an
//! invalid value is an error that names its key. Secret values never appear in `Debug`
//! output. This module does not encrypt anything: protecting the store is the store's job.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::{ApiVersion, Kind, ObjectMeta};

pub mod event;
pub use event::{Event, EventSource, ObjectReference};

/// A ConfigMap: named non-secret settings. ironbell reads one: `ironbell-system/ironbell-plane`,
/// whose `dhcp` key puts a plane's DHCP replicas in standby (`standby`) or in service
/// (`serve`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMap {
    /// `apiVersion`: always `v1`.
    #[serde(default)]
    pub api_version: ApiVersion<ConfigMap>,
    /// `kind`: always `ConfigMap`.
    #[serde(default)]
    pub kind: Kind<ConfigMap>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Values by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    /// Whether the data may no longer change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}
crate::impl_resource!(
    ConfigMap,
    "v1",
    "ConfigMap",
    "configmaps",
    aliases = ["configmap", "cm"]
);

/// A Secret: small named pieces of sensitive data, such as a BMC's user name and password.
#[derive(Serialize, Deserialize, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secret {
    /// `apiVersion`: always `v1`.
    #[serde(default)]
    pub api_version: ApiVersion<Secret>,
    /// `kind`: always `Secret`.
    #[serde(default)]
    pub kind: Kind<Secret>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Values by key, base64-encoded on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_data"
    )]
    pub data: Option<BTreeMap<String, Bytes>>,
    /// Values by key as plain strings (write-only convenience; takes precedence over `data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_data: Option<BTreeMap<String, String>>,
    /// Secret type, e.g. `Opaque` or `kubernetes.io/basic-auth`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Whether the data may no longer change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}
crate::impl_resource!(Secret, "v1", "Secret", "secrets", aliases = ["secret"]);

impl Secret {
    /// The key Rufio reads a BMC user name from.
    pub const USERNAME_KEY: &'static str = "username";
    /// The key Rufio reads a BMC password from.
    pub const PASSWORD_KEY: &'static str = "password";

    /// An empty secret with a name and namespace.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            metadata: ObjectMeta::named(namespace, name),
            ..Self::default()
        }
    }

    /// A secret holding BMC credentials under `username` and `password`, as Rufio expects.
    pub fn basic_auth(
        namespace: impl Into<String>,
        name: impl Into<String>,
        username: &str,
        password: &str,
    ) -> Self {
        let mut s = Self::new(namespace, name);
        s.insert(Self::USERNAME_KEY, username);
        s.insert(Self::PASSWORD_KEY, password);
        s
    }

    /// Sets `data[key]`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Bytes>) {
        self.data
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
    }

    /// The value of `key`: from `stringData` if there, else from `data`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        if let Some(v) = self.string_data.as_ref().and_then(|m| m.get(key)) {
            return Some(v.as_bytes());
        }
        self.data.as_ref()?.get(key).map(|b| b.0.as_slice())
    }

    /// The value of `key` as UTF-8 text; `None` if absent or not UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        std::str::from_utf8(self.get(key)?).ok()
    }

    /// Every key present in `data` or `stringData`, sorted, without duplicates.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .data
            .iter()
            .flat_map(|m| m.keys())
            .chain(self.string_data.iter().flat_map(|m| m.keys()))
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are deliberately left out: a Secret must never leak through logs.
        let string_keys = self
            .string_data
            .as_ref()
            .map(|m| m.keys().collect::<Vec<_>>());
        f.debug_struct("Secret")
            .field("metadata", &self.metadata)
            .field("data", &self.data)
            .field("string_data_keys", &string_keys)
            .field("type_", &self.type_)
            .field("immutable", &self.immutable)
            .finish()
    }
}

/// A cluster node as the plane knows it: created when a provisioned machine's installed OS
/// reports in (the `plain` node bootstrapper's phone-home), and read by the Cluster API
/// `Machine` controller, which matches `spec.providerID` to set the Machine's `nodeRef`
/// (as Cluster API matches a workload cluster's `Node`s). Cluster-scoped, like Kubernetes'.
///
/// Only the fields ironbell sets are modelled; unknown fields are refused.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// `apiVersion`: always `v1`.
    #[serde(default)]
    pub api_version: ApiVersion<Node>,
    /// `kind`: always `Node`.
    #[serde(default)]
    pub kind: Kind<Node>,
    /// Standard object metadata (a name, no namespace).
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The node's identity.
    #[serde(default)]
    pub spec: NodeSpec,
    /// What the node last reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
}

impl crate::Resource for Node {
    const API_VERSION: &'static str = "v1";
    const KIND: &'static str = "Node";
    const PLURAL: &'static str = "nodes";
    const ALIASES: &'static [&'static str] = &["node", "no"];
    const NAMESPACED: bool = false;
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Node {
    /// The `Ready` condition's status is `True`.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    }
}

/// `Node.spec`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    /// The infrastructure's id of the machine, e.g. `tinkerbell://NS/HARDWARE`.
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// Whether new workloads may not be placed on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
}

/// `Node.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStatus {
    /// `Ready` and the other conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<NodeCondition>,
    /// The node's addresses (`InternalIP`, `Hostname`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// What the node said about itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
}

/// One `Node` condition (`Ready`: the node reported in and is healthy).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCondition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the node last reported this condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<crate::Timestamp>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<crate::Timestamp>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One address of a node.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP` or `Hostname`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub address: String,
}

/// `Node.status.nodeInfo`: the fields a phone-home can carry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSystemInfo {
    /// `/etc/machine-id`.
    #[serde(
        rename = "machineID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub machine_id: String,
    /// The firmware's system UUID.
    #[serde(
        rename = "systemUUID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub system_uuid: String,
    /// The running kernel's release.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernel_version: String,
    /// The OS, as `/etc/os-release` `PRETTY_NAME` gives it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os_image: String,
}

/// Binary data written as standard base64 (with padding) in YAML and JSON.
///
/// `Debug` prints only the length, never the content.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The content as UTF-8 text, if it is.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The content as standard base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// Decodes standard base64.
    pub fn from_base64(text: &str) -> Result<Self, base64::DecodeError> {
        STANDARD.decode(text.trim()).map(Self)
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes(<{} bytes>)", self.0.len())
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl From<&str> for Bytes {
    fn from(v: &str) -> Self {
        Self(v.as_bytes().to_vec())
    }
}

impl From<String> for Bytes {
    fn from(v: String) -> Self {
        Self(v.into_bytes())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Base64Value { key: None })
    }
}

/// Decodes one base64 string; names `key` in the error when it is known.
struct Base64Value<'a> {
    key: Option<&'a str>,
}

impl<'de> Visitor<'de> for Base64Value<'_> {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64-encoded string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
        // The decoder's own message quotes the offending character: only its offset is
        // shown, as the value is a secret.
        let what = |e: base64::DecodeError| match e {
            base64::DecodeError::InvalidByte(at, _) => format!("invalid character at offset {at}"),
            base64::DecodeError::InvalidLength(n) => format!("invalid length {n}"),
            base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("invalid last character at offset {at}")
            }
            base64::DecodeError::InvalidPadding => "invalid padding".to_string(),
        };
        Bytes::from_base64(v).map_err(|e| match self.key {
            Some(key) => E::custom(format_args!("key {key:?}: invalid base64: {}", what(e))),
            None => E::custom(format_args!("invalid base64: {}", what(e))),
        })
    }
}

impl<'de> DeserializeSeed<'de> for Base64Value<'_> {
    type Value = Bytes;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Bytes, D::Error> {
        d.deserialize_str(self)
    }
}

/// `data`: a map of base64 values, whose errors name the offending key.
fn deserialize_data<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, Bytes>>, D::Error> {
    struct DataVisitor;

    impl<'de> Visitor<'de> for DataVisitor {
        type Value = Option<BTreeMap<String, Bytes>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of keys to base64-encoded strings")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(Base64Value { key: Some(&key) })?;
                out.insert(key, value);
            }
            Ok(Some(out))
        }
    }

    d.deserialize_option(DataVisitor)
}
