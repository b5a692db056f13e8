//! What a reconcile of this provider fails with; the controller runtime logs it and retries
//! with backoff.

use ironbell_store::StoreError;

use crate::capi_view::ViewError;
use crate::selection::NoHardwareAvailable;

/// A reconcile failed, naming the object it was about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store operation failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done, with the object's name.
        what: String,
        /// The store's error.
        source: StoreError,
    },
    /// A Cluster API object did not read.
    #[error(transparent)]
    View(#[from] ViewError),
    /// No Hardware fits the machine.
    #[error(transparent)]
    NoHardware(#[from] NoHardwareAvailable),
    /// Something the machine needs is missing or wrong (a Hardware without a disk, a
    /// cluster without an endpoint...).
    #[error("{object}: {message}")]
    Invalid {
        /// The object, `Kind namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// The power-off BMC Job of a deleted machine failed; it is created again.
    #[error("BMC Job {namespace}/{name} failed: {message}")]
    PowerOffFailed {
        /// The Job's namespace.
        namespace: String,
        /// The Job's name.
        name: String,
        /// Why, as the Job reported it.
        message: String,
    },
}

impl Error {
    /// A closure wrapping a store error with what was being done.
    pub(crate) fn store(what: impl Into<String>) -> impl FnOnce(StoreError) -> Self {
        let what = what.into();
        move |source| Self::Store { what, source }
    }
}
