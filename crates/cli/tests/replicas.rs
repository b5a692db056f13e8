//! ironbell replicas on a real three-member etcd (Debian's `etcd-server`), as processes:
//! `ironbell serve boot|all --store etcd://...` in namespaces of one network, answering
//! real busybox `udhcpc` and curl clients.
//!
//! The network is an [`ironbell_testbed::Lan`]: etcd's three members listen in its server
//! namespace at `10.99.0.1`; each replica and each client is a host of its own
//! (`10.99.0.2`...). A client's Hardware reserves the client's own address, so that the
//! metadata and iPXE script it fetches are found by its source address.
//!
//! - [`three_replicas_split_the_clients_and_take_over_a_killed_one`]: three `serve boot`
//!   replicas split the DHCP clients by MAC; each client gets exactly its reservation from
//!   the owner of its bucket; one replica is killed (SIGKILL, by PID) and its clients are
//!   answered by the others once its membership lease (`--dhcp-peer-timeout 3s`) runs out.
//! - [`replicas_serve_from_their_last_view_while_etcd_is_down`]: two `serve all` replicas;
//!   one etcd member killed changes nothing; all three killed: DHCP, the iPXE script and
//!   the metadata still answer, `/metrics` says `ironbell_store_degraded 1` and the log
//!   says so once, `ironbell apply` fails at once naming etcd and its endpoints; the
//!   members started again on their data: the replicas say so once and a Hardware
//!   imported then is answered.
//!
//! Needs root (namespaces), `etcd`, `busybox` and `curl`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ironbell_dhcp::share::{bucket, owner};
use ironbell_testbed::{ChildGuard, Lan, Netns};

/// Real etcd servers (the store-etcd tests' launcher, shared rather than copied).
#[path = "../../store-etcd/tests/support/mod.rs"]
#[allow(unreachable_pub)]
mod etcd;

const BIN: &str = env!("CARGO_BIN_EXE_ironbell");
/// The replicas' membership lease: a killed replica's clients wait this long.
const PEER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long anything may take that has no reason to take long.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running etcd cluster in the LAN's server namespace, and its store spec.
struct Etcd {
    cluster: etcd::Cluster,
    spec: String,
}

impl Etcd {
    fn start(lan: &Lan) -> Option<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cluster = runtime.block_on(etcd::Cluster::start_in(
            3,
            lan.server.name(),
            Lan::server_ip(),
        ))?;
        let hosts: Vec<String> = cluster
            .endpoints()
            .iter()
            .map(|e| e.trim_start_matches("http://").to_string())
            .collect();
        let spec = format!("etcd://{}", hosts.join(","));
        Some(Self { cluster, spec })
    }
}

/// A client host: its MAC and the address its Hardware reserves (its own).
struct Client {
    name: String,
    mac: [u8; 6],
    ip: Ipv4Addr,
}

impl Client {
    /// The hardware.csv row of its Hardware.
    fn csv_row(&self) -> String {
        format!(
            "{},{},255.255.0.0,10.99.0.254,10.99.0.53,{},/dev/vda,type=worker",
            self.name,
            self.ip,
            ironbell_dhcp::format_mac(self.mac)
        )
    }
}

/// Gives host `lan.hosts[host]` the MAC `mac` and returns it as client `name`.
fn client(lan: &Lan, host: usize, name: &str, mac: [u8; 6]) -> Client {
    lan.hosts[host]
        .ip(&[
            "link",
            "set",
            "eth0",
            "address",
            &ironbell_dhcp::format_mac(mac),
        ])
        .expect("set mac");
    Client {
        name: name.to_string(),
        mac,
        ip: Lan::host_ip(host),
    }
}

/// Runs `ironbell --db SPEC ARGS...` in the server namespace (where etcd is reachable).
fn ironbell(lan: &Lan, spec: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--db", spec];
    all.extend_from_slice(args);
    lan.server.output(BIN, &all).expect("run ironbell")
}

