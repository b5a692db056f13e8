//! Black-box tests of `ironbell generate clusterconfig`, `ironbell validate cluster` and
//! `ironbell generate manifests`, run as a user would: a generated spec validates and renders,
//! an invalid one names its field and exits 1, an unreadable file exits 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .args(args)
        .current_dir(dir)
        .env("IRONBELL_DB", dir.join("store.db"))
        .env_remove("IRONBELL_LOG")
        .env_remove("REGISTRY_USERNAME")
        .env_remove("REGISTRY_PASSWORD")
        .output()
        .expect("run ironbell")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn conformance(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eks-anywhere-v0.24.6/pkg/providers")
        .join(rel)
}

/// The providers whose manifests render today; the others say so by name.
const RENDERED: &[&str] = &["tinkerbell", "docker", "cloudstack", "vsphere"];

#[test]
fn a_generated_spec_validates_and_renders_for_every_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    for provider in [
        "tinkerbell",
        "docker",
        "vsphere",
        "cloudstack",
        "nutanix",
        "snow",
    ] {
        let out = run(
            dir.path(),
            &["generate", "clusterconfig", "demo", "--provider", provider],
        );
        assert!(out.status.success(), "{provider}: {}", text(&out.stderr));
        let spec = dir.path().join(format!("{provider}.yaml"));
        std::fs::write(&spec, &out.stdout).expect("write spec");
        let spec = spec.to_str().expect("utf-8 path");

        let out = run(dir.path(), &["validate", "cluster", "-f", spec]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{provider}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("✓ "), "{provider}: checks listed: {stdout}");
        assert!(!stdout.contains("✗ "), "{provider}: no failure: {stdout}");
        assert!(stdout.contains("cluster demo is valid"), "{stdout}");

        let out = run(dir.path(), &["generate", "manifests", "-f", spec]);
        if RENDERED.contains(&provider) {
            assert!(out.status.success(), "{provider}: {}", text(&out.stderr));
            let yaml = text(&out.stdout);
            let kinds: Vec<String> = serde_yaml_ng::Deserializer::from_str(&yaml)
                .filter_map(|d| {
                    let v: serde_yaml_ng::Value = serde::Deserialize::deserialize(d).ok()?;
                    Some(v.get("kind")?.as_str()?.to_string())
                })
                .collect();
            for kind in ["Cluster", "KubeadmControlPlane", "MachineDeployment"] {
                assert!(
                    kinds.iter().any(|k| k == kind),
                    "{provider}: {kind} rendered: {kinds:?}"
                );
            }
        } else {
            let err = text(&out.stderr);
            assert!(!out.status.success(), "{provider} is not rendered yet");
            assert!(err.contains("not supported yet"), "{provider}: {err}");
        }
    }
}

#[test]
fn an_invalid_spec_names_its_check_and_field_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    // External etcd on bare metal: EKS Anywhere refuses it before touching anything.
    let spec = conformance("tinkerbell/testdata/cluster_tinkerbell_external_etcd.yaml");
    let out = run(
        dir.path(),
        &["validate", "cluster", "-f", spec.to_str().expect("utf-8")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("✗ "), "{stdout}");
    assert!(
        stdout.contains("externalEtcdConfiguration"),
        "field named: {stdout}"
    );

    // A spec that refers to a machine config it does not contain does not load: exit 1,
    // every problem named.
    let spec = conformance("tinkerbell/testdata/cluster_tinkerbell_mismatched_machine_config.yaml");
    let out = run(
        dir.path(),
        &["validate", "cluster", "-f", spec.to_str().expect("utf-8")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("machineGroupRef"), "field named: {stderr}");
    assert!(
        stderr.contains("single-node-cp"),
        "missing document named: {stderr}"
    );

    // Nothing is rendered from an invalid spec.
    let spec = conformance("tinkerbell/testdata/cluster_tinkerbell_external_etcd.yaml");
    let out = run(
        dir.path(),
        &["generate", "manifests", "-f", spec.to_str().expect("utf-8")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing printed: {}",
        text(&out.stdout)
    );
}

#[test]
fn hardware_rules_are_checked_against_the_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &[
            "generate",
            "clusterconfig",
            "edge",
            "--provider",
            "tinkerbell",
        ],
    );
    assert!(out.status.success());
    let spec = dir.path().join("edge.yaml");
    std::fs::write(&spec, &out.stdout).expect("write");
    let spec_yaml = text(&out.stdout);
    // One machine whose labels no selector of the generated spec matches: every selector
    // is short of Hardware.
    let csv = dir.path().join("hardware.csv");
    std::fs::write(
        &csv,
        "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk\n\
         m1,52:54:00:00:00:01,192.0.2.21,255.255.255.0,192.0.2.1,192.0.2.1,type=nothing,/dev/sda\n",
    )
    .expect("write csv");
    let out = run(
        dir.path(),
        &[
            "validate",
            "cluster",
            "-f",
            spec.to_str().expect("utf-8"),
            "--hardware-csv",
            csv.to_str().expect("utf-8"),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("✗ hardware"), "{stdout}");
    assert!(spec_yaml.contains("hardwareSelector"), "{spec_yaml}");
}

#[test]
fn an_unreadable_file_exits_2_and_an_unknown_provider_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &["validate", "cluster", "-f", "no-such-file.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("no-such-file.yaml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = run(
        dir.path(),
        &["generate", "clusterconfig", "x", "--provider", "aws"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("tinkerbell"),
        "the providers are listed"
    );
}
