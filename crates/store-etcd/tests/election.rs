//! Leader election against real etcd (Debian's `etcd-server`, started by the tests): one of
//! two candidates leads; a resigning or dropped leader hands over at once; a leader whose
//! process is killed (a child process, by PID) is replaced within the lease; a leader cut
//! off from etcd declares the loss before its lease can run out; a deleted key is noticed;
//! and with a three-member etcd losing members, candidates keep one leader at a time,
//! checked when each leader learns it leads, with a counter written under the fencing
//! compare.
//!
//! The elections run on short timings ([`FAST`]: lease 3 s, deadline 2 s, renewal every
//! 0.5 s) so the suite takes seconds; the code paths are those of the 15 s defaults.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp};
use ironbell_store_etcd::{
    Config, Election, ElectionConfig, ElectionError, EtcdStore, Leadership, LossReason,
};
use ironbell_testbed::ChildGuard;
use support::{Cluster, wait_async};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const FAST: ElectionConfig = ElectionConfig {
    lease_duration: Duration::from_secs(3),
    renew_deadline: Duration::from_secs(2),
    retry_period: Duration::from_millis(500),
};

/// Beyond the lease: etcd checks for expired leases every 500 ms and revokes through a
/// Raft round, and the successor hears of it through a watch.
const EXPIRY_SLACK: Duration = Duration::from_secs(3);

/// How long anything may take that has no reason to take long.
const PATIENCE: Duration = Duration::from_secs(30);

const NAME: &str = "controllers";

fn election(store: &EtcdStore) -> Election {
    Election::new(store, FAST).expect("election settings")
}

async fn lead(e: &Election, identity: &str) -> Leadership {
    tokio::time::timeout(PATIENCE, e.campaign(NAME, identity))
        .await
        .unwrap_or_else(|_| panic!("{identity} did not lead within {PATIENCE:?}"))
        .expect("campaign")
}

async fn leader_identity(e: &Election) -> Option<String> {
    e.observe(NAME).await.expect("observe").map(|l| l.identity)
}

/// How many candidates (leader included) have a key in the election.
async fn candidates(store: &EtcdStore) -> usize {
    let mut client = store.client().await.unwrap();
    let prefix = format!("{}/elections/{NAME}/", store.prefix());
    let resp = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .unwrap();
    usize::try_from(resp.count()).unwrap()
}

async fn wait_for_candidates(store: &EtcdStore, n: usize) {
    let seen = wait_async(PATIENCE, || {
        let store = store.clone();
        async move { candidates(&store).await == n }
    })
    .await;
    assert!(seen, "never {n} candidates");
}

/// A one-member etcd, a store on it under `/plane`, and an election there.
async fn single_member() -> Option<(Cluster, EtcdStore, Election)> {
    let cluster = Cluster::start(1).await?;
    let store = cluster.store("/plane");
    let e = election(&store);
    Some((cluster, store, e))
}

/// A candidate campaigning in a task of its own.
fn candidate(
    e: &Election,
    identity: &'static str,
) -> JoinHandle<Result<Leadership, ElectionError>> {
    let e = e.clone();
    tokio::spawn(async move { e.campaign(NAME, identity).await })
}

/// The leadership a [`candidate`] wins.
async fn won(task: JoinHandle<Result<Leadership, ElectionError>>) -> Leadership {
    tokio::time::timeout(PATIENCE, task)
        .await
        .unwrap_or_else(|_| panic!("no leader within {PATIENCE:?}"))
        .unwrap()
        .expect("campaign")
}

