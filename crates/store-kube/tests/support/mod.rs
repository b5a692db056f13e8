//! The store under test for `store-kube`'s tests: a [`KubeStore`] through a kubeconfig to
//! `ironbell serve api`, served from the test's process on loopback over SQLite.

#![allow(dead_code)]

use std::sync::Arc;

use ironbell_kube_api::{ApiConfig, ApiState, Role, Security, ServingCert};
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
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
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
/// directory; the API stops when the store is dropped.
pub async fn served_with(config: ApiConfig) -> SharedStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let backing: SharedStore = Arc::new(
        ironbell_store_sqlite::SqliteStore::open(dir.path().join("store.db")).expect("store"),
    );
    let security = Arc::new(
        Security::load_or_create(&dir.path().join("api"), &ServingCert::Generated)
            .expect("credentials"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = format!("https://{}", listener.local_addr().expect("addr"));
    let state = Arc::new(ApiState::new(
        backing.clone(),
        kinds(),
        security.clone(),
        config,
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ironbell_kube_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let kubeconfig = dir.path().join("kubeconfig");
    let text = ironbell_kube_api::kubeconfig(&server, &security, Role::Admin, false, "plane")
        .expect("kubeconfig");
    std::fs::write(&kubeconfig, text).expect("write kubeconfig");
    // Small pages, so that every list of the suite is read in several.
    let kube = KubeStore::new(Source::Kubeconfig(kubeconfig), kinds()).with_page_size(2);
    Arc::new(Served {
        kube,
        backing,
        _dir: dir,
        _stop: stop,
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
