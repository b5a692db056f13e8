//! Who is live: a lease-backed key per replica, watched by every replica.
//!
//! Start at [`Membership::join`], which returns a [`Member`] whose [`View`] (the sorted ids
//! of the live replicas, and whether the view is current) follows etcd. The DHCP service
//! uses it to split the clients' MACs among the replicas (`ironbell_dhcp::Share`): each
//! replica recomputes its share from every new view, so when a replica dies the others
//! answer its clients once its lease has run out. Nothing here knows about DHCP.
//!
//! ## How it works
//!
//! 1. A replica is granted a **lease** of [`MembershipConfig::ttl`] (10 s by default) and
//!    puts `<prefix>/<group>/members/<replica id>` (value: who holds it, e.g.
//!    `host node1 pid 4242 instance 5f0c...`) on it; the DHCP group is
//!    [`DHCP_GROUP`], so `etcdctl get --prefix /ironbell/dhcp/members/` lists the replicas
//!    answering DHCP. A replica started again under the same id replaces its old key (the
//!    old lease then holds nothing).
//! 2. It reads the group's keys, publishes them as its view, and watches the group from
//!    the revision of that read: a key put is a replica joining, a key deleted (its lease
//!    ran out or was revoked) is one leaving. The view changes with each event.
//! 3. It renews its lease every third of the TTL. A replica that dies stops renewing and
//!    etcd deletes its key after the TTL; every other replica's watch then says so. One
//!    that leaves ([`Member::leave`], or drops its handle) revokes its lease, and the
//!    others see it go at once.
//!
//! ## Failures
//!
//! - **etcd unreachable or without quorum**: a renewal, the read or the watch fails; the
//!   view is kept as it was and marked [`View::degraded`] (logged at `warn`, a few lines a
//!   second at most), and the replica tries again, backing off up to a renewal period.
//!   The DHCP share computed from it stays as it was: a replica never stops answering its
//!   clients because etcd is away. When etcd answers again, the replica registers again
//!   (a new lease; if the old one has not run out it expires holding nothing), reads the
//!   group afresh and the view is current again.
//! - **Its own lease ran out** (this process was paused or cut off for longer than the
//!   TTL) or **its own key was deleted**: it registers again at once. Meanwhile its peers
//!   took over its clients; see `ironbell_dhcp::share` for why two replicas briefly
//!   answering one client is harmless for reservations.
//! - **The watch is cancelled** (its start revision was compacted): the replica reads the
//!   group again.
//! - **Two replicas claim one id** (a copied configuration): each registration writes, as
//!   the key's value, who holds it (host, PID and a random instance number). A replica
//!   whose key is then put by someone else sees its id taken: it logs an error naming the
//!   other holder, publishes the conflict in its [`View::conflict`] and ends its membership
//!   (the plane stops with that error). The other keeps the key. A replica restarted under
//!   its own id is not a conflict: its old process is gone and writes nothing more.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, PutOptions, WatchOptions};
use ironbell_limits::LogLimiter;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{EtcdStore, describe};

/// Failures of every membership of a process are logged here: while etcd is down, a few
/// lines a second with the count of those left out.
static RETRY_LOG: LogLimiter = LogLimiter::per_second(2);

/// The group of the replicas answering DHCP: keys `<prefix>/dhcp/members/<replica id>`.
pub const DHCP_GROUP: &str = "dhcp";

/// How a membership is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MembershipConfig {
    /// The lease's time to live: how long after a replica's last renewal etcd deletes its
    /// key, so how long a dead replica's clients go unanswered. Whole seconds (etcd's
    /// unit), at least 2; 10 s by default. The lease is renewed every third of it.
    pub ttl: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
        }
    }
}

impl MembershipConfig {
    /// Checks the settings: a TTL of whole seconds, at least 2.
    pub fn check(&self) -> Result<(), MembershipError> {
        if self.ttl < Duration::from_secs(2) || self.ttl.subsec_nanos() != 0 {
            return Err(MembershipError::Config(format!(
                "the membership TTL {:?} is not a whole number of seconds of at least 2 (etcd \
                 leases are in seconds, and the lease is renewed every third of it)",
                self.ttl
            )));
        }
        Ok(())
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)
    }

    /// How often the lease is renewed.
    pub fn renew_period(&self) -> Duration {
        self.ttl / 3
    }

    /// How long one request to etcd may take.
    fn attempt_timeout(&self) -> Duration {
        self.renew_period()
    }
}