/// The lines a child prints on its (piped) standard output, as they come.
fn output_lines(child: &mut ChildGuard) -> UnboundedReceiver<String> {
    let stdout = child
        .child()
        .unwrap()
        .stdout
        .take()
        .expect("a piped stdout");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line containing `text`.
async fn next_line_with(lines: &mut UnboundedReceiver<String>, text: &str) -> String {
    loop {
        let line = tokio::time::timeout(PATIENCE, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no line with {text:?} within {PATIENCE:?}"))
            .unwrap_or_else(|| panic!("the output ended before a line with {text:?}"));
        if line.contains(text) {
            return line;
        }
    }
}

/// `etcdctl elect` (etcd's own election recipe, a peer this project did not write) and
/// ironbell candidates share one election: ironbell sees etcdctl's leader and waits
/// behind it, leads when etcdctl resigns (SIGTERM, by PID), and `etcdctl elect -l` then
/// names the ironbell leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_and_ironbell_share_an_election() {
    let Some(etcdctl) = ironbell_testbed::require_tool("etcdctl") else {
        return;
    };
    let Some((cluster, store, e)) = single_member().await else {
        return;
    };
    let election_prefix = format!("{}/elections/{NAME}", store.prefix());
    let etcdctl_cmd = |args: &[&str]| {
        let child = Command::new(&etcdctl)
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", cluster.endpoints().join(",")))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning etcdctl");
        ChildGuard::new(child)
    };
    let mut theirs = etcdctl_cmd(&["elect", &election_prefix, "etcdctl-leader"]);
    let mut their_lines = output_lines(&mut theirs);
    next_line_with(&mut their_lines, "etcdctl-leader").await;
    assert_eq!(leader_identity(&e).await.as_deref(), Some("etcdctl-leader"));

    let ours = candidate(&e, "ironbell");
    wait_for_candidates(&store, 2).await;
    assert!(!ours.is_finished(), "ironbell leads while etcdctl does");
    let pid = theirs.id().expect("etcdctl runs").to_string();
    let resigned = Instant::now();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let ours = won(ours).await;
    // etcdctl's session lasts 60 s: only its resignation explains a quick handover.
    eprintln!(
        "ironbell leads {:?} after etcdctl resigned",
        resigned.elapsed()
    );
    assert!(resigned.elapsed() < Duration::from_secs(30));

    let mut observer = etcdctl_cmd(&["elect", "-l", &election_prefix]);
    let mut observed = output_lines(&mut observer);
    let key = next_line_with(&mut observed, &election_prefix).await;
    assert_eq!(key, ours.key());
    assert_eq!(observed.recv().await.as_deref(), Some("ironbell"));
}

/// The first candidate leads; the second waits (its key is there, its campaign does not
/// return) until the first resigns, then leads at once with a larger fencing token; when
/// it is dropped, a third leads at once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leads_and_resigning_hands_over() {
    let Some((_cluster, store, e)) = single_member().await else {
        return;
    };
    assert_eq!(leader_identity(&e).await, None);
    let a = lead(&e, "replica-a").await;
    assert_eq!(leader_identity(&e).await.as_deref(), Some("replica-a"));
    let a_state = a.subscribe();

    let b = candidate(&e, "replica-b");
    wait_for_candidates(&store, 2).await;
    assert!(!b.is_finished(), "b leads while a does");
    assert_eq!(leader_identity(&e).await.as_deref(), Some("replica-a"));
    assert_eq!(a.loss(), None);

    let token_a = a.fencing_token();
    let resigned = Instant::now();
    a.resign().await.expect("resign");
    assert_eq!(*a_state.borrow(), Some(LossReason::Resigned));
    let b = won(b).await;
    let handover = resigned.elapsed();
    eprintln!("handover after resign: {handover:?}");
    assert!(handover < FAST.lease_duration, "{handover:?}: not at once");
    assert!(b.fencing_token() > token_a);
    assert_eq!(leader_identity(&e).await.as_deref(), Some("replica-b"));

    let c = candidate(&e, "replica-c");
    wait_for_candidates(&store, 2).await;
    let dropped = Instant::now();
    drop(b);
    let c = won(c).await;
    assert!(
        dropped.elapsed() < FAST.lease_duration,
        "{:?}",
        dropped.elapsed()
    );
    assert_eq!(c.identity(), "replica-c");
}

/// Bad names, identities and timings are refused with errors that say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused() {
    let store = EtcdStore::new(Config::new(vec!["127.0.0.1:1".into()], "/x")).unwrap();
    let e = Election::new(&store, FAST).unwrap();
    let err = e.campaign("Bad/Name", "a").await.unwrap_err();
    assert!(matches!(err, ElectionError::Name { .. }), "{err}");
    let err = e.campaign(NAME, "").await.unwrap_err();
    assert!(matches!(err, ElectionError::Identity { .. }), "{err}");
    let err = e.observe("../x").await.unwrap_err();
    assert!(matches!(err, ElectionError::Name { .. }), "{err}");
    let slow = ElectionConfig {
        renew_deadline: Duration::from_secs(20),
        ..ElectionConfig::default()
    };
    let err = Election::new(&store, slow).unwrap_err();
    assert!(err.to_string().contains("renew deadline"), "{err}");
}

