//! The Machine reconciler: connect, read the power state, report it.
//!
//! As Rufio's `MachineReconciler`: on success `status.powerState` is `on`/`off` and the
//! `Contactable` condition `True` (no message); when the BMC cannot be reached or the
//! power state cannot be read, `powerState` is `unknown` and `Contactable` is `False`
//! with the error (which never contains the password). Either way it looks again after
//! [`Config::machine_interval`](crate::Config::machine_interval) (3 minutes).
//!
//! Differences from Rufio, and why:
//! - The status is written only when it changed, so idle machines do not churn the store
//!   (Rufio patches every time; its patch is empty when nothing changed).
//! - The reconcile that our own status write triggers does not contact the BMC again: the
//!   reconciler remembers the `resourceVersion` it wrote and when, and waits out the
//!   interval.
//! - A Job that ends (`Completed` or `Failed`) wakes the Machine it names, whose power
//!   state is then read at once instead of at the end of the interval
//!   ([`MachineReconciler::job_ended`]): after a power change the status follows as
//!   soon as the BMC has answered, where Rufio's can be 3 minutes old. Each Job does this
//!   once.
//! - A missing or incomplete Secret also sets `Contactable=False` with the reason (Rufio
//!   only returns the error); the reconcile is then retried with backoff.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ironbell_controller::{Next, Reconcile};
use ironbell_model::bmc::{Job, Machine, PowerState};
use ironbell_model::corev1::Secret;
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::job::machine_of as job_machine;
use super::{Error, credentials, lock};
use crate::{Config, provider, status};

/// Reconciles [`Machine`]s; see the module documentation.
pub struct MachineReconciler {
    machines: Api<Machine>,
    secrets: Api<Secret>,
    config: Arc<Config>,
    /// Per machine: the resourceVersion last written or found current, and when.
    checked: Mutex<HashMap<ObjectKey, (Option<String>, Instant)>>,
    /// The Jobs seen ended, so that each wakes its Machine once.
    ended_jobs: Mutex<HashSet<ObjectKey>>,
    /// Machines whose next reconcile reads the BMC even within the interval (a Job of
    /// theirs ended). A set, not a removal from `checked`: a reconcile already under way
    /// when the Job ended would put its older reading back.
    due: Mutex<HashSet<ObjectKey>>,
}

impl MachineReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore, config: Arc<Config>) -> Self {
        Self {
            machines: Api::new(store.clone()),
            secrets: Api::new(store),
            config,
            checked: Mutex::default(),
            ended_jobs: Mutex::default(),
            due: Mutex::default(),
        }
    }

    /// For `Controller::watches::<Job>`: the first time a Job is seen ended (`Completed`
    /// or `Failed`), the Machine it names, with its power state due for a fresh read;
    /// nothing for a Job still running, one seen ended before, or a deleted one.
    pub fn job_ended(&self, key: &ObjectKey, job: Option<&Job>) -> Vec<ObjectKey> {
        let mut ended = lock(&self.ended_jobs);
        let Some(job) = job else {
            ended.remove(key);
            return Vec::new();
        };
        let conditions = job.status.as_ref().and_then(|s| s.conditions.as_deref());
        if !status::ended(conditions) || !ended.insert(key.clone()) {
            return Vec::new();
        }
        let machine = job_machine(job);
        lock(&self.due).insert(machine.clone());
        vec![machine]
    }

    fn checked(&self) -> MutexGuard<'_, HashMap<ObjectKey, (Option<String>, Instant)>> {
        lock(&self.checked)
    }

    /// Connects and reads the power state: (power, contactable, message).
    async fn observe(&self, m: &Machine) -> Result<(PowerState, bool, Option<String>), Error> {
        let ns = m.metadata.namespace();
        let owner = format!("Machine {ns}/{}", m.metadata.name());
        let conn = &m.spec.connection;
        let creds = credentials(&self.secrets, conn, ns, &owner).await?;
        let mut bmc = match provider::connect(conn, &creds, self.config.timeouts).await {
            Ok(b) => b,
            Err(e) => {
                let msg = creds.scrub(&e.to_string());
                warn!(machine = %owner, host = %conn.host, error = %msg, "BMC connection failed");
                return Ok((PowerState::Unknown, false, Some(msg)));
            }
        };
        let observed = match bmc.power_state().await {
            Ok(p) => (p, true, None),
            Err(e) => {
                let msg = creds.scrub(&format!("get power state: {e}"));
                warn!(machine = %owner, error = %msg, "failed to get Machine power state");
                (PowerState::Unknown, false, Some(msg))
            }
        };
        let provider = bmc.provider();
        if let Err(e) = bmc.close().await {
            debug!(machine = %owner, %provider, error = %creds.scrub(&e.to_string()), "BMC close failed");
        }
        Ok(observed)
    }
}

