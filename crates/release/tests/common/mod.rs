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

/// The text of a file under `internal/test/testdata/`.
pub fn testdata(name: &str) -> (String, String) {
    let path = eksa_internal_test().join("testdata").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (text, path.display().to_string())
}
