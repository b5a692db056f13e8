//! Every EC2 endpoint against the data of Hegel's own fixtures
//! (`shared/conformance/hegel-9d5f707`), checked against what Hegel's tests say it returns
//! for them: `TestGetEC2Instance` (flat-file backend) and `TestFrontendDynamicEndpoints` /
//! `TestFrontendStaticEndpoints` (EC2 frontend), and the e2e test (`e2e.yml` served
//! through a trusted proxy).
//!
//! Each fixture is served twice: converted to Hardware in a SQLite store (the production
//! path: Hegel's Kubernetes-backend mapping), and as a flat file (Hegel's flat-file
//! mapping, which also has `iqn`, `local-hostname` and the license state).

mod common;

use axum::http::StatusCode;
use common::{app, fixture, get, hardware_from_flatfile, send, store_with};
use ironbell_metadata::{Config, Index};

const PEER: &str = "10.10.10.10:40000";

/// `(path under the version, body for the Hardware, body for the flat file)`; `None` is a
/// 404. The values are Hegel's `TestGetEC2Instance` expectations.
const LEAVES: [(&str, Option<&str>, Option<&str>); 16] = [
    ("user-data", Some("test"), Some("test")),
    (
        "meta-data/instance-id",
        Some("instanceid"),
        Some("instanceid"),
    ),
    ("meta-data/hostname", Some("hostname"), Some("hostname")),
    // Hegel's Kubernetes backend serves the host name as the local host name.
    (
        "meta-data/local-hostname",
        Some("hostname"),
        Some("localhostname"),
    ),
    // No Hardware field (Hegel's Kubernetes backend leaves it empty).
    ("meta-data/iqn", None, Some("iqn")),
    ("meta-data/plan", Some("plan"), Some("plan")),
    ("meta-data/facility", Some("facility"), Some("facility")),
    ("meta-data/tags", Some("foo\nbar"), Some("foo\nbar")),
    (
        "meta-data/public-ipv4",
        Some("10.10.10.10"),
        Some("10.10.10.10"),
    ),
    (
        "meta-data/public-ipv6",
        Some("2001:db8:0:1:1:1:1:1"),
        Some("2001:db8:0:1:1:1:1:1"),
    ),
    (
        "meta-data/local-ipv4",
        Some("10.10.10.11"),
        Some("10.10.10.11"),
    ),
    (
        "meta-data/operating-system/slug",
        Some("slug"),
        Some("slug"),
    ),
    (
        "meta-data/operating-system/distro",
        Some("distro"),
        Some("distro"),
    ),
    (
        "meta-data/operating-system/version",
        Some("version"),
        Some("version"),
    ),
    (
        "meta-data/operating-system/image_tag",
        Some("imagetag"),
        Some("imagetag"),
    ),
    (
        "meta-data/operating-system/license_activation/state",
        None,
        Some("licenseactivationstate"),
    ),
];

/// Directory listings: Hegel's `TestFrontendStaticEndpoints` lists, less the children this
/// machine has no value for (`public-keys`, and for Hardware `iqn` and
/// `license_activation/`).
const DIRS: [(&str, Option<&str>, Option<&str>); 4] = [
    (
        "",
        Some("meta-data/\nuser-data"),
        Some("meta-data/\nuser-data"),
    ),
    (
        "meta-data",
        Some(
            "facility\nhostname\ninstance-id\nlocal-hostname\nlocal-ipv4\noperating-system/\nplan\npublic-ipv4\npublic-ipv6\ntags",
        ),
        Some(
            "facility\nhostname\ninstance-id\niqn\nlocal-hostname\nlocal-ipv4\noperating-system/\nplan\npublic-ipv4\npublic-ipv6\ntags",
        ),
    ),
    (
        "meta-data/operating-system",
        Some("distro\nimage_tag\nslug\nversion"),
        Some("distro\nimage_tag\nlicense_activation/\nslug\nversion"),
    ),
    (
        "meta-data/operating-system/license_activation",
        None,
        Some("state"),
    ),
];

