//! The boot service's watch for agents that never connect, on a real SQLite store: a
//! machine that fetched its HookOS kernel and whose agent has not connected by the
//! deadline gets an `AgentNotConnected` Warning Event; one whose agent connected (the
//! workflow service's `AgentConnected` Event) gets none.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{example_hardware, variant};
use ironbell_boot::Index;
use ironbell_boot::events::BootEvents;
use ironbell_model::corev1::ObjectReference;
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::SharedStore;
use ironbell_store::events::{Recorder, events_of};
use ironbell_store_sqlite::SqliteStore;

fn reasons(events: &[ironbell_model::corev1::Event]) -> Vec<&str> {
    events.iter().filter_map(|e| e.reason.as_deref()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_whose_agent_never_connects_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: SharedStore =
        Arc::new(SqliteStore::open(dir.path().join("store.db")).expect("open store"));
    let base = &example_hardware()[0];
    let quiet = variant(base, "quiet", "02:00:00:00:00:01", "10.0.0.1");
    let talks = variant(base, "talks", "02:00:00:00:00:02", "10.0.0.2");
    let ns = quiet.metadata.namespace().to_string();
    let index = Index::from_hardware([quiet, talks]);
    let events = Arc::new(
        BootEvents::new(Recorder::start(store.clone(), "ironbell-boot"), index)
            .with_agent_timeout(Duration::from_millis(300)),
    );
    let dir_path = Path::new("/var/lib/ironbell/hookos");
    for ip in ["10.0.0.1", "10.0.0.2"] {
        let ip: IpAddr = ip.parse().expect("ip");
        events.artifact(ip, "/vmlinuz-x86_64", 200, dir_path);
    }
    events.recorder().flush().await;
    // The workflow service saw "talks"'s agent.
    let workflow = Recorder::start(store.clone(), "ironbell-workflow");
    workflow.normal(
        ObjectReference::to::<Hardware>(&ns, "talks"),
        "AgentConnected",
        "agent 02:00:00:00:00:02 connected",
    );
    workflow.flush().await;
    let watch = tokio::spawn(
        events
            .clone()
            .watch_agents(store.clone(), Duration::from_millis(50)),
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let quiet_events = loop {
        let got = events_of::<Hardware>(&store, &ns, "quiet")
            .await
            .expect("list");
        if reasons(&got).contains(&"AgentNotConnected") {
            break got;
        }
        assert!(Instant::now() < deadline, "no AgentNotConnected: {got:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let warning = quiet_events
        .iter()
        .find(|e| e.reason.as_deref() == Some("AgentNotConnected"))
        .expect("event");
    assert!(warning.is_warning());
    assert!(
        warning
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("no agent connected"),
        "{warning:?}"
    );
    assert_eq!(
        reasons(&quiet_events),
        ["ArtifactFetched", "AgentNotConnected"]
    );
    // "talks" was checked in the same pass: nothing but what it did.
    events.recorder().flush().await;
    let talks_events = events_of::<Hardware>(&store, &ns, "talks")
        .await
        .expect("list");
    assert_eq!(
        reasons(&talks_events),
        ["ArtifactFetched", "AgentConnected"],
        "{talks_events:#?}"
    );
    watch.abort();
}
