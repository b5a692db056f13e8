//! The lab's layout: which machines exist, their MACs, addresses and BMC endpoints, and the
//! files derived from it (`hardware.csv`, the Workflows). Pure data, no I/O, so that the
//! layout can be read and tested on its own.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The namespace (store namespace, not network namespace) of every lab object.
pub const NAMESPACE: &str = "lab";
/// The Template every lab Workflow uses (`templates/lab-os.yaml`).
pub const TEMPLATE_NAME: &str = "lab-os";
/// The lab's bridge, inside its network namespace.
pub const BRIDGE: &str = "br0";
/// The host side of the lab network: ironbell's services listen here.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 42, 0, 1);
/// The lab network's prefix length.
pub const PREFIX_LEN: u8 = 24;
/// The IPv6 prefix advertised on the bridge (old iPXE waits ~13 s without an RA).
pub const ULA_PREFIX: &str = "fd42:1b::/64";
/// Where the lab's ironbell services listen (the default ports, on every address of the
/// lab's namespace): the one description the services' flags, the Workflows' URLs and the
/// readiness checks are derived from.
pub fn network() -> ironbell_ops::network::PlaneNetwork {
    ironbell_ops::network::PlaneNetwork::new(SERVER_IP)
}
/// File name of the OS image in the artifacts directory.
pub const OS_IMAGE_FILE: &str = "lab-os.raw.zst";
/// The user every lab BMC accepts.
pub const BMC_USER: &str = "admin";

/// The firmware a lab machine boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS, iPXE from the NIC's option ROM.
    Bios,
    /// OVMF (UEFI), iPXE from the NIC's EFI option ROM.
    Uefi,
}

/// Which protocols a machine's virtual BMC speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BmcProtocols {
    /// Redfish (HTTPS, port 443) only.
    Redfish,
    /// IPMI (RMCP+, UDP port 623) only.
    Ipmi,
    /// Both.
    Both,
}

impl BmcProtocols {
    /// Whether Redfish is served.
    pub fn redfish(self) -> bool {
        matches!(self, Self::Redfish | Self::Both)
    }
    /// Whether IPMI is served.
    pub fn ipmi(self) -> bool {
        matches!(self, Self::Ipmi | Self::Both)
    }
}

/// One machine asked for on the command line: `bios`, `uefi,ipmi`, `bios,redfish,type=cp`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineSpec {
    /// Firmware.
    pub firmware: Firmware,
    /// BMC protocols.
    pub bmc: BmcProtocols,
    /// The labels of its row in hardware.csv, in order (none given: [`DEFAULT_LABEL`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

/// The label of a machine given none (`key`, `value`).
pub const DEFAULT_LABEL: (&str, &str) = ("type", "lab");

impl MachineSpec {
    /// A machine with the default label.
    pub fn new(firmware: Firmware, bmc: BmcProtocols) -> Self {
        Self {
            firmware,
            bmc,
            labels: Vec::new(),
        }
    }

    /// `FIRMWARE,BMC`, without the labels.
    pub fn kind(&self) -> String {
        let fw = match self.firmware {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        };
        let bmc = match self.bmc {
            BmcProtocols::Redfish => "redfish",
            BmcProtocols::Ipmi => "ipmi",
            BmcProtocols::Both => "both",
        };
        format!("{fw},{bmc}")
    }

    /// The `labels` cell of its hardware.csv row: `k=v|k2=v2` (EKS Anywhere's form).
    pub fn labels_cell(&self) -> String {
        if self.labels.is_empty() {
            return format!("{}={}", DEFAULT_LABEL.0, DEFAULT_LABEL.1);
        }
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("|")
    }
}

/// A `MachineSpec` that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "machine {0:?}: expected FIRMWARE[,BMC][,KEY=VALUE...] with FIRMWARE bios or uefi, BMC redfish, ipmi or both, and labels of letters, digits, '-', '_', '.' and '/' (e.g. uefi,ipmi,type=cp)"
)]
pub struct BadMachineSpec(String);

