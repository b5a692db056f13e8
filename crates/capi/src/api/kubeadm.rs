//! The kubeadm control plane and bootstrap kinds: [`KubeadmControlPlane`]
//! (`controlplane.cluster.x-k8s.io/v1beta1`), [`KubeadmConfigTemplate`]
//! (`bootstrap.cluster.x-k8s.io/v1beta1`) and the [`KubeadmConfigSpec`] both embed.
//!
//! The spec includes the fields of EKS Anywhere's fork of the kubeadm bootstrap provider:
//! `format: bottlerocket` with its `pause`, `bottlerocketBootstrap`, `proxy`,
//! `registryMirror`, `bottlerocket` settings and `certBundles` on the cluster and join
//! configurations.

use serde::{Deserialize, Serialize};

use super::{
    BOOTSTRAP_API_VERSION, CONTROL_PLANE_API_VERSION, ObjectMeta, ObjectReference, StringMap, Taint,
};
use ironbell_model::anywhere::{BottlerocketKubernetesSettings, IntOrString};

/// A `KubeadmControlPlane`: the control-plane machines and their kubeadm configuration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlane {
    /// `controlplane.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `KubeadmControlPlane`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The desired control plane.
    pub spec: KubeadmControlPlaneSpec,
}

impl KubeadmControlPlane {
    /// A `KubeadmControlPlane` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: KubeadmControlPlaneSpec) -> Self {
        Self {
            api_version: CONTROL_PLANE_API_VERSION.to_string(),
            kind: "KubeadmControlPlane".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`KubeadmControlPlane`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneSpec {
    /// kubeadm configuration of every control-plane machine.
    pub kubeadm_config_spec: KubeadmConfigSpec,
    /// The provider's machine template for control-plane machines.
    pub machine_template: ControlPlaneMachineTemplate,
    /// Number of control-plane machines.
    pub replicas: i64,
    /// How machines are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// Kubernetes version, e.g. `v1.21.2-eks-1-21-4`.
    pub version: String,
}

/// The machine template of a [`KubeadmControlPlane`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneMachineTemplate {
    /// The provider's machine template.
    pub infrastructure_ref: ObjectReference,
}

impl ControlPlaneMachineTemplate {
    /// The provider's machine template of that API version, kind and name in `eksa-system`.
    pub fn in_eksa_system(api_version: &str, kind: &str, name: impl Into<String>) -> Self {
        Self {
            infrastructure_ref: ObjectReference::new(api_version, kind, name)
                .in_namespace(super::EKSA_SYSTEM_NAMESPACE),
        }
    }
}

/// How a [`KubeadmControlPlane`] replaces machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Surge bound of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<ControlPlaneRollingUpdate>,
    /// `RollingUpdate` or EKS Anywhere's `InPlace`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
}

/// Surge bound of a control-plane rolling update.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneRollingUpdate {
    /// Machines created above the desired count (0 or 1).
    pub max_surge: IntOrString,
}

/// A `KubeadmConfigTemplate`: the kubeadm configuration of a worker group's machines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigTemplate {
    /// `bootstrap.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `KubeadmConfigTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: KubeadmConfigTemplateSpec,
}

impl KubeadmConfigTemplate {
    /// A `KubeadmConfigTemplate` with the given metadata and config.
    pub fn new(metadata: ObjectMeta, config: KubeadmConfigSpec) -> Self {
        Self {
            api_version: BOOTSTRAP_API_VERSION.to_string(),
            kind: "KubeadmConfigTemplate".to_string(),
            metadata,
            spec: KubeadmConfigTemplateSpec {
                template: KubeadmConfigTemplateResource { spec: config },
            },
        }
    }

    /// A worker group's `KubeadmConfigTemplate` of that name in `eksa-system`.
    pub fn in_eksa_system(name: impl Into<String>, config: KubeadmConfigSpec) -> Self {
        Self::new(super::meta(name, super::EKSA_SYSTEM_NAMESPACE), config)
    }
}

/// The spec of a [`KubeadmConfigTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigTemplateSpec {
    /// The template.
    pub template: KubeadmConfigTemplateResource,
}

/// The template resource of a [`KubeadmConfigTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigTemplateResource {
    /// The kubeadm configuration.
    pub spec: KubeadmConfigSpec,
}

/// kubeadm configuration of a machine: what `kubeadm init`/`join` get and what cloud-init
/// (or Bottlerocket) writes before.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigSpec {
    /// kubeadm `ClusterConfiguration` (control plane only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_configuration: Option<ClusterConfiguration>,
    /// kubeadm `InitConfiguration` (control plane only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_configuration: Option<NodeConfiguration>,
    /// kubeadm `JoinConfiguration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_configuration: Option<NodeConfiguration>,
    /// Files written before kubeadm runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<File>>,
    /// NTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Ntp>,
    /// Commands run before kubeadm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_kubeadm_commands: Option<Vec<String>>,
    /// Commands run after kubeadm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_kubeadm_commands: Option<Vec<String>>,
    /// Login users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
    /// `cloud-config` or `bottlerocket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// cloud-init partitions and file systems (a data disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_setup: Option<DiskSetup>,
    /// cloud-init mounts, each `[what, where]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Vec<String>>>,
}

