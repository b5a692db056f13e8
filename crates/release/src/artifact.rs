//! The three kinds of artifact a bundle names: a container [`Image`], an [`Archive`] (a
//! tarball or disk image with checksums) and a [`Manifest`] (a YAML file by URI).
//!
//! The URI helpers reproduce EKS Anywhere's string rules exactly (`release/api/v1alpha1`
//! `Image`), including their edge cases, because rendered manifests depend on them: the
//! repository is everything before the *last* `:` (so `host:5000/x` without a tag splits at
//! the port), and `repository()` drops the registry host.

use serde::{Deserialize, Serialize};

/// What every asset of a bundle says about itself besides its URI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AssetInfo {
    /// Asset name (for example `kube-vip`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Human description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Operating system (`linux`, `darwin`, `windows`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os: String,
    /// OS distribution the asset is for (`ubuntu`, `bottlerocket`), when it matters.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub os_name: String,
    /// Architectures the asset is built for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arch: Vec<String>,
}

/// A container image in a bundle: its URI (`registry/repository:tag` or `...@sha256:...`)
/// and descriptive metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Image {
    /// Name, description, OS and architectures.
    #[serde(flatten)]
    pub info: AssetInfo,
    /// Full reference: registry, repository and tag or digest.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// SHA-256 digest of the image manifest.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_digest: String,
}

impl Image {
    /// An image with only its URI set.
    pub fn from_uri(uri: impl Into<String>) -> Self {
        Image {
            uri: uri.into(),
            ..Image::default()
        }
    }

    /// The full reference, as used in a pod spec (EKS-A's `VersionedImage()`).
    pub fn versioned_image(&self) -> &str {
        &self.uri
    }

    /// The URI without its tag: everything before the last `:` (EKS-A's `Image()`).
    pub fn image(&self) -> &str {
        match self.uri.rfind(':') {
            Some(i) => &self.uri[..i],
            None => &self.uri,
        }
    }

    /// The tag: everything after the last `:`, or empty when there is none (EKS-A's `Tag()`).
    pub fn tag(&self) -> &str {
        match self.uri.rfind(':') {
            Some(i) => &self.uri[i + 1..],
            None => "",
        }
    }

    /// The registry host: the URI up to its first `/` (EKS-A's `Registry()`).
    pub fn registry(&self) -> &str {
        self.uri.split('/').next().unwrap_or_default()
    }

    /// The URI after the registry host.
    fn after_registry(&self) -> &str {
        let registry = self.registry();
        self.uri
            .strip_prefix(registry)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(&self.uri)
    }

    /// The repository path without registry, tag or digest (EKS-A's `Repository()`).
    pub fn repository(&self) -> &str {
        let rest = self.after_registry();
        match rest.split_once('@') {
            Some((repo, _)) => repo,
            None => rest.split(':').next().unwrap_or_default(),
        }
    }

    /// The digest after `@`, or empty (EKS-A's `Digest()`).
    pub fn digest(&self) -> &str {
        let rest = self.after_registry();
        rest.split('@').nth(1).unwrap_or_default()
    }

    /// The tag when the URI has no digest, else empty (EKS-A's `Version()`).
    pub fn version(&self) -> &str {
        let rest = self.after_registry();
        if rest.contains('@') {
            return "";
        }
        rest.split(':').nth(1).unwrap_or_default()
    }

    /// The Helm chart file name of a chart image: its last path segment with the first `:`
    /// replaced by `-`, plus `.tgz` (EKS-A's `ChartName()`).
    pub fn chart_name(&self) -> String {
        match self.image().rfind('/') {
            Some(i) => format!("{}.tgz", self.uri[i + 1..].replacen(':', "-", 1)),
            None => self.uri.clone(),
        }
    }
}

/// A file artifact (tarball, OVA, raw disk image) with its checksums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Archive {
    /// Name, description, OS and architectures.
    #[serde(flatten)]
    pub info: AssetInfo,
    /// Where the file is.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// SHA-512 of the file, hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sha512: String,
    /// SHA-256 of the file, hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// A YAML manifest by URI (provider components, metadata, cluster templates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Manifest {
    /// Where the manifest is.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_image_splits_like_eksa() {
        let i = Image::from_uri(
            "public.ecr.aws/l0g8r8j6/kube-vip/kube-vip:v0.3.2-2093eaeda5a4567f0e516d652e0b25b1d7abc774",
        );
        assert_eq!(i.image(), "public.ecr.aws/l0g8r8j6/kube-vip/kube-vip");
        assert_eq!(i.tag(), "v0.3.2-2093eaeda5a4567f0e516d652e0b25b1d7abc774");
        assert_eq!(i.registry(), "public.ecr.aws");
        assert_eq!(i.repository(), "l0g8r8j6/kube-vip/kube-vip");
        assert_eq!(
            i.version(),
            "v0.3.2-2093eaeda5a4567f0e516d652e0b25b1d7abc774"
        );
        assert_eq!(i.digest(), "");
        assert_eq!(i.versioned_image(), i.uri);
    }

    #[test]
    fn digest_image_splits_like_eksa() {
        let i = Image::from_uri("public.ecr.aws/a/b@sha256:0123");
        assert_eq!(i.repository(), "a/b");
        assert_eq!(i.digest(), "sha256:0123");
        assert_eq!(i.version(), "");
        // EKS-A splits at the last colon even inside a digest.
        assert_eq!(i.image(), "public.ecr.aws/a/b@sha256");
        assert_eq!(i.tag(), "0123");
    }

    #[test]
    fn untagged_and_degenerate_uris() {
        let i = Image::from_uri("busybox");
        assert_eq!(i.image(), "busybox");
        assert_eq!(i.tag(), "");
        assert_eq!(i.registry(), "busybox");
        assert_eq!(i.repository(), "busybox");
        assert_eq!(i.chart_name(), "busybox");
        let trailing = Image::from_uri("r/x:");
        assert_eq!(trailing.tag(), "");
        let empty = Image::default();
        assert_eq!(empty.image(), "");
        assert_eq!(empty.registry(), "");
        assert_eq!(empty.repository(), "");
    }

    #[test]
    fn chart_name_like_eksa() {
        let i = Image::from_uri(
            "public.ecr.aws/eks-anywhere/tinkerbell/tinkerbell-chart:0.2.4-eks-a-v0.0.0-dev-build.1",
        );
        assert_eq!(
            i.chart_name(),
            "tinkerbell-chart-0.2.4-eks-a-v0.0.0-dev-build.1.tgz"
        );
    }
}
