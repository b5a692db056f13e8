//! The kubeadm bootstrapper's user-data for EKS Anywhere's Tinkerbell control plane and
//! worker configurations (the `KubeadmControlPlane` and `KubeadmConfigTemplate` of its
//! `expected_results_cluster_tinkerbell_{cp_stacked_etcd,md}.yaml`, copied into
//! `tests/fixtures`): golden files, `cloud-init schema` (after cloud-init's own Jinja pass),
//! and openssl for the certificates and the CA hash.
//!
//! This user-data cannot run here (no Kubernetes binaries in any registry we reach); it is
//! checked as data.

mod common;

use std::process::{Command, Stdio};

use common::{assert_golden, certs, cloud_init_schema, cluster, token};
use ironbell_bootstrap::UserDataError;
use ironbell_bootstrap::kubeadm::{self, Role};
use ironbell_capi::api::kubeadm::{Etcd, File, FileSource, KubeadmConfigSpec, SecretKey};
use ironbell_model::corev1::Secret;
use serde::Deserialize as _;

fn control_plane_spec() -> KubeadmConfigSpec {
    common::control_plane_spec("expected_results_cluster_tinkerbell_cp_stacked_etcd.yaml")
}

fn worker_spec() -> KubeadmConfigSpec {
    common::worker_spec("expected_results_cluster_tinkerbell_md.yaml")
}

/// The three documents: init, control-plane join, worker join.
fn rendered() -> [(&'static str, String); 3] {
    let certs = certs();
    let token = token();
    let hashes = certs.ca_cert_hashes().expect("hashes");
    let cp = control_plane_spec();
    let render = |spec: &KubeadmConfigSpec, role| {
        kubeadm::user_data(spec, &cluster(), role, &[]).expect("user-data")
    };
    [
        (
            "kubeadm-init.yaml",
            render(&cp, Role::Init { certs: &certs }),
        ),
        (
            "kubeadm-join-control-plane.yaml",
            render(
                &cp,
                Role::JoinControlPlane {
                    certs: &certs,
                    token: &token,
                },
            ),
        ),
        (
            "kubeadm-join-worker.yaml",
            render(
                &worker_spec(),
                Role::JoinWorker {
                    ca_cert_hashes: &hashes,
                    token: &token,
                },
            ),
        ),
    ]
}

#[test]
fn user_data_matches_the_goldens() {
    for (name, doc) in rendered() {
        assert_golden(name, &doc);
    }
}

#[test]
fn user_data_passes_cloud_init_schema() {
    for (name, doc) in rendered() {
        if let Err(out) = cloud_init_schema(name, &doc) {
            panic!("{name} is not valid cloud-config:\n{out}\n{doc}");
        }
    }
    // The checker does refuse a bad document: `ntp.enabled` must be a boolean.
    let bad = "#cloud-config\nntp:\n  enabled: sometimes\n";
    assert!(cloud_init_schema("bad.yaml", bad).is_err());
}

/// The parts of a document a machine acts on, read back as YAML.
fn parse(doc: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(doc).expect("user-data parses")
}

fn file<'a>(doc: &'a serde_yaml_ng::Value, path: &str) -> Option<&'a str> {
    doc["write_files"]
        .as_sequence()?
        .iter()
        .find(|f| f["path"].as_str() == Some(path))?["content"]
        .as_str()
}

