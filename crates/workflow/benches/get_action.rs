//! The agent API's cost per GetAction as the number of Workflows grows: for each count
//! given (default `1000 10000`), a fresh SQLite store with the machine's Hardware and that
//! many rendered Workflows (one per agent), then GetAction called in-process (the server's
//! own cost: index lookup, authorisation, the answer; no gRPC, no network) for a known
//! and an unknown agent, best of 5 batches of 2,000 calls on one thread.
//!
//! `cargo bench -p ironbell-workflow --bench get_action [-- COUNT...]` prints one line per
//! count, read by `scripts/bench`:
//!
//! ```text
//! GETACTION workflows=10000 known_us=4.1 unknown_us=1.2 populate_s=9.8
//! ```

#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbell_store::SharedStore;
use ironbell_store_sqlite::SqliteStore;
use ironbell_workflow_proto::workflow_service_server::WorkflowService;

const CALLS: u32 = 2000;
const BATCHES: usize = 5;

/// Best time per call over [`BATCHES`] batches of [`CALLS`] calls for `agent`.
async fn per_call(
    server: &ironbell_workflow::server::Server,
    agent: &str,
    found: bool,
) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..BATCHES {
        let t = Instant::now();
        for _ in 0..CALLS {
            let r = server.get_action(support::local_request(agent)).await;
            assert_eq!(r.is_ok(), found, "GetAction for {agent}: {r:?}");
        }
        best = best.min(t.elapsed() / CALLS);
    }
    best
}

async fn run(count: u32) {
    let dir = tempfile::tempdir().unwrap();
    let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());
    support::hardware_at(&store, "127.0.0.1").await;
    let t = Instant::now();
    for i in 0..count {
        let wf = support::workflow(&format!("wf{i}"), &support::agent(i));
        support::create(&store, &wf).await;
    }
    let populate = t.elapsed();
    let server = support::in_process_server(store).await;
    // support::MAC is agent(1), whose Hardware m1 is at 127.0.0.1.
    let known = per_call(&server, support::MAC, true).await;
    let unknown = per_call(&server, "02:ff:ff:ff:ff:ff", false).await;
    println!(
        "GETACTION workflows={count} known_us={:.1} unknown_us={:.1} populate_s={:.1}",
        known.as_secs_f64() * 1e6,
        unknown.as_secs_f64() * 1e6,
        populate.as_secs_f64()
    );
}

fn main() {
    let counts: Vec<u32> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().unwrap_or_else(|_| panic!("not a count: {a}")))
        .collect();
    let counts = if counts.is_empty() {
        vec![1000, 10_000]
    } else {
        counts
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in counts {
        assert!(
            n >= 2,
            "at least 2 Workflows (the known agent's is the 2nd)"
        );
        rt.block_on(run(n));
    }
}
