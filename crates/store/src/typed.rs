//! STUB: typed facade.
use std::marker::PhantomData;

use crate::SharedStore;

/// Typed access to one kind in a store.
pub struct Api<K> {
    store: SharedStore,
    _k: PhantomData<fn() -> K>,
}

impl<K> Api<K> {
    /// A typed view of `store`.
    pub fn new(store: SharedStore) -> Self {
        Self { store, _k: PhantomData }
    }

    /// The underlying store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }
}
