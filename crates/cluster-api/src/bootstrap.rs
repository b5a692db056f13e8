//! The node-bootstrapper interface: what turns a `KubeadmConfig` into a machine's user-data.
//!
//! The `KubeadmConfig` controller ([`crate::controllers`]) decides the [`Role`] and waits for
//! what the role needs (the cluster's infrastructure and endpoint; for joins, an initialized
//! control plane), then calls [`NodeBootstrapper::bootstrap`] and writes the result to the
//! Secret `<kubeadmconfig-name>` (`data.value`, `data.format`). The implementations
//! (kubeadm cloud-config, plain phone-home) live in `ironbell-bootstrap`.

use crate::kinds::{Cluster, KubeadmConfig, Machine};

/// What a machine does when it first boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `kubeadm init`: the first control-plane machine of the cluster.
    Init,
    /// `kubeadm join --control-plane`: another control-plane machine.
    JoinControlPlane,
    /// `kubeadm join`: a worker.
    JoinWorker,
}

/// Everything a bootstrapper is given.
#[derive(Clone, Copy, Debug)]
pub struct BootstrapInput<'a> {
    /// The machine's `KubeadmConfig` (its spec is the kubeadm configuration).
    pub config: &'a KubeadmConfig,
    /// The machine it is for.
    pub machine: &'a Machine,
    /// The machine's cluster; `spec.controlPlaneEndpoint` is set.
    pub cluster: &'a Cluster,
    /// The machine's role.
    pub role: Role,
}

/// User-data for one machine.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapData {
    /// The text (a cloud-config, Bottlerocket settings, ...). It may hold join tokens: never
    /// logged.
    pub value: String,
    /// Its format, as `KubeadmConfig.spec.format` names them: `cloud-config`, `bottlerocket`...
    pub format: String,
}

impl std::fmt::Debug for BootstrapData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapData")
            .field("format", &self.format)
            .field("bytes", &self.value.len())
            .finish_non_exhaustive()
    }
}

/// A bootstrapper could not make the data.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BootstrapError {
    /// What went wrong.
    pub message: String,
}

impl BootstrapError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Makes a machine's bootstrap data. Called again for the same machine only if the Secret
/// could not be written: implementations may generate (e.g. a join token) each time.
#[async_trait::async_trait]
pub trait NodeBootstrapper: Send + Sync + 'static {
    /// The user-data for `input.machine` in `input.role`.
    async fn bootstrap(&self, input: BootstrapInput<'_>) -> Result<BootstrapData, BootstrapError>;
}
