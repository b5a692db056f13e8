//! The EKS Distro release manifest (`distro.eks.amazonaws.com/v1alpha1 Release`) and the
//! [`KubeDistro`] EKS Anywhere derives from it.
//!
//! The derivation follows EKS-A v0.24.6 (`pkg/cluster/spec.go`, `buildKubeDistro`) fact for
//! fact:
//! - image assets are indexed by asset name over all components (a later one of the same
//!   name wins);
//! - `pause-image`, `etcd-image`, `aws-iam-authenticator-image` and `kube-proxy-image` are
//!   taken as whole images;
//! - `coredns-image`, `etcd-image` and `kube-apiserver-image` give a repository and a tag:
//!   the tag after the last `:`, the repository being the image without its last path
//!   segment (`public.ecr.aws/eks-distro/kubernetes/kube-apiserver:v1.21.2-eks-1-21-4` gives
//!   `public.ecr.aws/eks-distro/kubernetes` and `v1.21.2-eks-1-21-4`);
//! - the etcd version is the `etcd` component's git tag without its `v`, and the etcd URL
//!   the archive of its last asset whose first architecture is `amd64`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::artifact::Image;
use crate::{Error, ObjectMeta};

/// The API group of the EKS-D release manifest.
pub const EKSD_GROUP: &str = "distro.eks.amazonaws.com";

/// An EKS Distro release manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdRelease {
    /// `distro.eks.amazonaws.com/v1alpha1`.
    pub api_version: String,
    /// `Release`.
    pub kind: String,
    /// Object metadata; the name is like `kubernetes-1-21-eks-4`.
    pub metadata: ObjectMeta,
    /// Channel and number.
    pub spec: EksdReleaseSpec,
    /// The built components.
    pub status: EksdReleaseStatus,
}

/// `spec` of an EKS-D release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdReleaseSpec {
    /// Kubernetes minor version with a dash (`1-21`).
    pub channel: String,
    /// Release number within the channel.
    pub number: i64,
    /// Commit of the EKS-D build repository.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub build_repo_commit: String,
}

/// `status` of an EKS-D release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdReleaseStatus {
    /// Release date.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub date: String,
    /// The components (kubernetes, etcd, coredns, ...).
    pub components: Vec<EksdComponent>,
}

/// One component of an EKS-D release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdComponent {
    /// Component name (`etcd`, `kubernetes`, `coredns`).
    pub name: String,
    /// Upstream git commit.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    /// Upstream git tag (`v3.4.16`).
    pub git_tag: String,
    /// Images and archives built for it.
    pub assets: Vec<EksdAsset>,
}

/// One image or archive of an EKS-D component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdAsset {
    /// Asset name (`kube-apiserver-image`, `etcd-linux-amd64-v3.4.16.tar.gz`).
    pub name: String,
    /// `Image` or `Archive`.
    #[serde(rename = "type")]
    pub asset_type: String,
    /// Human description.
    pub description: String,
    /// Operating system.
    pub os: String,
    /// Architectures.
    pub arch: Vec<String>,
    /// The image, for an image asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<EksdAssetImage>,
    /// The archive, for an archive asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<EksdAssetArchive>,
}

/// An image asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdAssetImage {
    /// Full image reference.
    pub uri: String,
    /// Manifest digest.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_digest: String,
}

/// An archive asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksdAssetArchive {
    /// Download URL.
    pub uri: String,
    /// SHA-512, hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sha512: String,
    /// SHA-256, hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

impl EksdRelease {
    /// Parses an EKS-D release manifest; `source` names the file in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, Error> {
        crate::parse_document(text, source, (EKSD_GROUP, "Release"), |d: &Self| {
            (&d.api_version, &d.kind)
        })
    }

    /// The Kubernetes minor version of the channel (`1-21` gives `1.21`), as EKS-A keys its
    /// versions bundles.
    pub fn kube_version(&self) -> String {
        self.spec.channel.replacen('-', ".", 1)
    }

    /// A short name for errors: the object name, else the channel.
    fn label(&self) -> String {
        if self.metadata.name.is_empty() {
            format!("channel {}", self.spec.channel)
        } else {
            self.metadata.name.clone()
        }
    }
}

