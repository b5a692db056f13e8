//! # ironbell-lifecycle
//!
//! The core of ironbell's cluster lifecycle: EKS Anywhere's `create`, `upgrade` and `delete`
//! commands as lists of named tasks, run by a runner that commits a journal record to the
//! plane's store after every task and mirrors it to EKS Anywhere's checkpoint file, so that
//! running the same command again resumes after the last finished task.
//!
//! - [`plan`]: the commands ([`Command`]) and their task names, EKS Anywhere v0.24.6's, in
//!   its order; a [`Pipeline`] is one [`Task`] per name.
//! - [`task`]: the [`Task`] trait (idempotent `run`, optional checkpoint data, `restore`),
//!   the [`Context`] the tasks share, and the cluster's folder ([`Layout`]: `NAME/` beside
//!   the spec, `NAME/generated/` inside).
//! - [`journal`]: the `lifecycle.ironbell.dev/v1alpha1` [`ClusterOperation`] kind the
//!   journal is kept in, the input hashes ([`Inputs`]) and the checkpoint file
//!   ([`CheckpointFile`], `completedTasks: {<task>: {checkpoint: <any>}}`).
//! - [`runner`]: [`run`], which resumes, restarts or refuses (a changed input names itself
//!   and points at `--restart`), and prints one line per task as `eksctl anywhere` does.
//! - [`provider`]: the [`Provider`] seam (defaults, named offline validations, a pure render,
//!   hooks around the tasks) where the Tinkerbell and Docker providers plug in.
//! - [`output`]: the lines the user sees, by `-v` level.
//! - [`objects`] and [`wait`]: the provider-neutral half of a cluster's tasks: the rendered
//!   Cluster API objects fitted to the store and applied, and the waits for a cluster
//!   ready, rolled out or gone, read from Cluster API's objects.
//! - [`steps`]: task bodies every provider shares (wait, write the config, back up, delete).
//!
//! What it is not: the tasks themselves (each provider brings its own, built on the plane
//! of `ironbell-ops` and the Cluster API controllers; each provider renders its own objects),
//! argument parsing (the CLI), or any
//! network I/O: it talks only to the store it is given and to files under `NAME/`.
//!
//! Start reading at [`run`] (the module docs of [`runner`] say when a run resumes), then
//! [`Task`] and [`Context`], then [`plan::names`] for what each task does in ironbell, then
//! [`journal`].

pub mod journal;
pub mod objects;
pub mod output;
pub mod plan;
pub mod provider;
pub mod runner;
pub mod steps;
pub mod task;
pub mod wait;

pub use journal::{CheckpointFile, ClusterOperation, Inputs, register_kinds};
pub use output::Output;
pub use plan::{Command, Pipeline, PlanError};
pub use provider::{Check, HookPoint, NoProvider, Provider};
pub use runner::{RunError, RunOptions, RunSummary, run};
pub use task::{Context, Layout, Next, Step, Steps, Task, TaskError};

/// The namespace EKS Anywhere puts a cluster's objects in.
pub const NAMESPACE: &str = "eksa-system";
