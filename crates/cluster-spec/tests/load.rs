//! Loading specs: every EKS Anywhere v0.24.6 provider spec loads, with its provider, machine
//! configs and references resolved; the ones EKS Anywhere refuses to load are refused with the
//! document and field named.

mod common;

use std::collections::BTreeMap;

use ironbell_cluster_spec::{Provider, Spec};

/// Files EKS Anywhere's tests expect to fail loading, and the field the error must name.
const REFUSED: &[(&str, &str)] = &[
    // A kubelet configuration indented wrongly: not YAML (nutanix template_test.go).
    ("eksa-cluster-invalid-kc.yaml", "."),
    // "unable to find machine config test-etcd" (tinkerbell_test.go).
    (
        "cluster_tinkerbell_mismatched_external_etcd.yaml",
        "spec.externalEtcdConfiguration.machineGroupRef",
    ),
    // "unable to find machine config single-node-cp" (tinkerbell_test.go).
    (
        "cluster_tinkerbell_mismatched_machine_config.yaml",
        "spec.controlPlaneConfiguration.machineGroupRef",
    ),
];

#[test]
fn every_conformance_spec_loads_or_is_refused_as_eks_anywhere_does() {
    let files = common::spec_files();
    assert_eq!(files.len(), 130, "spec files found");
    let mut failures = Vec::new();
    let mut per_provider = BTreeMap::<Provider, usize>::new();
    for f in &files {
        let name = common::file_name(f);
        let refused = REFUSED.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
        match (Spec::load(f), refused) {
            (Ok(spec), None) => *per_provider.entry(spec.provider()).or_default() += 1,
            (Ok(_), Some(_)) => failures.push(format!("{name}: loads but should not")),
            (Err(e), Some(field)) => {
                if !e.issues().iter().any(|i| i.field == field) {
                    failures.push(format!("{name}: error does not name `{field}`: {e}"));
                }
            }
            (Err(e), None) => failures.push(format!("{name}: {e}")),
        }
    }
    println!("specs loaded per provider: {per_provider:?}");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(per_provider.values().sum::<usize>(), 130 - REFUSED.len());
}

/// A vSphere spec: a ConfigMap (not part of the spec), the Cluster, its datacenter, the
/// control plane's and the workers' machine configs, and an OIDC provider.
const SPEC: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: Cluster
metadata:
  name: c1
spec:
  kubernetesVersion: 1.30
  controlPlaneConfiguration:
    count: 1
    endpoint:
      host: 10.0.0.10
    machineGroupRef:
      kind: VSphereMachineConfig
      name: cp
  workerNodeGroupConfigurations:
    - name: md-0
      count: 2
      machineGroupRef:
        kind: VSphereMachineConfig
        name: workers
  identityProviderRefs:
    - kind: OIDCConfig
      name: oidc
  datacenterRef:
    kind: VSphereDatacenterConfig
    name: dc
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereDatacenterConfig
metadata:
  name: dc
spec:
  datacenter: SDDC
  network: net
  server: vcenter.example
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata:
  name: cp
spec:
  datastore: ds
  numCPUs: 2
  osFamily: ubuntu
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: VSphereMachineConfig
metadata:
  name: workers
spec:
  datastore: ds
  numCPUs: 4
  osFamily: ubuntu
---
apiVersion: anywhere.eks.amazonaws.com/v1alpha1
kind: OIDCConfig
metadata:
  name: oidc
spec:
  clientId: me
  issuerUrl: https://issuer.example
"#;

/// The documents of [`SPEC`], `---` separators dropped.
fn documents() -> Vec<&'static str> {
    SPEC.split("---\n").collect()
}

