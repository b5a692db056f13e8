//! Behaviour that sushy-tools cannot show: sessions (a session-issuing proxy in front of a
//! real sushy), `@Redfish.ActionInfo`, refused parameters and their fallbacks, ETags,
//! several systems, bad JSON, oversized bodies, unreachable and silent servers. Every test
//! runs inside its own network namespace; the small Redfish servers are written here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use common::*;
use ironbell_redfish::{
    Auth, BootMode, BootOverride, BootSource, Client, Config, Error, PowerState, ResetType,
};
use ironbell_testbed::{Netns, Tier, require_tier};
use serde_json::{Value, json};

fn json_reply(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn redfish_error(status: u16, message: &str) -> Response {
    json_reply(
        status,
        json!({"error": {"code": "Base.1.8.GeneralError", "message": "A general error has occurred.",
            "@Message.ExtendedInfo": [{"MessageId": "Base.1.8.PropertyNotWritable", "Message": message}]}}),
    )
}

/// Serves `router` on 127.0.0.1 inside the current namespace; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn install_provider() {
    // For the test's own reqwest client (the proxy's upstream side).
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// ---------------------------------------------------------------------------------------
// Sessions: a proxy that issues Redfish sessions and forwards to sushy.

#[derive(Default)]
struct Sessions {
    tokens: HashMap<String, u32>,
    created: u32,
    deleted: Vec<u32>,
    basic_seen: u32,
    logins_refused: u32,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    state: Mutex<Sessions>,
}

/// A `tracing` writer into memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const SESSIONS: &str = "/redfish/v1/SessionService/Sessions";

async fn proxy(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_string();
    let token = parts
        .headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let session = {
        let mut st = p.state.lock().unwrap();
        if parts.headers.contains_key("authorization") {
            st.basic_seen += 1;
        }
        token.as_ref().and_then(|t| st.tokens.get(t).copied())
    };
    let method = parts.method.as_str().to_string();
    if method == "POST" && path == SESSIONS {
        let creds: Value = serde_json::from_slice(&body).unwrap();
        let mut st = p.state.lock().unwrap();
        if creds["UserName"] != USER || creds["Password"] != PASSWORD {
            st.logins_refused += 1;
            return redfish_error(401, "Invalid username or password");
        }
        st.created += 1;
        let id = st.created;
        let token = format!("token-{id}-{}", 1000 + id * 7);
        st.tokens.insert(token.clone(), id);
        let location = format!("{SESSIONS}/{id}");
        let mut resp = json_reply(201, json!({"@odata.id": location, "Id": id.to_string()}));
        resp.headers_mut()
            .insert("X-Auth-Token", token.parse().unwrap());
        resp.headers_mut()
            .insert("Location", location.parse().unwrap());
        return resp;
    }
    let is_root = path.trim_end_matches('/') == "/redfish/v1";
    if !is_root && session.is_none() {
        return redfish_error(401, "No valid session");
    }
    if method == "DELETE"
        && let Some(id) = path.strip_prefix(&format!("{SESSIONS}/"))
    {
        let mut st = p.state.lock().unwrap();
        let id: u32 = id.parse().unwrap();
        assert_eq!(session, Some(id), "a session deletes itself");
        st.tokens.retain(|_, v| *v != id);
        st.deleted.push(id);
        return json_reply(204, Value::Null);
    }
    let upstream = p
        .http
        .request(parts.method.clone(), format!("{}{}", p.upstream, parts.uri))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = upstream.status().as_u16();
    let bytes = upstream.bytes().await.unwrap();
    if is_root {
        let mut root: Value = serde_json::from_slice(&bytes).unwrap();
        root["SessionService"] = json!({"@odata.id": "/redfish/v1/SessionService"});
        root["Links"] = json!({"Sessions": {"@odata.id": SESSIONS}});
        return json_reply(status, root);
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .unwrap()
}

#[test]
fn session_login_relogin_and_logout_through_a_session_proxy() {
    if !peers_present() {
        return;
    }
    install_provider();
    let sushy = Sushy::start(Options::default());
    let upstream = sushy.url();
    sushy.run(|| async move {
        // Capture every tracing event of the client, at TRACE.
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        );
        let p = Arc::new(Proxy {
            upstream,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            state: Mutex::new(Sessions::default()),
        });
        let url = serve(axum::Router::new().fallback(proxy).with_state(p.clone())).await;
        let mut cfg = Config::new(&url, USER, PASSWORD).unwrap();
        cfg.auth = Auth::Session;

        let client = Client::connect(cfg.clone()).await.unwrap();
        assert_eq!(client.auth_in_use(), Auth::Session);
        assert!(!format!("{client:?}").contains("token-1"));
        assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
        assert_eq!(p.state.lock().unwrap().created, 1);

        // The BMC forgets the session: the client logs in again once and goes on.
        p.state.lock().unwrap().tokens.clear();
        assert_eq!(client.power_state().await.unwrap(), PowerState::Off);
        assert_eq!(p.state.lock().unwrap().created, 2);

        client.close().await.unwrap();
        {
            let st = p.state.lock().unwrap();
            assert_eq!(st.deleted, vec![2]);
            assert!(st.tokens.is_empty());
            assert_eq!(st.basic_seen, 0, "no basic auth when sessions work");
        }

        // A refused login is an authentication error; no basic-auth retry.
        let mut bad = cfg.clone();
        bad.password = "not-the-password-42".into();
        let err = Client::connect(bad).await.unwrap_err();
        assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("not-the-password-42"), "{text}");
        assert!(text.contains("Invalid username or password"), "{text}");
        let st = p.state.lock().unwrap();
        assert_eq!((st.logins_refused, st.basic_seen), (1, 0));

        // Requests were logged, secrets were not.
        let logs = logs.text();
        assert!(logs.contains("redfish request"), "{logs}");
        assert!(logs.contains(SESSIONS), "{logs}");
        for secret in [PASSWORD, "not-the-password-42", "token-"] {
            assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
        }
    });
}

