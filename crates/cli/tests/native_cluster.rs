//! `ironbell create cluster --node-bootstrapper native` end to end with played machines:
//! the management plane moves from the admin machine onto the cluster it created.
//!
//! The admin machine is the server namespace of a [`Lan`]; the spec's Tinkerbell IP is a
//! virtual address on the segment (held by the bootstrap plane, then by the replica that
//! leads); each machine is a host namespace at its Hardware's address. The test plays what a machine's
//! firmware, HookOS and OS would do: it reports each Workflow successful, fetches the
//! machine's user-data from the plane's metadata service from the machine's own address,
//! and, when it is the `native` bootstrapper's, runs `ironbell node up` with it in the
//! machine's namespace (a real etcd member and a real replica of the plane) before it
//! posts cloud-init's phone-home.
//!
//! - create: three control-plane machines form the cluster's plane (etcd quorum, replicas
//!   in DHCP standby), a worker joins; the cluster's objects move onto it; the bootstrap
//!   plane stops (its ports free) and its store is kept as `bootstrap.db.moved`; the
//!   cluster's plane says `dhcp: serve`; `c1/c1.store` names it;
//! - the Tinkerbell IP leaves the admin machine with the bootstrap plane and a replica
//!   answers there;
//! - after the move the cluster manages itself: a worker added to `hardware.csv` is
//!   provisioned by the moved plane (`upgrade cluster`, which finds the plane through
//!   `c1/c1.store`);
//! - one control-plane machine killed (its replica and etcd member, its link down): the
//!   plane still answers, and the Tinkerbell IP moves to a live replica if it held it;
//! - `delete cluster` moves the management back to a bootstrap plane on the admin machine
//!   (the cluster's plane put in DHCP standby first), which releases every Hardware;
//!   `c1/c1.store` is removed.
//!
//! During the whole run every machine asks for an address with busybox udhcpc, again and
//! again, and tcpdump captures the DHCP traffic on the segment: the bootstrap plane leases
//! before the move, a replica after it, and no Discover is offered an address by two planes.
//!
//! Needs root (namespaces), `etcd`, `curl`, `busybox` and `tcpdump`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/agent.rs"]
mod agent;
#[path = "common/spec.rs"]
mod common_spec;
#[path = "common/dhcp_capture.rs"]
mod dhcp_capture;
#[path = "common/node.rs"]
mod node;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ironbell_bootstrap::native::NodeConfig;
use ironbell_model::tinkerbell::{Hardware, Workflow, WorkflowState};
use ironbell_ops::spec::{Access, StoreSpec, open};
use ironbell_store::{Api, ListParams, SharedStore};
use ironbell_testbed::Lan;

const BIN: &str = env!("CARGO_BIN_EXE_ironbell");
/// The spec's Tinkerbell IP: a virtual address on the segment, held by the bootstrap plane
/// and, after the move, by the replica that leads.
const TINKERBELL_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 99, 0, 200);
const NS: &str = "eksa-system";

/// Machines: three control planes, a worker, and a worker added after the move.
const MACHINES: [(&str, &str); 5] = [
    ("cp-1", "type=cp"),
    ("cp-2", "type=cp"),
    ("cp-3", "type=cp"),
    ("worker-1", "type=worker"),
    ("worker-2", "type=worker"),
];

fn csv(machines: usize) -> String {
    let mut text = common_spec::CSV_HEADER.to_string();
    for (i, (name, labels)) in MACHINES.iter().take(machines).enumerate() {
        text.push_str(&format!(
            "{name},{},255.255.0.0,10.99.0.254,10.99.0.254,{},/dev/vda,{labels},,,,\n",
            Lan::host_ip(i),
            mac_of(i)
        ));
    }
    text
}

