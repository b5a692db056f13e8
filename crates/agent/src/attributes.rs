//! What the agent tells the workflow service about its machine in `GetAction`
//! (`AgentAttributes`): the cheap facts from `/proc` and `/sys` — CPU count, total memory,
//! block devices and network interfaces. Sizes are written as Tinkerbell's agent writes
//! them (`16GB`, rounded up to the largest binary unit).
//!
//! Not gathered (Tinkerbell reads them through ghw): PCI and GPU devices, chassis, BIOS,
//! baseboard and product (DMI), per-processor capabilities.

use ironbell_workflow_proto::{AgentAttributes, Block, Cpu, Memory, Network};
use std::path::Path;

/// Tinkerbell's size formatting: the value divided by the largest binary unit not above
/// it, rounded up, with `B`, `KB`, `MB`, `GB`, `TB`, `PB` or `EB`. Zero is the empty string.
pub fn human_size(bytes: u64) -> String {
    if bytes == 0 {
        return String::new();
    }
    const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && bytes >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    let unit = 1u64 << (10 * i);
    format!("{}{}", bytes.div_ceil(unit), UNITS[i])
}

/// The machine's network interfaces with a MAC address, sorted by name: loopback, all-zero
/// addresses and non-Ethernet links left out.
pub fn macs(sys_class_net: &Path) -> Vec<(String, String)> {
    let Ok(dir) = std::fs::read_dir(sys_class_net) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            let kind = read_trim(&p.join("type"));
            let mac = read_trim(&p.join("address"))?;
            let ether = kind.as_deref().is_none_or(|t| t == "1");
            (name != "lo" && ether && !mac.is_empty() && mac != "00:00:00:00:00:00")
                .then_some((name, mac))
        })
        .collect();
    out.sort();
    out
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Gathers the attributes below `root` (normally `/`; tests pass a fake tree).
pub fn discover(root: &Path) -> AgentAttributes {
    let cpuinfo = std::fs::read_to_string(root.join("proc/cpuinfo")).unwrap_or_default();
    let threads = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count() as u32;
    let mut cores = std::collections::BTreeSet::new();
    let mut phys = String::new();
    for line in cpuinfo.lines() {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim() {
                "physical id" => phys = v.trim().to_string(),
                "core id" => {
                    cores.insert((phys.clone(), v.trim().to_string()));
                }
                _ => {}
            }
        }
    }
    let total_cores = if cores.is_empty() {
        threads
    } else {
        cores.len() as u32
    };
    let meminfo = std::fs::read_to_string(root.join("proc/meminfo")).unwrap_or_default();
    let mem_kib = |key: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|k| k * 1024)
    };
    let mut block = Vec::new();
    if let Ok(dir) = std::fs::read_dir(root.join("sys/block")) {
        let mut names: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                !["loop", "ram", "zram", "dm-", "md", "sr", "nbd"]
                    .iter()
                    .any(|p| n.starts_with(p))
            })
            .collect();
        names.sort();
        for name in names {
            let d = root.join("sys/block").join(&name);
            let sectors: u64 = read_trim(&d.join("size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let rotational = read_trim(&d.join("queue/rotational"));
            block.push(Block {
                size: human_size(sectors * 512),
                physical_block_size: human_size(
                    read_trim(&d.join("queue/physical_block_size"))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                ),
                drive_type: match rotational.as_deref() {
                    Some("1") => "HDD".into(),
                    Some("0") => "SSD".into(),
                    _ => String::new(),
                },
                controller_type: if name.starts_with("nvme") {
                    "NVMe".into()
                } else if name.starts_with("vd") {
                    "virtio".into()
                } else if name.starts_with("sd") {
                    "SCSI".into()
                } else {
                    String::new()
                },
                vendor: read_trim(&d.join("device/vendor")).unwrap_or_default(),
                model: read_trim(&d.join("device/model")).unwrap_or_default(),
                wwn: read_trim(&d.join("device/wwid")).unwrap_or_default(),
                serial_number: read_trim(&d.join("device/serial")).unwrap_or_default(),
                name,
            });
        }
    }
    let network = macs(&root.join("sys/class/net"))
        .into_iter()
        .map(|(name, mac)| Network {
            speed: read_trim(&root.join("sys/class/net").join(&name).join("speed"))
                .filter(|s| !s.starts_with('-'))
                .map(|s| format!("{s}Mb/s"))
                .unwrap_or_default(),
            name,
            mac,
            enabled_capabilities: Vec::new(),
        })
        .collect();
    AgentAttributes {
        cpu: Some(Cpu {
            total_cores,
            total_threads: threads,
            processors: Vec::new(),
        }),
        memory: Some(Memory {
            total: mem_kib("MemTotal:").map(human_size).unwrap_or_default(),
            usable: mem_kib("MemAvailable:").map(human_size).unwrap_or_default(),
        }),
        block,
        network,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_tinkerbell() {
        assert_eq!(human_size(0), "");
        assert_eq!(human_size(1022), "1022B");
        assert_eq!(human_size(1024), "1KB");
        assert_eq!(human_size(1025), "2KB");
        assert_eq!(human_size(16 * 1024 * 1024 * 1024), "16GB");
        assert_eq!(human_size(512 * 1024 * 1024 * 1024 * 1024), "512TB");
    }

    #[test]
    fn discovers_from_a_fake_tree() {
        let t = tempfile::tempdir().expect("tempdir");
        let r = t.path();
        let w = |p: &str, s: &str| {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, s).expect("write");
        };
        w(
            "proc/cpuinfo",
            "processor\t: 0\nphysical id\t: 0\ncore id\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t: 0\n",
        );
        w(
            "proc/meminfo",
            "MemTotal:       16384000 kB\nMemAvailable:    8000000 kB\n",
        );
        w("sys/block/sda/size", "209715200\n");
        w("sys/block/sda/queue/rotational", "0\n");
        w("sys/block/loop0/size", "8\n");
        w("sys/class/net/lo/address", "00:00:00:00:00:00\n");
        w("sys/class/net/eth1/address", "52:54:00:00:00:02\n");
        w("sys/class/net/eth0/address", "52:54:00:00:00:01\n");
        w("sys/class/net/eth0/type", "1\n");
        w("sys/class/net/eth0/speed", "1000\n");
        let a = discover(r);
        let cpu = a.cpu.expect("cpu");
        assert_eq!((cpu.total_cores, cpu.total_threads), (1, 2));
        assert_eq!(a.memory.expect("memory").total, "16GB");
        assert_eq!(a.block.len(), 1);
        assert_eq!(
            (a.block[0].name.as_str(), a.block[0].size.as_str()),
            ("sda", "100GB")
        );
        assert_eq!(a.block[0].drive_type, "SSD");
        let nics: Vec<_> = a
            .network
            .iter()
            .map(|n| (n.name.as_str(), n.mac.as_str()))
            .collect();
        assert_eq!(
            nics,
            [("eth0", "52:54:00:00:00:01"), ("eth1", "52:54:00:00:00:02")]
        );
        assert_eq!(a.network[0].speed, "1000Mb/s");
    }
}