/// Imports the Hardware of `clients` through the binary.
fn import(lan: &Lan, spec: &str, dir: &Path, clients: &[&Client]) {
    let csv = dir.join(format!("{}.csv", clients[0].name));
    let mut text = "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n".to_string();
    for c in clients {
        text.push_str(&c.csv_row());
        text.push('\n');
    }
    std::fs::write(&csv, text).expect("csv");
    let out = ironbell(lan, spec, &["hardware", "import", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One `ironbell serve ...` process in a host namespace, its log in a file.
struct Replica {
    id: String,
    ip: Ipv4Addr,
    log: PathBuf,
    child: Option<ChildGuard>,
}

impl Replica {
    /// Starts `ironbell --db SPEC serve SERVICE` as replica `id` on `lan.hosts[host]`, and
    /// waits until its boot service answers.
    fn start(lan: &Lan, host: usize, id: &str, spec: &str, service: &str, dir: &Path) -> Self {
        Self::start_with(lan, host, id, spec, service, dir, &[])
    }

    /// [`Replica::start`] with `extra` flags.
    fn start_with(
        lan: &Lan,
        host: usize,
        id: &str,
        spec: &str,
        service: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Self {
        let ip = Lan::host_ip(host);
        let log = dir.join(format!("{id}.log"));
        let artifacts = dir.join("artifacts");
        std::fs::create_dir_all(&artifacts).expect("artifacts dir");
        let timeout = format!("{}s", PEER_TIMEOUT.as_secs());
        let child = lan.hosts[host]
            .command(BIN)
            .args(["--db", spec, "serve", service, "--public-ip"])
            .arg(ip.to_string())
            .args(["--interface", "eth0", "--replica-id", id])
            .args(["--dhcp-peer-timeout", &timeout, "--no-tftp", "--no-syslog"])
            .arg("--artifacts-dir")
            .arg(&artifacts)
            .args(extra)
            .env("IRONBELL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start ironbell");
        let replica = Self {
            id: id.to_string(),
            ip,
            log,
            child: Some(ChildGuard::new(child)),
        };
        let up =
            ironbell_testbed::wait_until(PATIENCE, || replica.metrics(&lan.hosts[host]).is_some());
        assert!(up, "{id} did not start: {}", replica.log_text());
        replica
    }

    /// Its `/metrics`, fetched from `from`, as `name value` pairs.
    fn metrics(&self, from: &Netns) -> Option<HashMap<String, f64>> {
        let url = format!("http://{}:7171/metrics", self.ip);
        let out = from.output("curl", &["-sf", "-m", "2", &url]).ok()?;
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.rsplit_once(' '))
                .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .collect(),
        )
    }

    /// One metric's value, if it answers and has it.
    fn metric(&self, from: &Netns, name: &str) -> Option<f64> {
        self.metrics(from)?.get(name).copied()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many lines of its log contain `text`.
    fn logged(&self, text: &str) -> usize {
        self.log_text().lines().filter(|l| l.contains(text)).count()
    }

    /// Dies at once (SIGKILL, by PID): no goodbye to etcd.
    fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = child.finish();
        }
    }
}

/// Waits until every replica of `replicas` counts `n` live DHCP replicas.
fn wait_for_share(lan: &Lan, replicas: &[&Replica], n: usize) {
    let from = &lan.hosts[0];
    let agreed = ironbell_testbed::wait_until(PATIENCE, || {
        replicas
            .iter()
            .all(|r| r.metric(from, "ironbell_dhcp_share_replicas") == Some(n as f64))
    });
    let logs: Vec<String> = replicas.iter().map(|r| r.log_text()).collect();
    assert!(
        agreed,
        "the replicas do not all see {n} replicas: {logs:#?}"
    );
}

/// Which of `live` (replicas) answers `mac`.
fn owner_of<'a>(mac: [u8; 6], live: &[&'a Replica]) -> &'a Replica {
    let mut sorted = live.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted[owner(bucket(mac), sorted.len()).unwrap()]
}

/// Runs udhcpc for client `c` on `host` and checks it got exactly its reservation from
/// `server`.
fn assert_lease(host: &Netns, dir: &Path, c: &Client, server: Ipv4Addr, tries: u32) {
    let env = ironbell_testbed::udhcpc(host, dir, tries, 1)
        .unwrap_or_else(|| panic!("{} got no lease", c.name));
    let get = |k: &str| env.get(k).map(String::as_str);
    let (ip, server) = (c.ip.to_string(), server.to_string());
    for (key, want) in [
        ("ip", ip.as_str()),
        ("subnet", "255.255.0.0"),
        ("router", "10.99.0.254"),
        ("dns", "10.99.0.53"),
        ("hostname", c.name.as_str()),
        ("serverid", server.as_str()),
    ] {
        assert_eq!(get(key), Some(want), "{}, {key}: {env:?}", c.name);
    }
}