// ---------------------------------------------------------------------------------------
// A scripted BMC: ActionInfo, refused parameters, ETags, PATCH-only virtual media.

struct Bmc {
    power: &'static str,
    resets: Vec<String>,
    boot: (String, String, String),
    boot_patches: Vec<Value>,
    etag: u32,
    image: Option<String>,
    media_patches: Vec<Value>,
    huge: bool,
    refuse_resets: bool,
}

type Shared = Arc<Mutex<Bmc>>;

fn system_a(b: &Bmc) -> Value {
    json!({
        "@odata.id": "/redfish/v1/Systems/a", "Id": "a", "Name": "node-a",
        "PowerState": b.power,
        "Boot": {"BootSourceOverrideTarget": b.boot.0, "BootSourceOverrideEnabled": b.boot.1,
                 "BootSourceOverrideMode": b.boot.2},
        "Actions": {"#ComputerSystem.Reset": {
            "target": "/redfish/v1/Systems/a/Actions/ComputerSystem.Reset",
            "@Redfish.ActionInfo": "/redfish/v1/Systems/a/ResetActionInfo"}},
        "Links": {"ManagedBy": [{"@odata.id": "/redfish/v1/Managers/bmc"}]}
    })
}

async fn bmc(State(s): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut b = s.lock().unwrap();
    let path = parts.uri.path().trim_end_matches('/');
    match (parts.method.as_str(), path) {
        ("GET", "/redfish/v1") => json_reply(
            200,
            json!({"Systems": {"@odata.id": "/redfish/v1/Systems"},
                   "Managers": {"@odata.id": "/redfish/v1/Managers"}}),
        ),
        ("GET", "/redfish/v1/Systems") if b.huge => {
            json_reply(200, json!({"Members": [], "Padding": "x".repeat(5 << 20)}))
        }
        ("GET", "/redfish/v1/Systems") => json_reply(
            200,
            json!({"Members": [{"@odata.id": "/redfish/v1/Systems/a"},
                               {"@odata.id": "/redfish/v1/Systems/b"}]}),
        ),
        ("GET", "/redfish/v1/Systems/a") => {
            let mut r = json_reply(200, system_a(&b));
            let etag = format!("W/\"{}\"", b.etag);
            r.headers_mut().insert("ETag", etag.parse().unwrap());
            r
        }
        ("GET", "/redfish/v1/Systems/b") => json_reply(
            200,
            json!({"Id": "b", "Name": "node-b", "PowerState": "On",
                   "Boot": {"BootSourceOverrideTarget": 7}}),
        ),
        ("PATCH", "/redfish/v1/Systems/a") => {
            let wanted = format!("W/\"{}\"", b.etag);
            if parts.headers.get("if-match").and_then(|v| v.to_str().ok()) != Some(&wanted) {
                return redfish_error(412, "ETag mismatch");
            }
            b.boot_patches.push(body.clone());
            let boot = &body["Boot"];
            if boot.get("BootSourceOverrideMode").is_some() {
                return redfish_error(400, "The property BootSourceOverrideMode is read only");
            }
            b.boot.0 = boot["BootSourceOverrideTarget"].as_str().unwrap().into();
            b.boot.1 = boot["BootSourceOverrideEnabled"].as_str().unwrap().into();
            b.etag += 1;
            json_reply(204, Value::Null)
        }
        ("GET", "/redfish/v1/Systems/a/ResetActionInfo") => json_reply(
            200,
            json!({"Parameters": [{"Name": "ResetType", "Required": true,
                                   "AllowableValues": ["On", "ForceOff"]}]}),
        ),
        ("POST", "/redfish/v1/Systems/a/Actions/ComputerSystem.Reset") => {
            let t = body["ResetType"].as_str().unwrap_or_default().to_string();
            b.resets.push(t.clone());
            if b.refuse_resets {
                return redfish_error(
                    409,
                    "The requested operation cannot be performed while the host is in maintenance.",
                );
            }
            match t.as_str() {
                "On" => b.power = "On",
                "ForceOff" => b.power = "Off",
                _ => {
                    return redfish_error(
                        400,
                        &format!("The value {t} for the parameter ResetType is not supported"),
                    );
                }
            }
            json_reply(204, Value::Null)
        }
        ("GET", "/redfish/v1/Managers/bmc") => json_reply(
            200,
            json!({"Id": "bmc", "VirtualMedia": {"@odata.id": "/redfish/v1/Managers/bmc/VirtualMedia"}}),
        ),
        ("GET", "/redfish/v1/Managers/bmc/VirtualMedia") => json_reply(
            200,
            json!({"Members": [{"@odata.id": "/redfish/v1/Managers/bmc/VirtualMedia/USB1"},
                               {"@odata.id": "/redfish/v1/Managers/bmc/VirtualMedia/CD1"}]}),
        ),
        ("GET", "/redfish/v1/Managers/bmc/VirtualMedia/USB1") => json_reply(
            200,
            json!({"Id": "USB1", "MediaTypes": ["USBStick"], "Inserted": false, "Image": null}),
        ),
        ("GET", "/redfish/v1/Managers/bmc/VirtualMedia/CD1") => json_reply(
            200,
            json!({"Id": "CD1", "MediaTypes": ["CD", "DVD"], "Inserted": b.image.is_some(),
                   "Image": b.image}),
        ),
        ("PATCH", "/redfish/v1/Managers/bmc/VirtualMedia/CD1") => {
            b.media_patches.push(body.clone());
            if body.get("WriteProtected").is_some() {
                return redfish_error(400, "The property WriteProtected is not writable");
            }
            b.image = match (&body["Image"], &body["Inserted"]) {
                (Value::String(i), Value::Bool(true)) => Some(i.clone()),
                _ => None,
            };
            json_reply(204, Value::Null)
        }
        _ => redfish_error(404, "no such resource"),
    }
}

