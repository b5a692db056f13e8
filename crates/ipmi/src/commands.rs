//! The IPMI commands this client sends, their request bytes and their parsed answers.
//!
//! | command                         | netFn       | cmd  | spec section |
//! |---------------------------------|-------------|------|--------------|
//! | Get Device ID                   | App 0x06    | 0x01 | 20.1         |
//! | Get Channel Auth. Capabilities  | App 0x06    | 0x38 | 22.13        |
//! | Set Session Privilege Level     | App 0x06    | 0x3B | 22.18        |
//! | Close Session                   | App 0x06    | 0x3C | 22.19        |
//! | Get Chassis Status              | Chassis 0x00| 0x01 | 28.2         |
//! | Chassis Control                 | Chassis 0x00| 0x02 | 28.3         |
//! | Set System Boot Options         | Chassis 0x00| 0x08 | 28.12        |
//! | Get System Boot Options         | Chassis 0x00| 0x09 | 28.13        |
//!
//! Boot option parameter 5, "boot flags" (section 28.13, table 28-14), five data bytes:
//!
//! ```text
//! 1  bit 7 boot flags valid, bit 6 persistent (1 = all future boots, 0 = next boot only),
//!    bit 5 boot type (1 = EFI, 0 = PC compatible "legacy")
//! 2  bit 7 CMOS clear, bit 6 lock keyboard, bits 5:2 boot device selector,
//!    bit 1 screen blank, bit 0 lock out reset button
//! 3  BIOS verbosity, console redirection, lock-outs      (sent as 0)
//! 4  BIOS shared mode override, mux control               (sent as 0)
//! 5  device instance selector                            (sent as 0)
//! ```
//!
//! Parameter 0 is "set in progress" (0 set complete, 1 set in progress, 2 commit write) and
//! parameter 4 "boot info acknowledge" (a write mask and the acknowledge bits).

use std::fmt;

use crate::error::CompletionCode;

/// netFn Chassis.
pub(crate) const NETFN_CHASSIS: u8 = 0x00;
/// netFn Application.
pub(crate) const NETFN_APP: u8 = 0x06;

pub(crate) const CMD_GET_DEVICE_ID: u8 = 0x01;
pub(crate) const CMD_GET_CHANNEL_AUTH_CAPS: u8 = 0x38;
pub(crate) const CMD_SET_SESSION_PRIVILEGE: u8 = 0x3B;
pub(crate) const CMD_CLOSE_SESSION: u8 = 0x3C;
pub(crate) const CMD_GET_CHASSIS_STATUS: u8 = 0x01;
pub(crate) const CMD_CHASSIS_CONTROL: u8 = 0x02;
pub(crate) const CMD_SET_BOOT_OPTIONS: u8 = 0x08;
pub(crate) const CMD_GET_BOOT_OPTIONS: u8 = 0x09;

/// Boot option parameter selectors (table 28-14).
pub(crate) const PARAM_SET_IN_PROGRESS: u8 = 0;
pub(crate) const PARAM_BOOT_INFO_ACK: u8 = 4;
pub(crate) const PARAM_BOOT_FLAGS: u8 = 5;

/// Command-specific completion codes of Set/Get System Boot Options (28.12, 28.13).
pub(crate) const BOOT_OPTION_CODES: &[(u8, &str)] = &[
    (0x80, "parameter not supported"),
    (
        0x81,
        "attempt to set 'set in progress' when not in 'set complete' state",
    ),
    (0x82, "attempt to write read-only parameter"),
];

/// Command-specific completion codes of Set Session Privilege Level (22.18).
pub(crate) const SET_PRIVILEGE_CODES: &[(u8, &str)] = &[
    (0x80, "requested level not available for this user"),
    (
        0x81,
        "requested level exceeds channel and/or user privilege limit",
    ),
    (0x82, "cannot disable user level authentication"),
];

/// Command-specific completion codes of Close Session (22.19).
pub(crate) const CLOSE_SESSION_CODES: &[(u8, &str)] = &[
    (0x87, "invalid session ID in request"),
    (0x88, "invalid session handle in request"),
];

