//! The journal: a [`ClusterOperation`] object in the plane's store per cluster and command,
//! with one record per task, and its mirror in EKS Anywhere's checkpoint file.
//!
//! ## The kind
//!
//! `lifecycle.ironbell.dev/v1alpha1` `ClusterOperation`, named `<cluster>-<verb>`
//! (`mgmt-create`) in the Cluster's namespace, labelled with the cluster and the command.
//! Its `spec` says what runs: the cluster, the [`Command`], the task list and the hash of
//! each input ([`Inputs`]). Its `status` says how far it got: the phase, and one
//! [`TaskRecord`] per task that started (the last attempt: started and finished time,
//! result, error, attempts, checkpoint data, and the input hashes it ran with), so the
//! object stays bounded by the length of the task list however often a task fails. It is a
//! kind of its own and not a field of the EKS Anywhere `Cluster`: the journal exists before
//! the Cluster object does (validations, bootstrap) and after it is deleted (delete).
//! Register it with [`register_kinds`] for `get` and `apply`.
//!
//! ## The checkpoint file
//!
//! `NAME/generated/NAME-checkpoint.yaml` holds `completedTasks: {<task>: {checkpoint: <any>}}`,
//! EKS Anywhere's format (`pkg/task/task.go`, `LIFECYCLE.md` 1.6), with the tasks that
//! succeeded. It is rewritten after every journal commit, atomically (a temporary file in the
//! same folder, synced, renamed over the old one). The store is the truth; the file is a
//! mirror for people and tools that know EKS Anywhere's, and a run rewrites it at start.
//!
//! ## Inputs
//!
//! The spec is hashed in its canonical form (the typed documents printed again), so that
//! comments, key order or indentation do not block a resume; other inputs (`hardware.csv`)
//! are hashed as bytes. Each hash is `sha256:<hex>`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ironbell_cluster_spec::Spec;
use ironbell_model::{ApiVersion, Kind, KindRegistry, ObjectMeta, RegistryError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::Command;

/// The API group and version of [`ClusterOperation`].
pub const API_VERSION: &str = "lifecycle.ironbell.dev/v1alpha1";
/// Label with the cluster's name on every [`ClusterOperation`].
pub const CLUSTER_LABEL: &str = "lifecycle.ironbell.dev/cluster";
/// Label with the command on every [`ClusterOperation`].
pub const COMMAND_LABEL: &str = "lifecycle.ironbell.dev/command";

/// The journal of one command on one cluster (see the module docs).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterOperation {
    /// `apiVersion`.
    #[serde(default)]
    pub api_version: ApiVersion<ClusterOperation>,
    /// `kind`.
    #[serde(default)]
    pub kind: Kind<ClusterOperation>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What runs.
    pub spec: OperationSpec,
    /// How far it got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OperationStatus>,
}
ironbell_model::impl_resource!(
    ClusterOperation,
    API_VERSION,
    "ClusterOperation",
    "clusteroperations",
    aliases = ["clusteroperation", "clusterop"]
);

/// What a [`ClusterOperation`] runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationSpec {
    /// The cluster's name.
    pub cluster: String,
    /// The command.
    pub command: Command,
    /// The task names, in order.
    pub tasks: Vec<String>,
    /// The hash of each input, by the input's name.
    pub inputs: BTreeMap<String, String>,
}

impl Default for OperationSpec {
    fn default() -> Self {
        Self {
            cluster: String::new(),
            command: Command::CreateManagement,
            tasks: Vec::new(),
            inputs: BTreeMap::new(),
        }
    }
}

/// The phase of a [`ClusterOperation`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// A run is under way, or died (nothing tells the two apart but the process list).
    #[default]
    Running,
    /// The last run stopped at a failed task.
    Failed,
    /// Every task finished (or one finished the command early).
    Succeeded,
}

/// The result of one task's last attempt.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskResult {
    /// Started, not finished: running, or the process died during it.
    Running,
    /// Failed; see the record's error.
    Failed,
    /// Finished.
    Succeeded,
}

