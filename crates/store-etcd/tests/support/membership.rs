//! Members of a group for the tests: a short TTL, waiting for a view, and a replica that
//! can crash.

use std::time::Duration;

use ironbell_store_etcd::{DHCP_GROUP, EtcdStore, Member, Membership, MembershipConfig};

use super::wait_async;

/// A 3 s TTL (renewed every second), so the suites take seconds.
pub const FAST: MembershipConfig = MembershipConfig {
    ttl: Duration::from_secs(3),
};

/// How long anything may take that has no reason to take long.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Owned ids.
pub fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Waits until `member` sees `expected`, current.
pub async fn wait_for_view(member: &Member, expected: &[&str]) {
    let expected = ids(expected);
    let seen = wait_async(PATIENCE, || {
        let view = member.view();
        let expected = expected.clone();
        async move { !view.degraded && view.members == expected }
    })
    .await;
    assert!(
        seen,
        "{} sees {:?}, not {expected:?}",
        member.replica(),
        member.view()
    );
}

/// A replica's membership on a runtime and an etcd connection of its own, so that it can
/// die as a crashed process does: the runtime is shut down, its tasks and connections
/// vanish, and nothing is revoked.
pub struct Crashable {
    runtime: Option<tokio::runtime::Runtime>,
    member: Option<Member>,
}

impl Crashable {
    /// Joins the DHCP group as `id` through `store` (give it a store of its own).
    pub fn join(store: &EtcdStore, id: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let member = {
            let _context = runtime.enter();
            Membership::new(store, FAST)
                .unwrap()
                .join(DHCP_GROUP, id)
                .unwrap()
        };
        Self {
            runtime: Some(runtime),
            member: Some(member),
        }
    }

    /// Its membership, until it crashes.
    pub fn member(&self) -> &Member {
        self.member.as_ref().expect("crashed")
    }

    /// Runs `task` on its runtime: it dies with it.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if let Some(rt) = &self.runtime {
            rt.spawn(task);
        }
    }

    /// Dies without a word to etcd.
    pub fn crash(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        self.member = None;
    }
}

impl Drop for Crashable {
    fn drop(&mut self) {
        self.crash();
    }
}
