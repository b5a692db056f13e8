//! `kexec`: loads a kernel (and initrd) from a partition and jumps into it.
//!
//! Environment, as Tinkerbell's kexec reads it:
//! - `BLOCK_DEVICE`, `FS_TYPE` (required): the partition holding the kernel.
//! - `KERNEL_PATH` (required here), `INITRD_PATH` (optional), `CMD_LINE`: paths inside the
//!   partition and the new kernel's command line.
//!
//! The kernel is staged with `kexec_file_load(2)` while the partition is mounted; the
//! partition is unmounted; the action returns [`AfterReport::Kexec`] and the agent reboots
//! into the staged kernel (`reboot(LINUX_REBOOT_CMD_KEXEC)`) once SUCCESS is reported.
//! Not replicated: Tinkerbell's fallback that reads the default entry of
//! `GRUBCFG_PATH` (default `boot/grub/grub.cfg`) when `KERNEL_PATH` is empty.

use super::mount::Mounted;
use super::{ActionError, ActionSpec, Outcome};
use crate::power::{AfterReport, Power};
use std::path::Path;

const ACTION: &str = "kexec";

/// Opens the kernel and initrd below `root` and stages them through `power`.
pub fn load_from(root: &Path, spec: &ActionSpec, power: &dyn Power) -> Result<String, ActionError> {
    let kernel_path = spec.var("KERNEL_PATH").ok_or(ActionError::BadEnv {
        action: ACTION,
        key: "KERNEL_PATH",
        value: String::new(),
        reason: "required (reading the default entry of grub.cfg is not supported)".into(),
    })?;
    let cmdline = spec.var("CMD_LINE").unwrap_or_default();
    let open = |p: &str| {
        let path = root.join(p.trim_start_matches('/'));
        std::fs::File::open(&path).map_err(|error| ActionError::Io {
            action: ACTION,
            what: "opening",
            path,
            error,
        })
    };
    let kernel = open(kernel_path)?;
    let initrd = spec.var("INITRD_PATH").map(open).transpose()?;
    if initrd.is_none() {
        tracing::warn!("no INITRD_PATH: loading the kernel without an initrd");
    }
    power
        .kexec_load(&kernel, initrd.as_ref(), cmdline)
        .map_err(|error| ActionError::Sys {
            action: ACTION,
            what: "kexec_file_load",
            error,
        })?;
    Ok(format!(
        "loaded {kernel_path}{} with command line {cmdline:?}",
        spec.var("INITRD_PATH")
            .map(|i| format!(" and {i}"))
            .unwrap_or_default()
    ))
}

/// Runs the action (blocking).
pub fn run(spec: &ActionSpec, power: &dyn Power) -> Result<Outcome, ActionError> {
    let device = spec.required(ACTION, "BLOCK_DEVICE")?;
    let fstype = spec.required(ACTION, "FS_TYPE")?;
    let mounted = Mounted::new(ACTION, device, fstype)?;
    let loaded = load_from(mounted.path(), spec, power);
    let unmounted = mounted.unmount();
    let message = loaded?;
    unmounted?;
    Ok(Outcome {
        message: format!("{message}; kexec after this report"),
        after: AfterReport::Kexec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::power::{DryRunPower, PowerCall};

    #[test]
    fn stages_kernel_and_initrd() {
        let t = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(t.path().join("boot")).expect("mkdir");
        std::fs::write(t.path().join("boot/vmlinuz"), [0u8; 10]).expect("w");
        std::fs::write(t.path().join("boot/initrd"), [0u8; 3]).expect("w");
        let spec = ActionSpec {
            env: [
                ("KERNEL_PATH", "/boot/vmlinuz"),
                ("INITRD_PATH", "/boot/initrd"),
                ("CMD_LINE", "root=/dev/sda1 ro"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Default::default()
        };
        let power = DryRunPower::default();
        load_from(t.path(), &spec, &power).expect("load");
        assert_eq!(
            power.calls.lock().expect("lock").as_slice(),
            [PowerCall::KexecLoad {
                kernel_len: 10,
                initrd_len: Some(3),
                cmdline: "root=/dev/sda1 ro".into()
            }]
        );
        let missing = ActionSpec {
            env: vec![("KERNEL_PATH".into(), "/boot/nope".into())],
            ..Default::default()
        };
        let e = load_from(t.path(), &missing, &power).expect_err("missing kernel");
        assert!(e.to_string().contains("boot/nope"), "{e}");
    }
}
