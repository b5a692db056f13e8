//! [`run`]: walks a [`Pipeline`], resuming from the journal, and prints what happens.
//!
//! ## When a run resumes, restarts or refuses
//!
//! A task counts as finished when its journal record succeeded *with the inputs of this
//! run* (each record keeps the input hashes it ran with). Then:
//!
//! - no journal yet, or `--restart`: every task runs;
//! - some tasks finished and the command did not complete: with the same inputs and task
//!   list, the run resumes at the first unfinished task (a failed task, or one that was
//!   running when the process died, runs again); with a changed input it refuses with
//!   [`RunError::InputChanged`], naming the input, since finished work would be mixed with
//!   new (`--restart` starts over);
//! - no task finished (the first run failed in validation, say): any input change is fine
//!   and the run starts over without `--restart`;
//! - the command completed: with the same inputs nothing runs; with new inputs it is a new
//!   operation and every task runs.
//!
//! ## The order of writes
//!
//! A task's effect comes first, then its journal record is committed to the store, then
//! the checkpoint file is rewritten. A crash after the effect and before the commit leaves
//! the record `Running`, so the next run runs the task again (tasks are idempotent). A
//! crash after the commit and before the file leaves the file one task behind; the next run
//! rewrites it from the store before anything else.
//!
//! ## One run at a time
//!
//! A run holds the cluster's lock (`NAME/generated/NAME.lock`, an advisory `flock` the
//! kernel drops when the process dies), so a second run on the same machine stops at once
//! with [`RunError::Busy`]. Runs on two machines against one plane are caught by the
//! journal's optimistic concurrency: the second writer stops with [`RunError::Concurrent`]
//! instead of interleaving its records with the other's.

use std::time::{Duration, Instant};

use ironbell_model::values::now;
use ironbell_store::{Api, StoreError};
use serde_json::Value;
use tracing::Instrument;

use crate::journal::{
    CheckpointError, ClusterOperation, InputChange, Inputs, OperationStatus, Phase, TaskRecord,
    TaskResult,
};
use crate::output::{DETAIL, elapsed};
use crate::plan::{Command, Pipeline};
use crate::provider::HookPoint;
use crate::task::{Context, Next, TaskError};

/// How to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `--restart`: ignore the journal and run every task.
    pub restart: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// The tasks that ran in this run, in order.
    pub ran: Vec<String>,
    /// The tasks skipped because an earlier run finished them.
    pub done_earlier: Vec<String>,
    /// The tasks not needed because a task finished the command early.
    pub not_needed: Vec<String>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An input changed while finished work recorded under the old one exists.
    #[error(
        "{} changed since `{}` of cluster {cluster} started (journal {}, now {}); the tasks done so far ran with the old one. Run again with --restart to start over, or put the old {} back to resume",
        change.input, command.verb(), short(change.recorded.as_deref()), short(change.current.as_deref()), change.input
    )]
    InputChanged {
        /// The cluster.
        cluster: String,
        /// The command.
        command: Command,
        /// The input that changed.
        change: InputChange,
    },
    /// The command's task list differs from the journal's (a different ironbell version).
    #[error(
        "the tasks of `{}` for cluster {cluster} differ from those the journal recorded ([{recorded}]); this ironbell cannot resume that run: run again with --restart",
        command.verb()
    )]
    PlanChanged {
        /// The cluster.
        cluster: String,
        /// The command.
        command: Command,
        /// The recorded list, comma-separated.
        recorded: String,
    },
    /// A task failed (or could not be restored from its checkpoint).
    #[error("task {task} failed: {source}")]
    Task {
        /// The task's name.
        task: String,
        /// Why.
        source: Box<TaskError>,
    },
    /// Someone else wrote the journal during this run.
    #[error(
        "the journal {namespace}/{name} changed under this run: is another ironbell running `{}` on cluster {cluster}? Nothing more was done",
        command.verb()
    )]
    Concurrent {
        /// The cluster.
        cluster: String,
        /// The command.
        command: Command,
        /// The journal's namespace.
        namespace: String,
        /// The journal's name.
        name: String,
    },
    /// The journal could not be read or written.
    #[error("journal {namespace}/{name} of cluster {cluster}: {source}")]
    Journal {
        /// The cluster.
        cluster: String,
        /// The journal's namespace.
        namespace: String,
        /// The journal's name.
        name: String,
        /// The store's error.
        source: Box<StoreError>,
    },
    /// The checkpoint file could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Another run on this machine holds the cluster's lock.
    #[error(
        "another ironbell is working on cluster {cluster} (it holds {}); wait for it to end, or stop it, then run again",
        lock.display()
    )]
    Busy {
        /// The cluster.
        cluster: String,
        /// The lock file.
        lock: std::path::PathBuf,
    },
    /// The cluster's folder or its lock could not be created.
    #[error("creating {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn short(hash: Option<&str>) -> String {
    match hash {
        None => "absent".to_string(),
        Some(h) => h.chars().take("sha256:".len() + 12).collect(),
    }
}

