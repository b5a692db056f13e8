//! The IPMI commands the BMC answers: before a session (v1.5 header, no authentication)
//! and inside one (checked against the session's current privilege level).
//!
//! | command                         | netFn/cmd | section | privilege     |
//! |---------------------------------|-----------|---------|---------------|
//! | Get Channel Auth. Capabilities  | 06/38     | 22.13   | no session    |
//! | Get Channel Cipher Suites       | 06/54     | 22.15   | no session    |
//! | Get Device ID                   | 06/01     | 20.1    | USER          |
//! | Set Session Privilege Level     | 06/3B     | 22.18   | CALLBACK      |
//! | Close Session                   | 06/3C     | 22.19   | CALLBACK (*)  |
//! | Get Chassis Status              | 00/01     | 28.2    | USER          |
//! | Chassis Control                 | 00/02     | 28.3    | OPERATOR      |
//! | Set System Boot Options         | 00/08     | 28.12   | OPERATOR      |
//! | Get System Boot Options         | 00/09     | 28.13   | USER          |
//!
//! (*) Closing another session than one's own takes ADMINISTRATOR.
//!
//! Anything else gets 0xC1 (invalid command); a known command above the session's
//! current level gets 0xD4 (insufficient privilege level) and is not carried out.

use super::session::Privilege;
use super::{Chassis, ChassisError, Server, Stats};
use crate::commands::{BootDevice, BootOptions, ChassisControl};
use crate::wire::{BMC_ADDR, checksum};

/// Completion code: command completed normally.
const CC_OK: u8 = 0x00;
/// Completion code: invalid command.
const CC_INVALID_COMMAND: u8 = 0xC1;
/// Completion code: request data length invalid.
const CC_LENGTH: u8 = 0xC7;
/// Completion code: invalid data field in request.
const CC_INVALID_DATA: u8 = 0xCC;
/// Completion code: insufficient privilege level.
pub(super) const CC_INSUFFICIENT_PRIVILEGE: u8 = 0xD4;
/// Completion code: unspecified error (the machine failed).
const CC_UNSPECIFIED: u8 = 0xFF;
/// Set Session Privilege Level: requested level not available for this user.
const CC_LEVEL_NOT_AVAILABLE: u8 = 0x80;
/// Set Session Privilege Level: requested level exceeds the channel and/or user limit.
const CC_LEVEL_EXCEEDS_LIMIT: u8 = 0x81;
/// Close Session: invalid session ID in request.
const CC_INVALID_SESSION_ID: u8 = 0x87;

/// A request IPMI message (section 13.8): netFn, rqSeq, cmd, data.
pub(super) struct Request<'a> {
    pub(super) netfn: u8,
    pub(super) rq_addr: u8,
    pub(super) rq_seq: u8,
    pub(super) cmd: u8,
    pub(super) data: &'a [u8],
}

/// Decodes a request message, checking both checksums and the responder address.
pub(super) fn parse_request(m: &[u8]) -> Option<Request<'_>> {
    // rsAddr netFn/LUN chk1 rqAddr rqSeq/LUN cmd data... chk2
    if m.len() < 7 || checksum(&m[..2]) != m[2] || checksum(&m[3..m.len() - 1]) != m[m.len() - 1] {
        return None;
    }
    if m[0] != BMC_ADDR || (m[1] >> 2) & 1 != 0 {
        return None;
    }
    Some(Request {
        netfn: m[1] >> 2,
        rq_addr: m[3],
        rq_seq: m[4] >> 2,
        cmd: m[5],
        data: &m[6..m.len() - 1],
    })
}

/// The response message to `req` with `answer`'s completion code and data.
pub(super) fn response(req: &Request<'_>, answer: &Answer) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + answer.data.len());
    m.push(req.rq_addr);
    m.push((req.netfn | 1) << 2);
    m.push(checksum(&m[..2]));
    m.push(BMC_ADDR);
    m.push(req.rq_seq << 2);
    m.push(req.cmd);
    m.push(answer.cc);
    m.extend_from_slice(&answer.data);
    m.push(checksum(&m[3..]));
    m
}

