//! The shared store conformance suite, run on a fresh SQLite file per case.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ironbell_store::SharedStore;
use ironbell_store_sqlite::SqliteStore;

/// A fresh database file under the target directory (removed again by the next run).
fn fresh_path() -> PathBuf {
    static ONCE: std::sync::Once = std::sync::Once::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-sqlite-conformance");
    ONCE.call_once(|| {
        let _ = std::fs::remove_dir_all(&dir);
    });
    std::fs::create_dir_all(&dir).expect("create test directory");
    dir.join(format!("{}.db", N.fetch_add(1, Ordering::Relaxed)))
}

async fn fresh_store() -> SharedStore {
    let path = fresh_path();
    Arc::new(SqliteStore::open(&path).expect("open store"))
}

ironbell_store::store_conformance_tests!(fresh_store());
