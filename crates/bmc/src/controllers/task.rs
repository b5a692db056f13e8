//! The Task reconciler: performs a Task's one action on its BMC and reports the outcome.
//!
//! As Rufio's `TaskReconciler`: a Task that is neither `Completed` nor `Failed` and has no
//! `startTime` gets one, its action is run, and a failure sets `Failed=True` with the
//! error (`Failed to connect to BMC: ...` when no provider connects). A started Task is
//! then checked: power `on` is complete when the power state reads `on`, `off` and `soft`
//! when it reads `off` (looked at every [`Config::power_poll`](crate::Config), 3 s);
//! every other action is complete as soon as it was sent. `Completed=True` comes with a
//! `completionTime`. A Task still not complete [`Config::task_timeout`](crate::Config)
//! (10 minutes) after its `startTime` is `Failed` with `bmc task timeout: ...`.
//!
//! ## Restarts: at-least-once
//!
//! `startTime` is written *before* the action is sent, so a Task whose action may have
//! been sent is always marked as started. The reconciler remembers in memory when it last
//! sent each Task's action. A reconcile that finds `startTime` set but has no such memory
//! (the process restarted in between), or whose memory is older than
//! [`Config::reissue_after`](crate::Config) (30 s), cannot know whether the BMC got the
//! action, so it sends it again:
//!
//! - `on`, `off`, `soft` are idempotent (nothing is sent when the machine already is in
//!   the wanted state), and are re-sent at most every 30 s while the state is not reached,
//!   instead of waiting out the 10-minute timeout as Rufio would when a BMC dropped the
//!   command;
//! - boot device and virtual media settings are idempotent too;
//! - `cycle` and `reset` are **at least once**: after a crash between the `startTime`
//!   write and the `Completed` write, the machine may be cycled or reset twice. Within
//!   one process they are sent exactly once, and so is every action when nothing
//!   crashes and the BMC reaches the wanted state within 30 s.
//!
//! Other differences from Rufio, and why:
//! - A connection or power-state failure while *checking* a started Task is retried
//!   (with backoff, until the timeout) rather than failing the Task: the action was sent,
//!   and BMCs are often briefly unreachable right after a power change. Before the action
//!   is sent, a connection failure fails the Task as in Rufio.
//! - Power `status` reads the power state and completes (bmclib rejects it as an unknown
//!   state, so it always failed in Rufio).
//! - The `bootDevice` action (persistent or not) is run too; a Task with no action, or
//!   with more than one, fails (the CRD allows exactly one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ironbell_controller::{Next, Reconcile};
use ironbell_model::bmc::{Action, JobCondition, PowerAction, PowerState, Task, TaskStatus};
use ironbell_model::corev1::Secret;
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Error, credentials, lock};
use crate::Config;
use crate::provider::{self, Bmc, Credentials, Feature};
use crate::status::{self, TRUE};

/// Reconciles [`Task`]s; see the module documentation.
pub struct TaskReconciler {
    tasks: Api<Task>,
    secrets: Api<Secret>,
    config: Arc<Config>,
    /// Per task: its UID and when this process last sent its action.
    sent: Mutex<HashMap<ObjectKey, (Option<String>, Instant)>>,
}

/// A Task's one action, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Work {
    Power(PowerAction),
    Boot {
        device: String,
        persistent: bool,
        efi: bool,
        /// Rufio's name of the action, for messages.
        what: &'static str,
    },
    Media {
        kind: String,
        url: Option<String>,
    },
}

impl Work {
    fn of(action: &Action) -> Result<Work, String> {
        let count = [
            action.power_action.is_some(),
            action.one_time_boot_device_action.is_some(),
            action.boot_device.is_some(),
            action.virtual_media_action.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            return Err(format!(
                "a task must have exactly one action, this one has {count}"
            ));
        }
        if let Some(p) = action.power_action {
            return Ok(Work::Power(p));
        }
        if let Some(b) = &action.one_time_boot_device_action {
            let device = b.device.first().cloned().ok_or_else(|| {
                "failed to perform OneTimeBootDeviceAction: no device given".to_string()
            })?;
            return Ok(Work::Boot {
                device,
                persistent: false,
                efi: b.efi_boot.unwrap_or(false),
                what: "OneTimeBootDeviceAction",
            });
        }
        if let Some(b) = &action.boot_device {
            let device = b
                .device
                .clone()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| "failed to perform BootDevice: no device given".to_string())?;
            return Ok(Work::Boot {
                device,
                persistent: b.persistent.unwrap_or(false),
                efi: b.efi_boot.unwrap_or(false),
                what: "BootDevice",
            });
        }
        match &action.virtual_media_action {
            Some(v) => Ok(Work::Media {
                kind: v.kind.clone(),
                url: v.media_url.clone().filter(|u| !u.is_empty()),
            }),
            None => Err("a task must have exactly one action, this one has 0".into()),
        }
    }

    fn feature(&self) -> Feature {
        match self {
            Work::Media { .. } => Feature::VirtualMedia,
            _ => Feature::Power,
        }
    }

    /// The power state that confirms the action, if it has one.
    fn wanted(&self) -> Option<PowerState> {
        match self {
            Work::Power(PowerAction::On) => Some(PowerState::On),
            Work::Power(PowerAction::Off | PowerAction::Soft) => Some(PowerState::Off),
            _ => None,
        }
    }

    async fn run(&self, bmc: &mut dyn Bmc) -> Result<(), String> {
        match self {
            Work::Power(a) => bmc
                .power(*a)
                .await
                .map_err(|e| format!("failed to perform PowerAction: {e}")),
            Work::Boot {
                device,
                persistent,
                efi,
                what,
            } => bmc
                .set_boot_device(device, *persistent, *efi)
                .await
                .map_err(|e| format!("failed to perform {what}: {e}")),
            Work::Media { kind, url } => bmc
                .virtual_media(kind, url.as_deref())
                .await
                .map_err(|e| format!("failed to perform SetVirtualMedia: {e}")),
        }
    }
}

