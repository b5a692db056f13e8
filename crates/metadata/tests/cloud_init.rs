//! A real client: Debian's cloud-init EC2 code (`cloudinit.sources.helpers.ec2` and
//! `DataSourceEc2`), run by Debian's `/usr/bin/python3` inside a network namespace whose
//! address is a Hardware's, against the service listening in another namespace joined by
//! a veth pair. Also curl for the IMDSv2 token flow, and cloud-init's `phone_home` module
//! (`cloudinit.config.cc_phone_home`) with the plain bootstrapper's user-data.
//!
//! Needs root (namespaces), the `cloud-init` package and curl (`scripts/setup` installs
//! them); without them each test says why and passes without running.

mod common;

use std::path::Path;

use common::{fixture, hardware_from_flatfile, store_with};
use ironbell_metadata::Config;
use ironbell_model::tinkerbell::Hardware;
use ironbell_testbed::{Netns, veth};
use serde_json::{Value, json};

const PYTHON: &str = "/usr/bin/python3";
const SERVER_IP: &str = "10.10.10.1";
const MACHINE_IP: &str = "10.10.10.10";
const KEYS: [&str; 2] = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@example",
];

fn script() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/cloud_init_client.py"
    )
    .to_string()
}

/// Whether root (for the namespaces), Debian's cloud-init and curl are here: under CI a
/// missing one fails the test, elsewhere it is skipped with a line naming it.
fn peers_present() -> bool {
    if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Root) {
        return false;
    }
    if !Path::new(PYTHON).is_file()
        || !Path::new("/usr/lib/python3/dist-packages/cloudinit").is_dir()
    {
        ironbell_testbed::missing(
            "Debian's cloud-init is not installed (apt-get install cloud-init)",
        );
        return false;
    }
    ironbell_testbed::require_tool("curl").is_some()
}

/// The fixture machine (Hegel's `TestGetEC2Instance.yml`) with two SSH keys.
fn machine() -> Hardware {
    let instances = fixture(common::FIXTURES[0]);
    let mut hw = hardware_from_flatfile(&instances[0], "ci-machine", "02:00:00:00:00:0a");
    let inst = hw
        .spec
        .metadata
        .as_mut()
        .and_then(|m| m.instance.as_mut())
        .expect("instance");
    inst.ssh_keys = Some(KEYS.iter().map(|k| k.to_string()).collect());
    hw
}

/// The metadata tree cloud-init must build for [`machine`].
fn expected_tree() -> Value {
    json!({
        "facility": "facility",
        "hostname": "hostname",
        "instance-id": "instanceid",
        "local-hostname": "hostname",
        "local-ipv4": "10.10.10.11",
        "operating-system": {
            "distro": "distro",
            "image_tag": "imagetag",
            "slug": "slug",
            "version": "version",
        },
        "plan": "plan",
        "public-ipv4": "10.10.10.10",
        "public-ipv6": "2001:db8:0:1:1:1:1:1",
        "public-keys": {"alice@example": KEYS[0], "bob@example": KEYS[1]},
        "tags": ["foo", "bar"],
    })
}