#[test]
fn three_replicas_split_the_clients_and_take_over_a_killed_one() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["busybox", "curl", "etcd"]) {
        return;
    }
    const REPLICAS: usize = 3;
    const CLIENTS: usize = 6;
    const VICTIM: usize = 1;
    let lan = Lan::new(REPLICAS + CLIENTS).expect("lan");
    let Some(etcd) = Etcd::start(&lan) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Two clients per replica of three, by bucket.
    let mut per_replica = [0usize; REPLICAS];
    let mut clients = Vec::new();
    for n in 1..=u8::MAX {
        let mac = [0x02, 0x00, 0x5e, 0x20, 0x00, n];
        let r = owner(bucket(mac), REPLICAS).unwrap();
        if per_replica[r] < 2 && clients.len() < CLIENTS {
            per_replica[r] += 1;
            let host = REPLICAS + clients.len();
            clients.push(client(&lan, host, &format!("node-{}", clients.len()), mac));
        }
    }
    import(
        &lan,
        &etcd.spec,
        dir.path(),
        &clients.iter().collect::<Vec<_>>(),
    );
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|i| {
            let id = format!("replica-{}", ["a", "b", "c"][i]);
            Replica::start(&lan, i, &id, &etcd.spec, "boot", dir.path())
        })
        .collect();
    wait_for_share(&lan, &replicas.iter().collect::<Vec<_>>(), REPLICAS);

    // Each client gets its reservation from its bucket's owner.
    let all: Vec<&Replica> = replicas.iter().collect();
    for (i, c) in clients.iter().enumerate() {
        let server = owner_of(c.mac, &all).ip;
        assert_lease(&lan.hosts[REPLICAS + i], dir.path(), c, server, 3);
    }
    // ... and from no other: each replica answered requests of its two clients only and
    // left the others' (Discover and Request each, more only if udhcpc retransmitted).
    for r in &all {
        let from = &lan.hosts[0];
        let replies = r.metric(from, "ironbell_dhcp_replies_total").unwrap_or(0.0);
        let not_ours = r
            .metric(from, "ironbell_dhcp_not_ours_total")
            .unwrap_or(0.0);
        assert!(replies >= 4.0, "{} replied {replies} times", r.id);
        assert!(not_ours >= 8.0, "{} left {not_ours} requests", r.id);
        // Of three, the first in id order owns buckets 0-85, the others 85 each.
        let share = if r.id == "replica-a" { 86.0 } else { 85.0 };
        assert_eq!(
            r.metric(from, "ironbell_dhcp_share_buckets"),
            Some(share),
            "{}'s share",
            r.id
        );
    }
    let victim_id = replicas[VICTIM].id.clone();
    let victim_clients: Vec<usize> = (0..CLIENTS)
        .filter(|&i| owner_of(clients[i].mac, &all).id == victim_id)
        .collect();
    assert_eq!(victim_clients.len(), 2);

    // Kill one replica: its clients are answered by the others after the takeover time.
    replicas[VICTIM].kill();
    let killed = Instant::now();
    let live: Vec<&Replica> = replicas.iter().filter(|r| r.id != victim_id).collect();
    let first = victim_clients[0];
    let c = &clients[first];
    let new_owner = owner_of(c.mac, &live).ip;
    assert_lease(
        &lan.hosts[REPLICAS + first],
        dir.path(),
        c,
        new_owner,
        (PEER_TIMEOUT.as_secs() as u32) + 10,
    );
    let answered_after = killed.elapsed();
    eprintln!(
        "figures: a client of the killed replica was answered {answered_after:?} after the \
         kill (--dhcp-peer-timeout {PEER_TIMEOUT:?})"
    );
    assert!(
        answered_after >= PEER_TIMEOUT - Duration::from_secs(1),
        "answered before the victim's lease could run out: {answered_after:?}"
    );
    wait_for_share(&lan, &live, REPLICAS - 1);
    for (i, c) in clients.iter().enumerate() {
        let server = owner_of(c.mac, &live).ip;
        assert_lease(&lan.hosts[REPLICAS + i], dir.path(), c, server, 3);
    }
    for r in &live {
        assert_eq!(
            r.logged("taking over the clients of those gone"),
            1,
            "{}: {}",
            r.id,
            r.log_text()
        );
    }

    // A replica started under a taken id (a copied configuration): the one it took the id
    // from stops, saying why.
    let _copy = Replica::start(&lan, VICTIM, "replica-a", &etcd.spec, "boot", dir.path());
    let original = &mut replicas[0];
    let stopped = ironbell_testbed::wait_until(PATIENCE, || {
        let child = original.child.as_mut().and_then(ChildGuard::child);
        child.is_some_and(|c| c.try_wait().ok().flatten().is_some())
    });
    let log = original.log_text();
    assert!(stopped, "replica-a goes on under a taken id: {log}");
    assert!(
        log.contains("replica id \"replica-a\" is claimed by another replica too"),
        "{log}"
    );
    drop(etcd.cluster);
}