impl TaskReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore, config: Arc<Config>) -> Self {
        Self {
            tasks: Api::new(store.clone()),
            secrets: Api::new(store),
            config,
            sent: Mutex::default(),
        }
    }

    fn sent(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, (Option<String>, Instant)>> {
        lock(&self.sent)
    }

    /// When this process last sent `task`'s action, if it did.
    fn last_sent(&self, key: &ObjectKey, task: &Task) -> Option<Instant> {
        self.sent()
            .get(key)
            .filter(|(uid, _)| *uid == task.metadata.uid)
            .map(|(_, at)| *at)
    }

    fn mark_sent(&self, key: &ObjectKey, task: &Task) {
        self.sent()
            .insert(key.clone(), (task.metadata.uid.clone(), Instant::now()));
    }

    async fn write(
        &self,
        key: &ObjectKey,
        change: impl Fn(&mut TaskStatus) + Send,
    ) -> Result<Task, Error> {
        let (ns, name) = key;
        self.tasks
            .modify_status(ns, name, |t| {
                change(t.status.get_or_insert_with(TaskStatus::default))
            })
            .await
            .map_err(Error::store(format!(
                "failed to patch Task {ns}/{name} status"
            )))
    }

    async fn fail(&self, key: &ObjectKey, message: String) -> Result<Next, Error> {
        warn!(task = %format!("{}/{}", key.0, key.1), %message, "task failed");
        self.sent().remove(key);
        self.write(key, |s| {
            status::set(s, JobCondition::FAILED, TRUE, Some(message.clone()));
        })
        .await?;
        Ok(Next::Done)
    }

    async fn complete(&self, key: &ObjectKey) -> Result<Next, Error> {
        info!(task = %format!("{}/{}", key.0, key.1), "task completed");
        self.write(key, |s| {
            s.completion_time = Some(status::now());
            status::set(s, JobCondition::COMPLETED, TRUE, None);
        })
        .await?;
        self.sent().remove(key);
        Ok(Next::Done)
    }

    /// First run: connect, write `startTime`, send the action.
    async fn start(
        &self,
        key: &ObjectKey,
        work: &Work,
        mut bmc: Box<dyn Bmc>,
        creds: &Credentials,
    ) -> Result<Next, Error> {
        let written = self
            .write(key, |s| s.start_time = Some(status::now()))
            .await;
        let task_now = match written {
            Ok(t) => t,
            Err(e) => {
                close(bmc, creds).await;
                return Err(e);
            }
        };
        info!(task = %format!("{}/{}", key.0, key.1), provider = %bmc.provider(), action = ?work, "new task run");
        let result = work.run(bmc.as_mut()).await;
        self.mark_sent(key, &task_now);
        close(bmc, creds).await;
        match result {
            Err(msg) => self.fail(key, creds.scrub(&msg)).await,
            Ok(()) if work.wanted().is_some() => Ok(Next::After(self.config.power_poll)),
            Ok(()) => self.complete(key).await,
        }
    }

    /// Later runs: confirm, re-send when nobody knows whether it was sent.
    async fn check(
        &self,
        key: &ObjectKey,
        task: &Task,
        work: &Work,
        bmc: &mut dyn Bmc,
        creds: &Credentials,
    ) -> Result<Next, Error> {
        let name = format!("{}/{}", key.0, key.1);
        let check_err = |e: String| Error::Check {
            task: name.clone(),
            message: creds.scrub(&e),
        };
        let last = self.last_sent(key, task);
        let Some(wanted) = work.wanted() else {
            if last.is_none() {
                // Restarted between startTime and the outcome: send it again (at least
                // once).
                info!(task = %name, action = ?work, "re-sending an action that may not have been sent before a restart");
                let result = work.run(bmc).await;
                self.mark_sent(key, task);
                if let Err(msg) = result {
                    return self.fail(key, creds.scrub(&msg)).await;
                }
            }
            return self.complete(key).await;
        };
        let state = bmc
            .power_state()
            .await
            .map_err(|e| check_err(format!("failed to get power state: {e}")))?;
        debug!(task = %name, ?state, ?wanted, "power state check");
        if state == wanted {
            return self.complete(key).await;
        }
        let due = last.is_none_or(|at| at.elapsed() >= self.config.reissue_after);
        if due {
            info!(task = %name, action = ?work, ?state, "power state not reached; sending the action again");
            let result = work.run(bmc).await;
            self.mark_sent(key, task);
            result.map_err(check_err)?;
        }
        Ok(Next::After(self.config.power_poll))
    }
}