/// A membership could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The timing settings are invalid.
    #[error("membership settings: {0}")]
    Config(String),
    /// The group's name is not a DNS-1123 subdomain.
    #[error("membership group {group:?}: {reason}")]
    Group {
        /// The name as given.
        group: String,
        /// What is wrong.
        reason: String,
    },
    /// The replica id is not a DNS-1123 subdomain.
    #[error("replica id {replica:?}: {reason}")]
    Replica {
        /// The id as given.
        replica: String,
        /// What is wrong.
        reason: String,
    },
    /// etcd did not answer as needed.
    #[error("membership of group {group}: {message}")]
    Etcd {
        /// The group.
        group: String,
        /// What failed, naming the endpoints and the cause.
        message: String,
    },
}

/// What one replica knows of its group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The ids of the live replicas, sorted. Empty until etcd has answered once.
    pub members: Vec<String>,
    /// Whether this view may be stale: etcd has not answered since the last failure (or
    /// ever). The members are then the last ones known.
    pub degraded: bool,
    /// Set when another process put this replica's key (two replicas claim one id): what
    /// it wrote there (its host and PID). The membership has then ended (see the module
    /// docs); the caller should stop and say so.
    pub conflict: Option<String>,
}

/// Groups of replicas on one etcd cluster, under the store's key prefix. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Membership {
    store: EtcdStore,
    config: MembershipConfig,
}

impl Membership {
    /// Memberships under `store`'s prefix, on its connection, timed by `config`.
    pub fn new(store: &EtcdStore, config: MembershipConfig) -> Result<Self, MembershipError> {
        config.check()?;
        Ok(Self {
            store: store.clone(),
            config,
        })
    }

    /// The timing.
    pub fn config(&self) -> &MembershipConfig {
        &self.config
    }

    /// The key prefix of group `group`, ending with `/`.
    pub fn group_prefix(&self, group: &str) -> Result<String, MembershipError> {
        ironbell_model::validate_name(group).map_err(|e| MembershipError::Group {
            group: group.to_string(),
            reason: e.to_string(),
        })?;
        Ok(format!("{}/{group}/members/", self.store.prefix()))
    }

    /// Joins `group` (e.g. [`DHCP_GROUP`]) as `replica` (a stable id such as the host
    /// name) and keeps the membership and the view current in a background task until the
    /// returned handle is dropped or [`Member::leave`] is called. Returns at once; the
    /// first view is empty and degraded until etcd answers. Needs a Tokio runtime.
    pub fn join(&self, group: &str, replica: &str) -> Result<Member, MembershipError> {
        let prefix = self.group_prefix(group)?;
        ironbell_model::validate_name(replica).map_err(|e| MembershipError::Replica {
            replica: replica.to_string(),
            reason: e.to_string(),
        })?;
        let (view_tx, view) = watch::channel(View {
            members: Vec::new(),
            degraded: true,
            conflict: None,
        });
        let (stop, stop_rx) = oneshot::channel();
        let keeper = Keeper {
            store: self.store.clone(),
            config: self.config,
            prefix,
            replica: replica.to_string(),
            holder: holder(),
            view: view_tx,
            lease: None,
        };
        let span = tracing::info_span!("membership", group, replica);
        let task = tokio::spawn(keeper.run(stop_rx).instrument(span));
        Ok(Member {
            group: group.to_string(),
            replica: replica.to_string(),
            view,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The live replicas of `group` now, sorted (for status output).
    pub async fn list(&self, group: &str) -> Result<Vec<String>, MembershipError> {
        let prefix = self.group_prefix(group)?;
        let resp = self
            .store
            .read(
                || format!("reading the members of group {group}"),
                |mut kv| {
                    let prefix = prefix.clone();
                    async move { kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
                },
            )
            .await
            .map_err(|e| MembershipError::Etcd {
                group: group.to_string(),
                message: e.to_string(),
            })?;
        let mut ids: Vec<String> = resp
            .kvs()
            .iter()
            .filter_map(|kv| member_id(&prefix, kv.key()))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
}

/// The replica id of a member key, if it is one (UTF-8, non-empty, one path segment).
fn member_id(prefix: &str, key: &[u8]) -> Option<String> {
    let id = std::str::from_utf8(key).ok()?.strip_prefix(prefix)?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// This replica's membership of a group. Dropping it leaves the group (best effort: the
/// lease is revoked if etcd answers, else it runs out).
pub struct Member {
    group: String,
    replica: String,
    view: watch::Receiver<View>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("group", &self.group)
            .field("replica", &self.replica)
            .field("view", &*self.view.borrow())
            .finish_non_exhaustive()
    }
}

impl Member {
    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view.borrow().clone()
    }

    /// A receiver of every new view, for the task that follows it (e.g. recomputing a DHCP
    /// share).
    pub fn subscribe(&self) -> watch::Receiver<View> {
        self.view.clone()
    }

    /// Leaves the group: renewals stop and the lease is revoked, so the others see this
    /// replica go at once. Stop serving first.
    pub async fn leave(mut self) {
        tracing::info!(group = self.group, replica = self.replica, "leaving");
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The background task of one [`Member`].
struct Keeper {
    store: EtcdStore,
    config: MembershipConfig,
    prefix: String,
    replica: String,
    /// The value of this replica's key: who holds it (see [`holder`]).
    holder: String,
    view: watch::Sender<View>,
    /// The lease of the current registration, to revoke on the way out.
    lease: Option<i64>,
}

/// The value a replica writes on its key: its host, PID and a random instance number, so
/// that another process putting the same key is told apart from this one.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!(
        "host {} pid {} instance {:016x}",
        host.trim(),
        std::process::id(),
        rand::random::<u64>()
    )
}

/// How a registration ended.
enum Ended {
    /// The handle asked to stop.
    Stopped,
    /// Register again at once (own lease or key gone, watch cancelled).
    Again(String),
    /// Another process put this replica's key: it wrote this value.
    Taken(String),
}

impl Keeper {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.registration(&mut stop).await {
                Ok(Ended::Stopped) => break,
                Ok(Ended::Taken(other)) => {
                    tracing::error!(
                        other,
                        "replica id {:?} is claimed by another process too ({other}); this \
                         one leaves the group: give each replica its own --replica-id",
                        self.replica
                    );
                    self.view.send_modify(|v| v.conflict = Some(other));
                    break;
                }
                Ok(Ended::Again(why)) => {
                    tracing::warn!("registering again: {why}");
                    pause = Duration::from_millis(100);
                }
                Err(e) => {
                    let was_current = !self.view.borrow().degraded;
                    self.view
                        .send_if_modified(|v| !std::mem::replace(&mut v.degraded, true));
                    if self.store.known_unreachable() {
                        tracing::debug!("degraded: {e}");
                    } else if let Some(suppressed) = RETRY_LOG.allow() {
                        let members = self.view.borrow().members.clone();
                        tracing::warn!(
                            suppressed,
                            ?members,
                            "degraded: {e}; keeping the last view of the members and trying \
                             again"
                        );
                    } else if was_current {
                        tracing::warn!("degraded: {e}");
                    }
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(self.config.renew_period());
                }
            }
        }
        self.revoke().await;
    }

    /// The error text of a failed etcd request.
    fn etcd(&self, context: &str, e: &etcd_client::Error) -> String {
        format!(
            "etcd at {}: {context}: {}",
            self.store.config().endpoints.join(","),
            describe(e)
        )
    }

    /// `f` within one attempt's time.
    async fn attempt<T>(
        &self,
        context: &str,
        f: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.config.attempt_timeout(), f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.etcd(context, &e)),
            Err(_) => Err(format!(
                "etcd at {}: {context}: no answer within {:?}",
                self.store.config().endpoints.join(","),
                self.config.attempt_timeout()
            )),
        }
    }

