//! The lab's virtual BMCs: `vbmc.json` (one entry per machine, written by `lab up`, mode
//! 0600 because it holds the BMC password) and [`run`], the body of the hidden `ironbell
//! lab vbmc --config FILE` command that `lab up` starts inside the lab's namespace.

use std::net::SocketAddr;
use std::path::Path;

use ironbell_vbmc::BmcConfig;

use crate::LabError;
use crate::plan::{BMC_USER, MachinePlan};
use crate::vm::{DISK_ID, NIC_ID, VmFiles};

/// Redfish's port on each BMC address.
pub const REDFISH_PORT: u16 = 443;
/// IPMI's port on each BMC address.
pub const IPMI_PORT: u16 = 623;

/// The BMCs of `machines` (strangers have none).
pub fn configs(lab_dir: &Path, machines: &[MachinePlan], password: &str) -> Vec<BmcConfig> {
    machines
        .iter()
        .filter_map(|m| {
            let ip = m.bmc_ip?;
            Some(BmcConfig {
                name: m.name.clone(),
                qmp: VmFiles::new(lab_dir, m).qmp(),
                nic_device: NIC_ID.to_string(),
                disk_device: DISK_ID.to_string(),
                redfish: m
                    .spec
                    .bmc
                    .redfish()
                    .then(|| SocketAddr::from((ip, REDFISH_PORT))),
                ipmi: m.spec.bmc.ipmi().then(|| SocketAddr::from((ip, IPMI_PORT))),
                username: BMC_USER.to_string(),
                password: password.to_string(),
            })
        })
        .collect()
}

/// Writes `vbmc.json` readable by its owner only.
pub fn write_config(path: &Path, bmcs: &[BmcConfig]) -> Result<(), LabError> {
    let text = serde_json::to_vec_pretty(bmcs)
        .map_err(|e| LabError::Setup(format!("encoding {}: {e}", path.display())))?;
    crate::up::write_private(path, &text)
}

/// Runs the BMCs of the `vbmc.json` at `config` until `shutdown`.
pub async fn run(
    config: &Path,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), LabError> {
    let text = std::fs::read(config)
        .map_err(|e| LabError::io(format!("reading {}", config.display()), e))?;
    let configs: Vec<BmcConfig> = serde_json::from_slice(&text)
        .map_err(|e| LabError::Setup(format!("{}: {e}", config.display())))?;
    ironbell_vbmc::run(configs, shutdown)
        .await
        .map_err(|e| LabError::Setup(format!("virtual BMCs: {e}")))
}
