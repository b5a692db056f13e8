//! The native plane without virtual machines: three "control-plane machines", each a
//! namespace host of one network, run `ironbell node up` from the configuration the
//! `native` bootstrapper renders (the first starts a new etcd cluster, the others join
//! it), with Debian's real `etcd`:
//!
//! - the three members form one cluster (TLS between peers and clients, certificates
//!   issued by each node from the cluster's etcd CA), `node wait` returns on each, and each
//!   node's replica of the plane serves its metadata `/healthz`;
//! - a Hardware imported through one node's store is seen through another's;
//! - one node killed (its process group: the replica and its etcd, SIGKILL): the other two
//!   keep the quorum, take writes and serve; started again with the same configuration,
//!   the node rejoins from its data.
//!
//! Needs root (namespaces), `etcd` and `curl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use ironbell_bootstrap::certs::ClusterCertificates;
use ironbell_bootstrap::native::NodeConfig;
use ironbell_testbed::Lan;

#[path = "common/node.rs"]
mod node;

const BIN: &str = env!("CARGO_BIN_EXE_ironbell");
const PATIENCE: Duration = Duration::from_secs(60);

/// One node: its namespace host, its files, and its `node up` process group.
struct Node {
    host: usize,
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn name(&self) -> String {
        format!("cp-{}", self.host)
    }

    /// The store spec of this node's member, with its client certificate.
    fn store(&self) -> String {
        let pki = self.dir.join("data/pki");
        format!(
            "etcds://{}:2379/ironbell?cacert={}&cert={}&key={}",
            Lan::host_ip(self.host),
            pki.join("ca.crt").display(),
            pki.join("client.crt").display(),
            pki.join("client.key").display()
        )
    }

    /// Starts `ironbell node up` in its own process group (so that killing the group takes
    /// etcd along), logging to `up.log`.
    fn up(&mut self, lan: &Lan) {
        let ns = lan.hosts[self.host].name();
        self.child = Some(node::node_up(ns, &self.config, &self.dir.join("up.log")));
    }

    /// Kills the node's process group (the replica and its etcd), SIGKILL, by its PGID.
    fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            node::kill_group(child);
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("up.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("data/etcd.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn node(dir: &Path, host: usize, certs: &ClusterCertificates, join: &[usize]) -> Node {
    let node_dir = dir.join(format!("cp-{host}"));
    std::fs::create_dir_all(node_dir.join("artifacts")).unwrap();
    let join = join
        .iter()
        .map(|h| format!("https://{}:2379", Lan::host_ip(*h)))
        .collect();
    let mut config = NodeConfig::new("mgmt", &certs.etcd_ca, join);
    config.name = Some(format!("cp-{host}"));
    config.interface = Some("eth0".into());
    config.data_dir = node_dir.join("data");
    config.etcd = ironbell_testbed::require_tool("etcd").expect("etcd");
    config.serve_args = ["--no-tftp", "--no-syslog", "--artifacts-dir"]
        .map(String::from)
        .into_iter()
        .chain([node_dir.join("artifacts").display().to_string()])
        .collect();
    let path = node_dir.join("node.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    Node {
        host,
        dir: node_dir,
        config: path,
        child: None,
    }
}

/// `ironbell node wait` on the node's host.
fn wait(lan: &Lan, n: &Node) {
    let out = lan.hosts[n.host]
        .command(BIN)
        .args(["node", "wait", "--timeout", "60s", "--config"])
        .arg(&n.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node wait on {}: {}\n{}",
        n.name(),
        String::from_utf8_lossy(&out.stderr),
        n.log()
    );
}

/// Polls `check` until it holds or [`PATIENCE`] runs out.
fn eventually(what: &str, mut check: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not after {PATIENCE:?}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Whether node `n`'s replica answers its metadata `/healthz` (from the LAN's server).
fn serves(lan: &Lan, n: &Node) -> bool {
    // `serve all`'s default metadata port.
    let url = format!("http://{}:7172/healthz", Lan::host_ip(n.host));
    lan.server
        .output("curl", &["-sf", "-m", "2", &url])
        .is_ok_and(|o| o.status.success())
}

/// `ironbell --store <n's member> ARGS` on n's host.
fn ironbell(lan: &Lan, n: &Node, args: &[&str]) -> std::process::Output {
    lan.hosts[n.host]
        .command(BIN)
        .args(["--store", &n.store()])
        .args(args)
        .output()
        .unwrap()
}

/// The started members, as the member list of n's etcd gives them (name, peer URL).
fn members(lan: &Lan, n: &Node) -> Vec<String> {
    let store = n.store();
    lan.hosts[n.host]
        .enter(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let spec: ironbell_ops::spec::StoreSpec = store.parse().unwrap();
                let ironbell_ops::spec::StoreSpec::Etcd(config) = spec else {
                    panic!("an etcd spec")
                };
                let etcd = ironbell_store_etcd::EtcdStore::new(config).unwrap();
                let mut client = etcd.client().await.unwrap();
                let list = client.member_list().await.unwrap();
                let mut names: Vec<String> = list
                    .members()
                    .iter()
                    .map(|m| format!("{}={}", m.name(), m.peer_urls().join(",")))
                    .collect();
                names.sort();
                names
            })
        })
        .unwrap()
}