/// cloud-init `disk_setup` and `fs_setup`, as the kubeadm bootstrap provider names them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiskSetup {
    /// File systems to create.
    pub filesystems: Vec<Filesystem>,
    /// Partition tables to write.
    pub partitions: Vec<Partition>,
}

/// A file system cloud-init creates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Filesystem {
    /// Device, e.g. `/dev/vdb1`.
    pub device: String,
    /// Overwrite an existing file system.
    pub overwrite: bool,
    /// Extra `mkfs` options.
    pub extra_opts: Vec<String>,
    /// File system type, e.g. `ext4`.
    pub filesystem: String,
    /// File system label.
    pub label: String,
}

/// A partition table cloud-init writes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Partition {
    /// Device, e.g. `/dev/vdb`.
    pub device: String,
    /// One partition over the whole disk.
    pub layout: bool,
    /// Overwrite an existing table.
    pub overwrite: bool,
    /// `gpt` or `mbr`.
    pub table_type: String,
}

/// kubeadm `ClusterConfiguration`, with EKS Anywhere's Bottlerocket additions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterConfiguration {
    /// Feature gates, e.g. `EtcdLearnerMode: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_gates: Option<std::collections::BTreeMap<String, bool>>,
    /// Registry of the control-plane images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Local or external etcd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd: Option<Etcd>,
    /// CoreDNS image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<ImageMeta>,
    /// Bottlerocket images and host settings.
    #[serde(flatten)]
    pub bottlerocket_node: BottlerocketNode,
    /// API server settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ControlPlaneComponent>,
    /// Controller manager settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<ControlPlaneComponent>,
    /// Scheduler settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<ControlPlaneComponent>,
    /// Where the certificates are (Bottlerocket: `/var/lib/kubeadm/pki`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_dir: Option<String>,
}

/// The Bottlerocket fields EKS Anywhere's fork adds to both the cluster and the join
/// configuration (and CA bundles, which any OS may carry).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketNode {
    /// The pause image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<ImageMeta>,
    /// The bootstrap container image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottlerocket_bootstrap: Option<ImageMeta>,
    /// Proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<BottlerocketProxy>,
    /// Registry mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_mirror: Option<BottlerocketRegistryMirror>,
    /// Host settings (kubernetes, kernel, boot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottlerocket: Option<BottlerocketSettings>,
    /// Trusted CA bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_bundles: Option<Vec<CertBundle>>,
    /// Bootstrap containers run once before kubeadm (join configuration only), e.g.
    /// vSphere's second-network-interface setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottlerocket_custom_bootstrap_containers: Option<Vec<BottlerocketBootstrapContainer>>,
}

/// A Bottlerocket bootstrap container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketBootstrapContainer {
    /// Container name.
    pub name: String,
    /// `once`, `always` or `off`.
    pub mode: String,
    /// Image repository.
    pub image_repository: String,
    /// Image tag.
    pub image_tag: String,
}

/// etcd: local (stacked) or external.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Etcd {
    /// Stacked etcd with its image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalEtcd>,
    /// External etcd endpoints and client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalEtcd>,
}

impl Etcd {
    /// External etcd as EKS Anywhere writes it for cloud-config machines: a placeholder
    /// endpoint (the etcdadm controller fills in the real ones) and the API server's etcd
    /// client certificates under `/etc/kubernetes/pki`.
    pub fn external_placeholder() -> Self {
        Self {
            local: None,
            external: Some(ExternalEtcd {
                endpoints: vec!["https://placeholder:2379".into()],
                ca_file: "/etc/kubernetes/pki/etcd/ca.crt".into(),
                cert_file: "/etc/kubernetes/pki/apiserver-etcd-client.crt".into(),
                key_file: "/etc/kubernetes/pki/apiserver-etcd-client.key".into(),
            }),
        }
    }
}

/// External etcd endpoints and client certificate files.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEtcd {
    /// Endpoints, e.g. `https://placeholder:2379` (the etcdadm controller fills them in).
    pub endpoints: Vec<String>,
    /// CA file.
    pub ca_file: String,
    /// Client certificate file.
    pub cert_file: String,
    /// Client key file.
    pub key_file: String,
}

/// Stacked etcd: its image and extra arguments.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LocalEtcd {
    /// Repository, e.g. `public.ecr.aws/eks-distro/etcd-io`.
    pub image_repository: String,
    /// Tag.
    pub image_tag: String,
    /// Extra etcd arguments (e.g. `cipher-suites`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<StringMap>,
}

impl From<ImageMeta> for LocalEtcd {
    fn from(image: ImageMeta) -> Self {
        Self {
            image_repository: image.image_repository,
            image_tag: image.image_tag,
            extra_args: None,
        }
    }
}

/// An image repository and tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    /// Repository, e.g. `public.ecr.aws/eks-distro/coredns`.
    pub image_repository: String,
    /// Tag.
    pub image_tag: String,
}

