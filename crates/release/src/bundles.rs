//! `anywhere.eks.amazonaws.com/v1alpha1 Bundles`: one [`VersionsBundle`] per Kubernetes
//! version, naming every image and manifest a cluster of that version uses.
//!
//! Field names are EKS Anywhere v0.24.6's (`release/api/v1alpha1/bundle_types.go`). Every
//! field has a default and unknown fields are ignored, as EKS-A's own decoder does: release
//! data gains fields with every release, and a bundle from a newer EKS-A must still load.
//! What a renderer cannot do without (the versions bundle of the requested Kubernetes
//! version, its EKS-D manifest URL) is checked where it is looked up, with an error that
//! names it.
//!
//! EKS-A declares five structs with the same shape (version, controller, kube-rbac-proxy,
//! components, metadata) for core Cluster API, kubeadm bootstrap and control plane, and the
//! etcdadm bootstrap and controller; here they are one type, [`CapiProviderBundle`].

use serde::{Deserialize, Serialize};

use crate::artifact::{Archive, Image, Manifest};
use crate::{Error, ObjectMeta};

/// The API group of [`Bundles`] and of the releases manifest.
pub const EKSA_GROUP: &str = "anywhere.eks.amazonaws.com";

/// An EKS Anywhere `Bundles` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Bundles {
    /// `anywhere.eks.amazonaws.com/v1alpha1`.
    pub api_version: String,
    /// `Bundles`.
    pub kind: String,
    /// Object metadata (name, namespace).
    pub metadata: ObjectMeta,
    /// The bundles.
    pub spec: BundlesSpec,
}

/// `Bundles.spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BundlesSpec {
    /// Monotonic bundle number of the release (a change of it is an upgrade).
    pub number: i64,
    /// Oldest EKS-A CLI that may use these bundles.
    pub cli_min_version: String,
    /// Newest EKS-A CLI that may use these bundles.
    pub cli_max_version: String,
    /// One entry per supported Kubernetes version.
    pub versions_bundles: Vec<VersionsBundle>,
}

impl Bundles {
    /// Parses a `Bundles` YAML document; `source` names the file in errors.
    pub fn from_yaml(text: &str, source: &str) -> Result<Self, Error> {
        crate::parse_document(text, source, (EKSA_GROUP, "Bundles"), |d: &Self| {
            (&d.api_version, &d.kind)
        })
    }

    /// The versions bundle whose `kubeVersion` is `kube_version` (for example `1.29`).
    pub fn versions_bundle(&self, kube_version: &str) -> Result<&VersionsBundle, Error> {
        self.spec
            .versions_bundles
            .iter()
            .find(|vb| vb.kube_version == kube_version)
            .ok_or_else(|| Error::NoVersionsBundle {
                kube_version: kube_version.to_string(),
                available: self
                    .spec
                    .versions_bundles
                    .iter()
                    .map(|vb| vb.kube_version.clone())
                    .collect(),
            })
    }

    /// The Kubernetes versions these bundles cover, in file order.
    pub fn kube_versions(&self) -> Vec<&str> {
        self.spec
            .versions_bundles
            .iter()
            .map(|vb| vb.kube_version.as_str())
            .collect()
    }
}