fn scripted(huge: bool) -> Shared {
    Arc::new(Mutex::new(Bmc {
        power: "On",
        resets: Vec::new(),
        boot: ("None".into(), "Disabled".into(), "UEFI".into()),
        boot_patches: Vec::new(),
        etag: 1,
        image: None,
        media_patches: Vec::new(),
        huge,
        refuse_resets: false,
    }))
}

#[test]
fn scripted_bmc_systems_action_info_etags_and_patch_media() {
    require_tier!(Tier::Root);
    let ns = Netns::new().unwrap();
    run_in(&ns, || async {
        let s = scripted(false);
        let url = serve(axum::Router::new().fallback(bmc).with_state(s.clone())).await;
        let mut cfg = Config::new(&url, USER, PASSWORD).unwrap();
        cfg.power_wait = Duration::from_secs(5);

        // Two systems and no name: the error lists them.
        let err = Client::connect(cfg.clone()).await.unwrap_err();
        match &err {
            Error::SystemNotFound {
                wanted: None,
                available,
                ..
            } => assert_eq!(available, &["a (node-a)", "b (node-b)"]),
            other => panic!("{other:?}"),
        }
        // Bad JSON names the field (found when the system is used, not when listed).
        cfg.system_name = Some("node-b".into());
        let b = Client::connect(cfg.clone()).await.unwrap();
        match b.power_state().await.unwrap_err() {
            Error::Json { path, field, .. } => {
                assert_eq!(path, "/redfish/v1/Systems/b");
                assert_eq!(field, "Boot.BootSourceOverrideTarget");
            }
            other => panic!("{other:?}"),
        }
        cfg.system_name = Some("node-a".into());
        let client = Client::connect(cfg).await.unwrap();
        assert_eq!(client.system_id(), "a");

        // Allowed values come from @Redfish.ActionInfo: GracefulShutdown → ForceOff,
        // PowerCycle → ForceOff, wait for Off, On.
        assert_eq!(
            client.reset(ResetType::GracefulShutdown).await.unwrap(),
            vec![ResetType::ForceOff]
        );
        assert_eq!(
            client.reset(ResetType::On).await.unwrap(),
            vec![ResetType::On]
        );
        assert_eq!(
            client.reset(ResetType::PowerCycle).await.unwrap(),
            vec![ResetType::ForceOff, ResetType::On]
        );
        let err = client.reset(ResetType::Nmi).await.unwrap_err();
        match &err {
            Error::Unsupported { what, allowed, .. } => {
                assert_eq!(what, "ResetType Nmi");
                assert_eq!(allowed, &["On", "ForceOff"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.lock().unwrap().resets,
            ["ForceOff", "On", "ForceOff", "On"]
        );

        // The mode is refused: retried without it, with the ETag as If-Match.
        let state = client
            .set_boot_override(
                BootSource::Pxe,
                BootOverride {
                    persistent: false,
                    uefi: Some(false),
                },
            )
            .await
            .unwrap();
        assert_eq!(state.target, BootSource::Pxe);
        assert_eq!(state.mode, Some(BootMode::Uefi));
        {
            let b = s.lock().unwrap();
            assert_eq!(b.boot_patches.len(), 2);
            assert_eq!(b.boot.1, "Once");
            assert!(
                b.boot_patches[1]["Boot"]
                    .get("BootSourceOverrideMode")
                    .is_none()
            );
        }

        // No InsertMedia action: PATCH, retried without WriteProtected; the USB slot is
        // left alone.
        let image = "http://192.0.2.10/hook.iso";
        let slot = client.insert_media(image).await.unwrap();
        assert_eq!(
            (slot.id.as_str(), slot.image.as_deref()),
            ("CD1", Some(image))
        );
        client.eject_media().await.unwrap();
        let b = s.lock().unwrap();
        assert_eq!(b.image, None);
        assert_eq!(
            b.media_patches,
            vec![
                json!({"Image": image, "Inserted": true, "WriteProtected": true}),
                json!({"Image": image, "Inserted": true}),
                json!({"Image": null, "Inserted": false}),
            ]
        );
    });
}

#[test]
fn http_errors_carry_the_redfish_message() {
    require_tier!(Tier::Root);
    let ns = Netns::new().unwrap();
    run_in(&ns, || async {
        let s = scripted(false);
        s.lock().unwrap().power = "Off";
        let url = serve(axum::Router::new().fallback(bmc).with_state(s.clone())).await;
        let mut cfg = Config::new(&url, USER, PASSWORD).unwrap();
        cfg.system_name = Some("a".into());
        let client = Client::connect(cfg).await.unwrap();
        // GracefulRestart of an Off system is planned as On.
        assert_eq!(
            client.reset(ResetType::GracefulRestart).await.unwrap(),
            vec![ResetType::On]
        );
        s.lock().unwrap().refuse_resets = true;
        let err = client.reset(ResetType::ForceOff).await.unwrap_err();
        match &err {
            Error::Http {
                method,
                path,
                status,
                message,
                ..
            } => {
                assert_eq!((method.as_str(), *status), ("POST", 409));
                assert_eq!(path, "/redfish/v1/Systems/a/Actions/ComputerSystem.Reset");
                assert!(
                    message.contains("while the host is in maintenance"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("HTTP 409"), "{err}");
        // An unknown PowerState is reported, not guessed.
        s.lock().unwrap().power = "Sleeping";
        let err = client.power_state().await.unwrap_err();
        assert!(
            err.to_string().contains("unknown PowerState \"Sleeping\""),
            "{err}"
        );
    });
}

#[test]
fn oversized_bodies_are_refused() {
    require_tier!(Tier::Root);
    let ns = Netns::new().unwrap();
    run_in(&ns, || async {
        let url = serve(axum::Router::new().fallback(bmc).with_state(scripted(true))).await;
        let cfg = Config::new(&url, USER, PASSWORD).unwrap();
        match Client::connect(cfg).await.unwrap_err() {
            Error::TooLarge { path, limit, .. } => {
                assert_eq!(path, "/redfish/v1/Systems");
                assert_eq!(limit, 4 << 20);
            }
            other => panic!("{other:?}"),
        }
    });
}

// ---------------------------------------------------------------------------------------
// Network failures.

#[test]
fn closed_port_is_unreachable_at_once() {
    require_tier!(Tier::Root);
    let ns = Netns::new().unwrap();
    let port = free_port(&ns);
    let mut cfg = Config::new(&format!("http://127.0.0.1:{port}"), USER, PASSWORD).unwrap();
    cfg.connect_timeout = Duration::from_secs(3);
    let start = Instant::now();
    let err = run_in(&ns, || async { Client::connect(cfg).await.unwrap_err() });
    assert!(start.elapsed() < Duration::from_secs(3));
    match &err {
        Error::Unreachable { host, path, .. } => {
            assert_eq!(host, &format!("127.0.0.1:{port}"));
            assert_eq!(path, "/redfish/v1/");
        }
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
}

#[test]
fn silent_network_hits_the_connect_timeout() {
    require_tier!(Tier::Root);
    // A veth whose peer (in a second namespace) is down, and a static neighbour: SYNs are
    // sent and vanish, nothing ever answers.
    let ns = Netns::new().unwrap();
    let peer = Netns::new().unwrap();
    ironbell_testbed::veth(&ns, "v0", &peer, "v1").unwrap();
    peer.ip(&["link", "set", "v1", "down"]).unwrap();
    ns.ip(&["addr", "add", "198.51.100.1/24", "dev", "v0"])
        .unwrap();
    ns.ip(&[
        "neigh",
        "add",
        "198.51.100.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "v0",
    ])
    .unwrap();
    let mut cfg = Config::new("https://198.51.100.2", USER, PASSWORD).unwrap();
    cfg.connect_timeout = Duration::from_secs(1);
    let start = Instant::now();
    let err = run_in(&ns, || async { Client::connect(cfg).await.unwrap_err() });
    let took = start.elapsed();
    assert!(
        matches!(&err, Error::Timeout { what: "connect", host, .. } if host == "198.51.100.2"),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn server_that_never_answers_hits_the_request_timeout() {
    require_tier!(Tier::Root);
    let ns = Netns::new().unwrap();
    let listener = ns
        .enter(|| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without a byte in reply.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept() {
            held.push(s);
        }
    });
    let mut cfg = Config::new(&format!("http://127.0.0.1:{port}"), USER, PASSWORD).unwrap();
    cfg.timeout = Duration::from_secs(2);
    let start = Instant::now();
    let err = run_in(&ns, || async { Client::connect(cfg).await.unwrap_err() });
    let took = start.elapsed();
    assert!(
        matches!(&err, Error::Timeout { what: "request", after, .. } if *after == Duration::from_secs(2)),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
}
