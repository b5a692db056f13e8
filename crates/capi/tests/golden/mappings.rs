//! `golden-mappings.txt`: every provider test function of EKS Anywhere v0.24.6 with the spec
//! files it reads and the expected files it compares against.

use std::path::PathBuf;

/// One test function of the mappings file.
#[derive(Debug, Clone)]
pub struct Listed {
    /// `tinkerbell`, `docker`, `vsphere`, ...
    pub provider: String,
    /// `file.go::TestName`.
    pub test: String,
    /// Input spec files.
    pub inputs: Vec<String>,
    /// Expected files.
    pub outputs: Vec<String>,
}

fn list(line: &str) -> Vec<String> {
    line.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('\'').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every mapping of `../shared/conformance/golden-mappings.txt`.
pub fn read_all() -> Vec<Listed> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/golden-mappings.txt"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut provider = String::new();
    let mut out: Vec<Listed> = Vec::new();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("################ ") {
            provider = p.trim().to_string();
        } else if let Some(rest) = line.trim().strip_prefix("in=") {
            if let Some(last) = out.last_mut() {
                last.inputs = list(rest);
            }
        } else if let Some(rest) = line.trim().strip_prefix("out=") {
            if let Some(last) = out.last_mut() {
                last.outputs = list(rest);
            }
        } else if line.contains("::") && !line.starts_with(' ') {
            out.push(Listed {
                provider: provider.clone(),
                test: line.trim().to_string(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
        }
    }
    out
}
