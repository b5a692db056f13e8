//! [`Task`]: one step of a command, and the [`Context`] the tasks of a run share.
//!
//! A task is idempotent: the runner runs it again whenever its journal record is not a
//! success (it failed, or the process died between the task's effect and the journal
//! write), so running it twice must leave the same state as running it once. Checkpoint
//! data a task returns ([`Next::proceed_with`]) is kept in the journal and in the checkpoint
//! file, and handed to [`Task::restore`] when a later run skips the finished task, so that
//! what it learned (a generated name, a change diff) is known to the tasks after it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ironbell_cluster_spec::Spec;
use ironbell_store::{SharedStore, StoreError};
use serde_json::Value;

use crate::output::Output;
use crate::provider::Provider;

/// What the runner does after a task succeeded.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Go on with the next task of the list. The value, when not null, is the task's
    /// checkpoint data.
    Continue(Value),
    /// The command is complete: the remaining tasks are not needed (an upgrade with nothing
    /// to change). The value is the task's checkpoint data.
    Finish(Value),
}

impl Next {
    /// Go on, with no checkpoint data (`checkpoint: null` in the checkpoint file).
    pub fn proceed() -> Self {
        Self::Continue(Value::Null)
    }

    /// Go on, with checkpoint data for [`Task::restore`] and the tasks after this one.
    pub fn proceed_with(checkpoint: Value) -> Self {
        Self::Continue(checkpoint)
    }

    /// Stop here: the command is complete.
    pub fn finish() -> Self {
        Self::Finish(Value::Null)
    }

    /// The checkpoint data.
    pub fn checkpoint(&self) -> &Value {
        match self {
            Self::Continue(v) | Self::Finish(v) => v,
        }
    }
}

/// Why a task failed. The runner names the task; the error says what failed and for which
/// object.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Validations failed; each was printed with ❌.
    #[error("{} of {total} validations failed: {}", failed.len(), failed.join("; "))]
    Validation {
        /// The names of the failed validations.
        failed: Vec<String>,
        /// How many ran.
        total: usize,
    },
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `reading`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The provider failed.
    #[error("{provider} provider: {source}")]
    Provider {
        /// The provider's name.
        provider: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Anything else, said in words.
    #[error("{0}")]
    Failed(String),
}

/// One step of a command (see the module docs).
#[async_trait::async_trait]
pub trait Task: Send + Sync {
    /// The task's name, EKS Anywhere's (see [`crate::plan::names`]).
    fn name(&self) -> &str;

    /// Does the task's work. Must be idempotent.
    async fn run(&self, ctx: &mut Context) -> Result<Next, TaskError>;

    /// Called instead of [`Task::run`] when the task finished in an earlier run of the same
    /// command with the same inputs, with the checkpoint data it returned then (`null` when
    /// none). The default does nothing.
    async fn restore(&self, ctx: &mut Context, checkpoint: &Value) -> Result<(), TaskError> {
        let _ = (ctx, checkpoint);
        Ok(())
    }
}

/// A provider's tasks as one function of the task's name, over the state a run's tasks
/// share: [`Step`] makes each name a [`Task`], [`crate::Pipeline::of_steps`] a whole list.
#[async_trait::async_trait]
pub trait Steps: Send + Sync + 'static {
    /// Does the work of task `task` (a name of [`crate::plan::names`]). Must be idempotent.
    async fn run_step(&self, task: &'static str, ctx: &mut Context) -> Result<Next, TaskError>;
}

/// Task `name` of a provider's [`Steps`].
pub struct Step<S> {
    name: &'static str,
    steps: Arc<S>,
}

impl<S> Step<S> {
    /// The task `name` of `steps`.
    pub fn new(name: &'static str, steps: Arc<S>) -> Self {
        Self { name, steps }
    }
}

#[async_trait::async_trait]
impl<S: Steps> Task for Step<S> {
    fn name(&self) -> &str {
        self.name
    }

    async fn run(&self, ctx: &mut Context) -> Result<Next, TaskError> {
        self.steps.run_step(self.name, ctx).await
    }
}

/// Where a cluster's files go: `NAME/` beside the spec, with `generated/` inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    name: String,
    cluster_dir: PathBuf,
}

/// A cluster name that cannot be a folder name.
#[derive(Debug, thiserror::Error)]
#[error("cluster name {name:?} cannot name its folder: {reason}")]
pub struct LayoutError {
    /// The name given.
    pub name: String,
    /// Which rule it breaks.
    pub reason: ironbell_model::NameError,
}