pub(crate) fn code(cc: u8, specific: &[(u8, &'static str)]) -> CompletionCode {
    CompletionCode::with_specific(cc, specific)
}

/// What the BMC says about its channel's authentication (Get Channel Authentication
/// Capabilities, 22.13): only what session setup needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChannelAuthCaps {
    pub(crate) channel: u8,
    pub(crate) ipmi20: bool,
}

pub(crate) fn parse_channel_auth_caps(d: &[u8]) -> Option<ChannelAuthCaps> {
    if d.len() < 8 {
        return None;
    }
    Some(ChannelAuthCaps {
        channel: d[0] & 0x0F,
        // Byte 2 bit 7: extended capabilities present; byte 4 bit 1: IPMI v2.0 supported.
        ipmi20: d[1] & 0x80 != 0 && d[3] & 0x02 != 0,
    })
}

/// The chassis power restore policy (Get Chassis Status byte 1 bits 6:5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerRestorePolicy {
    /// Chassis stays powered off after AC returns.
    AlwaysOff,
    /// Power is restored to the state it was in when AC was lost.
    Previous,
    /// Chassis always powers up after AC returns.
    AlwaysOn,
    /// The BMC does not know.
    Unknown,
}

/// Chassis identify state (Get Chassis Status byte 3 bits 5:4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentifyState {
    /// Identify off.
    Off,
    /// Identify on for a time.
    Timed,
    /// Identify on until turned off.
    Indefinite,
    /// Reserved value 3.
    Reserved,
}

/// The answer to Get Chassis Status (section 28.2, table 28-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChassisStatus {
    /// System power is on.
    pub power_on: bool,
    /// Power overload.
    pub power_overload: bool,
    /// Power interlock active.
    pub interlock: bool,
    /// Main power fault.
    pub power_fault: bool,
    /// Power control fault (a power control command did not take effect).
    pub power_control_fault: bool,
    /// What happens when AC power returns.
    pub power_restore_policy: PowerRestorePolicy,
    /// The raw "last power event" byte (bit 0 AC failed, 1 overload, 2 interlock,
    /// 3 power fault, 4 last power-on by IPMI command).
    pub last_power_event: u8,
    /// Chassis intrusion active.
    pub chassis_intrusion: bool,
    /// Front panel lockout active.
    pub front_panel_lockout: bool,
    /// Drive fault.
    pub drive_fault: bool,
    /// Cooling or fan fault.
    pub cooling_fault: bool,
    /// The identify state, if the BMC reports it.
    pub identify: Option<IdentifyState>,
    /// Front panel button capabilities (optional fourth byte).
    pub front_panel_buttons: Option<u8>,
}

pub(crate) fn parse_chassis_status(d: &[u8]) -> Option<ChassisStatus> {
    if d.len() < 3 {
        return None;
    }
    let bit = |b: u8, n: u8| b & (1 << n) != 0;
    Some(ChassisStatus {
        power_on: bit(d[0], 0),
        power_overload: bit(d[0], 1),
        interlock: bit(d[0], 2),
        power_fault: bit(d[0], 3),
        power_control_fault: bit(d[0], 4),
        power_restore_policy: match (d[0] >> 5) & 0x03 {
            0 => PowerRestorePolicy::AlwaysOff,
            1 => PowerRestorePolicy::Previous,
            2 => PowerRestorePolicy::AlwaysOn,
            _ => PowerRestorePolicy::Unknown,
        },
        last_power_event: d[1] & 0x1F,
        chassis_intrusion: bit(d[2], 0),
        front_panel_lockout: bit(d[2], 1),
        drive_fault: bit(d[2], 2),
        cooling_fault: bit(d[2], 3),
        identify: bit(d[2], 6).then(|| match (d[2] >> 4) & 0x03 {
            0 => IdentifyState::Off,
            1 => IdentifyState::Timed,
            2 => IdentifyState::Indefinite,
            _ => IdentifyState::Reserved,
        }),
        front_panel_buttons: d.get(3).copied(),
    })
}

