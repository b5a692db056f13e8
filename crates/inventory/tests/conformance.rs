//! EKS Anywhere's own hardware CSV test files and `hardware/example.csv` parse and translate
//! into the objects EKS Anywhere produces for them.

use std::path::PathBuf;

use ironbell_inventory::{DEFAULT_NAMESPACE, Objects, parse, to_objects, translate};
use ironbell_model::Object;
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::Hardware;

fn conformance(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/eks-anywhere-v0.24.6/pkg/providers/tinkerbell")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn objects(text: &str) -> Objects {
    let rows = parse(text).unwrap_or_else(|e| panic!("{e}"));
    translate(&rows, DEFAULT_NAMESPACE)
}

/// The Hardware EKS Anywhere writes for worker1 of its test files (`csv_test.go`
/// `TestCSVBuildHardwareYamlFromCSV`), in JSON form, with ironbell's `bmcRef.apiGroup`.
fn expected_worker1(with_bmc: bool) -> serde_json::Value {
    let mut hw = serde_json::json!({
        "apiVersion": "tinkerbell.org/v1alpha1",
        "kind": "Hardware",
        "metadata": {"labels": {"type": "cp"}, "name": "worker1", "namespace": "eksa-system"},
        "spec": {
            "disks": [{"device": "/dev/sda"}],
            "interfaces": [{
                "dhcp": {
                    "arch": "x86_64",
                    "hostname": "worker1",
                    "ip": {
                        "address": "10.10.10.10",
                        "family": 4,
                        "gateway": "10.10.10.1",
                        "netmask": "255.255.255.0"
                    },
                    "lease_time": 4294967294u64,
                    "mac": "00:00:00:00:00:01",
                    "name_servers": ["1.1.1.1"],
                    "uefi": true
                },
                "netboot": {"allowPXE": true, "allowWorkflow": true}
            }],
            "metadata": {
                "facility": {"facility_code": "onprem", "plan_slug": "c2.medium.x86"},
                "instance": {
                    "allow_pxe": true,
                    "always_pxe": true,
                    "hostname": "worker1",
                    "id": "00:00:00:00:00:01",
                    "ips": [{
                        "address": "10.10.10.10",
                        "family": 4,
                        "gateway": "10.10.10.1",
                        "netmask": "255.255.255.0",
                        "public": true
                    }],
                    "operating_system": {}
                }
            }
        }
    });
    if with_bmc {
        hw["spec"]["bmcRef"] = serde_json::json!({
            "apiGroup": "bmc.tinkerbell.org",
            "kind": "Machine",
            "name": "bmc-worker1"
        });
    }
    hw
}

fn assert_worker1_bmc(objs: &Objects) {
    let m = &objs.machines[0];
    assert_eq!(m.metadata.name(), "bmc-worker1");
    assert_eq!(m.metadata.namespace(), "eksa-system");
    assert_eq!(m.metadata.labels, None);
    let c = &m.spec.connection;
    assert_eq!(c.host, "192.168.0.10");
    assert_eq!(c.port, Some(0));
    assert!(c.insecure_tls);
    let auth = c.auth_secret_ref.as_ref().expect("authSecretRef");
    assert_eq!(auth.name.as_deref(), Some("bmc-worker1-auth"));
    assert_eq!(auth.namespace.as_deref(), Some("eksa-system"));
    let prefs = c
        .provider_options
        .as_ref()
        .and_then(|p| p.preferred_order.clone());
    assert_eq!(prefs, Some(vec!["gofish".to_string()]));
    // The Machine's JSON is EKS Anywhere's, field for field.
    assert_eq!(
        serde_json::to_value(m).expect("json"),
        serde_json::json!({
            "apiVersion": "bmc.tinkerbell.org/v1alpha1",
            "kind": "Machine",
            "metadata": {"name": "bmc-worker1", "namespace": "eksa-system"},
            "spec": {"connection": {
                "authSecretRef": {"name": "bmc-worker1-auth", "namespace": "eksa-system"},
                "host": "192.168.0.10",
                "insecureTLS": true,
                "port": 0,
                "providerOptions": {"preferredOrder": ["gofish"]}
            }}
        })
    );

    let s: &Secret = &objs.secrets[0];
    assert_eq!(s.metadata.name(), "bmc-worker1-auth");
    assert_eq!(s.metadata.namespace(), "eksa-system");
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(s.get_str("username"), Some("Admin"));
    assert_eq!(s.get_str("password"), Some("admin"));
    assert_eq!(
        s.metadata.label("clusterctl.cluster.x-k8s.io/move"),
        Some("true")
    );
    // Same bytes as EKS Anywhere's expected YAML: password YWRtaW4=, username QWRtaW4=.
    let json = serde_json::to_value(s).expect("json");
    assert_eq!(json["data"]["password"], "YWRtaW4=");
    assert_eq!(json["data"]["username"], "QWRtaW4=");
    assert_eq!(json["type"], "kubernetes.io/basic-auth");
    // Debug of the Secret never shows the password.
    assert!(!format!("{s:?}").contains("YWRtaW4="));
}

#[test]
fn eksa_hardware_csv() {
    let objs = objects(&conformance("hardware/testdata/hardware.csv"));
    assert_eq!(
        (objs.hardware.len(), objs.machines.len(), objs.secrets.len()),
        (1, 1, 1)
    );
    let hw: &Hardware = &objs.hardware[0];
    assert_eq!(
        serde_json::to_value(hw).expect("json"),
        expected_worker1(true)
    );
    assert_worker1_bmc(&objs);
}

