//! Rufio's `bmc.tinkerbell.org/v1alpha1` kinds: [`Machine`] (a baseboard management
//! controller and how to reach it), [`Job`] (an ordered list of BMC actions for one machine)
//! and [`Task`] (one action of a job, with its own copy of the connection).
//!
//! Fields follow the v1alpha1 CRDs exactly; unknown fields and unknown enum values are
//! errors. This module only describes data: the BMC service talks Redfish and IPMI. Start
//! with [`Machine`], then [`Action`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, NamespacedRef, ObjectMeta};

/// The port a BMC connection uses when none is given (IPMI's RMCP port).
pub const DEFAULT_PORT: i64 = 623;

/// A baseboard management controller that Rufio can power and boot-control.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Machine {
    /// `apiVersion`: always `bmc.tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Machine>,
    /// `kind`: always `Machine`.
    #[serde(default)]
    pub kind: Kind<Machine>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// How to reach the BMC.
    #[serde(default)]
    pub spec: MachineSpec,
    /// Observed power state and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MachineStatus>,
}
crate::impl_resource!(
    Machine,
    "bmc.tinkerbell.org/v1alpha1",
    "Machine",
    "machines",
    aliases = ["machine", "bmcmachine", "bmcmachines"]
);

impl Machine {
    /// The observed power state, [`PowerState::Unknown`] when not reported.
    pub fn power_state(&self) -> PowerState {
        self.status
            .as_ref()
            .and_then(|s| s.power_state)
            .unwrap_or(PowerState::Unknown)
    }
}

/// Desired state of a [`Machine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineSpec {
    /// Connection details of the BMC.
    pub connection: Connection,
}

/// How to reach and authenticate to a BMC.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Connection {
    /// IP address or host name of the BMC.
    pub host: String,
    /// Port of the BMC (default 623).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Secret holding the `username` and `password` keys for the BMC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<NamespacedRef>,
    /// Whether to accept the BMC's TLS certificate without verifying it.
    #[serde(rename = "insecureTLS")]
    pub insecure_tls: bool,
    /// Options of individual BMC providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_options: Option<ProviderOptions>,
}

impl Connection {
    /// The port, or [`DEFAULT_PORT`] when unset.
    pub fn port_or_default(&self) -> i64 {
        self.port.unwrap_or(DEFAULT_PORT)
    }
}

/// Options of individual BMC providers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderOptions {
    /// Providers to try first, in order (case-insensitive names such as `ipmitool`, `gofish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_order: Option<Vec<String>>,
    /// Intel AMT provider options.
    #[serde(default, rename = "intelAMT", skip_serializing_if = "Option::is_none")]
    pub intel_amt: Option<IntelAmtOptions>,
    /// ipmitool provider options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipmitool: Option<IpmitoolOptions>,
    /// Redfish provider options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redfish: Option<RedfishOptions>,
    /// RPC (webhook) provider options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc: Option<RpcOptions>,
    /// Home Assistant (smart switch) provider options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homeassistant: Option<HomeAssistantOptions>,
}

/// Redfish provider options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedfishOptions {
    /// Port for Redfish calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Whether to use HTTP basic authentication instead of a session token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_basic_auth: Option<bool>,
    /// Name of the system to manage on a BMC that manages several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_name: Option<String>,
}

/// ipmitool provider options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpmitoolOptions {
    /// Port for IPMI calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// IPMI cipher suite to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
}

/// Intel AMT provider options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntelAmtOptions {
    /// Port for AMT calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Scheme for AMT calls (default `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_scheme: Option<HostScheme>,
}

/// URL scheme of Intel AMT calls.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HostScheme {
    /// Plain HTTP.
    #[default]
    #[serde(rename = "http")]
    Http,
    /// HTTPS.
    #[serde(rename = "https")]
    Https,
}

