//! The Snow mappings of `golden-mappings.txt`. EKS Anywhere's Snow tests build their spec
//! and versions bundles as Go literals; they are transcribed in `tests/fixtures/snow/`
//! (`cases.yaml` indexes them). A create uses the initial template names; an upgrade picks
//! them with `snow::upgrade_names` from the current objects (`current-objects.yaml`, what
//! the mocked client returns): they stay, because the templates are unchanged.

// Shared by the golden and Snow test binaries; each uses a part.
#![allow(dead_code)]

use std::path::PathBuf;

use ironbell_capi::snow::{self, RenderOptions, SnowCredentials, SnowNames, SnowSpec};
use ironbell_capi::to_yaml_documents;
use ironbell_capi::versions::{VersionsBundle, VersionsBundleSet};
use ironbell_model::anywhere::{OsFamily, WorkerNodeGroupConfiguration};
use serde_yaml_ng::Value;

/// One Snow test function (each renders once).
pub struct Mapping {
    /// `file.go::TestName`.
    pub test: &'static str,
    /// Its rendering.
    pub case: Case,
}

/// How a test renders.
pub struct Case {
    /// The change the test makes to `givenClusterSpec()`.
    pub mutate: fn(&mut SnowSpec),
    /// Whether the names come from the current objects (an upgrade).
    pub upgrade: bool,
    /// Versions bundles besides the common ones: (Kubernetes version, fixture).
    pub extra_bundles: &'static [(&'static str, &'static str)],
    /// Expected control-plane document.
    pub expected_cp: &'static str,
    /// Expected workers document.
    pub expected_md: &'static str,
}

fn none(_: &mut SnowSpec) {}

fn bottlerocket(s: &mut SnowSpec) {
    for name in ["test-cp", "test-wn"] {
        if let Some(mc) = s.machine_configs.get_mut(name) {
            mc.spec.os_family = Some(OsFamily::Bottlerocket);
        }
    }
}

/// `md-0` moves to Kubernetes 1.20; `md-1` is md-0 as it was.
fn worker_version(s: &mut SnowSpec) {
    let groups = s
        .cluster
        .spec
        .worker_node_group_configurations
        .get_or_insert_with(Vec::new);
    let Some(md0) = groups.first().cloned() else {
        return;
    };
    let md1 = WorkerNodeGroupConfiguration {
        name: Some("md-1".into()),
        ..md0.clone()
    };
    let mut md0 = md0;
    md0.kubernetes_version = Some(
        serde_yaml_ng::from_str("'1.20'").unwrap_or_else(|e| panic!("kubernetes version: {e}")),
    );
    *groups = vec![md0, md1];
}

const CP_UBUNTU: &str = "expected_results_main_cp_ubuntu.yaml";
const MD_UBUNTU: &str = "expected_results_main_md_ubuntu.yaml";

/// Every Snow mapping.
pub fn mappings() -> Vec<Mapping> {
    let case = |mutate, upgrade, cp, md| Case {
        mutate,
        upgrade,
        extra_bundles: &[],
        expected_cp: cp,
        expected_md: md,
    };
    vec![
        Mapping {
            test: concat!("snow_test.go::", "TestGenerateCAPISpecForCreateUbuntu"),
            case: case(none, false, CP_UBUNTU, MD_UBUNTU),
        },
        Mapping {
            test: concat!(
                "snow_test.go::",
                "TestGenerateCAPISpecForCreateBottlerocket"
            ),
            case: case(
                bottlerocket,
                false,
                "expected_results_main_cp_bottlerocket.yaml",
                "expected_results_main_md_bottlerocket.yaml",
            ),
        },
        Mapping {
            test: concat!("snow_test.go::", "TestGenerateCAPISpecForUpgrade"),
            case: case(none, true, CP_UBUNTU, MD_UBUNTU),
        },
        Mapping {
            test: concat!(
                "snow_test.go::",
                "TestGenerateCAPISpecForUpgradeWorkerVersion"
            ),
            case: Case {
                extra_bundles: &[("1.20", "versions-bundle-1.20-worker.yaml")],
                ..case(
                    worker_version,
                    true,
                    CP_UBUNTU,
                    "expected_results_main_md_ubuntu_worker_version.yaml",
                )
            },
        },
    ]
}

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/snow")).join(file)
}