/// Whether `s` can be a label key or value in hardware.csv (a Kubernetes label's
/// characters; the import checks the full rules).
fn label_text(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

impl FromStr for MachineSpec {
    type Err = BadMachineSpec;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMachineSpec(s.to_string());
        let mut parts = s.split(',').map(str::trim).peekable();
        let firmware = match parts.next().unwrap_or_default() {
            "bios" => Firmware::Bios,
            "uefi" | "efi" => Firmware::Uefi,
            _ => return Err(bad()),
        };
        let bmc = match parts.peek().copied() {
            Some(p) if p.contains('=') => BmcProtocols::Both,
            None | Some("both") => BmcProtocols::Both,
            Some("redfish") => BmcProtocols::Redfish,
            Some("ipmi") => BmcProtocols::Ipmi,
            Some(_) => return Err(bad()),
        };
        if parts.peek().is_some_and(|p| !p.contains('=')) {
            parts.next();
        }
        let mut labels: Vec<(String, String)> = Vec::new();
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let (key, value) = (key.trim(), value.trim());
            if !label_text(key) || !label_text(value) || labels.iter().any(|(k, _)| k == key) {
                return Err(bad());
            }
            labels.push((key.to_string(), value.to_string()));
        }
        Ok(Self {
            firmware,
            bmc,
            labels,
        })
    }
}

impl fmt::Display for MachineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind())?;
        for (k, v) in &self.labels {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

/// The default lab: three machines, both firmwares and both BMC protocols.
pub fn default_machines() -> Vec<MachineSpec> {
    vec![
        MachineSpec::new(Firmware::Bios, BmcProtocols::Redfish),
        MachineSpec::new(Firmware::Uefi, BmcProtocols::Ipmi),
        MachineSpec::new(Firmware::Bios, BmcProtocols::Both),
    ]
}

/// One virtual machine of the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinePlan {
    /// Hostname, Hardware name and Workflow name.
    pub name: String,
    /// Firmware and BMC protocols.
    pub spec: MachineSpec,
    /// The NIC's MAC (lower case, colons).
    pub mac: String,
    /// The address DHCP reserves for it; `None` for a stranger (not in hardware.csv).
    pub ip: Option<Ipv4Addr>,
    /// Its BMC's address; `None` for a stranger.
    pub bmc_ip: Option<Ipv4Addr>,
    /// The tap device on the bridge.
    pub tap: String,
}

impl MachinePlan {
    /// Whether the machine is left out of hardware.csv (to show that ironbell ignores it).
    pub fn is_stranger(&self) -> bool {
        self.ip.is_none()
    }
}

/// Lays out `machines` (in hardware.csv) and `strangers` (not in it).
pub fn layout(machines: &[MachineSpec], strangers: usize) -> Vec<MachinePlan> {
    let mut out = Vec::new();
    for (i, spec) in machines.iter().enumerate() {
        let n = i as u8 + 1;
        out.push(MachinePlan {
            name: format!("node-{n}"),
            spec: spec.clone(),
            mac: format!("52:54:00:42:00:{:02x}", n),
            ip: Some(Ipv4Addr::new(10, 42, 0, 10 + n)),
            bmc_ip: Some(Ipv4Addr::new(10, 42, 0, 200 + n)),
            tap: format!("tap{i}"),
        });
    }
    for j in 0..strangers {
        let n = j as u8 + 1;
        out.push(MachinePlan {
            name: format!("stranger-{n}"),
            spec: MachineSpec::new(Firmware::Bios, BmcProtocols::Both),
            mac: format!("52:54:00:42:ff:{:02x}", n),
            ip: None,
            bmc_ip: None,
            tap: format!("tap{}", machines.len() + j),
        });
    }
    out
}

