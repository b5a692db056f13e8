//! Leader election over etcd leases: one replica at a time runs the controllers.
//!
//! Start at [`Election::campaign`], which returns a [`Leadership`] once this replica leads,
//! and [`Leadership::lost`]. [`Election::observe`] names the current leader (for status
//! output). Nothing here knows about controllers or the [`Store`](ironbell_store::Store)
//! trait: the plane starts its controllers when `campaign` returns and stops them when
//! `lost` resolves.
//!
//! ## How it works
//!
//! The recipe of etcd's own `concurrency` package (what `etcdctl elect` uses), with the
//! same key layout: `etcdctl elect -l <prefix>/elections/<name>` shows ironbell's leader,
//! and an `etcdctl elect` candidate takes its turn among ironbell's (`tests/election.rs`
//! checks both). It is written here rather than taken from etcd's election gRPC service
//! (`Campaign` blocks in one unary request, cut short by the client's request timeout, and
//! hides the lease renewals whose timing the loss signal below depends on):
//!
//! 1. A candidate is granted a **lease** of [`ElectionConfig::lease_duration`] and puts the
//!    key `<prefix>/elections/<name>/<lease id in hex>` (value: its identity) attached to
//!    the lease. The key's **create revision** orders the candidates: the lowest leads.
//! 2. It waits until no key of the election has a lower create revision: it watches the
//!    key just before its own for deletion (no thundering herd), and looks again.
//! 3. While it campaigns and while it leads, a task renews the lease every
//!    [`ElectionConfig::retry_period`] and checks that its key is still there. A leader that
//!    dies stops renewing: etcd deletes its key when the lease runs out, and the next
//!    candidate leads. A leader that resigns (or is dropped) revokes its lease at once.
//!
//! The create revision of the leader's key is a **fencing token**
//! ([`Leadership::fencing_token`]): it grows with every new leader of an election, and a
//! write to etcd guarded by [`Leadership::fence`] succeeds only while that key exists.
//!
//! ## Timing, and why two replicas do not both believe they lead
//!
//! The defaults are Kubernetes' leader election (client-go's `LeaseDuration` 15 s,
//! `RenewDeadline` 10 s, `RetryPeriod` 2 s): a dead leader is replaced about 15 s after
//! its last renewal, and a leader that cannot renew gives up after 10 s.
//!
//! Let `t` be the moment (on the leader's monotonic clock) at which it *sent* its last
//! renewal that etcd confirmed. etcd's leader received it after `t` and keeps the lease at
//! least `lease_duration` from then (a new etcd leader extends every lease on election,
//! it never shortens one), so the key exists until at least `t + lease_duration`, and no
//! other candidate can be told it leads before that. This replica declares the leadership
//! lost at `t + renew_deadline` when no renewal has been confirmed since: the signal fires
//! `lease_duration - renew_deadline` (5 s by default) before the earliest moment a
//! successor can start. Two replicas both believe they lead only if:
//!
//! - the old leader's process is paused (stopped VM, swap storm, `SIGSTOP`) for longer than
//!   that margin between the deadline passing and its controllers noticing; or
//! - the two machines' clocks run at rates more than `margin / lease_duration` (a third)
//!   apart, which no working clock does (wall-clock jumps do not matter: only monotonic
//!   time is used, here and in etcd); or
//! - someone deletes the leader's key or revokes its lease by hand: the leader notices
//!   within one `retry_period`, while a successor may be told at once.
//!
//! What the controllers must do on loss: stop starting work at once and finish or abandon
//! what is in flight within the margin. Their writes are optimistic (`resourceVersion`
//! preconditions) and level-triggered, so a late write of an old leader fails with a
//! conflict or is redone by the new one; a write that must never come from a stale leader
//! goes to etcd in one transaction with [`Leadership::fence`].
//!
//! ## Failures
//!
//! - **etcd unreachable or without quorum**: renewals fail; the loss fires at
//!   `renew_deadline` after the last confirmed one ([`LossReason::RenewalFailed`]), and the
//!   task then revokes the lease if it can. A campaign keeps trying while etcd is away.
//! - **One member of three down**: the client uses the other members; a renewal in flight
//!   to the dead member is abandoned after its attempt timeout and sent again, well within
//!   the deadline; leadership survives (tested).
//! - **Lease expired** (this process was paused past it): the next renewal is told so
//!   ([`LossReason::LeaseExpired`]).
//! - **Key deleted**: [`LossReason::KeyDeleted`] at the next renewal.
//!
//! A lost leadership is not given back: campaign again (a new lease, at the back of the
//! queue).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, LeaseKeepAliveStream, LeaseKeeper,
    PutOptions, SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use ironbell_limits::LogLimiter;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::{EtcdStore, describe, to_rev};

