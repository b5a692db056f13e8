//! The releases manifest: `anywhere.eks.amazonaws.com/v1alpha1 Release`, the list of EKS
//! Anywhere releases, each pointing at its `Bundles`.

use serde::{Deserialize, Serialize};

use crate::artifact::Archive;
use crate::{Error, ObjectMeta};

/// An EKS Anywhere releases manifest (`kind: Release` in `anywhere.eks.amazonaws.com`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReleasesManifest {
    /// `anywhere.eks.amazonaws.com/v1alpha1`.
    pub api_version: String,
    /// `Release`.
    pub kind: String,
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// The releases.
    pub spec: ReleasesSpec,
}

/// `Release.spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReleasesSpec {
    /// The newest release's version.
    pub latest_version: String,
    /// Every release.
    pub releases: Vec<EksaRelease>,
}

/// One EKS Anywhere release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksaRelease {
    /// Release date.
    pub date: String,
    /// Semantic version with a leading `v` (`v0.24.6`).
    pub version: String,
    /// Monotonic release number.
    pub number: i64,
    /// Git commit.
    pub git_commit: String,
    /// Git tag.
    pub git_tag: String,
    /// Where this release's `Bundles` are.
    pub bundle_manifest_url: String,
    /// The CLI tarballs per OS.
    #[serde(rename = "eksABinary")]
    pub eksa_binary: BinaryBundle,
    /// The CLI tarballs per OS and architecture.
    #[serde(rename = "eksACLI")]
    pub eksa_cli: PlatformBundle,
}

/// A binary per OS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BinaryBundle {
    /// Linux.
    pub linux: Archive,
    /// macOS.
    pub darwin: Archive,
}

/// A binary per OS and architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PlatformBundle {
    /// Linux.
    pub linux: ArchitectureBundle,
    /// macOS.
    pub darwin: ArchitectureBundle,
}

/// A binary per architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArchitectureBundle {
    /// x86-64.
    pub amd64: Archive,
    /// 64-bit ARM.
    pub arm64: Archive,
}

impl ReleasesManifest {
    /// Parses a releases manifest; `source` names the file in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, Error> {
        crate::parse_document(
            text,
            source,
            (crate::bundles::EKSA_GROUP, "Release"),
            |d: &Self| (&d.api_version, &d.kind),
        )
    }

    /// The release with this version (`v0.24.6`; a missing leading `v` is added).
    pub fn release(&self, version: &str) -> Result<&EksaRelease, Error> {
        let wanted = if version.starts_with('v') {
            version.to_string()
        } else {
            format!("v{version}")
        };
        self.spec
            .releases
            .iter()
            .find(|r| r.version == wanted)
            .ok_or_else(|| Error::NoRelease {
                version: wanted,
                available: self
                    .spec
                    .releases
                    .iter()
                    .map(|r| r.version.clone())
                    .collect(),
            })
    }

    /// The release named by `spec.latestVersion`, or the only release when the manifest
    /// has one and no latest version.
    pub fn latest(&self) -> Result<&EksaRelease, Error> {
        if self.spec.latest_version.is_empty() {
            if let [only] = self.spec.releases.as_slice() {
                return Ok(only);
            }
            return Err(Error::MissingField {
                object: "releases manifest".to_string(),
                field: "spec.latestVersion".to_string(),
            });
        }
        self.release(&self.spec.latest_version)
    }
}
