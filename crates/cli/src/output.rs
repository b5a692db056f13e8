//! Printing objects (table, YAML, JSON) and errors. Secret values are redacted here unless the
//! user asked for them, so no other code path can leak them to the terminal.
//!
//! Names are checked where they enter (parsing, import, the store), but the table printer
//! does not rely on it: every cell goes through [`escape_controls`], so no field (a label, a
//! status message, a name in a store written by something else) can move the cursor, clear
//! the screen or forge a line on the terminal. YAML and JSON output escape them by format.

use std::io::Write;

use ironbell_model::{DynamicObject, KindInfo};
use serde_json::Value;

use crate::Format;

/// What replaces each Secret value in output.
pub const REDACTED: &str = "<redacted>";

/// Prints an error as one line, then its causes as indented detail lines. Never a backtrace.
pub fn print_error(e: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {e}");
    for cause in e.chain().skip(1) {
        for line in cause.to_string().lines() {
            let _ = writeln!(stderr, "  {line}");
        }
    }
}

/// Replaces every value under `data` and `stringData` of a core Secret.
pub fn redact(obj: &mut DynamicObject) {
    if obj.types.api_version != "v1" || obj.types.kind != "Secret" {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(mut map)) = obj.field_value(field) {
            for v in map.values_mut() {
                *v = Value::String(REDACTED.into());
            }
            // A map of strings always serializes; on the impossible failure, drop the field.
            if obj.set_field(field, &map).is_err() {
                obj.remove_field(field);
            }
        }
    }
}

/// Prints objects in the chosen format. `single` prints one object rather than a list.
pub fn print_objects(
    kind: &KindInfo,
    objects: &[DynamicObject],
    format: Format,
    single: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Yaml => {
            if single && objects.len() == 1 {
                write!(out, "{}", serde_yaml_ng::to_string(&objects[0])?)?;
            } else {
                write!(out, "{}", ironbell_model::to_yaml_documents(objects)?)?;
            }
        }
        Format::Json => {
            let text = if single && objects.len() == 1 {
                serde_json::to_string_pretty(&objects[0])?
            } else {
                serde_json::to_string_pretty(&serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": objects,
                }))?
            };
            writeln!(out, "{text}")?;
        }
        Format::Table => {
            if objects.is_empty() {
                eprintln!("No {} found.", kind.plural);
                return Ok(());
            }
            let mut rows = vec![table_header(kind)];
            rows.extend(objects.iter().map(|o| table_row(kind, o)));
            write_table(&mut out, &rows)?;
        }
    }
    Ok(())
}

/// The header of `kind`'s table: `NAMESPACE`, `NAME`, then the kind's columns.
pub(crate) fn table_header(kind: &KindInfo) -> Vec<String> {
    ["NAMESPACE", "NAME"]
        .into_iter()
        .chain(columns(kind).iter().map(|c| c.0))
        .map(str::to_string)
        .collect()
}

/// `obj`'s row in `kind`'s table (see [`table_header`]).
pub(crate) fn table_row(kind: &KindInfo, obj: &DynamicObject) -> Vec<String> {
    let mut row = vec![obj.namespace().to_string(), obj.name().to_string()];
    let value = obj.to_value();
    row.extend(columns(kind).iter().map(|(_, f)| f(&value)));
    row
}

