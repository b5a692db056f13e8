//! What `ironbell power` and `ironbell boot` do, as functions the CLI calls.
//!
//! A Rufio user changes a machine's power or boot device by creating a `Job`; these
//! commands do exactly that, so every change goes through the BMC service like any other
//! Job (the workflow service's netboot Jobs included), leaves a record in the store
//! (`ironbell get jobs`), and gets the Task's confirmation that the power state was
//! reached. Given `wait`, they wait for the Job to finish and report its outcome; the BMC
//! service must be running (`ironbell serve`) for that. As in Rufio, Jobs for the same
//! Machine are not serialized against each other.
//!
//! `power ... status` is the exception: it is a read with no side effect, so it asks the
//! BMC directly (through the same providers and credentials) and prints what it says now,
//! where the Machine's `status.powerState` is read every 3 minutes and after each Job (a
//! change made outside ironbell, at the BMC's own web page, shows there only later).
//!
//! Start at [`power`] and [`boot`].

use std::time::{Duration, SystemTime};

use ironbell_model::ObjectMeta;
use ironbell_model::bmc::{
    Action, BootDeviceConfig, Job, JobCondition, JobSpec, Machine, MachineRef, PowerAction,
    PowerState,
};
use ironbell_model::corev1::Secret;
use ironbell_store::{Api, SharedStore, StoreError};

use crate::controllers::{self, credentials};
use crate::provider::{self, Timeouts};
use crate::status::{self, TRUE};

/// Longest object name the store accepts (a DNS subdomain).
const MAX_NAME: usize = 253;

/// What a command failed with. Messages never carry the BMC password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The Machine does not exist.
    #[error("machine {namespace}/{name} not found")]
    MachineNotFound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A store operation failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// The store's error.
        source: StoreError,
    },
    /// The BMC credentials could not be read.
    #[error("{0}")]
    Credentials(String),
    /// The BMC could not be reached or did not answer.
    #[error("{0}")]
    Bmc(String),
    /// A boot device name is empty or not usable in an object name.
    #[error("invalid boot device {0:?}")]
    Device(String),
    /// The Job name would be too long for the store.
    #[error("job name {0:?} is longer than {MAX_NAME} characters")]
    NameTooLong(String),
    /// The Job failed.
    #[error("job {job} failed: {message}")]
    JobFailed {
        /// `namespace/name` of the Job.
        job: String,
        /// The Job's Failed message.
        message: String,
    },
    /// The Job did not finish within the wait.
    #[error(
        "job {job} has not finished after {waited:?}; it stays queued (is the BMC service running? `ironbell serve`)"
    )]
    Timeout {
        /// `namespace/name` of the Job.
        job: String,
        /// How long was waited.
        waited: Duration,
    },
}

/// Parses a power action as the CLI takes it: `on`, `off`, `soft`, `cycle`, `reset`,
/// `status` (Rufio's `powerAction` values).
pub fn parse_power_action(s: &str) -> Option<PowerAction> {
    Some(match s.to_ascii_lowercase().as_str() {
        "on" => PowerAction::On,
        "off" => PowerAction::Off,
        "soft" => PowerAction::Soft,
        "cycle" => PowerAction::Cycle,
        "reset" => PowerAction::Reset,
        "status" => PowerAction::Status,
        _ => return None,
    })
}

fn action_name(a: PowerAction) -> &'static str {
    match a {
        PowerAction::On => "on",
        PowerAction::Off => "off",
        PowerAction::Soft => "soft",
        PowerAction::Cycle => "cycle",
        PowerAction::Reset => "reset",
        PowerAction::Status => "status",
    }
}

fn power_name(p: PowerState) -> &'static str {
    match p {
        PowerState::On => "on",
        PowerState::Off => "off",
        PowerState::Unknown => "unknown",
    }
}

async fn get_machine(
    store: &SharedStore,
    namespace: &str,
    name: &str,
) -> Result<Machine, CliError> {
    Api::<Machine>::new(store.clone())
        .get(namespace, name)
        .await
        .map_err(|e| {
            if e.is_not_found() {
                CliError::MachineNotFound {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                }
            } else {
                CliError::Store {
                    what: format!("get Machine {namespace}/{name}"),
                    source: e,
                }
            }
        })
}

