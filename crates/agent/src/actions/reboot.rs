//! `reboot`: reboots the machine — after its SUCCESS has been reported.
//!
//! Tinkerbell's reboot action (as EKS Anywhere uses it, with `pid: host` and
//! `/worker:/worker`) does not reboot by itself: it leaves a note for HookOS and exits 0,
//! the agent reports SUCCESS, and HookOS then reboots. The same order here: the action
//! returns [`AfterReport::Reboot`], the agent reports SUCCESS (retrying until the
//! workflow service has it) and then calls `reboot(2)` through [`crate::power::Power`].

use super::{ActionSpec, Outcome};
use crate::power::AfterReport;

/// Runs the action: decides, does nothing yet.
pub fn run(_spec: &ActionSpec) -> Outcome {
    Outcome {
        message: "rebooting after this report".into(),
        after: AfterReport::Reboot,
    }
}