/// A Chassis Control action (section 28.3, table 28-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChassisControl {
    /// Power down (hard off, no OS shutdown).
    PowerDown,
    /// Power up.
    PowerUp,
    /// Power cycle: off, then on after a delay.
    PowerCycle,
    /// Hard reset.
    HardReset,
    /// Soft shutdown: ACPI power-button emulation, the OS shuts down.
    SoftShutdown,
}

impl ChassisControl {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::PowerDown => 0x00,
            Self::PowerUp => 0x01,
            Self::PowerCycle => 0x02,
            Self::HardReset => 0x03,
            Self::SoftShutdown => 0x05,
        }
    }
}

impl fmt::Display for ChassisControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PowerDown => "power down",
            Self::PowerUp => "power up",
            Self::PowerCycle => "power cycle",
            Self::HardReset => "hard reset",
            Self::SoftShutdown => "soft shutdown",
        })
    }
}

/// A boot device selector (boot flags byte 2 bits 5:2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    /// No override: the firmware's own boot order.
    NoOverride,
    /// Network boot (PXE).
    Pxe,
    /// The default hard drive.
    Disk,
    /// The default hard drive, safe mode.
    DiskSafeMode,
    /// The diagnostic partition.
    Diagnostic,
    /// The local CD/DVD drive.
    Cdrom,
    /// Firmware (BIOS/UEFI) setup.
    BiosSetup,
    /// Remotely connected floppy or primary removable media.
    RemoteFloppy,
    /// Remotely connected CD/DVD.
    RemoteCdrom,
    /// Primary remote media.
    RemotePrimaryMedia,
    /// Remotely connected hard drive.
    RemoteDisk,
    /// Floppy or primary removable media.
    Floppy,
    /// A selector value the spec reserves.
    Reserved(u8),
}

impl BootDevice {
    /// The 4-bit selector.
    pub fn selector(self) -> u8 {
        match self {
            Self::NoOverride => 0x0,
            Self::Pxe => 0x1,
            Self::Disk => 0x2,
            Self::DiskSafeMode => 0x3,
            Self::Diagnostic => 0x4,
            Self::Cdrom => 0x5,
            Self::BiosSetup => 0x6,
            Self::RemoteFloppy => 0x7,
            Self::RemoteCdrom => 0x8,
            Self::RemotePrimaryMedia => 0x9,
            Self::RemoteDisk => 0xB,
            Self::Floppy => 0xF,
            Self::Reserved(v) => v & 0x0F,
        }
    }

    /// The device for a 4-bit selector.
    pub fn from_selector(v: u8) -> Self {
        match v & 0x0F {
            0x0 => Self::NoOverride,
            0x1 => Self::Pxe,
            0x2 => Self::Disk,
            0x3 => Self::DiskSafeMode,
            0x4 => Self::Diagnostic,
            0x5 => Self::Cdrom,
            0x6 => Self::BiosSetup,
            0x7 => Self::RemoteFloppy,
            0x8 => Self::RemoteCdrom,
            0x9 => Self::RemotePrimaryMedia,
            0xB => Self::RemoteDisk,
            0xF => Self::Floppy,
            v => Self::Reserved(v),
        }
    }
}

impl fmt::Display for BootDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOverride => f.write_str("no override"),
            Self::Pxe => f.write_str("PXE"),
            Self::Disk => f.write_str("disk"),
            Self::DiskSafeMode => f.write_str("disk (safe mode)"),
            Self::Diagnostic => f.write_str("diagnostic partition"),
            Self::Cdrom => f.write_str("CD/DVD"),
            Self::BiosSetup => f.write_str("BIOS setup"),
            Self::RemoteFloppy => f.write_str("remote floppy"),
            Self::RemoteCdrom => f.write_str("remote CD/DVD"),
            Self::RemotePrimaryMedia => f.write_str("primary remote media"),
            Self::RemoteDisk => f.write_str("remote disk"),
            Self::Floppy => f.write_str("floppy"),
            Self::Reserved(v) => write!(f, "reserved selector 0x{v:X}"),
        }
    }
}

