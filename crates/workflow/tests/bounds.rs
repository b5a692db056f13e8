//! The agent API's costs are bounded whatever an agent sends: measured over a real SQLite
//! store and the real gRPC server on loopback (the agent API alone, no controller; the
//! Hardware of the agent is at 127.0.0.1 and the service runs in `address` mode).
//!
//! - a flood of reports with 4 MiB messages, then of 60 KiB ones: the store file grows by
//!   a bounded amount (printed);
//! - GetAction polling with no change, and repeated identical reports, write nothing (the
//!   store's resourceVersion does not move);
//! - with 3,000 Workflows, the time per GetAction for a known and an unknown agent
//!   (printed, over gRPC and in-process, with what listing every Workflow costs, as each
//!   call did before the index; only a very loose bound is asserted);
//! - a trusted proxy may name the machine in `x-forwarded-for`, and a wrong or missing name
//!   is refused;
//! - a client over its call rate gets `ResourceExhausted`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbell_model::TypeKey;
use ironbell_model::tinkerbell::Workflow;
use ironbell_store::events::events_of;
use ironbell_store::{Api, ListParams, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use ironbell_workflow::auth::AuthMode;
use ironbell_workflow_proto::action_status_request::StateType;
use ironbell_workflow_proto::workflow_service_client::WorkflowServiceClient;
use ironbell_workflow_proto::{ActionRequest, ActionResponse, ActionStatusRequest};
use tonic::Code;
use tonic::transport::Channel;

mod support;
use support::{create, hardware_at, workflow};

use support::MAC;

struct Api_ {
    store: SharedStore,
    client: WorkflowServiceClient<Channel>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api_ {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(store: SharedStore) -> Api_ {
    start_with(store, |_| {}).await
}

/// The agent API in `address` mode, with no practical rate limit unless `tweak` sets one.
async fn start_with(
    store: SharedStore,
    tweak: impl FnOnce(&mut ironbell_workflow::Config),
) -> Api_ {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ironbell_workflow::Config::new(addr);
    config.auth.mode = AuthMode::Address;
    config.rate.per_second = 100_000.0;
    config.rate.burst = 100_000;
    tweak(&mut config);
    let s = store.clone();
    let task = tokio::spawn(async move {
        let _ = ironbell_workflow::serve_api(s, listener, &config).await;
    });
    let url = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = loop {
        match WorkflowServiceClient::connect(url.clone()).await {
            Ok(c) => break c.max_encoding_message_size(8 << 20),
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Api_ {
        store,
        client,
        task,
    }
}

async fn hardware_at_loopback(store: &SharedStore) {
    hardware_at(store, "127.0.0.1").await;
}

async fn get(
    c: &mut WorkflowServiceClient<Channel>,
    agent: &str,
) -> Result<ActionResponse, tonic::Status> {
    c.get_action(ActionRequest {
        agent_id: agent.into(),
        agent_attributes: None,
    })
    .await
    .map(tonic::Response::into_inner)
}

fn report(a: &ActionResponse, state: StateType, message: String) -> ActionStatusRequest {
    ActionStatusRequest::about(a, state, message)
}

fn store_bytes(db: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

async fn revision(store: &SharedStore) -> u64 {
    store
        .list(&TypeKey::of::<Workflow>(), &ListParams::default())
        .await
        .unwrap()
        .resource_version
}

/// Waits until the agent API's index sees `agent`'s Workflow (GetAction stops saying
/// NotFound).
async fn first_action(c: &mut WorkflowServiceClient<Channel>, agent: &str) -> ActionResponse {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match get(c, agent).await {
            Ok(a) => return a,
            Err(s) if s.code() == Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(s) => panic!("GetAction for {agent}: {s:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_flood_grows_the_store_by_a_bounded_amount_and_polling_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let store: SharedStore = Arc::new(SqliteStore::open(&db).unwrap());
    hardware_at_loopback(&store).await;
    create(&store, &workflow("wf1", MAC)).await;
    let mut api = start(store).await;
    let a1 = first_action(&mut api.client, MAC).await;
    api.client
        .report_action_status(report(&a1, StateType::Running, "started".into()))
        .await
        .unwrap();

    // The Events of the first call and report (written in the background) are in.
    let deadline = Instant::now() + Duration::from_secs(10);
    while events_of::<Workflow>(&api.store, "default", "wf1")
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e.reason.as_deref(),
                Some("AgentConnected" | "ActionStarted")
            )
        })
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the Events were not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Polling without a change writes nothing.
    let rv = revision(&api.store).await;
    for _ in 0..50 {
        let again = get(&mut api.client, MAC).await.unwrap();
        assert_eq!(again.action_id, a1.action_id);
    }
    // Nor does the same report again.
    for _ in 0..10 {
        api.client
            .report_action_status(report(&a1, StateType::Running, "started".into()))
            .await
            .unwrap();
    }
    assert_eq!(revision(&api.store).await, rv, "no write without a change");
    println!("50 GetAction polls and 10 identical reports: store resourceVersion stayed at {rv}");

    let before = store_bytes(&db);
    // 20 reports with 4 MiB messages: refused while decoding (64 KiB limit).
    let huge = "x".repeat(4 << 20);
    let mut codes = Vec::new();
    for i in 0..20 {
        let r = api
            .client
            .report_action_status(report(&a1, StateType::Running, format!("{i}{huge}")))
            .await;
        codes.push(r.map(|_| Code::Ok).unwrap_or_else(|s| s.code()));
    }
    assert!(codes.iter().all(|c| *c != Code::Ok), "{codes:?}");
    assert_eq!(
        revision(&api.store).await,
        rv,
        "refused reports write nothing"
    );
    let after_huge = store_bytes(&db);
    // 20 distinct reports with 60 KiB messages: accepted, each stored cut to 4 KiB.
    let big = "y".repeat(60 << 10);
    for i in 0..20 {
        api.client
            .report_action_status(report(&a1, StateType::Running, format!("{i}{big}")))
            .await
            .unwrap();
    }
    let after = store_bytes(&db);
    let wf: Workflow = Api::new(api.store.clone())
        .get("default", "wf1")
        .await
        .unwrap();
    let stored = wf.status.unwrap().tasks.unwrap()[0].actions[0]
        .message
        .clone()
        .unwrap();
    assert!(stored.len() <= ironbell_workflow::server::MAX_MESSAGE_BYTES);
    assert!(
        stored.contains("bytes cut by ironbell"),
        "{}",
        &stored[stored.len() - 60..]
    );
    println!(
        "store file: {before} B before; {after_huge} B after 20 reports of 4 MiB \
         (refused: {:?}); {after} B after 20 reports of 60 KiB (growth {} B)",
        codes[0],
        after.saturating_sub(before)
    );
    // 40 reports carrying 81 MiB in all: the store grew by far less than one of them.
    assert!(
        after.saturating_sub(before) < 2 << 20,
        "{before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_action_with_3000_workflows_costs_one_index_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
    hardware_at_loopback(&store).await;
    let made = Instant::now();
    for i in 0..3000u32 {
        create(&store, &workflow(&format!("wf{i}"), &support::agent(i))).await;
    }
    println!("3,000 Workflows created in {:?}", made.elapsed());
    let mut api = start(store).await;
    // 02:00:00:00:00:01 is wf1's agent, whose Hardware is at 127.0.0.1.
    first_action(&mut api.client, MAC).await;
    let n = 300;
    let t = Instant::now();
    for _ in 0..n {
        get(&mut api.client, MAC).await.unwrap();
    }
    let known = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        let e = get(&mut api.client, "02:ff:ff:ff:ff:ff").await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
    }
    let unknown = t.elapsed() / n;
    println!(
        "GetAction round trip with 3,000 Workflows (debug build, loopback gRPC included): \
         known agent {} µs, unknown agent {} µs",
        known.as_micros(),
        unknown.as_micros()
    );
    // The same calls in-process (no gRPC, no network): the server's own cost.
    let server = support::in_process_server(api.store.clone()).await;
    let local = support::local_request;
    use ironbell_workflow_proto::workflow_service_server::WorkflowService;
    let t = Instant::now();
    for _ in 0..n {
        server.get_action(local(MAC)).await.unwrap();
    }
    let known_local = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        server
            .get_action(local("02:ff:ff:ff:ff:ff"))
            .await
            .unwrap_err();
    }
    let unknown_local = t.elapsed() / n;
    // What every call cost before the index: list and parse every Workflow.
    let t = Instant::now();
    let all = Api::<Workflow>::new(api.store.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let listing = t.elapsed();
    println!(
        "in-process (the server's own cost): known agent {} µs, unknown agent {} µs; \
         listing and parsing the {} Workflows once, as every call did before: {} µs",
        known_local.as_micros(),
        unknown_local.as_micros(),
        all.0.len(),
        listing.as_micros()
    );
    // Very loose: listing and parsing 3,000 Workflows per call took tens of ms even in a
    // release build.
    assert!(known < Duration::from_millis(50), "{known:?}");
    assert!(unknown < Duration::from_millis(50), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_may_name_the_machine_and_nobody_else_may() {
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    // The machine is at 10.9.9.9; calls arrive from 127.0.0.1, the trusted proxy.
    hardware_at(&store, "10.9.9.9").await;
    create(&store, &workflow("wf1", MAC)).await;
    let mut api = start_with(store, |c| {
        c.auth.trusted_proxies = ironbell_metadata::client::Cidr::parse_list("127.0.0.1").unwrap();
    })
    .await;
    let call = |forwarded: Option<&'static str>| {
        let mut r = tonic::Request::new(ActionRequest {
            agent_id: MAC.into(),
            agent_attributes: None,
        });
        if let Some(f) = forwarded {
            r.metadata_mut().insert(
                "x-forwarded-for",
                tonic::metadata::MetadataValue::from_static(f),
            );
        }
        r
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.client.get_action(call(Some("10.9.9.9"))).await {
            Ok(a) => {
                assert_eq!(a.get_ref().workflow_id, "default/wf1");
                break;
            }
            Err(s) if s.code() == Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    }
    for forwarded in [None, Some("10.9.9.8"), Some("10.9.9.9, 10.9.9.8")] {
        let e = api.client.get_action(call(forwarded)).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{forwarded:?}: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_call_rate_is_told_to_slow_down() {
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("s.db")).unwrap());
    let mut api = start_with(store, |c| {
        c.rate.per_second = 0.5;
        c.rate.burst = 5;
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(
            get(&mut api.client, "02:ff:ff:ff:ff:ff")
                .await
                .unwrap_err()
                .code(),
        );
    }
    println!("8 calls at once with a burst of 5: {codes:?}");
    // The connect loop in `start_with` spent no call; the burst is 5.
    assert_eq!(&codes[..5], &[Code::NotFound; 5]);
    assert!(
        codes[5..].iter().all(|c| *c == Code::ResourceExhausted),
        "{codes:?}"
    );
}
