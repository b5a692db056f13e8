//! EKS Anywhere kinds against EKS Anywhere v0.24.6's own cluster specs: every Tinkerbell
//! `cluster_*.yaml` parses into typed objects and prints back the same data, and so does every
//! `cluster_*.yaml` and `eksa-cluster-*.yaml` of the other providers; errors name document,
//! kind, name and path;
//! workflow templates round-trip through [`TemplateDefinition`].

mod common;

use std::path::{Path, PathBuf};

use ironbell_model::anywhere::{KubernetesVersion, OsFamily, TaintEffect};
use ironbell_model::template_def::{TemplateDefError, TemplateDefinition};
use ironbell_model::{Object, parse_documents};
use serde_json::Value;

fn testdata(provider: &str) -> PathBuf {
    common::conformance_dir()
        .join("eks-anywhere-v0.24.6/pkg/providers")
        .join(provider)
        .join("testdata")
}

/// The `cluster_*.yaml` files of a provider's testdata, sorted.
fn cluster_files(provider: &str) -> Vec<PathBuf> {
    files_named(provider, "cluster_")
}

/// The `<prefix>*.yaml` files of a provider's testdata, sorted.
fn files_named(provider: &str, prefix: &str) -> Vec<PathBuf> {
    let dir = testdata(provider);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    files
}

/// A spec as EKS Anywhere reads it, which is what ironbell prints back: an unquoted
/// `kubernetesVersion: 1.NN` quoted (EKS Anywhere's `NormalizeKubernetesVersion` does this to
/// the text before parsing), and the `certSans` spellings its case-insensitive decoder
/// accepts written the canonical way.
fn as_eks_anywhere_reads(text: &str) -> String {
    normalize_kubernetes_version(text)
        .replace("certSANS:", "certSans:")
        .replace("certSANs:", "certSans:")
        .replace("ccmExcludeNodeIps:", "ccmExcludeNodeIPs:")
}

/// Quotes an unquoted `kubernetesVersion: 1.NN`, line by line, like EKS Anywhere's
/// `NormalizeKubernetesVersion`.
fn normalize_kubernetes_version(text: &str) -> String {
    const KEY: &str = "kubernetesVersion:";
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let fixed = line.find(KEY).and_then(|at| {
            let (head, rest) = line.split_at(at + KEY.len());
            let value = rest.trim_start();
            let ws = &rest[..rest.len() - value.len()];
            let unquoted = value.trim_start_matches(['"', '\'']);
            let digits = unquoted.strip_prefix("1.")?;
            let n = digits.chars().take_while(char::is_ascii_digit).count();
            if n < 2 {
                return None;
            }
            let tail = digits[n..].trim_start_matches(['"', '\'']);
            Some(format!("{head}{ws}\"1.{}\"{tail}", &digits[..n]))
        });
        out.push_str(fixed.as_deref().unwrap_or(line));
    }
    out
}

/// A scratch file for a rewritten fixture.
fn scratch(tag: &str, original: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("anywhere_fixtures")
        .join(tag);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(original.file_name().expect("file name"))
}

