//! The store conformance suite against `ironbell serve api` (the API served from this
//! process on a loopback port, over SQLite), through a kubeconfig the API wrote, as a plane
//! inside Kubernetes would reach its API server.
//!
//! Two cases have nothing to check here, as the store's capabilities say:
//! `case_cluster_scoped_objects` (a kind with and without a namespace: in Kubernetes a kind
//! is namespaced or cluster-scoped, never both) and `case_watch_from_zero_replays_everything`
//! (in Kubernetes a watch from `resourceVersion=0` starts from the current objects).
//! Kubernetes has no compaction request, so `compact` here compacts the SQLite store under
//! the API, and `case_watch_compacted_is_too_old` checks that the server's 410 becomes
//! `TooOld`. Every list is read in pages of two.

mod support;

use support::served;

ironbell_store::store_conformance_tests!(served());
