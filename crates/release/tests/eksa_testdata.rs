//! EKS Anywhere's own test release data (`internal/test/testdata/`) parsed with this crate's
//! types, and the KubeDistro of each test EKS-D manifest checked against EKS-A's derivation.

mod common;

use ironbell_release::{Bundles, EksdRelease, KubeDistro, ReleasesManifest};

/// The text of a file under `internal/test/testdata/`, and its path for errors.
fn testdata(name: &str) -> (String, String) {
    let path = common::eksa_internal_test().join("testdata").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (text, path.display().to_string())
}

fn distro(file: &str) -> KubeDistro {
    let (text, source) = testdata(file);
    let eksd = EksdRelease::from_yaml(&text, &source).expect("EKS-D manifest parses");
    KubeDistro::from_eksd(&eksd).expect("KubeDistro derives")
}

#[test]
fn releases_manifest_has_the_test_release() {
    let (text, source) = testdata("releases.yaml");
    let releases = ReleasesManifest::from_yaml(&text, &source).expect("parses");
    let release = releases
        .release("v0.19.0-dev+latest")
        .expect("release present");
    assert_eq!(
        release.bundle_manifest_url,
        "embed:///testdata/bundles.yaml"
    );
    assert_eq!(
        releases.latest().expect("single release").version,
        "v0.19.0-dev+latest"
    );
    let err = releases.release("v0.24.6").expect_err("absent");
    assert_eq!(
        err.to_string(),
        "no EKS Anywhere release v0.24.6 in the releases manifest (it has: v0.19.0-dev+latest)"
    );
}

#[test]
fn bundles_have_every_test_version_and_their_fields() {
    let (text, source) = testdata("bundles.yaml");
    let bundles = Bundles::from_yaml(&text, &source).expect("parses");
    assert_eq!(
        bundles.kube_versions(),
        ["1.18", "1.19", "1.20", "1.21", "1.29"]
    );
    let vb = bundles.versions_bundle("1.21").expect("1.21 present");
    assert_eq!(
        vb.eksd_manifest_url().expect("url"),
        "embed:///testdata/kubernetes-1-21-eks-4.yaml"
    );
    assert!(
        vb.tinkerbell.kube_vip.uri.contains("kube-vip"),
        "{:?}",
        vb.tinkerbell.kube_vip
    );
    // Only the 1.29 test bundle has the Tinkerbell stack.
    let actions = &bundles
        .versions_bundle("1.29")
        .expect("1.29")
        .tinkerbell
        .tinkerbell_stack
        .actions;
    for action in [
        &actions.image_to_disk,
        &actions.write_file,
        &actions.cexec,
        &actions.kexec,
        &actions.reboot,
    ] {
        assert!(
            !action.uri.is_empty(),
            "an action image is empty: {actions:?}"
        );
    }
    assert!(!vb.eks_d.kind_node.uri.is_empty());
    assert!(
        !vb.bottlerocket_host_containers
            .kubeadm_bootstrap
            .uri
            .is_empty()
    );
    let vb129 = bundles.versions_bundle("1.29").expect("1.29 present");
    assert_eq!(
        vb129.haproxy.image.uri,
        "public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind/haproxy:v0.22.0-eks-a-v0.19.0-dev-build.158"
    );
    assert!(
        vb129.eks_d.manifest_url.starts_with("https://"),
        "{}",
        vb129.eks_d.manifest_url
    );

    let err = bundles.versions_bundle("1.33").expect_err("absent");
    assert_eq!(
        err.to_string(),
        "no versions bundle for Kubernetes 1.33 (the bundles have: 1.18, 1.19, 1.20, 1.21, 1.29)"
    );
}

/// What EKS-A's `buildKubeDistro` gives for one test EKS-D manifest, read off the file.
struct Expected {
    file: &'static str,
    channel: &'static str,
    number: i64,
    kubernetes_tag: &'static str,
    coredns_tag: &'static str,
    etcd_tag: &'static str,
    etcd_version: &'static str,
}

const EXPECTED: [Expected; 4] = [
    Expected {
        file: "kubernetes-1-18-eks-4.yaml",
        channel: "1-18",
        number: 4,
        kubernetes_tag: "v1.18.16-eks-1-18-4",
        coredns_tag: "v1.7.0-eks-1-18-4",
        etcd_tag: "v3.4.14-eks-1-18-4",
        etcd_version: "3.4.14",
    },
    Expected {
        file: "kubernetes-1-19-eks-4.yaml",
        channel: "1-19",
        number: 4,
        kubernetes_tag: "v1.19.8-eks-1-19-4",
        coredns_tag: "v1.8.0-eks-1-19-4",
        etcd_tag: "v3.4.14-eks-1-19-4",
        etcd_version: "3.4.14",
    },
    Expected {
        file: "kubernetes-1-20-eks-1.yaml",
        channel: "1-20",
        number: 1,
        kubernetes_tag: "v1.20.4-eks-1-20-1",
        coredns_tag: "v1.8.3-eks-1-20-1",
        etcd_tag: "v3.4.15-eks-1-20-1",
        etcd_version: "3.4.15",
    },
    Expected {
        file: "kubernetes-1-21-eks-4.yaml",
        channel: "1-21",
        number: 4,
        kubernetes_tag: "v1.21.2-eks-1-21-4",
        coredns_tag: "v1.8.3-eks-1-21-4",
        etcd_tag: "v3.4.16-eks-1-21-4",
        etcd_version: "3.4.16",
    },
];

