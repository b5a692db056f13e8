//! Errors of the IPMI client, and the named status and completion codes they carry.
//!
//! Every [`Error`] names the BMC (`host`, and the port where it matters) and the step that
//! failed. None of them holds the password: the password only ever lives in
//! [`Config`](crate::Config), whose `Debug` and `Display` redact it.

use std::fmt;
use std::io;
use std::time::Duration;

/// What went wrong talking to a BMC.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot be used (e.g. a user name longer than IPMI allows).
    #[error("invalid IPMI configuration for BMC {host}: {reason}")]
    InvalidConfig {
        /// The BMC's host name or address as configured.
        host: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// The host name did not resolve to an address.
    #[error("cannot resolve BMC host {host}: {source}")]
    Resolve {
        /// The BMC's host name as configured.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },

    /// A datagram could not be sent at all (no route, no local socket).
    #[error("BMC {host}:{port} is unreachable: {source}")]
    Unreachable {
        /// The BMC's host name or address as configured.
        host: String,
        /// The UDP port.
        port: u16,
        /// The socket error.
        source: io::Error,
    },

    /// No valid answer arrived within `timeout` for any of the `attempts`.
    #[error(
        "no answer from BMC {host}:{port} to {step} after {attempts} attempt(s) of {timeout:?} \
         each ({dropped} malformed or stray datagram(s) dropped)"
    )]
    Timeout {
        /// The BMC's host name or address as configured.
        host: String,
        /// The UDP port.
        port: u16,
        /// The request that went unanswered.
        step: &'static str,
        /// How many times it was sent.
        attempts: u32,
        /// How long each attempt waited.
        timeout: Duration,
        /// Datagrams received meanwhile and dropped (undecodable, failed integrity check,
        /// wrong session or sequence, or from another address).
        dropped: u64,
    },

    /// The BMC did not accept the user name or password (or the BMC's proof of the
    /// password was wrong).
    #[error("authentication to BMC {host} as user {username:?} failed: {reason}")]
    Authentication {
        /// The BMC's host name or address as configured.
        host: String,
        /// The user name (never the password).
        username: String,
        /// Why.
        reason: AuthFailure,
    },

    /// The BMC does not offer the requested cipher suite (or answered the Open Session
    /// Request with other algorithms than proposed).
    #[error("BMC {host} does not support IPMI cipher suite {suite}: {reason}")]
    UnsupportedCipherSuite {
        /// The BMC's host name or address as configured.
        host: String,
        /// The cipher suite ID (3 or 17).
        suite: u8,
        /// What the BMC answered.
        reason: String,
    },

    /// The BMC does not speak IPMI v2.0 / RMCP+ on this channel.
    #[error("BMC {host} does not support IPMI v2.0 (RMCP+) sessions")]
    NotIpmi20 {
        /// The BMC's host name or address as configured.
        host: String,
    },

    /// The BMC refused to set up the session for a reason other than credentials.
    #[error("BMC {host} refused the RMCP+ session at {step}: {status}")]
    SessionRefused {
        /// The BMC's host name or address as configured.
        host: String,
        /// The handshake message whose answer carried the status.
        step: &'static str,
        /// The RMCP+ status code.
        status: RakpStatus,
    },

    /// The BMC answered a command with a completion code other than 0x00.
    #[error("BMC {host} answered {command} with completion code {code}")]
    Completion {
        /// The BMC's host name or address as configured.
        host: String,
        /// The command, e.g. "Chassis Control".
        command: &'static str,
        /// The completion code.
        code: CompletionCode,
    },

    /// An authenticated answer that cannot be understood (too short, out-of-range value).
    #[error("malformed answer from BMC {host} to {step}: {reason}")]
    Malformed {
        /// The BMC's host name or address as configured.
        host: String,
        /// The request it answered.
        step: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The local UDP socket failed.
    #[error("UDP socket for BMC {host}:{port} failed: {source}")]
    Socket {
        /// The BMC's host name or address as configured.
        host: String,
        /// The UDP port.
        port: u16,
        /// The socket error.
        source: io::Error,
    },
}

/// Why authentication failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The BMC answered the Open Session Request but never RAKP message 1: some BMCs
    /// (pyghmi's, for one) silently ignore an unknown user name.
    NoRakp2,
    /// RAKP message 2 carried an error status (e.g. unauthorized name: unknown user).
    Rakp2Status(RakpStatus),
    /// The key exchange authentication code in RAKP message 2 does not match the password:
    /// the password is wrong (or the BMC is not who it claims to be).
    Rakp2Mismatch,
    /// RAKP message 4 carried an error status (e.g. invalid integrity check value: the BMC
    /// did not accept our proof of the password).
    Rakp4Status(RakpStatus),
    /// The integrity check value in RAKP message 4 does not match the session keys.
    Rakp4Mismatch,
    /// The BMC refused the ADMINISTRATOR privilege level for this user.
    Privilege(CompletionCode),
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRakp2 => f.write_str(
                "the BMC opened a session but did not answer RAKP message 1 \
                 (unknown user name?)",
            ),
            Self::Rakp2Status(s) => write!(f, "BMC rejected RAKP message 1: {s}"),
            Self::Rakp2Mismatch => f.write_str(
                "the BMC's RAKP message 2 authentication code does not match: wrong password",
            ),
            Self::Rakp4Status(s) => write!(f, "BMC rejected RAKP message 3: {s}"),
            Self::Rakp4Mismatch => {
                f.write_str("the BMC's RAKP message 4 integrity check value does not match")
            }
            Self::Privilege(c) => write!(f, "ADMINISTRATOR privilege refused: {c}"),
        }
    }
}