/// Runs `check` on every file, catching panics, and fails listing every file that failed.
fn check_all(files: &[PathBuf], check: impl Fn(&Path) -> usize) -> usize {
    let mut failures = Vec::new();
    let mut objects = 0;
    for f in files {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(f))) {
            Ok(n) => objects += n,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                // The first line names the file; `document` lines name the errors.
                let detail: Vec<&str> = msg
                    .lines()
                    .filter(|l| l.trim_start().starts_with("document") || l.contains("differs"))
                    .collect();
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
                failures.push(format!("{name}: {}", detail.join(" / ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n  {}",
        failures.len(),
        files.len(),
        failures.join("\n  ")
    );
    objects
}

/// Round-trips a file as EKS Anywhere reads it (see [`as_eks_anywhere_reads`]).
fn round_trip_normalized(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let normalized = as_eks_anywhere_reads(&text);
    if normalized == text {
        return common::assert_round_trip(path);
    }
    let tmp = scratch("normalized", path);
    std::fs::write(&tmp, normalized).expect("scratch write");
    common::assert_round_trip(&tmp)
}

#[test]
fn tinkerbell_cluster_specs_round_trip() {
    let files = cluster_files("tinkerbell");
    assert_eq!(files.len(), 34, "Tinkerbell cluster_*.yaml files found");
    let objects = check_all(&files, round_trip_normalized);
    // 34 Cluster, 34 datacenter, 76 machine, 22 template, 5 OIDC, 1 IAM config.
    assert_eq!(objects, 172, "objects checked");
}

#[test]
fn unquoted_kubernetes_version_reads_like_eks_anywhere() {
    let path = testdata("tinkerbell").join("cluster_tinkerbell_worker_version.yaml");
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    assert!(
        text.contains("kubernetesVersion: 1.20"),
        "fixture still has the bare number"
    );
    let objects = parse_documents(&text).expect("parses");
    let Some(Object::Cluster(c)) = objects.first() else {
        panic!("first object is the Cluster");
    };
    let groups = c
        .spec
        .worker_node_group_configurations
        .as_deref()
        .unwrap_or_default();
    let versions: Vec<_> = groups
        .iter()
        .map(|g| g.kubernetes_version.clone())
        .collect();
    assert!(
        versions.contains(&Some(KubernetesVersion::from("1.20"))),
        "{versions:?}"
    );
    let printed = ironbell_model::to_yaml_documents(&objects[..1]).expect("prints");
    assert!(printed.contains("kubernetesVersion: '1.20'"), "{printed}");
}

#[test]
fn other_providers_cluster_specs_round_trip() {
    let mut files = Vec::new();
    for provider in ["cloudstack", "docker", "nutanix", "vsphere"] {
        files.extend(cluster_files(provider));
        // Nutanix names its specs `eksa-cluster-*.yaml`.
        files.extend(files_named(provider, "eksa-cluster"));
    }
    // Broken YAML on purpose (an invalid kubelet configuration); see the test below.
    files.retain(|f| !f.ends_with("eksa-cluster-invalid-kc.yaml"));
    assert_eq!(
        files.len(),
        71 + 24,
        "other providers' cluster_*.yaml and eksa-cluster-*.yaml files found"
    );
    let objects = check_all(&files, round_trip_normalized);
    println!("{} files, {objects} objects round-tripped", files.len());
    assert!(objects >= 3 * files.len(), "objects checked: {objects}");
}

#[test]
fn every_eks_anywhere_kind_is_registered() {
    let registry = ironbell_model::KindRegistry::builtin();
    let kinds = [
        "Cluster",
        "TinkerbellDatacenterConfig",
        "TinkerbellMachineConfig",
        "TinkerbellTemplateConfig",
        "DockerDatacenterConfig",
        "VSphereDatacenterConfig",
        "VSphereMachineConfig",
        "CloudStackDatacenterConfig",
        "CloudStackMachineConfig",
        "NutanixDatacenterConfig",
        "NutanixMachineConfig",
        "SnowDatacenterConfig",
        "SnowMachineConfig",
        "SnowIPPool",
        "OIDCConfig",
        "AWSIamConfig",
        "GitOpsConfig",
        "FluxConfig",
    ];
    for kind in kinds {
        let info = registry
            .find(&kind.to_lowercase())
            .unwrap_or_else(|| panic!("{kind} is not registered"));
        assert_eq!(info.kind, kind);
        assert_eq!(info.api_version, "anywhere.eks.amazonaws.com/v1alpha1");
    }
}

#[test]
fn the_broken_nutanix_sample_is_refused_with_its_line() {
    let path = testdata("nutanix").join("eksa-cluster-invalid-kc.yaml");
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    let err = parse_documents(&text).expect_err("broken YAML");
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].message.contains("line 18"), "{err}");
}

const CLUSTER: &str = r#"
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: mycluster
spec:
  kubernetesVersion: "1.31"
  controlPlaneConfiguration:
    count: 3
    endpoint:
      host: 10.0.0.10
    machineGroupRef:
      kind: TinkerbellMachineConfig
      name: cp
    taints:
      - key: node-role.kubernetes.io/control-plane
        effect: NoSchedule
  datacenterRef:
    kind: TinkerbellDatacenterConfig
    name: mycluster