#[test]
fn eksa_hardware_no_bmc_headers_csv() {
    let objs = objects(&conformance(
        "hardware/testdata/hardware_no_bmc_headers.csv",
    ));
    assert_eq!(
        (objs.hardware.len(), objs.machines.len(), objs.secrets.len()),
        (1, 0, 0)
    );
    assert_eq!(objs.hardware[0].spec.bmc_ref, None);
    assert_eq!(
        serde_json::to_value(&objs.hardware[0]).expect("json"),
        expected_worker1(false)
    );
}

#[test]
fn eksa_provider_hardware_csv() {
    let text = conformance("testdata/hardware.csv");
    let rows = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 4);
    let objs = translate(&rows, DEFAULT_NAMESPACE);
    assert_eq!(
        (objs.hardware.len(), objs.machines.len(), objs.secrets.len()),
        (4, 4, 4)
    );
    assert_eq!(
        serde_json::to_value(&objs.hardware[0]).expect("json"),
        expected_worker1(true)
    );
    assert_worker1_bmc(&objs);

    // Fourth row: worker4, labelled cp, BMC 192.168.0.13.
    let hw = &objs.hardware[3];
    assert_eq!(hw.metadata.name(), "worker4");
    assert_eq!(hw.metadata.label("type"), Some("cp"));
    let dhcp = hw.interfaces()[0].dhcp.as_ref().expect("dhcp");
    assert_eq!(
        dhcp.mac.map(|m| m.to_string()).as_deref(),
        Some("00:00:00:00:00:04")
    );
    assert_eq!(
        dhcp.ip
            .as_ref()
            .and_then(|ip| ip.address)
            .map(|a| a.to_string())
            .as_deref(),
        Some("10.10.10.13")
    );
    assert_eq!(
        hw.instance().and_then(|i| i.id.as_deref()),
        Some("00:00:00:00:00:04")
    );
    assert_eq!(objs.machines[3].spec.connection.host, "192.168.0.13");
    assert_eq!(objs.secrets[3].metadata.name(), "bmc-worker4-auth");

    // Row by row: Hardware, Machine, Secret.
    let all = to_objects(&rows, DEFAULT_NAMESPACE);
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|o| (o.kind_info().kind, o.metadata().name()))
        .collect();
    assert_eq!(
        &kinds[..3],
        [
            ("Hardware", "worker1"),
            ("Machine", "bmc-worker1"),
            ("Secret", "bmc-worker1-auth")
        ]
    );
    assert_eq!(all.len(), 12);
}

#[test]
fn eksa_provider_hardware_nobmc_csv() {
    let text = conformance("testdata/hardware_nobmc.csv");
    let rows = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let objs = translate(&rows, DEFAULT_NAMESPACE);
    assert_eq!(
        (objs.hardware.len(), objs.machines.len(), objs.secrets.len()),
        (4, 0, 0)
    );
    assert!(objs.hardware.iter().all(|h| h.spec.bmc_ref.is_none()));
    assert_eq!(
        serde_json::to_value(&objs.hardware[0]).expect("json"),
        expected_worker1(false)
    );
    let hw = &objs.hardware[2];
    assert_eq!(hw.metadata.name(), "worker3");
    assert_eq!(hw.metadata.label("type"), Some("etcd"));
    let all = to_objects(&rows, DEFAULT_NAMESPACE);
    assert!(all.iter().all(|o| matches!(o, Object::Hardware(_))));
}

#[test]
fn example_csv() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hardware/example.csv");
    let text = std::fs::read_to_string(&path).expect("hardware/example.csv");
    let rows = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().filter(|r| r.bmc.is_some()).count(), 2);
    let objs = translate(&rows, "custom-ns");
    assert_eq!(
        (objs.hardware.len(), objs.machines.len(), objs.secrets.len()),
        (3, 2, 2)
    );
    assert!(
        objs.hardware
            .iter()
            .all(|h| h.metadata.namespace() == "custom-ns")
    );
    let auth = objs.machines[0].spec.connection.auth_secret_ref.as_ref();
    assert_eq!(auth.and_then(|a| a.namespace.as_deref()), Some("custom-ns"));
}

#[test]
fn vlan_id_is_written_to_dhcp() {
    let text = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,vlan_id\n\
                h1,10.0.0.5,255.255.255.0,10.0.0.1,10.0.0.2,02:00:00:00:00:05,/dev/sda,,+0120\n";
    let objs = objects(text);
    let dhcp = objs.hardware[0].interfaces()[0].dhcp.clone().expect("dhcp");
    assert_eq!(dhcp.vlan_id.as_deref(), Some("120"));
    assert_eq!(objs.hardware[0].metadata.labels, None);
}

#[test]
fn objects_round_trip_through_the_model() {
    let text = conformance("testdata/hardware.csv");
    let rows = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    for obj in to_objects(&rows, DEFAULT_NAMESPACE) {
        let dynamic = obj.to_dynamic().expect("dynamic");
        let back = Object::from_dynamic(&dynamic)
            .expect("typed")
            .expect("known kind");
        assert_eq!(back, obj);
    }
}
