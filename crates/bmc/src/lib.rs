//! # ironbell-bmc
//!
//! The BMC service, ironbell's replacement for Rufio: it keeps Rufio's
//! `bmc.tinkerbell.org/v1alpha1` objects (Machine, Job, Task; see
//! `ironbell_model::bmc`) in line with real baseboard management controllers, over
//! Redfish (`ironbell-redfish`, Rufio's `gofish` provider) and IPMI 2.0
//! (`ironbell-ipmi`, Rufio's `ipmitool` provider).
//!
//! - A **Machine** says how to reach a BMC; its status reports the power state and whether
//!   the BMC is `Contactable`.
//! - A **Job** is an ordered list of actions (power, boot device, virtual media) for one
//!   Machine; it runs them one by one as **Tasks** and ends `Completed` or `Failed`.
//!
//! What it is not: the protocols themselves (the two client crates), the store, or the
//! workflow service (which creates Jobs to network-boot a machine). Only the `ipmitool`
//! and `gofish` providers exist; Rufio's other bmclib providers (and its `rpc` webhook
//! provider) do not.
//!
//! Start reading at [`run`], then [`provider`] (the [`provider::Bmc`] trait and
//! [`provider::connect`]), then [`controllers`] (each module lists where it follows
//! Rufio and where it differs, and why), then [`cli`] (power and boot commands).

pub mod cli;
pub mod controllers;
pub mod provider;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use ironbell_controller::Controller;
use ironbell_model::bmc::{Job, Machine, Task};
use ironbell_store::SharedStore;

use crate::controllers::job::{JobReconciler, task_owner};
use crate::controllers::machine::MachineReconciler;
use crate::controllers::task::TaskReconciler;
use crate::provider::Timeouts;

/// How the BMC service behaves. [`Config::default`] has Rufio's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Objects of each kind reconciled at once.
    pub concurrency: usize,
    /// Connect budget (shared by all providers) and request limits.
    pub timeouts: Timeouts,
    /// How often a Machine's power state is read again (Rufio: 3 minutes).
    pub machine_interval: Duration,
    /// How often a started power on/off Task looks at the power state (Rufio: 3 s).
    pub power_poll: Duration,
    /// How long a Task may take from its `startTime` before it fails (Rufio: 10 minutes).
    pub task_timeout: Duration,
    /// How long a power on/off Task waits for its state before sending the action again.
    pub reissue_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            concurrency: 8,
            timeouts: Timeouts::default(),
            machine_interval: Duration::from_secs(180),
            power_poll: Duration::from_secs(3),
            task_timeout: Duration::from_secs(600),
            reissue_after: Duration::from_secs(30),
        }
    }
}

/// Runs the Machine, Job and Task controllers over `store`, forever (drop or abort the
/// future to stop them; every controller is safe to stop at any point). Must be called
/// inside a Tokio runtime.
pub async fn run(store: SharedStore, config: Config) {
    let config = Arc::new(config);
    let n = config.concurrency.max(1);
    let machine_reconciler = Arc::new(MachineReconciler::new(store.clone(), config.clone()));
    let woken = machine_reconciler.clone();
    let machines = Controller::<Machine>::new("bmc-machine", store.clone())
        .watches::<Job>(move |key, job| woken.job_ended(key, job))
        .run(machine_reconciler, n);
    let jobs = Controller::<Job>::new("bmc-job", store.clone())
        .watches::<Task>(task_owner)
        .run(
            Arc::new(JobReconciler::new(store.clone()).with_events(
                ironbell_store::events::Recorder::start(store.clone(), "ironbell-bmc"),
            )),
            n,
        );
    let tasks = Controller::<Task>::new("bmc-task", store.clone())
        .run(Arc::new(TaskReconciler::new(store, config.clone())), n);
    tracing::info!(concurrency = n, "BMC controllers running");
    tokio::join!(machines, jobs, tasks);
}
