//! What the user-data tests share: golden files, fixtures and `cloud-init schema`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ironbell_bootstrap::kubeadm::ClusterInfo;
use ironbell_bootstrap::{BootstrapToken, ClusterCertificates};
use ironbell_capi::api::kubeadm::{KubeadmConfigSpec, KubeadmConfigTemplate, KubeadmControlPlane};
use ironbell_model::corev1::Secret;
use serde::Deserialize as _;
use serde::de::DeserializeOwned;

/// `tests/<rel>` of this crate.
pub fn test_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// Whether goldens are being rewritten (`UPDATE_GOLDEN=1`).
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with `tests/golden/<name>`, or rewrites it with `UPDATE_GOLDEN=1`.
pub fn assert_golden(name: &str, actual: &str) {
    let path = test_path(&format!("golden/{name}"));
    if updating() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {path:?}: {e} (UPDATE_GOLDEN=1 writes it)"));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "length".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{name} differs from its golden file at {line} (UPDATE_GOLDEN=1 rewrites it)\n--- actual\n{actual}"
        );
    }
}

/// Runs Debian's `cloud-init schema --config-file` on `user_data`: `Ok` when valid, else
/// its output. A `## template: jinja` document is first rendered by cloud-init's own
/// templater (`cloudinit.templater.render_string`, with no instance data), as cloud-init
/// does before reading it, and the rendering must change nothing but drop that header
/// line: no value of the spec may be eaten by Jinja. (22.4's schema command refuses a file
/// that does not start with `#cloud-config`.) Panics when cloud-init is not installed (run
/// `scripts/setup`).
pub fn cloud_init_schema(name: &str, user_data: &str) -> Result<(), String> {
    const JINJA: &str = "## template: jinja\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    std::fs::write(&file, user_data).expect("write user-data");
    if let Some(body) = user_data.strip_prefix(JINJA) {
        let out = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(
                "import sys; from cloudinit.templater import render_string; \
                 sys.stdout.write(render_string(open(sys.argv[1]).read(), {}))",
            )
            .arg(&file)
            .output()
            .unwrap_or_else(|e| {
                panic!("python3 with cloud-init is needed ({e}); run scripts/setup")
            });
        assert!(
            out.status.success(),
            "cloud-init's templater failed on {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = String::from_utf8(out.stdout).expect("rendered text");
        assert_eq!(
            rendered, body,
            "{name}: the Jinja pass changed the document"
        );
        std::fs::write(&file, rendered).expect("write rendered user-data");
    }
    let out = Command::new("cloud-init")
        .arg("schema")
        .arg("--config-file")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cloud-init is needed to check user-data ({e}); run scripts/setup")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("Valid cloud-config") {
        Ok(())
    } else {
        Err(text)
    }
}

/// The document of `kind` in a fixture.
pub fn fixture_doc<T: DeserializeOwned>(file: &str, kind: &str) -> T {
    let text = std::fs::read_to_string(test_path(&format!("fixtures/{file}"))).expect("fixture");
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = serde_yaml_ng::Value::deserialize(doc).expect("yaml");
        if value.get("kind").and_then(|k| k.as_str()) == Some(kind) {
            return serde_yaml_ng::from_value(value).expect(kind);
        }
    }
    panic!("{file} has no {kind}");
}

/// The `KubeadmControlPlane`'s kubeadm configuration in fixture `file`.
pub fn control_plane_spec(file: &str) -> KubeadmConfigSpec {
    let kcp: KubeadmControlPlane = fixture_doc(file, "KubeadmControlPlane");
    kcp.spec.kubeadm_config_spec
}

/// The `KubeadmConfigTemplate`'s kubeadm configuration in fixture `file`.
pub fn worker_spec(file: &str) -> KubeadmConfigSpec {
    let kct: KubeadmConfigTemplate = fixture_doc(file, "KubeadmConfigTemplate");
    kct.spec.template.spec
}

pub fn cluster() -> ClusterInfo {
    ClusterInfo {
        name: "test".into(),
        control_plane_endpoint: "1.2.3.4:6443".into(),
        kubernetes_version: "v1.21.2-eks-1-21-4".into(),
        pod_cidrs: vec!["192.168.0.0/16".into()],
        service_cidrs: vec!["10.96.0.0/12".into()],
        dns_domain: Some("cluster.local".into()),
    }
}

/// Fixed certificates (`tests/fixtures/cluster-secrets.yaml`, made once with
/// `UPDATE_GOLDEN=1`) so that the goldens are stable.
pub fn certs() -> ClusterCertificates {
    let path = test_path("fixtures/cluster-secrets.yaml");
    if !path.exists() && updating() {
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        let secrets = ClusterCertificates::generate(now)
            .expect("generate")
            .to_secrets("eksa-system", "test");
        std::fs::write(&path, serde_yaml_ng::to_string(&secrets).expect("yaml")).expect("write");
    }
    let text = std::fs::read_to_string(&path).expect("cluster-secrets.yaml");
    let secrets: Vec<Secret> = serde_yaml_ng::from_str(&text).expect("secrets");
    ClusterCertificates::from_secrets("test", &secrets).expect("certificates")
}

pub fn token() -> BootstrapToken {
    BootstrapToken::parse("abcdef.0123456789abcdef").expect("token")
}
