//! Resolution of a cluster's release data: from EKS-A's test releases manifest, from a
//! Bundles file (`--bundles`), from the shipped bundle; and each way it can fail.

mod common;

use std::path::PathBuf;

use common::eksa_internal_test;
use ironbell_release::resolve::{Location, MAX_RELEASE_FILE_BYTES};
use ironbell_release::{BundlesSource, Error, Resolver, shipped};

const TEST_EKSA_VERSION: &str = "v0.19.0-dev+latest";

/// The URL EKS-A's test bundles give for the 1.29 EKS-D release.
const EKSD_1_29_URL: &str =
    "https://distro.eks.amazonaws.com/kubernetes-1-29/kubernetes-1-29-eks-4.yaml";

/// The EKS-D fixture the golden tests use for that URL.
fn eksd_1_29_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../capi/tests/fixtures/eksd/kubernetes-1-29-eks-4.yaml")
}

fn test_resolver() -> Resolver {
    Resolver::new().with_base_dir(eksa_internal_test())
}

/// EKS-A's test releases manifest, asking for release `eksa_version`.
fn releases_at(eksa_version: &str) -> BundlesSource {
    BundlesSource::Releases {
        url: "embed:///testdata/releases.yaml".to_string(),
        eksa_version: eksa_version.to_string(),
    }
}

fn test_releases() -> BundlesSource {
    releases_at(TEST_EKSA_VERSION)
}

#[test]
fn releases_manifest_to_versions_bundles_as_eksa_tests_do() {
    let release = test_resolver()
        .resolve(&test_releases(), &["1.21", "1.19", "1.21"])
        .expect("resolves");
    assert_eq!(release.eksa_version, TEST_EKSA_VERSION);
    assert_eq!(release.bundles_number, 0);
    assert_eq!(release.bundles_meta.namespace, "eksa-system");
    assert_eq!(
        release.versions.len(),
        2,
        "repeated versions are resolved once"
    );
    let v121 = release.versions_bundle("1.21").expect("1.21");
    assert_eq!(v121.kube_distro.kubernetes.tag, "v1.21.2-eks-1-21-4");
    assert_eq!(v121.bundle.eks_d.kube_version, "v1.21.2");
    let v119 = release.versions_bundle("1.19").expect("1.19");
    assert_eq!(v119.kube_distro.core_dns.tag, "v1.8.0-eks-1-19-4");
    let err = release.versions_bundle("1.20").expect_err("not asked for");
    assert!(matches!(err, Error::NoVersionsBundle { .. }), "{err}");
}

#[test]
fn bundles_file_relative_to_the_base_directory() {
    let source = BundlesSource::Bundles {
        url: "testdata/bundles.yaml".to_string(),
        eksa_version: "v0.24.6".to_string(),
    };
    let release = test_resolver()
        .resolve(&source, &["1.18"])
        .expect("resolves");
    assert_eq!(release.eksa_version, "v0.24.6");
    let v118 = release.versions_bundle("1.18").expect("1.18");
    assert_eq!(v118.kube_distro.etcd_version, "3.4.14");
}

#[test]
fn an_https_eksd_url_is_an_error_unless_mapped_to_a_local_file() {
    let err = test_resolver()
        .resolve(&test_releases(), &["1.29"])
        .expect_err("https is not downloaded");
    assert!(
        matches!(err, Error::RemoteUrl { ref url } if url == EKSD_1_29_URL),
        "{err}"
    );
    assert!(err.to_string().contains("downloads nothing"), "{err}");

    let release = test_resolver()
        .with_url_file(EKSD_1_29_URL, eksd_1_29_fixture())
        .resolve(&test_releases(), &["1.29"])
        .expect("resolves with the fixture");
    let d = &release.versions_bundle("1.29").expect("1.29").kube_distro;
    // The values the 1.29 vSphere, CloudStack and Nutanix goldens contain.
    common::assert_eks_distro_tags(
        d,
        "v1.29.0-eks-1-29-4",
        "v1.11.1-eks-1-29-4",
        "v3.5.10-eks-1-29-4",
    );
    assert_eq!(d.etcd_version, "3.5.10");
    assert_eq!(
        d.etcd_url,
        "https://distro.eks.amazonaws.com/kubernetes-1-29/releases/4/artifacts/etcd/v3.5.10/etcd-linux-amd64-v3.5.10.tar.gz"
    );
}