/// The namespace of the cluster's journal: the Cluster's, or `default`.
pub fn journal_namespace(ctx: &Context) -> String {
    match ctx.spec().cluster.metadata.namespace() {
        "" => "default".to_string(),
        ns => ns.to_string(),
    }
}

/// Runs `pipeline` for the cluster of `ctx` (see the module docs). Prints one line per
/// task, and on failure the error naming the task and how to resume.
pub async fn run(
    pipeline: &Pipeline,
    ctx: &mut Context,
    inputs: &Inputs,
    options: RunOptions,
) -> Result<RunSummary, RunError> {
    let span = tracing::info_span!(
        "lifecycle",
        cluster = %ctx.cluster(),
        command = %pipeline.command(),
    );
    let started = Instant::now();
    let result = Run::start(pipeline, ctx, inputs, options)
        .instrument(span.clone())
        .await;
    let result = match result {
        Ok(mut run) => run.walk(pipeline, ctx).instrument(span).await,
        Err(e) => Err(e),
    };
    let verb = pipeline.command().verb();
    match result {
        Ok(mut summary) => {
            summary.elapsed = started.elapsed();
            ctx.out().info(format_args!(
                "🎉 {verb} of cluster {} finished in {}: {} tasks run, {} done earlier{}",
                ctx.cluster(),
                elapsed(summary.elapsed),
                summary.ran.len(),
                summary.done_earlier.len(),
                if summary.not_needed.is_empty() {
                    String::new()
                } else {
                    format!(", {} not needed", summary.not_needed.len())
                }
            ));
            Ok(summary)
        }
        Err(e) => {
            ctx.out().info(format_args!("Error: {e}"));
            if let RunError::Task { task, .. } = &e {
                ctx.out().info(format_args!(
                    "Run the same command again to resume at {task}; --restart starts over."
                ));
            }
            Err(e)
        }
    }
}

/// One run's journal and position.
struct Run<'a> {
    api: Api<ClusterOperation>,
    op: ClusterOperation,
    inputs: &'a Inputs,
    command: Command,
    /// The cluster's lock, held for the run.
    _lock: std::fs::File,
}

impl<'a> Run<'a> {
    /// Reads the journal and decides between resume, start over and refuse.
    async fn start(
        pipeline: &Pipeline,
        ctx: &mut Context,
        inputs: &'a Inputs,
        options: RunOptions,
    ) -> Result<Self, RunError> {
        let command = pipeline.command();
        let layout = ctx.layout().clone();
        layout.create_dirs().map_err(|source| RunError::Folder {
            path: layout.generated_dir(),
            source,
        })?;
        let lock = layout
            .try_lock()
            .map_err(|source| RunError::Folder {
                path: layout.lock_file(),
                source,
            })?
            .ok_or_else(|| RunError::Busy {
                cluster: ctx.cluster().to_string(),
                lock: layout.lock_file(),
            })?;
        let namespace = journal_namespace(ctx);
        let fresh = ClusterOperation::new(&namespace, ctx.cluster(), command, inputs);
        let api = Api::<ClusterOperation>::new(ctx.store().clone());
        let mut run = Run {
            api,
            op: fresh.clone(),
            inputs,
            command,
            _lock: lock,
        };
        let existing = match run.api.get(&namespace, fresh.metadata.name()).await {
            Ok(op) => Some(op),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(run.journal_error(ctx, e)),
        };
        let Some(existing) = existing else {
            ctx.out().debug(format_args!(
                "journal {namespace}/{}: new",
                fresh.metadata.name()
            ));
            run.op = run
                .api
                .create(&fresh)
                .await
                .map_err(|e| run.journal_error(ctx, e))?;
            run.reset(ctx, fresh).await?;
            return Ok(run);
        };
        run.op = existing;
        let recorded = run.op.spec.inputs.clone();
        let same_plan = run.op.spec.tasks == pipeline.task_names();
        let recorded_inputs = Inputs::from_hashes(recorded.clone());
        let some_done = run
            .op
            .status
            .iter()
            .flat_map(|s| &s.tasks)
            .any(|r| r.result == TaskResult::Succeeded && r.inputs == recorded);
        let complete = run.op.complete_under(&recorded_inputs);
        if options.restart {
            ctx.out().detail("--restart: every task runs again");
            run.reset(ctx, fresh).await?;
        } else if some_done && !complete {
            if !same_plan {
                return Err(RunError::PlanChanged {
                    cluster: ctx.cluster().to_string(),
                    command,
                    recorded: run.op.spec.tasks.join(", "),
                });
            }
            if let Some(change) = inputs.first_change(&recorded) {
                return Err(RunError::InputChanged {
                    cluster: ctx.cluster().to_string(),
                    command,
                    change,
                });
            }
            ctx.out().detail(format_args!(
                "resuming `{}` of cluster {} from its journal",
                command.verb(),
                ctx.cluster()
            ));
        } else if !same_plan || inputs.first_change(&recorded).is_some() {
            ctx.out()
                .debug("journal: no unfinished work under other inputs; starting over");
            run.reset(ctx, fresh).await?;
        }
        run.mirror(ctx)?;
        Ok(run)
    }

