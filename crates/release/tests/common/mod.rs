//! Locating EKS Anywhere's test data in `../shared/conformance` beside the repository.

use std::path::PathBuf;

/// EKS-A v0.24.6's `internal/test/` directory: the base of its `embed:///` URLs.
pub fn eksa_internal_test() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eks-anywhere-v0.24.6/internal/test");
    assert!(
        dir.join("testdata/bundles.yaml").is_file(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        dir.display()
    );
    dir
}

/// Checks the three repositories and tags a distro from `public.ecr.aws/eks-distro` gives:
/// Kubernetes, CoreDNS and etcd.
pub fn assert_eks_distro_tags(
    d: &ironbell_release::KubeDistro,
    kubernetes: &str,
    coredns: &str,
    etcd: &str,
) {
    let repo = |name: &str| format!("public.ecr.aws/eks-distro/{name}");
    let got = [&d.kubernetes, &d.core_dns, &d.etcd].map(|r| (r.repository.clone(), r.tag.clone()));
    let want = [
        (repo("kubernetes"), kubernetes.to_string()),
        (repo("coredns"), coredns.to_string()),
        (repo("etcd-io"), etcd.to_string()),
    ];
    assert_eq!(got, want);
}