"#;

const MACHINE: &str = r#"
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: TinkerbellMachineConfig
metadata:
  name: cp
spec:
  hardwareSelector:
    type: cp
  osFamily: ubuntu
"#;

#[test]
fn well_formed_objects_parse() {
    let text = format!("{CLUSTER}---{MACHINE}");
    let objects = parse_documents(&text).expect("parses");
    let [Object::Cluster(c), Object::TinkerbellMachineConfig(m)] = &objects[..] else {
        panic!("unexpected objects: {objects:?}");
    };
    let cp = c
        .spec
        .control_plane_configuration
        .as_ref()
        .expect("control plane");
    assert_eq!(cp.count, Some(3));
    assert_eq!(
        cp.taints.as_ref().expect("taints")[0].effect,
        TaintEffect::NoSchedule
    );
    assert_eq!(m.spec.os_family, Some(OsFamily::Ubuntu));
    assert_eq!(
        m.spec.hardware_selector.get("type").map(String::as_str),
        Some("cp")
    );
}

#[test]
fn wrong_type_deep_in_a_cluster_names_its_path() {
    let text = CLUSTER.replace("count: 3", "count: \"three\"");
    let err = parse_documents(&text).expect_err("must fail");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!(e.path, "spec.controlPlaneConfiguration.count");
    assert_eq!(e.document, 1);
    assert_eq!(e.kind.as_deref(), Some("Cluster"));
    assert_eq!(e.name.as_deref(), Some("mycluster"));
    let shown = e.to_string();
    for part in [
        "document 1",
        "Cluster",
        "mycluster",
        "spec.controlPlaneConfiguration.count",
    ] {
        assert!(shown.contains(part), "{shown:?} lacks {part:?}");
    }
}

#[test]
fn unknown_field_in_a_machine_config_names_its_path() {
    let text = MACHINE.replace(
        "osFamily: ubuntu",
        "osFamily: ubuntu\n  osImageUrl: http://x/img.gz",
    );
    let err = parse_documents(&text).expect_err("must fail");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!(e.path, "spec.osImageUrl", "{e}");
    assert!(e.message.contains("unknown field `osImageUrl`"), "{e}");
    let shown = e.to_string();
    for part in [
        "document 1",
        "TinkerbellMachineConfig",
        "\"cp\"",
        "spec.osImageUrl",
    ] {
        assert!(shown.contains(part), "{shown:?} lacks {part:?}");
    }
}

#[test]
fn bad_enum_value_names_its_path() {
    let text = MACHINE.replace("osFamily: ubuntu", "osFamily: windows");
    let err = parse_documents(&text).expect_err("must fail");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!(e.path, "spec.osFamily");
    assert!(e.message.contains("windows"), "{e}");
    assert!(
        e.to_string().contains("TinkerbellMachineConfig \"cp\""),
        "{e}"
    );

    let text = CLUSTER.replace("effect: NoSchedule", "effect: NoRun");
    let err = parse_documents(&text).expect_err("must fail");
    assert_eq!(
        err.0[0].path,
        "spec.controlPlaneConfiguration.taints[0].effect"
    );
}

#[test]
fn every_bad_document_of_a_stream_is_reported() {
    let good_machine = MACHINE.replace("name: cp", "name: md");
    let bad_cluster = CLUSTER.replace("count: 3", "count: three");
    let bad_machine = MACHINE.replace("osFamily: ubuntu", "osFamily: windows");
    let text = format!("{bad_cluster}---{good_machine}---{bad_machine}");
    let err = parse_documents(&text).expect_err("must fail");
    assert_eq!(err.0.len(), 2, "{err}");
    assert_eq!(
        (err.0[0].document, err.0[0].path.as_str()),
        (1, "spec.controlPlaneConfiguration.count")
    );
    assert_eq!(
        (err.0[1].document, err.0[1].path.as_str()),
        (3, "spec.osFamily")
    );
    let shown = err.to_string();
    assert!(shown.starts_with("2 invalid documents"), "{shown}");
    assert!(
        shown.contains("document 1 (Cluster \"mycluster\")"),
        "{shown}"
    );
    assert!(
        shown.contains("document 3 (TinkerbellMachineConfig \"cp\")"),
        "{shown}"
    );
}

