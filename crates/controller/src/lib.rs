//! # ironbell-controller
//!
//! A small controller runtime: the loop that drives every ironbell controller (the BMC
//! Machine, Job and Task controllers, the workflow controller). It is to ironbell what
//! controller-runtime is to a Kubernetes operator, cut to what ironbell needs:
//!
//! - a [`Queue`] of object keys: a key is never reconciled twice at once, a key added while
//!   it is being reconciled runs again afterwards, duplicate adds collapse, and keys can be
//!   added after a delay;
//! - a [`Controller`] that fills the queue from store watches ([`ironbell_store::reflector`]):
//!   every new or changed object of its kind, and, through [`Controller::watches`], the
//!   owners of related objects (a Job when one of its Tasks changes);
//! - [`Reconcile`]: the controller's logic, given a key, returning when to look again
//!   ([`Next`]); errors are retried with a per-key exponential backoff.
//!
//! Reconcilers read the current object from the store themselves: the watch only says
//! *which* key to look at, so a reconcile never acts on a stale copy.
//!
//! Every reconcile is counted and timed, and every queue measured, in [`metrics`] (served
//! on the `/metrics` of the services that run controllers).
//!
//! Not here: leader election (one ironbell process owns its store) and informer caches
//! for reads. Start reading at [`Controller::run`].

pub mod metrics;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ironbell_model::Resource;
use ironbell_store::SharedStore;
use ironbell_store::reflector::{ObjectKey, Reflector};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};

/// Shortest wait before a failed reconcile is retried.
pub const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest wait before a failed reconcile is retried.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until the object (or a watched related object) changes.
    Done,
    /// Look again after this long, even if nothing changes.
    After(Duration),
}

/// A controller's logic for objects of kind `K`.
#[async_trait::async_trait]
pub trait Reconcile<K>: Send + Sync + 'static {
    /// Why a reconcile failed; retried with backoff and logged.
    type Error: Display + Send;

    /// Brings the world in line with the object `key` (`namespace`, `name`), which may
    /// no longer exist.
    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Self::Error>;
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<ObjectKey>,
    queued: HashSet<ObjectKey>,
    active: HashSet<ObjectKey>,
    dirty: HashSet<ObjectKey>,
    delayed: BTreeMap<(Instant, u64), ObjectKey>,
    due: HashMap<ObjectKey, (Instant, u64)>,
    seq: u64,
}

impl State {
    fn add(&mut self, key: ObjectKey) -> bool {
        if self.active.contains(&key) {
            self.dirty.insert(key);
            false
        } else if self.queued.insert(key.clone()) {
            if let Some(slot) = self.due.remove(&key) {
                self.delayed.remove(&slot);
            }
            self.ready.push_back(key);
            true
        } else {
            false
        }
    }

    /// Moves delayed keys whose time has come to the ready queue.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.due.remove(&key);
            self.add(key);
        }
    }
}

