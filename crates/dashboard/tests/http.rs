//! The dashboard over a real embedded store on loopback, with curl as the client: pages,
//! the SSE stream pushing a change, the token on changes, the bound on open streams.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use ironbell_dashboard::{Options, serve};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::SharedStore;
use ironbell_store_sqlite::SqliteStore;

const TOKEN: &str = "a-test-token-of-some-length";
const WAIT: Duration = Duration::from_secs(20);

fn hardware(name: &str, allow_pxe: bool) -> DynamicObject {
    let json = serde_json::json!({
        "apiVersion": "tinkerbell.org/v1alpha1", "kind": "Hardware",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"interfaces": [{"dhcp": {"mac": "3c:ec:ef:30:00:01"},
                                 "netboot": {"allowPXE": allow_pxe}}]}
    });
    DynamicObject::from_json(&json.to_string()).expect("object")
}

/// A dashboard on a free loopback port over a fresh store; its address.
async fn start(dir: &std::path::Path, options: Options) -> (SharedStore, String) {
    let store: SharedStore = Arc::new(SqliteStore::open(dir.join("store.db")).expect("store"));
    store.create(hardware("node1", true)).await.expect("create");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(serve(
        listener,
        store.clone(),
        options,
        std::future::pending(),
    ));
    (store, addr)
}

/// `curl` with `args`: (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.parse().expect("status"), body.to_string())
}

/// A streaming `curl -N` of `url`, its lines on a channel.
fn follow(url: &str) -> (ironbell_testbed::ChildGuard, mpsc::Receiver<String>) {
    let mut child = ironbell_testbed::ChildGuard::new(
        Command::new("curl")
            .args(["-s", "-N", url])
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl"),
    );
    let rx = child.stdout_lines().expect("piped stdout");
    (child, rx)
}

/// Reads `rx` until a line satisfies `ok`.
fn until(rx: &mpsc::Receiver<String>, ok: impl Fn(&str) -> bool) -> String {
    loop {
        let line = rx.recv_timeout(WAIT).expect("a line in time");
        if ok(&line) {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_stream_changes_and_changes_need_the_token() {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        token: Some(TOKEN.into()),
        streams_per_peer: 2,
        ..Options::default()
    };
    let (store, addr) = start(dir.path(), options).await;
    let base = format!("http://{addr}");

    // The stream first sends the rows as they are, then again after each change.
    let (_follower, rx) = follow(&format!("{base}/stream/machines"));
    until(&rx, |l| l.contains("data-machine=\"default/node1\""));
    let (status, page) = curl(&[&format!("{base}/")]);
    assert_eq!(status, 200);
    assert!(page.contains("<tbody id=\"machines\">"), "{page}");
    assert!(page.contains("/assets/dashboard.js"), "{page}");
    let (status, script) = curl(&[&format!("{base}/assets/dashboard.js")]);
    assert_eq!(status, 200);
    assert!(script.contains("EventSource"));

    // Changes: 401 without or with a wrong token, done with it.
    let pxe_off = format!("{base}/api/machines/default/node1/allow-pxe/off");
    assert_eq!(curl(&["-X", "POST", &pxe_off]).0, 401);
    assert_eq!(
        curl(&["-X", "POST", "-H", "Authorization: Bearer nope", &pxe_off]).0,
        401
    );
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let (status, body) = curl(&["-X", "POST", "-H", &bearer, &pxe_off]);
    assert_eq!(status, 200, "{body}");
    let hw = store
        .get(
            &TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
            "default",
            "node1",
        )
        .await
        .expect("get")
        .to_value();
    assert_eq!(
        hw.pointer("/spec/interfaces/0/netboot/allowPXE"),
        Some(&serde_json::Value::Bool(false))
    );
    // ... and the open stream pushed the row again, with PXE off.
    until(&rx, |l| l.contains("<td class=\"pxe\">no</td>"));
    // No BMC: a power cycle says so.
    let cycle = format!("{base}/api/machines/default/node1/power-cycle");
    let (status, body) = curl(&["-X", "POST", "-H", &bearer, &cycle]);
    assert_eq!(
        (status, body.trim()),
        (409, "Hardware default/node1 has no BMC")
    );
    let (status, _) = curl(&[
        "-X",
        "POST",
        "-H",
        &bearer,
        &format!("{base}/api/machines/default/nope/power-cycle"),
    ]);
    assert_eq!(status, 404);

    // Streams are bounded per client address (2 here): the third is refused.
    let (_second, rx2) = follow(&format!("{base}/stream/jobs"));
    until(&rx2, |l| l.starts_with("data: jobs"));
    let (status, body) = curl(&["-m", "5", &format!("{base}/stream/workflows")]);
    assert_eq!(status, 503, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_every_change_is_forbidden() {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_store, addr) = start(dir.path(), Options::default()).await;
    let url = format!("http://{addr}/api/machines/default/node1/allow-pxe/off");
    let (status, body) = curl(&["-X", "POST", "-H", "Authorization: Bearer x", &url]);
    assert_eq!(status, 403, "{body}");
    let (status, _) = curl(&[&format!("http://{addr}/machines/default/nope")]);
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_of_both_apis_are_listed_with_their_phase() {
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, addr) = start(dir.path(), Options::default()).await;
    let (_follower, rx) = follow(&format!("http://{addr}/stream/clusters"));
    until(&rx, |l| l.contains("No clusters."));
    for json in [
        serde_json::json!({"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
            "metadata": {"name": "mgmt", "namespace": "eksa-system"},
            "spec": {}, "status": {"phase": "Provisioned"}}),
        serde_json::json!({"apiVersion": "anywhere.eks.amazonaws.com/v1alpha1", "kind": "Cluster",
            "metadata": {"name": "mgmt", "namespace": "default"},
            "spec": {}, "status": {"failureMessage": "<b>no machine</b> for the control plane"}}),
    ] {
        let obj = DynamicObject::from_json(&json.to_string()).expect("object");
        store.create(obj).await.expect("create");
    }
    let rows = until(&rx, |l| {
        l.contains("Provisioned") && l.contains("EKS Anywhere")
    });
    assert!(
        rows.contains("&lt;b&gt;no machine&lt;/b&gt; for the control plane"),
        "{rows}"
    );
    let (status, page) = curl(&[&format!("http://{addr}/clusters")]);
    assert_eq!(status, 200);
    assert!(
        page.contains("<td>Cluster API</td><td>eksa-system</td><td>mgmt</td>"),
        "{page}"
    );
}