/// How a boot device override applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootOptions {
    /// Apply to all future boots (otherwise the next boot only).
    pub persistent: bool,
    /// Boot in EFI mode (otherwise PC compatible "legacy" mode).
    pub efi: bool,
}

/// Boot option parameter 5 as the BMC reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootFlags {
    /// The BMC marked the parameter invalid/locked (byte "parameter valid" bit 7).
    pub locked: bool,
    /// Boot flags valid: the override is in effect.
    pub valid: bool,
    /// Applies to all future boots.
    pub persistent: bool,
    /// EFI boot type.
    pub efi: bool,
    /// The selected device.
    pub device: BootDevice,
    /// The five data bytes as received.
    pub data: [u8; 5],
}

/// Encodes boot flags for Set System Boot Options parameter 5.
pub(crate) fn boot_flags_data(device: BootDevice, opts: BootOptions) -> [u8; 5] {
    let mut b1 = 0x80;
    if opts.persistent {
        b1 |= 0x40;
    }
    if opts.efi {
        b1 |= 0x20;
    }
    [b1, device.selector() << 2, 0, 0, 0]
}

/// Parses the answer to Get System Boot Options for parameter 5: parameter version,
/// parameter valid byte (bit 7 locked, bits 6:0 selector), then the data.
pub(crate) fn parse_boot_flags(d: &[u8]) -> Option<BootFlags> {
    if d.len() < 7 || d[1] & 0x7F != PARAM_BOOT_FLAGS {
        return None;
    }
    let data: [u8; 5] = d[2..7].try_into().ok()?;
    Some(BootFlags {
        locked: d[1] & 0x80 != 0,
        valid: data[0] & 0x80 != 0,
        persistent: data[0] & 0x40 != 0,
        efi: data[0] & 0x20 != 0,
        device: BootDevice::from_selector(data[1] >> 2),
        data,
    })
}

/// The answer to Get Device ID (section 20.1, table 20-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId {
    /// Device ID.
    pub device_id: u8,
    /// Device revision (bits 3:0).
    pub device_revision: u8,
    /// The device provides Device SDRs.
    pub provides_sdrs: bool,
    /// Device firmware, SDR update or self-initialization in progress.
    pub update_in_progress: bool,
    /// Major firmware revision (7 bits).
    pub firmware_major: u8,
    /// Minor firmware revision (BCD-encoded, e.g. 0x08 for ".08").
    pub firmware_minor_bcd: u8,
    /// IPMI version as (major, minor), e.g. (2, 0).
    pub ipmi_version: (u8, u8),
    /// Additional device support bits (sensor, SDR repository, SEL, FRU, ...).
    pub additional_device_support: u8,
    /// IANA manufacturer ID (20 bits).
    pub manufacturer_id: u32,
    /// Product ID.
    pub product_id: u16,
    /// Auxiliary firmware revision, if present.
    pub aux_firmware: Option<[u8; 4]>,
}

impl DeviceId {
    /// The firmware revision as ipmitool prints it, e.g. "9.08".
    pub fn firmware(&self) -> String {
        format!("{}.{:02x}", self.firmware_major, self.firmware_minor_bcd)
    }
}