/// An image split into repository and tag, as the kubeadm configuration takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionedRepository {
    /// Repository without the image name (`public.ecr.aws/eks-distro/kubernetes`).
    pub repository: String,
    /// Tag (`v1.21.2-eks-1-21-4`).
    pub tag: String,
}

/// Channel and number of the EKS-D release a [`KubeDistro`] came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Eksd {
    /// Channel (`1-21`).
    pub channel: String,
    /// Number within the channel.
    pub number: i64,
}

/// What EKS Anywhere takes from an EKS-D release for rendering (EKS-A's `KubeDistro`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KubeDistro {
    /// The release it came from.
    #[serde(rename = "eksd")]
    pub eksd: Eksd,
    /// Kubernetes image repository and version tag (from `kube-apiserver-image`).
    pub kubernetes: VersionedRepository,
    /// CoreDNS repository and tag.
    #[serde(rename = "coreDNS")]
    pub core_dns: VersionedRepository,
    /// etcd repository and tag.
    pub etcd: VersionedRepository,
    /// Pause image.
    pub pause: Image,
    /// etcd image.
    pub etcd_image: Image,
    /// etcd version without `v` (`3.4.16`).
    pub etcd_version: String,
    /// etcd linux/amd64 tarball URL.
    #[serde(rename = "etcdURL")]
    pub etcd_url: String,
    /// aws-iam-authenticator image.
    pub aws_iam_auth_image: Image,
    /// kube-proxy image.
    pub kube_proxy: Image,
}

impl KubeDistro {
    /// Derives the distro from an EKS-D release exactly as EKS-A does; an error names the
    /// missing asset and the release.
    pub fn from_eksd(eksd: &EksdRelease) -> Result<Self, Error> {
        let mut distro = KubeDistro {
            eksd: Eksd {
                channel: eksd.spec.channel.clone(),
                number: eksd.spec.number,
            },
            ..KubeDistro::default()
        };
        let mut images: HashMap<&str, &str> = HashMap::new();
        for component in &eksd.status.components {
            for asset in &component.assets {
                if let Some(image) = &asset.image {
                    images.insert(&asset.name, &image.uri);
                }
                if component.name == "etcd" {
                    distro.etcd_version = component
                        .git_tag
                        .strip_prefix('v')
                        .unwrap_or(&component.git_tag)
                        .to_string();
                    if let Some(archive) = &asset.archive
                        && asset.arch.first().map(String::as_str) == Some("amd64")
                    {
                        distro.etcd_url = archive.uri.clone();
                    }
                }
            }
        }
        let image = |name: &str| -> Result<Image, Error> {
            images
                .get(name)
                .map(|uri| Image::from_uri(*uri))
                .ok_or_else(|| Error::MissingEksdAsset {
                    asset: name.to_string(),
                    release: eksd.label(),
                })
        };
        distro.pause = image("pause-image")?;
        distro.etcd_image = image("etcd-image")?;
        distro.aws_iam_auth_image = image("aws-iam-authenticator-image")?;
        distro.kube_proxy = image("kube-proxy-image")?;
        distro.core_dns = versioned_repository(&image("coredns-image")?);
        distro.etcd = versioned_repository(&distro.etcd_image);
        distro.kubernetes = versioned_repository(&image("kube-apiserver-image")?);
        Ok(distro)
    }
}

/// EKS-A's `kubeDistroRepository`: the image without its last path segment, and the tag.
fn versioned_repository(image: &Image) -> VersionedRepository {
    let without_tag = image.image();
    let repository = match without_tag.rfind('/') {
        Some(i) => &without_tag[..i],
        None => without_tag,
    };
    VersionedRepository {
        repository: repository.to_string(),
        tag: image.tag().to_string(),
    }
}
