//! Store changes show in the next responses, without a restart: the service follows a
//! SQLite store through its reflector.

mod common;

use axum::http::StatusCode;
use common::{app, eventually, get, simple, store_with};
use ironbell_metadata::{Config, Index};
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::Api;

const HOSTNAME: &str = "/2009-04-04/meta-data/hostname";

#[tokio::test]
async fn updates_deletes_and_adds_show_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(
        &dir,
        &[
            simple("a", "10.1.0.5", "host-a"),
            simple("b", "10.1.0.6", "host-b"),
        ],
    )
    .await;
    let index = Index::start(store.clone());
    index.synced().await;
    let app = app(index, Config::default());
    let api: Api<Hardware> = Api::new(store);
    assert_eq!(get(&app, "10.1.0.5:1", HOSTNAME).await.body, "host-a");

    // Update the host name.
    api.modify("default", "a", |hw| {
        let inst = hw
            .spec
            .metadata
            .as_mut()
            .and_then(|m| m.instance.as_mut())
            .expect("instance");
        inst.hostname = Some("renamed".into());
    })
    .await
    .expect("modify");
    eventually("new host name served", || async {
        get(&app, "10.1.0.5:1", HOSTNAME).await.body == "renamed"
    })
    .await;
    assert_eq!(
        get(&app, "10.1.0.5:1", "/latest/meta-data/local-hostname")
            .await
            .body,
        "renamed"
    );

    // Move b to another address: the old one is nobody's.
    api.modify("default", "b", |hw| {
        hw.spec.interfaces.as_mut().expect("ifaces")[0]
            .dhcp
            .as_mut()
            .and_then(|d| d.ip.as_mut())
            .expect("ip")
            .address = Some([10, 1, 0, 66].into());
    })
    .await
    .expect("modify");
    eventually("b moved", || async {
        get(&app, "10.1.0.66:1", HOSTNAME).await.body == "host-b"
    })
    .await;
    assert_eq!(
        get(&app, "10.1.0.6:1", HOSTNAME).await.status,
        StatusCode::NOT_FOUND
    );

    // Delete a.
    api.delete("default", "a").await.expect("delete");
    eventually("a deleted", || async {
        get(&app, "10.1.0.5:1", HOSTNAME).await.status == StatusCode::NOT_FOUND
    })
    .await;

    // Add c at a's old address, then a second machine there: ambiguous, served to none.
    api.create(&simple("c", "10.1.0.5", "host-c"))
        .await
        .expect("create");
    eventually("c added", || async {
        get(&app, "10.1.0.5:1", HOSTNAME).await.body == "host-c"
    })
    .await;
    api.create(&simple("d", "10.1.0.5", "host-d"))
        .await
        .expect("create");
    eventually("c and d ambiguous", || async {
        get(&app, "10.1.0.5:1", HOSTNAME).await.status == StatusCode::INTERNAL_SERVER_ERROR
    })
    .await;
    api.delete("default", "c").await.expect("delete");
    eventually("d alone", || async {
        get(&app, "10.1.0.5:1", HOSTNAME).await.body == "host-d"
    })
    .await;
}

#[tokio::test]
async fn serve_answers_over_tcp_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir, &[simple("lo", "127.0.0.1", "loopback-host")]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ironbell_metadata::serve(
        store,
        Config::default(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let body = raw_get(addr, HOSTNAME).await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.ends_with("\r\n\r\nloopback-host"), "{body}");
    let _ = stop.send(());
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("stops")
        .expect("join")
        .expect("serve");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}
