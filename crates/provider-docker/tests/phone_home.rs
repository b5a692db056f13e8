//! The node containers' phone-home receiver on loopback, with curl posting cloud-init's
//! form: a machine reports only for itself (403 otherwise), an address no DockerMachine
//! has is refused (404), a form without `instance_id` too (400), and a good report makes
//! the container's Node Ready with its provider ID.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use ironbell_model::ObjectMeta;
use ironbell_model::corev1::Node;
use ironbell_provider_docker::DockerMachine;
use ironbell_provider_docker::api::{DockerMachineStatus, MachineAddress};
use ironbell_store::{SharedStore, api};
use ironbell_store_sqlite::SqliteStore;

/// curl's POST of `form` to `url`: the HTTP status and the body.
async fn post(url: String, form: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-w",
                "\n%{http_code}",
                "--data",
                form,
                &url,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.trim().parse().unwrap(), body.to_string())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reports_for_itself_only() {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
    let mut meta = ObjectMeta::named("eksa-system", "c1-md-0-x");
    meta.labels = Some(
        [(
            ironbell_cluster_api::CLUSTER_NAME_LABEL.to_string(),
            "c1".to_string(),
        )]
        .into(),
    );
    let dm = DockerMachine {
        metadata: meta,
        ..DockerMachine::default()
    };
    let machines = api::<DockerMachine>(&store);
    machines.create(&dm).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/phone-home", listener.local_addr().unwrap());
    let server = tokio::spawn(ironbell_provider_docker::phone_home::serve(
        store.clone(),
        listener,
        std::future::pending(),
    ));

    // No DockerMachine has 127.0.0.1 yet.
    let (code, body) = post(url.clone(), "instance_id=c1-md-0-x&hostname=c1-md-0-x").await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("127.0.0.1"), "{body}");

    machines
        .modify_status("eksa-system", "c1-md-0-x", |d| {
            d.status = Some(DockerMachineStatus {
                addresses: vec![MachineAddress {
                    type_: "InternalIP".into(),
                    address: "127.0.0.1".into(),
                }],
                ..DockerMachineStatus::default()
            })
        })
        .await
        .unwrap();
    let (code, body) = post(url.clone(), "hostname=c1-md-0-x").await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post(url.clone(), "instance_id=c1-cp-y&hostname=c1-cp-y").await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("c1-cp-y") && body.contains("c1-md-0-x"),
        "{body}"
    );
    assert!(api::<Node>(&store).get("", "c1-cp-y").await.is_err());

    let (code, body) = post(
        format!("{url}/c1-md-0-x"),
        "instance_id=c1-md-0-x&hostname=c1-md-0-x&fqdn=c1-md-0-x",
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let node = api::<Node>(&store).get("", "c1-md-0-x").await.unwrap();
    assert_eq!(
        node.spec.provider_id.as_deref(),
        Some("docker:////c1-md-0-x")
    );
    let ready = node
        .status
        .iter()
        .flat_map(|s| s.conditions.iter())
        .any(|c| c.type_ == "Ready" && c.status == "True");
    assert!(ready, "{node:?}");
    server.abort();
}
