//! EKS Anywhere release data.
//!
//! An EKS Anywhere cluster spec names a Kubernetes version (`kubernetesVersion: "1.29"`) and,
//! optionally, an EKS Anywhere version. Everything else a renderer needs (image names and
//! tags of Kubernetes, CoreDNS, etcd, kube-vip, the Tinkerbell actions, the Cluster API
//! providers...) comes from release data: the releases manifest ([`ReleasesManifest`]) lists
//! EKS-A releases, each pointing at a [`Bundles`] object with one [`VersionsBundle`] per
//! Kubernetes version, and each versions bundle points at an EKS-D release manifest
//! ([`EksdRelease`]) from which EKS-A derives a [`KubeDistro`]. A renderer reads a
//! [`ClusterVersionsBundle`]: a versions bundle with its distro.
//!
//! Start with [`Resolver::resolve`] (from a releases manifest, a Bundles file, or the bundle
//! ironbell ships, [`shipped`]) to a [`ClusterRelease`]; then [`artifact::Image`] (the URI
//! helpers every renderer uses), [`bundles::VersionsBundle`] and
//! [`eksd::KubeDistro::from_eksd`].
//!
//! Types and field names are EKS Anywhere v0.24.6's; unknown fields are ignored, because
//! release data gains fields with every release.
//!
//! Not here: downloading anything (files only), the cluster spec itself
//! (`ironbell-cluster-spec`), rendering (`ironbell-capi`).

pub mod artifact;
pub mod bundles;
pub mod eksd;
pub mod releases;
pub mod resolve;
pub mod shipped;
mod yaml;

use serde::{Deserialize, Serialize};

pub use artifact::{Archive, Image, Manifest};
pub use bundles::{Bundles, BundlesSpec, VersionsBundle};
pub use eksd::{EksdRelease, KubeDistro, VersionedRepository};
pub use releases::{EksaRelease, ReleasesManifest};
pub use resolve::{BundlesSource, Resolver};

/// What can go wrong reading release data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file is not valid YAML or a field has the wrong type.
    #[error("{source_name}: {path}: {message}")]
    Parse {
        /// The file (or URL) parsed.
        source_name: String,
        /// Where in the document (`spec.versionsBundles[2].eksD.number`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A document of the wrong kind.
    #[error("{source_name}: expected a {expected} document, found {found}")]
    WrongKind {
        /// The file.
        source_name: String,
        /// The API group and kind wanted.
        expected: String,
        /// The API version and kind found.
        found: String,
    },
    /// No versions bundle for a Kubernetes version.
    #[error("no versions bundle for Kubernetes {kube_version} (the bundles have: {})", .available.join(", "))]
    NoVersionsBundle {
        /// The version asked for.
        kube_version: String,
        /// The versions present.
        available: Vec<String>,
    },
    /// No release with a version in the releases manifest.
    #[error("no EKS Anywhere release {version} in the releases manifest (it has: {})", .available.join(", "))]
    NoRelease {
        /// The version asked for.
        version: String,
        /// The versions present.
        available: Vec<String>,
    },
    /// A required field is empty.
    #[error("{object}: {field} is missing")]
    MissingField {
        /// What object.
        object: String,
        /// Which field.
        field: String,
    },
    /// A release file cannot be read.
    #[error("reading {url} ({}): {source}", .path.display())]
    Read {
        /// The URL or path asked for.
        url: String,
        /// The file it resolved to.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A release file is larger than [`resolve::MAX_RELEASE_FILE_BYTES`].
    #[error("{}: larger than {limit} bytes, not a release file", .path.display())]
    TooLarge {
        /// The file.
        path: std::path::PathBuf,
        /// The limit.
        limit: u64,
    },
    /// An `http(s)://` URL: ironbell reads release data from local files only.
    #[error(
        "{url} is a remote URL and ironbell downloads nothing: download the file and give its local path (or pass a Bundles file with --bundles)"
    )]
    RemoteUrl {
        /// The URL.
        url: String,
    },
    /// A URL scheme other than `embed`, `file`, `http(s)` or a plain path.
    #[error("{url:?}: unsupported URL (give a local file path)")]
    UnsupportedUrl {
        /// The URL.
        url: String,
    },
    /// An `embed:///` URL without a base directory to resolve it against.
    #[error("{url}: an embed:/// URL needs a base directory")]
    NoBaseDir {
        /// The URL.
        url: String,
    },
    /// The EKS-D manifest of a versions bundle is for another Kubernetes version.
    #[error(
        "EKS-D manifest {url} is channel {channel}, but the versions bundle is for Kubernetes {kube_version}"
    )]
    EksdChannelMismatch {
        /// The manifest URL.
        url: String,
        /// Its channel.
        channel: String,
        /// The versions bundle's Kubernetes version.
        kube_version: String,
    },
    /// An EKS-D release lacks an asset EKS-A needs.
    #[error("EKS-D release {release}: asset {asset} is missing")]
    MissingEksdAsset {
        /// The asset name.
        asset: String,
        /// The release.
        release: String,
    },
}

