//! A three-member etcd cluster on loopback: commits and watches keep working when a member
//! is killed (by PID), whether or not it is the one the store talks to, and commits whose
//! answer the leader's death lost are applied exactly once. Also: two planes
//! under different prefixes of one etcd do not see each other, a frozen member fails the
//! health probe within its timeout, and a watch whose
//! connection silently stops carrying anything (no reset: a middlebox lost its state, a
//! cable was pulled) notices through the connection's HTTP/2 keepalive and resumes.
//! Requests keep off a killed member and off an endpoint whose connections time out (a
//! powered-off machine), and a member that answers again gets requests again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use futures::StreamExt;
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{ListParams, Store, WatchEvent, WatchStream};
use ironbell_store_etcd::EtcdStore;
use support::{Cluster, wait_async};

/// How long a commit or an event may take across a member's death and an election.
const FAILOVER: Duration = Duration::from_secs(20);

fn widgets() -> TypeKey {
    TypeKey::new("conformance.ironbell.dev/v1", "Widget")
}

fn widget(name: &str) -> DynamicObject {
    DynamicObject::new(widgets(), ObjectMeta::named("default", name))
}

async fn create(store: &EtcdStore, name: &str) -> DynamicObject {
    tokio::time::timeout(FAILOVER, store.create(widget(name)))
        .await
        .unwrap_or_else(|_| panic!("create {name}: no answer within {FAILOVER:?}"))
        .unwrap_or_else(|e| panic!("create {name}: {e}"))
}

async fn next_added(w: &mut WatchStream, name: &str) -> DynamicObject {
    match tokio::time::timeout(FAILOVER, w.next()).await {
        Ok(Some(Ok(WatchEvent::Added(o)))) if o.name() == name => o,
        other => panic!("expected Added {name}, got {other:?}"),
    }
}

/// A store on member 0 alone; another member is killed (the leader, unless member 0
/// leads): commits and the watch go on, and the watch misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_member_killed() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let store = cluster.store_on(&[cluster.members[0].endpoint()], "/plane");
    let before = create(&store, "before").await;
    let mut w = store
        .watch(&widgets(), &ListParams::default(), Some(0))
        .await
        .expect("watch");
    assert_eq!(next_added(&mut w, "before").await, before);
    let leader = cluster.leader(&store).await.expect("a leader");
    let victim = if leader == 0 { 1 } else { leader };
    eprintln!("killing member {victim} (leader: {leader}); the store talks to member 0");
    cluster.members[victim].kill();
    for i in 0..5 {
        let name = format!("after-{i}");
        let o = create(&store, &name).await;
        assert_eq!(next_added(&mut w, &name).await, o);
    }
    let l = store
        .list(&widgets(), &ListParams::default())
        .await
        .expect("list");
    assert_eq!(l.items.len(), 6);
}

/// A store given every member; each member in turn is killed and started again, so the
/// member the store's watch and requests use is killed at some point: each time a commit
/// succeeds and the watch delivers it, in order, without a gap or a repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_killed_in_turn() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let store = cluster.store("/plane");
    let mut w = store
        .watch(&widgets(), &ListParams::default(), None)
        .await
        .expect("watch");
    let mut last_rv = 0u64;
    for victim in 0..cluster.members.len() {
        let name = format!("before-kill-{victim}");
        let o = create(&store, &name).await;
        assert_eq!(next_added(&mut w, &name).await, o);
        eprintln!(
            "killing member {victim}, PID {:?}",
            cluster.members[victim].pid()
        );
        cluster.members[victim].kill();
        for i in 0..3 {
            let name = format!("m{victim}-down-{i}");
            let o = create(&store, &name).await;
            let seen = next_added(&mut w, &name).await;
            assert_eq!(seen, o);
            let rv: u64 = seen
                .metadata
                .resource_version
                .as_deref()
                .unwrap()
                .parse()
                .unwrap();
            assert!(rv > last_rv, "{rv} after {last_rv}");
            last_rv = rv;
        }
        cluster.members[victim].restart();
        let probe = cluster.store_on(&[cluster.members[victim].endpoint()], "/probe");
        assert!(
            wait_async(FAILOVER, || {
                let probe = probe.clone();
                async move { probe.revision().await.is_ok() }
            })
            .await,
            "member {victim} did not come back"
        );
    }
    // Nothing more is pending: the watch neither repeated nor lost an event.
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(500), w.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
    let l = store
        .list(&widgets(), &ListParams::default())
        .await
        .expect("list");
    assert_eq!(l.items.len(), 12);
}

