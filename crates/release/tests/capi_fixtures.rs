//! The versions-bundle fixtures of the Docker and Snow golden tests
//! (`crates/capi/tests/fixtures/`, transcribed from EKS-A's Go literals) parse with this
//! crate's types and hold the values the Go tests give; every file their `cases.yaml` names
//! exists.

mod common;

use std::path::{Path, PathBuf};

use ironbell_release::ClusterVersionsBundle;
use serde_yaml_ng::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../capi/tests/fixtures")
}

fn bundle(relative: &str) -> ClusterVersionsBundle {
    let path = fixtures().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    ClusterVersionsBundle::from_yaml(&text, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn yaml(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn docker_versions_bundles_hold_the_go_literals() {
    let vb = bundle("docker/versions-bundle.yaml");
    let d = &vb.kube_distro;
    common::assert_eks_distro_tags(
        d,
        "v1.19.6-eks-1-19-2",
        "v1.8.0-eks-1-19-2",
        "v3.4.14-eks-1-19-2",
    );
    assert_eq!(d.etcd_version, "3.4.14");
    assert!(
        d.etcd_url.ends_with("etcd-linux-amd64-v3.4.16.tar.gz"),
        "{}",
        d.etcd_url
    );
    assert_eq!(
        vb.bundle.haproxy.image.image(),
        "public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind/haproxy"
    );
    assert_eq!(
        vb.bundle.haproxy.image.tag(),
        "v0.11.1-eks-a-v0.0.0-dev-build.1464"
    );
    assert!(
        vb.bundle
            .eks_d
            .kind_node
            .tag()
            .starts_with("v1.18.16-eks-1-18-4-")
    );
    assert_eq!(vb.bundle.docker.version, "v0.3.19");
    assert_eq!(vb.kube_version(), "", "the Go literal has no kubeVersion");

    let worker = bundle("docker/worker-versions-bundle.yaml");
    assert_eq!(worker.kube_distro.kubernetes.tag, "v1.18.4-eks-1-18-3");
    assert_eq!(worker.kube_distro.etcd_url, "");
    assert_eq!(worker.bundle, vb.bundle, "only the distro differs");

    let default = bundle("docker/default-versions-bundle.yaml");
    assert_eq!(default.bundle.eks_d.name, "kubernetes-1-19-eks-7");
    assert_eq!(default.kube_distro, Default::default());
}

#[test]
fn snow_versions_bundles_hold_the_go_literals() {
    for (version, kubernetes, etcd_version) in [
        ("1.21", "v1.21.5-eks-1-21-9", "3.4.16"),
        ("1.29", "v1.29.0-eks-1-29-3", "3.5.10"),
        ("1.33", "v1.33.0-eks-1-33-1", "3.5.15"),
    ] {
        let vb = bundle(&format!("snow/versions-bundle-{version}.yaml"));
        assert_eq!(vb.kube_version(), version);
        assert_eq!(vb.kube_distro.kubernetes.tag, kubernetes);
        assert_eq!(vb.kube_distro.etcd_version, etcd_version);
        let snow = &vb.bundle.snow;
        assert_eq!(snow.version, "v1.0.2");
        assert_eq!(
            snow.kube_vip.uri,
            "public.ecr.aws/l0g8r8j6/kube-vip/kube-vip:v0.3.7-eks-a-v0.0.0-dev-build.1433"
        );
        assert_eq!(snow.kube_vip.info.arch, ["amd64"]);
        assert!(
            snow.bottlerocket_bootstrap_snow
                .tag()
                .starts_with("v1-20-22-")
        );
        assert_eq!(
            vb.bundle.bottlerocket_host_containers.kubeadm_bootstrap.uri,
            "public.ecr.aws/eks-anywhere/bottlerocket-bootstrap:0.0.1"
        );
    }
    let v121 = bundle("snow/versions-bundle-1.21.yaml");
    assert_eq!(v121.kube_distro.pause.tag(), "0.0.1");
    let worker = bundle("snow/versions-bundle-1.20-worker.yaml");
    assert_eq!(worker.kube_distro.kubernetes.tag, "v1.20.2-eks-1-20-7");
    assert_eq!(worker.bundle, v121.bundle);
}

/// Every file a `cases.yaml` names exists: fixtures here, specs and goldens in place in the
/// conformance data.
fn check_cases(provider: &str) -> usize {
    let dir = fixtures().join(provider);
    let conformance = common::eksa_internal_test().join("../..");
    let index = yaml(&dir.join("cases.yaml"));
    let golden_dir = conformance.join(index["goldenDir"].as_str().expect("goldenDir"));
    let exists = |path: PathBuf| assert!(path.is_file(), "{} is missing", path.display());
    let bundles = |value: &Value| {
        if let Value::Mapping(map) = value {
            for file in map.values() {
                exists(dir.join(file.as_str().expect("a file name")));
            }
        }
    };
    bundles(&index["versionsBundles"]);
    for key in ["spec", "currentObjects"] {
        if let Some(file) = index[key].as_str() {
            exists(dir.join(file));
        }
    }
    let cases = index["cases"].as_sequence().expect("cases");
    for case in cases {
        let name = case["name"].as_str().expect("name");
        if let Some(spec) = case["spec"].as_str() {
            exists(dir.join(spec));
        }
        if let Some(spec) = case["conformanceSpec"].as_str() {
            exists(conformance.join(spec));
        }
        bundles(&case["versionsBundles"]);
        bundles(&case["addVersionsBundles"]);
        if let Some(file) = case["currentObjects"].as_str().filter(|f| *f != "none") {
            exists(dir.join(file));
        }
        let expected = case["expected"].as_mapping().expect("expected");
        assert!(!expected.is_empty(), "case {name} expects nothing");
        for golden in expected.values() {
            exists(golden_dir.join(golden.as_str().expect("a golden file")));
        }
    }
    cases.len()
}

#[test]
fn every_file_the_case_indexes_name_exists() {
    assert_eq!(check_cases("docker"), 23);
    assert_eq!(check_cases("snow"), 4);
}

#[test]
fn docker_case_specs_are_eksa_cluster_documents() {
    for entry in std::fs::read_dir(fixtures().join("docker/cases")).expect("cases dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let first = serde_yaml_ng::Deserializer::from_str(&text)
            .next()
            .expect("a document");
        let doc = <Value as serde::Deserialize>::deserialize(first)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc["kind"].as_str(), Some("Cluster"), "{}", path.display());
        assert!(
            doc["spec"]["kubernetesVersion"].as_str().is_some(),
            "{}",
            path.display()
        );
    }
}