/// Object keys waiting to be reconciled; see the crate documentation.
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Queues `key` now.
    pub fn add(&self, key: ObjectKey) {
        if self.lock().add(key) {
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`, unless it is already due sooner.
    pub fn add_after(&self, key: ObjectKey, delay: Duration) {
        let at = Instant::now() + delay;
        let mut s = self.lock();
        if s.queued.contains(&key) {
            return;
        }
        if let Some(&(when, seq)) = s.due.get(&key) {
            if when <= at {
                return;
            }
            s.delayed.remove(&(when, seq));
        }
        s.seq += 1;
        let slot = (at, s.seq);
        s.delayed.insert(slot, key.clone());
        s.due.insert(key, slot);
        drop(s);
        self.notify.notify_one();
    }

    /// Waits for the next key to reconcile and marks it active.
    pub async fn next(&self) -> ObjectKey {
        loop {
            let notified = self.notify.notified();
            let wake_at = {
                let mut s = self.lock();
                s.promote(Instant::now());
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.active.insert(key.clone());
                    // Let another waiting worker look at what is left.
                    if !s.ready.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
                s.delayed.first_key_value().map(|((at, _), _)| *at)
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` no longer active; if it was added meanwhile, queues it again.
    pub fn done(&self, key: &ObjectKey) {
        let mut s = self.lock();
        s.active.remove(key);
        if s.dirty.remove(key) && s.add(key.clone()) {
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Keys ready now, delayed, and being reconciled.
    pub fn len(&self) -> (usize, usize, usize) {
        let s = self.lock();
        (s.ready.len(), s.delayed.len(), s.active.len())
    }

    /// Whether nothing is queued, delayed or active.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0, 0)
    }
}

/// Keeps a reflector alive for as long as the controller runs.
type Keepalive = Box<dyn std::any::Any + Send>;

/// A reconcile loop for kind `K`, fed by store watches.
pub struct Controller<K> {
    name: &'static str,
    queue: Arc<Queue>,
    store: SharedStore,
    reflectors: Vec<Keepalive>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<K: Resource> Controller<K> {
    /// A controller named `name` (for logs) over every `K` in `store`: each new or
    /// changed `K` is queued, and every `K` once at start. Must be called inside a Tokio
    /// runtime.
    pub fn new(name: &'static str, store: SharedStore) -> Self {
        let queue = Arc::new(Queue::default());
        let primary = watch::<K>(&store, &queue, |key, _| vec![key.clone()]);
        Self {
            name,
            queue,
            store,
            reflectors: vec![primary],
            _kind: std::marker::PhantomData,
        }
    }

    /// Also queues the keys that `map` names whenever an object of kind `T` is added,
    /// changed or deleted (given its key and, unless deleted, the object).
    pub fn watches<T: Resource>(
        mut self,
        map: impl Fn(&ObjectKey, Option<&T>) -> Vec<ObjectKey> + Send + 'static,
    ) -> Self {
        let r = watch::<T>(&self.store, &self.queue, map);
        self.reflectors.push(r);
        self
    }

    /// The queue, to add keys from elsewhere.
    pub fn queue(&self) -> Arc<Queue> {
        self.queue.clone()
    }

    /// Reconciles queued keys with `reconciler`, up to `concurrency` keys at once (never
    /// one key twice at once), forever.
    pub async fn run<R: Reconcile<K>>(self, reconciler: Arc<R>, concurrency: usize) {
        let failures: Arc<Mutex<HashMap<ObjectKey, u32>>> = Arc::default();
        let metrics = metrics::global();
        metrics.watch_queue(self.name, &self.queue);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let queue = self.queue.clone();
            let reconciler = reconciler.clone();
            let failures = failures.clone();
            let name = self.name;
            workers.spawn(async move {
                loop {
                    let key = queue.next().await;
                    let span = info_span!("reconcile", controller = name, kind = K::KIND, object = %format!("{}/{}", key.0, key.1));
                    let started = Instant::now();
                    let result = reconciler.reconcile(&key).instrument(span.clone()).await;
                    let outcome = match result {
                        Ok(Next::Done) => metrics::Outcome::Done,
                        Ok(Next::After(_)) => metrics::Outcome::Requeue,
                        Err(_) => metrics::Outcome::Error,
                    };
                    metrics.reconciled(name, outcome, started.elapsed());
                    let _enter = span.enter();
                    match result {
                        Ok(next) => {
                            lock(&failures).remove(&key);
                            if let Next::After(delay) = next {
                                debug!(?delay, "look again later");
                                queue.add_after(key.clone(), delay);
                            }
                        }
                        Err(e) => {
                            let n = {
                                let mut f = lock(&failures);
                                let n = f.entry(key.clone()).or_insert(0);
                                *n = n.saturating_add(1);
                                *n
                            };
                            let delay = backoff(n);
                            warn!(attempt = n, retry_in = ?delay, "reconcile failed: {e}");
                            queue.add_after(key.clone(), delay);
                        }
                    }
                    queue.done(&key);
                }
            });
        }
        let _keep = self.reflectors;
        while workers.join_next().await.is_some() {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The wait before retry number `attempt` (1-based).
pub fn backoff(attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    BACKOFF_MIN.saturating_mul(factor).min(BACKOFF_MAX)
}

/// Starts a reflector over `T` that queues `map(key, object)` for each object that is new,
/// changed (by `resourceVersion`) or gone since the last publish.
fn watch<T: Resource>(
    store: &SharedStore,
    queue: &Arc<Queue>,
    map: impl Fn(&ObjectKey, Option<&T>) -> Vec<ObjectKey> + Send + 'static,
) -> Keepalive {
    let queue = queue.clone();
    let mut seen: HashMap<ObjectKey, Option<String>> = HashMap::new();
    let reflector = Reflector::<T>::start(store.clone(), move |objects, _rv| {
        let mut next = HashMap::with_capacity(objects.len());
        for (key, obj) in objects {
            let rv = obj.metadata().resource_version.clone();
            let changed = seen.get(key) != Some(&rv);
            if changed {
                for k in map(key, Some(obj)) {
                    queue.add(k);
                }
            }
            next.insert(key.clone(), rv);
        }
        for key in seen.keys() {
            if !next.contains_key(key) {
                for k in map(key, None) {
                    queue.add(k);
                }
            }
        }
        seen = next;
    });
    Box::new(reflector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> ObjectKey {
        ("default".into(), n.into())
    }

    #[tokio::test]
    async fn duplicates_collapse_and_active_keys_rerun_after() {
        let q = Queue::default();
        q.add(key("a"));
        q.add(key("a"));
        q.add(key("b"));
        assert_eq!(q.next().await, key("a"));
        // Added while active: not handed out again until done.
        q.add(key("a"));
        assert_eq!(q.next().await, key("b"));
        assert_eq!(q.len(), (0, 0, 2));
        q.done(&key("a"));
        assert_eq!(q.next().await, key("a"));
        q.done(&key("a"));
        q.done(&key("b"));
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_come_due_and_an_add_overrides_the_delay() {
        let q = Queue::default();
        q.add_after(key("late"), Duration::from_secs(10));
        q.add_after(key("soon"), Duration::from_secs(1));
        q.add_after(key("soon"), Duration::from_secs(5)); // later: ignored
        let start = Instant::now();
        assert_eq!(q.next().await, key("soon"));
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert!(start.elapsed() < Duration::from_secs(5));
        q.done(&key("soon"));
        q.add(key("late")); // now, not in 10 s
        assert_eq!(q.next().await, key("late"));
        assert!(start.elapsed() < Duration::from_secs(5));
        q.done(&key("late"));
        assert!(q.is_empty());
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(1), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
