//! The Bottlerocket user-data for EKS Anywhere's Tinkerbell Bottlerocket configuration
//! (the `KubeadmControlPlane` and `KubeadmConfigTemplate` of its
//! `expected_results_bottlerocket_settings_config_{cp,md}.yaml`, in `tests/fixtures`):
//! golden files, and Python's `tomllib` (a TOML parser this project did not write) reading
//! each document back, with the bootstrap container's user-data decoded from it.
//!
//! Like the cloud-config user-data, this cannot run here (no Bottlerocket and no
//! Kubernetes binaries): it is checked as data.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{assert_golden, certs, cluster, token};
use ironbell_bootstrap::bottlerocket;
use ironbell_bootstrap::kubeadm::Role;
use ironbell_capi::api::kubeadm::KubeadmConfigSpec;
use serde_json::Value;

fn control_plane_spec() -> KubeadmConfigSpec {
    common::control_plane_spec("expected_results_bottlerocket_settings_config_cp.yaml")
}

fn worker_spec() -> KubeadmConfigSpec {
    common::worker_spec("expected_results_bottlerocket_settings_config_md.yaml")
}

fn rendered() -> [(&'static str, String); 3] {
    let certs = certs();
    let token = token();
    let hashes = certs.ca_cert_hashes().expect("hashes");
    let cp = control_plane_spec();
    let render = |spec: &KubeadmConfigSpec, role, host| {
        bottlerocket::user_data(spec, &cluster(), role, &[], Some(host)).expect("user-data")
    };
    [
        (
            "bottlerocket-init.toml",
            render(&cp, Role::Init { certs: &certs }, "test-cp-1"),
        ),
        (
            "bottlerocket-join-control-plane.toml",
            render(
                &cp,
                Role::JoinControlPlane {
                    certs: &certs,
                    token: &token,
                },
                "test-cp-2",
            ),
        ),
        (
            "bottlerocket-join-worker.toml",
            render(
                &worker_spec(),
                Role::JoinWorker {
                    ca_cert_hashes: &hashes,
                    token: &token,
                },
                "test-md-0-1",
            ),
        ),
    ]
}

/// The document read by Python's `tomllib`, with each host container's `user-data`
/// decoded (`user-data-text`). Panics when Python cannot read it.
fn tomllib(doc: &str) -> Value {
    const READ: &str = r#"
import base64, json, sys, tomllib
doc = tomllib.loads(sys.stdin.read())
for c in doc["settings"].get("host-containers", {}).values():
    if "user-data" in c:
        c["user-data-text"] = base64.b64decode(c["user-data"]).decode()
print(json.dumps(doc))
"#;
    let mut child = Command::new("python3")
        .args(["-c", READ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (3.11 or later, for tomllib) is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(doc.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "tomllib refused the document: {}\n{doc}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn bottlerocket_user_data_matches_the_goldens() {
    for (name, doc) in rendered() {
        assert_golden(name, &doc);
    }
}

#[test]
fn bottlerocket_user_data_is_toml_with_the_forks_settings() {
    let [(_, init), (_, join_cp), (_, worker)] = rendered();
    let init = tomllib(&init);
    let k8s = &init["settings"]["kubernetes"];
    assert_eq!(k8s["authentication-mode"], "tls");
    assert_eq!(k8s["standalone-mode"], true);
    assert_eq!(k8s["server-tls-bootstrap"], false);
    assert_eq!(k8s["provider-id"], "PROVIDER_ID", "left for the provider");
    assert_eq!(
        k8s["pod-infra-container-image"],
        "public.ecr.aws/eks-distro/kubernetes/pause:v1.21.2-eks-1-21-4"
    );
    assert_eq!(k8s["max-pods"], 50);
    assert_eq!(
        k8s["cluster-dns-ip"],
        serde_json::json!(["1.2.3.4", "4.3.2.1"])
    );
    assert_eq!(init["settings"]["network"]["hostname"], "test-cp-1");
    let hosts = &init["settings"]["host-containers"];
    assert_eq!(
        hosts["kubeadm-bootstrap"]["source"],
        "public.ecr.aws/l0g8r8j6/bottlerocket-bootstrap:v1-21-4-eks-a-v0.0.0-dev-build.158"
    );
    let admin: Value = serde_json::from_str(
        hosts["admin"]["user-data-text"]
            .as_str()
            .expect("admin user-data"),
    )
    .expect("admin json");
    assert!(
        admin["ssh"]["authorized-keys"][0]
            .as_str()
            .is_some_and(|k| k.starts_with("ssh-rsa ")),
        "{admin}"
    );

    // The bootstrap container's document: certificates under /var/lib/kubeadm/pki, the
    // kubeadm configuration, kube-vip's kubeconfig typed File, the step.
    let bootstrap = |doc: &Value| -> serde_yaml_ng::Value {
        let text = doc["settings"]["host-containers"]["kubeadm-bootstrap"]["user-data-text"]
            .as_str()
            .expect("bootstrap user-data")
            .to_string();
        serde_yaml_ng::from_str(&text).expect("bootstrap yaml")
    };
    let paths = |doc: &serde_yaml_ng::Value| -> Vec<String> {
        doc["write_files"]
            .as_sequence()
            .expect("write_files")
            .iter()
            .filter_map(|f| f["path"].as_str().map(str::to_string))
            .collect()
    };
    let b = bootstrap(&init);
    assert_eq!(b["runcmd"].as_str(), Some("ControlPlaneInit"));
    let init_paths = paths(&b);
    assert!(
        init_paths
            .iter()
            .any(|p| p == "/var/lib/kubeadm/pki/ca.key"),
        "{init_paths:?}"
    );
    assert!(
        init_paths.iter().any(|p| p == "/tmp/kubeadm.yaml"),
        "{init_paths:?}"
    );
    let kube_vip = b["write_files"]
        .as_sequence()
        .expect("files")
        .iter()
        .find(|f| f["path"].as_str() == Some("/etc/kubernetes/manifests/kube-vip.yaml"))
        .and_then(|f| f["content"].as_str())
        .expect("kube-vip");
    let pod: serde_yaml_ng::Value = serde_yaml_ng::from_str(kube_vip).expect("pod");
    assert_eq!(
        pod["spec"]["volumes"][0]["hostPath"]["type"].as_str(),
        Some("File")
    );

    let b = bootstrap(&tomllib(&join_cp));
    assert_eq!(b["runcmd"].as_str(), Some("ControlPlaneJoin"));
    assert!(
        paths(&b)
            .iter()
            .any(|p| p == "/tmp/kubeadm-join-config.yaml")
    );

    let worker = tomllib(&worker);
    let b = bootstrap(&worker);
    assert_eq!(b["runcmd"].as_str(), Some("WorkerJoin"));
    let worker_paths = paths(&b);
    assert_eq!(
        worker_paths,
        ["/tmp/kubeadm-join-config.yaml"],
        "no keys on workers"
    );
}

#[test]
fn odd_values_stay_valid_toml_and_a_missing_pause_image_is_refused() {
    let mut spec = worker_spec();
    let join = spec.join_configuration.as_mut().expect("join");
    let args = join
        .node_registration
        .as_mut()
        .and_then(|r| r.kubelet_extra_args.as_mut())
        .expect("kubelet args");
    args.insert(
        "node-labels".into(),
        "group=md-0,node-role.kubernetes.io/worker=\"x\\y\"".into(),
    );
    let token = token();
    let hashes = vec!["sha256:00".to_string()];
    let role = Role::JoinWorker {
        ca_cert_hashes: &hashes,
        token: &token,
    };
    let doc = bottlerocket::user_data(&spec, &cluster(), role, &[], Some("host\"name"))
        .expect("user-data");
    let parsed = tomllib(&doc);
    assert_eq!(parsed["settings"]["network"]["hostname"], "host\"name");
    let labels = &parsed["settings"]["kubernetes"]["node-labels"];
    assert_eq!(labels["group"], "md-0");
    assert_eq!(labels["node-role.kubernetes.io/worker"], "\"x\\y\"");

    let mut no_pause = worker_spec();
    if let Some(j) = no_pause.join_configuration.as_mut() {
        j.bottlerocket_node.pause = None;
    }
    let err = bottlerocket::user_data(&no_pause, &cluster(), role, &[], None)
        .expect_err("no pause image");
    assert!(err.to_string().contains("pause image"), "{err}");
}
