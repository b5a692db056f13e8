//! The `kubeadm` bootstrapper: cloud-config user-data for Ubuntu and RHEL machines that
//! run `kubeadm init` or `kubeadm join`, as Cluster API's kubeadm bootstrap provider renders
//! it from a `KubeadmConfigSpec` (`bootstrap/kubeadm/pkg/cloudinit`).
//!
//! The document starts with `## template: jinja` and `#cloud-config` and holds, in order:
//!
//! - `write_files`: for the first control-plane machine and control-plane joins, the
//!   cluster's CAs and service-account keys ([`ClusterCertificates::files`]); then the spec's
//!   `files` (a `contentFrom` is read from the Secrets given); then the kubeadm configuration
//!   (`/run/kubeadm/kubeadm.yaml` with `ClusterConfiguration` and `InitConfiguration`, or
//!   `/run/kubeadm/kubeadm-join-config.yaml` with `JoinConfiguration`), `0640`; then
//!   `/run/cluster-api/placeholder`, which creates the sentinel's directory;
//! - `runcmd`: `preKubeadmCommands`, `kubeadm init|join --config ... && echo success >
//!   /run/cluster-api/bootstrap-success.complete` (the sentinel Cluster API's providers look
//!   for), `postKubeadmCommands`;
//! - `ntp`, `users`, `disk_setup`, `fs_setup`, `mounts` from the spec.
//!
//! The kubeadm configurations are `kubeadm.k8s.io/v1beta3`, the spec's own, with what CAPI
//! adds from the Cluster and Machine: `clusterName`, `controlPlaneEndpoint`,
//! `kubernetesVersion`, `networking`; a join's `discovery.bootstrapToken` (API server
//! endpoint, token, `caCertHashes`) and, for a control-plane join, `controlPlane`. EKS
//! Anywhere's Bottlerocket fields are dropped from them (kubeadm does not know them).
//! `PROVIDER_ID` in `kubeletExtraArgs` is left as it is: the infrastructure provider
//! replaces it with the machine's provider id when it hands the user-data to the Hardware.
//!
//! `format: bottlerocket` is rendered by [`crate::bottlerocket`]; [`user_data`] refuses it
//! ([`UserDataError::Unsupported`]).

use ironbell_capi::api::kubeadm::{File, KubeadmConfigSpec, NodeConfiguration};
use ironbell_model::corev1::Secret;
use serde_json::{Map, Value as Json, json};
use serde_yaml_ng::Value;

use crate::certs::{ClusterCertificates, DEFAULT_CERTIFICATES_DIR};
use crate::cloud_config::{CloudConfig, UserDataError, s};
use crate::token::BootstrapToken;

/// The header CAPI's user-data starts with: cloud-init renders it as a Jinja template.
pub const HEADER: &str = "## template: jinja\n#cloud-config\n";
/// The kubeadm API version of the configurations written.
pub const KUBEADM_API_VERSION: &str = "kubeadm.k8s.io/v1beta3";
/// Where `kubeadm init` reads its configuration.
pub const INIT_CONFIG_PATH: &str = "/run/kubeadm/kubeadm.yaml";
/// Where `kubeadm join` reads its configuration.
pub const JOIN_CONFIG_PATH: &str = "/run/kubeadm/kubeadm-join-config.yaml";
/// The file whose presence says kubeadm finished.
pub const SENTINEL_PATH: &str = "/run/cluster-api/bootstrap-success.complete";
/// The command that writes [`SENTINEL_PATH`].
pub const SENTINEL_COMMAND: &str = "echo success > /run/cluster-api/bootstrap-success.complete";
/// The file written to create `/run/cluster-api`.
pub const PLACEHOLDER_PATH: &str = "/run/cluster-api/placeholder";
const PLACEHOLDER_CONTENT: &str = "This placeholder file is used to create the /run/cluster-api sub directory in a way that is compatible with both Linux and Windows (mkdir -p /run/cluster-api does not work with Windows)";
/// The fields EKS Anywhere's fork adds to kubeadm's configurations for Bottlerocket.
const BOTTLEROCKET_FIELDS: [&str; 7] = [
    "pause",
    "bottlerocketBootstrap",
    "proxy",
    "registryMirror",
    "bottlerocket",
    "certBundles",
    "bottlerocketCustomBootstrapContainers",
];

