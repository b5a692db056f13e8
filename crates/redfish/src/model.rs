//! The values this client speaks in: power states, reset types, boot override sources and
//! modes, virtual media slots, and the pure planning of a reset with its fallbacks.
//!
//! Enum spellings are the DMTF Redfish schema's (`Resource.PowerState`,
//! `Resource.ResetType`, `ComputerSystem.BootSource`, `ComputerSystem.BootSourceOverrideEnabled`,
//! `ComputerSystem.BootSourceOverrideMode`). Nothing here does I/O; start at [`plan_reset`]
//! for the fallback table.

use std::fmt;

/// `PowerState` of a `ComputerSystem` (DMTF `Resource.PowerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
    /// Transitioning to on.
    PoweringOn,
    /// Transitioning to off.
    PoweringOff,
    /// Paused (schema 2020.4 and later).
    Paused,
}

impl PowerState {
    /// Parses the schema spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "On" => Self::On,
            "Off" => Self::Off,
            "PoweringOn" => Self::PoweringOn,
            "PoweringOff" => Self::PoweringOff,
            "Paused" => Self::Paused,
            _ => return None,
        })
    }

    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "On",
            Self::Off => "Off",
            Self::PoweringOn => "PoweringOn",
            Self::PoweringOff => "PoweringOff",
            Self::Paused => "Paused",
        }
    }

    /// On or on its way there (what the reset planner treats as "already on").
    pub fn is_on_ish(self) -> bool {
        matches!(self, Self::On | Self::PoweringOn)
    }

    /// Off or on its way there (what the reset planner treats as "already off").
    pub fn is_off_ish(self) -> bool {
        matches!(self, Self::Off | Self::PoweringOff)
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ResetType` of the `ComputerSystem.Reset` action (DMTF `Resource.ResetType`), the subset
/// a BMC service uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResetType {
    /// Turn on.
    On,
    /// Turn on, forced (some BMCs offer only this one).
    ForceOn,
    /// Turn off immediately, without asking the OS.
    ForceOff,
    /// Ask the OS to shut down.
    GracefulShutdown,
    /// Ask the OS to restart.
    GracefulRestart,
    /// Restart immediately.
    ForceRestart,
    /// Remove power, then restore it.
    PowerCycle,
    /// Press the power button.
    PushPowerButton,
    /// Send a non-maskable interrupt.
    Nmi,
}

impl ResetType {
    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "On",
            Self::ForceOn => "ForceOn",
            Self::ForceOff => "ForceOff",
            Self::GracefulShutdown => "GracefulShutdown",
            Self::GracefulRestart => "GracefulRestart",
            Self::ForceRestart => "ForceRestart",
            Self::PowerCycle => "PowerCycle",
            Self::PushPowerButton => "PushPowerButton",
            Self::Nmi => "Nmi",
        }
    }
}

impl fmt::Display for ResetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a planned reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// POST `ComputerSystem.Reset` with this `ResetType`.
    Send(ResetType),
    /// Poll `PowerState` until it is `Off` (bounded by `Config::power_wait`).
    WaitOff,
}

/// Plans `wanted` for a system whose `ResetType@Redfish.AllowableValues` are `allowed`
/// (`None` when the BMC does not say: then the wanted type is sent as is) and whose power is
/// `state`. Returns `None` when neither the wanted type nor any fallback is allowed. An empty
/// plan means there is nothing to do.
///
/// The table (first allowed row wins; "off+on" means ForceOff, wait until Off, then On or
/// ForceOn, and needs ForceOff and one of those allowed):
///
/// | wanted | already there (nothing sent) | tried in order |
/// |---|---|---|
/// | On | On or PoweringOn | On, ForceOn, PushPowerButton |
/// | ForceOn | On or PoweringOn | ForceOn, On, PushPowerButton |
/// | ForceOff | Off or PoweringOff | ForceOff |
/// | GracefulShutdown | Off or PoweringOff | GracefulShutdown, ForceOff |
/// | ForceRestart | (Off: planned as On) | ForceRestart, PowerCycle, off+on, GracefulRestart |
/// | GracefulRestart | (Off: planned as On) | GracefulRestart, ForceRestart, PowerCycle, off+on |
/// | PowerCycle | (Off: planned as On) | PowerCycle, off+on, ForceRestart |
/// | PushPowerButton, Nmi | — | itself |
///
/// The "already there" column follows bmclib, which skips On/Off requests that match the
/// current state (several BMCs answer an error to "On" when on). A restart or power cycle of
/// a machine that is off is planned as "On": the caller wants it running again either way.
/// ForceOff has no fallback on purpose: neither a graceful shutdown nor a button press
/// guarantees the power goes off.
pub fn plan_reset(
    wanted: ResetType,
    allowed: Option<&[String]>,
    state: PowerState,
) -> Option<Vec<Step>> {
    use ResetType::*;
    let ok = |t: ResetType| allowed.is_none_or(|a| a.iter().any(|v| v == t.as_str()));
    let single = |t: ResetType| ok(t).then(|| vec![Step::Send(t)]);
    let off_on = || {
        if !ok(ForceOff) {
            return None;
        }
        let on = [On, ForceOn].into_iter().find(|t| ok(*t))?;
        Some(vec![Step::Send(ForceOff), Step::WaitOff, Step::Send(on)])
    };
    let first = |candidates: &[ResetType]| candidates.iter().find_map(|t| single(*t));
    match wanted {
        On | ForceOn if state.is_on_ish() => Some(Vec::new()),
        ForceOff | GracefulShutdown if state.is_off_ish() => Some(Vec::new()),
        ForceRestart | GracefulRestart | PowerCycle if state == PowerState::Off => {
            plan_reset(On, allowed, state)
        }
        On => first(&[On, ForceOn, PushPowerButton]),
        ForceOn => first(&[ForceOn, On, PushPowerButton]),
        ForceOff => single(ForceOff),
        GracefulShutdown => first(&[GracefulShutdown, ForceOff]),
        ForceRestart => first(&[ForceRestart, PowerCycle])
            .or_else(off_on)
            .or_else(|| single(GracefulRestart)),
        GracefulRestart => first(&[GracefulRestart, ForceRestart, PowerCycle]).or_else(off_on),
        PowerCycle => single(PowerCycle)
            .or_else(off_on)
            .or_else(|| single(ForceRestart)),
        PushPowerButton | Nmi => single(wanted),
    }
}

/// `BootSourceOverrideTarget` (DMTF `ComputerSystem.BootSource`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BootSource {
    /// No override.
    None,
    /// Network boot (PXE).
    Pxe,
    /// The hard disk.
    Hdd,
    /// The CD/DVD drive (virtual media).
    Cd,
    /// The BIOS/UEFI setup utility.
    BiosSetup,
    /// Any other schema value, read back from a BMC (e.g. `Usb`, `UefiHttp`).
    Other(String),
}

impl BootSource {
    /// The schema spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "None",
            Self::Pxe => "Pxe",
            Self::Hdd => "Hdd",
            Self::Cd => "Cd",
            Self::BiosSetup => "BiosSetup",
            Self::Other(s) => s,
        }
    }

    /// Parses the schema spelling (unknown values become [`BootSource::Other`]).
    pub fn parse(s: &str) -> Self {
        match s {
            "None" => Self::None,
            "Pxe" => Self::Pxe,
            "Hdd" => Self::Hdd,
            "Cd" => Self::Cd,
            "BiosSetup" => Self::BiosSetup,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for BootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to apply a boot override.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootOverride {
    /// `Continuous` when true, `Once` (next boot only) when false.
    pub persistent: bool,
    /// `Some(true)`: `BootSourceOverrideMode` `UEFI`; `Some(false)`: `Legacy`; `None`: leave
    /// the mode alone (not sent).
    pub uefi: Option<bool>,
}

/// `BootSourceOverrideEnabled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverrideEnabled {
    /// No override.
    Disabled,
    /// Next boot only.
    Once,
    /// Every boot.
    Continuous,
}

impl OverrideEnabled {
    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "Disabled",
            Self::Once => "Once",
            Self::Continuous => "Continuous",
        }
    }

    /// Parses the schema spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Disabled" => Self::Disabled,
            "Once" => Self::Once,
            "Continuous" => Self::Continuous,
            _ => return None,
        })
    }
}

