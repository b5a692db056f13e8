//! A reflector: an in-memory copy of every object of one kind, kept current from a store.
//!
//! Services answer from memory and never wait on the store: the boot service's Hardware
//! index, the metadata service and the controllers all build their views from a
//! [`Reflector`]. A background task lists every object, then watches from the list's
//! revision and applies each change. When the watch fails (history compacted:
//! [`StoreError::TooOld`]), closes, or every [`RESYNC_PERIOD`], it lists again.
//!
//! After the first list and after each batch of changes, the reflector calls its `publish`
//! callback with the whole set. Events already waiting are applied together before one
//! call, so a bulk import of N objects costs one rebuild per batch, not N. Objects that do
//! not convert to the typed kind are logged and left out: serving their previous state
//! would be serving stale data.
//!
//! A service that needs only a few fields of each object keeps a compact record of its own
//! instead of the whole typed object ([`Reflector::start_mapped`]): the boot service keeps
//! what DHCP and iPXE read of a Hardware and the metadata service what it answers, a
//! fraction of its size, so that a replica holding 100,000 Hardware stays small. The first list is converted and dropped object by object.
//!
//! This is not a cache that writes: changes go to the store, and come back through the
//! watch.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use ironbell_model::{DynamicObject, Resource, TypeKey};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::{ListParams, SharedStore, StoreError, WatchEvent};

/// How often a reflector lists everything again even when its watch is healthy.
pub const RESYNC_PERIOD: Duration = Duration::from_secs(300);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// `(namespace, name)` of an object.
pub type ObjectKey = (String, String);

/// Every object of one kind (or the record a mapped reflector keeps of each), by namespace
/// and name.
pub type Objects<K> = BTreeMap<ObjectKey, Arc<K>>;

/// A running reflector for kind `K`. Dropping it stops the background task.
#[derive(Debug)]
pub struct Reflector<K> {
    synced: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Drop for Reflector<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<K: Resource> Reflector<K> {
    /// Starts following every `K` in `store`. `publish` receives the whole set and the store
    /// revision it reflects, after the first list and after every batch of changes. Returns
    /// at once; see [`Reflector::synced`]. Must be called inside a Tokio runtime.
    pub fn start<F>(store: SharedStore, publish: F) -> Self
    where
        F: FnMut(&Objects<K>, u64) + Send + 'static,
    {
        Self::start_filtered(store, |_| true, publish)
    }

    /// [`Reflector::start`], holding only the objects `keep` accepts (read before they
    /// are converted to `K`): for a service that needs a few objects of a kind the store
    /// holds many of (the boot service's agent-token Secrets among every BMC Secret), so
    /// that it does not keep the others in memory. An object that stops being accepted
    /// leaves the set as a deleted one would.
    pub fn start_filtered<F>(
        store: SharedStore,
        keep: fn(&DynamicObject) -> bool,
        publish: F,
    ) -> Self
    where
        F: FnMut(&Objects<K>, u64) + Send + 'static,
    {
        Self::start_mapped(store, keep, |k: K| k, publish)
    }

    /// [`Reflector::start_filtered`], keeping for each object only what `map` makes of it
    /// (a compact record of the fields a service reads) instead of the typed object: the
    /// typed object lives only while `map` runs. `publish` receives the records.
    pub fn start_mapped<P, M, F>(
        store: SharedStore,
        keep: fn(&DynamicObject) -> bool,
        map: M,
        publish: F,
    ) -> Self
    where
        P: Send + Sync + 'static,
        M: Fn(K) -> P + Send + Sync + 'static,
        F: FnMut(&Objects<P>, u64) + Send + 'static,
    {
        let (tx, synced) = watch::channel(false);
        let follower = Follower {
            keep,
            map,
            _kind: PhantomData::<fn() -> K>,
        };
        let handle = tokio::spawn(follow(store, follower, publish, tx));
        Self {
            synced,
            task: handle.abort_handle(),
            _kind: PhantomData,
        }
    }

    /// Waits until the first full list has been published.
    pub async fn synced(&self) {
        let mut rx = self.synced.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Whether the first full list has been published.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }
}

/// What a reflector keeps of each object: which objects (`keep`, read before conversion)
/// and what of them (`map`, from the typed `K`).
struct Follower<K, M> {
    keep: fn(&DynamicObject) -> bool,
    map: M,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Resource, P, M: Fn(K) -> P> Follower<K, M> {
    /// Applies one watch event to the working set and advances `rv` to its revision.
    fn apply_event(&self, objects: &mut Objects<P>, rv: &mut u64, event: WatchEvent) {
        *rv = revision(event.object()).unwrap_or(*rv);
        match event {
            WatchEvent::Added(o) | WatchEvent::Modified(o) if (self.keep)(&o) => {
                self.apply_object(objects, o);
            }
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                objects.remove(&(o.namespace().to_string(), o.name().to_string()));
            }
        }
    }

