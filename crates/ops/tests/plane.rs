//! A plane in process: services (the cluster controllers among them) start from one
//! network description and stop through the handle; a second plane with controllers on the same store is refused while the first
//! holds the controller lock, and starts once the first is stopped. Everything listens on
//! loopback, on ports the kernel picks.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};

use ironbell_ops::OpsError;
use ironbell_ops::network::PlaneNetwork;
use ironbell_ops::plane::{ClusterOptions, MetadataOptions, Plane, PlaneConfig};
use ironbell_ops::spec::{Access, StoreHandle, StoreSpec, open};
use ironbell_workflow_proto::ActionRequest;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;

/// Real etcd servers (the store-etcd tests' launcher, shared rather than copied).
#[path = "../../store-etcd/tests/support/mod.rs"]
#[allow(unreachable_pub)]
mod etcd;

/// Asks for an action as an agent would.
async fn get_action(
    client: &mut WorkflowServiceClient<tonic::transport::Channel>,
) -> Result<(), tonic::Status> {
    let request = ActionRequest {
        agent_id: "52:54:00:00:00:01".into(),
        agent_attributes: None,
    };
    client.get_action(request).await.map(|_| ())
}

/// Asks for an action on `client` until `done` holds for the refusal, or `wait` passed;
/// returns the last refusal.
async fn poll_get_action(
    client: &mut WorkflowServiceClient<tonic::transport::Channel>,
    wait: std::time::Duration,
    done: impl Fn(&tonic::Status) -> bool,
) -> tonic::Status {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let status = get_action(client).await.unwrap_err();
        if done(&status) || tokio::time::Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A Cluster API `Cluster` `name` and its `TinkerbellCluster`, for the cluster controllers
/// to act on.
async fn seed_cluster(store: &StoreHandle, name: &str) {
    for json in [
        format!(
            r#"{{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Cluster",
            "metadata":{{"name":"{name}","namespace":"eksa-system"}},
            "spec":{{"controlPlaneEndpoint":{{"host":"10.0.0.100","port":6443}},
                    "infrastructureRef":{{"apiVersion":"infrastructure.cluster.x-k8s.io/v1beta1","kind":"TinkerbellCluster","name":"{name}"}}}}}}"#
        ),
        format!(
            r#"{{"apiVersion":"infrastructure.cluster.x-k8s.io/v1beta1","kind":"TinkerbellCluster",
            "metadata":{{"name":"{name}","namespace":"eksa-system",
                        "labels":{{"cluster.x-k8s.io/cluster-name":"{name}"}}}},
            "spec":{{}}}}"#
        ),
    ] {
        let obj = ironbell_model::DynamicObject::from_json(&json).unwrap();
        store.store().create(obj).await.unwrap();
    }
}

/// Whether the cluster controllers made Cluster `name` `Provisioned` (its
/// TinkerbellCluster ready).
async fn provisioned(store: &StoreHandle, name: &str) -> bool {
    let key = ironbell_model::TypeKey::new("cluster.x-k8s.io/v1beta1", "Cluster");
    store
        .store()
        .get(&key, "eksa-system", name)
        .await
        .is_ok_and(|c| c.to_value().pointer("/status/phase") == Some(&"Provisioned".into()))
}

fn loopback_port() -> SocketAddr {
    // A free port: bind, read it, release it.
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

fn config(metadata: SocketAddr, grpc: SocketAddr) -> PlaneConfig {
    let mut network = PlaneNetwork::new(Ipv4Addr::LOCALHOST);
    network.metadata = metadata;
    network.grpc = grpc;
    let mut config = PlaneConfig::new(network);
    config.metadata = Some(MetadataOptions::default());
    config.workflow = Some(ironbell_ops::plane::WorkflowOptions {
        concurrency: 2,
        ..Default::default()
    });
    config.bmc = Some(ironbell_bmc::Config::default());
    config.cluster = Some(ClusterOptions::plain(&config.network));
    config
}

fn store(dir: &tempfile::TempDir) -> StoreHandle {
    open(
        &StoreSpec::Sqlite(dir.path().join("ironbell.db")),
        Access::Create,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planes_start_stop_and_take_turns_at_the_controller_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (metadata, grpc) = (loopback_port(), loopback_port());
    let first = Plane::start(&store(&dir), config(metadata, grpc))
        .await
        .unwrap();
    assert!(first.holds_controller_lock());
    // Both listen where the description says.
    for addr in [metadata, grpc] {
        tokio::net::TcpStream::connect(addr).await.unwrap();
    }

    // Another handle on the same file (as another process would have): refused, naming us.
    let err = Plane::start(&store(&dir), config(loopback_port(), loopback_port()))
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::Lock(_)), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("PID {}", std::process::id())),
        "{err}"
    );
    // Boot and metadata only: no controllers, no lock needed.
    let mut readers = PlaneConfig::new(PlaneNetwork::new(Ipv4Addr::LOCALHOST));
    readers.network.metadata = loopback_port();
    readers.metadata = Some(MetadataOptions::default());
    let beside = Plane::start(&store(&dir), readers).await.unwrap();
    assert!(!beside.holds_controller_lock());
    beside.stop().await;

    first.stop().await;
    // Stopped: the ports are free again and the lock is released.
    tokio::net::TcpListener::bind(grpc).await.unwrap();
    let second = Plane::start(&store(&dir), config(loopback_port(), loopback_port()))
        .await
        .unwrap();
    assert!(second.holds_controller_lock());
    second.stop().await;
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error_and_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let taken = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let busy = taken.local_addr().unwrap();
    let err = Plane::start(&store(&dir), config(loopback_port(), busy))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("workflow service") && err.contains(&format!("cannot listen on {busy}")),
        "{err}"
    );
    // The failed start did not keep the lock.
    let plane = Plane::start(&store(&dir), config(loopback_port(), loopback_port()))
        .await
        .unwrap();
    plane.stop().await;
}

