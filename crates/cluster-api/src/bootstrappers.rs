//! The node bootstrappers of `ironbell-bootstrap` behind [`NodeBootstrapper`], reading and
//! writing what they need in the plane's store.
//!
//! - [`PlainBootstrapper`]: a node with no Kubernetes whose installed OS reports in to the
//!   metadata service (cloud-init's `phone_home`); the metadata service then writes the
//!   `v1 Node` the Machine controller waits for. What the lab runs end to end.
//! - [`KubeadmBootstrapper`]: EKS Anywhere's kubeadm user-data (cloud-config, or
//!   Bottlerocket settings when the spec's `format` says so). The cluster's certificate
//!   authorities are generated once per cluster and kept as the Secrets Cluster API names
//!   (`<cluster>-ca`, `-etcd`, `-proxy`, `-sa`) in the cluster's namespace, so every machine
//!   of a cluster trusts the same CA. This user-data cannot run on the machines here (no
//!   Kubernetes binaries are reachable): it is rendered and checked as data. The join token
//!   it carries would be written to the workload cluster's `kube-system` by Cluster API;
//!   there is no workload cluster API here, so it is only rendered.

use ironbell_bootstrap::kubeadm::{self, ClusterInfo};
use ironbell_bootstrap::native;
use ironbell_bootstrap::plain::{self, PlainConfig};
use ironbell_bootstrap::{BootstrapToken, ClusterCertificates, Purpose, bottlerocket};
use ironbell_model::Resource;
use ironbell_model::corev1::Secret;
use ironbell_store::{SharedStore, api};

use crate::bootstrap::{BootstrapData, BootstrapError, BootstrapInput, NodeBootstrapper, Role};

/// The `plain` node bootstrapper: a cloud-config that sets up users and NTP and phones home
/// to `phone_home_url` (see [`plain::phone_home_url`]).
#[derive(Clone, Debug)]
pub struct PlainBootstrapper {
    phone_home_url: String,
}

impl PlainBootstrapper {
    /// Posting to `phone_home_url`, e.g. `http://10.0.0.1:50061/phone-home`.
    pub fn new(phone_home_url: impl Into<String>) -> Self {
        Self {
            phone_home_url: phone_home_url.into(),
        }
    }
}

#[async_trait::async_trait]
impl NodeBootstrapper for PlainBootstrapper {
    async fn bootstrap(&self, input: BootstrapInput<'_>) -> Result<BootstrapData, BootstrapError> {
        let config = PlainConfig::from_spec(&input.config.spec, None, self.phone_home_url.clone());
        let value = plain::user_data(&config).map_err(|e| failed(&input, &e))?;
        Ok(BootstrapData {
            value,
            format: "cloud-config".into(),
        })
    }
}

/// The `kubeadm` node bootstrapper (see the module docs).
#[derive(Clone)]
pub struct KubeadmBootstrapper {
    store: SharedStore,
}

impl std::fmt::Debug for KubeadmBootstrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeadmBootstrapper")
            .finish_non_exhaustive()
    }
}

impl KubeadmBootstrapper {
    /// Keeping the clusters' certificates in `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// The cluster's certificate authorities ([`cluster_certificates`]).
    pub async fn certificates(
        &self,
        namespace: &str,
        cluster: &str,
    ) -> Result<ClusterCertificates, String> {
        cluster_certificates(&self.store, namespace, cluster).await
    }