#[test]
fn kube_distro_of_each_test_eksd_release() {
    for e in EXPECTED {
        let d = distro(e.file);
        let ecr = "public.ecr.aws/eks-distro";
        assert_eq!(
            (d.eksd.channel.as_str(), d.eksd.number),
            (e.channel, e.number),
            "{}",
            e.file
        );
        common::assert_eks_distro_tags(&d, e.kubernetes_tag, e.coredns_tag, e.etcd_tag);
        assert_eq!(
            d.etcd_image.uri,
            format!("{ecr}/etcd-io/etcd:{}", e.etcd_tag)
        );
        let k8s = e.kubernetes_tag;
        assert_eq!(d.pause.uri, format!("{ecr}/kubernetes/pause:{k8s}"));
        assert_eq!(
            d.kube_proxy.uri,
            format!("{ecr}/kubernetes/kube-proxy:{k8s}")
        );
        let iam = format!(
            "{ecr}/kubernetes-sigs/aws-iam-authenticator:v0.5.2-eks-{}-{}",
            e.channel, e.number
        );
        assert_eq!(d.aws_iam_auth_image.uri, iam);
        assert_eq!(d.etcd_version, e.etcd_version);
        let v = e.etcd_version;
        assert_eq!(
            d.etcd_url,
            format!(
                "https://distro.eks.amazonaws.com/kubernetes-{}/releases/{}/artifacts/etcd/v{v}/etcd-linux-amd64-v{v}.tar.gz",
                e.channel, e.number
            )
        );
    }
}

#[test]
fn missing_asset_is_named() {
    let (text, source) = testdata("kubernetes-1-21-eks-4.yaml");
    let mut eksd = EksdRelease::from_yaml(&text, &source).expect("parses");
    for component in &mut eksd.status.components {
        component.assets.retain(|a| a.name != "coredns-image");
    }
    let err = KubeDistro::from_eksd(&eksd).expect_err("coredns gone");
    assert_eq!(
        err.to_string(),
        "EKS-D release kubernetes-1-21-eks-4: asset coredns-image is missing"
    );
}

#[test]
fn bad_field_type_names_the_path() {
    let text = "kind: Bundles\nspec:\n  versionsBundles:\n  - kubeVersion: \"1.21\"\n    eksD:\n      kubeVersion: [1]\n";
    let err = Bundles::from_yaml(text, "b.yaml").expect_err("bad type");
    let msg = err.to_string();
    assert!(
        msg.starts_with("b.yaml: spec.versionsBundles[0].eksD"),
        "{msg}"
    );
    let wrong = Bundles::from_yaml("kind: Cluster\n", "c.yaml").expect_err("wrong kind");
    assert_eq!(
        wrong.to_string(),
        "c.yaml: expected a Bundles (anywhere.eks.amazonaws.com) document, found Cluster"
    );
    let (text, source) = testdata("releases.yaml");
    let err = EksdRelease::from_yaml(&text, &source).expect_err("an EKS-A Release is not EKS-D's");
    assert!(
        err.to_string().ends_with(
            "expected a Release (distro.eks.amazonaws.com) document, found Release (anywhere.eks.amazonaws.com/v1alpha1)"
        ),
        "{err}"
    );
}

/// Every prefix (in steps) of the test files, and copies with bytes replaced, parse to a value
/// or an error: never a panic.
#[test]
fn truncated_and_garbled_release_files_are_errors_not_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const NOISE: &[u8] = b"{}[]:-'\"\n\t &*!|>%@`";
    let mut errors = 0;
    for file in [
        "bundles.yaml",
        "releases.yaml",
        "kubernetes-1-21-eks-4.yaml",
    ] {
        let (text, source) = testdata(file);
        let bytes = text.as_bytes();
        let mut inputs: Vec<Vec<u8>> = (0..bytes.len())
            .step_by(1021)
            .map(|cut| bytes[..cut].to_vec())
            .collect();
        for _ in 0..50 {
            let mut garbled = bytes.to_vec();
            for _ in 0..8 {
                let at = (next() % garbled.len() as u64) as usize;
                garbled[at] = NOISE[(next() % NOISE.len() as u64) as usize];
            }
            inputs.push(garbled);
        }
        for input in inputs {
            let input = String::from_utf8_lossy(&input);
            errors += usize::from(Bundles::from_yaml(&input, &source).is_err());
            errors += usize::from(ReleasesManifest::from_yaml(&input, &source).is_err());
            if let Ok(eksd) = EksdRelease::from_yaml(&input, &source) {
                errors += usize::from(KubeDistro::from_eksd(&eksd).is_err());
            } else {
                errors += 1;
            }
        }
    }
    assert!(errors > 0, "garbled input was never refused");
}