/// RPC (webhook) provider options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RpcOptions {
    /// URL of the listener all notifications are sent to.
    #[serde(rename = "consumerURL")]
    pub consumer_url: String,
    /// Whether responses from the listener are not logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_notifications_disabled: Option<bool>,
    /// How the HTTP request is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RpcRequestOptions>,
    /// How the HMAC signature header is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RpcSignatureOptions>,
    /// HMAC signing secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<RpcHmacOptions>,
    /// Experimental options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experimental: Option<RpcExperimentalOptions>,
}

/// How the RPC provider builds its HTTP request.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RpcRequestOptions {
    /// Content type of the request.
    #[serde(
        default,
        rename = "httpContentType",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_content_type: Option<String>,
    /// HTTP method of the request.
    #[serde(
        default,
        rename = "httpMethod",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_method: Option<String>,
    /// Headers added to every request (name to values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_headers: Option<BTreeMap<String, Vec<String>>>,
    /// Time format of the timestamp header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// Name of the header carrying the timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
}

/// How the RPC provider adds its signature header.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RpcSignatureOptions {
    /// Name of the header carrying the signature(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
    /// Whether the algorithm name is not appended to the header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append_algo_to_header_disabled: Option<bool>,
    /// Headers whose values are included in the signed payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_payload_headers: Option<Vec<String>>,
}

/// HMAC signing options of the RPC provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RpcHmacOptions {
    /// Whether the algorithm name is not prefixed to the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_sig_disabled: Option<bool>,
    /// Signing secrets per algorithm (e.g. `sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<BTreeMap<String, Vec<NamespacedRef>>>,
}

/// Experimental options of the RPC provider.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RpcExperimentalOptions {
    /// JSON payload the request is embedded into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_request_payload: Option<String>,
    /// Dotted path in the custom payload where the request is embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dot_path: Option<String>,
}

/// Home Assistant provider options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HomeAssistantOptions {
    /// Entity id of the switch that powers the machine.
    #[serde(rename = "switchEntityID")]
    pub switch_entity_id: String,
    /// Seconds to wait after a power operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_operation_delay_seconds: Option<i32>,
}

/// Observed state of a [`Machine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineStatus {
    /// Observed power state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<PowerState>,
    /// Latest observations, e.g. `Contactable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<MachineCondition>>,
}

/// Power state of a machine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Powered on.
    #[serde(rename = "on")]
    On,
    /// Powered off.
    #[serde(rename = "off")]
    Off,
    /// Not known.
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
}

/// An observed condition of a [`Machine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineCondition {
    /// Condition type; Rufio sets `Contactable`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// RFC 3339 time the condition last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<crate::Timestamp>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl MachineCondition {
    /// The `Contactable` condition type.
    pub const CONTACTABLE: &'static str = "Contactable";
}

/// An ordered list of BMC actions run against one [`Machine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    /// `apiVersion`: always `bmc.tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Job>,
    /// `kind`: always `Job`.
    #[serde(default)]
    pub kind: Kind<Job>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The machine and the actions.
    #[serde(default)]
    pub spec: JobSpec,
    /// Progress of the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
}
crate::impl_resource!(
    Job,
    "bmc.tinkerbell.org/v1alpha1",
    "Job",
    "jobs",
    aliases = ["job", "j", "bmcjob", "bmcjobs"]
);

impl Job {
    /// The name Rufio gives the `n`th (0-based) [`Task`] of this job: `JOBNAME-task-N`.
    pub fn task_name(&self, n: usize) -> String {
        format!("{}-task-{n}", self.metadata.name())
    }
}

/// Desired state of a [`Job`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    /// The machine every action runs against.
    pub machine_ref: MachineRef,
    /// Actions run one after the other; each must finish before the next starts.
    pub tasks: Vec<Action>,
}

/// A reference to a [`Machine`] by name and namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineRef {
    /// Name of the machine.
    pub name: String,
    /// Namespace of the machine.
    pub namespace: String,
}

/// One BMC action; exactly one of its fields is expected to be set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Action {
    /// A power operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_action: Option<PowerAction>,
    /// A one-time boot device setting (deprecated upstream in favour of `bootDevice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_time_boot_device_action: Option<OneTimeBootDeviceAction>,
    /// A boot device setting, one-time or persistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_device: Option<BootDeviceConfig>,
    /// A virtual media insert or eject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_media_action: Option<VirtualMediaAction>,
}