/// Two planes on one etcd under different prefixes: neither lists, gets or watches the
/// other's objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_separate_planes() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let a = cluster.store("/site-a");
    let b = cluster.store("/site-b");
    let mut wb = b
        .watch(&widgets(), &ListParams::default(), None)
        .await
        .expect("watch");
    create(&a, "only-in-a").await;
    let in_b = create(&b, "only-in-b").await;
    assert_eq!(next_added(&mut wb, "only-in-b").await, in_b);
    let names = |l: ironbell_store::ObjectList| -> Vec<String> {
        l.items.iter().map(|o| o.name().to_string()).collect()
    };
    let la = a.list(&widgets(), &ListParams::default()).await.unwrap();
    assert_eq!(names(la), ["only-in-a"]);
    let lb = b.list(&widgets(), &ListParams::default()).await.unwrap();
    assert_eq!(names(lb), ["only-in-b"]);
    assert!(
        b.get(&widgets(), "default", "only-in-a")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // The keys are where the crate docs say.
    let mut client = a.client().await.unwrap();
    let got = client
        .get(
            "/site-a/objects/conformance.ironbell.dev/v1/Widget/default/only-in-a",
            None,
        )
        .await
        .unwrap();
    assert_eq!(got.kvs().len(), 1);
    let stored = got.kvs()[0].value_str().unwrap();
    assert!(!stored.contains("resourceVersion"), "{stored}");
}

