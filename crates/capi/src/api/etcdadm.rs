//! `etcdcluster.cluster.x-k8s.io/v1beta1` [`EtcdadmCluster`]: an external etcd cluster run
//! by the etcdadm controller.

use serde::{Deserialize, Serialize};

use super::kubeadm::{
    BottlerocketBoot, BottlerocketKernel, BottlerocketProxy, BottlerocketRegistryMirror,
    CertBundle, Ntp, User,
};
use super::{ETCDADM_API_VERSION, ObjectMeta, ObjectReference};

/// An `EtcdadmCluster`: external etcd machines and how they are configured.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EtcdadmCluster {
    /// `etcdcluster.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `EtcdadmCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The desired etcd cluster.
    pub spec: EtcdadmClusterSpec,
}

impl EtcdadmCluster {
    /// An `EtcdadmCluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: EtcdadmClusterSpec) -> Self {
        Self {
            api_version: ETCDADM_API_VERSION.to_string(),
            kind: "EtcdadmCluster".to_string(),
            metadata,
            spec,
        }
    }
}

impl EtcdadmCluster {
    /// The external etcd cluster of an EKS Anywhere cluster: `<cluster>-etcd` in
    /// `eksa-system`, its machines from the provider's template.
    pub fn for_eksa(
        cluster: &str,
        replicas: i64,
        etcdadm_config_spec: EtcdadmConfigSpec,
        infrastructure_template: ObjectReference,
    ) -> Self {
        Self::new(
            super::meta(format!("{cluster}-etcd"), super::EKSA_SYSTEM_NAMESPACE),
            EtcdadmClusterSpec {
                replicas,
                etcdadm_config_spec,
                infrastructure_template,
            },
        )
    }
}

/// The spec of an [`EtcdadmCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EtcdadmClusterSpec {
    /// Number of etcd machines.
    pub replicas: i64,
    /// etcdadm configuration.
    pub etcdadm_config_spec: EtcdadmConfigSpec,
    /// The provider's machine template for etcd machines.
    pub infrastructure_template: ObjectReference,
}

/// etcdadm configuration of an etcd machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EtcdadmConfigSpec {
    /// Use etcdadm's built-in installer.
    pub etcdadm_builtin: bool,
    /// `cloud-config` or `bottlerocket`; not written when empty (the Docker provider's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub format: String,
    /// Bottlerocket images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottlerocket_config: Option<EtcdBottlerocketConfig>,
    /// cloud-init install settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init_config: Option<EtcdCloudInitConfig>,
    /// Commands that install etcdadm (a non-built-in install).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcdadm_install_commands: Option<Vec<String>>,
    /// Commands run before etcdadm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_etcdadm_commands: Option<Vec<String>>,
    /// TLS cipher suites, comma separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<String>,
    /// Login users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
    /// Proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<BottlerocketProxy>,
    /// Registry mirror.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_mirror: Option<BottlerocketRegistryMirror>,
    /// NTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Ntp>,
    /// Trusted CA bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_bundles: Option<Vec<CertBundle>>,
}

/// Bottlerocket images of an etcd machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EtcdBottlerocketConfig {
    /// etcd image.
    pub etcd_image: String,
    /// Bootstrap container image.
    pub bootstrap_image: String,
    /// Pause image.
    pub pause_image: String,
    /// Kernel boot parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BottlerocketBoot>,
    /// Kernel sysctl settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<BottlerocketKernel>,
}

/// cloud-init install settings of an etcd machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EtcdCloudInitConfig {
    /// etcd version, e.g. `3.4.16`.
    pub version: String,
    /// Where the binaries go; not written when empty (the Docker provider's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub install_dir: String,
    /// Where the etcd release tarball is downloaded from.
    #[serde(
        default,
        rename = "etcdReleaseURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub etcd_release_url: Option<String>,
}
