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
