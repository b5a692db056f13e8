//! What the renderers need from a versions bundle: the EKS-D images and versions of one
//! Kubernetes minor version and the EKS Anywhere images that go with them.
//!
//! This is a narrow view, filled from the release data (`ironbell-release` resolves Bundles
//! and the EKS-D release manifest); the renderers never read release files themselves.

use std::collections::BTreeMap;

/// An image split into repository and tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository, e.g. `public.ecr.aws/eks-distro/coredns`.
    pub repository: String,
    /// Tag, e.g. `v1.8.3-eks-1-21-4`.
    pub tag: String,
}

impl ImageRef {
    /// An image reference from a URI `repository:tag` (the tag is after the last `:` that
    /// follows the last `/`).
    pub fn from_uri(uri: &str) -> Self {
        let slash = uri.rfind('/').map_or(0, |i| i + 1);
        match uri[slash..].rfind(':') {
            Some(i) => Self {
                repository: uri[..slash + i].to_string(),
                tag: uri[slash + i + 1..].to_string(),
            },
            None => Self {
                repository: uri.to_string(),
                tag: String::new(),
            },
        }
    }

    /// `repository:tag`.
    pub fn uri(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// The EKS-D distribution of one Kubernetes version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeDistro {
    /// Control-plane image repository (`.../kubernetes`) and the Kubernetes tag
    /// (`v1.21.2-eks-1-21-4`).
    pub kubernetes: ImageRef,
    /// CoreDNS image.
    pub coredns: ImageRef,
    /// etcd image.
    pub etcd: ImageRef,
    /// Pause image.
    pub pause: ImageRef,
    /// The etcd image external etcd machines run (`.../etcd-io/etcd`).
    pub etcd_image: ImageRef,
    /// etcd version without `v`, e.g. `3.4.16`.
    pub etcd_version: String,
    /// etcd release tarball URL.
    pub etcd_url: Option<String>,
}

/// One versions bundle: a Kubernetes minor version and its images.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionsBundle {
    /// Kubernetes minor version, e.g. `1.21`.
    pub kube_version: String,
    /// EKS-D distribution.
    pub kube_distro: KubeDistro,
    /// The Tinkerbell provider's kube-vip image URI.
    pub tinkerbell_kube_vip: String,
    /// Bottlerocket's kubeadm bootstrap host container.
    pub bottlerocket_bootstrap: ImageRef,
    /// The CloudStack provider's kube-vip image URI.
    pub cloudstack_kube_vip: String,
    /// The Nutanix provider's kube-vip image URI.
    pub nutanix_kube_vip: String,
    /// The Nutanix cloud controller manager image URI.
    pub nutanix_cloud_provider: String,
    /// The Snow provider's kube-vip image URI.
    pub snow_kube_vip: String,
    /// Snow's Bottlerocket bootstrap container.
    pub snow_bottlerocket_bootstrap: ImageRef,
    /// Bottlerocket's admin host container.
    pub bottlerocket_admin: ImageRef,
    /// Bottlerocket's control host container.
    pub bottlerocket_control: ImageRef,
    /// The vSphere cloud controller manager image URI.
    pub vsphere_manager: String,
    /// The vSphere provider's kube-vip image URI.
    pub vsphere_kube_vip: String,
    /// Bottlerocket's bootstrap container that sets up a second network interface.
    pub bottlerocket_multi_network: ImageRef,
    /// The EKS-D release name, e.g. `kubernetes-1-21-eks-4`.
    pub eksd_name: String,
    /// The Bottlerocket OVA of the release (vSphere imports it as the default template).
    pub bottlerocket_ova: OsImage,
}

/// An OS image of a release: its architectures and checksum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsImage {
    /// Architectures, e.g. `amd64`.
    pub arch: Vec<String>,
    /// SHA-256 of the image, hex.
    pub sha256: String,
}

/// The versions bundles of a release (the `Bundles` object), with its number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionsBundleSet {
    /// `Bundles.spec.number`; a change forces new machine templates.
    pub number: i64,
    /// Bundles by Kubernetes minor version.
    pub by_kube_version: BTreeMap<String, VersionsBundle>,
}