/// A control-plane component's settings (API server, controller manager, scheduler).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneComponent {
    /// Extra subject alternative names of the serving certificate (API server only).
    #[serde(default, rename = "certSANs", skip_serializing_if = "Option::is_none")]
    pub cert_sans: Option<Vec<String>>,
    /// Extra environment variables of the static pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_envs: Option<Vec<EnvVar>>,
    /// Extra command-line arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<StringMap>,
    /// Extra host-path volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_volumes: Option<Vec<HostPathMount>>,
}

/// An environment variable.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A host path mounted into a control-plane static pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HostPathMount {
    /// Path on the host.
    pub host_path: String,
    /// Path in the pod.
    pub mount_path: String,
    /// Volume name.
    pub name: String,
    /// `File`, `DirectoryOrCreate`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<String>,
    /// Read-only mount.
    #[serde(default)]
    pub read_only: bool,
}

/// kubeadm `InitConfiguration` or `JoinConfiguration`, with EKS Anywhere's Bottlerocket
/// additions on the join side.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfiguration {
    /// kubeadm patches (used for a full kubelet configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Patches>,
    /// Bottlerocket images and host settings.
    #[serde(flatten)]
    pub bottlerocket_node: BottlerocketNode,
    /// The node's registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_registration: Option<NodeRegistration>,
}

/// kubeadm patches directory.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Patches {
    /// Directory of patch files.
    pub directory: String,
}

/// kubeadm `NodeRegistrationOptions`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeRegistration {
    /// Node name (cloud providers write a cloud-init expression such as
    /// `'{{ ds.meta_data.hostname }}'`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The container runtime socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cri_socket: Option<String>,
    /// Preflight errors to ignore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_preflight_errors: Option<Vec<String>>,
    /// Taints; `Some(vec![])` prints `taints: []` (no taints at all, not kubeadm's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    /// Extra kubelet flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet_extra_args: Option<StringMap>,
}

/// A file written on the machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// Inline content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Content from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_from: Option<FileSource>,
    /// `user:group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Octal mode as a string, e.g. `"0640"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// Absolute path.
    pub path: String,
}

impl File {
    /// A root-owned file with inline content.
    pub fn root(path: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            owner: Some("root:root".to_string()),
            path: path.into(),
            ..Self::default()
        }
    }

    /// The same file with a mode.
    pub fn with_permissions(mut self, mode: &str) -> Self {
        self.permissions = Some(mode.to_string());
        self
    }
}

/// Where a file's content comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileSource {
    /// A key of a secret.
    pub secret: SecretKey,
}

/// A key of a secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKey {
    /// Secret name.
    pub name: String,
    /// Key in the secret's data.
    pub key: String,
}

/// NTP settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ntp {
    /// Turn NTP on.
    pub enabled: bool,
    /// Servers.
    pub servers: Vec<String>,
}

/// A login user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Login name.
    pub name: String,
    /// Whether the password is locked (written only by the providers that set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_password: Option<bool>,
    /// Authorized SSH keys.
    pub ssh_authorized_keys: Vec<String>,
    /// Sudo rule, e.g. `ALL=(ALL) NOPASSWD:ALL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<String>,
}

/// Bottlerocket proxy settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketProxy {
    /// HTTP proxy (etcdadm only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_proxy: Option<String>,
    /// HTTPS proxy.
    pub https_proxy: String,
    /// Hosts and networks not proxied.
    pub no_proxy: Vec<String>,
}

impl BottlerocketProxy {
    /// Both proxies and the exclusions (etcd machines take the HTTP proxy too).
    pub fn with_http(http_proxy: &str, https_proxy: &str, no_proxy: &[String]) -> Self {
        Self {
            http_proxy: Some(http_proxy.to_string()),
            https_proxy: https_proxy.to_string(),
            no_proxy: no_proxy.to_vec(),
        }
    }
}

/// Bottlerocket registry mirror.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketRegistryMirror {
    /// The mirror endpoint for public.ecr.aws (not written when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// The mirror's CA certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Per-registry mirrors, when there is no single public.ecr.aws endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrors: Option<Vec<BottlerocketMirror>>,
}

/// One registry's mirrors (Bottlerocket).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketMirror {
    /// The upstream registry, e.g. `docker.io`.
    pub registry: String,
    /// Its mirror endpoints.
    pub endpoints: Vec<String>,
}

/// Bottlerocket host settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketSettings {
    /// Kubelet settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<BottlerocketKubernetesSettings>,
    /// Kernel settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<BottlerocketKernel>,
    /// Boot settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BottlerocketBoot>,
}

/// Bottlerocket kernel settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketKernel {
    /// sysctl keys and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysctl_settings: Option<StringMap>,
}

/// Bottlerocket boot settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BottlerocketBoot {
    /// Kernel parameters, each with its values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_kernel_parameters: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// A named CA bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertBundle {
    /// Bundle name.
    pub name: String,
    /// PEM data.
    pub data: String,
}
