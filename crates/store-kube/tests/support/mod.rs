//! The store under test for `store-kube`'s tests: a [`KubeStore`] through a kubeconfig to
//! `ironbell serve api`, served from the test's process on loopback over SQLite.

#![allow(dead_code)]

#[path = "../../../kube-api/tests/common/mod.rs"]
mod api;

use std::sync::Arc;

use ironbell_kube_api::{ApiConfig, Role};
use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::conformance::{Gadget, Widget};
use ironbell_store::{
    Capabilities, ListParams, ObjectList, Op, Result, SharedStore, Store, WatchStream,
};
use ironbell_store_kube::{KubeStore, Source};

/// The store under test, the API serving it and the store under the API.
pub struct Served {
    kube: KubeStore,
    backing: SharedStore,
    _api: api::Api,
}

/// The built-in kinds and the conformance suite's.
pub fn kinds() -> KindRegistry {
    let mut kinds = KindRegistry::builtin();
    kinds
        .register::<Widget>()
        .and_then(|k| k.register::<Gadget>())
        .expect("test kinds");
    kinds
}

/// A fresh store through a new API on loopback (see [`served_with`]).
pub async fn served() -> SharedStore {
    served_with(ApiConfig::default()).await
}

/// A fresh store through a new API on loopback with `config`, over SQLite in a temporary
/// directory, reached through an admin kubeconfig the API wrote; the API stops when the
/// store is dropped.
pub async fn served_with(config: ApiConfig) -> SharedStore {
    let api = api::Api::start_with(config, kinds()).await;
    let kubeconfig = api.kubeconfig("kubeconfig", Role::Admin, false);
    // Small pages, so that every list of the suite is read in several.
    let kube = KubeStore::new(Source::Kubeconfig(kubeconfig), kinds()).with_page_size(2);
    let backing = api.store.clone();
    Arc::new(Served {
        kube,
        backing,
        _api: api,
    })
}

#[async_trait::async_trait]
impl Store for Served {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        self.kube.get(types, namespace, name).await
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        self.kube.list(types, params).await
    }

    async fn list_each(
        &self,
        types: &TypeKey,
        params: &ListParams,
        each: &mut (dyn FnMut(DynamicObject) + Send),
    ) -> Result<u64> {
        self.kube.list_each(types, params, each).await
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        self.kube.update_status(obj).await
    }

    fn capabilities(&self) -> Capabilities {
        self.kube.capabilities()
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        self.kube.commit(ops).await
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        self.kube.watch(types, params, resource_version).await
    }

    async fn compact(&self, keep_after: u64) -> Result<()> {
        self.backing.compact(keep_after).await
    }
}