/// The answer to one command.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Answer {
    /// Completion code.
    pub(super) cc: u8,
    /// Data after the completion code.
    pub(super) data: Vec<u8>,
    /// Close the session once the answer is sent.
    pub(super) close: bool,
}

impl Answer {
    fn ok(data: Vec<u8>) -> Self {
        Self {
            cc: CC_OK,
            data,
            close: false,
        }
    }

    fn code(cc: u8) -> Self {
        Self {
            cc,
            data: Vec::new(),
            close: false,
        }
    }
}

/// The privilege level a command in a session needs; `None` for a command not offered.
pub(super) fn required_privilege(netfn: u8, cmd: u8) -> Option<Privilege> {
    match (netfn, cmd) {
        (0x06, 0x3B | 0x3C) => Some(Privilege::Callback),
        (0x06, 0x01) | (0x00, 0x01 | 0x09) => Some(Privilege::User),
        (0x00, 0x02 | 0x08) => Some(Privilege::Operator),
        _ => None,
    }
}

/// A session's privilege levels, as commands see and change them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Levels {
    /// The most the session may raise itself to.
    pub(super) max: Privilege,
    /// The level commands are checked against.
    pub(super) current: Privilege,
}

/// Set Session Privilege Level (22.18): byte 1 bits 3:0 are the level asked for (0: just
/// report the current one).
pub(super) fn set_session_privilege(levels: &mut Levels, data: &[u8]) -> Answer {
    let Some(byte) = data.first() else {
        return Answer::code(CC_LENGTH);
    };
    let level = byte & 0x0F;
    if level == 0 {
        return Answer::ok(vec![levels.current.level()]);
    }
    match Privilege::from_level(level) {
        // CALLBACK is the floor of a session, not a level it can switch to here.
        Some(Privilege::Callback) | None if level <= 5 => Answer::code(CC_LEVEL_NOT_AVAILABLE),
        None => Answer::code(CC_INVALID_DATA),
        Some(p) if p > levels.max => Answer::code(CC_LEVEL_EXCEEDS_LIMIT),
        Some(p) => {
            levels.current = p;
            Answer::ok(vec![p.level()])
        }
    }
}

impl<C: Chassis> Server<C> {
    /// Commands answered outside a session: (completion code, data).
    pub(super) fn presession(&mut self, req: &Request<'_>) -> Answer {
        Stats::bump(&self.stats.commands);
        match (req.netfn, req.cmd) {
            // Get Channel Authentication Capabilities (22.13): channel 1; v2.0 extended
            // data; non-null user names; IPMI v2.0 supported.
            (0x06, 0x38) => Answer::ok(vec![0x01, 0x80, 0x04, 0x02, 0, 0, 0, 0]),
            // Get Channel Cipher Suites (22.15): suites 3 and 17 by algorithm.
            (0x06, 0x54) => {
                let index = req.data.get(2).copied().unwrap_or(0) & 0x3F;
                let records: &[u8] = &[0xC0, 0x03, 0x01, 0x41, 0x81, 0xC0, 0x11, 0x03, 0x44, 0x81];
                let start = usize::from(index) * 16;
                let chunk = records.get(start..).unwrap_or(&[]);
                let mut data = vec![0x01];
                data.extend_from_slice(&chunk[..chunk.len().min(16)]);
                Answer::ok(data)
            }
            _ => Answer::code(CC_INVALID_COMMAND),
        }
    }

