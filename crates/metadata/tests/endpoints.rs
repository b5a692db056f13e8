//! The endpoints beyond the fixtures: public keys in EC2's layout, Hegel's Hardware
//! mapping edge cases (its Kubernetes backend tests), missing values, the `/metadata`
//! document, `/`, `/healthz` and `/metrics`.

mod common;

use axum::http::StatusCode;
use common::{app, get, simple};
use ironbell_metadata::{Config, Index};
use ironbell_model::tinkerbell::Hardware;
use serde_json::json;

const PEER: &str = "10.10.10.10:1000";

fn hardware(spec: serde_json::Value) -> Hardware {
    let mut obj = json!({
        "apiVersion": "tinkerbell.org/v1alpha1",
        "kind": "Hardware",
        "metadata": {"name": "m1", "namespace": "tink"},
        "spec": spec,
    });
    let iface = json!([{"dhcp": {"mac": "02:00:00:00:00:01",
        "ip": {"address": "10.10.10.10", "netmask": "255.255.255.0"}}}]);
    obj["spec"]["interfaces"] = iface;
    serde_json::from_value(obj).expect("hardware")
}

#[tokio::test]
async fn public_keys_in_ec2_layout() {
    let hw = hardware(json!({"metadata": {"instance": {
        "hostname": "h",
        "ssh_keys": [
            "ssh-ed25519 AAAAC3Nza alice@example",
            "  ",
            "ssh-rsa AAAAB3Nza\n",
        ],
    }}}));
    let app = app(Index::from_hardware([hw]), Config::default());
    let md = get(&app, PEER, "/2009-04-04/meta-data/").await;
    assert_eq!(md.body, "hostname\nlocal-hostname\npublic-keys/");
    for path in ["public-keys", "public-keys/"] {
        let a = get(&app, PEER, &format!("/2009-04-04/meta-data/{path}")).await;
        assert_eq!(a.body, "0=alice@example\n1=key-1", "{path}");
    }
    for i in 0..2 {
        for slash in ["", "/"] {
            let a = get(
                &app,
                PEER,
                &format!("/latest/meta-data/public-keys/{i}{slash}"),
            )
            .await;
            assert_eq!(a.body, "openssh-key");
        }
    }
    let a = get(&app, PEER, "/latest/meta-data/public-keys/0/openssh-key").await;
    assert_eq!(a.body, "ssh-ed25519 AAAAC3Nza alice@example");
    let a = get(&app, PEER, "/latest/meta-data/public-keys/1/openssh-key/").await;
    assert_eq!(a.body, "ssh-rsa AAAAB3Nza");
    for path in [
        "public-keys/2",
        "public-keys/2/openssh-key",
        "public-keys/0/other",
        "public-keys/x/openssh-key",
    ] {
        let a = get(&app, PEER, &format!("/latest/meta-data/{path}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// Hegel's `TestGetEC2Instance` cases for its Kubernetes backend: which of several
/// `metadata.instance.ips` becomes which field, and nil sections.
#[tokio::test]
async fn hegel_hardware_mapping_cases() {
    let ip = |a: &str, family: i64, public: bool| json!({"address": a, "family": family, "public": public});
    let cases = [
        (
            "MultiplePublicIPv4s",
            json!([ip("10.10.10.10", 4, true), ip("172.15.0.1", 4, true)]),
            [Some("10.10.10.10"), None, None],
        ),
        (
            "MultipleLocalIPv4s",
            json!([ip("10.10.10.10", 4, false), ip("172.15.0.1", 4, false)]),
            [None, Some("10.10.10.10"), None],
        ),
        (
            "PublicThenPrivateIPv4s",
            json!([ip("10.10.10.10", 4, true), ip("172.15.0.1", 4, false)]),
            [Some("10.10.10.10"), Some("172.15.0.1"), None],
        ),
        (
            "PrivateThenPublicIPv4s",
            json!([ip("10.10.10.10", 4, false), ip("172.15.0.1", 4, true)]),
            [Some("172.15.0.1"), Some("10.10.10.10"), None],
        ),
        (
            "MultipleIPv6s",
            json!([
                ip("2001:db8:0:1:1:1:1:1", 6, true),
                ip("1001:ca5:0:1:1:1:1:1", 6, true)
            ]),
            [None, None, Some("2001:db8:0:1:1:1:1:1")],
        ),
        (
            "PrivateIPv6IsServedAsPublic",
            json!([ip("fd00::1", 6, false)]),
            [None, None, Some("fd00::1")],
        ),
        (
            "NoFamily",
            json!([{"address": "10.9.9.9", "public": true}]),
            [None, None, None],
        ),
    ];
    for (name, ips, [public4, local4, public6]) in cases {
        let hw = hardware(json!({"metadata": {"instance": {"ips": ips}}}));
        let app = app(Index::from_hardware([hw]), Config::default());
        for (path, want) in [
            ("public-ipv4", public4),
            ("local-ipv4", local4),
            ("public-ipv6", public6),
        ] {
            let a = get(&app, PEER, &format!("/2009-04-04/meta-data/{path}")).await;
            match want {
                Some(v) => assert_eq!(
                    (a.status, a.body.as_str()),
                    (StatusCode::OK, v),
                    "{name} {path}"
                ),
                None => assert_eq!(a.status, StatusCode::NOT_FOUND, "{name} {path}"),
            }
        }
    }

    // NilInstance: only plan and facility.
    let hw = hardware(json!({"metadata": {"facility": {
        "plan_slug": "plan-slug", "plan_version_slug": "v", "facility_code": "facility-code"}}}));
    let app = app(Index::from_hardware([hw]), Config::default());
    assert_eq!(
        get(&app, PEER, "/2009-04-04/meta-data").await.body,
        "facility\nplan"
    );
    assert_eq!(
        get(&app, PEER, "/2009-04-04/meta-data/plan").await.body,
        "plan-slug"
    );
    assert_eq!(
        get(&app, PEER, "/2009-04-04/meta-data/facility").await.body,
        "facility-code"
    );
    assert_eq!(get(&app, PEER, "/2009-04-04").await.body, "meta-data/");
    for path in [
        "hostname",
        "operating-system",
        "operating-system/slug",
        "tags",
    ] {
        let a = get(&app, PEER, &format!("/2009-04-04/meta-data/{path}")).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn empty_values_are_missing() {
    let hw = hardware(json!({
        "userData": "",
        "metadata": {"instance": {"id": "", "hostname": "h", "tags": [],
            "operating_system": {"slug": "", "distro": "debian"}}},
    }));
    let app = app(Index::from_hardware([hw]), Config::default());
    assert_eq!(get(&app, PEER, "/latest").await.body, "meta-data/");
    assert_eq!(
        get(&app, PEER, "/latest/meta-data").await.body,
        "hostname\nlocal-hostname\noperating-system/"
    );
    assert_eq!(
        get(&app, PEER, "/latest/meta-data/operating-system")
            .await
            .body,
        "distro"
    );
    for path in [
        "user-data",
        "meta-data/instance-id",
        "meta-data/tags",
        "meta-data/operating-system/slug",
    ] {
        assert_eq!(
            get(&app, PEER, &format!("/latest/{path}")).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn metadata_document_has_hegels_shape() {
    let hw = hardware(json!({"metadata": {"instance": {
        "hostname": "h",
        "storage": {
            "disks": [{
                "device": "/dev/sda",
                "wipe_table": true,
                "partitions": [
                    {"label": "BIOS", "number": 1, "size": 4096},
                    {"label": "ROOT", "number": 2, "size": 0, "start": 5, "type_guid": "x"},
                ],
            }, {"device": "/dev/sdb"}],
            "raid": [{"name": "md0", "level": "1", "devices": ["/dev/sda", "/dev/sdb"]}],
            "filesystems": [
                {"mount": {"device": "/dev/sda2", "format": "ext4", "point": "/",
                    "create": {"force": true, "options": ["-L", "ROOT"]},
                    "files": [{"path": "/etc/x", "contents": "y"}]}},
                {"mount": {"device": "/dev/sdb1"}},
            ],
        },
    }}}));
    let app = app(Index::from_hardware([hw]), Config::default());
    let a = get(&app, PEER, "/metadata").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(
        a.body,
        concat!(
            r#"{"metadata":{"instance":{"storage":{"disks":["#,
            r#"{"device":"/dev/sda","partitions":[{"label":"BIOS","number":1,"size":4096},"#,
            r#"{"label":"ROOT","number":2,"size":0}],"wipe_table":true},"#,
            r#"{"device":"/dev/sdb","partitions":null,"wipe_table":false}],"#,
            r#""filesystems":[{"mount":{"create":{"options":["-L","ROOT"]},"device":"/dev/sda2","format":"ext4","point":"/"}},"#,
            r#"{"mount":{"create":{"options":null},"device":"/dev/sdb1","format":"","point":""}}]}}}}"#
        )
    );

    // No storage: Go's zero values.
    let app2 = app_of(hardware(json!({})));
    assert_eq!(
        get(&app2, PEER, "/metadata").await.body,
        r#"{"metadata":{"instance":{"storage":{"disks":null,"filesystems":null}}}}"#
    );
    // A size Hegel cannot read as unsigned is an error, not a guess.
    let app3 = app_of(hardware(json!({"metadata": {"instance": {"storage": {
        "disks": [{"device": "/dev/sda", "partitions": [{"number": 1, "size": -1}]}]}}}})));
    let a = get(&app3, PEER, "/metadata").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        a.body.contains("tink/m1") && a.body.contains("-1"),
        "{}",
        a.body
    );
    // Another machine's document is never served.
    assert_eq!(
        get(&app, "10.10.10.11:1", "/metadata").await.status,
        StatusCode::NOT_FOUND
    );
}

fn app_of(hw: Hardware) -> axum::Router {
    app(Index::from_hardware([hw]), Config::default())
}

#[tokio::test]
async fn versions_health_and_metrics() {
    let app = app(
        Index::from_hardware([simple("a", "10.10.10.10", "host-a")]),
        Config::default(),
    );
    // The version list is the same for everyone.
    for peer in [PEER, "192.0.2.1:1"] {
        let a = get(&app, peer, "/").await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (StatusCode::OK, "2009-04-04\nlatest")
        );
    }
    let h = get(&app, "192.0.2.1:1", "/healthz").await;
    assert_eq!(h.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&h.body).expect("json");
    assert_eq!(v["hardware_client_status"], true);
    assert!(v["uptime"].is_number());

    get(&app, PEER, "/2009-04-04/meta-data/hostname").await;
    get(&app, PEER, "/2009-04-04/meta-data/hostname/").await;
    get(&app, "192.0.2.1:1", "/2009-04-04/meta-data/hostname").await;
    get(&app, PEER, "/nope").await;
    get(&app, PEER, "/latest/meta-data/public-keys/0/openssh-key").await;
    let m = get(&app, PEER, "/metrics").await;
    assert_eq!(
        m.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    for line in [
        "ironbell_metadata_http_requests_total{endpoint=\"meta-data/hostname\",status=\"200\"} 2\n",
        "ironbell_metadata_http_requests_total{endpoint=\"meta-data/hostname\",status=\"404\"} 1\n",
        "ironbell_metadata_http_requests_total{endpoint=\"unknown\",status=\"404\"} 1\n",
        "ironbell_metadata_http_requests_total{endpoint=\"meta-data/public-keys\",status=\"404\"} 1\n",
        "ironbell_metadata_http_requests_total{endpoint=\"versions\",status=\"200\"} 2\n",
        "ironbell_metadata_http_requests_total{endpoint=\"healthz\",status=\"200\"} 1\n",
        "ironbell_metadata_identification_failures_total{reason=\"unknown_address\"} 1\n",
        "ironbell_metadata_machines 1\n",
    ] {
        assert!(m.body.contains(line), "{line} not in\n{}", m.body);
    }
}
