//! An iPXE script that carries the machine's agent token (`ironbell_token=`) is a
//! credential: served by curl inside a namespace, it reaches the machine at its own
//! address (by MAC or by source address) and nobody else; a machine without a token is
//! served as before.

mod common;

use std::net::Ipv4Addr;

use ironbell_boot::Index;
use ironbell_boot::agent_tokens::AgentTokens;
use ironbell_boot::http::{self, Config, HttpState};
use ironbell_model::agent_token::AgentToken;
use ironbell_testbed::Netns;

const CP01: &str = "3c:ec:ef:10:00:11";
const OTHER: &str = "3c:ec:ef:10:00:99";
const TOKEN: &str = "Zm9vYmFyLXRva2VuLWZvci1jcDAxLW9ubHk";

/// `(status, body)` of `curl --interface FROM URL` inside `ns`.
async fn fetch(ns: &Netns, from: &str, url: String) -> (u16, String) {
    let ns = ns.name().to_string();
    let from = from.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "curl", "-s", "--max-time", "10"])
            .args(["--interface", &from, "-w", "\n%{http_code}", &url])
            .output()
    })
    .await
    .expect("join")
    .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (code.parse().expect("status"), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_with_a_token_is_served_only_to_its_machine() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let ns = Netns::new().expect("netns (needs root)");
    for a in ["10.20.0.11/32", "10.20.0.99/32", "10.20.0.66/32"] {
        ns.ip(&["addr", "add", a, "dev", "lo"]).expect("addr");
    }
    let std_listener = ns.tcp_listener("0.0.0.0:0").expect("bind in the namespace");
    let port = std_listener.local_addr().expect("addr").port();
    let listener = tokio::net::TcpListener::from_std(std_listener).expect("from_std");

    let mut hardware = common::example_hardware();
    let other = common::variant(&hardware[0], "other", OTHER, "10.20.0.99");
    hardware.push(other);
    let tokens = AgentTokens::fixed([AgentToken {
        namespace: "default".into(),
        workflow: "wf-cp01".into(),
        agent: CP01.to_uppercase(),
        token: TOKEN.into(),
        created: None,
    }]);
    let state = HttpState::new(
        Config::new(Ipv4Addr::new(10, 20, 0, 1)),
        Index::from_hardware(hardware),
    )
    .with_agent_tokens(tokens);
    let server = tokio::spawn(http::serve(listener, state));
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let by_mac = format!("/ipxe/script/{CP01}/auto.ipxe");

    // The machine itself, by MAC and by source address: its token is on the kernel line.
    for path in [by_mac.as_str(), "/auto.ipxe"] {
        let (status, body) = fetch(&ns, "10.20.0.11", url(path)).await;
        assert_eq!(status, 200, "{path}: {body}");
        let kernel = body
            .lines()
            .find(|l| l.starts_with("kernel "))
            .expect("kernel");
        assert!(
            kernel
                .split(' ')
                .any(|p| p == format!("ironbell_token={TOKEN}")),
            "{kernel}"
        );
    }
    // Anyone else asking for that MAC's script: refused, and the token is not in the answer.
    for from in ["10.20.0.66", "10.20.0.99", "127.0.0.1"] {
        let (status, body) = fetch(&ns, from, url(&by_mac)).await;
        assert_eq!(status, 403, "from {from}: {body}");
        assert!(!body.contains(TOKEN), "{body}");
        assert!(body.contains("own address"), "{body}");
    }
    // A machine without a token: served to anyone, without the parameter.
    let (status, body) = fetch(
        &ns,
        "10.20.0.66",
        url(&format!("/ipxe/script/{OTHER}/auto.ipxe")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("ironbell_token="), "{body}");
    server.abort();
}
