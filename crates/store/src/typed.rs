//! [`Api`]: typed access to one kind in any [`Store`](crate::Store).
//!
//! Services work with typed objects (`Hardware`, `Workflow`, ...); the store keeps
//! [`DynamicObject`]s. `Api<K>` converts on the way in and out through
//! [`DynamicObject::from_typed`] and [`DynamicObject::to_typed`], and adds [`Api::modify`],
//! the read-modify-write loop that retries on [`StoreError::Conflict`](crate::StoreError::Conflict).

use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use ironbell_model::{DynamicObject, Resource, TypeKey};

use crate::{ListParams, Result, SharedStore, WatchEvent};

/// How many times [`Api::modify`] tries before giving up with the last `Conflict`.
pub const MODIFY_ATTEMPTS: usize = 64;

/// A change seen by a typed watch.
#[derive(Clone, Debug, PartialEq)]
pub enum TypedEvent<K> {
    /// Created.
    Added(K),
    /// Updated.
    Modified(K),
    /// Deleted (its last state).
    Deleted(K),
}

impl<K> TypedEvent<K> {
    /// The object of the event.
    pub fn object(&self) -> &K {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }

    /// The object of the event, by value.
    pub fn into_object(self) -> K {
        match self {
            Self::Added(o) | Self::Modified(o) | Self::Deleted(o) => o,
        }
    }
}

/// A typed stream of changes, in revision order, without gaps.
pub type TypedWatchStream<K> = Pin<Box<dyn Stream<Item = Result<TypedEvent<K>>> + Send>>;

/// Typed access to one kind in a store.
pub struct Api<K> {
    store: SharedStore,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Self::new(self.store.clone())
    }
}

impl<K> Api<K> {
    /// A typed view of `store`.
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            _k: PhantomData,
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }
}

impl<K: Resource> Api<K> {
    fn types() -> TypeKey {
        TypeKey::of::<K>()
    }

    fn to_dynamic(obj: &K) -> Result<DynamicObject> {
        Ok(DynamicObject::from_typed(obj)?)
    }

    /// One object.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<K> {
        Ok(self
            .store
            .get(&Self::types(), namespace, name)
            .await?
            .to_typed()?)
    }

    /// Objects matching `params`, ordered by namespace then name, with the store revision
    /// the list reflects (watch from it to see every later change).
    pub async fn list(&self, params: &ListParams) -> Result<(Vec<K>, u64)> {
        let list = self.store.list(&Self::types(), params).await?;
        let items = list
            .items
            .iter()
            .map(DynamicObject::to_typed)
            .collect::<Result<Vec<K>, _>>()?;
        Ok((items, list.resource_version))
    }

    /// Creates the object; returns it as stored (with `resourceVersion`, `uid`, ...).
    pub async fn create(&self, obj: &K) -> Result<K> {
        Ok(self
            .store
            .create(Self::to_dynamic(obj)?)
            .await?
            .to_typed()?)
    }

    /// Replaces the object except its status; its `resourceVersion` must be current.
    pub async fn update(&self, obj: &K) -> Result<K> {
        Ok(self
            .store
            .update(Self::to_dynamic(obj)?)
            .await?
            .to_typed()?)
    }

    /// Replaces only the object's status; its `resourceVersion` must be current.
    pub async fn update_status(&self, obj: &K) -> Result<K> {
        Ok(self
            .store
            .update_status(Self::to_dynamic(obj)?)
            .await?
            .to_typed()?)
    }

    /// Deletes the object and returns its last state.
    pub async fn delete(&self, namespace: &str, name: &str) -> Result<K> {
        Ok(self
            .store
            .delete(&Self::types(), namespace, name, None)
            .await?
            .to_typed()?)
    }

    /// Changes after `resource_version` (`None`: from now on), filtered by `params`.
    /// An object that cannot be converted ends up as an `Err` item, not a dropped event.
    pub async fn watch(
        &self,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<TypedWatchStream<K>> {
        let stream = self
            .store
            .watch(&Self::types(), params, resource_version)
            .await?;
        Ok(Box::pin(stream.map(|item| {
            Ok(match item? {
                WatchEvent::Added(o) => TypedEvent::Added(o.to_typed()?),
                WatchEvent::Modified(o) => TypedEvent::Modified(o.to_typed()?),
                WatchEvent::Deleted(o) => TypedEvent::Deleted(o.to_typed()?),
            })
        })))
    }

    /// Reads the object, applies `change`, and writes it back with [`Api::update`]; on
    /// `Conflict` reads again and retries, up to `MODIFY_ATTEMPTS` times. `change` may
    /// therefore run more than once, each time on a fresh copy. Returns the stored result.
    pub async fn modify<F>(&self, namespace: &str, name: &str, change: F) -> Result<K>
    where
        F: FnMut(&mut K),
    {
        self.modify_with(namespace, name, change, false).await
    }

    /// Like [`Api::modify`], but writes with [`Api::update_status`], so only the status
    /// changes the closure makes are kept.
    pub async fn modify_status<F>(&self, namespace: &str, name: &str, change: F) -> Result<K>
    where
        F: FnMut(&mut K),
    {
        self.modify_with(namespace, name, change, true).await
    }

    async fn modify_with<F>(
        &self,
        namespace: &str,
        name: &str,
        mut change: F,
        status: bool,
    ) -> Result<K>
    where
        F: FnMut(&mut K),
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut obj = self.get(namespace, name).await?;
            change(&mut obj);
            let written = if status {
                self.update_status(&obj).await
            } else {
                self.update(&obj).await
            };
            match written {
                Err(e) if e.is_conflict() && attempt < MODIFY_ATTEMPTS => {
                    backoff(attempt).await;
                }
                other => return other,
            }
        }
    }
}

/// A short pause after a conflict so contenders spread out: nothing for the first few
/// attempts, then a growing, slightly scattered sleep of at most a few milliseconds.
async fn backoff(attempt: usize) {
    if attempt < 4 {
        tokio::task::yield_now().await;
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let cap = (attempt as u64).min(20) * 250;
    let micros = u64::from(nanos) % cap + 50;
    tokio::time::sleep(Duration::from_micros(micros)).await;
}