/// What the user-data needs from the Cluster and the Machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster's name (`clusterName`).
    pub name: String,
    /// The control-plane endpoint, `host:port`.
    pub control_plane_endpoint: String,
    /// The machine's Kubernetes version, e.g. `v1.31.2-eks-1-31-7`.
    pub kubernetes_version: String,
    /// Pod CIDR blocks (`networking.podSubnet`, comma separated).
    pub pod_cidrs: Vec<String>,
    /// Service CIDR blocks (`networking.serviceSubnet`).
    pub service_cidrs: Vec<String>,
    /// The service domain (`networking.dnsDomain`), e.g. `cluster.local`.
    pub dns_domain: Option<String>,
}

/// Which kubeadm command the machine runs.
#[derive(Debug, Clone, Copy)]
pub enum Role<'a> {
    /// The first control-plane machine: `kubeadm init` with the cluster's certificates.
    Init {
        /// The cluster's CAs and service-account keys.
        certs: &'a ClusterCertificates,
    },
    /// Another control-plane machine: `kubeadm join --control-plane`, carrying the
    /// certificates.
    JoinControlPlane {
        /// The cluster's CAs and service-account keys.
        certs: &'a ClusterCertificates,
        /// The join token.
        token: &'a BootstrapToken,
    },
    /// A worker: `kubeadm join`, trusting the CA whose public-key hashes are given.
    JoinWorker {
        /// `caCertHashes` (see [`ClusterCertificates::ca_cert_hashes`]).
        ca_cert_hashes: &'a [String],
        /// The join token.
        token: &'a BootstrapToken,
    },
}

/// What a machine in `role` writes before kubeadm runs, whatever the OS: the certificates
/// (control plane) then the spec's files, and the kubeadm configuration text with the
/// command that reads it from `config_path`.
pub(crate) struct KubeadmParts {
    /// Certificates then the spec's `files`.
    pub(crate) files: Vec<File>,
    /// The kubeadm configuration (`---`-separated documents).
    pub(crate) config: String,
    /// `init` or `join`.
    pub(crate) verb: &'static str,
}

pub(crate) fn kubeadm_parts(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
    role: Role<'_>,
) -> Result<KubeadmParts, UserDataError> {
    let cluster_config = spec.cluster_configuration.as_ref();
    let external_etcd = cluster_config
        .and_then(|c| c.etcd.as_ref())
        .is_some_and(|e| e.external.is_some());
    let certs_dir = cluster_config
        .and_then(|c| c.certificates_dir.as_deref())
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_CERTIFICATES_DIR);

    let mut files: Vec<File> = match role {
        Role::Init { certs } | Role::JoinControlPlane { certs, .. } => {
            certs.files(certs_dir, !external_etcd)
        }
        Role::JoinWorker { .. } => Vec::new(),
    };
    files.extend(spec.files.iter().flatten().cloned());
    let join = |hashes: &[String], token, control_plane| -> Result<String, UserDataError> {
        let config = join_configuration(spec, cluster, token, hashes, control_plane)?;
        Ok(format!("---\n{}", to_yaml(&config, "JoinConfiguration")?))
    };
    let (config, verb) = match role {
        Role::Init { .. } => (
            format!(
                "---\n{}---\n{}",
                to_yaml(
                    &cluster_configuration(spec, cluster)?,
                    "ClusterConfiguration"
                )?,
                to_yaml(&init_configuration(spec)?, "InitConfiguration")?
            ),
            "init",
        ),
        Role::JoinControlPlane { certs, token } => {
            (join(&certs.ca_cert_hashes()?, token, true)?, "join")
        }
        Role::JoinWorker {
            ca_cert_hashes,
            token,
        } => (join(ca_cert_hashes, token, false)?, "join"),
    };
    Ok(KubeadmParts {
        files,
        config,
        verb,
    })
}