struct Lab {
    _server_ns: Netns,
    store: ironbell_store::SharedStore,
    client: Netns,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl Lab {
    async fn start(config: Config) -> Self {
        let server_ns = Netns::new().expect("netns (needs root)");
        let client = Netns::new().expect("netns");
        veth(&server_ns, "md0", &client, "cl0").expect("veth");
        server_ns
            .ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "md0"])
            .expect("server addr");
        client
            .ip(&["addr", "add", &format!("{MACHINE_IP}/24"), "dev", "cl0"])
            .expect("client addr");
        let std_listener = server_ns
            .enter(|| std::net::TcpListener::bind((SERVER_IP, 0)))
            .expect("enter")
            .expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("addr").port();
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(&dir, &[machine()]).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ironbell_metadata::serve(
            store.clone(),
            config,
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        Lab {
            _server_ns: server_ns,
            store,
            client,
            url: format!("http://{SERVER_IP}:{port}"),
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// Runs `program args...` in the client namespace and returns its stdout.
    async fn run(&self, program: &str, args: Vec<String>) -> String {
        let mut cmd = self.client.command(program);
        cmd.args(&args).stdin(std::process::Stdio::null());
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("run");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn cloud_init(&self, mode: &str) -> Value {
        self.python(vec![mode.into(), self.url.clone()]).await
    }

    /// The client script with `args`; its JSON output.
    async fn python(&self, args: Vec<String>) -> Value {
        let mut all = vec![script()];
        all.extend(args);
        let out = self.run(PYTHON, all).await;
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// `curl -s -o - -w '\n%{http_code}' ARGS URL/path` → (status, body).
    async fn curl(&self, args: &[&str], path: &str) -> (u16, String) {
        let mut all: Vec<String> = ["-s", "--max-time", "10", "-w", "\n%{http_code}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        all.push(format!("{}{path}", self.url));
        let out = self.run("curl", all).await;
        let (body, code) = out.rsplit_once('\n').expect("status line");
        (code.trim().parse().expect("status"), body.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_init_crawler_gets_its_machine_and_nothing_elsewhere() {
    if !peers_present() {
        return;
    }
    let lab = Lab::start(Config::default()).await;
    let got = lab.cloud_init("crawl").await;
    assert_eq!(got["meta-data"], expected_tree(), "{got:#}");
    assert_eq!(got["user-data"], "test");

    // The same client from an address no Hardware has gets nothing.
    lab.client
        .ip(&["addr", "del", &format!("{MACHINE_IP}/24"), "dev", "cl0"])
        .expect("del addr");
    lab.client
        .ip(&["addr", "add", "10.10.10.99/24", "dev", "cl0"])
        .expect("add addr");
    let got = lab.cloud_init("crawl").await;
    assert_eq!(got, json!({"meta-data": {}, "user-data": ""}), "{got:#}");
    let (status, body) = lab.curl(&[], "/metadata").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imdsv2_tokens_required_with_curl_and_cloud_init() {
    if !peers_present() {
        return;
    }
    let config = Config {
        require_tokens: true,
        ..Config::default()
    };
    let lab = Lab::start(config).await;
    let hostname = "/latest/meta-data/hostname";
    let (status, _) = lab.curl(&[], hostname).await;
    assert_eq!(status, 401);
    let (status, token) = lab
        .curl(
            &[
                "-X",
                "PUT",
                "-H",
                "X-aws-ec2-metadata-token-ttl-seconds: 21600",
            ],
            "/latest/api/token",
        )
        .await;
    assert_eq!(status, 200, "{token}");
    let header = format!("X-aws-ec2-metadata-token: {token}");
    assert_eq!(
        lab.curl(&["-H", &header], hostname).await,
        (200, "hostname".to_string())
    );
    let (status, _) = lab
        .curl(&["-H", "X-aws-ec2-metadata-token: forged"], hostname)
        .await;
    assert_eq!(status, 401);

    // cloud-init's EC2 datasource as on AWS: PUT a token, then crawl with it.
    let got = lab.cloud_init("datasource").await;
    assert_eq!(got["_token_held"], true, "{got:#}");
    assert_eq!(got["_metadata_api_version"], "2009-04-04");
    assert_eq!(got["meta-data"], expected_tree(), "{got:#}");
    assert_eq!(got["user-data"], "test");

    // /metrics over the wire, in the OpenMetrics text format.
    let (status, metrics) = lab.curl(&[], "/metrics").await;
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l == "ironbell_metadata_token_rejections_total{reason=\"invalid\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ironbell_metadata_tokens_issued_total ")),
        "{metrics}"
    );
    assert_eq!(metrics.lines().last(), Some("# EOF"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_init_phone_home_with_the_plain_user_data_makes_the_node_ready() {
    use ironbell_bootstrap::plain::{self, PlainConfig};
    use ironbell_model::corev1::Node;

    if !peers_present() {
        return;
    }
    let lab = Lab::start(Config::default()).await;
    let user_data = plain::user_data(&PlainConfig {
        hostname: Some("hostname".into()),
        phone_home_url: plain::phone_home_url(&lab.url),
        ..PlainConfig::default()
    })
    .expect("plain user-data");
    let file = lab._dir.path().join("user-data");
    std::fs::write(&file, &user_data).expect("write user-data");
    let phone_home = |instance: &str, tries: u32| {
        let args = [
            "phone_home",
            file.to_str().expect("path"),
            instance,
            "hostname",
            "hostname.lab.example",
            &tries.to_string(),
        ]
        .map(str::to_string)
        .to_vec();
        lab.python(args)
    };
    let nodes = ironbell_store::api::<Node>(&lab.store);

    // Another machine's instance id, from this machine's address: refused, nothing written.
    let got = phone_home("another-instance", 1).await;
    assert_eq!(got["codes"], json!([403]), "{got:#}");
    let err = nodes.get("", "ci-machine").await.expect_err("no node yet");
    assert!(err.is_not_found(), "{err}");

    // Its own: the Node appears, Ready, with the machine's provider id and addresses.
    let got = phone_home("instanceid", 10).await;
    assert_eq!(got["codes"], json!([200]), "{got:#}");
    assert_eq!(
        got["phone_home"]["post"],
        json!(["instance_id", "hostname", "fqdn"])
    );
    let node = nodes.get("", "ci-machine").await.expect("node");
    assert_eq!(
        node.spec.provider_id.as_deref(),
        Some("tinkerbell://default/ci-machine")
    );
    assert!(node.is_ready(), "{node:?}");
    let addresses: Vec<_> = node
        .status
        .iter()
        .flat_map(|s| &s.addresses)
        .map(|a| (a.type_.as_str(), a.address.as_str()))
        .collect();
    assert_eq!(
        addresses,
        [("InternalIP", MACHINE_IP), ("Hostname", "hostname")]
    );
}
