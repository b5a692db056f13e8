//! kube-rs, the Rust Kubernetes client, against the API: a typed `Api<Hardware>` (create,
//! get, list with a label selector, merge patch, delete, a 409 on a stale update), and
//! kube-runtime's watcher through a restart of the server, with the history compacted
//! meanwhile, so that the watcher's resume gets the 410 `Expired` event and lists again.

use std::borrow::Cow;
use std::time::Duration;

use futures::StreamExt as _;
use ironbell_kube_api::{ApiConfig, Role};
use ironbell_model::TypeKey;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api as KubeApi, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use serde::{Deserialize, Serialize};

use common::Api;

mod common;

const DEADLINE: Duration = Duration::from_secs(30);

/// Tinkerbell's Hardware, typed as a client would (only what the test reads).
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Hardware {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: serde_json::Value,
}

impl kube::Resource for Hardware {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Hardware".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "tinkerbell.org".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "hardware".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn hardware(name: &str, mac: &str) -> Hardware {
    Hardware {
        api_version: "tinkerbell.org/v1alpha1".into(),
        kind: "Hardware".into(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("rack".to_string(), "r1".to_string())].into()),
            ..ObjectMeta::default()
        },
        spec: serde_json::json!({"interfaces": [{"dhcp": {"mac": mac}}]}),
    }
}

async fn client(api: &Api) -> kube::Client {
    let path = api.kubeconfig("kube-rs.yaml", Role::Admin, false);
    let text = std::fs::read_to_string(path).expect("kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_api_and_a_watcher_through_a_restart_and_a_compaction() {
    let mut api = Api::start(ApiConfig::default()).await;
    let hw: KubeApi<Hardware> = KubeApi::namespaced(client(&api).await, "default");

    let created = hw
        .create(
            &PostParams::default(),
            &hardware("wk01", "02:00:00:00:00:01"),
        )
        .await
        .expect("create");
    assert!(created.metadata.resource_version.is_some());
    // A create's status is ignored, as for a CRD with a status subresource.
    let mut with_status = hardware("wk09", "02:00:00:00:00:09");
    with_status.spec = serde_json::json!({"interfaces": []});
    let mut value = serde_json::to_value(&with_status).expect("json");
    value["status"] = serde_json::json!({"state": "Provisioned"});
    let raw: KubeApi<kube::api::DynamicObject> = KubeApi::namespaced_with(
        hw.clone().into_client(),
        "default",
        &kube::api::ApiResource::erase::<Hardware>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(value).expect("dynamic");
    let made = raw
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert!(made.data.get("status").is_none(), "{made:?}");
    raw.delete("wk09", &Default::default())
        .await
        .expect("delete");
    hw.create(
        &PostParams::default(),
        &hardware("wk02", "02:00:00:00:00:02"),
    )
    .await
    .expect("create");
    let err = hw
        .create(
            &PostParams::default(),
            &hardware("wk01", "02:00:00:00:00:01"),
        )
        .await
        .expect_err("exists");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err}"
    );

    let listed = hw
        .list(&ListParams::default().labels("rack=r1"))
        .await
        .expect("list");
    let names: Vec<_> = listed
        .items
        .iter()
        .filter_map(|h| h.metadata.name.clone())
        .collect();
    assert_eq!(names, ["wk01", "wk02"]);
    let patched = hw
        .patch(
            "wk02",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"rack": "r2"}}})),
        )
        .await
        .expect("patch");
    assert_eq!(
        patched
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("rack"))
            .map(String::as_str),
        Some("r2")
    );
    // A replace from a stale read is a 409 Conflict.
    let err = hw.replace("wk01", &PostParams::default(), &created).await;
    assert!(err.is_ok(), "the read is current: {err:?}");
    let err = hw
        .replace("wk01", &PostParams::default(), &created)
        .await
        .expect_err("stale");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{err}"
    );
    let missing = hw.get_opt("nope").await.expect("get_opt");
    assert!(missing.is_none());

    // The watcher: its first list, then a restart of the server with the history compacted.
    let mut events = watcher(hw.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut next = async || {
        loop {
            match tokio::time::timeout(DEADLINE, events.next())
                .await
                .expect("an event")
            {
                Some(Ok(e)) => return e,
                // Errors while the server is down; the watcher retries with a backoff.
                Some(Err(_)) => {}
                None => panic!("the watcher ended"),
            }
        }
    };
    assert!(matches!(next().await, watcher::Event::Init));
    let mut seen = Vec::new();
    loop {
        match next().await {
            watcher::Event::InitApply(h) => seen.extend(h.metadata.name),
            watcher::Event::InitDone => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["wk01", "wk02"]);

    api.stop();
    let types = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
    for name in ["wk03", "wk04"] {
        let mut obj = ironbell_model::DynamicObject::new(
            types.clone(),
            ironbell_model::ObjectMeta::named("default", name),
        );
        obj.set_field("spec", &serde_json::json!({})).expect("spec");
        api.store
            .create(obj)
            .await
            .expect("create while the API is down");
    }
    let rv = api
        .store
        .list(&types, &Default::default())
        .await
        .expect("list")
        .resource_version;
    api.store.compact(rv).await.expect("compact");
    api.restart().await;

    // Resuming from its old version, the watcher is told 410 Expired and lists again.
    loop {
        if let watcher::Event::Init = next().await {
            break;
        }
    }
    let mut relisted = Vec::new();
    loop {
        match next().await {
            watcher::Event::InitApply(h) => relisted.extend(h.metadata.name),
            watcher::Event::InitDone => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(relisted, ["wk01", "wk02", "wk03", "wk04"]);
    // And then follows changes.
    hw.delete("wk03", &Default::default())
        .await
        .expect("delete");
    loop {
        if let watcher::Event::Delete(h) = next().await {
            assert_eq!(h.metadata.name.as_deref(), Some("wk03"));
            break;
        }
    }
}
