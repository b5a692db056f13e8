//! Hegel's flat-file instance format: a YAML list of `{userdata, metadata}` entries that
//! Hegel's file backend serves, keyed by the instance's public IPv4 address.
//!
//! These are not Kubernetes objects and not a [`Resource`](crate::Resource); the metadata
//! service reads them to serve EC2-style metadata without a store. Start at
//! [`parse_flatfile`].

use serde::{Deserialize, Serialize};

/// One instance of a Hegel flat file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FlatFileInstance {
    /// User data served at `user-data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata: Option<String>,
    /// Instance metadata.
    #[serde(default)]
    pub metadata: FlatFileMetadata,
}

/// Metadata of a flat-file instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlatFileMetadata {
    /// Instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Local host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_hostname: Option<String>,
    /// iSCSI qualified name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iqn: Option<String>,
    /// Plan (instance type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Facility (placement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// IPv4 addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<FlatFileIpv4>,
    /// IPv6 addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<FlatFileIpv6>,
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<FlatFileOs>,
}

/// IPv4 addresses of a flat-file instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FlatFileIpv4 {
    /// Private address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<std::net::Ipv4Addr>,
    /// Public address; Hegel identifies the instance by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<std::net::Ipv4Addr>,
}

/// IPv6 addresses of a flat-file instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FlatFileIpv6 {
    /// Public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<std::net::Ipv6Addr>,
}

/// Operating system of a flat-file instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlatFileOs {
    /// OS slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<String>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    /// License activation state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_activation_state: Option<String>,
}

impl FlatFileInstance {
    /// `metadata.ipv4.public`, the address Hegel looks the instance up by.
    pub fn public_ipv4(&self) -> Option<std::net::Ipv4Addr> {
        self.metadata.ipv4.as_ref()?.public
    }
}

/// A flat file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("hegel flat file: field `{path}`: {message}")]
pub struct FlatFileError {
    /// Path of the offending field (`.` for the file itself), e.g. `[0].metadata.tags`.
    pub path: String,
    /// What was wrong.
    pub message: String,
}

/// Parses a Hegel flat file: one YAML document holding a list of instances. An empty file
/// is an empty list.
pub fn parse_flatfile(text: &str) -> Result<Vec<FlatFileInstance>, FlatFileError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, Option<Vec<FlatFileInstance>>>(de) {
        Ok(list) => Ok(list.unwrap_or_default()),
        Err(e) => {
            let path = e.path().to_string();
            Err(FlatFileError {
                path,
                message: e.into_inner().to_string(),
            })
        }
    }
}
