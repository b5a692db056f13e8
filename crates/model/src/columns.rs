//! Printer columns as data: per kind, the columns a table of its objects shows, as a CRD's
//! `additionalPrinterColumns` gives them (`name`, `jsonPath`, `type`, `priority`). The one
//! source for `ironbell get` (table, `-o wide`, `get -w`) and for the Kubernetes API's
//! `Table` responses and `CustomResourceDefinition`s, so both show the same columns.
//!
//! Tinkerbell's kinds carry exactly the columns of Tinkerbell's CRDs
//! (`config/crd/bases/*_v1alpha1`), in their order and priorities; ironbell adds a few after
//! them (a Hardware's MAC, IP and BMC, an `AGE`), never before, so a script reading
//! Tinkerbell's columns by position reads the same. The other kinds carry the columns
//! their upstream tools print (Cluster API's printer columns, kubectl's for Events) or,
//! without any, an `AGE`.
//!
//! A cell is the first value its path finds ([`PrinterColumn::cell`]), as the API server's
//! CRD table convertor takes it; a `date` cell is shown as an age (`45s`, `12m`, `5h`,
//! `3d`). Three derived forms that a single JSONPath cannot say ([`CellFormat`]): a count
//! (a Job's tasks, a Secret's keys), labels as `k=v,...`, and an Event's `kind/name`.

use serde_json::Value;

use crate::jsonpath::{Path, value_text};
use crate::{KindInfo, Timestamp};

/// A column's `type`, as in a CRD's `additionalPrinterColumns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true`/`false`.
    Boolean,
    /// A time, shown as an age.
    Date,
}

impl ColumnType {
    /// The name in a CRD and a `Table`'s `columnDefinitions` (`string`, `date`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
        }
    }
}

/// How a cell is made from what the path finds (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellFormat {
    /// The first value found.
    Value,
    /// The number of items (or keys) of the list (or map) found.
    Count,
    /// A map of labels as `k=v,k=v`.
    Labels,
    /// An object reference as `kind/name`, the kind in lower case (kubectl's Event
    /// `OBJECT`).
    KindName,
}

/// One column of a kind's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Header (kubectl upper-cases it).
    pub name: &'static str,
    /// Where the value is, kubectl JSONPath without braces.
    pub json_path: &'static str,
    /// Its type.
    pub column_type: ColumnType,
    /// 0: shown always; more: only with `-o wide`.
    pub priority: u32,
    /// How the cell is made.
    pub format: CellFormat,
}

const fn col(name: &'static str, json_path: &'static str) -> PrinterColumn {
    PrinterColumn {
        name,
        json_path,
        column_type: ColumnType::String,
        priority: 0,
        format: CellFormat::Value,
    }
}

impl PrinterColumn {
    const fn wide(self) -> Self {
        Self {
            priority: 1,
            ..self
        }
    }

    const fn typed(self, column_type: ColumnType) -> Self {
        Self {
            column_type,
            ..self
        }
    }

    const fn format(self, format: CellFormat) -> Self {
        Self { format, ..self }
    }