/// The lab's hardware.csv, in EKS Anywhere's format (the columns `ironbell hardware
/// import` reads), for every machine that is not a stranger.
pub fn hardware_csv(machines: &[MachinePlan], bmc_password: &str) -> String {
    let mut csv = String::from(
        "hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk\n",
    );
    for m in machines {
        let (Some(ip), Some(bmc_ip)) = (m.ip, m.bmc_ip) else {
            continue;
        };
        csv.push_str(&format!(
            "{name},{bmc_ip},{BMC_USER},{bmc_password},{mac},{ip},255.255.255.0,{SERVER_IP},{SERVER_IP},{labels},/dev/vda\n",
            name = m.name,
            mac = m.mac,
            labels = m.spec.labels_cell(),
        ));
    }
    csv
}

/// The base URL of the boot service's HTTP server as machines see it.
pub fn http_base() -> String {
    network().http_base()
}

/// The Workflow that installs the lab OS on `machine` (YAML).
pub fn workflow_yaml(machine: &MachinePlan) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1\n\
         kind: Workflow\n\
         metadata:\n  name: {name}\n  namespace: {NAMESPACE}\n\
         spec:\n  templateRef: {TEMPLATE_NAME}\n  hardwareRef: {name}\n\
         \x20 hardwareMap:\n\
         \x20   device_1: \"{mac}\"\n\
         \x20   image_url: \"{base}/{OS_IMAGE_FILE}\"\n\
         \x20   metadata_url: \"http://{SERVER_IP}:{metadata_port}\"\n\
         \x20 bootOptions:\n    toggleAllowNetboot: true\n    bootMode: netboot\n",
        name = machine.name,
        mac = machine.mac,
        base = http_base(),
        metadata_port = network().metadata.port(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print() {
        for (text, shown) in [
            ("bios", "bios,both"),
            ("uefi,ipmi", "uefi,ipmi"),
            ("efi,redfish", "uefi,redfish"),
            ("bios, both", "bios,both"),
            ("uefi,ipmi,type=cp", "uefi,ipmi,type=cp"),
            ("bios,type=worker,rack=r1", "bios,both,type=worker,rack=r1"),
        ] {
            let spec: MachineSpec = text.parse().expect(text);
            assert_eq!(spec.to_string(), shown);
        }
        for bad in [
            "",
            "arm",
            "bios,snmp",
            "bios,ipmi,x",
            "bios,type=",
            "bios,=cp",
            "bios,type=a|b",
            "bios,type=cp,type=worker",
            "bios,type=cp,ipmi",
        ] {
            assert!(bad.parse::<MachineSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn layout_gives_unique_addresses_and_leaves_strangers_out_of_the_csv() {
        let plan = layout(&default_machines(), 1);
        assert_eq!(plan.len(), 4);
        let macs: std::collections::BTreeSet<_> = plan.iter().map(|m| &m.mac).collect();
        assert_eq!(macs.len(), 4);
        let csv = hardware_csv(&plan, "pw");
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(csv.contains("node-2,10.42.0.202,admin,pw,52:54:00:42:00:02,10.42.0.12,"));
        assert!(!csv.contains("stranger"));
        assert!(csv.contains(",type=lab,/dev/vda"), "{csv}");
        let labelled: Vec<MachineSpec> = ["uefi,ipmi,type=cp", "bios,type=worker,rack=r1"]
            .iter()
            .map(|s| s.parse().expect(s))
            .collect();
        let csv = hardware_csv(&layout(&labelled, 0), "pw");
        let rows = ironbell_inventory::parse_inventory(&csv).expect("the import reads it");
        let labels: Vec<_> = rows.rows.iter().map(|r| r.labels.clone()).collect();
        assert_eq!(labels[0].get("type").map(String::as_str), Some("cp"));
        assert_eq!(labels[1].get("type").map(String::as_str), Some("worker"));
        assert_eq!(labels[1].get("rack").map(String::as_str), Some("r1"));
        let wf = workflow_yaml(&plan[0]);
        assert!(wf.contains("device_1: \"52:54:00:42:00:01\""), "{wf}");
        assert!(wf.contains("image_url: \"http://10.42.0.1:7171/lab-os.raw.zst\""));
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&wf).expect("yaml");
        assert_eq!(parsed["spec"]["bootOptions"]["bootMode"], "netboot");
    }
}
