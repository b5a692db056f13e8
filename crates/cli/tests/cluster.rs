//! Black-box tests of `ironbell generate clusterconfig`, `ironbell validate cluster` and
//! `ironbell generate manifests`, run as a user would: a generated spec validates and renders,
//! an invalid one names its field and exits 1, an unreadable file exits 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The variables the CLI reads credentials from; unset unless a test sets them.
const CREDENTIAL_VARS: &[&str] = &[
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "EKSA_VSPHERE_USERNAME",
    "EKSA_VSPHERE_PASSWORD",
    "EKSA_VSPHERE_CP_USERNAME",
    "EKSA_VSPHERE_CP_PASSWORD",
    "EKSA_NUTANIX_USERNAME",
    "EKSA_NUTANIX_PASSWORD",
    "EKSA_AWS_CREDENTIALS_FILE",
    "EKSA_AWS_CA_BUNDLES_FILE",
];

fn run(dir: &Path, args: &[&str]) -> Output {
    run_with(dir, args, &[])
}

/// `ironbell ARGS` in `dir` with only the given credential variables set.
fn run_with(dir: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ironbell"));
    command
        .args(args)
        .current_dir(dir)
        .env("IRONBELL_DB", dir.join("store.db"))
        .env_remove("IRONBELL_LOG");
    for var in CREDENTIAL_VARS {
        command.env_remove(var);
    }
    command.envs(vars.iter().copied());
    command.output().expect("run ironbell")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn conformance(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eks-anywhere-v0.24.6/pkg/providers")
        .join(rel)
}

/// The providers whose manifests render through the CLI: all of them.
const RENDERED: &[&str] = &[
    "tinkerbell",
    "docker",
    "vsphere",
    "cloudstack",
    "nutanix",
    "snow",
];

#[test]
fn a_generated_spec_validates_and_renders_for_every_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    for &provider in RENDERED {
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
        assert!(out.status.success(), "{provider}: {}", text(&out.stderr));
        let kinds = kinds(&text(&out.stdout));
        for kind in ["Cluster", "KubeadmControlPlane", "MachineDeployment"] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{provider}: {kind} rendered: {kinds:?}"
            );
        }
    }
}

/// The kinds of a YAML stream's documents.
fn kinds(yaml: &str) -> Vec<String> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .filter_map(|d| {
            let v: serde_yaml_ng::Value = serde::Deserialize::deserialize(d).ok()?;
            Some(v.get("kind")?.as_str()?.to_string())
        })
        .collect()
}

/// Snow's device credentials and CA bundle come from the files `EKSA_AWS_CREDENTIALS_FILE`
/// and `EKSA_AWS_CA_BUNDLES_FILE` name, as EKS Anywhere reads them, into the credentials
/// secret base64-encoded; a named file that does not exist is an error naming it, with
/// nothing printed.
#[test]
fn snow_credentials_are_read_from_the_files_eks_anywhere_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &["generate", "clusterconfig", "demo", "--provider", "snow"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let spec = dir.path().join("snow.yaml");
    std::fs::write(&spec, &out.stdout).expect("write spec");
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "[default]\naws_access_key_id = AKIDEXAMPLE\n").expect("write");
    let ca_bundle = dir.path().join("ca-bundle.pem");
    std::fs::write(&ca_bundle, "-----BEGIN CERTIFICATE-----\n").expect("write");
    let args = ["generate", "manifests", "-f", spec.to_str().expect("utf-8")];

    let out = run_with(
        dir.path(),
        &args,
        &[
            ("EKSA_AWS_CREDENTIALS_FILE", &credentials),
            ("EKSA_AWS_CA_BUNDLES_FILE", &ca_bundle),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    // base64 of the two files.
    assert!(
        yaml.contains("W2RlZmF1bHRdCmF3c19hY2Nlc3Nfa2V5X2lkID0gQUtJREVYQU1QTEUK"),
        "{yaml}"
    );
    assert!(
        yaml.contains("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="),
        "{yaml}"
    );

    let missing = dir.path().join("no-such-credentials");
    let out = run_with(
        dir.path(),
        &args,
        &[
            ("EKSA_AWS_CREDENTIALS_FILE", &missing),
            ("EKSA_AWS_CA_BUNDLES_FILE", &ca_bundle),
        ],
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing printed");
    let err = text(&out.stderr);
    assert!(err.contains("no-such-credentials"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
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