    /// A command in the active session `sid` whose privilege levels are `levels`.
    pub(super) async fn in_session_command(
        &mut self,
        sid: u32,
        levels: &mut Levels,
        req: &Request<'_>,
    ) -> Answer {
        Stats::bump(&self.stats.commands);
        let Some(needed) = required_privilege(req.netfn, req.cmd) else {
            return Answer::code(CC_INVALID_COMMAND);
        };
        if levels.current < needed {
            Stats::bump(&self.stats.privilege_denied);
            tracing::debug!(
                netfn = req.netfn,
                cmd = req.cmd,
                "ipmi: command refused: session at {:?}, needs {needed:?}",
                levels.current
            );
            return Answer::code(CC_INSUFFICIENT_PRIVILEGE);
        }
        let failed = |e: ChassisError| {
            tracing::warn!("ipmi: the machine did not carry out the command: {e}");
            Answer::code(CC_UNSPECIFIED)
        };
        match (req.netfn, req.cmd) {
            // Get Device ID (20.1): device 0x20, rev 1, firmware 1.0, IPMI 2.0.
            (0x06, 0x01) => Answer::ok(vec![0x20, 0x01, 0x01, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0]),
            (0x06, 0x3B) => set_session_privilege(levels, req.data),
            // Close Session (22.19): this one, or (ADMINISTRATOR only) another.
            (0x06, 0x3C) => {
                let target = req
                    .data
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes);
                match target {
                    None => Answer::code(CC_LENGTH),
                    Some(t) if t == sid => Answer {
                        cc: CC_OK,
                        data: Vec::new(),
                        close: true,
                    },
                    Some(_) if levels.current < Privilege::Administrator => {
                        Stats::bump(&self.stats.privilege_denied);
                        Answer::code(CC_INSUFFICIENT_PRIVILEGE)
                    }
                    Some(t) => match self.sessions.remove(&t) {
                        Some(_) => Answer::ok(Vec::new()),
                        None => Answer::code(CC_INVALID_SESSION_ID),
                    },
                }
            }
            // Get Chassis Status (28.2).
            (0x00, 0x01) => match self.chassis.power_is_on().await {
                Ok(on) => Answer::ok(vec![u8::from(on), 0x00, 0x00]),
                Err(e) => failed(e),
            },
            // Chassis Control (28.3).
            (0x00, 0x02) => {
                let action = match req.data.first().map(|b| b & 0x0F) {
                    Some(0x00) => ChassisControl::PowerDown,
                    Some(0x01) => ChassisControl::PowerUp,
                    Some(0x02) => ChassisControl::PowerCycle,
                    Some(0x03) => ChassisControl::HardReset,
                    Some(0x05) => ChassisControl::SoftShutdown,
                    Some(_) => return Answer::code(CC_INVALID_DATA),
                    None => return Answer::code(CC_LENGTH),
                };
                tracing::debug!("ipmi: chassis control {action}");
                match self.chassis.control(action).await {
                    Ok(()) => Answer::ok(Vec::new()),
                    Err(e) => failed(e),
                }
            }
            // Set System Boot Options (28.12): parameter 5 sets the device; others are
            // accepted (ipmitool writes 3 and 4 around it) and ignored.
            (0x00, 0x08) => {
                let Some(param) = req.data.first().map(|b| b & 0x7F) else {
                    return Answer::code(CC_LENGTH);
                };
                if param != 5 {
                    return Answer::ok(Vec::new());
                }
                let Some(flags) = req.data.get(1..6) else {
                    return Answer::code(CC_LENGTH);
                };
                let device = BootDevice::from_selector(flags[1] >> 2);
                let options = BootOptions {
                    persistent: flags[0] & 0x40 != 0,
                    efi: flags[0] & 0x20 != 0,
                };
                if flags[0] & 0x80 == 0 {
                    return Answer::ok(Vec::new());
                }
                tracing::debug!(
                    "ipmi: boot device {device} {}{}",
                    if options.persistent {
                        "persistent"
                    } else {
                        "once"
                    },
                    if options.efi { ", EFI" } else { "" }
                );
                match self.chassis.set_boot_device(device, options).await {
                    Ok(()) => Answer::ok(Vec::new()),
                    Err(e) => failed(e),
                }
            }
            // Get System Boot Options (28.13), parameter 5.
            (0x00, 0x09) => {
                let param = req.data.first().map(|b| b & 0x7F).unwrap_or(0);
                if param != 5 {
                    return Answer::code(0x80);
                }
                match self.chassis.boot_device().await {
                    Ok((device, options)) => {
                        let mut b1 = 0x80;
                        if options.persistent {
                            b1 |= 0x40;
                        }
                        if options.efi {
                            b1 |= 0x20;
                        }
                        Answer::ok(vec![0x01, 0x05, b1, device.selector() << 2, 0, 0, 0])
                    }
                    Err(e) => failed(e),
                }
            }
            _ => Answer::code(CC_INVALID_COMMAND),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_need_their_privilege() {
        use Privilege::*;
        assert_eq!(required_privilege(0x06, 0x01), Some(User), "Get Device ID");
        assert_eq!(
            required_privilege(0x00, 0x01),
            Some(User),
            "Get Chassis Status"
        );
        assert_eq!(
            required_privilege(0x00, 0x09),
            Some(User),
            "Get Boot Options"
        );
        assert_eq!(
            required_privilege(0x00, 0x02),
            Some(Operator),
            "Chassis Control"
        );
        assert_eq!(
            required_privilege(0x00, 0x08),
            Some(Operator),
            "Set Boot Options"
        );
        assert_eq!(required_privilege(0x06, 0x3B), Some(Callback));
        assert_eq!(required_privilege(0x06, 0x3C), Some(Callback));
        assert_eq!(required_privilege(0x06, 0x38), None, "not in a session");
        assert_eq!(required_privilege(0x0A, 0x10), None);
    }

    #[test]
    fn session_privilege_rises_only_to_the_negotiated_maximum() {
        let mut l = Levels {
            max: Privilege::Operator,
            current: Privilege::User,
        };
        assert_eq!(set_session_privilege(&mut l, &[0]), Answer::ok(vec![2]));
        assert_eq!(set_session_privilege(&mut l, &[3]), Answer::ok(vec![3]));
        assert_eq!(l.current, Privilege::Operator);
        let above = set_session_privilege(&mut l, &[4]);
        assert_eq!(above.cc, CC_LEVEL_EXCEEDS_LIMIT);
        assert_eq!(l.current, Privilege::Operator, "unchanged");
        assert_eq!(set_session_privilege(&mut l, &[2]), Answer::ok(vec![2]));
        assert_eq!(
            set_session_privilege(&mut l, &[1]).cc,
            CC_LEVEL_NOT_AVAILABLE
        );
        assert_eq!(
            set_session_privilege(&mut l, &[5]).cc,
            CC_LEVEL_NOT_AVAILABLE
        );
        assert_eq!(set_session_privilege(&mut l, &[9]).cc, CC_INVALID_DATA);
        assert_eq!(set_session_privilege(&mut l, &[]).cc, CC_LENGTH);
        assert_eq!(l.current, Privilege::User);
    }

    #[test]
    fn requests_are_checked_and_answered() {
        let m = crate::wire::ipmi_request(0x00, 9, 0x02, &[0x01]);
        let r = parse_request(&m).map(|r| (r.netfn, r.rq_seq, r.cmd, r.data.to_vec()));
        assert_eq!(r, Some((0x00, 9, 0x02, vec![0x01])));
        for i in 0..m.len() {
            let mut bad = m.clone();
            bad[i] ^= 0x01;
            assert!(parse_request(&bad).is_none(), "flipped byte {i}");
        }
        for n in 0..m.len() {
            assert!(parse_request(&m[..n]).is_none());
        }
        if let Some(req) = parse_request(&m) {
            let out = response(&req, &Answer::code(CC_INSUFFICIENT_PRIVILEGE));
            let parsed = crate::wire::ipmi_response(&out).map(|r| (r.netfn, r.rq_seq, r.ccode));
            assert_eq!(parsed, Some((0x01, 9, 0xD4)));
        }
    }
}