/// The cloud-config user-data of a machine in `role`, from its `KubeadmConfigSpec`.
/// `secrets` holds what the spec's `files[].contentFrom` name.
pub fn user_data(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
    role: Role<'_>,
    secrets: &[Secret],
) -> Result<String, UserDataError> {
    if let Some(format) = spec.format.as_deref().filter(|f| *f != "cloud-config") {
        return Err(UserDataError::Unsupported(format!(
            "format {format:?}: this is the cloud-config renderer (bottlerocket: see crate::bottlerocket)"
        )));
    }
    let KubeadmParts {
        mut files,
        config,
        verb,
    } = kubeadm_parts(spec, cluster, role)?;
    let config_path = if verb == "init" {
        INIT_CONFIG_PATH
    } else {
        JOIN_CONFIG_PATH
    };
    let command = format!("kubeadm {verb} --config {config_path} && {SENTINEL_COMMAND}");
    files.push(File::root(config_path, config).with_permissions("0640"));
    files.push(File::root(PLACEHOLDER_PATH, PLACEHOLDER_CONTENT).with_permissions("0640"));

    let mut doc = CloudConfig::default();
    doc.write_files(&files, secrets)?;
    let runcmd = spec
        .pre_kubeadm_commands
        .iter()
        .flatten()
        .map(|c| s(c))
        .chain([s(&command)])
        .chain(spec.post_kubeadm_commands.iter().flatten().map(|c| s(c)))
        .collect();
    doc.set("runcmd", Value::Sequence(runcmd));
    doc.ntp(spec.ntp.as_ref());
    doc.users(spec.users.as_deref().unwrap_or_default());
    doc.disks(spec.disk_setup.as_ref(), spec.mounts.as_deref());
    doc.render(HEADER)
}

fn serialize_err(what: &'static str) -> impl Fn(serde_json::Error) -> UserDataError {
    move |e| UserDataError::Serialize {
        what,
        reason: e.to_string(),
    }
}

fn to_yaml(value: &Json, what: &'static str) -> Result<String, UserDataError> {
    serde_yaml_ng::to_string(value).map_err(|e| UserDataError::Serialize {
        what,
        reason: e.to_string(),
    })
}

/// A kubeadm object: `apiVersion`, `kind`, then the fields of `from` without EKS
/// Anywhere's Bottlerocket additions.
fn kubeadm_object(kind: &str, from: Json) -> Map<String, Json> {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(KUBEADM_API_VERSION));
    out.insert("kind".into(), json!(kind));
    if let Json::Object(fields) = from {
        out.extend(
            fields
                .into_iter()
                .filter(|(k, _)| !BOTTLEROCKET_FIELDS.contains(&k.as_str())),
        );
    }
    out
}

fn cluster_configuration(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
) -> Result<Json, UserDataError> {
    let from = serde_json::to_value(&spec.cluster_configuration)
        .map_err(serialize_err("ClusterConfiguration"))?;
    let mut out = kubeadm_object("ClusterConfiguration", from);
    out.insert("clusterName".into(), json!(cluster.name));
    out.insert(
        "controlPlaneEndpoint".into(),
        json!(cluster.control_plane_endpoint),
    );
    out.insert(
        "kubernetesVersion".into(),
        json!(cluster.kubernetes_version),
    );
    let mut networking = Map::new();
    if let Some(domain) = cluster.dns_domain.as_deref().filter(|d| !d.is_empty()) {
        networking.insert("dnsDomain".into(), json!(domain));
    }
    if !cluster.pod_cidrs.is_empty() {
        networking.insert("podSubnet".into(), json!(cluster.pod_cidrs.join(",")));
    }
    if !cluster.service_cidrs.is_empty() {
        networking.insert(
            "serviceSubnet".into(),
            json!(cluster.service_cidrs.join(",")),
        );
    }
    out.insert("networking".into(), Json::Object(networking));
    Ok(Json::Object(out))
}

fn node_configuration(
    kind: &'static str,
    config: Option<&NodeConfiguration>,
) -> Result<Map<String, Json>, UserDataError> {
    let from = serde_json::to_value(config).map_err(serialize_err(kind))?;
    Ok(kubeadm_object(kind, from))
}

fn init_configuration(spec: &KubeadmConfigSpec) -> Result<Json, UserDataError> {
    let mut out = node_configuration("InitConfiguration", spec.init_configuration.as_ref())?;
    out.insert("localAPIEndpoint".into(), json!({}));
    Ok(Json::Object(out))
}

fn join_configuration(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
    token: &BootstrapToken,
    ca_cert_hashes: &[String],
    control_plane: bool,
) -> Result<Json, UserDataError> {
    let mut out = node_configuration("JoinConfiguration", spec.join_configuration.as_ref())?;
    let mut discovery = Map::new();
    discovery.insert(
        "apiServerEndpoint".into(),
        json!(cluster.control_plane_endpoint),
    );
    if !ca_cert_hashes.is_empty() {
        discovery.insert("caCertHashes".into(), json!(ca_cert_hashes));
    }
    discovery.insert("token".into(), json!(token.expose()));
    out.insert(
        "discovery".into(),
        json!({ "bootstrapToken": Json::Object(discovery) }),
    );
    if control_plane {
        out.insert("controlPlane".into(), json!({ "localAPIEndpoint": {} }));
    }
    Ok(Json::Object(out))
}
