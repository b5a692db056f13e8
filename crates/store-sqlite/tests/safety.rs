//! File safety: the database and its WAL files are private (0600), old Secret values do not
//! stay in the history table, and only one holder of the controller lock at a time.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::Store;
use ironbell_store_sqlite::{LockError, SqliteStore};
use serde_json::json;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn secret_types() -> TypeKey {
    TypeKey::new("v1", "Secret")
}

fn secret(password: &str) -> DynamicObject {
    let mut obj = DynamicObject::new(secret_types(), ObjectMeta::named("eksa-system", "bmc-auth"));
    obj.set_field("type", &json!("kubernetes.io/basic-auth"))
        .unwrap();
    obj.set_field(
        "stringData",
        &json!({ "username": "admin", "password": password }),
    )
    .unwrap();
    obj
}

/// Every row of the events table, as text.
fn history(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT data FROM events ORDER BY rev")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn database_and_wal_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ironbell.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create(secret("first")).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("ironbell.db{suffix}"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(store);

    // A database left readable by others (by an older version) is tightened on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SqliteStore::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn old_secret_values_leave_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ironbell.db");
    let store = SqliteStore::open(&path).unwrap();
    let created = store.create(secret("old-password-1")).await.unwrap();
    let mut next = secret("new-password-2");
    next.metadata.resource_version = created.metadata.resource_version.clone();
    let updated = store.update(next).await.unwrap();

    let rows = history(&path);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| !r.contains("old-password-1")),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("new-password-2"),
        "the current value is kept"
    );
    let current = store
        .get(&secret_types(), "eksa-system", "bmc-auth")
        .await
        .unwrap();
    assert_eq!(current, updated);

    store
        .delete(&secret_types(), "eksa-system", "bmc-auth", None)
        .await
        .unwrap();
    let rows = history(&path);
    assert_eq!(rows.len(), 3, "the events stay, without values");
    assert!(rows.iter().all(|r| !r.contains("password")), "{rows:?}");
    assert!(rows[2].contains("bmc-auth"));
}

#[tokio::test]
async fn one_controller_lock_holder_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ironbell.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let held = a.lock_controllers().unwrap();
    assert_eq!(mode(held.path()), 0o600);
    // flock locks belong to the open file: a second open, even in this process, is refused.
    match b.lock_controllers() {
        Err(LockError::Held { pid, path: p }) => {
            assert_eq!(pid, Some(std::process::id()));
            assert_eq!(p, held.path());
            let message = b.lock_controllers().unwrap_err().to_string();
            assert!(
                message.contains(&format!("PID {}", std::process::id())),
                "{message}"
            );
        }
        other => panic!("second lock: {other:?}"),
    }
    drop(held);
    let _again = b.lock_controllers().unwrap();
}
