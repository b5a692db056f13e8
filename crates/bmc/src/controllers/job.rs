//! The Job reconciler: runs a Job's actions one after the other, one [`Task`] each.
//!
//! As Rufio's `JobReconciler`: a Job that is neither `Completed` nor `Failed` gets
//! `Running=True` and a `startTime`; the Machine it names must exist (else the reconcile
//! fails and is retried); task `n` is named `<job>-task-<n>` (Rufio's `FormatTaskName`),
//! is controlled by the Job (`ownerReferences` with `controller: true`) and carries a copy
//! of the Machine's connection; it is created only once task `n-1` is `Completed`. A
//! `Failed` task fails the Job with a message naming it; when every task is `Completed`,
//! the Job is `Completed` with a `completionTime`. Task changes wake the Job through
//! [`task_owner`].
//!
//! Differences from Rufio, and why:
//! - Tasks are taken by index, not in list order (Rufio lists by name, so a Job with 11
//!   or more tasks would look at `-task-10` before `-task-2`).
//! - The Job's Failed message also quotes the task's own message.
//! - A task that already exists and is this Job's (a restart between create and status
//!   write) is simply used; one left over from an earlier Job of the same name (another
//!   UID) is deleted and created again, and when a Job is deleted its Tasks are too (the
//!   store has no garbage collector; in Kubernetes the owner references would do this).

use std::collections::HashMap;

use ironbell_controller::{Next, Reconcile};
use ironbell_model::bmc::{Job, JobCondition, JobStatus, Machine, Task, TaskSpec};
use ironbell_model::corev1::ObjectReference;
use ironbell_model::{ObjectMeta, OwnerReference, Resource};
use ironbell_store::events::Recorder;
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, ListParams, SharedStore, StoreError};
use tracing::{info, warn};

use super::Error;
use crate::status::{self, TRUE};

/// Reconciles [`Job`]s; see the module documentation.
pub struct JobReconciler {
    jobs: Api<Job>,
    tasks: Api<Task>,
    machines: Api<Machine>,
    events: Recorder,
}

/// The Job that controls `task` (for `Controller::watches`): the owner reference with
/// `controller: true`, kind `Job` and Rufio's API version, as Rufio's
/// `TaskOwnerIndexFunc`.
pub fn task_owner(key: &ObjectKey, task: Option<&Task>) -> Vec<ObjectKey> {
    task.and_then(controller_of)
        .map(|o| vec![(key.0.clone(), o.name.clone())])
        .unwrap_or_default()
}

/// The Machine a Job names: `spec.machineRef`, in the Job's namespace when the reference
/// has none.
pub fn machine_of(job: &Job) -> ObjectKey {
    let mref = &job.spec.machine_ref;
    let ns = if mref.namespace.is_empty() {
        job.metadata.namespace()
    } else {
        &mref.namespace
    };
    (ns.to_string(), mref.name.clone())
}

fn controller_of(task: &Task) -> Option<&OwnerReference> {
    task.metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|o| o.controller == Some(true))
        .filter(|o| o.kind == Job::KIND && o.api_version == Job::API_VERSION)
}

fn failed_message(task: &Task) -> Option<String> {
    task.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == JobCondition::FAILED)?
        .message
        .clone()
}