/// What a candidate child process needs: `endpoints|prefix|identity`.
const CHILD_ENV: &str = "IRONBELL_TEST_ELECTION_CANDIDATE";

/// The candidate run in a child process by [`killed_leader_is_replaced_within_the_lease`]
/// (the test binary runs itself with `--exact child_candidate`): campaigns, prints
/// `LEADING <token>`, and leads until killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_candidate() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let (endpoints, prefix, identity) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let endpoints = endpoints.split(',').map(str::to_string).collect();
    let store = EtcdStore::new(Config::new(endpoints, prefix)).unwrap();
    let leadership = election(&store).campaign(NAME, identity).await.unwrap();
    println!("LEADING {}", leadership.fencing_token());
    let reason = leadership.lost().await;
    println!("LOST {reason}");
}

/// A leader in a child process is killed (SIGKILL, by PID): the waiting candidate leads
/// once the lease runs out, within the lease duration and etcd's expiry slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_within_the_lease() {
    let Some((cluster, store, e)) = single_member().await else {
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "--exact",
            "child_candidate",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{}|/plane|child-leader", cluster.endpoints().join(",")),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning the candidate");
    let mut child = ChildGuard::new(child);
    let mut lines = output_lines(&mut child);
    // libtest prints `test child_candidate ... ` before it, on the same line.
    let line = next_line_with(&mut lines, "LEADING ").await;
    let child_token: u64 = line
        .split_once("LEADING ")
        .unwrap()
        .1
        .trim()
        .parse()
        .unwrap();
    assert_eq!(leader_identity(&e).await.as_deref(), Some("child-leader"));

    let waiting = candidate(&e, "survivor");
    wait_for_candidates(&store, 2).await;
    assert!(!waiting.is_finished());
    eprintln!("killing the leader, PID {:?}", child.id());
    let killed = Instant::now();
    child.finish().expect("killing the child");
    let survivor = won(waiting).await;
    let failover = killed.elapsed();
    eprintln!(
        "failover after kill -9: {failover:?} (lease {:?})",
        FAST.lease_duration
    );
    assert!(
        failover <= FAST.lease_duration + EXPIRY_SLACK,
        "failover took {failover:?}"
    );
    assert!(survivor.fencing_token() > child_token);
    assert_eq!(leader_identity(&e).await.as_deref(), Some("survivor"));
}

/// The only etcd member is killed under a leader: the loss fires within the renew
/// deadline of the last renewal, before the lease could run out. When etcd is back, the
/// old key expires and a new candidate leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_cut_off_from_etcd_gives_up_before_its_lease_ends() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let mut config = Config::new(cluster.endpoints(), "/plane");
    config.connect_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_secs(2);
    let store = EtcdStore::new(config).unwrap();
    let e = election(&store);
    let a = lead(&e, "replica-a").await;
    let killed = Instant::now();
    cluster.members[0].kill();
    let reason = tokio::time::timeout(PATIENCE, a.lost())
        .await
        .expect("the loss fires");
    let noticed = killed.elapsed();
    eprintln!("loss after etcd died: {noticed:?} ({reason})");
    assert_eq!(reason, LossReason::RenewalFailed);
    // The safety property: the loss fires before the lease can have run out in etcd (it
    // is due at the renew deadline after the last confirmed renewal).
    assert!(noticed < FAST.lease_duration, "{noticed:?}");

    cluster.members[0].restart();
    let b = lead(&e, "replica-b").await;
    assert!(b.fencing_token() > a.fencing_token());
    assert_eq!(a.loss(), Some(LossReason::RenewalFailed));
    assert_eq!(leader_identity(&e).await.as_deref(), Some("replica-b"));
}