/// `text` with every control character (C0, DEL, C1) and every bidirectional or
/// zero-width formatting character escaped as Rust does (`\n`, `\u{1b}`, `\u{202e}`), so it
/// prints as one line of visible characters.
pub fn escape_controls(text: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !text.contains(invisible) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if invisible(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Writes `rows` (the first is the header) as aligned columns, control characters escaped.
pub(crate) fn write_table(out: &mut impl Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|cell| escape_controls(cell)).collect())
        .collect();
    let ncols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..ncols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == ncols {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

type Column = (&'static str, fn(&Value) -> String);

pub(crate) fn text(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn labels(v: &Value) -> String {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// Kind-specific columns, read from the JSON form so they work for any stored object.
fn columns(kind: &KindInfo) -> Vec<Column> {
    match (kind.api_version, kind.kind) {
        ("tinkerbell.org/v1alpha1", "Hardware") => vec![
            ("MAC", |v| text(v, "/spec/interfaces/0/dhcp/mac")),
            ("IP", |v| text(v, "/spec/interfaces/0/dhcp/ip/address")),
            ("BMC", |v| text(v, "/spec/bmcRef/name")),
            ("LABELS", labels),
        ],
        // Tinkerbell's printer columns, then AGE.
        ("tinkerbell.org/v1alpha1", "Workflow") => vec![
            ("TEMPLATE", |v| text(v, "/spec/templateRef")),
            ("STATE", |v| text(v, "/status/state")),
            ("CURRENT-ACTION", |v| {
                text(v, "/status/currentState/actionName")
            }),
            ("AGENT", |v| text(v, "/status/agentID")),
            ("HARDWARE", |v| text(v, "/spec/hardwareRef")),
            ("AGE", age),
        ],
        // kubectl's, less the namespace and name printed before them.
        ("v1", "Event") => vec![
            ("LAST SEEN", |v| {
                let last = text(v, "/lastTimestamp");
                let last = if last.is_empty() {
                    text(v, "/firstTimestamp")
                } else {
                    last
                };
                last.parse().map(age_of).unwrap_or_default()
            }),
            ("TYPE", |v| text(v, "/type")),
            ("REASON", |v| text(v, "/reason")),
            ("OBJECT", |v| {
                format!(
                    "{}/{}",
                    text(v, "/involvedObject/kind").to_lowercase(),
                    text(v, "/involvedObject/name")
                )
            }),
            ("COUNT", |v| text(v, "/count")),
            ("MESSAGE", |v| text(v, "/message")),
        ],
        ("bmc.tinkerbell.org/v1alpha1", "Machine") => vec![
            ("HOST", |v| text(v, "/spec/connection/host")),
            ("POWER", |v| text(v, "/status/powerState")),
        ],
        ("bmc.tinkerbell.org/v1alpha1", "Job") => vec![
            ("MACHINE", |v| text(v, "/spec/machineRef/name")),
            ("TASKS", |v| {
                v.pointer("/spec/tasks")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
                    .to_string()
            }),
        ],
        ("v1", "Secret") => vec![
            ("TYPE", |v| text(v, "/type")),
            ("DATA", |v| {
                v.pointer("/data")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
                    .to_string()
            }),
        ],
        ("anywhere.eks.amazonaws.com/v1alpha1", "Cluster") => vec![
            ("VERSION", |v| text(v, "/spec/kubernetesVersion")),
            ("ENDPOINT", |v| {
                text(v, "/spec/controlPlaneConfiguration/endpoint/host")
            }),
        ],
        ("cluster.x-k8s.io/v1beta1", "Cluster") => {
            vec![("PHASE", |v| text(v, "/status/phase")), ("AGE", age)]
        }
        ("cluster.x-k8s.io/v1beta1", "Machine") => vec![
            ("CLUSTER", |v| text(v, "/spec/clusterName")),
            ("NODENAME", |v| text(v, "/status/nodeRef/name")),
            ("PROVIDERID", |v| text(v, "/spec/providerID")),
            ("PHASE", |v| text(v, "/status/phase")),
            ("AGE", age),
            ("VERSION", |v| text(v, "/spec/version")),
        ],
        ("cluster.x-k8s.io/v1beta1", "MachineDeployment" | "MachineSet") => {
            let cluster: Column = ("CLUSTER", |v| text(v, "/spec/clusterName"));
            let tail: [Column; 3] = [
                ("PHASE", |v| text(v, "/status/phase")),
                ("AGE", age),
                ("VERSION", |v| text(v, "/spec/template/spec/version")),
            ];
            std::iter::once(cluster)
                .chain(REPLICA_COLUMNS)
                .chain(tail)
                .collect()
        }
        ("controlplane.cluster.x-k8s.io/v1beta1", "KubeadmControlPlane") => {
            let head: [Column; 3] = [
                ("CLUSTER", |v| {
                    text(v, "/metadata/labels/cluster.x-k8s.io~1cluster-name")
                }),
                ("INITIALIZED", |v| text(v, "/status/initialized")),
                ("API SERVER AVAILABLE", |v| text(v, "/status/ready")),
            ];
            let tail: [Column; 2] = [("AGE", age), ("VERSION", |v| text(v, "/spec/version"))];
            head.into_iter()
                .chain(REPLICA_COLUMNS)
                .chain(tail)
                .collect()
        }
        ("infrastructure.cluster.x-k8s.io/v1beta1", "TinkerbellMachine") => vec![
            ("HARDWARE", |v| text(v, "/spec/hardwareName")),
            ("READY", |v| text(v, "/status/ready")),
            ("PROVIDERID", |v| text(v, "/spec/providerID")),
            ("AGE", age),
        ],
        _ => vec![("LABELS", labels)],
    }
}

/// The replica counts Cluster API shows for a `MachineDeployment`, `MachineSet` and
/// `KubeadmControlPlane`.
const REPLICA_COLUMNS: [Column; 4] = [
    ("REPLICAS", |v| text(v, "/status/replicas")),
    ("READY", |v| text(v, "/status/readyReplicas")),
    ("UPDATED", |v| text(v, "/status/updatedReplicas")),
    ("UNAVAILABLE", |v| text(v, "/status/unavailableReplicas")),
];

/// Time since `metadata.creationTimestamp` as kubectl shows it (`45s`, `12m`, `5h`, `3d`).
fn age(v: &Value) -> String {
    text(v, "/metadata/creationTimestamp")
        .parse::<ironbell_model::Timestamp>()
        .map(age_of)
        .unwrap_or_default()
}

/// Time since `t` as kubectl shows it (`45s`, `12m`, `5h`, `3d`).
pub(crate) fn age_of(t: ironbell_model::Timestamp) -> String {
    let secs = ironbell_model::values::since(t).as_secs();
    match secs {
        0..120 => format!("{secs}s"),
        120..7200 => format!("{}m", secs / 60),
        7200..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_in_tables() {
        assert_eq!(escape_controls("wk01"), "wk01");
        assert_eq!(escape_controls("a\nb"), "a\\nb");
        assert_eq!(escape_controls("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(escape_controls("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_controls("\u{9b}\u{7f}"), "\\u{9b}\\u{7f}");
        assert_eq!(escape_controls("héllo"), "héllo");
        let rows = vec![
            vec!["NAME".to_string(), "LABELS".to_string()],
            vec![
                "evil\nforged-row".to_string(),
                "a=\u{1b}[31mred".to_string(),
            ],
        ];
        let mut out = Vec::new();
        write_table(&mut out, &rows).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("evil\\nforged-row"), "{text}");
    }
}
