//! Commands that describe the program itself: `api-resources` (the kinds, as kubectl lists
//! them), `completion SHELL` (clap_complete's scripts) and `man DIR` (clap_mangen's pages,
//! one per command and subcommand).

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use ironbell_model::KindRegistry;

use crate::output::write_table;

/// The table of `ironbell api-resources`: NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND,
/// one row per kind sorted by group then name (as kubectl). The short names are the
/// aliases other than the singular.
pub fn api_resources(kinds: &KindRegistry) -> Vec<Vec<String>> {
    let mut all: Vec<_> = kinds.kinds().collect();
    all.sort_by_key(|k| (k.group(), k.plural));
    let header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"].map(String::from);
    std::iter::once(header.to_vec())
        .chain(all.into_iter().map(|k| {
            let singular = k.kind.to_ascii_lowercase();
            let short: Vec<&str> = k
                .aliases
                .iter()
                .copied()
                .filter(|a| *a != singular)
                .collect();
            vec![
                k.plural.to_string(),
                short.join(","),
                k.api_version.to_string(),
                k.namespaced.to_string(),
                k.kind.to_string(),
            ]
        }))
        .collect()
}

/// Prints [`api_resources`].
pub fn print_api_resources(kinds: &KindRegistry) -> anyhow::Result<()> {
    write_table(&mut std::io::stdout().lock(), &api_resources(kinds))?;
    Ok(())
}

/// Prints the completion script of `shell`. Written through a buffer: clap_complete panics
/// on a write error, and a closed pipe (`| head`) is an error to report, not a crash.
pub fn completion(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "ironbell", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)
        .context("writing the completion script")
}

/// Writes a manual page per command into `dir`; returns how many.
pub fn man(dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(crate::Cli::command(), dir)
        .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
    let pages = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".1"))
        .count();
    Ok(pages)
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_resources_list_every_kind_with_its_short_names() {
        let kinds = ironbell_ops::lookup::kinds();
        let rows = super::api_resources(&kinds);
        assert_eq!(
            rows[0],
            ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        );
        assert_eq!(rows.len(), kinds.kinds().count() + 1);
        let hardware = rows
            .iter()
            .find(|r| r[0] == "hardware")
            .expect("hardware listed");
        assert!(hardware[1].split(',').any(|s| s == "hw"), "{hardware:?}");
        assert_eq!(hardware[3], "true");
        assert_eq!(hardware[4], "Hardware");
        assert!(!hardware[1].split(',').any(|s| s == "hardware"));
    }
}
