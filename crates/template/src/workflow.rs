//! Tinkerbell's handling of a workflow template: the data a template sees, rendering, and
//! validation of the rendered document, as Tinkerbell's workflow controller does it
//! (`tink/controller/internal/workflow`: `reconciler.go`, `template_funcs.go`,
//! `template_validator.go`).
//!
//! The data ([`template_data`]) is the Workflow's `spec.hardwareMap` entries at the top level
//! (`{{.device_1}}`) plus:
//! - `.Hardware`: the legacy view, shaped as Tinkerbell's Go struct `templateHardwareData`:
//!   `Disks` (the device of each disk, a list of strings), `Interfaces` (each interface with
//!   Go field names: `.DHCP.MAC`, `.DHCP.IP.Address`, `.Netboot.AllowPXE`...), `UserData`,
//!   `Metadata` (`.Metadata.Instance.Hostname`, `.Metadata.Facility.FacilityCode`...) and
//!   `VendorData`. Every Go field is present: strings default to `""`, numbers to 0,
//!   booleans to false, lists to `[]`, absent sub-structures (Go pointers) to nil.
//! - `.hardware`: the whole Hardware object with its JSON field names (`.hardware.spec.
//!   metadata.instance.id`), decoded as Go decodes JSON, so every number is a float64.
//! - `.references`: always empty here (Tinkerbell fills it from `spec.references` through
//!   the API server, which this pure crate has no access to).
//!
//! Rendering uses the template name `workflow-template` (so errors read `template:
//! workflow-template:LINE:COL: ...`), `missingkey=error`, and the 256 KiB output cap.
//! Validation ([`validate`]) follows Tinkerbell and adds what ironbell requires on top: see
//! [`TemplateError`]. Start at [`render_and_validate`].

use std::collections::{BTreeMap, HashSet};

use ironbell_model::template_def::{TemplateDefError, TemplateDefinition};
use ironbell_model::tinkerbell::Hardware;

use crate::gotemplate::{self, Template, Value};
use crate::image::{ImageRefError, parse_normalized};

/// The name Tinkerbell gives the template it renders.
pub const TEMPLATE_NAME: &str = "workflow-template";

/// Longest name (template, task, action) Tinkerbell accepts, in bytes.
pub const MAX_NAME_LEN: usize = 199;

/// A template could not be rendered, or its rendering is not a valid workflow template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The Go template failed to parse or execute.
    #[error(transparent)]
    Render(#[from] gotemplate::Error),
    /// The rendered text is not a workflow template document.
    #[error("rendered template is not a valid workflow template: {0}")]
    Document(#[from] TemplateDefError),
    /// The template's name is empty or longer than 199 bytes.
    #[error("template name {0:?} must be 1 to {MAX_NAME_LEN} bytes long")]
    Name(String),
    /// The template has no task.
    #[error("template {0:?} must have at least one task")]
    NoTasks(String),
    /// A task's name is empty or longer than 199 bytes.
    #[error("task {0:?}: name must be 1 to {MAX_NAME_LEN} bytes long")]
    TaskName(String),
    /// Two tasks have the same name.
    #[error("task {0:?}: two tasks in a template cannot have the same name")]
    DuplicateTask(String),
    /// An action's name is empty or longer than 199 bytes.
    #[error("task {task:?}: action {action:?}: name must be 1 to {MAX_NAME_LEN} bytes long")]
    ActionName {
        /// The task.
        task: String,
        /// The action.
        action: String,
    },
    /// Two actions of a task have the same name.
    #[error("task {task:?}: action {action:?}: two actions in a task cannot have the same name")]
    DuplicateAction {
        /// The task.
        task: String,
        /// The action.
        action: String,
    },
    /// An action's image is not an image reference.
    #[error(
        "task {task:?}: action {action:?}: image {image:?} is not a valid image reference: {error}"
    )]
    Image {
        /// The task.
        task: String,
        /// The action.
        action: String,
        /// The image as rendered.
        image: String,
        /// Why it was refused.
        error: ImageRefError,
    },
    /// A task's worker rendered to nothing (the hardwareMap lacks its value).
    #[error("task {0:?}: worker is empty after rendering")]
    EmptyWorker(String),
    /// An action's timeout is zero or negative.
    #[error("task {task:?}: action {action:?}: timeout {timeout} must be positive")]
    Timeout {
        /// The task.
        task: String,
        /// The action.
        action: String,
        /// The timeout as rendered.
        timeout: i64,
    },
    /// The global timeout is zero or negative.
    #[error("global_timeout {0} must be positive")]
    GlobalTimeout(i64),
}