    /// The Secrets the spec's `files[].contentFrom` name, from the config's namespace.
    async fn file_secrets(&self, input: &BootstrapInput<'_>) -> Result<Vec<Secret>, String> {
        let namespace = input.config.namespace();
        let mut names: Vec<&str> = input
            .config
            .spec
            .files
            .iter()
            .flatten()
            .filter_map(|f| f.content_from.as_ref())
            .map(|c| c.secret.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let secrets = api::<Secret>(&self.store);
        let mut found = Vec::new();
        for name in names {
            match secrets.get(namespace, name).await {
                Ok(s) => found.push(s),
                // The renderer names the file and the missing Secret.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("reading Secret {namespace}/{name}: {e}")),
            }
        }
        Ok(found)
    }
}

#[async_trait::async_trait]
impl NodeBootstrapper for KubeadmBootstrapper {
    async fn bootstrap(&self, input: BootstrapInput<'_>) -> Result<BootstrapData, BootstrapError> {
        let cluster = input.cluster;
        let certs = self
            .certificates(cluster.namespace(), cluster.name())
            .await
            .map_err(|e| failed(&input, &e))?;
        let secrets = self
            .file_secrets(&input)
            .await
            .map_err(|e| failed(&input, &e))?;
        let info = cluster_info(&input)?;
        let token = BootstrapToken::generate();
        let hashes;
        let role = match input.role {
            Role::Init => kubeadm::Role::Init { certs: &certs },
            Role::JoinControlPlane => kubeadm::Role::JoinControlPlane {
                certs: &certs,
                token: &token,
            },
            Role::JoinWorker => {
                hashes = certs.ca_cert_hashes().map_err(|e| failed(&input, &e))?;
                kubeadm::Role::JoinWorker {
                    ca_cert_hashes: &hashes,
                    token: &token,
                }
            }
        };
        let spec = &input.config.spec;
        let (value, format) = if spec.format.as_deref() == Some("bottlerocket") {
            let hostname = Some(input.machine.name());
            let value = bottlerocket::user_data(spec, &info, role, &secrets, hostname)
                .map_err(|e| failed(&input, &e))?;
            (value, "bottlerocket")
        } else {
            let value =
                kubeadm::user_data(spec, &info, role, &secrets).map_err(|e| failed(&input, &e))?;
            (value, "cloud-config")
        };
        Ok(BootstrapData {
            value,
            format: format.into(),
        })
    }
}

/// The cluster's certificate authorities: read from its Secrets, or generated and written
/// when it has none yet. Two machines racing both write; the first write of each Secret
/// wins and both then read the same ones back.
pub async fn cluster_certificates(
    store: &SharedStore,
    namespace: &str,
    cluster: &str,
) -> Result<ClusterCertificates, String> {
    let secrets = api::<Secret>(store);
    if let Ok(certs) = stored_certificates(store, namespace, cluster).await {
        return Ok(certs);
    }
    let fresh =
        ClusterCertificates::generate(ironbell_model::values::now()).map_err(|e| e.to_string())?;
    for secret in fresh.to_secrets(namespace, cluster) {
        match secrets.create(&secret).await {
            Ok(_) => {}
            Err(ironbell_store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(format!("writing Secret {namespace}/{}: {e}", secret.name())),
        }
    }
    stored_certificates(store, namespace, cluster).await
}

async fn stored_certificates(
    store: &SharedStore,
    namespace: &str,
    cluster: &str,
) -> Result<ClusterCertificates, String> {
    let secrets = api::<Secret>(store);
    let mut found = Vec::new();
    for purpose in Purpose::ALL {
        let name = purpose.secret_name(cluster);
        match secrets.get(namespace, &name).await {
            Ok(s) => found.push(s),
            Err(e) => return Err(format!("reading Secret {namespace}/{name}: {e}")),
        }
    }
    ClusterCertificates::from_secrets(cluster, &found).map_err(|e| e.to_string())
}

/// The `native` node bootstrapper: control-plane machines run an etcd member and an
/// ironbell replica (`ironbell_bootstrap::native`), so that they become the cluster's
/// management plane; workers get the `plain` user-data. The first control-plane machine
/// starts a new etcd cluster; the others join the control-plane machines of the cluster
/// that have an address (`Machine.status.addresses`), which Cluster API's control plane
/// makes them wait for (it adds machines once the first is available). The etcd CA is the
/// cluster's (`<cluster>-etcd`), shared with the kubeadm bootstrapper's certificates.
#[derive(Clone)]
pub struct NativeBootstrapper {
    store: SharedStore,
    phone_home_url: String,
    serve_args: Vec<String>,
}

impl std::fmt::Debug for NativeBootstrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeBootstrapper")
            .field("phone_home_url", &self.phone_home_url)
            .field("serve_args", &self.serve_args)
            .finish_non_exhaustive()
    }
}