#[test]
fn three_nodes_form_the_native_plane_lose_one_and_take_it_back() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["etcd", "curl"]) {
        return;
    }
    let lan = Lan::new(3).expect("lan");
    let dir = tempfile::tempdir().unwrap();
    let certs = ClusterCertificates::generate(ironbell_model::values::now()).unwrap();
    let mut nodes = vec![
        node(dir.path(), 0, &certs, &[]),
        node(dir.path(), 1, &certs, &[0]),
        node(dir.path(), 2, &certs, &[0, 1]),
    ];
    for n in &mut nodes {
        n.up(&lan);
        wait(&lan, n);
    }
    let want: Vec<String> = (0..3)
        .map(|h| format!("cp-{h}=https://{}:2380", Lan::host_ip(h)))
        .collect();
    assert_eq!(
        members(&lan, &nodes[2]),
        want,
        "one cluster of three started members"
    );
    for n in &nodes {
        eventually(
            &format!("{}'s replica serves", n.name()),
            || serves(&lan, n),
            || n.log(),
        );
        let pki = n.dir.join("data/pki");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&pki).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o700, "{}", pki.display());
    }

    // A Hardware imported through one node is seen through another.
    let csv = dir.path().join("hw.csv");
    std::fs::write(
        &csv,
        "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n\
         w1,10.99.1.10,255.255.0.0,10.99.0.254,10.99.0.53,52:54:00:00:00:10,/dev/vda,type=worker\n",
    )
    .unwrap();
    let out = ironbell(
        &lan,
        &nodes[0],
        &["hardware", "import", csv.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ironbell(&lan, &nodes[1], &["get", "hardware", "w1", "-o", "yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One node lost: the others keep the quorum, take writes and serve.
    nodes[0].kill();
    std::fs::write(
        &csv,
        "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n\
         w2,10.99.1.11,255.255.0.0,10.99.0.254,10.99.0.53,52:54:00:00:00:11,/dev/vda,type=worker\n",
    )
    .unwrap();
    let out = ironbell(
        &lan,
        &nodes[1],
        &["hardware", "import", csv.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "a write with one member of three down: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(serves(&lan, &nodes[2]));

    // Back with the same configuration: it rejoins from its data.
    nodes[0].up(&lan);
    wait(&lan, &nodes[0]);
    assert!(
        nodes[0].log().contains("restarting with the data"),
        "{}",
        nodes[0].log()
    );
    assert_eq!(members(&lan, &nodes[0]), want);
    let out = ironbell(&lan, &nodes[0], &["get", "hardware", "w2", "-o", "yaml"]);
    assert!(
        out.status.success(),
        "the rejoined member has the write made without it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        "cp-0's replica serves again",
        || serves(&lan, &nodes[0]),
        || nodes[0].log(),
    );
}