    /// One registration: lease, key, read, then renewals and the watch until something
    /// fails (`Err`: etcd unreachable) or ends it.
    async fn registration(&mut self, stop: &mut oneshot::Receiver<()>) -> Result<Ended, String> {
        let client: Client = self
            .store
            .client()
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let granted_at = Instant::now();
        let ttl = self.config.ttl_secs();
        let grant = self
            .request("granting a lease", || {
                let mut c = client.clone();
                async move { c.lease_grant(ttl, None).await }
            })
            .await?;
        let lease = grant.id();
        self.lease = Some(lease);
        let key = format!("{}{}", self.prefix, self.replica);
        self.request("putting the member key", || {
            let (mut c, key, holder) = (client.clone(), key.clone(), self.holder.clone());
            async move {
                c.put(key, holder, Some(PutOptions::new().with_lease(lease)))
                    .await
            }
        })
        .await?;
        let listed = self
            .request("reading the members", || {
                let (mut c, prefix) = (client.clone(), self.prefix.clone());
                async move { c.get(prefix, Some(GetOptions::new().with_prefix())).await }
            })
            .await?;
        let revision = listed.header().map_or(0, |h| h.revision());
        let mut members: BTreeSet<String> = listed
            .kvs()
            .iter()
            .filter_map(|kv| member_id(&self.prefix, kv.key()))
            .collect();
        let mut events = self
            .request("watching the members", || {
                let (mut c, prefix) = (client.clone(), self.prefix.clone());
                let options = WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1);
                async move { c.watch(prefix, Some(options)).await }
            })
            .await?;
        let (mut keeper, mut renewals) = self
            .request("renewing the lease", || {
                let mut c = client.clone();
                async move { c.lease_keep_alive(lease).await }
            })
            .await?;
        self.publish(&members);
        let mut next = granted_at + self.config.renew_period();
        let ended = loop {
            tokio::select! {
                biased;
                _ = &mut *stop => break Ended::Stopped,
                _ = tokio::time::sleep_until(next) => {
                    let renewed = self.attempt("renewing the lease", async {
                        keeper.keep_alive().await?;
                        renewals.message().await
                    }).await?;
                    match renewed {
                        Some(r) if r.ttl() > 0 => {}
                        Some(_) => break Ended::Again("etcd says this replica's lease expired".into()),
                        None => return Err("the lease renewal stream ended".into()),
                    }
                    next = Instant::now() + self.config.renew_period();
                }
                message = events.message() => {
                    let message = message.map_err(|e| self.etcd("watching the members", &e))?;
                    let Some(resp) = message else {
                        return Err("the watch of the members ended".into());
                    };
                    if resp.canceled() {
                        break Ended::Again(format!(
                            "the watch of the members was cancelled ({})",
                            resp.cancel_reason()
                        ));
                    }
                    let mut own_key_gone = false;
                    let mut taken = None;
                    for event in resp.events() {
                        let Some(kv) = event.kv() else { continue };
                        let Some(id) = member_id(&self.prefix, kv.key()) else {
                            continue;
                        };
                        match event.event_type() {
                            EventType::Put => {
                                if id == self.replica && kv.value() != self.holder.as_bytes() {
                                    taken = Some(String::from_utf8_lossy(kv.value()).into_owned());
                                }
                                members.insert(id);
                            }
                            EventType::Delete => {
                                own_key_gone |= id == self.replica;
                                members.remove(&id);
                            }
                        }
                    }
                    if let Some(other) = taken {
                        break Ended::Taken(other);
                    }
                    if own_key_gone {
                        break Ended::Again("this replica's key was deleted".into());
                    }
                    self.publish(&members);
                }
            }
        };
        // Dropping the stream cancels the watch.
        Ok(ended)
    }

    /// Publishes `members` as the current view, logging a change.
    fn publish(&self, members: &BTreeSet<String>) {
        let members: Vec<String> = members.iter().cloned().collect();
        let view = View {
            members,
            degraded: false,
            conflict: None,
        };
        let before = self.view.send_replace(view.clone());
        if before.degraded {
            tracing::info!(members = ?view.members, "membership current");
        } else if before.members != view.members {
            tracing::info!(members = ?view.members, before = ?before.members, "members changed");
        }
    }

    /// `f()` within one attempt's time, sent again while it fails on the connection: the
    /// client spreads requests over every endpoint, so with one etcd member dead a request
    /// may go to it and be refused at once, and the next one reaches a live member. (A
    /// registration that gave up on the first refusal could not get through before its
    /// lease ran out, and the others would see this replica leave.)
    async fn request<T, F, Fut>(&self, context: &str, mut f: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.config.attempt_timeout();
        let mut pause = Duration::from_millis(20);
        loop {
            match tokio::time::timeout_at(deadline, f()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) if crate::retryable(&e) && Instant::now() + pause < deadline => {
                    tracing::debug!("{context}: {}; sending again", describe(&e));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Ok(Err(e)) => return Err(self.etcd(context, &e)),
                Err(_) => {
                    return Err(format!(
                        "etcd at {}: {context}: no answer within {:?}",
                        self.store.config().endpoints.join(","),
                        self.config.attempt_timeout()
                    ));
                }
            }
        }
    }

    /// Revokes the current lease, if etcd answers within one attempt.
    async fn revoke(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let Ok(mut client) = self.store.client().await else {
            return;
        };
        match self
            .attempt("revoking the lease", client.lease_revoke(lease))
            .await
        {
            Ok(_) => tracing::info!(lease = format_args!("{lease:x}"), "left the group"),
            Err(e) => tracing::warn!("leaving the group: {e}; the lease will run out"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(MembershipConfig::default().check().is_ok());
        assert_eq!(
            MembershipConfig::default().renew_period(),
            Duration::from_millis(3333) + Duration::from_nanos(333_333)
        );
        for bad in [0, 1000, 1500, 2500] {
            let c = MembershipConfig {
                ttl: Duration::from_millis(bad),
            };
            assert!(c.check().unwrap_err().to_string().contains("whole number"));
        }
    }

    #[test]
    fn member_keys_are_read_back_as_ids() {
        let p = "/ironbell/dhcp/members/";
        assert_eq!(
            member_id(p, b"/ironbell/dhcp/members/node-1").as_deref(),
            Some("node-1")
        );
        assert_eq!(member_id(p, b"/ironbell/dhcp/members/"), None);
        assert_eq!(member_id(p, b"/ironbell/dhcp/members/a/b"), None);
        assert_eq!(member_id(p, b"/ironbell/other/a"), None);
        assert_eq!(member_id(p, b"/ironbell/dhcp/members/\xff"), None);
    }
}
