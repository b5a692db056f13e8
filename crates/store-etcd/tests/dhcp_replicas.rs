//! Three DHCP replicas on one network, sharing the clients by MAC through one membership
//! on a real etcd (Debian's `etcd-server`), answering real busybox `udhcpc` clients.
//!
//! One bridge (`ironbell_testbed::Lan`); replicas `replica-a`, `-b`, `-c` on hosts 0–2
//! (`10.99.0.2`–`.4`), each the `ironbell-dhcp` server's blocking loop (the one the boot
//! service runs) bound to its host's `eth0`, with a [`Share`] that follows the group's view
//! (the wiring `ops::plane` does); eight clients on hosts 3–10 with MACs picked so that
//! each replica owns some. Every replica knows every reservation (as every replica's
//! Hardware index does).
//!
//! - Each client gets exactly its reservation, answered by exactly one replica: the owner
//!   of its bucket (counted per replica and MAC by the backend's lookups, which happen only
//!   for messages the share lets through); the others dropped it as not theirs.
//! - `replica-b` is killed (its DHCP thread stopped, its runtime and etcd connection gone
//!   without revoking its lease, as a crash). A client of b's keeps asking; it is answered
//!   by a or c once b's lease has run out (TTL 3 s here, 10 s by default), and every client
//!   of b then gets its reservation from its new owner.
//! - etcd is stopped: the survivors keep their shares, and every client still gets its
//!   reservation from its owner.
//!
//! Needs root (namespaces) and `busybox`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ironbell_dhcp::share::{bucket, owner};
use ironbell_dhcp::{Backend, Config, Reservation, Server, Share, Stats, bind_server_socket};
use ironbell_store_etcd::MembershipView;
use ironbell_testbed::{Lan, Netns};
use support::Cluster;
use support::membership::{Crashable, FAST, PATIENCE, ids};
use tokio::sync::watch;
use tokio::time::Instant;

const REPLICAS: [&str; 3] = ["replica-a", "replica-b", "replica-c"];
const CLIENTS: usize = 8;
/// The replica killed.
const VICTIM: usize = 1;
/// Beyond the TTL: etcd's lease expiry check (every 500 ms) and the watch event, then a
/// client's next retransmission (udhcpc: every second here).
const TAKEOVER_SLACK: Duration = Duration::from_secs(4);

/// Client `i`'s MAC and reserved address.
struct Client {
    mac: [u8; 6],
    ip: Ipv4Addr,
}

/// Eight MACs, three or two per replica of three (by bucket), in a fixed order.
fn clients() -> Vec<Client> {
    let mut per_replica = [0usize; 3];
    let mut out = Vec::new();
    for n in 1..=u8::MAX {
        let mac = [0x02, 0x00, 0x5e, 0x10, 0x00, n];
        let r = owner(bucket(mac), REPLICAS.len()).unwrap();
        if per_replica[r] < 3 && out.len() < CLIENTS {
            per_replica[r] += 1;
            out.push(Client {
                mac,
                ip: Ipv4Addr::new(10, 99, 1, 10 + out.len() as u8),
            });
        }
    }
    assert_eq!(out.len(), CLIENTS);
    out
}

fn reservation(c: &Client, i: usize) -> Reservation {
    let mut r = Reservation::new(c.ip, Ipv4Addr::new(255, 255, 0, 0));
    r.gateway = Some(Ipv4Addr::new(10, 99, 0, 254));
    r.dns_servers = vec![Ipv4Addr::new(10, 99, 0, 53)];
    r.hostname = Some(format!("node-{i}"));
    r.domain_name = Some("lab.example".into());
    r
}

/// The reservations, and which replica looked up which MAC how often: a lookup happens
/// only for a message the replica's share let through.
struct Recording {
    reservations: HashMap<[u8; 6], Reservation>,
    lookups: Mutex<HashMap<[u8; 6], u64>>,
}

impl Backend for Recording {
    fn lookup(&self, mac: [u8; 6]) -> Option<std::sync::Arc<Reservation>> {
        *self.lookups.lock().unwrap().entry(mac).or_default() += 1;
        self.reservations.lookup(mac)
    }
}

/// One replica: a DHCP server thread in its namespace and its membership on a runtime of
/// its own.
struct Replica {
    id: &'static str,
    ip: Ipv4Addr,
    share: Arc<Share>,
    backend: Arc<Recording>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    membership: Crashable,
}

/// Follows the group's views into the share: what `ops::plane` runs next to the boot
/// service.
async fn follow(mut views: watch::Receiver<MembershipView>, share: Arc<Share>) {
    loop {
        let members = views.borrow_and_update().members.clone();
        share.set_members(&members);
        if views.changed().await.is_err() {
            break;
        }
    }
}