/// `ironbell power ACTION MACHINE`: for `status`, asks the BMC now and returns e.g.
/// `bmc-node1: on (ipmitool)`; for the other actions, creates the Job
/// `<machine>-power-<action>-<unix seconds>` with that one action and, given `wait`,
/// waits up to that long for it to finish.
pub async fn power(
    store: &SharedStore,
    namespace: &str,
    machine: &str,
    action: PowerAction,
    wait: Option<Duration>,
) -> Result<String, CliError> {
    let m = get_machine(store, namespace, machine).await?;
    if action == PowerAction::Status {
        let owner = format!("Machine {namespace}/{machine}");
        let secrets = Api::<Secret>::new(store.clone());
        let creds = credentials(&secrets, &m.spec.connection, namespace, &owner)
            .await
            .map_err(|e| match e {
                controllers::Error::Secret(s) => CliError::Credentials(s),
                other => CliError::Credentials(other.to_string()),
            })?;
        let mut bmc = provider::connect(&m.spec.connection, &creds, Timeouts::default())
            .await
            .map_err(|e| CliError::Bmc(creds.scrub(&e.to_string())))?;
        let state = bmc.power_state().await;
        let used = bmc.provider();
        let _ = bmc.close().await;
        let state =
            state.map_err(|e| CliError::Bmc(creds.scrub(&format!("get power state: {e}"))))?;
        return Ok(format!("{machine}: {} ({used})", power_name(state)));
    }
    let name = format!("{machine}-power-{}-{}", action_name(action), unix_now());
    run_job(store, &m, name, Action::power(action), wait).await
}

/// `ironbell boot MACHINE DEVICE`: creates the Job `<machine>-boot-<device>-<unix seconds>`
/// that sets the boot device (Rufio's `oneTimeBootDeviceAction` for the next boot only,
/// the `bootDevice` action when `persistent`), in EFI mode when `efi`; given `wait`,
/// waits up to that long for it to finish. The machine is not rebooted.
pub async fn boot(
    store: &SharedStore,
    namespace: &str,
    machine: &str,
    device: &str,
    efi: bool,
    persistent: bool,
    wait: Option<Duration>,
) -> Result<String, CliError> {
    let device = device.to_ascii_lowercase();
    if device.is_empty()
        || !device
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(CliError::Device(device));
    }
    let m = get_machine(store, namespace, machine).await?;
    let action = if persistent {
        Action {
            boot_device: Some(BootDeviceConfig {
                device: Some(device.clone()),
                persistent: Some(true),
                efi_boot: Some(efi),
            }),
            ..Action::default()
        }
    } else {
        Action::one_time_boot(device.clone(), efi)
    };
    let name = format!("{machine}-boot-{}-{}", device.replace('_', "-"), unix_now());
    run_job(store, &m, name, action, wait).await
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn run_job(
    store: &SharedStore,
    machine: &Machine,
    name: String,
    action: Action,
    wait: Option<Duration>,
) -> Result<String, CliError> {
    // Leave room for a "-NN" uniqueness suffix and the Task suffix "-task-0".
    if name.len() + "-NN-task-0".len() > MAX_NAME {
        return Err(CliError::NameTooLong(name));
    }
    let ns = machine.metadata.namespace().to_string();
    let jobs = Api::<Job>::new(store.clone());
    let job = Job {
        metadata: ObjectMeta::named(ns.clone(), name.clone()),
        spec: JobSpec {
            machine_ref: MachineRef {
                name: machine.metadata.name().to_string(),
                namespace: ns.clone(),
            },
            tasks: vec![action],
        },
        ..Job::default()
    };
    // Two commands within the same second get distinct names.
    let mut job = job;
    let mut attempt = 1;
    let name = loop {
        match jobs.create(&job).await {
            Ok(created) => break created.metadata.name().to_string(),
            Err(StoreError::AlreadyExists { .. }) if attempt < 10 => {
                attempt += 1;
                job.metadata.name = Some(format!("{name}-{attempt}"));
            }
            Err(e) => {
                return Err(CliError::Store {
                    what: format!("create Job {ns}/{}", job.metadata.name()),
                    source: e,
                });
            }
        }
    };
    let id = format!("{ns}/{name}");
    let Some(wait) = wait else {
        return Ok(format!("job {id} created"));
    };
    let start = tokio::time::Instant::now();
    loop {
        let j = jobs.get(&ns, &name).await.map_err(|e| CliError::Store {
            what: format!("get Job {id}"),
            source: e,
        })?;
        let conditions = j.status.as_ref().and_then(|s| s.conditions.as_deref());
        if status::has(conditions, JobCondition::COMPLETED, TRUE) {
            return Ok(format!("job {id} completed"));
        }
        if status::has(conditions, JobCondition::FAILED, TRUE) {
            let message = conditions
                .unwrap_or_default()
                .iter()
                .find(|c| c.type_ == JobCondition::FAILED)
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            return Err(CliError::JobFailed { job: id, message });
        }
        if start.elapsed() >= wait {
            return Err(CliError::Timeout {
                job: id,
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_actions_parse_as_rufio_spells_them() {
        for a in ["on", "off", "soft", "cycle", "reset", "status"] {
            let p = parse_power_action(a);
            assert_eq!(p.map(action_name), Some(a));
        }
        assert_eq!(parse_power_action("ON"), Some(PowerAction::On));
        assert_eq!(parse_power_action("hard"), None);
    }
}