async fn check_all(app: &axum::Router, hardware: bool, what: &str) {
    for version in ["2009-04-04", "latest"] {
        for (path, hw_body, ff_body) in LEAVES.iter().chain(DIRS.iter()) {
            let want = if hardware { hw_body } else { ff_body };
            for slash in ["", "/"] {
                let url = if path.is_empty() {
                    format!("/{version}{slash}")
                } else {
                    format!("/{version}/{path}{slash}")
                };
                let a = get(app, PEER, &url).await;
                match want {
                    Some(body) => {
                        assert_eq!(a.status, StatusCode::OK, "{what} {url}: {a:?}");
                        assert_eq!(a.body, *body, "{what} {url}");
                        assert_eq!(
                            a.headers["content-type"], "text/plain; charset=utf-8",
                            "{url}"
                        );
                    }
                    None => assert_eq!(a.status, StatusCode::NOT_FOUND, "{what} {url}: {a:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn hardware_from_each_fixture_in_a_sqlite_store() {
    for rel in common::FIXTURES {
        let instances = fixture(rel);
        assert_eq!(instances.len(), 1, "{rel}");
        let hw = hardware_from_flatfile(&instances[0], "fixture", "02:00:00:00:00:01");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(&dir, &[hw]).await;
        let index = Index::start(store);
        index.synced().await;
        let app = app(index, Config::default());
        check_all(&app, true, rel).await;
        // No keys in the fixture: no public-keys directory.
        let a = get(&app, PEER, "/2009-04-04/meta-data/public-keys").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    }
}

#[tokio::test]
async fn each_fixture_as_a_flat_file() {
    for rel in common::FIXTURES {
        let app = app(Index::from_flatfile(fixture(rel)), Config::default());
        check_all(&app, false, rel).await;
        // Flat-file instances have no Hardware document.
        let a = get(&app, PEER, "/metadata").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    }
}

/// Hegel's e2e test: the flat file served behind the trusted proxy 127.0.0.1, which names
/// the machine in `X-Forwarded-For`.
#[tokio::test]
async fn e2e_through_a_trusted_proxy() {
    let instances = fixture("internal/e2e/testdata/e2e.yml");
    let hw = hardware_from_flatfile(&instances[0], "e2e", "02:00:00:00:00:01");
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::start(store_with(&dir, &[hw]).await);
    index.synced().await;
    let config = Config {
        trusted_proxies: ironbell_metadata::Cidr::parse_list("127.0.0.1").expect("cidr"),
        ..Config::default()
    };
    let app = app(index, config);
    for (path, want) in [
        ("/2009-04-04", "meta-data/\nuser-data"),
        ("/2009-04-04/meta-data/hostname", "hostname"),
    ] {
        let a = send(
            &app,
            axum::http::Method::GET,
            "127.0.0.1:5000",
            path,
            &[("x-forwarded-for", "10.10.10.10")],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {a:?}");
        assert_eq!(a.body, want, "{path}");
        // Without the header the proxy itself is asking, and it is no machine.
        let a = get(&app, "127.0.0.1:5000", path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {a:?}");
    }
}

/// Hegel's 404 when no instance has the address (`Test404OnInstanceNotFound`, flat-file
/// `IPNotFound` with 9.9.9.9), for every data path and every listing.
#[tokio::test]
async fn unknown_address_gets_nothing() {
    let app = app(
        Index::from_flatfile(fixture(common::FIXTURES[0])),
        Config::default(),
    );
    for (path, _, _) in LEAVES.iter().chain(DIRS.iter()) {
        let a = get(&app, "9.9.9.9:1", &format!("/2009-04-04/{path}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {a:?}");
        assert!(a.body.contains("no hardware found"), "{path}: {}", a.body);
        assert!(!a.body.contains("instanceid"));
    }
    let a = get(&app, "9.9.9.9:1", "/metadata").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
}