impl Action {
    /// An action that performs one power operation.
    pub fn power(action: PowerAction) -> Self {
        Self {
            power_action: Some(action),
            ..Self::default()
        }
    }

    /// An action that sets a one-time boot device.
    pub fn one_time_boot(device: impl Into<String>, efi_boot: bool) -> Self {
        Self {
            one_time_boot_device_action: Some(OneTimeBootDeviceAction {
                device: vec![device.into()],
                efi_boot: efi_boot.then_some(true),
            }),
            ..Self::default()
        }
    }
}

/// A power operation.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerAction {
    /// Power on.
    #[serde(rename = "on")]
    On,
    /// Hard power off.
    #[serde(rename = "off")]
    Off,
    /// Soft (ACPI) power off.
    #[serde(rename = "soft")]
    Soft,
    /// Read the power state only.
    #[serde(rename = "status")]
    Status,
    /// Power cycle.
    #[serde(rename = "cycle")]
    Cycle,
    /// Reset.
    #[serde(rename = "reset")]
    Reset,
}

/// Boot device names Rufio knows (the field is free text).
pub mod boot_device {
    /// Network boot.
    pub const PXE: &str = "pxe";
    /// Local disk.
    pub const DISK: &str = "disk";
    /// BIOS setup.
    pub const BIOS: &str = "bios";
    /// CD-ROM (or virtual media).
    pub const CDROM: &str = "cdrom";
    /// Safe mode.
    pub const SAFE: &str = "safe";
}

/// A one-time boot device setting.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OneTimeBootDeviceAction {
    /// Boot devices in order; only the first is used (see [`boot_device`]).
    pub device: Vec<String>,
    /// Whether to boot in EFI mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efi_boot: Option<bool>,
}

/// A boot device setting.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootDeviceConfig {
    /// Device to boot first (see [`boot_device`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Whether the setting persists across boots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
    /// Whether to boot in EFI mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efi_boot: Option<bool>,
}

/// A virtual media insert (with a URL) or eject (without).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualMediaAction {
    /// URL of the image to insert; empty or absent ejects.
    #[serde(default, rename = "mediaURL", skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    /// Kind of virtual media, e.g. `CD`.
    pub kind: String,
}

/// Observed state of a [`Job`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobStatus {
    /// Latest observations: `Running`, `Completed`, `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<JobCondition>>,
    /// RFC 3339 time processing started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<crate::Timestamp>,
    /// RFC 3339 time the job completed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<crate::Timestamp>,
}

/// A condition of a [`Job`] or [`Task`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobCondition {
    /// Condition type: `Running`, `Completed` or `Failed`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl JobCondition {
    /// The `Running` condition type (jobs only).
    pub const RUNNING: &'static str = "Running";
    /// The `Completed` condition type.
    pub const COMPLETED: &'static str = "Completed";
    /// The `Failed` condition type.
    pub const FAILED: &'static str = "Failed";
}

/// One BMC action of a [`Job`], carrying the connection it runs on.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    /// `apiVersion`: always `bmc.tinkerbell.org/v1alpha1`.
    #[serde(default)]
    pub api_version: ApiVersion<Task>,
    /// `kind`: always `Task`.
    #[serde(default)]
    pub kind: Kind<Task>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The action and connection.
    #[serde(default)]
    pub spec: TaskSpec,
    /// Progress of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}
crate::impl_resource!(
    Task,
    "bmc.tinkerbell.org/v1alpha1",
    "Task",
    "tasks",
    aliases = ["task", "t", "bmctask", "bmctasks"]
);

/// Desired state of a [`Task`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskSpec {
    /// The action to perform.
    pub task: Action,
    /// Connection to the BMC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
}

/// Observed state of a [`Task`] (same shape as a job's).
pub type TaskStatus = JobStatus;

/// A condition of a [`Task`] (same shape as a job's).
pub type TaskCondition = JobCondition;