/// How far a [`ClusterOperation`] got.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperationStatus {
    /// The phase.
    pub phase: Phase,
    /// When the first run of this operation started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The failing task and its error, when the phase is `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One record per task that started, in the order of the task list.
    #[serde(default)]
    pub tasks: Vec<TaskRecord>,
}

/// The journal record of one task: its last attempt.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskRecord {
    /// The task's name.
    pub name: String,
    /// The result.
    pub result: TaskResult,
    /// When the attempt started.
    pub started_at: Timestamp,
    /// When it ended (absent while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// How many times the task started in this operation.
    pub attempts: u32,
    /// The error of a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The checkpoint data of a finished attempt.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub checkpoint: Value,
    /// Whether the task finished the command early ([`Next::Finish`](crate::Next::Finish)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished_command: bool,
    /// The hash of each input the attempt ran with.
    pub inputs: BTreeMap<String, String>,
}

impl ClusterOperation {
    /// The object's name for `cluster` and `command`: `<cluster>-<verb>`.
    pub fn object_name(cluster: &str, command: Command) -> String {
        format!("{cluster}-{}", command.verb())
    }

    /// A new operation, not started.
    pub fn new(namespace: &str, cluster: &str, command: Command, inputs: &Inputs) -> Self {
        let mut metadata = ObjectMeta::named(namespace, Self::object_name(cluster, command));
        metadata.labels = Some(BTreeMap::from([
            (CLUSTER_LABEL.to_string(), cluster.to_string()),
            (COMMAND_LABEL.to_string(), command.as_str().to_string()),
        ]));
        Self {
            metadata,
            spec: OperationSpec {
                cluster: cluster.to_string(),
                command,
                tasks: command.task_names().iter().map(|s| s.to_string()).collect(),
                inputs: inputs.hashes().clone(),
            },
            ..Self::default()
        }
    }

    /// The record of a task, if it started.
    pub fn record(&self, task: &str) -> Option<&TaskRecord> {
        self.status.as_ref()?.tasks.iter().find(|r| r.name == task)
    }

    /// The record of `task` if it succeeded with `inputs`: the task is done.
    pub fn done(&self, task: &str, inputs: &Inputs) -> Option<&TaskRecord> {
        self.record(task)
            .filter(|r| r.result == TaskResult::Succeeded && &r.inputs == inputs.hashes())
    }

    /// Whether the command completed with `inputs`: every task done, or a done task
    /// finished it early.
    pub fn complete_under(&self, inputs: &Inputs) -> bool {
        for task in &self.spec.tasks {
            match self.done(task, inputs) {
                None => return false,
                Some(r) if r.finished_command => return true,
                Some(_) => {}
            }
        }
        true
    }

    /// The checkpoint file's content: the tasks that succeeded with these inputs.
    pub fn checkpoint_file(&self, inputs: &Inputs) -> CheckpointFile {
        let completed_tasks = self
            .status
            .iter()
            .flat_map(|s| &s.tasks)
            .filter(|r| r.result == TaskResult::Succeeded && &r.inputs == inputs.hashes())
            .map(|r| {
                (
                    r.name.clone(),
                    CompletedTask {
                        checkpoint: r.checkpoint.clone(),
                    },
                )
            })
            .collect();
        CheckpointFile { completed_tasks }
    }
}

/// Adds [`ClusterOperation`] to a registry (for `get`, `apply` and `describe`).
pub fn register_kinds(registry: &mut KindRegistry) -> Result<(), RegistryError> {
    registry.register::<ClusterOperation>()?;
    Ok(())
}

/// The inputs of a run, by name, each as `sha256:<hex>` (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs(BTreeMap<String, String>);

/// An input whose hash differs from the journal's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputChange {
    /// The input's name.
    pub input: String,
    /// The hash in the journal (`None`: the journal has no such input).
    pub recorded: Option<String>,
    /// The hash now (`None`: the input is no longer given).
    pub current: Option<String>,
}

