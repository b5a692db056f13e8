//! The release data ironbell ships: EKS Anywhere v0.24.6's Bundles (Kubernetes 1.28 to
//! 1.34) and the EKS-D releases they name, embedded in the binary.
//!
//! Used when no Bundles file is given. It is a reconstruction from public sources (the
//! header of `data/bundles-v0.24.6.yaml` says how each value was established), not EKS-A's
//! file: production users should pass EKS-A's own Bundles for their release. The EKS-D
//! manifests are reduced to the assets ironbell reads and also serve the `https://` URLs of
//! a real EKS-A v0.24.6 Bundles file, so that one resolves offline.

use crate::{Bundles, Error};

/// The EKS-A version of the shipped Bundles.
pub const EKSA_VERSION: &str = "v0.24.6";

/// The Kubernetes versions the shipped Bundles cover.
pub const KUBE_VERSIONS: [&str; 7] = ["1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34"];

const BUNDLES: &str = include_str!("../data/bundles-v0.24.6.yaml");

/// `(manifest URL, text)` of each shipped EKS-D release.
const EKSD: [(&str, &str); 7] = [
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-28/kubernetes-1-28-eks-66.yaml",
        include_str!("../data/eksd/kubernetes-1-28-eks-66.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-60.yaml",
        include_str!("../data/eksd/kubernetes-1-29-eks-60.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-30/kubernetes-1-30-eks-54.yaml",
        include_str!("../data/eksd/kubernetes-1-30-eks-54.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-31/kubernetes-1-31-eks-43.yaml",
        include_str!("../data/eksd/kubernetes-1-31-eks-43.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-32/kubernetes-1-32-eks-36.yaml",
        include_str!("../data/eksd/kubernetes-1-32-eks-36.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-33/kubernetes-1-33-eks-26.yaml",
        include_str!("../data/eksd/kubernetes-1-33-eks-26.yaml"),
    ),
    (
        "https://distro.eks.amazonaws.com/kubernetes-1-34/kubernetes-1-34-eks-17.yaml",
        include_str!("../data/eksd/kubernetes-1-34-eks-17.yaml"),
    ),
];

/// The shipped Bundles.
pub fn bundles() -> Result<Bundles, Error> {
    Bundles::from_yaml(BUNDLES, "ironbell's shipped bundles (EKS-A v0.24.6)")
}

/// The shipped text of the EKS-D release at `url`, if ironbell ships it.
pub fn eksd_manifest(url: &str) -> Option<&'static str> {
    EKSD.iter().find(|(u, _)| *u == url).map(|(_, text)| *text)
}