/// Someone deletes the leader's key: the leader notices within a renewal or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_key_is_noticed() {
    let Some((_cluster, store, e)) = single_member().await else {
        return;
    };
    let a = lead(&e, "replica-a").await;
    let mut client = store.client().await.unwrap();
    client.delete(a.key(), None).await.unwrap();
    let deleted = Instant::now();
    let reason = tokio::time::timeout(PATIENCE, a.lost()).await.unwrap();
    assert_eq!(reason, LossReason::KeyDeleted);
    assert!(
        deleted.elapsed() < FAST.lease_duration,
        "{:?}",
        deleted.elapsed()
    );
}

/// The loss signal of every leadership any candidate of the test holds, by identity.
type Believers = Arc<Mutex<BTreeMap<String, watch::Receiver<Option<LossReason>>>>>;

/// A candidate that campaigns, and while it leads increments the counter at `counter`
/// under its fence; when the leadership is lost it campaigns again. When it learns it
/// leads, every other leadership in `believers` must already have signalled its loss.
/// Returns how many terms it led.
async fn run_candidate(
    store: EtcdStore,
    identity: String,
    believers: Believers,
    counter: String,
    stop: watch::Receiver<bool>,
) -> usize {
    let e = election(&store);
    let mut terms = 0;
    loop {
        let leadership = tokio::select! {
            l = e.campaign(NAME, &identity) => l.expect("campaign"),
            _ = wait_stop(stop.clone()) => return terms,
        };
        terms += 1;
        {
            let mut b = believers.lock().unwrap();
            for (other, lost) in b.iter() {
                assert!(
                    other == &identity || lost.borrow().is_some(),
                    "{identity} leads while {other} still believes it leads"
                );
            }
            b.insert(identity.clone(), leadership.subscribe());
        }
        // Paces the work of a term; nothing waits on it.
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = leadership.lost() => break,
                _ = wait_stop(stop.clone()) => return terms,
                _ = tick.tick() => {
                    let _ = increment(&store, &leadership, &counter).await;
                }
            }
        }
        eprintln!("{identity} lost the leadership: {:?}", leadership.loss());
    }
}

async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One fenced increment of the counter (`token:n` to `token:n+1`), written only while
/// `leadership` holds and nobody wrote the counter since it was read.
async fn increment(
    store: &EtcdStore,
    leadership: &Leadership,
    counter: &str,
) -> Result<(), ironbell_store::StoreError> {
    let mut client = store.client().await?;
    let fail = |e: etcd_client::Error| ironbell_store::StoreError::Backend(e.to_string());
    let current = client.get(counter, None).await.map_err(fail)?;
    let (n, rev) = match current.kvs().first() {
        Some(kv) => (parse_counter(kv.value()).1, kv.mod_revision()),
        None => (0, 0),
    };
    let txn = Txn::new()
        .when([
            leadership.fence(),
            Compare::mod_revision(counter, CompareOp::Equal, rev),
        ])
        .and_then([TxnOp::put(
            counter,
            format!("{}:{}", leadership.fencing_token(), n + 1),
            None,
        )]);
    client.txn(txn).await.map_err(fail)?;
    Ok(())
}

/// `(token, n)` of a counter value.
fn parse_counter(value: &[u8]) -> (u64, u64) {
    let text = std::str::from_utf8(value).unwrap();
    let (token, n) = text.split_once(':').unwrap();
    (token.parse().unwrap(), n.parse().unwrap())
}