impl Replica {
    fn start(
        cluster: &Cluster,
        host: &Netns,
        index: usize,
        reservations: &HashMap<[u8; 6], Reservation>,
    ) -> Self {
        let id = REPLICAS[index];
        let ip = Lan::host_ip(index);
        let share = Arc::new(Share::all(id));
        let membership = Crashable::join(&cluster.store("/plane"), id);
        membership.spawn(follow(membership.member().subscribe(), share.clone()));
        let backend = Arc::new(Recording {
            reservations: reservations.clone(),
            lookups: Mutex::default(),
        });
        let server = Server::new(Config::new(ip), backend.clone()).with_share(share.clone());
        let stats = server.stats();
        let socket = host
            .enter(|| bind_server_socket("0.0.0.0:67", Some("eth0")))
            .expect("enter")
            .expect("bind :67");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || server.serve_blocking(socket, &flag));
        Self {
            id,
            ip,
            share,
            backend,
            stats,
            stop,
            thread: Some(thread),
            membership,
        }
    }

    fn lookups(&self, mac: [u8; 6]) -> u64 {
        self.backend
            .lookups
            .lock()
            .unwrap()
            .get(&mac)
            .copied()
            .unwrap_or(0)
    }

    fn forget_lookups(&self) {
        self.backend.lookups.lock().unwrap().clear();
    }

    /// Dies as a crashed process does: no more answers, nothing said to etcd.
    fn kill(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server loop");
        }
        self.membership.crash();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs udhcpc on `host`'s `eth0` (`tries` Discovers, `timeout` s apart); the variables
/// its script saw on `bound`, if it got a lease.
fn udhcpc(host: &Netns, dir: &Path, tries: u32, timeout: u32) -> Option<HashMap<String, String>> {
    ironbell_testbed::udhcpc(host, dir, tries, timeout)
}

/// Checks that `env` is exactly client `i`'s reservation, answered by `replica`.
fn assert_reservation(env: &HashMap<String, String>, c: &Client, i: usize, replica: &Replica) {
    let get = |k: &str| env.get(k).map(String::as_str);
    let ip = c.ip.to_string();
    let hostname = format!("node-{i}");
    let server = replica.ip.to_string();
    for (key, want) in [
        ("ip", ip.as_str()),
        ("subnet", "255.255.0.0"),
        ("router", "10.99.0.254"),
        ("dns", "10.99.0.53"),
        ("hostname", hostname.as_str()),
        ("domain", "lab.example"),
        ("lease", "604800"),
        ("serverid", server.as_str()),
    ] {
        assert_eq!(get(key), Some(want), "client {i}, {key}: {env:?}");
    }
}

/// Which replica answers `mac` among the live `replicas` (ids, any order).
fn expected_owner(mac: [u8; 6], live: &[&str]) -> String {
    let mut live = live.to_vec();
    live.sort_unstable();
    live[owner(bucket(mac), live.len()).unwrap()].to_string()
}