/// An etcd nobody listens on: a read fails with a backend error naming etcd within the
/// request timeout, not a hang or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_etcd_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut config = ironbell_store_etcd::Config::new(vec![format!("127.0.0.1:{port}")], "/x");
    config.connect_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(2);
    let store = EtcdStore::new(config).unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        store.get(&widgets(), "default", "a"),
    )
    .await
    .expect("an answer within the request timeout")
    .unwrap_err();
    assert!(
        matches!(err, ironbell_store::StoreError::Backend(_)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("etcd at 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    assert!(
        !text.contains("ConnectError("),
        "one line, not a debug dump: {text}"
    );
}

/// Six writers update counters through a store on every member while the leader is killed
/// (SIGKILL, by PID) under them: a commit whose answer was lost with the member or the
/// leader is resolved by reading its keys (applied, or sent again), so no write fails and
/// each counter ends at the number of updates its writer was told succeeded: none lost,
/// none applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_in_flight_when_the_leader_dies_succeed_once() {
    const WRITERS: usize = 6;
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let store = cluster.store("/plane");
    for w in 0..WRITERS {
        let mut o = widget(&format!("counter-{w}"));
        o.set_field("n", &0u64).unwrap();
        store.create(o).await.expect("create a counter");
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, stop) = (store.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let name = format!("counter-{w}");
            let mut done = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut o = store
                    .get(&widgets(), "default", &name)
                    .await
                    .map_err(|e| format!("get {name}: {e}"))?;
                let n = o.field_value("n").and_then(|v| v.as_u64());
                if n != Some(done) {
                    return Err(format!("{name} holds {n:?} after {done} updates"));
                }
                o.set_field("n", &(done + 1)).map_err(|e| e.to_string())?;
                tokio::time::timeout(FAILOVER, store.update(o))
                    .await
                    .map_err(|_| format!("update {name}: no answer within {FAILOVER:?}"))?
                    .map_err(|e| format!("update {name} to {}: {e}", done + 1))?;
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leader = cluster.leader(&store).await.expect("a leader");
    eprintln!("killing the leader, member {leader}");
    cluster.members[leader].kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for (w, writer) in writers.into_iter().enumerate() {
        let done = writer
            .await
            .expect("writer task")
            .unwrap_or_else(|e| panic!("{e}"));
        let o = store
            .get(&widgets(), "default", &format!("counter-{w}"))
            .await
            .expect("get a counter");
        assert_eq!(o.field_value("n").and_then(|v| v.as_u64()), Some(done));
        total += done;
    }
    eprintln!("{total} updates, each applied once");
    assert!(total > 0);
}

/// A commit as large as etcd's default `--max-txn-ops` (128) succeeds; one more object is
/// refused before anything is sent, naming the setting. A list longer than one etcd page
/// (the first is 1,000, the next twice as large) comes back whole, from one revision,
/// ordered by namespace then name (`a` before `a-b`, though the key `a-b/...` sorts before
/// `a/...`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_commits_and_paged_lists() {
    use ironbell_store::{Op, StoreError};
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let store = cluster.store("/big");
    let batch = |ns: &str, from: usize, n: usize| -> Vec<Op> {
        (from..from + n)
            .map(|i| {
                let mut o = widget(&format!("w{i:05}"));
                o.metadata.namespace = Some(ns.to_string());
                Op::Create(o)
            })
            .collect()
    };
    let err = store.commit(batch("a", 0, 129)).await.unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("--max-txn-ops"), "{err}");
    let empty = store
        .list(&widgets(), &ListParams::default())
        .await
        .unwrap();
    assert!(empty.items.is_empty());

    let mut total = 0;
    for (ns, rounds) in [("a-b", 9), ("a", 9)] {
        for r in 0..rounds {
            let out = store
                .commit(batch(ns, r * 128, 128))
                .await
                .expect("commit of 128");
            assert_eq!(out.len(), 128);
            total += 128;
        }
    }
    let l = store
        .list(&widgets(), &ListParams::default())
        .await
        .unwrap();
    assert_eq!(l.items.len(), total);
    let order: Vec<(String, String)> = l
        .items
        .iter()
        .map(|o| (o.namespace().to_string(), o.name().to_string()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order[0].0, "a");
    let newest = l
        .items
        .iter()
        .map(|o| {
            o.metadata
                .resource_version
                .as_deref()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .max()
        .unwrap();
    assert!(l.resource_version >= newest);
    let only = store
        .list(&widgets(), &ListParams::namespace("a-b"))
        .await
        .unwrap();
    assert_eq!(only.items.len(), 9 * 128);
    assert!(only.items.iter().all(|o| o.namespace() == "a-b"));
}

/// Every member killed: a read fails with a clear error in time, the watch waits; every
/// member started again (on its data): the watch resumes from where it was, and sees what
/// is written after, without a repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_cluster_restarted() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let mut config = ironbell_store_etcd::Config::new(cluster.endpoints(), "/plane");
    config.connect_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(2);
    let store = EtcdStore::new(config).unwrap();
    let mut w = store
        .watch(&widgets(), &ListParams::default(), None)
        .await
        .expect("watch");
    let first = create(&store, "first").await;
    assert_eq!(next_added(&mut w, "first").await, first);
    for m in &mut cluster.members {
        m.kill();
    }
    let err = tokio::time::timeout(
        Duration::from_secs(15),
        store.get(&widgets(), "default", "first"),
    )
    .await
    .expect("an answer within the request timeout")
    .unwrap_err();
    assert!(err.to_string().contains("etcd at "), "{err}");
    for m in &mut cluster.members {
        m.restart();
    }
    let back = wait_async(FAILOVER, || {
        let store = store.clone();
        async move { store.get(&widgets(), "default", "first").await.is_ok() }
    })
    .await;
    assert!(back, "etcd did not come back");
    let second = create(&store, "second").await;
    assert_eq!(next_added(&mut w, "second").await, second);
}

/// A TCP proxy to `target` whose connections can be frozen: from [`Freezer::freeze`] on,
/// the connections open then carry nothing more in either direction but stay open (no
/// FIN, no RST), as a path that silently died; connections made later work. No real peer
/// fails this way on demand, hence this stand-in for the network.
struct Freezer {
    addr: std::net::SocketAddr,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl Freezer {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                let already = *rx.borrow();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    if already {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = async { rx.wait_for(|f| *f).await.is_ok() } => {
                            // Hold both sockets open, silent, until the runtime ends.
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        Self { addr, frozen }
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

/// A watch through a connection that goes silent (the proxy above freezes it): the
/// client's HTTP/2 keepalive (a ping every 5 s, 3 s to answer) closes the dead
/// connection, the watch resumes on a new one from its last revision, and the change made
/// meanwhile arrives. Without the keepalive the watch would wait on the dead connection
/// for ever, and a replica would serve a stale view while believing it current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_on_a_connection_gone_silent_resumes() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let member: std::net::SocketAddr = cluster.members[0]
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let freezer = Freezer::start(member).await;
    let through = cluster.store_on(&[format!("http://{}", freezer.addr)], "/plane");
    let direct = cluster.store("/plane");
    let before = create(&direct, "before").await;
    let mut w = through
        .watch(&widgets(), &ListParams::default(), Some(0))
        .await
        .expect("watch");
    assert_eq!(next_added(&mut w, "before").await, before);

    freezer.freeze();
    let frozen = tokio::time::Instant::now();
    let after = create(&direct, "after").await;
    assert_eq!(next_added(&mut w, "after").await, after);
    eprintln!(
        "figures: a watch on a connection gone silent delivered the next change after {:?}",
        frozen.elapsed()
    );
}

/// Sends `signal` (`STOP`, `CONT`) to the member's process, by its PID.
fn signal(member: &support::Member, signal: &str) {
    let pid = member.pid().expect("the member runs").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A member frozen (SIGSTOP: its connections stay open, nothing answers) fails the health
/// probe within the probe's timeout rather than hanging it, and the store knows it is
/// unreachable until a probe succeeds again (after SIGCONT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_member_fails_the_probe_within_its_timeout() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let store = cluster.store("/plane");
    let before = store.probe(Duration::from_secs(1)).await.expect("probe");
    assert!(!store.known_unreachable());

    signal(&cluster.members[0], "STOP");
    let probed = tokio::time::timeout(FAILOVER, store.probe(Duration::from_secs(1))).await;
    signal(&cluster.members[0], "CONT");
    let err = probed
        .expect("the probe returned within its timeout")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no answer within 1s"), "{err}");
    assert!(err.contains(&cluster.members[0].endpoint()), "{err}");
    assert!(store.known_unreachable());

    let back = wait_async(FAILOVER, || {
        let store = store.clone();
        async move { store.probe(Duration::from_secs(1)).await.is_ok() }
    })
    .await;
    assert!(back, "the member did not answer again after SIGCONT");
    assert!(!store.known_unreachable());
    assert!(store.probe(Duration::from_secs(1)).await.unwrap() >= before);
}

/// An endpoint whose connections time out, as a powered-off machine's do: a listener with
/// a backlog of 0 whose one queued connection (held in the returned streams) is never
/// accepted, so the kernel drops every later SYN.
fn silent_endpoint() -> (String, socket2::Socket, Vec<std::net::TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    while let Ok(c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        queued.push(c);
        assert!(queued.len() < 8, "the listen queue of {addr} does not fill");
    }
    (format!("http://{addr}"), listener, queued)
}

/// A store on three members and a silent endpoint (connections time out). A member other
/// than etcd's leader is killed: within a few status probes neither it nor the silent
/// endpoint gets requests, and none of 200 requests through the store's client fails to
/// connect (etcd-client alone, on the same endpoints, sends some there; printed for
/// comparison). Errors etcd itself gives ("leader changed", when a loaded machine makes
/// the leader change) are not routing's and are only counted. The killed member, restarted,
/// gets requests again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_off_members_that_do_not_answer() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let (silent, _listener, _queued) = silent_endpoint();
    let mut endpoints = cluster.endpoints();
    endpoints.push(silent.clone());
    let store = cluster.store_on(&endpoints, "/plane");
    let key = format!("{}/objects", store.prefix());
    create(&store, "before").await;
    let victim = match cluster.leader(&store).await {
        Some(1) => 2,
        _ => 1,
    };
    let killed = cluster.members[victim].endpoint();
    cluster.members[victim].kill();
    let since = tokio::time::Instant::now();
    let out = wait_async(FAILOVER, || {
        let store = store.clone();
        let (silent, killed) = (silent.clone(), killed.clone());
        async move {
            let r = store.routed_endpoints();
            !r.contains(&silent) && !r.contains(&killed)
        }
    })
    .await;
    assert!(out, "still routed: {:?}", store.routed_endpoints());
    let taken_out = since.elapsed();

    // etcd's own refusals carry its "etcdserver:" message; anything else is the connection.
    let mut client = store.client().await.unwrap();
    let (mut failed, mut refused) = (Vec::new(), 0);
    let since = tokio::time::Instant::now();
    for _ in 0..200 {
        match client.get(key.as_str(), None).await {
            Err(e) if e.to_string().contains("etcdserver:") => refused += 1,
            Err(e) => failed.push(e.to_string()),
            Ok(_) => {}
        }
    }
    let routed_time = since.elapsed();
    let options = etcd_client::ConnectOptions::new().with_connect_timeout(Duration::from_secs(1));
    let mut plain = etcd_client::Client::connect(&endpoints, Some(options))
        .await
        .unwrap();
    let (mut plain_failed, since) = (0, tokio::time::Instant::now());
    for _ in 0..20 {
        if plain.get(key.as_str(), None).await.is_err() {
            plain_failed += 1;
        }
    }
    eprintln!(
        "figures: a killed member and a silent endpoint taken out after {taken_out:?}; \
         200 requests: {} failed to connect, {refused} refused by etcd, {routed_time:?}; \
         etcd-client alone, 20 requests: {plain_failed} failed, {:?}",
        failed.len(),
        since.elapsed()
    );
    assert!(failed.is_empty(), "{failed:?}");

    cluster.members[victim].restart();
    let back = wait_async(FAILOVER, || {
        let (store, killed) = (store.clone(), killed.clone());
        async move { store.routed_endpoints().contains(&killed) }
    })
    .await;
    assert!(
        back,
        "member {victim} answers again but gets no requests: {:?}",
        store.routed_endpoints()
    );
    assert!(!store.routed_endpoints().contains(&silent));
}