/// Renewal and campaign failures of every election of a process are logged here: while
/// etcd is down, a few lines a second with the count of those left out.
static RETRY_LOG: LogLimiter = LogLimiter::per_second(2);

/// The longest identity a candidate may give (a host name and a PID fit many times).
const MAX_IDENTITY: usize = 256;

/// How an election is timed; see the module docs. The defaults are Kubernetes'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    /// The lease's time to live: how long after a leader's last renewal etcd deletes its
    /// key, so how long a dead leader holds the election. Whole seconds (etcd's unit); 15 s
    /// by default.
    pub lease_duration: Duration,
    /// How long a leader goes on without a confirmed renewal before it declares the
    /// leadership lost; below `lease_duration`, and the difference is the margin the
    /// controllers have to stop. 10 s by default.
    pub renew_deadline: Duration,
    /// How often the lease is renewed, and how long one renewal may take before it is sent
    /// again. Below `renew_deadline`; 2 s by default.
    pub retry_period: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl ElectionConfig {
    /// Checks the settings: whole seconds of lease, and
    /// `0 < retry_period < renew_deadline < lease_duration`.
    pub fn check(&self) -> Result<(), ElectionError> {
        let bad = |reason: String| Err(ElectionError::Config(reason));
        if self.lease_duration < Duration::from_secs(1) || self.lease_duration.subsec_nanos() != 0 {
            return bad(format!(
                "the lease duration {:?} is not a whole number of seconds (etcd's unit)",
                self.lease_duration
            ));
        }
        if self.renew_deadline >= self.lease_duration {
            return bad(format!(
                "the renew deadline {:?} must be shorter than the lease duration {:?}: the \
                 difference is the time controllers have to stop",
                self.renew_deadline, self.lease_duration
            ));
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return bad(format!(
                "the retry period {:?} must be above zero and shorter than the renew \
                 deadline {:?}",
                self.retry_period, self.renew_deadline
            ));
        }
        Ok(())
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.lease_duration.as_secs()).unwrap_or(i64::MAX)
    }

    /// How long one renewal or one check may take.
    fn attempt_timeout(&self) -> Duration {
        self.retry_period.max(Duration::from_secs(1))
    }
}

/// An election could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    /// The timing settings are inconsistent.
    #[error("leader election settings: {0}")]
    Config(String),
    /// The election's name is not a DNS-1123 subdomain.
    #[error("election name {name:?}: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The candidate's identity is empty, too long, or has control characters.
    #[error("candidate identity {identity:?}: {reason}")]
    Identity {
        /// The identity as given.
        identity: String,
        /// What is wrong.
        reason: String,
    },
    /// etcd did not answer as needed.
    #[error("leader election {election}: {message}")]
    Etcd {
        /// The election.
        election: String,
        /// What failed, naming the endpoints and the cause.
        message: String,
    },
}

/// Why a [`Leadership`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// No renewal was confirmed for [`ElectionConfig::renew_deadline`] (etcd unreachable,
    /// without quorum, or too slow).
    RenewalFailed,
    /// etcd says the lease is gone: it ran out (this process was paused past it) or was
    /// revoked by someone else.
    LeaseExpired,
    /// The leader's key was deleted or replaced by someone else.
    KeyDeleted,
    /// This replica resigned ([`Leadership::resign`], or the handle was dropped).
    Resigned,
    /// The task renewing the lease is gone (the runtime is shutting down).
    Stopped,
}

impl fmt::Display for LossReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RenewalFailed => "etcd did not confirm a lease renewal before the deadline",
            Self::LeaseExpired => "etcd says the lease expired",
            Self::KeyDeleted => "the leader key was deleted",
            Self::Resigned => "resigned",
            Self::Stopped => "the lease renewal task stopped",
        })
    }
}

/// The leader of an election, as [`Election::observe`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    /// The identity it campaigned with.
    pub identity: String,
    /// Its fencing token (the create revision of its key).
    pub fencing_token: u64,
    /// Its lease.
    pub lease_id: i64,
}