#[test]
fn init_writes_the_certificates_and_kubeadm_config_then_runs_kubeadm_and_the_sentinel() {
    let certs = certs();
    let [(_, init), (_, join_cp), (_, worker)] = rendered();
    assert!(init.starts_with("## template: jinja\n#cloud-config\n"));
    let init = parse(&init);
    assert_eq!(
        file(&init, "/etc/kubernetes/pki/ca.key"),
        Some(certs.cluster_ca.key_pem())
    );
    assert_eq!(
        file(&init, "/etc/kubernetes/pki/sa.pub"),
        Some(certs.service_account.cert_pem())
    );
    let config = file(&init, "/run/kubeadm/kubeadm.yaml").expect("kubeadm.yaml");
    let docs: Vec<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(config)
        .map(|d| serde_yaml_ng::Value::deserialize(d).expect("doc"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"].as_str(), Some("ClusterConfiguration"));
    assert_eq!(
        docs[0]["controlPlaneEndpoint"].as_str(),
        Some("1.2.3.4:6443")
    );
    assert_eq!(
        docs[0]["networking"]["podSubnet"].as_str(),
        Some("192.168.0.0/16")
    );
    assert_eq!(docs[1]["kind"].as_str(), Some("InitConfiguration"));
    assert_eq!(
        docs[1]["nodeRegistration"]["kubeletExtraArgs"]["provider-id"].as_str(),
        Some("PROVIDER_ID"),
        "the placeholder is left for the infrastructure provider"
    );
    let runcmd: Vec<&str> = init["runcmd"]
        .as_sequence()
        .expect("runcmd")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(
        runcmd,
        [
            "kubeadm init --config /run/kubeadm/kubeadm.yaml && echo success > /run/cluster-api/bootstrap-success.complete"
        ]
    );
    assert_eq!(init["users"][0]["name"].as_str(), Some("tink-user"));

    let join_cp = parse(&join_cp);
    assert!(file(&join_cp, "/etc/kubernetes/pki/etcd/ca.key").is_some());
    let join = file(&join_cp, "/run/kubeadm/kubeadm-join-config.yaml").expect("join config");
    let join: serde_yaml_ng::Value = serde_yaml_ng::from_str(join).expect("join yaml");
    assert!(join["controlPlane"].is_mapping());
    let hash = certs.ca_cert_hashes().expect("hash");
    assert_eq!(
        join["discovery"]["bootstrapToken"]["caCertHashes"][0].as_str(),
        Some(hash[0].as_str())
    );

    let worker = parse(&worker);
    assert!(
        file(&worker, "/etc/kubernetes/pki/ca.key").is_none(),
        "workers get no keys"
    );
    let join = file(&worker, "/run/kubeadm/kubeadm-join-config.yaml").expect("join config");
    let join: serde_yaml_ng::Value = serde_yaml_ng::from_str(join).expect("join yaml");
    let discovery = &join["discovery"]["bootstrapToken"];
    assert_eq!(discovery["token"].as_str(), Some("abcdef.0123456789abcdef"));
    assert_eq!(
        discovery["apiServerEndpoint"].as_str(),
        Some("1.2.3.4:6443")
    );
    assert!(join.get("controlPlane").is_none());
    assert!(
        join.get("pause").is_none(),
        "no Bottlerocket fields for kubeadm"
    );
}

#[test]
fn certificates_and_the_ca_hash_check_out_with_openssl() {
    // kubeadm's documented recipe: the SHA-256 of the CA certificate's DER public key.
    let certs = certs();
    let run = |args: &[&str], input: &[u8]| -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl is installed");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write");
        let out = child.wait_with_output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}");
        out.stdout
    };
    let pubkey = run(
        &["x509", "-pubkey", "-noout"],
        certs.cluster_ca.cert_pem().as_bytes(),
    );
    let der = run(&["pkey", "-pubin", "-outform", "der"], &pubkey);
    let digest = run(&["dgst", "-sha256", "-hex", "-r"], &der);
    let hex = String::from_utf8(digest).expect("text");
    let hex = hex.split_whitespace().next().expect("hex");
    assert_eq!(
        certs.ca_cert_hashes().expect("hash"),
        [format!("sha256:{hex}")]
    );
    // Each private key is the one of its certificate (or of the service-account public
    // key), and each CA verifies as a self-signed CA.
    let dir = tempfile::tempdir().expect("dir");
    for purpose in ironbell_bootstrap::Purpose::ALL {
        let pair = certs.get(purpose);
        let from_key = run(&["pkey", "-pubout"], pair.key_pem().as_bytes());
        let from_cert = if purpose == ironbell_bootstrap::Purpose::ServiceAccount {
            pair.cert_pem().as_bytes().to_vec()
        } else {
            let ca = dir.path().join("ca.crt");
            std::fs::write(&ca, pair.cert_pem()).expect("write");
            let ca = ca.to_str().expect("path");
            let verified = run(&["verify", "-CAfile", ca, ca], b"");
            assert!(
                String::from_utf8_lossy(&verified).contains(": OK"),
                "{purpose}"
            );
            run(&["x509", "-pubkey", "-noout"], pair.cert_pem().as_bytes())
        };
        assert_eq!(
            from_key, from_cert,
            "{purpose}: key and certificate do not match"
        );
    }
    // And openssl reads each CA as a CA limited to signing end certificates.
    let text = run(
        &["x509", "-noout", "-text"],
        certs.etcd_ca.cert_pem().as_bytes(),
    );
    let text = String::from_utf8(text).expect("text");
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(text.contains("Subject: CN = kubernetes"), "{text}");
}

