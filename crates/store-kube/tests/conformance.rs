//! The store conformance suite against `ironbell serve api` (the API served from this
//! process on a loopback port, over SQLite), through a kubeconfig the API wrote, as a plane
//! inside Kubernetes would reach its API server.
//!
//! Left out: `case_cluster_scoped_objects`, which stores a Widget with and without a
//! namespace: in Kubernetes a kind is namespaced or cluster-scoped, never both, so no API
//! server takes both; and `case_watch_from_zero_replays_everything`: in Kubernetes a watch
//! from `resourceVersion=0` starts from the current objects, not from the first write. Kubernetes has no compaction request, so `compact` here compacts the
//! SQLite store under the API, and `case_watch_compacted_is_too_old` checks that the
//! server's 410 becomes `TooOld`.

use std::sync::Arc;

use ironbell_kube_api::{ApiConfig, ApiState, Role, Security, ServingCert};
use ironbell_model::{DynamicObject, KindRegistry, TypeKey};
use ironbell_store::conformance::{Gadget, Widget};
use ironbell_store::{
    Capabilities, ListParams, ObjectList, Op, Result, SharedStore, Store, WatchStream,
};
use ironbell_store_kube::{KubeStore, Source};

/// The store under test, the API serving it and the store under the API.
struct Served {
    kube: KubeStore,
    backing: SharedStore,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn kinds() -> KindRegistry {
    let mut kinds = KindRegistry::builtin();
    kinds
        .register::<Widget>()
        .and_then(|k| k.register::<Gadget>())
        .expect("test kinds");
    kinds
}

async fn served() -> SharedStore {
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
    let state = Arc::new(ApiState {
        store: backing.clone(),
        kinds: kinds(),
        security: security.clone(),
        config: ApiConfig::default(),
    });
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

ironbell_store::store_conformance_tests!(@cases required served();
    case_create_then_get,
    case_create_existing_is_already_exists,
    case_get_missing_is_not_found,
    case_create_sets_server_fields,
    case_list_by_namespace_ordered,
    case_list_with_selectors,
    case_update_bumps_resource_version,
    case_update_stale_is_conflict_without_lost_update,
    case_update_without_resource_version_is_invalid,
    case_update_missing_is_not_found,
    case_update_keeps_status,
    case_update_status_changes_only_status,
    case_generation_tracks_spec_only,
    case_delete,
    case_delete_with_precondition,
    case_commit_applies_all_in_order,
    case_commit_is_atomic,
    case_watch_from_list_version,
    case_watch_filters_namespace_and_selector,
    case_watch_from_now,
    case_watch_replays_history,
    case_watch_compacted_is_too_old,
    case_concurrent_watchers_agree,
    case_concurrent_increments_lose_nothing,
    case_kinds_do_not_collide,
    case_typed_api,
    case_object_size_limit,
    case_invalid_names_are_refused,
    case_commit_limit_is_kept,
    case_commit_in_batches_resumes,
);
