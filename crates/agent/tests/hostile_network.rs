//! The agent API on a hostile provisioning network, with real hosts: network namespaces
//! for the provisioning server, the machine (at its Hardware's address) and an attacker
//! (at an address no Hardware has), the real workflow service (controller and agent API
//! over SQLite, default `token` mode) and the real agent binary, which reads its token from
//! its kernel command line.
//!
//! - the attacker's GetAction with the machine's MAC and its reports for the machine's
//!   workflow are refused, with or without the stolen token or a forged
//!   `x-forwarded-for`; from the machine's own address, calls without the token (or with a
//!   wrong one) are refused;
//! - 1,100 idle TCP connections from the attacker are closed by the per-peer cap and the
//!   idle timeout (the service's open descriptors are counted before, during and after);
//! - meanwhile the real agent runs its workflow to SUCCESS.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ironbell_model::parse_documents;
use ironbell_model::tinkerbell::{Workflow, WorkflowState};
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use ironbell_testbed::{Netns, veth};
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;
use ironbell_workflow_proto::{ActionRequest, ActionStatusRequest};
use tonic::Code;
use tonic::metadata::MetadataValue;

const MAC: &str = "02:00:00:00:07:05";
const PORT: u16 = 42113;
const FLOOD: usize = 1100;

fn objects(url: &str, disk: &std::path::Path) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: m1, namespace: default}}
spec:
  interfaces:
  - dhcp: {{mac: \"{MAC}\", ip: {{address: 10.77.1.5, netmask: 255.255.255.0}}}}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {{name: install, namespace: default}}
spec:
  data: |
    version: \"0.1\"
    name: install
    global_timeout: 300
    tasks:
    - name: os-installation
      worker: \"{{{{.device_1}}}}\"
      actions:
      - name: stream-image
        image: quay.io/tinkerbell/actions/image2disk:latest
        timeout: 120
        environment: {{IMG_URL: \"{url}\", DEST_DISK: \"{}\", SECRET_ENV: \"do-not-leak\"}}
      - name: reboot
        image: quay.io/tinkerbell/actions/reboot:latest
        timeout: 60
---
apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata: {{name: wf1, namespace: default}}
spec:
  templateRef: install
  hardwareRef: m1
  hardwareMap: {{device_1: \"{MAC}\"}}
",
        disk.display()
    )
}

/// Runs `f` on a current-thread runtime on a thread inside `ns` (its sockets belong to
/// the namespace), without blocking the test's runtime.
async fn in_ns<T, F, Fut>(ns: Arc<Netns>, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    tokio::task::spawn_blocking(move || {
        ns.enter(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f())
        })
        .unwrap()
    })
    .await
    .unwrap()
}

/// What a caller sends with its calls.
#[derive(Clone, Default)]
struct Creds {
    token: Option<String>,
    forwarded_for: Option<&'static str>,
}

fn request<T>(msg: T, creds: &Creds) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = &creds.token {
        r.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {t}")).unwrap(),
        );
    }
    if let Some(x) = creds.forwarded_for {
        r.metadata_mut()
            .insert("x-forwarded-for", MetadataValue::from_static(x));
    }
    r
}

/// One GetAction for the machine's MAC and one FAILED report for its workflow's first
/// action (ids as the store has them: the worst case, an attacker who knows them), from
/// the calling namespace to `server`. The two result codes.
async fn try_hijack(server: SocketAddr, creds: Creds, ids: (String, String)) -> [Code; 2] {
    let mut c = match WorkflowServiceClient::connect(format!("http://{server}")).await {
        Ok(c) => c,
        Err(_) => return [Code::Unavailable; 2],
    };
    let get = c
        .get_action(request(
            ActionRequest {
                agent_id: MAC.into(),
                agent_attributes: None,
            },
            &creds,
        ))
        .await;
    if let Ok(a) = &get {
        assert!(
            !a.get_ref()
                .environment
                .iter()
                .any(|e| e.contains("do-not-leak")),
            "the action's environment leaked"
        );
    }
    let report = c
        .report_action_status(request(
            ActionStatusRequest {
                workflow_id: "default/wf1".into(),
                task_id: ids.0,
                action_id: ids.1,
                agent_id: MAC.into(),
                action_name: "stream-image".into(),
                action_state: StateType::Failed as i32,
                ..ActionStatusRequest::default()
            },
            &creds,
        ))
        .await;
    [
        get.map_or_else(|s| s.code(), |_| Code::Ok),
        report.map_or_else(|s| s.code(), |_| Code::Ok),
    ]
}

