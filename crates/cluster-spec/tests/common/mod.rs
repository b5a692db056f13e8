//! Shared test support: the EKS Anywhere v0.24.6 conformance files beside the repository.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/conformance/eks-anywhere-v0.24.6` beside the repository.
pub fn eks_anywhere_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eks-anywhere-v0.24.6");
    assert!(
        dir.is_dir(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        dir.display()
    );
    dir
}

/// The testdata directory of a provider.
pub fn testdata(provider: &str) -> PathBuf {
    eks_anywhere_dir()
        .join("pkg/providers")
        .join(provider)
        .join("testdata")
}

/// Every `cluster_*.yaml` and `eksa-cluster-*.yaml` of every provider's testdata, sorted.
pub fn spec_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for provider in [
        "cloudstack",
        "docker",
        "nutanix",
        "snow",
        "tinkerbell",
        "vsphere",
    ] {
        let dir = testdata(provider);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        files.extend(
            entries
                .map(|e| e.expect("directory entry").path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        (n.starts_with("cluster_") || n.starts_with("eksa-cluster"))
                            && n.ends_with(".yaml")
                    })
                }),
        );
    }
    files.sort();
    files
}

/// The file name of a path, for messages.
pub fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
}