#[test]
fn shipped_bundle_covers_every_supported_version_with_its_eksd() {
    let release = Resolver::new()
        .resolve(&BundlesSource::Shipped, &shipped::KUBE_VERSIONS)
        .expect("the shipped bundle resolves");
    assert_eq!(release.eksa_version, "v0.24.6");
    assert_eq!(release.bundles_number, 119);
    assert_eq!(release.versions.len(), shipped::KUBE_VERSIONS.len());
    for v in &release.versions {
        let b = &v.bundle;
        let d = &v.kube_distro;
        let suffix = format!("eks-{}-{}", d.eksd.channel, d.eksd.number);
        let name = format!("kubernetes-{}-eks-{}", d.eksd.channel, d.eksd.number);
        assert_eq!(b.eks_d.name, name);
        assert_eq!(
            d.kubernetes.tag,
            format!("{}-{suffix}", b.eks_d.kube_version)
        );
        assert_eq!(d.pause.tag(), d.kubernetes.tag);
        assert!(d.core_dns.tag.ends_with(&suffix), "{:?}", d.core_dns);
        assert!(d.etcd.tag.ends_with(&suffix), "{:?}", d.etcd);
        assert!(
            d.etcd_url
                .contains(&format!("/releases/{}/artifacts/etcd/", d.eksd.number))
        );
        assert!(
            b.eks_d
                .kind_node
                .tag()
                .starts_with(&format!("{}-eks-d-", b.eks_d.kube_version)),
            "{}",
            b.eks_d.kind_node.uri
        );
        for image in [
            &b.tinkerbell.kube_vip,
            &b.tinkerbell.tinkerbell_stack.actions.image_to_disk,
            &b.tinkerbell.tinkerbell_stack.actions.write_file,
            &b.tinkerbell.tinkerbell_stack.actions.cexec,
            &b.tinkerbell.tinkerbell_stack.actions.kexec,
            &b.tinkerbell.tinkerbell_stack.actions.reboot,
            &b.haproxy.image,
            &b.bottlerocket_host_containers.kubeadm_bootstrap,
        ] {
            assert!(image.tag().ends_with("-eks-a-119"), "{}", image.uri);
        }
    }
    let err = Resolver::new()
        .resolve(&BundlesSource::Shipped, &["1.27"])
        .expect_err("1.27 is not in EKS-A v0.24");
    assert_eq!(
        err.to_string(),
        "no versions bundle for Kubernetes 1.27 (the bundles have: 1.28, 1.29, 1.30, 1.31, 1.32, 1.33, 1.34)"
    );
}

#[test]
fn a_real_bundle_with_https_eksd_urls_resolves_offline_from_the_shipped_eksd() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/bundles-v0.24.6.yaml");
    let source = BundlesSource::Bundles {
        url: path.to_string(),
        eksa_version: "v0.24.6".to_string(),
    };
    let resolver = Resolver::new();
    let url = "https://distro.eks.amazonaws.com/kubernetes-1-34/kubernetes-1-34-eks-17.yaml";
    assert!(matches!(resolver.locate(url), Ok(Location::Shipped(_))));
    let release = resolver.resolve(&source, &["1.34"]).expect("resolves");
    let d = &release.versions_bundle("1.34").expect("1.34").kube_distro;
    assert_eq!(d.kubernetes.tag, "v1.34.4-eks-1-34-17");
    assert_eq!(d.core_dns.tag, "v1.13.2-eks-1-34-17");
    assert_eq!(d.etcd_version, "3.5.21");
}

#[test]
fn unreadable_and_unsupported_locations_say_what_and_where() {
    let err = test_resolver()
        .bundles("testdata/no-such-bundles.yaml")
        .expect_err("missing");
    let msg = err.to_string();
    assert!(
        msg.starts_with("reading testdata/no-such-bundles.yaml ("),
        "{msg}"
    );
    assert!(msg.contains("no-such-bundles.yaml): "), "{msg}");

    let err = Resolver::new()
        .releases("embed:///testdata/releases.yaml")
        .expect_err("no base");
    assert_eq!(
        err.to_string(),
        "embed:///testdata/releases.yaml: an embed:/// URL needs a base directory"
    );

    let err = Resolver::new()
        .bundles("s3://bucket/bundles.yaml")
        .expect_err("s3");
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err}");
    let err = Resolver::new().bundles("").expect_err("empty");
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err}");

    let err = test_resolver()
        .resolve(&releases_at("v0.24.6"), &["1.21"])
        .expect_err("absent");
    assert!(matches!(err, Error::NoRelease { .. }), "{err}");
}

#[test]
fn an_eksd_manifest_of_another_channel_is_refused() {
    let other = eksa_internal_test().join("testdata/kubernetes-1-21-eks-4.yaml");
    let err = test_resolver()
        .with_url_file(EKSD_1_29_URL, other)
        .resolve(&test_releases(), &["1.29"])
        .expect_err("1-21 manifest for 1.29");
    assert_eq!(
        err.to_string(),
        format!(
            "EKS-D manifest {EKSD_1_29_URL} is channel 1-21, but the versions bundle is for Kubernetes 1.29"
        )
    );
}

/// The error of reading, as Bundles, a temporary file that `write` fills; and its path.
fn bundles_error(write: impl FnOnce(&std::path::Path)) -> (Error, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bundles.yaml");
    write(&path);
    let path = path.to_str().expect("utf-8 path").to_string();
    let err = Resolver::new().bundles(&path).expect_err("refused");
    (err, path)
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let (err, _) = bundles_error(|path| {
        let file = std::fs::File::create(path).expect("create");
        file.set_len(MAX_RELEASE_FILE_BYTES + 1)
            .expect("sparse file");
    });
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn bad_yaml_in_a_bundles_file_names_the_file() {
    let (err, path) =
        bundles_error(|path| std::fs::write(path, "kind: Bundles\nspec: [\n").expect("write"));
    assert!(err.to_string().starts_with(&path), "{err}");
}