/// The counter's value, read again while members are unreachable.
async fn counter_value(store: &EtcdStore, counter: &str) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let error = match store.client().await {
            Ok(mut client) => match client.get(counter, None).await {
                Ok(r) => return r.kvs().first().map_or(0, |kv| parse_counter(kv.value()).1),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "the counter could not be read within {PATIENCE:?}; the last error: {error}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three etcd members; two candidates run "controllers" that increment a fenced counter:
/// `replica-a` talks to member 0 only, `replica-b` to every member.
///
/// 1. `replica-a` leads. A member other than 0 (the etcd leader when it is not member 0)
///    is killed: the counter keeps advancing.
/// 2. That member is started again, and member 0 is killed: `replica-a` is cut off, gives
///    up after the renew deadline, and `replica-b` leads once the lease has run out.
///
/// Throughout, no candidate learns it leads while the other still believes it does, and
/// the counter's history (every revision, read back) has its fencing tokens in order and
/// its values without a gap or a repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_while_etcd_members_die() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let store = cluster.store("/plane");
    let e = election(&store);
    let counter = format!("{}/test/fenced-counter", store.prefix());
    let believers = Believers::default();
    let (stop, stop_rx) = watch::channel(false);
    let start = |id: &str, store: EtcdStore| {
        tokio::spawn(run_candidate(
            store,
            id.to_string(),
            believers.clone(),
            counter.clone(),
            stop_rx.clone(),
        ))
    };
    let only_0 = cluster.store_on(&[cluster.members[0].endpoint()], "/plane");
    let a = start("replica-a", only_0);
    let a_leads = wait_async(PATIENCE, || {
        let e = e.clone();
        async move { leader_identity(&e).await.as_deref() == Some("replica-a") }
    })
    .await;
    assert!(a_leads, "replica-a did not lead");
    let b = start("replica-b", cluster.store("/plane"));
    let advances = |by: u64| {
        let store = store.clone();
        let counter = counter.clone();
        async move {
            let from = counter_value(&store, &counter).await;
            wait_async(PATIENCE, || {
                let (store, counter) = (store.clone(), counter.clone());
                async move { counter_value(&store, &counter).await >= from + by }
            })
            .await
        }
    };
    assert!(advances(10).await, "no leader worked");

    let victim = match cluster.leader(&store).await {
        Some(l) if l != 0 => l,
        _ => 1,
    };
    cluster
        .check_identities()
        .await
        .expect("three members answer");
    eprintln!("killing etcd member {victim}; replica-a leads through member 0");
    cluster.members[victim].kill();
    assert!(advances(10).await, "no progress after member {victim} died");
    let survived = leader_identity(&e).await;
    eprintln!("after member {victim} died, the leader is {survived:?}");
    cluster.members[victim].restart();
    let probe = cluster.store_on(&[cluster.members[victim].endpoint()], "/probe");
    let back = wait_async(PATIENCE, || {
        let probe = probe.clone();
        async move { probe.revision().await.is_ok() }
    })
    .await;
    assert!(back, "member {victim} did not come back");

    eprintln!(
        "member {victim} is back; killing member 0, replica-a's only member (etcd leader: \
         member {:?}; a new etcd leader gives every lease its full time again)",
        cluster.leader(&store).await
    );
    let cut = Instant::now();
    cluster.members[0].kill();
    let b_leads = wait_async(PATIENCE, || {
        let e = e.clone();
        async move { leader_identity(&e).await.as_deref() == Some("replica-b") }
    })
    .await;
    assert!(b_leads, "replica-b did not take over");
    eprintln!(
        "replica-b leads {:?} after replica-a was cut off",
        cut.elapsed()
    );
    assert!(advances(10).await, "no progress under replica-b");

    stop.send_replace(true);
    let terms_a = tokio::time::timeout(PATIENCE, a).await.unwrap().unwrap();
    let terms_b = tokio::time::timeout(PATIENCE, b).await.unwrap().unwrap();
    eprintln!("terms of leadership: replica-a {terms_a}, replica-b {terms_b}");
    assert!(terms_a >= 1 && terms_b >= 1);

    // The whole history of the counter, read from a member that runs: tokens never go
    // back, values count up by one.
    let live = cluster.store_on(&[cluster.members[victim].endpoint()], "/plane");
    let mut client = live.client().await.unwrap();
    let now = client.get(counter.as_str(), None).await.unwrap();
    let last_rev = now.kvs()[0].mod_revision();
    let (mut prev_token, mut prev_n) = (0, 0);
    let mut rev = last_rev;
    let mut history = Vec::new();
    while rev > 0 {
        let r = client
            .get(counter.as_str(), Some(GetOptions::new().with_revision(rev)))
            .await
            .unwrap();
        let Some(kv) = r.kvs().first() else { break };
        history.push(parse_counter(kv.value()));
        rev = kv.mod_revision() - 1;
    }
    history.reverse();
    for (token, n) in &history {
        assert!(*token >= prev_token, "token {token} after {prev_token}");
        assert_eq!(*n, prev_n + 1, "value {n} after {prev_n}");
        (prev_token, prev_n) = (*token, *n);
    }
    let tokens: std::collections::BTreeSet<u64> = history.iter().map(|h| h.0).collect();
    eprintln!(
        "{} fenced increments by {} leaders",
        history.len(),
        tokens.len()
    );
}