impl VersionsBundleSet {
    /// The bundle of a Kubernetes minor version.
    pub fn get(&self, kube_version: &str) -> Option<&VersionsBundle> {
        self.by_kube_version.get(kube_version)
    }
}

impl VersionsBundle {
    /// The renderer's view of a resolved versions bundle.
    pub fn from_release(v: &ironbell_release::ClusterVersionsBundle) -> Self {
        let kd = &v.kube_distro;
        let repo = |r: &ironbell_release::VersionedRepository| ImageRef {
            repository: r.repository.clone(),
            tag: r.tag.clone(),
        };
        Self {
            kube_version: v.kube_version().to_string(),
            kube_distro: KubeDistro {
                kubernetes: repo(&kd.kubernetes),
                coredns: repo(&kd.core_dns),
                etcd: repo(&kd.etcd),
                pause: ImageRef::from_uri(&kd.pause.uri),
                etcd_image: ImageRef::from_uri(&kd.etcd_image.uri),
                etcd_version: kd.etcd_version.clone(),
                etcd_url: Some(kd.etcd_url.clone()).filter(|u| !u.is_empty()),
            },
            tinkerbell_kube_vip: v.bundle.tinkerbell.kube_vip.uri.clone(),
            bottlerocket_bootstrap: ImageRef::from_uri(
                &v.bundle.bottlerocket_host_containers.kubeadm_bootstrap.uri,
            ),
            vsphere_manager: v.bundle.v_sphere.manager.uri.clone(),
            vsphere_kube_vip: v.bundle.v_sphere.kube_vip.uri.clone(),
            eksd_name: v.bundle.eks_d.name.clone(),
            bottlerocket_ova: OsImage {
                arch: v.bundle.eks_d.ova.bottlerocket.info.arch.clone(),
                sha256: v.bundle.eks_d.ova.bottlerocket.sha256.clone(),
            },
            bottlerocket_multi_network: ImageRef::from_uri(
                &v.bundle
                    .bottlerocket_bootstrap_containers
                    .multi_network_bootstrap
                    .uri,
            ),
            cloudstack_kube_vip: v.bundle.cloud_stack.kube_vip.uri.clone(),
            nutanix_kube_vip: v.bundle.nutanix.kube_vip.uri.clone(),
            nutanix_cloud_provider: v.bundle.nutanix.cloud_provider.uri.clone(),
            snow_kube_vip: v.bundle.snow.kube_vip.uri.clone(),
            snow_bottlerocket_bootstrap: ImageRef::from_uri(
                &v.bundle.snow.bottlerocket_bootstrap_snow.uri,
            ),
            bottlerocket_admin: ImageRef::from_uri(
                &v.bundle.bottlerocket_host_containers.admin.uri,
            ),
            bottlerocket_control: ImageRef::from_uri(
                &v.bundle.bottlerocket_host_containers.control.uri,
            ),
        }
    }
}

impl VersionsBundleSet {
    /// The renderer's view of a cluster's resolved release data.
    pub fn from_release(release: &ironbell_release::ClusterRelease) -> Self {
        Self {
            number: release.bundles_number,
            by_kube_version: by_kube_version(release, VersionsBundle::from_release),
        }
    }
}

/// A provider's view of each versions bundle of a release, by Kubernetes minor version.
pub fn by_kube_version<T>(
    release: &ironbell_release::ClusterRelease,
    view: impl Fn(&ironbell_release::ClusterVersionsBundle) -> T,
) -> BTreeMap<String, T> {
    release
        .versions
        .iter()
        .map(|v| (v.kube_version().to_string(), view(v)))
        .collect()
}

/// `repository:tag` as the kubeadm image fields take it.
pub(crate) fn image_meta(image: &ImageRef) -> crate::api::kubeadm::ImageMeta {
    crate::api::kubeadm::ImageMeta {
        image_repository: image.repository.clone(),
        image_tag: image.tag.clone(),
    }
}
