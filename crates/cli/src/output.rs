//! Printing objects (table, YAML, JSON) and errors. Secret values are redacted here unless the
//! user asked for them, so no other code path can leak them to the terminal.
//!
//! Names are checked where they enter (parsing, import, the store), but the table printer
//! does not rely on it: every cell goes through [`escape_controls`], so no field (a label, a
//! status message, a name in a store written by something else) can move the cursor, clear
//! the screen or forge a line on the terminal; nor do the values `-o jsonpath=` and `-o
//! name` print. YAML and JSON output escape them by format.

use std::io::Write;

use ironbell_model::columns::{PrinterColumn, printer_columns};
use ironbell_model::jsonpath::{Path, Template, value_text};
use ironbell_model::{DynamicObject, KindInfo};
use serde_json::Value;

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

/// Output format of `get`, as kubectl's `-o` spells it.
#[derive(Clone, Debug, Default)]
pub enum Format {
    /// Aligned columns (the kind's printer columns of priority 0).
    #[default]
    Table,
    /// Aligned columns, every printer column (`-o wide`).
    Wide,
    /// YAML documents.
    Yaml,
    /// JSON (an object, or a `List`).
    Json,
    /// `kind.group/name` per object (`-o name`).
    Name,
    /// A kubectl JSONPath template applied to the object, or to the `List` of them
    /// (`-o jsonpath=TEMPLATE`).
    JsonPath(Box<Template>),
    /// Columns named by the user: `HEADER:PATH,...` (`-o custom-columns=SPEC`).
    CustomColumns(Vec<(String, Path)>),
}

impl Format {
    /// Reads kubectl's `-o` value: `table`, `wide`, `yaml`, `json`, `name`,
    /// `jsonpath=TEMPLATE`, `custom-columns=HEADER:PATH,...`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (what, arg) = text.split_once('=').unwrap_or((text, ""));
        let bad = |e: ironbell_model::jsonpath::JsonPathError| e.to_string();
        Ok(match (what, arg.is_empty()) {
            ("table", true) => Self::Table,
            ("wide", true) => Self::Wide,
            ("yaml", true) => Self::Yaml,
            ("json", true) => Self::Json,
            ("name", true) => Self::Name,
            ("jsonpath", false) => Self::JsonPath(Box::new(Template::parse(arg).map_err(bad)?)),
            ("custom-columns", false) => Self::CustomColumns(
                arg.split(',')
                    .map(|spec| {
                        let (header, path) = spec.split_once(':').ok_or_else(|| {
                            format!("custom-columns: {spec:?} is not HEADER:JSONPATH")
                        })?;
                        Ok((header.to_string(), Path::parse(path).map_err(bad)?))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            ("jsonpath" | "custom-columns", true) => {
                return Err(format!("-o {what}= needs a template after the ="));
            }
            _ => {
                return Err(format!(
                    "unknown output format {text:?}: one of table, wide, yaml, json, name, \
                     jsonpath=TEMPLATE, custom-columns=HEADER:PATH,..."
                ));
            }
        })
    }

    /// Whether the format prints a table per kind (several kinds, several tables).
    pub fn is_table(&self) -> bool {
        matches!(self, Self::Table | Self::Wide)
    }
}

/// Prints objects in the chosen format. `single` prints one object rather than a list.
pub fn print_objects(
    kind: &KindInfo,
    objects: &[DynamicObject],
    format: &Format,
    single: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let one = (single && objects.len() == 1).then(|| &objects[0]);
    let list = || {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": objects,
        })
    };
    match format {
        Format::Yaml => match one {
            Some(obj) => write!(out, "{}", serde_yaml_ng::to_string(obj)?)?,
            None => write!(out, "{}", ironbell_model::to_yaml_documents(objects)?)?,
        },
        Format::Json => {
            let text = match one {
                Some(obj) => serde_json::to_string_pretty(obj)?,
                None => serde_json::to_string_pretty(&list())?,
            };
            writeln!(out, "{text}")?;
        }
        Format::Name => {
            for obj in objects {
                writeln!(out, "{}", escape_controls(&object_name(kind, obj)))?;
            }
        }
        Format::JsonPath(template) => {
            let value = match one {
                Some(obj) => obj.to_value(),
                None => list(),
            };
            // The template's own text (`{"\n"}`) prints as written; the values it finds
            // are escaped like table cells.
            write!(out, "{}", template.render(&escaped(value))?)?;
        }
        Format::CustomColumns(columns) => {
            let mut rows = vec![columns.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()];
            rows.extend(objects.iter().map(|o| {
                let value = o.to_value();
                columns
                    .iter()
                    .map(|(_, path)| {
                        let found = path.find(&value);
                        if found.is_empty() {
                            "<none>".to_string()
                        } else {
                            found
                                .into_iter()
                                .map(value_text)
                                .collect::<Vec<_>>()
                                .join(",")
                        }
                    })
                    .collect()
            }));
            write_table(&mut out, &rows)?;
        }
        Format::Table | Format::Wide => {
            if objects.is_empty() {
                eprintln!("No {} found.", kind.plural);
                return Ok(());
            }
            let wide = matches!(format, Format::Wide);
            let mut rows = vec![table_header(kind, wide)];
            rows.extend(objects.iter().map(|o| table_row(kind, o, wide)));
            write_table(&mut out, &rows)?;
        }
    }
    Ok(())
}