#[test]
fn files_from_secrets_are_inlined_and_a_missing_one_is_a_clear_error() {
    let mut spec = worker_spec();
    spec.files = Some(vec![File {
        content_from: Some(FileSource {
            secret: SecretKey {
                name: "registry-credentials".into(),
                key: "config.json".into(),
            },
        }),
        owner: Some("root:root".into()),
        permissions: Some("0600".into()),
        path: "/etc/containerd/auth.json".into(),
        content: None,
    }]);
    let token = token();
    let hashes = vec!["sha256:00".to_string()];
    let role = Role::JoinWorker {
        ca_cert_hashes: &hashes,
        token: &token,
    };
    let err = kubeadm::user_data(&spec, &cluster(), role, &[]).expect_err("missing secret");
    assert_eq!(
        err.to_string(),
        "file /etc/containerd/auth.json: secret registry-credentials is missing"
    );
    let mut secret = Secret::new("eksa-system", "registry-credentials");
    secret.insert("config.json", "{\"auths\": {}}\n");
    let doc = kubeadm::user_data(&spec, &cluster(), role, &[secret]).expect("user-data");
    assert_eq!(
        file(&parse(&doc), "/etc/containerd/auth.json"),
        Some("{\"auths\": {}}\n")
    );

    let mut bottlerocket = worker_spec();
    bottlerocket.format = Some("bottlerocket".into());
    let err = kubeadm::user_data(&bottlerocket, &cluster(), role, &[]).expect_err("format");
    assert!(matches!(err, UserDataError::Unsupported(_)), "{err}");
}

#[test]
fn odd_values_are_quoted_not_pasted() {
    // CAPI's templates paste these unquoted; here they survive as written.
    let mut spec = worker_spec();
    let users = spec.users.get_or_insert_with(Vec::new);
    users[0].ssh_authorized_keys = vec!["ssh-ed25519 AAAA key: with # odd comment".into()];
    spec.pre_kubeadm_commands = Some(vec!["echo 'a: b' # not a comment".into()]);
    let token = token();
    let hashes = vec!["sha256:00".to_string()];
    let role = Role::JoinWorker {
        ca_cert_hashes: &hashes,
        token: &token,
    };
    let doc = kubeadm::user_data(&spec, &cluster(), role, &[]).expect("user-data");
    let doc = parse(&doc);
    assert_eq!(
        doc["users"][0]["ssh_authorized_keys"][0].as_str(),
        Some("ssh-ed25519 AAAA key: with # odd comment")
    );
    assert_eq!(
        doc["runcmd"][0].as_str(),
        Some("echo 'a: b' # not a comment")
    );
}

#[test]
fn external_etcd_leaves_the_etcd_ca_out() {
    // External etcd as EKS Anywhere writes it (etcdadm makes the etcd PKI): the machine gets
    // no etcd CA; the API server's etcd client files come from elsewhere.
    let mut spec = control_plane_spec();
    if let Some(c) = spec.cluster_configuration.as_mut() {
        c.etcd = Some(Etcd::external_placeholder());
    }
    let certs = certs();
    let doc = kubeadm::user_data(&spec, &cluster(), Role::Init { certs: &certs }, &[])
        .expect("user-data");
    let doc = parse(&doc);
    assert!(file(&doc, "/etc/kubernetes/pki/etcd/ca.key").is_none());
    assert!(file(&doc, "/etc/kubernetes/pki/ca.key").is_some());
    let config = file(&doc, "/run/kubeadm/kubeadm.yaml").expect("kubeadm.yaml");
    let cluster_config: serde_yaml_ng::Value = serde_yaml_ng::Deserializer::from_str(config)
        .next()
        .map(|d| serde_yaml_ng::Value::deserialize(d).expect("doc"))
        .expect("first document");
    assert_eq!(
        cluster_config["etcd"]["external"]["endpoints"][0].as_str(),
        Some("https://placeholder:2379")
    );
}