fn spec(workers: u32) -> String {
    common_spec::spec(
        &TINKERBELL_IP.to_string(),
        "10.99.0.100",
        3,
        workers,
        &format!("http://{}/ubuntu-1-31-a.raw.gz", Lan::server_ip()),
        "type: worker",
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `ironbell node up` processes the test started, each in its own process group.
#[derive(Default)]
struct Nodes(Mutex<BTreeMap<String, Child>>);

impl Nodes {
    /// Kills node `name`'s process group (its replica and its etcd member), SIGKILL.
    fn kill(&self, name: &str) {
        if let Some(child) = self.0.lock().unwrap().remove(name) {
            node::kill_group(child);
        }
    }

    fn kill_all(&self) {
        let names: Vec<String> = self.0.lock().unwrap().keys().cloned().collect();
        for n in names {
            self.kill(&n);
        }
    }
}

/// What the test plays for the machines (see the crate docs); runs in the admin machine's
/// namespace until `stop`.
struct Player<'a> {
    lan: &'a Lan,
    dir: &'a Path,
    nodes: &'a Nodes,
    started: BTreeSet<String>,
    phoned: BTreeSet<String>,
}

impl Player<'_> {
    /// The machine at `ip`: its host's namespace name.
    fn host_ns(&self, ip: std::net::IpAddr) -> Option<String> {
        (0..self.lan.hosts.len())
            .find(|&i| std::net::IpAddr::V4(Lan::host_ip(i)) == ip)
            .map(|i| self.lan.hosts[i].name().to_string())
    }

    /// Where the machines' metadata service is: the admin machine, and after the move the
    /// control-plane machines `c1/c1.store` names.
    fn metadata_bases(&self) -> Vec<String> {
        let mut bases = vec![format!("http://{TINKERBELL_IP}:50061")];
        if let Ok(spec) = std::fs::read_to_string(self.dir.join("c1/c1.store")) {
            let hosts = spec
                .trim()
                .trim_start_matches("etcds://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            for host in hosts.split(',') {
                if let Some((ip, _)) = host.rsplit_once(':') {
                    bases.push(format!("http://{ip}:50061"));
                }
            }
        }
        bases
    }

    /// Runs `program ARGS` in namespace `ns` and returns whether it succeeded, with stdout.
    fn run_in(ns: &str, program: &str, args: &[&str]) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A provisioned machine's first boot: its user-data, its part of the native plane if
    /// it has one, then its phone-home. `true` once it phoned home.
    fn first_boot(&mut self, hw: &Hardware) -> bool {
        let name = hw.metadata.name().to_string();
        let Some(ip) = hw
            .spec
            .interfaces
            .iter()
            .flatten()
            .find_map(|i| i.dhcp.as_ref()?.ip.as_ref()?.address)
        else {
            return false;
        };
        let Some(ns) = self.host_ns(ip) else {
            return false;
        };
        // The metadata service: the admin machine's before the move, then any replica of
        // the cluster's plane (the workflow template a replica renders names its own).
        let Some((metadata, user_data)) = self.metadata_bases().into_iter().find_map(|base| {
            let url = format!("{base}/2009-04-04/user-data");
            Self::run_in(&ns, "curl", &["-sf", "-m", "5", &url]).map(|u| (base, u))
        }) else {
            return false;
        };
        if user_data.contains(ironbell_bootstrap::native::CONFIG_PATH)
            && !self.started.contains(&name)
        {
            // The OS of this test: data and etcd where the test can have them.
            let mut config = NodeConfig::parse(&user_data).expect("native user-data");
            let node_dir = self.dir.join(&name);
            std::fs::create_dir_all(&node_dir).unwrap();
            config.data_dir = node_dir.join("data");
            config.etcd = ironbell_testbed::require_tool("etcd").expect("etcd");
            let file = node_dir.join("node.yaml");
            std::fs::write(&file, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
            let child = node::node_up(&ns, &file, &node_dir.join("up.log"));
            self.nodes.0.lock().unwrap().insert(name.clone(), child);
            self.started.insert(name.clone());
            let file = file.display().to_string();
            if Self::run_in(
                &ns,
                BIN,
                &["node", "wait", "--timeout", "60s", "--config", &file],
            )
            .is_none()
            {
                return false;
            }
        }
        // cloud-init's phone-home to the URL of the user-data.
        let url = user_data
            .lines()
            .find_map(|l| l.trim().strip_prefix("url: "))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{metadata}/phone-home"));
        let instance = hw
            .spec
            .metadata
            .as_ref()
            .and_then(|m| m.instance.as_ref())
            .and_then(|i| i.id.clone())
            .unwrap_or_default();
        let form = format!("instance_id={instance}&hostname={name}&fqdn={name}");
        Self::run_in(&ns, "curl", &["-sf", "-m", "5", "--data", &form, &url]).is_some()
    }

    /// One round over the store the plane is on now.
    async fn play(&mut self, store: &SharedStore) {
        let hardware: Api<Hardware> = Api::new(store.clone());
        let Ok((all, _)) = hardware.list(&ListParams::namespace(NS)).await else {
            return;
        };
        let workflows: Api<Workflow> = Api::new(store.clone());
        let Ok((wfs, _)) = workflows.list(&ListParams::namespace(NS)).await else {
            return;
        };
        for mut wf in wfs {
            let name = wf.metadata.name().to_string();
            let Some(status) = wf.status.as_mut() else {
                continue;
            };
            match status.state.clone() {
                Some(WorkflowState::Success) if !self.phoned.contains(&name) => {
                    let hw_name = wf.spec.hardware_ref.clone().unwrap_or_default();
                    if let Some(hw) = all.iter().find(|h| h.metadata.name() == hw_name)
                        && self.first_boot(hw)
                    {
                        self.phoned.insert(name);
                    }
                }
                Some(WorkflowState::Pending | WorkflowState::Running)
                    if agent::report_success(status) =>
                {
                    let _ = workflows.update_status(&wf).await;
                }
                _ => {}
            }
        }
    }
}

/// Plays the machines over whichever store holds the cluster: the bootstrap plane's until
/// `c1/c1.store` names the moved plane and the bootstrap store is gone.
fn play_until(lan: &Lan, dir: &Path, nodes: &Nodes, stop: &AtomicBool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut player = Player {
        lan,
        dir,
        nodes,
        started: BTreeSet::new(),
        phoned: BTreeSet::new(),
    };
    let bootstrap = dir.join("c1/generated/c1.db");
    let moved = dir.join("c1/c1.store");
    rt.block_on(async {
        let mut on: Option<(PathBuf, SharedStore)> = None;
        while !stop.load(Ordering::Relaxed) {
            let want = if bootstrap.is_file() {
                Some(bootstrap.clone())
            } else if moved.is_file() {
                Some(moved.clone())
            } else {
                None
            };
            if want.as_ref() != on.as_ref().map(|(p, _)| p)
                && let Some(path) = want
            {
                let spec: Option<StoreSpec> = if path == bootstrap {
                    Some(StoreSpec::Sqlite(path.clone()))
                } else {
                    std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                };
                on = spec
                    .and_then(|s| open(&s, Access::Existing).ok())
                    .map(|h| (path, h.store().clone()));
            }
            if let Some((_, store)) = &on {
                player.play(store).await;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// Machine `i`'s MAC in `hardware.csv`.
fn mac_of(i: usize) -> String {
    format!("52:54:00:99:00:{:02x}", i + 2)
}

/// Runs busybox udhcpc on each machine in turn until `stop` (a machine whose link is down
/// gets nothing); returns how many leases each server (its server identifier) gave.
fn ask_dhcp_until(lan: &Lan, dir: &Path, stop: &AtomicBool) -> BTreeMap<String, usize> {
    let out = dir.join("dhcp");
    std::fs::create_dir_all(&out).unwrap();
    let mut servers = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        for host in &lan.hosts {
            if let Some(lease) = ironbell_testbed::udhcpc(host, &out, 1, 1)
                && let Some(server) = lease.get("serverid")
            {
                *servers.entry(server.clone()).or_insert(0) += 1;
            }
        }
    }
    servers
}

/// Stops the player and kills the nodes when dropped, an assertion's panic included.
struct StopOnDrop<'a>(&'a AtomicBool, &'a Nodes);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        self.1.kill_all();
    }
}

/// Whether the metadata service answers at the Tinkerbell IP (from the admin machine)
/// within `timeout`.
fn vip_answers(lan: &Lan, timeout: Duration) -> bool {
    let url = format!("http://{TINKERBELL_IP}:50061/healthz");
    ironbell_testbed::wait_until(timeout, || {
        lan.server
            .output("curl", &["-sf", "-m", "2", &url])
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn a_management_cluster_takes_its_plane_from_the_admin_machine() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["etcd", "curl", "busybox", "tcpdump"]) {
        return;
    }
    let lan = Lan::new(MACHINES.len()).expect("lan");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("c1.yaml"), spec(1)).unwrap();
    std::fs::write(dir.join("hardware.csv"), csv(4)).unwrap();
    // Each machine's interface has its Hardware's MAC, so that the planes answer its DHCP.
    for (i, host) in lan.hosts.iter().enumerate() {
        host.ip(&["link", "set", "eth0", "address", &mac_of(i)])
            .expect("set the MAC");
    }
    let pcap = dir.join("dhcp.pcap");
    let capture = lan
        .server
        .spawn(
            "tcpdump",
            &[
                "-i",
                "br0",
                "-n",
                "-U",
                "-w",
                &pcap.display().to_string(),
                "udp and (port 67 or port 68)",
            ],
        )
        .expect("tcpdump");
    assert!(
        ironbell_testbed::wait_until(Duration::from_secs(10), || pcap.is_file()),
        "tcpdump did not start"
    );
    let nodes = Nodes::default();
    let stop = AtomicBool::new(false);
    let ironbell = |args: &[&str]| {
        lan.server
            .command(BIN)
            .args(args)
            .env_remove("IRONBELL_DB")
            .env_remove("IRONBELL_LOG")
            .output()
            .expect("ironbell")
    };
    let lifecycle = |verb: &str, extra: &[&str]| {
        let spec = dir.join("c1.yaml").display().to_string();
        let artifacts = dir.join("artifacts").display().to_string();
        let mut args = vec![
            verb,
            "cluster",
            "-f",
            &spec,
            "-v",
            "1",
            "--artifacts-dir",
            &artifacts,
        ];
        args.extend([
            "--service-manager",
            "process",
            "--node-bootstrapper",
            "native",
        ]);
        args.extend(extra);
        ironbell(&args)
    };
    // The DHCP switch of the cluster's plane at `store` (`serve` or `standby`).
    let dhcp_switch = |store: &str| {
        let out = ironbell(&[
            "--store",
            store,
            "get",
            "configmap",
            "ironbell-plane",
            "-n",
            "ironbell-system",
            "-o",
            "jsonpath={.data.dhcp}",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    std::thread::scope(|scope| {
        let player = scope.spawn(|| {
            lan.server
                .enter(|| play_until(&lan, dir, &nodes, &stop))
                .expect("enter")
        });
        // The machines ask for an address again and again, whichever plane answers.
        let dhcp = scope.spawn(|| ask_dhcp_until(&lan, dir, &stop));
        // A failed assertion stops the player too (the scope waits for it) and the nodes.
        let _stop = StopOnDrop(&stop, &nodes);
        let csv_path = dir.join("hardware.csv").display().to_string();
        let out = lifecycle("create", &["--hardware-csv", &csv_path]);
        let all = text(&out);
        eprintln!("create:\n{all}");
        let logs = || {
            MACHINES
                .iter()
                .map(|(n, _)| {
                    std::fs::read_to_string(dir.join(n).join("up.log")).unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(out.status.success(), "create failed:\n{all}\n{}", logs());
        assert!(
            all.contains("The cluster's plane formed: 3 etcd members"),
            "{all}"
        );
        assert!(all.contains("Cluster created!"), "{all}");
        let moved = all
            .lines()
            .find(|l| l.contains("Moved ") && l.contains("objects to the cluster's plane"))
            .unwrap_or_else(|| panic!("no move line:\n{all}"));
        eprintln!("{moved}");
        assert!(dir.join("c1/generated/bootstrap.db.moved").is_file());
        assert!(!dir.join("c1/generated/c1.db").exists());
        let store = std::fs::read_to_string(dir.join("c1/c1.store")).unwrap();
        let store = store.trim();
        // The bootstrap plane is gone from the admin machine, with the Tinkerbell IP; a
        // replica of the cluster's plane answers there.
        let addresses = lan.server.output("ip", &["-4", "addr", "show"]).unwrap();
        assert!(
            !String::from_utf8_lossy(&addresses.stdout).contains(&format!("{TINKERBELL_IP}/32")),
            "the admin machine still holds the Tinkerbell IP"
        );
        assert!(
            vip_answers(&lan, Duration::from_secs(30)),
            "no replica answers at the Tinkerbell IP after the move"
        );
        // The cluster's plane holds the cluster and serves DHCP.
        let out = ironbell(&["--store", store, "get", "hardware", "-n", NS]);
        assert!(out.status.success(), "{}", text(&out));
        for (name, _) in &MACHINES[..4] {
            assert!(
                text(&out).contains(name),
                "{name} not on the moved plane:\n{}",
                text(&out)
            );
        }
        assert_eq!(dhcp_switch(store), "serve");

        // The cluster manages itself: a worker added to hardware.csv joins through the moved
        // plane.
        std::fs::write(dir.join("c1.yaml"), spec(2)).unwrap();
        std::fs::write(dir.join("hardware.csv"), csv(5)).unwrap();
        let out = lifecycle("upgrade", &["--hardware-csv", &csv_path]);
        assert!(
            out.status.success(),
            "scale up on the moved plane failed:\n{}\n{}",
            text(&out),
            logs()
        );
        let out = ironbell(&[
            "--store", store, "get", "hardware", "worker-2", "-n", NS, "-o", "yaml",
        ]);
        assert!(
            text(&out).contains("ownerName"),
            "worker-2 not provisioned:\n{}",
            text(&out)
        );

        // One control-plane machine lost (its processes killed, its link down as if
        // powered off): the plane still answers, at the Tinkerbell IP too.
        nodes.kill("cp-1");
        lan.hosts[0].ip(&["link", "set", "eth0", "down"]).unwrap();
        assert!(
            vip_answers(&lan, Duration::from_secs(60)),
            "the Tinkerbell IP did not move to a live replica"
        );
        let out = ironbell(&[
            "--store",
            store,
            "get",
            "machines.cluster.x-k8s.io",
            "-n",
            NS,
        ]);
        assert!(
            out.status.success(),
            "with one of three members down: {}",
            text(&out)
        );

        // Delete: the management moves back to a bootstrap plane on the admin machine
        // (the cluster's plane in DHCP standby first), whose controllers release every
        // machine; the cluster's plane is forgotten.
        let out = lifecycle("delete", &[]);
        let all = text(&out);
        eprintln!("delete:\n{all}");
        assert!(out.status.success(), "delete failed:\n{all}\n{}", logs());
        assert!(all.contains("is in DHCP standby"), "{all}");
        assert!(
            all.contains("objects back to the bootstrap plane on this machine"),
            "{all}"
        );
        assert!(all.contains("Cluster c1 deleted"), "{all}");
        assert!(!dir.join("c1/c1.store").exists());
        assert_eq!(dhcp_switch(store), "standby");
        let local = dir.join("c1/generated/c1.db").display().to_string();
        let out = ironbell(&["--store", &local, "get", "hardware", "-n", NS, "-o", "yaml"]);
        assert!(out.status.success(), "{}", text(&out));
        for (name, _) in &MACHINES {
            assert!(
                text(&out).contains(&format!("name: {name}")),
                "{name} missing"
            );
        }
        assert!(
            !text(&out).contains("ownerName"),
            "a Hardware is still owned:\n{}",
            text(&out)
        );

        stop.store(true, Ordering::Relaxed);
        player.join().expect("player");
        let servers = dhcp.join().expect("dhcp");
        eprintln!("DHCP leases by server: {servers:?}");
        assert!(
            servers.contains_key(&TINKERBELL_IP.to_string()),
            "the bootstrap plane leased nothing: {servers:?}"
        );
        assert!(
            servers.keys().any(|s| s != &TINKERBELL_IP.to_string()),
            "no replica of the cluster's plane leased anything: {servers:?}"
        );
    });
    nodes.kill_all();
    drop(capture);
    // The capture: no Discover of a machine had offers from two servers.
    dhcp_capture::assert_one_plane_per_offer(&pcap);
}