/// On etcd, every replica serves, and the controllers run on the one that leads the
/// election: a second plane waits as a candidate (its agent port answering UNAVAILABLE with
/// the leader's name), takes over when the leader stops (its agent port then serving the
/// real API), and a leader cut off from etcd stops its controllers, goes on serving, and
/// leads again once etcd is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_etcd_one_replica_leads_the_controllers_and_another_takes_over() {
    let Some(mut cluster) = etcd::Cluster::start(1).await else {
        return;
    };
    let endpoint = cluster.endpoints()[0].clone();
    let host = endpoint.trim_start_matches("http://");
    let spec: StoreSpec = format!("etcd://{host}/planes").parse().unwrap();
    let handle = || {
        let mut h = open(&spec, Access::Create).unwrap();
        h.set_election_config(ironbell_store_etcd::ElectionConfig {
            lease_duration: std::time::Duration::from_secs(2),
            renew_deadline: std::time::Duration::from_secs(1),
            retry_period: std::time::Duration::from_millis(250),
        });
        h
    };
    let observer = handle().controller_election().unwrap().unwrap();
    let leader = || async {
        observer
            .observe(ironbell_ops::plane::CONTROLLERS_ELECTION)
            .await
            .unwrap()
            .map(|l| l.identity)
    };
    let wait = std::time::Duration::from_secs(20);

    let first = Plane::start(&handle(), config(loopback_port(), loopback_port()))
        .await
        .unwrap();
    assert!(first.elects_controllers() && !first.holds_controller_lock());
    assert!(etcd::wait_async(wait, || async { leader().await.is_some() }).await);
    let first_identity = leader().await.unwrap();
    // The leader runs the cluster controllers.
    let objects = handle();
    seed_cluster(&objects, "c1").await;
    assert!(
        etcd::wait_async(wait, || async { provisioned(&objects, "c1").await }).await,
        "the leader's cluster controllers did not provision c1"
    );

    // A second replica starts (no lock refuses it) and waits as a candidate.
    let second_grpc = loopback_port();
    let mut second = Plane::start(&handle(), config(loopback_port(), second_grpc))
        .await
        .unwrap();
    assert_eq!(leader().await.as_deref(), Some(first_identity.as_str()));

    // An agent that reaches the candidate is answered at once: UNAVAILABLE, not the
    // leader, naming the one that leads (so it moves on to it).
    let mut agent = WorkflowServiceClient::connect(format!("http://{second_grpc}"))
        .await
        .unwrap();
    let expected = format!("not the leader; the controllers run on {first_identity}");
    let status = poll_get_action(&mut agent, wait, |s| {
        s.code() == tonic::Code::Unavailable && s.message() == expected
    })
    .await;
    assert_eq!(status.message(), expected, "{status:?}");

    // The leader stops: the candidate leads.
    assert!(etcd::wait_async(wait, || async { first.runs_controllers() }).await);
    assert!(!second.runs_controllers());
    first.stop().await;
    assert!(
        etcd::wait_async(wait, || async {
            leader().await.is_some_and(|l| l != first_identity)
        })
        .await,
        "the second replica took over"
    );
    // The same agent connection now reaches the real agent API (the standby closed its
    // connections): the machine is unknown, which only the real service can say.
    let status = poll_get_action(&mut agent, wait, |s| s.code() != tonic::Code::Unavailable).await;
    assert_ne!(status.code(), tonic::Code::Unavailable, "{status:?}");

    assert!(etcd::wait_async(wait, || async { second.runs_controllers() }).await);
    // The new leader started them again.
    seed_cluster(&objects, "c2").await;
    assert!(
        etcd::wait_async(wait, || async { provisioned(&objects, "c2").await }).await,
        "the new leader's cluster controllers did not provision c2"
    );

    // etcd goes away: the leader gives up its controllers before its lease could run out;
    // the plane goes on (its other services serve from their last view).
    cluster.members[0].kill();
    assert!(
        etcd::wait_async(wait, || async { !second.runs_controllers() }).await,
        "the leader cut off from etcd still runs the controllers"
    );
    let ended = tokio::time::timeout(std::time::Duration::from_millis(300), second.wait()).await;
    assert!(ended.is_err(), "the plane ended: {ended:?}");
    // etcd is back: it stands again and leads.
    cluster.members[0].restart();
    assert!(
        etcd::wait_async(wait, || async { second.runs_controllers() }).await,
        "the replica did not lead again once etcd was back"
    );
    second.stop().await;
}
