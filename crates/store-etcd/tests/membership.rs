//! Group membership against real etcd (Debian's `etcd-server`, started by the tests):
//! replicas see each other join; a replica that dies (its runtime shut down, as a crash:
//! no revoke) is gone from the others' views once its lease runs out; one that leaves is
//! gone at once; with etcd down the views are kept and marked degraded, and are current
//! again when etcd is back; with one etcd member of three killed no view loses a member.
//!
//! The TTL is 3 s ([`FAST`]) so the suite takes seconds; the code paths are those of the
//! 10 s default.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ironbell_store_etcd::{
    DHCP_GROUP, EtcdStore, Membership, MembershipConfig, MembershipError, MembershipView,
};
use support::membership::{Crashable, FAST, PATIENCE, ids, wait_for_view};
use support::{Cluster, wait_async};
use tokio::time::Instant;

/// Beyond the TTL: etcd checks for expired leases every 500 ms and revokes through a Raft
/// round, and the others hear of it through a watch.
const EXPIRY_SLACK: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_see_a_dead_one_go_after_its_ttl_and_a_leaving_one_at_once() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let membership = Membership::new(&cluster.store("/plane"), FAST).unwrap();
    let a = membership.join(DHCP_GROUP, "replica-a").unwrap();
    let b = membership.join(DHCP_GROUP, "replica-b").unwrap();
    let mut c = Crashable::join(&cluster.store("/plane"), "replica-c");
    let all = ["replica-a", "replica-b", "replica-c"];
    for m in [&a, &b, c.member()] {
        wait_for_view(m, &all).await;
    }
    assert_eq!(membership.list(DHCP_GROUP).await.unwrap(), ids(&all));
    // The key layout operators see with etcdctl.
    let mut client = cluster.store("/plane").client().await.unwrap();
    let key = client
        .get("/plane/dhcp/members/replica-c", None)
        .await
        .unwrap();
    // Its value says who holds it.
    let holder = String::from_utf8_lossy(key.kvs()[0].value()).into_owned();
    assert!(
        holder.contains(&format!("pid {}", std::process::id())) && holder.contains("instance"),
        "{holder}"
    );
    assert_ne!(key.kvs()[0].lease(), 0, "the key is on a lease");

    let crashed = Instant::now();
    c.crash();
    for m in [&a, &b] {
        wait_for_view(m, &["replica-a", "replica-b"]).await;
    }
    let takeover = crashed.elapsed();
    eprintln!(
        "figures: a crashed replica left the others' views after {takeover:?} (TTL {:?})",
        FAST.ttl
    );
    assert!(
        takeover <= FAST.ttl + EXPIRY_SLACK,
        "took {takeover:?} for a TTL of {:?}",
        FAST.ttl
    );
    // Its lease was renewed until the crash, so it cannot have gone much before the TTL.
    assert!(
        takeover >= FAST.ttl - FAST.renew_period() - Duration::from_millis(100),
        "gone after {takeover:?}, before its lease could run out"
    );

    let left = Instant::now();
    b.leave().await;
    wait_for_view(&a, &["replica-a"]).await;
    let gone = left.elapsed();
    eprintln!("figures: a leaving replica left the others' views after {gone:?}");
    assert!(
        gone < FAST.ttl,
        "leaving took {gone:?}: the lease was not revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_etcd_down_the_last_view_is_kept_degraded_and_recovers() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let membership = Membership::new(&cluster.store("/plane"), FAST).unwrap();
    let a = membership.join(DHCP_GROUP, "replica-a").unwrap();
    let b = membership.join(DHCP_GROUP, "replica-b").unwrap();
    let both = ["replica-a", "replica-b"];
    wait_for_view(&a, &both).await;
    wait_for_view(&b, &both).await;

    cluster.members[0].kill();
    let degraded = wait_async(PATIENCE, || {
        let view = a.view();
        async move { view.degraded }
    })
    .await;
    assert!(degraded, "{:?}", a.view());
    assert_eq!(
        a.view(),
        MembershipView {
            members: ids(&both),
            degraded: true,
            conflict: None,
        },
        "the last members are kept"
    );
    // For longer than the TTL without etcd, every view b publishes keeps both members.
    let mut rx = b.subscribe();
    let watching = tokio::time::timeout(FAST.ttl + Duration::from_secs(1), async {
        while rx.changed().await.is_ok() {
            let view = rx.borrow_and_update().clone();
            assert_eq!(
                view.members,
                ids(&both),
                "members changed while etcd was down"
            );
        }
    })
    .await;
    assert!(watching.is_err(), "the membership task of b ended");
    assert!(b.view().degraded);

    cluster.members[0].restart();
    wait_for_view(&a, &both).await;
    wait_for_view(&b, &both).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_settings_are_refused_and_joining_without_etcd_answers_everyone() {
    let store = EtcdStore::new(ironbell_store_etcd::Config::new(
        vec!["http://127.0.0.1:1".into()],
        "/plane",
    ))
    .unwrap();
    let e = Membership::new(
        &store,
        MembershipConfig {
            ttl: Duration::from_millis(1500),
        },
    )
    .unwrap_err();
    assert!(matches!(e, MembershipError::Config(_)), "{e}");
    let m = Membership::new(&store, FAST).unwrap();
    let e = m.join(DHCP_GROUP, "Not_A_Name").unwrap_err();
    assert!(
        matches!(&e, MembershipError::Replica { replica, .. } if replica == "Not_A_Name"),
        "{e}"
    );
    let e = m.join("a/b", "replica-a").unwrap_err();
    assert!(matches!(e, MembershipError::Group { .. }), "{e}");
    // Joining with etcd unreachable works: the view stays empty and degraded, so a DHCP
    // share computed from it is "this replica alone", answering everyone.
    let member = m.join(DHCP_GROUP, "replica-a").unwrap();
    assert_eq!(
        member.view(),
        MembershipView {
            members: vec![],
            degraded: true,
            conflict: None,
        }
    );
}

/// One etcd member of three is killed, then another started again: the replicas keep
/// seeing each other; no view ever loses a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_etcd_member_of_three_dying_loses_no_member() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    // A longer TTL than the other tests': the killed member may be etcd's leader, and
    // under load (every test of this binary runs its own three members on two cores) the
    // election and the keepalives' move to another member can take more than 3 s. Nothing
    // may be lost within a TTL of the default's order (10 s).
    let steady = MembershipConfig {
        ttl: Duration::from_secs(8),
    };
    let membership = Membership::new(&cluster.store("/plane"), steady).unwrap();
    let a = membership.join(DHCP_GROUP, "replica-a").unwrap();
    let b = membership.join(DHCP_GROUP, "replica-b").unwrap();
    let both = ["replica-a", "replica-b"];
    wait_for_view(&a, &both).await;
    wait_for_view(&b, &both).await;
    let mut views = [a.subscribe(), b.subscribe()];
    // Kill the etcd leader (the member the others' requests go through), for longer than
    // the TTL.
    let leader = cluster.leader(&cluster.store("/probe")).await.unwrap_or(0);
    cluster.members[leader].kill();
    let watching = tokio::time::timeout(steady.ttl * 2, async {
        let [va, vb] = &mut views;
        loop {
            tokio::select! {
                r = va.changed() => if r.is_err() { break },
                r = vb.changed() => if r.is_err() { break },
            }
            for v in [&*va.borrow(), &*vb.borrow()] {
                assert_eq!(v.members, ids(&both), "a member was lost: {v:?}");
            }
        }
    })
    .await;
    assert!(watching.is_err(), "a membership task ended");
    wait_for_view(&a, &both).await;
    wait_for_view(&b, &both).await;
    cluster.members[leader].restart();
    wait_for_view(&a, &both).await;
}

