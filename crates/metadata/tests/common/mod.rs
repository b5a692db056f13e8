//! Shared test support: the Hegel conformance fixtures turned into Hardware, a SQLite store
//! holding them, and requests sent to the router with a chosen peer address.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ironbell_metadata::{Config, Index, MetadataState, router};
use ironbell_model::ObjectMeta;
use ironbell_model::tinkerbell::hegel::{FlatFileInstance, parse_flatfile};
use ironbell_model::tinkerbell::{
    Dhcp, Hardware, HardwareMetadata, HardwareSpec, Interface, Ip, MetadataFacility,
    MetadataInstance, MetadataInstanceIp, MetadataOperatingSystem,
};
use ironbell_store::{Op, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use tower::ServiceExt;

/// `../shared/conformance/hegel-9d5f707` beside the repository.
pub fn hegel_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/hegel-9d5f707"
    ));
    assert!(
        dir.is_dir(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        dir.display()
    );
    dir
}

/// The instances of a Hegel fixture file (path relative to `hegel-9d5f707`).
pub fn fixture(rel: &str) -> Vec<FlatFileInstance> {
    let path = hegel_dir().join(rel);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_flatfile(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The fixture files whose instances the tests serve.
pub const FIXTURES: [&str; 2] = [
    "internal/backend/flatfile/testdata/TestGetEC2Instance.yml",
    "internal/e2e/testdata/e2e.yml",
];

/// A Hardware holding a flat-file instance's data where Hardware has a field for it, the
/// way Hegel's Kubernetes backend reads it back: the public IPv4 is the interface's DHCP
/// address (so the machine is found by it, as Hegel's flat-file backend finds it) and also
/// a public `family: 4` metadata address; the local IPv4 a non-public one; the IPv6 a
/// `family: 6` one. `localHostname`, `iqn` and `licenseActivationState` have no Hardware
/// field.
pub fn hardware_from_flatfile(f: &FlatFileInstance, name: &str, mac: &str) -> Hardware {
    let m = &f.metadata;
    let mut ips = Vec::new();
    let ip = |address: std::net::IpAddr, family: i64, public: bool| MetadataInstanceIp {
        address: Some(address),
        family: Some(family),
        public: Some(public),
        ..MetadataInstanceIp::default()
    };
    if let Some(v4) = &m.ipv4 {
        if let Some(a) = v4.public {
            ips.push(ip(a.into(), 4, true));
        }
        if let Some(a) = v4.local {
            ips.push(ip(a.into(), 4, false));
        }
    }
    if let Some(a) = m.ipv6.as_ref().and_then(|v| v.public) {
        ips.push(ip(a.into(), 6, true));
    }
    let os = m.os.as_ref().map(|os| MetadataOperatingSystem {
        slug: os.slug.clone(),
        distro: os.distro.clone(),
        version: os.version.clone(),
        image_tag: os.image_tag.clone(),
        ..MetadataOperatingSystem::default()
    });
    Hardware {
        metadata: ObjectMeta::named("default", name),
        spec: HardwareSpec {
            interfaces: Some(vec![Interface {
                dhcp: Some(Dhcp {
                    mac: Some(mac.parse().expect("test MAC")),
                    hostname: m.hostname.clone(),
                    ip: Some(Ip {
                        address: f.public_ipv4().map(Into::into),
                        netmask: "255.255.255.0".parse().ok(),
                        family: Some(4),
                        ..Ip::default()
                    }),
                    ..Dhcp::default()
                }),
                ..Interface::default()
            }]),
            metadata: Some(HardwareMetadata {
                instance: Some(MetadataInstance {
                    id: m.id.clone(),
                    hostname: m.hostname.clone(),
                    tags: m.tags.clone(),
                    ips: Some(ips),
                    operating_system: os,
                    ..MetadataInstance::default()
                }),
                facility: Some(MetadataFacility {
                    plan_slug: m.plan.clone(),
                    facility_code: m.facility.clone(),
                    ..MetadataFacility::default()
                }),
                ..HardwareMetadata::default()
            }),
            user_data: f.userdata.clone(),
            ..HardwareSpec::default()
        },
        ..Hardware::default()
    }
}

/// A minimal Hardware at `ip` with the given host name.
pub fn simple(name: &str, ip: &str, hostname: &str) -> Hardware {
    let mut f = FlatFileInstance::default();
    f.metadata.hostname = Some(hostname.into());
    f.metadata.id = Some(format!("id-{name}"));
    let ip: std::net::IpAddr = ip.parse().expect("test IP");
    match ip {
        std::net::IpAddr::V4(v4) => {
            f.metadata.ipv4 = Some(ironbell_model::tinkerbell::hegel::FlatFileIpv4 {
                public: Some(v4),
                local: None,
            });
        }
        std::net::IpAddr::V6(v6) => {
            f.metadata.ipv6 =
                Some(ironbell_model::tinkerbell::hegel::FlatFileIpv6 { public: Some(v6) });
        }
    }
    f.userdata = Some(format!("#cloud-config\nhostname: {hostname}\n"));
    let mut hw = hardware_from_flatfile(&f, name, "02:00:00:00:00:01");
    // The machine is found by its interface's address, whatever its family.
    if let Some(dhcp_ip) = hw
        .spec
        .interfaces
        .as_mut()
        .and_then(|i| i.first_mut())
        .and_then(|i| i.dhcp.as_mut())
        .and_then(|d| d.ip.as_mut())
    {
        dhcp_ip.address = Some(ip);
    }
    hw
}

/// A SQLite store in `dir` holding `hardware`.
pub async fn store_with(dir: &tempfile::TempDir, hardware: &[Hardware]) -> SharedStore {
    let store: SharedStore =
        Arc::new(SqliteStore::open(dir.path().join("store.db")).expect("open store"));
    if !hardware.is_empty() {
        let ops = hardware
            .iter()
            .map(|h| Op::Create(ironbell_model::DynamicObject::from_typed(h).expect("to dynamic")))
            .collect();
        store.commit(ops).await.expect("import");
    }
    store
}

/// A router over `index` with `config`.
pub fn app(index: Arc<Index>, config: Config) -> Router {
    router(MetadataState::new(config, index))
}

/// An answer of the router.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// Sends `method path` with `headers` to `app` as if from `peer`.
pub async fn send(
    app: &Router,
    method: Method,
    peer: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    send_body(app, method, peer, path, headers, Vec::new()).await
}

/// [`send`] with a request body.
pub async fn send_body(
    app: &Router,
    method: Method,
    peer: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let peer: SocketAddr = peer.parse().expect("peer address");
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body)).expect("request");
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET path` from `peer` (an `ip:port`).
pub async fn get(app: &Router, peer: &str, path: &str) -> Answer {
    send(app, Method::GET, peer, path, &[]).await
}

/// Polls `cond` until it holds, for at most five seconds.
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond().await {
        assert!(Instant::now() < deadline, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Tracing output kept in memory, for tests that check what is logged.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }

    /// Makes a subscriber writing into this buffer (up to `level`) the current thread's
    /// default until the guard is dropped.
    pub fn capture(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}