/// Hashes `bytes` as `sha256:<hex>`.
pub fn hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the spec under `name`, hashed in its canonical form.
    pub fn spec(mut self, name: &str, spec: &Spec) -> Result<Self, serde_yaml_ng::Error> {
        let canonical = spec.to_yaml()?;
        self.0.insert(name.to_string(), hash(canonical.as_bytes()));
        Ok(self)
    }

    /// Adds an input given as bytes.
    pub fn bytes(mut self, name: &str, bytes: &[u8]) -> Self {
        self.0.insert(name.to_string(), hash(bytes));
        self
    }

    /// Adds a file's content under `name`.
    pub fn file(self, name: &str, path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        Ok(self.bytes(name, &bytes))
    }

    /// Inputs from hashes already computed (those of a journal).
    pub fn from_hashes(hashes: BTreeMap<String, String>) -> Self {
        Self(hashes)
    }

    /// The hashes, by input name.
    pub fn hashes(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The first input (by name) whose hash differs from `recorded`'s, if any.
    pub fn first_change(&self, recorded: &BTreeMap<String, String>) -> Option<InputChange> {
        let names: std::collections::BTreeSet<&String> =
            self.0.keys().chain(recorded.keys()).collect();
        names.into_iter().find_map(|name| {
            let (was, now) = (recorded.get(name), self.0.get(name));
            (was != now).then(|| InputChange {
                input: name.clone(),
                recorded: was.cloned(),
                current: now.cloned(),
            })
        })
    }
}

/// EKS Anywhere's checkpoint file (`CheckpointInfo` in `pkg/task/task.go`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointFile {
    /// The finished tasks, by name.
    pub completed_tasks: BTreeMap<String, CompletedTask>,
}

/// One finished task in a [`CheckpointFile`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct CompletedTask {
    /// Its checkpoint data (`null` for most tasks).
    #[serde(default)]
    pub checkpoint: Value,
}

/// The checkpoint file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("{what} checkpoint file {}: {source}", path.display())]
    Io {
        /// `reading` or `writing`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint file.
    #[error("checkpoint file {} is not EKS Anywhere's format: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_yaml_ng::Error,
    },
}

impl CheckpointFile {
    /// The file as YAML.
    pub fn to_yaml(&self) -> String {
        // A map of strings to JSON values always prints.
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Parses a checkpoint file's text.
    pub fn parse(path: &Path, text: &str) -> Result<Self, CheckpointError> {
        serde_yaml_ng::from_str(text).map_err(|source| CheckpointError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a checkpoint file.
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let text = std::fs::read_to_string(path).map_err(|source| CheckpointError::Io {
            what: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Writes the file atomically: a temporary file beside it, synced, renamed over it,
    /// and the folder synced, so a reader sees the old file or the new one, never a part.
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            what: "writing",
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(self.to_yaml().as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn first_change_names_the_input() {
        let a = Inputs::new()
            .bytes("spec", b"1")
            .bytes("hardware.csv", b"x");
        let b = Inputs::new()
            .bytes("spec", b"1")
            .bytes("hardware.csv", b"y");
        assert_eq!(a.first_change(a.hashes()), None);
        let change = b.first_change(a.hashes()).expect("changed");
        assert_eq!(change.input, "hardware.csv");
        let gone = Inputs::new().bytes("spec", b"1");
        let change = gone.first_change(a.hashes()).expect("gone");
        assert_eq!(
            (change.input.as_str(), change.current),
            ("hardware.csv", None)
        );
    }

    #[test]
    fn registers_its_kind() {
        let mut registry = KindRegistry::builtin();
        register_kinds(&mut registry).expect("registers");
        let kind = registry.find("clusteroperations").expect("found");
        assert_eq!(kind.group(), "lifecycle.ironbell.dev");
    }
}