async fn close(bmc: Box<dyn Bmc>, creds: &Credentials) {
    let provider = bmc.provider();
    if let Err(e) = bmc.close().await {
        debug!(%provider, error = %creds.scrub(&e.to_string()), "BMC close failed");
    }
}

#[async_trait::async_trait]
impl Reconcile<Task> for TaskReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let task = match self.tasks.get(ns, name).await {
            Ok(t) => t,
            Err(e) if e.is_not_found() => {
                self.sent().remove(key);
                return Ok(Next::Done);
            }
            Err(e) => return Err(Error::store(format!("get Task {ns}/{name}"))(e)),
        };
        if task.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let conditions = task.status.as_ref().and_then(|s| s.conditions.as_deref());
        if status::ended(conditions) {
            self.sent().remove(key);
            return Ok(Next::Done);
        }
        let work = match Work::of(&task.spec.task) {
            Ok(w) => w,
            Err(msg) => return self.fail(key, msg).await,
        };
        let Some(conn) = task.spec.connection.clone() else {
            return self.fail(key, "task has no connection".to_string()).await;
        };
        let started = task.status.as_ref().and_then(|s| s.start_time);
        if let Some(start) = started {
            let elapsed = status::since(start);
            if elapsed >= self.config.task_timeout {
                let msg = format!(
                    "bmc task timeout: not complete {} after its start",
                    humantime::format_duration(std::time::Duration::from_secs(elapsed.as_secs()))
                );
                return self.fail(key, msg).await;
            }
        }
        let owner = format!("Task {ns}/{name}");
        let creds = credentials(&self.secrets, &conn, ns, &owner).await?;
        let connected =
            provider::connect_for(&conn, &creds, self.config.timeouts, work.feature()).await;
        let mut bmc = match connected {
            Ok(b) => b,
            Err(e) if started.is_none() => {
                let msg = creds.scrub(&format!("Failed to connect to BMC: {e}"));
                return self.fail(key, msg).await;
            }
            Err(e) => {
                return Err(Error::Check {
                    task: format!("{ns}/{name}"),
                    message: creds.scrub(&e.to_string()),
                });
            }
        };
        if started.is_none() {
            return self.start(key, &work, bmc, &creds).await;
        }
        let result = self.check(key, &task, &work, bmc.as_mut(), &creds).await;
        close(bmc, &creds).await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbell_model::bmc::{OneTimeBootDeviceAction, VirtualMediaAction};

    #[test]
    fn exactly_one_action_is_required() {
        assert_eq!(
            Work::of(&Action::power(PowerAction::Off)),
            Ok(Work::Power(PowerAction::Off))
        );
        let mut two = Action::power(PowerAction::On);
        two.one_time_boot_device_action = Some(OneTimeBootDeviceAction {
            device: vec!["pxe".into()],
            efi_boot: None,
        });
        assert!(Work::of(&two).is_err());
        assert!(Work::of(&Action::default()).is_err());
        let media = Action {
            virtual_media_action: Some(VirtualMediaAction {
                media_url: Some(String::new()),
                kind: "CD".into(),
            }),
            ..Action::default()
        };
        let w = Work::of(&media);
        assert_eq!(
            w,
            Ok(Work::Media {
                kind: "CD".into(),
                url: None
            })
        );
        assert_eq!(w.map(|w| w.feature()), Ok(Feature::VirtualMedia));
        assert_eq!(
            Work::of(&Action::one_time_boot("pxe", true)).map(|w| w.wanted()),
            Ok(None)
        );
        assert_eq!(
            Work::of(&Action::power(PowerAction::Soft)).map(|w| w.wanted()),
            Ok(Some(PowerState::Off))
        );
    }
}