/// `v` with every string (and key) passed through [`escape_controls`].
fn escaped(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(escape_controls(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(escaped).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (escape_controls(&k), escaped(v)))
                .collect(),
        ),
        other => other,
    }
}

/// How `-o name` names an object: `kind.group/name`, the kind in lower case (`kind/name`
/// in the core group), as kubectl does.
pub fn object_name(kind: &KindInfo, obj: &DynamicObject) -> String {
    let group = kind.group();
    let kind = kind.kind.to_ascii_lowercase();
    if group.is_empty() {
        format!("{kind}/{}", obj.name())
    } else {
        format!("{kind}.{group}/{}", obj.name())
    }
}

/// The printer columns of `kind` a table shows: priority 0, or every one when `wide`.
fn shown_columns(kind: &KindInfo, wide: bool) -> impl Iterator<Item = &'static PrinterColumn> {
    printer_columns(kind)
        .iter()
        .filter(move |c| wide || c.priority == 0)
}

/// The header of `kind`'s table: `NAMESPACE`, `NAME`, then the kind's columns.
pub(crate) fn table_header(kind: &KindInfo, wide: bool) -> Vec<String> {
    ["NAMESPACE".to_string(), "NAME".to_string()]
        .into_iter()
        .chain(shown_columns(kind, wide).map(|c| c.name.to_uppercase()))
        .collect()
}

/// `obj`'s row in `kind`'s table (see [`table_header`]).
pub(crate) fn table_row(kind: &KindInfo, obj: &DynamicObject, wide: bool) -> Vec<String> {
    let mut row = vec![obj.namespace().to_string(), obj.name().to_string()];
    let value = obj.to_value();
    row.extend(shown_columns(kind, wide).map(|c| c.text(&value)));
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

/// The text at JSON `pointer` in `v` (empty when absent or null).
pub(crate) fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).map(value_text).unwrap_or_default()
}

/// Time since `t` as kubectl shows it (`45s`, `12m`, `5h`, `3d`).
pub(crate) fn age_of(t: ironbell_model::Timestamp) -> String {
    ironbell_model::columns::age(t)
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

    #[test]
    fn jsonpath_values_are_escaped_and_its_literals_are_not() {
        let value = serde_json::json!({"a": "x\u{1b}[2J", "b": ["y\nz"]});
        let t = Template::parse(r#"{.a}{"\n"}{.b[0]}"#).expect("template");
        assert_eq!(
            t.render(&escaped(value)).expect("render"),
            "x\\u{1b}[2J\ny\\nz"
        );
    }
}
