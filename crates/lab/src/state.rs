//! `state.json` in the lab directory: what `lab up` built and started, so that `lab up`
//! can resume a lab and `lab down` can remove exactly what was made.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::plan::MachinePlan;
use crate::process::Started;

/// The lab's recorded state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    /// The lab's name.
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// The machines.
    pub machines: Vec<MachinePlan>,
    /// Processes started (replaced by role when restarted).
    pub processes: Vec<Started>,
    /// ironbell replicas serving the lab (1: one service on the SQLite store in the lab
    /// directory; more: replicas on a three-member etcd, see [`crate::replicas`]).
    #[serde(default = "one")]
    pub replicas: usize,
    /// Machines only (`lab up --machines-only`): no ironbell service is started and nothing
    /// is imported.
    #[serde(default)]
    pub machines_only: bool,
    /// Namespaces made besides [`LabState::netns`] (replicas' own), removed by `lab down`.
    #[serde(default)]
    pub extra_netns: Vec<String>,
}

fn one() -> usize {
    1
}

impl LabState {
    /// The state file of the lab directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// Reads the state of the lab in `dir`, `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, LabError> {
        let path = Self::path(dir);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| LabError::Setup(format!("{} is not a lab state: {e}", path.display())))
    }

    /// Writes the state (atomically: a temporary file renamed over the old one).
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        let path = Self::path(dir);
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| LabError::Setup(format!("encoding the lab state: {e}")))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| LabError::io(format!("writing {}", path.display()), e))
    }

    /// Records `started`, replacing an earlier process of the same role.
    pub fn record(&mut self, started: Started) {
        self.processes.retain(|p| p.role != started.role);
        self.processes.push(started);
    }

    /// The store the lab's services use: `<dir>/ironbell.db` (SQLite), or the etcd spec of a
    /// replicated lab.
    pub fn store_spec(&self, dir: &Path) -> String {
        if self.replicas > 1 {
            crate::replicas::store_spec()
        } else {
            dir.join("ironbell.db").display().to_string()
        }
    }

    /// The process of `role`, if one was recorded.
    pub fn process(&self, role: &str) -> Option<&Started> {
        self.processes.iter().find(|p| p.role == role)
    }
}