impl NativeBootstrapper {
    /// Keeping the clusters' certificates in `store`; every machine posts its phone-home
    /// to `phone_home_url`, and a control-plane machine's replica runs `serve all` with
    /// `serve_args` (its ports, its node bootstrapper).
    pub fn new(
        store: SharedStore,
        phone_home_url: impl Into<String>,
        serve_args: Vec<String>,
    ) -> Self {
        Self {
            store,
            phone_home_url: phone_home_url.into(),
            serve_args,
        }
    }

    /// The etcd client URLs of the cluster's control-plane machines other than `input`'s
    /// that have an address.
    async fn members(&self, input: &BootstrapInput<'_>) -> Result<Vec<String>, String> {
        let cluster = input.cluster;
        let found = crate::objects::control_plane_addresses(
            &self.store,
            cluster.namespace(),
            cluster.name(),
        )
        .await
        .map_err(|e| format!("listing the control-plane machines: {e}"))?;
        Ok(found
            .into_iter()
            .filter(|(machine, _)| machine != input.machine.name())
            .map(|(_, address)| format!("https://{address}:{}", native::CLIENT_PORT))
            .collect())
    }
}

#[async_trait::async_trait]
impl NodeBootstrapper for NativeBootstrapper {
    async fn bootstrap(&self, input: BootstrapInput<'_>) -> Result<BootstrapData, BootstrapError> {
        let spec = &input.config.spec;
        let join = match input.role {
            Role::JoinWorker => {
                let config = PlainConfig::from_spec(spec, None, self.phone_home_url.clone());
                let value = plain::user_data(&config).map_err(|e| failed(&input, &e))?;
                return Ok(BootstrapData {
                    value,
                    format: "cloud-config".into(),
                });
            }
            Role::Init => Vec::new(),
            Role::JoinControlPlane => {
                let join = self.members(&input).await.map_err(|e| failed(&input, &e))?;
                if join.is_empty() {
                    return Err(failed(
                        &input,
                        &"no other control-plane machine of the cluster has an address yet to join",
                    ));
                }
                join
            }
        };
        let cluster = input.cluster;
        let certs = cluster_certificates(&self.store, cluster.namespace(), cluster.name())
            .await
            .map_err(|e| failed(&input, &e))?;
        let mut config = native::NodeConfig::new(cluster.name(), &certs.etcd_ca, join);
        config.name = Some(input.machine.name().to_string());
        config.serve_args = self.serve_args.clone();
        let mut u = native::NativeUserData::new(config, self.phone_home_url.clone());
        u.users = spec.users.clone().unwrap_or_default();
        u.ntp = spec.ntp.clone();
        let value = native::user_data(&u).map_err(|e| failed(&input, &e))?;
        Ok(BootstrapData {
            value,
            format: "cloud-config".into(),
        })
    }
}

/// What the user-data needs of the Cluster and the Machine.
fn cluster_info(input: &BootstrapInput<'_>) -> Result<ClusterInfo, BootstrapError> {
    let spec = &input.cluster.spec;
    let endpoint = spec
        .control_plane_endpoint
        .as_ref()
        .filter(|e| !e.host.is_empty())
        .ok_or_else(|| failed(input, &"the Cluster has no spec.controlPlaneEndpoint yet"))?;
    let version = input
        .machine
        .spec
        .version
        .clone()
        .ok_or_else(|| failed(input, &"the Machine has no spec.version"))?;
    let network = spec.cluster_network.as_ref();
    let blocks = |r: Option<&ironbell_capi::api::cluster::NetworkRanges>| {
        r.map(|r| r.cidr_blocks.clone()).unwrap_or_default()
    };
    Ok(ClusterInfo {
        name: input.cluster.name().to_string(),
        control_plane_endpoint: format!("{}:{}", endpoint.host, endpoint.port),
        kubernetes_version: version,
        pod_cidrs: blocks(network.and_then(|n| n.pods.as_ref())),
        service_cidrs: blocks(network.and_then(|n| n.services.as_ref())),
        dns_domain: network.and_then(|n| n.service_domain.clone()),
    })
}

/// A bootstrap error naming the KubeadmConfig.
fn failed(input: &BootstrapInput<'_>, e: &dyn std::fmt::Display) -> BootstrapError {
    BootstrapError::new(format!(
        "KubeadmConfig {}/{}: {e}",
        input.config.namespace(),
        input.config.name()
    ))
}
