//! Rebooting and kexec, behind a trait so that tests never do either.
//!
//! The `reboot` and `kexec` actions do not end the machine's life themselves: they return
//! an [`AfterReport`] and the agent loop, once the action's final SUCCESS is delivered to
//! the workflow service, asks [`after_report`] what to do and calls the [`Power`]
//! implementation. This is the semantics of Tinkerbell's reboot action (the action
//! succeeds, then HookOS reboots), applied to kexec too (Tinkerbell's kexec action
//! jumps to the new kernel before its success can be reported).

use std::fs::File;
use std::sync::Mutex;

/// What to do once an action's final state has been reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterReport {
    /// Nothing: ask for the next action.
    #[default]
    Nothing,
    /// Reboot the machine.
    Reboot,
    /// Jump into the kernel the kexec action loaded.
    Kexec,
}

/// The decision: a power action runs only after a SUCCESS (a failed or timed-out reboot
/// or kexec action leaves the machine in HookOS for the operator).
pub fn after_report(success: bool, after: AfterReport) -> AfterReport {
    if success { after } else { AfterReport::Nothing }
}

/// The system calls the power actions end with.
pub trait Power: Send + Sync + std::fmt::Debug {
    /// `kexec_file_load(2)`: stage `kernel` (and `initrd`) with `cmdline`.
    fn kexec_load(
        &self,
        kernel: &File,
        initrd: Option<&File>,
        cmdline: &str,
    ) -> std::io::Result<()>;
    /// `sync(2)` then `reboot(2)` with `RB_AUTOBOOT`, or `LINUX_REBOOT_CMD_KEXEC` when
    /// `kexec` is set. Returns only on failure.
    fn reboot(&self, kexec: bool) -> std::io::Result<()>;
}

/// The real thing.
#[derive(Debug, Default)]
pub struct SystemPower;

impl Power for SystemPower {
    fn kexec_load(
        &self,
        kernel: &File,
        initrd: Option<&File>,
        cmdline: &str,
    ) -> std::io::Result<()> {
        crate::sys::kexec_file_load(kernel, initrd, cmdline)
    }

    fn reboot(&self, kexec: bool) -> std::io::Result<()> {
        nix::unistd::sync();
        let how = if kexec {
            nix::sys::reboot::RebootMode::RB_KEXEC
        } else {
            nix::sys::reboot::RebootMode::RB_AUTOBOOT
        };
        match nix::sys::reboot::reboot(how) {
            Ok(never) => match never {},
            Err(e) => Err(std::io::Error::from(e)),
        }
    }
}

/// A call a [`DryRunPower`] recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PowerCall {
    /// `kexec_load` with the kernel's size, the initrd's size and the command line.
    KexecLoad {
        /// Kernel file size in bytes.
        kernel_len: u64,
        /// Initrd file size in bytes, if one was given.
        initrd_len: Option<u64>,
        /// The kernel command line.
        cmdline: String,
    },
    /// `reboot`, `kexec` telling which kind.
    Reboot {
        /// Whether it was the kexec reboot.
        kexec: bool,
    },
}

/// Records and logs the calls instead of making them (setting `power_dry_run`, and tests).
#[derive(Debug, Default)]
pub struct DryRunPower {
    /// Everything asked for, in order.
    pub calls: Mutex<Vec<PowerCall>>,
}

impl DryRunPower {
    fn record(&self, call: PowerCall) {
        tracing::warn!(?call, "power_dry_run: not doing it");
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }
}

impl Power for DryRunPower {
    fn kexec_load(
        &self,
        kernel: &File,
        initrd: Option<&File>,
        cmdline: &str,
    ) -> std::io::Result<()> {
        let kernel_len = kernel.metadata()?.len();
        let initrd_len = match initrd {
            Some(f) => Some(f.metadata()?.len()),
            None => None,
        };
        self.record(PowerCall::KexecLoad {
            kernel_len,
            initrd_len,
            cmdline: cmdline.to_string(),
        });
        Ok(())
    }

    fn reboot(&self, kexec: bool) -> std::io::Result<()> {
        self.record(PowerCall::Reboot { kexec });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_success_powers_off() {
        assert_eq!(after_report(true, AfterReport::Reboot), AfterReport::Reboot);
        assert_eq!(after_report(true, AfterReport::Kexec), AfterReport::Kexec);
        assert_eq!(
            after_report(false, AfterReport::Reboot),
            AfterReport::Nothing
        );
        assert_eq!(
            after_report(false, AfterReport::Kexec),
            AfterReport::Nothing
        );
        assert_eq!(
            after_report(true, AfterReport::Nothing),
            AfterReport::Nothing
        );
    }

    #[test]
    fn dry_run_records() {
        let p = DryRunPower::default();
        p.reboot(false).expect("dry");
        assert_eq!(
            p.calls.lock().expect("lock").as_slice(),
            [PowerCall::Reboot { kexec: false }]
        );
    }
}