/// Everything a cluster of one Kubernetes version is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VersionsBundle {
    /// Kubernetes minor version, `"1.29"`.
    pub kube_version: String,
    /// Date standard support ends (`2025-03-23`), when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end_of_standard_support: String,
    /// The EKS Distro release of this version.
    #[serde(rename = "eksD")]
    pub eks_d: EksDRelease,
    /// cert-manager.
    pub cert_manager: CertManagerBundle,
    /// Core Cluster API.
    #[serde(rename = "clusterAPI")]
    pub cluster_api: CapiProviderBundle,
    /// Kubeadm bootstrap provider.
    pub bootstrap: CapiProviderBundle,
    /// Kubeadm control-plane provider.
    pub control_plane: CapiProviderBundle,
    /// vSphere provider (CAPV).
    #[serde(rename = "vSphere")]
    pub v_sphere: VSphereBundle,
    /// CloudStack provider (CAPC).
    pub cloud_stack: CloudStackBundle,
    /// Docker provider (CAPD).
    pub docker: DockerBundle,
    /// EKS-A's own controllers and tools.
    pub eksa: EksaBundle,
    /// Cilium CNI.
    pub cilium: CiliumBundle,
    /// kindnetd CNI.
    pub kindnetd: KindnetdBundle,
    /// Flux GitOps controllers.
    pub flux: FluxBundle,
    /// Curated packages controller.
    pub package_controller: PackageBundle,
    /// Bottlerocket host containers.
    pub bottlerocket_host_containers: BottlerocketHostContainersBundle,
    /// Bottlerocket bootstrap containers.
    pub bottlerocket_bootstrap_containers: BottlerocketBootstrapContainersBundle,
    /// etcdadm bootstrap provider (external etcd).
    #[serde(rename = "etcdadmBootstrap")]
    pub etcdadm_bootstrap: CapiProviderBundle,
    /// etcdadm controller (external etcd).
    #[serde(rename = "etcdadmController")]
    pub etcdadm_controller: CapiProviderBundle,
    /// Tinkerbell provider (CAPT) and the Tinkerbell stack.
    pub tinkerbell: TinkerbellBundle,
    /// HAProxy (the Docker provider's load balancer).
    pub haproxy: HaproxyBundle,
    /// Snow provider (CAPAS).
    pub snow: SnowBundle,
    /// Nutanix provider (CAPX).
    pub nutanix: NutanixBundle,
    /// In-place upgrader.
    pub upgrader: UpgraderBundle,
    /// AWS provider (CAPA), only in old bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsBundle>,
}

impl VersionsBundle {
    /// The EKS-D manifest URL, or an error naming this Kubernetes version when it is empty.
    pub fn eksd_manifest_url(&self) -> Result<&str, Error> {
        if self.eks_d.manifest_url.is_empty() {
            return Err(Error::MissingField {
                object: format!("versions bundle {}", self.kube_version),
                field: "eksD.manifestUrl".to_string(),
            });
        }
        Ok(&self.eks_d.manifest_url)
    }
}

/// `eksD`: the EKS Distro release a versions bundle is built on, and images built from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksDRelease {
    /// Release name (`kubernetes-1-21-eks-4`).
    pub name: String,
    /// Release channel (`1-21`).
    pub channel: String,
    /// Full Kubernetes version (`v1.21.2`).
    pub kube_version: String,
    /// Where the EKS-D release manifest is.
    pub manifest_url: String,
    /// Git commit of the EKS-D build.
    pub git_commit: String,
    /// Kind node image (the Docker provider's node image).
    pub kind_node: Image,
    /// AMI images per OS.
    pub ami: OsImageBundle,
    /// OVA images per OS.
    pub ova: OsImageBundle,
    /// Raw disk images per OS.
    pub raw: OsImageBundle,
    /// Components manifest.
    pub components: String,
    /// etcdadm binary.
    pub etcdadm: Archive,
    /// crictl binary.
    pub crictl: Archive,
    /// image-builder binary.
    #[serde(rename = "imagebuilder")]
    pub image_builder: Archive,
    /// containerd binary.
    pub containerd: Archive,
}

/// OS images per OS family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OsImageBundle {
    /// The Bottlerocket image.
    pub bottlerocket: Archive,
}

/// The in-place upgrader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpgraderBundle {
    /// Upgrader image.
    pub upgrader: Image,
}

/// Bottlerocket host containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BottlerocketHostContainersBundle {
    /// Admin container.
    pub admin: Image,
    /// Control container.
    pub control: Image,
    /// Bootstrap container that runs kubeadm.
    pub kubeadm_bootstrap: Image,
}