/// `BootSourceOverrideMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMode {
    /// UEFI boot.
    Uefi,
    /// Legacy BIOS boot.
    Legacy,
}

impl BootMode {
    /// The schema spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uefi => "UEFI",
            Self::Legacy => "Legacy",
        }
    }

    /// Parses the schema spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UEFI" => Self::Uefi,
            "Legacy" => Self::Legacy,
            _ => return None,
        })
    }
}

/// The boot override a BMC reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootOverrideState {
    /// `BootSourceOverrideTarget` (`None` when absent).
    pub target: BootSource,
    /// `BootSourceOverrideEnabled` (`Disabled` when absent).
    pub enabled: OverrideEnabled,
    /// `BootSourceOverrideMode`, when reported.
    pub mode: Option<BootMode>,
}

/// One virtual media slot as the BMC reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSlot {
    /// The slot's `@odata.id`.
    pub path: String,
    /// `Id`.
    pub id: String,
    /// `MediaTypes` (e.g. `CD`, `DVD`, `USBStick`).
    pub media_types: Vec<String>,
    /// `Image`, when set and non-empty.
    pub image: Option<String>,
    /// `Inserted` (when absent: whether an image is set).
    pub inserted: bool,
}

impl MediaSlot {
    /// Whether the slot takes an ISO image (lists CD or DVD, or lists nothing at all).
    pub fn takes_cd(&self) -> bool {
        self.media_types.is_empty() || self.media_types.iter().any(|t| t == "CD" || t == "DVD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PowerState::{Off, On as IsOn};
    use ResetType::*;

    fn allowed(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// sushy-tools' list.
    const SUSHY: &[&str] = &[
        "On",
        "ForceOff",
        "GracefulShutdown",
        "GracefulRestart",
        "ForceRestart",
        "Nmi",
        "ForceOn",
    ];

    #[test]
    fn sushy_power_cycle_falls_back_to_off_then_on() {
        let a = allowed(SUSHY);
        assert_eq!(
            plan_reset(PowerCycle, Some(&a), IsOn),
            Some(vec![Step::Send(ForceOff), Step::WaitOff, Step::Send(On)])
        );
    }

    #[test]
    fn supported_types_are_sent_as_is() {
        let a = allowed(SUSHY);
        for t in [
            ForceOff,
            GracefulShutdown,
            ForceRestart,
            GracefulRestart,
            Nmi,
        ] {
            assert_eq!(plan_reset(t, Some(&a), IsOn), Some(vec![Step::Send(t)]));
        }
        assert_eq!(plan_reset(On, Some(&a), Off), Some(vec![Step::Send(On)]));
    }

    #[test]
    fn unknown_allowable_values_send_the_wanted_type() {
        assert_eq!(
            plan_reset(PowerCycle, None, IsOn),
            Some(vec![Step::Send(PowerCycle)])
        );
    }

    #[test]
    fn already_there_sends_nothing() {
        assert_eq!(plan_reset(On, None, IsOn), Some(vec![]));
        assert_eq!(plan_reset(On, None, PowerState::PoweringOn), Some(vec![]));
        assert_eq!(plan_reset(ForceOff, None, Off), Some(vec![]));
        assert_eq!(plan_reset(GracefulShutdown, None, Off), Some(vec![]));
    }

    #[test]
    fn restarting_an_off_machine_turns_it_on() {
        let a = allowed(&["ForceOn", "ForceOff"]);
        for t in [ForceRestart, GracefulRestart, PowerCycle] {
            assert_eq!(
                plan_reset(t, Some(&a), Off),
                Some(vec![Step::Send(ForceOn)])
            );
        }
    }

    #[test]
    fn fallback_rows() {
        let a = allowed(&["On", "ForceOff"]);
        assert_eq!(
            plan_reset(GracefulShutdown, Some(&a), IsOn),
            Some(vec![Step::Send(ForceOff)])
        );
        assert_eq!(
            plan_reset(ForceRestart, Some(&a), IsOn),
            Some(vec![Step::Send(ForceOff), Step::WaitOff, Step::Send(On)])
        );
        let a = allowed(&["On", "GracefulRestart"]);
        assert_eq!(
            plan_reset(ForceRestart, Some(&a), IsOn),
            Some(vec![Step::Send(GracefulRestart)])
        );
        let a = allowed(&["ForceRestart", "On"]);
        assert_eq!(
            plan_reset(PowerCycle, Some(&a), IsOn),
            Some(vec![Step::Send(ForceRestart)])
        );
        let a = allowed(&["PowerCycle"]);
        assert_eq!(
            plan_reset(ForceRestart, Some(&a), IsOn),
            Some(vec![Step::Send(PowerCycle)])
        );
        let a = allowed(&["PushPowerButton"]);
        assert_eq!(
            plan_reset(On, Some(&a), Off),
            Some(vec![Step::Send(PushPowerButton)])
        );
    }

    #[test]
    fn nothing_allowed_is_unsupported() {
        let a = allowed(&["On"]);
        assert_eq!(plan_reset(ForceOff, Some(&a), IsOn), None);
        assert_eq!(plan_reset(PowerCycle, Some(&a), IsOn), None);
        assert_eq!(plan_reset(Nmi, Some(&a), IsOn), None);
    }

    #[test]
    fn spellings_round_trip() {
        for s in ["On", "Off", "PoweringOn", "PoweringOff", "Paused"] {
            assert_eq!(PowerState::parse(s).map(PowerState::as_str), Some(s));
        }
        for s in ["None", "Pxe", "Hdd", "Cd", "BiosSetup", "UefiHttp"] {
            assert_eq!(BootSource::parse(s).as_str(), s);
        }
        for s in ["Disabled", "Once", "Continuous"] {
            assert_eq!(
                OverrideEnabled::parse(s).map(OverrideEnabled::as_str),
                Some(s)
            );
        }
        for s in ["UEFI", "Legacy"] {
            assert_eq!(BootMode::parse(s).map(BootMode::as_str), Some(s));
        }
        assert_eq!(PowerState::parse("on"), None);
    }
}