/// Two replicas started under one id (a copied configuration): the one whose key the other
/// put says so in its view, names the other holder, and leaves; the other keeps the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_claiming_one_id_are_told() {
    let Some(cluster) = Cluster::start(1).await else {
        return;
    };
    let membership = Membership::new(&cluster.store("/plane"), FAST).unwrap();
    let first = membership.join(DHCP_GROUP, "replica-a").unwrap();
    wait_for_view(&first, &["replica-a"]).await;
    let second = membership.join(DHCP_GROUP, "replica-a").unwrap();
    let told = wait_async(PATIENCE, || {
        let conflict = first.view().conflict;
        async move { conflict.is_some() }
    })
    .await;
    assert!(told, "{:?}", first.view());
    let other = first.view().conflict.unwrap();
    assert!(other.contains("instance"), "{other}");
    // The second keeps the id, and the key stays its own past the TTL.
    wait_for_view(&second, &["replica-a"]).await;
    let mut rx = second.subscribe();
    let watching = tokio::time::timeout(FAST.ttl + Duration::from_secs(1), async {
        while rx.changed().await.is_ok() {
            let view = rx.borrow_and_update().clone();
            assert_eq!(view.conflict, None);
            assert_eq!(view.members, ids(&["replica-a"]));
        }
    })
    .await;
    assert!(watching.is_err(), "the membership of the second ended");
    assert_eq!(
        membership.list(DHCP_GROUP).await.unwrap(),
        ids(&["replica-a"])
    );
}