impl Layout {
    /// The folder `NAME/` in `base`. The name must be a valid Kubernetes object name (so it
    /// has no `/` and is not `.` or `..`).
    pub fn new(base: &Path, name: &str) -> Result<Self, LayoutError> {
        ironbell_model::validate_name(name).map_err(|reason| LayoutError {
            name: name.to_string(),
            reason,
        })?;
        Ok(Self {
            name: name.to_string(),
            cluster_dir: base.join(name),
        })
    }

    /// The folder `NAME/` beside the spec file `spec_path`.
    pub fn beside(spec_path: &Path, name: &str) -> Result<Self, LayoutError> {
        let base = spec_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::new(base, name)
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `NAME/`.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// `NAME/generated/`: the bootstrap plane's store, the checkpoint file, rendered files.
    pub fn generated_dir(&self) -> PathBuf {
        self.cluster_dir.join("generated")
    }

    /// `NAME/generated/NAME-checkpoint.yaml`, EKS Anywhere's checkpoint file.
    pub fn checkpoint_file(&self) -> PathBuf {
        self.generated_dir()
            .join(format!("{}-checkpoint.yaml", self.name))
    }

    /// `NAME/generated/NAME.lock`: held by the run that works on the cluster.
    pub fn lock_file(&self) -> PathBuf {
        self.generated_dir().join(format!("{}.lock", self.name))
    }

    /// Takes the cluster's lock ([`Layout::lock_file`]) without waiting: `Ok(None)` when
    /// another process holds it. The lock goes with the returned file, and with the
    /// process if it dies (an advisory `flock`), so a killed run never leaves it behind.
    pub fn try_lock(&self) -> io::Result<Option<std::fs::File>> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_file())?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Creates `NAME/generated/`, private to the user (mode 0700): it holds the plane's
    /// store, with the BMC credentials.
    pub fn create_dirs(&self) -> io::Result<()> {
        let generated = self.generated_dir();
        std::fs::create_dir_all(&generated)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&generated, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
}

/// What the tasks of one run share: the spec, the cluster's folder, the plane's store, the
/// provider, the output, and the checkpoint data of the tasks finished so far.
pub struct Context {
    spec: Arc<Spec>,
    layout: Layout,
    store: SharedStore,
    provider: Arc<dyn Provider>,
    out: Output,
    checkpoints: BTreeMap<String, Value>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("cluster", &self.layout.name())
            .field("provider", &self.provider.name())
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for a run on `spec`'s cluster, read from `spec_path`: its folder is
    /// `NAME/` beside the spec ([`Layout::beside`]), named after the Cluster.
    pub fn new(
        spec: Arc<Spec>,
        spec_path: &Path,
        store: SharedStore,
        provider: Arc<dyn Provider>,
        out: Output,
    ) -> Result<Self, LayoutError> {
        let layout = Layout::beside(spec_path, spec.name())?;
        Ok(Self {
            spec,
            layout,
            store,
            provider,
            out,
            checkpoints: BTreeMap::new(),
        })
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        self.layout.name()
    }

    /// The spec of the run.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The cluster's folder.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The plane's store (the journal lives there too).
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// The provider.
    pub fn provider(&self) -> Arc<dyn Provider> {
        self.provider.clone()
    }

    /// The output.
    pub fn out(&self) -> &Output {
        &self.out
    }

    /// The checkpoint data of a task finished in this run or an earlier one.
    pub fn checkpoint_of(&self, task: &str) -> Option<&Value> {
        self.checkpoints.get(task)
    }

    pub(crate) fn set_checkpoint(&mut self, task: &str, value: Value) {
        self.checkpoints.insert(task.to_string(), value);
    }

    pub(crate) fn clear_checkpoints(&mut self) {
        self.checkpoints.clear();
    }

    /// Runs named checks one after another as EKS Anywhere's validation runner does: each
    /// prints ✅ or ❌ (with its reason), all run even after a failure, and the result is
    /// [`TaskError::Validation`] naming every one that failed.
    pub fn validate<I, S>(&self, checks: I) -> Result<(), TaskError>
    where
        I: IntoIterator<Item = (S, Result<(), String>)>,
        S: Into<String>,
    {
        let mut failed = Vec::new();
        let mut total = 0;
        for (name, outcome) in checks {
            let name = name.into();
            total += 1;
            self.out
                .validation(&name, outcome.as_ref().map(|_| ()).map_err(String::as_str));
            if let Err(reason) = outcome {
                tracing::warn!(validation = %name, %reason, "validation failed");
                failed.push(name);
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(TaskError::Validation { failed, total })
        }
    }
}