fn read(file: &str) -> Result<String, String> {
    std::fs::read_to_string(fixture(file)).map_err(|e| format!("{file}: {e}"))
}

/// The common versions bundles (1.21, 1.29, 1.33) and `extra`.
pub fn bundles(extra: &[(&str, &str)]) -> Result<VersionsBundleSet, String> {
    let mut set = VersionsBundleSet::default();
    let common = [
        ("1.21", "versions-bundle-1.21.yaml"),
        ("1.29", "versions-bundle-1.29.yaml"),
        ("1.33", "versions-bundle-1.33.yaml"),
    ];
    for (version, file) in common.iter().chain(extra) {
        let vb = ironbell_release::ClusterVersionsBundle::from_yaml(&read(file)?, file)
            .map_err(|e| e.to_string())?;
        let mut bundle = VersionsBundle::from_release(&vb);
        bundle.kube_version = version.to_string();
        set.by_kube_version.insert(version.to_string(), bundle);
    }
    Ok(set)
}

/// The spec's credentials `Secret` (`wantEksaCredentialsSecret()`), base64 as it holds them.
fn credentials() -> Result<SnowCredentials, String> {
    let text = read("cluster.yaml")?;
    for de in serde_yaml_ng::Deserializer::from_str(&text) {
        let doc: Value = serde::Deserialize::deserialize(de).map_err(|e| e.to_string())?;
        if doc.get("kind").and_then(Value::as_str) == Some("Secret") {
            let data = |k: &str| {
                doc.get("data")
                    .and_then(|d| d.get(k))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(format!("cluster.yaml: the Secret has no data.{k}"))
            };
            return Ok(SnowCredentials {
                credentials_b64: data("credentials")?,
                ca_bundle_b64: data("ca-bundle")?,
            });
        }
    }
    Err("cluster.yaml has no Secret".into())
}

/// What the mocked client returns (`current-objects.yaml`, keyed `Kind/name`).
fn current_objects() -> Result<snow::CurrentObjects, String> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_yaml_ng::from_str(&read("current-objects.yaml")?).map_err(|e| e.to_string())?;
    let mut current = snow::CurrentObjects::default();
    for (key, object) in map {
        let (kind, name) = key
            .split_once('/')
            .ok_or(format!("current-objects.yaml: key {key} is not Kind/name"))?;
        current.insert(kind, name, object);
    }
    Ok(current)
}

/// `givenClusterSpec()`: `test.NewClusterSpec` applies no defaults; the machine configs set
/// what they need.
pub fn given_spec() -> Result<SnowSpec, String> {
    let loaded = ironbell_cluster_spec::Spec::load(fixture("cluster.yaml"))
        .map_err(|e| format!("cluster.yaml: {e}"))?;
    SnowSpec::from_spec(&loaded).map_err(|e| e.to_string())
}

/// Render a case: the control-plane and workers YAML.
pub fn render(case: &Case) -> Result<(String, String), String> {
    let mut spec = given_spec()?;
    (case.mutate)(&mut spec);
    let bundles = bundles(case.extra_bundles)?;
    let names = if case.upgrade {
        snow::upgrade_names(&spec, &bundles, &current_objects()?).map_err(|e| e.to_string())?
    } else {
        SnowNames::initial(&spec)
    };
    let options = RenderOptions {
        names,
        credentials: credentials()?,
    };
    let m = snow::render(&spec, &bundles, &options).map_err(|e| e.to_string())?;
    Ok((
        to_yaml_documents(&m.control_plane).map_err(|e| e.to_string())?,
        to_yaml_documents(&m.workers).map_err(|e| e.to_string())?,
    ))
}
