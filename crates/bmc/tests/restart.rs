//! Restarts in the middle of a Job: the controllers are stopped at an exact point (a store
//! wrapper freezes the service right after a chosen status write is committed, as if the
//! process died there), then started again on the same SQLite file. The Job must complete
//! without re-running finished tasks, and an action whose `startTime` was written but
//! that was never sent must be sent promptly, not after the 10-minute task timeout.
//! ipmi_sim's chassis_control log shows what reached the BMC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use ironbell_model::bmc::{Action, Job, JobSpec, MachineRef, PowerAction, Task};
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{Api, ListParams, ObjectList, Op, Result, SharedStore, Store, WatchStream};

/// Decides, for a status write, whether the "process dies" right after it is committed.
type Trigger = Box<dyn Fn(&DynamicObject) -> bool + Send + Sync>;

/// A store that freezes (every call, including the one that tripped it, never returns)
/// once a status write matching the trigger is made: that write is committed, nothing after it.
struct Freezer {
    inner: SharedStore,
    trigger: Trigger,
    frozen: AtomicBool,
    /// Set once the tripping write is committed: the "process" is dead from then on.
    dead: Arc<AtomicBool>,
}

impl Freezer {
    async fn gate(&self) {
        if self.frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
impl Store for Freezer {
    async fn get(&self, types: &TypeKey, namespace: &str, name: &str) -> Result<DynamicObject> {
        self.gate().await;
        self.inner.get(types, namespace, name).await
    }

    async fn list(&self, types: &TypeKey, params: &ListParams) -> Result<ObjectList> {
        self.gate().await;
        self.inner.list(types, params).await
    }

    async fn update_status(&self, obj: DynamicObject) -> Result<DynamicObject> {
        self.gate().await;
        // Frozen before the write is committed: once it is visible (a watch may deliver it
        // at once), no other call of this process gets through, as if it died right after.
        let last = (self.trigger)(&obj);
        if last {
            self.frozen.store(true, Ordering::SeqCst);
        }
        let written = self.inner.update_status(obj).await?;
        if last {
            self.dead.store(true, Ordering::SeqCst);
            self.gate().await;
        }
        Ok(written)
    }

    async fn commit(&self, ops: Vec<Op>) -> Result<Vec<DynamicObject>> {
        self.gate().await;
        self.inner.commit(ops).await
    }

    async fn watch(
        &self,
        types: &TypeKey,
        params: &ListParams,
        resource_version: Option<u64>,
    ) -> Result<WatchStream> {
        self.gate().await;
        self.inner.watch(types, params, resource_version).await
    }
}

fn netboot(name: &str) -> Job {
    Job {
        metadata: ObjectMeta::named(NS, name),
        spec: JobSpec {
            machine_ref: MachineRef {
                name: "sim".into(),
                namespace: NS.into(),
            },
            tasks: vec![
                Action::power(PowerAction::Off),
                Action::one_time_boot("pxe", true),
                Action::power(PowerAction::On),
            ],
        },
        ..Job::default()
    }
}

fn task_named(obj: &DynamicObject, name: &str) -> Option<Task> {
    (obj.metadata.name.as_deref() == Some(name))
        .then(|| obj.to_typed::<Task>().ok())
        .flatten()
}

/// Runs the service on a freezing store until it freezes and the tripping write is
/// committed (the write happens after the freeze, so waiting for the freeze alone would let
/// the test read the store before that write), then stops it.
async fn run_until_frozen(store: &SharedStore, trigger: Trigger) {
    let dead = Arc::new(AtomicBool::new(false));
    let freezer: SharedStore = Arc::new(Freezer {
        inner: store.clone(),
        trigger,
        frozen: AtomicBool::new(false),
        dead: dead.clone(),
    });
    let service = tokio::spawn(ironbell_bmc::run(freezer, config()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dead.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the trigger never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    service.abort();
    let _ = service.await;
}

fn sets(sim: &Ipmi) -> Vec<String> {
    sim.actions()
        .lines()
        .filter(|l| l.starts_with("set"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_job_resumes_after_a_restart_without_rerunning_finished_tasks() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let sim = lab.ipmi_sim(true);
    let closed = lab.free_port();
    let logs = Logs::default();
    let store = lab.store();
    let task0_rv = lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "sim", ipmi_conn(sim.port, "good", closed)).await;
        Api::<Job>::new(store.clone())
            .create(&netboot("nb"))
            .await
            .unwrap();
        // "Crash" right after task 0 is recorded Completed.
        run_until_frozen(
            &store,
            Box::new(|o| {
                task_named(o, "nb-task-0").is_some_and(|t| task_done(&t) == Some((true, None)))
            }),
        )
        .await;
        let tasks = Api::<Task>::new(store.clone());
        let t0 = tasks.get(NS, "nb-task-0").await.unwrap();
        assert!(
            tasks.get(NS, "nb-task-1").await.is_err(),
            "stopped before task 1"
        );
        t0.metadata.resource_version
    });
    drop(store);
    assert_eq!(sets(&sim), ["set power 0"]);

    // A new process on the same file.
    let store = lab.store();
    lab.run(&logs, || async {
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let done = wait_for::<Job, _>(&store, "nb", Duration::from_secs(30), job_done).await;
        assert_eq!(done, (true, None));
        let t0 = Api::<Task>::new(store.clone())
            .get(NS, "nb-task-0")
            .await
            .unwrap();
        assert_eq!(
            t0.metadata.resource_version, task0_rv,
            "task 0 was touched again"
        );
        service.abort();
    });
    assert_eq!(sets(&sim), ["set power 0", "set boot pxe", "set power 1"]);
    assert!(ipmitool_power_on(&lab, sim.port));
}

#[test]
fn an_action_started_but_never_sent_is_sent_promptly_after_a_restart() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let sim = lab.ipmi_sim(true);
    let closed = lab.free_port();
    let logs = Logs::default();
    let store = lab.store();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "sim", ipmi_conn(sim.port, "good", closed)).await;
        Api::<Job>::new(store.clone())
            .create(&netboot("nb"))
            .await
            .unwrap();
        // "Crash" right after task 2 (power on) got its startTime, before the action went
        // out.
        run_until_frozen(
            &store,
            Box::new(|o| {
                task_named(o, "nb-task-2").is_some_and(|t| {
                    t.status.as_ref().is_some_and(|s| s.start_time.is_some())
                        && task_done(&t).is_none()
                })
            }),
        )
        .await;
    });
    drop(store);
    assert_eq!(sets(&sim), ["set power 0", "set boot pxe"]);

    let store = lab.store();
    lab.run(&logs, || async {
        let start = Instant::now();
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let done = wait_for::<Job, _>(&store, "nb", Duration::from_secs(20), job_done).await;
        assert_eq!(done, (true, None));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        service.abort();
    });
    assert_eq!(sets(&sim), ["set power 0", "set boot pxe", "set power 1"]);
    assert!(logs.text().contains("sending the action again"));
}