async fn wait_for_members(replicas: &[&Replica], members: &[&str]) {
    let members = ids(members);
    let agreed = ironbell_testbed::wait_until_async(PATIENCE, || {
        let ok = replicas.iter().all(|r| r.share.members() == members);
        async move { ok }
    })
    .await;
    assert!(
        agreed,
        "shares: {:?}",
        replicas
            .iter()
            .map(|r| (r.id, r.share.members()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_answer_their_share_and_take_over_a_killed_ones() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("busybox");
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let clients = clients();
    let reservations: HashMap<[u8; 6], Reservation> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| (c.mac, reservation(c, i)))
        .collect();
    let lan = Lan::new(REPLICAS.len() + CLIENTS).expect("lan");
    let client_hosts = &lan.hosts[REPLICAS.len()..];
    for (host, c) in client_hosts.iter().zip(&clients) {
        let mac = ironbell_dhcp::format_mac(c.mac);
        host.ip(&["link", "set", "eth0", "address", &mac])
            .expect("set mac");
    }
    let mut replicas: Vec<Replica> = (0..REPLICAS.len())
        .map(|i| Replica::start(&cluster, &lan.hosts[i], i, &reservations))
        .collect();
    wait_for_members(&replicas.iter().collect::<Vec<_>>(), &REPLICAS).await;
    for r in &replicas {
        eprintln!("{} owns buckets {:?}", r.id, r.share.owned());
    }

    // Every client gets its reservation from its bucket's owner, and from no other.
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (host, c)) in client_hosts.iter().zip(&clients).enumerate() {
        let env = tokio::task::block_in_place(|| udhcpc(host, dir.path(), 3, 2))
            .unwrap_or_else(|| panic!("client {i} got no lease"));
        let owner = expected_owner(c.mac, &REPLICAS);
        let answering = replicas.iter().find(|r| r.id == owner).unwrap();
        assert_reservation(&env, c, i, answering);
        for r in &replicas {
            let seen = r.lookups(c.mac);
            if r.id == owner {
                // Discover and Request, more only if udhcpc retransmitted.
                assert!(seen >= 2, "{} answered client {i} {seen} times", r.id);
            } else {
                assert_eq!(seen, 0, "{} answered client {i}, {owner}'s", r.id);
            }
        }
    }
    let mut answered = Vec::new();
    for r in &replicas {
        let (replies, not_ours) = (
            r.stats.replies.load(Ordering::Relaxed),
            r.stats.not_ours.load(Ordering::Relaxed),
        );
        eprintln!(
            "figures: {} sent {replies} replies and left {not_ours} requests",
            r.id
        );
        assert!(replies >= 2, "{} answered nobody", r.id);
        assert!(not_ours >= 4, "{} dropped only {not_ours}", r.id);
        answered.push(replies);
    }
    assert!(
        answered.iter().sum::<u64>() >= 2 * CLIENTS as u64,
        "{answered:?}"
    );

    // Kill b; a client of b's keeps asking (a Discover a second) until a or c answers.
    for r in &replicas {
        r.forget_lookups();
    }
    let victim_clients: Vec<usize> = (0..CLIENTS)
        .filter(|i| expected_owner(clients[*i].mac, &REPLICAS) == REPLICAS[VICTIM])
        .collect();
    assert!(!victim_clients.is_empty());
    let killed = Instant::now();
    replicas[VICTIM].kill();
    let first = victim_clients[0];
    let env = tokio::task::block_in_place(|| udhcpc(&client_hosts[first], dir.path(), 30, 1))
        .unwrap_or_else(|| panic!("client {first} got no lease after the kill"));
    let answered_after = killed.elapsed();
    eprintln!(
        "figures: a client of the killed replica was answered {answered_after:?} after the \
         kill (TTL {:?})",
        FAST.ttl
    );
    assert!(
        answered_after <= FAST.ttl + TAKEOVER_SLACK,
        "takeover took {answered_after:?}"
    );
    let survivors: Vec<&str> = REPLICAS
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != VICTIM)
        .map(|(_, id)| *id)
        .collect();
    let live: Vec<&Replica> = replicas
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != VICTIM)
        .map(|(_, r)| r)
        .collect();
    wait_for_members(&live, &survivors).await;
    let owner_of = |c: &Client| {
        let id = expected_owner(c.mac, &survivors);
        live.iter().copied().find(|r| r.id == id).unwrap()
    };
    assert_reservation(&env, &clients[first], first, owner_of(&clients[first]));

    // Every client of b's now gets its reservation from its new owner only.
    for &i in &victim_clients {
        let c = &clients[i];
        let env = tokio::task::block_in_place(|| udhcpc(&client_hosts[i], dir.path(), 3, 2))
            .unwrap_or_else(|| panic!("client {i} got no lease from the survivors"));
        let new_owner = owner_of(c);
        assert_reservation(&env, c, i, new_owner);
        for r in &live {
            if r.id != new_owner.id {
                assert_eq!(r.lookups(c.mac), 0, "{} answered client {i}", r.id);
            }
        }
    }
    let moved: Vec<(&str, usize)> = live
        .iter()
        .map(|r| {
            let n = victim_clients
                .iter()
                .filter(|i| owner_of(&clients[**i]).id == r.id)
                .count();
            (r.id, n)
        })
        .collect();
    eprintln!("figures: the killed replica's clients went to {moved:?}");

    // etcd goes away: the survivors keep their last shares, and every client still gets
    // its reservation from its owner.
    cluster.members[0].kill();
    let degraded = ironbell_testbed::wait_until_async(PATIENCE, || {
        let all = live.iter().all(|r| r.membership.member().view().degraded);
        async move { all }
    })
    .await;
    assert!(degraded, "the survivors did not notice that etcd is gone");
    for r in &live {
        r.forget_lookups();
    }
    for (i, (host, c)) in client_hosts.iter().zip(&clients).enumerate() {
        let env = tokio::task::block_in_place(|| udhcpc(host, dir.path(), 3, 2))
            .unwrap_or_else(|| panic!("client {i} got no lease with etcd down"));
        assert_reservation(&env, c, i, owner_of(c));
    }
}