/// Elections on one etcd cluster, under the store's key prefix. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Election {
    store: EtcdStore,
    config: ElectionConfig,
}

impl Election {
    /// Elections under `store`'s prefix, on its connection, timed by `config`.
    pub fn new(store: &EtcdStore, config: ElectionConfig) -> Result<Self, ElectionError> {
        config.check()?;
        Ok(Self {
            store: store.clone(),
            config,
        })
    }

    /// The timing.
    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// The key prefix of election `name`, ending with `/`.
    fn prefix(&self, name: &str) -> Result<String, ElectionError> {
        ironbell_model::validate_name(name).map_err(|e| ElectionError::Name {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(format!("{}/elections/{name}/", self.store.prefix()))
    }

    /// Waits until this candidate leads election `name` (e.g. `controllers`), then returns
    /// the leadership. `identity` (e.g. `host:pid`) is what [`Election::observe`] shows.
    /// While etcd is unreachable it keeps trying; it fails only on a bad name or identity.
    /// Dropping the future withdraws the candidacy (its lease is revoked).
    pub async fn campaign(&self, name: &str, identity: &str) -> Result<Leadership, ElectionError> {
        let prefix = self.prefix(name)?;
        check_identity(identity)?;
        let span = tracing::info_span!("election", election = name, identity);
        async {
            let mut pause = Duration::from_millis(100);
            loop {
                match self.try_campaign(name, &prefix, identity).await {
                    Ok(Some(leadership)) => {
                        tracing::info!(
                            fencing_token = leadership.token,
                            lease = format_args!("{:x}", leadership.lease),
                            "leading"
                        );
                        return Ok(leadership);
                    }
                    Ok(None) => pause = Duration::from_millis(100),
                    Err(e) => {
                        if self.store.known_unreachable() {
                            tracing::debug!("campaign: {e}; trying again");
                        } else if let Some(suppressed) = RETRY_LOG.allow() {
                            tracing::warn!(suppressed, "campaign: {e}; trying again");
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(self.config.retry_period);
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One candidacy on one lease: `None` when it ended without leading (the lease or key
    /// was lost while waiting), to be started again.
    async fn try_campaign(
        &self,
        name: &str,
        prefix: &str,
        identity: &str,
    ) -> Result<Option<Leadership>, String> {
        let etcd = |context: &str, e: etcd_client::Error| {
            format!(
                "etcd at {}: {context}: {}",
                self.store.config().endpoints.join(","),
                describe(&e)
            )
        };
        let mut client = self.store.client().await.map_err(|e| e.to_string())?;
        let granted_at = Instant::now();
        let grant = client
            .lease_grant(self.config.ttl_secs(), None)
            .await
            .map_err(|e| etcd("granting a lease", e))?;
        if grant.ttl() != self.config.ttl_secs() {
            tracing::warn!(
                requested = self.config.ttl_secs(),
                granted = grant.ttl(),
                "etcd granted a lease of another length than asked (its minimum TTL); a dead \
                 leader is replaced after the granted one"
            );
        }
        let lease = grant.id();
        let session = Session::start(
            self.store.clone(),
            client.clone(),
            lease,
            granted_at,
            self.config,
        );
        let key = format!("{prefix}{lease:x}");
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.clone(),
                identity,
                Some(PutOptions::new().with_lease(lease)),
            )])
            .or_else([TxnOp::get(key.clone(), None)]);
        let resp = client
            .txn(txn)
            .await
            .map_err(|e| etcd("creating the candidate key", e))?;
        let token = if resp.succeeded() {
            resp.header().map_or(0, |h| h.revision())
        } else {
            // A key on a lease granted just now: only an earlier attempt of this very
            // request can have made it.
            first_kv(resp.op_responses()).map_or(0, |kv| kv.create_revision())
        };
        if token <= 0 {
            return Err(format!("etcd returned no revision for {key}"));
        }
        session.set_key(key.clone(), token);
        if !self
            .wait_for_predecessors(&mut client, prefix, &key, token, &session)
            .await
            .map_err(|e| etcd("waiting for the leader before this candidate", e))?
        {
            let reason = session.loss().unwrap_or(LossReason::KeyDeleted);
            tracing::warn!("candidacy ended before leading ({reason}); campaigning again");
            return Ok(None);
        }
        Ok(Some(Leadership {
            election: name.to_string(),
            identity: identity.to_string(),
            key,
            token: to_rev(token),
            lease,
            session,
        }))
    }

    /// Waits until no key of the election is older than `key`: whether this candidate
    /// leads (`false`: its lease or key was lost meanwhile).
    async fn wait_for_predecessors(
        &self,
        client: &mut Client,
        prefix: &str,
        key: &str,
        token: i64,
        session: &Session,
    ) -> Result<bool, etcd_client::Error> {
        loop {
            if session.loss().is_some() {
                return Ok(false);
            }
            let older = GetOptions::new()
                .with_prefix()
                .with_max_create_revision(token - 1)
                .with_sort(SortTarget::Create, SortOrder::Descend)
                .with_limit(1);
            let txn = Txn::new()
                .when([Compare::create_revision(key, CompareOp::Equal, token)])
                .and_then([TxnOp::get(prefix, Some(older))]);
            let resp = client.txn(txn).await?;
            if !resp.succeeded() {
                return Ok(false);
            }
            let Some(before) = first_kv(resp.op_responses()) else {
                return Ok(true);
            };
            let revision = resp.header().map_or(0, |h| h.revision());
            tracing::debug!(
                waiting_for = %String::from_utf8_lossy(before.value()),
                "another candidate is before this one"
            );
            let options = WatchOptions::new().with_start_revision(revision + 1);
            let mut stream = client.watch(before.key().to_vec(), Some(options)).await?;
            let deleted = async {
                while let Some(resp) = stream.message().await? {
                    if resp.canceled()
                        || resp
                            .events()
                            .iter()
                            .any(|e| e.event_type() == EventType::Delete)
                    {
                        break;
                    }
                }
                Ok::<_, etcd_client::Error>(())
            };
            tokio::select! {
                _ = session.lost() => return Ok(false),
                // Look again now and then, whatever the watch says.
                _ = tokio::time::sleep(self.config.lease_duration) => {}
                r = deleted => r?,
            }
        }
    }

    /// The current leader of election `name`, if any: the candidate with the oldest key
    /// (which may not have noticed yet that it leads).
    pub async fn observe(&self, name: &str) -> Result<Option<Leader>, ElectionError> {
        let prefix = self.prefix(name)?;
        let options = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Create, SortOrder::Ascend)
            .with_limit(1);
        let resp = self
            .store
            .read(
                || format!("reading the leader of election {name}"),
                |mut kv| {
                    let (prefix, options) = (prefix.clone(), options.clone());
                    async move { kv.get(prefix, Some(options)).await }
                },
            )
            .await
            .map_err(|e| ElectionError::Etcd {
                election: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(resp.kvs().first().map(|kv| Leader {
            identity: String::from_utf8_lossy(kv.value()).into_owned(),
            fencing_token: to_rev(kv.create_revision()),
            lease_id: kv.lease(),
        }))
    }
}

fn check_identity(identity: &str) -> Result<(), ElectionError> {
    let bad = |reason: &str| {
        Err(ElectionError::Identity {
            identity: identity.chars().take(MAX_IDENTITY).collect(),
            reason: reason.to_string(),
        })
    };
    if identity.is_empty() {
        return bad("empty; give one that names this replica, such as host:pid");
    }
    if identity.len() > MAX_IDENTITY {
        return bad("longer than 256 bytes");
    }
    if identity.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    Ok(())
}

/// The first key-value of the first `Get` among a transaction's responses.
fn first_kv(responses: Vec<TxnOpResponse>) -> Option<etcd_client::KeyValue> {
    responses.into_iter().find_map(|r| match r {
        TxnOpResponse::Get(mut g) => g.take_kvs().into_iter().next(),
        _ => None,
    })
}

/// This replica leads an election. The lease is renewed in the background until the
/// leadership is lost, resigned or dropped (which resigns, best effort).
pub struct Leadership {
    election: String,
    identity: String,
    key: String,
    token: u64,
    lease: i64,
    session: Session,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("election", &self.election)
            .field("identity", &self.identity)
            .field("fencing_token", &self.token)
            .field("lost", &self.loss())
            .finish_non_exhaustive()
    }
}

impl Leadership {
    /// The election's name.
    pub fn election(&self) -> &str {
        &self.election
    }

    /// This replica's identity, as it campaigned.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The fencing token: the create revision of the leader key, larger for every later
    /// leader of this election.
    pub fn fencing_token(&self) -> u64 {
        self.token
    }

    /// The lease this leadership stands on.
    pub fn lease_id(&self) -> i64 {
        self.lease
    }

    /// The leader key in etcd.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// An etcd compare that holds only while this leadership's key exists: put it in a
    /// transaction so that the write happens only if this replica still leads.
    pub fn fence(&self) -> Compare {
        Compare::create_revision(
            self.key.clone(),
            CompareOp::Equal,
            i64::try_from(self.token).unwrap_or(i64::MAX),
        )
    }

    /// Why the leadership was lost, if it was.
    pub fn loss(&self) -> Option<LossReason> {
        self.session.loss()
    }

    /// Resolves when the leadership is lost (see [`LossReason`]); at once if it is.
    pub async fn lost(&self) -> LossReason {
        self.session.lost().await
    }

    /// A receiver that turns `Some` when the leadership is lost, for tasks that outlive a
    /// borrow of this handle.
    pub fn subscribe(&self) -> watch::Receiver<Option<LossReason>> {
        self.session.state.clone()
    }

    /// Gives the leadership up: renewals stop, then the lease is revoked, which deletes the
    /// key so that the next candidate leads at once. Stop the controllers first.
    pub async fn resign(self) -> Result<(), ElectionError> {
        tracing::info!(
            election = self.election,
            identity = self.identity,
            "resigning"
        );
        let election = self.election.clone();
        self.session
            .close()
            .await
            .map_err(|message| ElectionError::Etcd { election, message })
    }
}

/// A lease kept alive by a background task, and the candidate key on it once there is one.
/// Dropping it stops the task, which then revokes the lease.
struct Session {
    state: watch::Receiver<Option<LossReason>>,
    key: Arc<OnceLock<(String, i64)>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
}

/// What one renewal found.
enum Renewal {
    Alive,
    LeaseGone,
    KeyGone,
}

impl Session {
    /// Starts renewing `lease` (of `store`, on `client`), granted by a request sent at
    /// `granted_at`.
    fn start(
        store: EtcdStore,
        client: Client,
        lease: i64,
        granted_at: Instant,
        config: ElectionConfig,
    ) -> Self {
        let (state_tx, state) = watch::channel(None);
        let (stop, stop_rx) = oneshot::channel();
        let key = Arc::new(OnceLock::new());
        let renewer = Renewer {
            store,
            client,
            lease,
            key: key.clone(),
            config,
            stream: None,
        };
        let task = tokio::spawn(
            renewer
                .run(granted_at, state_tx, stop_rx)
                .instrument(tracing::Span::current()),
        );
        Self {
            state,
            key,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// From now on, each renewal also checks that `key` exists with create revision `rev`.
    fn set_key(&self, key: String, rev: i64) {
        let _ = self.key.set((key, rev));
    }

    fn loss(&self) -> Option<LossReason> {
        *self.state.borrow()
    }

    async fn lost(&self) -> LossReason {
        let mut state = self.state.clone();
        match state.wait_for(Option::is_some).await {
            Ok(r) => r.unwrap_or(LossReason::Stopped),
            Err(_) => LossReason::Stopped,
        }
    }

    /// Stops renewing and revokes the lease.
    async fn close(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| format!("lease renewal task: {e}"))?,
            None => Ok(()),
        }
    }
}

struct Renewer {
    /// For [`EtcdStore::known_unreachable`] only: renewals go through `client`.
    store: EtcdStore,
    client: Client,
    lease: i64,
    key: Arc<OnceLock<(String, i64)>>,
    config: ElectionConfig,
    stream: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
}

impl Renewer {
    /// Renews until stopped (then revokes) or lost (then revokes if it can).
    async fn run(
        mut self,
        granted_at: Instant,
        state: watch::Sender<Option<LossReason>>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), String> {
        let mut confirmed = granted_at;
        let mut next = granted_at + self.config.retry_period;
        let reason = loop {
            let deadline = confirmed + self.config.renew_deadline;
            tokio::select! {
                biased;
                _ = &mut stop => break LossReason::Resigned,
                _ = tokio::time::sleep_until(deadline) => break LossReason::RenewalFailed,
                _ = tokio::time::sleep_until(next) => {}
            }
            let sent = Instant::now();
            let attempt = tokio::time::timeout(self.config.attempt_timeout(), self.renew());
            let result = tokio::select! {
                biased;
                _ = &mut stop => break LossReason::Resigned,
                _ = tokio::time::sleep_until(deadline) => break LossReason::RenewalFailed,
                r = attempt => r.unwrap_or_else(|_| Err("no answer in time".into())),
            };
            match result {
                Ok(Renewal::Alive) => {
                    confirmed = sent;
                    next = sent + self.config.retry_period;
                }
                Ok(Renewal::LeaseGone) => break LossReason::LeaseExpired,
                Ok(Renewal::KeyGone) => break LossReason::KeyDeleted,
                Err(e) => {
                    // Another stream next time, perhaps to another member; no answer of
                    // this one can then be taken for a later request's.
                    self.stream = None;
                    let unconfirmed_for = sent.duration_since(confirmed);
                    if self.store.known_unreachable() {
                        tracing::debug!(?unconfirmed_for, "lease renewal failed: {e}");
                    } else if let Some(suppressed) = RETRY_LOG.allow() {
                        tracing::warn!(suppressed, ?unconfirmed_for, "lease renewal failed: {e}");
                    }
                    next = Instant::now() + self.config.retry_period / 2;
                }
            }
        };
        // Believers stop first; then etcd is told.
        state.send_replace(Some(reason));
        if reason != LossReason::Resigned {
            tracing::warn!("leadership or candidacy lost: {reason}");
        }
        self.stream = None;
        match reason {
            LossReason::LeaseExpired => Ok(()),
            LossReason::Resigned => {
                let timeout = self.config.renew_deadline;
                self.revoke(timeout).await
            }
            _ => {
                let timeout = self.config.attempt_timeout();
                let _ = self.revoke(timeout).await;
                Ok(())
            }
        }
    }

    /// One renewal, then a check of the candidate key.
    async fn renew(&mut self) -> Result<Renewal, String> {
        let lease = self.lease;
        match &mut self.stream {
            Some((keeper, stream)) => {
                keeper.keep_alive().await.map_err(|e| describe(&e))?;
                match stream.message().await.map_err(|e| describe(&e))? {
                    Some(r) if r.ttl() > 0 => {}
                    Some(_) => return Ok(Renewal::LeaseGone),
                    None => return Err("the renewal stream ended".into()),
                }
            }
            None => match self.client.lease_keep_alive(lease).await {
                // Opening the stream renews once.
                Ok(pair) => self.stream = Some(pair),
                Err(etcd_client::Error::LeaseKeepAliveError(m)) if m.contains("not found") => {
                    return Ok(Renewal::LeaseGone);
                }
                Err(e) => return Err(describe(&e)),
            },
        }
        if let Some((key, rev)) = self.key.get() {
            let resp = self
                .client
                .get(key.as_str(), None)
                .await
                .map_err(|e| describe(&e))?;
            match resp.kvs().first() {
                Some(kv) if kv.create_revision() == *rev && kv.lease() == lease => {}
                _ => return Ok(Renewal::KeyGone),
            }
        }
        Ok(Renewal::Alive)
    }

    async fn revoke(&mut self, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.client.lease_revoke(self.lease)).await {
            Ok(Ok(_)) => Ok(()),
            // Gone already: what revoking wants.
            Ok(Err(e)) if describe(&e).contains("not found") => Ok(()),
            Ok(Err(e)) => Err(format!("revoking lease {:x}: {}", self.lease, describe(&e))),
            Err(_) => Err(format!(
                "revoking lease {:x}: no answer within {timeout:?}",
                self.lease
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(ElectionConfig::default().check().is_ok());
        let with = |l: u64, r: u64, p: u64| ElectionConfig {
            lease_duration: Duration::from_millis(l),
            renew_deadline: Duration::from_millis(r),
            retry_period: Duration::from_millis(p),
        };
        assert!(with(3000, 2000, 500).check().is_ok());
        for (bad, why) in [
            (with(1500, 1000, 100), "whole number"),
            (with(3000, 3000, 100), "shorter than the lease"),
            (with(3000, 2000, 2000), "retry period"),
            (with(3000, 2000, 0), "retry period"),
        ] {
            let e = bad.check().unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn identities_are_checked() {
        assert!(check_identity("host-a:1234").is_ok());
        assert!(check_identity("").is_err());
        assert!(check_identity("a\nb").is_err());
        assert!(check_identity(&"x".repeat(257)).is_err());
    }
}
