//! A watch through `store-kube` outlives the server's watch requests: the API ends each
//! after one second (`ApiConfig::max_watch`), the store's stream watches again from the
//! last version it delivered, and a writer's 40 changes over about four seconds arrive
//! each once, in order.

use std::time::Duration;

use futures::StreamExt as _;
use ironbell_kube_api::ApiConfig;
use ironbell_model::{ObjectMeta, TypeKey};
use ironbell_store::conformance::Widget;
use ironbell_store::{ListParams, WatchEvent};

mod support;

const CHANGES: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_after_the_server_ends_it() {
    let store = support::served_with(ApiConfig {
        max_watch: Duration::from_secs(1),
        ..ApiConfig::default()
    })
    .await;
    let widgets = TypeKey::of::<Widget>();
    let from = store
        .list(&widgets, &ListParams::default())
        .await
        .expect("list")
        .resource_version;
    let mut watch = store
        .watch(&widgets, &ListParams::default(), Some(from))
        .await
        .expect("watch");
    let writer = tokio::spawn({
        let store = store.clone();
        let widgets = widgets.clone();
        async move {
            // Paced over several of the server's one-second watches.
            let mut pace = tokio::time::interval(Duration::from_millis(100));
            for i in 0..CHANGES {
                pace.tick().await;
                let mut w = ironbell_model::DynamicObject::new(
                    widgets.clone(),
                    ObjectMeta::named("default", format!("w{i:02}")),
                );
                w.set_field("spec", &serde_json::json!({"count": i}))
                    .expect("spec");
                store.create(w).await.expect("create");
            }
        }
    });
    let mut seen = Vec::new();
    let mut last = from;
    while seen.len() < CHANGES as usize {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .unwrap_or_else(|_| panic!("no event within 10 s after {seen:?}"))
            .expect("the watch goes on")
            .expect("an event");
        let WatchEvent::Added(obj) = event else {
            panic!("only creates: {event:?}");
        };
        let rv: u64 = obj
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .expect("resourceVersion");
        assert!(rv > last, "in order, no repeats: {rv} after {last}");
        last = rv;
        seen.push(obj.name().to_string());
    }
    writer.await.expect("writer");
    let expected: Vec<String> = (0..CHANGES).map(|i| format!("w{i:02}")).collect();
    assert_eq!(seen, expected);
}
