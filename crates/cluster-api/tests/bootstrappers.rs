//! The node bootstrappers behind the `KubeadmConfig` controller's interface, on the real
//! SQLite store: the kubeadm one generates the cluster's certificate authorities once and
//! every machine's user-data trusts them; the plain one phones home. The renderers' own
//! output (goldens, `cloud-init schema`) is tested in `ironbell-bootstrap`; the kubeadm
//! user-data cannot run here and is checked as data.

use std::sync::Arc;

use ironbell_bootstrap::{ClusterCertificates, Purpose};
use ironbell_capi::api::cluster::{
    ApiEndpoint, ClusterNetwork, ClusterSpec, MachineSpec, NetworkRanges,
};
use ironbell_capi::api::kubeadm::{KubeadmConfigSpec, KubeadmControlPlane};
use ironbell_cluster_api::bootstrappers::{KubeadmBootstrapper, PlainBootstrapper};
use ironbell_cluster_api::{
    BootstrapInput, Cluster, KubeadmConfig, Machine, NodeBootstrapper, Role,
};
use ironbell_model::ObjectMeta;
use ironbell_model::corev1::Secret;
use ironbell_store::{SharedStore, api};
use ironbell_store_sqlite::SqliteStore;
use serde::Deserialize as _;

const NS: &str = "eksa-system";

/// The control plane's kubeadm configuration EKS Anywhere renders for Tinkerbell (its
/// golden file, as `ironbell-bootstrap`'s tests hold it).
fn control_plane_spec() -> KubeadmConfigSpec {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bootstrap/tests/fixtures/expected_results_cluster_tinkerbell_cp_stacked_etcd.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = serde_yaml_ng::Value::deserialize(doc).expect("yaml");
        if value.get("kind").and_then(|k| k.as_str()) == Some("KubeadmControlPlane") {
            let kcp: KubeadmControlPlane = serde_yaml_ng::from_value(value).expect("kcp");
            return kcp.spec.kubeadm_config_spec;
        }
    }
    panic!("{path} has no KubeadmControlPlane");
}

fn cluster(endpoint: bool) -> Cluster {
    Cluster {
        metadata: ObjectMeta::named(NS, "mgmt"),
        spec: ClusterSpec {
            control_plane_endpoint: endpoint.then(|| ApiEndpoint {
                host: "10.0.0.100".into(),
                port: 6443,
            }),
            cluster_network: Some(ClusterNetwork {
                pods: Some(NetworkRanges {
                    cidr_blocks: vec!["192.168.0.0/16".into()],
                }),
                services: Some(NetworkRanges {
                    cidr_blocks: vec!["10.96.0.0/12".into()],
                }),
                service_domain: None,
            }),
            ..ClusterSpec::default()
        },
        ..Cluster::default()
    }
}

fn machine(name: &str) -> Machine {
    Machine {
        metadata: ObjectMeta::named(NS, name),
        spec: MachineSpec {
            cluster_name: "mgmt".into(),
            version: Some("v1.31.2-eks-1-31-7".into()),
            ..MachineSpec::default()
        },
        ..Machine::default()
    }
}

fn config(name: &str, spec: KubeadmConfigSpec) -> KubeadmConfig {
    KubeadmConfig {
        metadata: ObjectMeta::named(NS, name),
        spec,
        ..KubeadmConfig::default()
    }
}

