//! The store conformance suite against a real etcd (Debian's `etcd-server`): every case on
//! a fresh one-member server on loopback ports, so cases run in parallel and each sees only
//! its own revisions and compactions (etcd compacts a whole cluster).

mod support;

use std::sync::Arc;

use ironbell_store::SharedStore;

async fn fresh() -> Option<SharedStore> {
    let served = support::Served::start(1, "/conformance").await?;
    Some(Arc::new(served) as SharedStore)
}

ironbell_store::store_conformance_tests!(optional: fresh());