    /// Converts `obj` and puts its record in the set (or takes it out when it cannot be
    /// read); `obj` is dropped here.
    fn apply_object(&self, objects: &mut Objects<P>, obj: DynamicObject) {
        let key = (obj.namespace().to_string(), obj.name().to_string());
        match obj.to_typed::<K>() {
            Ok(typed) => {
                objects.insert(key, Arc::new((self.map)(typed)));
            }
            Err(e) => {
                error!(
                    "{} {}/{} cannot be read, left out: {e}",
                    K::KIND,
                    key.0,
                    key.1
                );
                objects.remove(&key);
            }
        }
    }
}

fn revision(obj: &DynamicObject) -> Option<u64> {
    obj.metadata.resource_version.as_deref()?.parse().ok()
}

/// The background task: list, watch, apply; list again on any trouble.
async fn follow<K, P, M, F>(
    store: SharedStore,
    follower: Follower<K, M>,
    mut publish: F,
    synced: watch::Sender<bool>,
) where
    K: Resource,
    P: Send + Sync,
    M: Fn(K) -> P + Send + Sync,
    F: FnMut(&Objects<P>, u64),
{
    let kind = K::KIND;
    let types = TypeKey::of::<K>();
    let params = ListParams::default();
    let mut objects: Objects<P>;
    let mut retry = RETRY_MIN;
    loop {
        // Each stored object is converted and dropped as the store hands it over, so the
        // list is never whole in memory; the previous set is served until it is complete.
        let mut fresh: Objects<P> = BTreeMap::new();
        let listed = store
            .list_each(&types, &params, &mut |obj| {
                if (follower.keep)(&obj) {
                    follower.apply_object(&mut fresh, obj);
                }
            })
            .await;
        let mut rv = match listed {
            Ok(rv) => rv,
            Err(e) => {
                warn!("listing {kind} failed, retrying in {retry:?}: {e}");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        objects = fresh;
        publish(&objects, rv);
        synced.send_replace(true);
        debug!(
            kind,
            objects = objects.len(),
            resource_version = rv,
            "listed"
        );
        let mut stream = match store.watch(&types, &params, Some(rv)).await {
            Ok(s) => s,
            Err(e) => {
                warn!("watching {kind} from {rv} failed, listing again in {retry:?}: {e}");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        retry = RETRY_MIN;
        let resync = tokio::time::sleep(RESYNC_PERIOD);
        tokio::pin!(resync);
        // An item already taken from the stream while draining, to handle first.
        let mut pending = None;
        loop {
            let event = match pending.take() {
                Some(event) => event,
                None => tokio::select! {
                    _ = &mut resync => {
                        debug!(kind, "periodic resync");
                        break;
                    }
                    event = stream.next() => event,
                },
            };
            match event {
                None => {
                    warn!("{kind} watch closed at revision {rv}; listing again");
                    tokio::time::sleep(RETRY_MIN).await;
                    break;
                }
                Some(Err(e @ StoreError::TooOld { .. })) => {
                    info!("{kind} watch: {e}");
                    break;
                }
                Some(Err(e)) => {
                    warn!("{kind} watch failed at revision {rv}, listing again: {e}");
                    tokio::time::sleep(RETRY_MIN).await;
                    break;
                }
                Some(Ok(event)) => {
                    follower.apply_event(&mut objects, &mut rv, event);
                    while let Some(next) = stream.next().now_or_never() {
                        match next {
                            Some(Ok(event)) => follower.apply_event(&mut objects, &mut rv, event),
                            end_or_error => {
                                pending = Some(end_or_error);
                                break;
                            }
                        }
                    }
                    publish(&objects, rv);
                }
            }
        }
    }
}
