//! `POST /phone-home` through the router, on a real SQLite store: the Node it writes, and
//! every refusal (another machine's instance id, an unknown address, an oversized body, a
//! wrong media type, too many posts, a Node that is another Hardware's, no store).

mod common;

use axum::Router;
use axum::http::{Method, StatusCode};
use common::{Answer, get, send_body, simple, store_with};
use ironbell_metadata::phone_home::{MAX_BODY_BYTES, RATE_BURST};
use ironbell_metadata::{Config, Index, MetadataState, router};
use ironbell_model::corev1::Node;
use ironbell_model::tinkerbell::Hardware;
use ironbell_store::SharedStore;
use ironbell_store::events::events_of;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

struct Plane {
    app: Router,
    store: SharedStore,
    _dir: tempfile::TempDir,
}

async fn plane() -> Plane {
    let hardware = [
        simple("m1", "10.0.0.1", "m1"),
        simple("m2", "10.0.0.2", "m2"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(&dir, &hardware).await;
    let state = MetadataState::new(Config::default(), Index::from_hardware(hardware))
        .with_store(store.clone());
    Plane {
        app: router(state),
        store,
        _dir: dir,
    }
}

async fn post(app: &Router, peer: &str, path: &str, body: &str) -> Answer {
    send_body(
        app,
        Method::POST,
        peer,
        path,
        &[FORM],
        body.as_bytes().to_vec(),
    )
    .await
}

async fn node(store: &SharedStore, name: &str) -> Option<Node> {
    match ironbell_store::api::<Node>(store).get("", name).await {
        Ok(n) => Some(n),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_phone_home_makes_the_machines_node_ready() {
    let p = plane().await;
    let a = post(
        &p.app,
        "10.0.0.1:40000",
        "/phone-home",
        "instance_id=id-m1&hostname=m1&fqdn=m1.lab",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let n = node(&p.store, "m1").await.expect("node m1");
    assert_eq!(n.metadata.namespace(), "", "cluster-scoped");
    assert_eq!(
        n.spec.provider_id.as_deref(),
        Some("tinkerbell://default/m1")
    );
    assert!(n.is_ready());
    let status = n.status.as_ref().expect("status");
    let ready = &status.conditions[0];
    assert!(ready.last_heartbeat_time.is_some() && ready.last_transition_time.is_some());
    let addresses: Vec<_> = status
        .addresses
        .iter()
        .map(|a| (a.type_.as_str(), a.address.as_str()))
        .collect();
    assert_eq!(addresses, [("InternalIP", "10.0.0.1"), ("Hostname", "m1")]);

    // Again, with the instance id in the path as cloud-init's $INSTANCE_ID puts it: the
    // heartbeat moves, the transition does not.
    let a = post(
        &p.app,
        "10.0.0.1:40001",
        "/phone-home/id-m1",
        "instance_id=id-m1",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let again = node(&p.store, "m1").await.expect("node m1");
    let cond = &again.status.as_ref().expect("status").conditions[0];
    assert_eq!(cond.last_transition_time, ready.last_transition_time);
    assert!(cond.last_heartbeat_time >= ready.last_heartbeat_time);

    // The machine's timeline: its metadata read, then two phone-homes as one Event.
    for _ in 0..5 {
        let a = get(&p.app, "10.0.0.1:40002", "/metadata").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let events = loop {
        let events = events_of::<Hardware>(&p.store, "default", "m1")
            .await
            .expect("events");
        let phoned = events.iter().any(|e| e.count == Some(2));
        if events.len() == 2 && phoned {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "{events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let by = |reason: &str| {
        events
            .iter()
            .find(|e| e.reason.as_deref() == Some(reason))
            .unwrap_or_else(|| panic!("no {reason}: {events:#?}"))
    };
    assert_eq!(by("PhoneHome").count, Some(2));
    assert_eq!(
        by("PhoneHome").message.as_deref(),
        Some("the installed OS phoned home from 10.0.0.1: node m1 is ready")
    );
    // Five reads, one Event: at most one a minute per client.
    assert_eq!(by("MetadataRead").count, Some(1));
}

#[tokio::test]
async fn a_machine_cannot_report_for_another() {
    let p = plane().await;
    let a = post(&p.app, "10.0.0.1:40000", "/phone-home", "instance_id=id-m2").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    let a = post(
        &p.app,
        "10.0.0.1:40000",
        "/phone-home/id-m2",
        "instance_id=id-m1",
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert!(node(&p.store, "m1").await.is_none());
    assert!(node(&p.store, "m2").await.is_none());

    let a = post(
        &p.app,
        "10.0.0.99:40000",
        "/phone-home",
        "instance_id=id-m1",
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    let a = post(&p.app, "10.0.0.2:40000", "/phone-home", "hostname=m2").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("instance_id"), "{}", a.body);
}

#[tokio::test]
async fn oversized_bodies_and_other_media_types_are_refused() {
    let p = plane().await;
    let big = format!(
        "instance_id=id-m1&pub_key_rsa={}",
        "A".repeat(MAX_BODY_BYTES)
    );
    let a = post(&p.app, "10.0.0.1:40000", "/phone-home", &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    let len = big.len().to_string();
    let a = send_body(
        &p.app,
        Method::POST,
        "10.0.0.1:40000",
        "/phone-home",
        &[FORM, ("content-length", &len)],
        big.into_bytes(),
    )
    .await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.body);
    let a = send_body(
        &p.app,
        Method::POST,
        "10.0.0.1:40000",
        "/phone-home",
        &[("content-type", "application/json")],
        br#"{"instance_id":"id-m1"}"#.to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.body);
    assert!(node(&p.store, "m1").await.is_none());
}

#[tokio::test]
async fn posts_are_rate_limited_per_source_address() {
    let p = plane().await;
    for _ in 0..RATE_BURST {
        let a = post(&p.app, "10.0.0.1:40000", "/phone-home", "instance_id=id-m1").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
    let a = post(&p.app, "10.0.0.1:40000", "/phone-home", "instance_id=id-m1").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    // Another machine is not held back by the first one's posts.
    let a = post(&p.app, "10.0.0.2:40000", "/phone-home", "instance_id=id-m2").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn a_node_of_another_hardware_is_not_taken_over() {
    let p = plane().await;
    let mut other = Node::default();
    other.metadata.name = Some("m1".into());
    other.spec.provider_id = Some("tinkerbell://site-b/m1".into());
    ironbell_store::api::<Node>(&p.store)
        .create(&other)
        .await
        .expect("create");
    let a = post(&p.app, "10.0.0.1:40000", "/phone-home", "instance_id=id-m1").await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let n = node(&p.store, "m1").await.expect("node");
    assert_eq!(
        n.spec.provider_id.as_deref(),
        Some("tinkerbell://site-b/m1")
    );
    assert!(!n.is_ready());
}

#[tokio::test]
async fn without_a_store_phone_homes_are_unavailable() {
    let app = router(MetadataState::new(
        Config::default(),
        Index::from_hardware([simple("m1", "10.0.0.1", "m1")]),
    ));
    let a = post(&app, "10.0.0.1:40000", "/phone-home", "instance_id=id-m1").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.body);
}