/// Bottlerocket bootstrap containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BottlerocketBootstrapContainersBundle {
    /// Multi-network bootstrap container.
    pub multi_network_bootstrap: Image,
}

/// cert-manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CertManagerBundle {
    /// Version.
    pub version: String,
    /// ACME solver image.
    pub acmesolver: Image,
    /// CA injector image.
    pub cainjector: Image,
    /// Controller image.
    pub controller: Image,
    /// cmctl image, only in old bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctl: Option<Image>,
    /// Start-up API check image.
    pub startupapicheck: Image,
    /// Webhook image.
    pub webhook: Image,
    /// Install manifest.
    pub manifest: Manifest,
}

/// A Cluster API provider with a controller and a kube-rbac-proxy: core Cluster API, kubeadm
/// bootstrap and control plane, etcdadm bootstrap and controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CapiProviderBundle {
    /// Provider version (`v1.9.4`).
    pub version: String,
    /// Controller image.
    pub controller: Image,
    /// kube-rbac-proxy image.
    pub kube_proxy: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
}

/// The AWS provider (CAPA): the common provider shape plus a cluster template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AwsBundle {
    /// Version, controller, kube-rbac-proxy, components and metadata.
    #[serde(flatten)]
    pub provider: CapiProviderBundle,
    /// Cluster template.
    pub cluster_template: Manifest,
}

/// The vSphere provider (CAPV).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VSphereBundle {
    /// Version.
    pub version: String,
    /// CAPV controller image.
    #[serde(rename = "clusterAPIController")]
    pub cluster_api_controller: Image,
    /// kube-rbac-proxy image.
    pub kube_proxy: Image,
    /// Cloud controller manager image.
    pub manager: Image,
    /// kube-vip image.
    pub kube_vip: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
    /// Cluster template.
    pub cluster_template: Manifest,
    /// CSI driver image, only in old bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<Image>,
    /// CSI syncer image, only in old bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncer: Option<Image>,
}

/// The Docker provider (CAPD).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerBundle {
    /// CAPD version (`v1.9.4`).
    pub version: String,
    /// CAPD manager image.
    pub manager: Image,
    /// kube-rbac-proxy in front of CAPD's metrics.
    pub kube_proxy: Image,
    /// CAPD's infrastructure components.
    pub components: Manifest,
    /// CAPD's development cluster template.
    pub cluster_template: Manifest,
    /// CAPD's clusterctl metadata.
    pub metadata: Manifest,
}

/// The CloudStack provider (CAPC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CloudStackBundle {
    /// Version.
    pub version: String,
    /// CAPC controller image.
    #[serde(rename = "clusterAPIController")]
    pub cluster_api_controller: Image,
    /// kube-rbac-proxy image.
    pub kube_rbac_proxy: Image,
    /// kube-vip image.
    pub kube_vip: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
}

/// Cilium.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumBundle {
    /// Version.
    pub version: String,
    /// Agent image.
    pub cilium: Image,
    /// Operator image.
    pub operator: Image,
    /// Install manifest, only in old bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// Helm chart.
    pub helm_chart: Image,
}

/// kindnetd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KindnetdBundle {
    /// Version.
    pub version: String,
    /// Install manifest.
    pub manifest: Manifest,
}

/// Flux.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FluxBundle {
    /// Version.
    pub version: String,
    /// source-controller image.
    pub source_controller: Image,
    /// kustomize-controller image.
    pub kustomize_controller: Image,
    /// helm-controller image.
    pub helm_controller: Image,
    /// notification-controller image.
    pub notification_controller: Image,
}

/// Curated packages controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PackageBundle {
    /// Version.
    pub version: String,
    /// Controller image.
    #[serde(rename = "packageController")]
    pub controller: Image,
    /// Token refresher image.
    pub token_refresher: Image,
    /// Credential provider package image.
    pub credential_provider_package: Image,
    /// Helm chart.
    pub helm_chart: Image,
}