#[test]
fn required_fields_are_required() {
    let text = MACHINE.replace("  hardwareSelector:\n    type: cp\n", "");
    let err = parse_documents(&text).expect_err("must fail");
    assert!(
        err.0[0]
            .message
            .contains("missing field `hardwareSelector`"),
        "{err}"
    );
}

#[test]
fn templates_of_template_configs_round_trip() {
    let mut checked = 0;
    for path in cluster_files("tinkerbell") {
        let text = std::fs::read_to_string(&path).expect("fixture readable");
        let typed = parse_documents(&text).expect("parses");
        let typed: Vec<_> = typed
            .into_iter()
            .filter_map(|o| match o {
                Object::TinkerbellTemplateConfig(t) => Some(t),
                _ => None,
            })
            .collect();
        let raw: Vec<Value> = common::raw_objects(&text)
            .into_iter()
            .filter(|v| v["kind"] == "TinkerbellTemplateConfig")
            .collect();
        assert_eq!(typed.len(), raw.len(), "{}", path.display());
        for (config, raw) in typed.iter().zip(raw) {
            let want = common::normalize(raw["spec"]["template"].clone());
            let yaml = serde_yaml_ng::to_string(&want).expect("prints");
            let def = TemplateDefinition::from_yaml(&yaml)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(def, config.spec.template, "{}", path.display());
            let again: Value = serde_yaml_ng::from_str(&def.to_yaml().expect("prints"))
                .expect("printed template parses");
            assert_eq!(common::normalize(again), want, "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 22, "TinkerbellTemplateConfigs checked");
}

#[test]
fn template_errors_name_their_path() {
    let text = r#"
version: "0.1"
name: t
global_timeout: 600
tasks:
  - name: os
    worker: "{{.device_1}}"
    actions:
      - name: stream
        image: image2disk:v1.0.0
        timeout: 600
      - name: reboot
        image: reboot:v1.0.0
        timeout: soon
"#;
    let err = TemplateDefinition::from_yaml(text).expect_err("must fail");
    let TemplateDefError::Invalid { path, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(path, "tasks[0].actions[1].timeout");
    assert!(
        err.to_string().contains("tasks[0].actions[1].timeout"),
        "{err}"
    );

    let err = TemplateDefinition::from_yaml(&text.replace("timeout: soon", "on_timeout: [x]"))
        .expect_err("must fail");
    assert!(
        err.to_string().contains("unknown field `on_timeout`"),
        "{err}"
    );

    let ok = TemplateDefinition::from_yaml(
        &text.replace("timeout: soon", "on-failure: [sh, -c, 'echo failed']"),
    )
    .expect("kebab-case keys parse");
    let action = &ok.tasks[0].actions[1];
    assert_eq!(action.on_failure.as_deref().map(<[String]>::len), Some(3));
    assert_eq!(ok.actions().count(), 2);
    assert!(ok.to_yaml().expect("prints").contains("on-failure:"));
}

/// Fields no fixture uses: every part of the spec and the status, printed back unchanged.
const FULL_CLUSTER: &str = r#"
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: full
  namespace: default
spec:
  kubernetesVersion: 1.30
  eksaVersion: v0.24.6
  licenseToken: abc
  bundlesRef: {apiVersion: anywhere.eks.amazonaws.com/v1alpha1, name: bundles-1, namespace: eksa-system}
  managementCluster: {name: full}
  datacenterRef: {kind: TinkerbellDatacenterConfig, name: full}
  identityProviderRefs: [{kind: AWSIamConfig, name: iam}]
  gitOpsRef: {kind: FluxConfig, name: flux}
  podIamConfig: {serviceAccountIssuer: "https://issuer.example"}
  proxyConfiguration: {httpProxy: "http://p:3128", httpsProxy: "http://p:3128", noProxy: [10.0.0.0/8]}
  registryMirrorConfiguration:
    endpoint: mirror.local
    port: "5000"
    authenticate: true
    insecureSkipVerify: false
    caCertContent: "-----BEGIN CERTIFICATE-----"
    ociNamespaces: [{registry: public.ecr.aws, namespace: eks-anywhere}]
  packages:
    disable: false
    controller:
      repository: r
      tag: t
      digest: d
      disableWebhooks: true
      env: [A=b]
      resources: {requests: {cpu: 100m, memory: 50Mi}, limits: {cpu: "1", memory: 1Gi}}
    cronjob: {repository: r, tag: t, digest: d, disable: true}
  machineHealthCheck: {nodeStartupTimeout: 10m0s, unhealthyMachineTimeout: 5m0s, maxUnhealthy: 40%}
  etcdEncryption:
    - providers: [{kms: {name: k, socketListenAddress: "unix:///k.sock", cachesize: 100, timeout: 3s}}]
      resources: [secrets]
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
    dns: {resolvConf: {path: /etc/my-resolv.conf}}
    nodes: {cidrMaskSize: 24}
    cniConfig:
      cilium:
        policyEnforcementMode: always
        egressMasqueradeInterfaces: eth0
        skipUpgrade: false
        routingMode: direct
        ipv4NativeRoutingCIDR: 10.0.0.0/8
        ipv6NativeRoutingCIDR: fd00::/8
        cniExclusive: true
        helmValues: {hubble: {enabled: true}}
  controlPlaneConfiguration:
    count: 3
    endpoint: {host: 10.0.0.10}
    machineGroupRef: {kind: TinkerbellMachineConfig, name: cp}
    taints: [{key: k, value: v, effect: NoExecute, timeAdded: "2024-01-01T00:00:00Z"}]
    labels: {a: b}
    upgradeRolloutStrategy: {type: InPlace}
    skipLoadBalancerDeployment: true
    certSans: [api.example]
    machineHealthCheck: {maxUnhealthy: 1}
    apiServerExtraArgs: {audit-log-maxage: "30"}
    kubeletConfiguration: {kind: KubeletConfiguration, maxPods: 110}
    auditPolicyContent: "apiVersion: audit.k8s.io/v1"
    skipAdmissionForSystemResources: true
  externalEtcdConfiguration: {count: 3, machineGroupRef: {kind: TinkerbellMachineConfig, name: etcd}}
  workerNodeGroupConfigurations:
    - name: md-0
      count: 2
      autoscalingConfiguration: {minCount: 1, maxCount: 5}
      machineGroupRef: {kind: TinkerbellMachineConfig, name: md}
      taints: []
      labels: {}
      kubernetesVersion: "1.29"
      upgradeRolloutStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
      kubeletConfiguration: {maxPods: 50}
      failureDomains: [fd1]
status:
  failureMessage: boom
  failureReason: HardwareInvalid
  eksdReleaseRef: {apiVersion: distro.eks.amazonaws.com/v1alpha1, kind: Release, name: r, namespace: eksa-system}
  conditions:
    - {type: Ready, status: "False", severity: Error, lastTransitionTime: "2024-01-01T00:00:00Z", reason: R, message: M}
  clusterCertificateInfo: [{machine: m1, expiresInDays: 300}]
  reconciledGeneration: 2
  childrenReconciledGeneration: 5
  observedGeneration: 2
"#;

#[test]
fn every_cluster_field_round_trips() {
    let objects = parse_documents(FULL_CLUSTER).unwrap_or_else(|e| panic!("{e}"));
    let [Object::Cluster(c)] = &objects[..] else {
        panic!("one Cluster expected");
    };
    assert_eq!(
        c.spec.kubernetes_version,
        Some(KubernetesVersion::from("1.30"))
    );
    let got = common::normalize(serde_json::to_value(&objects[0]).expect("serializes"));
    let mut want = common::raw_objects(FULL_CLUSTER).remove(0);
    want["spec"]["kubernetesVersion"] = Value::from("1.30");
    assert_eq!(got, common::normalize(want));
}