    /// Starts the journal over with `fresh`'s spec: the records go first, so a crash in
    /// between leaves nothing that could be resumed by mistake.
    async fn reset(&mut self, ctx: &Context, fresh: ClusterOperation) -> Result<(), RunError> {
        self.op.status = Some(OperationStatus {
            phase: Phase::Running,
            started_at: Some(now()),
            ..OperationStatus::default()
        });
        self.commit(ctx).await?;
        if self.op.spec != fresh.spec {
            self.op.spec = fresh.spec;
            let written = self
                .api
                .update(&self.op)
                .await
                .map_err(|e| self.journal_error(ctx, e))?;
            self.op = written;
        }
        self.mirror(ctx)
    }

    /// Walks the tasks.
    async fn walk(
        &mut self,
        pipeline: &Pipeline,
        ctx: &mut Context,
    ) -> Result<RunSummary, RunError> {
        ctx.clear_checkpoints();
        let mut summary = RunSummary::default();
        let total = pipeline.tasks().len();
        let width = pipeline
            .task_names()
            .iter()
            .map(|n| n.len())
            .max()
            .unwrap_or(0);
        let line = |i: usize, name: &str, what: &str| {
            format!("[{:>2}/{total}] {name:<width$}  {what}", i + 1)
        };
        let mut finished = false;
        for (i, task) in pipeline.tasks().iter().enumerate() {
            let name = task.name();
            if finished {
                ctx.out().info(line(i, name, "not needed"));
                summary.not_needed.push(name.to_string());
                continue;
            }
            let span = tracing::info_span!("task", task = %name);
            if let Some(record) = self.op.done(name, self.inputs).cloned() {
                ctx.out().debug(format_args!(
                    "restoring {name} from its checkpoint {}",
                    record.checkpoint
                ));
                task.restore(ctx, &record.checkpoint)
                    .instrument(span)
                    .await
                    .map_err(|source| RunError::Task {
                        task: name.to_string(),
                        source: Box::new(source),
                    })?;
                ctx.set_checkpoint(name, record.checkpoint.clone());
                ctx.out().info(line(i, name, "done earlier"));
                summary.done_earlier.push(name.to_string());
                finished = record.finished_command;
                continue;
            }
            ctx.out().line(DETAIL, line(i, name, "started"));
            self.begin(ctx, name).await?;
            let started = Instant::now();
            let outcome = run_one(task.as_ref(), ctx).instrument(span).await;
            let took = elapsed(started.elapsed());
            summary.ran.push(name.to_string());
            match outcome {
                Ok(next) => {
                    finished = matches!(next, Next::Finish(_));
                    let checkpoint = next.checkpoint().clone();
                    self.end(ctx, name, Ok((checkpoint.clone(), finished)))
                        .await?;
                    ctx.set_checkpoint(name, checkpoint);
                    tracing::info!(task = %name, took = %took, "task finished");
                    ctx.out().info(line(i, name, &format!("done in {took}")));
                }
                Err(source) => {
                    tracing::warn!(task = %name, error = %source, "task failed");
                    ctx.out()
                        .info(line(i, name, &format!("FAILED after {took}")));
                    // The task's error is what the user needs; a journal error now is
                    // secondary and only logged.
                    if let Err(e) = self.end(ctx, name, Err(&source)).await {
                        tracing::warn!(task = %name, error = %e, "journal not written");
                        ctx.out().detail(format_args!("journal not written: {e}"));
                    }
                    return Err(RunError::Task {
                        task: name.to_string(),
                        source: Box::new(source),
                    });
                }
            }
        }
        let status = self.op.status.get_or_insert_default();
        if status.phase != Phase::Succeeded {
            status.phase = Phase::Succeeded;
            status.finished_at = Some(now());
            status.error = None;
            self.commit(ctx).await?;
        }
        Ok(summary)
    }

