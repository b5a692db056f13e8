//! The store conformance suite against a three-member etcd cluster on loopback, the store
//! given every member: requests and watches land on any member (followers forward writes
//! to the leader, reads are linearizable), and the contract holds all the same. Every case
//! has its own cluster.

mod support;

use std::sync::Arc;

use ironbell_store::SharedStore;

async fn fresh() -> Option<SharedStore> {
    let served = support::Served::start(3, "/conformance").await?;
    Some(Arc::new(served) as SharedStore)
}

ironbell_store::store_conformance_tests!(optional: fresh());