pub(crate) fn parse_device_id(d: &[u8]) -> Option<DeviceId> {
    if d.len() < 11 {
        return None;
    }
    Some(DeviceId {
        device_id: d[0],
        device_revision: d[1] & 0x0F,
        provides_sdrs: d[1] & 0x80 != 0,
        update_in_progress: d[2] & 0x80 != 0,
        firmware_major: d[2] & 0x7F,
        firmware_minor_bcd: d[3],
        ipmi_version: (d[4] & 0x0F, d[4] >> 4),
        additional_device_support: d[5],
        manufacturer_id: u32::from_le_bytes([d[6], d[7], d[8] & 0x0F, 0]),
        product_id: u16::from_le_bytes([d[9], d[10]]),
        aux_firmware: d.get(11..15).and_then(|a| a.try_into().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chassis_status_bits() {
        let s = parse_chassis_status(&[0b0010_0001, 0x10, 0b0110_0001, 0x0F]);
        let s = s.unwrap_or_else(|| panic!("parse"));
        assert!(s.power_on && !s.power_fault);
        assert_eq!(s.power_restore_policy, PowerRestorePolicy::Previous);
        assert_eq!(s.last_power_event, 0x10);
        assert!(s.chassis_intrusion);
        assert_eq!(s.identify, Some(IdentifyState::Indefinite));
        assert_eq!(s.front_panel_buttons, Some(0x0F));
        // pyghmi and ipmi_sim send three bytes; fewer is malformed.
        let s = parse_chassis_status(&[0, 0, 0]).unwrap_or_else(|| panic!("parse"));
        assert!(!s.power_on && s.identify.is_none() && s.front_panel_buttons.is_none());
        assert_eq!(parse_chassis_status(&[1, 0]), None);
    }

    #[test]
    fn boot_flags_encode_like_ipmitool() {
        // ipmitool chassis bootdev pxe -> 80 04 00 00 00; options=persistent,efiboot -> e0.
        let once = BootOptions::default();
        assert_eq!(
            boot_flags_data(BootDevice::Pxe, once),
            [0x80, 0x04, 0, 0, 0]
        );
        assert_eq!(boot_flags_data(BootDevice::Disk, once)[1], 0x08);
        assert_eq!(boot_flags_data(BootDevice::Cdrom, once)[1], 0x14);
        assert_eq!(boot_flags_data(BootDevice::BiosSetup, once)[1], 0x18);
        let all = BootOptions {
            persistent: true,
            efi: true,
        };
        assert_eq!(boot_flags_data(BootDevice::Pxe, all)[0], 0xE0);
        for v in 0..16 {
            assert_eq!(BootDevice::from_selector(v).selector(), v);
        }
    }

    #[test]
    fn boot_flags_parse() {
        let f = parse_boot_flags(&[1, 5, 0xC0, 0x14, 0, 0, 0]).unwrap_or_else(|| panic!("parse"));
        assert!(f.valid && f.persistent && !f.efi && !f.locked);
        assert_eq!(f.device, BootDevice::Cdrom);
        // Wrong parameter or short: malformed.
        assert_eq!(parse_boot_flags(&[1, 4, 0xC0, 0x14, 0, 0, 0]), None);
        assert_eq!(parse_boot_flags(&[1, 5, 0xC0, 0x14, 0, 0]), None);
    }

    #[test]
    fn device_id_parse() {
        // ipmi_sim's "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02".
        let d = [
            0x00, 0x03, 0x09, 0x08, 0x51, 0x9F, 0x91, 0x12, 0x00, 0x02, 0x0F,
        ];
        let id = parse_device_id(&d).unwrap_or_else(|| panic!("parse"));
        assert_eq!(id.firmware(), "9.08");
        assert_eq!(id.ipmi_version, (1, 5));
        assert_eq!(id.manufacturer_id, 0x1291);
        assert_eq!(id.product_id, 0x0F02);
        assert_eq!(id.aux_firmware, None);
        assert_eq!(parse_device_id(&d[..10]), None);
    }

    #[test]
    fn channel_auth_caps() {
        // pyghmi's answer: channel 1, IPMI 2.0 extended capabilities, IPMI 2.0 only.
        let c = parse_channel_auth_caps(&[1, 0x80, 0x04, 0x02, 0, 0, 0, 0]);
        assert_eq!(
            c,
            Some(ChannelAuthCaps {
                channel: 1,
                ipmi20: true
            })
        );
        let c = parse_channel_auth_caps(&[1, 0x16, 0x04, 0x00, 0, 0, 0, 0]);
        assert_eq!(c.map(|c| c.ipmi20), Some(false));
        assert_eq!(parse_channel_auth_caps(&[1, 0x80]), None);
    }
}
