//! A plane in process: services start from one network description and stop through the
//! handle; a second plane with controllers on the same store is refused while the first
//! holds the controller lock, and starts once the first is stopped. Everything listens on
//! loopback, on ports the kernel picks.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};

use ironbell_ops::OpsError;
use ironbell_ops::network::PlaneNetwork;
use ironbell_ops::plane::{MetadataOptions, Plane, PlaneConfig};
use ironbell_ops::spec::{Access, StoreHandle, StoreSpec, open};

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