    /// Records that `name` started.
    async fn begin(&mut self, ctx: &Context, name: &str) -> Result<(), RunError> {
        let inputs = self.inputs.hashes().clone();
        let status = self.op.status.get_or_insert_default();
        status.phase = Phase::Running;
        status.error = None;
        let started_at = now();
        match status.tasks.iter_mut().find(|r| r.name == name) {
            Some(r) => {
                r.result = TaskResult::Running;
                r.started_at = started_at;
                r.finished_at = None;
                r.attempts += 1;
                r.error = None;
                r.checkpoint = Value::Null;
                r.finished_command = false;
                r.inputs = inputs;
            }
            None => status.tasks.push(TaskRecord {
                name: name.to_string(),
                result: TaskResult::Running,
                started_at,
                finished_at: None,
                attempts: 1,
                error: None,
                checkpoint: Value::Null,
                finished_command: false,
                inputs,
            }),
        }
        self.commit(ctx).await
    }

    /// Records how `name` ended and mirrors the journal to the checkpoint file.
    async fn end(
        &mut self,
        ctx: &Context,
        name: &str,
        outcome: Result<(Value, bool), &TaskError>,
    ) -> Result<(), RunError> {
        let status = self.op.status.get_or_insert_default();
        if let Some(r) = status.tasks.iter_mut().find(|r| r.name == name) {
            r.finished_at = Some(now());
            match &outcome {
                Ok((checkpoint, finished)) => {
                    r.result = TaskResult::Succeeded;
                    r.checkpoint = checkpoint.clone();
                    r.finished_command = *finished;
                }
                Err(e) => {
                    r.result = TaskResult::Failed;
                    r.error = Some(e.to_string());
                }
            }
        }
        match outcome {
            Ok(_) => status.phase = Phase::Running,
            Err(e) => {
                status.phase = Phase::Failed;
                status.error = Some(format!("task {name} failed: {e}"));
            }
        }
        self.commit(ctx).await?;
        self.mirror(ctx)
    }

    /// Commits the status (the records) with the version last read.
    async fn commit(&mut self, ctx: &Context) -> Result<(), RunError> {
        let written = self
            .api
            .update_status(&self.op)
            .await
            .map_err(|e| self.journal_error(ctx, e))?;
        ctx.out().debug(format_args!(
            "journal {}/{} committed (resourceVersion {})",
            written.metadata.namespace(),
            written.metadata.name(),
            written.metadata.resource_version.as_deref().unwrap_or("?")
        ));
        self.op = written;
        Ok(())
    }

    /// Rewrites the checkpoint file from the journal.
    fn mirror(&self, ctx: &Context) -> Result<(), RunError> {
        let path = ctx.layout().checkpoint_file();
        self.op.checkpoint_file(self.inputs).write(&path)?;
        Ok(())
    }

    fn journal_error(&self, ctx: &Context, source: StoreError) -> RunError {
        let (namespace, name) = (
            self.op.metadata.namespace().to_string(),
            self.op.metadata.name().to_string(),
        );
        if source.is_conflict() || matches!(source, StoreError::AlreadyExists { .. }) {
            RunError::Concurrent {
                cluster: ctx.cluster().to_string(),
                command: self.command,
                namespace,
                name,
            }
        } else {
            RunError::Journal {
                cluster: ctx.cluster().to_string(),
                namespace,
                name,
                source: Box::new(source),
            }
        }
    }
}

/// Runs one task between the provider's hooks.
async fn run_one(task: &dyn crate::Task, ctx: &mut Context) -> Result<Next, TaskError> {
    let provider = ctx.provider();
    let name = task.name();
    ctx.out().debug(format_args!("hook before {name}"));
    provider.hook(HookPoint::Before(name), ctx).await?;
    let next = task.run(ctx).await?;
    ctx.out().debug(format_args!("hook after {name}"));
    provider.hook(HookPoint::After(name), ctx).await?;
    Ok(next)
}