#[async_trait::async_trait]
impl Reconcile<Machine> for MachineReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let m = match self.machines.get(ns, name).await {
            Ok(m) => m,
            Err(e) if e.is_not_found() => {
                self.checked().remove(key);
                lock(&self.due).remove(key);
                return Ok(Next::Done);
            }
            Err(e) => return Err(Error::store(format!("get Machine {ns}/{name}"))(e)),
        };
        if m.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let interval = self.config.machine_interval;
        let due = lock(&self.due).remove(key);
        if !due
            && let Some((rv, at)) = self.checked().get(key)
            && *rv == m.metadata.resource_version
            && at.elapsed() < interval
        {
            return Ok(Next::After(interval - at.elapsed()));
        }
        let (observed, secret_error) = match self.observe(&m).await {
            Ok(o) => (o, None),
            Err(e) => ((PowerState::Unknown, false, Some(e.to_string())), Some(e)),
        };
        let (power, contactable, message) = observed;
        let new = status::machine(m.status.as_ref(), power, contactable, message.clone());
        let mut rv = m.metadata.resource_version.clone();
        if m.status.as_ref() != Some(&new) {
            info!(machine = %format!("{ns}/{name}"), ?power, contactable, "machine status changed");
            let written = match self
                .machines
                .modify_status(ns, name, |fresh| {
                    let s =
                        status::machine(fresh.status.as_ref(), power, contactable, message.clone());
                    fresh.status = Some(s);
                })
                .await
            {
                Ok(written) => written,
                Err(e) if e.is_not_found() => {
                    // Deleted while its BMC was asked (a move deletes the source's BMC
                    // Machines once their copies exist): nothing left to report on.
                    debug!(machine = %format!("{ns}/{name}"), "deleted before its status was written");
                    self.checked().remove(key);
                    return Ok(Next::Done);
                }
                Err(e) => {
                    return Err(Error::store(format!("update Machine {ns}/{name} status"))(
                        e,
                    ));
                }
            };
            rv = written.metadata.resource_version;
        }
        if let Some(e) = secret_error {
            self.checked().remove(key);
            return Err(e);
        }
        self.checked().insert(key.clone(), (rv, Instant::now()));
        Ok(Next::After(interval.max(Duration::from_millis(1))))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ironbell_model::ObjectMeta;
    use ironbell_model::bmc::{JobCondition, JobSpec, JobStatus, MachineRef};

    fn job(machine_ns: &str, condition: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta::named("ns", "j"),
            spec: JobSpec {
                machine_ref: MachineRef {
                    name: "m".into(),
                    namespace: machine_ns.into(),
                },
                tasks: Vec::new(),
            },
            status: condition.map(|c| JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: c.into(),
                    status: "True".into(),
                    message: None,
                }]),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn each_ended_job_wakes_its_machine_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = ironbell_store_sqlite::SqliteStore::open(dir.path().join("s.db")).unwrap();
        let r = MachineReconciler::new(Arc::new(store), Arc::new(Config::default()));
        let key: ObjectKey = ("ns".into(), "j".into());
        let m = |ns: &str| vec![(ns.to_string(), "m".to_string())];

        assert!(r.job_ended(&key, Some(&job("", None))).is_empty());
        assert!(
            r.job_ended(&key, Some(&job("", Some("Running"))))
                .is_empty()
        );
        assert!(lock(&r.due).is_empty());
        // The machineRef's namespace, or the Job's when it has none.
        assert_eq!(
            r.job_ended(&key, Some(&job("", Some("Completed")))),
            m("ns")
        );
        assert!(lock(&r.due).contains(&m("ns")[0]));
        // Seen ended before: nothing more.
        assert!(
            r.job_ended(&key, Some(&job("", Some("Completed"))))
                .is_empty()
        );
        // Deleted, then a new Job of the same name fails.
        assert!(r.job_ended(&key, None).is_empty());
        assert_eq!(
            r.job_ended(&key, Some(&job("other", Some("Failed")))),
            m("other")
        );
    }
}
