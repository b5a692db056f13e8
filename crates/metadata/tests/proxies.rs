//! The warning about a `--trusted-proxies` range that covers the machines' own addresses:
//! logged by the service at start, and again (rate-limited) when Hardware changes bring a
//! newly covered address. One test in its own binary: it captures tracing output, and
//! tracing's callsite cache is shared by the threads of a binary.

mod common;

use std::time::{Duration, Instant};

use common::{LogBuffer, simple, store_with};
use ironbell_metadata::proxies::{overlaps, warn_overlaps};
use ironbell_metadata::{Cidr, Config, Index};
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::Api;

/// The trusted-proxy warnings of a log.
struct Logs(LogBuffer);

impl Logs {
    fn warnings(&self) -> Vec<String> {
        self.0
            .text()
            .lines()
            .filter(|l| l.contains("trusted proxy range"))
            .map(str::to_string)
            .collect()
    }

    /// Waits (at most 10 s) until there are `n` warnings, and returns them.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let w = self.warnings();
            if w.len() >= n {
                return w;
            }
            assert!(
                Instant::now() < deadline,
                "{n} warning(s) expected, got {w:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_trusted_range_covering_machines_is_warned_about() {
    let buffer = LogBuffer::default();
    let _guard = buffer.capture(tracing::Level::INFO);
    let logs = Logs(buffer);

    // Which ranges cover which machines.
    let index = Index::from_hardware([
        simple("a", "10.1.0.5", "host-a"),
        simple("b", "10.1.0.6", "host-b"),
        simple("c", "10.2.0.5", "host-c"),
    ]);
    let trusted = Cidr::parse_list("192.0.2.1, 10.1.0.0/24, 10.0.0.0/8").expect("cidrs");
    let found = overlaps(&trusted, &index.snapshot());
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].range.to_string(), "10.1.0.0/24");
    assert_eq!(found[0].addresses.len(), 2);
    assert_eq!(found[1].addresses.len(), 3);
    let proxy_only = Cidr::parse_list("192.0.2.1,10.1.0.0/30").expect("cidrs");
    assert!(overlaps(&proxy_only, &index.snapshot()).is_empty());

    // The service warns at start, naming the range, an address and its Hardware.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir, &[simple("a", "10.1.0.5", "host-a")]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let config = Config {
        trusted_proxies: Cidr::parse_list("192.0.2.1,10.1.0.0/24").expect("cidrs"),
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(ironbell_metadata::serve(
        store.clone(),
        config,
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let first = logs.wait_for(1).await;
    let line = &first[0];
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("trusted proxy range 10.1.0.0/24 covers 10.1.0.5"),
        "{line}"
    );
    assert!(line.contains("Hardware default/a"), "{line}");
    assert!(
        line.contains("any machine could then read any other machine's metadata"),
        "{line}"
    );
    let _ = stop.send(());
    service.await.expect("join").expect("serve");

    // On Hardware changes, a newly covered address is warned about (at most once per
    // interval); an uncovered one is not.
    let index = Index::start(store.clone());
    let watcher = tokio::spawn(warn_overlaps(
        index.clone(),
        Cidr::parse_list("10.1.0.0/24").expect("cidr"),
        Duration::from_millis(300),
    ));
    let second = logs.wait_for(2).await;
    assert!(second[1].contains("covers 10.1.0.5"), "{}", second[1]);
    let api: Api<Hardware> = Api::new(store.clone());
    api.create(&simple("far", "10.9.0.5", "host-far"))
        .await
        .expect("create");
    api.create(&simple("near", "10.1.0.77", "host-near"))
        .await
        .expect("create");
    let third = logs.wait_for(3).await;
    assert!(third[2].contains("covers 10.1.0.77"), "{}", third[2]);
    assert!(third[2].contains("Hardware default/near"), "{}", third[2]);
    assert!(
        third[2].contains("(2 machine address(es) in all)"),
        "{}",
        third[2]
    );
    assert!(third.iter().all(|l| !l.contains("10.9.0.5")), "{third:#?}");
    watcher.abort();
}