fn store(dir: &tempfile::TempDir) -> SharedStore {
    Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn kubeadm_machines_of_one_cluster_share_the_certificates_generated_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let kubeadm = KubeadmBootstrapper::new(store.clone());
    let cluster = cluster(true);
    let spec = control_plane_spec();
    let mut outputs = Vec::new();
    for (name, role) in [
        ("mgmt-cp-1", Role::Init),
        ("mgmt-cp-2", Role::JoinControlPlane),
        ("mgmt-md-1", Role::JoinWorker),
    ] {
        let (m, c) = (machine(name), config(name, spec.clone()));
        let input = BootstrapInput {
            config: &c,
            machine: &m,
            cluster: &cluster,
            role,
        };
        let data = kubeadm
            .bootstrap(input)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.format, "cloud-config");
        assert!(
            data.value.starts_with("## template: jinja\n#cloud-config")
                || data.value.contains("#cloud-config")
        );
        outputs.push(data.value);
    }
    // One set of authorities, stored as Cluster API names them.
    let secrets = api::<Secret>(&store);
    let mut stored = Vec::new();
    for purpose in Purpose::ALL {
        stored.push(
            secrets
                .get(NS, &purpose.secret_name("mgmt"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let certs = ClusterCertificates::from_secrets("mgmt", &stored).expect("stored certificates");
    let ca = certs
        .get(Purpose::ClusterCa)
        .cert_pem()
        .trim()
        .lines()
        .nth(1)
        .expect("pem")
        .to_string();
    let [init, join_cp, join_worker] = &outputs[..] else {
        panic!("three outputs")
    };
    assert!(
        init.contains("kubeadm init") && init.contains(&ca),
        "init carries the CA"
    );
    assert!(
        join_cp.contains("kubeadm join") && join_cp.contains(&ca),
        "a control-plane join carries the CA"
    );
    // A worker trusts the CA by its public-key hash, and carries no key.
    let hash = &certs.ca_cert_hashes().expect("hash")[0];
    assert!(
        join_worker.contains(hash.as_str()),
        "{hash} not in the worker's join"
    );
    assert!(!join_worker.contains("PRIVATE KEY"));
    // PROVIDER_ID is left for the infrastructure provider to fill in.
    assert!(init.contains("PROVIDER_ID"));
}

#[tokio::test]
async fn without_an_endpoint_the_error_names_the_kubeadm_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeadm = KubeadmBootstrapper::new(store(&dir));
    let (cluster, m, c) = (
        cluster(false),
        machine("m"),
        config("m", control_plane_spec()),
    );
    let input = BootstrapInput {
        config: &c,
        machine: &m,
        cluster: &cluster,
        role: Role::Init,
    };
    let e = kubeadm.bootstrap(input).await.expect_err("no endpoint");
    assert!(
        e.to_string().contains("KubeadmConfig eksa-system/m")
            && e.to_string().contains("controlPlaneEndpoint"),
        "{e}"
    );
}

#[tokio::test]
async fn a_plain_node_phones_home_to_the_metadata_service() {
    let plain = PlainBootstrapper::new("http://10.0.0.1:50061/phone-home");
    let (cluster, m, c) = (
        cluster(true),
        machine("m"),
        config("m", control_plane_spec()),
    );
    let input = BootstrapInput {
        config: &c,
        machine: &m,
        cluster: &cluster,
        role: Role::JoinWorker,
    };
    let data = plain
        .bootstrap(input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.format, "cloud-config");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&data.value).expect("yaml");
    assert_eq!(
        doc["phone_home"]["url"].as_str(),
        Some("http://10.0.0.1:50061/phone-home")
    );
    assert!(!data.value.contains("kubeadm"));
}

/// The native bootstrapper: the first control-plane machine starts a new etcd cluster, a
/// second one joins the machines with an address (and waits, with an error naming its
/// KubeadmConfig, while none has one), a worker is plain; every member trusts the
/// cluster's etcd CA, the one the kubeadm bootstrapper keeps.
#[tokio::test]
async fn native_control_plane_machines_start_or_join_the_clusters_etcd() {
    use ironbell_bootstrap::native::NodeConfig;
    use ironbell_cluster_api::bootstrappers::NativeBootstrapper;
    use ironbell_cluster_api::kinds::{MachineAddress, MachineStatus};

    let dir = tempfile::tempdir().expect("temp dir");
    let store = store(&dir);
    let native = NativeBootstrapper::new(
        store.clone(),
        "http://10.0.0.1:50061/phone-home",
        vec!["--node-bootstrapper".into(), "native".into()],
    );
    let cluster = cluster(true);
    let render = |name: &'static str, role: Role| {
        let native = native.clone();
        let cluster = cluster.clone();
        async move {
            let (m, c) = (machine(name), config(name, control_plane_spec()));
            native
                .bootstrap(BootstrapInput {
                    config: &c,
                    machine: &m,
                    cluster: &cluster,
                    role,
                })
                .await
        }
    };
    let first = render("cp-1", Role::Init)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = NodeConfig::parse(&first.value).expect("node config");
    assert!(first.join.is_empty(), "{:?}", first.join);
    assert_eq!(first.name.as_deref(), Some("cp-1"));
    assert_eq!(first.serve_args, ["--node-bootstrapper", "native"]);

    let err = render("cp-2", Role::JoinControlPlane)
        .await
        .expect_err("nothing to join");
    assert!(
        err.to_string().contains("KubeadmConfig eksa-system/cp-2"),
        "{err}"
    );

    // The first machine provisioned: it has an address.
    let mut cp1 = machine("cp-1");
    cp1.metadata.labels = Some(
        [
            (
                "cluster.x-k8s.io/cluster-name".to_string(),
                "mgmt".to_string(),
            ),
            ("cluster.x-k8s.io/control-plane".to_string(), String::new()),
        ]
        .into(),
    );
    cp1.status = Some(MachineStatus {
        addresses: vec![MachineAddress {
            type_: "InternalIP".into(),
            address: "10.0.0.11".into(),
        }],
        ..MachineStatus::default()
    });
    let machines = api::<Machine>(&store);
    let created = machines
        .create(&cp1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut with_status = created.clone();
    with_status.status = cp1.status.clone();
    machines
        .update_status(&with_status)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = render("cp-2", Role::JoinControlPlane)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = NodeConfig::parse(&second.value).expect("node config");
    assert_eq!(second.join, ["https://10.0.0.11:2379"]);
    assert_eq!(
        second.etcd_ca_cert, first.etcd_ca_cert,
        "one etcd CA per cluster"
    );
    let certs = KubeadmBootstrapper::new(store.clone())
        .certificates(NS, "mgmt")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(certs.etcd_ca.cert_pem(), first.etcd_ca_cert);

    let worker = render("w-1", Role::JoinWorker)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        NodeConfig::parse(&worker.value).is_err(),
        "a worker runs no member"
    );
    assert!(worker.value.contains("phone_home"));
}
