//! # ironbell-bootstrap
//!
//! Node bootstrappers: what a provisioned machine runs on first boot to become a cluster
//! node, rendered as user-data that the metadata service serves to cloud-init.
//!
//! - [`certs`]: the cluster CA, etcd CA, front-proxy CA and service-account key pair as
//!   Cluster API generates them (Secrets `<cluster>-ca|etcd|proxy|sa`), and the
//!   `sha256:<hex>` CA public-key hash kubeadm's discovery pins;
//! - [`token`]: kubeadm bootstrap tokens and their `kube-system` Secret;
//! - [`kubeadm`]: cloud-config user-data for `kubeadm init`, control-plane `join` and
//!   worker `join`, as Cluster API's kubeadm bootstrap provider renders it;
//! - [`bottlerocket`]: the same for Bottlerocket machines, as the settings TOML of EKS
//!   Anywhere's fork (kubeadm runs in the `kubeadm-bootstrap` host container);
//! - [`data`]: the bootstrap data Secret a machine's user-data is stored in;
//! - [`plain`]: cloud-config for a node without Kubernetes that reports in to the metadata
//!   service with cloud-init's `phone_home` module;
//! - [`native`]: cloud-config for a control-plane machine that runs an etcd member and an
//!   ironbell replica (the cluster's own management plane), and the member's certificates.
//!
//! The kubeadm user-data cannot run in this project's tests (no registry it reaches ships
//! Kubernetes binaries): it is checked as data, by `cloud-init schema` (Bottlerocket's TOML
//! by Python's `tomllib`) and golden files.
//! Documents are built as YAML values, not pasted into text templates, so that odd values
//! (a `: ` in an SSH key comment) stay what they are (see `cloud_config`).
//!
//! What it is not: it stores nothing and talks to no network. The caller (the bootstrap
//! data controller) reads and writes the Secrets and the user-data Secret; the metadata
//! service serves the user-data.
//!
//! Start reading at [`kubeadm::user_data`], then [`certs`] and [`plain`].

pub mod bottlerocket;
pub mod certs;
mod cloud_config;
pub mod data;
pub mod kubeadm;
pub mod native;
pub mod plain;
pub mod token;

pub use certs::{CertError, ClusterCertificates, KeyPair, Purpose};
pub use cloud_config::UserDataError;
pub use token::{BootstrapToken, TokenFormatError};
