//! The three reconcilers, with Rufio's semantics (differences are listed in each module):
//!
//! - [`machine`]: reads each Machine's power state every 3 minutes (and when a Job for it
//!   ends) and keeps
//!   `status.powerState` and the `Contactable` condition current;
//! - [`job`]: runs a Job's actions one at a time by creating a Task for each;
//! - [`task`]: performs one Task's action and confirms power changes.
//!
//! They run on `ironbell-controller` loops (see [`crate::run`]); each reads the object
//! fresh from the store, writes only `status` (through `update_status`, retried on
//! conflict) and is safe to stop at any point.

pub mod job;
pub mod machine;
pub mod task;

use ironbell_model::bmc::Connection;
use ironbell_model::corev1::Secret;
use ironbell_store::{Api, StoreError};

use crate::provider::Credentials;

/// Why a reconcile failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A store operation failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done, naming the object.
        what: String,
        /// The store's error.
        source: Box<StoreError>,
    },
    /// The credentials could not be read.
    #[error("{0}")]
    Secret(String),
    /// The Machine a Job refers to does not exist (yet).
    #[error("get Job {job} MachineRef: machine {machine} not found")]
    MachineNotFound {
        /// `namespace/name` of the Job.
        job: String,
        /// `namespace/name` of the Machine.
        machine: String,
    },
    /// The BMC failed while a started Task was being checked (retried until the task
    /// times out).
    #[error("bmc task status check for Task {task}: {message}")]
    Check {
        /// `namespace/name` of the Task.
        task: String,
        /// What failed (without the password).
        message: String,
    },
}

impl Error {
    pub(crate) fn store(what: impl Into<String>) -> impl FnOnce(StoreError) -> Error {
        let what = what.into();
        move |source| Error::Store {
            what,
            source: Box::new(source),
        }
    }
}

/// Reads the `username` and `password` of the Secret that `connection.authSecretRef` names
/// (its namespace defaults to `namespace`, the object's own), as Rufio's
/// `resolveAuthSecretRef` does. Errors name the Secret and never carry its values.
pub(crate) async fn credentials(
    secrets: &Api<Secret>,
    connection: &Connection,
    namespace: &str,
    owner: &str,
) -> Result<Credentials, Error> {
    let Some(r) = connection.auth_secret_ref.as_ref() else {
        return Err(Error::Secret(format!(
            "resolving {owner} SecretReference: connection has no authSecretRef"
        )));
    };
    let name = r.name.clone().unwrap_or_default();
    let ns = r
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| namespace.to_string());
    let secret = match secrets.get(&ns, &name).await {
        Ok(s) => s,
        Err(e) if e.is_not_found() => {
            return Err(Error::Secret(format!(
                "resolving {owner} SecretReference: secret {ns}/{name} not found"
            )));
        }
        Err(e) => {
            return Err(Error::Secret(format!(
                "resolving {owner} SecretReference: failed to retrieve secret {ns}/{name}: {e}"
            )));
        }
    };
    let get = |key: &str| {
        secret.get_str(key).map(str::to_string).ok_or_else(|| {
            Error::Secret(format!(
                "resolving {owner} SecretReference: {key:?} required in secret {ns}/{name}"
            ))
        })
    };
    Ok(Credentials::new(
        get(Secret::USERNAME_KEY)?,
        get(Secret::PASSWORD_KEY)?,
    ))
}

/// Locks `m`, also after a panic elsewhere: the reconcilers' maps stay usable, since each
/// update is one call.
pub(super) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