    /// The cell of `obj` (its JSON form): a string, number or boolean; `Null` when the path
    /// finds nothing. A `date` is an age ([`age`]).
    pub fn cell(&self, obj: &Value) -> Value {
        let Ok(path) = Path::parse(self.json_path) else {
            return Value::Null;
        };
        let found = path.find(obj);
        match self.format {
            CellFormat::Count => {
                let n = found.first().map_or(0, |v| match v {
                    Value::Array(a) => a.len(),
                    Value::Object(m) => m.len(),
                    _ => 0,
                });
                Value::from(n)
            }
            CellFormat::Labels => {
                let text = found
                    .first()
                    .and_then(|v| v.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", value_text(v)))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                Value::String(text)
            }
            CellFormat::KindName => {
                let Some(r) = found.first() else {
                    return Value::Null;
                };
                let field = |k: &str| r.get(k).map(value_text).unwrap_or_default();
                Value::String(format!(
                    "{}/{}",
                    field("kind").to_lowercase(),
                    field("name")
                ))
            }
            CellFormat::Value => match (found.first(), self.column_type) {
                (None | Some(Value::Null), _) => Value::Null,
                (Some(Value::String(s)), ColumnType::Date) => s
                    .parse::<Timestamp>()
                    .map_or(Value::Null, |t| Value::String(age(t))),
                (Some(v @ (Value::Array(_) | Value::Object(_))), _) => Value::String(v.to_string()),
                (Some(v), _) => (*v).clone(),
            },
        }
    }

    /// The cell of `obj` as text (empty when the path finds nothing).
    pub fn text(&self, obj: &Value) -> String {
        value_text(&self.cell(obj))
    }
}

/// Time since `t` as kubectl shows it (`45s`, `12m`, `5h`, `3d`).
pub fn age(t: Timestamp) -> String {
    let secs = crate::values::since(t).as_secs();
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}m", secs / 60),
        7200..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

const AGE: PrinterColumn = col("Age", ".metadata.creationTimestamp").typed(ColumnType::Date);
const LABELS: PrinterColumn = col("Labels", ".metadata.labels").format(CellFormat::Labels);

const HARDWARE: &[PrinterColumn] = &[
    // Tinkerbell's.
    col("State", ".status.state"),
    // ironbell's.
    col("MAC", ".spec.interfaces[0].dhcp.mac"),
    col("IP", ".spec.interfaces[0].dhcp.ip.address"),
    col("BMC", ".spec.bmcRef.name"),
    LABELS.wide(),
];

const TEMPLATE: &[PrinterColumn] = &[col("State", ".status.state"), AGE];

const WORKFLOW: &[PrinterColumn] = &[
    // Tinkerbell's.
    col("Template", ".spec.templateRef"),
    col("State", ".status.state"),
    col("Task", ".status.currentState.taskName").wide(),
    col("Action", ".status.currentState.actionName"),
    col("Agent", ".status.currentState.agentID"),
    col("Hardware", ".spec.hardwareRef"),
    col("Template-Rendering", ".status.templateRendering").wide(),
    // ironbell's.
    AGE,
];

const EVENT: &[PrinterColumn] = &[
    col("Last Seen", ".lastTimestamp").typed(ColumnType::Date),
    col("Type", ".type"),
    col("Reason", ".reason"),
    col("Object", ".involvedObject").format(CellFormat::KindName),
    col("Count", ".count").typed(ColumnType::Integer),
    col("Message", ".message"),
];

const BMC_MACHINE: &[PrinterColumn] = &[
    col("Host", ".spec.connection.host"),
    col("Power", ".status.powerState"),
    AGE,
];

const BMC_JOB: &[PrinterColumn] = &[
    col("Machine", ".spec.machineRef.name"),
    col("Tasks", ".spec.tasks")
        .typed(ColumnType::Integer)
        .format(CellFormat::Count),
    col(
        "Completed",
        ".status.conditions[?(@.type==\"Completed\")].status",
    )
    .wide(),
    AGE,
];

const SECRET: &[PrinterColumn] = &[
    col("Type", ".type"),
    col("Data", ".data")
        .typed(ColumnType::Integer)
        .format(CellFormat::Count),
    AGE,
];

const EKSA_CLUSTER: &[PrinterColumn] = &[
    col("Version", ".spec.kubernetesVersion"),
    col("Endpoint", ".spec.controlPlaneConfiguration.endpoint.host"),
    AGE,
];

const CAPI_CLUSTER: &[PrinterColumn] = &[col("Phase", ".status.phase"), AGE];

const CAPI_MACHINE: &[PrinterColumn] = &[
    col("Cluster", ".spec.clusterName"),
    col("NodeName", ".status.nodeRef.name"),
    col("ProviderID", ".spec.providerID"),
    col("Phase", ".status.phase"),
    AGE,
    col("Version", ".spec.version"),
];

const REPLICAS: PrinterColumn = col("Replicas", ".status.replicas").typed(ColumnType::Integer);
const READY: PrinterColumn = col("Ready", ".status.readyReplicas").typed(ColumnType::Integer);
const UPDATED: PrinterColumn = col("Updated", ".status.updatedReplicas").typed(ColumnType::Integer);
const UNAVAILABLE: PrinterColumn =
    col("Unavailable", ".status.unavailableReplicas").typed(ColumnType::Integer);

const MACHINE_DEPLOYMENT: &[PrinterColumn] = &[
    col("Cluster", ".spec.clusterName"),
    REPLICAS,
    READY,
    UPDATED,
    UNAVAILABLE,
    col("Phase", ".status.phase"),
    AGE,
    col("Version", ".spec.template.spec.version"),
];

const KUBEADM_CONTROL_PLANE: &[PrinterColumn] = &[
    col(
        "Cluster",
        ".metadata.labels['cluster.x-k8s.io/cluster-name']",
    ),
    col("Initialized", ".status.initialized").typed(ColumnType::Boolean),
    col("API Server Available", ".status.ready").typed(ColumnType::Boolean),
    REPLICAS,
    READY,
    UPDATED,
    UNAVAILABLE,
    AGE,
    col("Version", ".spec.version"),
];

const TINKERBELL_MACHINE: &[PrinterColumn] = &[
    col("Hardware", ".spec.hardwareName"),
    col("Ready", ".status.ready").typed(ColumnType::Boolean),
    col("ProviderID", ".spec.providerID"),
    AGE,
];

const DEFAULT: &[PrinterColumn] = &[AGE, LABELS.wide()];

/// The columns of `kind`'s table, after `NAME` (and `NAMESPACE`).
pub fn printer_columns(kind: &KindInfo) -> &'static [PrinterColumn] {
    match (kind.api_version, kind.kind) {
        ("tinkerbell.org/v1alpha1", "Hardware") => HARDWARE,
        ("tinkerbell.org/v1alpha1", "Template") => TEMPLATE,
        ("tinkerbell.org/v1alpha1", "Workflow") => WORKFLOW,
        ("v1", "Event") => EVENT,
        ("v1", "Secret") => SECRET,
        ("bmc.tinkerbell.org/v1alpha1", "Machine") => BMC_MACHINE,
        ("bmc.tinkerbell.org/v1alpha1", "Job") => BMC_JOB,
        ("anywhere.eks.amazonaws.com/v1alpha1", "Cluster") => EKSA_CLUSTER,
        ("cluster.x-k8s.io/v1beta1", "Cluster") => CAPI_CLUSTER,
        ("cluster.x-k8s.io/v1beta1", "Machine") => CAPI_MACHINE,
        ("cluster.x-k8s.io/v1beta1", "MachineDeployment" | "MachineSet") => MACHINE_DEPLOYMENT,
        ("controlplane.cluster.x-k8s.io/v1beta1", "KubeadmControlPlane") => KUBEADM_CONTROL_PLANE,
        ("infrastructure.cluster.x-k8s.io/v1beta1", "TinkerbellMachine") => TINKERBELL_MACHINE,
        _ => DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_path_parses() {
        for set in [
            HARDWARE,
            TEMPLATE,
            WORKFLOW,
            EVENT,
            BMC_MACHINE,
            BMC_JOB,
            SECRET,
            EKSA_CLUSTER,
            CAPI_CLUSTER,
            CAPI_MACHINE,
            MACHINE_DEPLOYMENT,
            KUBEADM_CONTROL_PLANE,
            TINKERBELL_MACHINE,
            DEFAULT,
        ] {
            for c in set {
                assert!(Path::parse(c.json_path).is_ok(), "{}", c.json_path);
            }
        }
    }

    #[test]
    fn cells_of_each_format() {
        let wf = json!({
            "metadata": {"creationTimestamp": "2020-01-01T00:00:00Z", "labels": {"a": "1", "b": "2"}},
            "spec": {"templateRef": "ubuntu", "hardwareRef": "wk01", "tasks": [{}, {}]},
            "status": {"state": "STATE_RUNNING", "currentState": {"actionName": "stream"}},
            "involvedObject": {"kind": "Hardware", "name": "wk01"},
            "count": 3
        });
        assert_eq!(WORKFLOW[0].text(&wf), "ubuntu");
        assert_eq!(WORKFLOW[3].text(&wf), "stream");
        assert_eq!(WORKFLOW[4].cell(&wf), Value::Null);
        assert!(AGE.text(&wf).ends_with('d'), "{}", AGE.text(&wf));
        assert_eq!(BMC_JOB[1].cell(&wf), json!(2));
        assert_eq!(LABELS.text(&wf), "a=1,b=2");
        assert_eq!(EVENT[3].text(&wf), "hardware/wk01");
        assert_eq!(EVENT[4].cell(&wf), json!(3));
        let kcp = json!({"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "c1"}}});
        assert_eq!(KUBEADM_CONTROL_PLANE[0].text(&kcp), "c1");
    }
}
