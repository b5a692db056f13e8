//! # ironbell-bootstrap
//!
//! Node bootstrappers: what a provisioned machine runs on first boot to become a cluster
//! node, rendered as user-data that the metadata service serves to cloud-init.
//!
//! - [`certs`]: the cluster CA, etcd CA, front-proxy CA and service-account key pair as
//!   Cluster API generates them (Secrets `<cluster>-ca|etcd|proxy|sa`), and the
//!   `sha256:<hex>` CA public-key hash kubeadm's discovery pins;
//! - [`token`]: kubeadm bootstrap tokens and their `kube-system` Secret.
//!
//! What it is not: it stores nothing and talks to no network. The caller (the bootstrap
//! data controller) reads and writes the Secrets and the user-data Secret; the metadata
//! service serves the user-data.
//!
//! Start reading at [`certs`].

pub mod certs;
pub mod token;

pub use certs::{CertError, ClusterCertificates, KeyPair, Purpose};
pub use token::{BootstrapToken, TokenFormatError};