/// Open descriptors of this process (the service runs in it): `(all, sockets)`.
fn open_fds() -> (usize, usize) {
    let mut all = 0;
    let mut sockets = 0;
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        all += 1;
        if std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")) {
            sockets += 1;
        }
    }
    (all, sockets)
}

/// Opens `n` TCP connections to `addr`, sends nothing, and reports how many the server
/// closed: `open N` once all are open, then `closed M` as they close (until all are or
/// 30 s have passed).
const FLOOD_PY: &str = r#"
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    s.setblocking(False)
    socks.append(s)
print("open", len(socks), flush=True)
closed, deadline, last = set(), time.time() + 30, -1
while len(closed) < n and time.time() < deadline:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if s.recv(1) == b"":
                closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
    if len(closed) != last:
        last = len(closed)
        print("closed", last, flush=True)
    time.sleep(0.1)
print("done", len(closed), flush=True)
"#;

async fn wait_line(
    lines: &std::sync::mpsc::Receiver<String>,
    prefix: &str,
    limit: Duration,
) -> String {
    let deadline = Instant::now() + limit;
    loop {
        match lines.try_recv() {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => {}
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                assert!(
                    Instant::now() < deadline,
                    "no {prefix:?} line from the flood"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("flood ended before {prefix:?}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_cannot_hijack_a_machine_and_idle_sockets_are_closed() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("python3");
    let srv = Arc::new(Netns::new().unwrap());
    let machine = Arc::new(Netns::new().unwrap());
    let attacker = Arc::new(Netns::new().unwrap());
    veth(&srv, "m0", &machine, "eth0").unwrap();
    veth(&srv, "a0", &attacker, "eth0").unwrap();
    srv.ip(&["addr", "add", "10.77.1.1/24", "dev", "m0"])
        .unwrap();
    srv.ip(&["addr", "add", "10.77.2.1/24", "dev", "a0"])
        .unwrap();
    machine
        .ip(&["addr", "add", "10.77.1.5/24", "dev", "eth0"])
        .unwrap();
    attacker
        .ip(&["addr", "add", "10.77.2.66/24", "dev", "eth0"])
        .unwrap();
    let for_machine: SocketAddr = ([10, 77, 1, 1], PORT).into();
    let for_attacker: SocketAddr = ([10, 77, 2, 1], PORT).into();

    // The provisioning server: the image over HTTP and the workflow service, both bound
    // inside the server's namespace.
    let image = test_image((2 << 20) + 77);
    let (grpc, http) = srv
        .enter(|| {
            let g = std::net::TcpListener::bind(("0.0.0.0", PORT)).unwrap();
            let h = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
            g.set_nonblocking(true).unwrap();
            h.set_nonblocking(true).unwrap();
            (g, h)
        })
        .unwrap();
    let http_port = http.local_addr().unwrap().port();
    let _http = HttpServer::start_on(
        tokio::net::TcpListener::from_std(http).unwrap(),
        HashMap::from([("/os.img".to_string(), Route::bytes(image.clone()))]),
    );
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::write(&disk, b"").unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    for o in parse_documents(&objects(
        &format!("http://10.77.1.1:{http_port}/os.img"),
        &disk,
    ))
    .unwrap()
    {
        store.create(o.to_dynamic().unwrap()).await.unwrap();
    }
    let mut config = ironbell_workflow::Config::new(for_machine);
    config.connections.idle_timeout = Duration::from_secs(3);
    let s = store.clone();
    let service = tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(grpc).unwrap();
        let render = ironbell_workflow::controller::tinkerbell_renderer();
        let _ = ironbell_workflow::serve(s, listener, &config, render).await;
    });
    let token = wait_token(&store, "wf1").await;
    let api: Api<Workflow> = Api::new(store.clone());
    let wf = api.get("default", "wf1").await.unwrap();
    let task = &wf.status.as_ref().unwrap().tasks.as_ref().unwrap()[0];
    let ids = (task.id.clone(), task.actions[0].id.clone());

    // The attacker: refused with nothing, with the stolen token, with a forged
    // x-forwarded-for.
    for creds in [
        Creds::default(),
        Creds {
            token: Some(token.clone()),
            forwarded_for: None,
        },
        Creds {
            token: Some(token.clone()),
            forwarded_for: Some("10.77.1.5"),
        },
    ] {
        let ids = ids.clone();
        let codes = in_ns(attacker.clone(), move || {
            try_hijack(for_attacker, creds, ids)
        })
        .await;
        println!("attacker at 10.77.2.66: {codes:?}");
        assert!(
            codes.iter().all(|c| *c == Code::PermissionDenied),
            "{codes:?}"
        );
    }
    // The machine's own address without the token, or with a wrong one: refused.
    for creds in [
        Creds::default(),
        Creds {
            token: Some("AAAA".into()),
            forwarded_for: None,
        },
    ] {
        let ids = ids.clone();
        let codes = in_ns(machine.clone(), move || try_hijack(for_machine, creds, ids)).await;
        println!("machine's address without the right token: {codes:?}");
        assert!(
            codes.iter().all(|c| *c == Code::Unauthenticated),
            "{codes:?}"
        );
    }
    let untouched = api.get("default", "wf1").await.unwrap();
    assert_eq!(
        untouched.status.as_ref().unwrap().state,
        Some(WorkflowState::Pending),
        "no refused call changed the workflow"
    );

    // 1,100 idle connections from the attacker.
    let fds_before = open_fds();
    let mut flood = attacker
        .spawn(
            "python3",
            &[
                "-c",
                FLOOD_PY,
                "10.77.2.1",
                &PORT.to_string(),
                &FLOOD.to_string(),
            ],
        )
        .unwrap();
    let stdout = flood.child().unwrap().stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let opened = wait_line(&lines, "open", Duration::from_secs(60)).await;
    let fds_during = open_fds();

    // The real agent, with the token from its kernel command line, during the attack.
    let mut agent = AgentProcess::spawn_in(
        Some(machine.name()),
        for_machine,
        &format!("console=ttyS0 grpc_authority=10.77.1.1:{PORT} ironbell_token={token}"),
        &[("WORKER_ID", MAC)],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let attack = {
        let stop = stop.clone();
        let ids = ids.clone();
        let token = token.clone();
        tokio::spawn(in_ns(attacker.clone(), move || async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let creds = Creds {
                    token: Some(token.clone()),
                    forwarded_for: Some("10.77.1.5"),
                };
                seen.extend(try_hijack(for_attacker, creds, ids.clone()).await);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        }))
    };

    let closed = wait_line(&lines, "done", Duration::from_secs(60)).await;
    drop(flood);

    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let wf = api.get("default", "wf1").await.unwrap();
        if wf.status.as_ref().and_then(|s| s.state.clone()) == Some(WorkflowState::Success) {
            break wf;
        }
        assert!(
            Instant::now() < deadline,
            "{:#?}\n{}",
            wf.status,
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let seen = attack.await.unwrap();
    println!(
        "during the run the attacker made {} calls: {:?}",
        seen.len(),
        seen.iter()
            .fold(HashMap::<String, usize>::new(), |mut m, c| {
                *m.entry(format!("{c:?}")).or_default() += 1;
                m
            })
    );
    // Refused by the checks, or (while the flood holds the attacker's connection quota)
    // the connection closed at once: never served.
    assert!(!seen.contains(&Code::Ok), "{seen:?}");
    for a in &done.status.as_ref().unwrap().tasks.as_ref().unwrap()[0].actions {
        assert_eq!(a.state, Some(WorkflowState::Success), "{a:?}");
    }
    assert_eq!(std::fs::read(&disk).unwrap(), image);
    let _ = agent.wait_exit(Duration::from_secs(30)).await;
    // Everything has stopped but the service: its descriptors are back to where they were
    // (polled: a closed connection's task ends a moment later).
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds().1 > fds_before.1 + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fds_after = open_fds();
    println!(
        "idle connection flood ({opened}, {closed} by the service): open fds (all, sockets) \
         {fds_before:?} before, {fds_during:?} with the flood open, {fds_after:?} after"
    );
    assert_eq!(
        closed,
        format!("done {FLOOD}"),
        "every idle connection was closed"
    );
    // At most the per-peer cap (16) of the flood's connections were ever held.
    assert!(
        fds_during.1 <= fds_before.1 + 20,
        "{fds_before:?} -> {fds_during:?}"
    );
    assert!(
        fds_after.1 <= fds_before.1 + 2,
        "{fds_before:?} -> {fds_after:?}"
    );
    // Finished: the token is gone with the workflow's run.
    let secrets: Api<ironbell_model::corev1::Secret> = Api::new(store.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while secrets.get("default", "wf1-agent-token").await.is_ok() {
        assert!(Instant::now() < deadline, "token not deleted after SUCCESS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    service.abort();
}