/// EKS-A's own images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EksaBundle {
    /// Version.
    pub version: String,
    /// CLI tools image.
    pub cli_tools: Image,
    /// Cluster controller image.
    pub cluster_controller: Image,
    /// Diagnostic collector image.
    pub diagnostic_collector: Image,
    /// Components manifest.
    pub components: Manifest,
}

/// The Tinkerbell stack: services, HookOS and the workflow action images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TinkerbellStackBundle {
    /// Action images used by the default template.
    pub actions: ActionsBundle,
    /// Boots / Smee image.
    pub boots: Image,
    /// Hegel image.
    pub hegel: Image,
    /// The Tinkerbell Helm chart.
    pub tinkerbell_chart: Image,
    /// HookOS artifacts.
    pub hook: HookBundle,
    /// Rufio image.
    pub rufio: Image,
    /// Tink images.
    pub tink: TinkBundle,
    /// Tinkerbell CRDs chart.
    pub tinkerbell_crds: Image,
    /// Stack (nginx) image.
    pub stack: Image,
}

/// Workflow action images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActionsBundle {
    /// `cexec`: run a command in a chroot of the target disk.
    pub cexec: Image,
    /// `kexec`: boot the installed kernel.
    pub kexec: Image,
    /// `image2disk`: stream a disk image onto a disk.
    pub image_to_disk: Image,
    /// `oci2disk`: stream a disk image from an OCI registry.
    pub oci_to_disk: Image,
    /// `writefile`: write a file onto a partition.
    pub write_file: Image,
    /// `reboot`.
    pub reboot: Image,
}

/// Tink images.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TinkBundle {
    /// Tink relay.
    pub tink_relay: Image,
    /// Tink relay init.
    pub tink_relay_init: Image,
    /// Tink controller.
    pub tink_controller: Image,
    /// Tink server.
    pub tink_server: Image,
    /// Tink worker (agent).
    pub tink_worker: Image,
    /// nginx.
    pub nginx: Image,
}

/// HookOS artifacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HookBundle {
    /// Bootkit image.
    pub bootkit: Image,
    /// Docker image.
    pub docker: Image,
    /// Kernel image.
    pub kernel: Image,
    /// Initramfs per architecture.
    pub initramfs: HookArch,
    /// Kernel per architecture.
    pub vmlinuz: HookArch,
    /// ISO per architecture.
    pub iso: HookArch,
}

/// One HookOS file per architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HookArch {
    /// arm64.
    pub arm: Archive,
    /// amd64.
    pub amd: Archive,
}

/// The Tinkerbell provider (CAPT).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TinkerbellBundle {
    /// Version.
    pub version: String,
    /// CAPT controller image.
    #[serde(rename = "clusterAPIController")]
    pub cluster_api_controller: Image,
    /// kube-vip image (the control-plane endpoint's static pod).
    pub kube_vip: Image,
    /// Envoy image.
    pub envoy: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
    /// Cluster template.
    pub cluster_template: Manifest,
    /// The Tinkerbell stack.
    pub tinkerbell_stack: TinkerbellStackBundle,
}

/// HAProxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HaproxyBundle {
    /// HAProxy image.
    pub image: Image,
}

/// The Snow provider (CAPAS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnowBundle {
    /// Version.
    pub version: String,
    /// Controller image.
    pub manager: Image,
    /// kube-vip image.
    pub kube_vip: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
    /// Bottlerocket bootstrap container for Snow.
    pub bottlerocket_bootstrap_snow: Image,
}

/// The Nutanix provider (CAPX).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NutanixBundle {
    /// CAPX controller image.
    #[serde(rename = "clusterAPIController")]
    pub cluster_api_controller: Image,
    /// Cloud provider image.
    pub cloud_provider: Image,
    /// Version.
    pub version: String,
    /// kube-vip image.
    pub kube_vip: Image,
    /// Components manifest.
    pub components: Manifest,
    /// clusterctl metadata.
    pub metadata: Manifest,
    /// Cluster template.
    pub cluster_template: Manifest,
}