/// The part of Kubernetes object metadata release data uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// A versions bundle together with the distro derived from its EKS-D release: what EKS-A's
/// renderers read for one Kubernetes version (EKS-A's `cluster.VersionsBundle`).
///
/// As YAML (the golden tests' fixtures), it is a versions bundle entry with one more key,
/// `kubeDistro`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionsBundle {
    /// The versions bundle.
    #[serde(flatten)]
    pub bundle: VersionsBundle,
    /// The distro derived from `bundle.eksD`'s release.
    #[serde(default)]
    pub kube_distro: KubeDistro,
}

impl ClusterVersionsBundle {
    /// Joins a versions bundle and the EKS-D release its `eksD.manifestUrl` names.
    pub fn new(bundle: VersionsBundle, eksd: &EksdRelease) -> Result<Self, Error> {
        Ok(ClusterVersionsBundle {
            kube_distro: KubeDistro::from_eksd(eksd)?,
            bundle,
        })
    }

    /// Parses a YAML fixture of this type; `source` names the file in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, Error> {
        parse_yaml(text, source)
    }

    /// The Kubernetes minor version (`1.21`).
    pub fn kube_version(&self) -> &str {
        &self.bundle.kube_version
    }
}

/// The release data of one cluster: the EKS-A version, the bundle number, and a
/// [`ClusterVersionsBundle`] per Kubernetes version the cluster uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterRelease {
    /// EKS Anywhere version (`v0.24.6`), as `spec.eksaVersion` and the `EKSARelease` name.
    pub eksa_version: String,
    /// `Bundles.spec.number`.
    pub bundles_number: i64,
    /// `Bundles.metadata` (name, namespace), for the cluster's `bundlesRef`.
    pub bundles_meta: ObjectMeta,
    /// One entry per Kubernetes version resolved.
    pub versions: Vec<ClusterVersionsBundle>,
}

impl ClusterRelease {
    /// The entry for a Kubernetes version (`1.29`), or an error listing the ones there are.
    pub fn versions_bundle(&self, kube_version: &str) -> Result<&ClusterVersionsBundle, Error> {
        self.versions
            .iter()
            .find(|v| v.kube_version() == kube_version)
            .ok_or_else(|| Error::NoVersionsBundle {
                kube_version: kube_version.to_string(),
                available: self
                    .versions
                    .iter()
                    .map(|v| v.kube_version().to_string())
                    .collect(),
            })
    }
}

/// Deserializes YAML with Go's duplicate-key rule, reporting the path of a bad field.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    source: &str,
) -> Result<T, Error> {
    yaml::parse(text, source)
}

/// Parses a document and checks its API group and kind, each when it is set (fixtures may
/// leave them out). `expected` is `(group, kind)`; `type_meta` gives `(apiVersion, kind)`.
pub(crate) fn parse_document<T: serde::de::DeserializeOwned>(
    text: &str,
    source: &str,
    expected: (&'static str, &'static str),
    type_meta: impl Fn(&T) -> (&str, &str),
) -> Result<T, Error> {
    let document: T = parse_yaml(text, source)?;
    let (api_version, kind) = type_meta(&document);
    let group = api_version.split('/').next().unwrap_or_default();
    let group_ok = api_version.is_empty() || group == expected.0;
    let kind_ok = kind.is_empty() || kind == expected.1;
    if group_ok && kind_ok {
        Ok(document)
    } else {
        Err(Error::WrongKind {
            source_name: source.to_string(),
            expected: format!("{} ({})", expected.1, expected.0),
            found: if api_version.is_empty() {
                kind.to_string()
            } else {
                format!("{kind} ({api_version})")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_versions_bundle_is_a_bundle_entry_plus_kube_distro() {
        let text = "kubeVersion: \"1.19\"\nhaproxy:\n  image:\n    uri: r/haproxy:v1\nkubeDistro:\n  kubernetes:\n    repository: r/kubernetes\n    tag: v1.19.6-eks-1-19-2\n  etcdVersion: 3.4.14\n";
        let vb = ClusterVersionsBundle::from_yaml(text, "t.yaml").expect("parses");
        assert_eq!(vb.kube_version(), "1.19");
        assert_eq!(vb.bundle.haproxy.image.tag(), "v1");
        assert_eq!(vb.kube_distro.kubernetes.tag, "v1.19.6-eks-1-19-2");
        assert_eq!(vb.kube_distro.etcd_version, "3.4.14");
        let again = serde_yaml_ng::to_string(&vb).expect("serializes");
        let back = ClusterVersionsBundle::from_yaml(&again, "again").expect("round trip");
        assert_eq!(back, vb);
    }
}
