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

/// Every object of one kind, by namespace and name.
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
        let (tx, synced) = watch::channel(false);
        let handle = tokio::spawn(follow::<K, F>(store, keep, publish, tx));
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

/// Applies one watch event to the working set and advances `rv` to its revision.
fn apply_event<K: Resource>(
    objects: &mut Objects<K>,
    rv: &mut u64,
    event: &WatchEvent,
    keep: fn(&DynamicObject) -> bool,
) {
    *rv = revision(event.object()).unwrap_or(*rv);
    match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) if keep(o) => apply_object(objects, o),
        WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
            objects.remove(&(o.namespace().to_string(), o.name().to_string()));
        }
    }
}

fn apply_object<K: Resource>(objects: &mut Objects<K>, obj: &DynamicObject) {
    let key = (obj.namespace().to_string(), obj.name().to_string());
    match obj.to_typed::<K>() {
        Ok(typed) => {
            objects.insert(key, Arc::new(typed));
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

fn revision(obj: &DynamicObject) -> Option<u64> {
    obj.metadata.resource_version.as_deref()?.parse().ok()
}

/// The background task: list, watch, apply; list again on any trouble.
async fn follow<K, F>(
    store: SharedStore,
    keep: fn(&DynamicObject) -> bool,
    mut publish: F,
    synced: watch::Sender<bool>,
) where
    K: Resource,
    F: FnMut(&Objects<K>, u64),
{
    let kind = K::KIND;
    let types = TypeKey::of::<K>();
    let params = ListParams::default();
    let mut objects: Objects<K> = BTreeMap::new();
    let mut retry = RETRY_MIN;
    loop {
        let list = match store.list(&types, &params).await {
            Ok(list) => list,
            Err(e) => {
                warn!("listing {kind} failed, retrying in {retry:?}: {e}");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        objects.clear();
        for obj in list.items.iter().filter(|o| keep(o)) {
            apply_object(&mut objects, obj);
        }
        drop(list.items);
        let mut rv = list.resource_version;
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
                    apply_event(&mut objects, &mut rv, &event, keep);
                    while let Some(next) = stream.next().now_or_never() {
                        match next {
                            Some(Ok(event)) => apply_event(&mut objects, &mut rv, &event, keep),
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