#[test]
fn a_spec_resolves_its_references() {
    let spec = Spec::parse(SPEC).expect("loads");
    assert_eq!(spec.provider(), Provider::VSphere);
    assert_eq!(spec.name(), "c1");
    assert_eq!(
        spec.cluster
            .spec
            .kubernetes_version
            .as_ref()
            .map(|v| v.as_str()),
        Some("1.30")
    );
    assert_eq!(spec.datacenter().name(), "dc");
    assert_eq!(
        spec.control_plane_machine_config().map(|m| m.name()),
        Some("cp")
    );
    let groups = spec.worker_node_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        spec.worker_machine_config(&groups[0]).map(|m| m.name()),
        Some("workers")
    );
    assert_eq!(
        spec.machine_config("workers").map(|m| m.kind()),
        Some("VSphereMachineConfig")
    );
    assert_eq!(spec.oidc_config().map(|o| o.metadata.name()), Some("oidc"));
    assert!(spec.etcd_machine_config().is_none());
    assert_eq!(spec.control_plane_host_port(), ("10.0.0.10", 6443));
    let mut with_port = spec.clone();
    let cp = with_port.cluster.spec.control_plane_configuration.as_mut();
    cp.and_then(|c| c.endpoint.as_mut()).expect("endpoint").host = "10.0.0.10:8443".into();
    assert_eq!(with_port.control_plane_host_port(), ("10.0.0.10", 8443));
    assert_eq!(spec.document_of("VSphereMachineConfig", "workers"), Some(5));
    assert_eq!(spec.ignored.len(), 1);
    assert_eq!(spec.ignored[0].kind, "ConfigMap");
    assert_eq!(spec.ignored[0].document, 1);
    // What is printed loads again to the same spec.
    let again = Spec::parse(&spec.to_yaml().expect("prints")).expect("reloads");
    assert_eq!(again.objects(), spec.objects());
}

#[test]
fn a_missing_document_is_named_with_the_field_that_refers_to_it() {
    let docs = documents();
    let text = docs[..4].join("---\n");
    let err = Spec::parse(&text).expect_err("workers missing");
    let issues = err.issues();
    assert_eq!(issues.len(), 1, "{err}");
    let shown = issues[0].to_string();
    for part in [
        "document 2",
        "Cluster \"c1\"",
        "spec.workerNodeGroupConfigurations[0].machineGroupRef",
        "VSphereMachineConfig \"workers\"",
        "not in the spec",
    ] {
        assert!(shown.contains(part), "{shown:?} lacks {part:?}");
    }
}

#[test]
fn every_problem_of_a_file_is_reported_together() {
    let docs = documents();
    let text = format!("{SPEC}---\n{}", docs[1])
        .replace("server: vcenter.example", "server: [1, 2]")
        .replace("numCPUs: 2", "numCPUs: two");
    let err = Spec::parse(&text).expect_err("invalid");
    let fields: Vec<(Option<usize>, &str)> = err
        .issues()
        .iter()
        .map(|i| (i.document, i.field.as_str()))
        .collect();
    assert!(fields.contains(&(Some(3), "spec.server")), "{err}");
    assert!(fields.contains(&(Some(4), "spec.numCPUs")), "{err}");
    assert!(fields.contains(&(Some(7), "metadata.name")), "{err}");
}

#[test]
fn a_file_without_a_cluster_or_with_broken_yaml_is_refused() {
    let err = Spec::parse(documents()[2]).expect_err("no cluster");
    assert!(err.to_string().contains("no Cluster"), "{err}");
    let err = Spec::parse("").expect_err("empty");
    assert!(err.to_string().contains("no Cluster"), "{err}");
    let err = Spec::parse("kind: Cluster\n  bad: [").expect_err("broken");
    assert!(err.to_string().contains("invalid YAML"), "{err}");
    let err = Spec::parse("kind: Cluster\n").expect_err("no apiVersion");
    assert_eq!(err.issues()[0].field, "apiVersion", "{err}");
}

#[test]
fn an_unknown_datacenter_kind_lists_the_known_ones() {
    let text = SPEC.replace(
        "kind: VSphereDatacenterConfig\n    name",
        "kind: VmwareDatacenter\n    name",
    );
    let err = Spec::parse(&text).expect_err("unknown kind");
    let issue = &err.issues()[0];
    assert_eq!(issue.field, "spec.datacenterRef.kind");
    assert!(
        issue.message.contains("TinkerbellDatacenterConfig"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = Spec::load("/nonexistent/cluster.yaml").expect_err("no file");
    assert!(matches!(err, ironbell_cluster_spec::SpecError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/cluster.yaml"),
        "{err}"
    );
}

#[test]
fn provider_names_parse() {
    for p in Provider::ALL {
        assert_eq!(p.name().parse::<Provider>(), Ok(p));
        assert_eq!(Provider::from_datacenter_kind(p.datacenter_kind()), Some(p));
    }
    assert!("VSphere".parse::<Provider>().is_ok());
    assert!("aws".parse::<Provider>().is_err());
}