impl JobReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore) -> Self {
        Self {
            jobs: Api::new(store.clone()),
            tasks: Api::new(store.clone()),
            machines: Api::new(store),
            events: Recorder::disabled(),
        }
    }

    /// Records each Job's end as an Event on its BMC Machine (`BMCJobComplete`, or the
    /// Warning `BMCJobFailed` with the reason), with `events`.
    pub fn with_events(mut self, events: Recorder) -> Self {
        self.events = events;
        self
    }

    /// Writes the final status `new` of `job` (failed with `failure`, else completed) and
    /// records its Event.
    async fn finish(
        &self,
        job: &Job,
        mut new: JobStatus,
        failure: Option<String>,
    ) -> Result<Next, Error> {
        let (ns, name) = (job.metadata.namespace(), job.metadata.name());
        match &failure {
            Some(msg) => status::set(&mut new, JobCondition::FAILED, TRUE, Some(msg.clone())),
            None => {
                status::set(&mut new, JobCondition::COMPLETED, TRUE, None);
                new.completion_time = Some(status::now());
                info!(job = %format!("{ns}/{name}"), "job completed");
            }
        }
        self.write(job, new).await?;
        let (machine_ns, machine_name) = machine_of(job);
        let machine = ObjectReference::to::<Machine>(&machine_ns, &machine_name);
        let tasks = job.spec.tasks.len();
        match failure {
            Some(msg) => self
                .events
                .warning(machine, "BMCJobFailed", format!("job {name}: {msg}")),
            None => self.events.normal(
                machine,
                "BMCJobComplete",
                format!(
                    "job {name} completed ({tasks} task{})",
                    if tasks == 1 { "" } else { "s" }
                ),
            ),
        }
        Ok(Next::Done)
    }

    /// Tasks in `ns` controlled by a Job named `job`.
    async fn owned_tasks(&self, ns: &str, job: &str) -> Result<Vec<Task>, Error> {
        let (tasks, _) = self
            .tasks
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!("list Tasks of Job {ns}/{job}")))?;
        Ok(tasks
            .into_iter()
            .filter(|t| controller_of(t).is_some_and(|o| o.name == job))
            .collect())
    }

    async fn delete_task(&self, t: &Task) -> Result<(), Error> {
        let (ns, name) = (t.metadata.namespace(), t.metadata.name());
        match self.tasks.delete(ns, name).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(Error::store(format!("delete Task {ns}/{name}"))(e)),
        }
    }

    async fn write(&self, job: &Job, new: JobStatus) -> Result<(), Error> {
        if job.status.as_ref() == Some(&new) {
            return Ok(());
        }
        let (ns, name) = (job.metadata.namespace(), job.metadata.name());
        self.jobs
            .modify_status(ns, name, |fresh| fresh.status = Some(new.clone()))
            .await
            .map_err(Error::store(format!(
                "failed to patch Job {ns}/{name} status"
            )))?;
        Ok(())
    }

    fn new_task(job: &Job, index: usize, machine: &Machine) -> Task {
        let ns = job.metadata.namespace();
        let mut metadata = ObjectMeta::named(ns, job.task_name(index));
        metadata.owner_references = Some(vec![OwnerReference {
            api_version: Job::API_VERSION.to_string(),
            kind: Job::KIND.to_string(),
            name: job.metadata.name().to_string(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        Task {
            metadata,
            spec: TaskSpec {
                task: job.spec.tasks[index].clone(),
                connection: Some(machine.spec.connection.clone()),
            },
            ..Task::default()
        }
    }
}

#[async_trait::async_trait]
impl Reconcile<Job> for JobReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let job = match self.jobs.get(ns, name).await {
            Ok(j) => j,
            Err(e) if e.is_not_found() => {
                // The Job is gone: so are its Tasks.
                for t in self.owned_tasks(ns, name).await? {
                    info!(job = %format!("{ns}/{name}"), task = t.metadata.name(), "deleting Task of a deleted Job");
                    self.delete_task(&t).await?;
                }
                return Ok(Next::Done);
            }
            Err(e) => return Err(Error::store(format!("get Job {ns}/{name}"))(e)),
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let conditions = job.status.as_ref().and_then(|s| s.conditions.as_deref());
        if status::ended(conditions) {
            return Ok(Next::Done);
        }

        let mut new = job.status.clone().unwrap_or_default();
        if !status::has(conditions, JobCondition::RUNNING, TRUE) {
            new.start_time = Some(status::now());
            status::set(&mut new, JobCondition::RUNNING, TRUE, None);
        }

        let mref = &job.spec.machine_ref;
        let machine = match self.machines.get(&mref.namespace, &mref.name).await {
            Ok(m) => m,
            Err(e) if e.is_not_found() => {
                return Err(Error::MachineNotFound {
                    job: format!("{ns}/{name}"),
                    machine: format!("{}/{}", mref.namespace, mref.name),
                });
            }
            Err(e) => {
                return Err(Error::store(format!(
                    "get Job {ns}/{name} MachineRef {}/{}",
                    mref.namespace, mref.name
                ))(e));
            }
        };

        let uid = job.metadata.uid.clone().unwrap_or_default();
        let mut by_name: HashMap<String, Task> = HashMap::new();
        for t in self.owned_tasks(ns, name).await? {
            let owner_uid = controller_of(&t).map(|o| o.uid.clone()).unwrap_or_default();
            if !uid.is_empty() && !owner_uid.is_empty() && owner_uid != uid {
                info!(job = %format!("{ns}/{name}"), task = t.metadata.name(), "deleting Task left over from an earlier Job of the same name");
                self.delete_task(&t).await?;
                continue;
            }
            by_name.insert(t.metadata.name().to_string(), t);
        }

        for index in 0..job.spec.tasks.len() {
            let task_name = job.task_name(index);
            match by_name.get(&task_name) {
                Some(t) => {
                    let tc = t.status.as_ref().and_then(|s| s.conditions.as_deref());
                    if status::has(tc, JobCondition::COMPLETED, TRUE) {
                        continue;
                    }
                    if status::has(tc, JobCondition::FAILED, TRUE) {
                        let mut msg = format!("task {ns}/{task_name} failed");
                        if let Some(m) = failed_message(t) {
                            msg = format!("{msg}: {m}");
                        }
                        warn!(job = %format!("{ns}/{name}"), "{msg}");
                        return self.finish(&job, new, Some(msg)).await;
                    }
                    // Still running: its changes wake us.
                    self.write(&job, new).await?;
                    return Ok(Next::Done);
                }
                None => {
                    let task = Self::new_task(&job, index, &machine);
                    match self.tasks.create(&task).await {
                        Ok(_) => {
                            info!(job = %format!("{ns}/{name}"), task = %task_name, "task created");
                        }
                        Err(StoreError::AlreadyExists { .. }) => {
                            // Not this Job's (it would have been listed above).
                            let msg = format!(
                                "failed to create Task {ns}/{task_name}: it already exists and is not controlled by this Job"
                            );
                            return self.finish(&job, new, Some(msg)).await;
                        }
                        Err(e) => {
                            let msg = format!("failed to create Task {ns}/{task_name}: {e}");
                            return self.finish(&job, new, Some(msg)).await;
                        }
                    }
                    self.write(&job, new).await?;
                    return Ok(Next::Done);
                }
            }
        }

        self.finish(&job, new, None).await
    }
}
