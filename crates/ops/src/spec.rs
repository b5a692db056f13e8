//! Opening a store from a spec.
//!
//! A spec is `sqlite:PATH` or a bare path (the embedded store). `etcd://...` and
//! `kubernetes:...` name backends ironbell will have and are refused with "not supported
//! yet"; any other `scheme://` is an unknown scheme. A bare path containing `:` but no `://`
//! (`./a:b.db`) is a path.
//!
//! A new store is private: its directory is created 0700 and the database 0600 (it holds
//! BMC credentials). Read-only commands open with [`Access::Existing`], which refuses a
//! missing database instead of creating an empty one.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use ironbell_store::SharedStore;
use ironbell_store_sqlite::{ControllerLock, SqliteStore};

use crate::OpsError;

/// Where a store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded store: one SQLite file.
    Sqlite(PathBuf),
}

/// Backends that are planned but not built, by scheme.
const PLANNED: &[(&str, &str)] = &[
    ("etcd", "etcd"),
    ("etcds", "etcd"),
    ("kubernetes", "Kubernetes"),
    ("k8s", "Kubernetes"),
];

impl FromStr for StoreSpec {
    type Err = OpsError;

    fn from_str(spec: &str) -> Result<Self, OpsError> {
        let empty = || OpsError::EmptySpec {
            spec: spec.to_string(),
        };
        if spec.trim().is_empty() {
            return Err(empty());
        }
        let scheme = spec.split_once(':').map(|(s, _)| s).filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let Some(scheme) = scheme else {
            return Ok(Self::Sqlite(PathBuf::from(spec)));
        };
        let lower = scheme.to_ascii_lowercase();
        let rest = &spec[scheme.len() + 1..];
        if lower == "sqlite" {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(empty());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some((_, backend)) = PLANNED.iter().find(|(s, _)| *s == lower) {
            return Err(OpsError::UnsupportedBackend {
                spec: spec.to_string(),
                backend,
            });
        }
        if rest.starts_with("//") {
            return Err(OpsError::UnknownScheme {
                spec: spec.to_string(),
                scheme: scheme.to_string(),
            });
        }
        Ok(Self::Sqlite(PathBuf::from(spec)))
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
        }
    }
}

impl StoreSpec {
    /// The directory files that belong with the store go in by default (machine logs):
    /// the database's directory.
    pub fn state_dir(&self) -> PathBuf {
        match self {
            Self::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        }
    }
}

/// Whether opening may create the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Create it (private) if it does not exist: commands that write, services.
    Create,
    /// Refuse a store that does not exist: read-only commands (`get`, `logs`,
    /// `bmc power status`).
    Existing,
}

/// An open store.
#[derive(Clone)]
pub struct StoreHandle {
    spec: StoreSpec,
    store: SharedStore,
    sqlite: Option<SqliteStore>,
}

impl fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreHandle")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl StoreHandle {
    /// The store, for services and operations.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Where it is.
    pub fn spec(&self) -> &StoreSpec {
        &self.spec
    }

    /// Takes the right to run controllers on this store, so that two processes never run
    /// the same controllers (every BMC Job twice). On the embedded store this is an
    /// exclusive `flock` beside the database; a second process fails with an error naming
    /// the holder's PID.
    pub fn lock_controllers(&self) -> Result<Option<ControllerLock>, OpsError> {
        match &self.sqlite {
            Some(s) => Ok(Some(s.lock_controllers()?)),
            None => Ok(None),
        }
    }

    /// A handle over any store (tests, wrappers); it has no controller lock.
    pub fn from_store(spec: StoreSpec, store: SharedStore) -> Self {
        Self {
            spec,
            store,
            sqlite: None,
        }
    }
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), OpsError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| OpsError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Opens the store `spec` names. Blocks on file I/O (call it at startup).
pub fn open(spec: &StoreSpec, access: Access) -> Result<StoreHandle, OpsError> {
    match spec {
        StoreSpec::Sqlite(path) => {
            if access == Access::Existing && !path.is_file() {
                return Err(OpsError::MissingStore { path: path.clone() });
            }
            if let Some(parent) = path.parent() {
                create_private_dir(parent)?;
            }
            let sqlite = SqliteStore::open(path).map_err(|source| OpsError::Open {
                path: path.clone(),
                source: Box::new(source),
            })?;
            Ok(StoreHandle {
                spec: spec.clone(),
                store: Arc::new(sqlite.clone()),
                sqlite: Some(sqlite),
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StoreSpec, OpsError> {
        s.parse()
    }

    #[test]
    fn specs() {
        let sqlite = |p: &str| Ok::<_, ()>(StoreSpec::Sqlite(PathBuf::from(p)));
        assert_eq!(
            parse("sqlite:/var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(
            parse("sqlite:///var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(parse("SQLite:rel.db").map_err(drop), sqlite("rel.db"));
        assert_eq!(
            parse("/var/lib/x.db").map_err(drop),
            sqlite("/var/lib/x.db")
        );
        assert_eq!(parse("rel/x.db").map_err(drop), sqlite("rel/x.db"));
        assert_eq!(parse("./a:b.db").map_err(drop), sqlite("./a:b.db"));
        assert_eq!(parse("a:b.db").map_err(drop), sqlite("a:b.db"));
        assert_eq!(
            parse("sqlite:/x.db").map(|s| s.to_string()).ok(),
            Some("sqlite:/x.db".to_string())
        );
    }

    #[test]
    fn refused_specs_say_why() {
        let message = |s: &str| parse(s).map(|_| ()).unwrap_err().to_string();
        let etcd = message("etcd://10.0.0.1:2379");
        assert!(etcd.contains("etcd backend is not supported yet"), "{etcd}");
        let k8s = message("kubernetes:in-cluster");
        assert!(
            k8s.contains("Kubernetes backend is not supported yet"),
            "{k8s}"
        );
        let unknown = message("redis://localhost");
        assert!(unknown.contains("unknown scheme \"redis\""), "{unknown}");
        assert!(message("").contains("no database file"));
        assert!(message("sqlite:").contains("no database file"));
    }

    #[test]
    fn existing_access_refuses_a_missing_store_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/ironbell.db");
        let spec = StoreSpec::Sqlite(path.clone());
        let err = open(&spec, Access::Existing).map(|_| ()).unwrap_err();
        assert!(matches!(err, OpsError::MissingStore { .. }), "{err}");
        assert!(!path.exists() && !path.parent().is_some_and(Path::exists));
    }

    #[test]
    fn created_store_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/ironbell.db");
        let spec = StoreSpec::Sqlite(path.clone());
        assert!(open(&spec, Access::Create).is_ok());
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(&path), Some(0o600));
        assert_eq!(mode(&dir.path().join("a/b")), Some(0o700));
        assert_eq!(mode(&dir.path().join("a")), Some(0o700));
    }
}