/// An RMCP+ / RAKP status code (IPMI 2.0 section 13.24, table 13-15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RakpStatus(pub u8);

impl RakpStatus {
    /// The spec's words for the code.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            0x00 => "no errors",
            0x01 => "insufficient resources to create a session",
            0x02 => "invalid session ID",
            0x03 => "invalid payload type",
            0x04 => "invalid authentication algorithm",
            0x05 => "invalid integrity algorithm",
            0x06 => "no matching authentication payload",
            0x07 => "no matching integrity payload",
            0x08 => "inactive session ID",
            0x09 => "invalid role",
            0x0A => "unauthorized role or privilege level requested",
            0x0B => "insufficient resources to create a session at the requested role",
            0x0C => "invalid name length",
            0x0D => "unauthorized name (unknown or disabled user)",
            0x0E => "unauthorized GUID",
            0x0F => "invalid integrity check value",
            0x10 => "invalid confidentiality algorithm",
            0x11 => "no cipher suite match with proposed security algorithms",
            0x12 => "illegal or unrecognized parameter",
            _ => "reserved status code",
        }
    }

    /// Whether the code says the BMC does not support the proposed algorithms.
    pub fn is_algorithm_mismatch(self) -> bool {
        matches!(self.0, 0x04..=0x07 | 0x10 | 0x11)
    }
}

impl fmt::Display for RakpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} ({})", self.0, self.meaning())
    }
}

/// An IPMI completion code (IPMI 2.0 section 5.2, table 5-2), with the command-specific
/// meaning where the command defines one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CompletionCode {
    /// The code.
    pub code: u8,
    meaning: &'static str,
}

impl CompletionCode {
    /// A generic completion code.
    pub fn new(code: u8) -> Self {
        Self {
            code,
            meaning: generic_meaning(code),
        }
    }

    /// A completion code of a command that defines `specific` meanings for codes
    /// 0x80-0xBE (unknown codes keep the generic meaning).
    pub(crate) fn with_specific(code: u8, specific: &[(u8, &'static str)]) -> Self {
        let meaning = specific
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| generic_meaning(code), |(_, m)| *m);
        Self { code, meaning }
    }

    /// The words for the code.
    pub fn meaning(self) -> &'static str {
        self.meaning
    }
}

fn generic_meaning(code: u8) -> &'static str {
    match code {
        0x00 => "command completed normally",
        0xC0 => "node busy",
        0xC1 => "invalid command",
        0xC2 => "command invalid for given LUN",
        0xC3 => "timeout while processing command",
        0xC4 => "out of space",
        0xC5 => "reservation canceled or invalid reservation ID",
        0xC6 => "request data truncated",
        0xC7 => "request data length invalid",
        0xC8 => "request data field length limit exceeded",
        0xC9 => "parameter out of range",
        0xCA => "cannot return number of requested data bytes",
        0xCB => "requested sensor, data, or record not present",
        0xCC => "invalid data field in request",
        0xCD => "command illegal for specified sensor or record type",
        0xCE => "command response could not be provided",
        0xCF => "cannot execute duplicated request",
        0xD0 => "SDR repository in update mode",
        0xD1 => "device in firmware update mode",
        0xD2 => "BMC initialization in progress",
        0xD3 => "destination unavailable",
        0xD4 => "insufficient privilege level",
        0xD5 => "command not supported in present state",
        0xD6 => "sub-function disabled or unavailable",
        0xFF => "unspecified error",
        0x01..=0x7E => "device-specific (OEM) completion code",
        0x80..=0xBE => "command-specific completion code",
        _ => "reserved completion code",
    }
}

impl fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} ({})", self.code, self.meaning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_words() {
        assert_eq!(
            CompletionCode::new(0xC1).to_string(),
            "0xC1 (invalid command)"
        );
        assert_eq!(
            CompletionCode::new(0xD4).to_string(),
            "0xD4 (insufficient privilege level)"
        );
        assert_eq!(
            CompletionCode::with_specific(0x80, &[(0x80, "parameter not supported")]).meaning(),
            "parameter not supported"
        );
        assert_eq!(
            RakpStatus(0x0D).to_string(),
            "0x0D (unauthorized name (unknown or disabled user))"
        );
        assert!(RakpStatus(0x11).is_algorithm_mismatch());
        assert!(!RakpStatus(0x0D).is_algorithm_mismatch());
    }
}