// ------------------------------------------------------------------ the `.Hardware` shape

/// The Go type of a field of Tinkerbell's Hardware structs.
enum T {
    /// `string`
    S,
    /// `int64`
    I,
    /// `bool`
    B,
    /// `*bool`
    PB,
    /// `*Struct`
    P(&'static [F]),
    /// `[]string`
    LS,
    /// `[]Struct` or `[]*Struct`
    L(&'static [F]),
}

/// A struct field: Go name, JSON name, type.
struct F(&'static str, &'static str, T);

const INTERFACE: &[F] = &[
    F("Netboot", "netboot", T::P(NETBOOT)),
    F("Isoboot", "isoboot", T::P(ISOBOOT)),
    F("DHCP", "dhcp", T::P(DHCP)),
    F("DisableDHCP", "disableDhcp", T::B),
];
const NETBOOT: &[F] = &[
    F("AllowPXE", "allowPXE", T::PB),
    F("AllowWorkflow", "allowWorkflow", T::PB),
    F("IPXE", "ipxe", T::P(IPXE)),
    F("OSIE", "osie", T::P(OSIE)),
    F("PXELINUX", "pxelinux", T::P(PXELINUX)),
    F("RPI", "rpi", T::P(RPI)),
];
const ISOBOOT: &[F] = &[F("SourceISO", "sourceISO", T::S)];
const IPXE: &[F] = &[
    F("URL", "url", T::S),
    F("Contents", "contents", T::S),
    F("Binary", "binary", T::S),
];
const OSIE: &[F] = &[
    F("BaseURL", "baseURL", T::S),
    F("Kernel", "kernel", T::S),
    F("Initrd", "initrd", T::S),
    F("KernelParams", "kernelParams", T::LS),
];
const PXELINUX: &[F] = &[F("Config", "config", T::S)];
const RPI: &[F] = &[
    F("ConfigTxt", "configTxt", T::S),
    F("FirmwarePath", "firmwarePath", T::S),
    F("SerialNum", "serialNum", T::S),
];
const DHCP: &[F] = &[
    F("MAC", "mac", T::S),
    F("Hostname", "hostname", T::S),
    F("DomainName", "domain_name", T::S),
    F("LeaseTime", "lease_time", T::I),
    F("NameServers", "name_servers", T::LS),
    F("TimeServers", "time_servers", T::LS),
    F("Arch", "arch", T::S),
    F("UEFI", "uefi", T::B),
    F("IfaceName", "iface_name", T::S),
    F("IP", "ip", T::P(IP)),
    F("VLANID", "vlan_id", T::S),
    F(
        "ClasslessStaticRoutes",
        "classless_static_routes",
        T::L(ROUTE),
    ),
    F("TFTPServerName", "tftp_server_name", T::S),
    F("BootFileName", "boot_file_name", T::S),
];
const IP: &[F] = &[
    F("Address", "address", T::S),
    F("Netmask", "netmask", T::S),
    F("Gateway", "gateway", T::S),
    F("Family", "family", T::I),
];
const ROUTE: &[F] = &[
    F("DestinationDescriptor", "destination_descriptor", T::S),
    F("Router", "router", T::S),
];
const METADATA: &[F] = &[
    F("State", "state", T::S),
    F("BondingMode", "bonding_mode", T::I),
    F("Manufacturer", "manufacturer", T::P(MANUFACTURER)),
    F("Instance", "instance", T::P(INSTANCE)),
    F("Custom", "custom", T::P(CUSTOM)),
    F("Facility", "facility", T::P(FACILITY)),
];
const MANUFACTURER: &[F] = &[F("ID", "id", T::S), F("Slug", "slug", T::S)];
const INSTANCE: &[F] = &[
    F("ID", "id", T::S),
    F("State", "state", T::S),
    F("Hostname", "hostname", T::S),
    F("AllowPxe", "allow_pxe", T::B),
    F("Rescue", "rescue", T::B),
    F(
        "OperatingSystem",
        "operating_system",
        T::P(OPERATING_SYSTEM),
    ),
    F("AlwaysPxe", "always_pxe", T::B),
    F("IpxeScriptURL", "ipxe_script_url", T::S),
    F("Ips", "ips", T::L(INSTANCE_IP)),
    F("Userdata", "userdata", T::S),
    F("CryptedRootPassword", "crypted_root_password", T::S),
    F("Tags", "tags", T::LS),
    F("Storage", "storage", T::P(STORAGE)),
    F("SSHKeys", "ssh_keys", T::LS),
    F("NetworkReady", "network_ready", T::B),
];
const OPERATING_SYSTEM: &[F] = &[
    F("Slug", "slug", T::S),
    F("Distro", "distro", T::S),
    F("Version", "version", T::S),
    F("ImageTag", "image_tag", T::S),
    F("OsSlug", "os_slug", T::S),
];
const INSTANCE_IP: &[F] = &[
    F("Address", "address", T::S),
    F("Netmask", "netmask", T::S),
    F("Gateway", "gateway", T::S),
    F("Family", "family", T::I),
    F("Public", "public", T::B),
    F("Management", "management", T::B),
];
const STORAGE: &[F] = &[
    F("Disks", "disks", T::L(STORAGE_DISK)),
    F("Raid", "raid", T::L(RAID)),
    F("Filesystems", "filesystems", T::L(FILESYSTEM)),
];
const STORAGE_DISK: &[F] = &[
    F("Device", "device", T::S),
    F("WipeTable", "wipe_table", T::B),
    F("Partitions", "partitions", T::L(PARTITION)),
];
const PARTITION: &[F] = &[
    F("Label", "label", T::S),
    F("Number", "number", T::I),
    F("Size", "size", T::I),
    F("Start", "start", T::I),
    F("TypeGUID", "type_guid", T::S),
];
const RAID: &[F] = &[
    F("Name", "name", T::S),
    F("Level", "level", T::S),
    F("Devices", "devices", T::LS),
    F("Spare", "spare", T::I),
];
const FILESYSTEM: &[F] = &[F("Mount", "mount", T::P(MOUNT))];
const MOUNT: &[F] = &[
    F("Device", "device", T::S),
    F("Format", "format", T::S),
    F("Files", "files", T::L(FILE)),
    F("Create", "create", T::P(CREATE)),
    F("Point", "point", T::S),
];
const FILE: &[F] = &[
    F("Path", "path", T::S),
    F("Contents", "contents", T::S),
    F("Mode", "mode", T::I),
    F("UID", "uid", T::I),
    F("GID", "gid", T::I),
];
const CREATE: &[F] = &[F("Force", "force", T::B), F("Options", "options", T::LS)];
const CUSTOM: &[F] = &[
    F(
        "PreinstalledOperatingSystemVersion",
        "preinstalled_operating_system_version",
        T::P(OPERATING_SYSTEM),
    ),
    F("PrivateSubnets", "private_subnets", T::LS),
];
const FACILITY: &[F] = &[
    F("PlanSlug", "plan_slug", T::S),
    F("PlanVersionSlug", "plan_version_slug", T::S),
    F("FacilityCode", "facility_code", T::S),
];

fn go_struct(fields: &[F], json: Option<&serde_json::Value>) -> Value {
    let obj = json.and_then(serde_json::Value::as_object);
    let mut m = BTreeMap::new();
    for F(go, js, t) in fields {
        m.insert((*go).to_string(), go_field(t, obj.and_then(|o| o.get(*js))));
    }
    Value::map(m)
}

fn go_field(t: &T, json: Option<&serde_json::Value>) -> Value {
    let json = json.filter(|j| !j.is_null());
    match t {
        T::S => Value::String(
            json.and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
        ),
        T::I => Value::Int(json.and_then(serde_json::Value::as_i64).unwrap_or(0)),
        T::B => Value::Bool(json.and_then(serde_json::Value::as_bool).unwrap_or(false)),
        T::PB => json
            .and_then(serde_json::Value::as_bool)
            .map_or(Value::Nil, Value::Bool),
        T::P(fields) => match json {
            Some(j) => go_struct(fields, Some(j)),
            None => Value::Nil,
        },
        T::LS => Value::list(
            json.and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|s| Value::string(s.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        T::L(fields) => Value::list(
            json.and_then(serde_json::Value::as_array)
                .map(|a| a.iter().map(|x| go_struct(fields, Some(x))).collect())
                .unwrap_or_default(),
        ),
    }
}

/// `.Hardware`: Tinkerbell's `templateHardwareData` for a Hardware (its zero value for none).
pub fn hardware_contract(hardware: Option<&Hardware>) -> Value {
    let spec = hardware
        .and_then(|h| serde_json::to_value(&h.spec).ok())
        .unwrap_or(serde_json::Value::Null);
    let get = |k: &str| spec.get(k).filter(|v| !v.is_null());
    let disks = get("disks")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| {
                    Value::string(
                        d.get("device")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut m = BTreeMap::new();
    m.insert("Disks".to_string(), Value::list(disks));
    m.insert(
        "Interfaces".to_string(),
        go_field(&T::L(INTERFACE), get("interfaces")),
    );
    m.insert("UserData".to_string(), go_field(&T::S, get("userData")));
    m.insert("Metadata".to_string(), go_struct(METADATA, get("metadata")));
    m.insert("VendorData".to_string(), go_field(&T::S, get("vendorData")));
    Value::map(m)
}

/// The data a template is executed over: the hardwareMap entries, `.Hardware`,
/// `.hardware` and `.references` (see the module documentation).
pub fn template_data(
    hardware_map: &BTreeMap<String, String>,
    hardware: Option<&Hardware>,
) -> Value {
    let mut data: BTreeMap<String, Value> = hardware_map
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let default = Hardware::default();
    let whole = serde_json::to_value(hardware.unwrap_or(&default))
        .map(|j| Value::from_json_go(&j))
        .unwrap_or_else(|_| Value::map(BTreeMap::new()));
    data.insert("hardware".to_string(), whole);
    data.insert("Hardware".to_string(), hardware_contract(hardware));
    data.insert("references".to_string(), Value::map(BTreeMap::new()));
    Value::map(data)
}

/// Renders a template's text for a Workflow: `hardware_map` is its `spec.hardwareMap`,
/// `hardware` the Hardware it names (if found).
pub fn render(
    template_text: &str,
    hardware_map: &BTreeMap<String, String>,
    hardware: Option<&Hardware>,
) -> Result<String, TemplateError> {
    let t = Template::parse(TEMPLATE_NAME, template_text)?;
    Ok(t.execute(&template_data(hardware_map, hardware))?)
}

/// Checks that a template's text parses as a Go template (what can be checked before a
/// Workflow supplies the data).
pub fn check_syntax(template_text: &str) -> Result<(), TemplateError> {
    Template::parse(TEMPLATE_NAME, template_text)?;
    Ok(())
}

fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN
}

/// Validates a rendered template as Tinkerbell does: the template, task and action names
/// are 1 to 199 bytes, there is at least one task, task names are unique, action names are
/// unique within their task, and every image is an image reference. On top of Tinkerbell:
/// timeouts, when given, are positive. (Empty workers are checked by
/// [`render_and_validate`], as Tinkerbell does after rendering.)
pub fn validate(def: &TemplateDefinition) -> Result<(), TemplateError> {
    if !name_ok(&def.name) {
        return Err(TemplateError::Name(def.name.clone()));
    }
    if def.tasks.is_empty() {
        return Err(TemplateError::NoTasks(def.name.clone()));
    }
    let mut tasks = HashSet::new();
    for task in &def.tasks {
        if !name_ok(&task.name) {
            return Err(TemplateError::TaskName(task.name.clone()));
        }
        if !tasks.insert(task.name.as_str()) {
            return Err(TemplateError::DuplicateTask(task.name.clone()));
        }
        let mut actions = HashSet::new();
        for action in &task.actions {
            let ctx = || (task.name.clone(), action.name.clone());
            if !name_ok(&action.name) {
                let (task, action) = ctx();
                return Err(TemplateError::ActionName { task, action });
            }
            if let Err(error) = parse_normalized(&action.image) {
                let (task, action_name) = ctx();
                return Err(TemplateError::Image {
                    task,
                    action: action_name,
                    image: action.image.clone(),
                    error,
                });
            }
            if !actions.insert(action.name.as_str()) {
                let (task, action) = ctx();
                return Err(TemplateError::DuplicateAction { task, action });
            }
            if let Some(t) = action.timeout.filter(|t| *t <= 0) {
                let (task, action) = ctx();
                return Err(TemplateError::Timeout {
                    task,
                    action,
                    timeout: t,
                });
            }
        }
    }
    if let Some(t) = def.global_timeout.filter(|t| *t <= 0) {
        return Err(TemplateError::GlobalTimeout(t));
    }
    Ok(())
}

/// Renders, parses and validates a template for a Workflow: what Tinkerbell's
/// `renderTemplateHardware` does.
pub fn render_and_validate(
    template_text: &str,
    hardware_map: &BTreeMap<String, String>,
    hardware: Option<&Hardware>,
) -> Result<TemplateDefinition, TemplateError> {
    let text = render(template_text, hardware_map, hardware)?;
    let def = TemplateDefinition::from_yaml(&text)?;
    validate(&def)?;
    if let Some(task) = def.tasks.iter().find(|t| t.worker.is_empty()) {
        return Err(TemplateError::EmptyWorker(task.name.clone()));
    }
    Ok(def)
}
