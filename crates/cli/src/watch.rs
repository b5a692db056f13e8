//! `ironbell get KIND [NAME] -w`: the table as `get` prints it, then one line per change
//! until interrupted, as `kubectl get -w` does. A change that leaves the object's row as it
//! was (a new `resourceVersion`, a field not shown) prints nothing, so each line says
//! something new. Lines are flushed as they are printed, so a pipe sees each at once.
//!
//! Columns are as wide as the first table's, or as their header: a later, longer cell
//! widens only its own line. When the store has compacted the history the watch resumes
//! from (a long pause), the objects are listed again and only the rows that changed are
//! printed.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;

use futures::StreamExt as _;
use ironbell_model::{DynamicObject, KindInfo};
use ironbell_store::{ListParams, Store, StoreError, WatchEvent};

use crate::output::{escape_controls, redact, table_header, table_row};

/// Prints `infos`' objects that `params` selects (only `name`, when given), then every
/// change to them, until the store fails or the process is interrupted.
pub async fn run(
    store: &dyn Store,
    infos: &[&KindInfo],
    params: &ListParams,
    name: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let [info] = infos else {
        anyhow::bail!(
            "-w watches one kind; name one of {}",
            infos
                .iter()
                .map(|k| format!("{}.{}", k.plural, k.group()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let types = info.type_key();
    let wanted = |o: &DynamicObject| name.is_none_or(|n| o.name() == n);
    let list = store.list(&types, params).await?;
    let header = table_header(info, false);
    let initial: Vec<Vec<String>> = list
        .items
        .iter()
        .filter(|o| wanted(o))
        .map(|o| row(info, o))
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            std::iter::once(&header)
                .chain(&initial)
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let mut print = |cells: &[String]| -> std::io::Result<()> {
        writeln!(out, "{}", line(cells, &widths))?;
        out.flush()
    };
    print(&header)?;
    // What each object's row last said, to print only changes.
    let mut shown: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (o, r) in list.items.iter().filter(|o| wanted(o)).zip(initial) {
        print(&r)?;
        shown.insert(key(o), r);
    }
    let mut from = list.resource_version;
    loop {
        let mut changes = match store.watch(&types, params, Some(from)).await {
            Ok(stream) => stream,
            Err(StoreError::TooOld { .. }) => {
                // History compacted: list again, print what differs.
                let again = store.list(&types, params).await?;
                for o in again.items.iter().filter(|o| wanted(o)) {
                    let r = row(info, o);
                    if shown.get(&key(o)) != Some(&r) {
                        print(&r)?;
                        shown.insert(key(o), r);
                    }
                }
                from = again.resource_version;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        while let Some(change) = changes.next().await {
            let change = match change {
                Ok(c) => c,
                Err(StoreError::TooOld { .. }) => break,
                Err(e) => return Err(e.into()),
            };
            let obj = change.object();
            if let Some(rv) = obj
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
            {
                from = from.max(rv);
            }
            if !wanted(obj) {
                continue;
            }
            let r = row(info, obj);
            if let WatchEvent::Deleted(_) = change {
                shown.remove(&key(obj));
                print(&r)?;
            } else if shown.get(&key(obj)) != Some(&r) {
                print(&r)?;
                shown.insert(key(obj), r);
            }
        }
    }
}

fn key(o: &DynamicObject) -> (String, String) {
    (o.namespace().to_string(), o.name().to_string())
}

/// `obj`'s row, Secret values redacted, control characters escaped.
fn row(info: &KindInfo, obj: &DynamicObject) -> Vec<String> {
    let mut obj = obj.clone();
    redact(&mut obj);
    table_row(info, &obj, false)
        .iter()
        .map(|c| escape_controls(c))
        .collect()
}

/// `cells` padded to `widths`, three spaces apart, as the `get` tables are.
fn line(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            line.push_str(cell);
        } else {
            let w = widths.get(i).copied().unwrap_or(0);
            line.push_str(&format!("{cell:<w$}   "));
        }
    }
    line.trim_end().to_string()
}
