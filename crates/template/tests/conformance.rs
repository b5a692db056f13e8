//! Conformance: every `TinkerbellTemplateConfig` of EKS Anywhere's Tinkerbell test data
//! renders for a Hardware imported from its `hardware.csv` and passes Tinkerbell's
//! validation; three renderings are compared byte for byte with outputs written by hand
//! from Tinkerbell's rendering rules (`tests/expected/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ironbell_model::template_def::TemplateDefinition;
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{Object, parse_documents};
use ironbell_template::{TemplateError, render, render_and_validate};

const TESTDATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/eks-anywhere-v0.24.6/pkg/providers/tinkerbell/testdata"
);

fn testdata() -> PathBuf {
    PathBuf::from(TESTDATA)
}

fn hardware_from_csv(file: &str) -> Vec<Hardware> {
    let text = std::fs::read_to_string(testdata().join(file)).expect("csv readable");
    let rows = ironbell_inventory::parse(&text).expect("csv parses");
    ironbell_inventory::to_objects(&rows, ironbell_inventory::DEFAULT_NAMESPACE)
        .into_iter()
        .filter_map(|o| match o {
            Object::Hardware(h) => Some(h),
            _ => None,
        })
        .collect()
}

fn hardware_map(hw: &Hardware) -> BTreeMap<String, String> {
    let mac = hw.macs()[0].to_string();
    BTreeMap::from([("device_1".to_string(), mac)])
}

fn template_configs(path: &Path) -> Vec<TemplateDefinition> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    if !text.contains("kind: TinkerbellTemplateConfig") {
        return Vec::new();
    }
    parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter_map(|o| match o {
            Object::TinkerbellTemplateConfig(t) => Some(t.spec.template),
            _ => None,
        })
        .collect()
}

#[test]
fn every_template_config_renders_and_validates() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("testdata readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut checked_files = 0;
    let mut renders = 0;
    let mut empty = Vec::new();
    for csv in ["hardware.csv", "hardware_nobmc.csv"] {
        let machines = hardware_from_csv(csv);
        assert_eq!(machines.len(), 4, "{csv}");
        for path in &files {
            let configs = template_configs(path);
            if configs.is_empty() {
                continue;
            }
            if csv == "hardware.csv" {
                checked_files += 1;
            }
            for def in configs {
                // The template text as EKS Anywhere hands it to Tinkerbell: the YAML of
                // `spec.template`.
                let text = def.to_yaml().expect("template prints");
                if def == TemplateDefinition::default() {
                    // `template: {}` (two fixtures that test other things): Tinkerbell
                    // refuses it ("name cannot be empty"), and so do we.
                    let hw = &machines[0];
                    let e = render_and_validate(&text, &hardware_map(hw), Some(hw))
                        .expect_err("an empty template is refused");
                    assert!(
                        matches!(e, TemplateError::Name(ref n) if n.is_empty()),
                        "{e}"
                    );
                    if csv == "hardware.csv" {
                        empty.push(
                            path.file_name()
                                .expect("name")
                                .to_string_lossy()
                                .into_owned(),
                        );
                    }
                    continue;
                }
                for hw in &machines {
                    let map = hardware_map(hw);
                    let rendered = render_and_validate(&text, &map, Some(hw))
                        .unwrap_or_else(|e| panic!("{} for {csv}: {e}", path.display()));
                    // Rendering only replaced the worker expression.
                    let mut want = def.clone();
                    for t in &mut want.tasks {
                        assert_eq!(t.worker, "{{.device_1}}", "{}", path.display());
                        t.worker = map["device_1"].clone();
                    }
                    assert_eq!(rendered, want, "{}", path.display());
                    renders += 1;
                }
            }
        }
    }
    assert_eq!(checked_files, 22, "files with a TinkerbellTemplateConfig");
    assert_eq!(
        empty,
        [
            "cluster_tinkerbell_api_server_cert_san_domain_name.yaml",
            "cluster_tinkerbell_api_server_cert_san_ip.yaml"
        ]
    );
    assert_eq!(
        renders,
        2 * 20 * 4,
        "20 templates x 4 machines x 2 CSV files"
    );
}

/// The `spec.template` block of the first `TinkerbellTemplateConfig` in a fixture, as
/// written there (dedented): the template text a user wrote.
fn raw_template_block(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let mut out = String::new();
    let (mut in_kind, mut in_template) = (false, false);
    for line in text.lines() {
        if in_template {
            if line.starts_with("    ") || line.is_empty() {
                out.push_str(line.get(4..).unwrap_or(""));
                out.push('\n');
                continue;
            }
            break;
        }
        if line == "kind: TinkerbellTemplateConfig" {
            in_kind = true;
        } else if in_kind && line == "  template:" {
            in_template = true;
        }
    }
    out
}

fn expected(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn worker1() -> Hardware {
    hardware_from_csv("hardware.csv")
        .into_iter()
        .next()
        .expect("a machine")
}

#[track_caller]
fn renders_exactly(template: &str, expected_file: &str) {
    let hw = worker1();
    let map = hardware_map(&hw);
    let got = render(template, &map, Some(&hw)).expect("renders");
    assert_eq!(got, expected(expected_file), "{expected_file}");
    // ...and the rendering is a valid template.
    render_and_validate(template, &map, Some(&hw)).expect("validates");
}

#[test]
fn ubuntu_template_renders_exactly() {
    let raw = raw_template_block(&testdata().join("cluster_tinkerbell_awsiam.yaml"));
    assert!(raw.contains("worker: \"{{.device_1}}\""));
    renders_exactly(&raw, "ubuntu_awsiam.yaml");
}

#[test]
fn bottlerocket_template_renders_exactly() {
    let raw = raw_template_block(
        &testdata().join("cluster_tinkerbell_bottlerocket_minimal_registry_mirror.yaml"),
    );
    assert!(raw.contains("BOOTCONFIG_CONTENTS"));
    renders_exactly(&raw, "bottlerocket_minimal_registry_mirror.yaml");
}

#[test]
fn format_partition_template_renders_exactly() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format_partition.tmpl");
    let text = std::fs::read_to_string(p).expect("fixture readable");
    renders_exactly(&text, "format_partition.yaml");
    let def =
        render_and_validate(&text, &hardware_map(&worker1()), Some(&worker1())).expect("validates");
    assert_eq!(def.name, "worker1-install");
    let names: Vec<&str> = def.tasks[0]
        .actions
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "stream-image",
            "grow-partition",
            "write-netplan-0",
            "write-hostname",
            "kexec"
        ]
    );
}
