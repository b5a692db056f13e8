//! The QEMU command line of a lab machine and the files it needs (disk, UEFI variables).
//!
//! Every machine starts powered off and paused (`-S`), stays in QEMU when the guest powers
//! off (`-no-shutdown`) and is driven over its QMP socket by its virtual BMC. Software
//! emulation (`-accel tcg`): KVM does not work on the machines this was built on. The NIC
//! and the disk carry device ids (`nic0`, `disk0`) and boot indexes, which the virtual BMC
//! changes to pick the next boot device.

use std::path::{Path, PathBuf};

use crate::LabError;
use crate::plan::{Firmware, MachinePlan};

/// OVMF's code, read-only (Debian `ovmf`).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// OVMF's variable store template (Debian `ovmf`); each machine gets a copy.
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The NIC's QEMU device id.
pub const NIC_ID: &str = "nic0";
/// The disk's QEMU device id.
pub const DISK_ID: &str = "disk0";
/// Size of each machine's (sparse) disk.
pub const DISK_BYTES: u64 = 1 << 30;

/// Where a machine's files live.
#[derive(Debug, Clone)]
pub struct VmFiles {
    /// The machine's directory.
    pub dir: PathBuf,
}

impl VmFiles {
    /// The files of `machine` under the lab directory `lab_dir`.
    pub fn new(lab_dir: &Path, machine: &MachinePlan) -> Self {
        Self {
            dir: lab_dir.join("machines").join(&machine.name),
        }
    }
    /// The raw disk image.
    pub fn disk(&self) -> PathBuf {
        self.dir.join("disk.raw")
    }
    /// The serial console's log.
    pub fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    /// The QMP socket.
    pub fn qmp(&self) -> PathBuf {
        self.dir.join("qmp.sock")
    }
    /// The writable UEFI variable store.
    pub fn vars(&self) -> PathBuf {
        self.dir.join("OVMF_VARS.fd")
    }
    /// QEMU's own output.
    pub fn qemu_log(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }

    /// Creates the directory, an empty sparse disk and (UEFI) the variable store.
    pub fn prepare(&self, machine: &MachinePlan) -> Result<(), LabError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| LabError::io(format!("creating {}", self.dir.display()), e))?;
        let disk = std::fs::File::create(self.disk())
            .map_err(|e| LabError::io(format!("creating {}", self.disk().display()), e))?;
        disk.set_len(DISK_BYTES)
            .map_err(|e| LabError::io(format!("sizing {}", self.disk().display()), e))?;
        if machine.spec.firmware == Firmware::Uefi {
            std::fs::copy(OVMF_VARS, self.vars())
                .map_err(|e| LabError::io(format!("copying {OVMF_VARS} (install ovmf)"), e))?;
        }
        Ok(())
    }
}

/// The QEMU command line (program first) for `machine`.
pub fn qemu_argv(
    lab: &str,
    machine: &MachinePlan,
    files: &VmFiles,
    memory_mib: u32,
) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        "qemu-system-x86_64".into(),
        "-name".into(),
        format!("ironbell-lab-{lab}-{}", machine.name),
        "-accel".into(),
        "tcg".into(),
        "-m".into(),
        memory_mib.to_string(),
        // Firmware and iPXE reach the serial log only with -nographic.
        "-nographic".into(),
        "-monitor".into(),
        "none".into(),
        "-serial".into(),
        format!("file:{}", files.console().display()),
        "-S".into(),
        "-no-shutdown".into(),
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", files.qmp().display()),
        "-netdev".into(),
        format!("tap,id=net0,ifname={},script=no,downscript=no", machine.tap),
        "-device".into(),
        format!(
            "virtio-net-pci,netdev=net0,mac={},id={NIC_ID},bootindex=2",
            machine.mac
        ),
        "-drive".into(),
        format!(
            "if=none,id=drive0,format=raw,file={}",
            files.disk().display()
        ),
        "-device".into(),
        format!("virtio-blk-pci,drive=drive0,id={DISK_ID},bootindex=1"),
    ];
    if machine.spec.firmware == Firmware::Uefi {
        argv.extend([
            "-drive".into(),
            format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"),
            "-drive".into(),
            format!("if=pflash,format=raw,file={}", files.vars().display()),
        ]);
        // The network boot is iPXE's (the NIC's EFI option ROM): without OVMF's own PXE and
        // HTTP boot options, a machine whose iPXE is refused its script (a reboot after its
        // install, the BMC's one-time PXE still first) goes on to its disk at once instead
        // of trying four more network boots (over a minute).
        for knob in [
            "IPv4PXESupport",
            "IPv6PXESupport",
            "IPv4Support",
            "IPv6Support",
        ] {
            argv.extend([
                "-fw_cfg".into(),
                format!("name=opt/org.tianocore/{knob},string=no"),
            ]);
        }
    }
    argv
}