/// Fetches `url` with curl from `host`; the body if it answered 200.
fn fetch(host: &Netns, url: &str) -> Option<String> {
    let out = host.output("curl", &["-sf", "-m", "3", url]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Client `c` on `host` gets its iPXE script and its metadata from every replica.
fn assert_boot_and_metadata(host: &Netns, c: &Client, replicas: &[&Replica]) {
    for r in replicas {
        let script = fetch(host, &format!("http://{}:7171/auto.ipxe", r.ip))
            .unwrap_or_else(|| panic!("{}: no iPXE script for {}: {}", r.id, c.name, r.log_text()));
        assert!(script.starts_with("#!ipxe"), "{}: {script}", r.id);
        let url = format!("http://{}:7172/2009-04-04/meta-data/hostname", r.ip);
        assert_eq!(
            fetch(host, &url).as_deref(),
            Some(c.name.as_str()),
            "{}: metadata of {}",
            r.id,
            c.name
        );
    }
}

/// A Hardware for `ironbell apply`.
fn hardware_yaml(name: &str) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata: {{name: {name}, \
         namespace: default}}\nspec: {{}}\n"
    )
}

#[test]
fn replicas_serve_from_their_last_view_while_etcd_is_down() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["busybox", "curl", "etcd"]) {
        return;
    }
    let lan = Lan::new(5).expect("lan");
    let Some(mut etcd) = Etcd::start(&lan) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let clients: Vec<Client> = (0..3)
        .map(|i| {
            client(
                &lan,
                2 + i,
                &format!("node-{i}"),
                [0x02, 0, 0x5e, 0x30, 0, i as u8],
            )
        })
        .collect();
    let host = |i: usize| &lan.hosts[2 + i];
    import(&lan, &etcd.spec, dir.path(), &[&clients[0]]);
    let mut replicas: Vec<Replica> = ["replica-a", "replica-b"]
        .iter()
        .enumerate()
        .map(|(i, id)| Replica::start(&lan, i, id, &etcd.spec, "all", dir.path()))
        .collect();
    let live: Vec<&Replica> = replicas.iter().collect();
    wait_for_share(&lan, &live, 2);
    let apply = |name: &str| {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&file, hardware_yaml(name)).expect("yaml");
        let started = Instant::now();
        let out = ironbell(&lan, &etcd.spec, &["apply", "-f", file.to_str().unwrap()]);
        (out, started.elapsed())
    };

    // One member of three killed: writes, DHCP, iPXE and metadata go on.
    etcd.cluster.members[0].kill();
    let (out, _) = apply("spare-0");
    assert!(
        out.status.success(),
        "apply with one member down: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    import(&lan, &etcd.spec, dir.path(), &[&clients[1]]);
    for i in [0, 1] {
        let server = owner_of(clients[i].mac, &live).ip;
        // The new Hardware reaches the replicas through their watches: retry a while.
        assert_lease(host(i), dir.path(), &clients[i], server, 5);
    }
    assert_boot_and_metadata(host(0), &clients[0], &live);

    // Every member killed: the replicas notice, say so once, and serve from their views.
    for m in &mut etcd.cluster.members {
        m.kill();
    }
    let from = &lan.hosts[0];
    let degraded = ironbell_testbed::wait_until(PATIENCE, || {
        live.iter()
            .all(|r| r.metric(from, "ironbell_store_degraded") == Some(1.0))
    });
    assert!(degraded, "the replicas did not notice that etcd is gone");
    let outage = Instant::now();
    let warnings_before: Vec<usize> = live.iter().map(|r| r.logged(" WARN ")).collect();
    for i in [0, 1] {
        let server = owner_of(clients[i].mac, &live).ip;
        assert_lease(host(i), dir.path(), &clients[i], server, 3);
    }
    assert_boot_and_metadata(host(0), &clients[0], &live);
    assert_boot_and_metadata(host(1), &clients[1], &live);
    let (out, took) = apply("spare-1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "apply with etcd down succeeded");
    let endpoints = etcd.cluster.endpoints().join(",");
    assert!(err.contains(&format!("etcd at {endpoints}")), "{err}");
    assert!(err.contains("unreachable ("), "{err}");
    eprintln!(
        "figures: apply with etcd down failed after {took:?}: {}",
        err.trim()
    );
    assert!(took < Duration::from_secs(20), "apply took {took:?}");
    // Still serving a while later (past the controllers' 10 s renew deadline: the leader
    // gives up its controllers, not its boot and metadata services).
    let long = Instant::now() + Duration::from_secs(11);
    while Instant::now() < long {
        assert_boot_and_metadata(host(0), &clients[0], &live);
        std::thread::sleep(Duration::from_millis(500));
    }
    for i in [0, 1] {
        let server = owner_of(clients[i].mac, &live).ip;
        assert_lease(host(i), dir.path(), &clients[i], server, 3);
    }

    // The members come back on their data: the replicas catch up.
    for m in &mut etcd.cluster.members {
        m.restart();
    }
    let back = ironbell_testbed::wait_until(PATIENCE, || {
        live.iter()
            .all(|r| r.metric(from, "ironbell_store_degraded") == Some(0.0))
    });
    assert!(back, "the replicas did not notice that etcd is back");
    // Said once, not once per retry: the leader also says it gave up the controllers.
    for (r, before) in live.iter().zip(warnings_before) {
        let warnings = r.logged(" WARN ") - before;
        eprintln!(
            "figures: {} logged {warnings} warnings in the {:?} etcd was down after it noticed",
            r.id,
            outage.elapsed()
        );
        assert!(warnings <= 4, "{}: {}", r.id, r.log_text());
    }
    import(&lan, &etcd.spec, dir.path(), &[&clients[2]]);
    let imported = Instant::now();
    // Each replica's watches resume on their own (backing off up to 2 s while etcd was
    // away): poll until both have the new Hardware.
    let caught_up = ironbell_testbed::wait_until(PATIENCE, || {
        live.iter().all(|r| {
            let url = format!("http://{}:7172/2009-04-04/meta-data/hostname", r.ip);
            fetch(host(2), &url).is_some()
        })
    });
    assert!(caught_up, "the replicas did not catch up");
    eprintln!(
        "figures: a Hardware imported after etcd came back was served by both replicas {:?} \
         later",
        imported.elapsed()
    );
    let server = owner_of(clients[2].mac, &live).ip;
    assert_lease(host(2), dir.path(), &clients[2], server, 3);
    assert_boot_and_metadata(host(2), &clients[2], &live);
    for r in &live {
        assert_eq!(
            r.logged("store unreachable: serving from the last view"),
            1,
            "{}",
            r.log_text()
        );
        assert_eq!(r.logged("store reachable again"), 1, "{}", r.log_text());
    }
    for r in &mut replicas {
        r.kill();
    }
}

/// A replica started `--standby` answers no client until the plane's ConfigMap says
/// `dhcp: serve`, and `dhcp: standby` holds it again: how the move keeps a new plane quiet
/// while the old one still serves the same machines.
#[test]
fn a_replica_in_standby_answers_no_client_until_the_plane_says_serve() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["busybox", "curl", "etcd"]) {
        return;
    }
    let lan = Lan::new(2).expect("lan");
    let Some(etcd) = Etcd::start(&lan) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let c = client(&lan, 1, "node-0", [0x02, 0x00, 0x5e, 0x21, 0x00, 0x01]);
    import(&lan, &etcd.spec, dir.path(), &[&c]);
    let r = Replica::start_with(
        &lan,
        0,
        "replica-s",
        &etcd.spec,
        "boot",
        dir.path(),
        &["--standby"],
    );
    assert!(
        ironbell_testbed::udhcpc(&lan.hosts[1], dir.path(), 2, 1).is_none(),
        "a replica in standby answered: {}",
        r.log_text()
    );
    let switch = |to: &str| {
        let file = dir.path().join(format!("plane-{to}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ironbell-plane\n  \
                 namespace: ironbell-system\ndata:\n  dhcp: {to}\n"
            ),
        )
        .expect("write");
        let out = ironbell(&lan, &etcd.spec, &["apply", "-f", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    switch("serve");
    assert!(
        ironbell_testbed::wait_until(PATIENCE, || r.logged("DHCP serving") == 1),
        "{}",
        r.log_text()
    );
    assert_lease(&lan.hosts[1], dir.path(), &c, Lan::host_ip(0), 3);
    switch("standby");
    assert!(
        ironbell_testbed::wait_until(PATIENCE, || r.logged("DHCP in standby") == 1),
        "{}",
        r.log_text()
    );
    assert!(ironbell_testbed::udhcpc(&lan.hosts[1], dir.path(), 2, 1).is_none());
}
